/* capsule-proxy: the capsule's egress proxy sidecar (SPEC §7).
 *
 *   capsule-proxy --listen ADDR:PORT [--transparent ADDR:PORT] [--dns ADDR:PORT]
 *                 --allow RULE [--allow RULE ...] --audit FILE [--config FILE]
 *                 [--listen-fd N] [--transparent-fd N] [--dns-fd N] [--dns-tcp-fd N]
 *                 [--capsule-id ID] [--upstream-mark N] [--max-conns N] [--check]
 *                 [--gateway HOST:PORT]
 *   capsule-proxy audit-verify FILE [--head SEQ:HASH]
 */
#include "proxy.h"
#include "util.h"

#include "log.h"
#include "mitm.h"
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t
proxy_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The once-a-second fdatasync of the audit log runs on its own thread: on a
 * busy disk it can take hundreds of milliseconds, and on the event loop
 * that stall would land on every request in flight (the p99).  Lines are
 * still written with write(2) on the loop before their decision takes
 * effect; only the flush to disk is moved.  fdatasync on a second fd of the
 * same file flushes the file. */
struct syncer
{
  int fd;
  atomic_int pending;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

static void *
syncer_main (void *arg)
{
  struct syncer *sy = arg;
  pthread_mutex_lock (&sy->mu);
  for (;;)
    {
      while (atomic_load (&sy->pending) == 0)
        pthread_cond_wait (&sy->cv, &sy->mu);
      atomic_store (&sy->pending, 0);
      pthread_mutex_unlock (&sy->mu);
      fdatasync (sy->fd);
      pthread_mutex_lock (&sy->mu);
    }
  return NULL;
}

static struct syncer *
syncer_start (const char *path)
{
  static struct syncer sy;
  sy.fd = open (path, O_RDONLY | O_CLOEXEC);
  if (sy.fd < 0)
    return NULL;
  pthread_mutex_init (&sy.mu, NULL);
  pthread_cond_init (&sy.cv, NULL);
  pthread_attr_t at;
  pthread_t t;
  pthread_attr_init (&at);
  pthread_attr_setdetachstate (&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize (&at, 64 * 1024);
  int e = pthread_create (&t, &at, syncer_main, &sy);
  pthread_attr_destroy (&at);
  if (e != 0)
    {
      close (sy.fd);
      return NULL;
    }
  return &sy;
}

static void
syncer_kick (struct syncer *sy)
{
  pthread_mutex_lock (&sy->mu);
  atomic_store (&sy->pending, 1);
  pthread_cond_signal (&sy->cv);
  pthread_mutex_unlock (&sy->mu);
}

static int
cmd_audit_verify (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: capsule-proxy audit-verify FILE [--head SEQ:HASH]\n");
      return 2;
    }
  uint64_t seq = 0;
  const char *hash = NULL;
  if (argc >= 4 && strcmp (argv[2], "--head") == 0)
    {
      char *colon = strchr (argv[3], ':');
      seq = strtoull (argv[3], NULL, 10);
      hash = colon ? colon + 1 : NULL;
    }
  uint64_t bad = 0;
  char *why = NULL;
  cr_error_t err = NULL;
  int r = audit_verify_head (argv[1], seq, hash, &bad, &why, &err);
  if (r < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      cr_error_release (&err);
      return 2;
    }
  if (r > 0)
    {
      printf ("%s: line %" PRIu64 ": %s\n", argv[1], bad, why);
      free (why);
      return 1;
    }
  printf ("%s: chain intact\n", argv[1]);
  return 0;
}

static int
bind_listener (const char *addr, int type, cr_error_t *err)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  if (config_parse_addr (addr, &ss, &sl, err) < 0)
    return -1;
  int fd = socket (ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cr_error_errno (err, "socket for `%s`", addr);
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &ss, sl) < 0)
    {
      close (fd);
      return cr_error_errno (err, "binding `%s`", addr);
    }
  if (type == SOCK_STREAM && listen (fd, 4096) < 0)
    {
      close (fd);
      return cr_error_errno (err, "listening on `%s`", addr);
    }
  return fd;
}

static int
ep_watch (struct proxy *px, int fd, struct ev *ev, enum ev_kind kind)
{
  ev->kind = kind;
  ev->obj = NULL;
  struct epoll_event e = { .events = EPOLLIN, .data.ptr = ev };
  return epoll_ctl (px->epfd, EPOLL_CTL_ADD, fd, &e);
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: capsule-proxy --listen ADDR:PORT [--transparent ADDR:PORT] [--dns ADDR:PORT]\n"
              "                     --allow RULE [--allow RULE ...] --audit FILE [--config FILE] [--check]\n"
              "                     [--listen-fd N] [--transparent-fd N] [--dns-fd N] [--dns-tcp-fd N]\n"
              "                     [--capsule-id ID] [--upstream-mark N] [--max-conns N] [--dns-pin HOST=IP[,IP]]\n"
              "                     [--credential NAME@RULE=Header --secrets-dir DIR]\n"
              "                     [--ca-out FILE [--upstream-ca FILE] [--tls-pin HOST=sha256/B64]]  (TLS interception)\n"
              "                     [--gateway HOST:PORT]  (every allowed request leaves through this HTTP proxy)\n"
              "       capsule-proxy audit-verify FILE [--head SEQ:HASH]\n");
}

static int
parse_fd (const char *s)
{
  char *end;
  long v = strtol (s, &end, 10);
  return (*end || v < 0 || v > 1 << 20) ? -2 : (int) v;
}

/* Load everything that SIGHUP reloads: rules, pins (config file + flags). */
static int
load_policy (struct proxy_config *flags, bool reload, struct policy **pol, struct resolver **res, cr_error_t *err)
{
  struct proxy_config eff = *flags;
  eff.reload = reload;
  /* the file's lists are appended to copies of the flag lists */
  eff.rules = NULL, eff.n_rules = 0, eff.annot_rules = NULL, eff.n_annot = 0, eff.pins = NULL, eff.n_pins = 0;
  struct proxy_config file;
  config_init (&file);
  int ret = 0;
  if (flags->config_path && config_load_json (&file, flags->config_path, err) < 0)
    ret = -1;
  if (ret == 0)
    {
      size_t nr = flags->n_rules + file.n_rules;
      char **rules = xmalloc0 ((nr + 1) * sizeof *rules);
      for (size_t i = 0; i < flags->n_rules; i++)
        rules[i] = flags->rules[i];
      for (size_t i = 0; i < file.n_rules; i++)
        rules[flags->n_rules + i] = file.rules[i];
      eff.rules = rules, eff.n_rules = nr;
      eff.annot_rules = file.annot_rules, eff.n_annot = file.n_annot;
      eff.pins = file.pins, eff.n_pins = file.n_pins;
      char **pins = NULL;
      if (flags->n_pins)
        {
          pins = xmalloc0 ((flags->n_pins + file.n_pins) * sizeof *pins);
          for (size_t i = 0; i < file.n_pins; i++)
            pins[i] = file.pins[i];
          for (size_t i = 0; i < flags->n_pins; i++)
            pins[file.n_pins + i] = flags->pins[i];
          eff.pins = pins, eff.n_pins = file.n_pins + flags->n_pins;
        }
      /* credentials: the flags' then the file's; secrets_dir: flag wins */
      size_t nc = flags->n_creds + file.n_creds;
      char **cr = xmalloc0 ((nc + 1) * sizeof *cr), **cf = xmalloc0 ((nc + 1) * sizeof *cf);
      for (size_t i = 0; i < flags->n_creds; i++)
        cr[i] = flags->cred_rules[i], cf[i] = flags->cred_files[i];
      for (size_t i = 0; i < file.n_creds; i++)
        cr[flags->n_creds + i] = file.cred_rules[i], cf[flags->n_creds + i] = file.cred_files[i];
      eff.cred_rules = cr, eff.cred_files = cf, eff.n_creds = nc;
      eff.secrets_dir = flags->secrets_dir ? flags->secrets_dir : file.secrets_dir;
      size_t nt = flags->n_tls_pins + file.n_tls_pins;
      char **tp = xmalloc0 ((nt + 1) * sizeof *tp);
      for (size_t i = 0; i < flags->n_tls_pins; i++)
        tp[i] = flags->tls_pins[i];
      for (size_t i = 0; i < file.n_tls_pins; i++)
        tp[flags->n_tls_pins + i] = file.tls_pins[i];
      eff.tls_pins = tp, eff.n_tls_pins = nt;
      ret = config_build_policy (&eff, pol, res, err);
      free (rules);
      free (pins);
      free (cr);
      free (cf);
      free (tp);
    }
  config_free (&file);
  return ret;
}

int
main (int argc, char **argv)
{
  cr_log_progname = "capsule-proxy";
  if (argc >= 2 && strcmp (argv[1], "audit-verify") == 0)
    return cmd_audit_verify (argc - 1, argv + 1);

  struct proxy_config cfg;
  config_init (&cfg);
  enum
  {
    O_LISTEN = 256, O_TRANSPARENT, O_DNS, O_ALLOW, O_AUDIT, O_CONFIG, O_CHECK, O_LFD, O_TFD, O_DFD, O_DTFD, O_ID,
    O_MARK, O_MAXC, O_PIN, O_CRED, O_SECRETS, O_CAOUT, O_UPCA, O_TLSPIN, O_HELP, O_GATEWAY
  };
  static const struct option opts[] = {
    { "listen", required_argument, NULL, O_LISTEN },       { "transparent", required_argument, NULL, O_TRANSPARENT },
    { "dns", required_argument, NULL, O_DNS },             { "allow", required_argument, NULL, O_ALLOW },
    { "audit", required_argument, NULL, O_AUDIT },         { "config", required_argument, NULL, O_CONFIG },
    { "check", no_argument, NULL, O_CHECK },               { "listen-fd", required_argument, NULL, O_LFD },
    { "transparent-fd", required_argument, NULL, O_TFD },  { "dns-fd", required_argument, NULL, O_DFD },
    { "dns-tcp-fd", required_argument, NULL, O_DTFD },     { "capsule-id", required_argument, NULL, O_ID },
    { "upstream-mark", required_argument, NULL, O_MARK },  { "max-conns", required_argument, NULL, O_MAXC },
    { "dns-pin", required_argument, NULL, O_PIN },         { "help", no_argument, NULL, O_HELP },
    { "credential", required_argument, NULL, O_CRED },     { "secrets-dir", required_argument, NULL, O_SECRETS },
    { "tls-pin", required_argument, NULL, O_TLSPIN },
    { "ca-out", required_argument, NULL, O_CAOUT },        { "upstream-ca", required_argument, NULL, O_UPCA },
    { "gateway", required_argument, NULL, O_GATEWAY },
    { NULL, 0, NULL, 0 }
  };
  /* flags that must win over the config file */
  char *f_caout = NULL, *f_upca = NULL, *f_gateway = NULL;
  char *f_listen = NULL, *f_transparent = NULL, *f_dns = NULL, *f_audit = NULL, *f_id = NULL;
  int f_lfd = -1, f_tfd = -1, f_dfd = -1, f_dtfd = -1, f_maxc = 0;
  long long f_mark = -1;
  int c;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    {
      switch (c)
        {
        case O_LISTEN: f_listen = optarg; break;
        case O_TRANSPARENT: f_transparent = optarg; break;
        case O_DNS: f_dns = optarg; break;
        case O_ALLOW:
          cfg.rules = realloc (cfg.rules, (cfg.n_rules + 1) * sizeof *cfg.rules);
          cfg.rules[cfg.n_rules++] = xstrdup (optarg);
          break;
        case O_PIN:
          cfg.pins = realloc (cfg.pins, (cfg.n_pins + 1) * sizeof *cfg.pins);
          cfg.pins[cfg.n_pins++] = xstrdup (optarg);
          break;
        case O_AUDIT: f_audit = optarg; break;
        case O_CAOUT: f_caout = optarg; break;
        case O_TLSPIN:
          cfg.tls_pins = realloc (cfg.tls_pins, (cfg.n_tls_pins + 1) * sizeof *cfg.tls_pins);
          cfg.tls_pins[cfg.n_tls_pins++] = xstrdup (optarg);
          break;
        case O_UPCA: f_upca = optarg; break;
        case O_GATEWAY: f_gateway = optarg; break;
        case O_CRED: config_add_cred (&cfg, optarg, NULL); break;
        case O_SECRETS: free (cfg.secrets_dir); cfg.secrets_dir = xstrdup (optarg); break;
        case O_CONFIG: cfg.config_path = xstrdup (optarg); break;
        case O_CHECK: cfg.check = true; break;
        case O_LFD: f_lfd = parse_fd (optarg); break;
        case O_TFD: f_tfd = parse_fd (optarg); break;
        case O_DFD: f_dfd = parse_fd (optarg); break;
        case O_DTFD: f_dtfd = parse_fd (optarg); break;
        case O_ID: f_id = optarg; break;
        case O_MARK: f_mark = strtoll (optarg, NULL, 0); break;
        case O_MAXC: f_maxc = atoi (optarg); break;
        case O_HELP: usage (stdout); return 0;
        default: usage (stderr); return 2;
        }
    }
  if (optind < argc || f_lfd == -2 || f_tfd == -2 || f_dfd == -2 || f_dtfd == -2)
    {
      usage (stderr);
      return 2;
    }

  cr_error_t err = NULL;
  /* Addresses and ids from the config file, overridden by flags. */
  if (cfg.config_path)
    {
      struct proxy_config file;
      config_init (&file);
      if (config_load_json (&file, cfg.config_path, &err) < 0)
        {
          fprintf (stderr, "capsule-proxy: %s\n", err->msg);
          return 1;
        }
      cfg.capsule_id = file.capsule_id ? xstrdup (file.capsule_id) : NULL;
      cfg.listen = file.listen ? xstrdup (file.listen) : NULL;
      cfg.transparent = file.transparent ? xstrdup (file.transparent) : NULL;
      cfg.dns = file.dns ? xstrdup (file.dns) : NULL;
      cfg.audit_path = file.audit_path ? xstrdup (file.audit_path) : NULL;
      cfg.ca_out = file.ca_out ? xstrdup (file.ca_out) : NULL;
      cfg.upstream_ca = file.upstream_ca ? xstrdup (file.upstream_ca) : NULL;
      cfg.gateway = file.gateway ? xstrdup (file.gateway) : NULL;
      cfg.listen_fd = file.listen_fd, cfg.transparent_fd = file.transparent_fd;
      cfg.dns_fd = file.dns_fd, cfg.dns_tcp_fd = file.dns_tcp_fd;
      cfg.max_conns = file.max_conns, cfg.idle_timeout_ms = file.idle_timeout_ms;
      cfg.header_timeout_ms = file.header_timeout_ms, cfg.upstream_mark = file.upstream_mark;
      config_free (&file);
    }
#define OVERRIDE_STR(field, v)                                                                                         \
  if (v)                                                                                                               \
    {                                                                                                                  \
      free (cfg.field);                                                                                                \
      cfg.field = xstrdup (v);                                                                                         \
    }
  OVERRIDE_STR (listen, f_listen);
  OVERRIDE_STR (transparent, f_transparent);
  OVERRIDE_STR (dns, f_dns);
  OVERRIDE_STR (audit_path, f_audit);
  OVERRIDE_STR (capsule_id, f_id);
  OVERRIDE_STR (ca_out, f_caout);
  OVERRIDE_STR (upstream_ca, f_upca);
  OVERRIDE_STR (gateway, f_gateway);
  if (f_lfd >= 0)
    cfg.listen_fd = f_lfd;
  if (f_tfd >= 0)
    cfg.transparent_fd = f_tfd;
  if (f_dfd >= 0)
    cfg.dns_fd = f_dfd;
  if (f_dtfd >= 0)
    cfg.dns_tcp_fd = f_dtfd;
  if (f_mark >= 0)
    cfg.upstream_mark = f_mark;
  if (f_maxc > 0)
    cfg.max_conns = f_maxc;
  if (!cfg.capsule_id)
    cfg.capsule_id = xstrdup ("");

  struct proxy px = { 0 };
  px.cfg = &cfg;
  px.listen_fd = px.transparent_fd = px.dns_fd = px.dns_tcp_fd = -1;
  if (load_policy (&cfg, false, &px.policy, &px.resolver, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }
  /* The paired gateway: every allowed request leaves through it. */
  struct resolve_addrs gw_addrs;
  if (cfg.gateway && *cfg.gateway)
    {
      if (resolve_hostport (cfg.gateway, &gw_addrs, !cfg.check, &err) < 0)
        {
          fprintf (stderr, "capsule-proxy: %s\n", err->msg);
          return 1;
        }
      px.gateway = &gw_addrs;
    }
  if (cfg.check)
    {
      int rc = 0;
      if (!cfg.listen && cfg.listen_fd < 0 && !cfg.transparent && cfg.transparent_fd < 0)
        {
          fprintf (stderr, "capsule-proxy: no listener configured (--listen, --transparent or their fds)\n");
          rc = 1;
        }
      struct sockaddr_storage ss;
      socklen_t sl;
      const char *addrs[] = { cfg.listen, cfg.transparent, cfg.dns };
      for (int i = 0; i < 3 && rc == 0; i++)
        if (addrs[i] && config_parse_addr (addrs[i], &ss, &sl, &err) < 0)
          {
            fprintf (stderr, "capsule-proxy: %s\n", err->msg);
            cr_error_release (&err);
            rc = 1;
          }
      if (rc == 0)
        printf ("capsule-proxy: configuration ok (%zu rules)\n", policy_count (px.policy));
      policy_free (px.policy);
      resolver_free (px.resolver);
      config_free (&cfg);
      return rc;
    }
  if (!cfg.audit_path)
    {
      fprintf (stderr, "capsule-proxy: --audit FILE is required\n");
      return 2;
    }
  if (audit_open (cfg.audit_path, &px.audit, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }

  if (cfg.ca_out && mitm_new (cfg.ca_out, cfg.upstream_ca, &px.mitm, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }

  /* Listening sockets: inherited or bound. */
  struct
  {
    const char *addr;
    int fd;
    int *dst;
    int type;
  } socks[] = {
    { cfg.listen, cfg.listen_fd, &px.listen_fd, SOCK_STREAM },
    { cfg.transparent, cfg.transparent_fd, &px.transparent_fd, SOCK_STREAM },
    { cfg.dns, cfg.dns_fd, &px.dns_fd, SOCK_DGRAM },
    { cfg.dns, cfg.dns_tcp_fd, &px.dns_tcp_fd, SOCK_STREAM },
  };
  for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++)
    {
      if (socks[i].fd >= 0)
        {
          *socks[i].dst = socks[i].fd;
          fcntl (socks[i].fd, F_SETFL, fcntl (socks[i].fd, F_GETFL) | O_NONBLOCK);
          fcntl (socks[i].fd, F_SETFD, FD_CLOEXEC);
        }
      else if (socks[i].addr && (i != 3 || cfg.dns_fd < 0))
        {
          *socks[i].dst = bind_listener (socks[i].addr, socks[i].type, &err);
          if (*socks[i].dst < 0)
            {
              fprintf (stderr, "capsule-proxy: %s\n", err->msg);
              return 1;
            }
        }
    }
  if (px.listen_fd < 0 && px.transparent_fd < 0)
    {
      fprintf (stderr, "capsule-proxy: no listener configured (--listen, --transparent or their fds)\n");
      return 2;
    }

  /* More fds than the default 1024 for many keep-alive connections. */
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  signal (SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset (&mask);
  sigaddset (&mask, SIGHUP);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  int sfd = signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  px.epfd = epoll_create1 (EPOLL_CLOEXEC);
  struct ev sig_ev;
  if (px.epfd < 0 || sfd < 0)
    {
      perror ("capsule-proxy: epoll/signalfd");
      return 1;
    }
  ep_watch (&px, sfd, &sig_ev, EV_SIGNAL);
  if (px.listen_fd >= 0)
    ep_watch (&px, px.listen_fd, &px.listen_ev, EV_LISTEN);
  if (px.transparent_fd >= 0)
    ep_watch (&px, px.transparent_fd, &px.transparent_ev, EV_TRANSPARENT);
  if (px.dns_fd >= 0)
    ep_watch (&px, px.dns_fd, &px.dns_ev, EV_DNS_UDP);
  if (px.dns_tcp_fd >= 0)
    ep_watch (&px, px.dns_tcp_fd, &px.dns_tcp_ev, EV_DNS_TCP_LISTEN);
  /* Names are looked up by a worker thread: the loop never waits on DNS. */
  if (resolver_start_async (px.resolver, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }
  ep_watch (&px, resolver_event_fd (px.resolver), &px.resolver_ev, EV_RESOLVER);

  if (broker_start (&px, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }

  char detail[256];
  snprintf (detail, sizeof detail, "pid %d, %zu rules", (int) getpid (), policy_count (px.policy));
  paudit_event (&px, "proxy.start", detail);
  audit_sync (px.audit, NULL);
  struct syncer *syncer = syncer_start (cfg.audit_path); /* NULL: sync on the loop */
  fprintf (stderr, "capsule-proxy: ready (%s)\n", detail);

  px.now_ms = proxy_now_ms ();
  uint64_t last_timer = px.now_ms;
  bool running = true;
  while (running)
    {
      struct epoll_event evs[256];
      int n = epoll_wait (px.epfd, evs, 256, 1000);
      px.now_ms = proxy_now_ms ();
      audit_hold (px.audit, true); /* one flock per batch of events */
      px.batching = true;
      for (int i = 0; i < n; i++)
        {
          struct ev *ev = evs[i].data.ptr;
          if (broker_event (&px, ev))
            continue;
          switch (ev->kind)
            {
            case EV_LISTEN: conn_accept (&px, px.listen_fd, false); break;
            case EV_TRANSPARENT: conn_accept (&px, px.transparent_fd, true); break;
            case EV_DNS_UDP: dns_udp_event (&px); break;
            case EV_DNS_TCP_LISTEN: dns_tcp_accept (&px); break;
            case EV_DNS_TCP: dns_tcp_event (&px, ev, evs[i].events); break;
            case EV_CLIENT:
            case EV_UPSTREAM:
              conn_event (&px, ev, evs[i].events);
              break;
            case EV_RESOLVER:
              if (resolver_collect (px.resolver) > 0)
                {
                  conn_resolved (&px);
                  dns_resolved (&px);
                }
              break;
            case EV_SIGNAL:
              {
                struct signalfd_siginfo si;
                while (read (sfd, &si, sizeof si) == sizeof si)
                  {
                    if (si.ssi_signo == SIGHUP)
                      {
                        struct policy *np = NULL;
                        struct resolver *nr = NULL;
                        if (load_policy (&cfg, true, &np, &nr, &err) < 0
                            || (resolver_adopt (nr, px.resolver), resolver_start_async (nr, &err)) < 0)
                          {
                            fprintf (stderr, "capsule-proxy: reload failed, keeping the old policy: %s\n", err->msg);
                            paudit_event (&px, "proxy.reload-failed", err->msg);
                            cr_error_release (&err);
                            policy_free (np);
                            resolver_free (nr);
                          }
                        else
                          {
                            /* connections copy what they need: swap at once */
                            policy_free (px.policy);
                            epoll_ctl (px.epfd, EPOLL_CTL_DEL, resolver_event_fd (px.resolver), NULL);
                            resolver_free (px.resolver);
                            px.policy = np;
                            px.resolver = nr;
                            ep_watch (&px, resolver_event_fd (nr), &px.resolver_ev, EV_RESOLVER);
                            /* waiters of the old resolver ask the new one */
                            conn_resolved (&px);
                            dns_resolved (&px);
                            snprintf (detail, sizeof detail, "%zu rules", policy_count (np));
                            paudit_event (&px, "proxy.reload", detail);
                          }
                      }
                    else
                      running = false;
                  }
                break;
              }
            }
        }
      conn_flush_gated (&px);
      /* freed only now: a later event of this batch may name a closed connection */
      conn_reap (&px);
      audit_hold (px.audit, false);
      if (px.now_ms - last_timer >= 1000)
        {
          last_timer = px.now_ms;
          conn_timers (&px);
          dns_timers (&px);
          if (syncer == NULL)
            audit_sync (px.audit, NULL);
          else
            syncer_kick (syncer); /* a clean file costs the thread one cheap call */
          /* give buffers of finished exchanges back to the kernel, so
           * idle keep-alive connections cost (almost) nothing */
          malloc_trim (0);
        }
    }
  conn_close_all (&px);
  conn_reap (&px);
  paudit_free_gated (&px);
  broker_stop (&px);
  paudit_event (&px, "proxy.stop", "signal");
  audit_close (px.audit);
  mitm_free (px.mitm);
  policy_free (px.policy);
  resolver_free (px.resolver);
  config_free (&cfg);
  return 0;
}
