#!/bin/bash
# SIGHUP reload does not block the event loop on name resolution: the new
# config names slow.corp.test, whose answer the scripted DNS server holds;
# a request for another name sent right after the SIGHUP is served while
# that lookup is still held (the old code pre-resolved the new rules'
# names on the loop for up to 5 s), a keep-alive connection opened before
# the reload keeps working, the new rule applies once the answer is in, and
# a name dropped by the reload is refused.  Private netns + mount ns whose
# /etc/resolv.conf points at tests/proxy/dnsd.py.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd unshare ip
unshare -nm true 2>/dev/null || t_skip_all "needs unshare -nm"

P=8080
R=$T_TMP/res
mkdir -p "$R"
echo 'nameserver 127.0.0.1' >"$T_TMP/resolv.conf"
echo '{"operator_rules": ["GET fast.corp.test:'$P'/**", "GET gone.corp.test:'$P'/**"]}' >"$R/cfg.json"
cat >"$T_TMP/inner.sh" <<INNER
set -u
ip link set lo up
mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf
python3 "$HERE/dnsd.py" serve 127.0.0.1 53 "$R/dns.log" >"$R/dnsd.out" 2>&1 &
python3 "$HERE/server.py" $P 127.0.0.1 >"$R/origin.out" 2>&1 &
for i in \$(seq 50); do [ \$(grep -l ready "$R/dnsd.out" "$R/origin.out" 2>/dev/null | wc -l) = 2 ] && break; sleep 0.1; done
"$PROXY" --listen 127.0.0.1:3128 --config "$R/cfg.json" --audit "$R/audit.jsonl" >"$R/proxy.out" 2>&1 &
PX=\$!
for i in \$(seq 50); do grep -q ready "$R/proxy.out" && break; sleep 0.1; done
c() { curl -s -m "\$1" -o /dev/null -w '%{http_code}' -x http://127.0.0.1:3128 "\${@:2}"; }
python3 "$HERE/ka.py" 3128 http://fast.corp.test:$P/ok/ka1 "$R/flag" http://fast.corp.test:$P/ok/ka2 >"$R/ka.out" 2>&1 &
KA=\$!
for i in \$(seq 50); do [ -s "$R/ka.out" ] && break; sleep 0.1; done
c 8 http://fast.corp.test:$P/ok/before >"$R/before.code"

echo '{"operator_rules": ["GET fast.corp.test:'$P'/**", "GET slow.corp.test:'$P'/**"]}' >"$R/cfg.json"
kill -HUP \$PX
# bounded well below the 5 s the old pre-resolve held the loop
c 3 http://fast.corp.test:$P/ok/during >"$R/during.code"
# the signal may be read in the batch after the request's: give it a moment
for i in \$(seq 30); do grep -q '"event":"proxy.reload"' "$R/audit.jsonl" && grep -q 'A slow.corp.test' "$R/dns.log" 2>/dev/null && break; sleep 0.1; done
grep -c 'A slow.corp.test' "$R/dns.log" >"$R/slow-asked" 2>/dev/null
grep -q '"event":"proxy.reload"' "$R/audit.jsonl" && echo yes >"$R/reloaded"
# ...and still held then: served again after the reload, without waiting for it
c 3 http://fast.corp.test:$P/ok/during2 >"$R/during2.code"
touch "$R/flag"
wait \$KA
c 8 http://gone.corp.test:$P/ok/gone >"$R/gone.code"
c 12 http://slow.corp.test:$P/ok/slow >"$R/slow.code" &
SLOW=\$!
sleep 0.3
python3 "$HERE/dnsd.py" query 127.0.0.1 53 release.corp.test >/dev/null
wait \$SLOW
kill \$PX %1 %2 2>/dev/null
wait \$PX 2>/dev/null
INNER
unshare -nm bash "$T_TMP/inner.sh"

t_eq "served before the reload" 200 "$(cat "$R/before.code")"
t_eq "request right after SIGHUP served while the new rule's lookup is held" 200 "$(cat "$R/during.code")"
t_eq "the reload took effect while that lookup was held" yes "$(cat "$R/reloaded" 2>/dev/null)"
t_eq "served after the reload while the lookup is still held" 200 "$(cat "$R/during2.code")"
t_match "the new rule's name was being looked up in the background" '^[1-9]' "$(cat "$R/slow-asked" 2>/dev/null)"
t_eq "keep-alive connection opened before the reload still served" \
  "200 path=/ok/ka1 method=GET|200 path=/ok/ka2 method=GET" "$(paste -sd'|' "$R/ka.out")"
t_eq "rule dropped by the reload: 403" 403 "$(cat "$R/gone.code")"
t_eq "new rule allowed once its answer arrives" 200 "$(cat "$R/slow.code")"
t_ok "audit chain intact" "$PROXY" audit-verify "$R/audit.jsonl"
t_done
