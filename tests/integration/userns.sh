#!/bin/bash
# User namespaces as root without newuidmap: uid/gid maps, ownership of files
# written through bind mounts, /sys and /dev under a userns, exec joining the
# userns, and idmapped mounts (mount option "idmap" with the mount's mappings).
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
[ -e /proc/self/ns/user ] || t_skip_all "no user namespaces"

ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" "$@"; }
B=$T_TMP/bundle
VOL=$T_TMP/vol
chmod 755 "$T_TMP"   # container root (host uid 100000) must reach the bundle
mkdir -p "$VOL"; chmod 777 "$VOL"; touch "$VOL/hostfile"   # owned by host root
mk_bundle "$B" /bin/sleep 1000
chown -R 100000:100000 "$B/rootfs"
MAP='[{"containerID":0,"hostID":100000,"size":65536}]'
cfg_set "$B" '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=$m | .linux.gidMappings=$m
  | .mounts += [{"destination":"/vol","type":"bind","source":$v,"options":["rbind","rw"]}]
  | .linux.devices=[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}]' --argjson m "$MAP" --arg v "$VOL"

id=uns-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
t_ok "run -d with a user namespace" R run -d -b "$B" "$id"
pid=$(R state "$id" | jq .pid)
t_eq "container root is host uid 100000 (/proc/PID/status on the host)" "100000" "$(awk '/^Uid:/{print $2}' /proc/$pid/status)"
t_eq "and host gid 100000" "100000" "$(awk '/^Gid:/{print $2}' /proc/$pid/status)"
t_eq "uid_map as configured" "0 100000 65536" "$(tr -s ' ' </proc/$pid/uid_map | sed 's/^ //')"
t_eq "init is in its own user namespace" 1 "$([ "$(readlink /proc/$pid/ns/user)" != "$(readlink /proc/self/ns/user)" ] && echo 1)"
t_eq "exec joins the user namespace: id -u is 0" 0 "$(R exec "$id" id -u 2>&1)"
t_ok "exec writes a file through the bind mount" R exec "$id" /bin/sh -c 'echo x >/vol/made-inside'
t_eq "file made inside is owned by host uid 100000" "100000:100000" "$(stat -c %u:%g "$VOL/made-inside" 2>&1)"
t_eq "host root's file shows as overflow uid inside (no idmap)" 65534 "$(R exec "$id" stat -c %u /vol/hostfile 2>&1)"
t_match "devices: /dev/fuse bind-mounted from the host (no mknod in a userns)" "^c" "$(R exec "$id" stat -c %A /dev/fuse 2>&1)"
t_match "devices: /dev/null usable" "^$" "$(R exec "$id" /bin/sh -c 'echo gone >/dev/null' 2>&1)"
t_match "/proc mounted" "proc on /proc" "$(R exec "$id" mount 2>&1)"
t_match "/sys mounted read-only" "sysfs on /sys type sysfs \(ro" "$(R exec "$id" mount 2>&1)"
t_fails "container root cannot write host-owned /proc/sys/kernel/hostname of the host" \
  R exec "$id" /bin/sh -c 'echo pwned >/proc/sys/kernel/hostname'
t_eq "host hostname unchanged" "$(hostname)" "$(cat /proc/sys/kernel/hostname)"
R delete --force "$id" >/dev/null 2>&1

# Without a network namespace sysfs cannot be mounted in a userns: the host /sys is bound read-only.
cfg_set "$B" '.linux.namespaces |= map(select(.type!="network")) | .process.args=["/bin/sh","-c","mount | grep \" /sys \"; ls /sys/class/net | head -1; echo x >/sys/kernel/uevent_helper 2>&1 || echo ro-ok"]'
out=$(R run -b "$B" "$id" 2>&1)
t_match "userns without netns: /sys is there" "on /sys type sysfs" "$out"
t_match "userns without netns: /sys read-only" "ro-ok" "$out"

# Joining a host-owned network namespace together with a new user namespace (runc's order).
if command -v ip >/dev/null && ip netns add "capsule-uns-$$" 2>/dev/null; then
  t_cleanup "ip netns del capsule-uns-$$"
  nsino=$(stat -L -c %i "/var/run/netns/capsule-uns-$$")
  cfg_set "$B" '.linux.namespaces += [{"type":"network","path":$p}] | .process.args=["/bin/sh","-c","stat -L -c %i /proc/self/ns/net; id -u"]' \
    --arg p "/var/run/netns/capsule-uns-$$"
  out=$(R run -b "$B" "$id" 2>&1)
  t_match "userns + joined netns path: in that netns" "^$nsino" "$out"
  t_match "userns + joined netns path: still root in its userns" "0$" "$out"
  cfg_set "$B" '.linux.namespaces |= map(select(.type!="network"))'
else
  t_skip "cannot create a test network namespace"
fi

# Time namespace offsets written from inside a new user namespace.
if [ -e /proc/self/timens_offsets ]; then
  cfg_set "$B" '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets={"boottime":{"secs":864000}} | .process.args=["/bin/sh","-c","cut -d. -f1 /proc/uptime"]'
  host_up=$(cut -d. -f1 /proc/uptime); in_up=$(R run -b "$B" "$id" 2>&1)
  t_ok "userns + time namespace: boottime offset applied ($host_up -> $in_up)" test "$((in_up - host_up))" -ge 863990
  cfg_set "$B" '.linux.namespaces |= map(select(.type!="time")) | del(.linux.timeOffsets)'
fi

# --- idmapped mounts -----------------------------------------------------------
cfg_set "$B" '.mounts += [{"destination":"/idm","type":"bind","source":$v,"options":["rbind","rw","idmap"],"uidMappings":$m,"gidMappings":$m}]
  | .process.args=["/bin/sh","-c","stat -c %u:%g /idm/hostfile; echo y >/idm/via-idmap; mount | grep \" /idm \""]' --argjson m "$MAP" --arg v "$VOL"
out=$(R run -b "$B" "$id" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"may not support idmapped"* ]]; then
  t_skip "filesystem of $VOL does not support idmapped mounts"
else
  t_eq "idmapped run exits 0" 0 $rc
  t_match "idmapped mount: host root's file is owned by container root" "^0:0" "$out"
  t_match "mount shows idmapped" "idmapped" "$out"
  t_eq "file written through the idmapped mount is host root's on disk" "0:0" "$(stat -c %u:%g "$VOL/via-idmap" 2>&1)"
fi
# idmap without mappings is refused before anything starts
cfg_set "$B" '.mounts |= map(if .destination=="/idm" then del(.uidMappings) else . end)'
t_match "idmap mount without mappings refused" "needs uidMappings" "$(R run -b "$B" "$id" 2>&1)"
t_eq "nothing left behind" "" "$(ls "$ROOT" 2>/dev/null)"
t_done
