#!/bin/bash
# capsule-proxy benchmark (issue 4): wrk -t1 -c32 for 10 s against nginx on
# loopback serving 1 KiB, direct and through squid, tinyproxy and
# capsule-proxy (100 rules + audit on); RSS with 1000 idle keep-alive
# connections; CONNECT tunnel throughput on a 1 GiB transfer vs direct.
# Not part of ctest (timing).  Prints a markdown table.
# Env: DURATION (10s), CONNS (32), RUNS (3: direct and capsule-proxy runs,
# interleaved, medians reported), C1_DURATION (5s: the -c1 latency runs),
# CONNECT_RUNS (5), PROXY (capsule-proxy binary), AUDIT_FS (tmpfs: the audit
# log on a tmpfs this script mounts, as with capsule-runc's default audit dir
# <state root>/.capsule-audit under /run; disk: in the tmp dir, on its disk).
set -u
src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${CAPSULE_BUILD:-$src/build}
PROXY=${PROXY:-$build/hooks/proxy/capsule-proxy}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
RUNS=${RUNS:-3}
for c in wrk nginx curl python3; do command -v $c >/dev/null || { echo "SKIP: needs $c"; exit 77; }; done
[ -x "$PROXY" ] || { echo "SKIP: $PROXY not built"; exit 77; }
T=$(mktemp -d /tmp/capsule-bench.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; mountpoint -q "$T/auditfs" && umount -l "$T/auditfs"; rm -rf "$T"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for i in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# --- origin: nginx, 1 worker, 1 KiB and a sparse 1 GiB file
NG=$(port)
mkdir -p "$T/www/ok" "$T/nginx"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$T/www/ok/1k"
truncate -s 1G "$T/www/ok/1g"
cat >"$T/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
user root;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
  uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
  server { listen 127.0.0.1:$NG; root $T/www; }
}
CONF
nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" >/dev/null 2>&1 & pids+=($!)
wait_port "$NG" || exit 1
URL=http://127.0.0.1:$NG/ok/1k

# --- capsule-proxy: 98 rules that do not match + GET and CONNECT rules that do (100), audit on
CP=$(port)
args=()
for i in $(seq 1 98); do args+=(--allow "GET,POST api$i.example.com/v$i/*"); done
args+=(--allow "GET 127.0.0.1:$NG/ok/*" --allow "CONNECT 127.0.0.1:$NG")
AUDIT_FS=${AUDIT_FS:-tmpfs}
AUD=$T/auditfs
mkdir -p "$AUD"
case $AUDIT_FS in
  tmpfs) mount -t tmpfs -o size=4g,mode=0700 capsule-bench-audit "$AUD" || { echo "cannot mount a tmpfs for the audit log (AUDIT_FS=disk avoids it)" >&2; exit 1; } ;;
  disk) ;;
  *) echo "AUDIT_FS: tmpfs or disk" >&2; exit 2 ;;
esac
echo "audit log on $AUDIT_FS ($(df --output=fstype "$AUD" | tail -1))"
"$PROXY" --listen 127.0.0.1:$CP --audit "$AUD/audit.jsonl" --capsule-id bench "${args[@]}" >"$T/cp.log" 2>&1 & CPID=$!; pids+=($CPID)
wait_port "$CP" || exit 1

# --- squid and tinyproxy, if installed
SQ=; TP=
if command -v squid >/dev/null; then
  SQ=$(port); mkdir -p "$T/squid"; chown proxy "$T/squid" 2>/dev/null
  cat >"$T/squid/squid.conf" <<CONF
http_port 127.0.0.1:$SQ
http_access allow all
cache deny all
access_log none
cache_log $T/squid/cache.log
pid_filename $T/squid/squid.pid
coredump_dir $T/squid
workers 1
shutdown_lifetime 0 seconds
CONF
  squid -N -f "$T/squid/squid.conf" >/dev/null 2>&1 & pids+=($!)
  wait_port "$SQ" || SQ=
fi
if command -v tinyproxy >/dev/null; then
  TP=$(port); mkdir -p "$T/tp"
  cat >"$T/tp/tp.conf" <<CONF
Port $TP
Listen 127.0.0.1
Timeout 600
MaxClients 1024
LogLevel Critical
User nobody
Group nogroup
CONF
  tinyproxy -d -c "$T/tp/tp.conf" >/dev/null 2>&1 & pids+=($!)
  wait_port "$TP" || TP=
fi

cat >"$T/abs.lua" <<LUA
wrk.path = "$URL"
wrk.headers["Host"] = "127.0.0.1:$NG"
LUA
# run_wrk NAME PORT [lua]: prints "req/s p50 p99"
run_wrk() {
  local out
  if [ -n "${3:-}" ]; then out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$3" "http://127.0.0.1:$2/" 2>&1)
  else out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$URL" 2>&1); fi
  echo "$out" >"$T/wrk-$1.txt"
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "${rps:-0} ${p50:--} ${p99:--} ${non2xx:-0}"
}
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v+0} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000} else print "nan" }'; }

# CPU time of a process in ms (utime + stime)
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)*1000/hz}' "/proc/$1/stat"; }
# median of the Nth field (1-based) over lines on stdin; values like 1.2ms / 800us
median_field() { awk -v f="$1" '{v=$f; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000} print v+0}' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

declare -A R
# direct and capsule-proxy alternate, RUNS times each: the VM's load moves
# between runs, so one run of each is not a comparison
: >"$T/runs-direct" ; : >"$T/runs-capsule"
creq=0; cms=0
for i in $(seq "$RUNS"); do
  run_wrk direct "$NG" >>"$T/runs-direct"
  c0=$(cpu_ms "$CPID")
  run_wrk capsule "$CP" "$T/abs.lua" >>"$T/runs-capsule"
  c1=$(cpu_ms "$CPID")
  cms=$(awk -v a="$cms" -v b="$c0" -v c="$c1" 'BEGIN{print a+c-b}')
  creq=$(awk -v a="$creq" -v r="$(tail -1 "$T/runs-capsule" | cut -d' ' -f1)" -v d="${DURATION%s}" 'BEGIN{print a+r*d}')
done
for k in direct capsule; do
  f=$T/runs-$k
  echo "runs $k (req/s p50 p99 non-2xx):"; sed 's/^/  /' "$f"
  m="$(median_field 1 <"$f") $(median_field 2 <"$f")ms $(median_field 3 <"$f")ms $(awk '{s+=$4} END{print s+0}' "$f")"
  [ $k = capsule ] && R[capsule-proxy]=$m || R[direct]=$m
done
[ -n "$SQ" ] && R[squid]=$(run_wrk squid "$SQ" "$T/abs.lua")
[ -n "$TP" ] && R[tinyproxy]=$(run_wrk tinyproxy "$TP" "$T/abs.lua")
lines=$(wc -l <"$AUD/audit.jsonl")
"$PROXY" audit-verify "$AUD/audit.jsonl" >/dev/null && chain=intact || chain=BROKEN

echo
echo "| client path (wrk -t1 -c$CONNS $DURATION, 1 KiB; direct/capsule: median of $RUNS) | req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
for k in direct squid tinyproxy capsule-proxy; do
  [ -n "${R[$k]:-}" ] || { echo "| $k | not installed | | | |"; continue; }
  set -- ${R[$k]}
  echo "| $k | $1 | $2 | $3 | $4 |"
done
d=(${R[direct]}); c=(${R[capsule-proxy]})
echo
echo "capsule-proxy / direct req/s: $(awk -v a="${c[0]}" -v b="${d[0]}" 'BEGIN{printf "%.2f", a/b}')"
[ -n "${R[squid]:-}" ] && { s=(${R[squid]}); echo "capsule-proxy / squid req/s: $(awk -v a="${c[0]}" -v b="${s[0]}" 'BEGIN{printf "%.2f", a/b}')"; }
echo "added p50 latency (medians, capsule-proxy - direct): $(awk -v a="$(to_ms "${c[1]}")" -v b="$(to_ms "${d[1]}")" 'BEGIN{printf "%.3f ms", a-b}')"
echo "added p99 latency (medians, capsule-proxy - direct): $(awk -v a="$(to_ms "${c[2]}")" -v b="$(to_ms "${d[2]}")" 'BEGIN{printf "%.3f ms", a-b}')"
echo "capsule-proxy CPU per request: $(awk -v m="$cms" -v r="$creq" 'BEGIN{printf "%.1f us", r ? m*1000/r : 0}')"
echo "audit: $lines lines ($AUDIT_FS), chain $chain"

# --- one connection (no queueing): what the proxy itself adds per request,
# apart from run-queue contention of three busy processes on few CPUs
C1_DURATION=${C1_DURATION:-5s}
: >"$T/c1-direct"; : >"$T/c1-capsule"
for i in $(seq "$RUNS"); do
  CONNS=1 DURATION=$C1_DURATION run_wrk c1-direct "$NG" >>"$T/c1-direct"
  CONNS=1 DURATION=$C1_DURATION run_wrk c1-capsule "$CP" "$T/abs.lua" >>"$T/c1-capsule"
done
for k in direct capsule; do echo "runs -c1 $k (req/s p50 p99 non-2xx):"; sed 's/^/  /' "$T/c1-$k"; done
c1d50=$(median_field 2 <"$T/c1-direct"); c1c50=$(median_field 2 <"$T/c1-capsule")
c1d99=$(median_field 3 <"$T/c1-direct"); c1c99=$(median_field 3 <"$T/c1-capsule")
echo "-c1 p50 direct / capsule-proxy: $c1d50 / $c1c50 ms (added $(awk -v a="$c1c50" -v b="$c1d50" 'BEGIN{printf "%.3f", a-b}') ms)"
echo "-c1 p99 direct / capsule-proxy: $c1d99 / $c1c99 ms (added $(awk -v a="$c1c99" -v b="$c1d99" 'BEGIN{printf "%.3f", a-b}') ms)"

# --- RSS with 1000 idle keep-alive connections
cat >"$T/idle.py" <<'PY'
import socket, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
port, url, host, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
socks = []
req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, host)).encode()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); socks.append(s)
for s in socks:
    got = b""
    while b"\r\n\r\n" not in got or len(got) < 1024: got += s.recv(65536)
print("ready", flush=True)
time.sleep(float(sys.argv[5]))
PY
rss0=$(awk '/VmRSS/ {print $2}' /proc/$CPID/status)
python3 "$T/idle.py" "$CP" "$URL" "127.0.0.1:$NG" 1000 6 >"$T/idle.out" 2>&1 & IP=$!
for i in $(seq 100); do grep -q ready "$T/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
rss=$(awk '/VmRSS/ {print $2}' /proc/$CPID/status)
conns=$(ls /proc/$CPID/fd | wc -l)
wait $IP
echo "RSS with 1000 idle keep-alive connections: $((rss/1024)).$(( (rss%1024)*10/1024 )) MiB (VmRSS ${rss} kB, before ${rss0} kB, $conns fds open)"

# --- CONNECT tunnel throughput, 1 GiB
speed() { curl -s -o /dev/null -w '%{speed_download}' "$@" "http://127.0.0.1:$NG/ok/1g"; }
# best of N each, alternating direct and tunnel (loopback throughput on a
# shared VM is noisy); also the median ratio of the pairs
N=${CONNECT_RUNS:-5}
: >"$T/tput"
speed >/dev/null # warm-up: the first read of the sparse file is slow (page cache)
for i in $(seq "$N"); do echo "$(speed) $(speed -p -x "http://127.0.0.1:$CP")" >>"$T/tput"; done
echo "1 GiB transfers (MiB/s, direct tunnel):"; awk '{printf "  %.0f %.0f\n", $1/1048576, $2/1048576}' "$T/tput"
ds=$(awk 'BEGIN{m=0} $1>m{m=$1} END{print m}' "$T/tput"); ts=$(awk 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$T/tput")
mr=$(awk '$1>0{print $2/$1}' "$T/tput" | sort -n | awk '{a[NR]=$1} END{printf "%.2f", a[int((NR+1)/2)]}')
echo "1 GiB direct: $(awk -v s="$ds" 'BEGIN{printf "%.0f MiB/s", s/1048576}'), through CONNECT: $(awk -v s="$ts" 'BEGIN{printf "%.0f MiB/s", s/1048576}'), best-of-$N ratio $(awk -v a="$ts" -v b="$ds" 'BEGIN{printf "%.2f", a/b}'), median pair ratio $mr"
# (CONNECT needs a rule without a path restriction for this host:port)
