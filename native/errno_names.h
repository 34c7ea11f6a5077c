// errno <-> name table shared by the engine, the mock fault parser and the JS errors.
#pragma once

#include <string>

namespace ah {

// "ENODEV" for 19 (sign ignored); "E<n>" for a number the table lacks.
std::string ErrnoName(int err);

// 0 when the name is unknown.
int ErrnoFromName(const std::string& name);

// snd_strerror for ALSA's own codes, strerror otherwise.
std::string ErrorText(int err);

}  // namespace ah
