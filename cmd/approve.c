/* capsule-runc approve|deny [ID] REQID: answer a brokered-capability request
 * that a capsule's proxy holds (SPEC §7).
 *
 * The proxy writes ROOT/ID/pending/REQID.json and watches that directory;
 * the answer is ROOT/ID/pending/REQID.decision ("approve" or "deny"),
 * renamed into place.  Without ID every container under --root is searched
 * for REQID (request ids are 128 random bits).  The verb waits up to 2 s
 * for the proxy to take the answer (it removes both files) and says so. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/log.h"
#include "lib/util.h"

static bool
reqid_valid (const char *s)
{
  size_t l = strlen (s);
  return l >= 16 && l <= 64 && strspn (s, "0123456789abcdef") == l;
}

/* Container NAME under ROOT has the pending request (data: its id). */
static bool
has_request (const char *root, const char *name, void *reqid)
{
  cleanup_free char *j = xasprintf ("%s/%s/pending/%s.json", root, name, (const char *) reqid);
  return access (j, F_OK) == 0;
}

/* ROOT/ID/pending for the container holding REQID, or NULL. */
static char *
find_pending (const char *root, const char *id, const char *reqid)
{
  if (id && (strchr (id, '/') || id[0] == '.'))
    return NULL;
  cleanup_free char *found = id ? (has_request (root, id, (void *) reqid) ? xstrdup (id) : NULL)
                                : dir_find_entry (root, has_request, (void *) reqid);
  return found ? xasprintf ("%s/%s/pending", root, found) : NULL;
}

static int
answer (struct cr_global *g, int argc, char **argv, bool approve)
{
  static const struct cr_opt none[] = { { NULL, 0, false, 0 } };
  int optind = 1, r;
  const char *arg;
  while ((r = cr_getopt (argc, argv, &optind, none, &arg)) > 0)
    ;
  if (r < 0)
    return 2;
  int n = argc - optind;
  if (n < 1 || n > 2)
    {
      cr_log_error ("usage: capsule-runc %s [CONTAINER-ID] REQUEST-ID", argv[0]);
      return 2;
    }
  const char *id = n == 2 ? argv[optind] : NULL;
  const char *reqid = argv[argc - 1];
  if (!reqid_valid (reqid))
    {
      cr_log_error ("%s: `%s` is not a request id (lower-case hex, as in the pending record)", argv[0], reqid);
      return 2;
    }
  cleanup_free char *dir = find_pending (g->root, id, reqid);
  if (dir == NULL)
    {
      cr_log_error ("%s: no held request %s%s%s under %s", argv[0], reqid, id ? " for container " : "", id ? id : "",
                    g->root);
      return 1;
    }
  cleanup_free char *json = xasprintf ("%s/%s.json", dir, reqid);
  cleanup_free char *dec = xasprintf ("%s/%s.decision", dir, reqid);
  const char *text = approve ? "approve\n" : "deny\n";
  cr_error_t err = NULL;
  if (write_file_atomic (dec, text, strlen (text), &err) < 0)
    return cr_error_report (&err);
  /* the proxy removes the record once it has acted on the answer */
  for (int i = 0; i < 200; i++)
    {
      if (access (json, F_OK) != 0 && errno == ENOENT)
        {
          printf ("%s %s\n", approve ? "approved" : "denied", reqid);
          return 0;
        }
      struct timespec ts = { 0, 10 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  printf ("%s %s (recorded; the proxy has not taken it yet)\n", approve ? "approved" : "denied", reqid);
  return 0;
}

CR_VERB (approve)
{
  return answer (g, argc, argv, true);
}

CR_VERB (deny)
{
  return answer (g, argc, argv, false);
}
