/* The proxy's own name resolution: dns.pin answers, else getaddrinfo once
 * per name (at start for the rules' names, on first use for *.suffix
 * names), cached for the run so the addresses that were checked are the
 * ones dialled (no rebinding). */
#ifndef CAPSULE_PROXY_RESOLVE_H
#define CAPSULE_PROXY_RESOLVE_H

#include <sys/socket.h>

#include "egress_rule.h"

#define RESOLVE_MAX_ADDRS 8

struct resolve_addrs
{
  int n;
  struct sockaddr_storage a[RESOLVE_MAX_ADDRS];
};

struct resolver;

struct resolver *resolver_new (void);
void resolver_free (struct resolver *r);
/* "host=ip[,ip]" (capsule/dns.pin item). */
int resolver_pin (struct resolver *r, const char *spec, cr_error_t *err);
/* Resolve many names concurrently, waiting at most timeout_ms in total. */
void resolver_prefetch (struct resolver *r, const char *const *hosts, size_t n, int timeout_ms);
/* Addresses of a normalised host (IP literals resolve to themselves).  0 ok
 * (n may be 0: no address), -1 resolution failed. */
int resolver_get (struct resolver *r, const char *host, enum egress_host_kind kind, struct resolve_addrs *out);
/* Is sa (port ignored) one of host's resolved addresses? */
int resolver_has_addr (struct resolver *r, const char *host, enum egress_host_kind kind, const struct sockaddr *sa);
/* Set the port in every address. */
void resolve_set_port (struct resolve_addrs *a, int port);
/* "ip:port" / "[ip]:port" text of an address. */
void resolve_addr_text (const struct sockaddr *sa, char *out, size_t outsz);

#endif
