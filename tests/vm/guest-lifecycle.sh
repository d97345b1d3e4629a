#!/bin/bash
# Runs inside the cgroup-v2 VM: a busybox container's life under $RUNTIME on
# a pure unified hierarchy — create/start/state/kill/delete with cgroupsPath,
# memory.max / pids.max / cpu.max written, init born inside its cgroup, the
# limits enforced from inside, pause/resume through cgroup.freeze, and the
# cgroup removed on delete.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not found: $RUNTIME"
{ [ -f /sys/fs/cgroup/cgroup.controllers ] && ! grep -q " cgroup " /proc/mounts; } || t_skip_all "not a pure cgroup v2 host"
ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" "$@"; }
B=$T_TMP/bundle
mk_bundle "$B" /bin/sleep 1000 || t_skip_all "could not make a bundle with $RUNTIME spec"
CG=$T_CGROUP_PARENT/vm-life-$$
cfg_set "$B" '.linux.cgroupsPath=$cg | .linux.resources={"memory":{"limit":33554432,"swap":33554432},"pids":{"limit":20},"cpu":{"quota":50000,"period":100000}}' --arg cg "$CG"
id=life-$$
t_cleanup "R delete -f $id"

t_ok "create" R create -b "$B" "$id"
st=$(R state "$id" 2>/dev/null | jq -r .status)
t_eq "state: created" created "$st"
[ "$st" = created ] || { echo "# create failed: the rest depends on it"; t_done; }
pid=$(R state "$id" | jq -r .pid)
t_eq "cgroup dir exists" yes "$([ -d /sys/fs/cgroup$CG ] && echo yes || echo no)"
t_eq "init is in the cgroup (cgroup v2 line)" "0::$CG" "$(cat /proc/$pid/cgroup 2>&1)"
t_eq "memory.max" 33554432 "$(cat /sys/fs/cgroup$CG/memory.max 2>&1)"
t_eq "memory.swap.max (swap - limit)" 0 "$(cat /sys/fs/cgroup$CG/memory.swap.max 2>&1)"
t_eq "pids.max" 20 "$(cat /sys/fs/cgroup$CG/pids.max 2>&1)"
t_eq "cpu.max" "50000 100000" "$(cat /sys/fs/cgroup$CG/cpu.max 2>&1)"
t_match "parent delegates memory/pids/cpu" "cpu.*memory.*pids|memory.*pids.*cpu|cpu.*pids.*memory" \
  "$(cat /sys/fs/cgroup$T_CGROUP_PARENT/cgroup.subtree_control 2>&1)"
t_ok "start" R start "$id"
t_eq "state: running" running "$(R state "$id" | jq -r .status)"
t_eq "init exec'd sleep" sleep "$(cat /proc/$pid/comm)"
t_eq "exactly the init in cgroup.procs" "$pid" "$(cat /sys/fs/cgroup$CG/cgroup.procs)"

# Limits enforced from inside (memory first: the fork test fills pids.max).
R exec "$id" /bin/sh -c 'a=$(head -c 100000000 /dev/zero | tr "\\0" x); echo survived ${#a}' >"$T_TMP/oom" 2>&1; rc=$?
t_eq "memory.max: 100 MiB in a 32 MiB cgroup is OOM-killed (137)" 137 $rc
[ $rc = 137 ] || sed "s/^/    /" "$T_TMP/oom" | head -5
t_match "memory.events counts the OOM kill" "oom_kill [1-9]" "$(cat /sys/fs/cgroup$CG/memory.events)"
t_eq "container survives an exec's OOM" running "$(R state "$id" | jq -r .status)"

out=$(R exec "$id" /bin/sh -c 'i=0; while [ $i -lt 40 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo spawned' 2>&1)
t_match "pids.max stops fork bombs inside (fork fails)" "(can't fork|Resource temporarily unavailable|Cannot allocate)" "$out"
t_match "pids.events counts the refusals" "max [1-9]" "$(cat /sys/fs/cgroup$CG/pids.events)"
# the sleeps hold the pids for 5 s; exec needs a free pid
sleep 5.5

# Freeze via cgroup.freeze.
t_ok "pause" R pause "$id"
t_eq "state: paused" paused "$(R state "$id" | jq -r .status)"
t_eq "cgroup.freeze = 1" 1 "$(cat /sys/fs/cgroup$CG/cgroup.freeze)"
t_match "cgroup.events: frozen 1" "frozen 1" "$(cat /sys/fs/cgroup$CG/cgroup.events)"
t_ok "resume" R resume "$id"
t_eq "state: running after resume" running "$(R state "$id" | jq -r .status)"
t_match "cgroup.events: frozen 0" "frozen 0" "$(cat /sys/fs/cgroup$CG/cgroup.events)"

# update: raise pids.max live.
echo '{"pids":{"limit":64}}' >"$T_TMP/res.json"
t_ok "update --resources" R update --resources "$T_TMP/res.json" "$id"
t_eq "pids.max after update" 64 "$(cat /sys/fs/cgroup$CG/pids.max 2>&1)"

t_ok "kill KILL" R kill "$id" KILL
for i in $(seq 50); do [ "$(R state "$id" 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.1; done
t_eq "state: stopped" stopped "$(R state "$id" | jq -r .status)"
t_ok "delete" R delete "$id"
t_eq "cgroup removed on delete" gone "$([ -d /sys/fs/cgroup$CG ] && echo still-there || echo gone)"
t_fails "state after delete fails" R state "$id"

# run: exit code and a cgroup per run.
cfg_set "$B" '.process.args=["/bin/sh","-c","cat /proc/self/cgroup; exit 3"]'
out=$(R run -b "$B" "run-$$" 2>&1); rc=$?
t_eq "run: exit code 3" 3 $rc
t_eq "run: /proc/self/cgroup inside (cgroup namespace or full path)" 1 "$(printf '%s\n' "$out" | grep -cE '^0::/')"
t_done
