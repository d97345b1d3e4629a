/* Policy index: open-addressing hash of (host, wildcard?) -> rule indices. */
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

struct bucket
{
  char *host;    /* NULL = empty slot */
  bool wildcard;
  size_t *idx;   /* rule indices, ascending */
  size_t nidx;
};

struct policy
{
  struct egress_rule *rules;
  size_t n;
  struct bucket *tab;
  size_t tabsz; /* power of two */
  struct policy_cred *creds;
  size_t ncreds;
  struct ppin
  {
    char *host;
    unsigned char spki[32];
  } *pins;
  size_t npins;
};

static uint64_t
hash_host (const char *s, size_t len, bool wild)
{
  uint64_t h = 1469598103934665603ull ^ (wild ? 0x9e3779b97f4a7c15ull : 0);
  for (size_t i = 0; i < len; i++)
    {
      h ^= (unsigned char) s[i];
      h *= 1099511628211ull;
    }
  return h;
}

static struct bucket *
find (const struct policy *p, const char *host, size_t len, bool wild, bool insert)
{
  size_t mask = p->tabsz - 1;
  for (size_t i = hash_host (host, len, wild) & mask;; i = (i + 1) & mask)
    {
      struct bucket *b = &p->tab[i];
      if (b->host == NULL)
        return insert ? b : NULL;
      if (b->wildcard == wild && strlen (b->host) == len && memcmp (b->host, host, len) == 0)
        return b;
    }
}

int
policy_compile (struct egress_rule *rules, size_t n, struct policy **out, cr_error_t *err)
{
  struct policy *p = xmalloc0 (sizeof *p);
  p->rules = rules;
  p->n = n;
  p->tabsz = 16;
  while (p->tabsz < n * 2 + 2)
    p->tabsz *= 2;
  p->tab = calloc (p->tabsz, sizeof *p->tab);
  if (p->tab == NULL)
    {
      policy_free (p);
      return cr_error_errno (err, "compiling egress policy");
    }
  for (size_t i = 0; i < n; i++)
    {
      const struct egress_rule *r = &rules[i];
      bool wild = r->kind == EGRESS_HOST_WILDCARD;
      struct bucket *b = find (p, r->host, strlen (r->host), wild, true);
      if (b->host == NULL)
        {
          b->host = xstrdup (r->host);
          b->wildcard = wild;
        }
      size_t *ni = realloc (b->idx, (b->nidx + 1) * sizeof *ni);
      if (ni == NULL)
        {
          policy_free (p);
          return cr_error_errno (err, "compiling egress policy");
        }
      b->idx = ni;
      b->idx[b->nidx++] = i;
    }
  *out = p;
  return 0;
}

void
policy_free (struct policy *p)
{
  if (!p)
    return;
  for (size_t i = 0; p->tab && i < p->tabsz; i++)
    {
      free (p->tab[i].host);
      free (p->tab[i].idx);
    }
  free (p->tab);
  for (size_t i = 0; i < p->ncreds; i++)
    {
      egress_cred_free (&p->creds[i].c);
      if (p->creds[i].secret)
        explicit_bzero (p->creds[i].secret, strlen (p->creds[i].secret));
      free (p->creds[i].secret);
    }
  free (p->creds);
  for (size_t i = 0; i < p->npins; i++)
    free (p->pins[i].host);
  free (p->pins);
  egress_rules_free (p->rules, p->n);
  free (p);
}

size_t
policy_count (const struct policy *p)
{
  return p ? p->n : 0;
}

const struct egress_rule *
policy_rule (const struct policy *p, size_t i)
{
  return i < p->n ? &p->rules[i] : NULL;
}

/* Walk the candidate buckets: the exact host, then "*.suffix" for every
 * proper suffix.  cb returns true to stop. */
static const struct egress_rule *
scan (const struct policy *p, const char *host, enum egress_host_kind kind, const char *method, int port,
      const char *path, bool host_only)
{
  const struct egress_rule *best = NULL;
  size_t best_i = (size_t) -1;
  size_t hl = strlen (host);
  for (int pass = 0; pass < 2; pass++)
    {
      const char *h = host;
      size_t l = hl;
      while (l > 0)
        {
          bool wild = pass == 1;
          struct bucket *b = NULL;
          if (!wild && h == host)
            b = find (p, h, l, false, false);
          else if (wild && h != host && kind == EGRESS_HOST_NAME)
            b = find (p, h, l, true, false);
          for (size_t k = 0; b && k < b->nidx && b->idx[k] < best_i; k++)
            {
              const struct egress_rule *r = &p->rules[b->idx[k]];
              if (host_only || egress_rule_matches (r, method, host, kind, port, path))
                {
                  best = r;
                  best_i = b->idx[k];
                  break;
                }
            }
          if (!wild)
            break;
          const char *dot = memchr (h, '.', l);
          if (!dot)
            break;
          l -= dot + 1 - h;
          h = dot + 1;
        }
    }
  return best;
}

const struct egress_rule *
policy_lookup (const struct policy *p, const char *method, const char *host, enum egress_host_kind kind, int port,
               const char *path)
{
  return p ? scan (p, host, kind, method, port, path, false) : NULL;
}

const struct egress_rule *
policy_host_rule (const struct policy *p, const char *host, enum egress_host_kind kind)
{
  return p ? scan (p, host, kind, NULL, 0, NULL, true) : NULL;
}

void
policy_set_creds (struct policy *p, struct policy_cred *creds, size_t n)
{
  p->creds = creds;
  p->ncreds = n;
}

size_t
policy_cred_count (const struct policy *p)
{
  return p ? p->ncreds : 0;
}

const struct policy_cred *
policy_cred_lookup (const struct policy *p, const char *method, const char *host, enum egress_host_kind kind, int port,
                    const char *path)
{
  for (size_t i = 0; p && i < p->ncreds; i++)
    if (egress_rule_matches (&p->creds[i].c.rule, method, host, kind, port, path))
      return &p->creds[i];
  return NULL;
}

const struct policy_cred *
policy_cred_by_header (const struct policy *p, const char *name, size_t len)
{
  for (size_t i = 0; p && i < p->ncreds; i++)
    if (strlen (p->creds[i].c.header) == len && strncasecmp (p->creds[i].c.header, name, len) == 0)
      return &p->creds[i];
  return NULL;
}

void
policy_add_pin (struct policy *p, const char *host, const unsigned char spki[32])
{
  struct ppin *n = realloc (p->pins, (p->npins + 1) * sizeof *n);
  if (!n)
    abort ();
  p->pins = n;
  n[p->npins].host = xstrdup (host);
  memcpy (n[p->npins].spki, spki, 32);
  p->npins++;
}

int
policy_pin_check (const struct policy *p, const char *host, const unsigned char spki[32])
{
  int ret = -1;
  for (size_t i = 0; p && i < p->npins; i++)
    if (strcmp (p->pins[i].host, host) == 0)
      {
        if (memcmp (p->pins[i].spki, spki, 32) == 0)
          return 1;
        ret = 0;
      }
  return ret;
}
