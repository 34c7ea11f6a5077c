// PcmWatcher thread: the engine's hot path. No allocation and no JS per period.
#include "watcher.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.h"
#include "errno_names.h"

namespace ah {
namespace {

void NameThread(const std::string& device) {
  std::string name = "ah:" + device;
  name.resize(std::min<size_t>(name.size(), 15));  // the kernel's limit
  pthread_setname_np(pthread_self(), name.c_str());
}

}  // namespace

Watcher::Watcher(PcmConfig cfg, std::unique_ptr<PcmBackend> backend, Post post, Exit exit)
    : cfg_(std::move(cfg)), backend_(std::move(backend)), post_(std::move(post)), exit_(std::move(exit)) {}

Watcher::~Watcher() { Shutdown(); }

void Watcher::Shutdown() {
  RequestStop();
  Join();
  if (cmdFd_ >= 0) close(cmdFd_);
  cmdFd_ = -1;
}

int Watcher::Start() {
  cmdFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (cmdFd_ < 0) return -errno;
  try {
    thread_ = std::thread(&Watcher::Run, this);
  } catch (const std::system_error& e) {
    return -(e.code().value() ? e.code().value() : EAGAIN);
  }
  return 0;
}

void Watcher::RequestReopen(uint32_t id) {
  {
    std::lock_guard<std::mutex> lock(cmdMutex_);
    commands_.push_back({Command::kReopen, id});
  }
  uint64_t one = 1;
  if (cmdFd_ >= 0) (void)!write(cmdFd_, &one, sizeof one);
}

void Watcher::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(cmdMutex_);
    commands_.push_back({Command::kStop, 0});
  }
  uint64_t one = 1;
  if (cmdFd_ >= 0) (void)!write(cmdFd_, &one, sizeof one);
}

void Watcher::Join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Watcher::Run() {
  // An exception escaping a std::thread would abort the process; the only
  // ones possible here are allocation failures, and the way out is to stop.
  try {
    RunOpened();
  } catch (...) {
    stop_ = true;
  }
  backend_->Close();
  try {
    if (window_.tStartNs != 0) {
      // The last, partial window: nothing measured is lost on close.
      phase_ = Phase::kClosed;
      EmitSample(NowNs());
    }
  } catch (...) {
  }
  // Its fds (the mock's timers, the inotify watch on /dev/snd) go with the
  // thread, not with the JS object whenever GC gets to it.
  backend_.reset();
  if (exit_) exit_();
}

void Watcher::RunOpened() {
  NameThread(cfg_.device);
  auto* opened = new Message(Message::kOpened);
  if (cfg_.rtPriority > 0) {
    sched_param sp{};
    sp.sched_priority = cfg_.rtPriority;
    int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (r != 0)
      opened->warning = "rtPriority " + std::to_string(cfg_.rtPriority) + " refused (" +
                        ErrnoName(r) + ": " + std::strerror(r) +
                        "); the watcher runs at normal priority";
  }
  int err = OpenAndStart();
  if (err < 0) {
    opened->kind = Message::kOpenFailed;
    opened->err = err;
    post_(opened);
    return;
  }
  opened->params = params_;
  if (!post_(opened)) stop_ = true;
  RunLoop();
}

int Watcher::OpenAndStart() {
  int err = backend_->Open(cfg_, &params_);
  if (err < 0) return err;
  size_t periodBytes = size_t(params_.periodFrames) * params_.bytesPerFrame;
  scratch_.assign(periodBytes, 0);
  if (!ring_) {
    // Two sample windows plus the device buffer: JS drains at every window.
    uint64_t windowFrames = uint64_t(params_.rate) * cfg_.sampleIntervalMs / 1000;
    uint64_t frames = std::max<uint64_t>(2 * windowFrames + params_.bufferFrames,
                                         4 * params_.periodFrames);
    // The device may choose more than was asked (and checked in options.cc).
    if (frames * params_.bytesPerFrame > kMaxRingBytes) {
      backend_->Close();
      return -ENOMEM;
    }
    ring_ = std::make_unique<RingBuffer>(size_t(frames * params_.bytesPerFrame), params_.bytesPerFrame);
  }
  if (scratch_.size() * 2 > ring_->Capacity()) {
    backend_->Close();
    return -EINVAL;  // the reopened device chose a period the ring cannot hold
  }
  int n = backend_->PollCount();
  if (n < 0) {
    backend_->Close();
    return n;
  }
  pfds_.assign(size_t(std::max(n, 1)) + 1, pollfd{});  // >= 2: the presence fd uses [0]
  err = StartStream();
  if (err < 0) {
    backend_->Close();
    return err;
  }
  phase_ = Phase::kStreaming;
  return 0;
}

int Watcher::StartStream() {
  started_ = false;
  heldFrames_ = 0;  // what a prepare left; playback's prefill adds to it
  if (!cfg_.capture) {
    int err = Prefill();
    if (err < 0) return err;
  }
  int err = backend_->Start();
  if (err < 0) return err;
  started_ = true;
  startNs_ = NowNs();
  lastTransferNs_ = 0;
  // An xrun's trigger timestamp must be later than this one to be believed.
  PcmStatusInfo st;
  startTriggerNs_ = backend_->Status(&st) == 0 ? st.triggerNs : 0;
  return 0;
}

// Playback starts with a full buffer (what JS queued, then silence), as aplay does.
int Watcher::Prefill() {
  size_t periodBytes = scratch_.size();
  // Bounded by the buffer size: an unclocked PCM (alsa-lib's null) never fills.
  for (uint64_t done = 0; done + params_.periodFrames <= params_.bufferFrames; done += params_.periodFrames) {
    int64_t avail = backend_->AvailUpdate();
    if (avail < 0) return int(avail);
    if (avail < int64_t(params_.periodFrames)) return 0;
    size_t got = ring_->Read(scratch_.data(), periodBytes);
    if (got < periodBytes)
      snd_pcm_format_set_silence(params_.format, scratch_.data() + got,
                                 unsigned((periodBytes - got) / params_.bytesPerFrame * params_.channels));
    int64_t n = backend_->Write(scratch_.data(), params_.periodFrames);
    if (n < 0) return int(n);
    CountWritten(n, got, false);
    heldFrames_ += n;
  }
  return 0;
}

// Of `written` frames, the first gotBytes came from JS, the rest was silence:
// starvation once the stream runs, padding while it is being primed.
void Watcher::CountWritten(int64_t written, size_t gotBytes, bool starving) {
  if (written <= 0) return;
  uint64_t fromJs = std::min<uint64_t>(uint64_t(written), gotBytes / params_.bytesPerFrame);
  window_.deliveredFrames += fromJs;
  (starving ? window_.starved : window_.paddingFrames) += uint64_t(written) - fromJs;
}

void Watcher::RunLoop() {
  int64_t windowNs = int64_t(cfg_.sampleIntervalMs) * 1'000'000;
  // window_ already holds the first start's prefill: it counts in the first window.
  window_.tStartNs = NowNs();
  int64_t nextWindow = window_.tStartNs + windowNs;

  while (!stop_) {
    // Poll the PCM only while it streams: in XRUN/SUSPENDED/DISCONNECTED its
    // descriptors report POLLERR forever and would spin the thread.
    int n = 0;
    if (phase_ == Phase::kStreaming) {
      n = backend_->FillPoll(pfds_.data(), int(pfds_.size()) - 1);
      if (n < 0) n = 0;
    } else if (phase_ == Phase::kDisconnected && cfg_.autoReopen && presenceFd_ >= 0) {
      pfds_[0] = {presenceFd_, POLLIN, 0};
      n = 1;
    }
    pfds_[size_t(n)] = {cmdFd_, POLLIN, 0};
    int64_t now = NowNs();
    int64_t wakeAt = nextWindow;
    if (phase_ == Phase::kSuspended) wakeAt = std::min(wakeAt, nextResumeNs_);
    int64_t waitNs = std::max<int64_t>(0, wakeAt - now);
    timespec ts{time_t(waitNs / 1'000'000'000), long(waitNs % 1'000'000'000)};
    int r = ppoll(pfds_.data(), nfds_t(n + 1), &ts, nullptr);
    now = NowNs();
    if (r < 0 && errno != EINTR) {
      OnError(-errno, now);
      continue;
    }
    bool commanded = false;
    if (r > 0 && (pfds_[size_t(n)].revents & POLLIN)) {
      uint64_t v;
      (void)!read(cmdFd_, &v, sizeof v);
      HandleCommands(now);
      if (stop_) break;
      commanded = true;
    }
    // A command (reopen) may have replaced the PCM and its descriptors: the
    // revents of this pass belong to the old ones.
    if (!commanded) {
      if (r > 0 && n > 0 && phase_ == Phase::kStreaming) OnReadable(now);
      else if (r > 0 && n > 0 && phase_ == Phase::kDisconnected && (pfds_[0].revents & POLLIN))
        OnPresence();
      if (phase_ == Phase::kSuspended && now >= nextResumeNs_) TryResume(now);
    }
    if (now >= nextWindow) {
      EmitSample(NowNs());  // fresh: events stamped during this wake-up fall inside
      nextWindow += windowNs;
      if (nextWindow <= now) nextWindow = now + windowNs;  // we were stopped: don't burst
    }
  }
}

void Watcher::HandleCommands(int64_t now) {
  std::vector<Command> cmds;
  {
    std::lock_guard<std::mutex> lock(cmdMutex_);
    cmds.swap(commands_);
  }
  for (const auto& c : cmds) {
    if (c.kind == Command::kStop) {
      stop_ = true;
      return;
    }
    Reopen(c.id, now);
  }
}

void Watcher::OnReadable(int64_t now) {
  unsigned short revents = 0;
  int err = backend_->Revents(pfds_.data(), int(pfds_.size()) - 1, &revents);
  if (err < 0) return HandleError(err, now);
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
    switch (backend_->State()) {
      case SND_PCM_STATE_XRUN: return HandleError(-EPIPE, now);
      case SND_PCM_STATE_SUSPENDED: return HandleError(-ESTRPIPE, now);
      case SND_PCM_STATE_DISCONNECTED: return HandleError(-ENODEV, now);
      default:
        if (revents & (POLLHUP | POLLNVAL)) return HandleError(-ENODEV, now);
        break;  // a bare POLLERR: the transfer below names the error
    }
  }
  if (!(revents & (POLLIN | POLLOUT | POLLERR))) return;
  int64_t avail = backend_->AvailUpdate();
  if (avail < 0) return HandleError(int(avail), now);
  if (revents & POLLERR && avail < int64_t(params_.periodFrames))
    return HandleError(-EIO, now);  // error flagged, nothing to move: don't spin on it
  if (avail < int64_t(params_.periodFrames)) return;  // early wake-up
  // Lateness: this wake-up against the moment avail reached one period.
  PcmStatusInfo st;
  if (backend_->Status(&st) == 0) {
    double late = double(now - st.tstampNs) / 1000.0 +
                  FramesToUs(st.avail - int64_t(params_.periodFrames));
    late = std::max(0.0, late);
    window_.latenessUsSum += late;
    window_.latenessUsMax = std::max(window_.latenessUsMax, late);
    window_.latenessCount++;
    double delay = FramesToUs(st.delay);
    window_.delayUsSum += delay;
    window_.delayUsMax = std::max(window_.delayUsMax, delay);
    window_.delayCount++;
  }
  Transfer(now, avail);
}

void Watcher::Transfer(int64_t now, int64_t avail) {
  int64_t period = int64_t(params_.periodFrames);
  bool moved = false;
  while (avail >= period) {
    int64_t n = cfg_.capture ? CapturePeriod() : PlaybackPeriod();
    if (n == -EAGAIN) break;
    if (n < 0) return HandleError(int(n), now);
    window_.frames += uint64_t(n);
    window_.periods++;
    avail -= n;
    moved = true;
  }
  heldFrames_ = std::clamp<int64_t>(cfg_.capture ? avail : int64_t(params_.bufferFrames) - avail, 0,
                                    int64_t(params_.bufferFrames));
  if (moved) GoodPeriod(now);
  NotifyAudioIfDue();
}

int64_t Watcher::CapturePeriod() {
  int64_t n = backend_->Read(scratch_.data(), params_.periodFrames);
  if (n > 0) {
    size_t dropped = ring_->WriteDroppingOldest(scratch_.data(), size_t(n) * params_.bytesPerFrame);
    window_.consumerDropped += dropped / params_.bytesPerFrame;
    droppedBytes_ += dropped;
  }
  return n;
}

int64_t Watcher::PlaybackPeriod() {
  size_t periodBytes = scratch_.size();
  size_t got = ring_->Read(scratch_.data(), periodBytes);
  if (got < periodBytes) {
    // JS did not feed us: play silence and count it, it is not an ALSA underrun.
    unsigned missing = unsigned((periodBytes - got) / params_.bytesPerFrame);
    snd_pcm_format_set_silence(params_.format, scratch_.data() + got, missing * params_.channels);
  }
  int64_t n = backend_->Write(scratch_.data(), params_.periodFrames);
  CountWritten(n, got, started_);
  return n;
}

void Watcher::NotifyAudioIfDue() {
  size_t used = ring_->Used();
  bool due = cfg_.capture ? used * 2 >= ring_->Capacity() : used * 2 <= ring_->Capacity();
  if (due && audioNotify_.exchange(false, std::memory_order_acq_rel)) {
    if (!post_(new Message(Message::kAudio))) stop_ = true;
  }
}

void Watcher::GoodPeriod(int64_t now) {
  lastTransferNs_ = now;
  if (recoverStartNs_ == 0) return;
  double us = double(now - recoverStartNs_) / 1000.0;
  recoverStartNs_ = 0;
  window_.recoveryUsMax = std::max(window_.recoveryUsMax, us);
  PostEvent("recovered", now, 0, us);
}

// The device may be back (its node reappeared): try at once, not on the next
// backoff step. A failure is silent; the next change of /dev/snd tries again.
void Watcher::OnPresence() {
  backend_->DrainPresence();
  if (int err = OpenAndStart(); err < 0) {
    // Said, not swallowed: an open that fails here (EBUSY, EACCES while udev
    // fixes the node) is a fault the monitor must see, like a failed reopen().
    window_.errors++;
    window_.lastErr = err;
    PostEvent("reopenFailed", NowNs(), err, -1, -1, "the device came back but cannot be opened: " + ErrorText(err));
    return;
  }
  presenceFd_ = -1;
  PostEvent("reopened", NowNs(), 0, -1, -1, "the device came back");
}

void Watcher::Reopen(uint32_t id, int64_t now) {
  backend_->Close();
  recoverStartNs_ = 0;
  int err = OpenAndStart();
  auto* m = new Message(Message::kReopenResult);
  m->requestId = id;
  m->err = err;
  if (err < 0) {
    if (phase_ == Phase::kStreaming || phase_ == Phase::kSuspended) phase_ = Phase::kClosed;
    if (err == -ENODEV) phase_ = Phase::kDisconnected;
    window_.errors++;
    window_.lastErr = err;
    PostEvent("reopenFailed", now, err);
  } else {
    presenceFd_ = -1;
    PostEvent("reopened", NowNs(), 0);
  }
  if (!post_(m)) stop_ = true;
}

// The frame-accounting terms of the window that ends now (see src/types.ts).
void Watcher::Account() {
  window_.discardedFrames += uint64_t(std::max<int64_t>(0, backend_->TakeDiscarded()));
  int64_t device = -1, held = backend_->IsOpen() ? heldFrames_ : 0;
  PcmStatusInfo st;
  if (backend_->IsOpen() && backend_->QuietStatus(&st) == 0) {
    device = st.deviceFrames;
    held = BufferHoldsFrames(st.state)
               ? std::clamp<int64_t>(cfg_.capture ? st.avail : int64_t(params_.bufferFrames) - st.avail, 0,
                                     int64_t(params_.bufferFrames))
               : 0;
  } else {
    device = backend_->DeviceFrames();
  }
  if (device >= 0) {
    window_.deviceFrames = device - deviceFramesSeen_;
    deviceFramesSeen_ = device;
  }
  uint64_t pending = uint64_t(held);
  if (cfg_.capture && ring_) {
    // One read of the read position: JS may take more right after, which
    // then counts in the next window. The write side is this thread's.
    uint64_t r = ring_->ReadPos();
    uint64_t taken = r - droppedBytes_;
    window_.deliveredFrames = (taken - deliveredBytes_) / params_.bytesPerFrame;
    deliveredBytes_ = taken;
    pending += (ring_->WritePos() - r) / params_.bytesPerFrame;
  }
  window_.pendingFrames = pending;
}

void Watcher::EmitSample(int64_t now) {
  Account();
  window_.tEndNs = now;
  window_.state = StateName();
  auto* m = new Message(Message::kSample);
  m->sample = window_;
  if (!post_(m)) stop_ = true;
  window_ = SampleData{};
  window_.tStartNs = now;
}

void Watcher::PostEvent(const char* type, int64_t now, int err, double durationUs,
                        int64_t lostFrames, std::string message, int64_t injectNs) {
  auto* m = new Message(Message::kEvent);
  m->event.type = type;
  m->event.tDetectNs = now;
  m->event.tInjectNs = injectNs >= 0 ? injectNs : backend_->TakeInjectNs();
  m->event.durationUs = durationUs;
  m->event.lostFrames = lostFrames;
  m->event.err = err;
  m->event.message = message.empty() && err ? ErrorText(err) : std::move(message);
  if (!post_(m)) stop_ = true;
}

const char* Watcher::StateName() const {
  switch (phase_) {
    case Phase::kStreaming: return "running";
    case Phase::kSuspended: return "suspended";
    case Phase::kDisconnected: return "disconnected";
    case Phase::kClosed: return "closed";
  }
  return "closed";
}

double Watcher::FramesToUs(int64_t frames) const {
  return params_.rate ? double(frames) * 1e6 / params_.rate : 0;
}

}  // namespace ah
