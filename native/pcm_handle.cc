// PcmHandle lifecycle: open -> (reopen)* -> close. The TSFN is alive exactly
// while the thread runs; its finalizer (main thread) joins the thread and
// settles what is still pending, so nothing leaks whichever way it ends.
#include "pcm_handle.h"

#include "addon_data.h"
#include "errno_names.h"
#include "js_values.h"
#include "options.h"

namespace ah {
namespace {

constexpr const char* kOnMessageKey = "__onMessage";  // non-enumerable, read-only

}  // namespace

Napi::Function PcmHandle::Init(Napi::Env env) {
  return DefineClass(env, "PcmHandle",
                     {
                         InstanceMethod<&PcmHandle::Open>("open"),
                         InstanceMethod<&PcmHandle::Reopen>("reopen"),
                         InstanceMethod<&PcmHandle::Close>("close"),
                         InstanceMethod<&PcmHandle::Read>("read"),
                         InstanceMethod<&PcmHandle::Write>("write"),
                         InstanceMethod<&PcmHandle::Ref>("ref"),
                         InstanceMethod<&PcmHandle::Unref>("unref"),
                         InstanceAccessor<&PcmHandle::GetState>("state"),
                     });
}

PcmHandle::PcmHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PcmHandle>(info) {
  Napi::Env env = info.Env();
  cfg_ = ParseOptions(env, info[0]);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onMessage must be a function");
  // Kept on the JS object, not in a persistent reference: the callback's
  // closure holds the PcmStream, which holds this object, and a persistent
  // (a GC root) would keep that cycle alive forever after close.
  Value().DefineProperty(Napi::PropertyDescriptor::Value(kOnMessageKey, info[1], napi_default));
  data_ = GetAddonData(env);
  data_->handles.insert(this);
}

PcmHandle::~PcmHandle() {
  // Only reachable once the thread is gone (the JS object is referenced while
  // it runs); the watcher's destructor joins in any case.
  watcher_.reset();
  if (data_) data_->handles.erase(this);
}

void PcmHandle::Shutdown() {
  if (watcher_) watcher_->Shutdown();
  data_ = nullptr;
}

Napi::Error PcmHandle::ClosedError(Napi::Env env, const char* what) {
  return MakePcmError(env, -EBADFD, cfg_.device, std::string(what) + ": the PCM is closed");
}

Napi::Value PcmHandle::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (state_ != State::kIdle) {
    deferred.Reject(MakePcmError(env, -EBUSY, cfg_.device, "open: already opened").Value());
    return deferred.Promise();
  }
  tsfn_ = Tsfn::New(env, Value().Get(kOnMessageKey).As<Napi::Function>(), "alsa-health:" + cfg_.device, 0, 1, this,
                    &PcmHandle::OnTsfnFinalize, static_cast<void*>(nullptr));
  tsfnLive_ = true;
  Napi::ObjectWrap<PcmHandle>::Ref();  // keep the JS object while the thread runs
  Tsfn tsfn = tsfn_;
  watcher_ = std::make_unique<Watcher>(
      cfg_, MakeBackend(cfg_),
      [tsfn](Message* m) mutable {
        if (tsfn.NonBlockingCall(m) == napi_ok) return true;
        delete m;
        return false;
      },
      [tsfn]() mutable { tsfn.Release(); });
  openDeferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  state_ = State::kOpening;
  int err = watcher_->Start();
  if (err < 0) {
    tsfn_.Release();  // the finalizer settles openDeferred_ with this error
    openDeferred_->Reject(MakePcmError(env, err, cfg_.device, "cannot start the watcher thread").Value());
    openDeferred_.reset();
  }
  return deferred.Promise();
}

Napi::Value PcmHandle::Reopen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (state_ != State::kOpen) {
    deferred.Reject(ClosedError(env, "reopen").Value());
    return deferred.Promise();
  }
  uint32_t id = nextReopenId_++;
  reopens_.emplace(id, deferred);
  watcher_->RequestReopen(id);
  return deferred.Promise();
}

Napi::Value PcmHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!tsfnLive_) {
    state_ = State::kClosed;
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  closes_.push_back(deferred);
  if (state_ != State::kClosing) {
    state_ = State::kClosing;
    watcher_->RequestStop();
  }
  return deferred.Promise();
}

Napi::Value PcmHandle::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!cfg_.capture) throw Napi::TypeError::New(env, "read() is for capture streams");
  size_t max = SIZE_MAX;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "maxBytes must be a number");
    double d = info[0].As<Napi::Number>().DoubleValue();
    if (!(d >= 1) || d > 1e9) throw Napi::RangeError::New(env, "maxBytes must be between 1 and 1e9");
    max = size_t(d);
  }
  RingBuffer* ring = watcher_ ? watcher_->Ring() : nullptr;
  if (!ring || state_ == State::kIdle || state_ == State::kOpening) return env.Null();
  size_t n = std::min(ring->Used(), max);
  watcher_->ArmAudioNotify();  // after close too: harmless, nobody posts
  if (n == 0) return env.Null();
  auto buf = Napi::Buffer<uint8_t>::New(env, n);
  size_t got = ring->Read(buf.Data(), n);
  if (got == n) return buf;
  if (got == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, buf.Data(), got);  // a drop raced us
}

Napi::Value PcmHandle::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (cfg_.capture) throw Napi::TypeError::New(env, "write() is for playback streams");
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "chunk must be a Buffer");
  auto chunk = info[0].As<Napi::Buffer<uint8_t>>();
  RingBuffer* ring = watcher_ ? watcher_->Ring() : nullptr;
  if (!ring || state_ != State::kOpen) return Napi::Number::New(env, 0);
  size_t n = ring->WriteSome(chunk.Data(), chunk.Length());
  if (n < chunk.Length()) watcher_->ArmAudioNotify();
  return Napi::Number::New(env, double(n));
}

Napi::Value PcmHandle::Ref(const Napi::CallbackInfo& info) {
  refed_ = true;
  if (tsfnLive_) tsfn_.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value PcmHandle::Unref(const Napi::CallbackInfo& info) {
  refed_ = false;
  if (tsfnLive_) tsfn_.Unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value PcmHandle::GetState(const Napi::CallbackInfo& info) {
  static const char* names[] = {"idle", "opening", "open", "closing", "closed"};
  return Napi::String::New(info.Env(), names[int(state_)]);
}

void PcmHandle::CallJs(Napi::Env env, Napi::Function cb, PcmHandle* self, Message* msg) {
  std::unique_ptr<Message> owned(msg);  // always freed, even while tearing down
  if (env == nullptr || self == nullptr) return;
  try {
    self->Deliver(env, cb, msg);
  } catch (const Napi::Error&) {
    // src/pcm.ts never lets a listener's exception reach us; if one does, it
    // must not escape into the TSFN machinery.
  }
}

void PcmHandle::Deliver(Napi::Env env, Napi::Function cb, Message* msg) {
  Napi::HandleScope scope(env);
  // Strings, not references: Node 20 cannot reference a primitive.
  auto device = Napi::String::New(env, cfg_.device);
  auto direction = Napi::String::New(env, cfg_.capture ? "capture" : "playback");
  switch (msg->kind) {
    case Message::kOpened: {
      params_ = msg->params;
      if (state_ == State::kOpening) state_ = State::kOpen;
      auto p = ParamsToJs(env, params_);
      if (!msg->warning.empty()) p.Set("warning", msg->warning);
      if (openDeferred_) openDeferred_->Resolve(p);
      openDeferred_.reset();
      break;
    }
    case Message::kOpenFailed:
      if (openDeferred_)
        openDeferred_->Reject(MakePcmError(env, msg->err, cfg_.device,
                                           std::string("cannot open ") + (cfg_.capture ? "capture" : "playback") +
                                               " PCM \"" + cfg_.device + "\"")
                                  .Value());
      openDeferred_.reset();
      break;
    case Message::kSample:
      cb.Call({Napi::String::New(env, "sample"), SampleToJs(env, msg->sample, device, direction)});
      break;
    case Message::kEvent:
      cb.Call({Napi::String::New(env, "event"), EventToJs(env, msg->event, device, direction)});
      break;
    case Message::kAudio:
      cb.Call({Napi::String::New(env, "audio"), env.Undefined()});
      break;
    case Message::kReopenResult: {
      auto it = reopens_.find(msg->requestId);
      if (it == reopens_.end()) break;
      if (msg->err < 0)
        it->second.Reject(MakePcmError(env, msg->err, cfg_.device, "reopen failed").Value());
      else
        it->second.Resolve(ParamsToJs(env, params_));
      reopens_.erase(it);
      break;
    }
  }
}

void PcmHandle::OnTsfnFinalize(Napi::Env env, void*, PcmHandle* self) {
  self->Finish(env);
}

// Main thread, after the watcher released the TSFN (or the env is going away).
void PcmHandle::Finish(Napi::Env env) {
  // Join the thread and close its eventfd now, not when GC gets to us; the
  // ring stays so JS can drain the last audio.
  if (watcher_) watcher_->Shutdown();
  tsfnLive_ = false;
  state_ = State::kClosed;
  if (env != nullptr) {
    Napi::HandleScope scope(env);
    if (openDeferred_) openDeferred_->Reject(ClosedError(env, "open").Value());
    for (auto& [id, d] : reopens_) d.Reject(ClosedError(env, "reopen").Value());
    for (auto& d : closes_) d.Resolve(env.Undefined());
  }
  openDeferred_.reset();
  reopens_.clear();
  closes_.clear();
  Napi::ObjectWrap<PcmHandle>::Unref();
}

}  // namespace ah
