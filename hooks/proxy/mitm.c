/* TLS interception for CONNECT to hosts whose rules need method/path (or a
 * credential): a per-run CA minted at start (its key never leaves this
 * process), leaf certificates minted per host on demand, and upstream
 * re-origination with certificate + host name verification. */
#include "mitm.h"
#include "util.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>

#define LEAF_CACHE 64

struct leaf
{
  char host[256];
  X509 *cert;
};

struct mitm
{
  EVP_PKEY *ca_key, *leaf_key;
  X509 *ca;
  SSL_CTX *server_ctx, *client_ctx;
  struct leaf leaves[LEAF_CACHE];
  unsigned next_leaf;
  long serial;
};

static EVP_PKEY *
new_key (void)
{
  return EVP_EC_gen ("P-256");
}

static int
add_ext (X509 *cert, X509 *issuer, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb (&ctx);
  X509V3_set_ctx (&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ex = X509V3_EXT_conf_nid (NULL, &ctx, nid, value);
  if (!ex)
    return -1;
  int r = X509_add_ext (cert, ex, -1);
  X509_EXTENSION_free (ex);
  return r ? 0 : -1;
}

static X509 *
make_cert (struct mitm *m, const char *cn, EVP_PKEY *key, bool ca, const char *san)
{
  X509 *x = X509_new ();
  if (!x)
    return NULL;
  X509_set_version (x, 2);
  ASN1_INTEGER_set (X509_get_serialNumber (x), ++m->serial + (long) time (NULL));
  X509_gmtime_adj (X509_getm_notBefore (x), -3600);
  X509_gmtime_adj (X509_getm_notAfter (x), 7 * 24 * 3600);
  X509_set_pubkey (x, key);
  X509_NAME *name = X509_get_subject_name (x);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC, (const unsigned char *) "capsule-proxy", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
  X509 *issuer = ca ? x : m->ca;
  X509_set_issuer_name (x, X509_get_subject_name (issuer));
  int bad = 0;
  if (ca)
    {
      bad |= add_ext (x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
      bad |= add_ext (x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
      bad |= add_ext (x, x, NID_subject_key_identifier, "hash");
    }
  else
    {
      bad |= add_ext (x, issuer, NID_basic_constraints, "critical,CA:FALSE");
      bad |= add_ext (x, issuer, NID_key_usage, "critical,digitalSignature");
      bad |= add_ext (x, issuer, NID_ext_key_usage, "serverAuth");
      bad |= add_ext (x, issuer, NID_subject_alt_name, san);
    }
  if (bad || !X509_sign (x, ca ? key : m->ca_key, EVP_sha256 ()))
    {
      X509_free (x);
      return NULL;
    }
  return x;
}

int
mitm_new (const char *ca_out, const char *upstream_ca, struct mitm **out, cr_error_t *err)
{
  struct mitm *m = xmalloc0 (sizeof *m);
  m->ca_key = new_key ();
  m->leaf_key = new_key ();
  if (!m->ca_key || !m->leaf_key || !(m->ca = make_cert (m, "capsule-proxy per-run CA", m->ca_key, true, NULL)))
    {
      mitm_free (m);
      return cr_error (err, 0, "minting the per-run CA failed");
    }
  if (ca_out)
    {
      FILE *f = fopen (ca_out, "we");
      if (!f || !PEM_write_X509 (f, m->ca))
        {
          if (f)
            fclose (f);
          mitm_free (m);
          return cr_error_errno (err, "writing the CA certificate to `%s`", ca_out);
        }
      fclose (f);
    }
  m->server_ctx = SSL_CTX_new (TLS_server_method ());
  m->client_ctx = SSL_CTX_new (TLS_client_method ());
  if (!m->server_ctx || !m->client_ctx)
    {
      mitm_free (m);
      return cr_error (err, 0, "creating TLS contexts failed");
    }
  SSL_CTX_set_min_proto_version (m->server_ctx, TLS1_2_VERSION);
  SSL_CTX_set_min_proto_version (m->client_ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode (m->server_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_mode (m->client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_verify (m->client_ctx, SSL_VERIFY_PEER, NULL);
  if (upstream_ca ? SSL_CTX_load_verify_locations (m->client_ctx, upstream_ca, NULL) != 1
                  : SSL_CTX_set_default_verify_paths (m->client_ctx) != 1)
    {
      mitm_free (m);
      return cr_error (err, 0, "loading upstream trust anchors%s%s failed", upstream_ca ? " from " : "",
                       upstream_ca ? upstream_ca : "");
    }
  *out = m;
  return 0;
}

void
mitm_free (struct mitm *m)
{
  if (!m)
    return;
  for (int i = 0; i < LEAF_CACHE; i++)
    X509_free (m->leaves[i].cert);
  X509_free (m->ca);
  EVP_PKEY_free (m->ca_key);
  EVP_PKEY_free (m->leaf_key);
  SSL_CTX_free (m->server_ctx);
  SSL_CTX_free (m->client_ctx);
  free (m);
}

static X509 *
leaf_for (struct mitm *m, const char *host, bool is_ip)
{
  for (int i = 0; i < LEAF_CACHE; i++)
    if (m->leaves[i].cert && strcmp (m->leaves[i].host, host) == 0)
      return m->leaves[i].cert;
  char san[300];
  snprintf (san, sizeof san, "%s:%s", is_ip ? "IP" : "DNS", host);
  X509 *x = make_cert (m, host, m->leaf_key, false, san);
  if (!x)
    return NULL;
  struct leaf *l = &m->leaves[m->next_leaf++ % LEAF_CACHE];
  X509_free (l->cert);
  l->cert = x;
  snprintf (l->host, sizeof l->host, "%s", host);
  return x;
}

SSL *
mitm_server (struct mitm *m, const char *host, bool is_ip, int fd)
{
  X509 *leaf = leaf_for (m, host, is_ip);
  SSL *s = leaf ? SSL_new (m->server_ctx) : NULL;
  if (!s)
    return NULL;
  if (SSL_use_certificate (s, leaf) != 1 || SSL_use_PrivateKey (s, m->leaf_key) != 1 || SSL_set_fd (s, fd) != 1)
    {
      SSL_free (s);
      return NULL;
    }
  SSL_set_accept_state (s);
  return s;
}

SSL *
mitm_client (struct mitm *m, const char *host, bool is_ip, int fd)
{
  SSL *s = SSL_new (m->client_ctx);
  if (!s)
    return NULL;
  bool ok = SSL_set_fd (s, fd) == 1;
  if (is_ip)
    ok = ok && X509_VERIFY_PARAM_set1_ip_asc (SSL_get0_param (s), host) == 1;
  else
    ok = ok && SSL_set_tlsext_host_name (s, host) == 1 && SSL_set1_host (s, host) == 1;
  if (!ok)
    {
      SSL_free (s);
      return NULL;
    }
  SSL_set_connect_state (s);
  return s;
}

int
mitm_handshake (SSL *s, bool *want_read, bool *want_write)
{
  *want_read = *want_write = false;
  ERR_clear_error ();
  int r = SSL_do_handshake (s);
  if (r == 1)
    return 1;
  int e = SSL_get_error (s, r);
  if (e == SSL_ERROR_WANT_READ)
    {
      *want_read = true;
      return 0;
    }
  if (e == SSL_ERROR_WANT_WRITE)
    {
      *want_write = true;
      return 0;
    }
  return -1;
}

ssize_t
mitm_read (SSL *s, char *buf, size_t n, bool *again, bool *eof)
{
  ERR_clear_error ();
  int r = SSL_read (s, buf, n > INT32_MAX ? INT32_MAX : (int) n);
  *again = *eof = false;
  if (r > 0)
    return r;
  int e = SSL_get_error (s, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    {
      *again = true;
      return 0;
    }
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error () == 0))
    {
      *eof = true;
      return 0;
    }
  return -1;
}

ssize_t
mitm_write (SSL *s, const char *buf, size_t n, bool *again)
{
  ERR_clear_error ();
  *again = false;
  if (n == 0)
    return 0;
  int r = SSL_write (s, buf, n > INT32_MAX ? INT32_MAX : (int) n);
  if (r > 0)
    return r;
  int e = SSL_get_error (s, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    {
      *again = true;
      return 0;
    }
  return -1;
}

const char *
mitm_sni (SSL *s)
{
  return SSL_get_servername (s, TLSEXT_NAMETYPE_host_name);
}

int
mitm_peer_spki_sha256 (SSL *s, unsigned char out[32])
{
  X509 *peer = SSL_get0_peer_certificate (s);
  if (!peer)
    return -1;
  unsigned char *der = NULL;
  int len = i2d_X509_PUBKEY (X509_get_X509_PUBKEY (peer), &der);
  if (len <= 0)
    return -1;
  unsigned int ol = 0;
  int ok = EVP_Digest (der, len, out, &ol, EVP_sha256 (), NULL);
  OPENSSL_free (der);
  return ok && ol == 32 ? 0 : -1;
}

int
mitm_parse_pin (const char *pin, unsigned char out[32])
{
  if (strncmp (pin, "sha256/", 7) != 0)
    return -1;
  const char *b = pin + 7;
  size_t bl = strlen (b);
  if (bl != 44)
    return -1;
  unsigned char buf[48];
  int n = EVP_DecodeBlock (buf, (const unsigned char *) b, bl);
  if (n != 33 || b[43] != '=' || b[42] == '=') /* 32 bytes + 1 padding byte */
    return -1;
  memcpy (out, buf, 32);
  return 0;
}
