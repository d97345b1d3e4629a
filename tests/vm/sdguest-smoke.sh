#!/bin/bash
# Runs inside the systemd VM (systemd.sh): proves the VM is what the
# --systemd-cgroup tests need — systemd is PID 1 and has finished booting, its
# private bus socket answers, transient scopes (Delegate=yes, in system.slice,
# machine.slice and a slice without a unit file) get their cgroup on the
# unified hierarchy and go away when empty — and that the runtime runs a plain
# busybox container (cgroupfs driver) beside systemd.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox systemctl systemd-run
[ "$(cat /proc/1/comm)" = systemd ] || t_skip_all "PID 1 is $(cat /proc/1/comm), not systemd"

t_eq "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
state=$(systemctl is-system-running 2>&1)
echo "# systemctl is-system-running: $state"
t_match "systemctl is-system-running answers running/degraded" '^(running|degraded)$' "$state"
t_eq "/run/systemd/private is a socket" yes "$([ -S /run/systemd/private ] && echo yes || echo no)"
t_eq "cgroup2 mounted by systemd at /sys/fs/cgroup" cgroup2 "$(awk '$2=="/sys/fs/cgroup" {print $3}' /proc/mounts)"
t_eq "this script runs in the test service's cgroup" "0::/system.slice/capsule-vm-test.service" "$(cat /proc/self/cgroup)"
echo "# root subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "# system.slice subtree_control: $(cat /sys/fs/cgroup/system.slice/cgroup.subtree_control)"

# scope_check NAME SLICE CGDIR: a transient scope holding a sleep, seen in the
# cgroup tree and by systemctl, delegated, and gone once the sleep ends.
scope_check() {
  local unit=$1 slice=$2 dir=/sys/fs/cgroup$3 pid i
  systemd-run --quiet --scope --unit="$unit" ${slice:+--slice="$slice"} -p Delegate=yes \
    /bin/sleep 4 >"$T_TMP/$unit.out" 2>&1 &
  pid=$!
  for i in $(seq 50); do [ -d "$dir" ] && grep -q . "$dir/cgroup.procs" 2>/dev/null && break; sleep 0.1; done
  t_eq "$unit.scope: cgroup at ${dir#/sys/fs/cgroup}" yes "$([ -d "$dir" ] && echo yes || echo no)"
  t_match "$unit.scope: holds the sleep" "[0-9]" "$(cat "$dir/cgroup.procs" 2>/dev/null)"
  t_eq "$unit.scope: systemctl says active" active "$(systemctl is-active "$unit.scope" 2>&1)"
  t_eq "$unit.scope: Delegate=yes" yes "$(systemctl show -P Delegate "$unit.scope" 2>&1)"
  t_eq "$unit.scope: ControlGroup property" "${3}" "$(systemctl show -P ControlGroup "$unit.scope" 2>&1)"
  t_eq "$unit.scope: delegated cgroup owned by root, writable" yes "$([ -w "$dir/cgroup.subtree_control" ] && echo yes || echo no)"
  wait "$pid"; t_eq "$unit.scope: systemd-run exit status" 0 "$?"
  sed 's/^/    /' "$T_TMP/$unit.out"
  for i in $(seq 50); do [ -d "$dir" ] || break; sleep 0.1; done
  t_eq "$unit.scope: cgroup removed when empty" gone "$([ -d "$dir" ] && echo present || echo gone)"
}
scope_check smoke-t "" /system.slice/smoke-t.scope
scope_check smoke-m machine.slice /machine.slice/smoke-m.scope
scope_check smoke-k kubepods.slice /kubepods.slice/smoke-k.scope

# The runtime beside systemd, cgroupfs driver (no --systemd-cgroup).
ROOT=$T_TMP/root
B=$T_TMP/bundle
mk_bundle "$B" /bin/sh -c 'echo hello-from-busybox; cat /proc/self/cgroup' || t_skip_all "could not make a bundle with $RUNTIME spec"
out=$("$RUNTIME" --root "$ROOT" run -b "$B" smoke-$$ 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
t_eq "runtime run: exit status" 0 "$rc"
t_match "runtime run: container printed its output" "hello-from-busybox" "$out"
"$RUNTIME" --root "$ROOT" delete -f smoke-$$ >/dev/null 2>&1
t_done
