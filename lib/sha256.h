/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), self-contained.
 *
 * The audit hash chain and its signed head need only these two, and loading
 * libcrypto for them costs a capsule `run` ~2.5 ms (dlopen + relocation,
 * then EVP's provider set-up for HMAC).  Lease signatures (Ed25519) still
 * go through lib/crypto_dl.h. */
#ifndef CAPSULE_SHA256_H
#define CAPSULE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CAPSULE_SHA256_LEN 32
#define CAPSULE_SHA256_BLOCK 64

struct capsule_sha256
{
  uint32_t h[8];
  uint64_t bytes; /* message length so far */
  unsigned char buf[CAPSULE_SHA256_BLOCK];
  size_t used; /* bytes waiting in buf */
};

void capsule_sha256_init (struct capsule_sha256 *s);
void capsule_sha256_update (struct capsule_sha256 *s, const void *data, size_t len);
void capsule_sha256_final (struct capsule_sha256 *s, unsigned char out[CAPSULE_SHA256_LEN]);
/* One shot. */
void capsule_sha256 (const void *data, size_t len, unsigned char out[CAPSULE_SHA256_LEN]);
/* HMAC-SHA256 with a key of any length. */
void capsule_hmac_sha256 (const void *key, size_t key_len, const void *msg, size_t msg_len,
                          unsigned char out[CAPSULE_SHA256_LEN]);
/* Which block function this process uses: "sha-ni" (x86 SHA extensions)
 * or "portable"; CAPSULE_SHA256_PORTABLE=1 in the environment forces the latter. */
const char *capsule_sha256_impl (void);
/* Constant-time comparison: 0 when equal. */
int capsule_memeq_ct (const void *a, const void *b, size_t n);

#endif
