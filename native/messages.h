// What the watcher thread hands to JS through the thread-safe function.
// Plain data; converted to JS objects on the main thread only.
#pragma once

#include <cstdint>
#include <string>

#include "pcm_config.h"

namespace ah {

struct SampleData {
  int64_t tStartNs = 0, tEndNs = 0;
  uint64_t periods = 0, frames = 0;
  uint32_t xruns = 0;
  double xrunUsMax = 0;
  uint64_t lostFrames = 0;
  uint32_t errors = 0;
  int lastErr = 0;  // negative errno, 0 = none
  const char* state = "open";
  double latenessUsSum = 0, latenessUsMax = 0;
  uint64_t latenessCount = 0;
  double delayUsSum = 0, delayUsMax = 0;
  uint64_t delayCount = 0;
  double recoveryUsMax = 0;
  uint64_t consumerDropped = 0, starved = 0;
  // Frame accounting (see HealthSample in src/types.ts for the invariant).
  uint64_t deliveredFrames = 0;  // capture: JS took from the ring; playback: JS audio written to the PCM
  uint64_t discardedFrames = 0;  // the device buffer's frames a prepare or close threw away
  uint64_t paddingFrames = 0;    // playback: silence written while priming the buffer
  uint64_t pendingFrames = 0;    // at the window's end: in the ring (capture) and the device buffer
  int64_t deviceFrames = -1;     // the card's own count over the window; -1 = unknown (ALSA)
};

struct EventData {
  const char* type = "error";
  int64_t tDetectNs = 0;
  int64_t tInjectNs = 0;     // 0 = not injected
  double durationUs = -1;    // < 0 = not set
  int64_t lostFrames = -1;   // < 0 = not set
  int err = 0;               // negative errno, 0 = none
  std::string message;
};

struct Message {
  enum Kind { kOpened, kOpenFailed, kSample, kEvent, kReopenResult, kAudio };
  explicit Message(Kind k) : kind(k) {}
  Kind kind;
  SampleData sample;
  EventData event;
  NegotiatedParams params;
  int err = 0;
  uint32_t requestId = 0;
  std::string warning;
};

}  // namespace ah
