// HealthSample / PcmEvent / params objects, field names as in DESIGN.md.
#include "js_values.h"

#include "errno_names.h"

namespace ah {

Napi::Object SampleToJs(const Napi::Env& env, const SampleData& s, const Napi::String& device,
                        const Napi::String& direction) {
  auto o = Napi::Object::New(env);
  o.Set("device", device);
  o.Set("direction", direction);
  o.Set("tStartNs", Napi::BigInt::New(env, s.tStartNs));
  o.Set("tEndNs", Napi::BigInt::New(env, s.tEndNs));
  o.Set("periods", double(s.periods));
  o.Set("frames", double(s.frames));
  o.Set("xruns", s.xruns);
  o.Set("xrunUsMax", s.xrunUsMax);
  o.Set("lostFrames", double(s.lostFrames));
  o.Set("errors", s.errors);
  if (s.lastErr) {
    o.Set("lastErrno", ErrnoName(s.lastErr));
    o.Set("lastError", ErrorText(s.lastErr));
  } else {
    o.Set("lastErrno", env.Null());
    o.Set("lastError", env.Null());
  }
  o.Set("state", s.state);
  o.Set("latenessUsMean", s.latenessCount ? s.latenessUsSum / double(s.latenessCount) : 0.0);
  o.Set("latenessUsMax", s.latenessUsMax);
  o.Set("delayUsMean", s.delayCount ? s.delayUsSum / double(s.delayCount) : 0.0);
  o.Set("delayUsMax", s.delayUsMax);
  o.Set("recoveryUsMax", s.recoveryUsMax);
  o.Set("consumerDropped", double(s.consumerDropped));
  o.Set("starved", double(s.starved));
  o.Set("deliveredFrames", double(s.deliveredFrames));
  o.Set("discardedFrames", double(s.discardedFrames));
  o.Set("paddingFrames", double(s.paddingFrames));
  o.Set("pendingFrames", double(s.pendingFrames));
  if (s.deviceFrames >= 0) o.Set("deviceFrames", double(s.deviceFrames));
  else o.Set("deviceFrames", env.Null());
  return o;
}

Napi::Object EventToJs(const Napi::Env& env, const EventData& e, const Napi::String& device,
                       const Napi::String& direction) {
  auto o = Napi::Object::New(env);
  o.Set("type", e.type);
  o.Set("device", device);
  o.Set("direction", direction);
  o.Set("tDetectNs", Napi::BigInt::New(env, e.tDetectNs));
  if (e.tInjectNs) o.Set("tInjectNs", Napi::BigInt::New(env, e.tInjectNs));
  if (e.durationUs >= 0) o.Set("durationUs", e.durationUs);
  if (e.lostFrames >= 0) o.Set("lostFrames", double(e.lostFrames));
  if (e.err) o.Set("errno", ErrnoName(e.err));
  if (!e.message.empty()) o.Set("message", e.message);
  return o;
}

Napi::Object ParamsToJs(const Napi::Env& env, const NegotiatedParams& p) {
  auto o = Napi::Object::New(env);
  o.Set("rate", p.rate);
  o.Set("channels", p.channels);
  const char* name = snd_pcm_format_name(p.format);
  o.Set("format", name ? name : "UNKNOWN");
  o.Set("periodFrames", double(p.periodFrames));
  o.Set("bufferFrames", double(p.bufferFrames));
  o.Set("bytesPerFrame", p.bytesPerFrame);
  return o;
}

}  // namespace ah
