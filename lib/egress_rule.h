/* The capsule/egress.allow rule grammar (SPEC §4):
 *
 *     [METHODS ]host[:port][/path-glob]
 *
 * METHODS is a comma list of upper-case tokens or "*" (no METHODS = any);
 * host is a DNS name (A-labels only, compared case-insensitively, trailing
 * dot dropped), "*.suffix" (one or more labels below suffix), an IPv4
 * literal or a bracketed IPv6 literal; no port = 80 and 443; in the glob "*"
 * does not cross "/" and "**" does.  Credentials reuse the shape after
 * "name@" and before "=Header" (see egress_cred_parse).
 *
 * The same normalisation is applied to request hosts and paths
 * (egress_host_normalize, egress_path_normalize) so that IP-literal
 * spellings, percent-encoding and dot segments cannot bypass a rule. */
#ifndef CAPSULE_EGRESS_RULE_H
#define CAPSULE_EGRESS_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#define EGRESS_HOST_MAX 256
#define EGRESS_PATH_MAX 8192

enum egress_host_kind
{
  EGRESS_HOST_NAME,     /* DNS name */
  EGRESS_HOST_WILDCARD, /* "*.suffix": host holds "suffix" */
  EGRESS_HOST_IPV4,     /* host holds canonical dotted quad */
  EGRESS_HOST_IPV6,     /* host holds canonical inet_ntop text, no brackets */
};

struct egress_rule
{
  char *text;        /* the rule as written (trimmed), for audit lines */
  char *methods;     /* NULL = any; else ",GET,POST," (for ",M," lookups) */
  char *host;        /* normalised, see kind */
  enum egress_host_kind kind;
  int port;          /* 0 = default ports 80 and 443 */
  char *path_glob;   /* NULL = any path; else starts with '/' */
  bool trusted;      /* operator rule (command line / node policy): hostnames may resolve to private ranges */
};

/* Parse one rule.  Errors name the rule and the bad part. */
int egress_rule_parse (const char *text, struct egress_rule *out, cr_error_t *err);
/* Parse a ';'-separated list (empty items are ignored).  *out is a malloc'd array. */
int egress_rules_parse_list (const char *list, struct egress_rule **out, size_t *n, cr_error_t *err);
void egress_rule_free (struct egress_rule *r);
void egress_rules_free (struct egress_rule *rules, size_t n);

/* Credential rule "name@RULE=Header".  name: [A-Za-z0-9_.-]+, Header: token. */
struct egress_cred
{
  char *name;
  char *header;
  struct egress_rule rule;
};
int egress_cred_parse (const char *text, struct egress_cred *out, cr_error_t *err);
void egress_cred_free (struct egress_cred *c);

/* Normalise a request host (no brackets needed for IPv6 but accepted):
 * lower-case, trailing dot dropped, IPv4 in any inet_aton spelling
 * (0x7f.1, 2130706433, 0177.0.0.1) made canonical, IPv6 canonicalised,
 * IPv4-mapped IPv6 turned into IPv4.  Non-ASCII or otherwise invalid names
 * fail (-1).  On success returns the kind. */
int egress_host_normalize (const char *in, size_t len, char *out, size_t outsz, enum egress_host_kind *kind);

/* Normalise a request path (the part before '?'): percent-decode the
 * unreserved characters, upper-case the other %XX, resolve "." and ".."
 * segments (RFC 3986 5.2.4; duplicate slashes kept).  Fails (-1) on an
 * invalid %-escape, a control/space/non-ASCII byte, or not starting with '/'. */
int egress_path_normalize (const char *in, size_t len, char *out, size_t outsz);

/* Glob match: '*' does not cross '/', '**' does. */
bool egress_glob_match (const char *glob, const char *path);

/* Does the rule allow this request?  host must be normalised and of kind
 * hkind, path normalised (NULL for CONNECT/tunnels: only rules without a path
 * glob match then).  method NULL = tunnel: the rule must allow any method or
 * name CONNECT. */
bool egress_rule_matches (const struct egress_rule *r, const char *method, const char *host,
                          enum egress_host_kind hkind, int port, const char *path);
/* Host part only (name, wildcard suffix or IP literal equality). */
bool egress_rule_host_matches (const struct egress_rule *r, const char *host, enum egress_host_kind hkind);

/* SSRF ranges: loopback, link-local, private (RFC 1918, ULA, CGNAT),
 * multicast, unspecified, reserved/broadcast, metadata (169.254.169.254,
 * fd00:ec2::254).  IPv4-mapped IPv6 is checked as IPv4. */
bool egress_addr_is_private (const struct sockaddr *sa);
/* Same for a textual literal (either family); false if not a literal. */
bool egress_ip_text_is_private (const char *ip);
/* True when the rule's host is an IP literal in one of those ranges
 * (admission refuses such annotation rules unless the node policy's
 * egress.allow_private covers them). */
bool egress_rule_names_private_ip (const struct egress_rule *r);
/* A network: "10.0.0.0/8", "::1/128", or an address alone (a host). */
struct cidr { int family; unsigned char addr[16]; int prefix; };
/* 0, or -1 when s is not an address with an optional /prefix in range. */
int egress_cidr_parse (const char *s, struct cidr *out);
/* Is addr (4 or 16 bytes of family) inside c? */
bool egress_cidr_contains (const struct cidr *c, int family, const void *addr);
/* Is the literal ip (either family) inside cidr? 1/0, -1 on a bad cidr. */
int egress_ip_in_cidr (const char *ip, const char *cidr);

#endif
