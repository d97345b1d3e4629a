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

#endif
