# shellcheck shell=bash
# Builds (once per build dir) a busybox OCI image without any registry:
#   $CLIENT_IMG_DIR/oci            OCI image layout, tag "latest" (umoci)
#   $CLIENT_IMG_DIR/busybox.tar    docker-archive named capsule-test/busybox:latest (skopeo)
# Source it after tests/lib.sh; call client_image (returns non-zero on failure).
CLIENT_IMG_DIR="$CAPSULE_BUILD/clients-image"
CLIENT_IMG_REF=docker.io/capsule-test/busybox:latest
client_image() {
  [ -s "$CLIENT_IMG_DIR/busybox.tar" ] && return 0
  local tmp; tmp=$(mktemp -d "$CAPSULE_BUILD/.img.XXXXXX") || return 1
  (
    set -e
    umoci init --layout "$tmp/oci"
    umoci new --image "$tmp/oci:latest"
    umoci unpack --rootless --image "$tmp/oci:latest" "$tmp/bundle" >/dev/null
    mk_rootfs "$tmp/bundle/rootfs"
    umoci repack --image "$tmp/oci:latest" "$tmp/bundle"
    umoci config --image "$tmp/oci:latest" --config.cmd /bin/sh --config.workingdir / \
      --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --os linux --architecture amd64
    umoci gc --layout "$tmp/oci"
    skopeo --insecure-policy copy -q "oci:$tmp/oci:latest" "docker-archive:$tmp/busybox.tar:capsule-test/busybox:latest"
    rm -rf "$tmp/bundle"
  ) >"$tmp.log" 2>&1 || { sed 's/^/    /' "$tmp.log" | tail -20; rm -rf "$tmp" "$tmp.log"; return 1; }
  rm -f "$tmp.log"
  mkdir -p "$CLIENT_IMG_DIR"
  mv "$tmp/oci" "$tmp/busybox.tar" "$CLIENT_IMG_DIR/" && rm -rf "$tmp"
}

# client_wrap_runtime DIR: a wrapper at DIR/runtime that logs every argv (one
# line per call, to DIR/calls.log) and execs $RUNTIME; prints its path.
client_wrap_runtime() {
  mkdir -p "$1"
  cat >"$1/runtime" <<EOW
#!/bin/sh
echo "\$*" >>"$1/calls.log"
exec "$RUNTIME" "\$@"
EOW
  chmod +x "$1/runtime"
  echo "$1/runtime"
}
