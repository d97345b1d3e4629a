#!/usr/bin/env python3
"""A minimal seccomp agent for linux.seccomp.listenerPath: accepts the
runtime's connections, logs each containerProcessState JSON (one line) to
LOG, and answers every notification with -EXDEV, logging the syscall nr.

usage: seccomp_agent.py SOCKET LOG     (LOG.ready once listening)"""
import array, ctypes, fcntl, json, os, socket, struct, sys, threading

NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)   (80 bytes)
NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp) (24 bytes)
EXDEV = 18
path, log = sys.argv[1], sys.argv[2]
lock = threading.Lock()


def note(line):
    with lock, open(log, "a") as f:
        f.write(line + "\n")


def serve(fd):
    while True:
        buf = bytearray(80)
        try:
            fcntl.ioctl(fd, NOTIF_RECV, buf, True)
        except OSError:
            break  # every process of the filter is gone
        nid, pid, flags, nr = struct.unpack_from("=QIIi", buf, 0)
        note("notify nr=%d pid=%d" % (nr, pid))
        resp = bytearray(struct.pack("=QqiI", nid, 0, -EXDEV, 0))
        try:
            fcntl.ioctl(fd, NOTIF_SEND, resp, True)
        except OSError:
            pass
    os.close(fd)


srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
open(log + ".ready", "w").close()
while True:
    conn, _ = srv.accept()
    fds = array.array("i")
    data = b""
    anc_all = []
    while True:
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
        anc_all += anc
        data += msg
        if not msg:
            break
        try:
            json.loads(data)
            break
        except ValueError:
            continue
    conn.close()
    for level, typ, d in anc_all:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(d[: len(d) - (len(d) % fds.itemsize)])
    note("state " + json.dumps(json.loads(data)) if data else "state none")
    for fd in fds:
        threading.Thread(target=serve, args=(fd,), daemon=True).start()
