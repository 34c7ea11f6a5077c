// errno names: the string `code` every JS error and event carries.
#include "errno_names.h"

#include <cstdint>

#include <alsa/asoundlib.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ah {
namespace {

struct Entry {
  int value;
  const char* name;
};

// The errors ALSA PCM calls and the mock fault script can produce.
constexpr Entry kTable[] = {
    {EPERM, "EPERM"},         {ENOENT, "ENOENT"},     {EINTR, "EINTR"},
    {EIO, "EIO"},             {ENXIO, "ENXIO"},       {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},       {ENOMEM, "ENOMEM"},     {EACCES, "EACCES"},
    {EBUSY, "EBUSY"},         {ENODEV, "ENODEV"},     {EINVAL, "EINVAL"},
    {EMFILE, "EMFILE"},       {ENOTTY, "ENOTTY"},     {EPIPE, "EPIPE"},
    {ENOSYS, "ENOSYS"},       {ESTRPIPE, "ESTRPIPE"}, {EBADFD, "EBADFD"},
    {ETIMEDOUT, "ETIMEDOUT"}, {ENOTSUP, "ENOTSUP"},   {ESHUTDOWN, "ESHUTDOWN"},
    {ENOSPC, "ENOSPC"},       {EEXIST, "EEXIST"},     {ECANCELED, "ECANCELED"},
};

}  // namespace

std::string ErrnoName(int err) {
  int64_t v = std::abs(int64_t(err));  // 64 bits: errnoName(-2147483648) from JS
  for (const auto& e : kTable)
    if (e.value == v) return e.name;
  return "E" + std::to_string(v);
}

int ErrnoFromName(const std::string& name) {
  for (const auto& e : kTable)
    if (name == e.name) return e.value;
  return 0;
}

std::string ErrorText(int err) {
  return snd_strerror(err < 0 ? err : -err);
}

}  // namespace ah
