/* Test driver for the cgroup API (lib/cgroup.h), used by the tests/cgroup shell tests
 * and tests/vm/guest-cgroup-v2.sh.
 *   capsule-cgtool [-2] mode
 *   capsule-cgtool [-2] create PATH [RESOURCES-JSON]     (JSON as for `update --resources`)
 *   capsule-cgtool [-2] roundtrip PATH [RESOURCES-JSON]  (create + destroy in one process)
 *   capsule-cgtool [-2] set PATH RESOURCES-JSON
 *   capsule-cgtool [-2] enter PATH PID | pids PATH | freeze PATH | thaw PATH | frozen PATH
 *   capsule-cgtool [-2] kill PATH SIGNUM | destroy PATH | stats PATH
 *   capsule-cgtool resolve CGROUPSPATH ID [systemd]
 *   capsule-cgtool bpf-count DIR    (device programs attached to a cgroup2 dir)
 * -2 forces cgroup v2 mode (on a hybrid host: the unified mount). */
#include "lib/cgroup.h"
#include "lib/cgroup_internal.h"
#include "lib/util.h"
#include "oci-spec/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (cr_error_t *err)
{
  fprintf (stderr, "cgtool: %s\n", (*err && (*err)->msg) ? (*err)->msg : "error");
  cr_error_release (err);
  return 1;
}

static struct oci_resources *
parse_res (const char *json, cr_error_t *err)
{
  if (json == NULL)
    return NULL;
  return oci_resources_parse (json, strlen (json), err);
}

int
main (int argc, char **argv)
{
  cr_error_t err = NULL;
  int a = 1;
  if (a < argc && strcmp (argv[a], "-2") == 0)
    {
      cr_cgroup_force_mode (CR_CGROUP_V2);
      a++;
    }
  if (a >= argc)
    {
      fprintf (stderr, "usage: capsule-cgtool [-2] CMD ARGS...\n");
      return 2;
    }
  const char *cmd = argv[a++];
  const char *arg1 = a < argc ? argv[a] : NULL;
  const char *arg2 = a + 1 < argc ? argv[a + 1] : NULL;

  if (strcmp (cmd, "mode") == 0)
    {
      static const char *names[] = { "?", "v1", "hybrid", "v2" };
      printf ("%s\n", names[cr_cgroup_mode ()]);
      return 0;
    }
  if (strcmp (cmd, "resolve") == 0)
    {
      cleanup_free char *out = NULL;
      if (cr_cgroup_resolve_path (arg1, arg2, a + 2 < argc && strcmp (argv[a + 2], "systemd") == 0, &out, &err) < 0)
        return fail (&err);
      printf ("%s\n", out);
      return 0;
    }
  if (strcmp (cmd, "bpf-count") == 0 && arg1)
    {
      int n = cr_cgroup_devices_bpf_count (arg1, &err);
      if (n < 0)
        return fail (&err);
      printf ("%d\n", n);
      return 0;
    }
  if (arg1 == NULL)
    {
      fprintf (stderr, "cgtool: %s needs a cgroup path\n", cmd);
      return 2;
    }

  struct cr_cgroup cg = { .v2_dirfd = -1 };
  if (strcmp (cmd, "create") == 0 || strcmp (cmd, "roundtrip") == 0)
    {
      struct oci_resources *res = NULL;
      if (arg2 && (res = parse_res (arg2, &err)) == NULL)
        return fail (&err);
      int r = cr_cgroup_create (arg1, res, &cg, &err);
      if (res)
        oci_resources_free (res);
      if (r < 0)
        return fail (&err);
      if (strcmp (cmd, "roundtrip") == 0 && cr_cgroup_destroy (&cg, &err) < 0)
        return fail (&err);
      printf ("created_levels=%d v2_dirfd=%s\n", cg.created_levels, cg.v2_dirfd >= 0 ? "yes" : "no");
      cr_cgroup_release (&cg);
      return 0;
    }

  if (cr_cgroup_open (arg1, &cg, &err) < 0)
    return fail (&err);
  int ret = 0;
  if (strcmp (cmd, "set") == 0)
    {
      struct oci_resources *res = parse_res (arg2 ? arg2 : "{}", &err);
      if (res == NULL)
        ret = -1;
      else
        {
          ret = cr_cgroup_set_resources (&cg, res, &err);
          oci_resources_free (res);
        }
    }
  else if (strcmp (cmd, "enter") == 0)
    ret = cr_cgroup_enter (&cg, arg2 ? atoi (arg2) : 0, &err);
  else if (strcmp (cmd, "pids") == 0)
    {
      pid_t *pids = NULL;
      size_t n = 0;
      ret = cr_cgroup_pids (&cg, &pids, &n, &err);
      for (size_t i = 0; ret == 0 && i < n; i++)
        printf ("%d\n", (int) pids[i]);
      free (pids);
    }
  else if (strcmp (cmd, "freeze") == 0 || strcmp (cmd, "thaw") == 0)
    ret = cr_cgroup_freeze (&cg, strcmp (cmd, "freeze") == 0, &err);
  else if (strcmp (cmd, "frozen") == 0)
    {
      ret = cr_cgroup_is_frozen (&cg, &err);
      if (ret >= 0)
        printf ("%d\n", ret);
    }
  else if (strcmp (cmd, "kill") == 0)
    ret = cr_cgroup_kill_all (&cg, arg2 ? atoi (arg2) : 9, &err);
  else if (strcmp (cmd, "destroy") == 0)
    ret = cr_cgroup_destroy (&cg, &err);
  else if (strcmp (cmd, "stats") == 0)
    {
      struct cr_cgroup_stats st;
      ret = cr_cgroup_stats (&cg, &st, &err);
      if (ret == 0)
        printf ("cpu_usage_total=%llu\nmemory_usage=%llu\nmemory_limit=%llu\npids_current=%llu\npids_limit=%llu\n"
                "oom_kill_count=%llu\ncpu_periods=%llu\n",
                (unsigned long long) st.cpu_usage_total, (unsigned long long) st.memory_usage,
                (unsigned long long) st.memory_limit, (unsigned long long) st.pids_current,
                (unsigned long long) st.pids_limit, (unsigned long long) st.oom_kill_count,
                (unsigned long long) st.cpu_periods);
    }
  else
    {
      fprintf (stderr, "cgtool: unknown command %s\n", cmd);
      ret = -2;
    }
  cr_cgroup_release (&cg);
  if (ret == -2)
    return 2;
  return ret < 0 ? fail (&err) : 0;
}
