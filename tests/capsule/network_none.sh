#!/bin/bash
# Profile network "none" (lib/admission.c check_network_none): a capsule with
# no network at all.  From inside: only loopback (up), nothing outside is
# reachable, no interface can be added, the rest of the confinement holds;
# no hook, rules or proxy ran.  Egress annotations and a network namespace
# joined by path are refused at create, audited, nothing left behind.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check

cat >"$CAPSULE_POLICY" <<'JSON'
{"profiles": {"offline": {"network": "none"}}}
JSON

# --- from inside an offline capsule ----------------------------------------
B="$T_TMP/off"
capsule_bundle "$B" /bin/sh /bin/offline-probe
cat >"$B/rootfs/bin/offline-probe" <<'SH'
  echo "ifaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
  ip link show lo | grep -q "UP" && echo "lo: up"
  (nc -l -p 8080 -e echo loopback-ok &) ; sleep 0.3; echo | nc 127.0.0.1 8080
  nc -w 1 10.1.2.3 80 </dev/null 2>&1 | head -1
  nc -w 1 192.0.2.1 443 </dev/null 2>&1 | head -1
  ip link add dummy0 type dummy 2>&1 | sed "s/^/linkadd: /"
  ip addr add 10.9.9.9/24 dev lo 2>&1 | sed "s/^/addradd: /"
  /bin/capsule-attack unshare-net
  /bin/capsule-attack raw-socket
  touch /etc/evil 2>&1 | head -1
  echo data >/workspace/f && echo "workspace: ok"
SH
cfg_set "$B" '.annotations["capsule/profile"]="offline"'
ID=$(t_id off)
OUT=$(R run -b "$B" "$ID" 2>&1); rc=$?
t_eq "offline capsule runs its work" 0 "$rc"
t_match "only loopback inside" 'ifaces: lo $' "$(grep ifaces: <<<"$OUT")"
t_match "loopback is up" 'lo: up' "$OUT"
t_match "loopback works (a server and a client on 127.0.0.1)" 'loopback-ok' "$OUT"
t_match "an outside IPv4 address is unreachable" '10\.1\.2\.3.*[Nn]etwork is unreachable' "$OUT"
t_match "another outside address is unreachable" '192\.0\.2\.1.*[Nn]etwork is unreachable' "$OUT"
t_match "no interface can be added" 'linkadd: .*Operation not permitted' "$OUT"
t_match "no address can be added to lo" 'addradd: .*Operation not permitted' "$OUT"
t_match "unshare of a new netns denied" 'unshare-net: denied: EPERM' "$OUT"
t_match "raw socket denied" 'raw-socket: denied' "$OUT"
t_match "rootfs still read-only" 'Read-only file system' "$OUT"
t_match "workspace still writable" 'workspace: ok' "$OUT"
LOG=$(audit_of "$ID")
t_match "admission records network none" '"event":"admission".*"decision":"allow".*"network":"none"' "$LOG"
t_fails "no network hook ran (no network.* lines)" grep -q '"event":"network\.' <<<"$LOG"
t_ok "audit chain intact" "$RUNTIME" audit verify "$CROOT/.capsule-audit/$ID.jsonl"

# inspect and the state dir while it runs: network none, no pin, no proxy.
capsule_bundle "$B" /bin/sleep 1000
cfg_set "$B" '.annotations["capsule/profile"]="offline"'
ID=$(t_id off2)
t_ok "create offline capsule" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
t_eq "inspect: network none" none "$(R inspect "$ID" | jq -r .network)"
t_fails "no netns pin in the state dir" test -e "$CROOT/$ID/netns"
t_fails "no proxy supervisor" test -e "$CROOT/$ID/supervisor.pid"
t_ok "start" R start "$ID"
t_eq "exec: no proxy variables in the environment" "" "$(R exec "$ID" /bin/sh -c 'env | grep -i _proxy=')"
t_ok "delete" R delete -f "$ID"

# --- refused at create --------------------------------------------------------
for kv in 'capsule/egress.allow=GET api.example.com/v1/*' 'capsule/egress.gateway=gw.example.com:3128' \
          'capsule/dns.pin=api.example.com=192.0.2.7' 'capsule/credentials=tok@api.example.com=Authorization' \
          'capsule/capability.pay=POST api.example.com/pay rate=1/h'; do
  k=${kv%%=*} v=${kv#*=}
  B="$T_TMP/ref-${k##*/}"
  capsule_bundle "$B" /bin/true
  cfg_set "$B" '.annotations["capsule/profile"]="offline" | .annotations[$k]=$v' --arg k "$k" --arg v "$v"
  refused "$k with network none" "annotation ${k//./\\.}.*profile \`offline\` has network \"none\"" "$(t_id ann)"
done

# A network namespace joined by path may have interfaces: refused.
NS=capsule-none-$$
ip netns add "$NS" || t_fail "ip netns add"
t_cleanup "ip netns del $NS"
B="$T_TMP/ref-path"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/profile"]="offline" | .linux.namespaces |= map(select(.type != "network")) | .linux.namespaces += [{"type":"network","path":$p}]' --arg p "/run/netns/$NS"
refused "netns joined by path" 'network \"none\", which needs a new network namespace; config.json joins `/run/netns/' "$(t_id path)"

# A bad value in the policy is a clear error naming the key.
echo '{"profiles": {"offline": {"network": "sometimes"}}}' >"$CAPSULE_POLICY"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/profile"]="offline"'
OUT=$(R create -b "$B" "$(t_id badpol)" 2>&1)
t_match "policy: bad network value named" 'network.*`sometimes`: expected "contained" or "none"' "$OUT"

t_done
