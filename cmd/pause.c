/* capsule-runc pause ID / resume ID: the cgroup freezer (v1 freezer.state, v2 cgroup.freeze). */
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/container.h"
#include "lib/log.h"

static int
freeze (struct cr_global *g, int argc, char **argv, bool on)
{
  static const struct cr_opt opts[] = { { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    ;
  if (id < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"%s\" requires exactly 1 argument", argv[0]);
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  int dirfd;
  struct cr_state st;
  if (cr_container_load (&ctx, argv[optind], true, &dirfd, &st, &err) < 0)
    return cr_error_report (&err);
  const char *status = cr_state_status (dirfd, &st);
  int ret = 0;
  if (on && strcmp (status, "running") != 0 && strcmp (status, "created") != 0)
    ret = cr_error (&err, 0, "container not running");
  else if (!on && strcmp (status, "paused") != 0)
    ret = cr_error (&err, 0, "container not paused");
  else
    {
      struct cr_cgroup cg;
      if ((ret = cr_cgroup_open (st.cgroup_path, &cg, &err)) == 0)
        {
          ret = cr_cgroup_freeze (&cg, on, &err);
          cr_cgroup_release (&cg);
        }
    }
  close (dirfd);
  cr_state_release (&st);
  return ret < 0 ? cr_error_report (&err) : 0;
}

CR_VERB (pause) { return freeze (g, argc, argv, true); }
CR_VERB (resume) { return freeze (g, argc, argv, false); }
