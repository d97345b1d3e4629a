#!/usr/bin/env python3
"""Send raw bytes to a TCP port and print what comes back (for smuggling
tests).  Usage: raw.py PORT DATA [TIMEOUT]; DATA uses Python escapes (\\r\\n)."""
import socket
import sys
import time

port = int(sys.argv[1])
data = sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
s = socket.create_connection(("127.0.0.1", port))
s.sendall(data)
s.settimeout(timeout)
out = b""
end = time.time() + timeout
try:
    while time.time() < end:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode("latin-1"))
