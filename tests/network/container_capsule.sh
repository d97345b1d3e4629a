#!/bin/bash
# Capsule mode end to end: the bundle only carries capsule/egress.allow; the
# runtime's admission adds the hooks, the proxy env and resolv.conf, writes
# capsule.json, and the hook turns it into the proxy's config.  Same checks
# as container_isolated.sh (the policy allows the test's private range).
NET_RULES_VIA=capsule exec bash "$CAPSULE_SRC/tests/network/container_isolated.sh"
