/* Node-wide concurrency groups (capsule/concurrency: group=N).  Under the
 * runtime's state root, <root>/.capsule-concurrency/<group>/ holds one file
 * per capsule holding a slot, named by container id and containing the pid
 * and start time of the process that holds it (the creating runtime, then
 * the container init).  Counting and claiming happen under flock(2) on the
 * group directory.  A slot whose holder is gone (dead, zombie, or a reused
 * pid with another start time) is reclaimed at the next count, so a capsule
 * that died without `delete` frees its slot; `delete` releases it at once. */
#ifndef CAPSULE_CONCURRENCY_H
#define CAPSULE_CONCURRENCY_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Claim a slot for id held by pid; refuse ("concurrency group G is full: N
 * of N running") when max live holders exist. */
int capsule_slot_acquire (const char *root, const char *group, uint32_t max, const char *id, pid_t holder, cr_error_t *err);
/* Hand an existing slot to another holder (the container init once it exists). */
int capsule_slot_update (const char *root, const char *group, const char *id, pid_t holder, cr_error_t *err);
void capsule_slot_release (const char *root, const char *group, const char *id);
/* Live holders now (stale entries reclaimed), or -1. */
int capsule_slot_count (const char *root, const char *group, cr_error_t *err);

#endif
