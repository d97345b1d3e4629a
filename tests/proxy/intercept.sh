#!/bin/bash
# TLS interception: CONNECT to a host whose rules restrict method/path is
# terminated with the per-run CA; every request inside is decided (method,
# path, Host = CONNECT host), credentials are injected, and the upstream is
# re-originated with certificate and host name verification.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_cmd openssl
cd "$T_TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=upstream-test-ca \
  -keyout upca.key -out upca.pem >/dev/null 2>&1 || t_skip_all "openssl cannot make a test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=tls.test -keyout srv.key -out srv.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:tls.test\n' >ext.cnf
openssl x509 -req -in srv.csr -CA upca.pem -CAkey upca.key -CAcreateserial -days 1 -extfile ext.cnf -out srv.pem >/dev/null 2>&1
cd - >/dev/null
PIN="sha256/$(openssl x509 -in "$T_TMP/srv.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
P=$(free_port)
python3 "$HERE/server.py" "$P" 127.0.0.1 "$T_TMP/srv.pem" "$T_TMP/srv.key" >"$T_TMP/origin.out" 2>&1 &
t_cleanup "kill $!"
for i in $(seq 50); do grep -q ready "$T_TMP/origin.out" && break; sleep 0.1; done
echo 'Bearer tls-s3cret' >"$T_TMP/gh"
start_proxy --ca-out "$T_TMP/runca.pem" --upstream-ca "$T_TMP/upca.pem" \
  --allow "GET tls.test:$P/ok/*" --allow "GET tls.test:$P/authhash" --allow "GET wrong.test:$P/ok/*" \
  --dns-pin "tls.test=127.0.0.1" --dns-pin "wrong.test=127.0.0.1" --tls-pin "tls.test=$PIN" \
  --credential "gh@GET tls.test:$P/authhash=Authorization" --secrets-dir "$T_TMP" || exit 1
t_ok "per-run CA written" openssl x509 -in "$T_TMP/runca.pem" -noout
hc() { curl -s -m 10 --cacert "$T_TMP/runca.pem" -x "http://127.0.0.1:$PROXY_PORT" "$@"; }
t_eq "intercepted GET allowed by path" "path=/ok/a method=GET" "$(hc https://tls.test:$P/ok/a)"
t_eq "intercepted path denied inside TLS" 403 "$(hc -o /dev/null -w '%{http_code}' https://tls.test:$P/no/a)"
t_eq "intercepted method denied inside TLS" 403 "$(hc -o /dev/null -w '%{http_code}' -X POST -d x https://tls.test:$P/ok/a)"
t_eq "keep-alive inside the tunnel" "path=/ok/2 method=GET" "$(hc https://tls.test:$P/ok/1 https://tls.test:$P/ok/2 | tail -1)"
want=$(printf 'Bearer tls-s3cret' | sha256sum | cut -d' ' -f1)
t_eq "credential injected over HTTPS" "n=1 sha256=$want" "$(hc https://tls.test:$P/authhash)"
t_eq "Host naming another host inside the tunnel refused" 403 "$(hc -o /dev/null -w '%{http_code}' -H 'Host: evil.test' https://tls.test:$P/ok/a)"
curl -s -m 10 -o /dev/null -x "http://127.0.0.1:$PROXY_PORT" "https://tls.test:$P/ok/a"; rc=$?
t_eq "client without the run CA refuses the leaf" 60 "$rc"
t_eq "upstream certificate for another name: 502" 502 "$(hc -o /dev/null -w '%{http_code}' https://wrong.test:$P/ok/a)"
t_eq "CONNECT to a host without rules still denied" 403 "$(hc -o /dev/null -w '%{http_connect}' https://nothing.test:$P/)"
echo | timeout 10 openssl s_client -proxy "127.0.0.1:$PROXY_PORT" -connect "tls.test:$P" -servername evil.test \
  -CAfile "$T_TMP/runca.pem" >/dev/null 2>&1
sleep 0.2
t_match "SNI naming another host than CONNECT refused" '"host":"evil.test".*"verdict":"deny","reason":"TLS SNI differs' "$(cat "$AUDIT")"
t_match "interception audited" '"method":"CONNECT","host":"tls.test".*"verdict":"allow","reason":"TLS intercepted"' "$(cat "$AUDIT")"
t_match "request inside audited" '"method":"POST","host":"tls.test","port":[0-9]+,"path":"/ok/a","rule":null,"verdict":"deny"' "$(cat "$AUDIT")"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDIT"
kill "$PROXY_PID"
AUDIT=$T_TMP/audit2.jsonl
start_proxy --ca-out "$T_TMP/runca.pem" --upstream-ca "$T_TMP/upca.pem" --allow "GET tls.test:$P/ok/*" \
  --dns-pin "tls.test=127.0.0.1" --tls-pin "tls.test=sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" || exit 1
t_eq "upstream key not matching the SPKI pin: 502" 502 "$(hc -o /dev/null -w '%{http_code}' https://tls.test:$P/ok/a)"
t_match "pin mismatch audited" '"event":"egress.tls-pin-mismatch"' "$(cat "$AUDIT")"
t_fails "malformed pin rejected" "$PROXY" --check --listen 127.0.0.1:1 --tls-pin "tls.test=sha256/short"
t_done
