# Shared setup for capsule-proxy shell tests: a loopback origin server, the
# proxy binary, free ports.  Source after tests/lib.sh.
PROXY="${PROXY:-$CAPSULE_BUILD/hooks/proxy/capsule-proxy}"
HERE="$CAPSULE_SRC/tests/proxy"
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built ($PROXY)"
t_need_cmd python3 curl

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_origin: sets ORIGIN_PORT
start_origin() {
  ORIGIN_PORT=$(free_port)
  python3 "$HERE/server.py" "$ORIGIN_PORT" >"$T_TMP/origin.out" 2>&1 &
  local pid=$!
  t_cleanup "kill $pid"
  local i; for i in $(seq 50); do grep -q ready "$T_TMP/origin.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "origin server did not start"; cat "$T_TMP/origin.out"; return 1
}

# start_proxy ARGS...: sets PROXY_PORT, PROXY_PID, AUDIT (listen + audit added)
start_proxy() {
  PROXY_PORT=$(free_port)
  AUDIT=${AUDIT:-$T_TMP/audit.jsonl}
  "$PROXY" --listen "127.0.0.1:$PROXY_PORT" --audit "$AUDIT" ${PROXY_ID:+--capsule-id "$PROXY_ID"} "$@" >"$T_TMP/proxy.out" 2>&1 &
  PROXY_PID=$!
  t_cleanup "kill $PROXY_PID"
  local i; for i in $(seq 50); do grep -q ready "$T_TMP/proxy.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "proxy did not start"; cat "$T_TMP/proxy.out"; return 1
}

# code URL [curl args...]: HTTP status through the proxy
code() { local u=$1; shift; curl -s -m 10 -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$PROXY_PORT" "$@" "$u"; }
# body URL [curl args...]
body() { local u=$1; shift; curl -s -m 10 -x "http://127.0.0.1:$PROXY_PORT" "$@" "$u"; }
raw() { python3 "$HERE/raw.py" "$PROXY_PORT" "$@"; }
status_of() { head -1 | tr -d '\r' | awk '{print $2}'; }
