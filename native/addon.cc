// Module entry: per-env data, the cleanup hook that stops every watcher, exports.
#include <napi.h>

#include "addon_data.h"
#include "errno_names.h"
#include "pcm_handle.h"

namespace ah {

Napi::Value ListPcms(const Napi::CallbackInfo& info);  // list_pcms.cc
Napi::Value SdNotify(const Napi::CallbackInfo& info);  // sd_notify.cc

AddonData* GetAddonData(const Napi::Env& env) { return env.GetInstanceData<AddonData>(); }

Napi::Error MakePcmError(const Napi::Env& env, int err, const std::string& device,
                         const std::string& what) {
  std::string code = ErrnoName(err);
  std::string message = what + ": " + ErrorText(err) + " (" + code + ")";
  AddonData* data = GetAddonData(env);
  Napi::Object obj;
  if (data && !data->errorClass.IsEmpty()) {
    obj = data->errorClass.New({Napi::String::New(env, message)});
  } else {
    obj = Napi::Error::New(env, message).Value();
  }
  obj.Set("code", code);
  obj.Set("errno", -std::abs(err));
  obj.Set("device", device);
  return Napi::Error(env, obj);
}

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "errorClass must be a constructor");
  GetAddonData(info.Env())->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "errno must be a number");
  return Napi::String::New(info.Env(), ErrnoName(info[0].As<Napi::Number>().Int32Value()));
}

void Cleanup(AddonData* data) {
  // Process exit or worker termination with PCMs still open: stop and join
  // every thread before the environment (and its TSFNs) goes away.
  auto handles = data->handles;
  for (PcmHandle* h : handles) h->Shutdown();
  data->handles.clear();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  env.AddCleanupHook(Cleanup, data);
  exports.Set("PcmHandle", PcmHandle::Init(env));
  exports.Set("listPcms", Napi::Function::New(env, ListPcms, "listPcms"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameJs, "errnoName"));
  return exports;
}

}  // namespace ah

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ah::Init(env, exports); }

NODE_API_MODULE(alsa_health, InitModule)
