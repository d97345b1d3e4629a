# Host-side helpers shared by the VM tests (cgroup-v2.sh, systemd.sh); sourced
# after tests/lib.sh.

# vm_results LOG TIMEOUT SECS: one check per guest script from its
# VM-TEST-BEGIN/END block in the (CR-stripped) serial log LOG, judged by its
# rc and "N passed, N failed" line, then one for VM-DONE (SECS: run time).
vm_results() {
  local log=$1 limit=$2 secs=$3 ran=0 name block rc summary
  while read -r name; do
    ran=$((ran+1))
    block=$(awk -v n="$name" '$0=="VM-TEST-BEGIN "n {on=1; next} on && /^VM-TEST-END / {print; exit} on' "$log")
    echo "# --- $name"
    printf '%s\n' "$block" | grep -v '^VM-TEST-END' | sed 's/^/    /'
    rc=$(printf '%s\n' "$block" | sed -n 's/^VM-TEST-END .* rc=\([0-9]*\)$/\1/p')
    summary=$(printf '%s\n' "$block" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$rc" ]; then
      t_fail "$name: did not finish (VM timeout or crash)"
    elif [ "$rc" = 77 ]; then
      t_skip "$name: $(printf '%s\n' "$block" | grep -m1 '^SKIP' || echo skipped)"
    elif [ -z "$summary" ]; then
      t_fail "$name: no 'N passed, N failed' line (rc=$rc)"
    elif [ "$rc" = 0 ] && [[ $summary =~ ^[0-9]+\ passed,\ 0\ failed ]]; then
      t_pass "$name: $summary"
    else
      t_fail "$name: $summary (rc=$rc)"
    fi
  done < <(sed -n 's/^VM-TEST-BEGIN //p' "$log")
  [ $ran -gt 0 ] || { tail -30 "$log" | sed 's/^/    /'; t_fail "no guest test ran"; }
  if grep -q '^VM-DONE' "$log"; then t_pass "guest finished and powered off (${secs}s)"; else
    t_fail "guest did not finish within ${limit}s"; tail -15 "$log" | sed 's/^/    /'; fi
}

# vm_boot KERNEL INITRD LIMIT CMDLINE: qemu (TCG unless VM_ACCEL=kvm, 2 CPUs,
# 1 GiB, no network) killed after LIMIT s; sets VM_LOG (the CR-stripped
# serial log, also copied to $VM_KEEP), VM_SECS and VM_BOOT (the guest's
# VM-BOOT line).
vm_boot() {
  local kernel=$1 initrd=$2 limit=$3 cmdline=$4 accel=${VM_ACCEL:-tcg} start qrc
  local -a accel_args
  case $accel in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    *)   accel_args=(-accel tcg,thread=multi -cpu max) ;;
  esac
  start=$(date +%s)
  timeout -s KILL "$limit" qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 1G \
    -nographic -no-reboot -net none -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    </dev/null >"$T_TMP/serial.log" 2>&1
  qrc=$?
  VM_SECS=$(( $(date +%s) - start ))
  VM_LOG=$T_TMP/serial.log.txt
  tr -d '\r' <"$T_TMP/serial.log" >"$VM_LOG"
  [ -n "${VM_KEEP:-}" ] && cp "$VM_LOG" "$VM_KEEP"
  echo "# qemu ($accel) exited with $qrc after ${VM_SECS}s, kernel ${kernel#*/vmlinuz-}"
  VM_BOOT=$(grep -m1 -o 'VM-BOOT.*' "$VM_LOG")
  echo "# $VM_BOOT"
}

# vm_kernel: KERNEL (VM_KERNEL or the newest /boot/vmlinuz-*) and KVER, or
# skip the test when the kernel or its modules are missing.
vm_kernel() {
  KERNEL=${VM_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
  [ -n "$KERNEL" ] && [ -r "$KERNEL" ] || t_skip_all "no kernel in /boot (apt-get install linux-image-amd64)"
  KVER=${KERNEL#*/vmlinuz-}
  [ -f "/lib/modules/$KVER/modules.dep" ] || t_skip_all "no modules for $KVER in /lib/modules"
}
