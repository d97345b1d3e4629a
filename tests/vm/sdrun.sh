#!/bin/bash
# Runs inside the systemd VM as capsule-vm-test.service (installed as
# /usr/local/sbin/capsule-vm-sdrun): every /src/tests/vm/sdguest-*.sh under a
# time limit, with the environment the busybox VM's /init exports, results
# between VM-TEST-BEGIN/END markers on the console, then a forced power-off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. /etc/vm-env
export RUNTIME CAPSULE_SRC=/src CAPSULE_BUILD=/build CAPSULE_TEST_BIN_DIR=/build/bin HOME=/root TERM=dumb
only=$(sed -n 's/.*capsule.tests=\([^ ]*\).*/\1/p' /proc/cmdline)
per=$(sed -n 's/.*capsule.timeout=\([0-9]*\).*/\1/p' /proc/cmdline); per=${per:-120}
ip link set lo up
echo
echo "VM-BOOT kernel=$(uname -r) fs=$(awk '$2=="/sys/fs/cgroup" {print $3}' /proc/mounts) v1=$(grep -c " cgroup " /proc/mounts) controllers=[$(cat /sys/fs/cgroup/cgroup.controllers)] pid1=$(cat /proc/1/comm) systemd=$(systemctl --version | head -1 | cut -d' ' -f2) state=$(systemctl is-system-running 2>&1) runtime=$RUNTIME uptime=$(cut -d' ' -f1 /proc/uptime)"
for t in /src/tests/vm/sdguest-*.sh; do
  [ -e "$t" ] || continue
  name=$(basename "$t" .sh)
  case ",$only," in ,,|*",$name,"*) ;; *) continue ;; esac
  echo "VM-TEST-BEGIN $name"
  timeout -s KILL "$per" bash "$t" </dev/null 2>&1
  rc=$?
  echo "VM-TEST-END $name rc=$rc"
done
echo "VM-DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
systemctl poweroff --force --force || poweroff -f
