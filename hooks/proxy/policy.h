/* Compiled egress policy: rules indexed by host so a lookup costs one hash
 * probe per label of the request host, not one test per rule. */
#ifndef CAPSULE_PROXY_POLICY_H
#define CAPSULE_PROXY_POLICY_H

#include "egress_rule.h"

struct policy;

/* Takes ownership of rules[0..n) (the array too). */
int policy_compile (struct egress_rule *rules, size_t n, struct policy **out, cr_error_t *err);
void policy_free (struct policy *p);
size_t policy_count (const struct policy *p);
const struct egress_rule *policy_rule (const struct policy *p, size_t i);

/* First (lowest index) rule that allows the request, or NULL.  host/path
 * normalised; method/path NULL for a tunnel (see egress_rule_matches). */
const struct egress_rule *policy_lookup (const struct policy *p, const char *method, const char *host,
                                         enum egress_host_kind kind, int port, const char *path);
/* Does any rule name this host (for DNS answers)?  Returns that rule or NULL. */
const struct egress_rule *policy_host_rule (const struct policy *p, const char *host, enum egress_host_kind kind);

/* Credentials injected into matching requests (capsule/credentials). */
struct policy_cred
{
  struct egress_cred c;
  char *secret; /* header value */
};
/* Takes ownership of creds[0..n) and the array. */
void policy_set_creds (struct policy *p, struct policy_cred *creds, size_t n);
size_t policy_cred_count (const struct policy *p);
/* First credential whose rule matches the request, or NULL. */
const struct policy_cred *policy_cred_lookup (const struct policy *p, const char *method, const char *host,
                                              enum egress_host_kind kind, int port, const char *path);
/* Is any credential header named name (len bytes)?  Sets *secret to its value for redaction. */
const struct policy_cred *policy_cred_by_header (const struct policy *p, const char *name, size_t len);

/* SPKI pins for re-originated TLS (capsule/egress.tls-pin). */
void policy_add_pin (struct policy *p, const char *host, const unsigned char spki[32]);
/* -1: host has no pins; 1: spki matches one; 0: pinned and no match. */
int policy_pin_check (const struct policy *p, const char *host, const unsigned char spki[32]);

#endif
