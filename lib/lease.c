/* Ed25519 run leases with OpenSSL (format in lease.h). */
#include "lease.h"
#include "crypto_dl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "util.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
capsule_b64url_encode (const unsigned char *d, size_t len)
{
  char *out = xmalloc0 (len / 3 * 4 + 5);
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3)
    {
      uint32_t v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8 | d[i + 2];
      out[o++] = b64url[v >> 18];
      out[o++] = b64url[(v >> 12) & 63];
      out[o++] = b64url[(v >> 6) & 63];
      out[o++] = b64url[v & 63];
    }
  if (len - i == 1)
    {
      uint32_t v = (uint32_t) d[i] << 16;
      out[o++] = b64url[v >> 18];
      out[o++] = b64url[(v >> 12) & 63];
    }
  else if (len - i == 2)
    {
      uint32_t v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8;
      out[o++] = b64url[v >> 18];
      out[o++] = b64url[(v >> 12) & 63];
      out[o++] = b64url[(v >> 6) & 63];
    }
  out[o] = '\0';
  return out;
}

int
capsule_b64url_decode (const char *s, size_t n, unsigned char **out, size_t *out_len)
{
  if (n % 4 == 1)
    return -1;
  unsigned char *r = xmalloc0 (n / 4 * 3 + 3);
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *p = s[i] ? strchr (b64url, s[i]) : NULL;
      if (p == NULL)
        {
          free (r);
          return -1;
        }
      acc = acc << 6 | (uint32_t) (p - b64url);
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          r[o++] = (unsigned char) (acc >> bits);
          acc &= (1u << bits) - 1;
        }
    }
  /* Canonical encodings only: leftover bits must be zero. */
  if (acc != 0)
    {
      free (r);
      return -1;
    }
  *out = r;
  *out_len = o;
  return 0;
}

static int
ssl_error (const struct capsule_crypto *c, cr_error_t *err, const char *what)
{
  unsigned long e = c->ERR_get_error ();
  char buf[256] = "unknown error";
  if (e)
    c->ERR_error_string_n (e, buf, sizeof buf);
  c->ERR_clear_error ();
  return cr_error (err, 0, "%s: %s", what, buf);
}

static EVP_PKEY *
load_key (const struct capsule_crypto *c, const char *path, bool priv, cr_error_t *err)
{
  FILE *f = fopen (path, "re");
  if (f == NULL)
    {
      cr_error_errno (err, "open lease key `%s`", path);
      return NULL;
    }
  EVP_PKEY *k = priv ? c->PEM_read_PrivateKey (f, NULL, NULL, NULL) : c->PEM_read_PUBKEY (f, NULL, NULL, NULL);
  fclose (f);
  if (k == NULL)
    {
      ssl_error (c, err, priv ? "read lease private key" : "read lease public key");
      cr_error_wrap (err, "`%s`", path);
      return NULL;
    }
  if (c->EVP_PKEY_get_id (k) != EVP_PKEY_ED25519)
    {
      c->EVP_PKEY_free (k);
      cr_error (err, 0, "lease key `%s`: not an Ed25519 key", path);
      return NULL;
    }
  return k;
}

static void
gen_str (yajl_gen g, const char *k, const char *v)
{
  yajl_gen_string (g, (const unsigned char *) k, strlen (k));
  yajl_gen_string (g, (const unsigned char *) v, strlen (v));
}

static void
gen_int (yajl_gen g, const char *k, int64_t v)
{
  yajl_gen_string (g, (const unsigned char *) k, strlen (k));
  yajl_gen_integer (g, v);
}

int
capsule_lease_issue (const char *key_path, const struct capsule_lease *l, char **token, cr_error_t *err)
{
  const struct capsule_crypto *c = capsule_crypto (err);
  if (c == NULL)
    return cr_error_wrap (err, "sign lease");
  EVP_PKEY *k = load_key (c, key_path, true, err);
  if (k == NULL)
    return -1;
  yajl_gen g = yajl_gen_alloc (NULL);
  yajl_gen_map_open (g);
  gen_int (g, "v", 1);
  gen_str (g, "agent", l->agent ? l->agent : "");
  gen_str (g, "version", l->version ? l->version : "");
  gen_str (g, "session", l->session ? l->session : "");
  gen_str (g, "profile", l->profile ? l->profile : "default");
  gen_int (g, "nbf", l->nbf);
  gen_int (g, "exp", l->exp);
  yajl_gen_map_close (g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  cleanup_free char *payload = capsule_b64url_encode (buf, len);
  yajl_gen_free (g);

  unsigned char sig[64];
  size_t siglen = sizeof sig;
  EVP_MD_CTX *md = c->EVP_MD_CTX_new ();
  int ok = md && c->EVP_DigestSignInit (md, NULL, NULL, NULL, k) == 1
           && c->EVP_DigestSign (md, sig, &siglen, (const unsigned char *) payload, strlen (payload)) == 1;
  c->EVP_MD_CTX_free (md);
  c->EVP_PKEY_free (k);
  if (!ok)
    return ssl_error (c, err, "sign lease");
  cleanup_free char *s = capsule_b64url_encode (sig, siglen);
  *token = xasprintf ("%s.%s", payload, s);
  return 0;
}

static char *
tree_str (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v ? xstrdup (YAJL_GET_STRING (v)) : NULL;
}

static bool
tree_int (yajl_val root, const char *key, int64_t *out)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_number);
  if (v == NULL || !YAJL_IS_INTEGER (v))
    return false;
  *out = YAJL_GET_INTEGER (v);
  return true;
}

int
capsule_lease_verify (const char *token, const char *pub_path, int64_t now, struct capsule_lease *out, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  const char *dot = strchr (token, '.');
  if (dot == NULL || strchr (dot + 1, '.') != NULL)
    return cr_error (err, 0, "lease: malformed token (expected payload.signature)");
  cleanup_free unsigned char *sig = NULL;
  size_t siglen = 0;
  if (capsule_b64url_decode (dot + 1, strlen (dot + 1), &sig, &siglen) < 0 || siglen != 64)
    return cr_error (err, 0, "lease: malformed signature");
  const struct capsule_crypto *c = capsule_crypto (err);
  if (c == NULL)
    return cr_error_wrap (err, "verify lease");
  EVP_PKEY *k = load_key (c, pub_path, false, err);
  if (k == NULL)
    return -1;
  EVP_MD_CTX *md = c->EVP_MD_CTX_new ();
  int ok = md && c->EVP_DigestVerifyInit (md, NULL, NULL, NULL, k) == 1
           && c->EVP_DigestVerify (md, sig, siglen, (const unsigned char *) token, (size_t) (dot - token)) == 1;
  c->EVP_MD_CTX_free (md);
  c->EVP_PKEY_free (k);
  c->ERR_clear_error ();
  if (!ok)
    return cr_error (err, 0, "lease: bad signature (forged, or signed with another key)");

  cleanup_free unsigned char *payload = NULL;
  size_t plen = 0;
  if (capsule_b64url_decode (token, (size_t) (dot - token), &payload, &plen) < 0)
    return cr_error (err, 0, "lease: malformed payload");
  cleanup_free char *text = strndup ((const char *) payload, plen);
  char ebuf[128];
  yajl_val root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (root == NULL || !YAJL_IS_OBJECT (root))
    {
      if (root)
        yajl_tree_free (root);
      return cr_error (err, 0, "lease: payload is not a JSON object");
    }
  int64_t v = 0;
  bool good = tree_int (root, "v", &v) && v == 1 && tree_int (root, "nbf", &out->nbf) && tree_int (root, "exp", &out->exp);
  out->agent = tree_str (root, "agent");
  out->version = tree_str (root, "version");
  out->session = tree_str (root, "session");
  out->profile = tree_str (root, "profile");
  yajl_tree_free (root);
  if (!good || !out->agent || !out->version || !out->session || !out->profile)
    {
      capsule_lease_release (out);
      return cr_error (err, 0, "lease: payload lacks v=1, agent, version, session, profile, nbf or exp");
    }
  if (now < out->nbf)
    {
      int64_t nbf = out->nbf;
      capsule_lease_release (out);
      return cr_error (err, 0, "lease: not valid before %lld (now %lld)", (long long) nbf, (long long) now);
    }
  if (now >= out->exp)
    {
      int64_t exp = out->exp;
      capsule_lease_release (out);
      return cr_error (err, 0, "lease: expired at %lld (now %lld)", (long long) exp, (long long) now);
    }
  return 0;
}

void
capsule_lease_release (struct capsule_lease *l)
{
  free (l->agent);
  free (l->version);
  free (l->session);
  free (l->profile);
  memset (l, 0, sizeof *l);
}

int
capsule_lease_keygen (const char *priv_path, const char *pub_path, cr_error_t *err)
{
  const struct capsule_crypto *c = capsule_crypto (err);
  if (c == NULL)
    return cr_error_wrap (err, "generate Ed25519 key");
  EVP_PKEY *k = c->EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  if (k == NULL)
    return ssl_error (c, err, "generate Ed25519 key");
  int ret = -1;
  int fd = open (priv_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen (fd, "w") : NULL;
  if (f == NULL)
    {
      cr_error_errno (err, "create `%s`", priv_path);
      if (fd >= 0)
        close (fd);
      goto out;
    }
  if (c->PEM_write_PrivateKey (f, k, NULL, NULL, 0, NULL, NULL) != 1)
    {
      fclose (f);
      ssl_error (c, err, "write private key");
      goto out;
    }
  if (fclose (f) != 0)
    {
      cr_error_errno (err, "write `%s`", priv_path);
      goto out;
    }
  f = fopen (pub_path, "we");
  if (f == NULL)
    {
      cr_error_errno (err, "create `%s`", pub_path);
      goto out;
    }
  if (c->PEM_write_PUBKEY (f, k) != 1)
    {
      fclose (f);
      ssl_error (c, err, "write public key");
      goto out;
    }
  if (fclose (f) != 0)
    {
      cr_error_errno (err, "write `%s`", pub_path);
      goto out;
    }
  ret = 0;
out:
  c->EVP_PKEY_free (k);
  return ret;
}
