#!/bin/bash
# Idmapped mounts beyond bind mounts (runtime-spec 1.2: uid/gidMappings on any
# mount type): a tmpfs made with fsopen/fsmount and idmapped with the mount's
# mappings (Linux >= 6.3), with and without a container user namespace; a
# filesystem the kernel cannot idmap is refused with a clear error.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
chmod 755 "$T_TMP"
it_setup "" /bin/sleep 1000
MAP='[{"containerID":0,"hostID":100000,"size":65536}]'
# idt TYPE: an idmapped TYPE mount at /idt, root inode owned by 1000:1000 on disk.
idt() {
  cfg_set "$B" '.mounts = (.mounts|map(select(.destination!="/idt"))) + [{"destination":"/idt","type":$t,"source":$t,
    "options":["idmap","nosuid","nodev","uid=1000","gid=1000","mode=755","size=1m"],"uidMappings":$m,"gidMappings":$m}]' \
    --argjson m "$MAP" --arg t "$1"
}
id=idm-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"

# --- no user namespace: on-disk 1000 shows as 101000 through the mapping ---------
idt tmpfs
R run -d -b "$B" "$id" </dev/null >"$T_TMP/run.out" 2>&1; rc=$?; out=$(cat "$T_TMP/run.out")
if [ $rc -ne 0 ] && [[ "$out" == *"cannot idmap a tmpfs"* ]]; then
  t_skip_all "kernel $(uname -r) cannot idmap tmpfs (needs 6.3): $out"
fi
t_eq "run -d with an idmapped tmpfs (no user namespace)" 0 $rc
[ $rc -eq 0 ] || echo "    $out"
mi=$(R exec "$id" grep " /idt " /proc/self/mountinfo 2>&1)
t_match "mountinfo: /idt is an idmapped tmpfs" "idmapped.* - tmpfs " "$mi"
t_match "the filesystem options reached tmpfs (size, mode, uid)" "size=1024k,mode=755,uid=1000,gid=1000" "$mi"
t_match "per-mount flags applied (nosuid, nodev)" "nosuid,nodev" "$mi"
t_eq "root inode (on disk 1000:1000) seen through the idmap as 101000:101000" "101000:101000" "$(R exec "$id" stat -c %u:%g /idt 2>&1)"
t_match "host root is outside the mapping: cannot create there (EOVERFLOW)" "Value too large" \
  "$(R exec "$id" touch /idt/byroot 2>&1)"
t_ok "uid 101000 (on disk 1000, the owner) creates a file" R exec --user 101000:101000 "$id" touch /idt/byowner
t_eq "... owned by 101000 as seen through the mount" "101000:101000" "$(R exec "$id" stat -c %u:%g /idt/byowner 2>&1)"
R delete --force "$id" >/dev/null 2>&1

# --- with the container's own user namespace (same mapping): on-disk ids show as themselves ---
chown -R 100000:100000 "$B/rootfs"
cfg_set "$B" '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=$m | .linux.gidMappings=$m' --argjson m "$MAP"
t_ok "run -d with an idmapped tmpfs and a user namespace" R run -d -b "$B" "$id" </dev/null
t_eq "inside the user namespace: on-disk 1000:1000 is 1000:1000" "1000:1000" "$(R exec "$id" stat -c %u:%g /idt 2>&1)"
t_ok "uid 1000 inside (the owner) writes into it" R exec --user 1000:1000 "$id" touch /idt/byuser
t_eq "... its file is 1000:1000 inside" "1000:1000" "$(R exec "$id" stat -c %u:%g /idt/byuser 2>&1)"
t_ok "container root with CAP_DAC_OVERRIDE writes into it (1000 is mapped)" R exec --cap CAP_DAC_OVERRIDE "$id" touch /idt/byroot
t_eq "... its file is 0:0 inside" "0:0" "$(R exec "$id" stat -c %u:%g /idt/byroot 2>&1)"
R delete --force "$id" >/dev/null 2>&1
cfg_set "$B" '.linux.namespaces |= map(select(.type!="user")) | del(.linux.uidMappings) | del(.linux.gidMappings)'
chown -R 0:0 "$B/rootfs"

# --- what cannot be idmapped ---------------------------------------------------------
idt ramfs
out=$(R run -b "$B" "$id" 2>&1); rc=$?
if [ $rc -eq 0 ]; then
  t_pass "ramfs idmapped on this kernel (it learnt to)"
else
  t_match "ramfs (no idmap support in the kernel): clear error" "idmap mount \`/idt\`: this kernel cannot idmap a ramfs filesystem" "$out"
fi
t_eq "nothing left behind" "" "$(ls "$ROOT" 2>/dev/null)"
cfg_set "$B" '.mounts |= map(if .destination=="/idt" then .type="none" | .source="none" else . end)'
t_match "idmap without a filesystem type nor bind: refused" "needs a filesystem type or the bind option" "$(R run -b "$B" "$id" 2>&1)"
cfg_set "$B" '.mounts |= map(if .destination=="/idt" then .type="tmpfs" | del(.gidMappings) else . end)'
t_match "idmapped tmpfs without gidMappings: refused" "needs uidMappings and gidMappings" "$(R run -b "$B" "$id" 2>&1)"
t_done
