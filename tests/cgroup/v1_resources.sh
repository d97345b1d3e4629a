#!/bin/bash
# cgroup v1 / hybrid: create under /capsule-test/<unique>, apply resources and
# read the files back, enter, pids, freeze/thaw, kill_all, stats, destroy,
# rollback after a failure half-way, clear errors for unsupported resources.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
T=${CGTOOL:-$CAPSULE_BUILD/tests/cgroup/capsule-cgtool}
[ -x "$T" ] || t_skip_all "capsule-cgtool not built ($T)"
MODE=$("$T" mode)
case $MODE in v1|hybrid) ;; *) t_skip_all "host cgroup mode is $MODE (this test is for v1/hybrid)";; esac
R=/sys/fs/cgroup
U="t$$-$RANDOM"
BASE=$T_CGROUP_PARENT/$U          # our own parent: removed at the end
P=$BASE/c1

# every v1 controller mount (+ unified in hybrid)
HIERS=()
for d in "$R"/*; do
  [ -e "$d/cgroup.procs" ] || continue
  HIERS+=("$d")
done
leftovers() { local d n=0; for d in "${HIERS[@]}"; do [ -e "$d$1" ] && { echo "left: $d$1"; n=$((n+1)); }; done; return $n; }
cleanup_all() { local d; for d in "${HIERS[@]}"; do find "$d$BASE" -depth -type d -exec rmdir {} + 2>/dev/null; done; }
t_cleanup cleanup_all

RES='{"cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"},
 "memory":{"limit":67108864,"swap":134217728,"reservation":33554432},
 "pids":{"limit":10},
 "devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":5,"access":"rw"}]}'
t_ok "create with resources" "$T" create "$P" "$RES"
rd() { cat "$R/$1$P/$2" 2>&1; }
t_eq "cpu.shares" 512 "$(rd cpu cpu.shares)"
t_eq "cpu.cfs_quota_us" 50000 "$(rd cpu cpu.cfs_quota_us)"
t_eq "cpu.cfs_period_us" 100000 "$(rd cpu cpu.cfs_period_us)"
t_eq "cpuset.cpus" 0 "$(rd cpuset cpuset.cpus)"
t_eq "cpuset.mems" 0 "$(rd cpuset cpuset.mems)"
t_eq "parent cpuset.cpus copied (not empty)" "$(cat $R/cpuset/cpuset.cpus)" "$(cat $R/cpuset$BASE/cpuset.cpus)"
t_eq "memory.limit_in_bytes" 67108864 "$(rd memory memory.limit_in_bytes)"
if [ -e "$R/memory$P/memory.memsw.limit_in_bytes" ]; then
  t_eq "memory.memsw.limit_in_bytes = OCI swap (memory+swap)" 134217728 "$(rd memory memory.memsw.limit_in_bytes)"
fi
t_eq "memory.soft_limit_in_bytes" 33554432 "$(rd memory memory.soft_limit_in_bytes)"
t_eq "pids.max" 10 "$(rd pids pids.max)"
t_eq "devices.list" "$(printf 'c 1:3 rwm\nc 5:* rw')" "$(rd devices devices.list)"

# update: pids -1 -> max, quota/period change, memory down (limit before memsw), shares out of range
t_ok "set pids -1" "$T" set "$P" '{"pids":{"limit":-1}}'
t_eq "pids.max after -1" max "$(rd pids pids.max)"
t_ok "set smaller period with quota" "$T" set "$P" '{"cpu":{"quota":20000,"period":50000}}'
t_eq "cpu.cfs_period_us updated" 50000 "$(rd cpu cpu.cfs_period_us)"
t_eq "cpu.cfs_quota_us updated" 20000 "$(rd cpu cpu.cfs_quota_us)"
if [ -e "$R/cpu$P/cpu.cfs_burst_us" ]; then
  t_ok "burst lowered with quota" "$T" set "$P" '{"cpu":{"quota":10000,"burst":5000}}'
  t_eq "cpu.cfs_burst_us lowered" 5000 "$(rd cpu cpu.cfs_burst_us)"
  t_ok "burst raised above the old quota" "$T" set "$P" '{"cpu":{"quota":40000,"burst":30000}}'
  t_eq "cpu.cfs_burst_us raised" 30000 "$(rd cpu cpu.cfs_burst_us)"
  t_eq "cpu.cfs_quota_us raised" 40000 "$(rd cpu cpu.cfs_quota_us)"
fi
t_ok "set memory down" "$T" set "$P" '{"memory":{"limit":33554432,"swap":33554432}}'
t_eq "memory.limit_in_bytes lowered" 33554432 "$(rd memory memory.limit_in_bytes)"
t_ok "set memory -1 (unlimited)" "$T" set "$P" '{"memory":{"limit":-1}}'
t_match "memory.limit_in_bytes unlimited" '^9223372036854' "$(rd memory memory.limit_in_bytes)"
"$T" set "$P" '{"cpu":{"shares":1}}' >"$T_TMP/o" 2>&1
t_match "cpu.shares clamped by the kernel is an error" 'minimum allowed cpu-shares is 2' "$(cat "$T_TMP/o")"
"$T" set "$P" '{"unified":{"memory.high":"1000000"}}' >"$T_TMP/o" 2>&1
t_match "unified on v1 is refused" 'cannot use unified on cgroup v1' "$(cat "$T_TMP/o")"
"$T" set "$P" '{"rdma":{"mlx4_0":{"hcaHandles":1}}}' >"$T_TMP/o" 2>&1
if [ ! -d $R/rdma ]; then t_match "rdma without controller" 'rdma cgroup not available' "$(cat "$T_TMP/o")"; fi
if [ ! -d $R/hugetlb ]; then
  "$T" set "$P" '{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}' >"$T_TMP/o" 2>&1
  t_match "hugetlb not mounted names the resource" 'hugepageLimits.*hugetlb' "$(cat "$T_TMP/o")"
fi
if [ ! -d $R/net_cls ]; then
  "$T" set "$P" '{"network":{"classID":1048577}}' >"$T_TMP/o" 2>&1
  t_match "net_cls not mounted names the resource" 'network.classID.*net_cls' "$(cat "$T_TMP/o")"
fi
"$T" set "$P" '{"memory":{"swappiness":101}}' >"$T_TMP/o" 2>&1
t_match "swappiness out of range" 'swappiness' "$(cat "$T_TMP/o")"

# enter a sleeper: every hierarchy shows the path
sleep 600 & S=$!
t_cleanup "kill -9 $S"
t_ok "enter" "$T" enter "$P" "$S"
n_lines=$(wc -l </proc/$S/cgroup); n_in=$(grep -c ":$P\$" /proc/$S/cgroup)
t_eq "every hierarchy in /proc/PID/cgroup" "$n_lines" "$n_in"
t_match "pids lists the sleeper" "(^|$'\n')$S(\$|$'\n')" "$("$T" pids "$P")"
t_match "stats: pids_current" 'pids_current=1' "$("$T" stats "$P")"
"$T" create "$P" >"$T_TMP/o" 2>&1
t_match "create refuses a cgroup with processes" 'not empty: 1 process' "$(cat "$T_TMP/o")"
t_match "stats: memory_limit read back" "memory_limit=$(rd memory memory.limit_in_bytes)" "$("$T" stats "$P")"

# memory limit enforced: a 100M buffer inside a 32M cgroup (memsw = limit: no swap) is OOM-killed
t_ok "memory 32M, memsw 32M" "$T" set "$P" '{"memory":{"limit":33554432,"swap":33554432}}'
sh -c "echo \$\$ > $R/memory$P/cgroup.procs; exec dd if=/dev/zero of=/dev/null bs=100M count=1" >/dev/null 2>&1
t_eq "100M allocation inside is killed" 137 "$?"
t_match "stats oom_kill_count" 'oom_kill_count=[1-9]' "$("$T" stats "$P")"
"$T" set "$P" '{"memory":{"limit":-1}}' >/dev/null 2>&1

# freezer
t_ok "freeze" "$T" freeze "$P"
t_eq "freezer.state FROZEN" FROZEN "$(rd freezer freezer.state)"
t_eq "is_frozen 1" 1 "$("$T" frozen "$P")"
t_ok "thaw" "$T" thaw "$P"
t_eq "freezer.state THAWED" THAWED "$(rd freezer freezer.state)"
t_eq "is_frozen 0" 0 "$("$T" frozen "$P")"

# devices are enforced for a process inside (v1 devices controller)
out=$(sh -c "echo \$\$ > $R/devices$P/cgroup.procs; head -c1 /dev/null; head -c1 /dev/zero | wc -c; echo hi > /dev/null && echo nullw" 2>&1)
t_match "devices: /dev/zero denied inside" 'Operation not permitted' "$out"
t_match "devices: /dev/null writable inside" 'nullw' "$out"

# kill_all with SIGTERM: freeze, signal, thaw; a paused container stays paused for non-KILL
sleep 600 & S2=$!
t_cleanup "kill -9 $S2"
"$T" enter "$P" "$S2"
t_ok "kill_all SIGTERM" "$T" kill "$P" 15
wait $S 2>/dev/null; st1=$?; wait $S2 2>/dev/null; st2=$?
t_eq "sleeper 1 got SIGTERM" 143 "$st1"
t_eq "sleeper 2 got SIGTERM" 143 "$st2"
sleep 600 & S3=$!
t_cleanup "kill -9 $S3"
"$T" enter "$P" "$S3"
"$T" freeze "$P"
t_ok "kill_all SIGKILL on a paused cgroup" "$T" kill "$P" 9
wait $S3 2>/dev/null; t_eq "paused sleeper got SIGKILL" 137 "$?"
t_eq "no pids left" "" "$("$T" pids "$P")"

# destroy removes the leaf everywhere; a second destroy is fine
t_ok "destroy" "$T" destroy "$P"
t_ok "nothing left" leftovers "$P"
t_ok "destroy again (missing is fine)" "$T" destroy "$P"

# the less common v1 files
MAJ= MIN=
for b in /sys/block/*; do
  case ${b##*/} in loop*|ram*|zram*|nbd*) continue ;; esac
  IFS=: read -r MAJ MIN <"$b/dev"; break
done
P2=$BASE/c2
RES2='{"memory":{"limit":67108864,"kernel":33554432,"kernelTCP":16777216,"swappiness":10,"disableOOMKiller":true},"cpu":{"idle":1}}'
if [ -n "$MAJ" ]; then
  RES2=$(echo "$RES2" | sed "s/}\$/,\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":$MAJ,\"minor\":$MIN,\"rate\":1048576}],\"throttleWriteIOPSDevice\":[{\"major\":$MAJ,\"minor\":$MIN,\"rate\":100}]}}/")
fi
t_ok "create with oom/swappiness/kernel/idle/throttle" "$T" create "$P2" "$RES2"
t_match "memory.oom_control oom_kill_disable 1" 'oom_kill_disable 1' "$(cat $R/memory$P2/memory.oom_control)"
t_eq "memory.swappiness" 10 "$(cat $R/memory$P2/memory.swappiness)"
t_eq "memory.kmem.tcp.limit_in_bytes" 16777216 "$(cat $R/memory$P2/memory.kmem.tcp.limit_in_bytes 2>&1)"
[ -e $R/cpu$P2/cpu.idle ] && t_eq "cpu.idle" 1 "$(cat $R/cpu$P2/cpu.idle)"
if [ -n "$MAJ" ]; then
  t_eq "blkio.throttle.read_bps_device" "$MAJ:$MIN 1048576" "$(cat $R/blkio$P2/blkio.throttle.read_bps_device)"
  t_eq "blkio.throttle.write_iops_device" "$MAJ:$MIN 100" "$(cat $R/blkio$P2/blkio.throttle.write_iops_device)"
fi
if [ -e $R/blkio$P2/blkio.bfq.weight ] || [ -e $R/blkio$P2/blkio.weight ]; then
  t_ok "blkio weight" "$T" set "$P2" '{"blockIO":{"weight":500}}'
  t_match "blkio (bfq) weight 500" '500' "$(cat $R/blkio$P2/blkio.bfq.weight $R/blkio$P2/blkio.weight 2>/dev/null)"
fi
t_ok "destroy c2" "$T" destroy "$P2"

# failure half-way: the cpuset write fails after the dirs exist -> nothing left, our parent too
F=$BASE/fail/deep
"$T" create "$F" '{"pids":{"limit":5},"cpu":{"cpus":"4096"}}' >"$T_TMP/o" 2>&1; rc=$?
t_eq "invalid cpus fails create" 1 "$rc"
t_match "error names the resource" 'cpu.cpus' "$(cat "$T_TMP/o")"
t_ok "no leaf left after failed create" leftovers "$F"
t_ok "no created parent left after failed create" leftovers "$BASE/fail"
"$T" create "$BASE/bad" '{"devices":[{"allow":true,"type":"x"}]}' >"$T_TMP/o" 2>&1
t_match "bad device type refused" 'device type' "$(cat "$T_TMP/o")"
t_ok "no dir left after bad device rule" leftovers "$BASE/bad"

# create + destroy in one process removes the ancestors it created
t_ok "roundtrip removes created ancestors" "$T" roundtrip "$BASE/r1/r2/r3"
t_ok "r1 gone" leftovers "$BASE/r1"

# systemd-style cgroupsPath translated and created through cgroupfs
SL="ct$$x$RANDOM"
SP=$("$T" resolve "$SL-sub.slice:capsule:x1" x1 systemd)
t_eq "systemd path" "/$SL.slice/$SL-sub.slice/capsule-x1.scope" "$SP"
t_ok "create systemd-style path" "$T" create "$SP"
t_eq "scope exists in cpu" yes "$([ -d $R/cpu$SP ] && echo yes)"
t_ok "destroy systemd-style path" "$T" destroy "$SP"
for d in "${HIERS[@]}"; do rmdir "$d/$SL.slice/$SL-sub.slice" "$d/$SL.slice" 2>/dev/null; done

t_done
