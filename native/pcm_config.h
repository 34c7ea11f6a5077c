// What JS asked for (validated) and what the device chose.
#pragma once

#include <alsa/asoundlib.h>
#include <cstdint>
#include <string>
#include <vector>

#include "mock_fault.h"

namespace ah {

// The largest audio ring a PCM may ask for (64 MiB: far beyond any sane
// setting, well inside a 32-bit size_t and the board's 256 MB).
constexpr uint64_t kMaxRingBytes = uint64_t(64) << 20;

struct PcmConfig {
  std::string device;
  bool capture = true;
  unsigned rate = 48000;
  unsigned channels = 2;
  snd_pcm_format_t format = SND_PCM_FORMAT_S16_LE;
  uint32_t periodFrames = 960;
  uint32_t bufferPeriods = 4;
  uint32_t sampleIntervalMs = 100;
  int rtPriority = 0;                // 0 = leave the scheduler alone
  bool autoReopen = true;            // reopen by itself when a lost device comes back
  std::vector<MockFault> faults;     // mock: devices only
  int64_t mockStartFrame = 0;        // mock: the card's frame counter after each prepare
};

struct NegotiatedParams {
  unsigned rate = 0;
  unsigned channels = 0;
  snd_pcm_format_t format = SND_PCM_FORMAT_UNKNOWN;
  uint64_t periodFrames = 0;
  uint64_t bufferFrames = 0;
  unsigned bytesPerFrame = 0;
};

}  // namespace ah
