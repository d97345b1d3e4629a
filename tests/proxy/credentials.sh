#!/bin/bash
# Credential injection (capsule/credentials shape, plain HTTP): the secret is
# added only to requests matching its method + host + port + path, replaces
# any client value, and is redacted from responses (echo endpoint).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
start_origin || exit 1
P=$ORIGIN_PORT
mkdir -p "$T_TMP/secrets"
SECRET='Bearer s3cr3t-token-42'
echo "$SECRET" >"$T_TMP/secrets/gh"
start_proxy --allow "GET,POST 127.0.0.1:$P/headers" --allow "GET 127.0.0.1:$P/authhash" \
  --credential "gh@GET 127.0.0.1:$P/authhash=Authorization" --credential "gh@GET 127.0.0.1:$P/headers=Authorization" \
  --secrets-dir "$T_TMP/secrets" || exit 1
want=$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)
t_eq "origin receives the injected secret" "n=1 sha256=$want" "$(body http://127.0.0.1:$P/authhash)"
t_eq "client value replaced, not duplicated" "n=1 sha256=$want" "$(body http://127.0.0.1:$P/authhash -H 'Authorization: Basic bWU6bWU=')"
echo_get=$(body http://127.0.0.1:$P/headers)
t_match "echoed credential redacted" "Authorization: \*+" "$echo_get"
if [[ "$echo_get" == *s3cr3t* ]]; then t_fail "secret never reaches the client"; else t_pass "secret never reaches the client"; fi
echo_post=$(body http://127.0.0.1:$P/headers -X POST -d x)
if [[ "$echo_post" == *Authorization* ]]; then t_fail "not injected for another method"; else t_pass "not injected for another method"; fi
sleep 0.2
t_match "injection audited (name, not value)" '"reason":"credential gh injected as Authorization"' "$(cat "$AUDIT")"
if grep -q s3cr3t "$AUDIT"; then t_fail "secret not in the audit log"; else t_pass "secret not in the audit log"; fi
t_fails "missing secret file is a config error" "$PROXY" --listen 127.0.0.1:1 --audit "$T_TMP/x.jsonl" \
  --credential "nope@GET a.example/x=Authorization" --secrets-dir "$T_TMP/secrets"
t_done
