#!/bin/bash
# Runs inside the VM (booted with apparmor=1; this project's host has no
# AppArmor): loads a profile with apparmor_parser, runs a container with
# process.apparmorProfile under $RUNTIME, and checks from inside that the
# process is confined by it (label in /proc/self/attr/current, a denied read
# fails, an allowed one works) and that exec'd processes get it too.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not found: $RUNTIME"
[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || t_skip_all "AppArmor not enabled in this kernel"
[ -d /sys/kernel/security/apparmor ] || t_skip_all "securityfs/apparmor not mounted"
command -v apparmor_parser >/dev/null || t_skip_all "apparmor_parser not packed (apt-get install apparmor on the host)"

P=capsule-vm-test
C=$("$RUNTIME" check)
t_match "check lists apparmor among the active LSMs" "apparmor" "$(jq -r .lsm.active <<<"$C")"
t_eq "check: apparmor active" true "$(jq -r .lsm.apparmor <<<"$C")"
cat >"$T_TMP/profile" <<EOP
profile $P flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  unix,
  mount,
  umount,
  pivot_root,
  ptrace,
  deny /etc/denied r,
}
EOP
t_ok "apparmor_parser loads the profile" apparmor_parser -r -W "$T_TMP/profile"
grep -q "^$P " /sys/kernel/security/apparmor/profiles || { t_fail "profile listed in securityfs"; t_done; }

ROOT=$T_TMP/root
R() { "$RUNTIME" --root "$ROOT" "$@"; }
B=$T_TMP/bundle
mk_bundle "$B" /bin/sh -c 'cat /proc/self/attr/current; cat /etc/allowed; cat /etc/denied; echo "rc=$?"' \
  || t_skip_all "could not make a bundle with $RUNTIME spec"
echo allowed-content >"$B/rootfs/etc/allowed"
echo secret >"$B/rootfs/etc/denied"
cfg_set "$B" '.process.apparmorProfile=$p' --arg p "$P"
out=$(R run -b "$B" aa-$$ 2>&1)
t_match "process label is the profile" "^$P \(enforce\)" "$out"
t_match "allowed read works" "allowed-content" "$out"
t_match "denied read fails (EACCES)" "Permission denied" "$out"
t_eq "denied content not shown" 0 "$(printf '%s\n' "$out" | grep -c secret)"

cfg_set "$B" '.process.args=["/bin/sleep","100"]'
t_ok "create + start" bash -c "'$RUNTIME' --root '$ROOT' create -b '$B' aae-$$ && '$RUNTIME' --root '$ROOT' start aae-$$"
t_cleanup "R delete -f aae-$$"
t_match "exec'd process is confined too" "^$P \(enforce\)" "$(R exec aae-$$ cat /proc/self/attr/current 2>&1)"
cfg_set "$B" '.process.apparmorProfile="no-such-profile" | .process.args=["/bin/true"]'
t_fails "an unknown profile makes create/run fail" R run -b "$B" aan-$$
t_done
