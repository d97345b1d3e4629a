/* One client connection: HTTP/1.1 forward proxying (absolute-form), CONNECT
 * tunnels (splice), and the transparent listener (Host header / TLS SNI).
 *
 * Memory per connection is bounded: four fixed-size buffers allocated only
 * while in use (an idle keep-alive connection holds none), two pipes only
 * for tunnels.  Back-pressure: a side is read only while the buffer toward
 * the other side has room.  Sockets are edge-triggered; readiness flags
 * remember what may be tried without a syscall returning EAGAIN. */
#include "proxy.h"
#include "broker.h"
#include "http_parse.h"
#include "mitm.h"
#include "tls_sni.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUF_SZ (HTTP_MAX_HEAD + 1024)
/* Tunnel pipes: as large as the host allows, up to 1 MiB.  A bigger pipe
 * means fewer splice calls and wakeups per byte on bulk transfers. */
#define PIPE_SZ_MAX (1024 * 1024)
#define PIPE_SZ_MIN (64 * 1024)

struct buf
{
  char *d;
  uint32_t s, e;
};

static size_t
buf_len (const struct buf *b)
{
  return b->d ? b->e - b->s : 0;
}

static size_t
buf_room (struct buf *b)
{
  if (!b->d)
    return BUF_SZ;
  if (b->s == b->e)
    b->s = b->e = 0;
  if (b->e == BUF_SZ && b->s > 0)
    {
      memmove (b->d, b->d + b->s, b->e - b->s);
      b->e -= b->s;
      b->s = 0;
    }
  return BUF_SZ - b->e;
}

/* Buffers are whole pages from mmap, not malloc: a freed buffer goes back
 * to the kernel instead of leaving holes in the heap that idle connections
 * would keep resident.  A small free list saves the syscalls for busy ones. */
#define BUF_MAP (((BUF_SZ) + 4095) & ~4095)
#define BUF_POOL 32
static char *buf_pool[BUF_POOL];
static int buf_pool_n;

static char *
buf_alloc (void)
{
  if (buf_pool_n > 0)
    return buf_pool[--buf_pool_n];
  void *p = mmap (NULL, BUF_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void
buf_release (char *d)
{
  if (!d)
    return;
  if (buf_pool_n < BUF_POOL)
    buf_pool[buf_pool_n++] = d;
  else
    munmap (d, BUF_MAP);
}

/* Give the pooled buffers back too (called when connections went idle). */
void
conn_release_pool (void)
{
  while (buf_pool_n > 0)
    munmap (buf_pool[--buf_pool_n], BUF_MAP);
}

static bool
buf_ensure (struct buf *b)
{
  if (!b->d)
    {
      b->d = buf_alloc ();
      b->s = b->e = 0;
    }
  return b->d != NULL;
}

static void
buf_consume (struct buf *b, size_t n)
{
  b->s += n;
  if (b->s == b->e)
    b->s = b->e = 0;
}

/* Drop an empty buffer so idle connections hold no memory. */
static void
buf_trim (struct buf *b)
{
  if (b->d && b->s == b->e)
    {
      buf_release (b->d);
      b->d = NULL;
      b->s = b->e = 0;
    }
}

static void
buf_free (struct buf *b)
{
  buf_release (b->d);
  b->d = NULL;
  b->s = b->e = 0;
}

static bool
buf_append (struct buf *b, const char *p, size_t n)
{
  if (!buf_ensure (b) || buf_room (b) < n)
    return false;
  memcpy (b->d + b->e, p, n);
  b->e += n;
  return true;
}

enum cstate
{
  ST_HEAD,       /* waiting for a request head */
  ST_CONNECTING, /* upstream connect in progress */
  ST_FORWARD,    /* request/response exchange */
  ST_TUNNEL,     /* CONNECT or transparent TLS: bytes both ways */
  ST_DRAIN,      /* sending a final response, then close */
  ST_TLS_ACCEPT, /* intercepted CONNECT: 200 sent, TLS handshake with the client */
  ST_TLS_CONNECT,/* intercepted: TLS handshake with the upstream */
  ST_GW_CONNECT, /* egress gateway: our CONNECT sent, waiting for its 2xx */
};

struct conn
{
  struct proxy *px;
  struct conn *prev, *next;
  struct ev cev, uev;
  int cfd, ufd;
  bool transparent;
  char client[64];
  struct sockaddr_storage orig_dst;
  enum cstate st;
  struct buf cin, uin, uout, cout;
  /* readiness (edge-triggered) */
  bool c_rd, c_wr, u_rd, u_wr, c_eof, u_eof;
  bool c_hup, u_hup; /* peer shut down: read to EOF, a short read proves nothing */
  bool resolving;    /* waiting for the resolver worker (conn_resolved) */
  bool peeked;       /* cin mirrors unconsumed socket bytes (transparent, MSG_PEEK) */
  /* current exchange */
  struct http_body reqb, respb;
  size_t req_pending, resp_pending; /* scanned body bytes at the head of cin/uin */
  bool resp_head_done, head_request, close_after, u_close_after, in_exchange;
  int status;
  char method[24];
  char host[EGRESS_HOST_MAX];
  enum egress_host_kind hkind;
  int port;
  char *path; /* normalised, for audit */
  char *rule;
  char *secret;      /* injected credential of this exchange (redacted from the response) */
  char *cred_header;
  bool broker_held, broker_approved; /* brokered capability (broker.c) */
  uint64_t up_bytes, down_bytes, t0_ms;
  /* upstream */
  char up_key[EGRESS_HOST_MAX + 8];
  uint32_t up_gw_gen; /* px->gw_gen when the upstream was dialled (reload) */
  bool via_gw;        /* the upstream being dialled is the gateway */
  struct resolve_addrs *addrs; /* only while choosing/connecting */
  int addr_i;
  bool tunnel_after_connect;
  bool dead;
  bool gated; /* its allow decision is queued: no I/O until conn_flush_gated */
  /* TLS interception */
  bool intercept;
  SSL *cssl, *ussl;
  char thost[EGRESS_HOST_MAX];
  enum egress_host_kind tkind;
  int tport;
  /* splice pipes: [0] client->upstream, [1] upstream->client */
  int pipe_r[2], pipe_w[2];
  size_t pipe_fill[2], pipe_cap[2];
  /* timers */
  uint64_t last_ms, head_start_ms;
};

static void conn_free (struct conn *c);
static void pump (struct conn *c);
static void respond_error (struct conn *c, int status, const char *reason_phrase, const char *msg);

static void
drop_secret (struct conn *c)
{
  if (c->secret)
    explicit_bzero (c->secret, strlen (c->secret));
  free (c->secret);
  free (c->cred_header);
  c->secret = c->cred_header = NULL;
}

static const char *
listener_name (const struct conn *c)
{
  return c->transparent ? "transparent" : "forward";
}

static void
req_audit (struct conn *c, struct paudit_req *r, const char *verdict, const char *reason)
{
  r->client = c->client;
  r->listener = listener_name (c);
  r->method = c->method;
  r->host = c->host;
  r->port = c->port;
  r->path = c->path ? c->path : "";
  r->rule = c->rule;
  r->verdict = verdict;
  r->reason = reason;
}

static void
set_nonblock_opts (int fd)
{
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int
ep_add (struct proxy *px, int fd, struct ev *ev)
{
  struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = ev };
  return epoll_ctl (px->epfd, EPOLL_CTL_ADD, fd, &e);
}

void
conn_accept (struct proxy *px, int lfd, bool transparent)
{
  for (int burst = 0; burst < 64; burst++)
    {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      int fd = accept4 (lfd, (struct sockaddr *) &ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;
      if (px->nconns >= (size_t) px->cfg->max_conns)
        {
          static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          if (write (fd, busy, sizeof busy - 1) < 0)
            { /* nothing to do: closing anyway */
            }
          close (fd);
          continue;
        }
      struct conn *c = xmalloc0 (sizeof *c);
      c->px = px;
      c->cfd = fd;
      c->ufd = -1;
      c->pipe_r[0] = c->pipe_r[1] = c->pipe_w[0] = c->pipe_w[1] = -1;
      c->transparent = transparent;
      c->cev.kind = EV_CLIENT;
      c->cev.obj = c;
      c->uev.kind = EV_UPSTREAM;
      c->uev.obj = c;
      c->c_rd = c->c_wr = true;
      c->last_ms = c->head_start_ms = px->now_ms;
      resolve_addr_text ((struct sockaddr *) &ss, c->client, sizeof c->client);
      set_nonblock_opts (fd);
      if (transparent)
        {
          socklen_t ol = sizeof c->orig_dst;
          int r;
          if (ss.ss_family == AF_INET6)
            r = getsockopt (fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &c->orig_dst, &ol);
          else
            r = getsockopt (fd, SOL_IP, SO_ORIGINAL_DST, &c->orig_dst, &ol);
          if (r < 0)
            {
              /* Not redirected by nft: nothing to decide on. */
              paudit_event (px, "transparent.error", "no original destination");
              close (fd);
              free (c);
              continue;
            }
        }
      if (ep_add (px, fd, &c->cev) < 0)
        {
          close (fd);
          free (c);
          continue;
        }
      c->next = px->conns;
      if (px->conns)
        px->conns->prev = c;
      px->conns = c;
      px->nconns++;
    }
}

static void
close_upstream (struct conn *c)
{
  if (c->ussl)
    {
      SSL_free (c->ussl);
      c->ussl = NULL;
    }
  if (c->ufd >= 0)
    {
      close (c->ufd);
      c->ufd = -1;
    }
  c->up_key[0] = '\0';
  c->u_rd = c->u_wr = c->u_eof = c->u_hup = false;
  buf_free (&c->uin);
}

static void
conn_free (struct conn *c)
{
  struct proxy *px = c->px;
  if (c->prev)
    c->prev->next = c->next;
  else
    px->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  px->nconns--;
  close_upstream (c);
  if (c->cssl)
    SSL_free (c->cssl);
  c->cssl = NULL;
  close (c->cfd);
  for (int i = 0; i < 2; i++)
    {
      if (c->pipe_r[i] >= 0)
        close (c->pipe_r[i]);
      if (c->pipe_w[i] >= 0)
        close (c->pipe_w[i]);
    }
  buf_free (&c->cin);
  buf_free (&c->cout);
  buf_free (&c->uout);
  free (c->path);
  free (c->rule);
  free (c->addrs);
  drop_secret (c);
  c->path = c->rule = NULL;
  c->addrs = NULL;
  broker_forget (c);
  c->dead = true;
  c->next = px->dead;
  c->prev = NULL;
  px->dead = c;
}

void
conn_flush_gated (struct proxy *px)
{
  px->batching = false; /* decisions made from here on are written at once */
  if (px->n_gated == 0)
    return;
  bool ok = paudit_flush_gated (px) == 0;
  size_t n = px->n_gated;
  px->n_gated = 0;
  for (size_t i = 0; i < n; i++)
    {
      struct conn *c = px->gated[i];
      c->gated = false;
      if (c->dead)
        continue;
      if (!ok)
        {
          /* not on record: the request is never forwarded (as when an
           * immediate decision line cannot be written) */
          c->in_exchange = false;
          respond_error (c, 503, "Service Unavailable", "audit log unavailable");
        }
      pump (c);
    }
}

void
conn_reap (struct proxy *px)
{
  while (px->dead)
    {
      struct conn *c = px->dead;
      px->dead = c->next;
      free (c);
    }
}

/* Finish the current exchange: completion audit line, reset per-request state. */
static void
exchange_done (struct conn *c)
{
  if (c->in_exchange)
    {
      struct paudit_req r;
      req_audit (c, &r, "allow", "");
      paudit_done (c->px, &r, c->status, c->up_bytes, c->down_bytes, c->px->now_ms - c->t0_ms);
    }
  c->in_exchange = false;
  free (c->path);
  c->path = NULL;
  free (c->rule);
  c->rule = NULL;
  drop_secret (c);
  c->status = 0;
  c->up_bytes = c->down_bytes = 0;
  c->resp_head_done = false;
  c->req_pending = c->resp_pending = 0;
  c->head_start_ms = c->px->now_ms;
}

/* Queue a complete short response to the client and close afterwards. */
static void
respond_error (struct conn *c, int status, const char *reason_phrase, const char *msg)
{
  char body[512], head[256];
  int bl = snprintf (body, sizeof body, "capsule-proxy: %s\n", msg);
  if (bl < 0 || bl >= (int) sizeof body)
    bl = sizeof body - 1;
  int hl = snprintf (head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
                     "Via: 1.1 capsule-proxy\r\n\r\n",
                     status, reason_phrase, bl);
  buf_free (&c->cout);
  buf_append (&c->cout, head, hl);
  buf_append (&c->cout, body, bl);
  c->status = status;
  c->st = ST_DRAIN;
  close_upstream (c);
  buf_free (&c->uout);
}

static void
deny (struct conn *c, int status, const char *phrase, const char *reason)
{
  struct paudit_req r;
  req_audit (c, &r, "deny", reason);
  paudit_decision (c->px, &r);
  c->in_exchange = false;
  if (status == 0)
    {
      /* not HTTP (TLS on the transparent port): just close */
      buf_free (&c->cout);
      c->st = ST_DRAIN;
      close_upstream (c);
      return;
    }
  respond_error (c, status, phrase, reason);
}

/* Add a header line to b. */
static bool
add_hdr (struct buf *b, const char *name, size_t nl, const char *val, size_t vl)
{
  return buf_append (b, name, nl) && buf_append (b, ": ", 2) && buf_append (b, val, vl) && buf_append (b, "\r\n", 2);
}

/* Is header h hop-by-hop for this message (fixed list or named in Connection)? */
static bool
hop_by_hop (const struct http_message *m, const struct http_header *h, bool request)
{
  static const char *fixed[] = { "connection", "keep-alive", "proxy-connection", "proxy-authorization",
                                 "proxy-authenticate", "te", "trailer", "upgrade", NULL };
  for (int i = 0; fixed[i]; i++)
    if (http_header_is (h, fixed[i]))
      return true;
  if (request && http_header_is (h, "host"))
    return true;
  for (size_t i = 0; i < m->n_headers; i++)
    if (http_header_is (&m->headers[i], "connection"))
      {
        char name[64];
        if (h->name_len >= sizeof name)
          continue;
        memcpy (name, h->name, h->name_len);
        name[h->name_len] = '\0';
        /* never let Connection strip the framing headers */
        if (strcasecmp (name, "content-length") == 0 || strcasecmp (name, "transfer-encoding") == 0)
          continue;
        if (http_list_has (m->headers[i].value, m->headers[i].value_len, name))
          return true;
      }
  return false;
}

static bool
same_upstream (struct conn *c, const char *key)
{
  return c->ufd >= 0 && !c->u_eof && strcmp (c->up_key, key) == 0 && c->up_gw_gen == c->px->gw_gen;
}

static int
dial_next (struct conn *c)
{
  while (c->addrs && c->addr_i < c->addrs->n)
    {
      struct sockaddr_storage *sa = &c->addrs->a[c->addr_i++];
      int fd = socket (sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0)
        continue;
      if (c->px->cfg->upstream_mark)
        setsockopt (fd, SOL_SOCKET, SO_MARK, &c->px->cfg->upstream_mark, sizeof c->px->cfg->upstream_mark);
      set_nonblock_opts (fd);
      socklen_t sl = sa->ss_family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6);
      if (connect (fd, (struct sockaddr *) sa, sl) < 0 && errno != EINPROGRESS)
        {
          close (fd);
          continue;
        }
      if (ep_add (c->px, fd, &c->uev) < 0)
        {
          close (fd);
          continue;
        }
      c->ufd = fd;
      c->u_rd = c->u_wr = false;
      c->u_eof = c->u_hup = false;
      c->st = ST_CONNECTING;
      return 0;
    }
  return -1;
}

/* Resolve and check the destination against the SSRF ranges.  Returns 0 and
 * fills c->addrs, or -1 with *why. */
static int
pick_addresses (struct conn *c, const struct egress_rule *rule, const char **why)
{
  c->via_gw = c->px->gateway != NULL;
  if (c->px->gateway)
    {
      /* Everything leaves through the paired gateway, which resolves the
       * name itself; the proxy dials nothing else (an IP-literal host can
       * only have matched an IP-literal rule, which is honoured anyway). */
      if (c->addrs == NULL)
        c->addrs = xmalloc0 (sizeof *c->addrs);
      *c->addrs = *c->px->gateway;
      c->addr_i = 0;
      return 0;
    }
  struct resolve_addrs all;
  if (resolver_get (c->px->resolver, c->host, c->hkind, &all) < 0 || all.n == 0)
    {
      *why = "cannot resolve destination";
      return -1;
    }
  bool literal_rule = rule->kind == EGRESS_HOST_IPV4 || rule->kind == EGRESS_HOST_IPV6;
  if (c->addrs == NULL)
    c->addrs = xmalloc0 (sizeof *c->addrs);
  c->addrs->n = 0;
  for (int i = 0; i < all.n; i++)
    if (literal_rule || rule->trusted || !egress_addr_is_private ((struct sockaddr *) &all.a[i]))
      c->addrs->a[c->addrs->n++] = all.a[i];
  if (c->addrs->n == 0)
    {
      *why = "destination resolves to a private, loopback, link-local or metadata address";
      return -1;
    }
  resolve_set_port (c->addrs, c->port);
  c->addr_i = 0;
  return 0;
}

/* Largest pipe an unprivileged process may ask for (read once). */
static size_t
tunnel_pipe_size (void)
{
  static size_t sz;
  if (sz == 0)
    {
      sz = PIPE_SZ_MAX;
      cleanup_fclose FILE *f = fopen ("/proc/sys/fs/pipe-max-size", "re");
      unsigned long v;
      if (f && fscanf (f, "%lu", &v) == 1 && v < sz)
        sz = v < PIPE_SZ_MIN ? PIPE_SZ_MIN : v;
    }
  return sz;
}

static void
start_tunnel (struct conn *c)
{
  c->st = ST_TUNNEL;
  for (int i = 0; i < 2; i++)
    {
      int p[2];
      if (pipe2 (p, O_NONBLOCK | O_CLOEXEC) == 0)
        {
          int got = fcntl (p[1], F_SETPIPE_SZ, (int) tunnel_pipe_size ());
          if (got < 0)
            got = fcntl (p[1], F_GETPIPE_SZ);
          c->pipe_cap[i] = got > 0 ? (size_t) got : 65536;
          c->pipe_r[i] = p[0];
          c->pipe_w[i] = p[1];
        }
    }
}

/* Decide on a CONNECT or transparent TLS tunnel to c->host:c->port. */
static void
decide_tunnel (struct conn *c, bool send_200)
{
  const struct egress_rule *rule = policy_lookup (c->px->policy, NULL, c->host, c->hkind, c->port, NULL);
  const char *why = NULL;
  if (rule == NULL && (send_200 || c->peeked) && c->px->mitm
      && (policy_host_rule (c->px->policy, c->host, c->hkind) || broker_host_rule (c->host, c->hkind)))
    {
      /* Rules for this host restrict method/path: terminate TLS and check
       * every request inside instead of tunnelling blind.  On the
       * transparent port the ClientHello is still in the socket (peeked)
       * for the TLS server side to read; the original destination must be
       * an address of the SNI host. */
      if (c->transparent)
        {
          if (!resolver_has_addr (c->px->resolver, c->host, c->hkind, (struct sockaddr *) &c->orig_dst))
            {
              deny (c, 0, "", "original destination is not an address of the named host");
              return;
            }
          buf_free (&c->cin);
          c->peeked = false;
        }
      c->rule = xstrdup ("(intercepted: each request is decided)");
      struct paudit_req r;
      req_audit (c, &r, "allow", "TLS intercepted");
      if (paudit_decision (c->px, &r) < 0)
        {
          respond_error (c, 503, "Service Unavailable", "audit log unavailable");
          return;
        }
      free (c->rule);
      c->rule = NULL;
      c->cssl = mitm_server (c->px->mitm, c->host, c->hkind != EGRESS_HOST_NAME, c->cfd);
      if (c->cssl == NULL)
        {
          respond_error (c, 502, "Bad Gateway", "cannot set up TLS interception");
          return;
        }
      c->intercept = true;
      snprintf (c->thost, sizeof c->thost, "%s", c->host);
      c->tkind = c->hkind;
      c->tport = c->port;
      if (send_200)
        buf_append (&c->cout, "HTTP/1.1 200 Connection established\r\nVia: 1.1 capsule-proxy\r\n\r\n", 63);
      c->st = ST_TLS_ACCEPT;
      return;
    }
  if (rule == NULL)
    {
      deny (c, 403, "Forbidden", "no rule allows a tunnel to this host:port");
      return;
    }
  c->rule = xstrdup (rule->text);
  if (pick_addresses (c, rule, &why) < 0)
    {
      deny (c, 403, "Forbidden", why);
      return;
    }
  if (c->transparent && !resolver_has_addr (c->px->resolver, c->host, c->hkind, (struct sockaddr *) &c->orig_dst))
    {
      deny (c, 403, "Forbidden", "original destination is not an address of the named host");
      return;
    }
  struct paudit_req r;
  req_audit (c, &r, "allow", "tunnel");
  if (paudit_decision (c->px, &r) < 0)
    {
      respond_error (c, 503, "Service Unavailable", "audit log unavailable");
      return;
    }
  c->in_exchange = true;
  c->t0_ms = c->px->now_ms;
  c->tunnel_after_connect = true;
  if (send_200)
    buf_append (&c->cout, "HTTP/1.1 200 Connection established\r\nVia: 1.1 capsule-proxy\r\n\r\n", 63);
  c->status = 200;
  if (dial_next (c) < 0)
    {
      c->in_exchange = false;
      respond_error (c, 502, "Bad Gateway", "cannot connect to upstream");
    }
}

/* A name that some rule names and whose addresses are not known yet: the
 * resolver worker looks it up while the loop serves others; the request is
 * parsed and decided again once the answer is in (conn_resolved).  Only
 * names a rule names are ever looked up (no DNS exfiltration). */
static bool
await_resolution (struct conn *c)
{
  if (c->hkind != EGRESS_HOST_NAME || c->px->gateway
      || !(policy_host_rule (c->px->policy, c->host, c->hkind) || broker_host_rule (c->host, c->hkind)))
    return false;
  if (resolver_kick (c->px->resolver, c->host, c->hkind) == 0)
    return false;
  c->resolving = true;
  return true;
}

void
conn_resolved (struct proxy *px)
{
  for (struct conn *c = px->conns, *n; c; c = n)
    {
      n = c->next;
      if (c->resolving && !c->dead)
        {
          c->resolving = false;
          pump (c);
        }
    }
}

/* Parse and decide the request head at the start of cin.  Returns false if
 * more bytes are needed. */
static bool
handle_head (struct conn *c)
{
  struct http_message m;
  const char *why = NULL;
  size_t len = buf_len (&c->cin);
  if (c->broker_held)
    return false; /* waiting for an operator's approval */
  int hl = http_parse_request (c->cin.d + c->cin.s, len, &m, &why);
  if (hl == 0)
    return false;
  c->t0_ms = c->px->now_ms;
  snprintf (c->method, sizeof c->method, "%s", "-");
  c->host[0] = '\0';
  c->port = 0;
  if (hl < 0)
    {
      char reason[128];
      snprintf (reason, sizeof reason, "bad request: %s", why);
      deny (c, strstr (why, "too large") || strstr (why, "too long") ? 431 : 400,
            strstr (why, "too") ? "Request Header Fields Too Large" : "Bad Request", reason);
      return true;
    }
  snprintf (c->method, sizeof c->method, "%.*s", (int) m.method_len, m.method);
  const char *head = c->cin.d + c->cin.s;

  /* Destination: authority (CONNECT), absolute URI, or Host (transparent). */
  const char *auth = NULL, *origin = NULL;
  size_t auth_len = 0, origin_len = 0;
  int default_port = 80;
  if (m.form == HTTP_TARGET_AUTHORITY)
    {
      auth = m.target, auth_len = m.target_len;
      default_port = 0; /* CONNECT needs a port */
    }
  else if (m.form == HTTP_TARGET_ABSOLUTE)
    {
      if (http_split_absolute (m.target, m.target_len, &auth, &auth_len, &origin, &origin_len) < 0)
        {
          deny (c, 400, "Bad Request", "bad request: invalid absolute URI");
          return true;
        }
    }
  else
    {
      if (!c->transparent && !c->intercept)
        {
          deny (c, 400, "Bad Request", "bad request: a proxy request needs an absolute URI");
          return true;
        }
      origin = m.target, origin_len = m.target_len;
      if (m.host_idx < 0)
        {
          deny (c, 400, "Bad Request", "bad request: missing Host");
          return true;
        }
      auth = m.headers[m.host_idx].value, auth_len = m.headers[m.host_idx].value_len;
      default_port = c->intercept ? c->tport : c->orig_dst.ss_family == AF_INET6 ? ntohs (((struct sockaddr_in6 *) &c->orig_dst)->sin6_port)
                                                       : ntohs (((struct sockaddr_in *) &c->orig_dst)->sin_port);
    }
  const char *h;
  size_t h_len;
  if (http_split_authority (auth, auth_len, &h, &h_len, &c->port, default_port) < 0
      || egress_host_normalize (h, h_len, c->host, sizeof c->host, &c->hkind) < 0)
    {
      snprintf (c->host, sizeof c->host, "%.*s", (int) (auth_len < 200 ? auth_len : 200), auth);
      deny (c, 400, "Bad Request", "bad request: invalid host or port (userinfo, non-ASCII or malformed)");
      return true;
    }
  if (c->intercept && (m.form != HTTP_TARGET_ORIGIN || c->port != c->tport || c->hkind != c->tkind
                       || strcmp (c->host, c->thost) != 0))
    {
      deny (c, 403, "Forbidden", "request inside the TLS tunnel names another host than CONNECT (domain fronting)");
      return true;
    }
  if (c->transparent)
    {
      int odp = c->orig_dst.ss_family == AF_INET6 ? ntohs (((struct sockaddr_in6 *) &c->orig_dst)->sin6_port)
                                                  : ntohs (((struct sockaddr_in *) &c->orig_dst)->sin_port);
      if (c->port != odp)
        {
          deny (c, 403, "Forbidden", "Host port differs from the original destination port");
          return true;
        }
    }

  if (await_resolution (c))
    return false;

  if (m.form == HTTP_TARGET_AUTHORITY)
    {
      if (c->transparent || m.content_length > 0 || m.chunked)
        {
          deny (c, 400, "Bad Request", "bad request: CONNECT with a body or on the transparent port");
          return true;
        }
      buf_consume (&c->cin, hl);
      decide_tunnel (c, true);
      return true;
    }
  if (m.upgrade)
    {
      deny (c, 403, "Forbidden", "protocol upgrades are not proxied");
      return true;
    }

  /* Path: normalised, without the query. */
  const char *q = memchr (origin, '?', origin_len);
  size_t plen = q ? (size_t) (q - origin) : origin_len;
  static char npath[EGRESS_PATH_MAX]; /* single-threaded; kept off the heap */
  if (egress_path_normalize (origin, plen, npath, sizeof npath) < 0)
    {
      deny (c, 400, "Bad Request", "bad request: invalid path (bad percent-encoding or characters)");
      return true;
    }
  free (c->path);
  c->path = xstrdup (npath);

  /* Brokered capability: allowed as the capability, refused, or held. */
  const struct egress_rule *rule = NULL;
  struct broker_verdict bv = { 0 };
  {
    struct broker_request br = { .method = c->method, .host = c->host, .hkind = c->hkind, .port = c->port,
                                 .path = c->path, .body = head + hl, .body_len = len - hl,
                                 .content_length = m.content_length, .chunked = m.chunked,
                                 .body_room = BUF_SZ - hl, .approved = c->broker_approved };
    c->broker_approved = false;
    switch (broker_decide (c->px, c, &br, &bv))
      {
      case BROKER_MORE: return false;
      case BROKER_HOLD: c->broker_held = true; return false;
      case BROKER_DENY: deny (c, bv.status, bv.phrase, bv.reason); return true;
      case BROKER_ALLOW: rule = bv.rule; break;
      case BROKER_PASS: break;
      }
  }
  if (rule == NULL)
    rule = policy_lookup (c->px->policy, c->method, c->host, c->hkind, c->port, c->path);
  if (rule == NULL)
    {
      deny (c, 403, "Forbidden", "no rule allows this method, host, port and path");
      return true;
    }
  free (c->rule);
  c->rule = xstrdup (rule->text);
  if (pick_addresses (c, rule, &why) < 0)
    {
      deny (c, 403, "Forbidden", why);
      return true;
    }
  if (c->transparent && !resolver_has_addr (c->px->resolver, c->host, c->hkind, (struct sockaddr *) &c->orig_dst))
    {
      deny (c, 403, "Forbidden", "original destination is not an address of the named host");
      return true;
    }
  if (broker_commit (&bv) < 0) /* a capability's use is counted only now */
    {
      deny (c, bv.status, bv.phrase, bv.reason);
      return true;
    }

  /* Build the upstream request head. */
  buf_free (&c->uout);
  bool ok = buf_ensure (&c->uout);
  ok = ok && buf_append (&c->uout, m.method, m.method_len) && buf_append (&c->uout, " ", 1);
  if (c->px->gateway && !c->intercept)
    {
      /* the gateway is an HTTP proxy: absolute-form, always with the port */
      char abs[EGRESS_HOST_MAX + 24];
      bool v6h = c->hkind == EGRESS_HOST_IPV6;
      int an = snprintf (abs, sizeof abs, "http://%s%s%s:%d", v6h ? "[" : "", c->host, v6h ? "]" : "", c->port);
      ok = ok && an > 0 && (size_t) an < sizeof abs && buf_append (&c->uout, abs, an);
    }
  ok = ok && buf_append (&c->uout, c->path, strlen (c->path));
  if (q)
    ok = ok && buf_append (&c->uout, q, origin + origin_len - q);
  ok = ok && buf_append (&c->uout, " HTTP/1.1\r\n", 11);
  char hostline[EGRESS_HOST_MAX + 16];
  bool v6 = c->hkind == EGRESS_HOST_IPV6;
  int hn = (c->port == 80 && !c->transparent && !c->intercept)
               || ((c->transparent || c->intercept) && m.host_idx >= 0 && !memchr (auth, ':', auth_len))
             ? snprintf (hostline, sizeof hostline, "%s%s%s", v6 ? "[" : "", c->host, v6 ? "]" : "")
             : snprintf (hostline, sizeof hostline, "%s%s%s:%d", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
  ok = ok && add_hdr (&c->uout, "Host", 4, hostline, hn);
  /* Credential bound to this method + host + port + path: the client's own
   * header of that name is replaced, never passed along with it. */
  const struct policy_cred *cred
    = policy_cred_lookup (c->px->policy, c->method, c->host, c->hkind, c->port, c->path);
  drop_secret (c);
  if (cred && cred->secret)
    {
      c->secret = xstrdup (cred->secret);
      c->cred_header = xstrdup (cred->c.header);
      ok = ok && add_hdr (&c->uout, cred->c.header, strlen (cred->c.header), cred->secret, strlen (cred->secret));
    }
  for (size_t i = 0; i < m.n_headers && ok; i++)
    if (!hop_by_hop (&m, &m.headers[i], true)
        && !(c->cred_header && http_header_is (&m.headers[i], c->cred_header)))
      ok = add_hdr (&c->uout, m.headers[i].name, m.headers[i].name_len, m.headers[i].value, m.headers[i].value_len);
  ok = ok && buf_append (&c->uout, "Via: 1.1 capsule-proxy\r\n\r\n", 26);
  if (!ok)
    {
      deny (c, 431, "Request Header Fields Too Large", "bad request: request head too large");
      return true;
    }

  struct paudit_req r;
  char credmsg[128] = "";
  if (c->secret)
    snprintf (credmsg, sizeof credmsg, "credential %s injected as %s", cred->c.name, cred->c.header);
  req_audit (c, &r, "allow", credmsg);
  char key[sizeof c->up_key];
  snprintf (key, sizeof key, "%s%s|%d", c->intercept ? "tls|" : "", c->host, c->port);
  /* On a reused upstream nothing happens before the next pump, so the line
   * can wait for the batch's single write; a new one is dialled right away. */
  bool gated = same_upstream (c, key) && paudit_gate (c->px, c, &r);
  if (!gated && paudit_decision (c->px, &r) < 0)
    {
      respond_error (c, 503, "Service Unavailable", "audit log unavailable");
      return true;
    }
  c->gated = gated;
  c->in_exchange = true;
  c->up_bytes = hl;
  buf_consume (&c->cin, hl);
  (void) head;
  c->head_request = m.method_len == 4 && memcmp (m.method, "HEAD", 4) == 0;
  c->close_after = m.conn_close;
  if (m.chunked)
    http_body_init (&c->reqb, HTTP_BODY_CHUNKED, 0);
  else if (m.content_length > 0)
    http_body_init (&c->reqb, HTTP_BODY_LENGTH, m.content_length);
  else
    http_body_init (&c->reqb, HTTP_BODY_NONE, 0);
  c->resp_head_done = false;
  c->req_pending = c->resp_pending = 0;

  if (same_upstream (c, key))
    c->st = ST_FORWARD;
  else
    {
      close_upstream (c);
      snprintf (c->up_key, sizeof c->up_key, "%s", key);
      c->up_gw_gen = c->px->gw_gen;
      c->tunnel_after_connect = false;
      if (dial_next (c) < 0)
        {
          c->in_exchange = false;
          respond_error (c, 502, "Bad Gateway", "cannot connect to upstream");
        }
      else
        snprintf (c->up_key, sizeof c->up_key, "%s", key);
    }
  return true;
}

/* Transparent listener, first bytes: TLS ClientHello or an HTTP request. */
static bool
handle_transparent_first (struct conn *c)
{
  size_t len = buf_len (&c->cin);
  if (len == 0)
    return false;
  if ((unsigned char) c->cin.d[c->cin.s] != 0x16)
    return handle_head (c);
  char sni[EGRESS_HOST_MAX];
  bool ech = false;
  int r = tls_sni_parse ((const uint8_t *) c->cin.d + c->cin.s, len, sni, sizeof sni, &ech);
  if (r == 0 && len < BUF_SZ)
    return false;
  c->t0_ms = c->px->now_ms;
  snprintf (c->method, sizeof c->method, "TLS");
  c->port = c->orig_dst.ss_family == AF_INET6 ? ntohs (((struct sockaddr_in6 *) &c->orig_dst)->sin6_port)
                                              : ntohs (((struct sockaddr_in *) &c->orig_dst)->sin_port);
  if (r < 0 || r == 0)
    {
      deny (c, 0, "", "malformed TLS ClientHello");
      return true;
    }
  if (ech)
    {
      snprintf (c->host, sizeof c->host, "%s", sni);
      deny (c, 0, "", "ClientHello carries encrypted_client_hello");
      return true;
    }
  if (egress_host_normalize (sni, strlen (sni), c->host, sizeof c->host, &c->hkind) < 0)
    {
      snprintf (c->host, sizeof c->host, "%s", sni);
      deny (c, 0, "", "ClientHello without a valid SNI host name");
      return true;
    }
  if (await_resolution (c))
    return false;
  decide_tunnel (c, false);
  if (c->peeked)
    {
      /* tunnelled blind (or denied): the peeked bytes are taken off the
       * socket now; cin forwards them first */
      c->peeked = false;
      if (read (c->cfd, c->cin.d + c->cin.s, buf_len (&c->cin)) != (ssize_t) buf_len (&c->cin))
        {
          buf_free (&c->cout);
          close_upstream (c);
          c->st = ST_DRAIN; /* cannot happen (the bytes were there): close */
        }
    }
  return true;
}

/* Build the client-side response head from the upstream's.  Returns the
 * number of bytes consumed from uin, 0 if incomplete, -1 on error. */
static int
handle_response_head (struct conn *c)
{
  struct http_message m;
  const char *why;
  int hl = http_parse_response (c->uin.d + c->uin.s, buf_len (&c->uin), &m, &why);
  if (hl <= 0)
    return hl;
  c->status = m.status;
  bool informational = m.status >= 100 && m.status < 200;
  if (m.status == 101)
    return -1; /* we never forward Upgrade */
  if (!informational)
    {
      bool no_body = c->head_request || m.status == 204 || m.status == 304;
      if (no_body)
        http_body_init (&c->respb, HTTP_BODY_NONE, 0);
      else if (m.chunked)
        http_body_init (&c->respb, HTTP_BODY_CHUNKED, 0);
      else if (m.content_length >= 0)
        http_body_init (&c->respb, HTTP_BODY_LENGTH, m.content_length);
      else
        {
          http_body_init (&c->respb, HTTP_BODY_EOF, 0);
          c->close_after = true;
        }
      if (m.conn_close)
        c->u_close_after = true;
    }
  if (!buf_ensure (&c->cout))
    return -1;
  char sl[64];
  int n = snprintf (sl, sizeof sl, "HTTP/1.1 %03d ", m.status);
  const char *line_end = memchr (c->uin.d + c->uin.s, '\r', hl);
  size_t reason_off = 13;
  const char *reason = c->uin.d + c->uin.s + reason_off;
  size_t reason_len = line_end && line_end > reason ? (size_t) (line_end - reason) : 0;
  bool ok = buf_append (&c->cout, sl, n) && buf_append (&c->cout, reason, reason_len) && buf_append (&c->cout, "\r\n", 2);
  for (size_t i = 0; i < m.n_headers && ok; i++)
    if (!hop_by_hop (&m, &m.headers[i], false)
        && !(c->secret && memmem (m.headers[i].value, m.headers[i].value_len, c->secret, strlen (c->secret))))
      ok = add_hdr (&c->cout, m.headers[i].name, m.headers[i].name_len, m.headers[i].value, m.headers[i].value_len);
  ok = ok && buf_append (&c->cout, "Via: 1.1 capsule-proxy\r\n", 24);
  if (c->close_after && !informational)
    ok = ok && buf_append (&c->cout, "Connection: close\r\n", 19);
  ok = ok && buf_append (&c->cout, "\r\n", 2);
  if (!ok)
    return -1;
  if (!informational)
    c->resp_head_done = true;
  return hl;
}

/* I/O helpers: return bytes moved, 0 if nothing (EAGAIN/EOF noted), -1 error.
 * With edge-triggered epoll a short read means the socket was drained (any
 * later arrival raises a new edge), so the next read would only return
 * EAGAIN: skip it, unless the peer hung up (then the EOF must be read). */
static ssize_t
do_read_ssl (int fd, SSL *ssl, struct buf *b, bool *ready, bool *eof, bool hup)
{
  if (!*ready || *eof || !buf_ensure (b))
    return 0;
  size_t room = buf_room (b);
  if (room == 0)
    return 0;
  if (ssl)
    {
      bool again;
      ssize_t r = mitm_read (ssl, b->d + b->e, room, &again, eof);
      if (r > 0)
        b->e += r;
      if (again)
        *ready = false;
      return r;
    }
  ssize_t r = read (fd, b->d + b->e, room);
  if (r > 0)
    {
      b->e += r;
      if ((size_t) r < room && !hup)
        *ready = false;
      return r;
    }
  if (r == 0)
    {
      *eof = true;
      return 0;
    }
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    {
      *ready = false;
      return 0;
    }
  if (errno == EINTR)
    return 0;
  return -1;
}

static ssize_t
do_write (int fd, const char *p, size_t n, bool *ready)
{
  if (!*ready || n == 0)
    return 0;
  ssize_t w = send (fd, p, n, MSG_NOSIGNAL);
  if (w >= 0)
    {
      if ((size_t) w < n)
        *ready = false; /* send buffer full: EPOLLOUT will say when */
      return w;
    }
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    {
      *ready = false;
      return 0;
    }
  if (errno == EINTR)
    return 0;
  return -1;
}

static ssize_t
do_read (int fd, struct buf *b, bool *ready, bool *eof)
{
  return do_read_ssl (fd, NULL, b, ready, eof, true);
}

/* Flush a generated buffer to fd. */
static int
flush_buf (int fd, struct buf *b, bool *ready, bool *progress)
{
  size_t n = buf_len (b);
  if (n == 0)
    return 0;
  ssize_t w = do_write (fd, b->d + b->s, n, ready);
  if (w < 0)
    return -1;
  if (w > 0)
    {
      buf_consume (b, w);
      *progress = true;
    }
  return 0;
}

/* Overwrite occurrences of secret in p[0..n) (best effort: an occurrence
 * split across two reads is not seen). */
static void
redact (char *p, size_t n, const char *secret)
{
  size_t sl = strlen (secret);
  char *q = p;
  while (sl && (q = memmem (q, n - (q - p), secret, sl)) != NULL)
    {
      memset (q, '*', sl);
      q += sl;
    }
}

/* Write a generated buffer a, then bl bytes at b, with one writev.
 * *from_b says how many bytes of b went out (the caller consumes them). */
static int
write2_ssl (int fd, SSL *ssl, struct buf *a, const char *b, size_t bl, bool *ready, size_t *from_b, bool *progress)
{
  *from_b = 0;
  size_t al = buf_len (a);
  if (!*ready || (al == 0 && bl == 0))
    return 0;
  if (ssl)
    {
      /* TLS: the generated part first, then the body bytes */
      bool again;
      ssize_t w = mitm_write (ssl, al ? a->d + a->s : b, al ? al : bl, &again);
      if (w < 0)
        return -1;
      if (again)
        *ready = false;
      if (w > 0)
        {
          *progress = true;
          if (al)
            buf_consume (a, w);
          else
            *from_b = w;
        }
      return 0;
    }
  struct iovec iov[2];
  int n = 0;
  if (al)
    iov[n++] = (struct iovec){ a->d + a->s, al };
  if (bl)
    iov[n++] = (struct iovec){ (void *) b, bl };
  struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
  ssize_t w = sendmsg (fd, &mh, MSG_NOSIGNAL);
  if (w < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          *ready = false;
          return 0;
        }
      return errno == EINTR ? 0 : -1;
    }
  if (w > 0)
    *progress = true;
  if ((size_t) w < al + bl)
    *ready = false; /* send buffer full: EPOLLOUT will say when */
  size_t wa = (size_t) w < al ? (size_t) w : al;
  if (wa)
    buf_consume (a, wa);
  *from_b = w - wa;
  return 0;
}

static int
write2 (int fd, struct buf *a, const char *b, size_t bl, bool *ready, size_t *from_b, bool *progress)
{
  return write2_ssl (fd, NULL, a, b, bl, ready, from_b, progress);
}

/* Tunnel: move bytes one direction with splice through a pipe (or plain
 * copy when the pipe could not be made). */
static int
tunnel_dir (struct conn *c, int dir, bool *progress)
{
  int src = dir == 0 ? c->cfd : c->ufd, dst = dir == 0 ? c->ufd : c->cfd;
  bool *src_rd = dir == 0 ? &c->c_rd : &c->u_rd, *src_eof = dir == 0 ? &c->c_eof : &c->u_eof;
  bool *dst_wr = dir == 0 ? &c->u_wr : &c->c_wr;
  uint64_t *count = dir == 0 ? &c->up_bytes : &c->down_bytes;
  struct buf *pend = dir == 0 ? &c->cin : &c->uin;
  /* leftovers read before the tunnel started go first */
  if (buf_len (pend))
    {
      ssize_t w = do_write (dst, pend->d + pend->s, buf_len (pend), dst_wr);
      if (w < 0)
        return -1;
      if (w > 0)
        {
          buf_consume (pend, w);
          *count += w;
          *progress = true;
        }
      if (buf_len (pend))
        return 0;
    }
  if (c->pipe_r[dir] < 0)
    {
      ssize_t r = do_read (src, pend, src_rd, src_eof);
      if (r < 0)
        return -1;
      if (r > 0)
        *progress = true;
      return 0;
    }
  if (c->pipe_fill[dir] < c->pipe_cap[dir] && *src_rd && !*src_eof)
    {
      ssize_t r = splice (src, NULL, c->pipe_w[dir], NULL, c->pipe_cap[dir] - c->pipe_fill[dir],
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (r > 0)
        {
          c->pipe_fill[dir] += r;
          *progress = true;
        }
      else if (r == 0)
        *src_eof = true;
      else if (errno == EAGAIN)
        {
          /* Either the socket is drained or the pipe is full (pipes fill by
           * page slots, not bytes).  Only an empty pipe proves the former;
           * otherwise retry once the pipe has been drained. */
          if (c->pipe_fill[dir] == 0)
            *src_rd = false;
        }
      else if (errno != EINTR)
        return -1;
    }
  if (c->pipe_fill[dir] > 0 && *dst_wr)
    {
      ssize_t w = splice (c->pipe_r[dir], NULL, dst, NULL, c->pipe_fill[dir], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w > 0)
        {
          c->pipe_fill[dir] -= w;
          *count += w;
          *progress = true;
        }
      else if (w < 0 && errno == EAGAIN)
        *dst_wr = false;
      else if (w < 0 && errno != EINTR)
        return -1;
    }
  return 0;
}

/* The upstream socket is connected (and, through a gateway, tunnelled):
 * start TLS, the tunnel, or the exchange. */
static int
upstream_ready (struct conn *c)
{
  if (c->intercept && !c->tunnel_after_connect)
    {
      c->ussl = mitm_client (c->px->mitm, c->host, c->hkind != EGRESS_HOST_NAME, c->ufd);
      if (c->ussl == NULL)
        return -1;
      c->st = ST_TLS_CONNECT;
      return 0;
    }
  if (c->tunnel_after_connect)
    start_tunnel (c);
  else
    c->st = ST_FORWARD;
  return 0;
}

/* Ask the gateway for a tunnel to host:port (a fresh socket: the few bytes
 * fit its empty send buffer at once). */
static int
gateway_send_connect (struct conn *c)
{
  char req[2 * EGRESS_HOST_MAX + 96];
  bool v6 = c->hkind == EGRESS_HOST_IPV6;
  int n = snprintf (req, sizeof req, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n\r\n", v6 ? "[" : "", c->host,
                    v6 ? "]" : "", c->port, v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
  if (n < 0 || (size_t) n >= sizeof req)
    return -1;
  ssize_t w = send (c->ufd, req, n, MSG_NOSIGNAL);
  return w == n ? 0 : -1;
}

static void
gateway_failed (struct conn *c, const char *why)
{
  if (c->in_exchange)
    {
      c->status = 502;
      exchange_done (c);
    }
  respond_error (c, 502, "Bad Gateway", why);
}

/* Transparent port with interception on, first bytes: peek instead of
 * read, so that a ClientHello to be intercepted is still in the socket for
 * the TLS server side.  Every peek sees the bytes from the start; only new
 * bytes count as progress, and a peek cannot drain the socket, so the next
 * try waits for a new edge.  Anything that is not TLS is consumed at once
 * and handled as before. */
static ssize_t
peek_first (struct conn *c)
{
  if (!c->c_rd || c->c_eof || !buf_ensure (&c->cin))
    return 0;
  size_t had = buf_len (&c->cin);
  c->c_rd = false;
  ssize_t r = recv (c->cfd, c->cin.d, BUF_SZ, MSG_PEEK);
  if (r == 0)
    {
      c->c_eof = true;
      return 0;
    }
  if (r < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  c->cin.s = 0;
  c->cin.e = r;
  c->peeked = true;
  if ((unsigned char) c->cin.d[0] != 0x16)
    {
      c->peeked = false;
      if (read (c->cfd, c->cin.d, r) != r)
        return -1;
      c->c_rd = true; /* consumed: reads work as usual from here */
    }
  return (size_t) r > had ? (ssize_t) ((size_t) r - had) : 0;
}

/* Returns -1 when the connection must be closed now. */
static int
step (struct conn *c, bool *progress)
{
  switch (c->st)
    {
    case ST_HEAD:
      {
        bool was_empty = buf_len (&c->cin) == 0;
        bool first = c->transparent && !c->intercept && c->up_key[0] == '\0' && c->ufd < 0;
        ssize_t r = first && c->px->mitm && (was_empty || c->peeked)
                        ? peek_first (c)
                        : do_read_ssl (c->cfd, c->cssl, &c->cin, &c->c_rd, &c->c_eof, c->c_hup);
        if (r < 0)
          return -1;
        if (r > 0)
          *progress = true;
        if (was_empty && r > 0)
          c->head_start_ms = c->px->now_ms;
        if (buf_len (&c->cin) == 0)
          {
            buf_trim (&c->cin);
            return c->c_eof ? -1 : 0;
          }
        bool decided = first ? handle_transparent_first (c) : handle_head (c);
        if (decided)
          *progress = true;
        else if (c->c_eof && !c->broker_held) /* a held request may be half-closed */
          return -1;
        return 0;
      }
    case ST_CONNECTING:
      {
        if (!c->u_wr)
          return 0;
        int e = 0;
        socklen_t el = sizeof e;
        if (getsockopt (c->ufd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0)
          {
            close (c->ufd);
            c->ufd = -1;
            if (dial_next (c) < 0)
              {
                bool was = c->in_exchange;
                if (was)
                  {
                    c->status = 502;
                    exchange_done (c);
                  }
                respond_error (c, 502, "Bad Gateway", "cannot connect to upstream");
              }
            *progress = true;
            return 0;
          }
        c->u_rd = true;
        *progress = true;
        free (c->addrs);
        c->addrs = NULL;
        if (c->via_gw && (c->tunnel_after_connect || c->intercept))
          {
            if (gateway_send_connect (c) < 0)
              gateway_failed (c, "cannot send CONNECT to the egress gateway");
            else
              c->st = ST_GW_CONNECT;
            return 0;
          }
        return upstream_ready (c);
      }
    case ST_GW_CONNECT:
      {
        ssize_t r = do_read_ssl (c->ufd, NULL, &c->uin, &c->u_rd, &c->u_eof, c->u_hup);
        if (r > 0)
          *progress = true;
        struct http_message m;
        const char *why = NULL;
        int hl = r < 0 || buf_len (&c->uin) == 0 ? 0 : http_parse_response (c->uin.d + c->uin.s, buf_len (&c->uin), &m, &why);
        if (hl == 0 && r >= 0 && !c->u_eof)
          return 0;
        *progress = true;
        if (hl <= 0 || m.status < 200 || m.status > 299)
          {
            gateway_failed (c, "the egress gateway refused the tunnel");
            return 0;
          }
        buf_consume (&c->uin, hl);
        return upstream_ready (c);
      }
    case ST_FORWARD:
      {
        /* client -> upstream: generated head and request body in one writev */
        if (!c->reqb.done || c->req_pending)
          {
            ssize_t r = c->reqb.done ? 0 : do_read_ssl (c->cfd, c->cssl, &c->cin, &c->c_rd, &c->c_eof, c->c_hup);
            if (r < 0)
              return -1;
            if (r > 0)
              *progress = true;
            if (c->req_pending == 0 && !c->reqb.done && buf_len (&c->cin))
              {
                ssize_t k = http_body_scan (&c->reqb, c->cin.d + c->cin.s, buf_len (&c->cin));
                if (k < 0)
                  return -1; /* framing error mid-body: nothing sane to answer */
                c->req_pending = k;
              }
          }
        {
          size_t from_body = 0;
          if (write2_ssl (c->ufd, c->ussl, &c->uout, c->cin.d ? c->cin.d + c->cin.s : NULL, c->req_pending, &c->u_wr, &from_body,
                      progress) < 0)
            return -1;
          if (from_body)
            {
              buf_consume (&c->cin, from_body);
              c->req_pending -= from_body;
              c->up_bytes += from_body;
            }
          if (c->c_eof && !c->reqb.done && c->req_pending == 0)
            return -1;
        }

        /* upstream -> client: response head(s) and body in one writev */
        {
          ssize_t r = (c->resp_head_done && c->respb.done) ? 0 : do_read_ssl (c->ufd, c->ussl, &c->uin, &c->u_rd, &c->u_eof, c->u_hup);
          if (r < 0)
            {
              c->u_eof = true;
              if (!c->resp_head_done && buf_len (&c->cout) == 0)
                {
                  c->status = 502;
                  exchange_done (c);
                  respond_error (c, 502, "Bad Gateway", "upstream connection failed");
                  *progress = true;
                  return 0;
                }
              return -1;
            }
          if (r > 0)
            *progress = true;
          if (!c->resp_head_done && buf_len (&c->cout) == 0 && buf_len (&c->uin))
            {
              int hl = handle_response_head (c);
              if (hl < 0)
                {
                  c->status = 502;
                  exchange_done (c);
                  respond_error (c, 502, "Bad Gateway", "malformed response from upstream");
                  *progress = true;
                  return 0;
                }
              if (hl > 0)
                {
                  buf_consume (&c->uin, hl);
                  c->down_bytes += hl;
                  *progress = true;
                }
            }
          if (c->resp_head_done && !c->respb.done && c->resp_pending == 0 && buf_len (&c->uin))
            {
              ssize_t k = http_body_scan (&c->respb, c->uin.d + c->uin.s, buf_len (&c->uin));
              if (k < 0)
                return -1;
              c->resp_pending = k;
              if (c->secret)
                redact (c->uin.d + c->uin.s, k, c->secret);
            }
          size_t from_body = 0;
          if (write2_ssl (c->cfd, c->cssl, &c->cout, c->uin.d ? c->uin.d + c->uin.s : NULL, c->resp_pending, &c->c_wr, &from_body,
                      progress) < 0)
            return -1;
          if (from_body)
            {
              buf_consume (&c->uin, from_body);
              c->resp_pending -= from_body;
              c->down_bytes += from_body;
            }
          if (c->u_eof && c->resp_pending == 0 && buf_len (&c->cout) == 0)
            {
              if (c->resp_head_done && c->respb.kind == HTTP_BODY_EOF)
                c->respb.done = true;
              else if (!(c->resp_head_done && c->respb.done))
                {
                  if (!c->resp_head_done && c->down_bytes == 0)
                    {
                      c->status = 502;
                      exchange_done (c);
                      respond_error (c, 502, "Bad Gateway", "upstream closed without a response");
                      *progress = true;
                      return 0;
                    }
                  return -1;
                }
            }
        }
        /* exchange complete? */
        if (c->resp_head_done && c->respb.done && c->resp_pending == 0 && buf_len (&c->cout) == 0)
          {
            bool req_complete = c->reqb.done && c->req_pending == 0;
            exchange_done (c);
            if (!req_complete)
              c->close_after = true;
            if (c->u_close_after || buf_len (&c->uin) || c->close_after)
              close_upstream (c); /* extra bytes from upstream = broken framing */
            c->u_close_after = false;
            /* buffers stay while the connection is busy; conn_timers frees
             * them once it has been idle for a second */
            if (c->close_after)
              return -1;
            c->st = ST_HEAD;
            *progress = true;
          }
        return 0;
      }
    case ST_TLS_ACCEPT:
      {
        size_t unused;
        if (write2 (c->cfd, &c->cout, NULL, 0, &c->c_wr, &unused, progress) < 0)
          return -1;
        if (buf_len (&c->cout))
          return 0;
        if (buf_len (&c->cin))
          return -1; /* client spoke before the 200: not TLS through CONNECT */
        bool wr, ww;
        int h = mitm_handshake (c->cssl, &wr, &ww);
        if (h < 0)
          return -1; /* the client does not trust the run's CA, or not TLS */
        if (h == 0)
          {
            if (wr)
              c->c_rd = false;
            if (ww)
              c->c_wr = false;
            return 0;
          }
        const char *sni = mitm_sni (c->cssl);
        char nsni[EGRESS_HOST_MAX];
        enum egress_host_kind sk;
        if (sni && (egress_host_normalize (sni, strlen (sni), nsni, sizeof nsni, &sk) < 0 || strcmp (nsni, c->thost) != 0))
          {
            snprintf (c->method, sizeof c->method, "TLS");
            snprintf (c->host, sizeof c->host, "%s", sni);
            struct paudit_req r;
            req_audit (c, &r, "deny", "TLS SNI differs from the CONNECT host (domain fronting)");
            paudit_decision (c->px, &r);
            return -1;
          }
        c->st = ST_HEAD;
        c->head_start_ms = c->px->now_ms;
        *progress = true;
        return 0;
      }
    case ST_TLS_CONNECT:
      {
        bool wr, ww;
        int h = mitm_handshake (c->ussl, &wr, &ww);
        if (h < 0)
          {
            c->status = 502;
            exchange_done (c);
            respond_error (c, 502, "Bad Gateway", "upstream TLS handshake or certificate verification failed");
            *progress = true;
            return 0;
          }
        if (h == 0)
          {
            if (wr)
              c->u_rd = false;
            if (ww)
              c->u_wr = false;
            return 0;
          }
        unsigned char spki[32];
        if (mitm_peer_spki_sha256 (c->ussl, spki) < 0 || policy_pin_check (c->px->policy, c->host, spki) == 0)
          {
            c->status = 502;
            exchange_done (c);
            paudit_event (c->px, "egress.tls-pin-mismatch", c->host);
            respond_error (c, 502, "Bad Gateway", "upstream key does not match the pinned SPKI");
            *progress = true;
            return 0;
          }
        c->st = ST_FORWARD;
        *progress = true;
        return 0;
      }
    case ST_TUNNEL:
      {
        if (flush_buf (c->cfd, &c->cout, &c->c_wr, progress) < 0)
          return -1;
        if (buf_len (&c->cout))
          return 0;
        if (tunnel_dir (c, 0, progress) < 0 || tunnel_dir (c, 1, progress) < 0)
          return -1;
        /* half-close propagation */
        if (c->c_eof && c->pipe_fill[0] == 0 && buf_len (&c->cin) == 0 && c->ufd >= 0)
          shutdown (c->ufd, SHUT_WR);
        if (c->u_eof && c->pipe_fill[1] == 0 && buf_len (&c->uin) == 0)
          shutdown (c->cfd, SHUT_WR);
        if (c->c_eof && c->u_eof && c->pipe_fill[0] == 0 && c->pipe_fill[1] == 0)
          return -1;
        return 0;
      }
    case ST_DRAIN:
      {
        size_t unused;
        if (write2_ssl (c->cfd, c->cssl, &c->cout, NULL, 0, &c->c_wr, &unused, progress) < 0)
          return -1;
        if (buf_len (&c->cout) == 0)
          return -1;
        return 0;
      }
    }
  return 0;
}

static void
pump (struct conn *c)
{
  for (int guard = 0; guard < 10000 && !c->gated; guard++)
    {
      bool progress = false;
      if (step (c, &progress) < 0)
        {
          if (c->in_exchange)
            exchange_done (c);
          conn_free (c);
          return;
        }
      if (!progress)
        break;
    }
  c->last_ms = c->px->now_ms;
}

void
conn_event (struct proxy *px, struct ev *ev, uint32_t events)
{
  (void) px;
  struct conn *c = ev->obj;
  if (c->dead)
    return;
  bool up = ev->kind == EV_UPSTREAM;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    *(up ? &c->u_rd : &c->c_rd) = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    *(up ? &c->u_hup : &c->c_hup) = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
    *(up ? &c->u_wr : &c->c_wr) = true;
  pump (c);
}

void
conn_timers (struct proxy *px)
{
  uint64_t now = px->now_ms;
  bool busy = false;
  for (struct conn *c = px->conns, *n; c; c = n)
    {
      n = c->next;
      if (c->broker_held)
        {
          busy = true; /* the broker times it out */
          continue;
        }
      if (c->st == ST_HEAD && buf_len (&c->cin) > 0 && now - c->head_start_ms > (uint64_t) px->cfg->header_timeout_ms)
        {
          snprintf (c->method, sizeof c->method, "-");
          c->host[0] = '\0';
          c->port = 0;
          deny (c, 408, "Request Timeout", "request head not received in time");
          pump (c);
        }
      else if (now - c->last_ms > (uint64_t) px->cfg->idle_timeout_ms)
        {
          if (c->in_exchange)
            exchange_done (c);
          conn_free (c);
        }
      else if (c->st != ST_HEAD || now - c->last_ms < 1000)
        busy = true;
      else
        {
          /* idle keep-alive connection: hold no buffers */
          buf_trim (&c->cin);
          buf_trim (&c->cout);
          buf_trim (&c->uin);
          buf_trim (&c->uout);
          free (c->addrs);
          c->addrs = NULL;
        }
    }
  /* nothing busy: the pool's pages are not needed either */
  if (!busy)
    conn_release_pool ();
}

/* broker.c: the held request of c was decided. */
void
conn_broker_resume (struct conn *c, bool approved, int status, const char *reason)
{
  c->broker_held = false;
  c->broker_approved = approved;
  c->last_ms = c->head_start_ms = c->px->now_ms;
  if (!approved)
    deny (c, status, status == 429 ? "Too Many Requests" : "Forbidden", reason);
  pump (c);
}

void
conn_close_all (struct proxy *px)
{
  while (px->conns)
    {
      if (px->conns->in_exchange)
        exchange_done (px->conns);
      conn_free (px->conns);
    }
}
