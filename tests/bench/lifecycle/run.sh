#!/bin/bash
# Lifecycle benchmark: runc and $RUNTIME on the same busybox bundle, in one
# invocation, interleaved so both see the same machine state.
#   run /bin/true                       N times each (mean, median, p90)
#   create + start + state + delete     N times each
#   peak RSS of the runtime process tree (GNU time %M) for `run /bin/true`
#   optional: run /bin/true as a capsule (annotation capsule/profile=default):
#   full, with the network hook replaced by /bin/true, and with a policy whose
#   default profile has network "none" (no network part at all)
# usage: run.sh [-n N] [-o FILE] [-s tmpfs|disk]   (as root; -o writes a markdown
#        report, default docs/bench-lifecycle.md; -o - prints only; -s: where both
#        runtimes' state roots live: a tmpfs this script mounts (default, like
#        /run/runc and /run/capsule-runc in production) or the tmp dir's disk)
# env: RUNTIME (default $CAPSULE_BUILD/cmd/capsule-runc), REF_RUNTIME (runc)
set -u
CAPSULE_SRC=$(cd "$(dirname "$0")/../../.." && pwd)
: "${CAPSULE_BUILD:=$CAPSULE_SRC/build}"
RUNTIME=${RUNTIME:-$CAPSULE_BUILD/cmd/capsule-runc}
REF=${REF_RUNTIME:-$(command -v runc || true)}
N=50 OUT=$CAPSULE_SRC/docs/bench-lifecycle.md STATEFS=tmpfs
while getopts n:o:s: o; do case $o in n) N=$OPTARG ;; o) OUT=$OPTARG ;; s) STATEFS=$OPTARG ;; *) exit 2 ;; esac; done
case $STATEFS in tmpfs|disk) ;; *) echo "-s tmpfs|disk" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$REF" ] || { echo "runc not found (apt-get install runc)" >&2; exit 1; }
[ -x "$RUNTIME" ] || { echo "runtime not built: $RUNTIME" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
for c in jq busybox; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done

W=$(mktemp -d /tmp/capsule-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
. "$CAPSULE_SRC/tests/lib.sh" >/dev/null 2>&1   # mk_rootfs, T_CGROUP_PARENT
# Both state roots (and capsule-runc's audit logs beside them) under $S.
S=$W/state
mkdir -p "$S"
if [ "$STATEFS" = tmpfs ]; then
  mount -t tmpfs -o mode=0711,size=256m capsule-bench "$S" || { echo "cannot mount a tmpfs on $S" >&2; exit 1; }
fi
trap 'mountpoint -q "$S" && umount -l "$S"; rm -rf "$W" "$T_TMP"' EXIT
mk_rootfs "$W/rootfs"
(cd "$W" && "$REF" spec)
for w in ref test; do
  mkdir -p "$W/$w"
  jq --arg r "$W/rootfs" --arg cg "$T_CGROUP_PARENT/bench-$w-$$" \
    '.root.path=$r | .process.args=["/bin/true"] | .process.terminal=false | .linux.cgroupsPath=$cg' \
    "$W/config.json" >"$W/$w/config.json"
done
R() { local w=$1; shift; if [ $w = ref ]; then "$REF" --root "$S/ref" "$@"; else "$RUNTIME" --root "$S/test" "$@"; fi; }
now() { local t=${EPOCHREALTIME/./}; echo "$t"; }   # microseconds, no fork

# stats FILE: "mean median p90" in ms from one microsecond value per line.
stats() { sort -n "$1" | awk '{v[NR]=$1; s+=$1} END {if (!NR) {print "- - -"; exit}
  printf "%.2f %.2f %.2f\n", s/NR/1000, v[int((NR+1)/2)]/1000, v[int(NR*0.9+0.999)]/1000}'; }

echo "# warm-up"
for w in ref test; do for i in 1 2 3; do R $w run -b "$W/$w" warm-$i >/dev/null 2>&1; done; done

echo "# run /bin/true x$N (interleaved)"
fail_ref=0 fail_test=0
for i in $(seq "$N"); do
  for w in ref test; do
    t0=$(now); R $w run -b "$W/$w" r$i-$$ >/dev/null 2>&1 || eval "fail_$w=\$((fail_$w+1))"; t1=$(now)
    echo $((t1-t0)) >>"$W/run-$w"
  done
done

echo "# create+start+state+delete x$N (interleaved)"
for i in $(seq "$N"); do
  for w in ref test; do
    t0=$(now)
    { R $w create -b "$W/$w" c$i-$$ && R $w start c$i-$$ && R $w state c$i-$$ >/dev/null && R $w delete -f c$i-$$; } >/dev/null 2>&1 \
      || { eval "fail_$w=\$((fail_$w+1))"; R $w delete -f c$i-$$ >/dev/null 2>&1; }
    t1=$(now)
    echo $((t1-t0)) >>"$W/cycle-$w"
  done
done

echo "# peak RSS (GNU time %M, runtime process and the children it reaps) x5"
for i in 1 2 3 4 5; do
  for w in ref test; do
    rt=$REF; [ $w = test ] && rt=$RUNTIME
    /usr/bin/time -f '%M' -o "$W/t" "$rt" --root "$S/$w" run -b "$W/$w" m$i-$$ >/dev/null 2>&1
    tail -1 "$W/t" >>"$W/rss-$w"
  done
done
rss() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Capsule row: only when the runtime accepts the annotation.
cap_note="not measured"
# The probe run must show a seccomp filter (Seccomp: 2), i.e. real confinement.
mkdir -p "$W/cap"
jq '.annotations={"capsule/profile":"default"}' "$W/test/config.json" >"$W/cap/config.json"
jq '.process.args=["/bin/sh","-c","grep Seccomp: /proc/self/status; grep -q \"^Seccomp:.*2\" /proc/self/status"]' \
  "$W/cap/config.json" >"$W/capprobe.json"
mkdir -p "$W/capprobe-b" && cp "$W/capprobe.json" "$W/capprobe-b/config.json"
if R test run -b "$W/capprobe-b" capprobe-$$ >"$W/capprobe" 2>&1; then
  echo "# capsule run /bin/true x$N (interleaved with runc's plain run)"
  for i in $(seq "$N"); do
    t0=$(now); R test run -b "$W/cap" k$i-$$ >/dev/null 2>&1 || fail_test=$((fail_test+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/cap-test"
    t0=$(now); R ref run -b "$W/ref" kr$i-$$ >/dev/null 2>&1 || fail_ref=$((fail_ref+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/cap-ref"
  done
  # Issue 5: the same capsule without the network part, against capsule-runc's
  # own plain run.  CAPSULE_HOOK=/bin/true stands in for capsule-hook (setup
  # and teardown become a no-op exec): admission, Landlock, the capsule
  # seccomp filter, the audit chain, the monitor and its signed head stay.
  echo "# capsule run without the network part x$N (interleaved with capsule-runc's plain run)"
  for i in $(seq "$N"); do
    t0=$(now); CAPSULE_HOOK=/bin/true R test run -b "$W/cap" h$i-$$ >/dev/null 2>&1 || fail_test=$((fail_test+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/capnn-test"
    t0=$(now); R test run -b "$W/test" hp$i-$$ >/dev/null 2>&1 || fail_test=$((fail_test+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/capnn-plain"
  done
  # Issue 5, literally: the default profile with no network part at all.  A
  # node policy giving the default profile network "none" (a new netns with
  # only loopback: no hook, nft rules or proxy; lib/admission.c) - the same
  # confinement, admission, audit chain and monitor as any capsule.
  echo '{"profiles": {"default": {"network": "none"}}}' >"$W/policy-none.json"
  echo "# capsule run, default profile with network \"none\" x$N (interleaved with capsule-runc's plain run)"
  for i in $(seq "$N"); do
    t0=$(now); CAPSULE_POLICY=$W/policy-none.json R test run -b "$W/cap" o$i-$$ >/dev/null 2>&1 || fail_test=$((fail_test+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/capoff-test"
    t0=$(now); R test run -b "$W/test" op$i-$$ >/dev/null 2>&1 || fail_test=$((fail_test+1)); t1=$(now)
    echo $((t1-t0)) >>"$W/capoff-plain"
  done
  cap_note=measured
else
  cap_note="no confined capsule run (probe: $(head -c 200 "$W/capprobe" | tr '\n' ' '))"
fi

read -r rm_ref rmed_ref rp_ref <<<"$(stats "$W/run-ref")"
read -r rm_test rmed_test rp_test <<<"$(stats "$W/run-test")"
read -r cm_ref cmed_ref cp_ref <<<"$(stats "$W/cycle-ref")"
read -r cm_test cmed_test cp_test <<<"$(stats "$W/cycle-test")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "-" }'; }
mem_ref=$(rss "$W/rss-ref") mem_test=$(rss "$W/rss-test")

report() {
  echo "# Lifecycle benchmark: capsule-runc vs runc"
  echo
  echo "Generated by \`tests/bench/lifecycle/run.sh -n $N\` on $(date -u +%Y-%m-%dT%H:%MZ)."
  echo "Host: $(uname -r), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "cgroups: $( [ -f /sys/fs/cgroup/cgroup.controllers ] && echo v2 || echo 'v1/hybrid'). Reference: $("$REF" --version | head -1)."
  echo "Runtime under test: \`$RUNTIME\` ($("$RUNTIME" --version 2>/dev/null | head -1))."
  echo "Same busybox bundle (config from \`runc spec\`, \`/bin/true\`, cgroupsPath under /capsule-test), state roots"
  echo "on $(findmnt -n -o FSTYPE -T "$S" 2>/dev/null || echo '?') (\`-s $STATEFS\`), runtimes interleaved per iteration; wall time per CLI invocation(s) measured with \$EPOCHREALTIME."
  echo
  echo "| benchmark | runc mean / median / p90 (ms) | capsule-runc mean / median / p90 (ms) | ratio (median, capsule-runc / runc) |"
  echo "|---|---|---|---|"
  echo "| \`run /bin/true\` (N=$N) | $rm_ref / $rmed_ref / $rp_ref | $rm_test / $rmed_test / $rp_test | $(ratio "$rmed_test" "$rmed_ref") |"
  echo "| create+start+state+delete (N=$N) | $cm_ref / $cmed_ref / $cp_ref | $cm_test / $cmed_test / $cp_test | $(ratio "$cmed_test" "$cmed_ref") |"
  if [ "$cap_note" = measured ]; then
    read -r km kmed kp <<<"$(stats "$W/cap-test")"
    read -r kr krmed krp <<<"$(stats "$W/cap-ref")"
    echo "| capsule \`run /bin/true\` (capsule/profile=default: confinement, nft rules, proxy, monitor; N=$N) | (plain run, interleaved) $kr / $krmed / $krp | $km / $kmed / $kp | $(ratio "$kmed" "$krmed") |"
    read -r nm nmed np <<<"$(stats "$W/capnn-test")"
    read -r pm pmed pp <<<"$(stats "$W/capnn-plain")"
    read -r om omed op <<<"$(stats "$W/capoff-test")"
    read -r qm qmed qp <<<"$(stats "$W/capoff-plain")"
    echo "| capsule \`run /bin/true\`, default profile with network \"none\" (node policy; no hook, rules or proxy; N=$N), vs **capsule-runc's** plain run | (capsule-runc plain run, interleaved) $qm / $qmed / $qp | $om / $omed / $op | $(ratio "$omed" "$qmed") (vs capsule-runc) |"
    echo "| capsule \`run /bin/true\` without the network part (CAPSULE_HOOK=/bin/true; N=$N), vs **capsule-runc's** plain run | (capsule-runc plain run, interleaved) $pm / $pmed / $pp | $nm / $nmed / $np | $(ratio "$nmed" "$pmed") (vs capsule-runc) |"
  fi
  echo
  echo "| peak RSS of \`run /bin/true\` (median of 5, GNU time %M: the runtime and the children it reaps) | runc | capsule-runc | ratio |"
  echo "|---|---|---|---|"
  echo "| max resident set size (KiB) | $mem_ref | $mem_test | $(ratio "$mem_test" "$mem_ref") |"
  echo
  echo "Failed invocations: runc $fail_ref, capsule-runc $fail_test. Capsule row: $cap_note."
  echo "capsule-runc links libcrypto: $(ldd "$RUNTIME" | grep -q libcrypto && echo yes || echo 'no (loaded on demand for leases/audit)')."
  echo "State roots (and capsule-runc's audit logs, \`<root>/.capsule-audit\`) on $(findmnt -n -o FSTYPE -T "$S" 2>/dev/null || echo '?') ($S)."
}
report | tee "$W/report.md"
if [ "$OUT" != - ]; then cp "$W/report.md" "$OUT" && echo "# written to $OUT" >&2; fi
