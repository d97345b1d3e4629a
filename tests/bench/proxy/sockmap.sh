#!/bin/bash
# The BPF sockmap experiment (not part of ctest; docs/bench-proxy.md):
# 1 GiB through sockmap_probe (download redirected in the kernel) against
# direct and capsule-proxy (splice), alternating; then back-pressure: a
# client reading at 4 MB/s for 3 s, and how much the tunnel took off the
# upstream socket meanwhile (capsule-proxy: bounded by its pipe and socket
# buffers; the sockmap redirect queues whatever arrives).
# Env: PAIRS (5), CAPSULE_BUILD (build)
set -u
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${CAPSULE_BUILD:-$here/../../../build}
PROXY=$BUILD/hooks/proxy/capsule-proxy
PAIRS=${PAIRS:-5}
for c in curl nginx ss cc python3; do command -v $c >/dev/null || { echo "SKIP: needs $c"; exit 77; }; done
[ -x "$PROXY" ] || { echo "SKIP: $PROXY not built"; exit 77; }
T=$(mktemp -d /tmp/capsule-sockmap.XXXXXX); chmod 755 "$T"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$T"; }
trap cleanup EXIT
cc -O2 -Wall -Wextra -Werror -o "$T/sockmap_probe" "$here/sockmap_probe.c" || exit 1
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for i in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
NG=$(port); NW=$(port); SM=$(port); CP=$(port)
mkdir -p "$T/www/ok" "$T/nginx"
# real bytes (not a sparse file), so queued data is real memory
head -c 1G /dev/urandom >"$T/www/ok/1g"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; user root; pid $T/nginx/nginx.pid; error_log $T/nginx/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on;
  client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
  uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
  server { listen 127.0.0.1:$NG; root $T/www; }
  # the slow-reader origin writes from user memory, like one across a
  # network would: queued skbs are then memory of their own, not page cache
  server { listen 127.0.0.1:$NW; root $T/www; sendfile off; output_buffers 2 1m; } }
CONF
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >/dev/null 2>&1 & pids+=($!)
"$T/sockmap_probe" "$SM" 2>"$T/probe.log" & pids+=($!)
"$PROXY" --listen "127.0.0.1:$CP" --allow "CONNECT 127.0.0.1:$NG" --allow "CONNECT 127.0.0.1:$NW" --audit "$T/audit.jsonl" 2>"$T/proxy.log" & pids+=($!)
for p in $NG $NW $SM $CP; do wait_port "$p" || { cat "$T/probe.log"; exit 1; }; done
get() { curl -s -o /dev/null -w '%{speed_download} %{size_download}' "$@" "http://127.0.0.1:$NG/ok/1g"; }
get >/dev/null
echo "1 GiB, MiB/s (direct / sockmap / capsule-proxy splice) and ratios to direct:"
for i in $(seq "$PAIRS"); do
  read -r d _ <<<"$(get)"; read -r s sn <<<"$(get -p -x "http://127.0.0.1:$SM")"; read -r c cn <<<"$(get -p -x "http://127.0.0.1:$CP")"
  [ "$sn" = 1073741824 ] && [ "$cn" = 1073741824 ] || { echo "FAIL: short transfer (sockmap $sn, proxy $cn bytes)"; exit 1; }
  awk -v d="$d" -v s="$s" -v c="$c" 'BEGIN{printf "  %5.0f %5.0f %5.0f   sockmap %.2f  splice %.2f\n", d/1048576, s/1048576, c/1048576, s/d, c/d}'
done
# bytes the tunnel has taken off its upstream connection: the receiving
# side of the origin's socket (the one whose peer is the origin)
memfree() { awk '/^MemFree:/{print $2}' /proc/meminfo; }
taken() { ss -tni "dport = :$NW" | grep -o 'bytes_received:[0-9]*' | head -1 | cut -d: -f2; }
echo "slow reader (4 MB/s for 3 s): bytes taken off the origin by the tunnel"
for via in "sockmap $SM" "capsule-proxy $CP"; do
  set -- $via
  curl -s -o /dev/null --limit-rate 4M --max-time 3 -p -x "http://127.0.0.1:$2" "http://127.0.0.1:$NW/ok/1g" &
  cp=$!; m0=$(memfree); sleep 2.5; b=$(taken); m1=$(memfree); wait "$cp"
  awk -v n="$1" -v b="${b:-0}" -v m=$((m1 - m0)) 'BEGIN{printf "  %-14s %6.1f MiB taken, ~10 MiB delivered, MemFree %+.0f MiB\n", n, b/1048576, m/1024}'
  sleep 0.5
done
