#!/bin/bash
# Brokered capabilities end to end under capsule-runc (SPEC §4, §7): the
# bundle carries only capsule/capability.* annotations (no egress.allow); the
# runtime's admission validates them, capsule.json carries them, the hook
# hands them to capsule-proxy.  From inside the capsule: the capability's
# requests go out until its rate is reached (429), other paths are refused,
# a confirm=always request waits until `capsule-runc approve` run outside
# lets it through.  A malformed capability annotation is refused at create.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox nsenter
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
PROXY=${CAPSULE_PROXY:-$CAPSULE_BUILD/hooks/proxy/capsule-proxy}
[ -x "$PROXY" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"

H=capsuletest-$$-h O=capsuletest-$$-o
net_pair "$H" "$O" || t_skip_all "cannot create veth pair"
ID=t$$-brk
B=$T_TMP/bundle
ROOT=$T_TMP/root
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http.log"
wait_port "$O" 8080 || t_fail "test server did not start"
touch "$T_TMP/http.log"

mkdir -p "$T_TMP/audit" "$T_TMP/ks"
printf '{"directories":{"audit":"%s","killswitch":"%s"},"egress":{"allow_private":["10.231.0.0/24"]}}' \
  "$T_TMP/audit" "$T_TMP/ks" >"$T_TMP/policy.json"
export CAPSULE_POLICY=$T_TMP/policy.json CAPSULE_NETNS_DIR=$T_TMP/node
t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"

# --- refused at create ---
mk_bundle "$T_TMP/bad" true || t_skip_all "cannot make a bundle"
cfg_set "$T_TMP/bad" '.annotations["capsule/capability.mail"] = "POST 10.231.0.2:8080/send rate=0/h"'
out=$(nsenter --net=/run/netns/$H "$RUNTIME" --root "$ROOT" create -b "$T_TMP/bad" "$ID-bad" 2>&1)
rc=$?
t_eq "bad capability annotation: create fails" 1 "$((rc != 0))"
t_match "... naming the key and the bad part" "capsule/capability.mail.*rate count" "$out"
"$RUNTIME" --root "$ROOT" delete -f "$ID-bad" >/dev/null 2>&1

# --- allowed, rate limited, held and approved ---
mk_bundle "$B" sh /probe.sh || t_skip_all "cannot make a bundle"
cat >"$B/rootfs/probe.sh" <<'EOF'
r() { name=$1; shift; out=$("$@" 2>&1); echo "$name=$? $(echo $out | head -c 160)"; }
raw() { printf "$1" | nc -w 15 127.0.0.1 3128 | head -1; }
r cap1 timeout 5 wget -q -O- http://10.231.0.2:8080/cap/a
r cap2 timeout 5 wget -q -O- http://10.231.0.2:8080/cap/b
r cap3 raw 'GET http://10.231.0.2:8080/cap/c HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nConnection: close\r\n\r\n'
r other raw 'GET http://10.231.0.2:8080/other HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nConnection: close\r\n\r\n'
r status1 raw 'GET http://10.231.0.2:8080/status HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nConnection: close\r\n\r\n'
r held raw 'POST http://10.231.0.2:8080/send HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'
# the operator revokes `status` right after approving: wait for it to bite
for i in $(seq 50); do
  s=$(raw 'GET http://10.231.0.2:8080/status HTTP/1.1\r\nHost: 10.231.0.2:8080\r\nConnection: close\r\n\r\n')
  case "$s" in *403*) break;; esac; sleep 0.1
done
echo "status2=0 $s"
EOF
cfg_set "$B" '.annotations["capsule/agent"] = "broker-e2e"
  | .annotations["capsule/capability.fetch"] = "GET 10.231.0.2:8080/cap/* rate=2/1h"
  | .annotations["capsule/capability.send"] = "POST 10.231.0.2:8080/send confirm=always"
  | .annotations["capsule/capability.status"] = "GET 10.231.0.2:8080/status"'

# the operator: approve the one request the capsule will have held
(for i in $(seq 300); do
   f=$(ls "$ROOT/$ID/pending/" 2>/dev/null | grep '\.json$' | head -1)
   if [ -n "$f" ]; then cp "$ROOT/$ID/pending/$f" "$T_TMP/pending.json"
     "$RUNTIME" --root "$ROOT" approve "${f%.json}" >"$T_TMP/approve.out" 2>&1
     "$RUNTIME" killswitch capability status >"$T_TMP/ks.out" 2>&1; exit 0; fi
   sleep 0.1
 done) &
APPROVER=$!
t_cleanup "kill $APPROVER"

nsenter --net=/run/netns/$H timeout 120 "$RUNTIME" --root "$ROOT" run -b "$B" "$ID" >"$T_TMP/run.out" 2>&1
t_eq "capsule-runc run exits 0" 0 "$?"
sed 's/^/    | /' "$T_TMP/run.out"
wait "$APPROVER"
res() { grep "^$1=" "$T_TMP/run.out" | head -1 | sed "s/^$1=//"; }
t_match "capability request 1 allowed (no egress rule needed)" "^0 HTTP-OK GET /cap/a" "$(res cap1)"
t_match "capability request 2 allowed" "^0 HTTP-OK GET /cap/b" "$(res cap2)"
t_match "request 3 over rate=2/1h: 429" "HTTP/1.1 429" "$(res cap3)"
t_match "path outside every capability: 403" "HTTP/1.1 403" "$(res other)"
t_match "held request approved from outside: 200" "HTTP/1.1 200" "$(res held)"
t_match "capability status allowed before revocation" "HTTP/1.1 200" "$(res status1)"
if grep -q 'not supported' "$T_TMP/ks.out"; then t_skip "capsule-runc killswitch not in this build"
else t_match "killswitch capability status: refused live from inside (403)" "HTTP/1.1 403" "$(res status2)"; fi
t_match "pending record names capsule, agent, capability" "\"capsule\":\"$ID\",\"agent\":\"broker-e2e\",\"capability\":\"send\"" \
  "$(cat "$T_TMP/pending.json" 2>/dev/null)"
t_match "approve verb answered" "^approved [0-9a-f]{32}" "$(cat "$T_TMP/approve.out" 2>/dev/null)"
# (status may be asked more than once before the revocation lands)
t_eq "origin saw only allowed requests" "GET /cap/a
GET /cap/b
GET /status
POST /send" "$(sort -u "$T_TMP/http.log")"
AUDF=$T_TMP/audit/$ID.jsonl
AUD=$(cat "$AUDF" 2>/dev/null)
t_match "audit: capability enabled" '"event":"capability.enabled".*"capability":"fetch"' "$AUD"
t_match "audit: 429" '"path":"/cap/c".*"verdict":"deny","reason":"capability fetch: rate 2/3600s reached' "$AUD"
t_match "audit: revocation" '"event":"capability.revoked".*"capability":"status"' "$AUD"
t_match "audit: approval" '"event":"capability.approved".*"capability":"send"' "$AUD"
t_ok "audit chain verifies" "$PROXY" audit-verify "$AUDF"
"$RUNTIME" --root "$ROOT" delete -f "$ID" >/dev/null 2>&1
t_done
