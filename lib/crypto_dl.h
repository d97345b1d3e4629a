/* libcrypto, loaded on first use.
 *
 * A plain container never needs OpenSSL (it is for capsule leases and the
 * audit hash chain), and mapping and relocating libcrypto.so.3 costs ~1.5 MiB
 * of RSS and ~1 ms per runtime invocation.  So nothing in lib/ links against
 * it: the few functions used are looked up with dlopen/dlsym the first time
 * one is needed.  The pointers keep OpenSSL's own prototypes (typeof), so a
 * call through them is checked like a direct call.
 *
 *   const struct capsule_crypto *c = capsule_crypto (err);
 *   if (c == NULL) return -1;
 *   c->EVP_PKEY_free (k);
 *
 * A process that links libcrypto itself (capsule-proxy) gets the copy it
 * already has: dlopen of a loaded soname only takes a reference. */
#ifndef CAPSULE_CRYPTO_DL_H
#define CAPSULE_CRYPTO_DL_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "error.h"

#define CAPSULE_LIBCRYPTO_SONAME "libcrypto.so.3"

/* X(name): one entry per function; the struct member has the function's own type. */
#define CAPSULE_CRYPTO_FUNCS(X)                                                                                      \
  X (ERR_get_error)                                                                                                  \
  X (ERR_error_string_n)                                                                                             \
  X (ERR_clear_error)                                                                                                \
  X (PEM_read_PrivateKey)                                                                                            \
  X (PEM_read_PUBKEY)                                                                                                \
  X (PEM_write_PrivateKey)                                                                                           \
  X (PEM_write_PUBKEY)                                                                                               \
  X (EVP_PKEY_get_id)                                                                                                \
  X (EVP_PKEY_free)                                                                                                  \
  X (EVP_PKEY_Q_keygen)                                                                                              \
  X (EVP_MD_CTX_new)                                                                                                 \
  X (EVP_MD_CTX_free)                                                                                                \
  X (EVP_DigestSignInit)                                                                                             \
  X (EVP_DigestSign)                                                                                                 \
  X (EVP_DigestVerifyInit)                                                                                           \
  X (EVP_DigestVerify)                                                                                               \
  X (EVP_Digest)                                                                                                     \
  X (EVP_sha256)                                                                                                     \
  X (HMAC)                                                                                                           \
  X (CRYPTO_memcmp)                                                                                                  \
  X (SHA256_Init)                                                                                                    \
  X (SHA256_Update)                                                                                                  \
  X (SHA256_Final)

/* SHA256_Init & co. are deprecated in OpenSSL 3 but kept on purpose (see
 * audit.c: the low-level one-shot touches far less of libcrypto than EVP). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct capsule_crypto
{
#define CAPSULE_CRYPTO_MEMBER(f) typeof (&f) f;
  CAPSULE_CRYPTO_FUNCS (CAPSULE_CRYPTO_MEMBER)
#undef CAPSULE_CRYPTO_MEMBER
};
#pragma GCC diagnostic pop

/* The table, loading libcrypto on the first call (thread-safe); NULL with
 * *err set ("load libcrypto.so.3: ...") if it or a symbol is missing. */
const struct capsule_crypto *capsule_crypto (cr_error_t *err);

/* For tests: is libcrypto mapped into this process right now? */
int capsule_crypto_is_mapped (void);

#endif
