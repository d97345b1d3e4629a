/* Brokered capability rules (SPEC §4 `capsule/capability.NAME`, §7):
 *
 *     METHOD host[:port][/path-glob] [rate=N/PERIOD] [confirm=always|new:FIELD]
 *
 * METHOD is one upper-case token, a comma list of them, or "*"; host, port
 * and glob have the capsule/egress.allow semantics (lib/egress_rule.h: "*"
 * in the glob does not cross "/", "**" does).  Options are separated by
 * blanks, each at most once, in any order.
 *
 * PERIOD is a count and a unit, the count optional: "s", "m", "h", "d" mean
 * one second/minute/hour/day; "10m", "1h", "7d" the multiple.  So
 * "rate=100/h" and "rate=100/1h" are the same: at most 100 requests per
 * window of one hour (the window starts at the first counted request).
 * N is 1..1000000000, the period 1 s..366 d.
 *
 * confirm=always holds every matching request for an operator's approval;
 * confirm=new:FIELD only a request whose JSON body has a value of FIELD (a
 * top-level key, or a dotted path "a.b" into nested objects) that was not
 * approved before for this capsule.  FIELD is 1..128 of [A-Za-z0-9_.-]. */
#ifndef CAPSULE_CAPABILITY_RULE_H
#define CAPSULE_CAPABILITY_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "egress_rule.h"
#include "error.h"

enum capability_confirm
{
  CAPABILITY_CONFIRM_NONE,
  CAPABILITY_CONFIRM_ALWAYS,
  CAPABILITY_CONFIRM_NEW, /* ask for a FIELD value not approved before */
};

struct capability_rule
{
  char *name;             /* NAME of capsule/capability.NAME */
  char *value;            /* the annotation value, trimmed */
  struct egress_rule rule; /* method(s), host, port, glob; rule.text is "capability.NAME" */
  uint64_t rate_n;        /* 0 = no rate limit */
  uint64_t rate_period_s;
  enum capability_confirm confirm;
  char *confirm_field;    /* CAPABILITY_CONFIRM_NEW only */
};

/* Is NAME a valid capability name (1..64 of [A-Za-z0-9_-])? */
bool capability_name_valid (const char *name);

/* Parse one annotation value.  Errors name the key
 * (capsule/capability.NAME), the value and the bad part. */
int capability_rule_parse (const char *name, const char *value, struct capability_rule *out, cr_error_t *err);
void capability_rule_free (struct capability_rule *r);

/* PERIOD as above to seconds; -1 if invalid. */
int capability_period_parse (const char *s, uint64_t *seconds);

/* Does the request (normalised host/path, see egress_rule_matches) fall
 * under this capability? */
bool capability_rule_matches (const struct capability_rule *r, const char *method, const char *host,
                              enum egress_host_kind kind, int port, const char *path);

#endif
