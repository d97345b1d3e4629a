/* capsule-runc state ID: the OCI state JSON. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (state)
{
  const char *cid = cr_single_id (argc, argv);
  if (cid == NULL)
    return 1;
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  char *json = cr_container_state_json (&ctx, cid, true, false, &err);
  if (json == NULL)
    return cr_error_report (&err);
  puts (json);
  free (json);
  return 0;
}
