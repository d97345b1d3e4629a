# Shared helpers for the network containment tests (source after tests/lib.sh).
# Every namespace, veth and server here is created by the test and removed
# at exit; the host's own netns rules and routes are never touched.
PY=/usr/bin/python3
PROBE="$CAPSULE_SRC/tests/network/probe.py"
NFTDRV="$CAPSULE_BUILD/tests/network/capsule-nftdrv"
HOOK="$CAPSULE_BUILD/hooks/netns/capsule-hook"

net_need() {
  t_need_root
  t_need_cmd ip nft jq setpriv unshare
  [ -x "$PY" ] || t_skip_all "needs /usr/bin/python3"
  ip netns add "capsuletest-probe-$$" 2>/dev/null || t_skip_all "cannot create network namespaces"
  ip netns del "capsuletest-probe-$$"
}

# net_pair C O: netns C ("capsule") and O ("outside") joined by a veth,
# C=10.231.0.1 fd00:231::1, O=10.231.0.2 (+10.231.0.3) fd00:231::2;
# C's default routes point at O.
net_pair() {
  local c=$1 o=$2
  ip netns add "$c" && ip netns add "$o" || return 1
  t_cleanup "ip netns del $c"
  t_cleanup "ip netns del $o"
  ip -n "$c" link set lo up
  ip -n "$o" link set lo up
  ip link add "vc$$" netns "$c" type veth peer name "vo$$" netns "$o" || return 1
  ip -n "$c" link set "vc$$" up
  ip -n "$o" link set "vo$$" up
  ip -n "$c" addr add 10.231.0.1/24 dev "vc$$"
  ip -n "$o" addr add 10.231.0.2/24 dev "vo$$"
  ip -n "$o" addr add 10.231.0.3/24 dev "vo$$"
  ip -n "$c" -6 addr add fd00:231::1/64 dev "vc$$" nodad
  ip -n "$o" -6 addr add fd00:231::2/64 dev "vo$$" nodad
  ip -n "$c" route add default via 10.231.0.2
  ip -n "$c" -6 route add default via fd00:231::2
}

# bg NETNS CMD...: run CMD in the background inside NETNS ("" = here), killed at exit.
bg() {
  local ns=$1; shift
  if [ -n "$ns" ]; then ip netns exec "$ns" "$@" & else "$@" & fi
  t_cleanup "kill $!"
}

# As an unprivileged workload (nobody, no capabilities) inside NETNS.
as_nobody() {
  local ns=$1; shift
  ip netns exec "$ns" setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all -- "$@"
}
# As root without CAP_NET_ADMIN / CAP_SYS_ADMIN (but with CAP_NET_RAW) inside NETNS.
as_root_no_netadmin() {
  local ns=$1; shift
  ip netns exec "$ns" setpriv --inh-caps=-all --bounding-set=-net_admin,-sys_admin -- "$@"
}

# wait_port NETNS PORT [udp]: until something listens there (max ~5 s).
wait_port() {
  local ns=$1 port=$2 proto=${3:-tcp} i f=-tln
  [ "$proto" = udp ] && f=-uln
  for i in $(seq 50); do
    if ip netns exec "$ns" ss -H $f "sport = :$port" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  return 1
}

# nft_norm NETNS: the ruleset as JSON without handles and metainfo, sorted keys.
nft_norm() {
  ip netns exec "$1" nft -j list ruleset | jq -S '[.nftables[] | select(has("metainfo") | not)
    | walk(if type == "object" then del(.handle) else . end)]'
}

# A stand-in for capsule-proxy at $T_TMP/stand-in-proxy: logs its arguments
# and netns, then serves the inherited fds (probe.py stand-in-proxy).
mk_stand_in() {
  cat >"$T_TMP/stand-in-proxy" <<EOS
#!/bin/bash
case " \$* " in *" --check "*) exit 0;; esac
echo "ARGS \$*" >>"$T_TMP/proxy.log"
echo "NETNS \$(readlink /proc/self/ns/net)" >>"$T_TMP/proxy.log"
exec $PY "$PROBE" stand-in-proxy "$T_TMP/proxy.log"
EOS
  chmod +x "$T_TMP/stand-in-proxy"
  : >"$T_TMP/proxy.log"
}

# oci_state ID PID: the state JSON a runtime gives its hooks.
oci_state() {
  printf '{"ociVersion":"1.2.0","id":"%s","status":"creating","pid":%d,"bundle":"%s","annotations":{%s}}' \
    "$1" "$2" "$T_TMP" "${3:-}"
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
  local n=$(( $1 * 10 )) i; shift
  for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# pidfile_pid FILE: the pid in a "pid starttime" file.
pidfile_pid() { cut -d' ' -f1 "$1" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# gone PID: the process has exited (gone or a zombie).
gone() { [ ! -e /proc/$1 ] || [ "$(sed 's/^.*) //' /proc/$1/stat | cut -c1)" = Z ]; }

# in_cgroup NAME CMD...: run CMD in the background in cgroup /capsule-test/NAME
# (pids and memory hierarchies, or v2), like a container with its own
# cgroupsPath; prints nothing, sets BG_PID.
in_cgroup() {
  local name=$1 d; shift
  for d in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do
    [ -e "$d/cgroup.procs" ] || continue
    mkdir -p "$d/capsule-test/$name"
    t_cleanup "rmdir $d/capsule-test/$name"
  done
  sh -c 'for d in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup/unified; do
           [ -e "$d/capsule-test/'"$name"'/cgroup.procs" ] && echo $$ >"$d/capsule-test/'"$name"'/cgroup.procs"; done
         exec "$@"' sh "$@" &
  BG_PID=$!
  disown $BG_PID
}
# own_netns PID: PID is in a netns other than ours.
own_netns() { [ "$(readlink /proc/$1/ns/net)" != "$(readlink /proc/self/ns/net)" ]; }
# count_is N PATTERN FILE: grep -c PATTERN FILE == N.
count_is() { [ "$(grep -c -- "$2" "$3" 2>/dev/null)" = "$1" ]; }

# The proxy cgroup parents the tests use (/capsule-test/px-PID, proxy-PID):
# removed last, once every capsule of the test is torn down.
t_cleanup "rmdir /sys/fs/cgroup/*/capsule-test/px-$$ /sys/fs/cgroup/*/capsule-test/proxy-$$ /sys/fs/cgroup/capsule-test/px-$$"
