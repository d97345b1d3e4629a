#!/bin/bash
# Kill-switch latency: time from running `capsule-runc killswitch session ID`
# to (1) the command returning, (2) the capsule's cgroup being empty, (3)
# `capsule-runc state` saying stopped.  The capsule is busybox with
# `sleep infinity` plus a loop that forks all the time (the worst case for a
# v1 sweep); its network containment (hooks + proxy) is on, as in production.
# A python3 helper starts the command and polls the record file and
# cgroup.procs every 0.2 ms (no forks), then `state` until stopped (one exec per poll: ~3 ms
# resolution).  Not part of ctest; no timed asserts.
# usage: run.sh [-n N]     (as root; prints a markdown table)
# env: CAPSULE_BUILD (default <src>/build), RUNTIME
set -u
CAPSULE_SRC=$(cd "$(dirname "$0")/../../.." && pwd)
: "${CAPSULE_BUILD:=$CAPSULE_SRC/build}"
RUNTIME=${RUNTIME:-$CAPSULE_BUILD/cmd/capsule-runc}
N=20
while getopts n: o; do case $o in n) N=$OPTARG ;; *) exit 2 ;; esac; done
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$RUNTIME" ] || { echo "runtime not built: $RUNTIME" >&2; exit 1; }
for c in jq busybox python3; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done

. "$CAPSULE_SRC/tests/lib.sh" >/dev/null 2>&1   # mk_bundle, cfg_set, T_TMP
W=$T_TMP
export CAPSULE_POLICY=$W/policy.json CAPSULE_NETNS_DIR=$W/node
printf '{"directories":{"killswitch":"%s"}}' "$W/ks" >"$CAPSULE_POLICY"
R() { "$RUNTIME" --root "$W/root" "$@"; }
B=$W/bundle
mk_bundle "$B" /bin/sh -c '/bin/sleep infinity & (while :; do /bin/true; done) & while :; do /bin/sleep 0.05 & wait $!; done' \
  || { echo "cannot make a bundle" >&2; exit 1; }
cfg_set "$B" '.annotations["capsule/agent"]="bench"'

cat >"$W/measure.py" <<'PY'
import os, subprocess, sys, time
procs, runtime, root, cid, session, ksdir = sys.argv[1:7]
record = os.path.join(ksdir, "session-" + session)
def empty():
    try:
        with open(procs) as f:
            return f.read().strip() == ""
    except FileNotFoundError:
        return True
t0 = time.monotonic()
p = subprocess.Popen([runtime, "--root", root, "killswitch", "session", session])
t_cmd = t_empty = t_rec = None
while t_cmd is None or t_empty is None:
    now = time.monotonic()
    if t_rec is None and os.path.exists(record):
        t_rec = now
    if t_cmd is None and p.poll() is not None:
        t_cmd = now
    if t_empty is None and empty():
        t_empty = now
    if now - t0 > 10:
        break
    time.sleep(0.0002)
t_stop = None
while time.monotonic() - t0 < 10:
    out = subprocess.run([runtime, "--root", root, "state", cid], capture_output=True, text=True).stdout
    if '"status": "stopped"' in out or '"status":"stopped"' in out:
        t_stop = time.monotonic()
        break
ms = lambda t: "%.2f" % ((t - t0) * 1000) if t else "nan"
after = "%.2f" % ((t_empty - t_rec) * 1000) if t_empty and t_rec else "nan"
print(ms(t_cmd), ms(t_empty), ms(t_stop), ms(t_rec), after)
PY

cg_procs() {
  local line path
  line=$(grep -E '^[0-9]+:pids:' "/proc/$1/cgroup" 2>/dev/null)
  if [ -n "$line" ]; then echo "/sys/fs/cgroup/pids${line#*:pids:}/cgroup.procs"; return; fi
  path=$(sed -n 's/^0:://p' "/proc/$1/cgroup")
  if [ -d /sys/fs/cgroup/unified ]; then echo "/sys/fs/cgroup/unified$path/cgroup.procs"; else echo "/sys/fs/cgroup$path/cgroup.procs"; fi
}

: >"$W/results"
fails=0
for i in $(seq "$N"); do
  id=ks$i-$$ s=bench-$i-$$-$RANDOM
  cfg_set "$B" '.annotations["capsule/session"]=$s' --arg s "$s"
  if ! { R create -b "$B" "$id" && R start "$id"; } >/dev/null 2>&1; then
    fails=$((fails + 1)); R delete -f "$id" >/dev/null 2>&1; continue
  fi
  sleep 0.3
  pid=$(R state "$id" | jq -r .pid)
  procs=$(cg_procs "$pid")
  n=$(wc -l <"$procs")
  read -r tc te ts tr ta <<<"$(python3 "$W/measure.py" "$procs" "$RUNTIME" "$W/root" "$id" "$s" "$W/ks")"
  echo "$tc $te $ts $n $tr $ta" >>"$W/results"
  R delete -f "$id" >/dev/null 2>&1
  R killswitch lift session "$s" >/dev/null 2>&1
done

stats() { # column -> "median p95 max"
  awk -v c="$1" '$c != "nan" {print $c}' "$W/results" | sort -n | awk '{v[NR]=$1} END {if (!NR) {print "- - -"; exit}
    printf "%.1f %.1f %.1f\n", v[int((NR+1)/2)], v[int(NR*0.95+0.999)], v[NR]}'
}
miss=$(awk '$2 == "nan" || $3 == "nan"' "$W/results" | wc -l)
echo "Kill switch, \`tests/bench/killswitch/run.sh -n $N\`, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs,"
echo "cgroups $( [ -f /sys/fs/cgroup/cgroup.controllers ] && echo v2 || echo 'v1/hybrid'); processes in the capsule at the kill: $(awk '{print $4}' "$W/results" | sort -n | uniq | tr '\n' ' ')"
echo
echo "| from \`killswitch session ID\` start to | median (ms) | p95 (ms) | max (ms) |"
echo "|---|---:|---:|---:|"
read -r a b c <<<"$(stats 5)"; echo "| record file visible | $a | $b | $c |"
read -r a b c <<<"$(stats 1)"; echo "| command returned | $a | $b | $c |"
read -r a b c <<<"$(stats 2)"; echo "| container cgroup empty | $a | $b | $c |"
read -r a b c <<<"$(stats 3)"; echo "| \`state\` says stopped | $a | $b | $c |"
read -r a b c <<<"$(stats 6)"; echo "| (record visible -> cgroup empty: the monitor's part) | $a | $b | $c |"
echo
echo "Runs: $(wc -l <"$W/results") measured, $fails failed to start, $miss not stopped within 10 s."
