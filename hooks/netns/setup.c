/* `capsule-hook setup`: runs in the runtime's namespaces once the container's
 * namespaces exist (createRuntime or prestart).  Either joins a capsule netns
 * that already has a ruleset (member: nothing to install), or becomes its
 * owner: pin, stand-in interface (isolated shape), listening sockets for
 * the proxy created inside the netns, the ruleset, and the supervisor. */
#include "hook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <yajl/yajl_tree.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/netcontain.h"
#include "lib/netns.h"
#include "lib/nft.h"
#include "lib/util.h"

/* The listening sockets handed to the proxy, in this order, at fds 3..6. */
enum { SOCK_LISTEN, SOCK_TRANSPARENT, SOCK_DNS, SOCK_DNS_TCP, SOCK__N };
#define HOOK_FD_BASE 3
#define HOOK_READY_FD (HOOK_FD_BASE + SOCK__N)
/* The nft socket: the supervisor closes it once it has answered. */
#define HOOK_NFT_FD (HOOK_READY_FD + 1)

static int
listen_socket (int type, uint16_t port, cr_error_t *err)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port), .sin_addr = { htonl (INADDR_LOOPBACK) } };
  int one = 1;
  int fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cr_error_errno (err, "creating a proxy socket in the capsule netns");
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || (type == SOCK_STREAM && listen (fd, 1024) < 0))
    {
      int e = errno;
      close (fd);
      return cr_error (err, e, "binding 127.0.0.1:%u (%s) in the capsule netns", port, type == SOCK_STREAM ? "tcp" : "udp");
    }
  return fd;
}

/* The "gateway" (host:port) of the proxy's config, as addresses for the
 * nft rule: an IP literal, else the name resolved now (the proxy resolves it
 * at its start too; give an IP literal to be sure both agree).  0 with no
 * addresses when there is no gateway. */
static int
gateway_addrs (const char *proxy_config, struct in_addr v4[8], size_t *n4, struct in6_addr v6[8], size_t *n6,
               cr_error_t *err)
{
  *n4 = *n6 = 0;
  cleanup_free char *text = NULL;
  char ebuf[256];
  if (proxy_config == NULL || read_file (proxy_config, &text, NULL, err) < 0)
    return proxy_config ? -1 : 0;
  yajl_val root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  const char *path[] = { "gateway", NULL };
  yajl_val gv = root ? yajl_tree_get (root, path, yajl_t_string) : NULL;
  cleanup_free char *host = gv ? xstrdup (YAJL_GET_STRING (gv)) : NULL;
  yajl_tree_free (root);
  if (host == NULL)
    return 0;
  char *colon = strrchr (host, ':');
  if (colon == NULL)
    return cr_error (err, EINVAL, "capsule/egress.gateway `%s`: expected host:port", host);
  *colon = '\0';
  char *h = host;
  if (*h == '[' && colon > h && colon[-1] == ']')
    h++, colon[-1] = '\0';
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
  int rc = getaddrinfo (h, NULL, &hints, &res);
  if (rc != 0)
    return cr_error (err, ENOENT, "capsule/egress.gateway: cannot resolve `%s`: %s", h, gai_strerror (rc));
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    if (ai->ai_family == AF_INET && *n4 < 8)
      v4[(*n4)++] = ((struct sockaddr_in *) ai->ai_addr)->sin_addr;
    else if (ai->ai_family == AF_INET6 && *n6 < 8)
      v6[(*n6)++] = ((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;
  freeaddrinfo (res);
  return 0;
}

/* Inside the capsule netns: interfaces, sockets, rules. */
static int
setup_in_netns (const struct hook_opts *o, bool *pod, int socks[SOCK__N], int *nft_fd, cr_error_t *err)
{
  struct nft_capsule_rules r = {
    .proxy_port = NETCONTAIN_PROXY_PORT,
    .transparent_port = NETCONTAIN_TRANSPARENT_PORT,
    .dns_port = NETCONTAIN_DNS_PORT,
    .inbound_ports = o->inbound,
    .inbound_ports_len = o->n_inbound,
    .keep_fd = nft_fd,
  };
  int n = netns_count_non_lo (err);
  if (n < 0)
    return -1;
  *pod = n > 0;
  if (*pod)
    r.proxy_mark = NETCONTAIN_PROXY_MARK;
  /* capsule/egress.gateway (pod shape): the proxy's marked sockets may
   * reach the gateway's addresses and nothing else. */
  struct in_addr gw4[8];
  struct in6_addr gw6[8];
  if (*pod)
    {
      int g = gateway_addrs (o->config, gw4, &r.mark_dst4_len, gw6, &r.mark_dst6_len, err);
      if (g < 0)
        return -1;
      r.mark_dst4 = gw4;
      r.mark_dst6 = gw6;
    }
  /* Rules first: from here on nothing leaves even if the rest fails. */
  if (nft_capsule_install (&r, err) < 0)
    return -1;
  if ((*pod ? hook_loopback_up (err) : hook_link_setup_isolated (err)) < 0)
    return -1;
  socks[SOCK_LISTEN] = listen_socket (SOCK_STREAM, NETCONTAIN_PROXY_PORT, err);
  socks[SOCK_TRANSPARENT] = listen_socket (SOCK_STREAM, NETCONTAIN_TRANSPARENT_PORT, err);
  socks[SOCK_DNS] = listen_socket (SOCK_DGRAM, NETCONTAIN_DNS_PORT, err);
  socks[SOCK_DNS_TCP] = listen_socket (SOCK_STREAM, NETCONTAIN_DNS_PORT, err);
  for (int i = 0; i < SOCK__N; i++)
    if (socks[i] < 0)
      return -1;
  return 0;
}

#define PROXY_ARGS_MAX (16 + 2 * HOOK_MAX_LIST)

/* capsule-proxy's arguments (after argv[0]); returns how many. */
static size_t
proxy_args (const struct hook_opts *o, const struct hook_state *st, const char **argv)
{
  size_t k = 0;
  argv[k++] = "--listen-fd";
  argv[k++] = "3";
  argv[k++] = "--transparent-fd";
  argv[k++] = "4";
  argv[k++] = "--dns-fd";
  argv[k++] = "5";
  argv[k++] = "--dns-tcp-fd";
  argv[k++] = "6";
  argv[k++] = "--capsule-id";
  argv[k++] = st->id;
  argv[k++] = "--audit";
  argv[k++] = o->audit;
  if (o->config && access (o->config, R_OK) == 0)
    {
      argv[k++] = "--config";
      argv[k++] = o->config;
    }
  for (size_t i = 0; i < o->n_allow; i++)
    {
      argv[k++] = "--allow";
      argv[k++] = o->allow[i];
    }
  return k;
}

/* `capsule-proxy --check` with the real arguments, so a configuration the
 * proxy refuses fails create with its reason instead of a restart loop.  It
 * runs while we pin the netns, install the rules and start the supervisor
 * (its own startup is a few ms of loading OpenSSL); its verdict is read
 * last, before the hook answers. */
struct proxy_check
{
  pid_t pid;
  int out;
};

static void
proxy_check_reap (struct proxy_check *pc)
{
  if (pc->pid > 0)
    {
      kill (pc->pid, SIGKILL);
      waitpid (pc->pid, NULL, 0);
    }
  if (pc->out >= 0)
    close (pc->out);
  pc->pid = 0;
  pc->out = -1;
}

static int
proxy_check_start (const struct hook_opts *o, const struct hook_state *st, struct proxy_check *pc, cr_error_t *err)
{
  const char *argv[4 + PROXY_ARGS_MAX];
  size_t k = 0;
  int out[2];

  argv[k++] = "capsule-proxy";
  argv[k++] = "--check";
  k += proxy_args (o, st, argv + k);
  argv[k] = NULL;
  if (pipe2 (out, O_CLOEXEC) < 0)
    return cr_error_errno (err, "checking the proxy configuration");
  pc->pid = fork ();
  if (pc->pid < 0)
    {
      close (out[0]);
      close (out[1]);
      pc->pid = 0;
      return cr_error_errno (err, "checking the proxy configuration: fork");
    }
  if (pc->pid == 0)
    {
      int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
      dup2 (devnull, 0);
      dup2 (out[1], 1);
      dup2 (out[1], 2);
      execv (o->proxy, (char **) argv);
      dprintf (2, "exec `%s`: %s", o->proxy, strerror (errno));
      _exit (127);
    }
  close (out[1]);
  pc->out = out[0];
  return 0;
}

static int
proxy_check_finish (struct proxy_check *pc, cr_error_t *err)
{
  char buf[1024];
  ssize_t n, len = 0;
  int status = 0;

  while (len < (ssize_t) sizeof buf - 1 && (n = read (pc->out, buf + len, sizeof buf - 1 - (size_t) len)) > 0)
    len += n;
  close (pc->out);
  pc->out = -1;
  buf[len] = '\0';
  while (len > 0 && buf[len - 1] == '\n')
    buf[--len] = '\0';
  pid_t pid = pc->pid;
  pc->pid = 0;
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return cr_error (err, 0, "capsule-proxy refuses the configuration: %s", len ? buf : "no reason given");
  return 0;
}

/* Double-fork the supervisor (own session, stdio on /dev/null so the runtime
 * does not wait on our pipes) and wait for its "ok" or its error text. */
static int
spawn_supervisor (const struct hook_opts *o, const struct hook_state *st, bool pod, int socks[SOCK__N],
                  int nft_fd, cr_error_t *err)
{
  int ready[2];
  pid_t pid;
  char pidbuf[32], restarts[32], buf[512];
  ssize_t n;
  int status;

  if (pipe2 (ready, O_CLOEXEC) < 0)
    return cr_error_errno (err, "creating the supervisor ready pipe");
  pid = fork ();
  if (pid < 0)
    return cr_error_errno (err, "forking the supervisor");
  if (pid == 0)
    {
      int devnull = open ("/dev/null", O_RDWR);
      int all[SOCK__N + 1];
      setsid ();
      if (fork () != 0)
        _exit (0);
      /* stdio first: /dev/null may have landed on one of the slots below. */
      if (devnull < 0)
        _exit (127);
      dup2 (devnull, 0);
      dup2 (devnull, 1);
      dup2 (devnull, 2);
      /* Move the fds into place: dup everything high first, then down. */
      for (int i = 0; i < SOCK__N; i++)
        all[i] = fcntl (socks[i], F_DUPFD, 100);
      all[SOCK__N] = fcntl (ready[1], F_DUPFD, 100);
      int nft_high = nft_fd >= 0 ? fcntl (nft_fd, F_DUPFD, 100) : -1;
      for (int i = 0; i <= SOCK__N; i++)
        if (all[i] < 0 || dup2 (all[i], HOOK_FD_BASE + i) < 0)
          _exit (127);
      /* The last close of the nft socket waits for the commit's RCU grace
       * period: the supervisor makes it, after its answer. */
      if (nft_high < 0 || dup2 (nft_high, HOOK_NFT_FD) < 0)
        close (HOOK_NFT_FD);
      close_range (HOOK_NFT_FD + 1, ~0U, 0);
      snprintf (pidbuf, sizeof pidbuf, "%d", st->pid);
      snprintf (restarts, sizeof restarts, "%d", o->restarts);
      const char *argv[16 + PROXY_ARGS_MAX];
      size_t k = 0;
      argv[k++] = "capsule-hook";
      argv[k++] = "supervise";
      argv[k++] = o->state_dir;
      argv[k++] = st->id;
      argv[k++] = pidbuf;
      argv[k++] = pod ? "pod" : "isolated";
      argv[k++] = restarts;
      argv[k++] = o->restart_forever ? "restart-forever" : "kill";
      argv[k++] = o->audit;
      argv[k++] = o->cgroup_parent;
      argv[k++] = o->proxy;
      argv[k++] = "--";
      k += proxy_args (o, st, argv + k);
      argv[k] = NULL;
      execv (o->self, (char **) argv);
      _exit (127);
    }
  close (ready[1]);
  waitpid (pid, &status, 0);
  n = read (ready[0], buf, sizeof buf - 1);
  close (ready[0]);
  if (n >= 2 && memcmp (buf, "ok", 2) == 0)
    return 0;
  buf[n > 0 ? n : 0] = '\0';
  return cr_error (err, 0, "starting the proxy supervisor: %s", n > 0 ? buf : "it exited without a word");
}

static int
write_role (const char *state_dir, const char *key, const char *role, cr_error_t *err)
{
  cleanup_free char *kf = xasprintf ("%s/net.key", state_dir);
  cleanup_free char *rf = xasprintf ("%s/net.role", state_dir);
  cleanup_free char *kv = xasprintf ("%s\n", key);
  cleanup_free char *rv = xasprintf ("%s\n", role);
  if (netcontain_write_state (kf, kv, strlen (kv), 0600, err) < 0
      || netcontain_write_state (rf, rv, strlen (rv), 0600, err) < 0)
    return -1;
  return 0;
}

static int
add_member (const char *key, const char *state_dir, cr_error_t *err)
{
  cleanup_free char *name = xstrdup (state_dir);
  for (char *p = name; *p; p++)
    if (*p == '/')
      *p = '_';
  cleanup_free char *dir = xasprintf ("%s/%s/members", netcontain_node_dir (), key);
  cleanup_free char *f = xasprintf ("%s/%s", dir, name);
  if (mkdir_p (dir, 0700, err) < 0)
    return -1;
  return netcontain_write_state (f, state_dir, strlen (state_dir), 0600, err);
}

static int
setup_locked (struct hook_opts *o, const struct hook_state *st, cr_error_t *err)
{
  char ns[64], key[64], host[64];
  cleanup_free char *owner = NULL;
  cleanup_free char *pin = xasprintf ("%s/netns", o->state_dir);
  cleanup_free char *ownf = NULL;
  cleanup_free char *extra = NULL;
  int socks[SOCK__N] = { -1, -1, -1, -1 };
  int saved = -1, ret;
  /* The ruleset's netlink socket, kept open: its last close waits out the
   * commit's RCU grace period, so the supervisor makes it after answering. */
  cleanup_close int nft_fd = -1;
  cleanup_free char *proxycfg = NULL;
  cleanup_free char *audit_from_config = NULL;
  bool pod = false;

  snprintf (ns, sizeof ns, "/proc/%d/ns/net", st->pid);
  if (netcontain_key_of (ns, key, sizeof key, err) < 0)
    return cr_error_wrap (err, "container pid %d", st->pid);
  /* Fail closed: never put rules on (or claim) the host's own netns: the
   * one we (the runtime's hook) run in, or init's where we may look. */
  {
    const char *hosts[] = { "/proc/self/ns/net", "/proc/1/ns/net" };
    for (size_t i = 0; i < 2; i++)
      {
        cleanup_error cr_error_t tmp = NULL;
        if (netcontain_key_of (hosts[i], host, sizeof host, &tmp) == 0 && strcmp (key, host) == 0)
          return cr_error (err, EPERM,
                           "refusing network containment: the container uses the host's network namespace");
      }
  }

  /* ... nor on one owned by a nested user namespace: its root would hold
   * CAP_NET_ADMIN over the rules and socket marks (SPEC §4). */
  {
    cleanup_close int nsfd = open (ns, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
      return cr_error_errno (err, "opening `%s`", ns);
    ret = netns_owned_by_our_userns (nsfd, err);
    if (ret < 0)
      return -1;
    if (ret == 0)
      return cr_error (err, EPERM, "refusing network containment: the container's network namespace is owned "
                                   "by a non-initial user namespace");
  }

  /* The proxy's config: from capsule.json (capsule-runc) or the annotation
   * (plain runc); the capsule's audit log named there is ours too. */
  {
    const char *cj = o->config && access (o->config, R_OK) == 0 ? o->config : NULL;
    char *aud = NULL;
    proxycfg = xasprintf ("%s/proxy-config.json", o->state_dir);
    if (hook_proxy_config (cj, cj ? NULL : st->egress_allow, st->id, proxycfg, &aud, err) < 0)
      return -1;
    o->config = proxycfg;
    if (aud && !o->audit_explicit)
      o->audit = audit_from_config = aud;
    else
      free (aud);
    /* teardown gets no config: tell it where the audit goes */
    cleanup_free char *af = xasprintf ("%s/net.audit", o->state_dir);
    if (netcontain_write_state (af, o->audit, strlen (o->audit), 0600, err) < 0)
      return -1;
  }

  ret = netcontain_find_owner (key, &owner, err);
  if (ret < 0)
    return -1;
  if (ret == 1 && strcmp (owner, o->state_dir) == 0)
    return 0; /* ran twice (prestart + createRuntime): already done */
  if (ret == 1)
    {
      if (write_role (o->state_dir, key, "member", err) < 0 || add_member (key, o->state_dir, err) < 0)
        return -1;
      extra = xasprintf ("\"role\":\"member\",\"netns\":\"%s\"", key);
      hook_audit (o->audit, "network.setup", st->id, extra);
      return 0;
    }

  __attribute__ ((cleanup (proxy_check_reap))) struct proxy_check check = { 0, -1 };
  if (proxy_check_start (o, st, &check, err) < 0)
    return -1;
  /* Record the role first so a failure below is cleaned up as an owner. */
  if (write_role (o->state_dir, key, "owner", err) < 0 || netns_pin (st->pid, pin, err) < 0)
    return -1;
  {
    cleanup_close int nsfd = open (pin, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
      return cr_error_errno (err, "opening the netns pin `%s`", pin);
    if (netns_enter (nsfd, &saved, err) < 0)
      return -1;
    ret = setup_in_netns (o, &pod, socks, &nft_fd, err);
    if (netns_leave (saved, ret < 0 ? NULL : err) < 0)
      ret = -1;
  }
  if (ret == 0)
    {
      cleanup_free char *od = xasprintf ("%s/%s", netcontain_node_dir (), key);
      ownf = xasprintf ("%s/owner", od);
      if (mkdir_p (od, 0700, err) < 0
          || netcontain_write_state (ownf, o->state_dir, strlen (o->state_dir), 0600, err) < 0
          || add_member (key, o->state_dir, err) < 0)
        ret = -1;
    }
  /* The supervisor (and the real proxy) start while the check may still
   * run: it costs a proxy start (OpenSSL) and so does the supervisor, so the
   * two overlap.  The container still waits for both verdicts; a refusal
   * fails the hook and the runtime's cleanup stops the supervisor. */
  if (ret == 0)
    ret = spawn_supervisor (o, st, pod, socks, nft_fd, err);
  if (ret == 0)
    ret = proxy_check_finish (&check, err);
  for (int i = 0; i < SOCK__N; i++)
    if (socks[i] >= 0)
      close (socks[i]);
  /* The supervisor writes our "network.setup" line once we have its answer:
   * hashing and syncing the audit chain need not delay the container. */
  return ret;
}

int
hook_setup (const struct hook_opts *oin, const struct hook_state *st, cr_error_t *err)
{
  struct hook_opts o = *oin;
  cleanup_free char *lockf = xasprintf ("%s/.lock", netcontain_node_dir ());
  cleanup_close int lock = -1;
  int ret;

  if (st->pid <= 0)
    return cr_error (err, EINVAL, "OCI state on stdin has no container pid");
  if (mkdir_p (o.state_dir, 0711, err) < 0 || mkdir_p (netcontain_node_dir (), 0700, err) < 0)
    return -1;
  /* One setup at a time per node decides owner vs member. */
  lock = open (lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock (lock, LOCK_EX) < 0)
    return cr_error_errno (err, "locking `%s`", lockf);
  ret = setup_locked (&o, st, err);
  if (ret < 0)
    {
      cleanup_error cr_error_t tmp = NULL;
      netcontain_cleanup (o.state_dir, &tmp);
    }
  return ret;
}
