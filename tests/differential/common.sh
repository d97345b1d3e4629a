# shellcheck shell=bash
# Helpers for differential tests: the same bundle under the reference runtime
# (runc) and under $RUNTIME, each with its own --root, outputs compared after
# normalising what legitimately differs (bundle dir, cgroup name, pids, inodes).
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox diff
REF=${REF_RUNTIME:-$(command -v runc || true)}
[ -n "$REF" ] && [ -x "$REF" ] || t_skip_all "reference runtime runc not installed (apt-get install runc)"
[ -x "$RUNTIME" ] || t_skip_all "runtime under test not built: $RUNTIME"
echo "# reference: $REF ($("$REF" --version 2>/dev/null | head -1))"
echo "# under test: $RUNTIME"

# RR ref|test ARGS...: the reference or the tested runtime, own state root.
RR() {
  local w=$1; shift
  if [ "$w" = ref ]; then "$REF" --root "$T_TMP/root-ref" "$@"; else "$RUNTIME" --root "$T_TMP/root-test" "$@"; fi
}

# d_pair NAME ARGS...: two identical bundles $T_TMP/NAME/{ref,test}; the config
# is what the reference runtime's `spec` writes (so both get the same input),
# with process.args, no terminal and a cgroupsPath under /capsule-test.
d_pair() {
  local n=$1; shift
  local args='["/bin/true"]'
  if [ $# -gt 0 ]; then args='[]'; local a; for a in "$@"; do args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args"); done; fi
  mkdir -p "$T_TMP/$n/ref"
  mk_rootfs "$T_TMP/$n/ref/rootfs" || return 1
  (cd "$T_TMP/$n/ref" && "$REF" spec) || return 1
  jq --argjson a "$args" '.process.args=$a | .process.terminal=false' \
     "$T_TMP/$n/ref/config.json" >"$T_TMP/$n/c.tmp" && mv "$T_TMP/$n/c.tmp" "$T_TMP/$n/ref/config.json"
  cp -a "$T_TMP/$n/ref" "$T_TMP/$n/test"
  local w; for w in ref test; do
    d_cfg "$n" "$w" '.linux.cgroupsPath=$cg' --arg cg "$T_CGROUP_PARENT/diff-$$-$n-$w"
  done
}
# d_cfg NAME ref|test JQ [jq args]: edit one side; d_cfg2 edits both.
d_cfg() { local n=$1 w=$2 e=$3; shift 3; cfg_set "$T_TMP/$n/$w" "$e" "$@"; }
d_cfg2() { local n=$1; shift; d_cfg "$n" ref "$@" && d_cfg "$n" test "$@"; }

# d_norm: replace per-side names so outputs can be compared byte for byte.
d_norm() {
  sed -E -e "s#$T_TMP/[A-Za-z0-9_.-]+/(ref|test)#<BUNDLE>#g" \
         -e "s#diff-[0-9]+-[A-Za-z0-9_.-]+-(ref|test)#<CG>#g" \
         -e "s#root-(ref|test)#<ROOT>#g"
}

# d_same NAME REF-TEXT TEST-TEXT: one check; a unified diff when they differ.
d_same() {
  if [ "$2" == "$3" ]; then t_pass "$1"; return 0; fi
  t_fail "$1 (--- runc, +++ runtime under test)"
  diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3 | head -40 | sed 's/^/    /'
  return 1
}

# d_cleanup NAME ID: force-delete ID on both sides at exit.
d_cleanup() { t_cleanup "RR ref delete -f $1"; t_cleanup "RR test delete -f $1"; }

# d_wait_status ref|test ID STATUS: poll state for up to 5 s.
d_wait_status() {
  local i; for i in $(seq 50); do
    [ "$(RR "$1" state "$2" 2>/dev/null | jq -r .status)" = "$3" ] && return 0; sleep 0.1
  done; return 1
}
