/* capsule-runc delete [--force] ID */
#include <string.h>

#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (delete)
{
  static const struct cr_opt opts[] = { { "force", 'f', false, 1 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg;
  bool force = false;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    if (id == 1)
      force = arg == NULL || arg[0] == 't' || arg[0] == '1';
  if (id < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"delete\" requires exactly 1 argument");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  if (cr_container_delete (&ctx, argv[optind], force, &err) < 0)
    {
      /* runc: delete --force of a container that does not exist succeeds. */
      if (force && err && err->status == 0 && strstr (err->msg, "does not exist"))
        {
          cr_error_release (&err);
          return 0;
        }
      return cr_error_report (&err);
    }
  return 0;
}
