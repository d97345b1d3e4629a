#!/bin/bash
# Differential: CLI basics, exit codes, state JSON across created/running/
# paused/stopped, list, ps, exec, namespaces of init — runc vs $RUNTIME.
. "$CAPSULE_SRC/tests/differential/common.sh"

# --- CLI basics ----------------------------------------------------------------
for w in ref test; do RR $w --version >/dev/null 2>&1; eval "v_$w=\$?"; done
d_same "--version exit status" "$v_ref" "$v_test"
mkdir -p "$T_TMP/spec/ref" "$T_TMP/spec/test"
(cd "$T_TMP/spec/ref" && "$REF" spec); (cd "$T_TMP/spec/test" && "$RUNTIME" spec)
for q in '.ociVersion|test("^1\\.[0-9]+\\.[0-9]+")' 'keys' '.process|keys' '.process.args' '.process.env' '.process.capabilities' \
         '.process.rlimits' '.process.noNewPrivileges' '.root' '[.mounts[]|{destination,type,source,options}]' \
         '.linux.namespaces' '.linux.maskedPaths' '.linux.readonlyPaths' '.linux.resources'; do
  d_same "spec: $q" "$(jq -S -c "$q" "$T_TMP/spec/ref/config.json" 2>&1)" "$(jq -S -c "$q" "$T_TMP/spec/test/config.json" 2>&1)"
done
(cd "$T_TMP/spec/test" && "$RUNTIME" spec) 2>"$T_TMP/err"; t_eq "spec refuses to overwrite config.json (exit 1)" 1 $?
t_match "spec overwrite wording" "exists" "$(cat "$T_TMP/err")"
for w in ref test; do RR $w features >"$T_TMP/feat-$w" 2>/dev/null; eval "f_$w=\$?"; done
d_same "features exit status" "$f_ref" "$f_test"
d_same "features: top-level keys" "$(jq -c 'keys' "$T_TMP/feat-ref" 2>&1)" "$(jq -c 'keys' "$T_TMP/feat-test" 2>&1)"

# --- exit codes of run ------------------------------------------------------------
d_pair ex /bin/sh -c 'exit 0'
d_cleanup ex
for code in 0 3 42; do
  d_cfg2 ex '.process.args=["/bin/sh","-c",$s]' --arg s "exit $code"
  for w in ref test; do RR $w run -b "$T_TMP/ex/$w" ex >/dev/null 2>&1; eval "rc_$w=\$?"; done
  d_same "run exit code (exit $code)" "$rc_ref" "$rc_test"
done
d_cfg2 ex '.process.args=["/bin/sh","-c","kill -9 $$"]'
for w in ref test; do RR $w run -b "$T_TMP/ex/$w" ex >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "run exit code when init sends itself SIGKILL (ignored by a pid-ns init: 0)" "$rc_ref" "$rc_test"
d_cfg2 ex '.process.args=["/bin/sleep","100"]'
for w in ref test; do
  RR $w run -b "$T_TMP/ex/$w" ex >/dev/null 2>&1 & bg=$!
  d_wait_status $w ex running
  RR $w kill ex KILL
  wait $bg; eval "rc_$w=\$?"
done
d_same "run exit code after 'kill ID KILL' (137)" "$rc_ref" "$rc_test"
t_eq "runc itself reports 137" 137 "$rc_ref"
d_cfg2 ex '.process.args=["/bin/sh","-c","echo out; echo err >&2"]'
for w in ref test; do RR $w run -b "$T_TMP/ex/$w" ex >"$T_TMP/o-$w" 2>"$T_TMP/e-$w"; done
d_same "run stdout passthrough" "$(cat "$T_TMP/o-ref")" "$(cat "$T_TMP/o-test")"
d_same "run stderr passthrough" "$(cat "$T_TMP/e-ref")" "$(cat "$T_TMP/e-test")"
d_cfg2 ex '.process.args=["/bin/cat"]'
for w in ref test; do echo piped-in | RR $w run -b "$T_TMP/ex/$w" ex >"$T_TMP/o-$w" 2>&1; done
d_same "run stdin passthrough" "$(cat "$T_TMP/o-ref")" "$(cat "$T_TMP/o-test")"

# --- state across the lifecycle ---------------------------------------------------
d_pair st /bin/sleep 1000
d_cfg2 st '.annotations={"org.example.a":"1","capsule-test/b":"two words"}'
d_cleanup st
# norm_state: fields compared literally; pid, created and ociVersion (runc
# writes the spec version it was built with) are checked separately.
norm_state() { jq -S 'del(.pid, .created) | .ociVersion |= (test("^1\\.[0-9]+\\.[0-9]+") | if . then "1.x.y" else "bad" end)' | d_norm; }
for w in ref test; do RR $w create -b "$T_TMP/st/$w" --pid-file "$T_TMP/st/$w.pid" st; done
for w in ref test; do RR $w state st >"$T_TMP/s-$w" 2>&1; done
d_same "state (created): fields" "$(norm_state <"$T_TMP/s-ref")" "$(norm_state <"$T_TMP/s-test")"
d_same "state (created): key order" "$(jq -c keys_unsorted <"$T_TMP/s-ref")" "$(jq -c keys_unsorted <"$T_TMP/s-test")"
t_match "state (created): pid > 0" '^[1-9][0-9]*$' "$(jq -r .pid <"$T_TMP/s-test")"
t_eq "state (created): pid equals --pid-file" "$(jq -r .pid <"$T_TMP/s-test")" "$(cat "$T_TMP/st/test.pid" 2>/dev/null)"
rfc='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$'
t_match "state.created is RFC 3339 UTC like runc's (ref)" "$rfc" "$(jq -r .created <"$T_TMP/s-ref")"
t_match "state.created is RFC 3339 UTC like runc's (test)" "$rfc" "$(jq -r .created <"$T_TMP/s-test")"
d_same "pid-file format (no newline)" "$(od -c "$T_TMP/st/ref.pid" | sed -E 's/[0-9]/N/g;s/N+/N/g' | head -1)" \
       "$(od -c "$T_TMP/st/test.pid" | sed -E 's/[0-9]/N/g;s/N+/N/g' | head -1)"
created_test=$(jq -r .created <"$T_TMP/s-test")

# namespaces of the init process versus ours
ns_view() {
  local pid=$1 n
  for n in cgroup ipc mnt net pid time user uts; do
    [ -e /proc/self/ns/$n ] || continue
    if [ "$(readlink /proc/$pid/ns/$n)" = "$(readlink /proc/self/ns/$n)" ]; then echo "$n host"; else echo "$n new"; fi
  done
}
d_same "namespaces of init" "$(ns_view "$(jq -r .pid <"$T_TMP/s-ref")")" "$(ns_view "$(jq -r .pid <"$T_TMP/s-test")")"

for w in ref test; do RR $w start st; done
for w in ref test; do RR $w state st >"$T_TMP/s-$w" 2>&1; done
d_same "state (running): fields" "$(norm_state <"$T_TMP/s-ref")" "$(norm_state <"$T_TMP/s-test")"
t_eq "state.created unchanged by start" "$created_test" "$(jq -r .created <"$T_TMP/s-test")"

list_norm() { jq -S 'map(del(.pid, .created) | .ociVersion |= (test("^1\\.[0-9]+\\.[0-9]+") | if . then "1.x.y" else "bad" end))' | d_norm; }
for w in ref test; do RR $w list --format json >"$T_TMP/l-$w" 2>&1; done
d_same "list --format json" "$(list_norm <"$T_TMP/l-ref")" "$(list_norm <"$T_TMP/l-test")"
d_same "list -q" "$(RR ref list -q)" "$(RR test list -q)"
d_same "list header" "$(RR ref list | head -1 | tr -s ' ')" "$(RR test list | head -1 | tr -s ' ')"
# runc pads columns to the widest cell (tabwriter): a long bundle path must not run into CREATED.
d_same "list rows: fields per row" "$(RR ref list | awk '{print NF}')" "$(RR test list | awk '{print NF}')"
d_same "ps --format json: number of pids" "$(RR ref ps --format json st | jq length)" "$(RR test ps --format json st | jq length)"
d_same "ps: header" "$(RR ref ps st | head -1 | tr -s ' ')" "$(RR test ps st | head -1 | tr -s ' ')"

for w in ref test; do RR $w exec st /bin/sh -c 'exit 5' >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "exec exit code" "$rc_ref" "$rc_test"
for w in ref test; do RR $w exec --env FOO=bar --cwd /tmp st /bin/sh -c 'echo $FOO $(pwd) $(id -u)' >"$T_TMP/o-$w" 2>&1; done
d_same "exec --env --cwd output" "$(cat "$T_TMP/o-ref")" "$(cat "$T_TMP/o-test")"
for w in ref test; do RR $w exec --user 1000:1000 st id >"$T_TMP/o-$w" 2>&1; done
d_same "exec --user" "$(cat "$T_TMP/o-ref")" "$(cat "$T_TMP/o-test")"
for w in ref test; do RR $w exec -d --pid-file "$T_TMP/ep-$w" st /bin/sleep 50 >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "exec --detach --pid-file exit status" "$rc_ref" "$rc_test"
t_match "exec --pid-file written" '^[1-9][0-9]*$' "$(cat "$T_TMP/ep-test" 2>/dev/null)"
d_same "ps --format json after detached exec" "$(RR ref ps --format json st | jq length)" "$(RR test ps --format json st | jq length)"

# update: a new pids limit lands in the container's cgroup on both.
pids_max() { cat /sys/fs/cgroup/pids$T_CGROUP_PARENT/diff-$$-st-$1/pids.max /sys/fs/cgroup$T_CGROUP_PARENT/diff-$$-st-$1/pids.max 2>/dev/null | head -1; }
for w in ref test; do RR $w update --pids-limit 99 st >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "update --pids-limit: exit status" "$rc_ref" "$rc_test"
d_same "update --pids-limit: pids.max" "$(pids_max ref)" "$(pids_max test)"
t_eq "update --pids-limit: the value is really there" 99 "$(pids_max test)"
echo '{"pids":{"limit":77}}' >"$T_TMP/res.json"
for w in ref test; do RR $w update --resources "$T_TMP/res.json" st >/dev/null 2>&1; done
d_same "update --resources FILE: pids.max" "$(pids_max ref)" "$(pids_max test)"
t_eq "update --resources FILE: the value is really there" 77 "$(pids_max test)"
for w in ref test; do RR $w update --resources - st <"$T_TMP/res.json" >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "update --resources -: exit status" "$rc_ref" "$rc_test"

for w in ref test; do timeout 10 "$([ $w = ref ] && echo "$REF" || echo "$RUNTIME")" --root "$T_TMP/root-$w" events --stats st >"$T_TMP/ev-$w" 2>&1; done
d_same "events --stats: type, id and data sections" "$(jq -c '[.type, .id, (.data|keys)]' "$T_TMP/ev-ref" 2>&1)" "$(jq -c '[.type, .id, (.data|keys)]' "$T_TMP/ev-test" 2>&1)"
d_same "events --stats: pids.current" "$(jq -c '.data.pids.current' "$T_TMP/ev-ref" 2>&1)" "$(jq -c '.data.pids.current' "$T_TMP/ev-test" 2>&1)"

for w in ref test; do RR $w pause st; done
for w in ref test; do RR $w state st >"$T_TMP/s-$w" 2>&1; done
d_same "state (paused): fields" "$(norm_state <"$T_TMP/s-ref")" "$(norm_state <"$T_TMP/s-test")"
for w in ref test; do RR $w resume st; done
for w in ref test; do RR $w state st >"$T_TMP/s-$w" 2>&1; done
d_same "state (resumed): fields" "$(norm_state <"$T_TMP/s-ref")" "$(norm_state <"$T_TMP/s-test")"

for w in ref test; do RR $w kill st KILL; d_wait_status $w st stopped; done
for w in ref test; do RR $w state st >"$T_TMP/s-$w" 2>&1; done
d_same "state (stopped): fields" "$(norm_state <"$T_TMP/s-ref")" "$(norm_state <"$T_TMP/s-test")"
d_same "state (stopped): pid" "$(jq .pid <"$T_TMP/s-ref")" "$(jq .pid <"$T_TMP/s-test")"
for w in ref test; do RR $w delete st >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "delete of stopped exit status" "$rc_ref" "$rc_test"
for w in ref test; do RR $w state st >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "state after delete exit status" "$rc_ref" "$rc_test"
d_same "cgroup removed after delete" \
  "$(ls -d /sys/fs/cgroup/*/capsule-test/diff-$$-st-ref 2>/dev/null | wc -l)" \
  "$(ls -d /sys/fs/cgroup/*/capsule-test/diff-$$-st-test 2>/dev/null | wc -l)"
# run -d, kill --all, delete --force of a running container.
d_pair rd /bin/sleep 1000
d_cleanup rd
for w in ref test; do RR $w run -d -b "$T_TMP/rd/$w" rd >/dev/null 2>&1 </dev/null; eval "rc_$w=\$?"; done
d_same "run -d: exit status" "$rc_ref" "$rc_test"
d_same "run -d: state" "$(RR ref state rd 2>&1 | jq -r .status)" "$(RR test state rd 2>&1 | jq -r .status)"
for w in ref test; do RR $w exec -d rd /bin/sleep 999 >/dev/null 2>&1; done
for w in ref test; do RR $w kill --all rd KILL >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "kill --all: exit status" "$rc_ref" "$rc_test"
for w in ref test; do d_wait_status $w rd stopped; done
d_same "kill --all: state" "$(RR ref state rd 2>&1 | jq -r .status)" "$(RR test state rd 2>&1 | jq -r .status)"
for w in ref test; do RR $w delete rd >/dev/null 2>&1; RR $w run -d -b "$T_TMP/rd/$w" rd >/dev/null 2>&1 </dev/null; done
for w in ref test; do RR $w delete --force rd >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "delete --force of a running container: exit status" "$rc_ref" "$rc_test"
for w in ref test; do RR $w state rd >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "delete --force: container gone" "$rc_ref" "$rc_test"
t_done
