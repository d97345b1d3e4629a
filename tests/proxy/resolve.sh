#!/bin/bash
# Name resolution off the event loop: `*.suffix` names are looked up by the
# resolver workers while the loop keeps serving; answers are cached and
# looked up again at their TTL; every address is SSRF-checked each time.
# Runs in a private netns + mount ns whose /etc/resolv.conf points at a
# scripted DNS server (tests/proxy/dnsd.py) that holds one name's answer
# until told to release it: a request for another name must be served
# meanwhile (with a blocking lookup it would wait for the held one).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd unshare ip dig
unshare -nm true 2>/dev/null || t_skip_all "needs unshare -nm"

P=8080
R=$T_TMP/res
mkdir -p "$R" "$T_TMP/www2/ok"
echo second >"$T_TMP/www2/ok/which"
echo 'nameserver 127.0.0.1' >"$T_TMP/resolv.conf"
cat >"$T_TMP/inner.sh" <<INNER
set -u
ip link set lo up
mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf
python3 "$HERE/dnsd.py" serve 127.0.0.1 53 "$R/dns.log" >"$R/dnsd.out" 2>&1 &
python3 "$HERE/server.py" $P 127.0.0.1 >"$R/origin1.out" 2>&1 &
python3 -m http.server $P --bind 127.0.0.2 --directory "$T_TMP/www2" >"$R/origin2.out" 2>&1 &
for i in \$(seq 50); do grep -q ready "$R/dnsd.out" "$R/origin1.out" 2>/dev/null && [ \$(grep -l ready "$R/dnsd.out" "$R/origin1.out" | wc -l) = 2 ] && break; sleep 0.1; done
# operator rules (--allow): loopback answers are allowed for them
"$PROXY" --listen 127.0.0.1:3128 --dns 127.0.0.1:5353 --allow "GET *.corp.test:$P/**" \
  --audit "$R/audit.jsonl" >"$R/proxy.out" 2>&1 &
for i in \$(seq 50); do grep -q ready "$R/proxy.out" && break; sleep 0.1; done
c() { curl -s -m 8 -x http://127.0.0.1:3128 "\$@"; }

# slow.corp.test is held by the DNS server; fast.corp.test must not wait for it
c -o "$R/slow.body" -w '%{http_code}' http://slow.corp.test:$P/ok/slow >"$R/slow.code" &
SLOW=\$!
for i in \$(seq 50); do grep -q 'A slow.corp.test' "$R/dns.log" 2>/dev/null && break; sleep 0.1; done
c -w ' %{http_code}' http://fast.corp.test:$P/ok/fast >"$R/fast.out"
kill -0 \$SLOW 2>/dev/null && echo pending >"$R/slow.state" || echo done >"$R/slow.state"
dig +time=5 +tries=1 @127.0.0.1 -p 5353 +short fast.corp.test A >"$R/stub-fast.out"
# the stub's answer for the held name waits too, then comes with the others
dig +time=8 +tries=1 @127.0.0.1 -p 5353 +short slow.corp.test A >"$R/stub-slow.out" &
DIG=\$!
sleep 0.3
python3 "$HERE/dnsd.py" query 127.0.0.1 53 release.corp.test >/dev/null
wait \$SLOW
wait \$DIG

# flip.corp.test: 127.0.0.1 with TTL 1, then 127.0.0.2
c http://flip.corp.test:$P/ok/which >"$R/flip1.out"
sleep 2.5
c http://flip.corp.test:$P/ok/which >"$R/flip2.out"   # stale answer served, refresh started
for i in \$(seq 30); do [ \$(grep -c 'A flip.corp.test' "$R/dns.log") -ge 2 ] && break; sleep 0.1; done
sleep 0.3
c http://flip.corp.test:$P/ok/which >"$R/flip3.out"
# nothing resolved for names no rule names
c -o /dev/null -w '%{http_code}' http://evil.example.test:$P/ok/x >"$R/evil.code"
kill %1 %2 %3 %4 2>/dev/null
INNER
unshare -nm bash "$T_TMP/inner.sh"

t_eq "a name no rule names: 403" 403 "$(cat "$R/evil.code")"
if grep -q evil "$R/dns.log"; then t_fail "no lookup for a name no rule names"; else t_pass "no lookup for a name no rule names"; fi
t_eq "another name is served while one lookup is held" "path=/ok/fast method=GET 200" "$(tr -d '\n' <"$R/fast.out")"
t_eq "the held request was still waiting then" pending "$(cat "$R/slow.state" 2>/dev/null)"
t_eq "the held request completes once its answer arrives" "200 path=/ok/slow method=GET" \
  "$(cat "$R/slow.code") $(tr -d '\n' <"$R/slow.body")"
t_eq "DNS stub answers from the same resolver" 127.0.0.1 "$(cat "$R/stub-fast.out")"
t_eq "DNS stub query for the held name answered after release" 127.0.0.1 "$(cat "$R/stub-slow.out")"
t_eq "first answer dialled" "path=/ok/which method=GET" "$(cat "$R/flip1.out")"
t_match "re-resolved at TTL (second DNS query)" "A flip.corp.test.*A flip.corp.test" "$(tr '\n' ' ' <"$R/dns.log")"
t_eq "new address dialled after the TTL" second "$(cat "$R/flip3.out")"
t_ok "audit chain intact" "$PROXY" audit-verify "$R/audit.jsonl"
t_done
