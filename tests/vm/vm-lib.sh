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
