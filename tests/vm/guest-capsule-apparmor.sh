#!/bin/bash
# Runs inside the VM (apparmor=1): a capsule on an AppArmor host gets the
# generated `capsule-default` profile (SPEC §4).  Checks: create fails closed
# when the profile is not loaded and apparmor_parser is missing; the first
# capsule loads it (enforce mode) and later ones reuse it; the capsule's init
# and exec'd processes (even `exec --apparmor unconfined`) carry it; a read
# only the profile forbids fails with EACCES (and works when the policy lets
# the capsule run unconfined); the profile's own denials (mount, /proc/sys writes) hold
# for a plain container that runs under it without the other layers;
# `unconfined` and unloaded policy-named profiles are refused; inspect and
# check report the label.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not found: $RUNTIME"
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || t_skip_all "AppArmor not enabled in this kernel"
[ -d /sys/kernel/security/apparmor ] || t_skip_all "securityfs/apparmor not mounted"
command -v apparmor_parser >/dev/null || t_skip_all "apparmor_parser not packed (apt-get install apparmor on the host)"
export CAPSULE_HOOK=${CAPSULE_HOOK:-$CAPSULE_BUILD/hooks/netns/capsule-hook}
. "$CAPSULE_SRC/tests/capsule/lib.sh"
P=capsule-default
AAFS=/sys/kernel/security/apparmor
loaded() { grep -q "^$1 (enforce)" $AAFS/profiles; }
unload() { loaded "$1" && printf '%s' "$1" >$AAFS/.remove; rm -f "/run/capsule-runc/apparmor/$1"; }

# --- fail closed: no profile loaded, no apparmor_parser ---------------------
export CAPSULE_POLICY="$T_TMP/policy.json"
unload $P
B="$T_TMP/b"
capsule_bundle "$B" /bin/sh -c 'cat /proc/self/attr/current' || t_skip_all "cannot make a bundle"
ID=$(t_id closed)
OUT=$(CAPSULE_APPARMOR_PARSER=/nonexistent R create -b "$B" "$ID" 2>&1)
rc=$?
t_eq "create fails without apparmor_parser" 1 "$([ $rc -ne 0 ] && echo 1)"
t_match "the reason names the profile and the parser" "capsule profile .$P. is not loaded and apparmor_parser was not found" "$OUT"
t_fails "nothing left behind" R state "$ID"
t_fails "profile still not loaded" loaded $P
R delete -f "$ID" >/dev/null 2>&1

capsule_env_check   # the probe capsule loads the profile
t_ok "the first capsule loaded $P in enforce mode" loaded $P
C=$(R check)
t_eq "check: apparmor active" true "$(jq -r .lsm.apparmor <<<"$C")"
t_match "check: active LSM list" "apparmor" "$(jq -r .lsm.active <<<"$C")"
t_eq "check: capsule label" "apparmor:$P" "$(jq -r .lsm.capsule_label <<<"$C")"
t_eq "check: profile state" loaded "$(jq -r .lsm.profile_state <<<"$C")"

# --- a default capsule --------------------------------------------------------
cfg_set "$B" '.process.args=["/bin/sh","-c","cat /proc/self/attr/current; head -c 64 /proc/kallsyms >/dev/null; echo kallsyms=$?"]'
ID=$(t_id run)
OUT=$(CAPSULE_APPARMOR_PARSER=/nonexistent R run -b "$B" "$ID" 2>&1)
echo "$OUT" | sed 's/^/# /'
t_match "capsule init runs as $P (enforce)" "^$P \(enforce\)" "$OUT"
t_match "loaded once per node: no parser needed for the next capsule" "kallsyms=" "$OUT"
t_match "a read only the profile forbids fails (EACCES)" "Permission denied" "$OUT"
R delete -f "$ID" >/dev/null 2>&1
cfg_set "$B" '.process.user={"uid":1000,"gid":1000} | .process.args=["/bin/cat","/proc/self/attr/current"]'
ID=$(t_id user)
t_match "a capsule whose init runs as uid 1000 gets $P" "^$P \(enforce\)" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1

cfg_set "$B" '.process.user={"uid":0,"gid":0} | .process.args=["/bin/sleep","100"]'
ID=$(t_id ex)
t_ok "create" R create -b "$B" "$ID"
t_ok "start" R start "$ID"
t_cleanup "R delete -f $ID"
t_eq "inspect: confinement.lsm" "apparmor:$P" "$(R inspect "$ID" | jq -r .confinement.lsm)"
t_match "exec'd process runs as $P" "^$P \(enforce\)" "$(R exec "$ID" cat /proc/self/attr/current 2>&1)"
t_match "exec --apparmor unconfined still gets $P" "^$P \(enforce\)" "$(R exec --apparmor unconfined "$ID" cat /proc/self/attr/current 2>&1)"
t_match "exec'd process cannot read /proc/kallsyms" "kallsyms: Permission denied" "$(R exec "$ID" head -c 1 /proc/kallsyms 2>&1)"
t_match "exec as uid 1000 runs as $P too" "^$P \(enforce\)" "$(R exec --user 1000:1000 "$ID" cat /proc/self/attr/current 2>&1)"
R delete -f "$ID" >/dev/null 2>&1

# --- the profile's own denials, without seccomp/Landlock/read-only /proc/sys --
# A plain container with CAP_SYS_ADMIN and a writable /proc/sys under $P:
# only the profile stands between it and mount / sysctl writes.
PB="$T_TMP/plain"
mk_bundle "$PB" /bin/sh -c 'cat /proc/self/attr/current; mount -t tmpfs none /mnt; echo mount=$?; echo capsule > /proc/sys/kernel/domainname; echo sysctl=$?; echo ok > /tmp/w; echo tmp=$?' || t_skip_all "cannot make a bundle"
cfg_set "$PB" '.process.apparmorProfile=$p | .root.readonly=false | .linux.readonlyPaths=[] | del(.linux.seccomp)
  | .process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"]
  | .process.capabilities.permitted += ["CAP_SYS_ADMIN"]' --arg p $P
mkdir -p "$PB/rootfs/mnt"
OUT=$(R run -b "$PB" plain-$$ 2>&1)
echo "$OUT" | sed 's/^/# /'
R delete -f plain-$$ >/dev/null 2>&1
t_match "plain container runs as $P" "^$P \(enforce\)" "$OUT"
t_match "mount is denied by the profile" "mount=[1-9]" "$OUT"
t_match "a /proc/sys write is denied by the profile" "sysctl=[1-9]" "$OUT"
t_match "ordinary writes work" "tmp=0" "$OUT"
# the same container without the profile: both work (so the profile is what denied them)
cfg_set "$PB" 'del(.process.apparmorProfile)'
OUT=$(R run -b "$PB" plain2-$$ 2>&1)
R delete -f plain2-$$ >/dev/null 2>&1
t_match "without the profile the mount works" "mount=0" "$OUT"
t_match "without the profile the sysctl write works" "sysctl=0" "$OUT"

# --- refusals and policy -----------------------------------------------------
cfg_set "$B" '.process.apparmorProfile="unconfined" | .process.args=["/bin/cat","/proc/self/attr/current"]'
ID=$(t_id unc)
OUT=$(R run -b "$B" "$ID" 2>&1)
t_match "config naming unconfined is refused" "unconfined.*refused.*allow_unconfined" "$OUT"
R delete -f "$ID" >/dev/null 2>&1
echo '{"lsm": {"allow_unconfined": true}}' >"$CAPSULE_POLICY"
cfg_set "$B" '.process.args=["/bin/sh","-c","cat /proc/self/attr/current; head -c 64 /proc/kallsyms >/dev/null; echo kallsyms=$?"]'
OUT=$(R run -b "$B" "$ID" 2>&1)
t_match "... unless the policy allows it" "^unconfined" "$OUT"
t_match "the same capsule unconfined reads /proc/kallsyms (so $P is what denied it)" "kallsyms=0" "$OUT"
R delete -f "$ID" >/dev/null 2>&1

echo '{"lsm": {"apparmor_profile": "capsule-site"}}' >"$CAPSULE_POLICY"
cfg_set "$B" 'del(.process.apparmorProfile)'
ID=$(t_id site)
t_match "a policy profile that is not loaded is refused" "capsule-site.*not loaded" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
printf 'profile capsule-site flags=(attach_disconnected,mediate_deleted) {\n  file,\n  capability,\n  network,\n  signal,\n  deny /etc/hostname r,\n}\n' >"$T_TMP/site"
t_ok "load capsule-site" apparmor_parser -r "$T_TMP/site"
t_match "the policy's profile is used instead" "^capsule-site \(enforce\)" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
rm -f "$CAPSULE_POLICY"
cfg_set "$B" '.process.apparmorProfile="capsule-site"'
t_match "without a policy profile, a loaded profile the config names is used" "^capsule-site \(enforce\)" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
cfg_set "$B" '.process.apparmorProfile="no-such-profile"'
t_match "a config profile that is not loaded is refused" "no-such-profile.*not loaded" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
cfg_set "$B" 'del(.process.apparmorProfile)'
printf '%s' capsule-site >$AAFS/.remove

# --- an outdated or removed profile is loaded again ---------------------------
printf '%s' $P >$AAFS/.remove
ID=$(t_id again)
t_match "removed profile is loaded again at the next create" "^$P \(enforce\)" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
echo "# old text" >"/run/capsule-runc/apparmor/$P"
ID=$(t_id stale)
t_fails "changed text with no parser: refused, not run with the stale profile" env CAPSULE_APPARMOR_PARSER=/nonexistent "$RUNTIME" --root "$CROOT" run -b "$B" "$ID"
R delete -f "$ID" >/dev/null 2>&1
t_match "changed text: reloaded" "^$P \(enforce\)" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
t_done
