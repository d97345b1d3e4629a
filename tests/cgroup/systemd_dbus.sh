#!/bin/bash
# --systemd-cgroup against a stand-in systemd (tests/cgroup/fake_systemd.py,
# its own D-Bus decoder) on /run/systemd/private, in a private mount
# namespace so the host's /run/systemd is untouched: the exact method calls
# the runtime makes (Subscribe, StartTransientUnit with the unit, slice,
# Delegate, PIDs and limits as typed properties; StopUnit at delete), and
# every way systemd can say no (unit exists, job failed, authentication
# refused, no socket) ending in a clear error with nothing left behind.
# The real systemd is tested in the VM (tests/vm/sdguest-systemd.sh).
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq python3 unshare busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
if [ -z "${SDTEST_IN_NS:-}" ]; then
  # the whole test in a mount namespace of its own (propagation private)
  SDTEST_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
mkdir -p /run/systemd 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run/systemd || t_skip_all "cannot mount a tmpfs on /run/systemd"
mkdir /run/systemd/system
ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" --systemd-cgroup "$@"; }
LOG=$T_TMP/calls.jsonl
SRV=
fake() {  # fake MODE: (re)start the stand-in
  [ -n "$SRV" ] && { kill "$SRV"; wait "$SRV" 2>/dev/null; }
  : >"$LOG"; rm -f "$LOG.ready"
  python3 "$CAPSULE_SRC/tests/cgroup/fake_systemd.py" /run/systemd/private "$LOG" "$1" 2>>"$T_TMP/fake.err" &
  SRV=$!
  for _ in $(seq 50); do [ -e "$LOG.ready" ] && return; sleep 0.1; done
  echo "# fake systemd did not start: $(cat "$T_TMP/fake.err")"
}
t_cleanup '[ -n "$SRV" ] && kill $SRV'
calls() { jq -c 'select(.member) | .member' "$LOG" | tr -d '"' | tr '\n' ' '; }
SL=capsulesdtest$$  # no dash: "a-b.slice" would nest in a.slice
B=$T_TMP/bundle
mk_bundle "$B" /bin/sleep 1000 || t_skip_all "could not make a bundle with $RUNTIME spec"
cfg_set "$B" '.linux.cgroupsPath=$p | .linux.resources={"memory":{"limit":33554432},"pids":{"limit":20},"cpu":{"quota":50000,"period":100000,"shares":1024}}' \
  --arg p "$SL.slice:capsule:sd1"
CG=/$SL.slice/capsule-sd1.scope
t_cleanup "R delete -f sd1; find /sys/fs/cgroup/*/$SL.slice /sys/fs/cgroup/$SL.slice -depth -type d -exec rmdir {} + 2>/dev/null"
nothing_left() {  # nothing_left WHAT
  t_eq "$1: no container state left" "" "$(R list -q 2>/dev/null)"
  t_eq "$1: no cgroup left" "" "$(ls -d /sys/fs/cgroup/*$CG /sys/fs/cgroup$CG 2>/dev/null)"
  t_eq "$1: no container process left" "" "$(pgrep -f 'sleep 1000' || true)"
}

# --- systemd says yes ---
fake ok
t_ok "create with --systemd-cgroup" R create -b "$B" sd1
pid=$(R state sd1 2>/dev/null | jq -r .pid)
t_eq "calls: Subscribe, then StartTransientUnit" "Subscribe StartTransientUnit " "$(calls)"
t_eq "authenticated as root (EXTERNAL, uid 0)" true "$(jq -r 'select(.auth) | .uid_ok' "$LOG" | head -1)"
S=$(jq -c 'select(.member=="StartTransientUnit")' "$LOG")
t_eq "object path, interface, destination" "/org/freedesktop/systemd1 org.freedesktop.systemd1.Manager org.freedesktop.systemd1" \
  "$(jq -r '"\(.path) \(.interface) \(.destination)"' <<<"$S")"
t_eq "signature" "ssa(sv)a(sa(sv))" "$(jq -r .signature <<<"$S")"
t_eq "unit name and mode" "capsule-sd1.scope fail" "$(jq -r '"\(.args[0]) \(.args[1])"' <<<"$S")"
P() { jq -c --arg k "$1" '.args[2][] | select(.[0]==$k) | .[1]' <<<"$S"; }
t_eq "Slice" '{"sig":"s","value":"'$SL'.slice"}' "$(P Slice)"
t_eq "Delegate=yes" '{"sig":"b","value":true}' "$(P Delegate)"
t_eq "DefaultDependencies=no" '{"sig":"b","value":false}' "$(P DefaultDependencies)"
t_eq "PIDs = the container's init" '{"sig":"au","value":['$pid']}' "$(P PIDs)"
t_match "memory limit as a uint64 (MemoryMax on v2, MemoryLimit on v1)" '^\{"sig":"t","value":33554432\}$' "$(P MemoryLimit)$(P MemoryMax)"
t_eq "TasksMax" '{"sig":"t","value":20}' "$(P TasksMax)"
t_eq "CPUQuotaPerSecUSec (50 ms per 100 ms)" '{"sig":"t","value":500000}' "$(P CPUQuotaPerSecUSec)"
t_eq "CPUWeight from cpu.shares 1024 (runc's conversion: 39)" '{"sig":"t","value":39}' "$(P CPUWeight)"
t_eq "accounting on" '{"sig":"b","value":true}{"sig":"b","value":true}{"sig":"b","value":true}' \
  "$(P MemoryAccounting)$(P CPUAccounting)$(P TasksAccounting)"
t_eq "no auxiliary units" "[]" "$(jq -c '.args[3]' <<<"$S")"
t_eq "the fake saw no malformed message" "" "$(jq -r 'select(.error) | .error' "$LOG")"
t_eq "container created (the runtime waited for its own job, not another's)" created "$(R state sd1 2>/dev/null | jq -r .status)"
mem=$(cat /sys/fs/cgroup/memory$CG/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup$CG/memory.max 2>/dev/null)
t_eq "limits written through cgroupfs too" 33554432 "$mem"
: >"$LOG"
t_ok "update --memory --pids-limit" R update --memory 67108864 --pids-limit 30 sd1
U=$(jq -c 'select(.member=="SetUnitProperties")' "$LOG")
t_eq "update: SetUnitProperties on the unit, runtime" "capsule-sd1.scope true" "$(jq -r '"\(.args[0]) \(.args[1])"' <<<"$U")"
t_eq "update: the new limits as properties" '[{"sig":"t","value":67108864}][{"sig":"t","value":30}]' \
  "$(jq -c '[.args[2][] | select(.[0]=="MemoryLimit" or .[0]=="MemoryMax") | .[1]]' <<<"$U")$(jq -c '[.args[2][] | select(.[0]=="TasksMax") | .[1]]' <<<"$U")"
mem=$(cat /sys/fs/cgroup/memory$CG/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup$CG/memory.max 2>/dev/null)
t_eq "update: cgroupfs has the new limit" 67108864 "$mem"
: >"$LOG"
t_ok "delete" R delete -f sd1
t_eq "delete stops the scope" 'StopUnit ["capsule-sd1.scope","replace"]' \
  "$(jq -r 'select(.member=="StopUnit") | "\(.member) \(.args|tojson)"' "$LOG")"
nothing_left "after delete"
fake ok
t_ok "create again" R create -b "$B" sd1
: >"$LOG"
t_ok "delete without --systemd-cgroup" "$RUNTIME" --root "$ROOT" delete -f sd1
t_eq "... makes no D-Bus call (systemd drops the emptied scope itself)" "" "$(calls)"
nothing_left "after plain delete"

# --- systemd says no ---
for mode in exists fail reject; do
  fake $mode
  out=$(R create -b "$B" sd1 2>&1); rc=$?
  t_eq "$mode: create fails" 1 "$rc"
  case $mode in
    exists) want='create systemd scope capsule-sd1\.scope: .*org\.freedesktop\.systemd1\.UnitExists: Unit capsule-sd1\.scope already exists' ;;
    fail) want='systemd: StartTransientUnit capsule-sd1\.scope: job failed' ;;
    reject) want='systemd D-Bus: authentication refused' ;;
  esac
  t_match "$mode: the error says what systemd said" "$want" "$out"
  nothing_left "$mode"
done
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
rm -f /run/systemd/private
out=$(R create -b "$B" sd1 2>&1); rc=$?
t_eq "no systemd socket: create fails" 1 "$rc"
t_match "... naming the socket" "connect to systemd at \`/run/systemd/private\`" "$out"
nothing_left "no socket"

# --- a .slice name is not made a unit (systemd puts no processes in slices) ---
fake ok
cfg_set "$B" '.linux.cgroupsPath=$p | .linux.resources={}' --arg p "$SL.slice:capsule:$SL-leaf.slice"
t_ok "create with a .slice name" R create -b "$B" sd1
t_eq "... no StartTransientUnit" "" "$(calls)"
t_ok "delete it" R delete -f sd1
t_done
