#!/bin/bash
# containerd + ctr --runc-binary, isolated shape (no CNI: the task gets a
# fresh netns with only lo).  A wrapper in front of capsule-runc adds the
# capsule-hook entries to the bundle at `create` (what capsule mode does in
# the runtime), so the shim's create/start/delete flow drives setup and
# teardown.  containerd runs in a netns made here (H), so the proxy's
# upstream side is H, with a veth to O where the servers are.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
. "$CAPSULE_SRC/tests/clients/image.sh"
net_need
t_need_cmd containerd ctr containerd-shim-runc-v2 umoci skopeo
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=$CAPSULE_BUILD/hooks/proxy/capsule-proxy
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
client_image || t_skip_all "could not build the busybox image (umoci/skopeo)"

H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http.log"
wait_port "$O" 8080 || t_fail "server did not start"
touch "$T_TMP/http.log"

D=$T_TMP/ctrd
mkdir -p "$D/wrap"
cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[debug]
  address = "$D/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
EOC
nsenter --net=/run/netns/$H containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
t_cleanup "kill $CTRD_PID; sleep 0.5; kill -9 $CTRD_PID"
C() { ctr --address "$D/containerd.sock" -n capsule-test "$@"; }
for i in $(seq 100); do C version >/dev/null 2>&1 && break; sleep 0.1; done
C version >/dev/null 2>&1 || { tail -20 "$D/containerd.log"; t_skip_all "private containerd did not start"; }

# The wrapper: at create, add the hooks and the proxy env to the bundle.
cat >"$D/wrap/runtime" <<EOW
#!/bin/bash
echo "\$*" >>"$D/wrap/calls.log"
args=("\$@"); id=\${args[\$((\$# - 1))]}; bundle=
for ((i = 0; i < \$#; i++)); do [ "\${args[\$i]}" = --bundle ] && bundle=\${args[\$((i + 1))]}; done
if [[ " \$* " == *" create "* && -n "\$bundle" ]]; then
  jq --arg h "$HOOK" --arg s "$T_TMP/st-\$id" --arg p "$PROXY" --arg cg "/capsule-test/px-$$" --arg nd "$T_TMP/node" '
    .process.env += ["http_proxy=http://127.0.0.1:3128"]
    | .hooks.createRuntime += [{path: \$h, env: ["CAPSULE_NETNS_DIR=" + \$nd],
        args: ["capsule-hook","setup","--state-dir",\$s,"--proxy",\$p,"--cgroup-parent",\$cg,"--allow","GET 10.231.0.2:8080/ok/*"]}]
    | .hooks.poststop += [{path: \$h, env: ["CAPSULE_NETNS_DIR=" + \$nd],
        args: ["capsule-hook","teardown","--state-dir",\$s]}]' "\$bundle/config.json" >"\$bundle/config.json.new" \
    && mv "\$bundle/config.json.new" "\$bundle/config.json"
fi
exec "$RUNTIME" "\$@"
EOW
chmod +x "$D/wrap/runtime"
t_ok "ctr image import" C images import "$CLIENT_IMG_DIR/busybox.tar"

ID=ctrcap-$$
t_cleanup "C task kill -s KILL $ID; sleep 0.3; C task rm -f $ID; C containers rm $ID"
out=$(timeout 120 ctr --address "$D/containerd.sock" -n capsule-test run --runc-binary "$D/wrap/runtime" \
        --cgroup "/capsule-test/ctr-$$" --rm "$CLIENT_IMG_REF" "$ID" /bin/sh -c '
  ip -4 -o addr show dev lo | grep -c 192.0.0.8; timeout 5 wget -q -O- http://10.231.0.2:8080/ok/ctr; echo "rc=$?"
  env -u http_proxy timeout 5 wget -q -O- http://10.231.0.2:8080/ok/transparent; echo "rc=$?"
  timeout 5 wget -q -O- http://10.231.0.2:8080/deny/ctr; echo "rc=$?"' 2>&1)
echo "$out" | sed 's/^/    | /'
flat=$(tr '\n' ' ' <<<"$out")
t_match "task is in the isolated shape (192.0.0.8 on lo)" "^[1-9]" "$flat"
t_match "allowed request through the proxy" "HTTP-OK GET /ok/ctr rc=0" "$flat"
t_match "allowed request transparently" "HTTP-OK GET /ok/transparent rc=0" "$flat"
t_match "denied path fails" "403 Forbidden rc=[1-9]" "$flat"
t_eq "server saw only the allowed requests" "GET /ok/ctr
GET /ok/transparent" "$(sort "$T_TMP/http.log")"
t_match "the shim drove create with our hooks" "create .*--bundle" "$(cat "$D/wrap/calls.log")"
t_match "audit: setup, isolated shape" '"shape":"isolated"' "$(cat "$T_TMP/st-$ID/audit.jsonl" 2>/dev/null)"
t_match "audit: teardown at the shim's delete" '"event":"network.teardown"' "$(cat "$T_TMP/st-$ID/audit.jsonl" 2>/dev/null)"
t_fails "no pin left" test -e "$T_TMP/st-$ID/netns"
[ "$T_FAIL" -eq 0 ] || { echo "# containerd log:"; tail -15 "$D/containerd.log" | sed 's/^/    /'; echo "# runtime calls:"; sed 's/^/    /' "$D/wrap/calls.log"; }
t_eq "no supervisor left" "" "$(pgrep -f "supervise $T_TMP/st-$ID" || true)"
t_done
