#!/bin/bash
# capsule/killswitch: `capsule-runc killswitch` records a revocation in the
# node's kill-switch directory; every capsule's monitor (inotify) kills the
# whole cgroup of a capsule whose session, agent or agent@version it names
# (forking workloads and created-but-not-started capsules included), audits
# it and stops the proxy; `create` refuses revoked capsules and leaves
# nothing behind; `lift` re-allows.  The monitor's signed audit head lets
# `audit verify` catch tail truncation and a rewritten chain.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/capsule/lib.sh"
capsule_env_check

KS=$T_TMP/killswitch
write_policy() {
  printf '{"directories":{"killswitch":"%s"},"egress":{"allow_private":["127.0.0.0/8"]}}' "$KS" >"$CAPSULE_POLICY"
}
write_policy

# cg_procs PID: the cgroup.procs file of PID's cgroup (pids controller, else the unified one).
cg_procs() {
  local line path
  line=$(grep -E '^[0-9]+:pids:' "/proc/$1/cgroup" 2>/dev/null)
  if [ -n "$line" ]; then echo "/sys/fs/cgroup/pids${line#*:pids:}/cgroup.procs"; return; fi
  path=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
  if [ -d /sys/fs/cgroup/unified ]; then echo "/sys/fs/cgroup/unified$path/cgroup.procs"; else echo "/sys/fs/cgroup$path/cgroup.procs"; fi
}
# A busybox capsule: sleep infinity plus a loop that forks all the time.
FORKER='/bin/sleep infinity & (while :; do /bin/true; done) & while :; do /bin/sleep 0.05 & wait $!; done'
ks_capsule() { # DIR SESSION AGENT VERSION
  capsule_bundle "$1" /bin/sh -c "$FORKER"
  cfg_set "$1" '.annotations["capsule/session"]=$s | .annotations["capsule/agent"]=$a | .annotations["capsule/version"]=$v' \
    --arg s "$2" --arg a "$3" --arg v "$4"
}
running() { [ "$(R state "$1" 2>/dev/null | jq -r .status)" = running ]; }

# 1. killswitch session ID: the whole forking capsule dies, audited, monitor exits.
S=sess-$$-$RANDOM
B=$T_TMP/s1; ks_capsule "$B" "$S" agent-a 1.0
ID=$(t_id sess)
t_ok "create" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
t_ok "start" R start "$ID"
sleep 0.3
PID=$(R state "$ID" | jq -r .pid)
PROCS=$(cg_procs "$PID")
N0=$(wc -l <"$PROCS" 2>/dev/null)
if [ "${N0:-0}" -ge 3 ]; then t_pass "forking capsule has $N0 processes"; else t_fail "forking capsule has processes ($N0 in $PROCS)"; fi
MON=$(awk '{print $1}' "$CROOT/$ID/monitor.pid" 2>/dev/null)
t_ok "killswitch session $S" R killswitch --reason "test: runaway session" session "$S"
if wait_stopped "$ID"; then t_pass "state says stopped"; else t_fail "state says stopped"; fi
for i in $(seq 1 40); do [ -s "$PROCS" ] || break; sleep 0.05; done
t_eq "cgroup empty (no process survived the fork loop)" "" "$(cat "$PROCS" 2>/dev/null)"
if gone "$MON"; then t_pass "monitor exited"; else t_fail "monitor exited ([$MON])"; fi
AUD=$(audit_of "$ID")
t_match "audit: killswitch with the record" "\"event\":\"killswitch\",\"id\":\"$ID\",\"record\":\"session-$S\",\"revocation\":\".*runaway session" "$AUD"
t_match "audit: exited, cause killswitch" "\"event\":\"exited\",\"id\":\"$ID\",\"cause\":\"killswitch\"" "$AUD"
t_fails "start after the kill switch fails" R start "$ID"
t_ok "killswitch list shows it" bash -c "'$RUNTIME' killswitch list | grep -q '^session-$S'"
R delete -f "$ID" >/dev/null 2>&1

# 2. Agent revocations: NAME@VERSION kills that version only, NAME every version.
AG=agent-$$-$RANDOM
B1=$T_TMP/v1; ks_capsule "$B1" "s-$RANDOM" "$AG" 1.0
B2=$T_TMP/v2; ks_capsule "$B2" "s-$RANDOM" "$AG" 2.0
ID1=$(t_id v1); ID2=$(t_id v2)
R create -b "$B1" "$ID1" >/dev/null 2>&1 && R start "$ID1" >/dev/null 2>&1
R create -b "$B2" "$ID2" >/dev/null 2>&1 && R start "$ID2" >/dev/null 2>&1
t_cleanup "R delete -f $ID1"
t_cleanup "R delete -f $ID2"
if running "$ID1" && running "$ID2"; then t_pass "two versions running"; else t_fail "two versions running"; fi
t_ok "killswitch agent $AG@1.0" R killswitch agent "$AG@1.0"
if wait_stopped "$ID1"; then t_pass "version 1.0 killed"; else t_fail "version 1.0 killed"; fi
t_match "audit: agent@version record" "\"record\":\"agent-$AG@1.0\"" "$(audit_of "$ID1")"
sleep 0.5
if running "$ID2"; then t_pass "version 2.0 not killed by the 1.0 revocation"; else t_fail "version 2.0 not killed by the 1.0 revocation"; fi
t_ok "killswitch agent $AG" R killswitch agent "$AG"
if wait_stopped "$ID2"; then t_pass "agent revocation kills version 2.0"; else t_fail "agent revocation kills version 2.0"; fi
t_match "audit: agent record" "\"record\":\"agent-$AG\"" "$(audit_of "$ID2")"
R delete -f "$ID1" >/dev/null 2>&1; R delete -f "$ID2" >/dev/null 2>&1

# 3. Created but not started: killed too, start refused.
S3=sess3-$$-$RANDOM
B=$T_TMP/c3; ks_capsule "$B" "$S3" agent-c 1.0
ID=$(t_id created)
t_ok "create (not started)" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
t_eq "state created" created "$(R state "$ID" | jq -r .status)"
R killswitch session "$S3" >/dev/null 2>&1
if wait_stopped "$ID"; then t_pass "created capsule killed"; else t_fail "created capsule killed"; fi
t_fails "start refused after the kill" R start "$ID"
t_match "audit: killswitch before start" "\"event\":\"killswitch\",\"id\":\"$ID\",\"record\":\"session-$S3\"" "$(audit_of "$ID")"
R delete -f "$ID" >/dev/null 2>&1

# 4. create refuses a revoked agent (and session), nothing left behind; lift re-allows.
AG4=agent4-$$-$RANDOM
R killswitch agent "$AG4" --reason "compromised build" >/dev/null 2>&1
B=$T_TMP/r4; ks_capsule "$B" "s-$RANDOM" "$AG4" 3.1
CGP=$(jq -r .linux.cgroupsPath "$B/config.json")
ID=$(t_id refused)
OUT=$(R create -b "$B" "$ID" 2>&1)
t_match "create refused for a revoked agent" "agent \`$AG4\` is revoked by the kill switch \\(agent-$AG4 in [^:]*: compromised build\\)" "$OUT"
t_match "refusal audited" '"decision":"deny","reason":"[^"]*revoked by the kill switch' "$(audit_of "$ID")"
t_fails "nothing left: no state" R state "$ID"
t_fails "nothing left: no state dir" test -e "$CROOT/$ID"
t_eq "nothing left: no cgroup" "" "$(ls -d /sys/fs/cgroup/*"$CGP" /sys/fs/cgroup/unified"$CGP" 2>/dev/null)"
R killswitch agent "$AG4@3.1" >/dev/null 2>&1
R killswitch lift agent "$AG4" >/dev/null 2>&1
OUT=$(R create -b "$B" "$ID" 2>&1)
t_match "agent@version still refused after lifting the agent-wide record" "agent version \`$AG4@3.1\` is revoked" "$OUT"
t_ok "lift agent@version" R killswitch lift agent "$AG4@3.1"
t_ok "create allowed after lift" R create -b "$B" "$ID"
t_cleanup "R delete -f $ID"
R delete -f "$ID" >/dev/null 2>&1
t_fails "lift of a missing revocation fails" R killswitch lift agent "$AG4"
S4=sess4-$$-$RANDOM
R killswitch session "$S4" >/dev/null 2>&1
B=$T_TMP/r4s; ks_capsule "$B" "$S4" agent-x 1
t_fails "create refused for a revoked session" R create -b "$B" "$(t_id rs)"

# 5. Bad names are refused, and nothing is written.
BEFORE=$(ls -A "$KS" | sort)
t_fails "session ../x refused" R killswitch session ../x
t_fails "session a/b refused" R killswitch session a/b
t_fails "agent .hidden refused" R killswitch agent .hidden
t_fails "empty session refused" R killswitch session ""
t_fails "name of 200 characters refused" R killswitch session "$(printf 'a%.0s' $(seq 200))"
t_fails "capability a.b refused" R killswitch capability a.b
t_fails "unknown kind refused" R killswitch container x
t_eq "no file written by refused names" "$BEFORE" "$(ls -A "$KS" | sort)"
t_ok "capability NAME recorded" R killswitch capability payments
t_ok "capability file" test -f "$KS/capability-payments"

# 6. Signed audit head: truncation and a rewritten chain are caught.
B=$T_TMP/h6; capsule_bundle "$B" /bin/sh -c 'exit 0'
ID=$(t_id head)
R run -b "$B" "$ID" >/dev/null 2>&1
R delete -f "$ID" >/dev/null 2>&1
LOG=$CROOT/.capsule-audit/$ID.jsonl
t_ok "head recorded next to the log" test -s "$LOG.head"
t_match "head is signed" '"alg":"hmac-sha256","key_id":"[0-9a-f]{16}","sig":"[0-9a-f]{64}"' "$(cat "$LOG.head")"
t_eq "head covers the last line" "$(wc -l <"$LOG")" "$(jq -r .seq "$LOG.head")"
OUT=$(R audit verify "$LOG" 2>&1)
t_match "intact log verifies against its head" "chain intact, reaches the signed head" "$OUT"
OUT=$("$RUNTIME" --root "$T_TMP/elsewhere" audit verify "$LOG" 2>&1)
t_match "without the node key the head is reported as not checked" "signed head not checked: no node key" "$OUT"
D=$T_TMP/copy; mkdir -p "$D"
cp "$LOG" "$D/a.jsonl"; cp "$LOG.head" "$D/a.jsonl.head"
head -n -1 "$LOG" >"$D/a.jsonl"
OUT=$(R audit verify --no-head "$D/a.jsonl" 2>&1)
t_match "a truncated log alone still looks intact" "chain intact" "$OUT"
OUT=$(R audit verify "$D/a.jsonl" 2>&1); rc=$?
t_eq "tail truncation detected (exit 1)" 1 "$rc"
t_match "... and named" "tail truncated" "$OUT"
# Rewrite line 2 and re-chain everything after it: the bare chain is valid again.
rechain() {
  local prev="" n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    [ "$n" -eq 2 ] && line=${line/\"event\":\"/\"event\":\"forged-}
    [ -n "$prev" ] && line=$(sed -E "s/\"prev\":\"[0-9a-f]{64}\"/\"prev\":\"$prev\"/" <<<"$line")
    printf '%s\n' "$line"
    prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
  done
}
rechain <"$LOG" >"$D/a.jsonl"
OUT=$(R audit verify --no-head "$D/a.jsonl" 2>&1)
t_match "rewritten chain is self-consistent" "chain intact" "$OUT"
OUT=$(R audit verify "$D/a.jsonl" 2>&1); rc=$?
t_eq "rewritten chain detected by the head (exit 1)" 1 "$rc"
t_match "... and named" "chain rewritten" "$OUT"
cp "$LOG" "$D/a.jsonl"
jq -c '.seq = 1' "$LOG.head" >"$D/a.jsonl.head"
OUT=$(R audit verify "$D/a.jsonl" 2>&1); rc=$?
t_eq "forged head (seq changed) refused" 1 "$rc"
t_match "... bad signature" "bad signature" "$OUT"

# The monitor re-signs the head every few seconds while the log grows.
B=$T_TMP/h6b; capsule_bundle "$B" /bin/sleep infinity
ID=$(t_id head2)
R create -b "$B" "$ID" >/dev/null 2>&1 && R start "$ID" >/dev/null 2>&1
t_cleanup "R delete -f $ID"
LOG=$CROOT/.capsule-audit/$ID.jsonl
for i in $(seq 1 60); do [ -s "$LOG.head" ] && break; sleep 0.05; done
H0=$(jq -r .seq "$LOG.head" 2>/dev/null)
if [ "${H0:-0}" -ge 1 ] && [ "$H0" -le "$(wc -l <"$LOG")" ]; then t_pass "head recorded at create (line $H0)"; else t_fail "head recorded at create ([$H0])"; fi
for k in 1 2; do
  last=$(tail -n 1 "$LOG")
  printf '{"seq":%d,"time":"2026-01-01T00:00:00.000000Z","prev":"%s","source":"test","event":"extra"}\n' \
    $(( $(wc -l <"$LOG") + 1 )) "$(printf '%s' "$last" | sha256sum | cut -d' ' -f1)" >>"$LOG"
done
N6=$(wc -l <"$LOG")
for i in $(seq 1 100); do [ "$(jq -r .seq "$LOG.head" 2>/dev/null)" = "$N6" ] && break; sleep 0.1; done
t_eq "periodic head follows the grown log" "$N6" "$(jq -r .seq "$LOG.head" 2>/dev/null)"
t_match "... recorded by the monitor" '"event":"periodic"' "$(cat "$LOG.head")"
R delete -f "$ID" >/dev/null 2>&1

# 7. Network containment: the proxied connection is dropped, the proxy stops.
command -v python3 >/dev/null && command -v nsenter >/dev/null && command -v ss >/dev/null || t_skip "network part: needs python3, nsenter, ss"
H=capsuletest-ks-$$
if ip netns add "$H" 2>/dev/null; then
  t_cleanup "ip netns del $H"
  ip -n "$H" link set lo up
  PORT=$((20000 + $$ % 20000))
  # Upstream (in H, the "host" of the isolated shape): answers one GET with a
  # never-ending body and logs when the proxy's connection closes.
  ip netns exec "$H" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
log = open(sys.argv[2], "a", buffering=1)
c, _ = s.accept(); c.recv(4096); log.write("accepted\n")
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstream\n")
c.settimeout(0.2)
while True:
    try:
        if c.recv(4096) == b"": break
    except socket.timeout:
        try: c.sendall(b".")
        except OSError: break
    except OSError: break
log.write("closed\n")
' "$PORT" "$T_TMP/upstream.log" &
t_cleanup "kill $!"
  for i in $(seq 1 50); do ip netns exec "$H" ss -tln | grep -q ":$PORT " && break; sleep 0.1; done
  S7=sess7-$$-$RANDOM
  B=$T_TMP/n7; capsule_bundle "$B" /bin/sh -c "wget -q -O- http://127.0.0.1:$PORT/ok/stream >/dev/null; sleep infinity"
  cfg_set "$B" '.annotations["capsule/session"]=$s | .annotations["capsule/egress.allow"]=$r' --arg s "$S7" --arg r "GET 127.0.0.1:$PORT/ok/*"
  ID=$(t_id net)
  export CAPSULE_NETNS_DIR=$T_TMP/node
  t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
  nsenter --net=/run/netns/$H "$RUNTIME" --root "$CROOT" run -d -b "$B" "$ID" >"$T_TMP/net.out" 2>&1
  t_cleanup "nsenter --net=/run/netns/$H $RUNTIME --root $CROOT delete -f $ID"
  for i in $(seq 1 100); do grep -q accepted "$T_TMP/upstream.log" 2>/dev/null && break; sleep 0.1; done
  if grep -q accepted "$T_TMP/upstream.log" 2>/dev/null; then
    t_pass "capsule streams from upstream through the proxy"
    t_eq "connection open before the kill switch" "" "$(grep closed "$T_TMP/upstream.log")"
    R killswitch session "$S7" >/dev/null 2>&1
    for i in $(seq 1 50); do grep -q closed "$T_TMP/upstream.log" && break; sleep 0.1; done
    t_ok "upstream connection dropped after the kill switch" grep -q closed "$T_TMP/upstream.log"
    if wait_stopped "$ID"; then t_pass "networked capsule stopped"; else t_fail "networked capsule stopped"; fi
    for i in $(seq 1 50); do pgrep -f "capsule-id $ID" >/dev/null || break; sleep 0.1; done
    t_eq "proxy gone" "" "$(pgrep -f "capsule-id $ID" || true)"
    t_match "audit: proxy stopped after the kill switch" '"event":"killswitch".*"event":"proxy.stop"' "$(audit_of "$ID" | tr '\n' ' ')"
  else
    t_fail "capsule streams from upstream through the proxy"
    sed 's/^/    | /' "$T_TMP/net.out"
  fi
  nsenter --net=/run/netns/$H "$RUNTIME" --root "$CROOT" delete -f "$ID" >/dev/null 2>&1
else
  t_skip "network part: cannot create a network namespace"
fi
t_done
