#!/usr/bin/python3
"""Network probes for the containment tests: clients that report what they
reached, servers that record what reached them, and a stand-in for
capsule-proxy that serves the inherited listening fds.

  probe.py tcp HOST PORT [MARK]   connect (optionally with SO_MARK), print what
                                  the server says; exit 0 only if connected
  probe.py udp HOST PORT          send one datagram; exit 0 if the send worked
  probe.py dns HOST NAME [tcp]    one DNS query for NAME to HOST:53; exit 0 and
                                  print the answer's first bytes if one came
  probe.py icmp HOST              ICMP echo (raw socket, else ping socket);
                                  exit 0 only if a reply came
  probe.py serve-tcp ADDR PORT BANNER [LOG]  accept forever, send BANNER,
                                  close (and log the peer)
  probe.py serve-udp ADDR PORT LOG      append every datagram to LOG
  probe.py serve-http ADDR PORT LOG     HTTP 200 "HTTP-OK METHOD PATH" to
                                  anything, each request logged
  probe.py stand-in-proxy LOG     serve fds 3 (listen), 4 (transparent),
                                  5 (udp dns), 6 (tcp dns): answer with the
                                  port's name, log each contact; SO_ORIGINAL_DST
                                  of transparent connections is logged too
"""
import os
import select
import socket
import struct
import sys
import time

TIMEOUT = 2.0


def tcp(host, port, mark=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    if mark is not None:
        s.setsockopt(socket.SOL_SOCKET, 36, int(mark, 0))  # SO_MARK
    s.connect((host, int(port)))
    try:
        data = s.recv(200)
    except socket.timeout:
        data = b""
    sys.stdout.write(data.decode(errors="replace"))
    return 0


def udp(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.sendto(b"udp-probe", (host, int(port)))
    time.sleep(0.2)
    # a reject shows up as an error on the socket
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))
    return 0


def dns_query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def dns(host, name, proto="udp"):
    q = dns_query(name)
    if proto == "tcp":
        s = socket.create_connection((host, 53), timeout=TIMEOUT)
        s.sendall(struct.pack(">H", len(q)) + q)
        data = s.recv(512)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        s.sendto(q, (host, 53))
        data, _ = s.recvfrom(512)
    if not data:
        return 1
    sys.stdout.write(data[:64].decode(errors="replace"))
    return 0


def icmp(host):
    pkt = struct.pack(">BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, 1) + b"capsule"
    csum = 0
    for i in range(0, len(pkt), 2):
        csum += (pkt[i] << 8) + (pkt[i + 1] if i + 1 < len(pkt) else 0)
    csum = (csum >> 16) + (csum & 0xFFFF)
    csum = ~(csum + (csum >> 16)) & 0xFFFF
    pkt = pkt[:2] + struct.pack(">H", csum) + pkt[4:]
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    except PermissionError:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
    s.settimeout(TIMEOUT)
    s.sendto(pkt, (host, 0))
    s.recvfrom(512)
    return 0


def serve_tcp(addr, port, banner, log=None):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    while True:
        c, peer = s.accept()
        if log:
            with open(log, "a") as f:
                f.write("%s\n" % peer[0])
        try:
            c.sendall(banner.encode())
        except OSError:
            pass
        c.close()


def serve_http(addr, port, log):
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def answer(self):
            with open(log, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))
            body = ("HTTP-OK %s %s\n" % (self.command, self.path)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = answer

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer((addr, int(port)), H).serve_forever()


def serve_udp(addr, port, log):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    while True:
        data, peer = s.recvfrom(2048)
        with open(log, "a") as f:
            f.write("%s %r\n" % (peer[0], data[:40]))


def stand_in_proxy(log):
    names = {3: "LISTEN", 4: "TRANSPARENT", 5: "DNS", 6: "DNSTCP"}
    socks = {}
    ports = {3: (socket.SOCK_STREAM, 3128), 4: (socket.SOCK_STREAM, 3129), 5: (socket.SOCK_DGRAM, 53),
             6: (socket.SOCK_STREAM, 53)}
    for fd, name in names.items():
        try:
            socks[fd] = socket.socket(fileno=fd)
        except OSError:
            if os.environ.get("STANDIN_BIND") != "1":
                continue
            # no inherited fd: bind the capsule's ports ourselves, then
            # keep the fd number the names are keyed by
            t, port = ports[fd]
            b = socket.socket(socket.AF_INET, t)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            b.bind(("127.0.0.1", port))
            if t == socket.SOCK_STREAM:
                b.listen(64)
            if b.fileno() == fd:
                socks[fd] = b
            else:
                os.dup2(b.fileno(), fd)
                b.close()
                socks[fd] = socket.socket(fileno=fd)
    with open(log, "a") as f:
        f.write("START %d\n" % os.getpid())
    while True:
        r, _, _ = select.select(list(socks.values()), [], [])
        for s in r:
            name = names[s.fileno()]
            if s.type == socket.SOCK_DGRAM:
                data, peer = s.recvfrom(2048)
                s.sendto(data[:2] + b"STUB", peer)
                extra = ""
            else:
                c, _ = s.accept()
                extra = ""
                if name == "TRANSPARENT":
                    raw = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
                    port, ip = struct.unpack(">H", raw[2:4])[0], socket.inet_ntoa(raw[4:8])
                    extra = " %s:%d" % (ip, port)
                c.sendall(("PROXY-%s\n" % name).encode())
                c.close()
            with open(log, "a") as f:
                f.write("%s%s\n" % (name, extra))


def main(a):
    cmd = a[0]
    try:
        if cmd == "tcp":
            return tcp(*a[1:])
        if cmd == "udp":
            return udp(*a[1:])
        if cmd == "dns":
            return dns(*a[1:])
        if cmd == "icmp":
            return icmp(*a[1:])
        if cmd == "serve-tcp":
            return serve_tcp(*a[1:])
        if cmd == "serve-http":
            return serve_http(*a[1:])
        if cmd == "serve-udp":
            return serve_udp(*a[1:])
        if cmd == "stand-in-proxy":
            return stand_in_proxy(*a[1:])
    except (OSError, socket.timeout) as e:
        sys.stderr.write("probe %s: %s\n" % (cmd, e))
        return 1
    sys.stderr.write("probe: unknown command %s\n" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
