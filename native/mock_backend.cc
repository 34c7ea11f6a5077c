// MockBackend: positions follow CLOCK_MONOTONIC exactly; faults change state
// the way a real driver would (XRUN, SUSPENDED, DISCONNECTED, late wake-ups).
#include "mock_backend.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.h"

namespace ah {
namespace {

constexpr int64_t kNsPerSec = 1000000000LL;

void SetTimer(int fd, int64_t firstAbsNs, int64_t intervalNs) {
  itimerspec its{};
  if (firstAbsNs > 0) {
    its.it_value.tv_sec = firstAbsNs / kNsPerSec;
    its.it_value.tv_nsec = firstAbsNs % kNsPerSec;
    its.it_interval.tv_sec = intervalNs / kNsPerSec;
    its.it_interval.tv_nsec = intervalNs % kNsPerSec;
  }
  timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, nullptr);
}

void Drain(int fd) {
  uint64_t expirations;
  while (read(fd, &expirations, sizeof expirations) == sizeof expirations) {
  }
}

}  // namespace

MockBackend::~MockBackend() {
  Close();
  if (presenceFd_ >= 0) close(presenceFd_);
}

int MockBackend::PresenceFd() {
  if (presenceFd_ < 0) presenceFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (presenceFd_ < 0) return -1;
  ApplyDueFaults(NowNs());
  // Past the end (or not disconnected): fire at once.
  SetTimer(presenceFd_, std::max<int64_t>(1, disconnectedUntilNs_), 0);
  return presenceFd_;
}

void MockBackend::DrainPresence() {
  if (presenceFd_ >= 0) Drain(presenceFd_);
}

int MockBackend::Open(const PcmConfig& cfg, NegotiatedParams* out) {
  Close();
  // Fault times count from the first open (the stream starts right after it),
  // so { at: 0, type: 'openFail' } fails the very first open.
  if (t0Ns_ == 0) t0Ns_ = NowNs();
  ApplyDueFaults(NowNs());
  if (NowNs() < disconnectedUntilNs_) return -ENODEV;
  if (openFailsLeft_ > 0) {
    openFailsLeft_--;
    return -openFailErr_;
  }
  int width = snd_pcm_format_physical_width(cfg.format);
  if (width <= 0 || width % 8 != 0) return -EINVAL;
  clockFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  faultFd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (clockFd_ < 0 || faultFd_ < 0) {
    int err = -errno;
    Close();
    return err;
  }
  capture_ = cfg.capture;
  p_.rate = cfg.rate;
  p_.channels = cfg.channels;
  p_.format = cfg.format;
  p_.periodFrames = cfg.periodFrames;
  p_.bufferFrames = uint64_t(cfg.periodFrames) * cfg.bufferPeriods;
  p_.bytesPerFrame = unsigned(width / 8) * cfg.channels;
  *out = p_;
  open_ = true;
  ArmFaultTimer();
  return Prepare();
}

void MockBackend::Close() {
  if (open_) Discard(NowNs());
  gapPending_ = false;  // closed in XRUN: the gap never ends in a restart
  if (clockFd_ >= 0) close(clockFd_);
  if (faultFd_ >= 0) close(faultFd_);
  clockFd_ = faultFd_ = -1;
  open_ = false;
  state_ = SND_PCM_STATE_OPEN;
  pendingIoErr_ = 0;
}

int MockBackend::FillPoll(pollfd* fds, int space) {
  if (!open_ || space < 2) return 0;
  fds[0] = {clockFd_, POLLIN, 0};
  fds[1] = {faultFd_, POLLIN, 0};
  return 2;
}

int MockBackend::Revents(pollfd* fds, int n, unsigned short* revents) {
  if (!open_) return -EBADFD;
  for (int i = 0; i < n; i++)
    if (fds[i].revents & POLLIN) Drain(fds[i].fd);
  int64_t now = NowNs();
  ApplyDueFaults(now);
  CheckXrun(now);
  unsigned short ready = capture_ ? POLLIN : POLLOUT;
  switch (state_) {
    case SND_PCM_STATE_DISCONNECTED:
      *revents = POLLERR | POLLHUP;
      return 0;
    case SND_PCM_STATE_XRUN:
    case SND_PCM_STATE_SUSPENDED:
      *revents = POLLERR;
      return 0;
    default:
      break;
  }
  // An injected I/O error surfaces on the next transfer, as with a real driver.
  if (pendingIoErr_) {
    *revents = ready;
    return 0;
  }
  bool stalled = now < stallUntilNs_;
  if (!stalled && stallUntilNs_ != 0) {
    stallUntilNs_ = 0;
    AlignClock(now);
  }
  *revents = (!stalled && Avail(now) >= int64_t(p_.periodFrames)) ? ready : 0;
  return 0;
}

int MockBackend::Prepare() {
  if (!open_) return -EBADFD;
  if (state_ == SND_PCM_STATE_DISCONNECTED) return -ENODEV;
  int64_t now = NowNs();
  Discard(now);
  gapPending_ = state_ == SND_PCM_STATE_XRUN;
  state_ = SND_PCM_STATE_PREPARED;
  hwBase_ = startFrame_;
  appl_ = startFrame_;
  stallUntilNs_ = 0;
  ArmClock(0);  // an injected I/O error stays pending: it must surface once
  return 0;
}

int MockBackend::Start() {
  if (!open_) return -EBADFD;
  if (state_ == SND_PCM_STATE_DISCONNECTED) return -ENODEV;
  if (state_ != SND_PCM_STATE_PREPARED) return -EBADFD;
  int64_t now = NowNs();
  if (gapPending_ && now > xrunAtNs_) truth_ += FramesIn(now - xrunAtNs_, p_.rate);
  gapPending_ = false;
  runStartNs_ = now;
  triggerNs_ = now;
  segStartHw_ = hwBase_;
  state_ = SND_PCM_STATE_RUNNING;
  ArmClock(now + FramesToNs(int64_t(p_.periodFrames)));
  return 0;
}

int MockBackend::Resume() {
  if (!open_) return -EBADFD;
  if (state_ == SND_PCM_STATE_DISCONNECTED) return -ENODEV;
  if (state_ != SND_PCM_STATE_SUSPENDED) return -EBADFD;
  int64_t now = NowNs();
  if (now < suspendUntilNs_) return -EAGAIN;
  runStartNs_ = now;
  segStartHw_ = hwBase_;
  state_ = SND_PCM_STATE_RUNNING;
  AlignClock(now);
  return 0;
}

// Next wake-up when avail reaches the next whole period, as a period
// interrupt would come: keeps the wake-up grid on the frame grid after a
// resume or a stall shifted it.
void MockBackend::AlignClock(int64_t now) {
  int64_t period = int64_t(p_.periodFrames);
  int64_t rem = Avail(now) % period;
  ArmClock(now + FramesToNs(period - (rem < 0 ? rem + period : rem)));
}

int64_t MockBackend::AvailUpdate() {
  if (!open_) return -EBADFD;
  int64_t now = NowNs();
  ApplyDueFaults(now);
  CheckXrun(now);
  if (int err = StateError()) return err;
  if (pendingIoErr_) {
    int err = pendingIoErr_;
    pendingIoErr_ = 0;
    return -err;
  }
  return Avail(now);
}

int64_t MockBackend::Read(void* buf, uint64_t frames) {
  int64_t avail = AvailUpdate();
  if (avail < 0) return avail;
  int64_t n = std::min<int64_t>(avail, int64_t(frames));
  if (n == 0) return -EAGAIN;
  // Each frame starts with its 32-bit index on the card: consumers can check continuity.
  auto* out = static_cast<uint8_t*>(buf);
  unsigned bpf = p_.bytesPerFrame;
  std::memset(out, 0, size_t(n) * bpf);
  for (int64_t i = 0; i < n; i++) {
    uint32_t idx = uint32_t(appl_ + i);
    std::memcpy(out + size_t(i) * bpf, &idx, std::min<unsigned>(4, bpf));
  }
  appl_ += n;
  return n;
}

int64_t MockBackend::Write(const void*, uint64_t frames) {
  int64_t avail = AvailUpdate();
  if (avail < 0) return avail;
  int64_t n = std::min<int64_t>(avail, int64_t(frames));
  if (n == 0) return -EAGAIN;
  appl_ += n;
  return n;
}

int MockBackend::Status(PcmStatusInfo* out) {
  if (!open_) return -EBADFD;
  int64_t now = NowNs();
  ApplyDueFaults(now);
  CheckXrun(now);
  out->state = state_;
  out->avail = Avail(now);
  int64_t delay = capture_ ? HwFrames(now) - appl_ : appl_ - HwFrames(now);
  if (now < delayUntilNs_) delay += delayExtraNs_ * int64_t(p_.rate) / kNsPerSec;
  out->delay = delay;
  out->tstampNs = now;
  out->triggerNs = triggerNs_;
  out->deviceFrames = truth_ + (state_ == SND_PCM_STATE_RUNNING ? HwFrames(now) - segStartHw_ : 0);
  return 0;
}

snd_pcm_state_t MockBackend::State() {
  if (!open_) return SND_PCM_STATE_OPEN;
  CheckXrun(NowNs());
  return state_;
}

int64_t MockBackend::TakeInjectNs() {
  int64_t t = injectNs_;
  injectNs_ = 0;
  return t;
}

void MockBackend::ApplyDueFaults(int64_t now) {
  if (t0Ns_ == 0) return;
  bool applied = false;
  while (next_ < script_.size() && t0Ns_ + script_[next_].atNs <= now) {
    Apply(script_[next_++], now);
    applied = true;
  }
  if (applied) ArmFaultTimer();
}

void MockBackend::Apply(const MockFault& f, int64_t now) {
  bool running = open_ && state_ == SND_PCM_STATE_RUNNING;
  switch (f.type) {
    case FaultType::kXrun:
      if (!running) return;  // nothing streams: nothing to overrun
      StopClock(HwFrames(now));
      state_ = SND_PCM_STATE_XRUN;
      triggerNs_ = xrunAtNs_ = now;
      break;
    case FaultType::kStall: {
      if (!running) return;
      // The device keeps its clock; the wake-up that was due next comes
      // durationMs late, and none comes before it.
      int64_t p = std::max<int64_t>(1, clockPeriodNs_);
      int64_t nextTick = clockAnchorNs_ + ((now - clockAnchorNs_) / p + 1) * p;
      stallUntilNs_ = nextTick + f.durationNs;
      ArmClock(stallUntilNs_);
      break;
    }
    case FaultType::kDelay:
      delayExtraNs_ = f.extraNs;
      delayUntilNs_ = now + f.durationNs;
      return;  // no event follows a delay spike
    case FaultType::kSuspend:
      if (!running) return;
      StopClock(HwFrames(now));
      state_ = SND_PCM_STATE_SUSPENDED;
      suspendUntilNs_ = now + f.durationNs;
      ArmClock(0);
      break;
    case FaultType::kDisconnect:
      disconnectedUntilNs_ = now + f.durationNs;
      if (!open_) return;
      if (running) StopClock(HwFrames(now));
      state_ = SND_PCM_STATE_DISCONNECTED;
      ArmClock(0);
      break;
    case FaultType::kOpenFail:
      openFailsLeft_ = f.count;
      openFailErr_ = f.err;
      return;
    case FaultType::kIoError:
      if (!open_) return;
      pendingIoErr_ = f.err;
      break;
  }
  injectNs_ = now;
}

void MockBackend::ArmFaultTimer() {
  if (!open_) return;
  if (t0Ns_ == 0 || next_ >= script_.size()) {
    SetTimer(faultFd_, 0, 0);
    return;
  }
  // An absolute time in the past expires at once, which is what we want.
  SetTimer(faultFd_, std::max<int64_t>(1, t0Ns_ + script_[next_].atNs), 0);
}

void MockBackend::ArmClock(int64_t firstNs) {
  if (clockFd_ < 0) return;
  // Round up so a wake-up never comes before its period is complete.
  int64_t periodNs = (int64_t(p_.periodFrames) * kNsPerSec + p_.rate - 1) / p_.rate;
  clockAnchorNs_ = firstNs;
  clockPeriodNs_ = periodNs;
  SetTimer(clockFd_, firstNs, firstNs ? periodNs : 0);
}

int64_t MockBackend::FramesToNs(int64_t frames) const {
  return frames / p_.rate * kNsPerSec + (frames % p_.rate) * kNsPerSec / p_.rate;
}

int64_t MockBackend::HwFrames(int64_t now) const {
  if (state_ != SND_PCM_STATE_RUNNING) return hwBase_;
  int64_t dt = now - runStartNs_;
  // Split to stay exact without overflowing int64 on long runs.
  return hwBase_ + dt / kNsPerSec * p_.rate + (dt % kNsPerSec) * p_.rate / kNsPerSec;
}

int64_t MockBackend::Avail(int64_t now) const {
  int64_t hw = HwFrames(now);
  return capture_ ? hw - appl_ : int64_t(p_.bufferFrames) - (appl_ - hw);
}

void MockBackend::CheckXrun(int64_t now) {
  if (!open_ || state_ != SND_PCM_STATE_RUNNING) return;
  int64_t hw = HwFrames(now);
  int64_t buffer = int64_t(p_.bufferFrames);
  // The moment the buffer overflowed (capture) or ran dry (playback).
  int64_t xrunAt = capture_ ? appl_ + buffer : appl_;
  if (capture_ ? hw - appl_ <= buffer : hw <= appl_) return;
  triggerNs_ = xrunAtNs_ = runStartNs_ + FramesToNs(xrunAt - hwBase_);
  StopClock(xrunAt);
  state_ = SND_PCM_STATE_XRUN;
}

// The running segment ends at hw position `hwStop`: the card keeps what it moved.
void MockBackend::StopClock(int64_t hwStop) {
  if (state_ == SND_PCM_STATE_RUNNING) truth_ += hwStop - segStartHw_;
  hwBase_ = hwStop;
}

// Frames in the buffer: captured and not read, or written and not played.
int64_t MockBackend::Held(int64_t now) const {
  int64_t hw = HwFrames(now);
  return std::clamp<int64_t>(capture_ ? hw - appl_ : appl_ - hw, 0, int64_t(p_.bufferFrames));
}

// A prepare or close throws the buffer away; stop the clock first so the
// frames counted as moved and as discarded meet at one instant.
void MockBackend::Discard(int64_t now) {
  CheckXrun(now);
  // DISCONNECTED too: a real driver cannot say what it held; the card can.
  if (BufferHoldsFrames(state_) || state_ == SND_PCM_STATE_DISCONNECTED) discarded_ += Held(now);
  if (state_ == SND_PCM_STATE_RUNNING) {
    StopClock(HwFrames(now));
    state_ = SND_PCM_STATE_SETUP;  // the caller sets what comes next
  }
}

int64_t MockBackend::TakeDiscarded() {
  int64_t d = discarded_;
  discarded_ = 0;
  return d;
}

int MockBackend::StateError() const {
  switch (state_) {
    case SND_PCM_STATE_XRUN: return -EPIPE;
    case SND_PCM_STATE_SUSPENDED: return -ESTRPIPE;
    case SND_PCM_STATE_DISCONNECTED: return -ENODEV;
    default: return 0;
  }
}

}  // namespace ah
