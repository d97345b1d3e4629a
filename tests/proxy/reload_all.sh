#!/bin/bash
# SIGHUP reloads everything the config file and the flags give, atomically:
# egress rules, brokered capabilities (added / removed / rate changed, their
# persisted counters and held requests kept), credentials (a removed one is
# no longer injected) and the egress gateway (added: the next request goes
# through it; removed: direct again).  A keep-alive connection and a CONNECT
# tunnel opened before the reload keep working; a broken config (bad JSON,
# a bad capability next to a good new rule, a moved state_dir) changes
# nothing and is audited as proxy.reload-failed.  Also: capabilities added
# by a reload to a proxy that started without any (the broker's directories
# and watches are set up then).  The gateway is a second capsule-proxy with
# its own audit log, so what reached it can be read back.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
P=$ORIGIN_PORT
O=127.0.0.1:$P
ROOT=$T_TMP/state
mkdir -p "$T_TMP/secrets" "$ROOT"
SECRET='Bearer reload-s3cr3t'
echo "$SECRET" >"$T_TMP/secrets/gh"
want=$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)

# An origin that answers /slow only once $T_TMP/flag exists: a request in
# flight across the reload.
SLOW_PORT=$(free_port)
python3 - "$SLOW_PORT" "$T_TMP/flag" >"$T_TMP/slow.out" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); print("ready", flush=True)
while True:
    c, _ = s.accept(); buf = b""
    while b"\r\n\r\n" not in buf:
        buf += c.recv(4096)
    print("got", flush=True)
    end = time.time() + 20
    while not os.path.exists(sys.argv[2]) and time.time() < end:
        time.sleep(0.05)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nslow-done\n"); c.close()
PY
t_cleanup "kill $!"
for i in $(seq 50); do grep -q ready "$T_TMP/slow.out" && break; sleep 0.1; done

GW_PORT=$(free_port)
GW_AUDIT=$T_TMP/gw-audit.jsonl
"$PROXY" --listen "127.0.0.1:$GW_PORT" --audit "$GW_AUDIT" --capsule-id gateway --allow "$O" \
  >"$T_TMP/gw.out" 2>&1 &
t_cleanup "kill $!"
for i in $(seq 50); do grep -q ready "$T_TMP/gw.out" && break; sleep 0.1; done

# cfg FILE CAPABILITIES [EXTRA_KEYS]: the capsule's config ($RULES: other operator rules)
DEF_RULES='"GET '"$O"'/ok/**", "GET '"$O"'/authhash", "CONNECT '"$O"'", "GET 127.0.0.1:'"$SLOW_PORT"'/slow"'
cfg() {
  cat >"$1.tmp" <<EOF
{"capsule_id": "rl", "state_dir": "$ROOT", "agent": "bot", "confirm_timeout_s": 30,
 "secrets_dir": "$T_TMP/secrets",
 "operator_rules": [${RULES:-$DEF_RULES}],
 "capabilities": {$2}${3:+, $3}}
EOF
  mv "$1.tmp" "$1"
}
CFG=$T_TMP/cfg.json
CRED='"credentials": [{"rule": "gh@GET '"$O"'/authhash=Authorization"}]'
cfg "$CFG" '"lookup": "GET '"$O"'/rl/* rate=2/1h", "send": "POST '"$O"'/send confirm=always",
  "gone": "POST '"$O"'/gone confirm=always"' "$CRED"
PROXY_ID=rl start_proxy --config "$CFG" || exit 1

reloads() { grep -c "\"event\":\"$1\"" "$AUDIT"; }
# hup EVENT: SIGHUP, wait for one more EVENT line (proxy.reload / proxy.reload-failed)
hup() {
  local n; n=$(reloads "$1"); kill -HUP "$PROXY_PID"
  local i; for i in $(seq 100); do [ "$(reloads "$1")" -gt "$n" ] && return 0; sleep 0.05; done
  echo "no new $1 line"; return 1
}
gw_saw() { grep '"event":"egress"' "$GW_AUDIT" | grep -c "\"path\":\"$1\""; }
pending_ids() { ls "$ROOT/pending/" 2>/dev/null | sed -n 's/\.json$//p'; }
# pending_for CAP: the held request of capability CAP (waits for its record)
pending_for() {
  local i id; for i in $(seq 100); do
    for id in $(pending_ids); do grep -q "\"capability\":\"$1\"" "$ROOT/pending/$id.json" 2>/dev/null && { echo "$id"; return 0; }; done
    sleep 0.05
  done; return 1
}
decide() { echo "$2" >"$ROOT/pending/.$1.tmp" && mv "$ROOT/pending/.$1.tmp" "$ROOT/pending/$1.decision"; }
wait_file() { local i; for i in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# --- before the reload ---
t_eq "lookup 1 of rate=2/1h" 200 "$(code http://$O/rl/1)"
t_eq "lookup 2 of rate=2/1h" 200 "$(code http://$O/rl/2)"
t_eq "lookup 3: 429" 429 "$(code http://$O/rl/3)"
t_eq "credential injected before the reload" "n=1 sha256=$want" "$(body http://$O/authhash)"
t_eq "direct before the gateway is configured" 200 "$(code http://$O/ok/before)"
t_eq "...the gateway saw nothing" 0 "$(gw_saw /ok/before)"
(body "http://127.0.0.1:$SLOW_PORT/slow" -m 20 >"$T_TMP/slow.body") &
python3 "$HERE/ka.py" "$PROXY_PORT" "http://$O/ok/ka1" "$T_TMP/flag" "http://$O/ok/ka2" >"$T_TMP/ka.out" 2>&1 &
KA=$!
python3 "$HERE/ka_tunnel.py" "$PROXY_PORT" "$O" "$T_TMP/flag" /ok/t1 /ok/t2 >"$T_TMP/tun.out" 2>&1 &
TUN=$!
(code "http://$O/send" -m 20 -d x >"$T_TMP/send.code") &
(body "http://$O/gone" -m 20 -d x >"$T_TMP/gone.body") &
send_id=$(pending_for send) && gone_id=$(pending_for gone)
t_match "send and gone requests held" '^[0-9a-f]{32} [0-9a-f]{32}$' "$send_id $gone_id"
for i in $(seq 100); do [ "$(wc -l <"$T_TMP/ka.out")" -ge 1 ] && [ "$(wc -l <"$T_TMP/tun.out")" -ge 2 ] && break; sleep 0.05; done
for i in $(seq 100); do grep -q got "$T_TMP/slow.out" && break; sleep 0.05; done
counter_before=$(cat "$ROOT/broker/lookup.count")

# --- the reload: rate changed, send kept, gone removed, fresh added,
#     credential removed, gateway added, the CONNECT and /slow rules removed ---
RULES='"GET '"$O"'/ok/**", "GET '"$O"'/authhash"' cfg "$CFG" '"lookup": "GET '"$O"'/rl/* rate=4/1h", "send": "POST '"$O"'/send confirm=always",
  "fresh": "GET '"$O"'/fresh/* rate=1/1h"' '"gateway": "127.0.0.1:'"$GW_PORT"'"'
hup proxy.reload
detail=$(grep '"event":"proxy.reload"' "$AUDIT" | tail -1)
t_match "reload detail: rules and credentials" '"detail":"2 rules \(was 4\), 0 credentials \(was 1\), 3 capabilities' "$detail"
t_match "reload detail: capabilities added, removed, changed" 'added fresh, removed gone, changed lookup' "$detail"
t_match "reload detail: the gateway" "gateway 127.0.0.1:$GW_PORT \\(was none\\)" "$detail"
t_match "capability.enabled audited for the added one" '"event":"capability.enabled".*"capability":"fresh"' "$(cat "$AUDIT")"
t_match "capability.removed audited" '"event":"capability.removed".*"capability":"gone"' "$(cat "$AUDIT")"

wait_file "$T_TMP/gone.body"
t_match "held request of the removed capability: 403" "capability gone removed by a reload" "$(cat "$T_TMP/gone.body")"
t_match "...audited as capability.denied" "\"event\":\"capability.denied\".*\"request\":\"$gone_id\".*removed by a reload" \
  "$(cat "$AUDIT")"
t_eq "held request of a kept capability still held" "$send_id" "$(pending_ids)"
[ -s "$T_TMP/send.code" ] && t_fail "kept held request must not be answered" || t_pass "kept held request not answered by the reload"
decide "$send_id" approve
wait_file "$T_TMP/send.code"
t_eq "...and approved after the reload" 200 "$(cat "$T_TMP/send.code")"

t_eq "counter file kept across the reload" "$counter_before" "$(cat "$ROOT/broker/lookup.count")"
t_eq "new rate 4/1h, 2 used before: lookup 3 allowed" 200 "$(code http://$O/rl/3b)"
t_eq "lookup 4 allowed" 200 "$(code http://$O/rl/4)"
t_eq "lookup 5: 429 (counter kept, new rate)" 429 "$(code http://$O/rl/5)"
t_match "429 names the new rate" "rate 4/3600s reached" "$(body http://$O/rl/6)"
t_eq "added capability allowed" 200 "$(code http://$O/fresh/a)"
t_eq "added capability's rate applies" 429 "$(code http://$O/fresh/b)"
t_eq "removed capability denies new requests" 403 "$(code http://$O/gone -d x)"
t_eq "removed credential no longer injected" "n=0 sha256=$(printf '' | sha256sum | cut -d' ' -f1)" "$(body http://$O/authhash)"
t_eq "request after the reload" "path=/ok/after method=GET" "$(body http://$O/ok/after)"
t_eq "...went through the added gateway" 1 "$(gw_saw /ok/after)"
t_eq "capabilities go through the gateway too" 1 "$(gw_saw /fresh/a)"

touch "$T_TMP/flag"
wait "$KA" "$TUN"
t_eq "keep-alive connection opened before the reload still served" \
  "200 path=/ok/ka1 method=GET|200 path=/ok/ka2 method=GET" "$(paste -sd'|' "$T_TMP/ka.out")"
t_eq "...its request after the reload through the new gateway" 1 "$(gw_saw /ok/ka2)"
t_eq "CONNECT tunnel opened before the reload (its rule since removed) still carries requests" \
  "CONNECT 200|200 path=/ok/t1 method=GET|200 path=/ok/t2 method=GET" "$(paste -sd'|' "$T_TMP/tun.out")"
wait_file "$T_TMP/slow.body"
t_eq "request in flight across the reload (its rule since removed) completes" slow-done "$(cat "$T_TMP/slow.body")"
t_eq "...on its direct upstream (not moved to the gateway)" 0 "$(gw_saw /slow)"
t_eq "a new request for it is decided under the new rules: 403" 403 "$(code http://127.0.0.1:$SLOW_PORT/slow)"
t_eq "a new CONNECT is decided under the new rules: 403" "CONNECT 403" "$(python3 "$HERE/ka_tunnel.py" "$PROXY_PORT" "$O" "$T_TMP/flag" /ok/t3 /ok/t4)"

# --- broken configs keep the current one ---
cp "$CFG" "$T_TMP/good.json"
echo '{"operator_rules": [' >"$CFG"
hup proxy.reload-failed
t_match "bad JSON: reload-failed audited" '"event":"proxy.reload-failed".*invalid JSON' "$(tail -1 "$AUDIT")"
cfg "$CFG" '"lookup": "GET '"$O"'/rl/* rate=4/1h", "bad": "FETCH '"$O"'/x rate=lots"' \
  '"gateway": "127.0.0.1:'"$GW_PORT"'", "rules": ["GET '"$O"'/v3/*"]'
hup proxy.reload-failed
t_match "bad capability: reload-failed audited" '"event":"proxy.reload-failed"' "$(tail -1 "$AUDIT")"
t_eq "...the good new rule beside it did not take effect" 403 "$(code http://$O/v3/x)"
sed "s|\"state_dir\": \"$ROOT\"|\"state_dir\": \"$T_TMP/elsewhere\"|" "$T_TMP/good.json" >"$CFG"
hup proxy.reload-failed
t_match "moved state_dir refused" 'state_dir.*cannot change' "$(tail -1 "$AUDIT")"
t_eq "old capabilities still in force (fresh: 429)" 429 "$(code http://$O/fresh/c)"
t_eq "old credentials still in force (none)" "n=0" "$(body http://$O/authhash | cut -d' ' -f1)"
t_eq "old gateway still in use" 200 "$(code http://$O/ok/still)"
t_eq "...the gateway saw it" 1 "$(gw_saw /ok/still)"

# --- gateway and credential back by name: the gateway named, its name pinned
#     (answered at once by the new resolver, never looked up on the loop) ---
cfg "$CFG" '"lookup": "GET '"$O"'/rl/* rate=4/1h"' \
  "$CRED"', "gateway": "gw.reload.test:'"$GW_PORT"'", "dns_pins": {"gw.reload.test": ["127.0.0.1"]}'
hup proxy.reload
t_match "gateway by name" "gateway gw.reload.test:$GW_PORT \\(was 127.0.0.1:$GW_PORT\\)" "$(grep '"event":"proxy.reload"' "$AUDIT" | tail -1)"
t_eq "credential added back is injected" "n=1 sha256=$want" "$(body http://$O/authhash)"
t_eq "request through the named gateway" 200 "$(code http://$O/ok/named)"
t_eq "...the gateway saw it" 1 "$(gw_saw /ok/named)"

# --- gateway removed: direct again ---
cfg "$CFG" '"lookup": "GET '"$O"'/rl/* rate=4/1h"'
hup proxy.reload
t_match "gateway removed" "gateway none \\(was gw.reload.test:$GW_PORT\\)" "$(grep '"event":"proxy.reload"' "$AUDIT" | tail -1)"
t_eq "request after the gateway was removed" 200 "$(code http://$O/ok/direct)"
t_eq "...did not go through the gateway" 0 "$(gw_saw /ok/direct)"

# --- a proxy started without capabilities gets some by a reload ---
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null
ROOT=$T_TMP/state2 AUDIT=$T_TMP/audit2.jsonl
echo '{"capsule_id": "rl2", "operator_rules": ["GET '"$O"'/ok/**"]}' >"$CFG"
PROXY_ID=rl2 start_proxy --config "$CFG" || exit 1
t_eq "no capability yet: 403" 403 "$(code http://$O/first/a)"
cfg "$CFG" '"first": "GET '"$O"'/first/* rate=1/1h", "ask": "POST '"$O"'/ask confirm=always"'
hup proxy.reload
t_match "reload names the new capabilities" '2 capabilities, added first,ask' "$(grep '"event":"proxy.reload"' "$AUDIT" | tail -1)"
t_eq "capability added to a proxy started without any" 200 "$(code http://$O/first/a)"
t_eq "...its rate counted" 429 "$(code http://$O/first/b)"
t_match "...and persisted under the new state dir" '^[0-9]+ 1$' "$(cat "$ROOT/broker/first.count" 2>/dev/null)"
(code "http://$O/ask" -m 20 -d x >"$T_TMP/ask.code") &
ask_id=$(pending_for ask)
t_match "confirm=always held by a capability added by reload" '^[0-9a-f]{32}$' "$ask_id"
decide "$ask_id" deny
wait_file "$T_TMP/ask.code"
t_eq "...the operator's denial seen (inotify watch set up by the reload)" 403 "$(cat "$T_TMP/ask.code")"

t_ok "audit chain intact (first proxy)" "$PROXY" audit-verify "$T_TMP/audit.jsonl"
t_ok "audit chain intact (second proxy)" "$PROXY" audit-verify "$AUDIT"
t_ok "audit chain intact (gateway)" "$PROXY" audit-verify "$GW_AUDIT"
t_done
