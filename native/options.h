// Validates what JS passes to the addon: TypeError for a wrong type,
// RangeError for a value out of range, each naming the option.
#pragma once

#include <napi.h>

#include "pcm_config.h"

namespace ah {

// Throws Napi::TypeError / Napi::RangeError (C++ exceptions, turned into JS ones).
PcmConfig ParseOptions(const Napi::Env& env, const Napi::Value& options);

}  // namespace ah
