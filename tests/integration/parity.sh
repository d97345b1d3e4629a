#!/bin/bash
# runc parity of the secondary verbs: exec (every flag clients pass), ps,
# pause/resume, update, events --stats, checkpoint/restore refusal.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "" /bin/sleep 1000
# A counter in the workspace: pause must stop it advancing.
cfg_set "$B" '.process.args=["/bin/sh","-c","i=0; while :; do i=$((i+1)); echo $i >/tmp/count.n; mv /tmp/count.n /tmp/count; sleep 0.05; done"] | .root.readonly=false | .process.noNewPrivileges=false'
id=par-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
t_ok "run -d" R run -d -b "$B" "$id"
cg=$(jq -r .linux.cgroupsPath "$B/config.json")

# --- exec -------------------------------------------------------------------
t_eq "exec inline args" "hello" "$(R exec "$id" echo hello 2>&1)"
R exec "$id" /bin/sh -c 'exit 7' >/dev/null 2>&1; t_eq "exec propagates exit code" 7 $?
R exec "$id" /bin/sh -c 'kill -9 $$' >/dev/null 2>&1; t_eq "exec reports signal death as 128+9" 137 $?
t_eq "exec --env" "bar" "$(R exec --env FOO=bar "$id" /bin/sh -c 'echo $FOO' 2>&1)"
t_eq "exec --env keeps config env (PATH)" "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "$(R exec --env FOO=bar "$id" /bin/sh -c 'echo $PATH' 2>&1)"
t_eq "exec --cwd" "/tmp" "$(R exec --cwd /tmp "$id" pwd 2>&1)"
t_eq "exec --user 1000:1000" "1000:1000" "$(R exec --user 1000:1000 "$id" /bin/sh -c 'echo $(id -u):$(id -g)' 2>&1)"
t_eq "exec --user 1000 --additional-gids 2000" "2000" \
  "$(R exec --user 1000:1000 --additional-gids 2000 "$id" /bin/sh -c 'id -G | tr " " "\n" | grep -x 2000' 2>&1)"
capeff() { R exec "$@" "$id" /bin/sh -c 'grep CapEff /proc/self/status | cut -f2' 2>&1; }
base=$(capeff)
withcap=$(capeff --cap CAP_SYS_ADMIN)
t_eq "default exec caps lack CAP_SYS_ADMIN (bit 21)" 0 $(( (0x$base >> 21) & 1 ))
t_eq "exec --cap CAP_SYS_ADMIN adds it" 1 $(( (0x$withcap >> 21) & 1 ))
t_eq "exec without --no-new-privs (config default false)" 0 \
  "$(R exec "$id" /bin/sh -c 'grep NoNewPrivs /proc/self/status | cut -f2' 2>&1)"
t_eq "exec --no-new-privs=false keeps config" 0 "$(R exec --no-new-privs=false "$id" /bin/sh -c 'grep NoNewPrivs /proc/self/status | cut -f2' 2>&1)"
t_eq "exec --no-new-privs" 1 "$(R exec --no-new-privs "$id" /bin/sh -c 'grep NoNewPrivs /proc/self/status | cut -f2' 2>&1)"
t_eq "exec joins the pid namespace" 1 "$(R exec "$id" /bin/sh -c 'cat /proc/1/cmdline | tr "\0" " " | grep -c "while"' 2>&1)"
t_eq "exec joins the uts namespace" "$(jq -r .hostname "$B/config.json")" "$(R exec "$id" hostname 2>&1)"
# --process FILE
jq '.process | .args=["/bin/sh","-c","echo $X:$(pwd):$(id -u)"] | .env=["X=fromfile","PATH=/bin"] | .cwd="/etc" | .user={uid:65534,gid:65534}' \
  "$B/config.json" >"$T_TMP/proc.json"
t_eq "exec --process FILE" "fromfile:/etc:65534" "$(R exec --process "$T_TMP/proc.json" "$id" 2>&1)"
# --detach + --pid-file
t_ok "exec -d --pid-file" R exec -d --pid-file "$T_TMP/exec.pid" "$id" /bin/sleep 77
epid=$(cat "$T_TMP/exec.pid" 2>/dev/null)
t_match "exec pid file holds a pid" '^[0-9]+$' "$epid"
t_eq "detached exec process is sleep 77" "/bin/sleep 77" "$(tr '\0' ' ' </proc/$epid/cmdline 2>/dev/null | sed 's/ $//')"
for h in pids memory freezer; do
  [ -d /sys/fs/cgroup/$h ] && t_eq "exec process joined the $h cgroup" "$cg" "$(grep -E "^[0-9]+:$h:" /proc/$epid/cgroup | cut -d: -f3)"
done
[ -d /sys/fs/cgroup/unified ] && t_eq "exec process joined the unified cgroup" "$cg" "$(grep -E '^0::' /proc/$epid/cgroup | cut -d: -f3)"
t_eq "detached exec process is in the container's pid ns" "$(readlink /proc/$(R state "$id" | jq -r .pid)/ns/pid)" "$(readlink /proc/$epid/ns/pid)"
R exec "$id" /nonexistent 2>"$T_TMP/err"; t_eq "exec of a missing binary fails with 255 (runc)" 255 $?
t_match "exec failure wording" "exec failed: .*nonexistent" "$(cat "$T_TMP/err")"
R exec "$id" 2>"$T_TMP/err"; t_match "exec without args is refused" "args|argument" "$(cat "$T_TMP/err")"

# --- ps ---------------------------------------------------------------------
pids=$(R ps --format json "$id")
t_ok "ps --format json is a JSON array of numbers" jq -e 'type=="array" and length>=2 and all(.[]; type=="number")' <<<"$pids"
t_eq "ps json includes init" true "$(jq --argjson p "$(R state "$id" | jq .pid)" 'index($p) != null' <<<"$pids")"
t_eq "ps json includes the detached exec" true "$(jq --argjson p "$epid" 'index($p) != null' <<<"$pids")"
tab=$(R ps "$id")
t_match "ps table has a PID header" "PID" "$(head -1 <<<"$tab")"
t_match "ps table lists sleep 77" "sleep 77" "$tab"
t_eq "ps table lists only container processes" 0 "$(grep -c 'capsule-runc' <<<"$tab")"

# --- pause / resume -----------------------------------------------------------
t_ok "pause" R pause "$id"
t_eq "state shows paused" paused "$(R state "$id" | jq -r .status)"
a=$(cat "$B/rootfs/tmp/count"); sleep 0.5; b=$(cat "$B/rootfs/tmp/count")
t_match "paused: the counter was running" '^[0-9]+$' "$a"
t_eq "paused: the counter stopped" "$a" "$b"
R exec "$id" true 2>"$T_TMP/err"; t_eq "exec into paused container refused (255)" 255 $?
t_match "exec into paused: runc wording" "cannot exec in a paused container \\(use --ignore-paused" "$(cat "$T_TMP/err")"
# --ignore-paused --detach: returns at once (the process is frozen the moment it
# joins the cgroup) and runs on resume; a foreground one waits for the resume.
timeout -s KILL 20 "$RUNTIME" --root "$ROOT" exec -d --ignore-paused --pid-file "$T_TMP/ip.pid" "$id" \
  /bin/sh -c 'echo ran >/tmp/ignore-paused' >"$T_TMP/err" 2>&1
t_eq "exec -d --ignore-paused into a paused container returns (no hang)" 0 $?
ip=$(cat "$T_TMP/ip.pid" 2>/dev/null)
t_match "exec -d --ignore-paused: pid file written" '^[1-9][0-9]*$' "$ip"
t_match "exec -d --ignore-paused: the process is frozen, not run" '^State:.(D|T)' "$(grep ^State: /proc/$ip/status 2>&1)"
t_eq "exec -d --ignore-paused: nothing ran while paused" "" "$(cat "$B/rootfs/tmp/ignore-paused" 2>/dev/null)"
timeout -s KILL 20 "$RUNTIME" --root "$ROOT" exec --ignore-paused "$id" /bin/echo fg >"$T_TMP/fg" 2>&1 & fgpid=$!
sleep 0.5
t_eq "exec --ignore-paused (foreground) still waiting while paused" 0 "$(kill -0 $fgpid 2>/dev/null; echo $?)"
R pause "$id" 2>"$T_TMP/err"; t_eq "pause of paused fails" 1 $?
t_ok "resume" R resume "$id"
wait $fgpid; t_eq "exec --ignore-paused (foreground): exit 0 after resume" 0 $?
t_eq "exec --ignore-paused (foreground): output after resume" fg "$(cat "$T_TMP/fg")"
for i in $(seq 50); do [ -s "$B/rootfs/tmp/ignore-paused" ] && break; sleep 0.1; done
t_eq "exec -d --ignore-paused: the process ran on resume" ran "$(cat "$B/rootfs/tmp/ignore-paused" 2>/dev/null)"
t_eq "state shows running" running "$(R state "$id" | jq -r .status)"
a=$(cat "$B/rootfs/tmp/count"); sleep 0.5; b=$(cat "$B/rootfs/tmp/count")
t_ok "resumed: the counter advances ($a -> $b)" test "$b" -gt "$a"
R resume "$id" 2>"$T_TMP/err"; t_match "resume of running says not paused" "not paused" "$(cat "$T_TMP/err")"

# --- update -------------------------------------------------------------------
cgf() { cat "/sys/fs/cgroup/$1$cg/$2" 2>/dev/null || cat "/sys/fs/cgroup/unified$cg/$3" 2>/dev/null; }
t_ok "update --memory --pids-limit --cpu-quota --cpu-period" \
  R update --memory 67108864 --pids-limit 42 --cpu-period 100000 --cpu-quota 50000 "$id"
t_eq "memory limit in cgroup" 67108864 "$(cgf memory memory.limit_in_bytes memory.max)"
t_eq "pids limit in cgroup" 42 "$(cgf pids pids.max pids.max)"
t_eq "cpu quota in cgroup" 50000 "$(cgf cpu cpu.cfs_quota_us cpu.max | cut -d' ' -f1)"
echo '{"memory":{"limit":33554432},"pids":{"limit":17},"cpu":{"shares":512}}' | R update --resources - "$id"
t_eq "update --resources - exit" 0 $?
t_eq "memory from --resources -" 33554432 "$(cgf memory memory.limit_in_bytes memory.max)"
t_eq "pids from --resources -" 17 "$(cgf pids pids.max pids.max)"
t_eq "cpu shares from --resources -" 512 "$(cgf cpu cpu.shares cpu.weight)"
echo '{"pids":{"limit":23}}' >"$T_TMP/res.json"
t_ok "update --resources FILE" R update --resources "$T_TMP/res.json" "$id"
t_eq "pids from --resources FILE" 23 "$(cgf pids pids.max pids.max)"
t_fails "update of a missing container fails" R update --pids-limit 5 nosuch-$$

# --- events ---------------------------------------------------------------------
ev=$(R events --stats "$id")
t_eq "events --stats type" stats "$(jq -r .type <<<"$ev")"
t_ok "events --stats pids.current >= 2" jq -e '.data.pids.current >= 2' <<<"$ev"
t_eq "events --stats pids.limit" 23 "$(jq -r .data.pids.limit <<<"$ev")"
t_ok "events --stats memory usage > 0" jq -e '.data.memory.usage.usage > 0' <<<"$ev"
n=$(timeout 2.5 "$RUNTIME" --root "$ROOT" events --interval 1s "$id" | wc -l)
t_ok "events --interval 1s streams stats (got $n lines in 2.5s)" test "$n" -ge 2

# --- checkpoint / restore -------------------------------------------------------
R checkpoint "$id" 2>"$T_TMP/err"; t_eq "checkpoint fails" 1 $?
t_match "checkpoint says not supported" "not supported" "$(cat "$T_TMP/err")"
R restore "$id" 2>"$T_TMP/err"; t_eq "restore fails" 1 $?
t_match "restore says not supported" "not supported" "$(cat "$T_TMP/err")"

# --- stopped container ----------------------------------------------------------
t_ok "kill" R kill "$id" KILL
for i in $(seq 50); do [ "$(R state "$id" | jq -r .status)" = stopped ] && break; sleep 0.1; done
R exec "$id" true 2>"$T_TMP/err"; t_eq "exec into stopped fails with 255 (runc)" 255 $?
t_match "exec into stopped: runc wording" "cannot exec in a stopped container" "$(cat "$T_TMP/err")"
R pause "$id" 2>"$T_TMP/err"; t_match "pause of stopped: not running" "not running" "$(cat "$T_TMP/err")"
t_ok "delete" R delete "$id"
R exec "$id" true 2>"$T_TMP/err"; t_match "exec into missing: does not exist" "does not exist" "$(cat "$T_TMP/err")"
t_done
