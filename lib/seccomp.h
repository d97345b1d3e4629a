/* linux.seccomp -> a libseccomp filter, loaded right before execve. */
#ifndef CAPSULE_SECCOMP_H
#define CAPSULE_SECCOMP_H

#include <seccomp.h>
#include <stdbool.h>
#include <sys/types.h>

#include "../oci-spec/config.h"
#include "error.h"

/* Build the filter (not loaded).  Syscall names unknown to this arch are
 * skipped like runc does; unknown actions, architectures, operators and
 * flags are errors.  no_new_privs is NOT set by loading (runc behaviour). */
int cr_seccomp_build (const struct oci_seccomp *s, scmp_filter_ctx *out, cr_error_t *err);

/* Build and load.  s == NULL is a no-op.  When a rule uses SCMP_ACT_NOTIFY
 * and listener_fd is not NULL, *listener_fd receives the notification fd
 * (else -1). */
int cr_seccomp_load (const struct oci_seccomp *s, int *listener_fd, cr_error_t *err);

/* Hand a notify fd to the seccomp agent listening on listener_path (a unix
 * stream socket): one message carrying the runtime-spec containerProcessState
 * {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"} and the fd
 * as SCM_RIGHTS.  state_json is the container state JSON, embedded as is. */
int cr_seccomp_send_listener (const char *listener_path, int notify_fd, pid_t pid, const char *metadata,
                              const char *state_json, cr_error_t *err);

/* True if any rule (or the default) uses SCMP_ACT_NOTIFY. */
bool cr_seccomp_uses_notify (const struct oci_seccomp *s);

/* For `features`: NULL-terminated static lists of what this build supports. */
const char *const *cr_seccomp_actions (void);
const char *const *cr_seccomp_archs (void);
const char *const *cr_seccomp_operators (void);
const char *const *cr_seccomp_flags (void);

#endif
