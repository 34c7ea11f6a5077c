// AlsaBackend: non-blocking alsa-lib PCM, interleaved read/write access.
#include "alsa_backend.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "clock.h"

namespace ah {

// Returns the (negative) ALSA error from the enclosing function.
#define AH_CHECK(expr)          \
  do {                          \
    int ah_err_ = (expr);       \
    if (ah_err_ < 0) return ah_err_; \
  } while (0)

int AlsaBackend::Open(const PcmConfig& cfg, NegotiatedParams* out) {
  Close();
  snd_pcm_stream_t stream = cfg.capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK;
  // NONBLOCK: the watcher only ever waits in poll(), where a stop command can reach it.
  int err = snd_pcm_open(&pcm_, cfg.device.c_str(), stream, SND_PCM_NONBLOCK);
  if (err < 0) {
    pcm_ = nullptr;
    return err;
  }
  err = snd_pcm_status_malloc(&status_);
  if (err >= 0) err = SetHwParams(cfg, out);
  if (err >= 0) err = SetSwParams(*out);
  if (err >= 0) err = snd_pcm_prepare(pcm_);
  if (err < 0) Close();
  capture_ = cfg.capture;
  bufferFrames_ = int64_t(out->bufferFrames);
  return err;
}

int AlsaBackend::SetHwParams(const PcmConfig& cfg, NegotiatedParams* out) {
  snd_pcm_hw_params_t* hw;
  snd_pcm_hw_params_alloca(&hw);
  AH_CHECK(snd_pcm_hw_params_any(pcm_, hw));
  AH_CHECK(snd_pcm_hw_params_set_access(pcm_, hw, SND_PCM_ACCESS_RW_INTERLEAVED));
  AH_CHECK(snd_pcm_hw_params_set_format(pcm_, hw, cfg.format));
  AH_CHECK(snd_pcm_hw_params_set_channels(pcm_, hw, cfg.channels));
  unsigned rate = cfg.rate;
  AH_CHECK(snd_pcm_hw_params_set_rate_near(pcm_, hw, &rate, nullptr));
  snd_pcm_uframes_t period = cfg.periodFrames;
  AH_CHECK(snd_pcm_hw_params_set_period_size_near(pcm_, hw, &period, nullptr));
  snd_pcm_uframes_t buffer = snd_pcm_uframes_t(period) * cfg.bufferPeriods;
  AH_CHECK(snd_pcm_hw_params_set_buffer_size_near(pcm_, hw, &buffer));
  AH_CHECK(snd_pcm_hw_params(pcm_, hw));

  // Report what the device chose, not what was asked.
  unsigned channels = 0;
  snd_pcm_format_t format;
  AH_CHECK(snd_pcm_hw_params_get_rate(hw, &rate, nullptr));
  AH_CHECK(snd_pcm_hw_params_get_channels(hw, &channels));
  AH_CHECK(snd_pcm_hw_params_get_format(hw, &format));
  AH_CHECK(snd_pcm_hw_params_get_period_size(hw, &period, nullptr));
  AH_CHECK(snd_pcm_hw_params_get_buffer_size(hw, &buffer));
  out->rate = rate;
  out->channels = channels;
  out->format = format;
  out->periodFrames = period;
  out->bufferFrames = buffer;
  out->bytesPerFrame = unsigned(snd_pcm_format_physical_width(format) / 8) * channels;
  return 0;
}

int AlsaBackend::SetSwParams(const NegotiatedParams& p) {
  snd_pcm_sw_params_t* sw;
  snd_pcm_sw_params_alloca(&sw);
  AH_CHECK(snd_pcm_sw_params_current(pcm_, sw));
  AH_CHECK(snd_pcm_sw_params_set_avail_min(pcm_, sw, p.periodFrames));
  // The watcher starts the stream itself (after prefilling playback).
  snd_pcm_uframes_t boundary = 0;
  AH_CHECK(snd_pcm_sw_params_get_boundary(sw, &boundary));
  AH_CHECK(snd_pcm_sw_params_set_start_threshold(pcm_, sw, boundary));
  AH_CHECK(snd_pcm_sw_params_set_stop_threshold(pcm_, sw, p.bufferFrames));
  AH_CHECK(snd_pcm_sw_params_set_tstamp_mode(pcm_, sw, SND_PCM_TSTAMP_ENABLE));
  // Timestamps on CLOCK_MONOTONIC, comparable with process.hrtime.bigint().
  AH_CHECK(snd_pcm_sw_params_set_tstamp_type(pcm_, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC));
  AH_CHECK(snd_pcm_sw_params(pcm_, sw));
  return 0;
}

AlsaBackend::~AlsaBackend() {
  Close();
  if (inotifyFd_ >= 0) close(inotifyFd_);
}

// Device nodes come and go under /dev/snd (which itself goes away with the
// last card): a new or changed node is the cue to try opening again, instead
// of retrying blind on a timer.
int AlsaBackend::PresenceFd() {
  if (inotifyFd_ < 0) {
    inotifyFd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotifyFd_ < 0) return -1;
    inotify_add_watch(inotifyFd_, "/dev", IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  }
  if (sndWatch_ < 0)
    sndWatch_ = inotify_add_watch(inotifyFd_, "/dev/snd", IN_CREATE | IN_ATTRIB | IN_MOVED_TO | IN_ONLYDIR);
  return inotifyFd_;
}

void AlsaBackend::DrainPresence() {
  alignas(inotify_event) char buf[4096];
  ssize_t n;
  while ((n = read(inotifyFd_, buf, sizeof buf)) > 0) {
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      if (ev->wd == sndWatch_ && (ev->mask & IN_IGNORED)) sndWatch_ = -1;  // /dev/snd went away
      p += sizeof(inotify_event) + ev->len;
    }
  }
  if (sndWatch_ < 0) PresenceFd();  // /dev/snd may be back
}

void AlsaBackend::Close() {
  if (status_) {
    snd_pcm_status_free(status_);
    status_ = nullptr;
  }
  if (pcm_) {
    // Non-blocking handle: close drops what is queued instead of draining it.
    CountDiscarded();
    snd_pcm_close(pcm_);
    pcm_ = nullptr;
  }
}

int AlsaBackend::PollCount() { return pcm_ ? snd_pcm_poll_descriptors_count(pcm_) : 0; }

int AlsaBackend::FillPoll(pollfd* fds, int space) {
  return pcm_ ? snd_pcm_poll_descriptors(pcm_, fds, unsigned(space)) : 0;
}

int AlsaBackend::Revents(pollfd* fds, int n, unsigned short* revents) {
  if (!pcm_) return -EBADFD;
  return snd_pcm_poll_descriptors_revents(pcm_, fds, unsigned(n), revents);
}

int AlsaBackend::Prepare() {
  if (!pcm_) return -EBADFD;
  CountDiscarded();
  return snd_pcm_prepare(pcm_);
}

// What the buffer holds now is thrown away by the prepare or close that
// follows: read it from the status just before (microseconds apart).
void AlsaBackend::CountDiscarded() {
  if (!status_ || snd_pcm_status(pcm_, status_) < 0) return;
  if (!BufferHoldsFrames(snd_pcm_status_get_state(status_))) return;
  int64_t avail = int64_t(snd_pcm_status_get_avail(status_));
  int64_t held = capture_ ? avail : bufferFrames_ - avail;
  discarded_ += std::clamp<int64_t>(held, 0, bufferFrames_);
}

int64_t AlsaBackend::TakeDiscarded() {
  int64_t d = discarded_;
  discarded_ = 0;
  return d;
}
int AlsaBackend::Start() { return pcm_ ? snd_pcm_start(pcm_) : -EBADFD; }
int AlsaBackend::Resume() { return pcm_ ? snd_pcm_resume(pcm_) : -EBADFD; }
int64_t AlsaBackend::AvailUpdate() { return pcm_ ? snd_pcm_avail_update(pcm_) : -EBADFD; }

int64_t AlsaBackend::Read(void* buf, uint64_t frames) {
  return pcm_ ? snd_pcm_readi(pcm_, buf, snd_pcm_uframes_t(frames)) : -EBADFD;
}

int64_t AlsaBackend::Write(const void* buf, uint64_t frames) {
  return pcm_ ? snd_pcm_writei(pcm_, buf, snd_pcm_uframes_t(frames)) : -EBADFD;
}

int AlsaBackend::Status(PcmStatusInfo* out) {
  if (!pcm_) return -EBADFD;
  AH_CHECK(snd_pcm_status(pcm_, status_));
  out->state = snd_pcm_status_get_state(status_);
  out->avail = int64_t(snd_pcm_status_get_avail(status_));
  out->delay = int64_t(snd_pcm_status_get_delay(status_));
  snd_htimestamp_t ts;
  snd_pcm_status_get_htstamp(status_, &ts);
  out->tstampNs = TimespecNs(ts);
  snd_pcm_status_get_trigger_htstamp(status_, &ts);
  out->triggerNs = TimespecNs(ts);
  // Some plugins leave htstamp at zero; "now" is the honest fallback.
  if (out->tstampNs == 0) out->tstampNs = NowNs();
  return 0;
}

snd_pcm_state_t AlsaBackend::State() {
  return pcm_ ? snd_pcm_state(pcm_) : SND_PCM_STATE_DISCONNECTED;
}

}  // namespace ah
