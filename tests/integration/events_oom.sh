#!/bin/bash
# `events` reports a memory-limit OOM kill inside the container as it happens
# (runc's {"type":"oom","id":ID} line), well before the next stats interval,
# and the killed process is the one inside the container.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "timeout" /bin/sleep 1000
# 32 MiB and no swap on top (memory+swap = memory), so the hog is OOM-killed.
cfg_set "$B" '.linux.resources.memory={"limit":33554432,"swap":33554432}'
id=oom-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
t_ok "run -d with a 32 MiB memory limit" R run -d -b "$B" "$id" </dev/null

# Stats every 60 s: the first line now, anything else before a minute is an event.
timeout 20 "$RUNTIME" --root "$ROOT" events --interval 60s "$id" >"$T_TMP/ev" 2>&1 & evp=$!
for i in $(seq 50); do [ -s "$T_TMP/ev" ] && break; sleep 0.1; done
t_eq "events: a stats line first" stats "$(head -1 "$T_TMP/ev" | jq -r .type 2>&1)"
# busybox tail on /dev/zero keeps one endless line in memory.
start=$(date +%s%N)
R exec "$id" /bin/sh -c 'tail /dev/zero' >/dev/null 2>&1; rc=$?
t_eq "the memory hog inside was killed by SIGKILL (137)" 137 $rc
for i in $(seq 50); do grep -q '"oom"' "$T_TMP/ev" && break; sleep 0.1; done
took=$(( ($(date +%s%N) - start) / 1000000 ))
t_eq "events: an oom event, as runc writes it" "{\"type\":\"oom\",\"id\":\"$id\"}" "$(grep '"oom"' "$T_TMP/ev" | head -1)"
echo "# oom event seen ${took} ms after the hog started (stats interval 60 s)"
t_eq "the init survived (only the hog was killed)" running "$(R state "$id" | jq -r .status)"
kill $evp 2>/dev/null; wait $evp 2>/dev/null
t_done
