#!/bin/bash
# Transparent listener: in a private netns, nft redirects the workload's TCP
# to the proxy, which recovers the original destination (SO_ORIGINAL_DST)
# and decides by the Host header or the TLS ClientHello SNI.  The proxy's
# own upstream sockets carry a mark that the redirect skips.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd nft openssl unshare ip
unshare -n true 2>/dev/null || t_skip_all "cannot create a network namespace"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=tls.test \
  -keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" >/dev/null 2>&1 || t_skip_all "openssl cannot make a test cert"

cat >"$T_TMP/inner.sh" <<INNER
set -u
exec >"$T_TMP/inner.log" 2>&1
ip link set lo up
ip addr add 10.99.0.2/32 dev lo
ip addr add 10.99.0.3/32 dev lo
python3 "$HERE/server.py" 8080 10.99.0.2 >"$T_TMP/origin.out" 2>&1 &
openssl s_server -quiet -accept 8443 -cert "$T_TMP/cert.pem" -key "$T_TMP/key.pem" -www >/dev/null 2>&1 &
nft -f - <<NFT
table ip capsule_test {
  chain out {
    type nat hook output priority -100; policy accept;
    meta mark 0x2a return
    ip daddr 10.99.0.0/24 tcp dport { 8080, 8443 } redirect to :15001
  }
}
NFT
"$PROXY" --listen 127.0.0.1:3128 --transparent 127.0.0.1:15001 --upstream-mark 42 \
  --allow 'GET 10.99.0.2:8080/ok/*' --allow 'tls.test:8443' --dns-pin 'tls.test=10.99.0.2' \
  --audit "$T_TMP/audit.jsonl" --capsule-id transparent >"$T_TMP/proxy.out" 2>&1 &
sleep 1
c() { curl -s -m 5 "\$@"; echo " rc=\$?"; }
echo "HTTP_OK=\$(c http://10.99.0.2:8080/ok/a)"
echo "HTTP_DENY=\$(c -o /dev/null -w '%{http_code}' http://10.99.0.2:8080/no/a)"
echo "HTTP_HOSTLIE=\$(c -o /dev/null -w '%{http_code}' -H 'Host: 10.99.0.2:9999' http://10.99.0.2:8080/ok/a)"
echo "TLS_OK=\$(c -k -o /dev/null -w '%{http_code}' --resolve tls.test:8443:10.99.0.2 https://tls.test:8443/)"
echo "TLS_DENY=\$(c -k -o /dev/null -w '%{http_code}' --resolve evil.test:8443:10.99.0.2 https://evil.test:8443/)"
echo "TLS_WRONGIP=\$(c -k -o /dev/null -w '%{http_code}' --resolve tls.test:8443:10.99.0.3 https://tls.test:8443/)"
kill %1 %2 %3
INNER
unshare -n bash "$T_TMP/inner.sh"
log=$(cat "$T_TMP/inner.log")
t_match "transparent HTTP allowed by Host" "HTTP_OK=path=/ok/a method=GET" "$log"
t_match "transparent HTTP denied path" "HTTP_DENY=403" "$log"
t_match "Host port differing from the original destination denied" "HTTP_HOSTLIE=403" "$log"
t_match "transparent TLS allowed by SNI" "TLS_OK=200" "$log"
t_match "transparent TLS with another SNI refused" "TLS_DENY=000 rc=(35|52|56)" "$log"
t_match "SNI with an original destination it does not resolve to refused" "TLS_WRONGIP=000 rc=(35|52|56)" "$log"
a=$(cat "$T_TMP/audit.jsonl" 2>/dev/null)
t_match "transparent decision audited" '"listener":"transparent","method":"GET","host":"10.99.0.2","port":8080,"path":"/ok/a"' "$a"
t_match "SNI decision audited" '"listener":"transparent","method":"TLS","host":"tls.test","port":8443.*"verdict":"allow"' "$a"
t_match "SNI denial audited" '"host":"evil.test".*"verdict":"deny"' "$a"
t_ok "audit chain verifies" "$PROXY" audit-verify "$T_TMP/audit.jsonl"
[ "$T_FAIL" -gt 0 ] && { echo "--- inner log"; cat "$T_TMP/inner.log"; cat "$T_TMP/proxy.out"; }
t_done
