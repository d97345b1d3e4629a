/* Landlock for capsules: reads and execution stay governed by the mounts
 * (read-only rootfs), Landlock adds that writes of any kind (open for
 * write, truncate, create, remove, rename, link, device ioctls) are allowed
 * only below the writable paths, plus opening existing files under /dev
 * for writing (/dev/null, ttys).  Best effort by ABI: every write right the
 * running kernel knows is handled; with ABI >= 6 abstract unix sockets and
 * signals are scoped to the capsule's own Landlock domain. */
#ifndef CAPSULE_LANDLOCK_H
#define CAPSULE_LANDLOCK_H

#include <stddef.h>

#include "error.h"

/* Landlock ABI version of the running kernel, 0 when Landlock is absent or disabled. */
int capsule_landlock_abi (void);
/* Restrict the calling thread (and its future children) as above.  abi is
 * the value recorded at admission; a kernel with a lower ABI than recorded
 * is an error (fail closed).  Requires no_new_privs or CAP_SYS_ADMIN. */
int capsule_landlock_apply (char *const *writable, size_t n, int abi, cr_error_t *err);

#endif
