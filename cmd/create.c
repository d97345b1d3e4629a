/* capsule-runc create [--bundle DIR] [--console-socket S] [--pid-file F] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID */
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/create_opts.h"
#include "lib/container.h"

CR_VERB (create)
{
  struct cr_create_opts o;
  int optind;
  if (cr_parse_create_opts (argc, argv, &o, NULL, &optind) < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"create\" requires exactly 1 argument");
      return 1;
    }
  o.id = argv[optind];
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  if (cr_container_create (&ctx, &o, NULL, NULL, &err) < 0)
    return cr_error_report (&err);
  return 0;
}
