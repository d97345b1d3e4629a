#!/bin/bash
# Kubernetes through the real CRI: a private containerd (own root, state and
# socket) with its CRI plugin and CNI (bridge + host-local), run inside a
# network namespace H that the test made, so the bridge, the pod netns and
# every route stay inside it.  A RuntimeClass-style handler `capsule` runs
# capsule-runc with pod_annotations = ["capsule/*"].  A hand-written CRI
# client (tests/network/cri: same package, service and field numbers as
# k8s cri-api runtime/v1) does RunPodSandbox -> CreateContainer ->
# StartContainer -> ExecSync; egress is checked from inside the app
# container, against servers in O (reached through H's forwarding).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/clients/image.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd containerd ctr containerd-shim-runc-v2 umoci skopeo busybox
$PY -c 'import grpc, grpc_tools.protoc' 2>/dev/null || t_skip_all "needs python3-grpcio and python3-grpc-tools"
CNI_BIN=/usr/lib/cni
[ -x $CNI_BIN/bridge ] && [ -x $CNI_BIN/host-local ] && [ -x $CNI_BIN/loopback ] || t_skip_all "needs containernetworking-plugins"
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
[ -x "$CAPSULE_BUILD/hooks/proxy/capsule-proxy" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
mkdir -p "$CAPSULE_BUILD"
client_image || t_skip_all "could not build the busybox image (umoci/skopeo)"

D=$T_TMP/ctrd
mkdir -p "$D/cni" "$T_TMP/audit" "$D/gen"
export CRI_GEN=$D/gen
CRI() { $PY "$CAPSULE_SRC/tests/network/cri/cri.py" "$D/containerd.sock" "$@"; }

# The pause image: the busybox image whose command never returns.
PAUSE_REF=docker.io/capsule-test/pause:1
( set -e
  cp -r "$CLIENT_IMG_DIR/oci" "$D/pause-oci"
  umoci config --image "$D/pause-oci:latest" --config.cmd /bin/sleep --config.cmd 2147483647
  skopeo --insecure-policy copy -q "oci:$D/pause-oci:latest" "docker-archive:$D/pause.tar:capsule-test/pause:1"
) >"$D/pause.log" 2>&1 || { tail -5 "$D/pause.log"; t_skip_all "could not build the pause image"; }

# H: the node's netns (containerd, CNI bridge 10.232.0.1/24); O: the outside.
H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
ip netns exec "$H" sysctl -qw net.ipv4.ip_forward=1
ip -n "$O" route add 10.232.0.0/24 via 10.231.0.1
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http2.log"
bg "$O" $PY "$PROBE" serve-http 10.231.0.3 8080 "$T_TMP/http3.log"
wait_port "$O" 8080 || t_fail "test servers did not start"
touch "$T_TMP"/http{2,3}.log

cat >"$D/cni/10-capsule-test.conflist" <<EOF
{ "cniVersion": "0.4.0", "name": "capsule-test",
  "plugins": [ { "type": "bridge", "bridge": "cni-cap$$", "isGateway": true, "ipMasq": false,
                 "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.232.0.0/24" }]],
                           "routes": [{ "dst": "0.0.0.0/0" }] } } ] }
EOF
# The runtime as the shim calls it, with the test's policy and registry.
printf '{"directories":{"audit":"%s"},"egress":{"allow_private":["10.231.0.0/24"]}}' "$T_TMP/audit" >"$T_TMP/policy.json"
cat >"$D/capsule-runc" <<EOF
#!/bin/sh
echo "\$*" >>"$D/calls.log"
export CAPSULE_POLICY=$T_TMP/policy.json CAPSULE_NETNS_DIR=$T_TMP/node
exec "$RUNTIME" "\$@"
EOF
chmod +x "$D/capsule-runc"
cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[debug]
  address = "$D/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.capsule]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["capsule/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.capsule.options]
        BinaryName = "$D/capsule-runc"
        Root = "$D/runc-root"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$D/cni"
EOC
# nsenter, not `ip netns exec`: that remounts /sys and hides the cgroup mounts
nsenter --net=/run/netns/$H containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
t_cleanup "kill $CTRD_PID; sleep 0.5; kill -9 $CTRD_PID"
for i in $(seq 100); do CRI version >/dev/null 2>&1 && break; sleep 0.1; done
CRI version >/dev/null 2>&1 || { tail -20 "$D/containerd.log"; t_skip_all "private containerd with CRI did not start"; }
echo "# $(CRI version)"
C() { ctr --address "$D/containerd.sock" -n k8s.io "$@"; }
t_ok "images imported into k8s.io" sh -c "ctr --address $D/containerd.sock -n k8s.io images import $CLIENT_IMG_DIR/busybox.tar \
  && ctr --address $D/containerd.sock -n k8s.io images import $D/pause.tar"

POD=$(jq -n -c --arg uid "$(cat /proc/sys/kernel/random/uuid)" --arg cg "/capsule-test/cri-$$" '{
  metadata: {name: "agent", uid: $uid, namespace: "default", attempt: 0},
  hostname: "agent", linux: {cgroup_parent: $cg},
  annotations: {"capsule/egress.allow": "GET 10.231.0.2:8080/ok/*", "capsule/agent": "cri-bot",
                "unrelated/annotation": "not passed"}}')
for d in /sys/fs/cgroup/*/; do t_cleanup "rmdir $d/capsule-test/cri-$$"; done
t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
SID=$(CRI runp "$POD" capsule 2>"$T_TMP/runp.err")
t_match "RunPodSandbox with handler capsule" "^[0-9a-f]{64}$" "$SID"
[ -n "$SID" ] || { cat "$T_TMP/runp.err"; tail -20 "$D/containerd.log"; }
t_cleanup "$PY $CAPSULE_SRC/tests/network/cri/cri.py $D/containerd.sock rmp $SID"
t_cleanup "$PY $CAPSULE_SRC/tests/network/cri/cri.py $D/containerd.sock stopp $SID"
RR=$D/runc-root/k8s.io
t_ok "sandbox is a capsule recorded as the pod" test -s "$RR/$SID/pod.json"
t_eq "sandbox owns the pod netns" owner "$(cat "$RR/$SID/net.role" 2>/dev/null)"
t_match "pod shape (CNI interface)" '"shape":"pod"' "$(cat "$T_TMP/audit/$SID.jsonl" 2>/dev/null)"

CTR=$(jq -n -c --arg img "$CLIENT_IMG_REF" '{metadata: {name: "app", attempt: 0}, image: {image: $img},
  command: ["/bin/sleep", "600"]}')
CID=$(CRI create "$SID" "$CTR" "$POD" 2>"$T_TMP/create.err")
t_match "CreateContainer" "^[0-9a-f]{64}$" "$CID"
[ -n "$CID" ] || cat "$T_TMP/create.err"
t_ok "StartContainer" CRI start "$CID"
t_match "app container running" "^CONTAINER_RUNNING" "$(CRI status "$CID")"
t_eq "app container is a member of the pod netns" member "$(cat "$RR/$CID/net.role" 2>/dev/null)"
t_eq "app container in the pod's session" "$SID" "$(jq -r .session "$RR/$CID/capsule.json" 2>/dev/null)"
t_eq "... with the pod's agent" cri-bot "$(jq -r .agent "$RR/$CID/capsule.json" 2>/dev/null)"
t_eq "one proxy for the pod" 1 "$(pgrep -f -- "^capsule-proxy .*--capsule-id $SID" | wc -l)"

ex() { CRI exec "$CID" 20 "$@" 2>&1; echo "rc=$?"; }
# (busybox wget's own -T crashes here: timeout(1) bounds it instead)
t_match "exec'd processes get the proxy env too" "HTTP_PROXY=http://127.0.0.1:3128" "$(ex env)"
out=$(ex timeout 5 wget -q -O- http://10.231.0.2:8080/ok/cri)
t_match "inside: allowed GET through the pod's proxy" "HTTP-OK GET /ok/cri.*rc=0" "$(tr '\n' ' ' <<<"$out")"
out=$(ex env -u http_proxy -u HTTP_PROXY timeout 5 wget -q -O- http://10.231.0.2:8080/ok/transparent)
t_match "inside: allowed GET transparently" "HTTP-OK GET /ok/transparent.*rc=0" "$(tr '\n' ' ' <<<"$out")"
out=$(ex timeout 5 wget -q -O- http://10.231.0.3:8080/ok/denied)
t_match "inside: denied host fails" "rc=[1-9]" "$(tr '\n' ' ' <<<"$out")"
out=$(ex sh -c 'echo hi | nc -w 2 10.231.0.2 8080')
t_eq "inside: raw TCP never reaches the server directly" "" "$(grep -v '^GET /ok/\(cri\|transparent\)$' "$T_TMP/http2.log")"
out=$(ex ip route add 10.0.0.0/8 dev eth0)
t_match "inside: route change fails" "rc=[1-9]" "$(tr '\n' ' ' <<<"$out")"
t_eq "denied host saw nothing" "" "$(cat "$T_TMP/http3.log")"
t_match "the shim drove capsule-runc create" "create .*--bundle" "$(cat "$D/calls.log" 2>/dev/null)"

t_ok "StopPodSandbox" CRI stopp "$SID"
t_ok "RemovePodSandbox" CRI rmp "$SID"
t_eq "no proxy left" "" "$(pgrep -f -- "capsule-id $SID" || true)"

# --- the pod's timeout stops the app container; the sandbox stays ready -------
POD2=$(jq -c '.metadata.name = "timed" | .metadata.uid = $u | .annotations["capsule/timeout"] = "6s"' \
  --arg u "$(cat /proc/sys/kernel/random/uuid)" <<<"$POD")
SID2=$(CRI runp "$POD2" capsule 2>&1)
t_match "RunPodSandbox (capsule/timeout 6s)" "^[0-9a-f]{64}$" "$SID2"
t_cleanup "$PY $CAPSULE_SRC/tests/network/cri/cri.py $D/containerd.sock rmp $SID2"
t_cleanup "$PY $CAPSULE_SRC/tests/network/cri/cri.py $D/containerd.sock stopp $SID2"
CTR2=$(jq -c '.metadata.name = "long" | .command = ["/bin/sh", "-c", "trap \"exit 0\" TERM; sleep 600 & wait"]' <<<"$CTR")
CID2=$(CRI create "$SID2" "$CTR2" "$POD2" 2>&1)
t_ok "StartContainer (long-running)" CRI start "$CID2"
exited() { CRI status "$CID2" | grep -q '^CONTAINER_EXITED'; }
t_ok "the pod's timeout stops the app container" wait_for 30 exited
t_eq "the sandbox stays ready (kubelet has nothing to recreate)" SANDBOX_READY "$(CRI statusp "$SID2")"
# kubelet's restart: CreateContainer only records it, StartContainer runs `create`
CTR3=$(jq -c '.metadata.attempt = 1' <<<"$CTR2")
CID3=$(CRI create "$SID2" "$CTR3" "$POD2" 2>&1)
out=$(CRI start "$CID3" 2>&1)
t_match "a restarted container is refused once the pod's time is up" "timeout has passed" "$out"
t_eq "... and the sandbox is still ready" SANDBOX_READY "$(CRI statusp "$SID2")"
t_ok "StopPodSandbox (timed pod)" CRI stopp "$SID2"
t_ok "RemovePodSandbox (timed pod)" CRI rmp "$SID2"
t_eq "node registry empty" "" "$(ls "$T_TMP/node" 2>/dev/null)"
[ "$T_FAIL" -eq 0 ] || { echo "# containerd log:"; grep -i "error\|fail" "$D/containerd.log" | tail -15 | sed 's/^/    /'; }
t_done
