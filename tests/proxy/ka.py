#!/usr/bin/env python3
"""One keep-alive client connection through the proxy, held across an event
(reload.sh): ka.py PROXYPORT URL1 FLAGFILE URL2 sends GET URL1, waits until
FLAGFILE exists, then sends GET URL2 on the same connection; prints each
status line and body (one line per response), or "closed"."""
import os
import socket
import sys
import time


def get(s, url):
    host = url.split("/")[2]
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, host)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            return "closed"
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
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


s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
print(get(s, sys.argv[2]), flush=True)
end = time.time() + 20
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.05)
try:
    print(get(s, sys.argv[4]), flush=True)
except OSError:
    print("closed", flush=True)
