#!/bin/bash
# CONNECT tunnels (splice through large pipes) and the forward path's
# edge-triggered reads: bulk bytes both ways arrive intact, half-closes
# propagate, back-to-back keep-alive requests and a server closing right
# after its response are all seen (a short read must not hide an EOF).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
O=127.0.0.1:$ORIGIN_PORT
start_proxy --allow "CONNECT $O" --allow "GET,POST $O/**" || exit 1

head -c 8388608 /dev/urandom >"$T_TMP/up"
want="len=8388608 sha256=$(sha256sum <"$T_TMP/up" | cut -d' ' -f1)"
t_eq "8 MiB upload through the tunnel" "$want" "$(body http://$O/echo -p --data-binary @"$T_TMP/up")"
t_eq "32 MiB download through the tunnel" 33554432 "$(body http://$O/size/33554432 -p | wc -c)"
t_eq "8 MiB upload, forward path" "$want" "$(body http://$O/echo --data-binary @"$T_TMP/up")"
t_eq "close-delimited response, forward path" "closed-body" "$(body http://$O/close)"
t_eq "close-delimited response through the tunnel" "closed-body" "$(body http://$O/close -p)"

# many small keep-alive requests on one connection: each response is seen
urls=(); for i in $(seq 50); do urls+=("http://$O/ok/$i"); done
t_eq "50 keep-alive requests, one connection" 50 \
  "$(curl -s -m 20 -x "http://127.0.0.1:$PROXY_PORT" "${urls[@]}" | grep -c '^path=/ok/')"

# half-close: the client shuts its write side after the request; the
# response still comes back through the tunnel
out=$(python3 - "$PROXY_PORT" "$O" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2], sys.argv[2])).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
s.sendall(("GET /ok/half HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sys.argv[2]).encode())
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
resp = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    resp += b
print(resp.decode(errors="replace").split("\r\n\r\n", 1)[-1])
PY
)
t_eq "half-close propagates through the tunnel" "path=/ok/half method=GET" "$(tr -d '\n' <<<"$out")"
sleep 0.3
t_match "tunnel completion line counts the bytes" '"event":"egress.done".*"method":"CONNECT".*"bytes_down":3355' "$(cat "$AUDIT")"
t_ok "audit chain intact" "$PROXY" audit-verify "$AUDIT"
t_done
