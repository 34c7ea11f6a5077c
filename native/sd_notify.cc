// sdNotify(message): systemd's notify protocol, one datagram to $NOTIFY_SOCKET
// (a path, or "@name" for the abstract namespace). No libsystemd needed.
// MSG_DONTWAIT: a full receiver queue must never block the event loop.
#include <napi.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "addon_data.h"

namespace ah {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "message must be a string such as \"READY=1\"");
  std::string msg = info[0].As<Napi::String>().Utf8Value();
  if (msg.empty()) throw Napi::RangeError::New(env, "message must not be empty");
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return Napi::Boolean::New(env, false);

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path)
    throw MakePcmError(env, -EINVAL, "", std::string("NOTIFY_SOCKET \"") + path + "\" is not a usable socket address");
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw MakePcmError(env, -errno, "", "sdNotify: socket");
  ssize_t r = sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), alen);
  int err = errno;
  close(fd);
  if (r < 0) throw MakePcmError(env, -err, "", std::string("sdNotify to ") + path);
  return Napi::Boolean::New(env, true);
}

}  // namespace ah
