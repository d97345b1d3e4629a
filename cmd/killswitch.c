/* capsule-runc killswitch: record or lift a revocation in the node's
 * kill-switch directory (SPEC §7; record format in lib/killswitch.h).
 *
 *   killswitch [--reason TEXT] session ID
 *   killswitch [--reason TEXT] agent NAME[@VERSION]
 *   killswitch [--reason TEXT] capability NAME
 *   killswitch lift session ID | agent NAME[@VERSION] | capability NAME
 *   killswitch list              one line per record: FILE-NAME<TAB>JSON
 *
 * --dir DIR overrides the directory (default: the node policy's
 * directories.killswitch, else /run/capsule/killswitch).  The capsules
 * watching the directory act on their own; this verb only writes the record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/killswitch.h"
#include "lib/log.h"
#include "lib/policy.h"
#include "lib/util.h"

#define KS_USAGE                                                                                                      \
  "usage: capsule-runc killswitch [--reason TEXT] session ID | agent NAME[@VERSION] | capability NAME\n"             \
  "       capsule-runc killswitch lift session ID | agent NAME[@VERSION] | capability NAME\n"                         \
  "       capsule-runc killswitch list"

static int
ks_parse_kind (const char *word, enum killswitch_kind *kind)
{
  if (strcmp (word, "session") == 0)
    *kind = KILLSWITCH_SESSION;
  else if (strcmp (word, "agent") == 0)
    *kind = KILLSWITCH_AGENT;
  else if (strcmp (word, "capability") == 0)
    *kind = KILLSWITCH_CAPABILITY;
  else
    return -1;
  return 0;
}

/* The directory: --dir, else the node policy's, else the default. */
static int
ks_dir (const char *flag_dir, char **out, cr_error_t *err)
{
  if (flag_dir)
    {
      *out = xstrdup (flag_dir);
      return 0;
    }
  struct capsule_policy *pol = NULL;
  if (capsule_policy_load (&pol, err) < 0)
    return -1;
  *out = xstrdup (killswitch_dir_resolve (pol->killswitch_dir));
  capsule_policy_free (pol);
  return 0;
}

static int
ks_list (const char *dir)
{
  char **names = NULL;
  size_t n = 0;
  cr_error_t err = NULL;
  if (killswitch_list (dir, &names, &n, &err) < 0)
    return cr_error_report (&err);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *content = NULL;
      /* Lifted between the listing and the read: not a revocation any more. */
      if (killswitch_read (dir, names[i], &content, &err) < 0)
        {
          cr_error_release (&err);
          continue;
        }
      printf ("%s\t%s\n", names[i], content);
    }
  killswitch_names_free (names);
  return 0;
}

CR_VERB (killswitch)
{
  (void) g;
  static const struct cr_opt opts[] = { { "reason", 0, true, 1 }, { "dir", 0, true, 2 }, { NULL, 0, false, 0 } };
  const char *reason = NULL, *flag_dir = NULL, *arg;
  const char *pos[4];
  int npos = 0, optind = 1, id;
  while (optind < argc)
    {
      if ((id = cr_getopt (argc, argv, &optind, opts, &arg)) < 0)
        return 2;
      if (id == 1)
        reason = arg;
      else if (id == 2)
        flag_dir = arg;
      else if (optind < argc)
        {
          if (npos == 4)
            {
              cr_log_error ("%s", KS_USAGE);
              return 2;
            }
          pos[npos++] = argv[optind++];
        }
    }
  bool lift = npos > 0 && strcmp (pos[0], "lift") == 0;
  bool list = npos == 1 && strcmp (pos[0], "list") == 0;
  enum killswitch_kind kind = KILLSWITCH_SESSION;
  int k = lift ? 1 : 0;
  if (!list && (npos != k + 2 || ks_parse_kind (pos[k], &kind) < 0))
    {
      cr_log_error ("%s", KS_USAGE);
      return 2;
    }
  cr_error_t err = NULL;
  cleanup_free char *dir = NULL;
  if (ks_dir (flag_dir, &dir, &err) < 0)
    return cr_error_report (&err);
  if (list)
    return ks_list (dir);

  cleanup_free char *name = xstrdup (pos[k + 1]);
  const char *version = NULL;
  if (kind == KILLSWITCH_AGENT)
    {
      char *at = strrchr (name, '@');
      if (at)
        {
          *at = '\0';
          version = at + 1;
        }
    }
  int r = lift ? killswitch_lift (dir, kind, name, version, &err)
               : killswitch_record (dir, kind, name, version, reason, &err);
  if (r < 0)
    return cr_error_report (&err);
  return 0;
}
