#!/bin/bash
# Admission at create: leases (valid, expired, forged, foreign), concurrency
# groups, policy bounds, host network, runtime sockets, private egress;
# `inspect`; `exec` into a capsule gets the same confinement.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check


# --- inspect ---------------------------------------------------------------
B="$T_TMP/insp"
capsule_bundle "$B" /bin/sleep 1000
cfg_set "$B" '.annotations["capsule/fs.writable"]="/workspace" | .annotations["capsule/fs.size"]="16Mi" | .annotations["capsule/version"]="1.4.2"'
ID=$(t_id insp)
t_ok "create capsule" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
J=$(R inspect "$ID")
t_eq "inspect: agent" test-agent "$(jq -r .agent <<<"$J")"
t_eq "inspect: version" 1.4.2 "$(jq -r .version <<<"$J")"
t_eq "inspect: session defaults to the id" "$ID" "$(jq -r .session <<<"$J")"
t_eq "inspect: writable" '["/workspace"]' "$(jq -c .fs.writable <<<"$J")"
t_eq "inspect: size" 16Mi "$(jq -r .fs.size <<<"$J")"
t_eq "inspect: landlock ABI recorded" "$(R check | jq .landlock_abi)" "$(jq .confinement.landlock_abi <<<"$J")"
t_eq "inspect: limits" "256" "$(jq .limits.pids <<<"$J")"
t_eq "state: capsule flag" true "$(R state "$ID" | jq -r '.capsule // .annotations["capsule/agent"] != null')"
# exec into the capsule: same confinement, writable paths still writable.
t_ok "start" R start "$ID"
OUT=$(R exec "$ID" /bin/capsule-attack unshare-net 2>&1)
t_match "exec: unshare denied" "unshare-net: denied: EPERM" "$OUT"
t_fails "exec: rootfs read-only" R exec "$ID" /bin/touch /etc/evil
t_ok "exec: workspace writable" R exec "$ID" /bin/touch /workspace/ok
t_eq "exec: no_new_privs" "1" "$(R exec "$ID" /bin/sh -c 'grep NoNewPrivs /proc/self/status' | awk '{print $2}')"
# A plain container joining the capsule's netns loses the network/admin caps it asks for.
CPID=$(R state "$ID" | jq -r .pid)
J="$T_TMP/joiner"
mk_bundle "$J" /bin/sh -c 'grep CapBnd /proc/self/status'
ALLCAPS='["CAP_NET_ADMIN","CAP_NET_RAW","CAP_SYS_ADMIN","CAP_KILL"]'
cfg_set "$J" '.process.capabilities.bounding=$c | .process.capabilities.effective=$c | .process.capabilities.permitted=$c' --argjson c "$ALLCAPS"
cfg_set "$J" '.linux.namespaces |= map(select(.type != "network")) | .linux.namespaces += [{"type":"network","path":$p}]' --arg p "/proc/$CPID/ns/net"
JID=$(t_id joiner)
BND=$(R run -b "$J" "$JID" 2>&1 | awk '/CapBnd/{print $2}')
if [ -n "$BND" ] && (( (0x$BND & ((1<<21)|(1<<12)|(1<<13))) == 0 )) && (( (0x$BND & (1<<5)) != 0 )); then
  t_pass "joiner of a capsule netns: NET_ADMIN/NET_RAW/SYS_ADMIN stripped, KILL kept ($BND)"
else
  t_fail "joiner of a capsule netns stripped (CapBnd [$BND])"
fi
t_match "joiner audited in the capsule's log" '"event":"netns-joined".*"capabilities_stripped":\[' "$(audit_of "$ID")"
# Control: the same container with its own netns keeps them.
cfg_set "$J" '.linux.namespaces |= map(select(.type != "network")) | .linux.namespaces += [{"type":"network"}]'
BND=$(R run -b "$J" "$(t_id ctl)" 2>&1 | awk '/CapBnd/{print $2}')
if [ -n "$BND" ] && (( (0x$BND & (1<<12)) != 0 )); then t_pass "control: own netns keeps NET_ADMIN"; else t_fail "control: own netns keeps NET_ADMIN ([$BND])"; fi
R delete -f "$ID" >/dev/null 2>&1
# inspect of a plain container.
P="$T_TMP/plain"
mk_bundle "$P" /bin/true
PID_=$(t_id plain)
R create -b "$P" "$PID_" >/dev/null 2>&1
t_eq "inspect: plain container" false "$(R inspect "$PID_" | jq .capsule)"
R delete -f "$PID_" >/dev/null 2>&1
t_fails "inspect: unknown id" R inspect nosuch-$$

# --- host network, runtime sockets, private egress ------------------------
B="$T_TMP/net"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.linux.namespaces |= map(select(.type != "network"))'
refused "host network" "host network is refused" "$(t_id hostnet)"
cfg_set "$B" '.linux.namespaces += [{"type":"network","path":"/proc/self/ns/net"}]'
refused "runtime's own netns by path" "is the runtime's own" "$(t_id ownnet)"

B="$T_TMP/sock"
capsule_bundle "$B" /bin/true
mkdir -p "$T_TMP/fake"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$T_TMP/fake/docker.sock" 2>/dev/null \
  || t_skip "python3 missing: socket file not made"
if [ -S "$T_TMP/fake/docker.sock" ]; then
  cfg_set "$B" '.mounts += [{"destination":"/var/run/docker.sock","type":"bind","source":$s,"options":["rbind"]}]' --arg s "$T_TMP/fake/docker.sock"
  refused "docker.sock mount" "container-runtime sockets are refused" "$(t_id sock)"
  B="$T_TMP/sockdir"
  capsule_bundle "$B" /bin/true
  cfg_set "$B" '.mounts += [{"destination":"/host-run","type":"bind","source":$s,"options":["rbind"]}]' --arg s "$T_TMP/fake"
  refused "directory holding docker.sock" "exposes the container-runtime socket" "$(t_id sockdir)"
fi

B="$T_TMP/egress"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/egress.allow"]="GET 127.0.0.1:8080/ok/*"'
refused "loopback egress without policy" "egress.allow_private does not cover" "$(t_id egress)"
echo '{"egress": {"allow_private": ["127.0.0.0/8", "::1/128"]}}' >"$CAPSULE_POLICY"
t_ok "loopback egress allowed by the policy" R run -b "$B" "$(t_id egress2)"
rm -f "$CAPSULE_POLICY"

# --- annotation beyond the policy ------------------------------------------
B="$T_TMP/bound"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/fs.size"]="2Gi"'
refused "fs.size beyond the bound" 'capsule/fs.size: `2Gi`: size exceeds the node policy bound 1Gi' "$(t_id bound)"
cfg_set "$B" '.annotations["capsule/fs.size"]="12Qi"'
refused "malformed value" 'capsule/fs.size: `12Qi`: expected a size' "$(t_id malformed)"
cfg_set "$B" 'del(.annotations["capsule/fs.size"]) | .annotations["capsule/profile"]="gold"'
refused "unknown profile" 'capsule/profile: `gold`: no such profile' "$(t_id profile)"

# --- concurrency -------------------------------------------------------------
B="$T_TMP/conc"
capsule_bundle "$B" /bin/sleep 1000
cfg_set "$B" '.annotations["capsule/concurrency"]="grp-'$$'=1"'
A=$(t_id conc-a); C=$(t_id conc-c)
t_ok "first of group=1 created" R create -b "$B" "$A"
t_cleanup "R delete -f $A"
refused "second of group=1" "group .grp-$$. is full: 1 of 1 running" "$(t_id conc-b)"
t_ok "delete releases the slot" R delete -f "$A"
t_ok "next one admitted after delete" R create -b "$B" "$C"
t_cleanup "R delete -f $C"
R delete -f "$C" >/dev/null 2>&1
# A capsule that died without delete gives its slot back.
B2="$T_TMP/conc2"
capsule_bundle "$B2" /bin/true
cfg_set "$B2" '.annotations["capsule/concurrency"]="grp2-'$$'=1"'
D=$(t_id conc-d)
R create -b "$B2" "$D" >/dev/null 2>&1
t_cleanup "R delete -f $D"
R start "$D" >/dev/null 2>&1
for i in $(seq 1 50); do [ "$(R state "$D" 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.1; done
t_ok "slot of a capsule that exited without delete is reclaimed" R run -b "$B2" "$(t_id conc-e)"

# --- leases ------------------------------------------------------------------
K="$T_TMP/lease.key"; PUB="$T_TMP/lease.pub"; K2="$T_TMP/other.key"; PUB2="$T_TMP/other.pub"
t_ok "lease keygen" R lease keygen --private "$K" --public "$PUB"
R lease keygen --private "$K2" --public "$PUB2" >/dev/null 2>&1
printf '{"lease": {"public_key": "%s"}}\n' "$PUB" >"$CAPSULE_POLICY"
B="$T_TMP/lease"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/version"]="1.0" | .annotations["capsule/session"]="run-42"'
GOOD=$(R lease issue --key "$K" --agent test-agent --version 1.0 --session run-42 --ttl 10m)
cfg_set "$B" '.annotations["capsule/lease"]=$l' --arg l "$GOOD"
t_ok "valid lease admitted" R run -b "$B" "$(t_id lease-ok)"
now=$(date +%s)
EXP=$(R lease issue --key "$K" --agent test-agent --version 1.0 --session run-42 --not-before $((now-100)) --expires $((now-10)))
cfg_set "$B" '.annotations["capsule/lease"]=$l' --arg l "$EXP"
refused "expired lease" "capsule/lease: lease: expired" "$(t_id lease-exp)"
FOREIGN=$(R lease issue --key "$K2" --agent test-agent --version 1.0 --session run-42 --ttl 10m)
cfg_set "$B" '.annotations["capsule/lease"]=$l' --arg l "$FOREIGN"
refused "lease signed by another key" "bad signature" "$(t_id lease-key)"
# Forged: claims of another lease spliced onto a valid signature.
OTHER=$(R lease issue --key "$K2" --agent evil --version 1.0 --session run-42 --ttl 10m)
FORGED="${OTHER%%.*}.${GOOD#*.}"
cfg_set "$B" '.annotations["capsule/lease"]=$l' --arg l "$FORGED"
refused "forged lease" "bad signature" "$(t_id lease-forged)"
WRONG=$(R lease issue --key "$K" --agent test-agent --version 1.0 --session run-43 --ttl 10m)
cfg_set "$B" '.annotations["capsule/lease"]=$l' --arg l "$WRONG"
refused "lease for another session" "issued for session .run-43." "$(t_id lease-sess)"
cfg_set "$B" 'del(.annotations["capsule/lease"])'
refused "missing lease" "required by the node policy" "$(t_id lease-none)"
rm -f "$CAPSULE_POLICY"
t_done
