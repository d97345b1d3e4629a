#!/bin/bash
# Differential: exit status and wording of the errors clients match on —
# missing container, duplicate create, kill of a stopped container, delete of
# a running one, start twice, invalid id, bad or missing config.json, and the
# JSON error line written to --log with --log-format json.
. "$CAPSULE_SRC/tests/differential/common.sh"

# d_err NAME PHRASE CMD-ARGS...: run the verb on both sides; same exit status,
# and the phrase that runc prints must be in the runtime's stderr too.
d_err() {
  local n=$1 phrase=$2; shift 2
  local w; for w in ref test; do
    RR $w "$@" >"$T_TMP/o-$w" 2>"$T_TMP/e-$w"; echo $? >"$T_TMP/rc-$w"
  done
  d_same "$n: exit status" "$(cat "$T_TMP/rc-ref")" "$(cat "$T_TMP/rc-test")"
  if [ "$phrase" = - ]; then   # no fixed wording: any one-line message
    if [ -s "$T_TMP/e-test" ]; then t_pass "$n: an error message ($(head -c 120 "$T_TMP/e-test"))"; else t_fail "$n: no error message"; fi
  elif ! grep -qiF -- "$phrase" "$T_TMP/e-ref"; then
    t_fail "$n: runc's own message lacks [$phrase]: $(head -c 300 "$T_TMP/e-ref")"
  elif grep -qiF -- "$phrase" "$T_TMP/e-test"; then
    t_pass "$n: wording contains [$phrase]"
  else
    t_fail "$n: wording: runc said [$(head -c 200 "$T_TMP/e-ref")], runtime said [$(head -c 200 "$T_TMP/e-test")]"
  fi
  [ -s "$T_TMP/o-test" ] && [ ! -s "$T_TMP/o-ref" ] && t_fail "$n: runtime printed to stdout: $(head -c 200 "$T_TMP/o-test")"
  return 0
}

d_err "state of a missing container" "does not exist" state nosuch
d_err "kill of a missing container" "does not exist" kill nosuch KILL
d_err "delete of a missing container" "does not exist" delete nosuch
d_err "start of a missing container" "does not exist" start nosuch
d_err "exec in a missing container" "does not exist" exec nosuch /bin/true
d_err "pause of a missing container" "does not exist" pause nosuch
d_err "ps of a missing container" "does not exist" ps nosuch
for w in ref test; do RR $w delete -f nosuch >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "delete -f of a missing container: exit status" "$rc_ref" "$rc_test"

d_pair er /bin/sleep 1000
d_cleanup er
d_cleanup er2
for w in ref test; do RR $w create -b "$T_TMP/er/$w" er >/dev/null 2>&1; done
d_err "duplicate create" "already exists" create -b "$T_TMP/er/ref" er
for w in ref test; do RR $w start er; done
d_err "start of a running container" "cannot start" start er
d_err "delete of a running container" "not stopped" delete er
d_err "resume of a running container" "not paused" resume er
for w in ref test; do RR $w kill er KILL; d_wait_status $w er stopped; done
d_err "kill of a stopped container" "container not running" kill er TERM
d_err "exec in a stopped container" "cannot exec" exec er /bin/true
d_err "start of a stopped container" "cannot start a container that has stopped" start er
d_err "pause of a stopped container" "not running" pause er
d_err "kill with an unknown signal" "unknown signal" kill er SIGNOPE

d_err "invalid container id (slash)" "invalid container id" create -b "$T_TMP/er/ref" 'bad/id'
d_err "invalid container id (colon)" "invalid container id" create -b "$T_TMP/er/ref" 'a..b:'
d_err "invalid container id (space)" "invalid container id" create -b "$T_TMP/er/ref" 'a b'

mkdir -p "$T_TMP/bad"
echo '{bad' >"$T_TMP/bad/config.json"
d_err "malformed config.json" - create -b "$T_TMP/bad" er2
d_err "missing bundle dir" "no such file or directory" create -b "$T_TMP/nonexistent" er2
mkdir -p "$T_TMP/nocfg"
d_err "bundle without config.json" "config.json" create -b "$T_TMP/nocfg" er2
for w in ref test; do RR $w state er2 >/dev/null 2>&1; eval "rc_$w=\$?"; done
d_same "failed create leaves no container behind" "$rc_ref" "$rc_test"

# --systemd-cgroup on a host without systemd as init: runc refuses to create
# (no systemd cgroup manager); so must we, instead of quietly using cgroupfs.
if [ -d /run/systemd/system ]; then
  t_skip "--systemd-cgroup refusal: systemd runs on this host"
else
  d_pair sd /bin/true
  d_cfg2 sd '.linux.cgroupsPath="capsule_test.slice:diff:sd"'
  d_cleanup sd
  for v in run create; do
    d_err "--systemd-cgroup $v without systemd" "systemd not running on this host, cannot use systemd cgroups manager" \
      --systemd-cgroup $v -b "$T_TMP/sd/ref" sd
    for w in ref test; do RR $w state sd >/dev/null 2>&1; eval "rc_$w=\$?"; done
    d_same "--systemd-cgroup $v refused: no container left" "$rc_ref" "$rc_test"
  done
  t_eq "--systemd-cgroup refused: no cgroup made" absent \
    "$([ -e /sys/fs/cgroup/pids/capsule_test.slice ] || [ -e /sys/fs/cgroup/unified/capsule_test.slice ] && echo present || echo absent)"
  d_err "--systemd-cgroup state (no cgroup manager needed)" "does not exist" --systemd-cgroup state sd
fi

# --log FILE --log-format json: one JSON object per error with level/msg/time.
for w in ref test; do
  : >"$T_TMP/log-$w"
  RR $w --log "$T_TMP/log-$w" --log-format json state nosuch >/dev/null 2>&1
done
jl() { jq -c -s 'map(select(.level=="error")) | .[-1] | {level, has_time: (.time|type=="string"), msg: (.msg|test("does not exist"))}' "$1" 2>&1; }
d_same "--log-format json error line" "$(jl "$T_TMP/log-ref")" "$(jl "$T_TMP/log-test")"
t_match "json log time is RFC 3339" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}' "$(jq -r -s 'map(select(.level=="error"))[-1].time' "$T_TMP/log-test" 2>&1)"
t_done
