#!/bin/sh
# Runs inside a pure cgroup v2 VM (busybox sh is enough).  Drives the
# cgroup API through capsule-cgtool from $CAPSULE_TEST_BIN_DIR and checks
# the files and the enforcement: controllers delegated through
# subtree_control, cpu.max/cpu.weight, memory.max/swap.max, pids.max (fork
# limit hit from inside), eBPF device filter (open denied from inside),
# freeze/thaw, cgroup.kill, stats, destroy and rollback; then $RUNTIME's
# events --stats, update and OOM events against the v2 files.
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

# ---- The runtime on pure v2: events --stats (runc's Stats shape from
# cpu.stat, memory.*, io.stat, pids.*), update read back from the v2 files,
# OOM events from memory.events.  Needs $RUNTIME and jq.
if [ -x "${RUNTIME:-}" ] && command -v jq >/dev/null 2>&1; then
  EB=/tmp/evb$$
  ER=/tmp/evroot$$
  RT() { "$RUNTIME" --root "$ER" "$@"; }
  mkdir -p $EB/rootfs/bin $EB/rootfs/proc $EB/rootfs/dev $EB/rootfs/sys $EB/rootfs/tmp
  cp /bin/busybox $EB/rootfs/bin/busybox
  ln -s busybox $EB/rootfs/bin/sh
  (cd $EB && "$RUNTIME" spec)
  ECG=$BASE/ev
  # /dev/ram0 (brd, block 1:0) in the container and allowed: reads from it show in io.stat.
  jq --arg cg "$ECG" '.process.args=["/bin/busybox","sleep","1000"] | .process.terminal=false | .linux.cgroupsPath=$cg
     | .linux.resources={"memory":{"limit":33554432,"swap":33554432},"pids":{"limit":20},"cpu":{"quota":50000,"period":100000},
                         "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"b","major":1,"minor":0,"access":"r"}]}
     | .linux.devices=[{"path":"/dev/ram0","type":"b","major":1,"minor":0,"fileMode":384}]' \
     $EB/config.json >$EB/c.tmp && mv $EB/c.tmp $EB/config.json
  run "events: run -d a container" RT run -d -b $EB ev
  # a CPU burn under a 50% quota (throttling) and 1 MiB read from the ram disk (io.stat)
  RT exec ev /bin/busybox sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done' >/dev/null 2>&1
  if [ -b /dev/ram0 ]; then
    RT exec ev /bin/busybox dd if=/dev/ram0 of=/dev/null bs=4096 count=256 iflag=direct >/tmp/ev.dd 2>&1
    eq "dd from /dev/ram0 inside (allowed block device)" 0 "$?"
  else
    echo "# no /dev/ram0 in the guest: $(ls /dev | grep -c ram) ram nodes"
  fi
  "$RUNTIME" --root "$ER" events --stats ev >/tmp/ev.json 2>&1
  eq "events --stats: one stats line" stats "$(jq -r .type /tmp/ev.json 2>&1)"
  j() { jq -r "$1" /tmp/ev.json 2>&1; }
  eq "memory.usage.limit = memory.max" "$(cat $R$ECG/memory.max)" "$(j .data.memory.usage.limit)"
  u=$(j .data.memory.usage.usage)
  if [ "$u" -gt 0 ] 2>/dev/null; then ok "memory.usage.usage > 0 ($u)"; else nok "memory.usage.usage > 0: [$u]"; fi
  eq "memory.usage.max = memory.peak" yes "$([ ! -e $R$ECG/memory.peak ] || [ "$(j .data.memory.usage.max)" -ge "$u" ] && echo yes)"
  eq "swap view: limit = memory.max + memory.swap.max (runc's memsw)" \
    "$(( $(cat $R$ECG/memory.max) + $(cat $R$ECG/memory.swap.max) ))" "$(j .data.memory.swap.limit)"
  eq "swap view: usage >= memory usage" yes "$([ "$(j .data.memory.swap.usage)" -ge "$u" ] && echo yes)"
  eq "memory.raw has memory.stat keys" true "$(j '.data.memory.raw | has("anon") and has("file")')"
  eq "memory.cache = memory.stat file" "$(awk '$1=="file"{print $2}' $R$ECG/memory.stat)" "$(j '.data.memory.cache // 0')"
  eq "pids.current = pids.current file" "$(cat $R$ECG/pids.current)" "$(j .data.pids.current)"
  eq "pids.limit = pids.max" 20 "$(j .data.pids.limit)"
  t=$(j .data.cpu.usage.total)
  cs=$(awk '$1=="usage_usec"{print $2}' $R$ECG/cpu.stat)
  eq "cpu.usage.total > 0, in ns from cpu.stat usage_usec" yes "$([ "$t" -gt 0 ] && [ "$t" -le $(( (cs + 1000000) * 1000 )) ] && [ "$t" -ge $((cs / 2 * 1000)) ] && echo yes)"
  eq "cpu.usage.user + kernel <= total + 1 ms slack" yes "$([ $(( $(j .data.cpu.usage.user) + $(j .data.cpu.usage.kernel) )) -le $((t + 1000000)) ] && echo yes)"
  p=$(j '.data.cpu.throttling.periods // 0')
  if [ "$p" -gt 0 ] 2>/dev/null; then ok "cpu.throttling.periods > 0 under a quota ($p)"; else nok "cpu.throttling.periods: [$p]"; fi
  if [ -b /dev/ram0 ] && grep -q '^1:0 ' $R$ECG/io.stat 2>/dev/null; then
    eq "blkio ioServiceBytesRecursive Read for 1:0 = io.stat rbytes" \
      "$(sed -n 's/^1:0 .*rbytes=\([0-9]*\).*/\1/p' $R$ECG/io.stat)" \
      "$(j '[.data.blkio.ioServiceBytesRecursive[] | select(.major==1 and (.minor // 0)==0 and .op=="Read")][0].value')"
    eq "blkio ioServicedRecursive Read for 1:0 = io.stat rios" \
      "$(sed -n 's/^1:0 .*rios=\([0-9]*\).*/\1/p' $R$ECG/io.stat)" \
      "$(j '[.data.blkio.ioServicedRecursive[] | select(.major==1 and (.minor // 0)==0 and .op=="Read")][0].value')"
  else
    echo "SKIP blkio from io.stat: no 1:0 line (io.stat: [$(cat $R$ECG/io.stat 2>&1)], root io.stat: [$(cat $R/io.stat 2>&1)], ram0: $(cat /sys/block/ram0/stat 2>&1), dd: $(tr '\n' ' ' </tmp/ev.dd 2>&1))"
  fi
  # update, read back from the v2 files and from events
  run "update --memory --memory-swap --pids-limit --cpu-quota" RT update --memory 67108864 --memory-swap 100663296 --pids-limit 30 --cpu-quota 20000 ev
  eq "update: memory.max" 67108864 "$(cat $R$ECG/memory.max)"
  eq "update: memory.swap.max (swap - memory)" 33554432 "$(cat $R$ECG/memory.swap.max)"
  eq "update: pids.max" 30 "$(cat $R$ECG/pids.max)"
  eq "update: cpu.max" "20000 100000" "$(cat $R$ECG/cpu.max)"
  "$RUNTIME" --root "$ER" events --stats ev >/tmp/ev.json 2>&1
  eq "update: events memory limit" 67108864 "$(j .data.memory.usage.limit)"
  eq "update: events swap limit (memory+swap)" 100663296 "$(j .data.memory.swap.limit)"
  eq "update: events pids limit" 30 "$(j .data.pids.limit)"
  echo '{"memory":{"limit":33554432,"swap":33554432}}' | RT update -r - ev >/tmp/cgv2.out 2>&1
  eq "update -r -: memory.max" 33554432 "$(cat $R$ECG/memory.max)"
  eq "update -r -: memory.swap.max" 0 "$(cat $R$ECG/memory.swap.max)"
  # OOM: a 100 MiB allocation in a 32 MiB cgroup, seen by a running `events`
  "$RUNTIME" --root "$ER" events --interval 60s ev >/tmp/ev.stream 2>&1 &
  EVP=$!
  sleep 1
  RT exec ev /bin/busybox sh -c 'a=$(/bin/busybox head -c 100000000 /dev/zero | /bin/busybox tr "\0" x); echo ${#a}' >/dev/null 2>&1
  eq "OOM: the exec is killed (137)" 137 "$?"
  i=0
  while ! grep -q '"type":"oom"' /tmp/ev.stream && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
  has "OOM: events reports {type:oom}" '{"type":"oom","id":"ev"}' "$(cat /tmp/ev.stream)"
  kill $EVP 2>/dev/null
  wait $EVP 2>/dev/null
  "$RUNTIME" --root "$ER" events --stats ev >/tmp/ev.json 2>&1
  eq "OOM: memory.usage.failcnt = memory.events max" "$(awk '$1=="max"{print $2}' $R$ECG/memory.events)" "$(j .data.memory.usage.failcnt)"
  RT delete -f ev >/dev/null 2>&1
  gone "events: container cgroup removed" "$R$ECG"
  rm -rf $EB $ER
else
  echo "SKIP runtime events/update checks: no \$RUNTIME or jq"
fi

rmdir $R$BASE 2>/dev/null
finish
