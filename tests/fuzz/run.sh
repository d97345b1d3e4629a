#!/bin/bash
# run.sh FUZZER SEED-DIR SECONDS: bounded libFuzzer run; new inputs go to a
# temporary directory (the seed corpus in git is never modified).
set -euo pipefail
fuzzer=$1 seeds=$2 secs=$3
work=$(mktemp -d /tmp/capsule-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
  -max_len=20000 -print_final_stats=1 "$work" "$seeds" 2>&1 | tail -15
