#!/bin/bash
# SIGHUP with a new egress gateway given by name: the name is looked up by
# the resolver workers, never on the event loop.  While the scripted DNS
# server holds the answer the old configuration serves on, whole (an old
# rule still allowed, the new rule not yet, requests go direct, no
# proxy.reload line); once the answer is in, all of the new configuration
# applies at once and the next request goes through the gateway.  A second
# SIGHUP while one waits replaces it (the first is audited as failed).  A gateway
# name that does not resolve fails the reload (proxy.reload-failed) and the
# previous gateway stays.  Private netns + mount ns whose /etc/resolv.conf
# points at tests/proxy/dnsd.py.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd unshare ip
unshare -nm true 2>/dev/null || t_skip_all "needs unshare -nm"

R=$T_TMP/res
mkdir -p "$R"
echo 'nameserver 127.0.0.1' >"$T_TMP/resolv.conf"
O=127.0.0.1:8080
echo '{"operator_rules": ["GET '$O'/ok/**", "GET '$O'/old/**"]}' >"$R/cfg.json"
cat >"$T_TMP/inner.sh" <<INNER
set -u
ip link set lo up
mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf
python3 "$HERE/dnsd.py" serve 127.0.0.1 53 "$R/dns.log" >"$R/dnsd.out" 2>&1 &
python3 "$HERE/server.py" 8080 127.0.0.1 >"$R/origin.out" 2>&1 &
"$PROXY" --listen 127.0.0.1:3129 --audit "$R/gw-audit.jsonl" --capsule-id gateway --allow "$O" >"$R/gw.out" 2>&1 &
GW=\$!
for i in \$(seq 50); do [ \$(grep -l ready "$R/dnsd.out" "$R/origin.out" "$R/gw.out" 2>/dev/null | wc -l) = 3 ] && break; sleep 0.1; done
"$PROXY" --listen 127.0.0.1:3128 --config "$R/cfg.json" --audit "$R/audit.jsonl" >"$R/proxy.out" 2>&1 &
PX=\$!
for i in \$(seq 50); do grep -q ready "$R/proxy.out" && break; sleep 0.1; done
c() { curl -s -m 3 -o /dev/null -w '%{http_code}' -x http://127.0.0.1:3128 "\$@"; }
c http://$O/ok/before >"$R/before.code"

echo '{"operator_rules": ["GET $O/ok/**", "GET $O/new/**"], "gateway": "slow.corp.test:3129"}' >"$R/cfg.json"
kill -HUP \$PX
for i in \$(seq 50); do grep -q 'A slow.corp.test' "$R/dns.log" 2>/dev/null && break; sleep 0.1; done
grep -c 'A slow.corp.test' "$R/dns.log" >"$R/asked" 2>/dev/null
# the answer is held: the old configuration serves, without waiting
c http://$O/ok/during >"$R/during.code"
c http://$O/old/during >"$R/old-during.code"
c http://$O/new/during >"$R/new-during.code"
grep -c '"event":"proxy.reload"' "$R/audit.jsonl" >"$R/reloads-during"
# a second SIGHUP meanwhile replaces the waiting reload (audited as failed)
kill -HUP \$PX
for i in \$(seq 50); do grep -q superseded "$R/audit.jsonl" && break; sleep 0.1; done
grep '"event":"proxy.reload-failed"' "$R/audit.jsonl" >"$R/superseded-line"
# (released again until applied: the newer lookup may reach dnsd after a release)
for i in \$(seq 50); do
  python3 "$HERE/dnsd.py" query 127.0.0.1 53 release.corp.test >/dev/null
  grep -q '"event":"proxy.reload"' "$R/audit.jsonl" && break; sleep 0.1
done
grep '"event":"proxy.reload"' "$R/audit.jsonl" >"$R/reload-line"
c http://$O/ok/after >"$R/after.code"
c http://$O/new/after >"$R/new-after.code"
c http://$O/old/after >"$R/old-after.code"

echo '{"operator_rules": ["GET $O/ok/**"], "gateway": "nx.corp.test:3129"}' >"$R/cfg.json"
kill -HUP \$PX
for i in \$(seq 100); do grep -q 'cannot resolve' "$R/audit.jsonl" && break; sleep 0.1; done
grep '"event":"proxy.reload-failed"' "$R/audit.jsonl" | tail -1 >"$R/failed-line"
c http://$O/new/kept >"$R/new-kept.code"
c http://$O/ok/kept >"$R/kept.code"
kill \$PX \$GW %1 %2 2>/dev/null
wait \$PX \$GW 2>/dev/null
INNER
unshare -nm bash "$T_TMP/inner.sh"

gw_saw() { grep '"event":"egress"' "$R/gw-audit.jsonl" | grep -c "\"path\":\"$1\""; }
t_eq "served before the reload" 200 "$(cat "$R/before.code")"
t_match "the gateway's name was looked up (by the resolver workers)" '^[1-9]' "$(cat "$R/asked" 2>/dev/null)"
t_eq "while it is held: served at once by the old configuration" 200 "$(cat "$R/during.code")"
t_eq "...directly, not through the gateway yet" 0 "$(gw_saw /ok/during)"
t_eq "...the old rule still in force" 200 "$(cat "$R/old-during.code")"
t_eq "...the new rule not yet" 403 "$(cat "$R/new-during.code")"
t_eq "...no proxy.reload line yet" 0 "$(cat "$R/reloads-during")"
t_match "a second SIGHUP supersedes the waiting reload" '"event":"proxy.reload-failed".*superseded by a newer SIGHUP' \
  "$(cat "$R/superseded-line")"
t_eq "...only the newer one applied" 1 "$(grep -c . "$R/reload-line")"
t_match "reload applied once the name resolved" 'gateway slow.corp.test:3129 \(was none\)' "$(cat "$R/reload-line")"
t_eq "next request allowed" 200 "$(cat "$R/after.code")"
t_eq "...through the new gateway" 1 "$(gw_saw /ok/after)"
t_eq "new rule in force" 200 "$(cat "$R/new-after.code")"
t_eq "old rule gone" 403 "$(cat "$R/old-after.code")"
t_match "unresolvable gateway name: reload-failed" 'cannot resolve `nx.corp.test`' "$(cat "$R/failed-line")"
t_eq "...the previous configuration kept (its rule)" 200 "$(cat "$R/new-kept.code")"
t_eq "...and its gateway" 1 "$(gw_saw /ok/kept)"
t_ok "audit chain intact" "$PROXY" audit-verify "$R/audit.jsonl"
t_done
