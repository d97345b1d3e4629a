/* capsule-runc inspect ID: the capsule's effective configuration (JSON). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/admission.h"
#include "lib/log.h"
#include "lib/state.h"
#include "lib/util.h"

CR_VERB (inspect)
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
      cr_log_error ("\"inspect\" requires exactly 1 argument");
      return 1;
    }
  const char *cid = argv[optind];
  cr_error_t err = NULL;
  if (cr_validate_id (cid, &err) < 0)
    return cr_error_report (&err);
  cleanup_close int dirfd = cr_state_dir_open (g->root, cid, false, &err);
  if (dirfd < 0)
    return cr_error_report (&err);
  cleanup_free char *dir = cr_state_dir (g->root, cid);
  if (faccessat (dirfd, "capsule.json", F_OK, 0) < 0)
    {
      printf ("{\n    \"id\": \"%s\",\n    \"capsule\": false\n}\n", cid);
      return 0;
    }
  cleanup_effective struct capsule_effective *eff = NULL;
  if (capsule_effective_load (dir, &eff, &err) < 0)
    return cr_error_report (&err);
  cleanup_free char *json = capsule_effective_to_json (eff, true);
  puts (json);
  return 0;
}
