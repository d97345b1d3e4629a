/* capsule-runc state ID: the OCI state JSON. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (state)
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
      cr_log_error ("\"state\" requires exactly 1 argument");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  char *json = cr_container_state_json (&ctx, argv[optind], true, false, &err);
  if (json == NULL)
    return cr_error_report (&err);
  puts (json);
  free (json);
  return 0;
}
