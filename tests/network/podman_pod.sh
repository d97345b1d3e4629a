#!/bin/bash
# podman --runtime capsule-runc with a CNI bridge network (pod shape), the
# hooks injected by podman's hooks.d (so this needs no capsule mode in the
# runtime): the proxy runs in the container's netns with marked sockets;
# allowed requests pass (proxy env and transparent), denied ones fail, the
# server sees only the allowed ones; nothing is left afterwards.  podman
# runs inside a netns made here (its bridge lives there, not on the host).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
. "$CAPSULE_SRC/tests/clients/image.sh"
net_need
t_need_cmd podman conmon umoci skopeo
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=$CAPSULE_BUILD/hooks/proxy/capsule-proxy
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
client_image || t_skip_all "could not build the busybox image (umoci/skopeo)"

H=capsuletest-$$-pd
ip netns add "$H" || t_skip_all "cannot create a network namespace"
t_cleanup "ip netns del $H"
ip -n "$H" link set lo up
D=$T_TMP/podman
mkdir -p "$D/tmp" "$D/cni" "$D/hooks"
cat >"$D/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$D/root"
runroot = "$D/runroot"
EOC
export CONTAINERS_STORAGE_CONF=$D/storage.conf
cat >"$D/cni/capsule-net.conflist" <<EOC
{ "cniVersion": "0.4.0", "name": "capsulenet",
  "plugins": [ { "type": "bridge", "bridge": "cpn0", "isGateway": true, "ipMasq": false,
                 "ipam": { "type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
                           "ranges": [[{"subnet": "10.213.9.0/24", "gateway": "10.213.9.1"}]] } } ] }
EOC
ST=$T_TMP/state
for stage in createRuntime poststop; do
  verb=setup; [ $stage = poststop ] && verb=teardown
  jq -n --arg h "$HOOK" --arg v $verb --arg s "$ST" --arg p "$PROXY" --arg cg "/capsule-test/px-$$" \
        --arg nd "$T_TMP/node" --arg stage $stage '
    {version: "1.0.0",
     hook: {path: $h, env: ["CAPSULE_NETNS_DIR=" + $nd],
            args: (["capsule-hook", $v, "--state-dir", $s]
                   + (if $v == "setup" then ["--proxy", $p, "--cgroup-parent", $cg, "--allow", "GET 10.213.9.1:8080/ok/*"] else [] end))},
     when: {annotations: {"^capsule-test$": "^on$"}},
     stages: [$stage]}' >"$D/hooks/capsule-$verb.json"
done
P() { nsenter --net="/run/netns/$H" podman --root "$D/root" --runroot "$D/runroot" --storage-driver vfs \
        --cgroup-manager cgroupfs --events-backend file --tmpdir "$D/tmp" --network-config-dir "$D/cni" \
        --hooks-dir "$D/hooks" --runtime "$RUNTIME" "$@"; }
t_cleanup "P rm -af -t 0"
t_ok "podman load" P load -i "$CLIENT_IMG_DIR/busybox.tar"
bg "$H" $PY "$PROBE" serve-http 0.0.0.0 8080 "$T_TMP/http.log"
bg "$H" $PY "$PROBE" serve-tcp 0.0.0.0 9000 OUTSIDE-TCP "$T_TMP/tcp.log"
wait_port "$H" 8080 || t_fail "server did not start"
touch "$T_TMP/http.log" "$T_TMP/tcp.log"

out=$(P run --rm --network capsulenet --annotation capsule-test=on --env http_proxy=http://127.0.0.1:3128 \
        --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cgroup-parent "/capsule-test/podman-$$" \
        "$CLIENT_IMG_REF" /bin/sh -c '
  timeout 5 wget -q -O- http://10.213.9.1:8080/ok/proxied; echo "rc=$?"
  env -u http_proxy timeout 5 wget -q -O- http://10.213.9.1:8080/ok/transparent; echo "rc=$?"
  timeout 5 wget -q -O- http://10.213.9.1:8080/deny/x; echo "rc=$?"
  echo hi | nc -w 2 10.213.9.1 9000; echo "rc=$?"
  ping -c 1 -W 1 10.213.9.1 >/dev/null 2>&1; echo "ping=$?"' 2>&1)
echo "$out" | sed 's/^/    | /'
flat=$(tr '\n' ' ' <<<"$out")
t_match "allowed request through the proxy" "HTTP-OK GET /ok/proxied rc=0" "$flat"
t_match "allowed request transparently" "HTTP-OK GET /ok/transparent rc=0" "$flat"
t_match "denied path fails" "403 Forbidden rc=[1-9]" "$flat"
t_match "ping fails" "ping=[1-9]" "$flat"
t_eq "server saw only the allowed requests" "GET /ok/proxied
GET /ok/transparent" "$(sort "$T_TMP/http.log")"
t_eq "direct TCP never reached the other port" "" "$(cat "$T_TMP/tcp.log")"
t_match "hook ran as owner in the pod shape" '"shape":"pod"' "$(cat "$ST/audit.jsonl" 2>/dev/null)"
t_match "proxy audited the denied request" '/deny/x' "$(cat "$ST/audit.jsonl" 2>/dev/null)"
t_fails "no pin left" test -e "$ST/netns"
t_eq "no supervisor left" "" "$(pgrep -f "supervise $ST" || true)"
t_done
