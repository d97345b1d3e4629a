/* capsule-runc start ID */
#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (start)
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
      cr_log_error ("\"start\" requires exactly 1 argument");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  if (cr_container_start (&ctx, argv[optind], &err) < 0)
    return cr_error_report (&err);
  return 0;
}
