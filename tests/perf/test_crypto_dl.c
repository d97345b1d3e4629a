/* lib/crypto_dl.c: libcrypto is not mapped until first use, then works. */
#include <stdio.h>
#include <string.h>

#include "../unit/t.h"
#include "lib/crypto_dl.h"

int
main (void)
{
  /* This binary links the runtime library but calls no OpenSSL function directly. */
  T_CHECK (!capsule_crypto_is_mapped (), "libcrypto mapped before first use");
  cr_error_t err = NULL;
  const struct capsule_crypto *c = capsule_crypto (&err);
  T_CHECK (c != NULL, "load: %s", err ? err->msg : "?");
  if (c == NULL)
    return t_done ();
  T_CHECK (capsule_crypto_is_mapped (), "libcrypto not mapped after first use");
  T_CHECK (capsule_crypto (NULL) == c, "second call returns another table");

  /* FIPS 180-2 test vector through the low-level calls audit.c uses. */
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  c->SHA256_Init (&ctx);
  c->SHA256_Update (&ctx, "abc", 3);
  c->SHA256_Final (md, &ctx);
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf (hex + 2 * i, 3, "%02x", md[i]);
  T_STREQ (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  /* And through EVP, as the audit head and leases do. */
  unsigned int ml = 0;
  T_CHECK (c->EVP_Digest ("abc", 3, md, &ml, c->EVP_sha256 (), NULL) == 1 && ml == 32, "EVP_Digest");
  for (int i = 0; i < 32; i++)
    snprintf (hex + 2 * i, 3, "%02x", md[i]);
  T_STREQ (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  EVP_PKEY *k = c->EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
  T_CHECK (k != NULL && c->EVP_PKEY_get_id (k) == EVP_PKEY_ED25519, "Ed25519 keygen");
  if (k)
    c->EVP_PKEY_free (k);
  return t_done ();
}
