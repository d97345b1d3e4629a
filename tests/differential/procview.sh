#!/bin/bash
# Differential: what a process sees inside the container (capabilities, ids,
# no_new_privs, seccomp, mounts, /dev, hostname, rlimits, cgroup, env, fds,
# masked and read-only paths) under runc and under $RUNTIME, section by section.
. "$CAPSULE_SRC/tests/differential/common.sh"

# One script prints every section; "== name" lines separate them.
probe='
sec() { echo "== $1"; }
sec pid; echo $$
sec status; grep -E "^(Cap|Uid|Gid|Groups|NoNewPrivs|Seccomp|Seccomp_filters)" /proc/self/status
sec mountinfo
awk "{ s=0; for (i=7;i<=NF;i++) if (\$i==\"-\") { s=i; break }
       opt=\"\"; for (i=7;i<s;i++) { o=\$i; sub(/:[0-9]+/, \"\", o); opt=opt\" \"o }
       print \$5, \$6, \$(s+1), \$(s+3), \"[\"opt\" ]\" }" /proc/self/mountinfo
sec dev; for f in $(ls -A /dev); do stat -c "%N %F %a %u:%g %t:%T" /dev/$f; done
sec dev-pts; ls -A /dev/pts
sec hostname; hostname
sec domainname; cat /proc/sys/kernel/domainname
sec ulimit; ulimit -a
sec cgroup; cat /proc/self/cgroup
sec env; env | sort
sec id; id
sec umask; umask
sec cwd; pwd
sec fds; ls -l /proc/self/fd | awk "NR>1 || /->/ { print \$9, \$10, \$11 }" | sed -E "s/\[[0-9]+\]/[N]/"
sec oom_score_adj; cat /proc/self/oom_score_adj
sec ns; ls /proc/self/ns
sec write-rootfs; touch /probe 2>&1; echo "rc=$?"
sec write-proc-sys; echo x 2>&1 >/proc/sys/kernel/domainname; echo "rc=$?"
sec write-sys; touch /sys/kernel/probe 2>&1; echo "rc=$?"
sec masked
for p in /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug \
         /proc/scsi /sys/firmware /proc/acpi /sys/devices/virtual/powercap; do
  if [ -d $p ]; then echo "$p dir $(ls -A $p 2>&1 | wc -l)"; elif [ -e $p ]; then echo "$p file $(head -c 64 $p 2>&1 | wc -c)"; else echo "$p absent"; fi
done
sec readonly
for p in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
  [ -e $p ] || { echo "$p absent"; continue; }
  grep -q " $p [^ ]*ro[, ]" /proc/self/mountinfo && echo "$p ro" || echo "$p rw"
done
sec shm; df -k /dev/shm | tail -1 | awk "{print \$2}"
sec sched; cat /proc/self/sched 2>/dev/null | grep -E "^policy" || echo none
sec tty; tty 2>&1; ls -l /dev/console 2>&1 | awk "{print \$1}"
sec end
'
d_pair pv /bin/sh -c "$probe"
d_cfg2 pv '.process.env += ["CAPSULE_PROBE=1", "SPACES=a b"]'
for w in ref test; do
  RR $w run -b "$T_TMP/pv/$w" pv >"$T_TMP/pv-$w.out" 2>"$T_TMP/pv-$w.err" </dev/null
  echo "$?" >"$T_TMP/pv-$w.rc"
done
d_same "probe run exit code" "$(cat "$T_TMP/pv-ref.rc")" "$(cat "$T_TMP/pv-test.rc")"
grep -q "^== end" "$T_TMP/pv-ref.out" || { tail -5 "$T_TMP/pv-ref.out"; sed 's/^/    /' "$T_TMP/pv-ref.err" | head; t_fail "probe did not complete under runc"; t_done; }
section() { awk -v s="== $1" '$0==s {on=1; next} /^== / {on=0} on' "$2" | d_norm; }
cp "$T_TMP/pv-ref.out" "${PROBE_KEEP:-/dev/null}" 2>/dev/null
for s in $(grep '^== ' "$T_TMP/pv-ref.out" | cut -c4- | grep -vx 'end\|mountinfo'); do
  d_same "inside: $s" "$(section "$s" "$T_TMP/pv-ref.out")" "$(section "$s" "$T_TMP/pv-test.out")"
done
# Mount order differs legitimately between runtimes; the set must not.
d_same "inside: mountinfo (as a set)" "$(section mountinfo "$T_TMP/pv-ref.out" | sort)" "$(section mountinfo "$T_TMP/pv-test.out" | sort)"


# The same probe as a non-root user with a capability set and rlimits changed.
d_cfg2 pv '.process.user={"uid":1000,"gid":1000,"additionalGids":[2000]}
  | .process.capabilities={"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"],"inheritable":[],"ambient":[]}
  | .process.rlimits=[{"type":"RLIMIT_NOFILE","hard":512,"soft":256},{"type":"RLIMIT_NPROC","hard":300,"soft":200}]
  | .process.noNewPrivileges=false | .process.cwd="/tmp" | .hostname="diffhost" | .root.readonly=false'
for w in ref test; do RR $w run -b "$T_TMP/pv/$w" pv2 >"$T_TMP/pv2-$w.out" 2>"$T_TMP/pv2-$w.err" </dev/null; done
for s in status ulimit id cwd hostname write-rootfs fds; do
  d_same "inside as uid 1000 with caps/rlimits: $s" "$(section "$s" "$T_TMP/pv2-ref.out")" "$(section "$s" "$T_TMP/pv2-test.out")"
done
t_done
