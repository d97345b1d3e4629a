# Shared helpers for shell tests.  Source it: . "$CAPSULE_SRC/tests/lib.sh"
# Each check prints "ok - name" / "not ok - name"; t_done prints
# "N passed, N failed, N skipped" and exits 1 on any failure, 77 if every
# check was skipped (ctest then reports the test as skipped).
set -u
: "${CAPSULE_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${CAPSULE_BUILD:=$CAPSULE_SRC/build}"
RUNTIME="${RUNTIME:-$CAPSULE_BUILD/cmd/capsule-runc}"
T_PASS=0 T_FAIL=0 T_SKIP=0
T_TMP=$(mktemp -d /tmp/capsule-test.XXXXXX)
T_CLEANUPS=()
t_on_exit() { local i; for ((i=${#T_CLEANUPS[@]}-1; i>=0; i--)); do eval "${T_CLEANUPS[$i]}" >/dev/null 2>&1 || true; done; rm -rf "$T_TMP"; }
trap t_on_exit EXIT
t_cleanup() { T_CLEANUPS+=("$*"); }

t_pass() { T_PASS=$((T_PASS+1)); echo "ok - $*"; }
t_fail() { T_FAIL=$((T_FAIL+1)); echo "not ok - $*"; }
t_skip() { T_SKIP=$((T_SKIP+1)); echo "SKIP: $*"; }
# t_ok NAME CMD...: passes if CMD exits 0
t_ok() { local n=$1; shift; if "$@" >"$T_TMP/out" 2>&1; then t_pass "$n"; else t_fail "$n"; sed 's/^/    /' "$T_TMP/out" | head -20; fi; }
# t_fails NAME CMD...: passes if CMD exits non-zero
t_fails() { local n=$1; shift; if "$@" >"$T_TMP/out" 2>&1; then t_fail "$n (unexpectedly succeeded)"; sed 's/^/    /' "$T_TMP/out" | head -20; else t_pass "$n"; fi; }
# t_eq NAME EXPECTED ACTUAL
t_eq() { if [ "$2" == "$3" ]; then t_pass "$1"; else t_fail "$1: expected [$2] got [$3]"; fi; }
# t_match NAME REGEX ACTUAL
t_match() { if [[ "$3" =~ $2 ]]; then t_pass "$1"; else t_fail "$1: [$3] does not match /$2/"; fi; }
t_done() {
  echo "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
  [ "$T_FAIL" -eq 0 ] || exit 1
  if [ "$T_PASS" -eq 0 ] && [ "$T_SKIP" -gt 0 ]; then exit 77; fi
  exit 0
}
# Skip the whole test file.
t_skip_all() { echo "SKIP: $*"; echo "0 passed, 0 failed, 1 skipped"; exit 77; }
t_need_root() { [ "$(id -u)" = 0 ] || t_skip_all "needs root"; }
t_need_cmd() { local c; for c in "$@"; do command -v "$c" >/dev/null 2>&1 || t_skip_all "needs $c"; done; }

# A unique id and a cgroup parent beside (never under) this shell's own cgroup.
t_id() { echo "t$$-$1-$RANDOM"; }
T_CGROUP_PARENT=/capsule-test

# mk_rootfs DIR: a busybox-static rootfs with applet symlinks and /etc files.
mk_rootfs() {
  local r=$1 bb
  bb=$(command -v busybox) || return 1
  mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,root,workspace,usr/bin,var/run}
  cp "$bb" "$r/bin/busybox"
  local a; for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\nuser:x:1000:1000:user:/:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nextra:x:2000:user\n' >"$r/etc/group"
  echo 'nameserver 127.0.0.1' >"$r/etc/resolv.conf"
}
# Cached rootfs shared by tests in one build (read-only use only).
shared_rootfs() {
  local r="$CAPSULE_BUILD/test-rootfs"
  if [ ! -x "$r/bin/sh" ]; then
    local tmp; tmp=$(mktemp -d "$CAPSULE_BUILD/.rootfs.XXXXXX")
    mk_rootfs "$tmp" && mv -T "$tmp" "$r" 2>/dev/null || rm -rf "$tmp"
  fi
  echo "$r"
}
# mk_bundle DIR [args...]: bundle with config from `capsule-runc spec`,
# rootfs copied (so tests may write), process.args set, cgroupsPath beside us.
mk_bundle() {
  local b=$1; shift
  mkdir -p "$b"
  mk_rootfs "$b/rootfs"
  (cd "$b" && "$RUNTIME" spec) || return 1
  local args='["/bin/true"]'
  [ $# -gt 0 ] && args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
  jq --argjson a "$args" --arg cg "$T_CGROUP_PARENT/$(basename "$b")-$RANDOM" \
     '.process.args=$a | .process.terminal=false | .linux.cgroupsPath=$cg' "$b/config.json" >"$b/c.tmp" && mv "$b/c.tmp" "$b/config.json"
}
# cfg_set BUNDLE JQ-EXPR [jq args...]: edit config.json in place.
cfg_set() { local b=$1 e=$2; shift 2; jq "$@" "$e" "$b/config.json" >"$b/c.tmp" && mv "$b/c.tmp" "$b/config.json"; }
