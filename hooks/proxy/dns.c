/* DNS stub for the capsule (UDP and TCP): A/AAAA answers only for names a
 * rule allows, from the proxy's pinned/resolved addresses; NXDOMAIN (and an
 * audit line) for everything else.  Nothing is ever forwarded upstream. */
#include "broker.h"
#include "dns_msg.h"
#include "proxy.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_TTL 60
#define DNS_TCP_IDLE_MS 10000
/* answer(): the name's addresses are being looked up (resolver worker) */
#define DNS_PENDING (-2)
/* UDP queries held while their name resolves (beyond: dropped, the client retries) */
#define DNS_HELD_MAX 64

struct dns_tcp
{
  struct dns_tcp *prev, *next;
  struct ev ev;
  int fd;
  uint8_t buf[2 + 512];
  size_t len;
  uint64_t last_ms;
  bool waiting; /* the query at the head of buf waits for the resolver */
};

struct dns_held
{
  struct sockaddr_storage ss;
  socklen_t sl;
  size_t len;
  uint8_t q[512];
};
static struct dns_held *held[DNS_HELD_MAX];
static int n_held;

static const char *
qtype_name (unsigned t, char *tmp, size_t n)
{
  if (t == DNS_T_A)
    return "A";
  if (t == DNS_T_AAAA)
    return "AAAA";
  snprintf (tmp, n, "TYPE%u", t);
  return tmp;
}

static void
audit_dns (struct proxy *px, const char *client, const struct dns_query *q, const char *verdict, const char *rule,
           const char *reason, int answers)
{
  char id[256], cl[128], name[600], ru[600], why[256], tt[16], line[2048];
  snprintf (line, sizeof line,
            "{\"event\":\"dns\",\"capsule\":\"%s\",\"client\":\"%s\",\"name\":\"%s\",\"qtype\":\"%s\","
            "\"rule\":%s%s%s,\"verdict\":\"%s\",\"reason\":\"%s\",\"answers\":%d}",
            (audit_json_escape (id, sizeof id, px->cfg->capsule_id ? px->cfg->capsule_id : ""), id),
            (audit_json_escape (cl, sizeof cl, client), cl), (audit_json_escape (name, sizeof name, q->name), name),
            qtype_name (q->qtype, tt, sizeof tt), rule ? "\"" : "",
            rule ? (audit_json_escape (ru, sizeof ru, rule), ru) : "null", rule ? "\"" : "", verdict,
            (audit_json_escape (why, sizeof why, reason), why), answers);
  if (px->audit)
    {
      cr_error_t err = NULL;
      if (audit_append (px->audit, line, &err) < 0)
        {
          fprintf (stderr, "capsule-proxy: audit: %s\n", err->msg);
          cr_error_release (&err);
        }
    }
}

/* Answer one query; returns the response length or -1 (drop). */
static int
answer (struct proxy *px, const char *client, const uint8_t *qbuf, size_t qlen, uint8_t *out, size_t cap)
{
  struct dns_query q;
  if (dns_parse_query (qbuf, qlen, &q) < 0)
    return dns_build_formerr (qbuf, qlen, out, cap);
  if ((q.flags & 0x7800) != 0)
    return dns_build_response (qbuf, &q, DNS_RCODE_NOTIMP, NULL, 0, 0, out, cap);
  char host[EGRESS_HOST_MAX];
  enum egress_host_kind kind;
  const struct egress_rule *rule = NULL;
  if (q.qclass == 1 && egress_host_normalize (q.name, strlen (q.name), host, sizeof host, &kind) == 0
      && kind == EGRESS_HOST_NAME)
    {
      rule = policy_host_rule (px->policy, host, kind);
      /* A name only a brokered capability names resolves too: its requests are allowed as that capability. */
      if (rule == NULL)
        rule = broker_host_rule (host, kind);
    }
  if (rule == NULL)
    {
      audit_dns (px, client, &q, "deny", NULL, "no rule names this host", 0);
      return dns_build_response (qbuf, &q, DNS_RCODE_NXDOMAIN, NULL, 0, 0, out, cap);
    }
  if (resolver_kick (px->resolver, host, kind) == 1)
    return DNS_PENDING;
  struct resolve_addrs all, ok = { 0 };
  if (resolver_get (px->resolver, host, kind, &all) == 0)
    for (int i = 0; i < all.n; i++)
      if (rule->trusted || !egress_addr_is_private ((struct sockaddr *) &all.a[i]))
        ok.a[ok.n++] = all.a[i];
  int n = 0;
  for (int i = 0; i < ok.n; i++)
    n += (ok.a[i].ss_family == AF_INET && q.qtype == DNS_T_A) || (ok.a[i].ss_family == AF_INET6 && q.qtype == DNS_T_AAAA);
  audit_dns (px, client, &q, "allow", rule->text, q.qtype == DNS_T_A || q.qtype == DNS_T_AAAA ? "" : "only A/AAAA are answered", n);
  /* Other types for an allowed name: NOERROR with no data. */
  return dns_build_response (qbuf, &q, DNS_RCODE_OK, ok.a, ok.n, DNS_TTL, out, cap);
}

void
dns_udp_event (struct proxy *px)
{
  for (int burst = 0; burst < 64; burst++)
    {
      uint8_t in[1500], out[1500];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      ssize_t n = recvfrom (px->dns_fd, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *) &ss, &sl);
      if (n < 0)
        return;
      char client[64];
      resolve_addr_text ((struct sockaddr *) &ss, client, sizeof client);
      int rl = answer (px, client, in, n, out, 512);
      if (rl > 0)
        sendto (px->dns_fd, out, rl, MSG_DONTWAIT, (struct sockaddr *) &ss, sl);
      else if (rl == DNS_PENDING && n_held < DNS_HELD_MAX && (size_t) n <= sizeof held[0]->q)
        {
          struct dns_held *h = xmalloc0 (sizeof *h);
          h->ss = ss, h->sl = sl, h->len = n;
          memcpy (h->q, in, n);
          held[n_held++] = h;
        }
    }
}

static int tcp_process (struct proxy *px, struct dns_tcp *t);

void
dns_resolved (struct proxy *px)
{
  for (int i = 0; i < n_held;)
    {
      struct dns_held *h = held[i];
      uint8_t out[1500];
      char client[64];
      resolve_addr_text ((struct sockaddr *) &h->ss, client, sizeof client);
      int rl = answer (px, client, h->q, h->len, out, 512);
      if (rl == DNS_PENDING)
        {
          i++;
          continue;
        }
      if (rl > 0 && px->dns_fd >= 0)
        sendto (px->dns_fd, out, rl, MSG_DONTWAIT, (struct sockaddr *) &h->ss, h->sl);
      free (h);
      held[i] = held[--n_held];
    }
  for (struct dns_tcp *t = px->dns_conns, *n; t; t = n)
    {
      n = t->next;
      if (t->waiting)
        {
          t->waiting = false;
          tcp_process (px, t);
        }
    }
}

static void
tcp_free (struct proxy *px, struct dns_tcp *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else
    px->dns_conns = t->next;
  if (t->next)
    t->next->prev = t->prev;
  close (t->fd);
  free (t);
}

void
dns_tcp_accept (struct proxy *px)
{
  for (int burst = 0; burst < 64; burst++)
    {
      int fd = accept4 (px->dns_tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;
      struct dns_tcp *t = xmalloc0 (sizeof *t);
      t->fd = fd;
      t->ev.kind = EV_DNS_TCP;
      t->ev.obj = t;
      t->last_ms = px->now_ms;
      struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &t->ev };
      if (epoll_ctl (px->epfd, EPOLL_CTL_ADD, fd, &e) < 0)
        {
          close (fd);
          free (t);
          continue;
        }
      t->next = px->dns_conns;
      if (px->dns_conns)
        px->dns_conns->prev = t;
      px->dns_conns = t;
    }
}

/* Answer the complete queries in t->buf, in order; stops at one whose name
 * is being resolved (dns_resolved resumes it).  -1: t was freed. */
static int
tcp_process (struct proxy *px, struct dns_tcp *t)
{
  while (t->len >= 2 && !t->waiting)
    {
      size_t ml = (t->buf[0] << 8) | t->buf[1];
      if (ml > sizeof t->buf - 2)
        {
          tcp_free (px, t);
          return -1;
        }
      if (t->len < 2 + ml)
        break;
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      char client[64] = "tcp";
      if (getpeername (t->fd, (struct sockaddr *) &ss, &sl) == 0)
        resolve_addr_text ((struct sockaddr *) &ss, client, sizeof client);
      uint8_t out[2 + 1500];
      int rl = answer (px, client, t->buf + 2, ml, out + 2, sizeof out - 2);
      if (rl == DNS_PENDING)
        {
          t->waiting = true;
          break;
        }
      if (rl > 0)
        {
          out[0] = rl >> 8;
          out[1] = rl & 0xff;
          if (send (t->fd, out, rl + 2, MSG_NOSIGNAL | MSG_DONTWAIT) != rl + 2)
            {
              tcp_free (px, t);
              return -1;
            }
        }
      memmove (t->buf, t->buf + 2 + ml, t->len - 2 - ml);
      t->len -= 2 + ml;
    }
  return 0;
}

void
dns_tcp_event (struct proxy *px, struct ev *ev, uint32_t events)
{
  struct dns_tcp *t = ev->obj;
  (void) events;
  for (;;)
    {
      if (t->len == sizeof t->buf)
        return; /* full while a query waits for the resolver: read more later */
      ssize_t n = read (t->fd, t->buf + t->len, sizeof t->buf - t->len);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        {
          tcp_free (px, t);
          return;
        }
      if (n < 0)
        break;
      t->len += n;
      t->last_ms = px->now_ms;
      if (tcp_process (px, t) < 0)
        return;
    }
}

void
dns_timers (struct proxy *px)
{
  for (struct dns_tcp *t = px->dns_conns, *n; t; t = n)
    {
      n = t->next;
      if (px->now_ms - t->last_ms > DNS_TCP_IDLE_MS)
        tcp_free (px, t);
    }
}
