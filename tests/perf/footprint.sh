#!/bin/bash
# What keeps a plain container's start-up lean (issue 3): the runtime does not
# load libcrypto (only capsule leases and the audit chain need it, through
# lib/crypto_dl.c), and a container's init joins its v1 cgroups itself.
. "$CAPSULE_SRC/tests/lib.sh"
t_need_root
t_need_cmd jq busybox ldd
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
R() { "$RUNTIME" --root "$T_TMP/state" "$@"; }

t_eq "capsule-runc has no libcrypto dependency (ldd)" "" "$(ldd "$RUNTIME" | grep -o 'libcrypto[^ ]*')"

mk_bundle "$T_TMP/b" /bin/sh -c 'cat /proc/self/cgroup'
id=$(t_id fp)
t_cleanup "R delete -f $id"
t_ok "create a plain container" R create -b "$T_TMP/b" "$id"
pid=$(R state "$id" | jq -r .pid)
# init is the runtime's clone until exec: its maps are the runtime's, after config, cgroup and namespace set-up.
t_eq "container init (the runtime's clone) has not mapped libcrypto" "" "$(grep -o 'libcrypto[^ ]*' /proc/"$pid"/maps | sort -u)"
cg=$(jq -r .linux.cgroupsPath "$T_TMP/b/config.json")
bad=$(grep -v '^0::' /proc/"$pid"/cgroup | awk -F: -v p="$cg" '$3 != p' )
t_eq "init is in the container's cgroup in every hierarchy before start" "" "$bad"
t_ok "start" R start "$id"
t_ok "delete" R delete -f "$id"

# A capsule-only path still finds libcrypto when it needs it.
t_ok "lease keygen (libcrypto loaded on demand)" R lease keygen --private "$T_TMP/k" --public "$T_TMP/k.pub"
t_match "it wrote an Ed25519 private key" "BEGIN PRIVATE KEY" "$(cat "$T_TMP/k" 2>/dev/null)"
t_done
