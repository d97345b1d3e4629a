#!/bin/bash
# A decision that cannot be written is not carried out.  The audit file is on
# a small ext4 image with 1 KiB blocks (loop mount in a private mount
# namespace) that is then filled (long request paths make each decision line
# longer than the slack left in the file's last block): a request on a
# keep-alive connection whose upstream is reused (its decision line is
# queued for the end of the event batch) must not reach the origin and gets
# 503, like a request on a new connection (whose line is written at once).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/proxy/common.sh"
t_need_root
t_need_cmd mkfs.ext4
unshare -m true 2>/dev/null || t_skip_all "needs unshare -m"
truncate -s 4M "$T_TMP/fs.img"
mkfs.ext4 -q -b 1024 -m 0 -O ^has_journal "$T_TMP/fs.img" >/dev/null 2>&1 || t_skip_all "mkfs.ext4 failed"

R=$T_TMP/res
mkdir -p "$R" "$T_TMP/a"
OP=$(free_port)
LONG=$(printf "%01050d" 0)
PP=$(free_port)
cat >"$T_TMP/inner.sh" <<INNER
set -u
mount -o loop "$T_TMP/fs.img" "$T_TMP/a" || { echo "SKIP: cannot loop-mount" >"$R/skip"; exit 0; }
python3 "$HERE/logorigin.py" $OP "$R/origin.log" >"$R/origin.out" 2>&1 &
for i in \$(seq 50); do grep -q ready "$R/origin.out" 2>/dev/null && break; sleep 0.1; done
"$PROXY" --listen 127.0.0.1:$PP --allow "GET 127.0.0.1:$OP/ok/*" --audit "$T_TMP/a/audit.jsonl" >"$R/proxy.out" 2>&1 &
PX=\$!
for i in \$(seq 50); do grep -q ready "$R/proxy.out" && break; sleep 0.1; done
python3 "$HERE/ka.py" $PP http://127.0.0.1:$OP/ok/ka1-$LONG "$R/flag" http://127.0.0.1:$OP/ok/ka2-$LONG >"$R/ka.out" 2>&1 &
KA=\$!
for i in \$(seq 50); do [ -s "$R/ka.out" ] && break; sleep 0.1; done
dd if=/dev/zero of="$T_TMP/a/fill" bs=4k >/dev/null 2>&1
touch "$R/flag"
wait \$KA
curl -s -m 8 -o /dev/null -w '%{http_code}' -x http://127.0.0.1:$PP http://127.0.0.1:$OP/ok/new-$LONG >"$R/new.code"
kill \$PX %1 2>/dev/null
wait \$PX 2>/dev/null
umount "$T_TMP/a"
INNER
unshare -m bash "$T_TMP/inner.sh"
[ -f "$R/skip" ] && t_skip_all "cannot loop-mount an ext4 image"

t_eq "first request on the connection served" "200 path=/ok/ka1-$LONG method=GET" "$(head -1 "$R/ka.out")"
t_eq "queued decision not written: 503" "503 capsule-proxy: audit log unavailable" "$(sed -n 2p "$R/ka.out")"
t_eq "the origin saw only the first request" "/ok/ka1-$LONG" "$(paste -sd' ' "$R/origin.log")"
t_eq "new connection: 503" 503 "$(cat "$R/new.code")"
t_match "the failure was reported" "audit" "$(cat "$R/proxy.out")"
t_done
