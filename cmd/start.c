/* capsule-runc start ID */
#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (start)
{
  const char *cid = cr_single_id (argc, argv);
  if (cid == NULL)
    return 1;
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  if (cr_container_start (&ctx, cid, &err) < 0)
    return cr_error_report (&err);
  return 0;
}
