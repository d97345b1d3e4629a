#!/bin/bash
# Differential: what a process sees inside the container (capabilities, ids,
# no_new_privs, seccomp, mounts, /dev, hostname, rlimits, cgroup, env, fds
# (0-2 included: a foreground run without a tty gives the container pipes, under
# both runtimes), masked and read-only paths) under runc and under $RUNTIME, section by section.
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
sec stdio; for f in 0 1 2; do stat -L -c "$f %F %a %u:%g" /proc/self/fd/$f; done; { echo reopened-stdout >/dev/stdout; } 2>/dev/null || echo "reopen stdout failed"; { echo reopened-stderr >/dev/stderr; } 2>/dev/null || echo "reopen stderr failed"
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
sec mkdir; mkdir /tmp/probe-dir 2>&1; echo "rc=$?"
sec sysctl; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax 2>&1
sec bind; ls /mnt/host 2>&1; touch /mnt/host/new 2>&1; echo "rc=$?"
sec scratch; df -k /scratch 2>&1 | tail -1 | awk "{print \$2}"; grep " /scratch " /proc/self/mountinfo | awk "{print \$6}"
sec fuse; stat -c "%F %a %u:%g %t:%T" /dev/fuse 2>&1; head -c0 /dev/fuse 2>&1; echo "rc=$?"
sec uid_map; cat /proc/self/uid_map /proc/self/gid_map
sec setgroups; cat /proc/self/setgroups
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
t_cleanup "cat $T_TMP/pv3-ref.out $T_TMP/pv4-ref.out $T_TMP/us-ref.out >>${PROBE_KEEP:-/dev/null}"
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
for s in status ulimit id cwd hostname write-rootfs fds stdio; do
  d_same "inside as uid 1000 with caps/rlimits: $s" "$(section "$s" "$T_TMP/pv2-ref.out")" "$(section "$s" "$T_TMP/pv2-test.out")"
done
# Seccomp, sysctls, oom_score_adj, bind and tmpfs mounts with options, an
# extra device, custom masked/readonly paths.
mkdir -p "$T_TMP/hostdir" && echo from-host >"$T_TMP/hostdir/file"
d_cfg2 pv '.process.user={"uid":0,"gid":0} | .process.capabilities.bounding += ["CAP_MKNOD"] | .root.readonly=false
  | .linux.seccomp={"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                    "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}
  | .linux.sysctl={"net.ipv4.ip_forward":"1","kernel.msgmax":"4096"}
  | .process.oomScoreAdj=123
  | .mounts += [{"destination":"/mnt/host","type":"bind","source":$h,"options":["rbind","ro","nosuid"]},
                {"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["size=4m","mode=700","noexec"]}]
  | .linux.devices=[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438,"uid":0,"gid":0}]
  | .linux.resources.devices=[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}]
  | .linux.maskedPaths += ["/etc/group"] | .linux.readonlyPaths += ["/root"]' --arg h "$T_TMP/hostdir"
for w in ref test; do RR $w run -b "$T_TMP/pv/$w" pv3 >"$T_TMP/pv3-$w.out" 2>"$T_TMP/pv3-$w.err" </dev/null; done
t_match "runc ran the options probe" "== end" "$(cat "$T_TMP/pv3-ref.out")"
for s in status mkdir sysctl oom_score_adj bind scratch fuse mountinfo dev write-rootfs; do
  d_same "with seccomp/sysctl/mounts/devices: $s" "$(section "$s" "$T_TMP/pv3-ref.out" | sort)" "$(section "$s" "$T_TMP/pv3-test.out" | sort)"
done
for w in ref test; do d_cfg pv $w '.process.args=["/bin/sh","-c","wc -c </etc/group; touch /root/x 2>&1; echo rc=$?"]'; done
for w in ref test; do RR $w run -b "$T_TMP/pv/$w" pv4 >"$T_TMP/pv4-$w.out" 2>&1 </dev/null; done
d_same "custom maskedPaths / readonlyPaths" "$(cat "$T_TMP/pv4-ref.out")" "$(cat "$T_TMP/pv4-test.out")"

# A user namespace: container root is host uid 100000.
d_pair us /bin/sh -c "$probe"
d_cfg2 us '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}]
  | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]
  | .mounts |= map(select(.destination != "/sys" and .destination != "/sys/fs/cgroup"))
  | .mounts += [{"destination":"/sys","type":"none","source":"/sys","options":["rbind","nosuid","noexec","nodev","ro"]}]'
chmod o+x "$T_TMP" "$T_TMP/us"   # mapped root must reach the rootfs (mktemp made $T_TMP 0700)
for w in ref test; do chown -R 100000:100000 "$T_TMP/us/$w/rootfs"; RR $w run -b "$T_TMP/us/$w" us >"$T_TMP/us-$w.out" 2>"$T_TMP/us-$w.err" </dev/null; done
if grep -q '^== end' "$T_TMP/us-ref.out"; then
  grep -q '^== end' "$T_TMP/us-test.out" || t_fail "user namespace: the runtime did not run the probe: $(head -c 300 "$T_TMP/us-test.err")"
  for s in uid_map setgroups status id write-rootfs ns fds stdio; do
    d_same "user namespace: $s" "$(section "$s" "$T_TMP/us-ref.out")" "$(section "$s" "$T_TMP/us-test.out")"
  done
else
  t_skip "user namespace: runc could not run it here ($(head -c 200 "$T_TMP/us-ref.err"))"
fi
t_done
