#!/usr/bin/env python3
"""One keep-alive client connection through the proxy, held across an event
(reload.sh): ka.py PROXYPORT URL1 FLAGFILE URL2 sends GET URL1, waits until
FLAGFILE exists, then sends GET URL2 on the same connection; prints each
status line and body (one line per response), or "closed"."""
import os
import socket
import sys
import time


def read_head(s, buf=b""):
    """(header lines, bytes after the head), or (None, buf) when the peer closed."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            return None, buf
        buf += b
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1").split("\r\n"), rest


def get(s, target, host=None):
    """GET target (absolute URL, or a path with host given) on s: "STATUS BODY" or "closed"."""
    host = host or target.split("/")[2]
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, host)).encode())
    lines, body = read_head(s)
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


def wait_flag(path):
    end = time.time() + 20
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.05)


if __name__ == "__main__":
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.settimeout(10)
    print(get(s, sys.argv[2]), flush=True)
    wait_flag(sys.argv[3])
    try:
        print(get(s, sys.argv[4]), flush=True)
    except OSError:
        print("closed", flush=True)
