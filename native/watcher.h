// PcmWatcher: one thread per open PCM. Waits only in ppoll() on the PCM's
// descriptors plus an eventfd for commands; moves audio between the PCM and
// the ring; measures each period; detects and recovers xruns and suspends in
// place; closes a disconnected PCM at once and reopens it on request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "messages.h"
#include "pcm_backend.h"
#include "ring_buffer.h"

namespace ah {

class Watcher {
 public:
  // Takes ownership of the message. Returns false once JS can take no more
  // (the thread-safe function is closing): the thread then leaves its loop.
  using Post = std::function<bool(Message*)>;
  // Called last on the thread, after its final Post (releases the TSFN).
  using Exit = std::function<void()>;

  Watcher(PcmConfig cfg, std::unique_ptr<PcmBackend> backend, Post post, Exit exit);
  ~Watcher();

  // Starts the thread; it opens the PCM and posts kOpened or kOpenFailed.
  int Start();
  void RequestReopen(uint32_t id);
  void RequestStop();
  void Join();
  // Stop, join and close the eventfd; the ring stays readable for a last drain.
  void Shutdown();

  // Valid once kOpened was delivered; lives as long as the watcher.
  RingBuffer* Ring() { return ring_.get(); }
  // JS drained (capture) or could not fill (playback) the ring: arm one
  // early wake-up for when the ring reaches half full / half empty.
  void ArmAudioNotify() { audioNotify_.store(true, std::memory_order_release); }

 private:
  enum class Phase { kStreaming, kSuspended, kDisconnected, kClosed };
  struct Command {
    enum Kind { kStop, kReopen } kind;
    uint32_t id;
  };

  void Run();
  void RunOpened();
  void RunLoop();
  int OpenAndStart();
  int StartStream();
  void OnReadable(int64_t now);
  void Transfer(int64_t now, int64_t avail);
  int64_t CapturePeriod();   // one period: PCM -> ring (dropping the oldest)
  int64_t PlaybackPeriod();  // one period: ring (or silence) -> PCM
  int Prefill();
  void HandleError(int err, int64_t now);
  void OnXrun(int64_t now);
  void OnSuspend(int64_t now);
  void TryResume(int64_t now);
  void OnDisconnect(int err, int64_t now);
  void OnError(int err, int64_t now);
  void RestartInPlace(int64_t now);
  void GoodPeriod(int64_t now);
  void Reopen(uint32_t id, int64_t now);
  void OnPresence();
  void HandleCommands(int64_t now);
  void EmitSample(int64_t now);
  // injectNs < 0: ask the backend which fault (if any) caused the event.
  void PostEvent(const char* type, int64_t now, int err, double durationUs = -1,
                 int64_t lostFrames = -1, std::string message = {}, int64_t injectNs = -1);
  void NotifyAudioIfDue();
  void CountWritten(int64_t written, size_t gotBytes, bool starving);
  void Account();
  const char* StateName() const;
  double FramesToUs(int64_t frames) const;

  PcmConfig cfg_;
  std::unique_ptr<PcmBackend> backend_;
  Post post_;
  Exit exit_;
  std::thread thread_;
  int cmdFd_ = -1;
  std::mutex cmdMutex_;  // held only to push or swap the command list
  std::vector<Command> commands_;
  bool stop_ = false;

  NegotiatedParams params_;
  std::unique_ptr<RingBuffer> ring_;
  std::atomic<bool> audioNotify_{false};
  std::vector<uint8_t> scratch_;  // one period, sized at open: no allocation per period
  std::vector<pollfd> pfds_;
  Phase phase_ = Phase::kClosed;
  bool started_ = false;          // playback: prefill done, starvation now counts
  int64_t recoverStartNs_ = 0;    // in-place recovery in progress since
  int64_t startNs_ = 0;           // the stream's last start
  int64_t lastTransferNs_ = 0;    // the last good period since that start
  int64_t startTriggerNs_ = 0;    // the status trigger timestamp of that start
  uint64_t droppedBytes_ = 0;     // capture: every byte dropped for a slow JS, ever
  uint64_t deliveredBytes_ = 0;   // capture: ring bytes JS took, up to the last window
  int64_t deviceFramesSeen_ = 0;  // the card's count at the last window's end
  int64_t heldFrames_ = 0;        // in the device buffer after the last transfer (alsa-lib PCMs)
  int resumeTries_ = 0;
  bool preparedWhileSuspended_ = false;
  int presenceFd_ = -1;           // owned by the backend; polled while disconnected
  int64_t nextResumeNs_ = 0;
  int recursion_ = 0;
  int lastEventErr_ = 0;
  int64_t lastEventErrNs_ = 0;
  SampleData window_;
};

}  // namespace ah
