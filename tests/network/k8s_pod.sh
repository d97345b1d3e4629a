#!/bin/bash
# Kubernetes shape (SPEC §6), capsule mode, without containerd: config.json
# files shaped like the ones containerd's CRI plugin writes.  The pod netns is
# made by the test the way CNI does (a veth and a default route).
#  - the sandbox (pause, io.kubernetes.cri.container-type=sandbox, capsule/*
#    pod annotations passed through) owns the pin, rules, proxy, the pod's
#    concurrency slot, session and timeout;
#  - app containers join its netns by /proc/PID/ns/net: members only, the
#    pod's session, no second slot; one without any capsule annotation is
#    confined all the same (found by sandbox-id / netns);
#  - the pod's timeout stops app containers, never the sandbox; after it new
#    app containers are refused (kubelet then backs off instead of recreating
#    the pod in a loop).
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/network/netlib.sh"
net_need
t_need_cmd busybox sha256sum
[ -x "$HOOK" ] || t_skip_all "capsule-hook not built"
[ -x "$CAPSULE_BUILD/hooks/proxy/capsule-proxy" ] || t_skip_all "capsule-proxy not built"
[ -x "$RUNTIME" ] || t_skip_all "capsule-runc not built"

P=capsuletest-$$-pod O=capsuletest-$$-o X=capsuletest-$$-x
net_pair "$P" "$O" || t_skip_all "cannot create veth pair"
ip netns add "$X" && t_cleanup "ip netns del $X"
bg "$O" $PY "$PROBE" serve-http 10.231.0.2 8080 "$T_TMP/http2.log"
bg "$O" $PY "$PROBE" serve-http 10.231.0.3 8080 "$T_TMP/http3.log"
wait_port "$O" 8080 || t_fail "test servers did not start"
touch "$T_TMP"/http{2,3}.log

mkdir -p "$T_TMP/audit"
printf '{"directories":{"audit":"%s"},"egress":{"allow_private":["10.231.0.0/24"]}}' "$T_TMP/audit" >"$T_TMP/policy.json"
export CAPSULE_POLICY=$T_TMP/policy.json CAPSULE_NETNS_DIR=$T_TMP/node
t_cleanup "rmdir /sys/fs/cgroup/*/capsule-proxy"
ROOT=$T_TMP/k8s.io   # like /run/containerd/runc/k8s.io
hexid() { echo "$1-$$-$RANDOM" | sha256sum | cut -c1-64; }
POD_UID=$(cat /proc/sys/kernel/random/uuid)
SID=$(hexid sandbox)
GROUP=k8s-$$
POD_TIMEOUT=15
KUBEPODS=/capsule-test/kubepods-$$/besteffort/pod$POD_UID
for d in /sys/fs/cgroup/*/; do
  t_cleanup "rmdir $d/capsule-test/kubepods-$$/besteffort $d/capsule-test/kubepods-$$"
  t_cleanup "rmdir $d/$KUBEPODS"
done
POD_ANN=$(jq -n -c --arg g "$GROUP=1" --arg t "${POD_TIMEOUT}s" \
  '{"capsule/egress.allow": "GET 10.231.0.2:8080/ok/*", "capsule/agent": "support-bot",
    "capsule/concurrency": $g, "capsule/timeout": $t}')

# containerd gives the pause process oomScoreAdj -998, which needs
# CAP_SYS_RESOURCE (some CI sandboxes drop it from everyone).
HAVE_SYS_RESOURCE=false
(( 0x$(grep CapEff /proc/self/status | cut -f2) >> 24 & 1 )) && HAVE_SYS_RESOURCE=true
# sandbox_bundle DIR ID NETNS-PATH: what containerd writes for RunPodSandbox.
sandbox_bundle() {
  mk_bundle "$1" /pause || return 1
  printf '#!/bin/sh\ntrap "exit 0" TERM INT\nwhile :; do sleep 3600; done\n' >"$1/rootfs/pause"
  chmod 755 "$1/rootfs/pause"
  cfg_set "$1" '.process.user = {"uid": 65535, "gid": 65535, "additionalGids": [65535]}
    | .process.cwd = "/" | .process.noNewPrivileges = true
    | if $oom then .process.oomScoreAdj = -998 else . end
    | .root.readonly = true | .hostname = "capsule-pod"
    | .linux.namespaces = [{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},
                           {"type":"network","path":$ns}]
    | .linux.cgroupsPath = ($kp + "/" + $id)
    | .annotations = ({"io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": $id, "io.kubernetes.cri.sandbox-name": "agent-pod",
        "io.kubernetes.cri.sandbox-namespace": "default", "io.kubernetes.cri.sandbox-uid": $uid,
        "io.kubernetes.cri.sandbox-log-directory": ("/var/log/pods/default_agent-pod_" + $uid)} + $ann)' \
    --arg id "$2" --arg ns "$3" --arg uid "$POD_UID" --arg kp "$KUBEPODS" --argjson ann "$POD_ANN" \
    --argjson oom "$HAVE_SYS_RESOURCE"
}
# app_bundle DIR ID SANDBOX-PID NAME ANNOTATIONS-JSON ARGS...: what containerd writes for CreateContainer.
app_bundle() {
  local b=$1 id=$2 spid=$3 name=$4 ann=$5; shift 5
  mk_bundle "$b" "$@" || return 1
  cfg_set "$b" '.root.readonly = false
    | .linux.namespaces = [{"type":"pid"},{"type":"ipc","path":("/proc/" + $sp + "/ns/ipc")},
        {"type":"uts","path":("/proc/" + $sp + "/ns/uts")},{"type":"mount"},
        {"type":"network","path":("/proc/" + $sp + "/ns/net")}]
    | .linux.cgroupsPath = ($kp + "/" + $id)
    | .annotations = ({"io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": $name, "io.kubernetes.cri.image-name": "docker.io/library/busybox:latest",
        "io.kubernetes.cri.sandbox-id": $sid, "io.kubernetes.cri.sandbox-name": "agent-pod",
        "io.kubernetes.cri.sandbox-namespace": "default", "io.kubernetes.cri.sandbox-uid": $uid} + $ann)' \
    --arg id "$id" --arg sp "$spid" --arg sid "$SID" --arg name "$name" --arg uid "$POD_UID" --arg kp "$KUBEPODS" \
    --argjson ann "$ann"
}
PROBE_SH='NAME=$1
r() { n=$1; shift; o=$("$@" 2>&1); echo "$n=$? $(echo $o | head -c 100)"; }
r proxy_allowed timeout 5 wget -q -O- http://10.231.0.2:8080/ok/$NAME
r transparent_allowed env -u http_proxy -u HTTP_PROXY timeout 5 wget -q -O- http://10.231.0.2:8080/ok/t-$NAME
r denied_host timeout 5 wget -q -O- http://10.231.0.3:8080/ok/$NAME
r write_root touch /written-$NAME
echo "capbnd=$(grep CapBnd /proc/self/status | cut -f2)"'

# --- the sandbox -----------------------------------------------------------
sandbox_bundle "$T_TMP/sb" "$SID" "/run/netns/$P" || t_skip_all "cannot make a bundle"
t_cleanup "$RUNTIME --root $ROOT delete -f $SID"
t_ok "sandbox create" timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/sb" "$SID"
t_ok "sandbox start" "$RUNTIME" --root "$ROOT" start "$SID"
SPID=$("$RUNTIME" --root "$ROOT" state "$SID" | jq -r .pid)
t_eq "sandbox owns the pod netns" owner "$(cat "$ROOT/$SID/net.role" 2>/dev/null)"
t_ok "sandbox recorded as the pod" test -s "$ROOT/$SID/pod.json"
PX=$(pidfile_pid "$ROOT/$SID/proxy.pid")
t_eq "the pod's proxy runs in the pod netns" "$(stat -L -c %i /run/netns/$P)" "$(stat -L -c %i /proc/$PX/ns/net 2>/dev/null)"
rules_before=$(ip netns exec "$P" nft list ruleset)
SESSION=$(jq -r .session "$ROOT/$SID/capsule.json")
t_eq "pod session defaults to the sandbox id" "$SID" "$SESSION"

# A second pod of the same concurrency group is refused: the slot is the pod's.
SID2=$(hexid sandbox2)
sandbox_bundle "$T_TMP/sb2" "$SID2" "/run/netns/$X"
t_cleanup "$RUNTIME --root $ROOT delete -f $SID2"
out=$(timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/sb2" "$SID2" 2>&1)
t_match "second pod in a full concurrency group refused" "concurrency|group" "$out"

# --- app container carrying the pod annotations (pod_annotations passthrough) -
A1=$(hexid app1)
app_bundle "$T_TMP/a1" "$A1" "$SPID" agent "$POD_ANN" sh /probe.sh a1 || t_fail "app bundle"
echo "$PROBE_SH" >"$T_TMP/a1/rootfs/probe.sh"
t_cleanup "$RUNTIME --root $ROOT delete -f $A1"
timeout 60 "$RUNTIME" --root "$ROOT" run -b "$T_TMP/a1" "$A1" >"$T_TMP/a1.out" 2>&1
t_eq "annotated app container runs (no second concurrency slot)" 0 "$?"
sed 's/^/    | /' "$T_TMP/a1.out"
res() { grep "^$2=" "$T_TMP/$1.out" | head -1 | sed "s/^$2=//"; }
t_match "app: allowed GET through the pod's proxy" "^0 HTTP-OK GET /ok/a1" "$(res a1 proxy_allowed)"
t_match "app: allowed GET transparently" "^0 HTTP-OK GET /ok/t-a1" "$(res a1 transparent_allowed)"
t_match "app: denied host fails" "^[1-9]" "$(res a1 denied_host)"
t_eq "app: one ruleset only (member)" "$rules_before" "$(ip netns exec "$P" nft list ruleset)"
t_eq "app: still one proxy" 1 "$(pgrep -f -- "^capsule-proxy .*--capsule-id $SID" | wc -l)"
t_eq "app: no proxy of its own" 0 "$(pgrep -f -- "capsule-id $A1" | wc -l)"
t_match "app: audited as a member of the pod netns" '"role":"member"' "$(cat "$T_TMP/audit/$A1.jsonl" 2>/dev/null)"
t_match "app: pod admission audited in the pod's log" '"pod-admission".*"decision":"allow"' "$(cat "$T_TMP/audit/$SID.jsonl")"
"$RUNTIME" --root "$ROOT" delete -f "$A1" >/dev/null 2>&1

# --- app container without any capsule annotation -----------------------------
A2=$(hexid app2)
app_bundle "$T_TMP/a2" "$A2" "$SPID" plain '{}' sh /probe.sh a2 || t_fail "app bundle"
echo "$PROBE_SH" >"$T_TMP/a2/rootfs/probe.sh"
t_cleanup "$RUNTIME --root $ROOT delete -f $A2"
# detached create: the container's stdio is the runtime's, here a2.out
timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/a2" "$A2" >"$T_TMP/a2.out" 2>&1
t_eq "unannotated app container created" 0 "$?"
t_ok "unannotated app is a capsule (capsule.json)" test -s "$ROOT/$A2/capsule.json"
t_eq "... in the pod's session" "$SESSION" "$(jq -r .session "$ROOT/$A2/capsule.json" 2>/dev/null)"
t_eq "... with the pod's agent" support-bot "$(jq -r .agent "$ROOT/$A2/capsule.json" 2>/dev/null)"
t_eq "... holding no concurrency slot" null "$(jq -c '.concurrency.group // null' "$ROOT/$A2/capsule.json" 2>/dev/null)"
t_match "... with what is left of the pod's time" "^([1-9]|1[0-5])$" "$(jq -r .timeout_s "$ROOT/$A2/capsule.json" 2>/dev/null)"
st2() { [ "$("$RUNTIME" --root "$ROOT" state "$A2" 2>/dev/null | jq -r .status)" = stopped ]; }
t_ok "unannotated app container start" "$RUNTIME" --root "$ROOT" start "$A2"
t_ok "unannotated app container ran" wait_for 30 st2
sed 's/^/    | /' "$T_TMP/a2.out"
t_match "unannotated app: allowed GET through the pod's proxy" "^0 HTTP-OK GET /ok/a2" "$(res a2 proxy_allowed)"
t_match "unannotated app: denied host fails" "^[1-9]" "$(res a2 denied_host)"
t_match "unannotated app: rootfs write fails" "^[1-9]" "$(res a2 write_root)"
cap=$(grep '^capbnd=' "$T_TMP/a2.out" | cut -d= -f2)
t_ok "unannotated app: no CAP_NET_RAW/NET_ADMIN/SYS_ADMIN in its bounding set" \
  test $(( (0x${cap:-ffffffff} >> 13 & 1) + (0x${cap:-ffffffff} >> 12 & 1) + (0x${cap:-ffffffff} >> 21 & 1) )) -eq 0
t_eq "denied host saw nothing" "" "$(cat "$T_TMP/http3.log")"
"$RUNTIME" --root "$ROOT" delete -f "$A2" >/dev/null 2>&1

# --- a container claiming the pod from another netns is refused -------------
A3=$(hexid app3)
app_bundle "$T_TMP/a3" "$A3" "$SPID" stray '{}' true
cfg_set "$T_TMP/a3" '.linux.namespaces |= map(if .type == "network" then .path = $ns else . end)' --arg ns "/run/netns/$X"
t_cleanup "$RUNTIME --root $ROOT delete -f $A3"
out=$(timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/a3" "$A3" 2>&1)
t_match "sandbox-id of a capsule pod but another netns: refused" "not in the pod's network namespace" "$out"

# --- the pod's timeout stops app containers, never the sandbox ---------------
A4=$(hexid app4)
app_bundle "$T_TMP/a4" "$A4" "$SPID" long "$POD_ANN" sh -c 'trap "exit 0" TERM; sleep 600 & wait'
t_cleanup "$RUNTIME --root $ROOT delete -f $A4"
t_ok "long-running app container create" timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/a4" "$A4"
t_ok "long-running app container start" "$RUNTIME" --root "$ROOT" start "$A4"
st4() { [ "$("$RUNTIME" --root "$ROOT" state "$A4" 2>/dev/null | jq -r .status)" = stopped ]; }
t_ok "the pod's timeout stops the app container" wait_for $((POD_TIMEOUT + 15)) st4
t_eq "the sandbox is still running" running "$("$RUNTIME" --root "$ROOT" state "$SID" | jq -r .status)"
t_ok "the pod's proxy is still up" alive "$PX"
t_match "app container's timeout audited" '"event":"timeout"' "$(cat "$T_TMP/audit/$A4.jsonl" 2>/dev/null)"
"$RUNTIME" --root "$ROOT" delete -f "$A4" >/dev/null 2>&1
out=$(timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/a4" "$A4" 2>&1)
t_match "a restarted app container is refused once the pod's time is up" "timeout has passed" "$out"
t_match "... and audited in the pod's log" '"pod-admission".*"decision":"deny"' "$(cat "$T_TMP/audit/$SID.jsonl")"
t_eq "... and the sandbox still runs" running "$("$RUNTIME" --root "$ROOT" state "$SID" | jq -r .status)"

# --- StopPodSandbox + RemovePodSandbox ----------------------------------------
t_ok "sandbox kill" "$RUNTIME" --root "$ROOT" kill "$SID" KILL
sleep 0.3
t_ok "sandbox delete" "$RUNTIME" --root "$ROOT" delete -f "$SID"
t_ok "proxy gone with the sandbox" wait_for 5 gone "$PX"
t_ok "the pod's concurrency slot is free again: the second pod is admitted" \
  timeout 60 "$RUNTIME" --root "$ROOT" create -b "$T_TMP/sb2" "$SID2"
"$RUNTIME" --root "$ROOT" delete -f "$SID2" >/dev/null 2>&1
t_eq "node registry empty" "" "$(ls "$T_TMP/node" 2>/dev/null)"
t_done
