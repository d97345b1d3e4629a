#!/bin/bash
# The README's demo, for a fresh Debian machine (as root): installs the build
# and test dependencies (.ci/deps), builds capsule-runc into build/, makes a
# busybox bundle in build/demo-bundle and runs a container with it — its state
# while it runs, a process listing from inside, and the exit code.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "run as root: sudo bash $0" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing dependencies (.ci/deps)"
"$src/.ci/deps"

build=${DEMO_BUILD:-$src/build}
say "building capsule-runc (cmake, $build)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target capsule-runc >/dev/null
RT=$build/cmd/capsule-runc
"$RT" --version

say "preparing a busybox bundle (build/demo-bundle)"
B=$build/demo-bundle
rm -rf "$B"
mkdir -p "$B/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp "$(command -v busybox)" "$B/rootfs/bin/busybox"
for a in $("$B/rootfs/bin/busybox" --list); do [ -e "$B/rootfs/bin/$a" ] || ln -s busybox "$B/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$B/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$B/rootfs/etc/group"
(cd "$B" && "$RT" spec)
jq '.process.terminal=false | .hostname="demo" | .linux.cgroupsPath="/capsule-demo/demo"
    | .linux.resources={"memory":{"limit":67108864},"pids":{"limit":64}}
    | .process.args=["/bin/sh","-c","echo \"hello from $(hostname), pid $$\"; sleep 3; echo done; exit 7"]' \
   "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
echo "bundle: $B (config.json from 'capsule-runc spec', 64 MiB / 64 pids)"

ROOT=$build/demo-state
R() { "$RT" --root "$ROOT" "$@"; }
R delete -f demo >/dev/null 2>&1 || true

say "create + start"
R create -b "$B" demo
R start demo
say "state while it runs"
R state demo
say "processes inside (capsule-runc exec demo ps)"
R exec demo ps -o pid,user,args
say "capsule-runc list"
R list
while [ "$(R state demo | jq -r .status)" = running ]; do sleep 0.2; done
R delete demo

say "run (foreground): the exit code comes back"
rc=0; R run -b "$B" demo || rc=$?
echo "exit code: $rc"
