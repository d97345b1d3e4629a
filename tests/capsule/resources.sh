#!/bin/bash
# capsule/limits: a fork bomb is held by the pids limit, a memory bomb is
# OOM-killed inside the capsule only, cpu quota applied.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check

cg_of() { jq -r '.linux.cgroupsPath' "$1/config.json"; }
# cgroup file of a controller, v1/hybrid or v2.
cg_file() {
  local ctl=$1 path=$2 v1=$3 v2=$4
  if [ -d "/sys/fs/cgroup/$ctl" ]; then echo "/sys/fs/cgroup/$ctl$path/$v1"; else echo "/sys/fs/cgroup$path/$v2"; fi
}

# --- fork bomb ------------------------------------------------------------
B="$T_TMP/bomb"
capsule_bundle "$B" /bin/sh -c 'bomb() { bomb | bomb & }; bomb; sleep 1000'
cfg_set "$B" '.annotations["capsule/limits"]="pids=32"'
ID=$(t_id bomb)
t_ok "fork bomb capsule created" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
t_ok "fork bomb started" R start "$ID"
CG=$(cg_of "$B")
sleep 3
MAX=$(cat "$(cg_file pids "$CG" pids.max pids.max)" 2>/dev/null)
CUR=$(cat "$(cg_file pids "$CG" pids.current pids.current)" 2>/dev/null)
EV=$(cat "$(cg_file pids "$CG" pids.events pids.events)" 2>/dev/null | awk '$1=="max"{print $2}')
t_eq "pids.max from capsule/limits" 32 "$MAX"
# (the bomb may collapse back to its init once forks fail: only the bound is the claim)
if [ -n "$CUR" ] && [ "$CUR" -le 32 ] && [ "$CUR" -ge 1 ]; then t_pass "fork bomb held at $CUR <= 32 processes"; else t_fail "fork bomb held (pids.current [$CUR])"; fi
if [ -n "$EV" ] && [ "$EV" -gt 0 ]; then t_pass "forks refused by the pids limit ($EV times)"; else t_fail "forks refused (pids.events max [$EV])"; fi
t_ok "host still forks" /bin/true
t_ok "bomb killed" R kill "$ID" KILL
wait_stopped "$ID"
t_ok "bomb deleted" R delete -f "$ID"

# --- memory bomb ----------------------------------------------------------
B="$T_TMP/mem"
capsule_bundle "$B" /bin/sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd rc $?"; echo survivor alive'
cfg_set "$B" '.annotations["capsule/limits"]="memory=32Mi,cpu=0.5"'
ID=$(t_id mem)
t_ok "memory bomb capsule created" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
CG=$(cg_of "$B")
LIM=$(cat "$(cg_file memory "$CG" memory.limit_in_bytes memory.max)" 2>/dev/null)
t_eq "memory limit from capsule/limits" 33554432 "$LIM"
if [ -d /sys/fs/cgroup/cpu ]; then
  Q=$(cat "/sys/fs/cgroup/cpu$CG/cpu.cfs_quota_us" 2>/dev/null)
  P=$(cat "/sys/fs/cgroup/cpu$CG/cpu.cfs_period_us" 2>/dev/null)
  t_eq "cpu quota from capsule/limits (0.5 CPU)" "50000 100000" "$Q $P"
else
  t_eq "cpu.max from capsule/limits (0.5 CPU)" "50000 100000" "$(cat /sys/fs/cgroup$CG/cpu.max 2>/dev/null)"
fi
R start "$ID" >/dev/null 2>&1
wait_stopped "$ID"
OOMF=$(cg_file memory "$CG" memory.oom_control memory.events)
OOMS=$(awk '$1=="oom_kill"{print $2}' "$OOMF" 2>/dev/null)
R delete "$ID" >/dev/null 2>&1
# The log of a detached container is not kept: run it again in the foreground for the output.
OUT=$(R run -b "$B" "$(t_id mem2)" 2>&1)
t_match "memory bomb OOM-killed (SIGKILL)" "dd rc 137" "$OUT"
t_match "the rest of the capsule survives" "survivor alive" "$OUT"
if [ -n "$OOMS" ] && [ "$OOMS" -ge 1 ]; then t_pass "OOM kill counted in the capsule's cgroup ($OOMS)"; else t_fail "OOM kill counted ([$OOMS] in $OOMF)"; fi
t_ok "host unaffected" /bin/true

# --- annotations may not exceed the profile's bounds ----------------------
B="$T_TMP/big"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/limits"]="memory=64Gi"'
OUT=$(R run -b "$B" "$(t_id big)" 2>&1)
t_match "memory beyond the policy bound refused" "capsule/limits: .memory=64Gi.: memory exceeds the node policy bound memory=4Gi" "$OUT"
t_done
