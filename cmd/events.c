/* capsule-runc events [--stats] [--interval 5s] ID: stats as JSON lines, and
 * OOM notifications (memory oom_kill count going up) while the container lives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/container.h"
#include "lib/log.h"

static void
print_stats (const char *id, const struct cr_cgroup_stats *s)
{
  printf ("{\"type\":\"stats\",\"id\":\"%s\",\"data\":{"
          "\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":%llu,\"user\":%llu},"
          "\"throttling\":{\"periods\":%llu,\"throttledPeriods\":%llu,\"throttledTime\":%llu}},"
          "\"memory\":{\"cache\":%llu,\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":%llu,\"failcnt\":%llu},"
          "\"swap\":{\"limit\":%llu,\"usage\":%llu}},"
          "\"pids\":{\"current\":%llu,\"limit\":%llu},"
          /* the sections runc always has, empty where not collected */
          "\"blkio\":{},\"cpuset\":{},\"hugetlb\":{},\"intel_rdt\":{},\"network_interfaces\":null}}\n",
          id, (unsigned long long) s->cpu_usage_total, (unsigned long long) s->cpu_usage_kernel,
          (unsigned long long) s->cpu_usage_user, (unsigned long long) s->cpu_periods,
          (unsigned long long) s->cpu_throttled_periods, (unsigned long long) s->cpu_throttled_time,
          (unsigned long long) s->memory_cache, (unsigned long long) s->memory_limit,
          (unsigned long long) s->memory_usage, (unsigned long long) s->memory_max_usage,
          (unsigned long long) s->memory_failcnt, (unsigned long long) s->swap_limit,
          (unsigned long long) s->swap_usage, (unsigned long long) s->pids_current, (unsigned long long) s->pids_limit);
  fflush (stdout);
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
      cr_state_release (&st);
      if (r < 0)
        return cr_error_report (&err);
      if (!first && s.oom_kill_count > last_oom)
        {
          printf ("{\"type\":\"oom\",\"id\":\"%s\"}\n", argv[optind]);
          fflush (stdout);
        }
      last_oom = s.oom_kill_count;
      print_stats (argv[optind], &s);
      if (once)
        return 0;
      first = false;
      struct timespec ts = { (time_t) interval, (long) ((interval - (double) (time_t) interval) * 1e9) };
      nanosleep (&ts, NULL);
    }
}
