#!/bin/bash
# Runs inside the systemd VM (tests/vm/systemd.sh: systemd is PID 1 on pure
# cgroup v2): --systemd-cgroup makes each container's cgroup a transient
# scope unit over systemd's private D-Bus socket, as runc does — the unit is
# active with the container's init in it, Delegate=yes, the config's limits
# in the cgroup and as unit properties (a daemon-reload keeps them, also
# after `update`), nested
# slices made, the unit gone after delete (and after a failed create);
# without --systemd-cgroup nothing is registered with systemd.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox systemctl
[ -x "$RUNTIME" ] || t_skip_all "runtime not found: $RUNTIME"
[ "$(cat /proc/1/comm)" = systemd ] || t_skip_all "systemd is not PID 1"
[ -S /run/systemd/private ] || t_skip_all "no /run/systemd/private"
ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" --systemd-cgroup "$@"; }
prop() { systemctl show -P "$2" "$1" 2>&1; }
B=$T_TMP/bundle
mk_bundle "$B" /bin/sleep 1000 || t_skip_all "could not make a bundle with $RUNTIME spec"
cfg_set "$B" '.linux.cgroupsPath="machine.slice:capsule:sd1" | .linux.resources={"memory":{"limit":33554432},"pids":{"limit":20},"cpu":{"quota":50000,"period":100000,"shares":2048}}'
t_cleanup "R delete -f sd1; R delete -f sd2; R delete -f sd3"

# --- a scope in machine.slice ---
t_ok "create with --systemd-cgroup" R create -b "$B" sd1
pid=$(R state sd1 2>/dev/null | jq -r .pid)
CG=/machine.slice/capsule-sd1.scope
t_eq "unit active" active "$(systemctl is-active capsule-sd1.scope 2>&1)"
t_eq "unit's ControlGroup is the container's cgroup" "$CG" "$(prop capsule-sd1.scope ControlGroup)"
t_eq "unit's slice" machine.slice "$(prop capsule-sd1.scope Slice)"
t_eq "Delegate=yes" yes "$(prop capsule-sd1.scope Delegate)"
t_eq "init is in the scope" "0::$CG" "$(cat /proc/$pid/cgroup 2>&1)"
t_eq "exactly init in the scope's cgroup.procs" "$pid" "$(cat /sys/fs/cgroup$CG/cgroup.procs 2>&1)"
t_eq "memory.max (after systemd adopted it)" 33554432 "$(cat /sys/fs/cgroup$CG/memory.max 2>&1)"
t_eq "pids.max" 20 "$(cat /sys/fs/cgroup$CG/pids.max 2>&1)"
t_eq "cpu.max" "50000 100000" "$(cat /sys/fs/cgroup$CG/cpu.max 2>&1)"
t_eq "MemoryMax property" 33554432 "$(prop capsule-sd1.scope MemoryMax)"
t_eq "TasksMax property" 20 "$(prop capsule-sd1.scope TasksMax)"
t_match "CPUQuotaPerSecUSec property (500ms)" "^500ms$" "$(prop capsule-sd1.scope CPUQuotaPerSecUSec)"
t_eq "cpu.weight (shares 2048)" 79 "$(cat /sys/fs/cgroup$CG/cpu.weight 2>&1)"
t_eq "CPUWeight property" 79 "$(prop capsule-sd1.scope CPUWeight)"
# control: a value written behind systemd's back is put back on a reload,
# so the "survives" checks below can fail
echo 500 >/sys/fs/cgroup$CG/cpu.weight
t_ok "daemon-reload" systemctl daemon-reload
t_eq "control: systemd re-applies its properties on a reload (500 -> 79)" 79 "$(cat /sys/fs/cgroup$CG/cpu.weight 2>&1)"
t_eq "memory.max survives a daemon-reload" 33554432 "$(cat /sys/fs/cgroup$CG/memory.max 2>&1)"
t_eq "pids.max survives a daemon-reload" 20 "$(cat /sys/fs/cgroup$CG/pids.max 2>&1)"
t_ok "update --memory 64M --pids-limit 30" R update --memory 67108864 --pids-limit 30 sd1
t_eq "memory.max updated" 67108864 "$(cat /sys/fs/cgroup$CG/memory.max 2>&1)"
t_eq "MemoryMax property updated" 67108864 "$(prop capsule-sd1.scope MemoryMax)"
t_ok "daemon-reload after update" systemctl daemon-reload
t_eq "the updated memory.max survives it" 67108864 "$(cat /sys/fs/cgroup$CG/memory.max 2>&1)"
t_eq "the updated pids.max survives it" 30 "$(cat /sys/fs/cgroup$CG/pids.max 2>&1)"
t_ok "start" R start sd1
t_eq "running" running "$(R state sd1 | jq -r .status)"
t_eq "still one process in the scope, sleep" sleep "$(cat /proc/$(cat /sys/fs/cgroup$CG/cgroup.procs)/comm 2>&1)"
t_ok "delete -f" R delete -f sd1
t_fails "unit gone after delete" systemctl is-active --quiet capsule-sd1.scope
t_eq "cgroup gone after delete" no "$([ -d /sys/fs/cgroup$CG ] && echo yes || echo no)"

# --- nested slices, kubelet style ---
cfg_set "$B" '.linux.cgroupsPath="kubepods-besteffort-podabc.slice:cri-containerd:sd2" | .linux.resources={}'
t_ok "create in kubepods-besteffort-podabc.slice" R create -b "$B" sd2
CG2=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podabc.slice/cri-containerd-sd2.scope
t_eq "scope active" active "$(systemctl is-active cri-containerd-sd2.scope 2>&1)"
t_eq "scope's ControlGroup nests the slices" "$CG2" "$(prop cri-containerd-sd2.scope ControlGroup)"
t_eq "the slice is a unit too" active "$(systemctl is-active kubepods-besteffort-podabc.slice 2>&1)"
pid2=$(R state sd2 | jq -r .pid)
t_eq "init in the nested scope" "0::$CG2" "$(cat /proc/$pid2/cgroup 2>&1)"
t_ok "delete -f (created, never started)" R delete -f sd2
t_fails "nested scope gone" systemctl is-active --quiet cri-containerd-sd2.scope

# --- a refused create leaves no unit behind ---
cfg_set "$B" '.linux.cgroupsPath="machine.slice:capsule:sd3" | .process.args=["/no/such/binary"]'
t_fails "run of a missing binary fails" R run -b "$B" sd3
t_fails "no unit left after the failed run" systemctl is-active --quiet capsule-sd3.scope
t_eq "no state left" "" "$(R list -q 2>/dev/null)"

# --- the same unit name twice: systemd's refusal comes back clearly ---
cfg_set "$B" '.linux.cgroupsPath="machine.slice:capsule:dup" | .process.args=["/bin/sleep","1000"]'
t_ok "first container with unit capsule-dup.scope" R create -b "$B" sd1
out=$(R create -b "$B" sd3 2>&1); rc=$?
t_eq "second create into the same (busy) scope is refused" 1 "$rc"
t_match "... naming the unit" "capsule-dup.scope" "$out"
t_eq "... and the first is untouched" active "$(systemctl is-active capsule-dup.scope 2>&1)"
R delete -f sd3 >/dev/null 2>&1
t_ok "delete the first" R delete -f sd1
t_fails "its unit gone" systemctl is-active --quiet capsule-dup.scope

# --- the same config under runc (reference): the same unit properties ---
if command -v runc >/dev/null; then
  cfg_set "$B" '.linux.cgroupsPath="machine.slice:ref:rc" | .process.args=["/bin/sleep","1000"] | .linux.resources={"memory":{"limit":33554432,"reservation":16777216,"swap":67108864},"pids":{"limit":20},"cpu":{"quota":25000,"period":50000,"shares":2048,"cpus":"0-1","mems":"0"},"blockIO":{"weight":500}}'
  runc --root "$T_TMP/runc" --systemd-cgroup create -b "$B" rc >"$T_TMP/runc.out" 2>&1 || sed 's/^/    runc: /' "$T_TMP/runc.out"
  cfg_set "$B" '.linux.cgroupsPath="machine.slice:ref:cr"'
  t_ok "create the same config with --systemd-cgroup" R create -b "$B" cr
  props=Slice,Delegate,DefaultDependencies,MemoryMax,MemoryLow,MemorySwapMax,TasksMax,CPUQuotaPerSecUSec,CPUQuotaPeriodUSec,CPUWeight,AllowedCPUs,AllowedMemoryNodes,MemoryAccounting,CPUAccounting,TasksAccounting
  want=$(systemctl show -p "$props" ref-rc.scope 2>&1 | sort)
  got=$(systemctl show -p "$props" ref-cr.scope 2>&1 | sort)
  t_match "runc made its scope (reference)" "Slice=machine.slice" "$want"
  echo "# runc: $(echo $want)"
  t_eq "unit properties as runc's ($props)" "$want" "$got"
  # runc 1.1 leaves the io weight out of the unit (so a daemon-reload resets
  # its io.weight to systemd's default); we pass it
  t_eq "IOWeight passed too (blkio weight 500)" 4950 "$(prop ref-cr.scope IOWeight)"
  files="memory.max memory.low memory.swap.max pids.max cpu.max cpu.weight cpuset.cpus cpuset.mems io.weight"
  ours=$(cd /sys/fs/cgroup/machine.slice/ref-cr.scope && cat $files 2>&1)
  t_eq "cgroup files as runc's ($files)" "$(cd /sys/fs/cgroup/machine.slice/ref-rc.scope && cat $files 2>&1)" "$ours"
  t_ok "daemon-reload" systemctl daemon-reload
  t_eq "... ours unchanged by a daemon-reload" "$ours" "$(cd /sys/fs/cgroup/machine.slice/ref-cr.scope && cat $files 2>&1)"
  echo "# runc's after the reload: $(cd /sys/fs/cgroup/machine.slice/ref-rc.scope && cat $files 2>&1 | tr '\n' ' ')"
  runc --root "$T_TMP/runc" delete -f rc >/dev/null 2>&1
  t_ok "delete" R delete -f cr
else
  t_skip "runc not in the VM: no reference run"
fi

# --- without --systemd-cgroup: a plain cgroup, nothing registered ---
cfg_set "$B" '.linux.cgroupsPath="/plain-sd4"'
t_ok "create without --systemd-cgroup" "$RUNTIME" --root "$ROOT" create -b "$B" sd4
t_eq "cgroupfs path used" "0::/plain-sd4" "$(cat /proc/$("$RUNTIME" --root "$ROOT" state sd4 | jq -r .pid)/cgroup)"
t_match "systemd has no unit for it" "^$|not-found|inactive" "$(systemctl list-units --all --no-legend 2>/dev/null | grep -F sd4)"
t_ok "delete" "$RUNTIME" --root "$ROOT" delete -f sd4
t_done
