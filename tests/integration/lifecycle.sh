#!/bin/bash
# Container lifecycle on real busybox bundles: create/start/state/kill/delete,
# run exit codes, list, error wording clients match on, namespaces, mounts,
# rlimits, capabilities, hooks, cgroup limits, and a runtime killed mid-create.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "" /bin/sh -c 'exit 0'

# --- run: exit codes ---------------------------------------------------------
cfg_set "$B" '.process.args=["/bin/sh","-c","exit 3"]'
R run -b "$B" "run-$$" >/dev/null 2>&1; t_eq "run propagates exit code 3" 3 $?
t_fails "run removed the container afterwards" R state "run-$$"
# pid 1 of a pid namespace cannot kill itself: the runtime kills it from outside.
cfg_set "$B" '.process.args=["/bin/sleep","100"]'
R run -b "$B" "run9-$$" >/dev/null 2>&1 &
rp=$!
for i in $(seq 50); do [ "$(R state "run9-$$" 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.1; done
R kill "run9-$$" KILL
wait $rp; t_eq "run reports a signal death as 128+9" 137 $?

# --- create / start / state / kill / delete ---------------------------------
cfg_set "$B" '.process.args=["/bin/sleep","1000"]'
id=life-$$
t_ok "create" R create -b "$B" --pid-file "$T_TMP/pid" "$id"
t_eq "state after create" created "$(R state "$id" | jq -r .status)"
pid=$(R state "$id" | jq -r .pid)
t_eq "pid file matches state pid" "$pid" "$(cat "$T_TMP/pid")"
t_eq "state.bundle" "$B" "$(R state "$id" | jq -r .bundle)"
t_match "state.created is RFC 3339" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]+Z$' "$(R state "$id" | jq -r .created)"
t_eq "init has not exec'd yet (still the runtime)" "capsule-runc" "$(cat /proc/$pid/comm)"
R create -b "$B" "$id" 2>"$T_TMP/err"; rc=$?
t_eq "duplicate create fails" 1 $rc
t_match "duplicate create says already exists" "already exists" "$(cat "$T_TMP/err")"
t_ok "start" R start "$id"
t_eq "state after start" running "$(R state "$id" | jq -r .status)"
t_eq "init exec'd sleep" sleep "$(cat /proc/$pid/comm)"
R start "$id" 2>"$T_TMP/err"; t_eq "second start fails" 1 $?
t_match "list shows it" "$id +$pid +running" "$(R list)"
t_eq "list --format json" running "$(R list --format json | jq -r ".[] | select(.id==\"$id\") | .status")"
R delete "$id" 2>"$T_TMP/err"; t_eq "delete of running container fails" 1 $?
t_match "delete wording" "is not stopped" "$(cat "$T_TMP/err")"
t_ok "kill KILL" R kill "$id" KILL
for i in $(seq 50); do [ "$(R state "$id" | jq -r .status)" = stopped ] && break; sleep 0.1; done
t_eq "state after kill" stopped "$(R state "$id" | jq -r .status)"
t_eq "stopped state has pid 0" 0 "$(R state "$id" | jq -r .pid)"
R kill "$id" TERM 2>"$T_TMP/err"; t_eq "kill of stopped fails" 1 $?
t_match "kill of stopped says not running" "container not running" "$(cat "$T_TMP/err")"
t_ok "delete" R delete "$id"
R state "$id" 2>"$T_TMP/err"; t_eq "state of deleted fails" 1 $?
t_match "wording: does not exist" "does not exist" "$(cat "$T_TMP/err")"
t_ok "delete --force of missing succeeds" R delete --force "$id"
R state "bad/id" 2>"$T_TMP/err"; t_match "invalid id rejected" "invalid container id" "$(cat "$T_TMP/err")"

# created container can be deleted without --force (runc semantics)
t_ok "create again" R create -b "$B" "$id"
t_ok "delete a created container" R delete "$id"
t_eq "no state dir left" "" "$(ls "$ROOT")"

# delete --force of a running container
t_ok "run -d" R run -d -b "$B" "$id"
t_eq "detached run is running" running "$(R state "$id" | jq -r .status)"
t_ok "delete --force running" R delete --force "$id"
t_fails "gone after delete --force" R state "$id"

# kill --all and signal names/numbers
t_ok "run -d for kill --all" R run -d -b "$B" "$id"
t_ok "kill --all 9" R kill --all "$id" 9
for i in $(seq 50); do [ "$(R state "$id" | jq -r .status)" = stopped ] && break; sleep 0.1; done
t_eq "stopped after kill --all" stopped "$(R state "$id" | jq -r .status)"
R delete "$id"

# --- the view from inside ----------------------------------------------------
inside() { cfg_set "$B" '.process.args=["/bin/sh","-c",$c]' --arg c "$1"; R run -b "$B" "in-$$-$RANDOM" 2>&1; }
t_eq "pid namespace: sh is pid 1" 1 "$(inside 'echo $$')"
cfg_set "$B" '.hostname="boxy"'
t_eq "uts namespace: hostname" boxy "$(inside hostname)"
t_eq "rootfs read-only (root.readonly)" "fail" "$(inside '(touch /x) 2>/dev/null && echo ok || echo fail')"
t_match "proc mounted" "^proc /proc proc" "$(inside 'grep " /proc " /proc/mounts')"
t_eq "masked path /proc/timer_list is empty" 0 "$(inside 'wc -c </proc/timer_list')"
t_eq "masked path /proc/keys is empty" 0 "$(inside 'wc -c </proc/keys')"
t_eq "readonly path /proc/sys" fail "$(inside '(echo 1 >/proc/sys/kernel/domainname) 2>/dev/null && echo ok || echo fail')"
t_eq "/dev/null is a char device" c "$(inside 'stat -c %F /dev/null | cut -c1')"
t_eq "rlimit nofile 1024" 1024 "$(inside 'ulimit -n')"
cfg_set "$B" '.process.rlimits=[{"type":"RLIMIT_NOFILE","soft":77,"hard":88}]'
t_eq "rlimit nofile soft 77" 77 "$(inside 'ulimit -n')"
t_eq "rlimit nofile hard 88" 88 "$(inside 'ulimit -Hn')"
# Capabilities: the default spec keeps exactly AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10).
t_eq "CapEff is the 3 default caps" 0000000020000420 "$(inside 'grep CapEff /proc/self/status | cut -f2')"
t_eq "CapBnd is the 3 default caps" 0000000020000420 "$(inside 'grep CapBnd /proc/self/status | cut -f2')"
t_eq "CapInh empty (CVE-2022-29162)" 0000000000000000 "$(inside 'grep CapInh /proc/self/status | cut -f2')"
t_eq "NoNewPrivs set" 1 "$(inside 'grep NoNewPrivs /proc/self/status | cut -f2')"
cfg_set "$B" '.process.user={"uid":1000,"gid":1000,"additionalGids":[2000]}'
t_eq "user uid/gid/groups" "1000 1000 1000 2000" "$(inside 'echo $(id -u) $(id -g) $(id -G)')"
cfg_set "$B" '.process.user={"uid":0,"gid":0}'
cfg_set "$B" '.process.env=["PATH=/bin","FOO=bar baz"]'
t_eq "env passed" "bar baz" "$(inside 'echo $FOO')"
cfg_set "$B" '.process.cwd="/tmp/newdir"'
t_eq "cwd created and entered" /tmp/newdir "$(inside pwd)"
cfg_set "$B" '.process.cwd="/"'
echo hello >"$T_TMP/host-file"
cfg_set "$B" '.mounts += [{"destination":"/mnt/f","type":"bind","source":$s,"options":["bind","ro"]}]' --arg s "$T_TMP/host-file"
t_eq "bind mount of a file" hello "$(inside 'cat /mnt/f')"
t_eq "ro bind mount is read-only" fail "$(inside '(echo x >/mnt/f) 2>/dev/null && echo ok || echo fail')"
cfg_set "$B" '.process.args=["/nonexistent"]'
R run -b "$B" "noexec-$$" 2>"$T_TMP/err"; rc=$?
t_eq "missing executable fails create" 1 $rc
t_match "missing executable error" "nonexistent" "$(cat "$T_TMP/err")"
t_eq "failed create left nothing" "" "$(ls "$ROOT")"

# --- cgroup limits visible in the cgroup files ---------------------------------
cg=$T_CGROUP_PARENT/life-$$
cfg_set "$B" '.process.args=["/bin/sleep","1000"] | .linux.cgroupsPath=$cg | .linux.resources.memory={"limit":67108864} | .linux.resources.pids={"limit":42} | .linux.resources.cpu={"shares":512,"quota":50000,"period":100000}' --arg cg "$cg"
t_ok "run -d with resources" R run -d -b "$B" "$id"
if [ -d /sys/fs/cgroup/memory ]; then
  t_eq "memory.limit_in_bytes" 67108864 "$(cat /sys/fs/cgroup/memory$cg/memory.limit_in_bytes)"
  t_eq "pids.max" 42 "$(cat /sys/fs/cgroup/pids$cg/pids.max)"
  t_eq "cpu.shares" 512 "$(cat /sys/fs/cgroup/cpu$cg/cpu.shares)"
  t_eq "cpu.cfs_quota_us" 50000 "$(cat /sys/fs/cgroup/cpu$cg/cpu.cfs_quota_us)"
  pid=$(R state "$id" | jq -r .pid)
  t_match "init is in the memory cgroup" "memory:$cg\$" "$(grep memory /proc/$pid/cgroup)"
else
  t_eq "memory.max" 67108864 "$(cat /sys/fs/cgroup$cg/memory.max)"
  t_eq "pids.max" 42 "$(cat /sys/fs/cgroup$cg/pids.max)"
fi
R delete -f "$id"
t_fails "cgroup removed on delete" test -d /sys/fs/cgroup/memory$cg -o -d /sys/fs/cgroup$cg/cgroup.procs

# --- hooks: order, stdin state ---------------------------------------------------
H=$T_TMP/hook.sh
cat >"$H" <<'HOOK'
#!/bin/sh
state=$(cat)
echo "$1 $(echo "$state" | jq -r '.status + " " + .id + " " + (.pid|tostring)')" >>"$2"
HOOK
chmod +x "$H"
L=$T_TMP/hooks.log
hook() { jq -n --arg p "$H" --arg n "$1" --arg l "$L" '{path:$p, args:["hook.sh",$n,$l]}'; }
cfg_set "$B" '.process.args=["/bin/true"] | .hooks={prestart:[$a],createRuntime:[$b],createContainer:[$c],startContainer:[$d],poststart:[$e],poststop:[$f]}' \
  --argjson a "$(hook prestart)" --argjson b "$(hook createRuntime)" --argjson c "$(hook createContainer)" \
  --argjson d "$(hook startContainer)" --argjson e "$(hook poststart)" --argjson f "$(hook poststop)"
# hooks that run inside the container need jq there: give createContainer/startContainer a host path they can reach
cp "$(command -v jq)" "$B/rootfs/bin/jq" 2>/dev/null
mkdir -p "$B/rootfs$(dirname "$H")" "$B/rootfs$T_TMP"
cp "$H" "$B/rootfs$H"
rm -f "$L"
R run -b "$B" "hooks-$$" >/dev/null 2>&1
t_eq "host-side hook order" "prestart createRuntime poststart poststop" "$(cut -d' ' -f1 "$L" 2>/dev/null | grep -v Container | xargs)"
t_match "prestart got state on stdin" "^prestart creating hooks-$$ [1-9]" "$(grep ^prestart "$L")"
t_match "poststop got stopped state" "^poststop stopped hooks-$$" "$(grep ^poststop "$L")"
cfg_set "$B" 'del(.hooks)'

# --- a runtime killed mid-create leaves nothing delete --force cannot clean ------
cfg_set "$B" '.process.args=["/bin/true"] | .hooks={createRuntime:[{path:"/bin/sleep",args:["sleep","29.5"]}]}'
"$RUNTIME" --root "$ROOT" create -b "$B" "crash-$$" &   # the runtime itself, not a subshell
rpid=$!
sleep 1
kill -9 $rpid; wait $rpid 2>/dev/null
t_ok "delete --force after a killed create" R delete --force "crash-$$"
t_eq "state dir gone" "" "$(ls "$ROOT")"
t_eq "no runtime or container process left" "" "$(pgrep -f -- "--root $ROOT" || true)"
pkill -f "sleep 29.5" 2>/dev/null || true
cfg_set "$B" 'del(.hooks)'

t_done
