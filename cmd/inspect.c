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
  const char *single = cr_single_id (argc, argv);
  if (single == NULL)
    return 1;
  const char *cid = single;
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
