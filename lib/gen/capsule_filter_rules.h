/* The capsule seccomp filter as libseccomp rules (see lib/confine.h for the
 * list).  Standalone (libseccomp only): used by the build-time generator and
 * by the test that checks the embedded program against a fresh compile. */
#ifndef CAPSULE_FILTER_RULES_H
#define CAPSULE_FILTER_RULES_H

#include <seccomp.h>
#include <stddef.h>

/* Add the rules to ctx; on error returns a negative errno and names the failing step in what. */
int capsule_filter_rules (scmp_filter_ctx ctx, char *what, size_t what_len);
/* Compile the rules to a BPF program (struct sock_filter array, malloc'ed). */
int capsule_filter_compile (unsigned char **prog, size_t *len, char *what, size_t what_len);

#endif
