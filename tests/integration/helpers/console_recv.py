#!/usr/bin/env python3
"""Console-socket receiver, as containerd/conmon do it: listen on a unix
socket, take the pty master the runtime sends with SCM_RIGHTS, copy what
the container writes to OUT until the pty closes.

usage: console_recv.py SOCKET OUT [INPUT]   (INPUT is written to the master)
Writes OUT.ready once listening; exits 0 after EOF, 2 if no fd came."""
import array, os, socket, sys

path, out = sys.argv[1], sys.argv[2]
feed = sys.argv[3].encode() if len(sys.argv) > 3 else b""
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(60)
open(out + ".ready", "w").close()
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(4 * fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
if not fds:
    sys.exit(2)
master = fds[0]
with open(out + ".name", "w") as f:
    f.write(msg.decode(errors="replace"))
if feed:
    os.write(master, feed)
with open(out, "wb") as f:
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:  # EIO: every slave fd closed
            break
        if not b:
            break
        f.write(b)
        f.flush()
