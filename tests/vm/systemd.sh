#!/bin/bash
# systemd VM: Debian's kernel under qemu (TCG unless VM_ACCEL=kvm) on pure
# cgroup v2 with the host's systemd (252) as PID 1, booted straight into
# capsule-vm-test.service, which runs every tests/vm/sdguest-*.sh (the
# --systemd-cgroup tests: transient scopes over /run/systemd/private).  Each
# script's "N passed, N failed" line becomes one check here.
# env: VM_KERNEL (default newest /boot/vmlinuz-*), VM_ACCEL (tcg|kvm),
#      VM_TIMEOUT (s, default 240), VM_GUEST_TIMEOUT (s per script, 150),
#      VM_TESTS (comma list of sdguest-* names), VM_KEEP (copy the serial log)
. "$CAPSULE_SRC/tests/lib.sh"
. "$CAPSULE_SRC/tests/vm/vm-lib.sh"
t_need_root
t_need_cmd qemu-system-x86_64 cpio gzip busybox bash jq ldd timeout systemctl systemd-run
[ -x /lib/systemd/systemd ] || t_skip_all "needs systemd (/lib/systemd/systemd)"
[ -x "$RUNTIME" ] || t_skip_all "runtime not built: $RUNTIME"
vm_kernel
kernel=$KERNEL kver=$KVER

initrd=$T_TMP/initrd.cpio.gz
t_ok "build initramfs with systemd" env VM_SYSTEMD=1 RUNTIME="$RUNTIME" CAPSULE_SRC="$CAPSULE_SRC" CAPSULE_BUILD="$CAPSULE_BUILD" \
  bash "$CAPSULE_SRC/tests/vm/mkinitramfs.sh" "$initrd" "$kver"
[ -s "$initrd" ] || t_done
sed 's/^/  /' "$T_TMP/out"

# systemd: no status lines or logging on the console (the test unit owns it),
# no journald (its socket units are not packed: messages go to kmsg).
limit=${VM_TIMEOUT:-240}
vm_boot "$kernel" "$initrd" "$limit" "console=ttyS0 quiet panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 capsule.init=systemd systemd.unit=capsule-vm-test.service systemd.show_status=0 systemd.log_target=kmsg systemd.log_level=notice capsule.tests=${VM_TESTS:-} capsule.timeout=${VM_GUEST_TIMEOUT:-150}"
boot=$VM_BOOT
t_match "guest booted with cgroup2 only at /sys/fs/cgroup" "fs=cgroup2 v1=0 " "$boot"
t_match "PID 1 is systemd" " pid1=systemd " "$boot"
t_match "systemd finished booting (running or degraded)" " state=(running|degraded) " "$boot"
grep -E '^VM-(WARN|ERROR)' "$VM_LOG" | sed 's/^/# /'
vm_results "$VM_LOG" "$limit" "$VM_SECS"
t_done
