/* The container's filesystem view, built inside its new mount namespace:
 * propagation, the rootfs bind, every config mount (targets resolved inside
 * the rootfs with openat2 RESOLVE_IN_ROOT, CVE-2021-30465), /dev, then
 * pivot_root, masked and read-only paths. */
#ifndef CAPSULE_ROOTFS_H
#define CAPSULE_ROOTFS_H

#include <stdbool.h>

#include "../oci-spec/config.h"
#include "error.h"

struct cr_rootfs_ctx
{
  const struct oci_config *config;
  const char *rootfs;       /* absolute path of root.path */
  const char *cgroup_path;  /* the container's cgroup, for cgroup mounts */
  bool userns;              /* a new user namespace: mknod is not allowed */
  bool cgroupns;            /* a new cgroup namespace */
  const int *idmap_fds;     /* per config mount: a detached idmapped tree, or -1 (NULL: none) */
};

/* On the host, before the child mounts: for every "idmap"/"ridmap" bind mount a
 * detached clone of the source idmapped with the mount's uid/gidMappings
 * (mount_setattr needs privilege over the source filesystem, which a child in a
 * new user namespace lacks). *fds is NULL when there are none, else mounts_len
 * entries, -1 where not idmapped. */
int cr_rootfs_idmap_prepare (const struct oci_config *c, const char *bundle, int **fds, cr_error_t *err);
void cr_rootfs_idmap_free (int *fds, size_t n);

/* Before pivot: propagation, bind rootfs, all mounts, /dev. */
int cr_rootfs_prepare (struct cr_rootfs_ctx *ctx, cr_error_t *err);
/* pivot_root (or MS_MOVE + chroot with no_pivot). */
int cr_rootfs_pivot (const char *rootfs, bool no_pivot, cr_error_t *err);
/* After pivot: masked paths, readonly paths, rootfs propagation, read-only root. */
int cr_rootfs_finalize (struct cr_rootfs_ctx *ctx, cr_error_t *err);

/* Open path inside root (dirfd) without escaping it; creates missing
 * components (directories, or a file for the last one if as_file) when create. */
int cr_open_in_root (int rootfd, const char *path, bool create, bool as_file, cr_error_t *err);

/* A private procfs instance (fsopen/fsmount) for the container's pid ns: all
 * /proc writes go through it (CVE-2025-52881). Returns a dir fd. */
int cr_private_procfs (cr_error_t *err);

/* Bind the terminal slave over /dev/console (after pivot). */
int cr_rootfs_setup_console (const char *slave_path, cr_error_t *err);

#endif
