# shellcheck shell=bash
# Preamble shared by the integration tests: tests/lib.sh, root, jq and
# busybox (plus what the test names), the runtime under test with a private
# state root (R), and a busybox bundle $B whose process runs ARGS.
#   it_setup "EXTRA-CMDS" ARGS...
. "$CAPSULE_SRC/tests/lib.sh"
ROOT=$T_TMP/root
B=$T_TMP/bundle
R() { "$RUNTIME" --root "$ROOT" "$@"; }
it_setup() {
  local extra=$1; shift
  t_need_root
  # shellcheck disable=SC2086 # a list of command names
  t_need_cmd jq busybox $extra
  [ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
  mk_bundle "$B" "$@"
}
