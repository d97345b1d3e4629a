#!/usr/bin/env python3
"""One CONNECT tunnel through the proxy, held across an event (reload_all.sh):
ka_tunnel.py PROXYPORT HOST:PORT FLAGFILE PATH1 PATH2 opens CONNECT HOST:PORT,
sends GET PATH1 inside the tunnel (plain HTTP keep-alive), waits until
FLAGFILE exists, then GET PATH2 on the same tunnel; prints the CONNECT status
and each response ("STATUS BODY", one line each), or "closed"."""
import os
import socket
import sys
import time


def read_head(s, buf):
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            return None, buf
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1").split("\r\n"), rest


def get(s, authority, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, authority)).encode())
    lines, body = read_head(s, b"")
    if lines is None:
        return "closed"
    n = 0
    for l in lines[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == "content-length":
            n = int(v)
    while len(body) < n:
        b = s.recv(65536)
        if not b:
            break
        body += b
    return "%s %s" % (lines[0].split(" ")[1], body[:n].decode("latin-1").strip())


authority = sys.argv[2]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
lines, rest = read_head(s, b"")
print("CONNECT %s" % (lines[0].split(" ")[1] if lines else "closed"), flush=True)
if lines is None or not lines[0].split(" ")[1].startswith("2"):
    sys.exit(0)
print(get(s, authority, sys.argv[4]), flush=True)
end = time.time() + 20
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.05)
try:
    print(get(s, authority, sys.argv[5]), flush=True)
except OSError:
    print("closed", flush=True)
