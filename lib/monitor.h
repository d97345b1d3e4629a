/* The per-capsule monitor (SPEC §6, §7): a small daemon started by `create`
 * for every capsule (double fork, own session, every inherited fd closed)
 * that outlives the runtime process.  One event loop (poll) over a pidfd of
 * the container init, a timerfd for the timeout, an inotify watch on the
 * kill-switch directory (lib/killswitch.h) and a timerfd for the audit
 * head; no busy polling.
 *
 *   timeout:     audit "timeout", SIGTERM to every process of the container's
 *                cgroup, then SIGKILL 10 s later (audit "timeout-kill") if
 *                anything is left;
 *   kill switch: a record naming this capsule's session, agent or
 *                agent@version appears (or is there when the monitor starts):
 *                audit "killswitch" (with the record), SIGKILL sweeps of the
 *                cgroup until it is empty (cgroup.kill on v2, freeze + kill
 *                on v1), SIGTERM to the proxy supervisor (which stops the
 *                proxy: every proxied connection drops), signed head;
 *   audit head:  50 ms after start (covering "created"), then every
 *                CAPSULE_MONITOR_HEAD_S seconds when the log grew, and at
 *                "killswitch" / "exited", a signed head (lib/audit_head.h);
 *                `delete` records one after its "deleted" line;
 *   init exits:  audit "exited" (with "cause" timeout or killswitch), SIGKILL
 *                to the cgroup's leftovers, head, exit.
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
/* How often the monitor re-signs the audit chain head (when the log grew). */
#define CAPSULE_MONITOR_HEAD_S 2

/* Does this capsule need a monitor?  Every capsule does (kill switch, audit head). */
bool capsule_monitor_needed (const struct capsule_effective *eff);
int capsule_monitor_start (const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                           const char *cgroup_path, cr_error_t *err);
/* SIGTERM the monitor recorded in state_dir (if it is still the same process). */
void capsule_monitor_stop (const char *state_dir);

/* A foreground `run` stays alive for as long as its capsule, so it keeps
 * the monitor in a thread of its own instead of forking a daemon (a fork
 * and its copy-on-write faults were half of a capsule's start-up cost).
 * The same loop: timeout, kill switch, heads, "exited".  The init then
 * keeps its parent-death signal (SIGKILL) and has a pid namespace of its
 * own, so the capsule dies with the runtime: nothing runs unwatched.
 * On success the thread owns eff.  _stop records "exited" if the init is
 * gone and not yet on record (with a signed head if head: no delete
 * follows to record one), then joins; `run` calls it before delete. */
struct capsule_monitor_thread;
int capsule_monitor_start_thread (const char *state_dir, struct capsule_effective *eff, pid_t init_pid,
                                  const char *cgroup_path, struct capsule_monitor_thread **out, cr_error_t *err);
void capsule_monitor_thread_stop (struct capsule_monitor_thread *t, bool head);

/* Lifecycle glue: after the init exists (slot handed to the init, monitor,
 * audit "created"), and at delete (monitor stopped, slot released, audit
 * "deleted").  thread NULL: the monitor is a daemon; else an in-process
 * monitor is started into *thread and owns eff from then on.
 * capsule_release loads capsule.json itself unless given it. */
int capsule_started (const char *root, const char *state_dir, struct capsule_effective *eff, pid_t init_pid,
                     const char *cgroup_path, struct capsule_monitor_thread **thread, cr_error_t *err);
int capsule_release (const char *state_dir, const struct capsule_effective *eff, cr_error_t *err);

#endif
