/* Reading cgroup stat files where a missing file (controller not mounted or
 * not enabled) is not an error: the callers report zero or leave it out,
 * like runc. */
#ifndef CAPSULE_CGROUP_STATS_H
#define CAPSULE_CGROUP_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* DIR/FILE's content (trailing newline trimmed as cr_cgroup_read does), NULL
 * when DIR is NULL or the file cannot be read.  malloc'd. */
char *cr_cgroup_read_opt (const char *dir, const char *file);
/* DIR/FILE as one number, "max" as UINT64_MAX; false (and *v untouched) when unreadable. */
bool cr_cgroup_read_u64_opt (const char *dir, const char *file, uint64_t *v);

#endif
