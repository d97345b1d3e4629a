/* capsule-runc audit verify FILE [--head SEQ:HASH] [--key KEYFILE] [--no-head]:
 * exit 0 only for an intact hash chain.  With --head the file must end
 * exactly at that head.  Otherwise, when the monitor recorded a signed head
 * (FILE.head, lib/audit_head.h), its signature is checked with the node key
 * (--key, else $CAPSULE_AUDIT_KEY, else <root>/.capsule-audit-key) and the
 * file must still reach it: tail truncation and rewritten chains are caught
 * too.  Without a node key (default path missing) the head is reported
 * as not checked; --no-head skips it (a copy verified away from its node). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/audit.h"
#include "lib/audit_head.h"
#include "lib/log.h"
#include "lib/util.h"

CR_VERB (audit)
{
  static const struct cr_opt opts[]
      = { { "head", 0, true, 1 }, { "key", 0, true, 2 }, { "no-head", 0, false, 3 }, { NULL, 0, false, 0 } };
  if (argc < 2 || strcmp (argv[1], "verify") != 0)
    {
      cr_log_error ("usage: capsule-runc audit verify FILE [--head SEQ:HASH] [--key KEYFILE] [--no-head]");
      return 2;
    }
  int optind = 2, id;
  const char *arg, *head = NULL, *file = NULL, *keyfile = NULL;
  bool no_head = false;
  while (optind < argc)
    {
      if ((id = cr_getopt (argc, argv, &optind, opts, &arg)) < 0)
        return 2;
      if (id == 1)
        head = arg;
      else if (id == 2)
        keyfile = arg;
      else if (id == 3)
        no_head = true;
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
  if (head == NULL && !no_head)
    {
      bool present = false;
      uint64_t hseq = 0;
      cleanup_free char *kpath = keyfile ? xstrdup (keyfile) : audit_head_key_path (g->root);
      cleanup_free char *hpath = audit_head_path (file);
      if (access (hpath, F_OK) == 0)
        {
          unsigned char key[AUDIT_HEAD_KEY_LEN];
          if (audit_head_key_load (kpath, false, key, &err) < 0)
            {
              /* Away from the node (or another --root): say so, never pass it off as checked. */
              if (err->status == ENOENT && keyfile == NULL)
                {
                  cr_error_release (&err);
                  printf ("%s: chain intact (signed head not checked: no node key at %s; use --root or --key)\n", file,
                          kpath);
                  return 0;
                }
              cr_error_wrap (&err, "%s: a signed head is recorded but the node key cannot be read", file);
              return cr_error_report (&err);
            }
          r = audit_head_check (file, key, &present, &hseq, &bad, &why, &err);
          if (r < 0)
            return cr_error_report (&err);
          if (r > 0)
            {
              if (bad)
                printf ("%s: chain broken at line %" PRIu64 ": %s\n", file, bad, why ? why : "");
              else
                printf ("%s: signed head rejected: %s\n", file, why ? why : "");
              free (why);
              return 1;
            }
        }
      if (present)
        {
          printf ("%s: chain intact, reaches the signed head (line %" PRIu64 ")\n", file, hseq);
          return 0;
        }
    }
  printf ("%s: chain intact\n", file);
  return 0;
}
