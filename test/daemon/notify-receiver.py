#!/usr/bin/env python3
# A test NOTIFY_SOCKET: binds a unix datagram socket at argv[1] and prints one JSON line
# per datagram, {"t": monotonic seconds, "msg": "READY=1\nSTATUS=..."}. Node has no
# unix datagram sockets, so the daemon tests use this.
import json, os, socket, sys, time

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print(json.dumps({"t": time.monotonic(), "msg": "LISTENING"}), flush=True)
while True:
    data = s.recv(4096)
    print(json.dumps({"t": time.monotonic(), "msg": data.decode("utf-8", "replace")}), flush=True)
