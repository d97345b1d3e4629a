#!/bin/bash
# Brokered capabilities (SPEC §4 capsule/capability.NAME, §7): a standalone
# capsule-proxy with --config and a loopback origin.  Rate limit -> 429,
# counters that survive kill -9, per-agent counters shared by capsules,
# confirm held -> approve / deny / timeout, confirm=new:FIELD asking once per
# new value, the capability kill switch live, and bad rules refused.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built ($RUNTIME)"
start_origin || exit 1
P=$ORIGIN_PORT
ROOT=$T_TMP/root KS=$T_TMP/killswitch AGENTS=$T_TMP/agents
mkdir -p "$ROOT/cap1" "$ROOT/cap2"

# mk_config FILE ID: the proxy config of capsule ID (agent "bot")
mk_config() {
  cat >"$1" <<EOF
{"capsule_id": "$2", "state_dir": "$ROOT/$2", "agent": "bot", "agent_state_dir": "$AGENTS",
 "killswitch_dir": "$KS", "confirm_timeout_s": 2,
 "capabilities": {
   "lookup": "GET 127.0.0.1:$P/rl/* rate=3/1h",
   "send": "POST 127.0.0.1:$P/send confirm=always",
   "pay": "POST 127.0.0.1:$P/pay rate=100/d confirm=new:payee.account",
   "status": "GET 127.0.0.1:$P/status"
 }}
EOF
}
mk_config "$T_TMP/cap1.json" cap1
mk_config "$T_TMP/cap2.json" cap2
PROXY_ID=cap1 start_proxy --config "$T_TMP/cap1.json" || exit 1

# --- rate limit, persisted counters ---
for i in 1 2 3; do
  t_eq "lookup $i of 3 allowed" 200 "$(code http://127.0.0.1:$P/rl/$i)"
done
t_eq "lookup 4 over rate=3/1h: 429" 429 "$(code http://127.0.0.1:$P/rl/4)"
t_match "429 names the capability and the rate" "capability lookup: rate 3/3600s reached" \
  "$(body http://127.0.0.1:$P/rl/5)"
t_eq "no egress rule: other paths refused" 403 "$(code http://127.0.0.1:$P/other)"
t_match "allowed request audited as the capability" '"path":"/rl/1","rule":"capability.lookup","verdict":"allow"' \
  "$(cat "$AUDIT")"
t_match "429 audited" '"path":"/rl/4","rule":null,"verdict":"deny","reason":"capability lookup: rate 3/3600s reached' \
  "$(cat "$AUDIT")"
t_match "capsule counter persisted" '^[0-9]+ 3$' "$(cat "$ROOT/cap1/broker/lookup.count")"
kill -9 "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
PROXY_ID=cap1 start_proxy --config "$T_TMP/cap1.json" || exit 1
t_eq "counter survives kill -9 and restart: still 429" 429 "$(code http://127.0.0.1:$P/rl/6)"
t_eq "a capability without rate still allowed" 200 "$(code http://127.0.0.1:$P/status)"
# another capsule of the same agent: its own counter is fresh, the agent's is not
P1_PORT=$PROXY_PORT P1_PID=$PROXY_PID P1_AUDIT=$AUDIT
AUDIT=$T_TMP/audit2.jsonl PROXY_ID=cap2 start_proxy --config "$T_TMP/cap2.json" || exit 1
t_eq "same agent, other capsule: agent counter says 429" 429 "$(code http://127.0.0.1:$P/rl/7)"
t_match "the reason says it is the agent's rate" "for this agent" "$(body http://127.0.0.1:$P/rl/8)"
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
PROXY_PORT=$P1_PORT PROXY_PID=$P1_PID AUDIT=$P1_AUDIT

# --- confirm=always: held, approve / deny / timeout ---
# bg_req NAME URL ARGS...: request in the background, status into $T_TMP/NAME
bg_req() { local n=$1 u=$2; shift 2; (code "$u" "$@" >"$T_TMP/$n") & }
# pending_id: the one held request's id (waits for its record)
pending_id() {
  local i f; for i in $(seq 50); do
    f=$(ls "$ROOT/cap1/pending/" 2>/dev/null | grep '\.json$' | head -1)
    [ -n "$f" ] && { echo "${f%.json}"; return 0; }; sleep 0.1
  done; return 1
}
wait_file() { local i; for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

bg_req send1 http://127.0.0.1:$P/send -d 'hello'
id=$(pending_id); t_match "request held, pending record written" '^[0-9a-f]{32}$' "$id"
rec=$(cat "$ROOT/cap1/pending/$id.json" 2>/dev/null)
t_match "pending record: capsule, agent, capability, request" \
  '"capsule":"cap1","agent":"bot","capability":"send","method":"POST","host":"127.0.0.1","port":[0-9]+,"path":"/send"' "$rec"
sleep 0.3
[ -s "$T_TMP/send1" ] && t_fail "held request must not be answered yet" || t_pass "held request is not answered before approval"
t_eq "the event loop still serves others meanwhile" 200 "$(code http://127.0.0.1:$P/status)"
t_match "approve by request id" "approved $id" "$("$RUNTIME" --root "$ROOT" approve "$id" 2>&1)"
wait_file "$T_TMP/send1"
t_eq "approved request reaches the origin" 200 "$(cat "$T_TMP/send1")"
t_eq "pending record removed" "" "$(ls "$ROOT/cap1/pending/")"
t_match "pending and approval audited" '"event":"capability.pending".*"event":"capability.approved"' "$(tr -d '\n' <"$AUDIT")"

bg_req send2 http://127.0.0.1:$P/send -d 'again'
id=$(pending_id)
t_match "deny with the ID REQID form" "denied $id" "$("$RUNTIME" --root "$ROOT" deny cap1 "$id" 2>&1)"
wait_file "$T_TMP/send2"
t_eq "denied request: 403" 403 "$(cat "$T_TMP/send2")"
t_match "denial audited" "\"event\":\"capability.denied\",\"capsule\":\"cap1\",\"agent\":\"bot\",\"capability\":\"send\",\"request\":\"$id\"" \
  "$(cat "$AUDIT")"
t_fails "approve of an unknown request fails" "$RUNTIME" --root "$ROOT" approve 0123456789abcdef0123456789abcdef
t_fails "approve rejects a path as request id" "$RUNTIME" --root "$ROOT" approve ../../etc/passwd

bg_req send3 http://127.0.0.1:$P/send -d 'nobody answers'
id=$(pending_id)
sleep 2.5; wait_file "$T_TMP/send3"
t_eq "unanswered request denied after confirm_timeout_s" 403 "$(cat "$T_TMP/send3")"
t_match "timeout audited" "\"event\":\"capability.timeout\",\"capsule\":\"cap1\",\"agent\":\"bot\",\"capability\":\"send\",\"request\":\"$id\"" \
  "$(cat "$AUDIT")"

# --- confirm=new:FIELD ---
pay() { local d=$1; shift; code http://127.0.0.1:$P/pay -H "Content-Type: application/json" -d "$d" "$@"; }
bg_req pay1 http://127.0.0.1:$P/pay -d '{"payee":{"account":"alice"},"amount":5}'
id=$(pending_id); t_match "new payee: held" '^[0-9a-f]{32}$' "$id"
t_match "pending record holds the field and its value" '"field":"payee.account","value":"alice"' \
  "$(cat "$ROOT/cap1/pending/$id.json" 2>/dev/null)"
"$RUNTIME" --root "$ROOT" approve "$id" >/dev/null 2>&1
wait_file "$T_TMP/pay1"
t_eq "approved payee: 200" 200 "$(cat "$T_TMP/pay1")"
t_eq "same payee again: not asked" 200 "$(pay '{"amount":7,"payee":{"account":"alice"}}')"
bg_req pay2 http://127.0.0.1:$P/pay -d '{"payee":{"account":"mallory"},"amount":5}'
id=$(pending_id); t_match "another payee: asked" '"value":"mallory"' "$(cat "$ROOT/cap1/pending/$id.json" 2>/dev/null)"
"$RUNTIME" --root "$ROOT" deny "$id" >/dev/null 2>&1
wait_file "$T_TMP/pay2"
t_eq "denied payee: 403" 403 "$(cat "$T_TMP/pay2")"
bg_req pay3 http://127.0.0.1:$P/pay -d '{"amount":5}'
id=$(pending_id); t_match "field missing: asked" '"value":null' "$(cat "$ROOT/cap1/pending/$id.json" 2>/dev/null)"
"$RUNTIME" --root "$ROOT" deny "$id" >/dev/null 2>&1; wait_file "$T_TMP/pay3"
t_eq "chunked body cannot be checked: 411" 411 "$(pay '{"payee":{"account":"alice"}}' -H 'Transfer-Encoding: chunked')"
kill -9 "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
PROXY_ID=cap1 start_proxy --config "$T_TMP/cap1.json" || exit 1
t_eq "approved values survive a restart" 200 "$(pay '{"payee":{"account":"alice"}}')"

# --- kill switch ---
t_eq "status allowed before revocation" 200 "$(code http://127.0.0.1:$P/status)"
bg_req send4 http://127.0.0.1:$P/send -d 'held while revoked'
pending_id >/dev/null
touch "$KS/capability-send" "$KS/capability-status"
wait_file "$T_TMP/send4"
t_eq "held request of a revoked capability: 403" 403 "$(cat "$T_TMP/send4")"
t_eq "revoked capability: 403" 403 "$(code http://127.0.0.1:$P/status)"
t_match "403 says revoked" "capability status revoked" "$(body http://127.0.0.1:$P/status)"
t_eq "other capabilities unaffected" 200 "$(pay '{"payee":{"account":"alice"}}')"
sleep 0.2
t_match "revocation audited" '"event":"capability.revoked","capsule":"cap1","agent":"bot","capability":"status"' "$(cat "$AUDIT")"
t_match "refusal audited" '"path":"/status","rule":null,"verdict":"deny","reason":"capability status revoked"' "$(cat "$AUDIT")"
rm -f "$KS/capability-status"
t_eq "lifted: allowed again" 200 "$(code http://127.0.0.1:$P/status)"
sleep 0.2
t_match "lift audited" '"event":"capability.restored","capsule":"cap1","agent":"bot","capability":"status"' "$(cat "$AUDIT")"
# the same through `capsule-runc killswitch capability NAME` (its record format)
if "$RUNTIME" killswitch --dir "$KS" capability status >"$T_TMP/ks.out" 2>&1; then
  t_eq "killswitch verb: capability refused at once" 403 "$(code http://127.0.0.1:$P/status)"
  t_ok "killswitch verb: lift" "$RUNTIME" killswitch lift --dir "$KS" capability status
  t_eq "killswitch verb: allowed after lift" 200 "$(code http://127.0.0.1:$P/status)"
else
  t_skip "capsule-runc killswitch not in this build: $(head -1 "$T_TMP/ks.out")"
fi
t_ok "audit chain intact" "$PROXY" audit-verify "$AUDIT"

# --- bad rules ---
bad() { printf '{"state_dir":"%s","capabilities":{"%s":"%s"}}' "$T_TMP/x" "$1" "$2" >"$T_TMP/bad.json"
        "$PROXY" --check --listen 127.0.0.1:1 --config "$T_TMP/bad.json" 2>&1; }
t_match "bad rate refused, key named" "capsule/capability.x: .*rate count" "$(bad x 'GET a.example/x rate=0/h')"
t_match "bad confirm refused" "confirm must be" "$(bad x 'GET a.example/x confirm=maybe')"
t_match "bad name refused" "capability name" "$(bad 'a/b' 'GET a.example/x')"
t_match "good rule accepted by --check" "configuration ok" "$(bad ok 'GET a.example/x rate=5/m')"
t_done
