#!/bin/bash
# lib/nft.c in netns the test creates: the ruleset read back with
# `nft -j list ruleset` equals the reference text loaded by nft itself, and
# from inside the capsule netns, as a workload without CAP_NET_ADMIN, every
# way out fails while the proxy ports work (pod shape: real veth to an
# "outside" netns, proxy identified by socket mark).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
[ -x "$NFTDRV" ] || t_skip_all "capsule-nftdrv not built"

C=capsuletest-$$-c O=capsuletest-$$-o R=capsuletest-$$-r
MARK=0x43415053
net_pair "$C" "$O" || t_skip_all "cannot create veth pair"
ip netns add "$R" && t_cleanup "ip netns del $R"

# --- the ruleset as nft sees it ---
t_ok "install pod-shape ruleset" ip netns exec "$C" "$NFTDRV" install --proxy 3128 --transparent 3129 --dns 53 \
  --mark $MARK --dst4 10.231.0.2 --dst6 fd00:231::2 --inbound 8080
cat >"$T_TMP/ref.nft" <<EOF
table inet capsule {
  chain output {
    type filter hook output priority filter; policy drop;
    ct state established,related accept
    icmpv6 type nd-neighbor-solicit accept
    icmpv6 type nd-neighbor-advert accept
    meta mark $MARK ip daddr 10.231.0.2 accept
    meta mark $MARK ip6 daddr fd00:231::2 accept
    ip daddr 127.0.0.1 tcp dport 3128 accept
    ip daddr 127.0.0.1 tcp dport 3129 accept
    ip daddr 127.0.0.1 tcp dport 53 accept
    ip daddr 127.0.0.1 udp dport 53 accept
    reject with icmpx admin-prohibited
  }
  chain nat_output {
    type nat hook output priority -100; policy accept;
    meta mark $MARK return
    ip daddr 127.0.0.0/8 return
    meta nfproto ipv4 udp dport 53 redirect to :53
    meta nfproto ipv4 tcp dport 53 redirect to :53
    meta nfproto ipv4 meta l4proto tcp redirect to :3129
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    icmpv6 type nd-neighbor-solicit accept
    icmpv6 type nd-neighbor-advert accept
    iif "lo" accept
    tcp dport 8080 accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
}
EOF
ip netns exec "$R" nft -f "$T_TMP/ref.nft" || t_fail "reference ruleset does not load"
t_eq "ruleset read back equals the reference" "$(nft_norm "$R")" "$(nft_norm "$C")"
t_ok "table is reported present" ip netns exec "$C" "$NFTDRV" present
# re-install replaces atomically (no duplicate rules)
ip netns exec "$C" "$NFTDRV" install --proxy 3128 --transparent 3129 --dns 53 --mark $MARK \
  --dst4 10.231.0.2 --dst6 fd00:231::2 --inbound 8080
t_eq "re-install replaces, never duplicates" "$(nft_norm "$R")" "$(nft_norm "$C")"

# --- servers: outside, the host's loopback, and a stand-in proxy in C ---
bg "$O" $PY "$PROBE" serve-tcp 0.0.0.0 8000 OUTSIDE
bg "$O" $PY "$PROBE" serve-tcp :: 8006 OUTSIDE6
bg "$O" $PY "$PROBE" serve-udp 0.0.0.0 9000 "$T_TMP/udp.log"
bg "$O" $PY "$PROBE" serve-udp 0.0.0.0 53 "$T_TMP/resolver.log"
HOSTPORT=$((20000 + $$ % 20000))
bg "" $PY "$PROBE" serve-tcp 127.0.0.1 $HOSTPORT HOSTLOOPBACK
STANDIN_BIND=1 bg "$C" $PY "$PROBE" stand-in-proxy "$T_TMP/proxy.log"
bg "$C" $PY "$PROBE" serve-tcp 0.0.0.0 8080 INBOUND-OK
bg "$C" $PY "$PROBE" serve-tcp 0.0.0.0 8081 INBOUND-BAD
wait_port "$O" 8000 && wait_port "$C" 3129 && wait_port "$C" 53 udp && wait_port "$C" 8081 \
  || t_fail "test servers did not start"
touch "$T_TMP/udp.log" "$T_TMP/resolver.log"

# --- allowed: the proxy ports on loopback ---
out=$(as_nobody "$C" $PY "$PROBE" tcp 127.0.0.1 3128 2>&1)
t_eq "workload reaches the proxy port" "PROXY-LISTEN" "$out"
out=$(as_nobody "$C" $PY "$PROBE" dns 127.0.0.1 example.com 2>&1)
t_match "workload reaches the DNS stub" "STUB" "$out"

# --- escapes, each as an unprivileged workload ---
out=$(as_nobody "$C" $PY "$PROBE" tcp 10.231.0.2 8000 2>&1)
t_match "direct TCP is redirected to the proxy, not the server" "^PROXY-TRANSPARENT" "$out"
t_match "proxy learns the original destination" "TRANSPARENT 10.231.0.2:8000" "$(cat "$T_TMP/proxy.log")"
t_fails "IPv6 TCP to outside fails" as_nobody "$C" $PY "$PROBE" tcp fd00:231::2 8006
as_nobody "$C" $PY "$PROBE" udp 10.231.0.2 9000 >/dev/null 2>&1
as_nobody "$C" $PY "$PROBE" udp fd00:231::2 9000 >/dev/null 2>&1
sleep 0.3
t_eq "UDP (v4 and v6) never reaches outside" "" "$(cat "$T_TMP/udp.log")"
out=$(as_nobody "$C" $PY "$PROBE" dns 10.231.0.2 exfil.example 2>&1)
sleep 0.2
t_eq "DNS to an outside resolver never reaches it" "" "$(cat "$T_TMP/resolver.log")"
t_match "... it lands on the stub instead" "STUB" "$out"
as_nobody "$C" $PY "$PROBE" dns 10.231.0.2 exfil.example tcp >/dev/null 2>&1
t_match "DNS over TCP lands on the stub too" "DNSTCP" "$(cat "$T_TMP/proxy.log")"
t_fails "ICMP ping (ping socket) fails" as_nobody "$C" $PY "$PROBE" icmp 10.231.0.2
t_fails "raw ICMP with CAP_NET_RAW fails" as_root_no_netadmin "$C" $PY "$PROBE" icmp 10.231.0.2
t_fails "SO_MARK without CAP_NET_ADMIN is refused" as_nobody "$C" $PY "$PROBE" tcp 10.231.0.2 8000 $MARK
t_fails "host loopback service unreachable" as_nobody "$C" $PY "$PROBE" tcp 127.0.0.1 $HOSTPORT
t_fails "other loopback ports closed" as_nobody "$C" $PY "$PROBE" tcp 127.0.0.1 8081
t_fails "nft flush ruleset without CAP_NET_ADMIN" as_root_no_netadmin "$C" nft flush ruleset
t_fails "route change without CAP_NET_ADMIN" as_root_no_netadmin "$C" ip route replace default via 10.231.0.3
t_ok "ruleset unchanged after the attempts" test "$(nft_norm "$R")" == "$(nft_norm "$C")"
# A new (user+)net namespace has no interface out at all.
t_fails "new netns has no way out" as_nobody "$C" unshare -Urn $PY "$PROBE" tcp 10.231.0.2 8000

# --- the proxy's own marked sockets (pod shape) ---
out=$(ip netns exec "$C" $PY "$PROBE" tcp 10.231.0.2 8000 $MARK 2>&1)
t_eq "marked socket reaches an allowed address" "OUTSIDE" "$out"
out=$(ip netns exec "$C" $PY "$PROBE" tcp fd00:231::2 8006 $MARK 2>&1)
t_eq "marked socket reaches an allowed IPv6 address" "OUTSIDE6" "$out"
t_fails "marked socket to a non-pinned address fails" ip netns exec "$C" $PY "$PROBE" tcp 10.231.0.3 8000 $MARK

# --- inbound ---
out=$(ip netns exec "$O" $PY "$PROBE" tcp 10.231.0.1 8080 2>&1)
t_eq "declared inbound port accepts" "INBOUND-OK" "$out"
t_fails "other inbound ports dropped" ip netns exec "$O" $PY "$PROBE" tcp 10.231.0.1 8081

# --- remove ---
t_ok "remove the table" ip netns exec "$C" "$NFTDRV" remove
t_fails "table gone" ip netns exec "$C" "$NFTDRV" present
t_ok "remove is idempotent" ip netns exec "$C" "$NFTDRV" remove
t_done
