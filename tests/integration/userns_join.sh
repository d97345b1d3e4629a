#!/bin/bash
# User namespaces joined by path (a pod's, made here with unshare): the
# namespaces the container creates must belong to that user namespace (else
# root inside could not sethostname or mount), a mount namespace joined by
# path together with it works like runc, and a joined mount namespace with a
# NEW user namespace is refused up front (runc fails later with EPERM).
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox unshare
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
[ -e /proc/self/ns/user ] || t_skip_all "no user namespaces"

ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" "$@"; }
chmod 755 "$T_TMP"   # container root (host uid 100000) must reach the bundle
B=$T_TMP/bundle
mk_bundle "$B" /bin/true
chown -R 100000:100000 "$B/rootfs"
MAP='[{"containerID":0,"hostID":100000,"size":65536}]'

# mk_pod_ns: a user namespace (0 -> 100000, 65536) owning a mount namespace,
# pinned by bind mounts of their nsfs files under $T_TMP/ns (a fresh pair each call:
# a container that joins the mount namespace pivots it into its rootfs).
NSN=0
mk_pod_ns() {
  NSN=$((NSN+1)); NSD=$T_TMP/ns$NSN
  mkdir -p "$NSD"; touch "$NSD/user" "$NSD/mnt"
  unshare -U -m --propagation slave sleep 100 & local hp=$!
  local i; for i in $(seq 50); do [ "$(readlink /proc/$hp/ns/user)" != "$(readlink /proc/self/ns/user)" ] && break; sleep 0.05; done
  echo '0 100000 65536' >/proc/$hp/uid_map && echo '0 100000 65536' >/proc/$hp/gid_map &&
    mount --bind /proc/$hp/ns/user "$NSD/user" && mount --bind /proc/$hp/ns/mnt "$NSD/mnt"
  local rc=$?
  kill $hp; wait $hp 2>/dev/null
  t_cleanup "umount '$NSD/user'; umount '$NSD/mnt'"
  return $rc
}
mk_pod_ns || t_skip_all "cannot make a user+mount namespace pair with unshare"
id=unsj-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"

# --- user namespace joined by path, everything else new ---------------------------
cfg_set "$B" '.linux.namespaces = (.linux.namespaces|map(select(.type!="user"))) + [{"type":"user","path":$u}]
  | .linux.uidMappings=$m | .linux.gidMappings=$m | .hostname="podhost" | .process.args=["/bin/sleep","1000"]' \
  --arg u "$NSD/user" --argjson m "$MAP"
t_ok "run -d joining a user namespace by path (new pid/mnt/uts/ipc/net)" R run -d -b "$B" "$id"
pid=$(R state "$id" 2>/dev/null | jq -r .pid)
t_eq "init is in the joined user namespace" "$(stat -L -c %i "$NSD/user")" "$(stat -L -c %i /proc/$pid/ns/user 2>&1)"
t_eq "init runs as host uid 100000 (container root)" 100000 "$(awk '/^Uid:/{print $2}' /proc/$pid/status)"
t_eq "hostname set: the new uts namespace belongs to the joined user namespace" podhost "$(R exec "$id" hostname 2>&1)"
t_eq "exec: root in the joined user namespace" 0 "$(R exec "$id" id -u 2>&1)"
t_eq "exec: uid_map is the pod's" "0 100000 65536" "$(R exec "$id" cat /proc/self/uid_map 2>&1 | tr -s ' ' | sed 's/^ //')"
t_match "root inside (CAP_SYS_ADMIN) can mount in its new mount namespace" "on /tmp type tmpfs" \
  "$(R exec --cap CAP_SYS_ADMIN "$id" /bin/sh -c 'mount -t tmpfs x /tmp && mount | grep " /tmp "' 2>&1)"
t_eq "pid namespace: init is pid 1" 1 "$(R exec "$id" /bin/sh -c 'cat /proc/1/cmdline | tr "\0" " " | grep -c "sleep 1000"' 2>&1)"
R delete --force "$id" >/dev/null 2>&1
if REF=$(command -v runc); then
  probe='id -u; hostname; cat /proc/self/uid_map | tr -s " "; stat -L -c %i /proc/self/ns/user'
  cfg_set "$B" '.process.args=["/bin/sh","-c",$p]' --arg p "$probe"
  ours=$(R run -b "$B" "$id" 2>&1); theirs=$("$REF" --root "$T_TMP/root-ref" run -b "$B" "$id-ref" 2>&1)
  t_cleanup "'$REF' --root '$T_TMP/root-ref' delete --force $id-ref"
  t_eq "joined user namespace: same view as under runc (uid, hostname, uid_map, userns)" "$theirs" "$ours"
fi

# --- user and mount namespaces both joined by path (runc joins user first) ----------
cfg_set "$B" '.linux.namespaces = (.linux.namespaces|map(select(.type!="mount"))) + [{"type":"mount","path":$p}]
  | .process.args=["/bin/sh","-c","id -u; stat -L -c %i /proc/self/ns/mnt; hostname"]' --arg p "$NSD/mnt"
mnt_ino=$(stat -L -c %i "$NSD/mnt")
out=$(R run -b "$B" "$id" 2>&1); rc=$?
t_eq "run joining the user and the mount namespace by path: exit 0" 0 $rc
t_eq "... root, in that mount namespace, own hostname" "0 $mnt_ino podhost" "$(echo $out)"

# --- a joined mount namespace with a NEW user namespace: refused before anything runs ---
mk_pod_ns
cfg_set "$B" '.linux.namespaces = (.linux.namespaces|map(select(.type!="mount" and .type!="user"))) + [{"type":"user"},{"type":"mount","path":$p}]' \
  --arg p "$NSD/mnt"
out=$(R run -b "$B" "$id" 2>&1); rc=$?
t_eq "new user namespace + mount namespace by path: exit 1 (runc: 1)" 1 $rc
t_match "... says why (operation not permitted, new user namespace would not own it)" \
  "mount namespace .* new user namespace.*not own it.*[Oo]peration not permitted" "$out"
t_eq "... nothing left behind" "" "$(ls "$ROOT" 2>/dev/null)"
if REF=$(command -v runc); then
  "$REF" --root "$T_TMP/root-ref" run -b "$B" "$id-ref" >"$T_TMP/ref.out" 2>&1; rrc=$?
  t_cleanup "'$REF' --root '$T_TMP/root-ref' delete --force $id-ref"
  t_eq "runc refuses the same config with the same exit status" "$rrc" "$rc"
  t_match "runc's reason is EPERM too" "operation not permitted" "$(cat "$T_TMP/ref.out")"
else
  t_skip "runc not installed: no comparison"
fi
t_done
