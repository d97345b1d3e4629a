#!/bin/bash
# Brokered capabilities over HTTPS: a CONNECT to a host that only a
# capability names is intercepted (per-run CA), and each request inside is
# decided as the capability (allowed, then 429 over the rate); a path outside
# it is refused; a host without rules or capabilities is still refused.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_cmd openssl
cd "$T_TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=upstream-test-ca \
  -keyout upca.key -out upca.pem >/dev/null 2>&1 || t_skip_all "openssl cannot make a test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=tls.test -keyout srv.key -out srv.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:tls.test,IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in srv.csr -CA upca.pem -CAkey upca.key -CAcreateserial -days 1 -extfile ext.cnf -out srv.pem >/dev/null 2>&1
cd - >/dev/null
P=$(free_port)
python3 "$HERE/server.py" "$P" 127.0.0.1 "$T_TMP/srv.pem" "$T_TMP/srv.key" >"$T_TMP/origin.out" 2>&1 &
t_cleanup "kill $!"
for i in $(seq 50); do grep -q ready "$T_TMP/origin.out" && break; sleep 0.1; done
mkdir -p "$T_TMP/state"
cat >"$T_TMP/cfg.json" <<JSON
{"capsule_id": "tls1", "state_dir": "$T_TMP/state", "dns_pins": {"tls.test": ["127.0.0.1"]},
 "capabilities": {"post": "POST 127.0.0.1:$P/echo rate=1/h", "named": "POST tls.test:$P/echo"}}
JSON
start_proxy --config "$T_TMP/cfg.json" --ca-out "$T_TMP/runca.pem" --upstream-ca "$T_TMP/upca.pem" || exit 1
hc() { curl -s -m 10 --cacert "$T_TMP/runca.pem" -x "http://127.0.0.1:$PROXY_PORT" "$@"; }
t_match "capability over intercepted HTTPS: allowed" "^len=5 " "$(hc -d hello https://127.0.0.1:$P/echo)"
t_eq "second use over rate=1/h: 429" 429 "$(hc -o /dev/null -w '%{http_code}' -d hello https://127.0.0.1:$P/echo)"
t_eq "other path on the capability's host: 403" 403 "$(hc -o /dev/null -w '%{http_code}' https://127.0.0.1:$P/ok/a)"
# an annotation's host name resolving to loopback is not dialled (SSRF), and
# such a refusal does not use up the capability
t_eq "capability naming a host that resolves to loopback: 403" 403 "$(hc -o /dev/null -w '%{http_code}' -d x https://tls.test:$P/echo)"
t_eq "... and was not counted" "" "$(cat "$T_TMP/state/broker/named.count" 2>/dev/null)"
t_eq "CONNECT to a host nothing names: refused" 403 "$(hc -o /dev/null -w '%{http_connect}' https://nothing.test:$P/)"
sleep 0.2
t_match "allowed as the capability inside TLS" '"method":"POST","host":"127.0.0.1","port":[0-9]+,"path":"/echo","rule":"capability.post","verdict":"allow"' "$(cat "$AUDIT")"
t_match "429 audited" '"path":"/echo","rule":null,"verdict":"deny","reason":"capability post: rate 1/3600s reached' "$(cat "$AUDIT")"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDIT"
t_done
