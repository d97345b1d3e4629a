#!/bin/bash
# Foreground `run` without a tty gives the container pipes for fds 0-2 and
# copies (like runc), never the runtime's own stdio: a host terminal inside
# the container could be driven with TIOCSTI.  Checked from inside the
# container, with the runtime itself on a pty.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox script timeout md5sum
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
R() { "$RUNTIME" --root "$T_TMP/state" "$@"; }
b=$T_TMP/b
mk_bundle "$b"
args() { cfg_set "$b" '.process.args=$a' --argjson a "$(printf '%s\n' "$@" | jq -R . | jq -s -c .)"; }

# The runtime on a pty (stdin, stdout, stderr all the terminal).
args /bin/sh -c 'tty; for f in 0 1 2; do stat -L -c "$f %F" /proc/self/fd/$f; done'
out=$(timeout 30 script -qec "$RUNTIME --root $T_TMP/state run -b $b $(t_id pty)" /dev/null </dev/null | tr -d '\r')
t_match "with the runtime on a terminal, the container has no tty" "not a tty" "$out"
t_match "fds 0-2 are pipes" "0 fifo.*1 fifo.*2 fifo" "$(echo $out)"
t_eq "no terminal device reaches the container" "" "$(grep -E '^[012] character' <<<"$out")"

# Data through the pipes, both ways; stdout and stderr kept apart; exit code.
args /bin/sh -c 'cat; echo to-stderr >&2; exit 7'
head -c 3000000 /dev/urandom >"$T_TMP/in"
timeout 60 "$RUNTIME" --root "$T_TMP/state" run -b "$b" "$(t_id copy)" <"$T_TMP/in" >"$T_TMP/out" 2>"$T_TMP/err"
t_eq "exit code through the relay" 7 "$?"
t_eq "3 MB of stdin come back on stdout unchanged" "$(md5sum <"$T_TMP/in")" "$(md5sum <"$T_TMP/out")"
t_eq "stderr is its own stream" "to-stderr" "$(cat "$T_TMP/err")"

# A container that never reads stdin while writing a lot must not deadlock.
args /bin/sh -c 'head -c 4000000 /dev/zero | wc -c'
out=$(head -c 8000000 /dev/zero | timeout 60 "$RUNTIME" --root "$T_TMP/state" run -b "$b" "$(t_id noread)")
t_eq "unread stdin does not block the output" "4000000" "$(echo $out)"

# The container closes its stdin once our copy has filled it: its output still arrives.
args /bin/sh -c 'sleep 0.3; exec 0<&-; head -c 300000 /dev/zero | wc -c'
out=$(yes | timeout 60 "$RUNTIME" --root "$T_TMP/state" run -b "$b" "$(t_id closein)")
t_eq "stdin closed by the container: stdout unaffected" "300000" "$(echo $out)"

# A background process keeping stdout open: run ends when init does (delete kills the rest).
args /bin/sh -c 'sleep 300 & echo started'
t0=$SECONDS
out=$(timeout 60 "$RUNTIME" --root "$T_TMP/state" run -b "$b" "$(t_id bg)" </dev/null)
t_eq "output of a container whose child outlives init" "started" "$out"
t_ok "run returned without waiting for the orphan (under 30 s)" test $((SECONDS - t0)) -lt 30

# The reader of our stdout goes away: the runtime survives and cleans up.
args /bin/sh -c 'head -c 10000000 /dev/zero; exit 0'
timeout 60 "$RUNTIME" --root "$T_TMP/state" run -b "$b" "$(t_id epipe)" </dev/null | head -c 10 >/dev/null
t_eq "closed stdout: the container's state is removed" "" "$(ls "$T_TMP/state" 2>/dev/null)"
t_done
