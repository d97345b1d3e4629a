# Helpers for capsule tests: source after tests/lib.sh.
ATTACK="$CAPSULE_BUILD/tests/capsule/capsule-attack"
CROOT="$T_TMP/root"
R() { "$RUNTIME" --root "$CROOT" "$@"; }

# capsule_env_check: skip everything when this build cannot run capsules.
capsule_env_check() {
  t_need_root
  t_need_cmd jq busybox
  [ -x "$RUNTIME" ] || t_skip_all "no runtime at $RUNTIME"
  [ -x "$ATTACK" ] || t_skip_all "capsule-attack not built ($ATTACK)"
  # Hermetic: no node policy unless a test writes one.
  export CAPSULE_POLICY="$T_TMP/policy.json"
  local b="$T_TMP/probe"
  mk_bundle "$b" /bin/true >/dev/null 2>&1 || t_skip_all "cannot make a bundle"
  cfg_set "$b" '.annotations["capsule/agent"]="probe"'
  local out
  out=$(R run -b "$b" probe-$$ 2>&1)
  if [[ "$out" == *"not available in this build"* ]]; then
    t_skip_all "capsule mode is not wired into this runtime build (lib/capsule_glue.c)"
  fi
  R delete -f probe-$$ >/dev/null 2>&1
}

# capsule_bundle DIR ARGS...: a busybox bundle with capsule-attack and a capsule annotation.
capsule_bundle() {
  local b=$1; shift
  mk_bundle "$b" "$@" || return 1
  cp "$ATTACK" "$b/rootfs/bin/capsule-attack"
  cfg_set "$b" '.annotations["capsule/agent"]="test-agent"'
}

# audit_of ID: the capsule's audit log (no policy audit dir: beside the state dirs).
audit_of() { cat "$CROOT/.capsule-audit/$1.jsonl" 2>/dev/null; }

# refused NAME REGEX ID: create of bundle $B as ID fails with REGEX, is audited, leaves nothing.
refused() {
  local name=$1 re=$2 id=$3 out
  out=$(R create -b "$B" "$id" 2>&1)
  if [ $? -ne 0 ]; then t_match "$name: refused" "$re" "$out"; else t_fail "$name: refused (created)"; R delete -f "$id" >/dev/null 2>&1; fi
  t_fails "$name: nothing left behind" R state "$id"
  t_match "$name: audited" '"event":"admission".*"decision":"deny"' "$(audit_of "$id")"
}

# wait_stopped ID [SECONDS]: state says stopped within SECONDS (default 30).
wait_stopped() {
  local i n=$(( ${2:-30} * 20 ))
  for i in $(seq 1 $n); do
    [ "$(R state "$1" 2>/dev/null | jq -r .status)" = stopped ] && return 0
    sleep 0.05
  done
  return 1
}

# gone PID: the process exited (a zombie not yet reaped by pid 1 counts as gone).
gone() {
  local i st
  for i in $(seq 1 50); do
    st=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -z "$st" ] || [[ "$st" == Z* ]] && return 0
    sleep 0.1
  done
  return 1
}
