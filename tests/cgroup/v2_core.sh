#!/bin/bash
# cgroup v2 code paths, forced with `capsule-cgtool -2`: on a hybrid host
# they run on the unified mount (no cpu/memory/pids controllers there, but
# cgroup.procs/freeze/kill/events and the device eBPF filter work).
# Covers: create/enter/pids, cgroup.freeze + cgroup.events, cgroup.kill,
# eBPF device filter (deny, allow, replace on update), errors + rollback.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
T=${CGTOOL:-$CAPSULE_BUILD/tests/cgroup/capsule-cgtool}
[ -x "$T" ] || t_skip_all "capsule-cgtool not built ($T)"
case $("$T" mode) in
  hybrid) R=/sys/fs/cgroup/unified ;;
  v2) R=/sys/fs/cgroup ;;
  *) t_skip_all "no cgroup2 mount" ;;
esac
[ "$(stat -f -c %T $R)" = cgroup2fs ] || t_skip_all "$R is not cgroup2"
T="$T -2"
BASE=$T_CGROUP_PARENT/t$$-$RANDOM
P=$BASE/c1
t_cleanup "find $R$BASE -depth -type d -exec rmdir {} +"
CTRLS=$(cat $R/cgroup.controllers)

t_ok "create" $T create "$P"
[ -e "$R$P/cgroup.freeze" ] || t_skip_all "kernel without cgroup.freeze"
sleep 600 & S=$!
t_cleanup "kill -9 $S"
t_ok "enter" $T enter "$P" "$S"
t_eq "/proc/PID/cgroup 0:: line" "0::$P" "$(grep '^0::' /proc/$S/cgroup)"
t_eq "pids" "$S" "$($T pids "$P")"
$T create "$P" >"$T_TMP/o" 2>&1
t_match "create refuses a cgroup with processes" 'not empty: 1 process' "$(cat "$T_TMP/o")"

t_ok "freeze" $T freeze "$P"
t_eq "cgroup.freeze 1" 1 "$(cat $R$P/cgroup.freeze)"
t_match "cgroup.events frozen 1" 'frozen 1' "$(cat $R$P/cgroup.events)"
t_eq "is_frozen 1" 1 "$($T frozen "$P")"
t_ok "thaw" $T thaw "$P"
t_match "cgroup.events frozen 0" 'frozen 0' "$(cat $R$P/cgroup.events)"
t_eq "is_frozen 0" 0 "$($T frozen "$P")"

# kill_all: SIGTERM through the freeze/signal/thaw loop, SIGKILL through cgroup.kill
t_ok "kill_all SIGTERM" $T kill "$P" 15
wait $S 2>/dev/null; t_eq "sleeper got SIGTERM" 143 "$?"
if [ -e "$R$P/cgroup.kill" ]; then
  sh -c 'sleep 600 & sleep 600 & wait' & S2=$!
  t_cleanup "kill -9 $S2"
  $T enter "$P" "$S2"; sleep 0.2
  for c in $(cat /proc/$S2/task/$S2/children 2>/dev/null); do echo "$c" >"$R$P/cgroup.procs"; done
  t_match "three pids in the cgroup" '^[0-9]+ [0-9]+ [0-9]+$' "$($T pids "$P" | tr '\n' ' ' | sed 's/ $//')"
  t_ok "kill_all SIGKILL (cgroup.kill)" $T kill "$P" 9
  wait $S2 2>/dev/null; t_eq "shell got SIGKILL" 137 "$?"
  for i in $(seq 50); do [ -z "$($T pids "$P")" ] && break; sleep 0.1; done
  t_eq "cgroup empty after cgroup.kill" "" "$($T pids "$P")"
else
  t_skip "kernel without cgroup.kill"
fi

# eBPF device filter: deny all but /dev/null (rwm) and /dev/random (read only)
DEV='{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":8,"access":"r"}]}'
t_ok "set device filter" $T set "$P" "$DEV"
inside() { sh -c "echo \$\$ > $R$P/cgroup.procs; $1" 2>&1; }
t_eq "null readable inside" 0 "$(inside 'head -c1 /dev/null | wc -c')"
t_match "zero denied inside" 'Operation not permitted' "$(inside 'head -c1 /dev/zero | wc -c')"
t_eq "random readable inside" 1 "$(inside 'head -c1 /dev/random | wc -c')"
t_match "random not writable inside" 'Operation not permitted' "$(inside 'echo x > /dev/random')"
t_eq "zero still readable outside" 1 "$(head -c1 /dev/zero | wc -c)"
# update replaces the program (the old deny-all must not stay attached)
t_ok "replace device filter" $T set "$P" '{"devices":[{"allow":true,"access":"rwm"},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]}'
t_eq "zero readable after replace" 1 "$(inside 'head -c1 /dev/zero | wc -c')"
t_match "null write denied after replace" 'Operation not permitted' "$(inside 'echo x > /dev/null')"
t_eq "null read allowed after replace" 0 "$(inside 'head -c1 /dev/null | wc -c')"
t_ok "replace again" $T set "$P" '{"devices":[{"allow":true,"access":"rwm"}]}'
t_eq "exactly one device program attached" 1 "$($T bpf-count "$R$P")"
t_eq "null writable with allow-all" ok "$(inside 'echo x > /dev/null && echo ok')"

# errors name the resource; a failed create leaves nothing (parent created by us too)
F=$BASE/fail/leaf
case " $CTRLS " in
  *" pids "*) t_skip "pids controller available: no missing-controller error to test" ;;
  *) $T create "$F" '{"pids":{"limit":5}}' >"$T_TMP/o" 2>&1
     t_match "missing pids controller is a clear error" 'pids.limit' "$(cat "$T_TMP/o")"
     t_eq "failed create leaves no leaf" no "$([ -e $R$F ] && echo yes || echo no)"
     t_eq "failed create leaves no parent it made" no "$([ -e $R$BASE/fail ] && echo yes || echo no)" ;;
esac
$T create "$F" '{"unified":{"no.such.file":"1"}}' >"$T_TMP/o" 2>&1
t_match "unknown unified key" 'unified resource `no.such.file`' "$(cat "$T_TMP/o")"
t_eq "nothing left after unified error" no "$([ -e $R$BASE/fail ] && echo yes || echo no)"
$T create "$F" '{"cpu":{"realtimeRuntime":1000}}' >"$T_TMP/o" 2>&1
t_match "realtime refused on v2" 'realtime.*not supported on cgroup v2' "$(cat "$T_TMP/o")"
$T create "$F" '{"memory":{"limit":100,"swap":50}}' >"$T_TMP/o" 2>&1
t_match "swap < limit refused" 'should be >= memory limit' "$(cat "$T_TMP/o")"
case " $CTRLS " in
  *" hugetlb "*)
    if [ -e $R$P/hugetlb.2MB.max ]; then
      t_ok "hugetlb 2MB limit" $T set "$P" '{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}'
      t_eq "hugetlb.2MB.max" 4194304 "$(cat $R$P/hugetlb.2MB.max)"
    fi ;;
esac

t_ok "destroy" $T destroy "$P"
t_eq "leaf gone" no "$([ -e $R$P ] && echo yes || echo no)"
t_ok "roundtrip removes created ancestors" $T roundtrip "$BASE/r1/r2"
t_eq "r1 gone" no "$([ -e $R$BASE/r1 ] && echo yes || echo no)"
t_done
