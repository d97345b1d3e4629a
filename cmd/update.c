/* capsule-runc update [--resources FILE|-] [--memory N] [--cpu-quota N] ... ID:
 * individual flags are folded into a linux.resources JSON object and go
 * through the same parser as --resources. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/container.h"
#include "lib/log.h"
#include "lib/util.h"

enum { U_RES = 1, U_BLKIO, U_CPU_PERIOD, U_CPU_QUOTA, U_CPU_SHARE, U_RT_PERIOD, U_RT_RUNTIME, U_CPUS, U_MEMS,
       U_KMEM, U_KMEM_TCP, U_MEM, U_MEM_RES, U_MEM_SWAP, U_PIDS, U_L3, U_MBW, U_CPU_IDLE, U_CPU_BURST };

/* docker's RAMInBytes: 123, 1k, 1.5m, 2g, -1 */
static int
parse_size (const char *s, long long *out)
{
  char *end;
  double v = strtod (s, &end);
  if (end == s)
    return -1;
  long long mul = 1;
  switch (tolower ((unsigned char) *end))
    {
    case '\0': break;
    case 'b': break;
    case 'k': mul = 1LL << 10; break;
    case 'm': mul = 1LL << 20; break;
    case 'g': mul = 1LL << 30; break;
    case 't': mul = 1LL << 40; break;
    default: return -1;
    }
  if (*end && end[1] && !(tolower ((unsigned char) end[1]) == 'b' && end[2] == '\0')
      && !(tolower ((unsigned char) end[1]) == 'i' && tolower ((unsigned char) end[2]) == 'b' && end[3] == '\0'))
    return -1;
  *out = (long long) (v * (double) mul);
  return 0;
}

CR_VERB (update)
{
  static const struct cr_opt opts[] = {
    { "resources", 'r', true, U_RES },         { "blkio-weight", 0, true, U_BLKIO },
    { "cpu-period", 0, true, U_CPU_PERIOD },   { "cpu-quota", 0, true, U_CPU_QUOTA },
    { "cpu-share", 0, true, U_CPU_SHARE },     { "cpu-rt-period", 0, true, U_RT_PERIOD },
    { "cpu-rt-runtime", 0, true, U_RT_RUNTIME }, { "cpuset-cpus", 0, true, U_CPUS },
    { "cpuset-mems", 0, true, U_MEMS },        { "kernel-memory", 0, true, U_KMEM },
    { "kernel-memory-tcp", 0, true, U_KMEM_TCP }, { "memory", 0, true, U_MEM },
    { "memory-reservation", 0, true, U_MEM_RES }, { "memory-swap", 0, true, U_MEM_SWAP },
    { "pids-limit", 0, true, U_PIDS },         { "l3-cache-schema", 0, true, U_L3 },
    { "mem-bw-schema", 0, true, U_MBW },       { "cpu-idle", 0, true, U_CPU_IDLE },
    { "cpu-burst", 0, true, U_CPU_BURST },
    { NULL, 0, false, 0 },
  };
  int optind = 1, id;
  const char *arg, *res_file = NULL;
  char cpu[1024] = "", mem[1024] = "", pids[128] = "", blkio[128] = "";
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    {
      long long v = 0;
      char *dst = NULL;
      const char *key = NULL;
      bool is_size = false, is_str = false;
      switch (id)
        {
        case U_RES: res_file = arg; continue;
        case U_BLKIO: snprintf (blkio, sizeof blkio, "\"weight\":%s", arg); continue;
        case U_CPU_PERIOD: dst = cpu; key = "period"; break;
        case U_CPU_QUOTA: dst = cpu; key = "quota"; break;
        case U_CPU_SHARE: dst = cpu; key = "shares"; break;
        case U_RT_PERIOD: dst = cpu; key = "realtimePeriod"; break;
        case U_RT_RUNTIME: dst = cpu; key = "realtimeRuntime"; break;
        case U_CPU_IDLE: dst = cpu; key = "idle"; break;
        case U_CPU_BURST: dst = cpu; key = "burst"; break;
        case U_CPUS: dst = cpu; key = "cpus"; is_str = true; break;
        case U_MEMS: dst = cpu; key = "mems"; is_str = true; break;
        case U_KMEM: dst = mem; key = "kernel"; is_size = true; break;
        case U_KMEM_TCP: dst = mem; key = "kernelTCP"; is_size = true; break;
        case U_MEM: dst = mem; key = "limit"; is_size = true; break;
        case U_MEM_RES: dst = mem; key = "reservation"; is_size = true; break;
        case U_MEM_SWAP: dst = mem; key = "swap"; is_size = true; break;
        case U_PIDS: snprintf (pids, sizeof pids, "\"limit\":%lld", atoll (arg)); continue;
        default: continue; /* intelRdt schemas: no resctrl here */
        }
      char item[256];
      if (is_str)
        snprintf (item, sizeof item, "\"%s\":\"%s\"", key, arg);
      else
        {
          if (is_size ? parse_size (arg, &v) < 0 : (v = strtoll (arg, NULL, 10), 0))
            {
              cr_log_error ("invalid value for --%s: %s", key, arg);
              return 1;
            }
          snprintf (item, sizeof item, "\"%s\":%lld", key, v);
        }
      if (*dst)
        strncat (dst, ",", 1023 - strlen (dst));
      strncat (dst, item, 1023 - strlen (dst));
    }
  if (id < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"update\" requires exactly 1 argument");
      return 1;
    }
  cr_error_t err = NULL;
  cleanup_free char *json = NULL;
  size_t len = 0;
  if (res_file)
    {
      int r = strcmp (res_file, "-") == 0 ? read_all_fd (STDIN_FILENO, &json, &len, &err) : read_file (res_file, &json, &len, &err);
      if (r < 0)
        return cr_error_report (&err);
    }
  else
    {
      json = xasprintf ("{%s%s%s%s%s%s%s%s%s%s%s%s}", *cpu ? "\"cpu\":{" : "", cpu, *cpu ? "}" : "",
                        *mem ? (*cpu ? ",\"memory\":{" : "\"memory\":{") : "", mem, *mem ? "}" : "",
                        *pids ? (*cpu || *mem ? ",\"pids\":{" : "\"pids\":{") : "", pids, *pids ? "}" : "",
                        *blkio ? (*cpu || *mem || *pids ? ",\"blockIO\":{" : "\"blockIO\":{") : "", blkio, *blkio ? "}" : "");
      len = strlen (json);
    }
  struct oci_resources *res = oci_resources_parse (json, len, &err);
  if (res == NULL)
    return cr_error_report (&err);
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  int dirfd;
  struct cr_state st;
  if (cr_container_load (&ctx, argv[optind], true, &dirfd, &st, &err) < 0)
    {
      oci_resources_free (res);
      return cr_error_report (&err);
    }
  int ret = 0;
  const char *status = cr_state_status (dirfd, &st);
  if (strcmp (status, "stopped") == 0)
    ret = cr_error (&err, 0, "container not running");
  else
    {
      struct cr_cgroup cg;
      if ((ret = cr_cgroup_open (st.cgroup_path, &cg, &err)) == 0)
        {
          ret = cr_cgroup_set_resources (&cg, res, &err);
          cr_cgroup_release (&cg);
          const char *unit = cr_systemd_scope_of (st.cgroup_path);
          if (ret == 0 && g->systemd_cgroup && unit && cr_systemd_booted ())
            ret = cr_systemd_unit_set_limits (unit, res, &err);
        }
    }
  close (dirfd);
  cr_state_release (&st);
  oci_resources_free (res);
  return ret < 0 ? cr_error_report (&err) : 0;
}
