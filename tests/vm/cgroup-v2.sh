#!/bin/bash
# Pure cgroup v2 VM: boots Debian's kernel (linux-image-amd64) under qemu
# (TCG unless VM_ACCEL=kvm) with cgroup_no_v1=all and a busybox initramfs
# carrying the runtime, the build's programs and tests/; the guest /init runs
# every tests/vm/guest-*.sh and powers off.  Each guest script's
# "N passed, N failed" line becomes one check here; a hard timeout bounds it.
# env: VM_KERNEL (default newest /boot/vmlinuz-*), VM_ACCEL (tcg|kvm),
#      VM_TIMEOUT (s, default 280), VM_TESTS (comma list of guest-* names),
#      VM_KEEP (copy the serial log there)
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/vm/vm-lib.sh"
t_need_root
t_need_cmd qemu-system-x86_64 cpio gzip busybox bash jq ldd timeout
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
vm_kernel
kernel=$KERNEL kver=$KVER

initrd=$T_TMP/initrd.cpio.gz
t_ok "build initramfs" env RUNTIME="$RUNTIME" CAPSULE_SRC="$CAPSULE_SRC" CAPSULE_BUILD="$CAPSULE_BUILD" bash "$CAPSULE_SRC/tests/vm/mkinitramfs.sh" "$initrd" "$kver"
[ -s "$initrd" ] || t_done
sed 's/^/  /' "$T_TMP/out"

vm_boot "$kernel" "$initrd" "${VM_TIMEOUT:-280}" "console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 apparmor=1 capsule.tests=${VM_TESTS:-} capsule.timeout=${VM_GUEST_TIMEOUT:-150}"
boot=$VM_BOOT
t_match "guest booted with cgroup2 only at /sys/fs/cgroup" "fs=cgroup2 v1=0 " "$boot"
t_match "guest has the memory, pids and cpu controllers" "controllers=\[.*cpu.*memory.*pids" "$boot"
grep '^VM-WARN' "$VM_LOG" | sed 's/^/# /'

# One check per guest script, its output shown indented.
vm_results "$VM_LOG" "${VM_TIMEOUT:-280}" "$VM_SECS"
t_done
