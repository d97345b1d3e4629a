/* Pinned/cached name resolution for the proxy (see resolve.h). */
#include "resolve.h"
#include "util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <time.h>

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

static void
store_ai (struct rentry *e, const struct addrinfo *res)
{
  e->addrs.n = 0;
  for (const struct addrinfo *ai = res; ai && e->addrs.n < RESOLVE_MAX_ADDRS; ai = ai->ai_next)
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= sizeof (struct sockaddr_storage))
      {
        memset (&e->addrs.a[e->addrs.n], 0, sizeof e->addrs.a[0]);
        memcpy (&e->addrs.a[e->addrs.n++], ai->ai_addr, ai->ai_addrlen);
      }
}

void
resolver_prefetch (struct resolver *r, const char *const *hosts, size_t n, int timeout_ms)
{
  /* All names at once (glibc's async resolver), bounded wait; the rest
   * resolve on first use. */
  struct gaicb *cbs = calloc (n, sizeof *cbs);
  struct gaicb **list = calloc (n, sizeof *list);
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
  size_t k = 0;
  for (size_t i = 0; cbs && list && i < n; i++)
    {
      struct rentry *e = lookup (r, hosts[i], true);
      if (e->addrs.n > 0) /* pinned */
        continue;
      bool dup = false;
      for (size_t j = 0; j < k && !dup; j++)
        dup = strcmp (cbs[j].ar_name, hosts[i]) == 0;
      if (dup)
        continue;
      cbs[k].ar_name = hosts[i];
      cbs[k].ar_request = &hints;
      list[k] = &cbs[k];
      k++;
    }
  if (k > 0 && getaddrinfo_a (GAI_NOWAIT, list, k, NULL) == 0)
    {
      struct timespec end;
      clock_gettime (CLOCK_MONOTONIC, &end);
      end.tv_sec += timeout_ms / 1000;
      end.tv_nsec += (timeout_ms % 1000) * 1000000L;
      if (end.tv_nsec >= 1000000000L)
        end.tv_sec++, end.tv_nsec -= 1000000000L;
      for (;;)
        {
          size_t pending = 0;
          for (size_t i = 0; i < k; i++)
            pending += gai_error (list[i]) == EAI_INPROGRESS;
          struct timespec now;
          clock_gettime (CLOCK_MONOTONIC, &now);
          if (pending == 0 || now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
          struct timespec left = { end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec };
          if (left.tv_nsec < 0)
            left.tv_sec--, left.tv_nsec += 1000000000L;
          gai_suspend ((const struct gaicb *const *) list, k, &left);
        }
      for (size_t i = 0; i < k; i++)
        {
          int st = gai_error (list[i]);
          if (st == EAI_INPROGRESS)
            {
              gai_cancel (list[i]);
              continue; /* still resolving: the result is leaked to glibc, resolved on first use */
            }
          struct rentry *e = lookup (r, list[i]->ar_name, true);
          if (st == 0)
            store_ai (e, list[i]->ar_result);
          else
            e->failed = true;
          if (list[i]->ar_result)
            freeaddrinfo (list[i]->ar_result);
          list[i]->ar_result = NULL;
        }
    }
  free (list);
  /* cbs may still be referenced by cancelled in-flight requests: keep it */
  bool inflight = false;
  for (size_t i = 0; i < k; i++)
    inflight |= gai_error (&cbs[i]) == EAI_INPROGRESS;
  if (!inflight)
    free (cbs);
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
      store_ai (e, res);
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
