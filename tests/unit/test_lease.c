/* Ed25519 run leases: issue, verify, and every way a lease is refused. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "lib/lease.h"
#include "lib/util.h"
#include "t.h"

static char *
verify_err (const char *tok, const char *pub, int64_t now)
{
  struct capsule_lease l;
  cr_error_t err = NULL;
  if (capsule_lease_verify (tok, pub, now, &l, &err) == 0)
    {
      capsule_lease_release (&l);
      return NULL;
    }
  char *m = xstrdup (err->msg);
  cr_error_release (&err);
  return m;
}

int
main (void)
{
  char dir[] = "/tmp/test-lease.XXXXXX";
  T_CHECK (mkdtemp (dir) != NULL, "mkdtemp");
  char *priv = xasprintf ("%s/k", dir), *pub = xasprintf ("%s/k.pub", dir);
  char *priv2 = xasprintf ("%s/k2", dir), *pub2 = xasprintf ("%s/k2.pub", dir);
  cr_error_t err = NULL;
  T_CHECK (capsule_lease_keygen (priv, pub, &err) == 0, "keygen: %s", err ? err->msg : "");
  T_CHECK (capsule_lease_keygen (priv2, pub2, &err) == 0, "keygen2");

  /* base64url round trips at every length mod 3, and rejects junk. */
  for (size_t n = 0; n < 7; n++)
    {
      unsigned char in[7] = { 0xff, 0x00, 0xfb, 0xef, 0x10, 0x3f, 0x80 };
      char *e = capsule_b64url_encode (in, n);
      unsigned char *out = NULL;
      size_t ol = 0;
      T_CHECK (capsule_b64url_decode (e, strlen (e), &out, &ol) == 0 && ol == n && memcmp (in, out, n) == 0, "b64 %zu", n);
      T_CHECK (strchr (e, '=') == NULL && strchr (e, '+') == NULL && strchr (e, '/') == NULL, "b64url alphabet");
      free (e);
      free (out);
    }
  unsigned char *o = NULL;
  size_t ol;
  T_CHECK (capsule_b64url_decode ("ab+c", 4, &o, &ol) < 0, "b64 rejects +");
  T_CHECK (capsule_b64url_decode ("abcde", 5, &o, &ol) < 0, "b64 rejects bad length");

  int64_t now = (int64_t) time (NULL);
  struct capsule_lease l = { .agent = "support-bot", .version = "1.4.2", .session = "s-1", .profile = "default",
                             .nbf = now - 10, .exp = now + 3600 };
  char *tok = NULL;
  T_CHECK (capsule_lease_issue (priv, &l, &tok, &err) == 0, "issue");
  struct capsule_lease v;
  T_CHECK (capsule_lease_verify (tok, pub, now, &v, &err) == 0, "verify: %s", err ? err->msg : "");
  T_STREQ (v.agent, "support-bot");
  T_STREQ (v.version, "1.4.2");
  T_STREQ (v.session, "s-1");
  T_STREQ (v.profile, "default");
  T_CHECK (v.exp == now + 3600 && v.nbf == now - 10, "window");
  capsule_lease_release (&v);

  char *m;
  /* Window. */
  m = verify_err (tok, pub, now + 3600);
  T_CONTAINS (m, "expired");
  free (m);
  m = verify_err (tok, pub, now - 11);
  T_CONTAINS (m, "not valid before");
  free (m);
  /* Another key. */
  m = verify_err (tok, pub2, now);
  T_CONTAINS (m, "bad signature");
  free (m);
  /* Forged payload: same signature, different claims. */
  {
    struct capsule_lease l2 = l;
    l2.agent = "evil-bot";
    char *tok2 = NULL;
    T_CHECK (capsule_lease_issue (priv2, &l2, &tok2, &err) == 0, "issue2");
    char *forged = xasprintf ("%.*s%s", (int) (strchr (tok2, '.') - tok2), tok2, strchr (tok, '.'));
    m = verify_err (forged, pub, now);
    T_CONTAINS (m, "bad signature");
    free (m);
    free (forged);
    free (tok2);
  }
  /* Flipped signature byte. */
  {
    char *t = xstrdup (tok);
    char *last = t + strlen (t) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    m = verify_err (t, pub, now);
    T_CHECK (m != NULL, "flipped signature refused");
    free (m);
    free (t);
  }
  /* Malformed tokens. */
  m = verify_err ("nodot", pub, now);
  T_CONTAINS (m, "malformed");
  free (m);
  m = verify_err ("a.b.c", pub, now);
  T_CONTAINS (m, "malformed");
  free (m);
  m = verify_err ("abc.", pub, now);
  T_CONTAINS (m, "malformed signature");
  free (m);
  /* Missing key file. */
  m = verify_err (tok, "/nonexistent/key.pub", now);
  T_CONTAINS (m, "/nonexistent/key.pub");
  free (m);
  /* A private key is not a public key file, and a non-Ed25519 key is refused. */
  m = verify_err (tok, priv, now);
  T_CHECK (m != NULL, "private key as public key refused");
  free (m);

  free (tok);
  char *cmd = xasprintf ("rm -rf %s", dir);
  T_CHECK (system (cmd) == 0, "cleanup");
  free (cmd);
  free (priv);
  free (pub);
  free (priv2);
  free (pub2);
  return t_done ();
}
