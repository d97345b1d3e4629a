/* Linux namespaces of a container: which to create (clone flags), which to
 * join by path (setns), in the order the kernel needs. */
#ifndef CAPSULE_NAMESPACES_H
#define CAPSULE_NAMESPACES_H

#include <stdbool.h>
#include <sys/types.h>

#include "../oci-spec/config.h"
#include "error.h"

/* CLONE_NEW* value for an OCI namespace type, 0 if unknown. */
int cr_ns_flag (const char *type);
/* /proc/self/ns/<name> file name for an OCI type ("network" -> "net"). */
const char *cr_ns_proc_name (const char *type);

/* Flags of the namespaces to create (entries without a path). */
int cr_ns_new_flags (const struct oci_config *c);

/* Open every path namespace (before we move anywhere) into fds[]; types[] gets the flag. */
struct cr_ns_join
{
  int fd;
  int flag;
  char *path;
};
int cr_ns_open_paths (const struct oci_config *c, struct cr_ns_join **out, size_t *n, cr_error_t *err);
/* setns into every opened namespace with flag in mask (user first). */
int cr_ns_join (struct cr_ns_join *j, size_t n, int mask, cr_error_t *err);
void cr_ns_join_free (struct cr_ns_join *j, size_t n);

/* The runtime itself joins, for the clone only, the path namespaces the child
 * cannot join on its own: pid and time (they apply to children), and with a new
 * user namespace also net/ipc/uts/cgroup (runc's order: join, then the userns).
 * cr_ns_parent_restore returns the runtime to its own; call it on every path. */
struct cr_ns_saved
{
  int fd[8];
  int flag[8];
  size_t n;
};
int cr_ns_parent_enter (struct cr_ns_join *j, size_t n, int new_flags, struct cr_ns_saved *saved, cr_error_t *err);
void cr_ns_parent_restore (struct cr_ns_saved *saved);

/* Index in j of a user namespace joined by path (still open), or -1. */
int cr_ns_joined_userns (const struct cr_ns_join *j, size_t n);
/* clone(flags) for a config that joins a user namespace by path: a helper
 * process joins every still-open namespace of j (the user namespace last) and
 * clones with CLONE_PARENT, so the new namespaces belong to the joined user
 * namespace and the child is the caller's. Like fork: 0 in the child (whose
 * copy of j is all joined), its pid in the caller, -1 with errno. */
pid_t cr_ns_clone_in_userns (struct cr_ns_join *j, size_t n, int flags);

/* A new time namespace (no path) is in the config. */
bool cr_ns_wants_new_time (const struct oci_config *c);
/* In the child: unshare a new time namespace, write linux.timeOffsets, enter it. */
int cr_ns_unshare_time (const struct oci_config *c, cr_error_t *err);

/* Inode of /proc/<pid or self>/ns/<name> or of a path. 0 on error. */
unsigned long cr_ns_inode_path (const char *path);

#endif
