#!/bin/bash
# A/B of two capsule-proxy binaries (not part of ctest): same nginx origin,
# both proxies up with the benchmark's 100 rules and audit on, alternating
# wrk runs; per run req/s, p50, p99 and the proxy's CPU per request
# (user / system, from /proc/PID/stat over the run).
# Usage: ab.sh PROXY_A PROXY_B   Env: PAIRS (4), DURATION (8s), CONNS (32)
set -u
A=$1 B=$2
PAIRS=${PAIRS:-4}; DURATION=${DURATION:-8s}; CONNS=${CONNS:-32}
for c in wrk nginx python3; do command -v $c >/dev/null || { echo "SKIP: needs $c"; exit 77; }; done
T=$(mktemp -d /tmp/capsule-ab.XXXXXX); chmod 755 "$T"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$T"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for i in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
NG=$(port); mkdir -p "$T/www/ok" "$T/nginx"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$T/www/ok/1k"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; user root; pid $T/nginx/nginx.pid; error_log $T/nginx/error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; keepalive_requests 1000000;
  client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
  uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
  server { listen 127.0.0.1:$NG; root $T/www; } }
CONF
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >/dev/null 2>&1 & pids+=($!)
wait_port "$NG" || exit 1
args=()
for i in $(seq 1 98); do args+=(--allow "GET,POST api$i.example.com/v$i/*"); done
args+=(--allow "GET 127.0.0.1:$NG/ok/*")
declare -A PORT PID
for k in A B; do
  PORT[$k]=$(port)
  "${!k}" --listen 127.0.0.1:${PORT[$k]} --audit "$T/audit-$k.jsonl" --capsule-id bench "${args[@]}" >"$T/$k.log" 2>&1 & PID[$k]=$!; pids+=($!)
  wait_port "${PORT[$k]}" || exit 1
done
printf 'wrk.path = "http://127.0.0.1:%s/ok/1k"\nwrk.headers["Host"] = "127.0.0.1:%s"\n' "$NG" "$NG" >"$T/abs.lua"
hz=$(getconf CLK_TCK)
echo "| pair | binary | req/s | p50 | p99 | CPU/request user+sys (µs) |"
echo "|---|---|---:|---:|---:|---:|"
for i in $(seq "$PAIRS"); do
  for k in A B; do
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/${PID[$k]}/stat)
    out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$T/abs.lua" "http://127.0.0.1:${PORT[$k]}/" 2>&1)
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/${PID[$k]}/stat)
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}'); p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    cpu=$(awk -v u=$((u1-u0)) -v s=$((s1-s0)) -v n="$n" -v hz="$hz" 'BEGIN{printf "%.1f + %.1f", u*1e6/hz/n, s*1e6/hz/n}')
    echo "| $i | $k | $rps | $p50 | $p99 | $cpu |"
  done
done
for k in A B; do "${!k}" audit-verify "$T/audit-$k.jsonl" >/dev/null && echo "$k: chain intact ($(wc -l <"$T/audit-$k.jsonl") lines)" || echo "$k: chain BROKEN"; done
