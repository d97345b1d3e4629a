#!/usr/bin/env python3
"""Scripted DNS server for resolve.sh (run only inside the test's own netns).

  dnsd.py serve ADDR PORT LOG     answer UDP queries, log "QTYPE name" lines to LOG
  dnsd.py query ADDR PORT NAME    one A query; prints the addresses (or the rcode)

Names (A; AAAA gets NOERROR without data):
  fast.corp.test    127.0.0.1, TTL 300
  slow.corp.test    127.0.0.1, TTL 300, held until a query for release.corp.test
  flip.corp.test    127.0.0.1 with TTL 1 for the first A query, 127.0.0.2 after
  anything else     NXDOMAIN
"""
import socket
import struct
import sys


def qname(msg, off):
    labels = []
    while msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode())
        off += 1 + n
    return ".".join(labels).lower(), off + 1


def reply(q, rcode, addrs, ttl):
    qid, flags = struct.unpack("!HH", q[:4])
    name, end = qname(q, 12)
    question = q[12:end + 4]
    hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(addrs), 0, 0)
    ans = b""
    for a in addrs:
        ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(a)
    return hdr + question + ans


def serve(addr, port, log):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    held = []
    flips = 0
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(1500)
        name, end = qname(q, 12)
        qtype = struct.unpack("!H", q[end:end + 2])[0]
        with open(log, "a") as f:
            f.write("%s %s\n" % ("A" if qtype == 1 else "AAAA" if qtype == 28 else qtype, name))
        if qtype != 1:
            known = name in ("fast.corp.test", "slow.corp.test", "flip.corp.test", "release.corp.test")
            s.sendto(reply(q, 0 if known else 3, [], 300), peer)
            continue
        if name == "fast.corp.test":
            s.sendto(reply(q, 0, ["127.0.0.1"], 300), peer)
        elif name == "slow.corp.test":
            held.append((q, peer))
        elif name == "release.corp.test":
            for hq, hp in held:
                s.sendto(reply(hq, 0, ["127.0.0.1"], 300), hp)
            held = []
            s.sendto(reply(q, 0, [], 300), peer)
        elif name == "flip.corp.test":
            flips += 1
            s.sendto(reply(q, 0, ["127.0.0.1" if flips == 1 else "127.0.0.2"], 1), peer)
        else:
            s.sendto(reply(q, 3, [], 300), peer)


def query(addr, port, name):
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    q += b"\x00" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(10)
    s.sendto(q, (addr, port))
    r, _ = s.recvfrom(1500)
    rcode = r[3] & 15
    an = struct.unpack("!H", r[6:8])[0]
    _, off = qname(r, 12)
    off += 4
    out = []
    for _ in range(an):
        off += 2 if r[off] & 0xC0 == 0xC0 else qname(r, off)[1] - off
        t, c, ttl, rdl = struct.unpack("!HHIH", r[off:off + 10])
        off += 10
        if t == 1:
            out.append(socket.inet_ntoa(r[off:off + 4]))
        off += rdl
    print(" ".join(out) if out else "rcode=%d" % rcode)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        query(sys.argv[2], int(sys.argv[3]), sys.argv[4])
