#!/bin/bash
# Linux extras of the runtime spec: timeOffsets (time namespace), personality,
# ioPriority, scheduler, and the LSM / intelRdt fields on a host without them.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "" /bin/true
inside() { cfg_set "$B" '.process.args=["/bin/sh","-c",$c]' --arg c "$1"; R run -b "$B" "lx-$$-$RANDOM" 2>&1; }

# --- time namespace + offsets ---------------------------------------------------
if [ -e /proc/self/timens_offsets ]; then
  cfg_set "$B" '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets={"boottime":{"secs":864000,"nanosecs":0},"monotonic":{"secs":3600,"nanosecs":5}}'
  host_up=$(cut -d. -f1 /proc/uptime)
  in_up=$(inside 'cut -d. -f1 /proc/uptime')
  t_ok "boottime offset shows in /proc/uptime ($host_up -> $in_up)" test "$((in_up - host_up))" -ge 863990 -a "$((in_up - host_up))" -le 864010
  t_match "timens_offsets inside" "monotonic +3600 +5" "$(inside 'cat /proc/self/timens_offsets | tr -s " "')"
  t_eq "the container has its own time namespace" 1 "$(inside "[ \$(readlink /proc/1/ns/time) != $(readlink /proc/self/ns/time) ] && echo 1")"
  cfg_set "$B" '.linux.namespaces |= map(select(.type!="time"))'
  out=$(inside true); t_match "timeOffsets without a time namespace is refused" "time namespace isn't enabled" "$out"
  cfg_set "$B" 'del(.linux.timeOffsets)'
else
  t_skip "no time namespaces in this kernel"
fi

# --- personality, ioPriority, scheduler ---------------------------------------------
cfg_set "$B" '.linux.personality={"domain":"LINUX32"}'
t_eq "personality LINUX32: uname -m says i686" i686 "$(inside 'uname -m')"
cfg_set "$B" 'del(.linux.personality)'
# /proc/self/io has no ioprio; read it with ionice if busybox has it, else from the syscall via /proc/PID/sched? use ionice.
if busybox --list | grep -qx ionice; then
  cfg_set "$B" '.process.ioPriority={"class":"IOPRIO_CLASS_IDLE","priority":0}'
  t_match "ioPriority idle" "idle" "$(inside 'ionice')"
  cfg_set "$B" '.process.ioPriority={"class":"IOPRIO_CLASS_BE","priority":6}'
  t_match "ioPriority best-effort 6" "best-effort: prio 6" "$(inside 'ionice')"
  cfg_set "$B" 'del(.process.ioPriority)'
else
  cfg_set "$B" '.process.ioPriority={"class":"IOPRIO_CLASS_IDLE","priority":0} | .process.args=["/bin/sleep","30"]'
  id=io-$$; R run -d -b "$B" "$id"; pid=$(R state "$id" | jq .pid)
  t_match "ioPriority idle (host ionice)" "idle" "$(ionice -p "$pid" 2>&1)"
  R delete -f "$id"; cfg_set "$B" 'del(.process.ioPriority)'
fi
cfg_set "$B" '.process.scheduler={"policy":"SCHED_BATCH","nice":7}'
t_eq "scheduler SCHED_BATCH (policy 3 in /proc/self/sched)" 3 "$(inside 'grep -E "^policy" /proc/self/sched | tr -dc 0-9')"
t_eq "scheduler nice 7" 7 "$(inside 'cut -d" " -f19 /proc/self/stat')"
cfg_set "$B" '.process.scheduler={"policy":"SCHED_NOPE"}'
t_match "unknown scheduler policy refused" "unknown.*policy" "$(inside true)"
cfg_set "$B" 'del(.process.scheduler)'

# --- LSMs and intelRdt on a host without them ---------------------------------------
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]; then
  cfg_set "$B" '.process.apparmorProfile="capsule-test-profile"'
  t_eq "apparmorProfile is ignored without AppArmor (runc)" ok "$(inside 'echo ok')"
  cfg_set "$B" 'del(.process.apparmorProfile)'
else
  t_skip "AppArmor is active on this host"
fi
if [ ! -e /sys/fs/selinux/enforce ]; then
  cfg_set "$B" '.process.selinuxLabel="system_u:system_r:container_t:s0"'
  t_match "selinuxLabel without SELinux: runc's error" "selinux label is specified in config, but selinux is disabled or not supported" "$(inside true)"
  cfg_set "$B" 'del(.process.selinuxLabel) | .linux.mountLabel="system_u:object_r:container_file_t:s0"'
  t_eq "mountLabel is ignored without SELinux (runc)" ok "$(inside 'echo ok')"
  cfg_set "$B" 'del(.linux.mountLabel)'
fi
if [ ! -e /sys/fs/resctrl/info ]; then
  cfg_set "$B" '.linux.intelRdt={"closID":"capsule","l3CacheSchema":"L3:0=f"}'
  t_match "intelRdt without resctrl: clear error" "intelRdt is specified but the host has no resctrl" "$(inside true)"
  t_eq "nothing left behind after the refusal" "" "$(ls "$ROOT" 2>/dev/null)"
  cfg_set "$B" 'del(.linux.intelRdt)'
fi
t_done
