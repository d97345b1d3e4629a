/* cgroup v1 (and hybrid) resources: one controller mount per resource,
 * values written as runc's fs driver does. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Dir of path in the controller's mount, or a clear error if not mounted. */
static int
v1_dir (const char *controller, const char *what, const char *path, char **out, cr_error_t *err)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v1_hier (controller);
  if (h == NULL)
    {
      if (strcmp (controller, "rdma") == 0)
        return cr_error (err, ENOENT, "cannot set %s: rdma cgroup not available", what);
      return cr_error (err, ENOENT, "cannot set %s: %s cgroup controller not mounted", what, controller);
    }
  *out = cr_cgroup_dir (h, path);
  return 0;
}

int
cr_cgroup_v1_cpuset_init (const char *dir, cr_error_t *err)
{
  static const char *files[] = { "cpuset.cpus", "cpuset.mems" };
  for (size_t i = 0; i < 2; i++)
    {
      cleanup_free char *cur = NULL, *parent_val = NULL;
      if (cr_cgroup_read (dir, files[i], &cur, err) < 0)
        return -1;
      if (cur[0] != '\0')
        continue;
      cleanup_free char *parent = xstrdup (dir);
      *strrchr (parent, '/') = '\0';
      if (cr_cgroup_read (parent, files[i], &parent_val, err) < 0)
        return -1;
      if (parent_val[0] && cr_cgroup_write (dir, files[i], parent_val, err) < 0)
        return -1;
    }
  return 0;
}

static int
set_cpu (const char *path, const struct oci_cpu *cpu, cr_error_t *err)
{
  bool any = cpu->has_shares || cpu->has_quota || cpu->has_period || cpu->has_burst || cpu->has_realtime_period
             || cpu->has_realtime_runtime || cpu->has_idle;
  if (any)
    {
      cleanup_free char *d = NULL;
      if (v1_dir ("cpu", "cpu", path, &d, err) < 0)
        return -1;
      if (cpu->has_shares && cpu->shares != 0)
        {
          if (cr_cgroup_writef (d, "cpu.shares", err, "%" PRIu64, cpu->shares) < 0)
            return cr_error_wrap (err, "set cpu.shares");
          /* The kernel clamps silently: report it like runc. */
          cleanup_free char *back = NULL;
          if (cr_cgroup_read (d, "cpu.shares", &back, err) < 0)
            return -1;
          uint64_t got = strtoull (back, NULL, 10);
          if (cpu->shares > got)
            return cr_error (err, EINVAL, "cpu.shares: the maximum allowed cpu-shares is %" PRIu64, got);
          if (cpu->shares < got)
            return cr_error (err, EINVAL, "cpu.shares: the minimum allowed cpu-shares is %" PRIu64, got);
        }
      /* burst <= quota must hold at each step: try burst first, redo it after the quota. */
      bool burst_done = false;
      if (cpu->has_burst)
        {
          cr_error_t local = NULL;
          burst_done = cr_cgroup_writef (d, "cpu.cfs_burst_us", &local, "%" PRIu64, cpu->burst) == 0;
          cr_error_release (&local);
        }
      bool period_pending = false;
      if (cpu->has_period && cpu->period != 0)
        {
          cr_error_t local = NULL;
          if (cr_cgroup_writef (d, "cpu.cfs_period_us", &local, "%" PRIu64, cpu->period) < 0)
            {
              /* A smaller period can be refused until the new quota is in: retry after it. */
              if (local->status != EINVAL || !cpu->has_quota || cpu->quota == 0)
                {
                  cr_cgroup_pass_error (err, &local);
                  return cr_error_wrap (err, "set cpu period");
                }
              cr_error_release (&local);
              period_pending = true;
            }
        }
      if (cpu->has_quota && cpu->quota != 0)
        {
          if (cr_cgroup_writef (d, "cpu.cfs_quota_us", err, "%" PRId64, cpu->quota) < 0)
            return cr_error_wrap (err, "set cpu quota");
          if (period_pending && cr_cgroup_writef (d, "cpu.cfs_period_us", err, "%" PRIu64, cpu->period) < 0)
            return cr_error_wrap (err, "set cpu period");
        }
      if (cpu->has_burst && !burst_done && cr_cgroup_writef (d, "cpu.cfs_burst_us", err, "%" PRIu64, cpu->burst) < 0)
        return cr_error_wrap (err, "set cpu burst");
      if (cpu->has_realtime_period && cpu->realtime_period != 0
          && cr_cgroup_writef (d, "cpu.rt_period_us", err, "%" PRIu64, cpu->realtime_period) < 0)
        return cr_error_wrap (err, "set cpu realtimePeriod");
      if (cpu->has_realtime_runtime && cpu->realtime_runtime != 0
          && cr_cgroup_writef (d, "cpu.rt_runtime_us", err, "%" PRId64, cpu->realtime_runtime) < 0)
        return cr_error_wrap (err, "set cpu realtimeRuntime");
      if (cpu->has_idle && cr_cgroup_writef (d, "cpu.idle", err, "%" PRId64, cpu->idle) < 0)
        return cr_error_wrap (err, "set cpu idle");
    }
  if ((cpu->cpus && cpu->cpus[0]) || (cpu->mems && cpu->mems[0]))
    {
      cleanup_free char *d = NULL;
      if (v1_dir ("cpuset", "cpu.cpus/cpu.mems", path, &d, err) < 0)
        return -1;
      if (cpu->cpus && cpu->cpus[0] && cr_cgroup_write (d, "cpuset.cpus", cpu->cpus, err) < 0)
        return cr_error_wrap (err, "set cpu.cpus");
      if (cpu->mems && cpu->mems[0] && cr_cgroup_write (d, "cpuset.mems", cpu->mems, err) < 0)
        return cr_error_wrap (err, "set cpu.mems");
    }
  return 0;
}

static int
set_memory (const char *path, const struct oci_memory *m, cr_error_t *err)
{
  int64_t limit = m->has_limit ? m->limit : 0;
  int64_t swap = m->has_swap ? m->swap : 0;
  bool any = limit || swap || m->has_reservation || m->has_kernel || m->has_kernel_tcp || m->has_swappiness
             || (m->has_disable_oom_killer && m->disable_oom_killer);
  if (!any)
    return 0;
  cleanup_free char *d = NULL;
  if (v1_dir ("memory", "memory", path, &d, err) < 0)
    return -1;
  bool have_memsw = cr_cgroup_file_exists (d, "memory.memsw.limit_in_bytes");
  /* Unlimited memory with swap unset means unlimited swap too (when accounted). */
  if (limit == -1 && swap == 0 && have_memsw)
    swap = -1;
  if (swap != 0 && !have_memsw)
    {
      if (swap != -1)
        return cr_error (err, ENOTSUP, "memory.swap: swap limit not supported by the kernel (no memory.memsw.limit_in_bytes)");
      swap = 0;
    }
  /* OCI swap is memory+swap, i.e. memsw as-is.  Order the two writes so the
   * kernel's memsw >= limit check holds at each step (runc does the same). */
  bool swap_first = false;
  if (limit != 0 && swap != 0)
    {
      cleanup_free char *cur = NULL;
      if (cr_cgroup_read (d, "memory.limit_in_bytes", &cur, err) < 0)
        return -1;
      swap_first = swap == -1 || strtoull (cur, NULL, 10) < (uint64_t) swap;
    }
  for (int step = 0; step < 2; step++)
    {
      bool do_swap = (step == 0) == swap_first;
      if (do_swap && swap != 0 && cr_cgroup_writef (d, "memory.memsw.limit_in_bytes", err, "%" PRId64, swap) < 0)
        return cr_error_wrap (err, "set memory.swap");
      if (!do_swap && limit != 0 && cr_cgroup_writef (d, "memory.limit_in_bytes", err, "%" PRId64, limit) < 0)
        return cr_error_wrap (err, "set memory.limit");
    }
  if (m->has_reservation && m->reservation != 0
      && cr_cgroup_writef (d, "memory.soft_limit_in_bytes", err, "%" PRId64, m->reservation) < 0)
    return cr_error_wrap (err, "set memory.reservation");
  /* Kernel memory limits are gone from recent kernels: ignored there, like runc. */
  if (m->has_kernel && m->kernel != 0 && cr_cgroup_file_exists (d, "memory.kmem.limit_in_bytes"))
    {
      cr_error_t local = NULL;
      if (cr_cgroup_writef (d, "memory.kmem.limit_in_bytes", &local, "%" PRId64, m->kernel) < 0)
        {
          int st = local->status;
          if (st != EOPNOTSUPP && st != EINVAL && st != 524 /* ENOTSUPP */)
            {
              cr_cgroup_pass_error (err, &local);
              return cr_error_wrap (err, "set memory.kernel");
            }
          cr_error_release (&local);
        }
    }
  if (m->has_kernel_tcp && m->kernel_tcp != 0
      && cr_cgroup_writef (d, "memory.kmem.tcp.limit_in_bytes", err, "%" PRId64, m->kernel_tcp) < 0)
    return cr_error_wrap (err, "set memory.kernelTCP");
  if (m->has_swappiness)
    {
      if (m->swappiness > 100)
        return cr_error (err, EINVAL, "memory.swappiness: invalid value %" PRIu64 ", valid range is 0-100", m->swappiness);
      if (cr_cgroup_writef (d, "memory.swappiness", err, "%" PRIu64, m->swappiness) < 0)
        return cr_error_wrap (err, "set memory.swappiness");
    }
  if (m->has_disable_oom_killer && m->disable_oom_killer && cr_cgroup_write (d, "memory.oom_control", "1", err) < 0)
    return cr_error_wrap (err, "set memory.disableOOMKiller");
  return 0;
}

static int
set_devices (const char *path, const struct oci_device_cgroup *rules, size_t n, cr_error_t *err)
{
  cleanup_free char *d = NULL;
  if (v1_dir ("devices", "devices", path, &d, err) < 0)
    return -1;
  /* Validate everything before the first write. */
  char line[128];
  for (size_t i = 0; i < n; i++)
    if (cr_cgroup_v1_device_line (&rules[i], line, sizeof line, err) < 0)
      return -1;
  /* One open per file, one write(2) per rule (a dozen rules on the create path). */
  cleanup_free char *allow_p = xasprintf ("%s/devices.allow", d);
  cleanup_free char *deny_p = xasprintf ("%s/devices.deny", d);
  cleanup_close int allow = open (allow_p, O_WRONLY | O_CLOEXEC);
  cleanup_close int deny = open (deny_p, O_WRONLY | O_CLOEXEC);
  if (allow < 0 || deny < 0)
    return cr_error_errno (err, "open `%s`", allow < 0 ? allow_p : deny_p);
  if (write (deny, "a", 1) != 1)
    return cr_error_errno (err, "write `a` to `%s`", deny_p);
  for (size_t i = 0; i < n; i++)
    {
      cr_cgroup_v1_device_line (&rules[i], line, sizeof line, NULL);
      size_t len = strlen (line);
      ssize_t w;
      do
        w = write (rules[i].allow ? allow : deny, line, len);
      while (w < 0 && errno == EINTR);
      if (w < 0)
        {
          cr_error_errno (err, "write `%s` to `%s`", line, rules[i].allow ? allow_p : deny_p);
          return cr_error_wrap (err, "set devices rule %zu", i);
        }
    }
  return 0;
}

static int
write_throttle (const char *d, const char *file, const struct oci_throttle_device *t, size_t n, cr_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    if (cr_cgroup_writef (d, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64, t[i].major, t[i].minor, t[i].rate) < 0)
      return cr_error_wrap (err, "set blockIO throttle (%s)", file);
  return 0;
}

static int
set_blkio (const char *path, const struct oci_blkio *b, cr_error_t *err)
{
  cleanup_free char *d = NULL;
  if (v1_dir ("blkio", "blockIO", path, &d, err) < 0)
    return -1;
  /* With the bfq scheduler only the blkio.bfq.* weight files exist. */
  bool bfq = !cr_cgroup_file_exists (d, "blkio.weight") && cr_cgroup_file_exists (d, "blkio.bfq.weight");
  if (b->has_weight && b->weight != 0)
    {
      if (!bfq && !cr_cgroup_file_exists (d, "blkio.weight"))
        return cr_error (err, ENOTSUP, "blockIO.weight: not supported (no blkio.weight or blkio.bfq.weight; enable the bfq io scheduler)");
      if (cr_cgroup_writef (d, bfq ? "blkio.bfq.weight" : "blkio.weight", err, "%u", b->weight) < 0)
        return cr_error_wrap (err, "set blockIO.weight");
    }
  if (b->has_leaf_weight && b->leaf_weight != 0)
    {
      if (!cr_cgroup_file_exists (d, "blkio.leaf_weight"))
        return cr_error (err, ENOTSUP, "blockIO.leafWeight: not supported by the kernel (no blkio.leaf_weight)");
      if (cr_cgroup_writef (d, "blkio.leaf_weight", err, "%u", b->leaf_weight) < 0)
        return cr_error_wrap (err, "set blockIO.leafWeight");
    }
  for (size_t i = 0; i < b->weight_device_len; i++)
    {
      const struct oci_weight_device *w = &b->weight_device[i];
      if (w->has_weight)
        {
          const char *f = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
          if (!cr_cgroup_file_exists (d, f))
            return cr_error (err, ENOTSUP, "blockIO.weightDevice: not supported (no %s)", f);
          if (cr_cgroup_writef (d, f, err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->weight) < 0)
            return cr_error_wrap (err, "set blockIO.weightDevice");
        }
      if (w->has_leaf_weight)
        {
          if (!cr_cgroup_file_exists (d, "blkio.leaf_weight_device"))
            return cr_error (err, ENOTSUP, "blockIO.weightDevice leafWeight: not supported (no blkio.leaf_weight_device)");
          if (cr_cgroup_writef (d, "blkio.leaf_weight_device", err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
                                w->leaf_weight)
              < 0)
            return cr_error_wrap (err, "set blockIO.weightDevice leafWeight");
        }
    }
  if (write_throttle (d, "blkio.throttle.read_bps_device", b->throttle_read_bps, b->throttle_read_bps_len, err) < 0
      || write_throttle (d, "blkio.throttle.write_bps_device", b->throttle_write_bps, b->throttle_write_bps_len, err) < 0
      || write_throttle (d, "blkio.throttle.read_iops_device", b->throttle_read_iops, b->throttle_read_iops_len, err) < 0
      || write_throttle (d, "blkio.throttle.write_iops_device", b->throttle_write_iops, b->throttle_write_iops_len, err)
             < 0)
    return -1;
  return 0;
}

static int
set_hugetlb (const char *path, const struct oci_hugepage_limit *h, size_t n, cr_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    if (cr_cgroup_check_hugepage_size (h[i].page_size, err) < 0)
      return -1;
  cleanup_free char *d = NULL;
  if (v1_dir ("hugetlb", "hugepageLimits", path, &d, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *f = xasprintf ("hugetlb.%s.limit_in_bytes", h[i].page_size);
      if (!cr_cgroup_file_exists (d, f))
        return cr_error (err, ENOTSUP, "hugepageLimits: page size %s not supported (no %s)", h[i].page_size, f);
      if (cr_cgroup_writef (d, f, err, "%" PRIu64, h[i].limit) < 0)
        return cr_error_wrap (err, "set hugepageLimits %s", h[i].page_size);
    }
  return 0;
}

static int
set_network (const char *path, const struct oci_resources *r, cr_error_t *err)
{
  if (r->has_class_id && r->class_id != 0)
    {
      cleanup_free char *d = NULL;
      if (v1_dir ("net_cls", "network.classID", path, &d, err) < 0)
        return -1;
      if (cr_cgroup_writef (d, "net_cls.classid", err, "%" PRIu32, r->class_id) < 0)
        return cr_error_wrap (err, "set network.classID");
    }
  if (r->net_priorities_len)
    {
      cleanup_free char *d = NULL;
      if (v1_dir ("net_prio", "network.priorities", path, &d, err) < 0)
        return -1;
      for (size_t i = 0; i < r->net_priorities_len; i++)
        if (cr_cgroup_writef (d, "net_prio.ifpriomap", err, "%s %" PRIu32, r->net_priorities[i].name,
                              r->net_priorities[i].priority)
            < 0)
          return cr_error_wrap (err, "set network.priorities");
    }
  return 0;
}

int
cr_cgroup_v1_set (const char *path, const struct oci_resources *r, cr_error_t *err)
{
  if (r->unified_len)
    return cr_error (err, EINVAL, "invalid configuration: cannot use unified on cgroup v1 (resources.unified: `%s`)",
                     r->unified[0].key);
  if (r->rdma_len && cr_cgroup_v1_hier ("rdma") == NULL)
    return cr_error (err, ENOENT, "cannot set rdma: rdma cgroup not available");
  if (r->cpu && set_cpu (path, r->cpu, err) < 0)
    return -1;
  if (r->devices_len && set_devices (path, r->devices, r->devices_len, err) < 0)
    return -1;
  if (r->memory && set_memory (path, r->memory, err) < 0)
    return -1;
  if (r->has_pids_limit)
    {
      cleanup_free char *d = NULL;
      char v[32];
      if (v1_dir ("pids", "pids.limit", path, &d, err) < 0)
        return -1;
      cr_cgroup_pids_max (r->pids_limit, v, sizeof v);
      if (cr_cgroup_write (d, "pids.max", v, err) < 0)
        return cr_error_wrap (err, "set pids.limit");
    }
  if (r->block_io && set_blkio (path, r->block_io, err) < 0)
    return -1;
  if (r->hugepage_limits_len && set_hugetlb (path, r->hugepage_limits, r->hugepage_limits_len, err) < 0)
    return -1;
  if (set_network (path, r, err) < 0)
    return -1;
  for (size_t i = 0; i < r->rdma_len; i++)
    {
      cleanup_free char *d = NULL;
      char line[256];
      if (v1_dir ("rdma", "rdma", path, &d, err) < 0)
        return -1;
      cr_cgroup_rdma_line (&r->rdma[i], line, sizeof line);
      if (cr_cgroup_write (d, "rdma.max", line, err) < 0)
        return cr_error_wrap (err, "set rdma %s", r->rdma[i].name);
    }
  return 0;
}
