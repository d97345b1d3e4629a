/* Stats for `events --stats`: cpu, memory, pids, oom kills.  Missing files
 * (controller not mounted or not enabled) leave the fields at 0. */
#include "cgroup_stats.h"

#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

char *
cr_cgroup_read_opt (const char *d, const char *file)
{
  char *s = NULL;
  cr_error_t e = NULL;
  if (d == NULL || cr_cgroup_read (d, file, &s, &e) < 0)
    {
      cr_error_release (&e);
      return NULL;
    }
  return s;
}

bool
cr_cgroup_read_u64_opt (const char *d, const char *file, uint64_t *v)
{
  cleanup_free char *s = cr_cgroup_read_opt (d, file);
  if (s == NULL)
    return false;
  /* "max" = no limit; runc reports it as the largest value. */
  *v = strcmp (s, "max") == 0 ? UINT64_MAX : strtoull (s, NULL, 10);
  return true;
}

/* One number per file into the stats field at off (v1 and v2 name them differently). */
struct stat_file
{
  const char *file;
  size_t off;
};

static void
read_files (const char *d, const struct stat_file *t, struct cr_cgroup_stats *st)
{
  for (; t->file; t++)
    cr_cgroup_read_u64_opt (d, t->file, (uint64_t *) ((char *) st + t->off));
}

/* pids.current / pids.max: the same files on v1 and v2. */
static void
read_pids (const char *d, struct cr_cgroup_stats *st)
{
  cr_cgroup_read_u64_opt (d, "pids.current", &st->pids_current);
  if (cr_cgroup_read_u64_opt (d, "pids.max", &st->pids_limit) && st->pids_limit == UINT64_MAX)
    st->pids_limit = 0; /* runc: 0 = unlimited */
}

static char *
v1 (const struct cr_cgroup *cg, const char *ctrl)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v1_hier (ctrl);
  return h ? cr_cgroup_dir (h, cg->path) : NULL;
}

static void
stats_v1 (const struct cr_cgroup *cg, struct cr_cgroup_stats *st)
{
  cleanup_free char *acct = v1 (cg, "cpuacct"), *cpu = v1 (cg, "cpu"), *mem = v1 (cg, "memory"),
                    *pids = v1 (cg, "pids");
  cr_cgroup_read_u64_opt (acct, "cpuacct.usage", &st->cpu_usage_total);
  cleanup_free char *cs = cr_cgroup_read_opt (acct, "cpuacct.stat");
  long hz = sysconf (_SC_CLK_TCK);
  uint64_t v;
  if (cs && hz > 0)
    {
      /* USER_HZ ticks -> ns */
      if (cr_cgroup_kv_get (cs, "user", &v))
        st->cpu_usage_user = v * (1000000000ULL / (uint64_t) hz);
      if (cr_cgroup_kv_get (cs, "system", &v))
        st->cpu_usage_kernel = v * (1000000000ULL / (uint64_t) hz);
    }
  cleanup_free char *cpustat = cr_cgroup_read_opt (cpu, "cpu.stat");
  if (cpustat)
    {
      cr_cgroup_kv_get (cpustat, "nr_periods", &st->cpu_periods);
      cr_cgroup_kv_get (cpustat, "nr_throttled", &st->cpu_throttled_periods);
      cr_cgroup_kv_get (cpustat, "throttled_time", &st->cpu_throttled_time);
    }
  static const struct stat_file mem_files[] = {
    { "memory.usage_in_bytes", offsetof (struct cr_cgroup_stats, memory_usage) },
    { "memory.limit_in_bytes", offsetof (struct cr_cgroup_stats, memory_limit) },
    { "memory.max_usage_in_bytes", offsetof (struct cr_cgroup_stats, memory_max_usage) },
    { "memory.failcnt", offsetof (struct cr_cgroup_stats, memory_failcnt) },
    { "memory.memsw.usage_in_bytes", offsetof (struct cr_cgroup_stats, swap_usage) },
    { "memory.memsw.limit_in_bytes", offsetof (struct cr_cgroup_stats, swap_limit) },
    { NULL, 0 },
  };
  read_files (mem, mem_files, st);
  cleanup_free char *ms = cr_cgroup_read_opt (mem, "memory.stat");
  if (ms)
    cr_cgroup_kv_get (ms, "cache", &st->memory_cache);
  cleanup_free char *oom = cr_cgroup_read_opt (mem, "memory.oom_control");
  if (oom)
    cr_cgroup_kv_get (oom, "oom_kill", &st->oom_kill_count);
  read_pids (pids, st);
}

static void
stats_v2 (const struct cr_cgroup *cg, struct cr_cgroup_stats *st)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  if (h == NULL)
    return;
  cleanup_free char *d = cr_cgroup_dir (h, cg->path);
  cleanup_free char *cpustat = cr_cgroup_read_opt (d, "cpu.stat");
  uint64_t v;
  if (cpustat)
    {
      if (cr_cgroup_kv_get (cpustat, "usage_usec", &v))
        st->cpu_usage_total = v * 1000;
      if (cr_cgroup_kv_get (cpustat, "user_usec", &v))
        st->cpu_usage_user = v * 1000;
      if (cr_cgroup_kv_get (cpustat, "system_usec", &v))
        st->cpu_usage_kernel = v * 1000;
      cr_cgroup_kv_get (cpustat, "nr_periods", &st->cpu_periods);
      cr_cgroup_kv_get (cpustat, "nr_throttled", &st->cpu_throttled_periods);
      if (cr_cgroup_kv_get (cpustat, "throttled_usec", &v))
        st->cpu_throttled_time = v * 1000;
    }
  static const struct stat_file mem_files[] = {
    { "memory.current", offsetof (struct cr_cgroup_stats, memory_usage) },
    { "memory.max", offsetof (struct cr_cgroup_stats, memory_limit) },
    { "memory.peak", offsetof (struct cr_cgroup_stats, memory_max_usage) },
    { "memory.swap.current", offsetof (struct cr_cgroup_stats, swap_usage) },
    { "memory.swap.max", offsetof (struct cr_cgroup_stats, swap_limit) },
    { NULL, 0 },
  };
  read_files (d, mem_files, st);
  cleanup_free char *ms = cr_cgroup_read_opt (d, "memory.stat");
  if (ms)
    cr_cgroup_kv_get (ms, "file", &st->memory_cache);
  cleanup_free char *ev = cr_cgroup_read_opt (d, "memory.events");
  if (ev)
    {
      cr_cgroup_kv_get (ev, "max", &st->memory_failcnt);
      cr_cgroup_kv_get (ev, "oom_kill", &st->oom_kill_count);
    }
  read_pids (d, st);
}

int
cr_cgroup_stats (const struct cr_cgroup *cg, struct cr_cgroup_stats *st, cr_error_t *err)
{
  memset (st, 0, sizeof *st);
  if (cg->path == NULL)
    return cr_error (err, EINVAL, "cgroup stats: no cgroup");
  if (cg->mode == CR_CGROUP_V2)
    stats_v2 (cg, st);
  else
    stats_v1 (cg, st);
  return 0;
}
