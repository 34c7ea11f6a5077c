// Converts the watcher's plain data into JS objects (main thread only).
#pragma once

#include <napi.h>

#include "messages.h"

namespace ah {

Napi::Object SampleToJs(const Napi::Env& env, const SampleData& s, const Napi::String& device,
                        const Napi::String& direction);
Napi::Object EventToJs(const Napi::Env& env, const EventData& e, const Napi::String& device,
                       const Napi::String& direction);
Napi::Object ParamsToJs(const Napi::Env& env, const NegotiatedParams& p);

}  // namespace ah
