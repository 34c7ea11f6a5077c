// PcmHandle: the JS object behind a PcmStream. Owns the watcher thread and
// the thread-safe function that carries its messages; native-private (the
// typed API is src/pcm.ts).
#pragma once

#include <napi.h>

#include <map>
#include <memory>
#include <vector>

#include "addon_data.h"
#include "messages.h"
#include "watcher.h"

namespace ah {

class PcmHandle : public Napi::ObjectWrap<PcmHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PcmHandle(const Napi::CallbackInfo& info);  // (options, onMessage)
  ~PcmHandle() override;

  // Environment teardown: stop and join the thread now, forget the registry.
  void Shutdown();

 private:
  static void CallJs(Napi::Env env, Napi::Function cb, PcmHandle* self, Message* msg);
  static void OnTsfnFinalize(Napi::Env env, void* data, PcmHandle* self);
  using Tsfn = Napi::TypedThreadSafeFunction<PcmHandle, Message, CallJs>;

  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Reopen(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);

  void Deliver(Napi::Env env, Napi::Function cb, Message* msg);
  void Finish(Napi::Env env);
  Napi::Error ClosedError(Napi::Env env, const char* what);

  enum class State { kIdle, kOpening, kOpen, kClosing, kClosed };
  State state_ = State::kIdle;
  AddonData* data_ = nullptr;  // nulled by the cleanup hook before it is freed
  PcmConfig cfg_;
  NegotiatedParams params_;
  std::unique_ptr<Watcher> watcher_;
  Tsfn tsfn_;
  bool tsfnLive_ = false;
  bool refed_ = true;
  std::unique_ptr<Napi::Promise::Deferred> openDeferred_;
  std::map<uint32_t, Napi::Promise::Deferred> reopens_;
  std::vector<Napi::Promise::Deferred> closes_;
  uint32_t nextReopenId_ = 1;
};

}  // namespace ah
