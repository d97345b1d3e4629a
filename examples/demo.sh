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
cmake --build "$build" -j"$(nproc)" --target capsule-runc capsule-hook capsule-proxy >/dev/null
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

# ---------------------------------------------------------------------------
# Part 2: the same runtime, now a capsule.  The "agent" writes its report in
# the ephemeral /workspace, fetches an allowed URL through capsule-proxy (a
# loopback web server started here), and is refused a URL outside its
# allow-list, a write to the rootfs and a new namespace; every decision lands
# in the hash-chained audit log, verified at the end.
say "a capsule: confinement + network containment"
work=$build/demo-capsule
rm -rf "$work"; mkdir -p "$work/www/ok" "$work/audit"
echo "hello from the allowed API" >"$work/www/ok/hello.txt"
echo "TOP SECRET" >"$work/www/secret.txt"
port=$((20000 + RANDOM % 20000))
busybox httpd -f -p 127.0.0.1:$port -h "$work/www" &
httpd=$!
trap 'kill $httpd 2>/dev/null || true' EXIT
# Node policy: the demo's audit dir, and loopback allowed in egress rules.
printf '{ "directories": { "audit": "%s", "killswitch": "%s" }, "egress": { "allow_private": ["127.0.0.0/8", "::1/128"] } }\n' \
  "$work/audit" "$work/killswitch" >"$work/policy.json"
export CAPSULE_POLICY=$work/policy.json
cat >"$B/rootfs/agent.sh" <<'AGENT'
#!/bin/sh
echo "[agent] working in /workspace as $(id -un)"
echo "report: $(date)" >/workspace/report.txt && echo "[agent] wrote /workspace/report.txt"
echo "[agent] GET /ok/hello.txt (allowed) -> $(wget -q -O- http://127.0.0.1:$PORT/ok/hello.txt 2>&1)"
echo "[agent] GET /secret.txt (not allowed) -> $(wget -q -O- http://127.0.0.1:$PORT/secret.txt 2>&1 || echo refused)"
echo "[agent] write /etc/passwd -> $( (echo x >>/etc/passwd) 2>&1 || true)"
echo "[agent] unshare -n -> $(unshare -n true 2>&1 || true)"
exit 0
AGENT
chmod +x "$B/rootfs/agent.sh"
jq --arg port "$port" '.process.args=["/agent.sh"] | .process.env += ["PORT=" + $port]
    | .linux.cgroupsPath="/capsule-demo/agent"
    | .annotations={"capsule/agent":"demo-agent","capsule/version":"1.0",
                    "capsule/egress.allow":("GET 127.0.0.1:" + $port + "/ok/*"),
                    "capsule/timeout":"1m","capsule/limits":"pids=64,memory=128Mi"}' \
   "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
R delete -f demo-agent >/dev/null 2>&1 || true
rc=0; R run -b "$B" demo-agent || rc=$?
echo "capsule exit code: $rc"
say "audit log of the capsule"
for f in "$work"/audit/*.jsonl; do cut -c1-160 "$f"; R audit verify "$f"; done

say "kill switch: a running capsule stopped from outside"
jq '.process.args=["/bin/sh","-c","while :; do sleep 1; done"] | .linux.cgroupsPath="/capsule-demo/looper"
    | .annotations={"capsule/agent":"demo-agent","capsule/version":"1.0","capsule/session":"demo-session"}' \
   "$B/config.json" >"$B/config.json.new" && mv "$B/config.json.new" "$B/config.json"
R delete -f demo-looper >/dev/null 2>&1 || true
R run -d -b "$B" demo-looper </dev/null >/dev/null 2>&1
echo "demo-looper: $(R state demo-looper | jq -r .status)"
t0=$EPOCHREALTIME
R killswitch --reason "demo" session demo-session
while [ "$(R state demo-looper | jq -r .status)" = running ]; do sleep 0.01; done
echo "demo-looper: $(R state demo-looper | jq -r .status) after $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
R killswitch lift session demo-session
R delete -f demo-looper
f=$work/audit/demo-looper.jsonl
[ -f "$f" ] && { grep -o '"event":"[a-z.-]*"' "$f" | tr '\n' ' '; echo; R audit verify "$f"; }
