// PcmBackend for "mock:<name>": a fake card clocked in real time by a timerfd,
// driven by a fault script, so mock tests run the real watcher code.
#pragma once

#include <vector>

#include "pcm_backend.h"

namespace ah {

class MockBackend : public PcmBackend {
 public:
  // `faults` must be sorted by atNs (ParseFaults does that).
  // `startFrame`: where the card's frame counters start after each prepare,
  // to test long runs (past 2^32 frames) without waiting for them.
  MockBackend(std::vector<MockFault> faults, int64_t startFrame)
      : script_(std::move(faults)), startFrame_(startFrame) {}
  ~MockBackend() override;

  int Open(const PcmConfig& cfg, NegotiatedParams* out) override;
  void Close() override;
  bool IsOpen() const override { return open_; }

  int PollCount() override { return open_ ? 2 : 0; }
  int FillPoll(pollfd* fds, int space) override;
  int Revents(pollfd* fds, int n, unsigned short* revents) override;

  int Prepare() override;
  int Start() override;
  int Resume() override;
  int64_t AvailUpdate() override;
  int64_t Read(void* buf, uint64_t frames) override;
  int64_t Write(const void* buf, uint64_t frames) override;
  int Status(PcmStatusInfo* out) override;
  snd_pcm_state_t State() override;
  int64_t TakeInjectNs() override;
  int PresenceFd() override;
  void DrainPresence() override;
  int64_t DeviceFrames() override { return truth_; }
  int QuietStatus(PcmStatusInfo* out) override { return Status(out); }
  int64_t TakeDiscarded() override;

 private:
  void ApplyDueFaults(int64_t now);
  void Apply(const MockFault& f, int64_t now);
  void ArmFaultTimer();
  void ArmClock(int64_t firstNs);
  void AlignClock(int64_t now);
  int64_t HwFrames(int64_t now) const;
  int64_t FramesToNs(int64_t frames) const;
  int64_t Avail(int64_t now) const;
  void CheckXrun(int64_t now);
  int StateError() const;
  void StopClock(int64_t hwStop);
  int64_t Held(int64_t now) const;
  void Discard(int64_t now);

  // The card: survives close and reopen, like a device that outlives a client.
  std::vector<MockFault> script_;
  size_t next_ = 0;
  int64_t t0Ns_ = 0;  // first open; fault times count from here
  int64_t disconnectedUntilNs_ = 0;
  uint32_t openFailsLeft_ = 0;
  int openFailErr_ = 0;
  int64_t injectNs_ = 0;
  int64_t startFrame_ = 0;
  int presenceFd_ = -1;  // fires when the disconnect ends: the device "reappears"

  // The open stream.
  bool open_ = false;
  bool capture_ = true;
  NegotiatedParams p_;
  int clockFd_ = -1;
  int faultFd_ = -1;
  snd_pcm_state_t state_ = SND_PCM_STATE_OPEN;
  int64_t runStartNs_ = 0;
  int64_t hwBase_ = 0;  // device position when the clock last (re)started
  int64_t appl_ = 0;    // frames the application read or wrote
  int64_t triggerNs_ = 0;
  int64_t stallUntilNs_ = 0;
  int64_t clockAnchorNs_ = 0;  // the clock timer ticks at anchor + k * period
  int64_t clockPeriodNs_ = 0;
  int64_t delayExtraNs_ = 0;
  int64_t delayUntilNs_ = 0;
  int64_t suspendUntilNs_ = 0;
  int pendingIoErr_ = 0;

  // Ground truth for frame accounting, kept by the card itself: frames its
  // clock moved in finished run segments plus xrun gaps (XRUN -> restart).
  int64_t truth_ = 0;
  int64_t segStartHw_ = 0;   // hw position when the running segment began
  int64_t xrunAtNs_ = 0;     // when the last XRUN began
  bool gapPending_ = false;  // prepared out of XRUN: the next start closes the gap
  int64_t discarded_ = 0;
};

}  // namespace ah
