/* checkpoint/restore need CRIU, which capsule-runc does not use: a clear error. */
#include "cmd/cmd.h"
#include "lib/log.h"

CR_VERB (checkpoint)
{
  (void) g;
  (void) argc;
  (void) argv;
  cr_log_error ("checkpoint is not supported by capsule-runc (no CRIU support)");
  return 1;
}

CR_VERB (restore)
{
  (void) g;
  (void) argc;
  (void) argv;
  cr_log_error ("restore is not supported by capsule-runc (no CRIU support)");
  return 1;
}
