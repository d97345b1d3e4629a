#!/bin/bash
# CVE-2019-5736: a process in the container watches for the runtime entering
# it (`exec`) and tries to write through /proc/PID/exe. The runtime binary on
# the host must stay unchanged and every open for writing must fail.
# The attack runs against a copy of the runtime, so a regression cannot
# damage the build.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox sha256sum
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"

BIN=$T_TMP/capsule-runc-victim
cp "$RUNTIME" "$BIN"
ROOT=$T_TMP/root
R() { "$BIN" --root "$ROOT" "$@"; }
B=$T_TMP/bundle
mk_bundle "$B" /bin/sleep 1000
# The attacker: every pid that is not ours or pid 1, try to append to its exe
# and to open it read-write; log what was seen and what succeeded.
cfg_set "$B" '.root.readonly=false | .process.args=["/bin/sh","-c",$a]' --arg a '
seen=0; wrote=0
while :; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] || [ "$p" = $$ ] && continue
    c=$(cat $d/comm 2>/dev/null)
    case "$c" in capsule-runc*) seen=$((seen+1)); echo "$seen" >/tmp/seen;; esac
    if { echo "#!/bin/sh" >>$d/exe; } 2>/dev/null; then wrote=$((wrote+1)); echo "$wrote $c" >>/tmp/wrote; fi
    if true 7<>$d/exe 2>/dev/null; then wrote=$((wrote+1)); echo "$wrote rw $c" >>/tmp/wrote; fi
  done
done'
before=$(sha256sum <"$BIN")
id=cve-$$
t_cleanup "'$BIN' --root '$ROOT' delete --force $id"
t_ok "run the attacker" R run -d -b "$B" "$id"
ok=0
for i in $(seq 150); do R exec "$id" /bin/true >/dev/null 2>&1 && ok=$((ok+1)); done
t_eq "150 execs succeeded while under attack" 150 "$ok"
seen=$(cat "$B/rootfs/tmp/seen" 2>/dev/null || echo 0)
if [ "$seen" -gt 0 ]; then t_pass "the attacker saw the runtime inside the container ($seen times)"
else t_skip "the attacker never caught the runtime inside (race not hit)"; fi
t_eq "no write through /proc/PID/exe succeeded" "" "$(cat "$B/rootfs/tmp/wrote" 2>/dev/null)"
t_eq "the runtime binary is unchanged (sha256)" "$before" "$(sha256sum <"$BIN")"
t_ok "the binary is still executable and sane" R --version
t_done
