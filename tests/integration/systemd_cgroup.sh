#!/bin/bash
# --systemd-cgroup: refused like runc when systemd is not init ("systemd not
# running on this host, cannot use systemd cgroups manager"); where systemd
# runs (faked here by /run/systemd/system and tests/cgroup/fake_systemd.py on
# /run/systemd/private in a private mount namespace) the slice:prefix:name
# path is translated and made through cgroupfs, then registered as a scope
# (the D-Bus side: tests/cgroup/systemd_dbus.sh), and delete removes it.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "unshare" /bin/sleep 1000
sl=capsule_test-sd$$
cfg_set "$B" '.linux.cgroupsPath=$p' --arg p "$sl.slice:cr:sd$$"
id=sd$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
t_cleanup "for d in /sys/fs/cgroup/*/capsule_test.slice /sys/fs/cgroup/capsule_test.slice; do [ -d \$d ] && rmdir \$d/$sl.slice/cr-sd$$.scope \$d/$sl.slice \$d 2>/dev/null; done; true"

if [ -d /run/systemd/system ]; then
  t_skip "refusal without systemd: systemd runs on this host"
else
  out=$(R --systemd-cgroup run -d -b "$B" "$id" 2>&1); rc=$?
  t_eq "no systemd: run refused" 1 $rc
  t_match "no systemd: runc's message" "systemd not running on this host, cannot use systemd cgroups manager" "$out"
  t_fails "no systemd: no container left" R state "$id"
fi

# systemd "running": a private mount namespace with /run/systemd/system.
t_need_cmd python3
FAKE=$CAPSULE_SRC/tests/cgroup/fake_systemd.py LOG=$T_TMP/sd-calls.jsonl
fake() {
  unshare -m --propagation private sh -c '
    mount -t tmpfs capsule-fake-run /run && mkdir -p /run/systemd/system || exit 1
    python3 "$0" /run/systemd/private "$1" ok & f=$!
    i=0; while [ ! -e "$1.ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    shift; "$@"; rc=$?; kill $f; exit $rc' "$FAKE" "$LOG" "$@"
}
t_ok "systemd present: run -d accepted" fake "$RUNTIME" --root "$ROOT" --systemd-cgroup run -d -b "$B" "$id"
pid=$(R state "$id" 2>/dev/null | jq -r .pid)
want=/capsule_test.slice/$sl.slice/cr-sd$$.scope
t_match "systemd present: slice path translated (/proc/PID/cgroup)" ":$want\$" "$(grep -E ':(pids|memory|cpu[^:]*|):' /proc/$pid/cgroup 2>&1 | head -1)"
cgdir=$(ls -d /sys/fs/cgroup/pids"$want" /sys/fs/cgroup"$want" 2>/dev/null | head -1)
t_eq "scope dir exists through cgroupfs" yes "$([ -n "$cgdir" ] && [ -d "$cgdir" ] && echo yes || echo no)"
t_eq "systemd was asked for the scope" "cr-sd$$.scope" "$(jq -r 'select(.member=="StartTransientUnit") | .args[0]' "$LOG" 2>&1)"
t_ok "delete -f" R delete -f "$id"
# Like runc, delete removes the scope; the slices stay (systemd owns them there).
t_eq "delete removes the scope" gone "$(ls -d /sys/fs/cgroup/*"$want" /sys/fs/cgroup"$want" 2>/dev/null | head -1 | grep -q . && echo left || echo gone)"
t_done
