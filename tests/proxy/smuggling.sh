#!/bin/bash
# Request smuggling shapes and policy bypass attempts: each must be refused
# (400/403/431) and audited, never forwarded.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
O=127.0.0.1:$ORIGIN_PORT
start_proxy --allow "GET,POST 127.0.0.1:$ORIGIN_PORT/ok/**" --allow "POST 127.0.0.1:$ORIGIN_PORT/echo" \
  --allow "GET 127.0.0.1:$ORIGIN_PORT/headers" --allow "GET 127.0.0.1:$ORIGIN_PORT/up" || exit 1

R="POST http://$O/echo HTTP/1.1\r\nHost: $O\r\n"
sm() {  # sm NAME EXPECTED-STATUS RAW
  local got; got=$(raw "$3" 2 | status_of)
  t_eq "$1" "$2" "$got"
}
sm "CL + TE" 400 "${R}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
sm "TE + CL" 400 "${R}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
sm "duplicate Content-Length" 400 "${R}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
sm "Content-Length list" 400 "${R}Content-Length: 5, 5\r\n\r\nhello"
sm "Content-Length sign" 400 "${R}Content-Length: +5\r\n\r\nhello"
sm "TE not chunked" 400 "${R}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
sm "TE duplicated" 400 "${R}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
sm "whitespace before colon" 400 "${R}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
sm "obs-fold" 400 "${R}X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"
sm "bare LF line ending" 400 "GET http://$O/ok/a HTTP/1.1\nHost: $O\n\n"
sm "bare CR in a header" 400 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nX-A: a\rb\r\n\r\n"
sm "NUL in a header" 400 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nX-A: a\x00b\r\n\r\n"
sm "TE in HTTP/1.0" 400 "POST http://$O/echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
sm "HTTP/2.0 version" 400 "GET http://$O/ok/a HTTP/2.0\r\nHost: $O\r\n\r\n"
sm "lower-case method" 400 "get http://$O/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "invalid method" 400 "G@T http://$O/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "double space in request line" 400 "GET  http://$O/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "missing Host" 400 "GET http://$O/ok/a HTTP/1.1\r\n\r\n"
sm "duplicate Host" 400 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nHost: evil\r\n\r\n"
sm "origin-form on the forward port" 400 "GET /ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "asterisk-form" 400 "OPTIONS * HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "https absolute-form" 400 "GET https://$O/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
long=$(head -c 9000 /dev/zero | tr '\0' a)
sm "overlong header line" 431 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nX-Long: $long\r\n\r\n"
many=$(for i in $(seq 120); do printf 'X-H%d: v\\r\\n' "$i"; done)
sm "too many header fields" 400 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\n${many}\r\n"
sm "unsupported Expect" 400 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nExpect: bogus\r\n\r\n"
sm "userinfo in URI" 400 "GET http://$O@evil.example/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "userinfo before allowed host" 400 "GET http://evil.example@$O/ok/a HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "bad percent-encoding" 400 "GET http://$O/ok/%zz HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "fragment in target" 400 "GET http://$O/ok/a#x HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "non-ASCII host" 400 "GET http://\xc3\xa9vil.example/ok/a HTTP/1.1\r\nHost: x\r\n\r\n"
sm "Upgrade refused" 403 "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

# path and host normalisation bypasses
sm "dot-dot out of an allowed prefix" 403 "GET http://$O/ok/../no/x HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "encoded dot-dot" 403 "GET http://$O/ok/%2e%2e/no/x HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "mixed-case encoded dot-dot" 403 "GET http://$O/ok/%2E%2e/no/x HTTP/1.1\r\nHost: $O\r\n\r\n"
sm "integer IPv4 spelling still policed" 403 "GET http://2130706433:$ORIGIN_PORT/no/x HTTP/1.1\r\nHost: x\r\n\r\n"
t_eq "hex IPv4 spelling normalised to the rule" "path=/ok/x method=GET" "$(body "http://0x7f.1:$ORIGIN_PORT/ok/x")"
t_eq "dot segments resolved before forwarding" "path=/ok/y method=GET" "$(body "http://$O/ok/z/../y" --path-as-is)"
h=$(raw "GET http://$O/headers HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n" 2)
t_match "Host header replaced by the checked authority" "Host: $O" "$h"
t_eq "CONNECT to a path-restricted host refused" 403 "$(curl -s -m 10 -o /dev/null -w '%{http_connect}' -p -x "http://127.0.0.1:$PROXY_PORT" "http://$O/ok/a")"

# a smuggled second request inside a broken chunked body never reaches the origin
raw "POST http://$O/ok/s HTTP/1.1\r\nHost: $O\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /no/smuggled HTTP/1.1\r\nHost: $O\r\n\r\n" 2 >/dev/null
sleep 0.2
if grep -q smuggled "$AUDIT"; then t_fail "smuggled request not forwarded"; else t_pass "smuggled request not forwarded"; fi

t_match "bad request audited with reason" '"verdict":"deny","reason":"bad request: both Content-Length and Transfer-Encoding"' "$(cat "$AUDIT")"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDIT"
t_done
