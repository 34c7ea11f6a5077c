// listPcms(): the PCMs alsa-lib knows, from its device name hints, read off
// the main thread (parsing the ALSA config can take milliseconds).
#include <alsa/asoundlib.h>
#include <napi.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "addon_data.h"

namespace ah {
namespace {

struct PcmHint {
  std::string name, description;
  bool capture = true, playback = true;
};

std::string TakeHint(void* hint, const char* id) {
  char* v = snd_device_name_get_hint(hint, id);
  std::string s = v ? v : "";
  free(v);
  return s;
}

class ListWorker : public Napi::AsyncWorker {
 public:
  explicit ListWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    void** hints = nullptr;
    err_ = snd_device_name_hint(-1, "pcm", &hints);
    if (err_ < 0) return;
    for (void** h = hints; *h; h++) {
      PcmHint p;
      p.name = TakeHint(*h, "NAME");
      if (p.name.empty()) continue;
      p.description = TakeHint(*h, "DESC");
      std::string io = TakeHint(*h, "IOID");  // absent: both directions
      if (io == "Input") p.playback = false;
      if (io == "Output") p.capture = false;
      out_.push_back(std::move(p));
    }
    snd_device_name_free_hint(hints);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ < 0) {
      deferred_.Reject(MakePcmError(env, err_, "", "cannot list PCMs").Value());
      return;
    }
    auto arr = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); i++) {
      auto o = Napi::Object::New(env);
      o.Set("name", out_[i].name);
      o.Set("description", out_[i].description);
      auto dirs = Napi::Array::New(env);
      if (out_[i].capture) dirs.Set(dirs.Length(), "capture");
      if (out_[i].playback) dirs.Set(dirs.Length(), "playback");
      o.Set("directions", dirs);
      arr.Set(uint32_t(i), o);
    }
    deferred_.Resolve(arr);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int err_ = 0;
  std::vector<PcmHint> out_;
};

}  // namespace

Napi::Value ListPcms(const Napi::CallbackInfo& info) {
  auto* w = new ListWorker(info.Env());
  auto promise = w->Promise();
  w->Queue();
  return promise;
}

}  // namespace ah
