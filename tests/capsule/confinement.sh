#!/bin/bash
# Inside a default capsule every escape attempt fails, and the allowed work
# (writing in /workspace, reading the rootfs, spawning processes) still runs.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check

ATTACKS="ptrace bpf keyctl add_key io_uring perf userfaultfd raw-socket raw6-socket packet-socket vsock
unshare-user unshare-net clone-newns clone3 setns mount remount-root fsopen open_tree tiocsti kexec init_module chroot"

B="$T_TMP/b"
HOSTDIR="$T_TMP/hostdir"
mkdir -p "$HOSTDIR"
capsule_bundle "$B" /bin/sh /script.sh
# A host directory bind-mounted read-write by the config: the capsule makes it read-only.
cfg_set "$B" '.mounts += [{"destination":"/data","type":"bind","source":$h,"options":["rbind","rw"]}]' --arg h "$HOSTDIR"
# Ask for every capability: the capsule must strip them anyway.
cfg_set "$B" '.process.capabilities.bounding += ["CAP_SYS_ADMIN","CAP_NET_ADMIN","CAP_NET_RAW","CAP_SYS_PTRACE"]
             | .process.capabilities.effective += ["CAP_SYS_ADMIN","CAP_NET_ADMIN","CAP_NET_RAW","CAP_SYS_PTRACE"]
             | .process.capabilities.permitted += ["CAP_SYS_ADMIN","CAP_NET_ADMIN","CAP_NET_RAW","CAP_SYS_PTRACE"]'
cat >"$B/rootfs/script.sh" <<EOF
for a in $(echo $ATTACKS); do /bin/capsule-attack \$a; echo "rc \$a \$?"; done
touch /etc/evil 2>&1; echo "rc write-etc \$?"
touch /bin/evil 2>&1; echo "rc write-bin \$?"
touch /data/evil 2>&1; echo "rc write-data \$?"
touch /dev/shm/evil 2>&1; echo "rc write-devshm \$?"
mkdir /evil 2>&1; echo "rc mkdir-root \$?"
chmod u+s /bin/busybox 2>&1; echo "rc chmod-suid-rootfs \$?"
echo 1 > /proc/sys/kernel/panic 2>&1; echo "rc write-procsys \$?"
cat /proc/kcore 2>/dev/null | head -c 1 | wc -c | sed 's/^/kcore-bytes /'
grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status
# The allowed work.
mkdir -p /workspace/job && echo hello > /workspace/job/out && cat /workspace/job/out; echo "rc workspace \$?"
echo tmp > /tmp/t && cat /tmp/t >/dev/null; echo "rc tmp \$?"
cat /etc/passwd >/dev/null; echo "rc read-rootfs \$?"
n=0; for i in 1 2 3 4 5 6 7 8; do ( echo \$i > /workspace/p\$i ) & done; wait; ls /workspace | grep -c '^p' | sed 's/^/spawned /'
echo out > /dev/null; echo "rc devnull \$?"
EOF
chmod +x "$B/rootfs/script.sh"

ID=$(t_id conf)
R run -b "$B" "$ID" >"$T_TMP/out" 2>&1
RC=$?
t_eq "capsule ran" 0 "$RC"
OUT=$(cat "$T_TMP/out")
rc_of() { grep "^rc $1 " "$T_TMP/out" | awk '{print $3}'; }

for a in $ATTACKS; do
  t_eq "attack $a denied with the expected errno" 0 "$(rc_of "$a")"
done
for w in write-etc write-bin write-data write-devshm mkdir-root chmod-suid-rootfs write-procsys; do
  r=$(rc_of $w)
  if [ -n "$r" ] && [ "$r" != 0 ]; then t_pass "$w refused"; else t_fail "$w refused (rc [$r])"; fi
done
t_eq "nothing reached the host directory" "" "$(ls -A "$HOSTDIR")"
t_match "rootfs write: read-only filesystem" "touch: /etc/evil: Read-only file system" "$OUT"
t_match "bind mount made read-only" "touch: /data/evil: Read-only file system" "$OUT"
t_match "/dev/shm write refused by Landlock" "touch: /dev/shm/evil: Permission denied" "$OUT"
t_match "/proc/kcore masked" "kcore-bytes 0" "$OUT"
t_match "no_new_privs" "NoNewPrivs:[[:space:]]+1" "$OUT"
t_match "seccomp filter on" "Seccomp:[[:space:]]+2" "$OUT"
# CAP_SYS_ADMIN (21), CAP_NET_ADMIN (12), CAP_NET_RAW (13), CAP_SYS_PTRACE (19) gone from the bounding set.
bnd=$(grep '^CapBnd:' "$T_TMP/out" | awk '{print $2}')
if [ -n "$bnd" ] && (( (0x$bnd & ((1<<21)|(1<<12)|(1<<13)|(1<<19))) == 0 )); then
  t_pass "admin/network caps stripped (CapBnd $bnd)"
else
  t_fail "admin/network caps stripped (CapBnd [$bnd])"
fi
t_eq "workspace writable" 0 "$(rc_of workspace)"
t_match "workspace content" "hello" "$OUT"
t_eq "tmp writable" 0 "$(rc_of tmp)"
t_eq "rootfs readable" 0 "$(rc_of read-rootfs)"
t_match "processes spawn" "spawned 8" "$OUT"
t_eq "/dev/null writable" 0 "$(rc_of devnull)"

# The audit log records admission (with the stripped capabilities), creation and deletion.
AUD=$(audit_of "$ID")
t_match "audit: admission allowed" '"event":"admission".*"decision":"allow"' "$AUD"
t_match "audit: stripped caps recorded" '"capabilities_stripped":\[[^]]*CAP_SYS_ADMIN' "$AUD"
t_match "audit: created" '"event":"created"' "$AUD"
t_match "audit: deleted" '"event":"deleted"' "$AUD"

# setuid-root binary run by an unprivileged user: no_new_privs keeps it unprivileged.
B2="$T_TMP/b2"
capsule_bundle "$B2" /bin/suid-attack euid
cp "$ATTACK" "$B2/rootfs/bin/suid-attack"
chown 0:0 "$B2/rootfs/bin/suid-attack"
chmod 4755 "$B2/rootfs/bin/suid-attack"
cfg_set "$B2" '.process.user = {"uid":1000,"gid":1000}'
OUT2=$(R run -b "$B2" "$(t_id suid)" 2>&1)
t_match "setuid binary does not grant root in a capsule" "euid: 1000" "$OUT2"
# Control: the same binary in a plain container does grant root (the test can fail).
B3="$T_TMP/b3"
mk_bundle "$B3" /bin/suid-attack euid
cp "$ATTACK" "$B3/rootfs/bin/suid-attack"
chmod 4755 "$B3/rootfs/bin/suid-attack"
cfg_set "$B3" '.process.user = {"uid":1000,"gid":1000} | .process.noNewPrivileges = false'
OUT3=$(R run -b "$B3" "$(t_id plain)" 2>&1)
t_match "control: setuid works in a plain container" "euid: 0" "$OUT3"

# Control for the attacks: in a plain container with CAP_SYS_ADMIN, unshare works.
B4="$T_TMP/b4"
mk_bundle "$B4" /bin/capsule-attack unshare-net
cp "$ATTACK" "$B4/rootfs/bin/capsule-attack"
cfg_set "$B4" '.process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"] | .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
OUT4=$(R run -b "$B4" "$(t_id plainns)" 2>&1)
t_match "control: unshare succeeds outside a capsule" "unshare-net: SUCCEEDED" "$OUT4"
t_done
