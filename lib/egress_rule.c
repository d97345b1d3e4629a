/* Rule grammar parser, host/path normalisation and matcher (SPEC §4). */
#include "egress_rule.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static bool
is_tchar (int c)
{
  return isalnum (c) || (c && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_unreserved (int c)
{
  return isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* A DNS name: labels of [a-z0-9_-], 1..63 chars, no leading/trailing '-'. */
static bool
valid_dns_name (const char *s)
{
  size_t total = strlen (s);
  if (total == 0 || total > 253)
    return false;
  const char *p = s;
  while (*p)
    {
      const char *dot = strchr (p, '.');
      size_t l = dot ? (size_t) (dot - p) : strlen (p);
      if (l == 0 || l > 63 || p[0] == '-' || p[l - 1] == '-')
        return false;
      for (size_t i = 0; i < l; i++)
        if (!(isalnum ((unsigned char) p[i]) || p[i] == '-' || p[i] == '_'))
          return false;
      if (!dot)
        break;
      p = dot + 1;
    }
  return true;
}

static bool
all_numeric_ish (const char *s)
{
  /* Candidate for an IPv4 spelling (decimal/octal/hex parts). */
  for (; *s; s++)
    if (!(isxdigit ((unsigned char) *s) || *s == '.' || *s == 'x' || *s == 'X'))
      return false;
  return true;
}

int
egress_host_normalize (const char *in, size_t len, char *out, size_t outsz, enum egress_host_kind *kind)
{
  char buf[EGRESS_HOST_MAX];
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy (buf, in, len);
  buf[len] = '\0';
  if (memchr (in, '\0', len))
    return -1;

  char *h = buf;
  if (h[0] == '[')
    {
      if (h[len - 1] != ']')
        return -1;
      h[len - 1] = '\0';
      h++;
      if (!strchr (h, ':'))
        return -1;
    }
  if (strchr (h, ':'))
    {
      struct in6_addr a6;
      if (strchr (h, '%') || inet_pton (AF_INET6, h, &a6) != 1)
        return -1;
      if (IN6_IS_ADDR_V4MAPPED (&a6))
        {
          struct in_addr a4;
          memcpy (&a4, &a6.s6_addr[12], 4);
          if (!inet_ntop (AF_INET, &a4, out, outsz))
            return -1;
          *kind = EGRESS_HOST_IPV4;
          return 0;
        }
      if (!inet_ntop (AF_INET6, &a6, out, outsz))
        return -1;
      *kind = EGRESS_HOST_IPV6;
      return 0;
    }

  for (char *p = h; *p; p++)
    {
      if ((unsigned char) *p >= 0x80 || *p <= ' ')
        return -1; /* no IDNA library: rules and requests must use A-labels */
      *p = tolower ((unsigned char) *p);
    }
  size_t l = strlen (h);
  if (l > 0 && h[l - 1] == '.')
    h[--l] = '\0';
  if (l == 0)
    return -1;

  struct in_addr a4;
  if (all_numeric_ish (h) && inet_aton (h, &a4))
    {
      if (!inet_ntop (AF_INET, &a4, out, outsz))
        return -1;
      *kind = EGRESS_HOST_IPV4;
      return 0;
    }
  /* A name whose last label is all digits is an (invalid) IPv4 spelling, not a name. */
  const char *last = strrchr (h, '.');
  last = last ? last + 1 : h;
  if (strspn (last, "0123456789") == strlen (last))
    return -1;
  if (!valid_dns_name (h) || l + 1 > outsz)
    return -1;
  memcpy (out, h, l + 1);
  *kind = EGRESS_HOST_NAME;
  return 0;
}

int
egress_path_normalize (const char *in, size_t len, char *out, size_t outsz)
{
  if (len == 0 || in[0] != '/' || outsz < 2)
    return -1;
  /* Pass 1: percent handling into tmp. */
  cleanup_free char *tmp = malloc (len + 1);
  if (tmp == NULL)
    return -1;
  size_t t = 0;
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = in[i];
      if (c <= ' ' || c >= 0x7f)
        return -1;
      if (c == '%')
        {
          if (i + 2 >= len)
            return -1;
          int h1 = hexval (in[i + 1]), h2 = hexval (in[i + 2]);
          if (h1 < 0 || h2 < 0)
            return -1;
          int v = h1 * 16 + h2;
          if (is_unreserved (v))
            tmp[t++] = v;
          else
            {
              tmp[t++] = '%';
              tmp[t++] = "0123456789ABCDEF"[h1];
              tmp[t++] = "0123456789ABCDEF"[h2];
            }
          i += 2;
          continue;
        }
      tmp[t++] = c;
    }
  tmp[t] = '\0';

  /* Pass 2: remove_dot_segments over '/'-separated segments; empty
   * segments (duplicate slashes) are kept. */
  size_t o = 0;
  const char *p = tmp;
  while (*p)
    {
      /* p points at '/' */
      const char *seg = p + 1;
      const char *end = strchr (seg, '/');
      size_t sl = end ? (size_t) (end - seg) : strlen (seg);
      if (sl == 1 && seg[0] == '.')
        {
          if (!end)
            {
              if (o + 1 >= outsz)
                return -1;
              out[o++] = '/';
            }
        }
      else if (sl == 2 && seg[0] == '.' && seg[1] == '.')
        {
          while (o > 0 && out[o - 1] != '/')
            o--;
          if (o > 0)
            o--; /* drop the '/' that led to the removed segment */
          if (!end)
            {
              if (o + 1 >= outsz)
                return -1;
              out[o++] = '/';
            }
        }
      else
        {
          if (o + 1 + sl >= outsz)
            return -1;
          out[o++] = '/';
          memcpy (out + o, seg, sl);
          o += sl;
        }
      if (!end)
        break;
      p = end;
    }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  return 0;
}

bool
egress_glob_match (const char *g, const char *s)
{
  /* Iterative matcher with backtracking for '*' (no '/') and '**' (any). */
  while (*g)
    {
      if (g[0] == '*' && g[1] == '*')
        {
          g += 2;
          while (*g == '*')
            g++;
          if (!*g)
            return true;
          for (const char *q = s; *q; q++)
            if (egress_glob_match (g, q))
              return true;
          return false;
        }
      if (g[0] == '*')
        {
          g++;
          if (!*g)
            return strchr (s, '/') == NULL;
          for (const char *q = s;; q++)
            {
              if (egress_glob_match (g, q))
                return true;
              if (!*q || *q == '/')
                return false;
            }
        }
      if (*s != *g)
        return false;
      s++;
      g++;
    }
  return *s == '\0';
}

void
egress_rule_free (struct egress_rule *r)
{
  if (r == NULL)
    return;
  free (r->text);
  free (r->methods);
  free (r->host);
  free (r->path_glob);
  memset (r, 0, sizeof *r);
}

void
egress_rules_free (struct egress_rule *rules, size_t n)
{
  for (size_t i = 0; i < n; i++)
    egress_rule_free (&rules[i]);
  free (rules);
}

static char *
trim_dup (const char *s, size_t n)
{
  while (n && isspace ((unsigned char) *s))
    s++, n--;
  while (n && isspace ((unsigned char) s[n - 1]))
    n--;
  return strndup (s, n);
}

static int
parse_methods (const char *rule, const char *m, size_t n, char **out, cr_error_t *err)
{
  if (n == 1 && m[0] == '*')
    {
      *out = NULL;
      return 0;
    }
  cleanup_free char *canon = malloc (n + 3);
  if (canon == NULL)
    return cr_error_errno (err, "parsing egress rule `%s`", rule);
  size_t o = 0;
  canon[o++] = ',';
  size_t i = 0;
  while (i < n)
    {
      size_t j = i;
      while (j < n && m[j] != ',')
        j++;
      if (j == i || j - i > 16)
        return cr_error (err, 0, "egress rule `%s`: bad method list `%.*s`", rule, (int) n, m);
      for (size_t k = i; k < j; k++)
        if (!(isupper ((unsigned char) m[k]) || m[k] == '-' || m[k] == '_'))
          return cr_error (err, 0, "egress rule `%s`: bad method `%.*s` (upper-case token expected)", rule,
                           (int) (j - i), m + i);
      memcpy (canon + o, m + i, j - i);
      o += j - i;
      canon[o++] = ',';
      i = j + 1;
      if (j + 1 == n && m[j] == ',')
        return cr_error (err, 0, "egress rule `%s`: trailing ',' in methods", rule);
    }
  canon[o] = '\0';
  *out = steal_pointer (&canon);
  return 0;
}

int
egress_rule_parse (const char *text, struct egress_rule *out, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  cleanup_free char *r = trim_dup (text, strlen (text));
  if (r == NULL)
    return cr_error_errno (err, "parsing egress rule");
  if (*r == '\0')
    return cr_error (err, 0, "empty egress rule");
  for (const char *p = r; *p; p++)
    if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
      return cr_error (err, 0, "egress rule `%s`: control or non-ASCII character (use A-labels for IDN hosts)", r);

  struct egress_rule res = { 0 };
  const char *p = r;
  const char *sp = strpbrk (r, " \t");
  if (sp)
    {
      if (parse_methods (r, r, sp - r, &res.methods, err) < 0)
        return -1;
      p = sp;
      while (*p == ' ' || *p == '\t')
        p++;
      if (strpbrk (p, " \t"))
        {
          free (res.methods);
          return cr_error (err, 0, "egress rule `%s`: unexpected space in `%s`", r, p);
        }
    }

  /* host[:port][/glob] */
  const char *slash = strchr (p, '/');
  const char *hp_end = slash ? slash : p + strlen (p);
  const char *host_s = p, *host_e, *port_s = NULL;
  if (*p == '[')
    {
      const char *rb = memchr (p, ']', hp_end - p);
      if (!rb)
        goto bad_host;
      host_e = rb + 1;
      if (host_e < hp_end)
        {
          if (*host_e != ':')
            goto bad_host;
          port_s = host_e + 1;
        }
    }
  else
    {
      const char *colon = memchr (p, ':', hp_end - p);
      host_e = colon ? colon : hp_end;
      if (colon)
        port_s = colon + 1;
    }
  if (memchr (host_s, '@', hp_end - host_s))
    {
      egress_rule_free (&res);
      return cr_error (err, 0, "egress rule `%s`: userinfo ('@') is not allowed in a host", r);
    }

  if (port_s)
    {
      size_t pl = hp_end - port_s;
      if (pl == 0 || pl > 5 || strspn (port_s, "0123456789") < pl)
        {
          egress_rule_free (&res);
          return cr_error (err, 0, "egress rule `%s`: bad port `%.*s`", r, (int) pl, port_s);
        }
      res.port = atoi (port_s);
      if (res.port < 1 || res.port > 65535)
        {
          egress_rule_free (&res);
          return cr_error (err, 0, "egress rule `%s`: port %d out of range", r, res.port);
        }
    }

  {
    char hbuf[EGRESS_HOST_MAX];
    const char *hs = host_s;
    size_t hl = host_e - host_s;
    bool wild = hl > 2 && hs[0] == '*' && hs[1] == '.';
    if (wild)
      hs += 2, hl -= 2;
    enum egress_host_kind kind;
    if (egress_host_normalize (hs, hl, hbuf, sizeof hbuf, &kind) < 0)
      goto bad_host;
    if (wild)
      {
        if (kind != EGRESS_HOST_NAME)
          goto bad_host;
        kind = EGRESS_HOST_WILDCARD;
      }
    res.kind = kind;
    res.host = strdup (hbuf);
  }

  if (slash)
    {
      char pbuf[EGRESS_PATH_MAX];
      if (strchr (slash, '?') || strchr (slash, '#'))
        {
          egress_rule_free (&res);
          return cr_error (err, 0, "egress rule `%s`: path glob must not contain a query or fragment", r);
        }
      /* Normalise the literal parts the way request paths are normalised. */
      if (egress_path_normalize (slash, strlen (slash), pbuf, sizeof pbuf) < 0)
        {
          egress_rule_free (&res);
          return cr_error (err, 0, "egress rule `%s`: bad path glob `%s`", r, slash);
        }
      res.path_glob = strdup (pbuf);
    }
  res.text = steal_pointer (&r);
  *out = res;
  return 0;

bad_host:
  {
    int ret = cr_error (err, 0, "egress rule `%s`: bad host `%.*s`", r, (int) (hp_end - host_s), host_s);
    egress_rule_free (&res);
    return ret;
  }
}

int
egress_rules_parse_list (const char *list, struct egress_rule **out, size_t *n, cr_error_t *err)
{
  *out = NULL;
  *n = 0;
  size_t cap = 0, cnt = 0;
  struct egress_rule *v = NULL;
  const char *p = list;
  while (p && *p)
    {
      const char *semi = strchr (p, ';');
      size_t l = semi ? (size_t) (semi - p) : strlen (p);
      cleanup_free char *item = trim_dup (p, l);
      p = semi ? semi + 1 : NULL;
      if (item == NULL || *item == '\0')
        continue;
      if (cnt == cap)
        {
          cap = cap ? cap * 2 : 8;
          struct egress_rule *nv = realloc (v, cap * sizeof *v);
          if (nv == NULL)
            {
              egress_rules_free (v, cnt);
              return cr_error_errno (err, "parsing egress rules");
            }
          v = nv;
        }
      if (egress_rule_parse (item, &v[cnt], err) < 0)
        {
          egress_rules_free (v, cnt);
          return -1;
        }
      cnt++;
    }
  *out = v;
  *n = cnt;
  return 0;
}

int
egress_cred_parse (const char *text, struct egress_cred *out, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  const char *at = strchr (text, '@');
  const char *eq = strrchr (text, '=');
  if (!at || !eq || eq < at)
    return cr_error (err, 0, "credential rule `%s`: expected name@RULE=Header", text);
  cleanup_free char *name = trim_dup (text, at - text);
  cleanup_free char *header = trim_dup (eq + 1, strlen (eq + 1));
  cleanup_free char *rule = strndup (at + 1, eq - at - 1);
  if (!name || !header || !rule)
    return cr_error_errno (err, "parsing credential rule");
  if (*name == '\0' || strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen (name))
    return cr_error (err, 0, "credential rule `%s`: bad secret name `%s`", text, name);
  if (*header == '\0')
    return cr_error (err, 0, "credential rule `%s`: empty header name", text);
  for (const char *h = header; *h; h++)
    if (!is_tchar ((unsigned char) *h))
      return cr_error (err, 0, "credential rule `%s`: bad header name `%s`", text, header);
  if (egress_rule_parse (rule, &out->rule, err) < 0)
    return cr_error_wrap (err, "credential rule `%s`", text);
  out->name = steal_pointer (&name);
  out->header = steal_pointer (&header);
  return 0;
}

void
egress_cred_free (struct egress_cred *c)
{
  if (!c)
    return;
  free (c->name);
  free (c->header);
  egress_rule_free (&c->rule);
}

bool
egress_rule_host_matches (const struct egress_rule *r, const char *host, enum egress_host_kind hkind)
{
  if (r->kind == EGRESS_HOST_WILDCARD)
    {
      if (hkind != EGRESS_HOST_NAME)
        return false;
      size_t hl = strlen (host), sl = strlen (r->host);
      return hl > sl + 1 && host[hl - sl - 1] == '.' && strcmp (host + hl - sl, r->host) == 0;
    }
  return r->kind == hkind && strcmp (r->host, host) == 0;
}

bool
egress_rule_matches (const struct egress_rule *r, const char *method, const char *host,
                     enum egress_host_kind hkind, int port, const char *path)
{
  if (!egress_rule_host_matches (r, host, hkind))
    return false;
  if (r->port ? r->port != port : (port != 80 && port != 443))
    return false;
  if (method == NULL || path == NULL)
    {
      /* A tunnel carries any method and path: only unrestricted rules. */
      if (r->path_glob)
        return false;
      if (r->methods && !strstr (r->methods, ",CONNECT,"))
        return false;
      return true;
    }
  if (r->methods)
    {
      char key[32];
      if (strlen (method) > 20)
        return false;
      snprintf (key, sizeof key, ",%s,", method);
      if (!strstr (r->methods, key))
        return false;
    }
  if (r->path_glob && !egress_glob_match (r->path_glob, path))
    return false;
  return true;
}

static bool
v4_private (uint32_t a)
{
  static const struct
  {
    uint32_t net;
    int bits;
  } ranges[] = {
    { 0x00000000, 8 },  /* "this" network */
    { 0x0a000000, 8 },  /* RFC 1918 */
    { 0x64400000, 10 }, /* CGNAT */
    { 0x7f000000, 8 },  /* loopback */
    { 0xa9fe0000, 16 }, /* link-local, incl. 169.254.169.254 metadata */
    { 0xac100000, 12 }, /* RFC 1918 */
    { 0xc0000000, 24 }, /* IETF protocol assignments */
    { 0xc0a80000, 16 }, /* RFC 1918 */
    { 0xc6120000, 15 }, /* benchmarking */
    { 0xe0000000, 4 },  /* multicast */
    { 0xf0000000, 4 },  /* reserved + broadcast */
  };
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    {
      uint32_t mask = ranges[i].bits ? 0xffffffffu << (32 - ranges[i].bits) : 0;
      if ((a & mask) == ranges[i].net)
        return true;
    }
  return false;
}

static bool
v6_private (const struct in6_addr *a)
{
  const uint8_t *b = a->s6_addr;
  if (IN6_IS_ADDR_UNSPECIFIED (a) || IN6_IS_ADDR_LOOPBACK (a))
    return true;
  if (IN6_IS_ADDR_V4MAPPED (a) || IN6_IS_ADDR_V4COMPAT (a))
    {
      uint32_t v4;
      memcpy (&v4, b + 12, 4);
      return v4_private (ntohl (v4));
    }
  /* NAT64 well-known prefix 64:ff9b::/96 embeds an IPv4 address */
  static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
  if (memcmp (b, nat64, 12) == 0)
    {
      uint32_t v4;
      memcpy (&v4, b + 12, 4);
      return v4_private (ntohl (v4));
    }
  if ((b[0] & 0xfe) == 0xfc) /* ULA fc00::/7, incl. fd00:ec2::254 */
    return true;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* link-local */
    return true;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* deprecated site-local */
    return true;
  if (b[0] == 0xff) /* multicast */
    return true;
  return false;
}

bool
egress_addr_is_private (const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET)
    return v4_private (ntohl (((const struct sockaddr_in *) sa)->sin_addr.s_addr));
  if (sa->sa_family == AF_INET6)
    return v6_private (&((const struct sockaddr_in6 *) sa)->sin6_addr);
  return true;
}

bool
egress_ip_text_is_private (const char *ip)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton (AF_INET, ip, &a4) == 1)
    return v4_private (ntohl (a4.s_addr));
  if (inet_pton (AF_INET6, ip, &a6) == 1)
    return v6_private (&a6);
  return false;
}

bool
egress_rule_names_private_ip (const struct egress_rule *r)
{
  return (r->kind == EGRESS_HOST_IPV4 || r->kind == EGRESS_HOST_IPV6) && egress_ip_text_is_private (r->host);
}

int
egress_cidr_parse (const char *s, struct cidr *out)
{
  char buf[INET6_ADDRSTRLEN];
  const char *slash = strchr (s, '/');
  size_t n = slash ? (size_t) (slash - s) : strlen (s);
  if (n >= sizeof buf)
    return -1;
  memcpy (buf, s, n);
  buf[n] = '\0';
  memset (out, 0, sizeof *out);
  int max;
  if (inet_pton (AF_INET, buf, out->addr) == 1)
    out->family = AF_INET, max = 32;
  else if (inet_pton (AF_INET6, buf, out->addr) == 1)
    out->family = AF_INET6, max = 128;
  else
    return -1;
  out->prefix = max;
  if (slash)
    {
      /* digits only: strtol would take "+8", " 8" or "0x8" */
      if (!slash[1] || strspn (slash + 1, "0123456789") != strlen (slash + 1) || strlen (slash + 1) > 3)
        return -1;
      int v = atoi (slash + 1);
      if (v > max)
        return -1;
      out->prefix = v;
    }
  return 0;
}

bool
egress_cidr_contains (const struct cidr *c, int family, const void *addr)
{
  const unsigned char *a = addr;
  if (c->family != family)
    return false;
  int bits = c->prefix, k = 0;
  for (; bits >= 8; bits -= 8, k++)
    if (a[k] != c->addr[k])
      return false;
  return bits == 0 || ((a[k] ^ c->addr[k]) & (0xff << (8 - bits)) & 0xff) == 0;
}

int
egress_ip_in_cidr (const char *ip, const char *cidr)
{
  struct cidr c;
  unsigned char a[16];
  if (egress_cidr_parse (cidr, &c) < 0)
    return -1;
  if (inet_pton (c.family, ip, a) != 1)
    return 0;
  return egress_cidr_contains (&c, c.family, a);
}
