#!/bin/sh
# Runs inside a pure cgroup v2 VM (busybox sh is enough).  Drives the
# cgroup API through capsule-cgtool from $CAPSULE_TEST_BIN_DIR and checks
# the files and the enforcement: controllers delegated through
# subtree_control, cpu.max/cpu.weight, memory.max/swap.max, pids.max (fork
# limit hit from inside), eBPF device filter (open denied from inside),
# freeze/thaw, cgroup.kill, stats, destroy and rollback.
# Prints "N passed, N failed"; exit 1 on any failure.
BIN=${CAPSULE_TEST_BIN_DIR:-.}
T="$BIN/capsule-cgtool"
R=/sys/fs/cgroup
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
nok() { FAIL=$((FAIL + 1)); echo "not ok - $1"; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1: expected [$2] got [$3]"; fi; }
has() { case "$3" in *"$2"*) ok "$1" ;; *) nok "$1: [$3] does not contain [$2]" ;; esac; }
run() { n=$1; shift; if "$@" >/tmp/cgv2.out 2>&1; then ok "$n"; else nok "$n"; sed 's/^/    /' /tmp/cgv2.out; fi; }
gone() { if [ -e "$2" ]; then nok "$1 ($2 still there)"; else ok "$1"; fi; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ ! -x "$T" ]; then nok "capsule-cgtool in $BIN"; finish; fi
eq "mode is v2" v2 "$("$T" mode)"
[ -e $R/cgroup.subtree_control ] || { nok "$R is cgroup2"; finish; }

BASE=/capsule-test/vm$$
P=$BASE/c1
RES='{"cpu":{"shares":1024,"quota":50000,"period":100000},"memory":{"limit":67108864,"swap":134217728,"reservation":33554432},"pids":{"limit":16}}'
run "create with resources" "$T" create "$P" "$RES"
has "v2_dirfd opened for CLONE_INTO_CGROUP" "v2_dirfd=yes" "$(cat /tmp/cgv2.out)"
SC=$(cat $R$BASE/cgroup.subtree_control 2>/dev/null)
for c in cpu memory pids; do
  if grep -qw $c $R/cgroup.controllers; then has "$c enabled for children of the parent" "$c" "$SC"; fi
done
eq "cpu.weight from shares 1024" 39 "$(cat $R$P/cpu.weight 2>&1)"
eq "cpu.max" "50000 100000" "$(cat $R$P/cpu.max 2>&1)"
eq "memory.max" 67108864 "$(cat $R$P/memory.max 2>&1)"
eq "memory.low" 33554432 "$(cat $R$P/memory.low 2>&1)"
if [ -e $R$P/memory.swap.max ]; then eq "memory.swap.max = swap - limit" 67108864 "$(cat $R$P/memory.swap.max)"; fi
eq "pids.max" 16 "$(cat $R$P/pids.max 2>&1)"

run "update cpu quota only" "$T" set "$P" '{"cpu":{"quota":-1}}'
eq "cpu.max unlimited" "max 100000" "$(cat $R$P/cpu.max 2>&1)"
run "update pids -1" "$T" set "$P" '{"pids":{"limit":-1}}'
eq "pids.max max" max "$(cat $R$P/pids.max 2>&1)"
run "unified override" "$T" set "$P" '{"unified":{"memory.high":"50331648"}}'
eq "memory.high from unified" 50331648 "$(cat $R$P/memory.high 2>&1)"

# pids.max enforced: a shell inside cannot fork past the limit
run "pids limit 3" "$T" set "$P" '{"pids":{"limit":3}}'
out=$(sh -c "echo \$\$ > $R$P/cgroup.procs; for i in 1 2 3 4 5; do sleep 5 & done; echo spawned; kill \$(jobs -p) 2>/dev/null" 2>&1)
has "fork beyond pids.max fails inside" "ork" "$out"
"$T" set "$P" '{"pids":{"limit":-1}}' >/dev/null 2>&1

# enter / pids / freeze / thaw
sleep 600 &
S=$!
run "enter" "$T" enter "$P" "$S"
eq "/proc/PID/cgroup" "0::$P" "$(cat /proc/$S/cgroup)"
eq "pids" "$S" "$("$T" pids "$P")"
run "freeze" "$T" freeze "$P"
has "cgroup.events frozen 1" "frozen 1" "$(cat $R$P/cgroup.events)"
eq "is_frozen" 1 "$("$T" frozen "$P")"
run "thaw" "$T" thaw "$P"
has "cgroup.events frozen 0" "frozen 0" "$(cat $R$P/cgroup.events)"
run "stats" "$T" stats "$P"
has "stats pids_current" "pids_current=1" "$(cat /tmp/cgv2.out)"
has "stats memory_limit" "memory_limit=67108864" "$(cat /tmp/cgv2.out)"

# memory.max enforced: a 100M buffer inside a 32M cgroup without swap is OOM-killed
run "memory 32M, no swap" "$T" set "$P" '{"memory":{"limit":33554432,"swap":33554432}}'
sh -c "echo \$\$ > $R$P/cgroup.procs; exec dd if=/dev/zero of=/dev/null bs=100M count=1" >/dev/null 2>&1
eq "100M allocation inside is killed" 137 "$?"
has "stats oom_kill_count" "oom_kill_count=1" "$("$T" stats "$P")"
"$T" set "$P" '{"memory":{"limit":-1}}' >/dev/null 2>&1

# eBPF device filter: from inside, /dev/null allowed, /dev/zero denied
run "device filter" "$T" set "$P" '{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}'
eq "null readable inside" 0 "$(sh -c "echo \$\$ > $R$P/cgroup.procs; head -c1 /dev/null | wc -c" 2>&1 | tr -d ' ')"
has "zero denied inside" "not permitted" "$(sh -c "echo \$\$ > $R$P/cgroup.procs; head -c1 /dev/zero | wc -c" 2>&1)"
run "device filter replaced" "$T" set "$P" '{"devices":[{"allow":true,"access":"rwm"}]}'
eq "one program attached" 1 "$("$T" bpf-count $R$P)"
eq "zero readable after replace" 1 "$(sh -c "echo \$\$ > $R$P/cgroup.procs; head -c1 /dev/zero | wc -c" 2>&1 | tr -d ' ')"

# cgroup.kill
sh -c 'sleep 600 & sleep 600 & wait' &
S2=$!
"$T" enter "$P" "$S2"
run "kill_all SIGKILL" "$T" kill "$P" 9
wait $S 2>/dev/null
eq "sleeper killed" 137 "$?"
i=0
while [ -n "$("$T" pids "$P")" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
eq "cgroup empty" "" "$("$T" pids "$P")"

run "destroy" "$T" destroy "$P"
gone "leaf removed" "$R$P"

# failure half-way: nothing left, including the parent we made
"$T" create "$BASE/f/leaf" '{"pids":{"limit":4},"cpu":{"cpus":"4096"}}' >/tmp/cgv2.out 2>&1
eq "invalid cpus fails" 1 "$?"
has "error names cpu.cpus" "cpu.cpus" "$(cat /tmp/cgv2.out)"
gone "no leaf after failure" "$R$BASE/f/leaf"
gone "no parent after failure" "$R$BASE/f"
run "roundtrip removes created ancestors" "$T" roundtrip "$BASE/r1/r2"
gone "r1 removed" "$R$BASE/r1"
rmdir $R$BASE 2>/dev/null
finish
