/* capsule-runc audit verify FILE [--head SEQ:HASH]: exit 0 only for an intact
 * hash chain (and, with --head, one that still reaches the recorded head:
 * tail truncation and rewritten chains are caught too). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/audit.h"
#include "lib/log.h"

CR_VERB (audit)
{
  (void) g;
  static const struct cr_opt opts[] = { { "head", 0, true, 1 }, { NULL, 0, false, 0 } };
  if (argc < 2 || strcmp (argv[1], "verify") != 0)
    {
      cr_log_error ("usage: capsule-runc audit verify FILE [--head SEQ:HASH]");
      return 2;
    }
  int optind = 2, id;
  const char *arg, *head = NULL, *file = NULL;
  while (optind < argc)
    {
      if ((id = cr_getopt (argc, argv, &optind, opts, &arg)) < 0)
        return 2;
      if (id == 1)
        head = arg;
      else if (id == 0 && optind < argc)
        file = argv[optind++];
    }
  if (file == NULL)
    {
      cr_log_error ("audit verify: FILE required");
      return 2;
    }
  uint64_t bad = 0;
  char *why = NULL;
  cr_error_t err = NULL;
  int r;
  if (head)
    {
      char *colon = strchr (head, ':');
      if (colon == NULL)
        {
          cr_log_error ("audit verify: --head must be SEQ:HASH");
          return 2;
        }
      *colon = '\0';
      r = audit_verify_head (file, strtoull (head, NULL, 10), colon + 1, &bad, &why, &err);
    }
  else
    r = audit_verify (file, &bad, &why, &err);
  if (r < 0)
    return cr_error_report (&err);
  if (r > 0)
    {
      printf ("%s: chain broken at line %" PRIu64 ": %s\n", file, bad, why ? why : "");
      free (why);
      return 1;
    }
  printf ("%s: chain intact\n", file);
  return 0;
}
