#!/bin/bash
# Full path, pod shape: a "sandbox" capsule created in a netns the test made
# with a real interface (like CNI / podman), then an app container joining
# that netns by path.  The sandbox owns rules + proxy (inside the pod netns,
# marked upstream sockets); the app container is only a member (no second
# ruleset or proxy) and its requests are policed by the same proxy.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=${CAPSULE_PROXY:-$CAPSULE_BUILD/hooks/proxy/capsule-proxy}
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
RUNTIME=${NET_RUNTIME:-$RUNTIME}

C=capsuletest-$$-c O=capsuletest-$$-o
net_pair "$C" "$O" || t_skip_all "cannot create veth pair"
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http2.log"
bg "$O" $PY "$PROBE" serve-http 10.231.0.3 8080 "$T_TMP/http3.log"
wait_port "$O" 8080 || t_fail "server did not start"
touch "$T_TMP"/http{2,3}.log
ROOT=$T_TMP/root
SB=$T_TMP/sandbox APP=$T_TMP/app
SID=t$$-sandbox AID=t$$-app

hooks_for() {  # hooks_for BUNDLE STATE_DIR
  cfg_set "$1" '.process.env += ["http_proxy=http://127.0.0.1:3128"]
    | .linux.namespaces |= map(if .type == "network" then .path = $ns else . end)
    | .annotations["io.kubernetes.cri.container-type"] = $kind
    | .hooks = {"createRuntime": [{"path": $h, "env": $e,
        "args": ["capsule-hook","setup","--state-dir",$s,"--proxy",$p,"--cgroup-parent",$cg,"--allow","GET 10.231.0.2:8080/ok/*"]}],
      "poststop": [{"path": $h, "env": $e, "args": ["capsule-hook","teardown","--state-dir",$s]}]}' \
    --arg h "$HOOK" --arg s "$2" --arg p "$PROXY" --arg cg "/capsule-test/px-$$" --arg ns "/run/netns/$C" \
    --arg kind "$3" --argjson e "[\"CAPSULE_NETNS_DIR=$T_TMP/node\"]"
}
mk_bundle "$SB" sleep 60 || t_skip_all "cannot make a bundle"
hooks_for "$SB" "$T_TMP/st-sandbox" sandbox
mk_bundle "$APP" sh -c 'timeout 5 wget -q -O- http://10.231.0.2:8080/ok/app; echo "rc=$?"; env -u http_proxy timeout 5 wget -q -O- http://10.231.0.2:8080/ok/transparent; echo "rc=$?"; timeout 5 wget -q -O- http://10.231.0.3:8080/ok/denied; echo "rc=$?"'
hooks_for "$APP" "$T_TMP/st-app" container

t_cleanup "$RUNTIME --root $ROOT delete -f $SID"
t_ok "sandbox create" timeout 60 "$RUNTIME" --root "$ROOT" create -b "$SB" "$SID"
t_ok "sandbox start" "$RUNTIME" --root "$ROOT" start "$SID"
t_eq "sandbox owns the netns" "owner" "$(cat "$T_TMP/st-sandbox/net.role" 2>/dev/null)"
PX=$(pidfile_pid "$T_TMP/st-sandbox/proxy.pid")
t_eq "proxy runs in the pod netns" "$(stat -L -c %i /run/netns/$C)" "$(stat -L -c %i /proc/$PX/ns/net 2>/dev/null)"
t_match "pod-shape rules (proxy mark)" "meta mark 0x43415053" "$(ip netns exec "$C" nft list table inet capsule)"
rules_before=$(ip netns exec "$C" nft list ruleset)

out=$(timeout 60 "$RUNTIME" --root "$ROOT" run -b "$APP" "$AID" 2>&1)
sed 's/^/    | /' <<<"$out"
t_match "app: allowed request through the proxy" "HTTP-OK GET /ok/app.*rc=0" "$(tr '\n' ' ' <<<"$out")"
t_match "app: allowed request transparently" "HTTP-OK GET /ok/transparent.*rc=0" "$(tr '\n' ' ' <<<"$out")"
t_match "app: denied host fails" "rc=0 .*rc=0 .*rc=[1-9]" "$(tr '\n' ' ' <<<"$out")"
t_eq "denied host saw nothing" "" "$(cat "$T_TMP/http3.log")"
t_match "app was a member only" '"role":"member"' "$(cat "$T_TMP/st-app/audit.jsonl" 2>/dev/null)"
t_eq "no second ruleset" "$rules_before" "$(ip netns exec "$C" nft list ruleset)"
t_eq "still one proxy" "1" "$(pgrep -f -- "^capsule-proxy .*--capsule-id $SID" | wc -l)"
t_ok "sandbox proxy still up after the app left" alive "$PX"

t_ok "sandbox kill" "$RUNTIME" --root "$ROOT" kill "$SID" KILL
sleep 0.5
t_ok "sandbox delete" "$RUNTIME" --root "$ROOT" delete -f "$SID"
t_ok "proxy gone with the sandbox" wait_for 5 gone "$PX"
t_fails "pin gone" test -e "$T_TMP/st-sandbox/netns"
t_eq "node registry empty" "" "$(ls "$T_TMP/node" 2>/dev/null)"
t_done
