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
      bool kicked = true;
      while (atomic_load (&sy->pending) == 0)
        {
          /* Between the once-a-second fdatasyncs, start writeback every
           * 100 ms without waiting for it: a second's worth of audit lines
           * flushed at once is a burst of work on the same CPUs as the
           * requests in flight (the p99). */
          struct timespec dl;
          clock_gettime (CLOCK_REALTIME, &dl);
          dl.tv_nsec += 100 * 1000 * 1000;
          if (dl.tv_nsec >= 1000000000L)
            dl.tv_sec++, dl.tv_nsec -= 1000000000L;
          if (pthread_cond_timedwait (&sy->cv, &sy->mu, &dl) == ETIMEDOUT && atomic_load (&sy->pending) == 0)
            {
              kicked = false;
              break;
            }
        }
      if (kicked)
        atomic_store (&sy->pending, 0);
      pthread_mutex_unlock (&sy->mu);
      if (kicked)
        fdatasync (sy->fd);
      else
        sync_file_range (sy->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
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

/* Load everything that SIGHUP reloads (config file + flags): rules, pins,
 * credentials (their secrets read now) into pol/res; the brokered
 * capabilities' settings into *bs and the file's gateway into *gateway
 * (either may be NULL: not wanted). */
static int
load_policy (struct proxy_config *flags, bool reload, struct policy **pol, struct resolver **res,
             struct broker_settings *bs, char **gateway, cr_error_t *err)
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
      /* flags first, then the file; pins: the file's, then the flags' */
      cleanup_free char **rules = strv_concat (flags->rules, flags->n_rules, file.rules, file.n_rules);
      cleanup_free char **pins = strv_concat (file.pins, file.n_pins, flags->pins, flags->n_pins);
      cleanup_free char **cr = strv_concat (flags->cred_rules, flags->n_creds, file.cred_rules, file.n_creds);
      cleanup_free char **cf = strv_concat (flags->cred_files, flags->n_creds, file.cred_files, file.n_creds);
      cleanup_free char **tp = strv_concat (flags->tls_pins, flags->n_tls_pins, file.tls_pins, file.n_tls_pins);
      eff.rules = rules, eff.n_rules = flags->n_rules + file.n_rules;
      eff.annot_rules = file.annot_rules, eff.n_annot = file.n_annot;
      eff.pins = pins, eff.n_pins = file.n_pins + flags->n_pins;
      eff.cred_rules = cr, eff.cred_files = cf, eff.n_creds = flags->n_creds + file.n_creds;
      /* secrets_dir: the flag wins */
      eff.secrets_dir = flags->secrets_dir ? flags->secrets_dir : file.secrets_dir;
      eff.tls_pins = tp, eff.n_tls_pins = flags->n_tls_pins + file.n_tls_pins;
      ret = config_build_policy (&eff, pol, res, err);
      if (ret == 0 && bs)
        {
          *bs = file.broker;
          memset (&file.broker, 0, sizeof file.broker);
        }
      if (ret == 0 && gateway)
        *gateway = steal_pointer (&file.gateway);
    }
  config_free (&file);
  return ret;
}

/* ---- SIGHUP ---- */

/* --gateway: wins over the config file's "gateway" on every reload too. */
static const char *flag_gateway;

/* What a SIGHUP builds before anything is swapped: the whole of it takes
 * effect at once (reload_commit) or none of it (reload_fail). */
struct reload_staged
{
  struct policy *policy;
  struct resolver *resolver;
  struct broker_next *broker;
  char *gateway;                 /* "host:port", NULL: none */
  struct resolve_addrs gw;       /* its addresses, ports set */
  char gw_host[EGRESS_HOST_MAX]; /* a name the new resolver's workers are looking up ("": known) */
  int gw_port;
  bool watched;                  /* the new resolver's fd is in epoll as reload_ev */
};

static void
staged_free (struct proxy *px, struct reload_staged *s)
{
  if (s == NULL)
    return;
  if (px->staged == s)
    px->staged = NULL;
  if (s->watched)
    epoll_ctl (px->epfd, EPOLL_CTL_DEL, resolver_event_fd (s->resolver), NULL);
  policy_free (s->policy);
  resolver_free (s->resolver);
  broker_discard (s->broker);
  free (s->gateway);
  free (s);
}

static bool
str_same (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

/* The new gateway: none, the current one (its addresses kept), an IP
 * literal, or a name for the new resolver's workers (never looked up on
 * the loop; dns pins apply). */
static int
gateway_stage (struct proxy *px, struct reload_staged *s, const char *spec, cr_error_t *err)
{
  if (spec == NULL || *spec == '\0')
    return 0;
  s->gateway = xstrdup (spec);
  if (px->gateway && str_same (px->gateway_spec, spec))
    {
      s->gw = *px->gateway;
      return 0;
    }
  if (resolve_hostport (spec, &s->gw, false, err) < 0)
    return -1;
  if (s->gw.n > 0)
    return 0;
  const char *colon = strrchr (spec, ':'); /* resolve_hostport checked the shape */
  enum egress_host_kind kind;
  if (egress_host_normalize (spec, colon - spec, s->gw_host, sizeof s->gw_host, &kind) < 0 || kind != EGRESS_HOST_NAME)
    return cr_error (err, 0, "gateway `%s`: bad host name", spec);
  s->gw_port = atoi (colon + 1);
  const char *names[] = { s->gw_host };
  resolver_want (s->resolver, names, 1);
  return 0;
}

/* The gateway's name has an answer (or a failure) in the new resolver. */
static int
gateway_resolved (struct reload_staged *s, cr_error_t *err)
{
  struct resolve_addrs a;
  if (resolver_get (s->resolver, s->gw_host, EGRESS_HOST_NAME, &a) < 0 || a.n == 0)
    return cr_error (err, 0, "gateway `%s`: cannot resolve `%s`", s->gateway, s->gw_host);
  resolve_set_port (&a, s->gw_port);
  s->gw = a;
  s->gw_host[0] = '\0';
  return 0;
}

static void
reload_fail (struct proxy *px, struct reload_staged *s, cr_error_t *err)
{
  fprintf (stderr, "capsule-proxy: reload failed, keeping the old configuration: %s\n", (*err)->msg);
  paudit_event (px, "proxy.reload-failed", (*err)->msg);
  cr_error_release (err);
  staged_free (px, s);
}

static void
reload_commit (struct proxy *px, struct reload_staged *s)
{
  size_t old_rules = policy_count (px->policy), old_creds = policy_cred_count (px->policy);
  /* connections copy what they need from the policy: swap at once */
  policy_free (px->policy);
  px->policy = steal_pointer (&s->policy);
  if (s->watched)
    epoll_ctl (px->epfd, EPOLL_CTL_DEL, resolver_event_fd (s->resolver), NULL);
  s->watched = false;
  epoll_ctl (px->epfd, EPOLL_CTL_DEL, resolver_event_fd (px->resolver), NULL);
  resolver_free (px->resolver);
  px->resolver = steal_pointer (&s->resolver);
  ep_watch (px, resolver_event_fd (px->resolver), &px->resolver_ev, EV_RESOLVER);
  /* a new generation: upstreams opened through the old gateway (or
   * directly) serve their exchanges in flight, never a new request */
  char gwmsg[160] = "";
  if (!str_same (px->gateway_spec, s->gateway))
    {
      snprintf (gwmsg, sizeof gwmsg, " (was %s)", px->gateway_spec ? px->gateway_spec : "none");
      free (px->gateway);
      px->gateway = NULL;
      if (s->gateway)
        {
          px->gateway = xmalloc0 (sizeof *px->gateway);
          *px->gateway = s->gw;
        }
      free (px->gateway_spec);
      px->gateway_spec = steal_pointer (&s->gateway);
      px->gw_gen++;
    }
  /* last: denying a removed capability's held requests resumes their
   * connections, which decide under the new configuration */
  char caps[512];
  broker_apply (steal_pointer (&s->broker), caps, sizeof caps);
  staged_free (px, s);
  /* waiters of the old resolver ask the new one */
  conn_resolved (px);
  dns_resolved (px);
  char detail[900];
  snprintf (detail, sizeof detail, "%zu rules (was %zu), %zu credentials (was %zu), %s, gateway %s%s",
            policy_count (px->policy), old_rules, policy_cred_count (px->policy), old_creds, caps,
            px->gateway_spec ? px->gateway_spec : "none", gwmsg);
  paudit_event (px, "proxy.reload", detail);
  fprintf (stderr, "capsule-proxy: reloaded: %s\n", detail);
}

/* SIGHUP: build the new configuration from the same sources as at start;
 * swap it in now, or once the new gateway's name is resolved. */
static void
reload_begin (struct proxy *px, struct proxy_config *cfg)
{
  cr_error_t err = NULL;
  if (px->staged)
    {
      cr_error (&err, 0, "superseded by a newer SIGHUP before the gateway `%s` was resolved", px->staged->gateway);
      reload_fail (px, px->staged, &err);
    }
  struct reload_staged *s = xmalloc0 (sizeof *s);
  struct broker_settings bs = { 0 };
  cleanup_free char *file_gw = NULL;
  int r = load_policy (cfg, true, &s->policy, &s->resolver, &bs, &file_gw, &err);
  if (r == 0)
    r = broker_prepare (px, &bs, &s->broker, &err);
  broker_settings_free (&bs);
  if (r == 0)
    r = gateway_stage (px, s, flag_gateway ? flag_gateway : file_gw, &err);
  if (r == 0)
    {
      resolver_adopt (s->resolver, px->resolver);
      r = resolver_start_async (s->resolver, &err);
    }
  if (r == 0 && s->gw_host[0])
    {
      if (resolver_kick (s->resolver, s->gw_host, EGRESS_HOST_NAME) == 1)
        {
          /* the old configuration serves on until the answer is in */
          if (ep_watch (px, resolver_event_fd (s->resolver), &px->reload_ev, EV_RELOAD) < 0)
            r = cr_error_errno (&err, "watching the new resolver");
          else
            {
              s->watched = true;
              px->staged = s;
              fprintf (stderr, "capsule-proxy: reload waits for the gateway name `%s`\n", s->gw_host);
              return;
            }
        }
      else
        r = gateway_resolved (s, &err);
    }
  if (r < 0)
    reload_fail (px, s, &err);
  else
    reload_commit (px, s);
}

/* The staged reload's resolver has answers: is the gateway's among them? */
static void
reload_progress (struct proxy *px)
{
  struct reload_staged *s = px->staged;
  if (s == NULL)
    return;
  resolver_collect (s->resolver);
  if (resolver_kick (s->resolver, s->gw_host, EGRESS_HOST_NAME) == 1)
    return;
  cr_error_t err = NULL;
  if (gateway_resolved (s, &err) < 0)
    reload_fail (px, s, &err);
  else
    reload_commit (px, s);
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
          strv_push (&cfg.rules, &cfg.n_rules, optarg);
          break;
        case O_PIN:
          strv_push (&cfg.pins, &cfg.n_pins, optarg);
          break;
        case O_AUDIT: f_audit = optarg; break;
        case O_CAOUT: f_caout = optarg; break;
        case O_TLSPIN:
          strv_push (&cfg.tls_pins, &cfg.n_tls_pins, optarg);
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
  struct broker_settings bs = { 0 };
  if (load_policy (&cfg, false, &px.policy, &px.resolver, &bs, NULL, &err) < 0)
    {
      fprintf (stderr, "capsule-proxy: %s\n", err->msg);
      return 1;
    }
  /* The paired gateway: every allowed request leaves through it (its name
   * resolved once now; on reload by the resolver workers). */
  flag_gateway = f_gateway;
  if (cfg.gateway && *cfg.gateway)
    {
      px.gateway = xmalloc0 (sizeof *px.gateway);
      if (resolve_hostport (cfg.gateway, px.gateway, !cfg.check, &err) < 0)
        {
          fprintf (stderr, "capsule-proxy: %s\n", err->msg);
          return 1;
        }
      px.gateway_spec = xstrdup (cfg.gateway);
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
      broker_settings_free (&bs);
      free (px.gateway);
      free (px.gateway_spec);
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

  int brc = broker_start (&px, &bs, &err);
  broker_settings_free (&bs);
  if (brc < 0)
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
            case EV_RELOAD: reload_progress (&px); break;
            case EV_SIGNAL:
              {
                struct signalfd_siginfo si;
                while (read (sfd, &si, sizeof si) == sizeof si)
                  {
                    if (si.ssi_signo == SIGHUP)
                      reload_begin (&px, &cfg);
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
  staged_free (&px, px.staged);
  broker_stop (&px);
  paudit_event (&px, "proxy.stop", "signal");
  audit_close (px.audit);
  mitm_free (px.mitm);
  policy_free (px.policy);
  resolver_free (px.resolver);
  free (px.gateway);
  free (px.gateway_spec);
  config_free (&cfg);
  return 0;
}
