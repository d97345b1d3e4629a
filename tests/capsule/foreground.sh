#!/bin/bash
# A foreground `capsule-runc run` keeps its capsule's monitor in a thread
# (lib/monitor.h capsule_monitor_start_thread): no monitor daemon, and the
# same duties - timeout, kill switch, "exited" before delete's lines, signed
# head.  The capsule dies with the runtime (the init keeps its parent-death
# signal): SIGKILL to `run` leaves nothing running unwatched.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check
KS="$T_TMP/ks"
cat >"$CAPSULE_POLICY" <<JSON
{"directories": {"killswitch": "$KS"}}
JSON

# bg_run B ID: `run` in the background (foreground mode), its pid in RPID once init runs.
bg_run() {
  "$RUNTIME" --root "$CROOT" run -b "$1" "$2" >"$T_TMP/$2.out" 2>&1 &
  RPID=$!
  t_cleanup "kill -9 $RPID; R delete -f $2"
  local i
  for i in $(seq 100); do [ "$(R state "$2" 2>/dev/null | jq -r .status)" = running ] && return 0; sleep 0.05; done
  return 1
}
# waited PID SECONDS: PID (a child of ours) exited within SECONDS; its status in RC.
waited() {
  local i
  for i in $(seq $(( $2 * 20 ))); do kill -0 "$1" 2>/dev/null || { wait "$1"; RC=$?; return 0; }; sleep 0.05; done
  return 1
}

# 1. Timeout: SIGTERM at the deadline, `run` returns, audited in order.
B="$T_TMP/to"
capsule_bundle "$B" /bin/sh -c 'trap "exit 143" TERM; sleep 1000 & wait'
cfg_set "$B" '.annotations["capsule/timeout"]="2s"'
ID=$(t_id to)
bg_run "$B" "$ID" || t_fail "capsule running"
t_fails "no monitor daemon (pid file) for a foreground run" test -e "$CROOT/$ID/monitor.pid"
T0=$(date +%s)
if waited "$RPID" 30; then t_pass "run returned after the timeout ($(( $(date +%s) - T0 ))s)"; else t_fail "run returned after the timeout"; fi
t_eq "exit code of the SIGTERM'd workload" 143 "$RC"
EV=$(audit_of "$ID" | jq -r 'select(.event | test("^(admission|created|timeout|exited|deleted)$")) | .event' | tr '\n' ' ')
t_eq "audit order (lifecycle lines)" "admission created timeout exited deleted " "$EV"
t_match "exited names the cause" '"event":"exited","id":"[^"]*","cause":"timeout"' "$(audit_of "$ID")"
t_match "chain intact up to the signed head" "chain intact, reaches the signed head" "$("$RUNTIME" --root "$CROOT" audit verify "$CROOT/.capsule-audit/$ID.jsonl" 2>&1)"

# 2. Kill switch on a foreground run: the cgroup is killed within the watch.
B="$T_TMP/ks1"
capsule_bundle "$B" /bin/sleep infinity
cfg_set "$B" '.annotations["capsule/session"]="sess-fg"'
ID=$(t_id ks)
bg_run "$B" "$ID" || t_fail "capsule running"
t_ok "killswitch session" R killswitch session sess-fg
if waited "$RPID" 10; then t_pass "run returned after the kill switch"; else t_fail "run returned after the kill switch"; fi
t_eq "killed workload: 137" 137 "$RC"
t_match "audit: killswitch, then exited with its cause" '"event":"killswitch".*\n.*"event":"exited","id":"[^"]*","cause":"killswitch"' "$(audit_of "$ID")"
R killswitch lift session sess-fg >/dev/null 2>&1

# 3. SIGKILL to the runtime: the capsule dies with it (fail closed).
B="$T_TMP/die"
capsule_bundle "$B" /bin/sleep infinity
ID=$(t_id die)
bg_run "$B" "$ID" || t_fail "capsule running"
IPID=$(R state "$ID" | jq -r .pid)
kill -9 "$RPID"
if gone "$IPID"; then t_pass "init $IPID gone with the runtime"; else t_fail "init $IPID still running after SIGKILL of run"; fi
t_ok "delete --force cleans up" R delete -f "$ID"

# 4. Control: `run -d` still gets a monitor daemon that outlives the runtime.
B="$T_TMP/det"
capsule_bundle "$B" /bin/sleep infinity
ID=$(t_id det)
t_ok "run -d" R run -d -b "$B" "$ID"
t_cleanup "R delete -f $ID"
MON=$(awk '{print $1}' "$CROOT/$ID/monitor.pid" 2>/dev/null)
if [ -n "$MON" ] && kill -0 "$MON" 2>/dev/null; then t_pass "detached run: monitor daemon $MON"; else t_fail "detached run: monitor daemon ([$MON])"; fi
t_ok "delete -f" R delete -f "$ID"
t_done
