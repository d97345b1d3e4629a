/* Container init: what the cloned child does inside its new namespaces,
 * step by step, until it execve()s the container process. */
#ifndef CAPSULE_INIT_H
#define CAPSULE_INIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "../oci-spec/config.h"
#include "error.h"
#include "namespaces.h"
#include "state.h"

struct cr_init_args
{
  const struct oci_config *config;
  const struct cr_state *state;     /* for the hooks' state JSON */
  const char *bundle;               /* absolute; relative mount sources are relative to it */
  const char *rootfs;               /* absolute */
  const char *cgroup_path;
  int sync_fd;                      /* our end of the handshake */
  int fifo_fd;                      /* O_PATH of exec.fifo, -1 for exec'd processes */
  int state_dirfd;                  /* the parent's locked state dir: closed first, or the lock lives on in us */
  pid_t parent;
  int new_ns_flags;                 /* CLONE_NEW* created by clone */
  struct cr_ns_join *joins;         /* namespaces to setns into */
  size_t joins_len;
  bool no_pivot, no_new_keyring;
  const char *console_socket;
  bool foreground_tty;              /* send the pty master to the parent instead */
  int preserve_fds;
  const int *stdio_fds;             /* foreground `run` without a tty: the container's fds 0-2 (pipe ends), or NULL */
  const int *idmap_fds;             /* cr_rootfs_idmap_prepare's detached mounts, inherited by clone */
  bool keep_pdeathsig;              /* in-process capsule monitor: the init dies with the runtime, also after create */
  bool loopback_up;                 /* bring lo up in the new netns (a capsule with network "none": no hook will) */
  /* Capsule confinement (Landlock + stacked seccomp), NULL for plain containers. */
  int (*confine) (const void *data, cr_error_t *err);
  const void *confine_data;
};

/* Runs in the child; never returns (exits with 1 after reporting an error). */
__attribute__ ((noreturn)) void cr_init_main (struct cr_init_args *a);

/* The last steps shared with `exec`: user, caps, nnp, cwd, fds, seccomp, execve.
 * With seccomp_loaded the filter is already in (cr_init_seccomp_notify). */
int cr_init_finish_process (const struct oci_process *p, const struct oci_linux *l, const char *exe, int preserve_fds,
                            bool seccomp_loaded, int (*confine) (const void *, cr_error_t *), const void *confine_data,
                            cr_error_t *err);
/* A filter with SCMP_ACT_NOTIFY: load it now (while the sync socket is open) and
 * send its listener fd to the parent as CR_SYNC_SECCOMP_FD. Returns 1 if loaded,
 * 0 if the filter has no notify action (nothing done), -1 on error. */
int cr_init_seccomp_notify (const struct oci_linux *l, int sync_fd, cr_error_t *err);

#endif
