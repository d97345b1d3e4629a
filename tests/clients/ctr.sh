#!/bin/bash
# containerd + ctr with $RUNTIME as the runc binary of the io.containerd.runc.v2
# shim: run to completion, exit codes, exec (plain and --tty), kill, pause/
# resume, metrics, run -t with a pty, and the runc command lines the shim uses.
# A private containerd (own root/state/socket/config under $T_TMP) is started
# and stopped here; the system one is never touched.
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/clients/image.sh"
t_need_root
t_need_cmd containerd ctr containerd-shim-runc-v2 umoci skopeo script jq busybox
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
mkdir -p "$CAPSULE_BUILD"
client_image || t_skip_all "could not build the busybox image (umoci/skopeo)"

D=$T_TMP/ctrd
mkdir -p "$D"
cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[debug]
  address = "$D/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
EOC
containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CTRD_PID=$!
t_cleanup "kill $CTRD_PID; sleep 0.5; kill -9 $CTRD_PID"
NS=capsule-test
C() { ctr --address "$D/containerd.sock" -n "$NS" "$@"; }
for i in $(seq 100); do C version >/dev/null 2>&1 && break; sleep 0.1; done
C version >/dev/null 2>&1 || { tail -20 "$D/containerd.log"; t_skip_all "private containerd did not start"; }
echo "# containerd $(containerd --version | awk '{print $3}'), runtime $RUNTIME"

WRAP=$(client_wrap_runtime "$D/wrap")
CALLS=$D/wrap/calls.log
t_ok "ctr image import (docker-archive built by umoci+skopeo)" C images import "$CLIENT_IMG_DIR/busybox.tar"
IMG=$CLIENT_IMG_REF
t_match "image listed" "capsule-test/busybox" "$(C images ls -q)"

# Every task gets its cgroup under /capsule-test (beside our own cgroup).
RROOT=$D/runc-root   # the runtime's --root, private too
RUN() { local id=$1; shift; C run --runc-binary "$WRAP" --runc-root "$RROOT" --cgroup "$T_CGROUP_PARENT/ctr-$id-$$" "$@"; }
task_cleanup() { t_cleanup "C task kill -s KILL $1; sleep 0.3; C task rm -f $1; C containers rm $1"; }

# --- run to completion ------------------------------------------------------
out=$(RUN r1 --rm "$IMG" r1-$$ /bin/sh -c 'echo hello from ctr' 2>&1); rc=$?
t_eq "ctr run --rm: exit 0" 0 $rc
t_eq "ctr run --rm: output" "hello from ctr" "$out"
RUN r3 --rm "$IMG" r3-$$ /bin/sh -c 'exit 3' >/dev/null 2>&1; t_eq "ctr run: exit code 3 propagated" 3 $?
t_fails "ctr run --rm removed the container" C containers info r3-$$

# --- detached task: exec, pause/resume, metrics, kill -----------------------
id=d-$$
task_cleanup "$id"
t_ok "ctr run -d (detached task)" RUN d -d "$IMG" "$id" /bin/sleep 1000
t_match "task RUNNING" "$id +[0-9]+ +RUNNING" "$(C task ls)"
pid=$(C task ls | awk -v id="$id" '$1==id {print $2}')
t_eq "task pid is sleep on the host" sleep "$(cat /proc/$pid/comm 2>/dev/null)"
t_eq "runtime state lives under the --root the shim passed" yes "$([ -d "$RROOT/$NS/$id" ] && echo yes || echo no)"
out=$(C task exec --exec-id e1-$$ "$id" /bin/sh -c 'echo exec-out; exit 4' 2>&1); rc=$?
t_eq "ctr task exec: exit code 4" 4 $rc
t_eq "ctr task exec: output" exec-out "$out"
out=$(script -qec "ctr --address $D/containerd.sock -n $NS task exec --tty --exec-id e2-$$ $id /bin/sh -c 'tty; exit 6'" /dev/null 2>&1); rc=$?
t_match "ctr task exec --tty: has a pty" "/dev/pts/[0-9]+" "$out"
t_eq "ctr task exec --tty: exit code 6" 6 $rc
t_ok "ctr task pause" C task pause "$id"
t_match "task PAUSED" "$id +[0-9]+ +PAUSED" "$(C task ls)"
frz=$(cat "/sys/fs/cgroup/freezer$T_CGROUP_PARENT/ctr-d-$$/freezer.state" 2>/dev/null \
      || sed -n 's/^frozen 1$/FROZEN/p' "/sys/fs/cgroup$T_CGROUP_PARENT/ctr-d-$$/cgroup.events" 2>/dev/null)
t_eq "paused task's cgroup is frozen" FROZEN "$frz"
t_ok "ctr task resume" C task resume "$id"
t_match "task RUNNING after resume" "$id +[0-9]+ +RUNNING" "$(C task ls)"
t_match "ctr task metrics" "(memory|pids|cpu)" "$(C task metrics "$id" 2>&1)"
t_match "ctr task ps lists the pid" "\b$pid\b" "$(C task ps "$id" 2>&1)"
t_ok "ctr task kill -s KILL" C task kill -s KILL "$id"
for i in $(seq 50); do C task ls | grep -q "$id .*STOPPED" && break; sleep 0.1; done
t_match "task STOPPED after kill" "$id +[0-9]+ +STOPPED" "$(C task ls)"
t_ok "ctr task rm" C task rm "$id"
t_ok "ctr containers rm" C containers rm "$id"

# --- run -t with a console (pty via script) ---------------------------------
out=$(script -qec "ctr --address $D/containerd.sock -n $NS run --runc-binary $WRAP --runc-root $RROOT --cgroup $T_CGROUP_PARENT/ctr-t-$$ --rm -t $IMG t-$$ /bin/sh -c 'tty; stty size; exit 7'" /dev/null 2>&1); rc=$?
t_match "ctr run -t: the process has a pty" "/dev/(pts/[0-9]+|console)" "$out"
t_eq "ctr run -t: exit code 7" 7 $rc

# --- what the shim asked of the runtime --------------------------------------
t_match "shim: create with --log-format json, --bundle, --pid-file" \
  "--log-format json create --bundle [^ ]+ --pid-file [^ ]+" "$(grep ' create ' "$CALLS")"
t_match "shim: create -t passes --console-socket" "create --bundle [^ ]+ --pid-file [^ ]+ --console-socket " "$(grep ' create ' "$CALLS")"
t_match "shim: start" " start [^ ]+" "$(grep ' start ' "$CALLS")"
t_match "shim: exec --process --detach --pid-file" "exec --process [^ ]+ --detach --pid-file " "$(grep ' exec ' "$CALLS")"
t_match "shim: pause / resume" "pause.*resume" "$(grep -E ' (pause|resume) ' "$CALLS" | tr '\n' ' ')"
t_match "shim: kill" " kill [^ ]+ 9" "$(grep ' kill ' "$CALLS")"
t_match "shim: delete" " delete [^ ]+" "$(grep ' delete ' "$CALLS")"
echo "# distinct verbs the shim used: $(awk '{for(i=1;i<=NF;i++) if ($i !~ /^-/ && $(i-1) !~ /^--(root|log|log-format)$/) {print $i; break}}' "$CALLS" | sort | uniq -c | tr -s ' \n' ' ')"
grep -q 'level=error' "$D/containerd.log" && grep 'level=error' "$D/containerd.log" | tail -5 | sed 's/^/# containerd: /'
cp "$CALLS" "${CALLS_KEEP:-/dev/null}"
t_done
