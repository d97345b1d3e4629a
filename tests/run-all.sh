#!/bin/bash
# The full test suite: install dependencies, build (normal and ASan+UBSan),
# run every test with ctest.  Run as root on a Debian machine.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/.ci/deps"
jobs=$(nproc)

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

build "$src/build"
build "$src/build-asan" -DCAPSULE_SANITIZE=ON

rc=0
echo "== ASan+UBSan build =="
(cd "$src/build-asan" && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure --no-label-summary -j1 -L sanitize) || rc=1
echo "== full suite =="
(cd "$src/build" && ctest --output-on-failure --no-label-summary -j1) || rc=1
exit $rc
