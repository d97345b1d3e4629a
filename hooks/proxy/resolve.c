/* Pinned/cached name resolution for the proxy (see resolve.h). */
#include "resolve.h"
#include "util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <resolv.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct rentry
{
  char *host;
  struct resolve_addrs addrs;
  bool failed;
  bool pinned;     /* dns.pin: never re-resolved */
  bool pending;    /* a background lookup is under way */
  uint64_t expires_ms; /* re-resolve after this (0: never resolved) */
  struct rentry *next;
};

#define RBUCKETS 256

/* Background lookups: a few worker threads look up queued names (so one
 * slow name does not hold up the others) and post results back; the event
 * loop collects them when the eventfd fires.  Shared with the workers, so
 * it outlives the resolver until each has finished its current lookup. */
#define RESOLVE_WORKERS 4
struct rjob
{
  struct rjob *next;
  char *host;
  int rc;
  uint32_t ttl_s; /* from the DNS answer; 0: unknown (hosts file, getaddrinfo) */
  struct resolve_addrs addrs;
};

struct rasync
{
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct rjob *todo, *done;
  int efd;
  int refs;
  bool closing;
};

struct resolver
{
  struct rentry *b[RBUCKETS];
  struct rasync *as; /* NULL: lookups block (tests, --check) */
};

static uint64_t
mono_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static void
rjob_free_list (struct rjob *j)
{
  for (struct rjob *n; j; j = n)
    {
      n = j->next;
      free (j->host);
      free (j);
    }
}

static void
rasync_unref (struct rasync *as)
{
  pthread_mutex_lock (&as->mu);
  bool last = --as->refs == 0;
  pthread_mutex_unlock (&as->mu);
  if (!last)
    return;
  rjob_free_list (as->todo);
  rjob_free_list (as->done);
  close (as->efd);
  pthread_mutex_destroy (&as->mu);
  pthread_cond_destroy (&as->cv);
  free (as);
}

void
resolver_free (struct resolver *r)
{
  if (!r)
    return;
  if (r->as)
    {
      pthread_mutex_lock (&r->as->mu);
      r->as->closing = true;
      pthread_cond_broadcast (&r->as->cv);
      pthread_mutex_unlock (&r->as->mu);
      rasync_unref (r->as);
    }
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
  e->pinned = true;
  return 0;
}

static void
store_ai (struct rentry *e, const struct addrinfo *res)
{
  e->expires_ms = mono_ms () + (res ? RESOLVE_REFRESH_MS : RESOLVE_NEGATIVE_MS);
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

void
resolver_want (struct resolver *r, const char *const *hosts, size_t n)
{
  for (size_t i = 0; i < n; i++)
    lookup (r, hosts[i], true);
}

void
resolver_adopt (struct resolver *r, const struct resolver *old)
{
  if (old == NULL)
    return;
  for (int i = 0; i < RBUCKETS; i++)
    for (const struct rentry *o = old->b[i]; o; o = o->next)
      {
        if (o->pinned || (o->addrs.n == 0 && !o->failed))
          continue;
        struct rentry *e = lookup (r, o->host, true);
        if (e->pinned)
          continue;
        e->addrs = o->addrs;
        e->failed = o->failed;
        e->expires_ms = o->expires_ms;
      }
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
  if (r->as && e->addrs.n == 0 && !e->failed)
    {
      /* Nothing known yet: callers ask resolver_kick first, so this is a
       * name nobody waited for; fail now, a lookup is started. */
      resolver_kick (r, host, kind);
      *out = e->addrs;
      return -1;
    }
  if (r->as)
    resolver_kick (r, host, kind); /* stale: refresh in the background, serve what we have */
  else if ((e->addrs.n == 0 && !e->failed) || (!e->pinned && e->expires_ms && mono_ms () >= e->expires_ms))
    {
      /* Blocking: only without the worker (tests, --check). */
      e->failed = false;
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

/* Skip a (possibly compressed) name at p; returns the offset after it or -1. */
static int
skip_name (const uint8_t *m, int len, int p)
{
  while (p < len)
    {
      uint8_t l = m[p];
      if (l == 0)
        return p + 1;
      if ((l & 0xc0) == 0xc0)
        return p + 2 <= len ? p + 2 : -1;
      if (l & 0xc0)
        return -1;
      p += 1 + l;
    }
  return -1;
}

/* A and AAAA records of one DNS response into out (appending); the smallest
 * TTL into *ttl.  CNAME chains are followed by the server (RD): any A/AAAA
 * in the answer section belongs to the queried name or its alias chain. */
static void
parse_answers (const uint8_t *m, int len, struct resolve_addrs *out, uint32_t *ttl)
{
  if (len < 12)
    return;
  int qd = (m[4] << 8) | m[5], an = (m[6] << 8) | m[7];
  int p = 12;
  for (int i = 0; i < qd && p >= 0; i++)
    p = skip_name (m, len, p) < 0 ? -1 : skip_name (m, len, p) + 4;
  for (int i = 0; i < an && p >= 0 && p < len; i++)
    {
      p = skip_name (m, len, p);
      if (p < 0 || p + 10 > len)
        return;
      int type = (m[p] << 8) | m[p + 1], cls = (m[p + 2] << 8) | m[p + 3];
      uint32_t t = ((uint32_t) m[p + 4] << 24) | (m[p + 5] << 16) | (m[p + 6] << 8) | m[p + 7];
      int rdl = (m[p + 8] << 8) | m[p + 9];
      p += 10;
      if (p + rdl > len)
        return;
      if (cls == 1 && out->n < RESOLVE_MAX_ADDRS && ((type == 1 && rdl == 4) || (type == 28 && rdl == 16)))
        {
          struct sockaddr_storage *ss = &out->a[out->n++];
          memset (ss, 0, sizeof *ss);
          if (type == 1)
            {
              ((struct sockaddr_in *) ss)->sin_family = AF_INET;
              memcpy (&((struct sockaddr_in *) ss)->sin_addr, m + p, 4);
            }
          else
            {
              ((struct sockaddr_in6 *) ss)->sin6_family = AF_INET6;
              memcpy (&((struct sockaddr_in6 *) ss)->sin6_addr, m + p, 16);
            }
          if (*ttl == 0 || t < *ttl)
            *ttl = t;
        }
      p += rdl;
    }
}

/* One name: DNS (A + AAAA, for the TTL) from resolv.conf's servers, else
 * getaddrinfo (hosts file and the rest of nsswitch). */
static void
lookup_job (res_state rs, bool rs_ok, struct rjob *j)
{
  j->addrs.n = 0;
  j->ttl_s = 0;
  if (rs_ok)
    {
      static const int types[] = { 1, 28 };
      for (int i = 0; i < 2; i++)
        {
          uint8_t ans[4096];
          int n = res_nquery (rs, j->host, 1, types[i], ans, sizeof ans);
          if (n > 0)
            parse_answers (ans, n < (int) sizeof ans ? n : (int) sizeof ans, &j->addrs, &j->ttl_s);
        }
      if (j->addrs.n > 0)
        {
          j->rc = 0;
          return;
        }
    }
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
  struct addrinfo *res = NULL;
  j->rc = getaddrinfo (j->host, NULL, &hints, &res);
  struct rentry tmp = { 0 };
  store_ai (&tmp, j->rc == 0 ? res : NULL);
  j->addrs = tmp.addrs;
  if (res)
    freeaddrinfo (res);
}

static void *
worker (void *arg)
{
  struct rasync *as = arg;
  struct __res_state rs;
  memset (&rs, 0, sizeof rs);
  bool rs_ok = res_ninit (&rs) == 0;
  pthread_mutex_lock (&as->mu);
  for (;;)
    {
      while (as->todo == NULL && !as->closing)
        pthread_cond_wait (&as->cv, &as->mu);
      if (as->closing)
        break;
      struct rjob *j = as->todo;
      as->todo = j->next;
      pthread_mutex_unlock (&as->mu);
      lookup_job (&rs, rs_ok, j);
      pthread_mutex_lock (&as->mu);
      j->next = as->done;
      as->done = j;
      uint64_t one = 1;
      if (write (as->efd, &one, sizeof one) < 0)
        { /* the counter cannot overflow in practice; the loop still polls it */
        }
    }
  pthread_mutex_unlock (&as->mu);
  if (rs_ok)
    res_nclose (&rs);
  rasync_unref (as);
  return NULL;
}

int
resolver_start_async (struct resolver *r, cr_error_t *err)
{
  if (r->as)
    return 0;
  struct rasync *as = xmalloc0 (sizeof *as);
  as->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (as->efd < 0)
    {
      free (as);
      return cr_error_errno (err, "eventfd for the resolver");
    }
  pthread_mutex_init (&as->mu, NULL);
  pthread_cond_init (&as->cv, NULL);
  as->refs = 1; /* the resolver; each worker adds one */
  r->as = as;
  pthread_attr_t at;
  pthread_attr_init (&at);
  pthread_attr_setdetachstate (&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&at, 512 * 1024); /* getaddrinfo + NSS modules */
  int started = 0, e = 0;
  for (int i = 0; i < RESOLVE_WORKERS; i++)
    {
      pthread_t t;
      pthread_mutex_lock (&as->mu);
      as->refs++;
      pthread_mutex_unlock (&as->mu);
      e = pthread_create (&t, &at, worker, as);
      if (e != 0)
        {
          pthread_mutex_lock (&as->mu);
          as->refs--;
          pthread_mutex_unlock (&as->mu);
          break;
        }
      started++;
    }
  pthread_attr_destroy (&at);
  if (started == 0)
    {
      r->as = NULL;
      rasync_unref (as);
      errno = e;
      return cr_error_errno (err, "starting the resolver threads");
    }
  /* names registered but never answered (resolver_want, prefetch stragglers) */
  for (int i = 0; i < RBUCKETS; i++)
    for (struct rentry *en = r->b[i]; en; en = en->next)
      if (!en->pinned && !en->pending && en->addrs.n == 0 && !en->failed)
        resolver_kick (r, en->host, EGRESS_HOST_NAME);
  return 0;
}

int
resolver_event_fd (const struct resolver *r)
{
  return r && r->as ? r->as->efd : -1;
}

int
resolver_kick (struct resolver *r, const char *host, enum egress_host_kind kind)
{
  if (kind != EGRESS_HOST_NAME)
    return 0;
  struct rentry *e = lookup (r, host, true);
  bool known = e->addrs.n > 0 || e->failed;
  if (e->pinned || (known && mono_ms () < e->expires_ms))
    return 0;
  if (r->as == NULL)
    {
      struct resolve_addrs tmp;
      resolver_get (r, host, kind, &tmp); /* blocking */
      return 0;
    }
  if (!e->pending)
    {
      struct rjob *j = xmalloc0 (sizeof *j);
      j->host = xstrdup (host);
      pthread_mutex_lock (&r->as->mu);
      j->next = r->as->todo;
      r->as->todo = j;
      pthread_cond_signal (&r->as->cv);
      pthread_mutex_unlock (&r->as->mu);
      e->pending = true;
    }
  /* stale addresses are served while the refresh runs */
  return e->addrs.n > 0 ? 0 : 1;
}

int
resolver_collect (struct resolver *r)
{
  if (r->as == NULL)
    return 0;
  uint64_t v;
  if (read (r->as->efd, &v, sizeof v) < 0)
    { /* EAGAIN: nothing new, the list is checked anyway */
    }
  pthread_mutex_lock (&r->as->mu);
  struct rjob *done = r->as->done;
  r->as->done = NULL;
  pthread_mutex_unlock (&r->as->mu);
  int n = 0;
  for (struct rjob *j = done; j; j = j->next, n++)
    {
      struct rentry *e = lookup (r, j->host, true);
      e->pending = false;
      if (e->pinned)
        continue;
      if (j->rc == 0 && j->addrs.n > 0)
        {
          e->addrs = j->addrs;
          e->failed = false;
          uint64_t ttl_ms = j->ttl_s ? (uint64_t) j->ttl_s * 1000 : RESOLVE_REFRESH_MS;
          if (ttl_ms < RESOLVE_MIN_TTL_MS)
            ttl_ms = RESOLVE_MIN_TTL_MS;
          if (ttl_ms > RESOLVE_MAX_TTL_MS)
            ttl_ms = RESOLVE_MAX_TTL_MS;
          e->expires_ms = mono_ms () + ttl_ms;
        }
      else if (e->addrs.n == 0)
        {
          e->failed = true;
          e->expires_ms = mono_ms () + RESOLVE_NEGATIVE_MS;
        }
      else
        e->expires_ms = mono_ms () + RESOLVE_NEGATIVE_MS; /* keep the last good answer, retry sooner */
    }
  rjob_free_list (done);
  return n;
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

int
resolve_hostport (const char *spec, struct resolve_addrs *out, bool resolve_names, cr_error_t *err)
{
  char host[EGRESS_HOST_MAX];
  const char *colon;
  size_t hl;
  if (spec[0] == '[')
    {
      const char *rb = strchr (spec, ']');
      if (rb == NULL || rb[1] != ':')
        return cr_error (err, 0, "gateway `%s`: expected host:port", spec);
      hl = rb - spec - 1;
      memcpy (host, spec + 1, hl < sizeof host ? hl : 0);
      colon = rb + 1;
    }
  else
    {
      colon = strrchr (spec, ':');
      if (colon == NULL || memchr (spec, ':', colon - spec))
        return cr_error (err, 0, "gateway `%s`: expected host:port", spec);
      hl = colon - spec;
      memcpy (host, spec, hl < sizeof host ? hl : 0);
    }
  char *end;
  long port = strtol (colon + 1, &end, 10);
  if (hl == 0 || hl >= sizeof host || *end || end == colon + 1 || port < 1 || port > 65535)
    return cr_error (err, 0, "gateway `%s`: expected host:port", spec);
  host[hl] = '\0';
  out->n = 0;
  if (literal (host, &out->a[0]) == 0)
    out->n = 1;
  else if (resolve_names)
    {
      struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
      struct addrinfo *res = NULL;
      int rc = getaddrinfo (host, NULL, &hints, &res);
      if (rc != 0)
        return cr_error (err, 0, "gateway `%s`: cannot resolve `%s`: %s", spec, host, gai_strerror (rc));
      struct rentry e = { 0 };
      store_ai (&e, res);
      freeaddrinfo (res);
      *out = e.addrs;
      if (out->n == 0)
        return cr_error (err, 0, "gateway `%s`: `%s` has no IPv4/IPv6 address", spec, host);
    }
  resolve_set_port (out, (int) port);
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
