#!/bin/bash
# The node policy decides what happens when a capsule's proxy dies (SPEC §6
# "Fail closed"): "restart-forever" restarts it and egress works again;
# "kill" (proxy_restarts 0) stops the capsule at once; both audited.  Its
# "inbound" ports reach the ruleset; a malformed value is refused by name.
# The runtime runs in a test netns H ("the host") with a veth to O.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox nsenter
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
[ -x "$CAPSULE_BUILD/hooks/proxy/capsule-proxy" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"

H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http.log"
wait_port "$O" 8080 || t_fail "test server did not start"
ROOT=$T_TMP/root
mkdir -p "$T_TMP/audit"
export CAPSULE_NETNS_DIR=$T_TMP/node CAPSULE_POLICY=$T_TMP/policy.json
t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
policy() {  # policy NETWORK-JSON
  jq -n --arg a "$T_TMP/audit" --argjson n "$1" \
    '{"directories": {"audit": $a}, "egress": {"allow_private": ["10.231.0.0/24"]}, "network": $n}' >"$CAPSULE_POLICY"
}
R() { timeout 60 nsenter --net=/run/netns/$H "$RUNTIME" --root "$ROOT" "$@"; }
status() { "$RUNTIME" --root "$ROOT" state "$1" 2>/dev/null | jq -r .status; }
fetch() { "$RUNTIME" --root "$ROOT" exec "$1" timeout 5 wget -q -O- "http://10.231.0.2:8080/ok/$2" 2>&1; }
new_pid() { local p; p=$(pidfile_pid "$1"); [ -n "$p" ] && [ "$p" != "$2" ] && alive "$p"; }

mk_bundle "$T_TMP/b" sleep 600 || t_skip_all "cannot make a bundle"
cfg_set "$T_TMP/b" '.annotations["capsule/egress.allow"] = "GET 10.231.0.2:8080/ok/*"'

# --- restart-forever: the proxy comes back, egress works again ---------------
policy '{"on_proxy_failure": "restart-forever", "inbound": [8080]}'
A=t$$-restart
t_cleanup "$RUNTIME --root $ROOT delete -f $A"
t_ok "create (restart-forever)" R create -b "$T_TMP/b" "$A"
t_ok "start" R start "$A"
t_match "allowed request before" "HTTP-OK GET /ok/before" "$(fetch "$A" before)"
CPID=$("$RUNTIME" --root "$ROOT" state "$A" | jq -r .pid)
t_match "policy inbound port open in the input chain" "tcp dport 8080 accept" "$(nsenter -t "$CPID" -n nft list chain inet capsule input)"
PX=$(pidfile_pid "$ROOT/$A/proxy.pid")
t_ok "proxy running" alive "$PX"
kill -9 "$PX"
t_ok "proxy restarted" wait_for 10 new_pid "$ROOT/$A/proxy.pid" "$PX"
t_match "allowed request after the restart" "HTTP-OK GET /ok/after" "$(fetch "$A" after)"
t_eq "capsule still running" running "$(status "$A")"
AUD=$(cat "$T_TMP/audit/$A.jsonl" 2>/dev/null)
t_match "audit: proxy exit" '"event":"proxy.exit"' "$AUD"
t_match "audit: proxy restart" '"event":"proxy.restart"' "$AUD"
"$RUNTIME" --root "$ROOT" delete -f "$A" >/dev/null 2>&1

# --- kill at once: the capsule stops ---------------------------------------
policy '{"on_proxy_failure": "kill", "proxy_restarts": 0}'
K=t$$-kill
t_cleanup "$RUNTIME --root $ROOT delete -f $K"
t_ok "create (kill, no restarts)" R create -b "$T_TMP/b" "$K"
t_ok "start" R start "$K"
PX=$(pidfile_pid "$ROOT/$K/proxy.pid")
t_ok "proxy running" alive "$PX"
kill -9 "$PX"
stopped() { [ "$(status "$K")" = stopped ]; }
t_ok "the capsule is killed when its proxy dies" wait_for 10 stopped
AUD=$(cat "$T_TMP/audit/$K.jsonl" 2>/dev/null)
t_match "audit: capsule.kill" '"event":"capsule.kill"' "$AUD"
t_fails "audit: no restart" grep -q '"event":"proxy.restart"' <<<"$AUD"
"$RUNTIME" --root "$ROOT" delete -f "$K" >/dev/null 2>&1

# --- malformed values are refused, naming the key ------------------------------
policy '{"on_proxy_failure": "sometimes"}'
out=$(R create -b "$T_TMP/b" t$$-bad 2>&1)
t_match "bad on_proxy_failure refused" "network.on_proxy_failure" "$out"
policy '{"inbound": [70000]}'
out=$(R create -b "$T_TMP/b" t$$-bad 2>&1)
t_match "bad inbound port refused" "network.inbound" "$out"
t_fails "nothing left of the refused create" test -e "$ROOT/t$$-bad"
t_eq "node registry empty" "" "$(ls "$T_TMP/node" 2>/dev/null)"
t_done
