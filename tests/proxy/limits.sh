#!/bin/bash
# Connection limit (503 beyond it), header timeout (408 for a head that
# never completes), idle keep-alive connections hold no buffers.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
O=127.0.0.1:$ORIGIN_PORT
echo '{"limits": {"max_connections": 3, "idle_timeout_ms": 60000, "header_timeout_ms": 1500}}' >"$T_TMP/cfg.json"
start_proxy --config "$T_TMP/cfg.json" --allow "GET $O/ok/*" || exit 1
t_match "partial head answered 408 after the header timeout" "^HTTP/1.1 408" "$(raw "GET http://$O/ok/a HTTP/1.1\r\nHost: $O\r\n" 4)"
t_match "408 audited" '"reason":"request head not received in time"' "$(cat "$AUDIT")"
# hold 3 connections open, the 4th is refused
exec 5<>/dev/tcp/127.0.0.1/$PROXY_PORT 6<>/dev/tcp/127.0.0.1/$PROXY_PORT 7<>/dev/tcp/127.0.0.1/$PROXY_PORT
sleep 0.3
t_eq "connection beyond max_connections refused" 503 "$(code http://$O/ok/a)"
exec 5>&- 6>&- 7>&-
sleep 0.3
t_eq "served again below the limit" 200 "$(code http://$O/ok/a)"
# memory: 200 idle keep-alive connections after one request each
kill "$PROXY_PID"; sleep 0.3
AUDIT=$T_TMP/a2.jsonl start_proxy --max-conns 1000 --allow "GET $O/ok/*" || exit 1
python3 - "$PROXY_PORT" "$O" >"$T_TMP/idle.out" 2>&1 <<'PY' &
import socket, sys, time
port, o = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET http://%s/ok/i HTTP/1.1\r\nHost: %s\r\n\r\n" % (o, o)).encode()); socks.append(s)
for s in socks:
    d = b""
    while b"method=GET" not in d: d += s.recv(4096)
print("ready", flush=True); time.sleep(5)
PY
IDLE=$!
t_cleanup "kill $IDLE"
for i in $(seq 100); do grep -q ready "$T_TMP/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 2.5
heap=$(awk '/\[heap\]/ {h=1} h && /^Rss:/ {print $2; exit}' /proc/$PROXY_PID/smaps)
t_eq "200 idle keep-alive connections: heap RSS under 1 MiB (${heap:-?} kB)" 1 "$(( ${heap:-999999} < 1024 ))"

t_done
