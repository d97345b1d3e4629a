#!/bin/bash
# capsule-proxy as an HTTP/1.1 forward proxy: policy by method, host, port
# and path; CONNECT; keep-alive, chunked, 100-continue, pipelining, hop-by-hop
# headers; audit lines and chain.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
O=127.0.0.1:$ORIGIN_PORT
start_proxy --allow "GET,HEAD 127.0.0.1:$ORIGIN_PORT/ok/**" --allow "POST,PUT 127.0.0.1:$ORIGIN_PORT/echo" \
  --allow "GET 127.0.0.1:$ORIGIN_PORT/headers" --allow "GET 127.0.0.1:$ORIGIN_PORT/chunked" \
  --allow "GET 127.0.0.1:$ORIGIN_PORT/close" --allow "GET 127.0.0.1:$ORIGIN_PORT/size/*" \
  --allow "CONNECT 127.0.0.1:$ORIGIN_PORT" || exit 1

t_eq "allowed GET" "path=/ok/a method=GET" "$(body http://$O/ok/a)"
t_eq "allowed deep path (**)" 200 "$(code http://$O/ok/a/b/c)"
t_eq "denied path" 403 "$(code http://$O/no/a)"
t_match "denial says why" "capsule-proxy: no rule allows" "$(body http://$O/no/a)"
t_eq "denied method" 403 "$(code http://$O/ok/a -X DELETE)"
t_eq "HEAD allowed" 200 "$(code http://$O/ok/a -I)"
t_eq "denied port" 403 "$(code http://127.0.0.1:1/ok/a)"
t_eq "denied host" 403 "$(code http://example.com/ok/a)"
t_eq "POST allowed on /echo" "len=5 sha256=$(printf hello | sha256sum | cut -d' ' -f1)" "$(body http://$O/echo --data-binary hello)"
t_eq "POST denied elsewhere" 403 "$(code http://$O/ok/a --data-binary hello)"

head -c 300000 /dev/urandom >"$T_TMP/big"
want="len=300000 sha256=$(sha256sum <"$T_TMP/big" | cut -d' ' -f1)"
t_eq "large content-length upload" "$want" "$(body http://$O/echo --data-binary @"$T_TMP/big")"
t_eq "chunked upload" "$want" "$(body http://$O/echo -H 'Transfer-Encoding: chunked' --data-binary @"$T_TMP/big")"
t_eq "Expect: 100-continue upload" "$want" "$(body http://$O/echo -H 'Expect: 100-continue' --data-binary @"$T_TMP/big")"
t_eq "chunked response" "hello chunked world" "$(body http://$O/chunked)"
t_eq "close-delimited response" "closed-body" "$(body http://$O/close)"
t_eq "1 MiB response" 1048576 "$(body http://$O/size/1048576 | wc -c)"

hdrs=$(body http://$O/headers -H 'Connection: close, X-Secret' -H 'X-Secret: 1' -H 'Proxy-Authorization: Basic Zm9vOmJhcg==' -H 'Keep-Alive: 5')
t_match "Via added" "Via: 1.1 capsule-proxy" "$hdrs"
t_match "Host set from the URI" "Host: 127.0.0.1:$ORIGIN_PORT" "$hdrs"
if [[ "$hdrs" =~ X-Secret|Proxy-Authorization|Keep-Alive ]]; then t_fail "hop-by-hop headers removed"; else t_pass "hop-by-hop headers removed"; fi
resp=$(curl -s -m 10 -D - -o /dev/null -x "http://127.0.0.1:$PROXY_PORT" "http://$O/ok/x")
if [[ "$resp" =~ X-Hop ]]; then t_fail "response Connection-listed headers removed"; else t_pass "response Connection-listed headers removed"; fi
t_match "response Via" "Via: 1.1 capsule-proxy" "$resp"

# keep-alive: two requests, one client connection
out=$(curl -s -v -m 10 -x "http://127.0.0.1:$PROXY_PORT" "http://$O/ok/1" "http://$O/ok/2" 2>&1)
t_match "client keep-alive reuses the connection" "Re-using existing connection" "$out"
t_match "second keep-alive answer" "path=/ok/2" "$out"

# pipelining: three requests in one write
p=$(raw "GET http://$O/ok/p1 HTTP/1.1\r\nHost: $O\r\n\r\nGET http://$O/ok/p2 HTTP/1.1\r\nHost: $O\r\n\r\nGET http://$O/no/p3 HTTP/1.1\r\nHost: $O\r\n\r\n" 3)
t_match "pipelined 1" "path=/ok/p1" "$p"
t_match "pipelined 2" "path=/ok/p2" "$p"
t_match "pipelined 3 denied" "403 Forbidden" "$p"

# CONNECT
t_eq "CONNECT allowed" "path=/ok/t method=GET" "$(body http://$O/ok/t -p)"
t_eq "CONNECT to other port denied" 403 "$(curl -s -m 10 -o /dev/null -w '%{http_connect}' -p -x "http://127.0.0.1:$PROXY_PORT" http://127.0.0.1:1/)"
c=$(raw "CONNECT 127.0.0.1:$ORIGIN_PORT HTTP/1.1\r\nHost: 127.0.0.1:$ORIGIN_PORT\r\n\r\nGET /headers HTTP/1.1\r\nHost: x\r\n\r\n" 2)
t_match "CONNECT 200 then raw bytes through" "200 Connection established.*GET /headers HTTP/1.1" "$(echo "$c" | tr -d '\r' | tr '\n' ' ')"

# audit
sleep 0.3
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDIT"
t_match "allowed request audited" '"event":"egress".*"method":"GET".*"path":"/ok/a".*"verdict":"allow"' "$(grep '"path":"/ok/a"' "$AUDIT" | head -1)"
t_match "denied request audited" '"path":"/no/a".*"rule":null,"verdict":"deny"' "$(grep '"path":"/no/a"' "$AUDIT" | head -1)"
t_match "done line with bytes" '"event":"egress.done".*"status":200,"bytes_up":[0-9]+,"bytes_down":[1-9][0-9]*,"duration_ms"' "$(grep '"egress.done"' "$AUDIT" | head -1)"
sed '3s/"GET"/"PUT"/' "$AUDIT" >"$T_TMP/tampered"
t_fails "tampered audit rejected" "$PROXY" audit-verify "$T_TMP/tampered"

# SIGHUP reloads policy without dropping an established tunnel
exec 7<>/dev/tcp/127.0.0.1/$PROXY_PORT
printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' "$O" "$O" >&7
sleep 0.3
kill -HUP "$PROXY_PID"; sleep 0.3
printf 'GET /ok/after-hup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&7
t_match "tunnel survives SIGHUP" "path=/ok/after-hup" "$(timeout 5 cat <&7 | tr -d '\r')"
exec 7>&-
t_match "reload audited" '"event":"proxy.reload"' "$(cat "$AUDIT")"
t_ok "check mode accepts a good config" "$PROXY" --check --listen 127.0.0.1:1 --allow 'GET a.example/x/*'
t_fails "check mode rejects a bad rule" "$PROXY" --check --listen 127.0.0.1:1 --allow 'get a.example'
t_done
