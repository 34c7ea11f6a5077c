// PcmWatcher, the error half: what the thread does about each ALSA error
// (xrun, suspend, disconnect, others), all dispatched from HandleError.
#include <algorithm>
#include <cerrno>

#include "clock.h"
#include "errno_names.h"
#include "watcher.h"

namespace ah {
namespace {

constexpr int64_t kResumeRetryNs = 20'000'000;  // like PulseAudio: retry resume a few times...
constexpr int kMaxResumeTries = 50;              // ...for about a second, then prepare
constexpr int64_t kSuspendedPollNs = 100'000'000;  // still asleep after that: look every 100 ms
constexpr int64_t kErrorEventGapNs = 1'000'000'000;  // coalesce repeats of one error

}  // namespace

// The one place that maps an ALSA error to what the engine does about it.
void Watcher::HandleError(int err, int64_t) {
  if (err == -EAGAIN || err == -EINTR) return;
  // Detection time is now, not the wake-up: a fault can land while we work.
  int64_t now = NowNs();
  if (recursion_ > 2) {  // recovery itself keeps failing: stop trying in place
    backend_->Close();
    phase_ = Phase::kClosed;
    PostEvent("error", now, err, -1, -1, "in-place recovery failed: " + ErrorText(err));
    return;
  }
  recursion_++;
  switch (-err) {
    case EPIPE: OnXrun(now); break;
    case ESTRPIPE: OnSuspend(now); break;
    case ENODEV:
    case ENXIO:
    case ESHUTDOWN: OnDisconnect(err, now); break;
    default: OnError(err, now); break;
  }
  recursion_--;
}

void Watcher::OnXrun(int64_t now) {
  // "At least X": from the moment the device stopped (status trigger
  // timestamp in XRUN state) to now, as aplay reports it.
  // Some PCMs (alsa-lib's ioplug plugins) never move the trigger timestamp
  // off the stream's start; then the xrun began, at the latest, one buffer
  // after the last transfer left the buffer empty (capture) or full (playback).
  PcmStatusInfo st;
  int64_t xrunAt = 0;
  if (backend_->Status(&st) == 0 && st.state == SND_PCM_STATE_XRUN && st.triggerNs > startTriggerNs_ &&
      st.triggerNs <= now)
    xrunAt = st.triggerNs;
  else if (lastTransferNs_ > 0)
    xrunAt = lastTransferNs_ + int64_t(FramesToUs(int64_t(params_.bufferFrames)) * 1000.0);
  double lenUs = xrunAt > 0 && xrunAt < now ? double(now - xrunAt) / 1000.0 : 0;
  int64_t injectNs = backend_->TakeInjectNs();
  window_.xruns++;
  window_.xrunUsMax = std::max(window_.xrunUsMax, lenUs);
  window_.lastErr = -EPIPE;
  if (recoverStartNs_ == 0) recoverStartNs_ = now;
  // snd_pcm_recover() would do the same prepare for EPIPE; restart ourselves
  // so playback is prefilled and both directions restart at once.
  RestartInPlace(now);
  // The frames lost are the device's time from the xrun to the restart (the
  // buffer the prepare threw away is counted apart, as discarded). Measured
  // between the two trigger timestamps when the PCM gives them.
  int64_t lost = 0;
  if (xrunAt > 0 && phase_ == Phase::kStreaming && backend_->IsOpen()) {
    int64_t restartAt = backend_->Status(&st) == 0 && st.triggerNs > xrunAt ? st.triggerNs : NowNs();
    if (restartAt > xrunAt) lost = FramesIn(restartAt - xrunAt, params_.rate);
  }
  window_.lostFrames += uint64_t(lost);
  PostEvent("xrun", now, -EPIPE, lenUs, lost, {}, injectNs);
}

void Watcher::RestartInPlace(int64_t now) {
  int err = backend_->Prepare();
  if (err >= 0) err = StartStream();
  if (err < 0) HandleError(err, now);
}

void Watcher::OnSuspend(int64_t now) {
  window_.lastErr = -ESTRPIPE;
  PostEvent("suspend", now, -ESTRPIPE);
  phase_ = Phase::kSuspended;
  if (recoverStartNs_ == 0) recoverStartNs_ = now;
  resumeTries_ = 0;
  preparedWhileSuspended_ = false;
  TryResume(now);
}

void Watcher::TryResume(int64_t now) {
  int err = backend_->Resume();
  // alsa-lib's ioplug returns 0 from resume while the plugin stays suspended.
  if (err == 0 && backend_->State() == SND_PCM_STATE_SUSPENDED) err = -EAGAIN;
  if (err == -EAGAIN) {
    if (++resumeTries_ < kMaxResumeTries) {
      nextResumeNs_ = now + kResumeRetryNs;  // never sleep on this thread: poll again
      return;
    }
    // Resume keeps saying "not yet": a driver without resume wants prepare.
    // A prepare that fails the same way means the device is still asleep.
    int perr = backend_->Prepare();
    if (perr == -EAGAIN || perr == -ESTRPIPE || backend_->State() == SND_PCM_STATE_SUSPENDED) {
      preparedWhileSuspended_ = true;  // the failed prepare may have reset the pointers
      nextResumeNs_ = now + kSuspendedPollNs;
      return;
    }
    phase_ = Phase::kStreaming;
    if (perr < 0) return HandleError(perr, now);
    err = StartStream();
    if (err < 0) return HandleError(err, now);
    PostEvent("resume", now, 0);
    return;
  }
  phase_ = Phase::kStreaming;
  PostEvent("resume", now, 0);
  // A driver that cannot resume, or pointers a failed prepare reset: start afresh.
  if (err < 0 || preparedWhileSuspended_) RestartInPlace(now);
  preparedWhileSuspended_ = false;
}

void Watcher::OnDisconnect(int err, int64_t now) {
  // Close at once: the kernel's unbind of the card waits for every open file.
  backend_->Close();
  phase_ = Phase::kDisconnected;
  if (cfg_.autoReopen) presenceFd_ = backend_->PresenceFd();
  recoverStartNs_ = 0;
  window_.errors++;
  window_.lastErr = err;
  PostEvent("disconnect", now, err);
}

void Watcher::OnError(int err, int64_t now) {
  window_.errors++;
  window_.lastErr = err;
  if (err != lastEventErr_ || now - lastEventErrNs_ >= kErrorEventGapNs) {
    lastEventErr_ = err;
    lastEventErrNs_ = now;
    PostEvent("error", now, err);
  }
  if (phase_ == Phase::kStreaming && backend_->IsOpen()) {
    if (recoverStartNs_ == 0) recoverStartNs_ = now;
    RestartInPlace(now);
  }
}

}  // namespace ah
