/* TLS interception: per-run CA, per-host leaf certificates, verified
 * upstream re-origination (SPEC §7). */
#ifndef CAPSULE_PROXY_MITM_H
#define CAPSULE_PROXY_MITM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct mitm;

/* Mint the CA (P-256), write its certificate (PEM) to ca_out if given.
 * upstream_ca: trust anchors for upstream servers (NULL: system store). */
int mitm_new (const char *ca_out, const char *upstream_ca, struct mitm **out, cr_error_t *err);
void mitm_free (struct mitm *m);
/* Server side towards the client, presenting a leaf for host. */
SSL *mitm_server (struct mitm *m, const char *host, bool is_ip, int fd);
/* Client side towards the upstream: verifies the chain and host name. */
SSL *mitm_client (struct mitm *m, const char *host, bool is_ip, int fd);
/* 1 done, 0 in progress (want_read/want_write), -1 failed. */
int mitm_handshake (SSL *s, bool *want_read, bool *want_write);
ssize_t mitm_read (SSL *s, char *buf, size_t n, bool *again, bool *eof);
ssize_t mitm_write (SSL *s, const char *buf, size_t n, bool *again);
const char *mitm_sni (SSL *s);
/* SHA-256 of the upstream certificate's SubjectPublicKeyInfo (DER). */
int mitm_peer_spki_sha256 (SSL *s, unsigned char out[32]);
/* "sha256/BASE64" (44 base64 chars) to 32 bytes; -1 if malformed. */
int mitm_parse_pin (const char *pin, unsigned char out[32]);

#endif
