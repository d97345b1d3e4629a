#!/bin/bash
# Restart churn: N (default 100) `capsule-runc run`s of a capsule whose
# config lists capsule-hook with the real proxy, each making one proxied
# request, then: no netns pins, no extra network namespaces (so no nft
# tables), no supervisors or proxies, no proxy cgroups, no node registry
# entries and no new fds in this shell are left behind.  Then a crashed
# runtime: supervisor killed -9 and the runtime never tearing down; a
# `netcontain`-style cleanup (teardown --state-dir) still removes all.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox nsenter lsns
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=${CAPSULE_PROXY:-$CAPSULE_BUILD/hooks/proxy/capsule-proxy}
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"
N=${CHURN_RUNS:-100}

H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http.log"
wait_port "$O" 8080 || t_fail "server did not start"
B=$T_TMP/bundle
mk_bundle "$B" sh -c 'timeout 5 wget -q -O- http://10.231.0.2:8080/ok/churn' || t_skip_all "cannot make a bundle"
CG=/capsule-test/px-$$
if [ "${NET_RULES_VIA:-}" = capsule ]; then
  # capsule mode: the runtime adds hooks and env; its proxy cgroups go under /capsule-proxy
  mkdir -p "$T_TMP/audit"
  printf '{"directories":{"audit":"%s"},"egress":{"allow_private":["10.231.0.0/24"]}}' "$T_TMP/audit" >"$T_TMP/policy.json"
  export CAPSULE_POLICY=$T_TMP/policy.json CAPSULE_NETNS_DIR=$T_TMP/node
  cfg_set "$B" '.annotations["capsule/egress.allow"] = "GET 10.231.0.2:8080/ok/*"'
  CG=/capsule-proxy
  t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
else
cfg_set "$B" '.process.env += ["http_proxy=http://127.0.0.1:3128"]
  | .hooks = {"createRuntime": [{"path": $h, "env": $e,
      "args": ["capsule-hook","setup","--state-dir",$s,"--proxy",$p,"--cgroup-parent",$cg,"--allow","GET 10.231.0.2:8080/ok/*"]}],
    "poststop": [{"path": $h, "env": $e, "args": ["capsule-hook","teardown","--state-dir",$s]}]}' \
  --arg h "$HOOK" --arg s "$T_TMP/state" --arg p "$PROXY" --arg cg "$CG" --argjson e "[\"CAPSULE_NETNS_DIR=$T_TMP/node\"]"
fi

leftovers() {
  echo "pins=$(grep -c "$T_TMP" /proc/self/mountinfo)"
  echo "procs=$(pgrep -f "$T_TMP/(state|root)" | wc -l)"
  echo "cgroups=$(find /sys/fs/cgroup/pids$CG -mindepth 1 -type d -name "churn-$$-*" 2>/dev/null | wc -l)"
  echo "node=$(ls "$T_TMP/node" 2>/dev/null | wc -l)"
}
# capsule netns still alive (held by a process): they carry 192.0.0.8 on lo
capsule_netns() {
  local pid n=0
  for pid in $(lsns -n -t net -o PID); do
    nsenter -t "$pid" -n ip -4 -o addr show dev lo 2>/dev/null | grep -q ' 192\.0\.0\.8/' && n=$((n + 1))
  done
  echo $n
}
fds_before=$(ls /proc/$$/fd | wc -l)
ns_before=$(capsule_netns)

ok=0
start=$(date +%s.%N)
for i in $(seq "$N"); do
  out=$(nsenter --net=/run/netns/$H timeout 60 "$RUNTIME" --root "$T_TMP/root" run -b "$B" "churn-$$-$i" 2>&1)
  [[ "$out" == *"HTTP-OK GET /ok/churn"* ]] && ok=$((ok + 1)) || echo "    run $i: $out" | head -3
done
end=$(date +%s.%N)
echo "# $N runs in $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"
t_eq "every run's proxied request worked" "$N" "$ok"
t_eq "the server saw every request" "$N" "$(grep -c /ok/churn "$T_TMP/http.log")"
t_eq "nothing left behind" "pins=0 procs=0 cgroups=0 node=0" "$(leftovers | tr '\n' ' ' | sed 's/ $//')"
t_eq "no capsule network namespace (or its nft table) leaked" "$ns_before" "$(capsule_netns)"
t_eq "no fd leaked into the caller" "$fds_before" "$(ls /proc/$$/fd | wc -l)"

# Crash: a container whose runtime died before poststop, supervisor killed
# too; the cleanup alone (what `delete --force` calls) removes everything.
in_cgroup ctr-$$ unshare -n sleep 600
CPID=$BG_PID
t_cleanup "kill -9 $CPID"
wait_for 5 own_netns $CPID || t_fail "stand-in container did not start"
oci_state crash-$$ $CPID >"$T_TMP/state.json"
CAPSULE_NETNS_DIR=$T_TMP/node "$HOOK" setup --state-dir "$T_TMP/state" --proxy "$PROXY" --cgroup-parent "$CG" \
  --allow "GET 10.231.0.2:8080/ok/*" <"$T_TMP/state.json" || t_fail "setup for the crash case"
kill -9 "$(pidfile_pid "$T_TMP/state/supervisor.pid")"
kill -9 $CPID
sleep 0.3
t_ok "proxy died with its supervisor (no orphan)" wait_for 5 test "$(pgrep -f "capsule-id crash-$$" | wc -l)" = 0
t_ok "cleanup after the crash" env CAPSULE_NETNS_DIR="$T_TMP/node" "$HOOK" teardown --state-dir "$T_TMP/state" </dev/null
t_eq "nothing left after the crash cleanup" "pins=0 procs=0 cgroups=0 node=0" "$(leftovers | tr '\n' ' ' | sed 's/ $//')"
t_done
