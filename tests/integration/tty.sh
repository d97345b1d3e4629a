#!/bin/bash
# Terminals and inherited fds: --console-socket (SCM_RIGHTS of the pty master,
# as containerd/conmon receive it), consoleSize, exec -t, foreground run -t,
# --preserve-fds and LISTEN_FDS socket activation.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
RECV="$CAPSULE_SRC/tests/integration/helpers/console_recv.py"
it_setup "python3" /bin/sh -c 'tty; stty size; echo pid1-says-hi'
cfg_set "$B" '.process.terminal=true | .process.consoleSize={height:41,width:101}'

# start_recv NAME [INPUT]: a receiver listening on $T_TMP/NAME.sock, output in $T_TMP/NAME.out
start_recv() {
  rm -f "$T_TMP/$1".*
  python3 "$RECV" "$T_TMP/$1.sock" "$T_TMP/$1.out" "${2:-}" &
  RECV_PID=$!
  for i in $(seq 100); do [ -e "$T_TMP/$1.out.ready" ] && return 0; sleep 0.05; done
  return 1
}
wait_recv() { local i; for i in $(seq 100); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done; kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; }

# --- create --console-socket ----------------------------------------------------
id=tty-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
start_recv c1
R create -b "$B" --console-socket "$T_TMP/c1.sock" "$id" 2>"$T_TMP/err"
t_eq "create --console-socket with terminal:true" 0 $?
sed 's/^/    /' "$T_TMP/err"
t_ok "start" R start "$id"
wait_recv
out=$(tr -d '\r' <"$T_TMP/c1.out" 2>/dev/null)
t_match "the received master carries the container's output" "pid1-says-hi" "$out"
t_match "stdin of pid 1 is a pty" "^/dev/pts/[0-9]+" "$out"
t_match "consoleSize honoured (stty size = 41 101)" "41 101" "$out"
t_eq "receiver got the name runc sends" "/dev/ptmx" "$(cat "$T_TMP/c1.out.name" 2>/dev/null)"
R delete --force "$id" >/dev/null 2>&1

# Input through the master reaches the container's stdin.
cfg_set "$B" '.process.args=["/bin/sh","-c","read line; echo got:$line"]'
start_recv c2 $'ping-through-pty\n'
R run -d -b "$B" --console-socket "$T_TMP/c2.sock" "$id" >/dev/null 2>&1
wait_recv
t_match "input written to the master is read inside" "got:ping-through-pty" "$(tr -d '\r' <"$T_TMP/c2.out")"
R delete --force "$id" >/dev/null 2>&1

R run -d -b "$B" "$id" 2>"$T_TMP/err"; t_eq "terminal:true detached without a console socket fails" 1 $?
t_match "runc wording for it" "cannot allocate tty if runc will detach without setting console socket" "$(cat "$T_TMP/err")"
R delete --force "$id" >/dev/null 2>&1

cfg_set "$B" '.process.terminal=false'
R create -b "$B" --console-socket "$T_TMP/none.sock" "$id" 2>"$T_TMP/err"; t_eq "console socket without terminal:true refused" 1 $?
t_match "runc wording for it" "cannot use console socket if runc will not detach or allocate tty" "$(cat "$T_TMP/err")"
R exec --console-socket "$T_TMP/none.sock" "$id" true 2>"$T_TMP/err"; t_eq "exec --console-socket without -t -d refused (255)" 255 $?
t_match "exec: runc wording" "cannot use console socket if runc will not detach or allocate tty" "$(cat "$T_TMP/err")"
R delete --force "$id" >/dev/null 2>&1

# --- exec -t --console-socket -------------------------------------------------------
cfg_set "$B" '.process.terminal=false | .process.args=["/bin/sleep","1000"]'
t_ok "run -d a sleeper" R run -d -b "$B" "$id"
start_recv c3
R exec -t -d --console-socket "$T_TMP/c3.sock" "$id" /bin/sh -c 'tty; echo exec-tty-ok' 2>"$T_TMP/err"
t_eq "exec -t -d --console-socket" 0 $?
wait_recv
t_match "exec's pty output arrives on the received master" "exec-tty-ok" "$(tr -d '\r' <"$T_TMP/c3.out")"
t_match "exec process has a pty" "/dev/pts/[0-9]+" "$(tr -d '\r' <"$T_TMP/c3.out")"
R exec -t -d "$id" true 2>"$T_TMP/err"; t_match "exec -t -d without console socket refused" "console socket" "$(cat "$T_TMP/err")"

# --- foreground with a tty: run under a python pty --------------------------------------
fg() {
  python3 - "$@" <<'EOF'
import fcntl, os, pty, struct, sys, termios, threading, time
def setsize(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    if os.environ.get("FG_SIZE"):
        r, c = map(int, os.environ["FG_SIZE"].split("x"))
        setsize(0, r, c)
    os.execvp(sys.argv[1], sys.argv[1:])
if os.environ.get("FG_RESIZE"):
    r, c = map(int, os.environ["FG_RESIZE"].split("x"))
    threading.Timer(1.0, setsize, (fd, r, c)).start()  # the kernel sends SIGWINCH to the runtime
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
}
out=$(fg "$RUNTIME" --root "$ROOT" exec -t "$id" /bin/sh -c 'tty; echo fg-exec-ok; exit 4'); rc=$?
t_match "foreground exec -t proxies the pty" "fg-exec-ok" "$out"
t_match "foreground exec -t: process on a pty" "/dev/pts/[0-9]+" "$out"
t_eq "foreground exec -t exit code" 4 $rc
out=$(FG_SIZE=30x90 FG_RESIZE=20x60 fg "$RUNTIME" --root "$ROOT" exec -t "$id" /bin/sh -c 'stty size; sleep 2; stty size')
t_match "foreground exec -t: the host terminal's size" "^30 90" "$out"
t_match "foreground exec -t: SIGWINCH resizes the pty" "20 60" "$out"
R delete --force "$id" >/dev/null 2>&1
cfg_set "$B" '.process.terminal=true | .process.args=["/bin/sh","-c","stty size; tty; echo fg-run-ok; exit 5"]'
out=$(fg "$RUNTIME" --root "$ROOT" run -b "$B" "$id"); rc=$?
t_match "foreground run with terminal:true" "fg-run-ok" "$out"
t_match "foreground run: pid 1 on a pty" "/dev/pts/[0-9]+" "$out"
t_match "foreground run: consoleSize" "41 101" "$out"
t_eq "foreground run exit code" 5 $rc
t_fails "foreground run cleaned up" R state "$id"

# --- --preserve-fds and LISTEN_FDS --------------------------------------------------------
cfg_set "$B" '.process.terminal=false | .process.args=["/bin/sh","-c","cat <&3; cat <&4; ls /proc/self/fd | tr \"\\n\" \" \""]'
echo fd3-content >"$T_TMP/f3"; echo fd4-content >"$T_TMP/f4"
out=$(R run --preserve-fds 2 -b "$B" "$id" 3<"$T_TMP/f3" 4<"$T_TMP/f4" 2>&1)
t_match "--preserve-fds 2: fd 3 reaches the container" "fd3-content" "$out"
t_match "--preserve-fds 2: fd 4 too" "fd4-content" "$out"
cfg_set "$B" '.process.args=["/bin/sh","-c","ls /proc/self/fd | tr \"\\n\" \" \""]'
out=$(R run -b "$B" "$id" 3<"$T_TMP/f3" 4<"$T_TMP/f4" 2>&1)
t_eq "without --preserve-fds only 0-2 (+ ls's own dir fd) are open" "0 1 2 3 " "$out"
cfg_set "$B" '.process.args=["/bin/sh","-c","echo $LISTEN_FDS:$LISTEN_PID; cat <&3; cat <&4"]'
out=$( (export LISTEN_FDS=1 LISTEN_PID=$BASHPID; exec "$RUNTIME" --root "$ROOT" run --preserve-fds 1 -b "$B" "$id" 3<"$T_TMP/f3" 4<"$T_TMP/f4") 2>&1)
t_match "LISTEN_FDS passed on as LISTEN_FDS=1 LISTEN_PID=1" "^1:1" "$out"
t_match "LISTEN_FDS fd 3 reaches the container" "fd3-content" "$out"
t_match "--preserve-fds counts after the listen fds (fd 4)" "fd4-content" "$out"
out=$( (export LISTEN_FDS=1 LISTEN_PID=1; exec "$RUNTIME" --root "$ROOT" run -b "$B" "$id" 3<"$T_TMP/f3") 2>&1)
t_match "LISTEN_FDS for another pid is ignored" "^:" "$out"
# exec --preserve-fds
cfg_set "$B" '.process.args=["/bin/sleep","1000"]'
R run -d -b "$B" "$id"
t_eq "exec --preserve-fds 1" "fd3-content" "$(R exec --preserve-fds 1 "$id" /bin/sh -c 'cat <&3' 3<"$T_TMP/f3" 2>&1)"
t_match "exec without --preserve-fds closes fd 3" "can't|Bad file|bad file" "$(R exec "$id" /bin/sh -c 'cat <&3' 3<"$T_TMP/f3" 2>&1)"
R delete --force "$id" >/dev/null 2>&1
t_done
