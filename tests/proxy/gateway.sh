#!/bin/bash
# capsule/egress.gateway: with --gateway (or "gateway" in the config) every
# allowed request leaves through the paired gateway (an HTTP proxy: plain
# requests in absolute-form, tunnels via CONNECT) and nothing is dialled
# directly.  The gateway here is a second capsule-proxy on loopback with its
# own audit log, so what reached it can be read back.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
P=$ORIGIN_PORT
# A name only the gateway can resolve (.test is reserved: never in DNS).
N=gw-origin.test

GW_PORT=$(free_port)
GW_AUDIT=$T_TMP/gw-audit.jsonl
"$PROXY" --listen "127.0.0.1:$GW_PORT" --audit "$GW_AUDIT" --capsule-id gateway \
  --dns-pin "$N=127.0.0.1" --allow "GET $N:$P/ok/**" --allow "GET $N:$P/headers" --allow "CONNECT $N:$P" \
  --allow "GET 127.0.0.1:$P/ok/**" >"$T_TMP/gw.out" 2>&1 &
GW_PID=$!
t_cleanup "kill $GW_PID 2>/dev/null"
for i in $(seq 50); do grep -q ready "$T_TMP/gw.out" && break; sleep 0.1; done

t_ok "--check accepts --gateway" "$PROXY" --check --listen 127.0.0.1:1 --allow "GET $N/x" --gateway "127.0.0.1:$GW_PORT"
t_fails "--check refuses a gateway without a port" "$PROXY" --check --listen 127.0.0.1:1 --allow "GET $N/x" --gateway 127.0.0.1
printf '{"gateway": 5}' >"$T_TMP/bad.json"
t_fails "config: gateway must be a string" "$PROXY" --check --listen 127.0.0.1:1 --config "$T_TMP/bad.json"

# The capsule's proxy: gateway from the config file (as the runtime writes it).
printf '{"gateway": "127.0.0.1:%s"}' "$GW_PORT" >"$T_TMP/cfg.json"
start_proxy --config "$T_TMP/cfg.json" --allow "GET $N:$P/ok/**" --allow "GET $N:$P/headers" \
  --allow "GET $N:$P/notatgw/*" --allow "CONNECT $N:$P" --allow "GET 127.0.0.1:$P/ok/**" || exit 1

gw_lines() { grep -c "\"event\":\"egress\"" "$GW_AUDIT"; }

t_eq "plain GET arrives through the gateway" "path=/ok/a method=GET" "$(body http://$N:$P/ok/a)"
t_match "gateway decided it (absolute-form request)" "\"host\":\"$N\",\"port\":$P,\"path\":\"/ok/a\".*\"verdict\":\"allow\"" \
  "$(grep '"event":"egress"' "$GW_AUDIT")"
hdrs=$(body http://$N:$P/headers)
t_eq "origin saw both proxies (two Via lines)" 2 "$(grep -c '^Via: 1.1 capsule-proxy' <<<"$hdrs")"
t_match "origin saw the checked Host" "Host: $N:$P" "$hdrs"

before=$(gw_lines)
t_eq "denied by the capsule's policy" 403 "$(code http://$N:$P/no/a)"
t_eq "a denied request never reaches the gateway" "$before" "$(gw_lines)"
t_eq "the gateway's own refusal is relayed" 403 "$(code http://$N:$P/notatgw/x)"

t_eq "CONNECT tunnels through the gateway" "path=/ok/t method=GET" "$(body http://$N:$P/ok/t -p)"
t_match "gateway saw the CONNECT" "\"method\":\"CONNECT\",\"host\":\"$N\",\"port\":$P" "$(cat "$GW_AUDIT")"

# Intercepted TLS (a rule with a path on an HTTPS host): the proxy opens a
# CONNECT through the gateway and re-originates TLS inside it, verifying
# the origin's certificate.
if command -v openssl >/dev/null; then
  (cd "$T_TMP" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
     -subj /CN=gw-test-ca -keyout ca.key -out ca.pem && \
   openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=tls.gw.test -keyout srv.key -out srv.csr && \
   printf 'subjectAltName=DNS:tls.gw.test\n' >ext.cnf && \
   openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf -out srv.pem) >/dev/null 2>&1
  TP=$(free_port)
  python3 "$HERE/server.py" "$TP" 127.0.0.1 "$T_TMP/srv.pem" "$T_TMP/srv.key" >"$T_TMP/tls-origin.out" 2>&1 &
  t_cleanup "kill $!"
  for i in $(seq 50); do grep -q ready "$T_TMP/tls-origin.out" && break; sleep 0.1; done
  GW2_PORT=$(free_port)
  "$PROXY" --listen "127.0.0.1:$GW2_PORT" --audit "$T_TMP/gw2-audit.jsonl" --dns-pin "tls.gw.test=127.0.0.1" \
    --allow "CONNECT tls.gw.test:$TP" >"$T_TMP/gw2.out" 2>&1 &
  t_cleanup "kill $! 2>/dev/null"
  for i in $(seq 50); do grep -q ready "$T_TMP/gw2.out" && break; sleep 0.1; done
  P2=$(free_port)
  "$PROXY" --listen "127.0.0.1:$P2" --audit "$T_TMP/audit3.jsonl" --gateway "127.0.0.1:$GW2_PORT" \
    --ca-out "$T_TMP/runca.pem" --upstream-ca "$T_TMP/ca.pem" --allow "GET tls.gw.test:$TP/ok/*" >"$T_TMP/p3.out" 2>&1 &
  t_cleanup "kill $! 2>/dev/null"
  for i in $(seq 50); do grep -q ready "$T_TMP/p3.out" && break; sleep 0.1; done
  t_eq "intercepted HTTPS re-originated through the gateway" "path=/ok/s method=GET" \
    "$(curl -s -m 10 --cacert "$T_TMP/runca.pem" -x "http://127.0.0.1:$P2" "https://tls.gw.test:$TP/ok/s")"
  t_match "gateway saw the CONNECT for it" "\"method\":\"CONNECT\",\"host\":\"tls.gw.test\",\"port\":$TP" \
    "$(cat "$T_TMP/gw2-audit.jsonl")"
  t_eq "path denied inside the intercepted TLS" 403 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' --cacert "$T_TMP/runca.pem" -x "http://127.0.0.1:$P2" "https://tls.gw.test:$TP/no/s")"
else
  t_skip "TLS through the gateway needs openssl"
fi

# Nothing is dialled directly: an IP-literal rule that the origin would
# answer still goes to the gateway; with the gateway gone, the proxy fails
# (502) instead of connecting to the origin itself.
t_eq "IP literal through the gateway" "path=/ok/ip method=GET" "$(body http://127.0.0.1:$P/ok/ip)"
t_match "gateway saw the IP-literal request" "\"host\":\"127.0.0.1\",\"port\":$P,\"path\":\"/ok/ip\"" "$(cat "$GW_AUDIT")"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
t_eq "gateway down: plain request fails, no direct connection" 502 "$(code http://127.0.0.1:$P/ok/ip2)"
t_eq "gateway down: CONNECT fails, no direct connection" 000 "$(code http://127.0.0.1:$P/ok/ip3 -p)"
t_match "the failed CONNECT is a 502 from the proxy" "HTTP/1.1 502" \
  "$(raw "CONNECT $N:$P HTTP/1.1\r\nHost: $N:$P\r\n\r\n" | head -1)"

# A gateway that refuses CONNECT (an origin that is no proxy at all).
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
AUDIT=$T_TMP/audit2.jsonl start_proxy --gateway "127.0.0.1:$P" --allow "CONNECT $N:$P" || exit 1
t_match "gateway answering non-2xx to CONNECT: 502" "HTTP/1.1 502" \
  "$(raw "CONNECT $N:$P HTTP/1.1\r\nHost: $N:$P\r\n\r\n" | head -1)"
t_ok "audit chain intact" "$PROXY" audit-verify "$AUDIT"
t_done
