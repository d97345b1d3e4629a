#!/bin/bash
# The security baseline of SPEC §3: each CVE class is attacked from inside a
# container (or through a hostile bundle) and shown to fail.
. "$CAPSULE_SRC/tests/integration/helpers/common.sh"
it_setup "" /bin/true
inside() { cfg_set "$B" '.process.args=["/bin/sh","-c",$c]' --arg c "$1"; R run -b "$B" "sec-$$-$RANDOM" 2>&1; }

# CVE-2024-21626: no runtime fd leaks into the container; a cwd through a leaked fd is refused.
t_eq "only fds 0-2 open in the container process" "0 1 2" "$(inside 'for f in /proc/self/fd/*; do n=${f##*/}; [ $n -le 2 ] && echo $n; done | tr "\n" " " | sed "s/ $//"'; )"
# Looked at from the host: the container's init (sleep) holds exactly 0, 1, 2, even
# when the runtime was started with extra fds open.
cfg_set "$B" '.process.args=["/bin/sleep","100"]'
R run -d -b "$B" "fds-$$" 5</dev/null 9<"$B/config.json" </dev/null >/dev/null 2>&1
ipid=$(R state "fds-$$" | jq -r .pid)
t_eq "container init holds only fds 0-2" "0 1 2" "$(ls /proc/$ipid/fd | sort -n | xargs)"
R delete -f "fds-$$"
leaked=0
for n in 3 4 5 6 7 8; do
  cfg_set "$B" '.process.cwd=$c | .process.args=["/bin/sh","-c","cat ../../../../etc/hostname 2>/dev/null; pwd"]' --arg c "/proc/self/fd/$n"
  out=$(R run -b "$B" "cwd-$$-$n" 2>&1)
  case "$out" in *"$(hostname)"*) leaked=1 ;; esac
  case "$out" in *"(unreachable)"*) leaked=1 ;; esac
done
t_eq "cwd=/proc/self/fd/N never reaches the host" 0 $leaked
cfg_set "$B" '.process.cwd="/"'

# CVE-2021-30465: a mount target behind a symlink in the rootfs stays inside the rootfs.
mkdir -p "$T_TMP/host-target"
ln -s "$T_TMP/host-target" "$B/rootfs/evil"
cfg_set "$B" '.mounts += [{"destination":"/evil/x","type":"tmpfs","source":"tmpfs","options":["size=1m"]}]'
out=$(inside 'echo planted >/evil/x/file && cat /evil/x/file')
t_eq "mount through symlink works inside the rootfs" planted "$out"
t_eq "nothing created on the host through the symlink" "" "$(ls "$T_TMP/host-target")"
t_fails "no host mount at the symlink target" grep -q "$T_TMP/host-target" /proc/self/mountinfo
cfg_set "$B" 'del(.mounts[] | select(.destination=="/evil/x"))'
rm "$B/rootfs/evil"

# CVE-2025-31133: /dev/null replaced by a symlink must not redirect masking.
B2=$T_TMP/bundle2
mk_bundle "$B2" /bin/true
mkdir -p "$B2/rootfs/dev"
ln -sf /proc/sys/kernel/core_pattern "$B2/rootfs/dev/null"
# no tmpfs on /dev: the image's own /dev (with the hostile symlink) is what the container sees
jq 'del(.mounts[] | select(.destination=="/dev" or .destination=="/dev/pts" or .destination=="/dev/shm" or .destination=="/dev/mqueue")) | .process.args=["/bin/sh","-c","echo \"|/tmp/evil\" >/proc/kcore 2>/dev/null; cat /proc/sys/kernel/core_pattern"]' \
  "$B2/config.json" >"$B2/c" && mv "$B2/c" "$B2/config.json"
before=$(cat /proc/sys/kernel/core_pattern)
R run -b "$B2" "mask-$$" >"$T_TMP/out" 2>&1; rc=$?
t_eq "host core_pattern unchanged" "$before" "$(cat /proc/sys/kernel/core_pattern)"
if [ $rc -ne 0 ]; then
  t_match "masking refused with a clear error" "not the null device" "$(cat "$T_TMP/out")"
else
  t_fail "create with a hostile /dev/null must fail (got rc 0: $(cat "$T_TMP/out"))"
fi
t_eq "nothing left after refused create" "" "$(ls "$ROOT")"

# CVE-2025-52881: sysctl writes go to the container's real procfs even when /proc/sys is covered.
mkdir -p "$T_TMP/decoy/net/ipv4"
echo 0 >"$T_TMP/decoy/net/ipv4/ip_forward"
cfg_set "$B" '.process.args=["/bin/sh","-c","sleep 100"] | .linux.sysctl={"net.ipv4.ip_forward":"1"} | .mounts += [{"destination":"/proc/sys","type":"bind","source":$d,"options":["rbind"]}] | .linux.readonlyPaths=[]' --arg d "$T_TMP/decoy"
t_ok "create with decoy /proc/sys" R run -d -b "$B" "proc-$$"
pid=$(R state "proc-$$" | jq -r .pid)
t_eq "sysctl landed in the container netns" 1 "$(nsenter -t "$pid" -n cat /proc/sys/net/ipv4/ip_forward)"
t_eq "decoy file untouched" 0 "$(cat "$T_TMP/decoy/net/ipv4/ip_forward")"
R delete -f "proc-$$"

# Container ids that could escape the state root are refused.
for bad in ".." "../x" "a/b" "-x;rm"; do
  R create -b "$B" "$bad" 2>"$T_TMP/err"
  t_match "id '$bad' refused" "invalid container id|requires exactly|flag provided" "$(cat "$T_TMP/err")"
done
t_done
