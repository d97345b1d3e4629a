#!/bin/bash
# The same full-path checks as container_isolated.sh and container_pod.sh,
# with plain runc running the bundles: capsule-hook is a standard OCI hook;
# once more with the rule given as a capsule/egress.allow annotation.
. "$CAPSULE_SRC/tests/lib.sh"
command -v runc >/dev/null 2>&1 || t_skip_all "needs runc"
rc=0
for t in container_isolated container_pod container_isolated:annotation; do
  echo "# $t under runc"
  NET_RULES_VIA=${t#*:} NET_RUNTIME=$(command -v runc) bash "$CAPSULE_SRC/tests/network/${t%%:*}.sh" || rc=$?
  [ $rc -eq 0 ] || break
done
exit $rc
