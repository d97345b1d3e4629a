#!/bin/bash
# Differential: terminal handling through --console-socket (what containerd's
# shim and conmon use): create with process.terminal, exec -t, the view of the
# tty from inside (tty name, mode/owner of the pts, /dev/console, fd 0),
# exit codes — runc vs $RUNTIME.
. "$CAPSULE_SRC/tests/differential/common.sh"
t_need_cmd python3 timeout
RECV="python3 $CAPSULE_SRC/tests/differential/recvtty.py"

probe='tty; stat -c "%a %u %g" $(tty); readlink /proc/self/fd/0 | sed "s/[0-9]*$/N/"; ls -l /dev/console | awk "{print \$1, \$3, \$4}"; echo "TERM=$TERM"; exit 5'
d_pair con /bin/sh -c "$probe"
d_cfg2 con '.process.terminal=true'
d_cleanup con
d_cleanup conx

# with_console SIDE OUT RCFILE CMD...: run CMD (a runtime verb whose @SOCK@
# argument becomes a fresh socket path) while a receiver copies the pty to
# OUT; CMD's exit status goes to RCFILE, the receiver's pid to $T_TMP/recv-SIDE
# (wait for it to have the whole output).
with_console() {
  local w=$1 out=$2 rcf=$3; shift 3
  local s=$T_TMP/sock-$w-$RANDOM
  : >"$out"
  timeout 20 $RECV "$s" "$out" >/dev/null 2>"$T_TMP/recv-err-$w" &
  echo $! >"$T_TMP/recv-$w"
  for i in $(seq 100); do [ -S "$s" ] && break; sleep 0.05; done
  RR $w "${@/@SOCK@/$s}" >/dev/null 2>"$T_TMP/err-$w"
  local rc=$?
  echo $rc >"$rcf"
  # nothing will connect after a failure: do not wait for the receiver's timeout
  [ $rc = 0 ] || kill "$(cat "$T_TMP/recv-$w")" 2>/dev/null
}
recv_wait() { wait "$(cat "$T_TMP/recv-$1")" 2>/dev/null; }
for w in ref test; do
  with_console $w "$T_TMP/tty-$w" "$T_TMP/create-rc-$w" create -b "$T_TMP/con/$w" --console-socket @SOCK@ con
  RR $w start con >/dev/null 2>&1
  recv_wait $w
done
d_same "create --console-socket: exit status" "$(cat "$T_TMP/create-rc-ref")" "$(cat "$T_TMP/create-rc-test")"
[ "$(cat "$T_TMP/create-rc-test")" = 0 ] || sed 's/^/    /' "$T_TMP/err-test" | head -3
# CR, and a NUL that runc's pty copy sends in (echoed back as "^@" with ECHOCTL), are not the container's output.
norm_tty() { tr -d '\r\000' <"$1" 2>/dev/null | sed 's/\^@//g'; }
t_match "runc itself showed the probe through the pty" "^/dev/pts/[0-9]+" "$(norm_tty "$T_TMP/tty-ref")"
d_same "terminal view from inside (tty, pts mode/owner, fd 0, /dev/console, TERM)" "$(norm_tty "$T_TMP/tty-ref")" "$(norm_tty "$T_TMP/tty-test")"
for w in ref test; do d_wait_status $w con stopped; done
d_same "state after the terminal process exits" "$(RR ref state con 2>&1 | jq -r .status)" "$(RR test state con 2>&1 | jq -r .status)"

# A running terminal container for exec.
d_cfg2 con '.process.args=["/bin/sleep","1000"]'
for w in ref test; do
  RR $w delete -f con >/dev/null 2>&1
  with_console $w "$T_TMP/ctty-$w" "$T_TMP/ccreate-rc-$w" create -b "$T_TMP/con/$w" --console-socket @SOCK@ conx
  RR $w start conx >/dev/null 2>&1
done
# runc refuses --console-socket on a foreground exec.
for w in ref test; do
  RR $w exec -t --console-socket "$T_TMP/nosock" conx /bin/true >/dev/null 2>"$T_TMP/e-$w"; echo $? >"$T_TMP/rc-$w"
done
d_same "exec -t --console-socket without -d: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
if grep -q detach "$T_TMP/e-ref"; then
  t_match "exec -t --console-socket without -d: wording" "detach" "$(cat "$T_TMP/e-test")"
fi
# Foreground exec -t on our own pty (script): the tty and the exit code.
if command -v script >/dev/null; then
  for w in ref test; do
    rt=$REF; [ $w = test ] && rt=$RUNTIME
    script -qec "$rt --root $T_TMP/root-$w exec -t conx /bin/sh -c 'tty; exit 4'" /dev/null >"$T_TMP/etty-$w" 2>&1 </dev/null
    echo $? >"$T_TMP/exec-rc-$w"
  done
  d_same "exec -t (on a pty): exit code" "$(cat "$T_TMP/exec-rc-ref")" "$(cat "$T_TMP/exec-rc-test")"
  t_eq "exec -t (on a pty): runc returned 4" 4 "$(cat "$T_TMP/exec-rc-ref")"
  d_same "exec -t (on a pty): tty inside" "$(norm_tty "$T_TMP/etty-ref" | sed 's/[0-9]*$/N/')" "$(norm_tty "$T_TMP/etty-test" | sed 's/[0-9]*$/N/')"
fi
for w in ref test; do
  with_console $w "$T_TMP/dtty-$w" "$T_TMP/dexec-rc-$w" exec -t -d --console-socket @SOCK@ --pid-file "$T_TMP/dpid-$w" conx /bin/sh -c 'tty; sleep 1'
  recv_wait $w
done
d_same "exec -t -d --console-socket: exit status" "$(cat "$T_TMP/dexec-rc-ref")" "$(cat "$T_TMP/dexec-rc-test")"
t_match "exec -t -d: runc's output arrived" "^/dev/pts/[0-9]+" "$(norm_tty "$T_TMP/dtty-ref")"
d_same "exec -t -d: tty inside" "$(norm_tty "$T_TMP/dtty-ref" | sed 's/[0-9]*$/N/')" "$(norm_tty "$T_TMP/dtty-test" | sed 's/[0-9]*$/N/')"

for w in ref test; do RR $w exec -t conx /bin/true >/dev/null 2>"$T_TMP/e-$w" </dev/null; echo $? >"$T_TMP/rc-$w"; done
d_same "exec -t without a console socket or a tty: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
for f in "$T_TMP"/*tty-*; do echo "## $f"; cat -A "$f" | head -8; done >"${CONSOLE_KEEP:-/dev/null}" 2>&1
t_done
