#!/bin/bash
# Builds the initramfs for the cgroup-v2 VM: busybox-static, bash and jq, the
# runtime under test and every ELF program of the build (cmd/, hooks/, tests/)
# with the shared libraries ldd names, kernel modules (veth, dummy, overlay,
# nf_tables and friends, with their dependencies in load order), the test
# sources (tests/), and tests/vm/init as /init.
# usage: mkinitramfs.sh OUT.cpio.gz KVER
# env: CAPSULE_SRC, CAPSULE_BUILD, RUNTIME (copied to /usr/local/bin/),
#      VM_SYSTEMD=1 (also pack systemd 252 as PID 1 for systemd.sh)
set -euo pipefail
out=$1 kver=$2
W=$(mktemp -d /tmp/capsule-vm-initrd.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=$W/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib,lib64,etc,proc,sys,dev,tmp,run,var/run,root,build/bin,src,newroot}

cp "$(command -v busybox)" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list-full); do [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"; done

# copy_elf FILE DEST: the binary plus every library it loads (same paths).
copy_libs() {
  local l
  for l in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*'); do
    [ -e "$R$l" ] || { mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l"; }
  done
}
copy_elf() { mkdir -p "$(dirname "$2")"; cp -L "$1" "$2"; copy_libs "$1"; }
is_elf() { [ "$(head -c4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

copy_elf "$(command -v bash)" "$R/bin/bash"
copy_elf "$(command -v jq)" "$R/usr/bin/jq"
# optional: apparmor_parser for guest-apparmor.sh
if p=$(command -v apparmor_parser 2>/dev/null); then copy_elf "$p" "$R/sbin/apparmor_parser"; fi

# Runtime under test, and every program of the build tree (same relative
# paths under /build, and flat in /build/bin for CAPSULE_TEST_BIN_DIR).
copy_elf "$RUNTIME" "$R/usr/local/bin/$(basename "$RUNTIME")"
echo "RUNTIME=/usr/local/bin/$(basename "$RUNTIME")" >"$R/etc/vm-env"
n=0
for d in cmd hooks tests; do
  [ -d "$CAPSULE_BUILD/$d" ] || continue
  while IFS= read -r f; do
    is_elf "$f" || continue
    rel=${f#"$CAPSULE_BUILD"/}
    copy_elf "$f" "$R/build/$rel"
    ln -sf "/build/$rel" "$R/build/bin/$(basename "$f")"
    n=$((n+1))
  done < <(find "$CAPSULE_BUILD/$d" -path '*/CMakeFiles' -prune -o -type f -perm -u+x -print)
done
echo "# packed $n programs from $CAPSULE_BUILD" >&2

# Test sources: tests/ is all the guest scripts and helpers need.
mkdir -p "$R/src"
cp -a "$CAPSULE_SRC/tests" "$R/src/"

# Kernel modules with dependencies, in load order (deps first).
M=/lib/modules/$kver
want="crc32c_generic crc32c_intel veth dummy overlay nf_tables nft_chain_nat nft_ct nft_nat nft_redir nft_masq nft_reject_inet
      nft_fib_inet nft_limit nft_socket nft_tproxy nft_numgen nft_hash nft_quota nft_counter
      nf_nat nf_conntrack nfnetlink_log xt_mark nf_tables_set brd"
declare -A seen=()
order=()
add_mod() {   # add_mod RELPATH: deps first (depth-first over modules.dep)
  local rel=$1 d
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  for d in $(awk -F': *' -v m="$rel" '$1==m {print $2}' "$M/modules.dep"); do add_mod "$d"; done
  order+=("$rel")
}
for m in $want; do
  rel=$(awk -F: -v m="$m" '{n=$1; sub(/.*\//,"",n); sub(/\.ko.*/,"",n); if (n==m) {print $1; exit}}' "$M/modules.dep")
  [ -n "$rel" ] && add_mod "$rel"
done
mkdir -p "$R/lib/modules"
: >"$R/etc/modules.order"
for rel in "${order[@]}"; do
  mkdir -p "$R/lib/modules/$(dirname "$rel")"
  case "$rel" in
    *.xz) xz -dc "$M/$rel" >"$R/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
    *.zst) zstd -qdc "$M/$rel" >"$R/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
    *) cp "$M/$rel" "$R/lib/modules/$rel" ;;
  esac
  echo "/lib/modules/$rel" >>"$R/etc/modules.order"
done
echo "# packed ${#order[@]} kernel modules" >&2

# VM_SYSTEMD=1 (systemd.sh): systemd as PID 1.  Its built-in -.slice,
# system.slice and init.scope are enough for transient scopes; only the test
# unit, machine.slice and a manager config are added.
if [ "${VM_SYSTEMD:-0}" = 1 ]; then
  copy_elf /lib/systemd/systemd "$R/lib/systemd/systemd"
  for p in systemctl systemd-run; do copy_elf "$(command -v $p)" "$R/bin/$p"; done
  # optional, for debugging a D-Bus client in the guest
  if p=$(command -v strace 2>/dev/null); then copy_elf "$p" "$R/usr/bin/strace"; fi
  # optional: runc as the reference for the --systemd-cgroup scope (go-systemd
  # falls back to /run/systemd/private for root, no bus daemon needed)
  if p=$(command -v runc 2>/dev/null); then copy_elf "$p" "$R/usr/sbin/runc"; fi
  mkdir -p "$R/etc/systemd/system" "$R/etc/systemd/system.conf.d" "$R/lib/systemd/system"
  [ -f /lib/systemd/system/machine.slice ] && cp /lib/systemd/system/machine.slice "$R/lib/systemd/system/"
  cp "$CAPSULE_SRC/tests/vm/capsule-vm-test.service" "$R/etc/systemd/system/"
  mkdir -p "$R/usr/local/sbin"
  install -m 755 "$CAPSULE_SRC/tests/vm/sdrun.sh" "$R/usr/local/sbin/capsule-vm-sdrun"
  # Accounting on, as on a kubeadm node: the memory/pids/cpu/io controllers
  # get enabled down the tree.
  printf '[Manager]\nDefaultCPUAccounting=yes\nDefaultMemoryAccounting=yes\nDefaultTasksAccounting=yes\nDefaultIOAccounting=yes\n' \
    >"$R/etc/systemd/system.conf.d/capsule-vm.conf"
  cp -L /etc/os-release "$R/etc/os-release"
  # A fixed machine-id: without one systemd treats the boot as a first boot.
  tr -d '-' </proc/sys/kernel/random/uuid >"$R/etc/machine-id"
  echo "# packed systemd $(/lib/systemd/systemd --version | head -1 | cut -d' ' -f2)" >&2
fi

cp "$CAPSULE_SRC/tests/vm/init" "$R/init"
chmod +x "$R/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
(cd "$R" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out"
echo "# initramfs $(du -h "$out" | cut -f1)" >&2
