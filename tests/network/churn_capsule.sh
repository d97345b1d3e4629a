#!/bin/bash
# churn.sh in capsule mode: 100 `capsule-runc run`s of an annotated bundle
# (admission, hooks, proxy, monitor), then nothing is left behind.
NET_RULES_VIA=capsule exec bash "$CAPSULE_SRC/tests/network/churn.sh"
