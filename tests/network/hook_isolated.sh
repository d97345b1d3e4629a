#!/bin/bash
# capsule-hook on a stand-in container (a process in a fresh netns, like
# `capsule-runc run` or ctr give): setup pins the netns, adds the stand-in
# interface and the ruleset, starts the supervised proxy (stand-in) with
# listening sockets made inside the netns; escapes from inside fail; a dead
# proxy leaves egress closed, is restarted, then the capsule is killed, all
# audited; a second container joining the netns is only a member; teardown
# leaves nothing behind and is idempotent.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
mk_stand_in
export CAPSULE_NETNS_DIR=$T_TMP/node
CG=/capsule-test/proxy-$$
ST=$T_TMP/state
ID=t$$-iso

in_cgroup ctr-$$ unshare -n sleep 600
CPID=$BG_PID
wait_for 5 own_netns $CPID || t_fail "stand-in container did not start"
t_cleanup "kill -9 $CPID"
t_cleanup "$HOOK teardown --state-dir $ST </dev/null"
HOSTPORT=$((20000 + $$ % 20000))
bg "" $PY "$PROBE" serve-tcp 127.0.0.1 $HOSTPORT HOSTLOOPBACK "$T_TMP/hostlo.log"
touch "$T_TMP/hostlo.log"

in_capsule() { nsenter -t $CPID -n setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"; }

oci_state $ID $CPID >"$T_TMP/state.json"
t_ok "setup (owner)" $HOOK setup --state-dir $ST --proxy $T_TMP/stand-in-proxy --cgroup-parent $CG --restarts 1 <"$T_TMP/state.json"
t_ok "netns pinned under the state dir" mountpoint -q "$ST/netns"
t_eq "pin is the container's netns" "$(stat -L -c %i /proc/$CPID/ns/net)" "$(stat -L -c %i "$ST/netns")"
t_eq "role recorded" "owner" "$(cat "$ST/net.role")"
SUP=$(pidfile_pid "$ST/supervisor.pid")
t_ok "supervisor running" alive "$SUP"
t_ok "proxy started" wait_for 5 grep -q START "$T_TMP/proxy.log"
PX=$(pidfile_pid "$ST/proxy.pid")
t_eq "isolated: proxy lives in the host netns" "$(readlink /proc/self/ns/net)" "$(readlink /proc/$PX/ns/net)"
t_match "proxy got the listening fds" "--listen-fd 3 --transparent-fd 4 --dns-fd 5 --dns-tcp-fd 6" "$(grep ARGS "$T_TMP/proxy.log")"
t_ok "proxy is in its own cgroup" grep -q "$CG/$ID" /proc/$PX/cgroup
t_ok "ruleset present in the capsule netns" nsenter -t $CPID -n nft list table inet capsule
t_match "default route through lo" "default dev lo .*src 192.0.0.8" "$(nsenter -t $CPID -n ip route)"
t_match "IPv6 default route through lo" "default dev lo" "$(nsenter -t $CPID -n ip -6 route)"
t_eq "no device but lo" "lo" "$(nsenter -t $CPID -n ip -o link | awk -F': ' '{print $2}' | cut -d@ -f1)"
t_ok "supervisor did not inherit the hook's stdout" test "$(readlink /proc/$SUP/fd/1)" = /dev/null

# allowed
t_eq "workload reaches the proxy" "PROXY-LISTEN" "$(in_capsule $PY "$PROBE" tcp 127.0.0.1 3128 2>&1)"
t_eq "TCP to any address reaches the transparent port" "PROXY-TRANSPARENT" "$(in_capsule $PY "$PROBE" tcp 192.0.2.10 443 2>&1)"
t_match "original destination known to the proxy" "TRANSPARENT 192.0.2.10:443" "$(cat "$T_TMP/proxy.log")"
t_match "DNS to an outside resolver lands on the stub" "STUB" "$(in_capsule $PY "$PROBE" dns 192.0.2.53 x.example 2>&1)"
# escapes
t_fails "IPv6 TCP fails" in_capsule $PY "$PROBE" tcp 2001:db8::1 80
t_fails "UDP out fails" in_capsule $PY "$PROBE" udp 192.0.2.10 9000
t_fails "ICMP fails" in_capsule $PY "$PROBE" icmp 192.0.2.10
t_fails "host loopback service unreachable" in_capsule $PY "$PROBE" tcp 127.0.0.1 $HOSTPORT
t_eq "host loopback service saw nothing" "" "$(cat "$T_TMP/hostlo.log")"
t_fails "nft flush without CAP_NET_ADMIN" nsenter -t $CPID -n setpriv --bounding-set=-net_admin,-sys_admin -- nft flush ruleset
t_fails "route change without CAP_NET_ADMIN" nsenter -t $CPID -n setpriv --bounding-set=-net_admin,-sys_admin -- ip route del default

# a second container joining the netns is a member only
nsenter -t $CPID -n sleep 600 &
MPID=$!
t_cleanup "kill -9 $MPID"
wait_for 5 own_netns $MPID || t_fail "member did not enter the netns"
oci_state $ID-m $MPID >"$T_TMP/mstate.json"
t_ok "member setup" $HOOK setup --state-dir $T_TMP/member --proxy $T_TMP/stand-in-proxy --cgroup-parent $CG <"$T_TMP/mstate.json"
t_eq "member role" "member" "$(cat "$T_TMP/member/net.role")"
t_fails "member has no pin of its own" test -e "$T_TMP/member/netns"
t_eq "still one proxy" "1" "$(grep -c START "$T_TMP/proxy.log")"
t_ok "member teardown" $HOOK teardown --state-dir $T_TMP/member </dev/null
t_ok "owner untouched by member teardown" alive "$(pidfile_pid "$ST/supervisor.pid")"

# proxy death: egress stays closed, restart, then kill the capsule
kill -9 "$PX"
t_ok "proxy restarted" wait_for 5 count_is 2 START "$T_TMP/proxy.log"
t_ok "ruleset still there" nsenter -t $CPID -n nft list table inet capsule
PX2=$(pidfile_pid "$ST/proxy.pid")
kill -9 "$PX2"
t_ok "capsule killed after the restarts are used up" wait_for 5 gone $CPID
t_ok "supervisor gone with it" wait_for 5 gone $SUP
AUD=$(cat "$ST/audit.jsonl")
t_match "audit: proxy exit" '"event":"proxy.exit"' "$AUD"
t_match "audit: proxy restart" '"event":"proxy.restart"' "$AUD"
t_match "audit: capsule kill" '"event":"capsule.kill"' "$AUD"

# teardown
t_ok "teardown" $HOOK teardown --state-dir $ST <"$T_TMP/state.json"
t_fails "pin gone" test -e "$ST/netns"
t_eq "node registry empty" "" "$(ls "$CAPSULE_NETNS_DIR" 2>/dev/null)"
t_fails "proxy cgroup removed" test -d /sys/fs/cgroup/pids$CG/$ID
t_ok "teardown again is fine" $HOOK teardown --state-dir $ST </dev/null

# refuses the host netns
sleep 600 &
HPID=$!
t_cleanup "kill -9 $HPID"
oci_state $ID-h $HPID >"$T_TMP/hstate.json"
t_fails "setup refuses a host-netns container" $HOOK setup --state-dir $T_TMP/h --proxy $T_TMP/stand-in-proxy <"$T_TMP/hstate.json"
t_fails "... and leaves no pin" test -e "$T_TMP/h/netns"

# a configuration the real proxy refuses fails setup with its reason
PROXY=$CAPSULE_BUILD/hooks/proxy/capsule-proxy
if [ -x "$PROXY" ]; then
  unshare -n sleep 600 &
  BPID=$!
  t_cleanup "kill -9 $BPID"
  wait_for 5 own_netns $BPID
  oci_state $ID-b $BPID >"$T_TMP/bstate.json"
  out=$($HOOK setup --state-dir $T_TMP/b --proxy "$PROXY" --allow 'GET,,, /bad' <"$T_TMP/bstate.json" 2>&1)
  t_match "proxy --check failure fails setup with the reason" "capsule-proxy refuses the configuration: .+" "$out"
  t_fails "... and leaves no pin" test -e "$T_TMP/b/netns"
  t_eq "... nor a supervisor" "" "$(pgrep -f "supervise $T_TMP/b" || true)"
else
  t_skip "capsule-proxy not built: --check failure case"
fi

# refuses a netns owned by a nested user namespace (its root could flush rules)
unshare -Urn sleep 600 &
UPID=$!
t_cleanup "kill -9 $UPID"
wait_for 5 own_netns $UPID
oci_state $ID-u $UPID >"$T_TMP/ustate.json"
t_fails "setup refuses a userns-owned netns" $HOOK setup --state-dir $T_TMP/u --proxy $T_TMP/stand-in-proxy <"$T_TMP/ustate.json"
t_fails "... and leaves no pin" test -e "$T_TMP/u/netns"
t_done
