#!/bin/bash
# TLS interception and SPKI pins on the transparent port: in a private
# netns, nft redirects the workload's HTTPS to the proxy; a host whose rules
# restrict method/path is terminated with the per-run CA (the ClientHello is
# peeked, not consumed, so the TLS server side reads it), every request
# inside is decided, and the upstream is re-originated with verification and
# the pin.  A host with a host-only rule is still tunnelled blind.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd nft openssl unshare ip
unshare -n true 2>/dev/null || t_skip_all "cannot create a network namespace"

cd "$T_TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=upstream-test-ca \
  -keyout upca.key -out upca.pem >/dev/null 2>&1 || t_skip_all "openssl cannot make a test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=tls.test -keyout srv.key -out srv.csr >/dev/null 2>&1
printf 'subjectAltName=DNS:tls.test,DNS:pinned.test,DNS:blind.test\n' >ext.cnf
openssl x509 -req -in srv.csr -CA upca.pem -CAkey upca.key -CAcreateserial -days 1 -extfile ext.cnf -out srv.pem >/dev/null 2>&1
cd - >/dev/null
PIN="sha256/$(openssl x509 -in "$T_TMP/srv.pem" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
BADPIN="sha256/$(printf 'not the key' | openssl dgst -sha256 -binary | base64)"

cat >"$T_TMP/inner.sh" <<INNER
set -u
exec >"$T_TMP/inner.log" 2>&1
ip link set lo up
ip addr add 10.99.0.2/32 dev lo
ip addr add 10.99.0.3/32 dev lo
python3 "$HERE/server.py" 8443 10.99.0.2 "$T_TMP/srv.pem" "$T_TMP/srv.key" >"$T_TMP/origin.out" 2>&1 &
nft -f - <<NFT
table ip capsule_test {
  chain out {
    type nat hook output priority -100; policy accept;
    meta mark 0x2a return
    ip daddr 10.99.0.0/24 tcp dport 8443 redirect to :15001
  }
}
NFT
"$PROXY" --listen 127.0.0.1:3128 --transparent 127.0.0.1:15001 --upstream-mark 42 \
  --ca-out "$T_TMP/runca.pem" --upstream-ca "$T_TMP/upca.pem" \
  --allow 'GET tls.test:8443/ok/*' --allow 'GET pinned.test:8443/ok/*' --allow 'blind.test:8443' \
  --dns-pin 'tls.test=10.99.0.2' --dns-pin 'pinned.test=10.99.0.2' --dns-pin 'blind.test=10.99.0.2' \
  --tls-pin "tls.test=$PIN" --tls-pin "pinned.test=$BADPIN" \
  --audit "$T_TMP/audit.jsonl" --capsule-id ttls >"$T_TMP/proxy.out" 2>&1 &
for i in \$(seq 50); do grep -q ready "$T_TMP/proxy.out" "$T_TMP/origin.out" 2>/dev/null && [ -s "$T_TMP/runca.pem" ] && break; sleep 0.1; done
sleep 0.3
c() { curl -s -m 5 "\$@" | tr -d '\n'; echo " rc=\${PIPESTATUS[0]}"; }
R="--cacert $T_TMP/runca.pem"
echo "MITM_OK=\$(c \$R --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/ok/a)"
echo "MITM_DENY=\$(c \$R -o /dev/null -w '%{http_code}' --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/no/a)"
echo "MITM_KEEPALIVE=\$(c \$R --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/ok/1 https://tls.test:8443/ok/2)"
echo "MITM_FRONT=\$(c \$R -o /dev/null -w '%{http_code}' -H 'Host: blind.test:8443' --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/ok/a)"
echo "PIN_BAD=\$(c \$R -o /dev/null -w '%{http_code}' --resolve pinned.test:8443:10.99.0.2 https://pinned.test:8443/ok/a)"
echo "NO_RUNCA=\$(c -o /dev/null --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/ok/a)"
echo "WRONG_DST=\$(c \$R -o /dev/null -w '%{http_code}' --resolve tls.test:8443:10.99.0.3 https://tls.test:8443/ok/a)"
echo "BLIND=\$(c --cacert $T_TMP/upca.pem --resolve blind.test:8443:10.99.0.2 https://blind.test:8443/ok/b)"
kill %1 %2
INNER
unshare -n bash "$T_TMP/inner.sh"
log=$(cat "$T_TMP/inner.log")
t_match "transparent HTTPS intercepted and allowed by path" "MITM_OK=path=/ok/a method=GET rc=0" "$log"
t_match "path denied inside the intercepted TLS" "MITM_DENY=403" "$log"
t_match "keep-alive inside the intercepted TLS" "MITM_KEEPALIVE=path=/ok/1 method=GETpath=/ok/2 method=GET rc=0" "$log"
t_match "Host naming another host inside refused" "MITM_FRONT=403" "$log"
t_match "upstream key not matching the pin: 502" "PIN_BAD=502" "$log"
t_match "a client without the run CA refuses the leaf" "NO_RUNCA= rc=60" "$log"
t_match "original destination not an address of the SNI host: refused" "WRONG_DST=000 rc=(35|52|56)" "$log"
t_match "host-only rule: tunnelled blind (origin's own certificate)" "BLIND=path=/ok/b method=GET rc=0" "$log"
a=$(cat "$T_TMP/audit.jsonl" 2>/dev/null)
t_match "interception audited" '"listener":"transparent","method":"TLS","host":"tls.test","port":8443.*"reason":"TLS intercepted"' "$a"
t_match "request inside audited" '"listener":"transparent","method":"GET","host":"tls.test","port":8443,"path":"/ok/a"' "$a"
t_match "pin mismatch audited" '"event":"egress.tls-pin-mismatch"' "$a"
t_ok "audit chain verifies" "$PROXY" audit-verify "$T_TMP/audit.jsonl"
[ "$T_FAIL" -gt 0 ] && { echo "--- inner log"; cat "$T_TMP/inner.log"; cat "$T_TMP/proxy.out"; }
t_done
