#!/usr/bin/env python3
"""Console-socket receiver for tests: listens on a unix socket, accepts one
connection, takes the pty master sent with SCM_RIGHTS and copies everything
read from it to a file until the slave side is closed (EIO/EOF).
usage: recvtty.py SOCKET OUTFILE"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
conn, _ = srv.accept()
_, fds, _, _ = socket.recv_fds(conn, 4096, 4)
if not fds:
    sys.exit("no fd received on the console socket")
with open(out, "wb") as f:
    while True:
        try:
            data = os.read(fds[0], 4096)
        except OSError:
            break
        if not data:
            break
        f.write(data)
        f.flush()
