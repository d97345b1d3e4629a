/* capsule-runc lease keygen|issue|verify: run leases for tests and demos
 * (the control plane issues real ones; format in lib/lease.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "lib/audit.h"
#include "lib/lease.h"
#include "lib/log.h"
#include "oci-spec/annotations.h"

enum { O_PRIV = 1, O_PUB, O_KEY, O_AGENT, O_VERSION, O_SESSION, O_PROFILE, O_TTL, O_NBF, O_EXP };

static int
usage (void)
{
  fputs ("usage: capsule-runc lease keygen --private FILE --public FILE\n"
         "       capsule-runc lease issue --key PRIVATE.pem --agent A [--version V] [--session S]\n"
         "                                [--profile P] [--ttl 1h | --expires UNIX] [--not-before UNIX]\n"
         "       capsule-runc lease verify --public PUBLIC.pem TOKEN\n",
         stderr);
  return 1;
}

CR_VERB (lease)
{
  (void) g;
  static const struct cr_opt opts[] = {
    { "private", 0, true, O_PRIV },   { "public", 0, true, O_PUB },       { "key", 'k', true, O_KEY },
    { "agent", 0, true, O_AGENT },    { "version", 0, true, O_VERSION },  { "session", 0, true, O_SESSION },
    { "profile", 0, true, O_PROFILE }, { "ttl", 0, true, O_TTL },         { "not-before", 0, true, O_NBF },
    { "expires", 0, true, O_EXP },    { NULL, 0, false, 0 },
  };
  if (argc < 2)
    return usage ();
  const char *sub = argv[1];
  const char *priv = NULL, *pub = NULL, *key = NULL, *ttl = "1h", *nbf = NULL, *exp = NULL;
  struct capsule_lease l = { .version = "unversioned", .profile = "default" };
  int optind = 2, id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    switch (id)
      {
      case O_PRIV: priv = arg; break;
      case O_PUB: pub = arg; break;
      case O_KEY: key = arg; break;
      case O_AGENT: l.agent = (char *) arg; break;
      case O_VERSION: l.version = (char *) arg; break;
      case O_SESSION: l.session = (char *) arg; break;
      case O_PROFILE: l.profile = (char *) arg; break;
      case O_TTL: ttl = arg; break;
      case O_NBF: nbf = arg; break;
      case O_EXP: exp = arg; break;
      }
  if (id < 0)
    return 1;
  cr_error_t err = NULL;
  if (strcmp (sub, "keygen") == 0)
    {
      if (!priv || !pub || optind != argc)
        return usage ();
      if (capsule_lease_keygen (priv, pub, &err) < 0)
        return cr_error_report (&err);
      return 0;
    }
  if (strcmp (sub, "issue") == 0)
    {
      if (!key || !l.agent || optind != argc)
        return usage ();
      if (l.session == NULL)
        l.session = l.agent;
      int64_t now = (int64_t) time (NULL);
      l.nbf = nbf ? strtoll (nbf, NULL, 10) : now;
      if (exp)
        l.exp = strtoll (exp, NULL, 10);
      else
        {
          uint64_t secs;
          const char *why;
          if (capsule_parse_duration (ttl, &secs, &why) < 0)
            {
              cr_log_error ("--ttl `%s`: %s", ttl, why);
              return 1;
            }
          l.exp = now + (int64_t) secs;
        }
      char *tok = NULL;
      if (capsule_lease_issue (key, &l, &tok, &err) < 0)
        return cr_error_report (&err);
      puts (tok);
      free (tok);
      return 0;
    }
  if (strcmp (sub, "verify") == 0)
    {
      if (!pub || optind != argc - 1)
        return usage ();
      struct capsule_lease v;
      if (capsule_lease_verify (argv[optind], pub, (int64_t) time (NULL), &v, &err) < 0)
        return cr_error_report (&err);
      char a[512], ve[512], se[512], pr[512];
      audit_json_escape (a, sizeof a, v.agent);
      audit_json_escape (ve, sizeof ve, v.version);
      audit_json_escape (se, sizeof se, v.session);
      audit_json_escape (pr, sizeof pr, v.profile);
      printf ("{\"agent\":\"%s\",\"version\":\"%s\",\"session\":\"%s\",\"profile\":\"%s\",\"nbf\":%lld,\"exp\":%lld}\n", a,
              ve, se, pr, (long long) v.nbf, (long long) v.exp);
      capsule_lease_release (&v);
      return 0;
    }
  return usage ();
}
