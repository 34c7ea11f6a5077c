// openPcm option validation and the mock fault script parser.
#include "options.h"

#include <algorithm>
#include <cmath>

#include "errno_names.h"
#include "pcm_backend.h"

namespace ah {
namespace {

[[noreturn]] void TypeErr(const Napi::Env& env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] void RangeErr(const Napi::Env& env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

std::string Describe(const Napi::Value& v) {
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    char buf[64];
    snprintf(buf, sizeof buf, "%g", d);
    return buf;
  }
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  if (v.IsBigInt()) return "a bigint";
  return "an object";
}

// An integer option in [lo, hi]; `def` when absent.
int64_t IntOpt(const Napi::Env& env, const Napi::Object& o, const char* name, int64_t def,
               int64_t lo, int64_t hi, const std::string& prefix = "options.") {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber())
    TypeErr(env, prefix + name + " must be a number, got " + Describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    RangeErr(env, prefix + name + " must be an integer, got " + Describe(v));
  if (d < double(lo) || d > double(hi))
    RangeErr(env, prefix + name + " must be between " + std::to_string(lo) + " and " +
                      std::to_string(hi) + ", got " + Describe(v));
  return int64_t(d);
}

double MsOpt(const Napi::Env& env, const Napi::Object& o, const char* name, bool required,
             double lo, const std::string& prefix) {
  Napi::Value v = o.Get(name);
  if (v.IsUndefined()) {
    if (required) TypeErr(env, prefix + name + " is required");
    return 0;
  }
  if (!v.IsNumber()) TypeErr(env, prefix + name + " must be a number, got " + Describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < lo || d > 86400000.0)
    RangeErr(env, prefix + name + " must be a duration in ms between " + std::to_string(int(lo)) +
                      " and 86400000, got " + Describe(v));
  return d;
}

int ErrnoOpt(const Napi::Env& env, const Napi::Object& o, const std::string& prefix) {
  Napi::Value v = o.Get("errno");
  if (!v.IsString()) TypeErr(env, prefix + "errno must be a string such as \"EBUSY\", got " + Describe(v));
  int e = ErrnoFromName(v.As<Napi::String>().Utf8Value());
  if (e == 0) RangeErr(env, prefix + "errno " + Describe(v) + " is not a known errno name");
  return e;
}

int64_t MsToNs(double ms) { return int64_t(std::llround(ms * 1e6)); }

int64_t ParseStartFrame(const Napi::Env& env, const Napi::Value& mock) {
  if (!mock.IsObject() || mock.IsArray()) return 0;
  // 2^53: exact in a JS number; far beyond any real run (6000 years at 48 kHz).
  return IntOpt(env, mock.As<Napi::Object>(), "startFrame", 0, 0, int64_t(1) << 53, "options.mock.");
}

std::vector<MockFault> ParseFaults(const Napi::Env& env, const Napi::Value& mock) {
  std::vector<MockFault> out;
  if (mock.IsUndefined()) return out;
  if (!mock.IsObject() || mock.IsArray())
    TypeErr(env, "options.mock must be an object like { faults: [...] }, got " + Describe(mock));
  Napi::Value faults = mock.As<Napi::Object>().Get("faults");
  if (faults.IsUndefined()) return out;
  if (!faults.IsArray()) TypeErr(env, "options.mock.faults must be an array, got " + Describe(faults));
  auto arr = faults.As<Napi::Array>();
  if (arr.Length() > 100000) RangeErr(env, "options.mock.faults has more than 100000 entries");
  for (uint32_t i = 0; i < arr.Length(); i++) {
    std::string prefix = "options.mock.faults[" + std::to_string(i) + "].";
    Napi::Value fv = arr.Get(i);
    if (!fv.IsObject() || fv.IsArray())
      TypeErr(env, "options.mock.faults[" + std::to_string(i) + "] must be an object, got " + Describe(fv));
    auto fo = fv.As<Napi::Object>();
    Napi::Value tv = fo.Get("type");
    if (!tv.IsString()) TypeErr(env, prefix + "type must be a string, got " + Describe(tv));
    std::string type = tv.As<Napi::String>().Utf8Value();
    MockFault f;
    f.atNs = MsToNs(MsOpt(env, fo, "at", true, 0, prefix));
    if (type == "xrun") {
      f.type = FaultType::kXrun;
      int64_t count = IntOpt(env, fo, "count", 1, 1, 100000, prefix);
      double every = fo.Get("everyMs").IsUndefined() ? 100.0 : MsOpt(env, fo, "everyMs", true, 1, prefix);
      if (out.size() + size_t(count) > 1000000) RangeErr(env, "options.mock.faults expands to more than 1000000 faults");
      for (int64_t k = 0; k < count; k++) {
        MockFault x = f;
        x.atNs = f.atNs + k * MsToNs(every);
        out.push_back(x);
      }
      continue;
    } else if (type == "stall") {
      f.type = FaultType::kStall;
      f.durationNs = MsToNs(MsOpt(env, fo, "durationMs", true, 1, prefix));
    } else if (type == "delay") {
      f.type = FaultType::kDelay;
      f.extraNs = MsToNs(MsOpt(env, fo, "extraMs", true, 0, prefix));
      f.durationNs = MsToNs(MsOpt(env, fo, "durationMs", true, 1, prefix));
    } else if (type == "suspend") {
      f.type = FaultType::kSuspend;
      f.durationNs = MsToNs(MsOpt(env, fo, "durationMs", true, 1, prefix));
    } else if (type == "disconnect") {
      f.type = FaultType::kDisconnect;
      f.durationNs = MsToNs(MsOpt(env, fo, "durationMs", true, 1, prefix));
    } else if (type == "openFail") {
      f.type = FaultType::kOpenFail;
      f.count = uint32_t(IntOpt(env, fo, "count", 1, 1, 1000000, prefix));
      f.err = ErrnoOpt(env, fo, prefix);
    } else if (type == "ioError") {
      f.type = FaultType::kIoError;
      f.err = fo.Get("errno").IsUndefined() ? EIO : ErrnoOpt(env, fo, prefix);
    } else {
      RangeErr(env, prefix + "type " + Describe(tv) +
                        " is not one of xrun, stall, delay, suspend, disconnect, openFail, ioError");
    }
    out.push_back(f);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const MockFault& a, const MockFault& b) { return a.atNs < b.atNs; });
  return out;
}

}  // namespace

PcmConfig ParseOptions(const Napi::Env& env, const Napi::Value& value) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction())
    TypeErr(env, "options must be an object, got " + Describe(value));
  auto o = value.As<Napi::Object>();
  PcmConfig c;

  Napi::Value dev = o.Get("device");
  if (!dev.IsString()) TypeErr(env, "options.device must be a string, got " + Describe(dev));
  c.device = dev.As<Napi::String>().Utf8Value();
  if (c.device.empty() || c.device.size() > 1024 || c.device.find('\0') != std::string::npos)
    RangeErr(env, "options.device must be a non-empty ALSA PCM name, got " + Describe(dev));

  Napi::Value dir = o.Get("direction");
  if (!dir.IsString()) TypeErr(env, "options.direction must be \"capture\" or \"playback\", got " + Describe(dir));
  std::string d = dir.As<Napi::String>().Utf8Value();
  if (d != "capture" && d != "playback")
    RangeErr(env, "options.direction must be \"capture\" or \"playback\", got " + Describe(dir));
  c.capture = d == "capture";

  c.rate = unsigned(IntOpt(env, o, "rate", 48000, 1000, 768000));
  c.channels = unsigned(IntOpt(env, o, "channels", 2, 1, 64));

  Napi::Value fmt = o.Get("format");
  if (!fmt.IsUndefined()) {
    if (!fmt.IsString()) TypeErr(env, "options.format must be a string such as \"S16_LE\", got " + Describe(fmt));
    std::string name = fmt.As<Napi::String>().Utf8Value();
    c.format = snd_pcm_format_value(name.c_str());
    int width = c.format == SND_PCM_FORMAT_UNKNOWN ? -1 : snd_pcm_format_physical_width(c.format);
    if (width <= 0 || width % 8 != 0 ||
        (!snd_pcm_format_linear(c.format) && !snd_pcm_format_float(c.format)))
      RangeErr(env, "options.format " + Describe(fmt) +
                        " is not a known linear or float PCM format (e.g. S16_LE, S32_LE, FLOAT_LE)");
  }
  c.periodFrames = uint32_t(IntOpt(env, o, "periodFrames", c.rate / 50, 16, 1 << 20));
  c.bufferPeriods = uint32_t(IntOpt(env, o, "bufferPeriods", 4, 2, 1024));
  c.sampleIntervalMs = uint32_t(IntOpt(env, o, "sampleIntervalMs", 100, 10, 60000));
  c.rtPriority = int(IntOpt(env, o, "rtPriority", 0, 0, 99));
  Napi::Value ar = o.Get("autoReopen");
  if (!ar.IsUndefined()) {
    if (!ar.IsBoolean()) TypeErr(env, "options.autoReopen must be a boolean, got " + Describe(ar));
    c.autoReopen = ar.As<Napi::Boolean>().Value();
  }

  // The ring holds two sample windows plus the device buffer. Each option can
  // be in range while their product is not: check it here, in 64 bits, before
  // a size_t (32-bit on the board) or an allocation can go wrong.
  uint64_t bytesPerFrame = uint64_t(snd_pcm_format_physical_width(c.format) / 8) * c.channels;
  uint64_t ringFrames = std::max<uint64_t>(2 * uint64_t(c.rate) * c.sampleIntervalMs / 1000 +
                                               uint64_t(c.periodFrames) * c.bufferPeriods,
                                           4 * uint64_t(c.periodFrames));
  if (ringFrames * bytesPerFrame > kMaxRingBytes)
    RangeErr(env, "options: the audio ring for these settings needs " + std::to_string(ringFrames * bytesPerFrame) +
                      " bytes (two sampleIntervalMs windows plus periodFrames * bufferPeriods, times channels * " +
                      "sample size), more than the limit of " + std::to_string(kMaxRingBytes) +
                      "; lower sampleIntervalMs, periodFrames, bufferPeriods or channels");

  Napi::Value mock = o.Get("mock");
  if (!mock.IsUndefined() && !IsMockDevice(c.device))
    TypeErr(env, "options.mock is only for mock:<name> devices, not " + Describe(dev));
  c.faults = ParseFaults(env, mock);
  c.mockStartFrame = ParseStartFrame(env, mock);
  return c;
}

}  // namespace ah
