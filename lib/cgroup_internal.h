/* Shared between the lib/cgroup*.c files only (not part of the runtime API).
 * Tests include it for the pure conversion functions and the mode override. */
#ifndef CAPSULE_CGROUP_INTERNAL_H
#define CAPSULE_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

/* A mounted hierarchy: a v1 controller mount (or name=systemd) or the v2 mount. */
struct cr_cgroup_hier
{
  char *mountpoint;  /* e.g. /sys/fs/cgroup/cpu */
  char *controllers; /* v1: comma list from the super options ("cpu", "cpu,cpuacct", "name=systemd"); v2: "" */
  bool v2;
};

struct cr_cgroup_hiers
{
  struct cr_cgroup_hier *h;
  size_t n;
};

/* Hierarchies of the current mode (cached).  v1: the controller mounts;
 * hybrid: those plus the unified mount; v2: the single cgroup2 mount. */
const struct cr_cgroup_hiers *cr_cgroup_hiers (void);
/* The v1 hierarchy with the given controller ("memory", "name=systemd"), or NULL. */
const struct cr_cgroup_hier *cr_cgroup_v1_hier (const char *controller);
/* The v2 hierarchy (pure v2 root or hybrid's unified mount), or NULL. */
const struct cr_cgroup_hier *cr_cgroup_v2_hier (void);

/* Testing: pretend the host is in mode m.  CR_CGROUP_V2 on a hybrid host
 * uses the unified mount as the v2 root (no controllers there, but
 * cgroup.procs/freeze/kill/events and device eBPF work). 0 = detect. */
void cr_cgroup_force_mode (enum cr_cgroup_mode m);

/* "mountpoint" + "/" + cgroup path (+ "/" + file). malloc'd. */
char *cr_cgroup_dir (const struct cr_cgroup_hier *h, const char *path);

/* Small file helpers; `what` names the resource for error messages. */
int cr_cgroup_write (const char *dir, const char *file, const char *value, cr_error_t *err);
int cr_cgroup_writef (const char *dir, const char *file, cr_error_t *err, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));
/* Read a control file, trailing newline stripped. */
int cr_cgroup_read (const char *dir, const char *file, char **out, cr_error_t *err);
bool cr_cgroup_file_exists (const char *dir, const char *file);
/* "key value" line lookup in a flat-keyed file content (memory.stat, cpu.stat, memory.events). */
bool cr_cgroup_kv_get (const char *content, const char *key, uint64_t *value);

/* Path translation as a pure function: own_cgroup is the caller's cgroup
 * (used for empty or relative paths in cgroupfs mode). */
int cr_cgroup_translate_path (const char *cgroups_path, const char *id, bool systemd_cgroup,
                              const char *own_cgroup, char **out, cr_error_t *err);
/* --systemd-cgroup's "slice:prefix:name": the slice ("system.slice" when
 * empty, "-.slice" for "-") and the unit ("prefix-name.scope", or name when
 * it is a .slice). */
int cr_cgroup_systemd_unit (const char *cgroups_path, const char *id, char **slice_out, char **unit_out,
                            cr_error_t *err);
/* systemd slice expansion ("a-b.slice" -> "/a.slice/a-b.slice", "-.slice" -> "/"). */
int cr_cgroup_expand_slice (const char *slice, char **out, cr_error_t *err);
/* Check a resolved path: absolute, no "." / ".." / empty components. */
int cr_cgroup_check_path (const char *path, cr_error_t *err);

/* Pure conversions (runc's documented formulas). */
uint64_t cr_cgroup_shares_to_weight (uint64_t shares);          /* 0 = unset */
uint64_t cr_cgroup_blkio_to_io_weight (uint64_t blkio_weight);  /* 0 = unset */
/* v2 cpu.max value from OCI quota/period; returns false if nothing to write. */
bool cr_cgroup_cpu_max (const struct oci_cpu *cpu, char *buf, size_t len);
/* v2 memory.swap.max from OCI swap (= memory+swap) and limit; *out -1 = max, 0 = unset/none. */
int cr_cgroup_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, cr_error_t *err);
/* "max" for -1, "" for 0 (unset), else the number (runc's numToStr). */
void cr_cgroup_num_to_str (int64_t v, char *buf, size_t len);
/* pids.max value: "max" for <= 0. */
void cr_cgroup_pids_max (int64_t limit, char *buf, size_t len);
/* v1 devices.allow/deny line: "c 1:3 rwm", "a *:* rwm". */
int cr_cgroup_v1_device_line (const struct oci_device_cgroup *d, char *buf, size_t len, cr_error_t *err);
/* rdma.max line: "mlx4_0 hca_handle=2 hca_object=2000". */
void cr_cgroup_rdma_line (const struct oci_rdma *r, char *buf, size_t len);
/* Check and normalise a hugepage size ("2MB"). */
int cr_cgroup_check_hugepage_size (const char *size, cr_error_t *err);

/* Hand a locally caught error to the caller's *err (or drop it); returns -1. */
static inline int
cr_cgroup_pass_error (cr_error_t *err, cr_error_t *local)
{
  if (err && *err == NULL)
    {
      *err = *local;
      *local = NULL;
    }
  else
    cr_error_release (local);
  return -1;
}

/* Resources per mode. */
int cr_cgroup_v1_set (const char *path, const struct oci_resources *res, cr_error_t *err);
int cr_cgroup_v2_set (const char *path, const struct oci_resources *res, cr_error_t *err);
/* Pure v2: enable every available controller in the subtree_control of
 * each ancestor of path (root down to path's parent). */
int cr_cgroup_v2_enable_controllers (const char *path, cr_error_t *err);
/* v1 cpuset: copy cpuset.cpus/mems from the parent into an empty new dir. */
int cr_cgroup_v1_cpuset_init (const char *dir, cr_error_t *err);

/* v2 device filter: compile rules to a BPF_PROG_TYPE_CGROUP_DEVICE program
 * and attach it to the cgroup dir (BPF_F_ALLOW_MULTI), replacing ours. */
int cr_cgroup_devices_bpf_apply (const char *dir, const struct oci_device_cgroup *rules, size_t n, cr_error_t *err);
/* How many device programs are attached directly to the cgroup dir. */
int cr_cgroup_devices_bpf_count (const char *dir, cr_error_t *err);
/* Number of instructions the program for these rules has (for tests); <0 on bad rules. */
int cr_cgroup_devices_bpf_insn_count (const struct oci_device_cgroup *rules, size_t n, cr_error_t *err);

#endif
