#!/bin/bash
# On a host with neither AppArmor nor SELinux: a capsule still runs, its
# effective configuration (inspect, capsule.json) records that no LSM label
# was applied and why, and `check` reports the active LSMs.  The AppArmor
# side (capsule-default loaded and enforced, fail closed) is tested in the VM.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || [ -e /sys/fs/selinux/enforce ]; then
  t_skip_all "this host has AppArmor or SELinux (covered by tests/vm/guest-capsule-apparmor.sh)"
fi

C=$(R check)
t_eq "check: apparmor inactive" false "$(jq -r .lsm.apparmor <<<"$C")"
t_eq "check: selinux inactive" false "$(jq -r .lsm.selinux <<<"$C")"
t_eq "check: a capsule gets no label here" none "$(jq -r .lsm.capsule_label <<<"$C")"
t_eq "check: default profile honoured without LSM" true "$(jq -r '.profiles[] | select(.name=="default") | .honoured' <<<"$C")"

B="$T_TMP/b"
capsule_bundle "$B" /bin/sh -c 'cat /proc/self/attr/current 2>&1; echo ran'
ID=$(t_id nolsm)
OUT=$(R run -b "$B" "$ID" 2>&1)
t_match "capsule runs" "ran" "$OUT"
R delete -f "$ID" >/dev/null 2>&1

# The recorded label: none, with the reason.
cfg_set "$B" '.process.args=["/bin/sleep","100"]'
ID=$(t_id nolsm2)
t_ok "create" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
J=$(R inspect "$ID")
L=$(jq -r .confinement.lsm <<<"$J")
echo "# inspect: confinement.lsm = $L"
t_match "inspect: no LSM label, and why" "^none: neither AppArmor nor SELinux is active on this host" "$L"
t_ok "start" R start "$ID"
t_ok "exec into it works" R exec "$ID" /bin/true
t_ok "delete" R delete -f "$ID"

# A config naming an AppArmor profile on a host without AppArmor: ignored like runc does.
cfg_set "$B" '.process.apparmorProfile="some-profile" | .process.args=["/bin/echo","ran-with-profile"]'
ID=$(t_id nolsm3)
t_match "config apparmorProfile ignored without AppArmor" "ran-with-profile" "$(R run -b "$B" "$ID" 2>&1)"
R delete -f "$ID" >/dev/null 2>&1
t_done
