#!/bin/bash
# Full path, isolated shape: `capsule-runc run` of a busybox bundle whose
# config lists capsule-hook (as a user of plain runc would), with the real
# capsule-proxy.  The runtime runs in a test netns H ("the host") with a veth
# to O ("the internet"), so the proxy's upstream sockets live in H.  From
# inside: allowed requests (proxy env and transparent) succeed, denied host /
# path / method fail, and every other way out fails; O's logs prove what
# arrived; the proxy's audit has both kinds of decision.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox nsenter
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=${CAPSULE_PROXY:-$CAPSULE_BUILD/hooks/proxy/capsule-proxy}
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
RUNTIME=${NET_RUNTIME:-$RUNTIME}

H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
ID=t$$-ctr
ST=$T_TMP/state
B=$T_TMP/bundle
ROOT=$T_TMP/root
HOSTPORT=$((20000 + $$ % 20000))

bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http2.log"
bg "$O" $PY "$PROBE" serve-http 10.231.0.3 8080 "$T_TMP/http3.log"
bg "$O" $PY "$PROBE" serve-tcp 10.231.0.2 9000 OUTSIDE-TCP "$T_TMP/tcp9000.log"
bg "$O" $PY "$PROBE" serve-udp 10.231.0.2 53 "$T_TMP/resolver.log"
bg "$H" $PY "$PROBE" serve-tcp 127.0.0.1 $HOSTPORT HOSTLOOPBACK "$T_TMP/hostlo.log"
wait_port "$O" 8080 && wait_port "$H" $HOSTPORT || t_fail "test servers did not start"
touch "$T_TMP"/{http2,http3,resolver,hostlo,tcp9000}.log

mk_bundle "$B" sh /probe.sh || t_skip_all "cannot make a bundle"
LONG=$(printf 'a%.0s' $(seq 60))
cat >"$B/rootfs/probe.sh" <<EOF
r() { name=\$1; shift; out=\$("\$@" 2>&1); echo "\$name=\$? \$(echo \$out | head -c 120)"; }
np() { env -u HTTP_PROXY -u http_proxy -u HTTPS_PROXY -u https_proxy "\$@"; }
r proxy_allowed timeout 5 wget -q -O- http://10.231.0.2:8080/ok/a
r transparent_allowed np timeout 5 wget -q -O- http://10.231.0.2:8080/ok/b
r denied_path timeout 5 wget -q -O- http://10.231.0.2:8080/deny/c
r denied_method sh -c "printf 'POST http://10.231.0.2:8080/ok/d HTTP/1.1\\r\\nHost: 10.231.0.2:8080\\r\\nContent-Length: 1\\r\\n\\r\\nx' | nc -w 3 127.0.0.1 3128"
r denied_host timeout 5 wget -q -O- http://10.231.0.3:8080/ok/e
r transparent_denied_host np timeout 5 wget -q -O- http://10.231.0.3:8080/ok/f
r raw_tcp_other_port sh -c 'echo hi | nc -w 2 10.231.0.2 9000'
r dns_outside nslookup $LONG.$LONG.exfil.example 10.231.0.2
r ipv6 np timeout 5 wget -q -O- http://[fd00:231::2]:8080/ok/g
r ping ping -c 1 -W 1 10.231.0.2
r host_loopback sh -c 'echo hi | nc -w 2 127.0.0.1 $HOSTPORT'
r route ip route add 10.231.0.0/24 dev lo
r new_netns unshare -n true
r nft_flush nft flush ruleset
EOF
HOOK_ENV="[\"CAPSULE_NETNS_DIR=$T_TMP/node\"]"
# NET_RULES_VIA=annotation: the rule comes from capsule/egress.allow (what a
# user of plain runc writes), else from the operator's --allow.
# NET_RULES_VIA=capsule: capsule mode of capsule-runc does it all (policy
# allows the test's private range; hooks, env and resolv.conf come from the
# runtime; the audit goes to the policy's directory).
AUDF=$ST/audit.jsonl
if [ "${NET_RULES_VIA:-}" = capsule ]; then
  mkdir -p "$T_TMP/audit"
  printf '{"directories":{"audit":"%s"},"egress":{"allow_private":["10.231.0.0/24"]}}' "$T_TMP/audit" >"$T_TMP/policy.json"
  export CAPSULE_POLICY=$T_TMP/policy.json CAPSULE_NETNS_DIR=$T_TMP/node
  cfg_set "$B" '.annotations["capsule/egress.allow"] = "GET 10.231.0.2:8080/ok/*"'
  AUDF=$T_TMP/audit/$ID.jsonl
  ST=$ROOT/$ID
  t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
elif [ "${NET_RULES_VIA:-}" = annotation ]; then
  RULE_ARGS='[]'
  cfg_set "$B" '.annotations["capsule/egress.allow"] = "GET 10.231.0.2:8080/ok/*"'
else
  RULE_ARGS='["--allow","GET 10.231.0.2:8080/ok/*"]'
fi
[ "${NET_RULES_VIA:-}" = capsule ] || cfg_set "$B" '.process.env += ["HTTP_PROXY=http://127.0.0.1:3128","http_proxy=http://127.0.0.1:3128"]
  | .hooks = {"createRuntime": [{"path": $h, "env": $e,
      "args": (["capsule-hook","setup","--state-dir",$s,"--proxy",$p,"--cgroup-parent",$cg] + $rules)}],
    "poststop": [{"path": $h, "env": $e, "args": ["capsule-hook","teardown","--state-dir",$s]}]}' \
  --arg h "$HOOK" --arg s "$ST" --arg p "$PROXY" --arg cg "/capsule-test/px-$$" \
  --argjson rules "$RULE_ARGS" --argjson e "$HOOK_ENV"

nsenter --net=/run/netns/$H timeout 120 "$RUNTIME" --root "$ROOT" run -b "$B" "$ID" >"$T_TMP/run.out" 2>&1
rc=$?
t_eq "capsule-runc run exits 0" 0 "$rc"
sed 's/^/    | /' "$T_TMP/run.out"
res() { grep "^$1=" "$T_TMP/run.out" | head -1 | sed "s/^$1=//"; }

t_match "allowed GET through the proxy" "^0 HTTP-OK GET /ok/a" "$(res proxy_allowed)"
t_match "allowed GET transparently (no proxy env)" "^0 HTTP-OK GET /ok/b" "$(res transparent_allowed)"
t_match "denied path fails" "^[1-9]" "$(res denied_path)"
t_match "denied method gets 403" "^0 HTTP/1.1 403" "$(res denied_method)"
t_match "denied host fails" "^[1-9]" "$(res denied_host)"
t_match "denied host fails transparently" "^[1-9]" "$(res transparent_denied_host)"
t_fails "direct TCP to another port never reaches it" grep -q OUTSIDE-TCP <<<"$(res raw_tcp_other_port)"
t_eq "... the server saw nothing" "" "$(cat "$T_TMP/tcp9000.log")"
t_match "IPv6 fails" "^[1-9]" "$(res ipv6)"
t_match "ping fails" "^[1-9]" "$(res ping)"
t_match "host loopback fails" "^[1-9]|^0 *$" "$(res host_loopback)"
t_match "route change fails" "^[1-9]" "$(res route)"
t_match "new netns fails" "^[1-9]" "$(res new_netns)"
t_eq "server saw only the allowed requests" "GET /ok/a
GET /ok/b" "$(sort "$T_TMP/http2.log")"
t_eq "denied host saw nothing" "" "$(cat "$T_TMP/http3.log")"
t_eq "outside resolver saw no query (no DNS tunnel)" "" "$(cat "$T_TMP/resolver.log")"
t_eq "host loopback service saw nothing" "" "$(cat "$T_TMP/hostlo.log")"

AUD=$(cat "$AUDF" 2>/dev/null)
t_match "audit: allowed decision" '/ok/a' "$AUD"
t_match "audit: denied decision" '/deny/c' "$AUD"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDF"
EV=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1])))' "$AUDF")
t_eq "audit: one proxy.start (the proxy's own)" 1 "$(grep -o 'proxy\.start' <<<"$EV" | wc -l)"
t_match "audit: network.setup names the proxy and precedes the capsule's egress" '^(.* )?network\.setup .*egress' "$EV"
t_match "audit: network.setup carries the proxy's pid" '"event":"network.setup".*"proxy_pid":[1-9]' "$AUD"

# nothing left behind
t_fails "no pin left" test -e "$ST/netns"
t_fails "no pin mounted anywhere under the test dir" grep -q "$T_TMP" /proc/self/mountinfo
t_eq "no proxy left" "" "$(pgrep -f "capsule-id $ID" || true)"
t_eq "node registry empty" "" "$(ls "$T_TMP/node" 2>/dev/null)"
t_done
