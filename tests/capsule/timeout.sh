#!/bin/bash
# capsule/timeout: the per-capsule monitor outlives the runtime process,
# sends SIGTERM to the whole cgroup at the deadline and SIGKILL 10 s later;
# both are audited; delete stops the monitor.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check

# 1. A workload that handles SIGTERM: stopped at the deadline by SIGTERM.
B="$T_TMP/term"
capsule_bundle "$B" /bin/sh -c 'trap "exit 143" TERM; sleep 1000 & wait'
cfg_set "$B" '.annotations["capsule/timeout"]="2s"'
ID=$(t_id term)
t_ok "create (runtime exits afterwards)" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
MON=$(awk '{print $1}' "$CROOT/$ID/monitor.pid" 2>/dev/null)
if [ -n "$MON" ] && kill -0 "$MON" 2>/dev/null; then t_pass "monitor running after create returned (pid $MON)"; else t_fail "monitor running ([$MON])"; fi
MSID=$(ps -o sid= -p "$MON" 2>/dev/null | tr -d ' ')
if [ -n "$MSID" ] && [ "$MSID" != "$(ps -o sid= -p $$ | tr -d ' ')" ]; then t_pass "monitor in its own session"; else t_fail "monitor in its own session ([$MSID])"; fi
t_ok "start" R start "$ID"
T0=$(date +%s)
if wait_stopped "$ID" 60; then t_pass "capsule stopped by its timeout after $(( $(date +%s) - T0 ))s"; else t_fail "capsule stopped by its timeout"; fi
AUD=$(audit_of "$ID")
t_match "audit: timeout with SIGTERM" '"event":"timeout","id":"[^"]*","timeout_s":2,"signal":"SIGTERM"' "$AUD"
t_match "audit: exit after timeout" '"event":"exited","id":"[^"]*","cause":"timeout"' "$AUD"
t_ok "delete" R delete "$ID"
if gone "$MON"; then t_pass "monitor gone after the capsule ended"; else t_fail "monitor gone after the capsule ended"; fi

# 2. A workload that ignores SIGTERM (sleep as pid 1): SIGKILL after the grace period.
B="$T_TMP/kill"
capsule_bundle "$B" /bin/sleep infinity
cfg_set "$B" '.annotations["capsule/timeout"]="1s"'
ID=$(t_id kill)
t_ok "create sleep infinity" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
t_ok "start sleep infinity" R start "$ID"
T0=$(date +%s)
if wait_stopped "$ID" 90; then t_pass "sleep infinity killed after $(( $(date +%s) - T0 ))s (1s + 10s grace)"; else t_fail "sleep infinity killed"; fi
AUD=$(audit_of "$ID")
t_match "audit: timeout-kill" '"event":"timeout-kill","id":"[^"]*","signal":"SIGKILL"' "$AUD"
R delete -f "$ID" >/dev/null 2>&1

# 3. delete --force of a running capsule stops its monitor before the deadline.
B="$T_TMP/force"
capsule_bundle "$B" /bin/sleep infinity
cfg_set "$B" '.annotations["capsule/timeout"]="1h"'
ID=$(t_id force)
R create -b "$B" "$ID" >/dev/null 2>&1
R start "$ID" >/dev/null 2>&1
MON=$(awk '{print $1}' "$CROOT/$ID/monitor.pid" 2>/dev/null)
t_ok "delete --force a running capsule" R delete -f "$ID"
if [ -n "$MON" ] && gone "$MON"; then t_pass "monitor stopped by delete --force"; else t_fail "monitor stopped by delete --force ([$MON])"; fi

# 4. A timeout beyond the profile's bound is refused, and audited.
cat >"$CAPSULE_POLICY" <<'EOF'
{"profiles": {"default": {"timeout": "5m", "max_timeout": "10m"}}}
EOF
B="$T_TMP/long"
capsule_bundle "$B" /bin/true
cfg_set "$B" '.annotations["capsule/timeout"]="2h"'
ID=$(t_id long)
OUT=$(R run -b "$B" "$ID" 2>&1)
t_match "timeout beyond the bound refused" 'annotation capsule/timeout: `2h`: timeout exceeds the node policy bound 600s' "$OUT"
t_match "refusal audited" '"decision":"deny","reason":"[^"]*capsule/timeout' "$(audit_of "$ID")"
t_fails "nothing left behind" R state "$ID"
rm -f "$CAPSULE_POLICY"
t_done
