/* The proxy's own name resolution: dns.pin answers, else getaddrinfo once
 * per name (at start for the rules' names, on first use for *.suffix
 * names), cached for the run so the addresses that were checked are the
 * ones dialled (no rebinding). */
#ifndef CAPSULE_PROXY_RESOLVE_H
#define CAPSULE_PROXY_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
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
/* Resolved names are looked up again at their DNS TTL (clamped), or after
 * RESOLVE_REFRESH_MS when the answer came without one (hosts file,
 * getaddrinfo); failures are retried after RESOLVE_NEGATIVE_MS. */
#define RESOLVE_REFRESH_MS 60000
#define RESOLVE_MIN_TTL_MS 1000
#define RESOLVE_MAX_TTL_MS 3600000
#define RESOLVE_NEGATIVE_MS 10000

/* Start the background worker: from then on nothing blocks the caller.
 * Its results are collected by resolver_collect when resolver_event_fd()
 * becomes readable. */
int resolver_start_async (struct resolver *r, cr_error_t *err);
int resolver_event_fd (const struct resolver *r);
/* Store the finished lookups; returns how many. */
int resolver_collect (struct resolver *r);
/* Make sure a name's addresses are (being) known: 0 = usable now (cached,
 * pinned, stale-but-refreshing, or known to fail), 1 = a lookup is under
 * way: wait for resolver_collect.  Without the worker it blocks. */
int resolver_kick (struct resolver *r, const char *host, enum egress_host_kind kind);
/* Resolve many names concurrently, waiting at most timeout_ms in total. */
void resolver_prefetch (struct resolver *r, const char *const *hosts, size_t n, int timeout_ms);
/* Register names without looking them up: resolver_start_async queues a
 * background lookup for every registered name that has no answer yet. */
void resolver_want (struct resolver *r, const char *const *hosts, size_t n);
/* Copy old's answers (not its pins) for names r has not pinned, so a reload
 * keeps serving what was resolved before; call before resolver_start_async. */
void resolver_adopt (struct resolver *r, const struct resolver *old);
/* Addresses of a normalised host (IP literals resolve to themselves).  0 ok
 * (n may be 0: no address), -1 resolution failed (or, with the worker,
 * not known yet: call resolver_kick first). */
int resolver_get (struct resolver *r, const char *host, enum egress_host_kind kind, struct resolve_addrs *out);
/* Is sa (port ignored) one of host's resolved addresses? */
int resolver_has_addr (struct resolver *r, const char *host, enum egress_host_kind kind, const struct sockaddr *sa);
/* "host:port" / "[v6]:port" (the egress gateway): IP literal, else the name
 * resolved now (blocking: called once at start) unless !resolve_names
 * (syntax check only; out->n is then 0 for a name).  Ports are set. */
int resolve_hostport (const char *spec, struct resolve_addrs *out, bool resolve_names, cr_error_t *err);
/* Set the port in every address. */
void resolve_set_port (struct resolve_addrs *a, int port);
/* "ip:port" / "[ip]:port" text of an address. */
void resolve_addr_text (const struct sockaddr *sa, char *out, size_t outsz);

#endif
