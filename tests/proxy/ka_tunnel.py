#!/usr/bin/env python3
"""One CONNECT tunnel through the proxy, held across an event (reload_all.sh):
ka_tunnel.py PROXYPORT HOST:PORT FLAGFILE PATH1 PATH2 opens CONNECT HOST:PORT,
sends GET PATH1 inside the tunnel (plain HTTP keep-alive), waits until
FLAGFILE exists, then GET PATH2 on the same tunnel; prints the CONNECT status
and each response ("STATUS BODY", one line each), or "closed"."""
import socket
import sys

from ka import get, read_head, wait_flag  # same directory


authority = sys.argv[2]
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
lines, rest = read_head(s)
print("CONNECT %s" % (lines[0].split(" ")[1] if lines else "closed"), flush=True)
if lines is None or not lines[0].split(" ")[1].startswith("2"):
    sys.exit(0)
print(get(s, sys.argv[4], authority), flush=True)
wait_flag(sys.argv[3])
try:
    print(get(s, sys.argv[5], authority), flush=True)
except OSError:
    print("closed", flush=True)
