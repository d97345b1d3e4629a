#!/bin/bash
# capsule-hook, pod shape: the container's netns already has a real
# interface (CNI, podman, a Kubernetes sandbox).  The proxy runs inside that
# netns with its upstream sockets marked; the workload's TCP is redirected
# to it; with the proxy dead (supervisor stopped) nothing leaves.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
mk_stand_in
export CAPSULE_NETNS_DIR=$T_TMP/node
CG=/capsule-test/proxy-$$
ST=$T_TMP/state
ID=t$$-pod
C=capsuletest-$$-c O=capsuletest-$$-o
MARK=0x43415053
net_pair "$C" "$O" || t_skip_all "cannot create veth pair"

in_cgroup ctr-$$ ip netns exec "$C" sleep 600
CPID=$BG_PID
t_cleanup "kill -9 $CPID"
t_cleanup "$HOOK teardown --state-dir $ST </dev/null"
wait_for 5 own_netns $CPID || t_fail "stand-in container did not start"
bg "$O" $PY "$PROBE" serve-tcp 0.0.0.0 8000 OUTSIDE "$T_TMP/outside.log"
wait_port "$O" 8000 || t_fail "outside server did not start"
touch "$T_TMP/outside.log"

oci_state $ID $CPID >"$T_TMP/state.json"
t_ok "setup (pod shape)" $HOOK setup --state-dir $ST --proxy $T_TMP/stand-in-proxy --cgroup-parent $CG \
  --on-proxy-failure restart-forever <"$T_TMP/state.json"
t_ok "proxy started" wait_for 5 grep -q START "$T_TMP/proxy.log"
PX=$(pidfile_pid "$ST/proxy.pid")
t_eq "proxy lives in the pod netns" "$(readlink /proc/$CPID/ns/net)" "$(readlink /proc/$PX/ns/net)"
t_match "proxy marks its upstream sockets" "--upstream-mark $((MARK))" "$(grep ARGS "$T_TMP/proxy.log")"
t_match "ruleset carries the mark" "meta mark $MARK accept" "$(ip netns exec "$C" nft list table inet capsule)"
t_fails "no isolated-shape address in the pod shape" sh -c "ip netns exec $C ip -4 -o addr show dev lo | grep -q 192.0.0.8"

wl() { nsenter -t $CPID -n setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"; }
t_eq "workload TCP goes to the proxy" "PROXY-TRANSPARENT" "$(wl $PY "$PROBE" tcp 10.231.0.2 8000 2>&1)"
t_eq "... never to the server" "" "$(cat "$T_TMP/outside.log")"
t_eq "marked (proxy) socket leaves" "OUTSIDE" "$(ip netns exec "$C" $PY "$PROBE" tcp 10.231.0.2 8000 $MARK 2>&1)"
: >"$T_TMP/outside.log"

# fail closed: supervisor frozen, proxy dead
SUP=$(pidfile_pid "$ST/supervisor.pid")
kill -STOP "$SUP"
kill -9 "$PX"
sleep 0.2
out=$(wl $PY "$PROBE" tcp 10.231.0.2 8000 2>&1)
t_eq "with the proxy dead the workload gets nothing" "" "$out"
wl $PY "$PROBE" udp 10.231.0.2 8000 >/dev/null 2>&1
t_fails "with the proxy dead ICMP fails" wl $PY "$PROBE" icmp 10.231.0.2
t_eq "with the proxy dead nothing reached outside" "" "$(cat "$T_TMP/outside.log")"
kill -CONT "$SUP"
t_ok "proxy restarted" wait_for 5 count_is 2 START "$T_TMP/proxy.log"
t_eq "egress through the restarted proxy" "PROXY-TRANSPARENT" "$(wl $PY "$PROBE" tcp 10.231.0.2 8000 2>&1)"

# the container's init exits: supervisor and proxy go
PX=$(pidfile_pid "$ST/proxy.pid")
kill -9 $CPID
t_ok "supervisor exits with the container" wait_for 5 gone $SUP
t_ok "proxy exits with it" wait_for 5 gone $PX
t_ok "teardown" $HOOK teardown --state-dir $ST <"$T_TMP/state.json"
t_fails "pin gone" test -e "$ST/netns"
t_match "audit: setup as owner, pod shape" '"event":"network.setup".*"shape":"pod"' "$(cat "$ST/audit.jsonl")"
t_done
