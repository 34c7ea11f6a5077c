// Per-environment state (main thread and each worker): the classes, the JS
// error class and every live handle, so the cleanup hook can stop them all.
#pragma once

#include <napi.h>

#include <set>
#include <string>

namespace ah {

class PcmHandle;

struct AddonData {
  Napi::FunctionReference errorClass;  // PcmError from src/errors.ts, once set
  std::set<PcmHandle*> handles;
};

AddonData* GetAddonData(const Napi::Env& env);

// An Error (PcmError when registered) with code ('ENODEV'), errno (-19) and device.
Napi::Error MakePcmError(const Napi::Env& env, int err, const std::string& device,
                         const std::string& what);

}  // namespace ah
