/* capsule-runc events [--stats] [--interval 5s] ID: stats as JSON lines, and
 * OOM notifications (memory oom_kill count going up) while the container lives. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/cgroup_internal.h"
#include "lib/cgroup_stats.h"
#include "lib/container.h"
#include "lib/log.h"
#include "lib/util.h"

/* ---- runc's stats event (types.Stats of runc's events.go) ---------------
 * Same sections, names and omitempty rules as runc, so clients (containerd's
 * metrics, `ctr task metrics`) decode it the same; values straight from the
 * cgroup files, missing files as runc leaves them: zero or omitted. */

/* A single number; "max" is the largest value (runc: math.MaxUint64 on v2, v1 files say it in full). */
static uint64_t
ev_u64 (const char *dir, const char *file)
{
  uint64_t v = 0;
  cr_cgroup_read_u64_opt (dir, file, &v);
  return v;
}

static uint64_t
ev_kv (const char *content, const char *key)
{
  uint64_t v = 0;
  if (content)
    cr_cgroup_kv_get (content, key, &v);
  return v;
}

/* ,"key":value only when non-zero (Go's omitempty). */
static void
ev_oe (FILE *f, const char *key, uint64_t v)
{
  if (v)
    fprintf (f, ",\"%s\":%" PRIu64, key, v);
}

/* "key":[n,n,...] from whitespace-separated numbers, omitted when empty. */
static void
ev_array (FILE *f, const char *key, const char *text)
{
  if (text == NULL || strspn (text, " \t\n") == strlen (text))
    return;
  fprintf (f, ",\"%s\":[", key);
  const char *p = text;
  char *end;
  for (int n = 0;; n++)
    {
      unsigned long long v = strtoull (p, &end, 10);
      if (end == p)
        break;
      fprintf (f, "%s%llu", n ? "," : "", v);
      p = end;
    }
  fputc (']', f);
}

/* A cpuset list ("0-3,8") as runc's []uint16, omitted when empty. */
static void
ev_cpu_list (FILE *f, const char *key, const char *list)
{
  if (list == NULL || *list == '\0')
    return;
  fprintf (f, "\"%s\":[", key);
  int n = 0;
  for (const char *p = list; *p;)
    {
      char *end;
      unsigned long a = strtoul (p, &end, 10), b = a;
      if (end == p)
        break;
      if (*end == '-')
        b = strtoul (end + 1, &end, 10);
      for (unsigned long i = a; i <= b && i < 65536; i++)
        fprintf (f, "%s%lu", n++ ? "," : "", i);
      p = *end == ',' ? end + 1 : end;
    }
  fputs ("],", f);
}

/* runc's MemoryEntry: limit and failcnt always, usage and max omitempty. */
static void
ev_mem_entry (FILE *f, const char *name, uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
  fprintf (f, ",\"%s\":{\"limit\":%" PRIu64, name, limit);
  ev_oe (f, "usage", usage);
  ev_oe (f, "max", max);
  fprintf (f, ",\"failcnt\":%" PRIu64 "}", failcnt);
}

static void
ev_mem_entry_v1 (FILE *f, const char *dir, const char *name, const char *prefix)
{
  char l[96], u[96], m[96], c[96];
  snprintf (l, sizeof l, "%s.limit_in_bytes", prefix);
  snprintf (u, sizeof u, "%s.usage_in_bytes", prefix);
  snprintf (m, sizeof m, "%s.max_usage_in_bytes", prefix);
  snprintf (c, sizeof c, "%s.failcnt", prefix);
  ev_mem_entry (f, name, ev_u64 (dir, l), ev_u64 (dir, u), ev_u64 (dir, m), ev_u64 (dir, c));
}

/* "raw": every key of memory.stat. */
static void
ev_raw (FILE *f, const char *stat)
{
  if (stat == NULL || *stat == '\0')
    return;
  fputs (",\"raw\":{", f);
  int n = 0;
  cleanup_free char *copy = xstrdup (stat);
  char *save = NULL;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      char key[128];
      unsigned long long v;
      if (sscanf (line, "%127s %llu", key, &v) == 2)
        fprintf (f, "%s\"%s\":%llu", n++ ? "," : "", key, v);
    }
  fputc ('}', f);
}

/* One runc BlkioStatEntry (every field omitempty) in the list KEY, which the
 * first entry opens (*n counts this list's entries, *first the section's lists). */
static void
ev_blkio_entry (FILE *f, const char *key, int *n, int *first, unsigned long long maj, unsigned long long min,
                const char *op, unsigned long long v)
{
  fprintf (f, "%s", (*n)++ ? "," : (*first)++ ? ",\"" : "\"");
  if (*n == 1)
    fprintf (f, "%s\":[", key);
  fputs ("{\"x\":0", f);
  ev_oe (f, "major", maj);
  ev_oe (f, "minor", min);
  fprintf (f, ",\"op\":\"%s\"", op);
  ev_oe (f, "value", v);
  fputc ('}', f);
}

/* A blkio list from v1 blkio files ("MAJ:MIN Op value" lines; rkey NULL) or
 * from v2 io.stat ("MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..": the rkey
 * and wkey values as Read and Write entries). */
static void
ev_blkio (FILE *f, const char *key, const char *text, const char *rkey, const char *wkey, int *first)
{
  if (text == NULL)
    return;
  int n = 0;
  cleanup_free char *copy = xstrdup (text);
  char *save = NULL;
  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      unsigned long long maj, min, v;
      char op[32];
      if (rkey == NULL)
        {
          if (sscanf (line, "%llu:%llu %31s %llu", &maj, &min, op, &v) == 4) /* not the overall "Total N" line */
            ev_blkio_entry (f, key, &n, first, maj, min, op, v);
          continue;
        }
      if (sscanf (line, "%llu:%llu", &maj, &min) != 2)
        continue;
      for (int w = 0; w < 2; w++)
        {
          char pat[32];
          snprintf (pat, sizeof pat, " %s=", w ? wkey : rkey);
          const char *at = strstr (line, pat);
          ev_blkio_entry (f, key, &n, first, maj, min, w ? "Write" : "Read",
                          at ? strtoull (at + strlen (pat), NULL, 10) : 0);
        }
    }
  if (n)
    fputc (']', f);
}

/* runc's ThrottlingData: every field omitempty; closes the cpu object. */
static void
ev_throttling (FILE *f, uint64_t periods, uint64_t throttled, uint64_t time_ns)
{
  fputs (",\"throttling\":{\"x\":0", f);
  ev_oe (f, "periods", periods);
  ev_oe (f, "throttledPeriods", throttled);
  ev_oe (f, "throttledTime", time_ns);
  fputs ("}}", f);
}

/* Opens runc's MemoryStats: cache (omitempty), then the entries follow. */
static void
ev_memory_open (FILE *f, uint64_t cache)
{
  fputs (",\"memory\":{", f);
  if (cache)
    fprintf (f, "\"cache\":%" PRIu64 ",", cache);
  fputs ("\"x\":0", f); /* placeholder key dropped below; keeps the comma logic simple */
}

/* runc's PidsStats from pids.current / pids.max (same files on v1 and v2). */
static void
ev_pids (FILE *f, const char *dir)
{
  fputs (",\"pids\":{\"x\":0", f);
  ev_oe (f, "current", ev_u64 (dir, "pids.current"));
  uint64_t pl = ev_u64 (dir, "pids.max");
  ev_oe (f, "limit", pl == UINT64_MAX ? 0 : pl);
  fputc ('}', f);
}

static void
ev_stats_v1 (FILE *f, const char *path)
{
#define V1DIR(var, ctrl)                                                                                               \
  const struct cr_cgroup_hier *h_##var = cr_cgroup_v1_hier (ctrl);                                                     \
  cleanup_free char *var = h_##var ? cr_cgroup_dir (h_##var, path) : NULL
  V1DIR (acct, "cpuacct");
  V1DIR (cpu, "cpu");
  V1DIR (cpuset, "cpuset");
  V1DIR (mem, "memory");
  V1DIR (pids, "pids");
  V1DIR (blkio, "blkio");
#undef V1DIR
  long hz = sysconf (_SC_CLK_TCK);
  uint64_t tick = hz > 0 ? 1000000000ULL / (uint64_t) hz : 0;
  cleanup_free char *cstat = cr_cgroup_read_opt (acct, "cpuacct.stat"), *percpu = cr_cgroup_read_opt (acct, "cpuacct.usage_percpu");
  cleanup_free char *all = cr_cgroup_read_opt (acct, "cpuacct.usage_all");
  /* usage_all: "cpu user system" per line after a header: the per-cpu kernel and user columns. */
  char *pk = NULL, *pu = NULL;
  size_t pkl = 0, pul = 0;
  FILE *fk = open_memstream (&pk, &pkl), *fu = open_memstream (&pu, &pul);
  if (all && fk && fu)
    {
      cleanup_free char *copy = xstrdup (all);
      char *save = NULL;
      for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
        {
          unsigned long long c, u, k;
          if (sscanf (line, "%llu %llu %llu", &c, &u, &k) == 3)
            {
              fprintf (fu, "%llu ", u);
              fprintf (fk, "%llu ", k);
            }
        }
    }
  if (fk)
    fclose (fk);
  if (fu)
    fclose (fu);
  fprintf (f, "\"cpu\":{\"usage\":{\"total\":%" PRIu64, ev_u64 (acct, "cpuacct.usage"));
  ev_array (f, "percpu", percpu);
  ev_array (f, "percpu_kernel", pk);
  ev_array (f, "percpu_user", pu);
  free (pk);
  free (pu);
  fprintf (f, ",\"kernel\":%" PRIu64 ",\"user\":%" PRIu64 "}", ev_kv (cstat, "system") * tick,
           ev_kv (cstat, "user") * tick);
  cleanup_free char *cpustat = cr_cgroup_read_opt (cpu, "cpu.stat");
  ev_throttling (f, ev_kv (cpustat, "nr_periods"), ev_kv (cpustat, "nr_throttled"), ev_kv (cpustat, "throttled_time"));

  cleanup_free char *cpus = cr_cgroup_read_opt (cpuset, "cpuset.cpus"), *mems = cr_cgroup_read_opt (cpuset, "cpuset.mems");
  cleanup_free char *relax = cr_cgroup_read_opt (cpuset, "cpuset.sched_relax_domain_level");
  fputs (",\"cpuset\":{", f);
  ev_cpu_list (f, "cpus", cpus);
  fprintf (f, "\"cpu_exclusive\":%" PRIu64 ",", ev_u64 (cpuset, "cpuset.cpu_exclusive"));
  ev_cpu_list (f, "mems", mems);
  fprintf (f,
           "\"mem_hardwall\":%" PRIu64 ",\"mem_exclusive\":%" PRIu64 ",\"memory_migrate\":%" PRIu64
           ",\"memory_spread_page\":%" PRIu64 ",\"memory_spread_slab\":%" PRIu64 ",\"memory_pressure\":%" PRIu64
           ",\"sched_load_balance\":%" PRIu64 ",\"sched_relax_domain_level\":%lld}",
           ev_u64 (cpuset, "cpuset.mem_hardwall"), ev_u64 (cpuset, "cpuset.mem_exclusive"),
           ev_u64 (cpuset, "cpuset.memory_migrate"), ev_u64 (cpuset, "cpuset.memory_spread_page"),
           ev_u64 (cpuset, "cpuset.memory_spread_slab"), ev_u64 (cpuset, "cpuset.memory_pressure"),
           ev_u64 (cpuset, "cpuset.sched_load_balance"), relax ? strtoll (relax, NULL, 10) : 0LL);

  cleanup_free char *mstat = cr_cgroup_read_opt (mem, "memory.stat");
  ev_memory_open (f, ev_kv (mstat, "cache"));
  ev_mem_entry_v1 (f, mem, "usage", "memory");
  ev_mem_entry_v1 (f, mem, "swap", "memory.memsw");
  ev_mem_entry_v1 (f, mem, "kernel", "memory.kmem");
  ev_mem_entry_v1 (f, mem, "kernelTCP", "memory.kmem.tcp");
  ev_raw (f, mstat);
  fputc ('}', f);

  ev_pids (f, pids);

  /* runc: BFQ's files where they have entries (the disk uses bfq), else the throttle ones. */
  cleanup_free char *sb = cr_cgroup_read_opt (blkio, "blkio.bfq.io_service_bytes_recursive");
  cleanup_free char *sv = NULL;
  if (sb && strchr (sb, ':'))
    sv = cr_cgroup_read_opt (blkio, "blkio.bfq.io_serviced_recursive");
  else
    {
      free (sb);
      sb = cr_cgroup_read_opt (blkio, "blkio.throttle.io_service_bytes_recursive");
      sv = cr_cgroup_read_opt (blkio, "blkio.throttle.io_serviced_recursive");
    }
  int first = 0;
  fputs (",\"blkio\":{", f);
  ev_blkio (f, "ioServiceBytesRecursive", sb, NULL, NULL, &first);
  ev_blkio (f, "ioServicedRecursive", sv, NULL, NULL, &first);
  fputc ('}', f);
}

static void
ev_stats_v2 (FILE *f, const char *path)
{
  const struct cr_cgroup_hier *h = cr_cgroup_v2_hier ();
  cleanup_free char *d = h ? cr_cgroup_dir (h, path) : NULL;
  cleanup_free char *cs = cr_cgroup_read_opt (d, "cpu.stat");
  fprintf (f, "\"cpu\":{\"usage\":{\"total\":%" PRIu64 ",\"kernel\":%" PRIu64 ",\"user\":%" PRIu64 "}",
           ev_kv (cs, "usage_usec") * 1000, ev_kv (cs, "system_usec") * 1000, ev_kv (cs, "user_usec") * 1000);
  ev_throttling (f, ev_kv (cs, "nr_periods"), ev_kv (cs, "nr_throttled"), ev_kv (cs, "throttled_usec") * 1000);
  /* runc's cgroup v2 manager reports no cpuset stats: the zero value. */
  fputs (",\"cpuset\":{\"cpu_exclusive\":0,\"mem_hardwall\":0,\"mem_exclusive\":0,\"memory_migrate\":0,"
         "\"memory_spread_page\":0,\"memory_spread_slab\":0,\"memory_pressure\":0,\"sched_load_balance\":0,"
         "\"sched_relax_domain_level\":0}",
         f);
  cleanup_free char *ms = cr_cgroup_read_opt (d, "memory.stat"), *mev = cr_cgroup_read_opt (d, "memory.events");
  uint64_t usage = ev_u64 (d, "memory.current"), limit = ev_u64 (d, "memory.max");
  uint64_t su = ev_u64 (d, "memory.swap.current"), sl = ev_u64 (d, "memory.swap.max");
  ev_memory_open (f, ev_kv (ms, "file"));
  ev_mem_entry (f, "usage", limit, usage, ev_u64 (d, "memory.peak"), ev_kv (mev, "max"));
  /* like runc: v1's memsw view, memory + swap */
  ev_mem_entry (f, "swap", sl == UINT64_MAX || limit == UINT64_MAX ? UINT64_MAX : sl + limit, su + usage, 0, 0);
  ev_mem_entry (f, "kernel", 0, 0, 0, 0);
  ev_mem_entry (f, "kernelTCP", 0, 0, 0, 0);
  ev_raw (f, ms);
  fputc ('}', f);
  ev_pids (f, d);
  cleanup_free char *io = cr_cgroup_read_opt (d, "io.stat");
  int first = 0;
  fputs (",\"blkio\":{", f);
  ev_blkio (f, "ioServiceBytesRecursive", io, "rbytes", "wbytes", &first);
  ev_blkio (f, "ioServicedRecursive", io, "rios", "wios", &first);
  fputc ('}', f);
}

/* Drops the "x":0 placeholders (and the comma after them) used above. */
static void
ev_strip_placeholders (char *s)
{
  char *w = s;
  for (char *r = s; *r;)
    {
      if (strncmp (r, "\"x\":0", 5) == 0)
        {
          r += 5;
          if (*r == ',')
            r++;
          continue;
        }
      *w++ = *r++;
    }
  *w = '\0';
}

static void
print_stats (const char *id, const char *cgroup_path)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return;
  fprintf (f, "{\"type\":\"stats\",\"id\":\"%s\",\"data\":{", id);
  if (cr_cgroup_mode () == CR_CGROUP_V2)
    ev_stats_v2 (f, cgroup_path);
  else
    ev_stats_v1 (f, cgroup_path);
  fputs (",\"hugetlb\":{},\"intel_rdt\":{},\"network_interfaces\":null}}\n", f);
  fclose (f);
  ev_strip_placeholders (buf);
  fputs (buf, stdout);
  fflush (stdout);
  free (buf);
}

CR_VERB (events)
{
  static const struct cr_opt opts[] = { { "stats", 0, false, 1 }, { "interval", 0, true, 2 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg;
  bool once = false;
  double interval = 5;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    {
      if (id == 1)
        once = true;
      else
        {
          char *end;
          interval = strtod (arg, &end);
          if (strcmp (end, "ms") == 0)
            interval /= 1000;
          else if (strcmp (end, "m") == 0)
            interval *= 60;
          else if (*end && strcmp (end, "s") != 0)
            {
              cr_log_error ("invalid interval \"%s\"", arg);
              return 1;
            }
          if (interval <= 0)
            {
              cr_log_error ("duration interval must be greater than 0");
              return 1;
            }
        }
    }
  if (id < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"events\" requires exactly 1 argument");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  unsigned long long last_oom = 0;
  bool first = true;
  /* OOM kills are looked for every tick, so they are reported as they happen
   * (like runc's eventfd/inotify watch); stats go out every interval. */
  const double tick = interval < 0.1 ? interval : 0.1;
  double since_stats = interval;
  for (;;)
    {
      int dirfd;
      struct cr_state st;
      if (cr_container_load (&ctx, argv[optind], false, &dirfd, &st, &err) < 0)
        return first ? cr_error_report (&err) : (cr_error_release (&err), 0);
      const char *status = cr_state_status (dirfd, &st);
      close (dirfd);
      if (strcmp (status, "stopped") == 0)
        {
          cr_state_release (&st);
          if (first)
            {
              cr_log_error ("container not running");
              return 1;
            }
          return 0;
        }
      struct cr_cgroup cg;
      struct cr_cgroup_stats s = { 0 };
      int r = cr_cgroup_open (st.cgroup_path, &cg, &err);
      if (r == 0)
        {
          r = cr_cgroup_stats (&cg, &s, &err);
          cr_cgroup_release (&cg);
        }
      cleanup_free char *cgpath = st.cgroup_path ? xstrdup (st.cgroup_path) : NULL;
      cr_state_release (&st);
      if (r < 0)
        return cr_error_report (&err);
      if (!first && s.oom_kill_count > last_oom)
        {
          printf ("{\"type\":\"oom\",\"id\":\"%s\"}\n", argv[optind]);
          fflush (stdout);
        }
      last_oom = s.oom_kill_count;
      if (once || since_stats >= interval - 1e-6)
        {
          print_stats (argv[optind], cgpath);
          since_stats = 0;
        }
      if (once)
        return 0;
      first = false;
      struct timespec ts = { (time_t) tick, (long) ((tick - (double) (time_t) tick) * 1e9) };
      nanosleep (&ts, NULL);
      since_stats += tick;
    }
}
