#!/bin/bash
# Differential: the secondary verbs clients drive — exec (inline, --process,
# --env, --cwd, --user, --cap, --detach + --pid-file, --preserve-fds, errors),
# ps (table and --format json), pause/resume and what state/list/exec say
# meanwhile, update (flags and --resources -) read back from the cgroup files,
# events --stats (keys and types), kill --all — runc vs $RUNTIME.
. "$CAPSULE_SRC/tests/differential/common.sh"

d_pair vb /bin/sleep 1000
d_cfg2 vb '.root.readonly=false'
d_cleanup vb
for w in ref test; do RR $w run -d -b "$T_TMP/vb/$w" vb >/dev/null 2>&1 </dev/null; done
for w in ref test; do d_wait_status $w vb running || t_fail "$w: container did not start"; done

# d_both NAME CMD...: the verb on both sides (each gets $D_IN on stdin, and
# "three"/"four" on fds 3 and 4); same exit status and stdout (normalised).
D_IN=
# d_rc NAME CMD...: exit status only (usage errors: runc prints its help text).
d_rc() {
  local n=$1; shift
  local w; for w in ref test; do RR $w "$@" >/dev/null 2>&1 </dev/null; echo $? >"$T_TMP/rc-$w"; done
  d_same "$n: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
}
d_both() {
  local n=$1; shift
  local w; for w in ref test; do
    RR $w "$@" >"$T_TMP/o-$w" 2>"$T_TMP/e-$w" <<<"$D_IN" 3<<<"three" 4<<<"four"; echo $? >"$T_TMP/rc-$w"
  done
  d_same "$n: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
  d_same "$n: stdout" "$(d_norm <"$T_TMP/o-ref")" "$(d_norm <"$T_TMP/o-test")"
}

# --- exec -----------------------------------------------------------------------
d_both "exec inline args" exec vb /bin/echo hello world
D_IN=line d_both "exec stdin passthrough" exec vb /bin/sh -c 'read x; echo got:$x'
d_both "exec exit code 3" exec vb /bin/sh -c 'exit 3'
d_both "exec signal death (128+15)" exec vb /bin/sh -c 'kill -TERM $$'
d_both "exec --env twice + config env" exec --env A=1 --env B=2 vb /bin/sh -c 'echo $A $B $PATH $HOME'
d_both "exec --env overrides config PATH" exec --env PATH=/bin vb /bin/sh -c 'echo $PATH'
d_both "exec --cwd /tmp" exec --cwd /tmp vb pwd
d_both "exec --cwd to a missing dir is created? (runc: mkdir)" exec --cwd /made/by/exec vb pwd
d_both "exec --user 1000 (gid 0)" exec --user 1000 vb id
d_both "exec --user 1000:2000 --additional-gids 3000" exec --user 1000:2000 --additional-gids 3000 vb id
d_both "exec HOME from the container's passwd (uid 1000)" exec --user 1000 vb /bin/sh -c 'echo $HOME'
caps='grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb)" /proc/self/status'
d_both "exec capability sets (default)" exec vb /bin/sh -c "$caps"
d_both "exec --cap CAP_SYS_ADMIN --cap CAP_NET_ADMIN" exec --cap CAP_SYS_ADMIN --cap CAP_NET_ADMIN vb /bin/sh -c "$caps"
d_both "exec --user 1000 capability sets" exec --user 1000 vb /bin/sh -c "$caps"
d_both "exec --no-new-privs" exec --no-new-privs vb /bin/sh -c 'grep NoNewPrivs /proc/self/status'
d_both "exec in the init's namespaces (hostname, pid 1)" exec vb /bin/sh -c 'hostname; cat /proc/1/comm'
d_both "exec fds seen by the process" exec vb /bin/sh -c 'ls /proc/self/fd | sort -n | tr "\n" " "'
d_both "exec --preserve-fds 2 passes fds 3 and 4" exec --preserve-fds 2 vb /bin/sh -c 'ls /proc/self/fd | sort -n | tr "\n" " "; echo; cat <&3; cat <&4'
d_both "exec --preserve-fds 1 passes fd 3 only" exec --preserve-fds 1 vb /bin/sh -c 'cat <&3; cat <&4 2>/dev/null || echo closed'
d_both "exec without --preserve-fds closes fd 3" exec vb /bin/sh -c 'cat <&3 2>/dev/null || echo closed'

# --process FILE: the whole process from JSON (args, env, cwd, user, caps).
jq -n '{args:["/bin/sh","-c","echo $P; pwd; id; grep CapEff /proc/self/status"], env:["P=from-json","PATH=/bin"],
        cwd:"/tmp", user:{uid:1000,gid:1000,additionalGids:[2000]}, terminal:false,
        capabilities:{bounding:["CAP_KILL"],effective:["CAP_KILL"],permitted:["CAP_KILL"]}, noNewPrivileges:true}' >"$T_TMP/proc.json"
d_both "exec --process FILE" exec --process "$T_TMP/proc.json" vb
d_both "exec --process FILE ignores inline args" exec --process "$T_TMP/proc.json" vb /bin/false
jq '.args=["/nonexistent"]' "$T_TMP/proc.json" >"$T_TMP/proc2.json"
d_both "exec --process with a missing binary" exec --process "$T_TMP/proc2.json" vb
t_match "exec of a missing binary: runc's wording" "[Nn]o such file or directory" "$(cat "$T_TMP/e-test")"
d_both "exec of a missing binary (inline)" exec vb nosuchcmd
t_match "exec of a missing binary: wording" "executable file not found in \\\$PATH" "$(cat "$T_TMP/e-test")"
d_both "exec without a command" exec vb
d_both "exec --process of a missing file" exec --process "$T_TMP/nope.json" vb
t_match "exec --process missing file: says the path" "nope.json" "$(cat "$T_TMP/e-test")"

# --detach --pid-file: returns at once, the pid is a container process.
for w in ref test; do
  RR $w exec -d --pid-file "$T_TMP/xp-$w" vb /bin/sleep 77 >"$T_TMP/o-$w" 2>&1; echo $? >"$T_TMP/rc-$w"
done
d_same "exec -d --pid-file: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
d_same "exec -d: prints nothing" "$(cat "$T_TMP/o-ref")" "$(cat "$T_TMP/o-test")"
d_same "exec -d --pid-file format" "$(sed -E 's/[0-9]+/N/' "$T_TMP/xp-ref" | od -c | head -1)" "$(sed -E 's/[0-9]+/N/' "$T_TMP/xp-test" | od -c | head -1)"
for w in ref test; do eval "c_$w=\$(cat /proc/\$(cat $T_TMP/xp-$w)/cmdline 2>/dev/null | tr '\0' ' ')"; done
d_same "exec -d --pid-file: the pid runs the command" "$c_ref" "$c_test"
for w in ref test; do eval "n_$w=\$(readlink /proc/\$(cat $T_TMP/xp-$w)/ns/pid)"; eval "i_$w=\$(readlink /proc/\$(RR $w state vb | jq .pid)/ns/pid)"; done
t_eq "exec -d: in the init's pid namespace" "$i_test" "$n_test"
(cd "$T_TMP" && RR test exec -d --pid-file rel.pid vb /bin/true) >/dev/null 2>&1
t_match "exec --pid-file relative to the cwd" '^[0-9]+$' "$(cat "$T_TMP/rel.pid" 2>&1)"

# --- ps ---------------------------------------------------------------------------
ps_cmds() { awk 'NR>1 {for (i=8;i<=NF;i++) printf "%s%s", $i, (i<NF?" ":"\n")}' | sort; }
for w in ref test; do RR $w ps vb >"$T_TMP/ps-$w" 2>&1; done
d_same "ps: header" "$(head -1 "$T_TMP/ps-ref" | tr -s ' ')" "$(head -1 "$T_TMP/ps-test" | tr -s ' ')"
d_same "ps: commands" "$(ps_cmds <"$T_TMP/ps-ref")" "$(ps_cmds <"$T_TMP/ps-test")"
d_same "ps: UID column" "$(awk 'NR>1{print $1}' "$T_TMP/ps-ref" | sort)" "$(awk 'NR>1{print $1}' "$T_TMP/ps-test" | sort)"
for w in ref test; do RR $w ps --format json vb >"$T_TMP/pj-$w" 2>&1; done
d_same "ps --format json: an array of numbers, as many" "$(jq -c 'map(type)' "$T_TMP/pj-ref" 2>&1)" "$(jq -c 'map(type)' "$T_TMP/pj-test" 2>&1)"
t_eq "ps --format json: the init's pid is listed" true "$(jq --argjson p "$(RR test state vb | jq .pid)" 'index($p) != null' "$T_TMP/pj-test" 2>&1)"
d_same "ps --format json: same as ps -f json" "$(RR ref ps -f json vb | jq length)" "$(RR test ps -f json vb | jq length)"
for w in ref test; do RR $w ps vb -o pid,comm >"$T_TMP/o-$w" 2>&1; done
d_same "ps with ps(1) options (-o pid,comm): header" "$(head -1 "$T_TMP/o-ref")" "$(head -1 "$T_TMP/o-test")"
d_same "ps -o pid,comm: commands" "$(awk 'NR>1{print $2}' "$T_TMP/o-ref" | sort)" "$(awk 'NR>1{print $2}' "$T_TMP/o-test" | sort)"
for w in ref test; do RR $w ps vb -o comm >"$T_TMP/o-$w" 2>"$T_TMP/e-$w"; echo $? >"$T_TMP/rc-$w"; done
d_same "ps -o without a PID column: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
t_match "ps -o without a PID column: wording" "couldn't find PID field in ps output" "$(cat "$T_TMP/e-test")"
d_both "ps --format bogus" ps --format bogus vb

# --- update, read back from the cgroup ------------------------------------------------
cgv() { # cgv SIDE CONTROLLER FILE: a v1 file of the container's cgroup
  cat "/sys/fs/cgroup/$2$T_CGROUP_PARENT/diff-$$-vb-$1/$3" 2>/dev/null || echo "(none)"
}
upd() { # upd NAME "FILES" ARGS...: update on both sides, then compare each controller/file
  local n=$1 files=$2; shift 2
  d_both "update $n" update "$@" vb
  local f; for f in $files; do d_same "update $n: $f" "$(cgv ref ${f%%/*} ${f#*/})" "$(cgv test ${f%%/*} ${f#*/})"; done
}
upd "--memory 64M" "memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes" --memory 67108864
upd "--memory-reservation" "memory/memory.soft_limit_in_bytes" --memory-reservation 33554432
upd "--memory --memory-swap" "memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes" --memory 100663296 --memory-swap 134217728
upd "--pids-limit" "pids/pids.max" --pids-limit 123
upd "--cpu-quota --cpu-period" "cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us" --cpu-period 100000 --cpu-quota 25000
upd "--cpu-quota alone" "cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us" --cpu-quota 50000
upd "--cpu-share" "cpu/cpu.shares" --cpu-share 512
upd "--cpuset-cpus" "cpuset/cpuset.cpus" --cpuset-cpus 0
upd "--blkio-weight" "blkio/blkio.weight blkio/blkio.bfq.weight" --blkio-weight 300
jq -n '{memory:{limit:50331648}, cpu:{shares:256, quota:30000, period:60000}, pids:{limit:55}}' >"$T_TMP/res.json"
for w in ref test; do RR $w update --resources - vb <"$T_TMP/res.json" >/dev/null 2>"$T_TMP/e-$w"; echo $? >"$T_TMP/rc-$w"; done
d_same "update --resources -: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
for f in memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us pids/pids.max; do
  d_same "update --resources -: $f" "$(cgv ref ${f%%/*} ${f#*/})" "$(cgv test ${f%%/*} ${f#*/})"
done
t_eq "update --resources -: the value is really there" 55 "$(cgv test pids pids.max)"
d_both "update with a bad value" update --memory notanumber vb
d_both "update --resources with malformed JSON" update --resources "$T_TMP/proc.json.bad" vb
echo '{bad' >"$T_TMP/bad.json"
d_both "update --resources of a malformed file" update --resources "$T_TMP/bad.json" vb

# --- events --stats -------------------------------------------------------------------
# The shape of one stats event: every leaf path (array indexes collapsed) with its type;
# memory.cache and cpu.throttling are omitempty on values of the moment (page
# cache, periods with activity): left out; blkio is compared below.
ev_shape() { jq -c 'if type=="object" then del(.cache, .throttling) else . end | [paths(scalars) as $p | [($p | map(if type=="number" then "[]" else . end) | join(".")), (getpath($p)|type)]] | unique' 2>&1; }
for w in ref test; do
  timeout 10 "$([ $w = ref ] && echo "$REF" || echo "$RUNTIME")" --root "$T_TMP/root-$w" events --stats vb >"$T_TMP/ev-$w" 2>&1; echo $? >"$T_TMP/rc-$w"
done
d_same "events --stats: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
d_same "events --stats: one line" "$(wc -l <"$T_TMP/ev-ref")" "$(wc -l <"$T_TMP/ev-test")"
d_same "events --stats: top level" "$(jq -c '[keys, .type, .id]' "$T_TMP/ev-ref" 2>&1)" "$(jq -c '[keys, .type, .id]' "$T_TMP/ev-test" 2>&1)"
for sec in cpu cpuset memory pids hugetlb intel_rdt network_interfaces; do
  d_same "events --stats: .data.$sec keys and types" \
    "$(jq -c ".data.\"$sec\"" "$T_TMP/ev-ref" | ev_shape)" "$(jq -c ".data.\"$sec\"" "$T_TMP/ev-test" | ev_shape)"
done
# blkio: which entries exist depends on the I/O done; their form does not.
blk_form='[.data.blkio | to_entries[] | .key as $k | .value[] | [$k, (keys - ["major","minor","op","value"] | length), (.op|type)]] | unique | map(select(.[1] != 0 or .[2] != "string"))'
t_eq "events --stats: blkio entries are runc's {major,minor,op,value}" "[]" "$(jq -c "$blk_form" "$T_TMP/ev-test" 2>&1)"
t_eq "events --stats: blkio lists only runc's keys" "[]" \
  "$(jq -c '.data.blkio | keys - ["ioServiceBytesRecursive","ioServicedRecursive","ioQueueRecursive","ioServiceTimeRecursive","ioWaitTimeRecursive","ioMergedRecursive","ioTimeRecursive","sectorsRecursive"]' "$T_TMP/ev-test" 2>&1)"
t_eq "events --stats: memory limit as updated" 50331648 "$(jq '.data.memory.usage.limit' "$T_TMP/ev-test" 2>&1)"
t_eq "events --stats: pids limit as updated" 55 "$(jq '.data.pids.limit' "$T_TMP/ev-test" 2>&1)"

d_both "update --pids-limit -1 (unlimited)" update --pids-limit -1 vb
d_same "update --pids-limit -1: pids.max" "$(cgv ref pids pids.max)" "$(cgv test pids pids.max)"
for w in ref test; do
  timeout 10 "$([ $w = ref ] && echo "$REF" || echo "$RUNTIME")" --root "$T_TMP/root-$w" events --stats vb >"$T_TMP/ev-$w" 2>&1
done
d_same "events --stats after --pids-limit -1: pids section" "$(jq -c '.data.pids|keys' "$T_TMP/ev-ref" 2>&1)" "$(jq -c '.data.pids|keys' "$T_TMP/ev-test" 2>&1)"

d_both "update without any flag" update vb
d_rc "update without an id" update --pids-limit 5
d_both "update of a missing container" update --pids-limit 5 nosuch
d_both "update --memory with a unit suffix" update --memory 64M vb
d_same "update --memory 64M: memory.limit_in_bytes" "$(cgv ref memory memory.limit_in_bytes)" "$(cgv test memory memory.limit_in_bytes)"

# --- pause / resume ---------------------------------------------------------------------
for w in ref test; do RR $w pause vb; done
d_same "paused: state.status" "$(RR ref state vb | jq -r .status)" "$(RR test state vb | jq -r .status)"
d_same "paused: list STATUS column" "$(RR ref list | awk 'NR>1{print $3}')" "$(RR test list | awk 'NR>1{print $3}')"
d_both "pause of a paused container" pause vb
d_both "exec into a paused container" exec vb /bin/true
t_match "exec into paused: wording" "cannot exec in a paused container \\(use --ignore-paused to override\\)" "$(cat "$T_TMP/e-test")"
for w in ref test; do RR $w ps --format json vb >"$T_TMP/o-$w" 2>&1; done
d_same "ps of a paused container: as many pids" "$(jq length "$T_TMP/o-ref" 2>&1)" "$(jq length "$T_TMP/o-test" 2>&1)"
for w in ref test; do eval "fz_$w=\$(cat /sys/fs/cgroup/freezer$T_CGROUP_PARENT/diff-$$-vb-$w/freezer.state 2>/dev/null)"; done
d_same "paused: freezer.state" "$fz_ref" "$fz_test"
d_both "resume" resume vb
d_same "resumed: state.status" "$(RR ref state vb | jq -r .status)" "$(RR test state vb | jq -r .status)"
d_both "resume of a running container" resume vb
for w in ref test; do eval "fz_$w=\$(cat /sys/fs/cgroup/freezer$T_CGROUP_PARENT/diff-$$-vb-$w/freezer.state 2>/dev/null)"; done
d_same "resumed: freezer.state" "$fz_ref" "$fz_test"

d_both "events --stats of a missing container" events --stats nosuch
d_rc "events without an id" events --stats
d_rc "ps without an id" ps
d_rc "kill without an id" kill

# --- kill ---------------------------------------------------------------------------------
for w in ref test; do RR $w exec -d vb /bin/sleep 500; RR $w exec -d vb /bin/sh -c 'trap "" TERM; sleep 600'; done
d_both "kill (default signal) of the init" kill vb
for w in ref test; do d_wait_status $w vb stopped; done
d_same "kill (default SIGTERM): state" "$(RR ref state vb | jq -r .status)" "$(RR test state vb | jq -r .status)"
sleep 0.3
d_same "processes left in the cgroup after the init died (pid ns: none)" \
  "$(wc -l </sys/fs/cgroup/pids$T_CGROUP_PARENT/diff-$$-vb-ref/cgroup.procs 2>/dev/null)" \
  "$(wc -l </sys/fs/cgroup/pids$T_CGROUP_PARENT/diff-$$-vb-test/cgroup.procs 2>/dev/null)"
d_both "kill --all of a stopped container" kill --all vb KILL
d_both "kill of a stopped container" kill vb KILL
for w in ref test; do RR $w delete vb >/dev/null 2>&1; done

# kill --all where the init shares the host pid namespace: every process gets it.
d_pair ka /bin/sleep 1000
d_cfg2 ka '.linux.namespaces |= map(select(.type!="pid"))'
d_cleanup ka
for w in ref test; do RR $w run -d -b "$T_TMP/ka/$w" ka >/dev/null 2>&1 </dev/null; RR $w exec -d ka /bin/sleep 501; done
d_both "kill --all (no pid namespace) TERM" kill --all ka TERM
for w in ref test; do d_wait_status $w ka stopped; done
sleep 0.5
d_same "kill --all: nothing left in the cgroup" \
  "$(wc -l </sys/fs/cgroup/pids$T_CGROUP_PARENT/diff-$$-ka-ref/cgroup.procs 2>/dev/null)" \
  "$(wc -l </sys/fs/cgroup/pids$T_CGROUP_PARENT/diff-$$-ka-test/cgroup.procs 2>/dev/null)"
d_both "kill -a with a numeric signal on a stopped container" kill -a ka 9
t_done
