/* Pinned/cached name resolution for the proxy (see resolve.h). */
#include "resolve.h"
#include "util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>

struct rentry
{
  char *host;
  struct resolve_addrs addrs;
  bool failed;
  struct rentry *next;
};

#define RBUCKETS 256

struct resolver
{
  struct rentry *b[RBUCKETS];
};

static unsigned
rhash (const char *s)
{
  unsigned h = 5381;
  while (*s)
    h = h * 33 + (unsigned char) *s++;
  return h % RBUCKETS;
}

struct resolver *
resolver_new (void)
{
  return xmalloc0 (sizeof (struct resolver));
}

void
resolver_free (struct resolver *r)
{
  if (!r)
    return;
  for (int i = 0; i < RBUCKETS; i++)
    for (struct rentry *e = r->b[i], *n; e; e = n)
      {
        n = e->next;
        free (e->host);
        free (e);
      }
  free (r);
}

static struct rentry *
lookup (struct resolver *r, const char *host, bool create)
{
  unsigned h = rhash (host);
  for (struct rentry *e = r->b[h]; e; e = e->next)
    if (strcmp (e->host, host) == 0)
      return e;
  if (!create)
    return NULL;
  struct rentry *e = xmalloc0 (sizeof *e);
  e->host = xstrdup (host);
  e->next = r->b[h];
  r->b[h] = e;
  return e;
}

static int
literal (const char *ip, struct sockaddr_storage *ss)
{
  memset (ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
  if (inet_pton (AF_INET, ip, &s4->sin_addr) == 1)
    {
      s4->sin_family = AF_INET;
      return 0;
    }
  if (inet_pton (AF_INET6, ip, &s6->sin6_addr) == 1)
    {
      s6->sin6_family = AF_INET6;
      return 0;
    }
  return -1;
}

int
resolver_pin (struct resolver *r, const char *spec, cr_error_t *err)
{
  const char *eq = strchr (spec, '=');
  if (!eq)
    return cr_error (err, 0, "dns pin `%s`: expected host=ip[,ip]", spec);
  char host[EGRESS_HOST_MAX];
  enum egress_host_kind kind;
  if (egress_host_normalize (spec, eq - spec, host, sizeof host, &kind) < 0 || kind != EGRESS_HOST_NAME)
    return cr_error (err, 0, "dns pin `%s`: bad host name", spec);
  struct resolve_addrs addrs = { 0 };
  cleanup_free char *list = xstrdup (eq + 1);
  char *save = NULL;
  for (char *ip = strtok_r (list, ",", &save); ip; ip = strtok_r (NULL, ",", &save))
    {
      while (*ip == ' ')
        ip++;
      if (addrs.n == RESOLVE_MAX_ADDRS)
        return cr_error (err, 0, "dns pin `%s`: more than %d addresses", spec, RESOLVE_MAX_ADDRS);
      if (literal (ip, &addrs.a[addrs.n]) < 0)
        return cr_error (err, 0, "dns pin `%s`: bad address `%s`", spec, ip);
      addrs.n++;
    }
  if (addrs.n == 0)
    return cr_error (err, 0, "dns pin `%s`: no address", spec);
  struct rentry *e = lookup (r, host, true);
  e->addrs = addrs;
  e->failed = false;
  return 0;
}

int
resolver_get (struct resolver *r, const char *host, enum egress_host_kind kind, struct resolve_addrs *out)
{
  if (kind == EGRESS_HOST_IPV4 || kind == EGRESS_HOST_IPV6)
    {
      out->n = literal (host, &out->a[0]) == 0 ? 1 : 0;
      return out->n ? 0 : -1;
    }
  struct rentry *e = lookup (r, host, true);
  if (e->addrs.n == 0 && !e->failed)
    {
      /* Blocking, but once per name for the whole run. */
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
      struct addrinfo *res = NULL;
      if (getaddrinfo (host, NULL, &hints, &res) != 0)
        e->failed = true;
      for (struct addrinfo *ai = res; ai && e->addrs.n < RESOLVE_MAX_ADDRS; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= sizeof (struct sockaddr_storage))
          {
            memset (&e->addrs.a[e->addrs.n], 0, sizeof e->addrs.a[0]);
            memcpy (&e->addrs.a[e->addrs.n++], ai->ai_addr, ai->ai_addrlen);
          }
      if (res)
        freeaddrinfo (res);
    }
  *out = e->addrs;
  return e->failed ? -1 : 0;
}

static bool
same_ip (const struct sockaddr *a, const struct sockaddr *b)
{
  if (a->sa_family != b->sa_family)
    return false;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *) a)->sin_addr.s_addr == ((const struct sockaddr_in *) b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp (&((const struct sockaddr_in6 *) a)->sin6_addr, &((const struct sockaddr_in6 *) b)->sin6_addr, 16) == 0;
  return false;
}

int
resolver_has_addr (struct resolver *r, const char *host, enum egress_host_kind kind, const struct sockaddr *sa)
{
  struct resolve_addrs a;
  if (resolver_get (r, host, kind, &a) < 0)
    return 0;
  for (int i = 0; i < a.n; i++)
    if (same_ip ((struct sockaddr *) &a.a[i], sa))
      return 1;
  return 0;
}

void
resolve_set_port (struct resolve_addrs *a, int port)
{
  for (int i = 0; i < a->n; i++)
    {
      if (a->a[i].ss_family == AF_INET)
        ((struct sockaddr_in *) &a->a[i])->sin_port = htons (port);
      else
        ((struct sockaddr_in6 *) &a->a[i])->sin6_port = htons (port);
    }
}

void
resolve_addr_text (const struct sockaddr *sa, char *out, size_t outsz)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET)
    {
      inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip, sizeof ip);
      port = ntohs (((const struct sockaddr_in *) sa)->sin_port);
      snprintf (out, outsz, "%s:%d", ip, port);
    }
  else if (sa->sa_family == AF_INET6)
    {
      inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, ip, sizeof ip);
      port = ntohs (((const struct sockaddr_in6 *) sa)->sin6_port);
      snprintf (out, outsz, "[%s]:%d", ip, port);
    }
  else
    snprintf (out, outsz, "unix");
}
