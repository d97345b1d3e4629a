/* OCI hooks: each hook is fork+execve'd with exactly its args and env, gets
 * the state JSON on stdin, may run at most its timeout, and its output is
 * copied to the runtime's stderr and quoted in the error when it fails. */
#ifndef CAPSULE_HOOKS_H
#define CAPSULE_HOOKS_H

#include <stddef.h>

#include "../oci-spec/config.h"
#include "error.h"

/* Run hooks in order; stop at the first failure with
 * "error running hook #N `PATH`: exit status 1, stdout: ..., stderr: ..."
 * or "error running hook #N `PATH`: hook timed out after Ts". */
int cr_hooks_run (const struct oci_hook *hooks, size_t n, const char *state_json, cr_error_t *err);

/* One hook; index only names it in errors. */
int cr_hook_run (const struct oci_hook *hook, size_t index, const char *state_json, cr_error_t *err);

#endif
