#!/usr/bin/env python3
"""A stand-in for systemd's private D-Bus socket (tests only).

Speaks the D-Bus wire protocol on its own (an implementation independent of
lib/sd_bus.c): SASL EXTERNAL, little-endian messages.  Answers Subscribe,
StartTransientUnit, SetUnitProperties and StopUnit like systemd does - a job object path in the
reply, then a JobRemoved signal (an unrelated job's signal is sent first, to
check the client waits for its own) - and logs every call as one JSON line
with its decoded arguments.

usage: fake_systemd.py SOCKET LOG MODE
MODE: ok | exists (StartTransientUnit answers UnitExists) | fail (its job
ends "failed") | reject (authentication refused) | silent (never answers
the StartTransientUnit call)
"""
import json, os, socket, struct, sys

sock_path, log_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]


class Reader:
    def __init__(self, data, off=0):
        self.d, self.o = data, off

    def align(self, a):
        self.o += (-self.o) % a

    def take(self, fmt, size):
        self.align(size)
        v = struct.unpack_from("<" + fmt, self.d, self.o)[0]
        self.o += size
        return v

    def string(self):
        n = self.take("I", 4)
        s = self.d[self.o:self.o + n].decode()
        assert self.d[self.o + n] == 0, "string without its NUL"
        self.o += n + 1
        return s

    def sig(self):
        n = self.d[self.o]
        s = self.d[self.o + 1:self.o + 1 + n].decode()
        assert self.d[self.o + 1 + n] == 0
        self.o += n + 2
        return s

    def value(self, t):
        """decode one complete type t (a str); returns (value, rest of t)"""
        c = t[0]
        if c in "so":
            return self.string(), t[1:]
        if c == "g":
            return self.sig(), t[1:]
        if c == "y":
            v = self.d[self.o]; self.o += 1
            return v, t[1:]
        if c == "b":
            v = self.take("I", 4)
            assert v in (0, 1), "boolean not 0/1"
            return bool(v), t[1:]
        if c == "u":
            return self.take("I", 4), t[1:]
        if c == "t":
            return self.take("Q", 8), t[1:]
        if c == "v":
            s = self.sig()
            v, rest = self.value(s)
            assert rest == "", "variant with more than one type"
            return {"sig": s, "value": v}, t[1:]
        if c == "(":
            self.align(8)
            out, t = [], t[1:]
            while t[0] != ")":
                v, t = self.value(t)
                out.append(v)
            return out, t[1:]
        if c == "a":
            n = self.take("I", 4)
            elem = single(t[1:])
            self.align(8 if elem[0] in "(t{" else {"s": 4, "o": 4, "u": 4, "b": 4, "v": 1, "g": 1, "y": 1, "a": 4}[elem[0]])
            end, out = self.o + n, []
            while self.o < end:
                v, _ = self.value(elem)
                out.append(v)
            assert self.o == end, "array length does not match its elements"
            return out, t[1 + len(elem):]
        raise ValueError("type " + c)


def single(t):
    """the first complete type of signature t"""
    if t[0] == "a":
        return "a" + single(t[1:])
    if t[0] == "(":
        depth, i = 0, 0
        while True:
            depth += {"(": 1, ")": -1}.get(t[i], 0)
            if depth == 0:
                return t[:i + 1]
            i += 1
    return t[0]


class Writer:
    def __init__(self):
        self.b = bytearray()

    def align(self, a):
        self.b += b"\0" * ((-len(self.b)) % a)

    def u32(self, v):
        self.align(4); self.b += struct.pack("<I", v)

    def string(self, s):
        e = s.encode(); self.u32(len(e)); self.b += e + b"\0"

    def sig(self, s):
        e = s.encode(); self.b += bytes([len(e)]) + e + b"\0"


serial = 1000


def message(mtype, fields, sig, body_writer):
    global serial
    serial += 1
    body = body_writer.b if body_writer else b""
    h = Writer()
    h.b += b"l" + bytes([mtype, 0, 1])
    h.u32(len(body)); h.u32(serial); h.u32(0)
    start = len(h.b)
    if sig:
        fields = fields + [(8, "g", sig)]
    for code, t, v in fields:
        h.align(8); h.b += bytes([code]); h.sig(t)
        if t == "u":
            h.u32(v)
        elif t == "g":
            h.sig(v)
        else:
            h.string(v)
    struct.pack_into("<I", h.b, 12, len(h.b) - start)
    h.align(8)
    return bytes(h.b) + body


def reply(call_serial, sig="", body=None):
    return message(2, [(5, "u", call_serial)], sig, body)


def error(call_serial, name, text):
    w = Writer(); w.string(text)
    return message(3, [(5, "u", call_serial), (4, "s", name)], "s", w)


def job_removed(jid, job, unit, result):
    w = Writer(); w.u32(jid); w.string(job); w.string(unit); w.string(result)
    return message(4, [(1, "o", "/org/freedesktop/systemd1"), (2, "s", "org.freedesktop.systemd1.Manager"),
                       (3, "s", "JobRemoved")], "uoss", w)


def recv_exact(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b


def log(entry):
    with open(log_path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def serve(c):
    global job_id
    buf = b""
    assert recv_exact(c, 1) == b"\0", "no NUL byte before AUTH"
    while b"\r\n" not in buf:
        buf += c.recv(256)
    line = buf.split(b"\r\n")[0].decode()
    parts = line.split()
    uid_ok = len(parts) == 3 and parts[:2] == ["AUTH", "EXTERNAL"] and bytes.fromhex(parts[2]).decode() == str(os.geteuid())
    log({"auth": line, "uid_ok": uid_ok})
    if mode == "reject" or not uid_ok:
        c.sendall(b"REJECTED EXTERNAL\r\n")
        return
    c.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
    buf = buf.split(b"\r\n", 1)[1]
    while b"BEGIN\r\n" not in buf:
        buf += c.recv(256)
    pending = buf.split(b"BEGIN\r\n", 1)[1]
    while True:
        try:
            hdr = pending[:16] if len(pending) >= 16 else pending + recv_exact(c, 16 - len(pending))
        except EOFError:
            return
        pending = pending[16:] if len(pending) >= 16 else b""
        assert hdr[0:1] == b"l" and hdr[3] == 1, "not a little-endian D-Bus 1 message"
        mtype, body_len, call_serial, flen = hdr[1], *struct.unpack_from("<III", hdr, 4)
        hlen = 16 + flen + ((-(16 + flen)) % 8)
        rest = hlen + body_len - 16
        more = pending[:rest] + recv_exact(c, rest - len(pending[:rest])) if rest > len(pending) else pending[:rest]
        pending = pending[rest:]
        msg = hdr + more
        r = Reader(msg, 16)
        fields = {}
        while r.o < 16 + flen:
            r.align(8)
            code = msg[r.o]; r.o += 1
            t = r.sig()
            fields[code], _ = r.value(t)
        sig = fields.get(8, "")
        br = Reader(msg[hlen:])
        args, t = [], sig
        while t:
            v, t = br.value(t)
            args.append(v)
        assert br.o == body_len, "body longer than its signature"
        member = fields.get(3)
        log({"type": mtype, "path": fields.get(1), "interface": fields.get(2), "member": member,
             "destination": fields.get(6), "signature": sig, "args": args})
        if member == "Subscribe":
            c.sendall(reply(call_serial))
        elif member == "StartTransientUnit":
            unit = args[0]
            if mode == "exists":
                c.sendall(error(call_serial, "org.freedesktop.systemd1.UnitExists", "Unit %s already exists." % unit))
                continue
            if mode == "silent":
                continue
            job_id += 1
            job = "/org/freedesktop/systemd1/job/%d" % job_id
            w = Writer(); w.string(job)
            c.sendall(job_removed(job_id + 500, "/org/freedesktop/systemd1/job/%d" % (job_id + 500), "other.service", "failed")
                      + reply(call_serial, "o", w)
                      + job_removed(job_id, job, unit, "failed" if mode == "fail" else "done"))
        elif member == "SetUnitProperties":
            c.sendall(reply(call_serial))
        elif member == "StopUnit":
            job_id += 1
            job = "/org/freedesktop/systemd1/job/%d" % job_id
            w = Writer(); w.string(job)
            c.sendall(reply(call_serial, "o", w) + job_removed(job_id, job, args[0], "done"))
        else:
            c.sendall(error(call_serial, "org.freedesktop.DBus.Error.UnknownMethod", "unknown method " + str(member)))


job_id = 41
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if os.path.exists(sock_path):
    os.unlink(sock_path)
srv.bind(sock_path)
srv.listen(8)
open(log_path + ".ready", "w").close()
while True:
    conn, _ = srv.accept()
    try:
        serve(conn)
    except Exception as e:  # a malformed message: say so in the log, drop the connection
        log({"error": repr(e)})
    finally:
        conn.close()
