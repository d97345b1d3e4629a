#!/bin/bash
# SSRF guard and the --config JSON: annotation rules ("rules") may reach
# loopback/private/metadata addresses only when they name them as IP
# literals; operator rules (--allow, "operator_rules") may name them.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
P=$ORIGIN_PORT
cat >"$T_TMP/cfg.json" <<JSON
{"capsule_id": "ssrf-test",
 "rules": ["GET localhost:$P/ok/*", "GET 127.0.0.1:$P/lit/*", "GET rebind.test:$P/ok/*", "GET 169.254.169.254/latest/**"],
 "operator_rules": ["GET localhost:$P/op/*"],
 "dns_pins": {"rebind.test": ["127.0.0.1"]},
 "limits": {"max_connections": 100, "idle_timeout_ms": 30000, "header_timeout_ms": 2000}}
JSON
t_ok "--check accepts the config" "$PROXY" --check --config "$T_TMP/cfg.json" --listen 127.0.0.1:1
start_proxy --config "$T_TMP/cfg.json" || exit 1
t_eq "annotation rule: name resolving to loopback denied" 403 "$(code http://localhost:$P/ok/a)"
t_match "denial names the private range" "private, loopback" "$(body http://localhost:$P/ok/a)"
t_eq "annotation rule: pinned name resolving to loopback denied" 403 "$(code http://rebind.test:$P/ok/a)"
t_eq "annotation rule: IP literal honoured" 200 "$(code http://127.0.0.1:$P/lit/a)"
t_eq "operator rule: name resolving to loopback allowed" 200 "$(code http://localhost:$P/op/a)"
t_eq "metadata path not covered by any rule denied" 403 "$(code http://169.254.169.254/other)"
t_match "capsule id in the audit" '"capsule":"ssrf-test"' "$(cat "$AUDIT")"

echo '{"listen": "127.0.0.1:1", "bogus": 1}' >"$T_TMP/bad1.json"
t_fails "unknown config key rejected" "$PROXY" --check --config "$T_TMP/bad1.json"
echo '{"listen": "127.0.0.1:1", "rules": ["GET ok.example", "POST bad host/x"]}' >"$T_TMP/bad2.json"
out=$("$PROXY" --check --config "$T_TMP/bad2.json" 2>&1)
t_match "bad rule named in the error" "POST bad host/x" "$out"
echo '{"listen": "127.0.0.1:1", "credentials": [{"rule": "gh@GET api.github.com/**=Authorization", "secret_file": "/x"}]}' >"$T_TMP/c.json"
t_ok "credentials rule validated" "$PROXY" --check --config "$T_TMP/c.json"
echo '{"listen": "127.0.0.1:1", "credentials": [{"rule": "gh api.github.com"}]}' >"$T_TMP/c2.json"
t_fails "bad credentials rule rejected" "$PROXY" --check --config "$T_TMP/c2.json"
t_done
