/* Run leases (SPEC §7): a token signed by the control plane with Ed25519
 * that lets one agent run: agent, version, session, allowed profile and a
 * validity window.
 *
 * Token format (ASCII, fits an annotation value):
 *
 *     base64url(payload) "." base64url(signature)
 *
 * without padding, where payload is the JSON object
 *
 *     {"v":1,"agent":"A","version":"V","session":"S","profile":"P","nbf":N,"exp":N}
 *
 * (nbf/exp in seconds since the epoch; a lease is valid for nbf <= now < exp)
 * and signature is the 64-byte Ed25519 signature of the base64url payload
 * text (the bytes before the dot).  Keys are PEM files (PKCS#8 private key,
 * SubjectPublicKeyInfo public key), as `openssl genpkey -algorithm ed25519`
 * and `capsule-runc lease keygen` write them. */
#ifndef CAPSULE_LEASE_H
#define CAPSULE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct capsule_lease
{
  char *agent, *version, *session, *profile;
  int64_t nbf, exp;
};

int capsule_lease_issue (const char *private_key_pem, const struct capsule_lease *l, char **token, cr_error_t *err);
/* Signature, format and window (at time now).  Fills *out on success. */
int capsule_lease_verify (const char *token, const char *public_key_pem, int64_t now, struct capsule_lease *out,
                          cr_error_t *err);
void capsule_lease_release (struct capsule_lease *l);
/* Write a fresh key pair (private file mode 0600). */
int capsule_lease_keygen (const char *private_key_pem, const char *public_key_pem, cr_error_t *err);

/* base64url without padding; decode returns -1 on bad input. */
char *capsule_b64url_encode (const unsigned char *data, size_t len);
int capsule_b64url_decode (const char *s, size_t slen, unsigned char **out, size_t *out_len);

#endif
