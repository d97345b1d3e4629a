/* Network containment glue: config rewriting at create, idempotent cleanup
 * at delete, and the node-wide netns registry shared with capsule-hook. */
#include "netcontain.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "netns.h"
#include "util.h"

#define NC_HOOK_TIMEOUT 30

const char *
netcontain_node_dir (void)
{
  const char *e = getenv ("CAPSULE_NETNS_DIR");
  return e && *e == '/' ? e : NETCONTAIN_NODE_DIR;
}

int
netcontain_key_of (const char *ns_path, char *buf, size_t len, cr_error_t *err)
{
  struct netns_id id;
  if (netns_id_path (ns_path, &id, err) < 0)
    return -1;
  snprintf (buf, len, "%lx-%lx", (unsigned long) id.dev, (unsigned long) id.ino);
  return 0;
}

/* Read a small file, trimmed at the first newline; NULL if missing. */
static char *
nc_read_line (const char *path)
{
  char *s = NULL;
  cleanup_error cr_error_t e = NULL;
  if (read_file (path, &s, NULL, &e) < 0)
    return NULL;
  s[strcspn (s, "\n")] = '\0';
  return s;
}

int
netcontain_find_owner (const char *key, char **owner_dir, cr_error_t *err)
{
  cleanup_free char *ownf = xasprintf ("%s/%s/owner", netcontain_node_dir (), key);
  cleanup_free char *dir = nc_read_line (ownf);
  cleanup_free char *pin = NULL;
  char have[64];
  cleanup_error cr_error_t tmp = NULL;

  (void) err;
  *owner_dir = NULL;
  if (dir == NULL)
    return 0;
  pin = xasprintf ("%s/netns", dir);
  /* A stale entry (owner crashed, pin gone or namespace reused) is no owner. */
  if (!netns_is_pinned (pin) || netcontain_key_of (pin, have, sizeof have, &tmp) < 0 || strcmp (have, key) != 0)
    return 0;
  *owner_dir = steal_pointer (&dir);
  return 1;
}

/* "pid starttime": the start time guards against a recycled pid. */
static unsigned long long
nc_starttime (pid_t pid)
{
  char path[64];
  cleanup_free char *buf = NULL;
  cleanup_error cr_error_t e = NULL;
  unsigned long long st = 0;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (read_file (path, &buf, NULL, &e) < 0)
    return 0;
  char *p = strrchr (buf, ')');
  /* after "pid (comm)": state is field 3, starttime field 22 */
  if (p == NULL || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st) != 1)
    return 0;
  return st;
}

int
netcontain_write_state (const char *path, const void *data, size_t len, mode_t mode, cr_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.tmp.%d", path, getpid ());
  int r;
  {
    cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
      return cr_error_errno (err, "create `%s`", tmp);
    /* exactly mode, whatever the umask */
    r = fchmod (fd, mode) < 0 ? cr_error_errno (err, "chmod `%s`", tmp) : write_all (fd, data, len, err);
  }
  if (r == 0 && rename (tmp, path) < 0)
    r = cr_error_errno (err, "rename `%s` to `%s`", tmp, path);
  if (r < 0)
    unlink (tmp);
  return r;
}

int
netcontain_pidfile_write (const char *path, pid_t pid, cr_error_t *err)
{
  cleanup_free char *s = xasprintf ("%d %llu\n", (int) pid, nc_starttime (pid));
  return netcontain_write_state (path, s, strlen (s), 0600, err);
}

pid_t
netcontain_pidfile_read (const char *path)
{
  cleanup_free char *s = nc_read_line (path);
  int pid = 0;
  unsigned long long st = 0;
  if (s == NULL || sscanf (s, "%d %llu", &pid, &st) != 2 || pid <= 0)
    return 0;
  if (st == 0 || nc_starttime (pid) != st)
    return 0;
  return pid;
}

/* Wait until the process behind pidfd has exited (it has then left its
 * cgroups); false on timeout. */
static bool
nc_wait_exit (int pidfd, int ms)
{
  struct pollfd p = { .fd = pidfd, .events = POLLIN };
  int r;
  do
    r = poll (&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

/* SIGTERM, wait up to 2 s, then SIGKILL; returns once it is gone. */
static void
nc_stop_pidfile (const char *path)
{
  pid_t pid = netcontain_pidfile_read (path);
  if (pid > 0)
    {
      int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
      /* the pid file was checked before pidfd_open: re-check it names the same process */
      if (pidfd >= 0 && netcontain_pidfile_read (path) == pid)
        {
          syscall (SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
          if (!nc_wait_exit (pidfd, 2000))
            {
              syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
              nc_wait_exit (pidfd, 2000);
            }
        }
      if (pidfd >= 0)
        close (pidfd);
    }
  unlink (path);
}

static char *
nc_member_name (const char *state_dir)
{
  char *s = xstrdup (state_dir);
  for (char *p = s; *p; p++)
    if (*p == '/')
      *p = '_';
  return s;
}

int
netcontain_cleanup (const char *state_dir, cr_error_t *err)
{
  cleanup_free char *keyf = xasprintf ("%s/net.key", state_dir);
  cleanup_free char *rolef = xasprintf ("%s/net.role", state_dir);
  cleanup_free char *pin = xasprintf ("%s/netns", state_dir);
  cleanup_free char *supf = xasprintf ("%s/supervisor.pid", state_dir);
  cleanup_free char *proxf = xasprintf ("%s/proxy.pid", state_dir);
  cleanup_free char *cgf = xasprintf ("%s/proxy.cgroups", state_dir);
  cleanup_free char *key = nc_read_line (keyf);
  cleanup_free char *role = nc_read_line (rolef);
  cleanup_free char *cgs = NULL;
  cleanup_error cr_error_t tmp = NULL;

  if (key)
    {
      cleanup_free char *name = nc_member_name (state_dir);
      cleanup_free char *mf = xasprintf ("%s/%s/members/%s", netcontain_node_dir (), key, name);
      cleanup_free char *md = xasprintf ("%s/%s/members", netcontain_node_dir (), key);
      cleanup_free char *kd = xasprintf ("%s/%s", netcontain_node_dir (), key);
      unlink (mf);
      /* an entry nobody owns any more goes with its last member (fails while not empty) */
      rmdir (md);
      rmdir (kd);
    }
  if (role && strcmp (role, "member") == 0)
    {
      unlink (keyf);
      unlink (rolef);
      return 0;
    }

  /* Owner (or unknown after a crash): the supervisor kills its proxy on
   * SIGTERM; a proxy orphaned by a killed supervisor is stopped directly.
   * The ruleset is left in place: it dies with the namespace, and removing
   * it while anything still runs there would open egress. */
  nc_stop_pidfile (supf);
  nc_stop_pidfile (proxf);
  if (read_file (cgf, &cgs, NULL, &tmp) == 0)
    {
      char *save = NULL;
      for (char *l = strtok_r (cgs, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
        /* the proxy's last exit may still be settling: retry EBUSY briefly */
        for (int i = 0; *l == '/' && i < 50 && rmdir (l) < 0 && errno == EBUSY; i++)
          nanosleep (&(struct timespec) { 0, 2 * 1000 * 1000 }, NULL);
      unlink (cgf);
    }
  if (netns_unpin (pin, err) < 0)
    return -1;
  if (key)
    {
      cleanup_free char *ownf = xasprintf ("%s/%s/owner", netcontain_node_dir (), key);
      cleanup_free char *own = nc_read_line (ownf);
      if (own && strcmp (own, state_dir) == 0)
        {
          cleanup_free char *entry = xasprintf ("%s/%s", netcontain_node_dir (), key);
          if (rm_rf (entry, err) < 0)
            return -1;
        }
    }
  unlink (keyf);
  unlink (rolef);
  return 0;
}

/* ---- config rewriting ---- */

static char **
nc_strv_dup (const char *const *v, size_t n)
{
  char **out = xmalloc0 ((n + 1) * sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup (v[i]);
  return out;
}

char *
netcontain_hook_path (void)
{
  const char *e = getenv ("CAPSULE_HOOK");
  char self[4096];
  ssize_t n;

  if (e && *e == '/')
    return access (e, X_OK) == 0 ? xstrdup (e) : NULL;
  n = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return NULL;
  self[n] = '\0';
  char *slash = strrchr (self, '/');
  if (slash == NULL)
    return NULL;
  *slash = '\0';
  const char *rel[] = { "capsule-hook", "../hooks/netns/capsule-hook", "../libexec/capsule/capsule-hook" };
  for (size_t i = 0; i < sizeof rel / sizeof *rel; i++)
    {
      char *p = xasprintf ("%s/%s", self, rel[i]);
      char *real = realpath (p, NULL);
      free (p);
      if (real && access (real, X_OK) == 0)
        return real;
      free (real);
    }
  return NULL;
}

static void
nc_add_hook (struct oci_config *cfg, enum oci_hook_kind kind, const char *path, const char *const *args, size_t nargs)
{
  struct oci_hooks *h = &cfg->hooks;
  struct oci_hook *n = realloc (h->hooks[kind], (h->len[kind] + 1) * sizeof *n);
  if (n == NULL)
    abort ();
  h->hooks[kind] = n;
  struct oci_hook *k = &n[h->len[kind]++];
  memset (k, 0, sizeof *k);
  k->path = xstrdup (path);
  k->args = nc_strv_dup (args, nargs);
  k->args_len = nargs;
  k->has_timeout = true;
  k->timeout = NC_HOOK_TIMEOUT;
  const char *nd = getenv ("CAPSULE_NETNS_DIR");
  if (nd && *nd == '/')
    {
      k->env = xmalloc0 (2 * sizeof *k->env);
      k->env[0] = xasprintf ("CAPSULE_NETNS_DIR=%s", nd);
      k->env_len = 1;
    }
}

/* Set NAME=value in env, replacing an existing NAME. */
static void
nc_setenv (struct oci_process *p, const char *name, const char *value)
{
  size_t nl = strlen (name);
  char *kv = xasprintf ("%s=%s", name, value);
  for (size_t i = 0; i < p->env_len; i++)
    if (strncmp (p->env[i], name, nl) == 0 && p->env[i][nl] == '=')
      {
        free (p->env[i]);
        p->env[i] = kv;
        return;
      }
  char **n = realloc (p->env, (p->env_len + 2) * sizeof *n);
  if (n == NULL)
    abort ();
  p->env = n;
  p->env[p->env_len++] = kv;
  p->env[p->env_len] = NULL;
}

static void
nc_add_resolv_mount (struct oci_config *cfg, const char *src)
{
  static const char *const opts[] = { "rbind", "ro", "nosuid", "nodev", "noexec" };
  struct oci_mount *n = realloc (cfg->mounts, (cfg->mounts_len + 1) * sizeof *n);
  if (n == NULL)
    abort ();
  cfg->mounts = n;
  struct oci_mount *m = &n[cfg->mounts_len++];
  memset (m, 0, sizeof *m);
  m->destination = xstrdup ("/etc/resolv.conf");
  m->type = xstrdup ("bind");
  m->source = xstrdup (src);
  m->options = nc_strv_dup (opts, sizeof opts / sizeof *opts);
  m->options_len = sizeof opts / sizeof *opts;
}

/* Every capsule's /etc/resolv.conf says the same thing, so it is one file
 * per state root (beside the container dirs), bind-mounted read-only, not a
 * file created and removed with each container. */
static char *
nc_resolv_path (const char *state_dir)
{
  cleanup_free char *root = xstrdup (state_dir);
  size_t l = strlen (root);
  while (l > 1 && root[l - 1] == '/')
    root[--l] = '\0';
  char *slash = strrchr (root, '/');
  if (slash == NULL)
    return xstrdup (".capsule-resolv.conf");
  slash[1] = '\0';
  return xasprintf ("%s.capsule-resolv.conf", root);
}

/* Written (atomically) only when missing or different: a bind mount of it
 * keeps the inode it saw, so a rewrite never shows a half file. */
static int
nc_resolv_ensure (const char *path, const char *text, size_t len, cr_error_t *err)
{
  char buf[256];
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0)
    {
      struct stat st;
      ssize_t n = read (fd, buf, sizeof buf);
      if (n == (ssize_t) len && memcmp (buf, text, len) == 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode)
          && st.st_uid == geteuid () && (st.st_mode & 07777) == 0644)
        return 0;
    }
  return netcontain_write_state (path, text, len, 0644, err);
}

int
netcontain_add_hooks (struct oci_config *cfg, const char *state_dir, const char *hook_path, cr_error_t *err)
{
  return netcontain_add_hooks_opts (cfg, state_dir, hook_path, NULL, err);
}

int
netcontain_add_hooks_opts (struct oci_config *cfg, const char *state_dir, const char *hook_path,
                           const struct netcontain_opts *opts, cr_error_t *err)
{
  const struct oci_namespace *net = NULL;
  cleanup_free char *resolv = nc_resolv_path (state_dir);
  cleanup_free char *capcfg = xasprintf ("%s/capsule.json", state_dir);
  static const char resolv_text[] = "nameserver 127.0.0.1\noptions attempts:1\n";

  if (hook_path == NULL || hook_path[0] != '/')
    return cr_error (err, EINVAL, "network containment: hook path must be absolute");
  for (size_t i = 0; cfg->linux_ && i < cfg->linux_->namespaces_len; i++)
    if (cfg->linux_->namespaces[i].type && strcmp (cfg->linux_->namespaces[i].type, "network") == 0)
      net = &cfg->linux_->namespaces[i];
  if (net == NULL)
    return cr_error (err, EPERM, "network containment: a capsule needs its own network namespace "
                                 "(no \"network\" entry in linux.namespaces)");
  if (mkdir_p (state_dir, 0711, err) < 0 || nc_resolv_ensure (resolv, resolv_text, sizeof resolv_text - 1, err) < 0)
    return cr_error_wrap (err, "network containment");

  const char *setup[32 + 2 * NETCONTAIN_MAX_INBOUND];
  char ports[NETCONTAIN_MAX_INBOUND][8], restarts[16];
  size_t n = 0, nt = 4;
  const char *teardown[6] = { "capsule-hook", "teardown", "--state-dir", state_dir };
  setup[n++] = "capsule-hook";
  setup[n++] = "setup";
  setup[n++] = "--state-dir";
  setup[n++] = state_dir;
  setup[n++] = "--config";
  setup[n++] = capcfg;
  if (opts && opts->audit)
    {
      setup[n++] = "--audit";
      setup[n++] = opts->audit;
      teardown[nt++] = "--audit";
      teardown[nt++] = opts->audit;
    }
  if (opts && opts->proxy)
    {
      setup[n++] = "--proxy";
      setup[n++] = opts->proxy;
    }
  if (opts && opts->cgroup_parent)
    {
      setup[n++] = "--cgroup-parent";
      setup[n++] = opts->cgroup_parent;
    }
  if (opts && opts->proxy_restarts != 0)
    {
      snprintf (restarts, sizeof restarts, "%d", opts->proxy_restarts > 0 ? opts->proxy_restarts : 0);
      setup[n++] = "--restarts";
      setup[n++] = restarts;
    }
  if (opts && opts->restart_forever)
    {
      setup[n++] = "--on-proxy-failure";
      setup[n++] = "restart-forever";
    }
  if (opts && opts->n_inbound > NETCONTAIN_MAX_INBOUND)
    return cr_error (err, E2BIG, "network containment: more than %d inbound ports", NETCONTAIN_MAX_INBOUND);
  for (size_t i = 0; opts && i < opts->n_inbound; i++)
    {
      snprintf (ports[i], sizeof ports[i], "%u", opts->inbound[i]);
      setup[n++] = "--inbound";
      setup[n++] = ports[i];
    }
  nc_add_hook (cfg, OCI_HOOK_CREATE_RUNTIME, hook_path, setup, n);
  nc_add_hook (cfg, OCI_HOOK_POSTSTOP, hook_path, teardown, nt);
  if (cfg->process)
    netcontain_set_proxy_env (cfg->process);
  nc_add_resolv_mount (cfg, resolv);
  return 0;
}

void
netcontain_set_proxy_env (struct oci_process *p)
{
  cleanup_free char *proxy = xasprintf ("http://127.0.0.1:%d", NETCONTAIN_PROXY_PORT);
  const char *names[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy" };
  for (size_t i = 0; i < 4; i++)
    nc_setenv (p, names[i], proxy);
  nc_setenv (p, "NO_PROXY", "localhost,127.0.0.1,::1");
  nc_setenv (p, "no_proxy", "localhost,127.0.0.1,::1");
}
