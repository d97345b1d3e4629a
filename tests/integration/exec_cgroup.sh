#!/bin/bash
# exec joins every cgroup of the container before the exec'd program runs:
# on v1/hybrid by a self-join of the v1 hierarchies (pid 0 written to each
# `tasks` file from the child, no cgroup.procs RCU wait), v2/unified by
# CLONE_INTO_CGROUP; with --ignore-paused (frozen cgroup) the runtime moves it.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "" /bin/sleep 1000
# no cgroup namespace: the full paths are visible inside and comparable outside
cfg_set "$B" '.linux.namespaces |= map(select(.type != "cgroup")) | .linux.resources={"pids":{"limit":50}}'
id=excg-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
t_ok "run -d" R run -d -b "$B" "$id"
pid=$(R state "$id" | jq -r .pid)
init_cg=$(sort /proc/$pid/cgroup)
nh=$(printf '%s\n' "$init_cg" | wc -l)
echo "# host cgroup layout: $nh hierarchies"

# The first thing the exec'd program sees is its full membership.
t_eq "exec: /proc/self/cgroup = init's, every hierarchy" "$init_cg" "$(R exec "$id" cat /proc/self/cgroup | sort)"
# Children of the exec'd process stay there too (the whole process moved, not a thread).
t_eq "exec: a child of the exec'd process is in the same cgroups" "$init_cg" "$(R exec "$id" sh -c 'cat /proc/self/cgroup' | sort)"
t_ok "exec --detach --pid-file" R exec -d --pid-file "$T_TMP/ex.pid" "$id" sleep 30
xp=$(cat "$T_TMP/ex.pid" 2>/dev/null)
t_eq "exec --detach: host view of the process's cgroups" "$init_cg" "$(sort /proc/$xp/cgroup 2>&1)"
t_match "the pids controller counts exec'd processes" "^[2-9]" "$(cat /sys/fs/cgroup/pids$(sed -n 's/^[0-9]*:pids://p' /proc/$pid/cgroup)/pids.current 2>/dev/null || cat /sys/fs/cgroup/unified$(sed -n 's/^0:://p' /proc/$pid/cgroup)/pids.current 2>/dev/null)"

# Paused container: --ignore-paused takes the runtime-moves-it path.
t_ok "pause" R pause "$id"
t_ok "exec --ignore-paused --detach into the frozen container" R exec --ignore-paused -d --pid-file "$T_TMP/ex2.pid" "$id" sleep 30
xp2=$(cat "$T_TMP/ex2.pid" 2>/dev/null)
t_eq "exec --ignore-paused: process in every cgroup" "$init_cg" "$(sort /proc/$xp2/cgroup 2>&1)"
t_ok "resume" R resume "$id"
t_ok "exec after resume" R exec "$id" true
t_done
