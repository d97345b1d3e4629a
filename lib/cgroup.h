/* Cgroups for a container: v1, hybrid (v1 controllers + an extra cgroup2
 * mount at /sys/fs/cgroup/unified) and pure v2 hosts.  cgroupsPath is taken
 * in both forms: "/a/b" (relative to the cgroup roots) and systemd's
 * "slice:prefix:name", which is translated like runc does
 * (a-b.slice -> /a.slice/a-b.slice/prefix-name.scope), created through
 * cgroupfs and then adopted by systemd as a transient scope unit over its
 * private D-Bus socket (lib/cgroup_systemd.c); `create`/`run` refuse
 * --systemd-cgroup when systemd is not init, with runc's error. */
#ifndef CAPSULE_CGROUP_H
#define CAPSULE_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../oci-spec/config.h"
#include "error.h"

enum cr_cgroup_mode { CR_CGROUP_V1 = 1, CR_CGROUP_HYBRID, CR_CGROUP_V2 };

/* Detected once per process. */
enum cr_cgroup_mode cr_cgroup_mode (void);

struct cr_cgroup
{
  enum cr_cgroup_mode mode;
  char *path;        /* resolved relative path, e.g. "/default/ctr1" or "/system.slice/x-y.scope" */
  /* v2 (and hybrid's unified dir, if created) */
  int v2_dirfd;      /* O_PATH|O_DIRECTORY of the v2 cgroup dir, -1 if none: used for CLONE_INTO_CGROUP */
  /* How many path levels (leaf included) cr_cgroup_create made itself; destroy
   * also removes those ancestors when empty.  0 after cr_cgroup_open: only the
   * leaf (and anything below it) is removed, like runc. */
  int created_levels;
};

/* Translate an OCI cgroupsPath (NULL/"" = runc default: relative to the
 * caller's own cgroup + "/" + id; systemd_cgroup as runc's --systemd-cgroup).
 * cgroupfs: "/a/b" cleaned lexically ("/../x" -> "/x"); relative "a/b" is
 * below the caller's own cgroup (on v1 the cpu controller's line of
 * /proc/self/cgroup: one path is kept for every hierarchy).  systemd:
 * "slice:prefix:name"; slice "" = system.slice, "-" = root; "a-b.slice" ->
 * /a.slice/a-b.slice; unit "prefix-name.scope" or name if it ends in .slice;
 * "" = ":runc:<id>".  Errors start with "invalid cgroupsPath". */
int cr_cgroup_resolve_path (const char *cgroups_path, const char *id, bool systemd_cgroup, char **out, cr_error_t *err);

/* Create the cgroup dirs (every mounted v1 controller, the v2/unified dir),
 * apply resources (may be NULL).  On error nothing is left behind.  Refuses
 * an existing cgroup that has processes or is frozen ("is not empty").
 * Pure v2: every available controller is enabled in the ancestors'
 * cgroup.subtree_control. */
int cr_cgroup_create (const char *path, const struct oci_resources *res, struct cr_cgroup *out, cr_error_t *err);
/* Re-open an existing cgroup by its stored path (for state/kill/delete/exec). */
int cr_cgroup_open (const char *path, struct cr_cgroup *out, cr_error_t *err);
/* Move pid into the cgroup (all hierarchies). */
int cr_cgroup_enter (const struct cr_cgroup *cg, pid_t pid, cr_error_t *err);
/* Only the v1 controller hierarchies (v1) and/or the v2/unified one (v2). */
int cr_cgroup_enter_part (const struct cr_cgroup *cg, pid_t pid, bool v1, bool v2, cr_error_t *err);

/* Self-join of the v1 hierarchies: writing pid "0" to a v1 `tasks` file moves
 * only the calling thread, and the kernel skips the global threadgroup rwsem
 * (whose write side waits out an RCU grace period, 5-20 ms) for that case.
 * For a single-threaded child that is the whole process.  The parent opens
 * the files before clone (permission is checked against the opener's
 * credentials, and the child's mount namespace does not matter); the child
 * writes.  v2 hierarchies are not covered: clone3(CLONE_INTO_CGROUP) is. */
struct cr_cgroup_selfjoin
{
  int *fds;
  size_t n;
};
int cr_cgroup_selfjoin_open (const struct cr_cgroup *cg, struct cr_cgroup_selfjoin *j, cr_error_t *err);
/* In the (single-threaded) child: move the caller; closes the fds either way. */
int cr_cgroup_selfjoin_run (struct cr_cgroup_selfjoin *j, cr_error_t *err);
void cr_cgroup_selfjoin_close (struct cr_cgroup_selfjoin *j);
/* Apply / update resources (update verb): only fields present are written.
 * v2 devices: an eBPF program replacing the previous one; hybrid uses the v1
 * controllers (unified key/values are refused on v1 and hybrid, like runc). */
int cr_cgroup_set_resources (const struct cr_cgroup *cg, const struct oci_resources *res, cr_error_t *err);
/* List pids in the cgroup (recursive); *pids malloc'd. */
int cr_cgroup_pids (const struct cr_cgroup *cg, pid_t **pids, size_t *n, cr_error_t *err);
/* Send sig to every process in the cgroup (cgroup.kill on v2 for SIGKILL, else freeze-signal-thaw loop). */
int cr_cgroup_kill_all (const struct cr_cgroup *cg, int sig, cr_error_t *err);
/* Freezer: v1 freezer.state / v2 cgroup.freeze; waits until frozen/thawed. */
int cr_cgroup_freeze (const struct cr_cgroup *cg, bool freeze, cr_error_t *err);
/* Returns 1 if frozen, 0 if not, <0 on error. */
int cr_cgroup_is_frozen (const struct cr_cgroup *cg, cr_error_t *err);
/* Remove the cgroup dirs (retrying while they drain; EBUSY-safe); missing dirs are fine. */
/* systemd as init (sd_booted's test). */
bool cr_systemd_booted (void);
/* --systemd-cgroup: make the container's cgroup (already created, pid in
 * it) a transient scope unit "prefix-name.scope" in its slice, with
 * Delegate=yes and the main limits as properties; *unit_out = the unit, or
 * left NULL for a ".slice" name (kept as a plain cgroup).  Waits for the
 * job. */
int cr_systemd_scope_start (const char *cgroups_path, const char *id, pid_t pid, const struct oci_resources *res,
                            char **unit_out, cr_error_t *err);
/* The scope unit a --systemd-cgroup path ends in ("x-y.scope"), or NULL. */
const char *cr_systemd_scope_of (const char *cgroup_path);
/* `update`: the new limits as the unit's runtime properties too, so a
 * daemon-reload does not bring the old ones back (SetUnitProperties). */
int cr_systemd_unit_set_limits (const char *unit, const struct oci_resources *res, cr_error_t *err);
/* StopUnit and wait; a unit systemd no longer has is no error. */
int cr_systemd_unit_stop (const char *unit, cr_error_t *err);
int cr_cgroup_destroy (const struct cr_cgroup *cg, cr_error_t *err);
void cr_cgroup_release (struct cr_cgroup *cg);

/* Stats for `events --stats` / ctr metrics (runc's JSON "data" shape). */
struct cr_cgroup_stats
{
  uint64_t cpu_usage_total, cpu_usage_user, cpu_usage_kernel;
  uint64_t cpu_throttled_periods, cpu_throttled_time, cpu_periods;
  uint64_t memory_usage, memory_limit, memory_max_usage, memory_failcnt, memory_cache;
  uint64_t swap_usage, swap_limit;
  uint64_t pids_current, pids_limit;
  uint64_t oom_kill_count;
};
int cr_cgroup_stats (const struct cr_cgroup *cg, struct cr_cgroup_stats *st, cr_error_t *err);

#endif
