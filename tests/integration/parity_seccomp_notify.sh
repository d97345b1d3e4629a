#!/bin/bash
# SCMP_ACT_NOTIFY: the runtime hands the notify fd of pid 1 (create) and of an
# exec'd process to the agent at linux.seccomp.listenerPath with the
# containerProcessState JSON; the agent's answers reach the container.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "python3" /bin/sh -c 'mkdir /tmp/by-init; echo init-mkdir-rc=$?; exec sleep 1000'
cfg_set "$B" '.root.readonly=false | .linux.seccomp={"defaultAction":"SCMP_ACT_ALLOW","listenerPath":$l,"listenerMetadata":"capsule-meta",
  "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_AARCH64"],
  "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_NOTIFY"}]}' --arg l "$T_TMP/agent.sock"
python3 "$CAPSULE_SRC/tests/integration/helpers/seccomp_agent.py" "$T_TMP/agent.sock" "$T_TMP/agent.log" &
agent=$!
t_cleanup "kill $agent"
for i in $(seq 100); do [ -e "$T_TMP/agent.log.ready" ] && break; sleep 0.05; done

id=sn-$$
t_cleanup "'$RUNTIME' --root '$ROOT' delete --force $id"
R run -d -b "$B" "$id" >"$T_TMP/init.out" 2>&1
t_eq "run -d with a notify filter" 0 $?
pid=$(R state "$id" | jq .pid)
for i in $(seq 50); do grep -q "notify" "$T_TMP/agent.log" 2>/dev/null && break; sleep 0.1; done
state=$(grep '^state ' "$T_TMP/agent.log" | head -1 | cut -d' ' -f2-)
t_eq "agent got containerProcessState with the seccompFd" '["seccompFd"]' "$(jq -c .fds <<<"$state")"
t_eq "... the listenerMetadata" capsule-meta "$(jq -r .metadata <<<"$state")"
t_eq "... the init's pid" "$pid" "$(jq -r .pid <<<"$state")"
t_eq "... the container's id" "$id" "$(jq -r .state.id <<<"$state")"
t_match "the agent was asked about pid 1's mkdir" "notify nr=" "$(cat "$T_TMP/agent.log")"
sleep 0.3
t_eq "the agent's answer (EXDEV) reached pid 1: no dir made" "" "$(ls -d "$B/rootfs/tmp/by-init" 2>/dev/null)"
out=$(R exec "$id" mkdir /tmp/by-exec 2>&1)
t_match "exec'd process: the agent answers its mkdir too" "cross-device" "$out"
t_eq "two process states handed over (create + exec)" 2 "$(grep -c '^state ' "$T_TMP/agent.log")"
t_eq "other syscalls are not affected" ok "$(R exec "$id" /bin/sh -c 'touch /tmp/f && echo ok' 2>&1)"
R delete --force "$id" >/dev/null 2>&1
# NOTIFY without a listenerPath is refused.
cfg_set "$B" 'del(.linux.seccomp.listenerPath)'
t_match "notify without listenerPath refused" "listenerPath" "$(R run -b "$B" "$id" 2>&1)"
t_done
