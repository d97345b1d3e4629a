/* cgroup v2 resources (runc's fs2 conversions) and controller delegation
 * through the ancestors' cgroup.subtree_control. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Write a controller file; a missing file means the controller is not
 * enabled for this cgroup (or the kernel lacks it): say which resource. */
static int
v2_write (const char *d, const char *file, const char *value, const char *what, cr_error_t *err)
{
  cr_error_t local = NULL;
  if (cr_cgroup_write (d, file, value, &local) == 0)
    return 0;
  if (local->status == ENOENT)
    {
      cr_error_release (&local);
      return cr_error (err, ENOENT, "cannot set %s: %s not available (controller not enabled in the parent's cgroup.subtree_control?)",
                       what, file);
    }
  cr_cgroup_pass_error (err, &local);
  return cr_error_wrap (err, "set %s", what);
}

static int
v2_writef (const char *d, const char *file, const char *what, cr_error_t *err, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

static int
v2_writef (const char *d, const char *file, const char *what, cr_error_t *err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *v = xvasprintf (fmt, ap);
  va_end (ap);
  return v2_write (d, file, v, what, err);
}

static int
set_memory (const char *d, const struct oci_memory *m, cr_error_t *err)
{
  int64_t limit = m->has_limit ? m->limit : 0;
  int64_t swap = m->has_swap ? m->swap : 0;
  int64_t swap2;
  char buf[32];
  if (cr_cgroup_swap_to_v2 (swap, limit, &swap2, err) < 0)
    return -1;
  cr_cgroup_num_to_str (swap2, buf, sizeof buf);
  if (buf[0] == '\0' && swap2 == 0 && swap > 0)
    strcpy (buf, "0"); /* swap == limit: no swap at all */
  if (buf[0])
    {
      cr_error_t local = NULL;
      if (cr_cgroup_write (d, "memory.swap.max", buf, &local) < 0)
        {
          /* Without swap accounting, "max" and "0" are what we have anyway. */
          if (!(local->status == ENOENT && (strcmp (buf, "max") == 0 || strcmp (buf, "0") == 0)))
            {
              cr_cgroup_pass_error (err, &local);
              return cr_error_wrap (err, "set memory.swap");
            }
          cr_error_release (&local);
        }
    }
  cr_cgroup_num_to_str (limit, buf, sizeof buf);
  if (buf[0] && v2_write (d, "memory.max", buf, "memory.limit", err) < 0)
    return -1;
  cr_cgroup_num_to_str (m->has_reservation ? m->reservation : 0, buf, sizeof buf);
  if (buf[0] && v2_write (d, "memory.low", buf, "memory.reservation", err) < 0)
    return -1;
  /* kernel, kernelTCP, swappiness and disableOOMKiller have no v2 file: ignored like runc. */
  return 0;
}

static int
set_cpu (const char *d, const struct oci_cpu *cpu, cr_error_t *err)
{
  if ((cpu->has_realtime_runtime && cpu->realtime_runtime != 0) || (cpu->has_realtime_period && cpu->realtime_period != 0))
    return cr_error (err, ENOTSUP, "cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2");
  bool idle = false;
  if (cpu->has_idle)
    {
      if (v2_writef (d, "cpu.idle", "cpu.idle", err, "%" PRId64, cpu->idle) < 0)
        return -1;
      idle = cpu->idle != 0; /* the kernel refuses a weight on an idle group */
    }
  if (!idle && cpu->has_shares && cpu->shares != 0
      && v2_writef (d, "cpu.weight", "cpu.shares", err, "%" PRIu64, cr_cgroup_shares_to_weight (cpu->shares)) < 0)
    return -1;
  /* The kernel wants burst <= quota at every step: lowering both works
   * burst first, raising both quota first.  Try burst first, redo it after. */
  bool burst_done = false;
  if (cpu->has_burst)
    {
      cr_error_t local = NULL;
      burst_done = cr_cgroup_writef (d, "cpu.max.burst", &local, "%" PRIu64, cpu->burst) == 0;
      cr_error_release (&local);
    }
  char max[64];
  if (cr_cgroup_cpu_max (cpu, max, sizeof max) && v2_write (d, "cpu.max", max, "cpu.quota/cpu.period", err) < 0)
    return -1;
  if (cpu->has_burst && !burst_done && v2_writef (d, "cpu.max.burst", "cpu.burst", err, "%" PRIu64, cpu->burst) < 0)
    return -1;
  if (cpu->cpus && cpu->cpus[0] && v2_write (d, "cpuset.cpus", cpu->cpus, "cpu.cpus", err) < 0)
    return -1;
  if (cpu->mems && cpu->mems[0] && v2_write (d, "cpuset.mems", cpu->mems, "cpu.mems", err) < 0)
    return -1;
  return 0;
}

static int
io_max (const char *d, const char *key, const struct oci_throttle_device *t, size_t n, cr_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    if (v2_writef (d, "io.max", "blockIO throttle", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t[i].major, t[i].minor,
                   key, t[i].rate)
        < 0)
      return -1;
  return 0;
}

static int
set_io (const char *d, const struct oci_blkio *b, cr_error_t *err)
{
  bool bfq = cr_cgroup_file_exists (d, "io.bfq.weight");
  if (b->has_weight && b->weight != 0)
    {
      /* bfq takes the blkio scale as is; io.weight needs the conversion. */
      if (bfq)
        {
          if (v2_writef (d, "io.bfq.weight", "blockIO.weight", err, "%u", b->weight) < 0)
            return -1;
        }
      else if (v2_writef (d, "io.weight", "blockIO.weight", err, "default %" PRIu64,
                          cr_cgroup_blkio_to_io_weight (b->weight))
               < 0)
        return -1;
    }
  for (size_t i = 0; i < b->weight_device_len; i++)
    {
      const struct oci_weight_device *w = &b->weight_device[i];
      if (!w->has_weight)
        continue; /* leafWeight has no v2 equivalent */
      if (!bfq)
        return cr_error (err, ENOTSUP, "blockIO.weightDevice: needs the bfq io scheduler (no io.bfq.weight)");
      if (v2_writef (d, "io.bfq.weight", "blockIO.weightDevice", err, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
                     w->weight)
          < 0)
        return -1;
    }
  if (io_max (d, "rbps", b->throttle_read_bps, b->throttle_read_bps_len, err) < 0
      || io_max (d, "wbps", b->throttle_write_bps, b->throttle_write_bps_len, err) < 0
      || io_max (d, "riops", b->throttle_read_iops, b->throttle_read_iops_len, err) < 0
      || io_max (d, "wiops", b->throttle_write_iops, b->throttle_write_iops_len, err) < 0)
    return -1;
  return 0;
}

static int
set_unified (const char *d, const struct oci_kv *kv, size_t n, cr_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      const char *k = kv[i].key ? kv[i].key : "";
      if (k[0] == '\0' || k[0] == '.' || strchr (k, '/') || strcmp (k, "cgroup.procs") == 0
          || strcmp (k, "cgroup.threads") == 0)
        return cr_error (err, EINVAL, "unified resource `%s`: invalid key", k);
      if (!cr_cgroup_file_exists (d, k))
        {
          cleanup_free char *ctrl = strndup (k, strcspn (k, "."));
          return cr_error (err, ENOENT, "unified resource `%s`: no such file (controller `%s` not available?)", k,
                           ctrl ? ctrl : k);
        }
      cleanup_free char *what = xasprintf ("unified resource `%s`", k);
      if (v2_write (d, k, kv[i].value ? kv[i].value : "", what, err) < 0)
        return -1;
    }
  return 0;
}

int
cr_cgroup_v2_set (const char *path, const struct oci_resources *r, cr_error_t *err)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  if (h == NULL)
    return cr_error (err, ENOENT, "set resources: no cgroup2 mount");
  cleanup_free char *d = cr_cgroup_dir (h, path);
  if (r->rdma_len && !cr_cgroup_file_exists (d, "rdma.max"))
    return cr_error (err, ENOENT, "cannot set rdma: rdma cgroup not available");
  if (r->has_pids_limit)
    {
      char v[32];
      cr_cgroup_pids_max (r->pids_limit, v, sizeof v);
      if (v2_write (d, "pids.max", v, "pids.limit", err) < 0)
        return -1;
    }
  if (r->memory && set_memory (d, r->memory, err) < 0)
    return -1;
  if (r->block_io && set_io (d, r->block_io, err) < 0)
    return -1;
  if (r->cpu && set_cpu (d, r->cpu, err) < 0)
    return -1;
  if (r->devices_len && cr_cgroup_devices_bpf_apply (d, r->devices, r->devices_len, err) < 0)
    return -1;
  for (size_t i = 0; i < r->hugepage_limits_len; i++)
    {
      if (cr_cgroup_check_hugepage_size (r->hugepage_limits[i].page_size, err) < 0)
        return -1;
      cleanup_free char *f = xasprintf ("hugetlb.%s.max", r->hugepage_limits[i].page_size);
      if (v2_writef (d, f, "hugepageLimits", err, "%" PRIu64, r->hugepage_limits[i].limit) < 0)
        return -1;
    }
  for (size_t i = 0; i < r->rdma_len; i++)
    {
      char line[256];
      cr_cgroup_rdma_line (&r->rdma[i], line, sizeof line);
      if (v2_write (d, "rdma.max", line, "rdma", err) < 0)
        return -1;
    }
  /* network (net_cls/net_prio) is v1 only: ignored on v2 like runc. */
  /* unified goes last so it can override the converted values. */
  if (r->unified_len && set_unified (d, r->unified, r->unified_len, err) < 0)
    return -1;
  return 0;
}

/* Enable every controller in dir's cgroup.controllers for its children. */
static int
enable_in (const char *dir, cr_error_t *err)
{
  cleanup_free char *avail = NULL, *on = NULL;
  if (cr_cgroup_read (dir, "cgroup.controllers", &avail, err) < 0)
    return -1;
  if (cr_cgroup_read (dir, "cgroup.subtree_control", &on, err) < 0)
    return -1;
  size_t cap = strlen (avail) * 2 + 2;
  cleanup_free char *req = xmalloc0 (cap);
  char *save = NULL;
  cleanup_free char *copy = xstrdup (avail);
  for (char *c = strtok_r (copy, " \n", &save); c; c = strtok_r (NULL, " \n", &save))
    {
      /* already on? (whole-word match) */
      bool enabled = false;
      size_t cl = strlen (c);
      for (const char *s = on; (s = strstr (s, c)); s += cl)
        if ((s == on || s[-1] == ' ') && (s[cl] == ' ' || s[cl] == '\0' || s[cl] == '\n'))
          enabled = true;
      if (enabled)
        continue;
      strcat (req, req[0] ? " +" : "+");
      strcat (req, c);
    }
  if (req[0] == '\0')
    return 0;
  cr_error_t local = NULL;
  if (cr_cgroup_write (dir, "cgroup.subtree_control", req, &local) == 0)
    return 0;
  cr_error_release (&local);
  /* One failing controller (e.g. cpu with realtime tasks) must not block the rest. */
  save = NULL;
  for (char *c = strtok_r (req, " ", &save); c; c = strtok_r (NULL, " ", &save))
    {
      cr_cgroup_write (dir, "cgroup.subtree_control", c, &local);
      cr_error_release (&local);
    }
  return 0;
}

int
cr_cgroup_v2_enable_controllers (const char *path, cr_error_t *err)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  if (h == NULL)
    return 0;
  cleanup_free char *full = cr_cgroup_dir (h, path);
  size_t base = strlen (h->mountpoint);
  char *leaf = strrchr (full, '/');
  /* root, then every ancestor down to the leaf's parent */
  for (char *s = full + base;; s++)
    {
      if (*s != '/' && *s != '\0')
        continue;
      char saved = *s;
      *s = '\0';
      int r = enable_in (full[0] ? full : "/", err);
      *s = saved;
      if (r < 0)
        return cr_error_wrap (err, "enable cgroup controllers");
      if (s >= leaf)
        break;
    }
  return 0;
}
