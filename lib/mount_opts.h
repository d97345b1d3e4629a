/* OCI mount options -> mount(2) flags, propagation, data string. */
#ifndef CAPSULE_MOUNT_OPTS_H
#define CAPSULE_MOUNT_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct cr_mount_opts
{
  unsigned long flags;       /* MS_* to set */
  unsigned long clear;       /* MS_* explicitly cleared (rw, suid, ...) */
  unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC) */
  bool bind, rec_bind;
  bool idmap, rec_idmap;
  bool rec_ro;               /* "rro" etc: applied with mount_setattr(AT_RECURSIVE) */
  char *data;                /* unknown options joined with ',' for the filesystem */
};

int cr_mount_opts_parse (char **options, size_t n, struct cr_mount_opts *out, cr_error_t *err);
void cr_mount_opts_release (struct cr_mount_opts *o);
/* rootfsPropagation value -> flags; -1 with error for an unknown value. */
long cr_propagation_flags (const char *name, cr_error_t *err);

#endif
