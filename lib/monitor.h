/* The per-capsule monitor (SPEC §6): a small daemon started by `create`
 * (double fork, own session, every inherited fd closed) that outlives the
 * runtime process.  One event loop (poll) over a pidfd of the container
 * init and a timerfd for the timeout; no busy polling.
 *
 *   timeout:    audit "timeout", SIGTERM to every process of the container's
 *               cgroup, then SIGKILL 10 s later (audit "timeout-kill") if
 *               anything is left;
 *   init exits: audit "exited", SIGKILL to the cgroup's leftovers, exit.
 *
 * Its pid and start time are recorded in <state_dir>/monitor.pid so that
 * `delete` stops it (capsule_monitor_stop). */
#ifndef CAPSULE_MONITOR_H
#define CAPSULE_MONITOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct capsule_effective;

#define CAPSULE_MONITOR_GRACE_S 10

/* Does this capsule need a monitor (a timeout today; kill switch later)? */
bool capsule_monitor_needed (const struct capsule_effective *eff);
int capsule_monitor_start (const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                           const char *cgroup_path, cr_error_t *err);
/* SIGTERM the monitor recorded in state_dir (if it is still the same process). */
void capsule_monitor_stop (const char *state_dir);

/* Lifecycle glue: after the init exists (slot handed to the init, monitor,
 * audit "created"), and at delete (monitor stopped, slot released, audit
 * "deleted").  capsule_release loads capsule.json itself. */
int capsule_started (const char *root, const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                     const char *cgroup_path, cr_error_t *err);
int capsule_release (const char *state_dir, cr_error_t *err);

#endif
