/* Peek the server name out of a TLS ClientHello (transparent listener). */
#ifndef CAPSULE_PROXY_TLS_SNI_H
#define CAPSULE_PROXY_TLS_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* buf holds the first bytes of the connection.  Returns 1 with the SNI host
 * name in out (and *ech set if an encrypted_client_hello extension is
 * present), 0 if more bytes are needed, -1 if it is not a well-formed
 * ClientHello with a host_name SNI. */
int tls_sni_parse (const uint8_t *buf, size_t len, char *out, size_t outsz, bool *ech);

#endif
