/* Capsule admission (see admission.h): validate, compute the effective
 * configuration, tighten the OCI config, claim the concurrency slot. */
#include "admission.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "capability_rule.h"
#include "concurrency.h"
#include "egress_rule.h"
#include "killswitch.h"
#include "landlock.h"
#include "lsm.h"
#include "lease.h"
#include "policy.h"
#include "state.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------- */

static void
strv_push (char ***v, size_t *n, const char *s)
{
  *v = realloc (*v, (*n + 2) * sizeof **v);
  if (*v == NULL)
    abort ();
  (*v)[(*n)++] = xstrdup (s);
  (*v)[*n] = NULL;
}

static bool
strv_has (char *const *v, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

static bool
path_under (const char *p, const char *dir)
{
  size_t n = strlen (dir);
  if (n == 1 && dir[0] == '/')
    return p[0] == '/';
  return strncmp (p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

bool
capsule_wanted (const struct oci_config *cfg, bool policy_default_capsule)
{
  if (policy_default_capsule)
    return true;
  for (size_t i = 0; i < cfg->annotations_len; i++)
    if (strncmp (cfg->annotations[i].key, CAPSULE_ANNOTATION_PREFIX, strlen (CAPSULE_ANNOTATION_PREFIX)) == 0)
      return true;
  return false;
}

/* ---- audit -------------------------------------------------------------- */

char *
capsule_audit_path (const char *policy_audit_dir, const char *id, const char *state_dir)
{
  if (policy_audit_dir && *policy_audit_dir)
    return xasprintf ("%s/%s.jsonl", policy_audit_dir, id);
  /* Beside the container dirs, not inside one: a refused create leaves no
   * container dir, and the log must outlive `delete`. */
  cleanup_free char *root = xstrdup (state_dir);
  char *slash = strrchr (root, '/');
  if (slash && slash != root)
    *slash = '\0';
  return xasprintf ("%s/.capsule-audit/%s.jsonl", root, id);
}

/* One open log per process: `run` writes admission, created and deleted
 * lines, and opening the chain (and syncing it at close) once is cheaper. */
static struct audit_log *audit_cached;
static char *audit_cached_path;

static void
audit_cache_close (void)
{
  if (audit_cached)
    audit_close (audit_cached);
  free (audit_cached_path);
  audit_cached = NULL;
  audit_cached_path = NULL;
}

void
capsule_audit_forget (void)
{
  /* After fork + closing fds: the handle's fd is not ours any more. */
  audit_cached = NULL;
  audit_cached_path = NULL;
}

static int
audit_write (const char *audit_path, const char *line, cr_error_t *err)
{
  if (audit_cached == NULL || strcmp (audit_cached_path, audit_path) != 0)
    {
      static bool registered;
      audit_cache_close ();
      cleanup_free char *dir = xstrdup (audit_path);
      char *slash = strrchr (dir, '/');
      if (slash)
        *slash = '\0';
      if (slash && mkdir_p (dir, 0700, err) < 0)
        return -1;
      if (audit_open (audit_path, &audit_cached, err) < 0)
        return -1;
      audit_cached_path = xstrdup (audit_path);
      if (!registered)
        atexit (audit_cache_close);
      registered = true;
    }
  return audit_append (audit_cached, line, err);
}

/* A foreground `run` has its monitor in a thread: one writer at a time on the cached handle. */
static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

int
capsule_audit (const char *audit_path, const char *id, const char *event, const char *extra_json)
{
  if (audit_path == NULL)
    return 0;
  char idq[512];
  audit_json_escape (idq, sizeof idq, id);
  cleanup_free char *line = xasprintf ("{\"source\":\"capsule-runc\",\"event\":\"%s\",\"id\":\"%s\"%s}", event, idq,
                                       extra_json ? extra_json : "");
  cr_error_t e = NULL;
  pthread_mutex_lock (&audit_lock);
  int r = audit_write (audit_path, line, &e);
  pthread_mutex_unlock (&audit_lock);
  if (r < 0)
    {
      fprintf (stderr, "capsule-runc: warning: audit `%s`: %s\n", audit_path, e ? e->msg : "failed");
      cr_error_release (&e);
      return -1;
    }
  return 0;
}

/* ---- checks ------------------------------------------------------------- */

/* Profile network "none": nothing to police because nothing can leave: a
 * new network namespace has only loopback, and without CAP_NET_ADMIN the
 * workload cannot add an interface.  So no egress annotation means
 * anything, and a namespace joined by path (CNI, a pod) is refused. */
static int
check_network_none (const struct capsule_profile *pr, const struct capsule_annotations *a, const struct oci_config *cfg,
                    cr_error_t *err)
{
  if (!pr->network_none)
    return 0;
  const char *keys[][2] = {
    { "capsule/egress.allow", a->egress_allow }, { "capsule/egress.gateway", a->egress_gateway },
    { "capsule/egress.tls-pin", a->egress_tls_pin }, { "capsule/dns.pin", a->dns_pin },
    { "capsule/credentials", a->credentials },
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (keys[i][1])
      return cr_error (err, 0, "annotation %s: profile `%s` has network \"none\": nothing can leave the capsule", keys[i][0],
                       pr->name);
  if (a->capabilities_len)
    return cr_error (err, 0, "annotation capsule/capability.%s: profile `%s` has network \"none\": nothing can leave the "
                             "capsule", a->capabilities[0].name, pr->name);
  const struct oci_namespace *net = oci_namespace_find (cfg, "network");
  if (net && net->path && *net->path)
    return cr_error (err, 0, "capsule: profile `%s` has network \"none\", which needs a new network namespace; "
                             "config.json joins `%s`, which may have interfaces",
                     pr->name, net->path);
  return 0;
}

/* Is the container's network namespace one of its own, owned by the initial user namespace? */
static int
check_netns (const struct oci_config *cfg, cr_error_t *err)
{
  const struct oci_namespace *net = oci_namespace_find (cfg, "network");
  if (net == NULL)
    return cr_error (err, 0, "capsule: no network namespace in config.json: the capsule would share the runtime's "
                             "network (host network is refused)");
  const struct oci_namespace *user = oci_namespace_find (cfg, "user");
  struct stat self, st;
  if (stat ("/proc/self/ns/net", &self) < 0)
    return cr_error_errno (err, "capsule: stat /proc/self/ns/net");
  if (net->path == NULL || *net->path == '\0')
    {
      if (user && (user->path == NULL || *user->path == '\0'))
        return cr_error (err, 0, "capsule: the new network namespace would be owned by the container's own user "
                                 "namespace (refused: the workload would be root over its network rules)");
      return 0;
    }
  cleanup_close int fd = open (net->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "capsule: open network namespace `%s`", net->path);
  if (fstat (fd, &st) < 0)
    return cr_error_errno (err, "capsule: stat network namespace `%s`", net->path);
  if (st.st_ino == self.st_ino && st.st_dev == self.st_dev)
    return cr_error (err, 0, "capsule: network namespace `%s` is the runtime's own (host network is refused)",
                     net->path);
  cleanup_close int owner = ioctl (fd, NS_GET_USERNS);
  struct stat ou, mu;
  if (owner >= 0 && fstat (owner, &ou) == 0 && stat ("/proc/self/ns/user", &mu) == 0 && ou.st_ino != mu.st_ino)
    return cr_error (err, 0, "capsule: network namespace `%s` is owned by a non-initial user namespace", net->path);
  return 0;
}

static const char *const runtime_sockets[] = {
  "docker.sock", "containerd.sock", "crio.sock", "podman.sock", "containerd-shim",
  NULL,
};
static const char *const runtime_socket_paths[] = {
  "docker.sock", "containerd.sock", "crio.sock", "podman.sock",
  "docker/docker.sock", "containerd/containerd.sock", "crio/crio.sock", "podman/podman.sock",
  "run/docker.sock", "run/containerd/containerd.sock", "run/crio/crio.sock", "run/podman/podman.sock",
  "var/run/docker.sock", "var/run/containerd/containerd.sock", "var/run/crio/crio.sock",
  NULL,
};

static int
check_runtime_sockets (const struct oci_config *cfg, cr_error_t *err)
{
  for (size_t i = 0; i < cfg->mounts_len; i++)
    {
      const struct oci_mount *m = &cfg->mounts[i];
      if (m->source == NULL || m->source[0] != '/')
        continue;
      char real[PATH_MAX];
      const char *src = realpath (m->source, real) ? real : m->source;
      const char *base = strrchr (src, '/');
      base = base ? base + 1 : src;
      for (size_t k = 0; runtime_sockets[k]; k++)
        if (strstr (base, runtime_sockets[k]))
          return cr_error (err, 0, "capsule: mount of `%s` at `%s`: container-runtime sockets are refused by the node policy",
                           m->source, m->destination);
      struct stat st;
      if (stat (src, &st) == 0 && S_ISDIR (st.st_mode))
        for (size_t k = 0; runtime_socket_paths[k]; k++)
          {
            cleanup_free char *p = xasprintf ("%s/%s", strcmp (src, "/") ? src : "", runtime_socket_paths[k]);
            struct stat s2;
            if (stat (p, &s2) == 0 && S_ISSOCK (s2.st_mode))
              return cr_error (err, 0,
                               "capsule: mount of `%s` at `%s` exposes the container-runtime socket `%s`: refused by the "
                               "node policy",
                               m->source, m->destination, p);
          }
    }
  return 0;
}

static int
check_private_rule (const struct capsule_policy *pol, const char *key, const struct egress_rule *r, cr_error_t *err)
{
  unsigned char addr[16];
  if (egress_rule_names_private_ip (r))
    {
      int fam = r->kind == EGRESS_HOST_IPV6 ? AF_INET6 : AF_INET;
      if (inet_pton (fam, r->host, addr) != 1 || !capsule_policy_private_allowed (pol, fam, addr))
        return cr_error (err, 0,
                         "annotation %s: rule `%s` names the private/loopback/link-local address %s, which the node "
                         "policy's egress.allow_private does not cover",
                         key, r->text, r->host);
      return 0;
    }
  /* Names that mean a private address by definition. */
  if (r->kind == EGRESS_HOST_NAME || r->kind == EGRESS_HOST_WILDCARD)
    {
      size_t hl = strlen (r->host);
      bool local = strcmp (r->host, "localhost") == 0 || (hl > 10 && strcmp (r->host + hl - 10, ".localhost") == 0);
      bool meta = strcasecmp (r->host, "metadata.google.internal") == 0 || strcasecmp (r->host, "metadata") == 0;
      if (local || meta)
        {
          const char *ip = local ? "127.0.0.1" : "169.254.169.254";
          inet_pton (AF_INET, ip, addr);
          if (!capsule_policy_private_allowed (pol, AF_INET, addr))
            return cr_error (err, 0,
                             "annotation %s: rule `%s` names %s (%s), which the node policy's egress.allow_private does "
                             "not cover",
                             key, r->text, r->host, ip);
        }
    }
  return 0;
}

static int
check_egress (const struct capsule_policy *pol, const struct capsule_annotations *a, cr_error_t *err)
{
  /* Brokered capabilities: the grammar, and private hosts like egress rules. */
  for (size_t i = 0; i < a->capabilities_len; i++)
    {
      struct capability_rule cr;
      if (capability_rule_parse (a->capabilities[i].name, a->capabilities[i].value, &cr, err) < 0)
        return -1;
      cleanup_free char *key = xasprintf ("capsule/capability.%s", cr.name);
      int r = check_private_rule (pol, key, &cr.rule, err);
      capability_rule_free (&cr);
      if (r < 0)
        return -1;
    }
  if (a->egress_allow)
    {
      struct egress_rule *rules = NULL;
      size_t n = 0;
      if (egress_rules_parse_list (a->egress_allow, &rules, &n, err) < 0)
        return cr_error_wrap (err, "annotation capsule/egress.allow");
      int r = 0;
      for (size_t i = 0; i < n && r == 0; i++)
        r = check_private_rule (pol, "capsule/egress.allow", &rules[i], err);
      egress_rules_free (rules, n);
      if (r < 0)
        return -1;
    }
  if (a->credentials)
    {
      cleanup_free char *copy = xstrdup (a->credentials);
      char *save = copy;
      for (char *item; (item = next_list_item (&save, ";")) != NULL;)
        {
          struct egress_cred c;
          if (egress_cred_parse (item, &c, err) < 0)
            return cr_error_wrap (err, "annotation capsule/credentials");
          int r = check_private_rule (pol, "capsule/credentials", &c.rule, err);
          egress_cred_free (&c);
          if (r < 0)
            return -1;
        }
    }
  if (a->egress_gateway)
    {
      struct egress_rule r;
      const char *colon = strrchr (a->egress_gateway, ':');
      if (colon == NULL || strchr (a->egress_gateway, '/') || strchr (a->egress_gateway, ' ')
          || egress_rule_parse (a->egress_gateway, &r, err) < 0)
        {
          cr_error_release (err);
          return cr_error (err, 0, "annotation capsule/egress.gateway: `%s`: expected host:port", a->egress_gateway);
        }
      bool bad = r.port == 0;
      int rr = bad ? 0 : check_private_rule (pol, "capsule/egress.gateway", &r, err);
      egress_rule_free (&r);
      if (bad)
        return cr_error (err, 0, "annotation capsule/egress.gateway: `%s`: expected host:port", a->egress_gateway);
      if (rr < 0)
        return -1;
    }
  /* host=value lists: the proxy owns their meaning; here only the shape. */
  const char *lists[][2] = { { "capsule/egress.tls-pin", a->egress_tls_pin }, { "capsule/dns.pin", a->dns_pin } };
  for (size_t k = 0; k < 2; k++)
    {
      if (lists[k][1] == NULL)
        continue;
      cleanup_free char *copy = xstrdup (lists[k][1]);
      char *save = copy;
      for (char *item; (item = next_list_item (&save, ";")) != NULL;)
        {
          char *eq = strchr (item, '=');
          if (eq == NULL || eq == item || eq[1] == '\0' || strchr (item, ' ') != NULL)
            return cr_error (err, 0, "annotation %s: item `%s`: expected host=value", lists[k][0], item);
          if (k == 0 && strncmp (eq + 1, "sha256/", 7) != 0)
            return cr_error (err, 0, "annotation %s: item `%s`: expected host=sha256/BASE64", lists[k][0], item);
          if (k == 1)
            {
              cleanup_free char *ips = xstrdup (eq + 1);
              char *s2 = NULL;
              for (char *ip = strtok_r (ips, ",", &s2); ip; ip = strtok_r (NULL, ",", &s2))
                {
                  unsigned char buf[16];
                  int fam = strchr (ip, ':') ? AF_INET6 : AF_INET;
                  if (inet_pton (fam, ip, buf) != 1)
                    return cr_error (err, 0, "annotation capsule/dns.pin: item `%s`: `%s` is not an IP address", item, ip);
                  if (egress_ip_text_is_private (ip) && !capsule_policy_private_allowed (pol, fam, buf))
                    return cr_error (err, 0,
                                     "annotation capsule/dns.pin: item `%s`: %s is private/loopback/link-local and not "
                                     "covered by the node policy's egress.allow_private",
                                     item, ip);
                }
            }
        }
    }
  return 0;
}

static int
check_lease (const struct capsule_policy *pol, const struct capsule_annotations *a, struct capsule_effective *e,
             cr_error_t *err)
{
  if (pol->lease_public_key == NULL)
    {
      if (a->lease)
        return cr_error (err, 0, "annotation capsule/lease: the node policy names no lease key to verify it with");
      return 0;
    }
  if (a->lease == NULL)
    return cr_error (err, 0, "annotation capsule/lease: required by the node policy (lease.public_key) but missing");
  struct capsule_lease l;
  if (capsule_lease_verify (a->lease, pol->lease_public_key, (int64_t) time (NULL), &l, err) < 0)
    return cr_error_wrap (err, "annotation capsule/lease");
  const char *what = NULL, *want = NULL, *got = NULL;
  if (strcmp (l.agent, e->agent) != 0)
    what = "agent", want = e->agent, got = l.agent;
  else if (strcmp (l.version, e->version) != 0 && strcmp (l.version, "*") != 0)
    what = "version", want = e->version, got = l.version;
  else if (strcmp (l.session, e->session) != 0)
    what = "session", want = e->session, got = l.session;
  else if (strcmp (l.profile, e->profile) != 0)
    what = "profile", want = e->profile, got = l.profile;
  int r = 0;
  if (what)
    r = cr_error (err, 0, "annotation capsule/lease: issued for %s `%s`, this capsule's %s is `%s`", what, got, what, want);
  else
    {
      e->lease_checked = true;
      e->lease_exp = l.exp;
    }
  capsule_lease_release (&l);
  return r;
}

/* ---- effective values and bounds --------------------------------------- */

static int
bound_err (cr_error_t *err, const char *key, const char *value, const char *what, const char *bound, const char *profile)
{
  return cr_error (err, 0, "annotation %s: `%s`: %s exceeds the node policy bound %s (profile `%s`)", key, value, what,
                   bound, profile);
}

static int
compute (const struct capsule_policy *pol, const struct capsule_profile *pr, const struct capsule_annotations *a,
         const struct oci_config *cfg, struct capsule_effective *e, cr_error_t *err)
{
  const char *lim_ann = oci_annotation (cfg, "capsule/limits");
  (void) pol;
  /* Writable paths. */
  char *const *wr = a->has_writable ? a->writable : pr->writable;
  size_t wn = a->has_writable ? a->writable_len : pr->writable_len;
  for (size_t i = 0; i < wn; i++)
    {
      if (a->has_writable && pr->writable_allowed_len)
        {
          bool ok = false;
          for (size_t k = 0; k < pr->writable_allowed_len && !ok; k++)
            ok = path_under (wr[i], pr->writable_allowed[k]);
          if (!ok)
            return cr_error (err, 0, "annotation capsule/fs.writable: `%s` is not below a path the node policy allows "
                                     "(profile `%s` writable_allowed)", wr[i], pr->name);
        }
      strv_push (&e->writable, &e->writable_len, wr[i]);
    }
  /* Sizes and durations. */
  e->fs_size = a->has_fs_size ? a->fs_size : pr->fs_size;
  if (e->fs_size > pr->max_fs_size)
    {
      cleanup_free char *b = capsule_format_size (pr->max_fs_size);
      return bound_err (err, "capsule/fs.size", oci_annotation (cfg, "capsule/fs.size"), "size", b, pr->name);
    }
  e->timeout_s = a->has_timeout ? a->timeout_s : pr->timeout_s;
  if (pr->max_timeout_s && e->timeout_s > pr->max_timeout_s)
    {
      cleanup_free char *b = xasprintf ("%llus", (unsigned long long) pr->max_timeout_s);
      return bound_err (err, "capsule/timeout", oci_annotation (cfg, "capsule/timeout"), "timeout", b, pr->name);
    }
  /* Limits, key by key. */
  e->limits = pr->limits;
  e->limits.has_cpu = e->limits.has_memory = e->limits.has_pids = e->limits.has_gpu = true;
  if (a->has_limits)
    {
      const struct capsule_limits *l = &a->limits, *mx = &pr->max_limits;
      if (l->has_cpu && l->cpu_milli > mx->cpu_milli)
        {
          cleanup_free char *b = xasprintf ("cpu=%u.%03u", mx->cpu_milli / 1000, mx->cpu_milli % 1000);
          return bound_err (err, "capsule/limits", lim_ann, "cpu", b, pr->name);
        }
      if (l->has_memory && l->memory > mx->memory)
        {
          cleanup_free char *s = capsule_format_size (mx->memory);
          cleanup_free char *b = xasprintf ("memory=%s", s);
          return bound_err (err, "capsule/limits", lim_ann, "memory", b, pr->name);
        }
      if (l->has_pids && l->pids > mx->pids)
        {
          cleanup_free char *b = xasprintf ("pids=%lld", (long long) mx->pids);
          return bound_err (err, "capsule/limits", lim_ann, "pids", b, pr->name);
        }
      if (l->has_gpu && l->gpu > mx->gpu)
        {
          cleanup_free char *b = xasprintf ("gpu=%u", mx->gpu);
          return bound_err (err, "capsule/limits", lim_ann, "gpu", b, pr->name);
        }
      if (l->has_cpu)
        e->limits.cpu_milli = l->cpu_milli;
      if (l->has_memory)
        e->limits.memory = l->memory;
      if (l->has_pids)
        e->limits.pids = l->pids;
      if (l->has_gpu)
        e->limits.gpu = l->gpu;
    }
  if (a->has_concurrency)
    {
      if (pr->max_concurrency && a->concurrency_max > pr->max_concurrency)
        {
          cleanup_free char *b = xasprintf ("%u", pr->max_concurrency);
          return bound_err (err, "capsule/concurrency", oci_annotation (cfg, "capsule/concurrency"), "N", b, pr->name);
        }
      e->concurrency_group = xstrdup (a->concurrency_group);
      e->concurrency_max = a->concurrency_max;
    }
  for (size_t i = 0; i < pr->caps_len; i++)
    strv_push (&e->caps, &e->caps_len, pr->caps[i]);
  return 0;
}

/* ---- config tightening -------------------------------------------------- */

static const char *const never_caps[] = { "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN", NULL };

static bool
cap_eq (const char *a, const char *b)
{
  if (strncasecmp (a, "CAP_", 4) == 0)
    a += 4;
  if (strncasecmp (b, "CAP_", 4) == 0)
    b += 4;
  return strcasecmp (a, b) == 0;
}

static bool
cap_allowed (const struct capsule_effective *e, const char *c)
{
  for (size_t k = 0; never_caps[k]; k++)
    if (cap_eq (c, never_caps[k]))
      return false;
  for (size_t i = 0; i < e->caps_len; i++)
    if (cap_eq (c, e->caps[i]))
      return true;
  return false;
}

static void
filter_caps (const struct capsule_effective *e, char **v, size_t *n, char ***stripped, size_t *stripped_len)
{
  size_t o = 0;
  for (size_t i = 0; i < *n; i++)
    {
      if (cap_allowed (e, v[i]))
        v[o++] = v[i];
      else
        {
          if (stripped && !strv_has (*stripped, *stripped_len, v[i]))
            strv_push (stripped, stripped_len, v[i]);
          free (v[i]);
        }
    }
  *n = o;
  if (v)
    v[o] = NULL;
}

int
capsule_restrict_process (const struct capsule_effective *e, struct oci_process *p, cr_error_t *err)
{
  (void) err;
  p->no_new_privileges = true;
  struct oci_capabilities *c = p->capabilities;
  if (c == NULL)
    return 0;
  filter_caps (e, c->bounding, &c->bounding_len, NULL, NULL);
  filter_caps (e, c->effective, &c->effective_len, NULL, NULL);
  filter_caps (e, c->inheritable, &c->inheritable_len, NULL, NULL);
  filter_caps (e, c->permitted, &c->permitted_len, NULL, NULL);
  filter_caps (e, c->ambient, &c->ambient_len, NULL, NULL);
  return 0;
}

static void
strip_caps (struct capsule_effective *e, struct oci_process *p)
{
  struct oci_capabilities *c = p->capabilities;
  if (c == NULL)
    return;
  char ***s = &e->caps_stripped;
  size_t *sn = &e->caps_stripped_len;
  filter_caps (e, c->bounding, &c->bounding_len, s, sn);
  filter_caps (e, c->effective, &c->effective_len, s, sn);
  filter_caps (e, c->inheritable, &c->inheritable_len, s, sn);
  filter_caps (e, c->permitted, &c->permitted_len, s, sn);
  filter_caps (e, c->ambient, &c->ambient_len, s, sn);
}

static const char *const capsule_masked[] = {
  "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/sysrq-trigger",
  "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug", "/sys/kernel/security", NULL,
};
static const char *const capsule_readonly[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", NULL,
};

static void
add_paths (char ***v, size_t *n, const char *const *add)
{
  for (size_t i = 0; add[i]; i++)
    if (!strv_has (*v, *n, add[i]))
      strv_push (v, n, add[i]);
}

static bool
is_gpu_path (const char *p)
{
  return strncmp (p, "/dev/nvidia", 11) == 0 || path_under (p, "/dev/dri") || strcmp (p, "/dev/kfd") == 0;
}

static void
mount_set_ro (struct oci_mount *m)
{
  size_t o = 0;
  bool has_ro = false;
  for (size_t i = 0; i < m->options_len; i++)
    {
      if (strcmp (m->options[i], "rw") == 0)
        {
          free (m->options[i]);
          continue;
        }
      if (strcmp (m->options[i], "ro") == 0)
        has_ro = true;
      m->options[o++] = m->options[i];
    }
  m->options_len = o;
  if (!has_ro)
    strv_push (&m->options, &m->options_len, "ro");
}

static bool
is_bind (const struct oci_mount *m)
{
  if (m->type && strcmp (m->type, "bind") == 0)
    return true;
  for (size_t i = 0; i < m->options_len; i++)
    if (strcmp (m->options[i], "bind") == 0 || strcmp (m->options[i], "rbind") == 0)
      return true;
  return false;
}

static void
tighten (struct oci_config *cfg, struct capsule_effective *e)
{
  cfg->root_readonly = true;
  if (cfg->linux_ == NULL)
    cfg->linux_ = xmalloc0 (sizeof *cfg->linux_);
  struct oci_linux *l = cfg->linux_;

  /* GPU device nodes and their mounts, unless gpu=N allows them. */
  if (e->limits.gpu == 0)
    {
      size_t o = 0;
      for (size_t i = 0; i < l->devices_len; i++)
        {
          if (is_gpu_path (l->devices[i].path))
            {
              strv_push (&e->devices_hidden, &e->devices_hidden_len, l->devices[i].path);
              free (l->devices[i].path);
              free (l->devices[i].type);
              continue;
            }
          l->devices[o++] = l->devices[i];
        }
      l->devices_len = o;
      o = 0;
      for (size_t i = 0; i < cfg->mounts_len; i++)
        {
          struct oci_mount *m = &cfg->mounts[i];
          if (is_gpu_path (m->destination))
            {
              strv_push (&e->devices_hidden, &e->devices_hidden_len, m->destination);
              free (m->destination);
              free (m->type);
              free (m->source);
              for (size_t k = 0; k < m->options_len; k++)
                free (m->options[k]);
              free (m->options);
              free (m->uid_mappings);
              free (m->gid_mappings);
              continue;
            }
          cfg->mounts[o++] = *m;
        }
      cfg->mounts_len = o;
    }

  /* Bind mounts outside the writable paths become read-only (Landlock says
   * the same; this holds on kernels without it too). */
  for (size_t i = 0; i < cfg->mounts_len; i++)
    {
      struct oci_mount *m = &cfg->mounts[i];
      bool writable = false;
      for (size_t k = 0; k < e->writable_len && !writable; k++)
        writable = path_under (m->destination, e->writable[k]);
      if (!writable && (is_bind (m) || (m->type && strcmp (m->type, "sysfs") == 0)))
        mount_set_ro (m);
    }

  /* One fresh tmpfs per writable path. */
  cfg->mounts = realloc (cfg->mounts, (cfg->mounts_len + e->writable_len) * sizeof *cfg->mounts);
  if (cfg->mounts == NULL && e->writable_len)
    abort ();
  for (size_t k = 0; k < e->writable_len; k++)
    {
      struct oci_mount *m = &cfg->mounts[cfg->mounts_len++];
      memset (m, 0, sizeof *m);
      m->destination = xstrdup (e->writable[k]);
      m->type = xstrdup ("tmpfs");
      m->source = xstrdup ("tmpfs");
      strv_push (&m->options, &m->options_len, "nosuid");
      strv_push (&m->options, &m->options_len, "nodev");
      strv_push (&m->options, &m->options_len, "mode=1777");
      cleanup_free char *sz = xasprintf ("size=%llu", (unsigned long long) e->fs_size);
      strv_push (&m->options, &m->options_len, sz);
    }

  add_paths (&l->masked_paths, &l->masked_paths_len, capsule_masked);
  add_paths (&l->readonly_paths, &l->readonly_paths_len, capsule_readonly);

  if (cfg->process)
    {
      cfg->process->no_new_privileges = true;
      strip_caps (e, cfg->process);
    }

  /* Resources: the capsule's limits unless the config asked for less. */
  if (l->resources == NULL)
    l->resources = xmalloc0 (sizeof *l->resources);
  struct oci_resources *r = l->resources;
  if (r->memory == NULL)
    r->memory = xmalloc0 (sizeof *r->memory);
  if (!r->memory->has_limit || r->memory->limit <= 0 || (uint64_t) r->memory->limit > e->limits.memory)
    {
      r->memory->has_limit = true;
      r->memory->limit = (int64_t) e->limits.memory;
    }
  if (r->memory->has_swap && r->memory->swap > 0 && r->memory->swap < r->memory->limit)
    r->memory->swap = r->memory->limit;
  if (r->cpu == NULL)
    r->cpu = xmalloc0 (sizeof *r->cpu);
  uint64_t period = r->cpu->has_period && r->cpu->period ? r->cpu->period : 100000;
  int64_t quota = (int64_t) (period * e->limits.cpu_milli / 1000);
  if (!r->cpu->has_quota || r->cpu->quota <= 0 || r->cpu->quota > quota)
    {
      r->cpu->has_quota = true;
      r->cpu->quota = quota;
      r->cpu->has_period = true;
      r->cpu->period = period;
    }
  if (!r->has_pids_limit || r->pids_limit <= 0 || r->pids_limit > e->limits.pids)
    {
      r->has_pids_limit = true;
      r->pids_limit = e->limits.pids;
    }
}

/* ---- containers joining a capsule's network namespace -------------------- */

/* Capsule NAME under ROOT runs in the network namespace *data (a struct stat). */
static bool
capsule_in_netns (const char *root, const char *name, void *data)
{
  const struct stat *want = data;
  cleanup_free char *cj = xasprintf ("%s/%s/capsule.json", root, name);
  if (access (cj, F_OK) < 0)
    return false;
  struct stat st;
  cleanup_free char *pin = xasprintf ("%s/%s/netns", root, name);
  if (stat (pin, &st) == 0 && st.st_ino == want->st_ino && st.st_dev == want->st_dev)
    return true;
  cr_error_t e = NULL;
  cleanup_close int dfd = cr_state_dir_open (root, name, false, &e);
  struct cr_state s = { 0 };
  bool same = false;
  if (dfd >= 0 && cr_state_read (dfd, &s, &e) == 0 && s.pid > 0)
    {
      char p[64];
      snprintf (p, sizeof p, "/proc/%d/ns/net", (int) s.pid);
      same = stat (p, &st) == 0 && st.st_ino == want->st_ino && st.st_dev == want->st_dev;
    }
  cr_error_release (&e);
  cr_state_release (&s);
  return same;
}

/* The id of a capsule whose network namespace (init's, or one pinned as
 * <state>/netns) is the one at ns_path; malloc'd, NULL if none. */
static char *
capsule_owning_netns (const char *root, const char *ns_path)
{
  struct stat want;
  if (stat (ns_path, &want) < 0)
    return NULL;
  return dir_find_entry (root, capsule_in_netns, &want);
}

/* A plain container joining a capsule's netns (Kubernetes app, init, debug
 * containers; podman pod members) never holds CAP_NET_ADMIN, CAP_NET_RAW or
 * CAP_SYS_ADMIN: they would let it rewrite the capsule's rules. */
void
capsule_strip_joiner (const struct oci_config *cfg, struct oci_process *proc, const char *root, const char *id)
{
  const struct oci_namespace *net = oci_namespace_find (cfg, "network");
  if (net == NULL || net->path == NULL || proc == NULL || proc->capabilities == NULL)
    return;
  cleanup_free char *owner = capsule_owning_netns (root, net->path);
  if (owner == NULL)
    return;
  struct capsule_effective tmp = { 0 };
  /* Keep everything but the three. */
  static const char *const all[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", NULL,
  };
  for (size_t i = 0; all[i]; i++)
    strv_push (&tmp.caps, &tmp.caps_len, all[i]);
  strip_caps (&tmp, proc);
  cleanup_effective struct capsule_effective *owner_eff = NULL;
  cleanup_free char *odir = xasprintf ("%s/%s", root, owner);
  cr_error_t e = NULL;
  if (capsule_effective_load (odir, &owner_eff, &e) == 0 && tmp.caps_stripped_len)
    {
      cleanup_free char *list = xstrdup ("");
      for (size_t i = 0; i < tmp.caps_stripped_len; i++)
        {
          char *n = xasprintf ("%s%s\"%s\"", list, i ? "," : "", tmp.caps_stripped[i]);
          free (list);
          list = n;
        }
      char idq[512];
      audit_json_escape (idq, sizeof idq, id);
      cleanup_free char *extra = xasprintf (",\"joiner\":\"%s\",\"capabilities_stripped\":[%s]", idq, list);
      capsule_audit (owner_eff->audit_path, owner_eff->id, "netns-joined", extra);
    }
  cr_error_release (&e);
  for (size_t i = 0; i < tmp.caps_len; i++)
    free (tmp.caps[i]);
  free (tmp.caps);
  for (size_t i = 0; i < tmp.caps_stripped_len; i++)
    free (tmp.caps_stripped[i]);
  free (tmp.caps_stripped);
}

/* ---- entry points ------------------------------------------------------ */

static void
audit_refusal (const char *path, const char *id, const char *msg)
{
  cleanup_free char *m = audit_json_escaped (msg ? msg : "refused");
  cleanup_free char *extra = xasprintf (",\"decision\":\"deny\",\"reason\":\"%s\"", m);
  capsule_audit (path, id, "admission", extra);
}

int
capsule_admit (struct oci_config *cfg, const char *id, const char *root, const char *state_dir,
               struct capsule_effective **out, cr_error_t *err)
{
  *out = NULL;
  /* Cheap exit for plain containers on nodes without a policy file. */
  const char *pp = getenv ("CAPSULE_POLICY");
  if (!capsule_wanted (cfg, false) && access (pp && *pp ? pp : CAPSULE_POLICY_PATH, F_OK) < 0 && errno == ENOENT)
    {
      capsule_strip_joiner (cfg, cfg->process, root, id);
      return 0;
    }

  struct capsule_policy *pol = NULL;
  if (capsule_policy_load (&pol, err) < 0)
    return -1;
  if (!capsule_wanted (cfg, pol->default_capsule))
    {
      capsule_policy_free (pol);
      capsule_strip_joiner (cfg, cfg->process, root, id);
      return 0;
    }
  cleanup_free char *audit = capsule_audit_path (pol->audit_dir, id, state_dir);
  struct capsule_annotations a;
  struct capsule_effective *e = xmalloc0 (sizeof *e);
  int r = capsule_annotations_parse (cfg->annotations, cfg->annotations_len, &a, err);
  if (r == 0)
    {
      e->id = xstrdup (id);
      e->profile = xstrdup (a.profile ? a.profile : "default");
      e->agent = xstrdup (a.agent ? a.agent : id);
      e->version = xstrdup (a.version ? a.version : "unversioned");
      e->session = xstrdup (a.session ? a.session : id);
      e->audit_path = xstrdup (audit);
      e->policy_path = pol->path ? xstrdup (pol->path) : NULL;
      e->killswitch_dir = pol->killswitch_dir ? xstrdup (pol->killswitch_dir) : NULL;
      e->secrets_dir = pol->secrets_dir ? xstrdup (pol->secrets_dir) : NULL;
      const struct capsule_profile *pr = capsule_policy_profile (pol, e->profile);
      if (pr == NULL)
        r = cr_error (err, 0, "annotation capsule/profile: `%s`: no such profile in the node policy", e->profile);
      if (r == 0 && cfg->process == NULL)
        r = cr_error (err, 0, "capsule: config.json has no process");
      /* Revoked sessions, agents and agent versions never start (lib/killswitch.h). */
      if (r == 0)
        r = killswitch_admit_check (killswitch_dir_resolve (pol->killswitch_dir), e->session, e->agent, e->version, err);
      if (r == 0)
        r = compute (pol, pr, &a, cfg, e, err);
      if (r == 0)
        r = check_lease (pol, &a, e, err);
      if (r == 0)
        r = check_network_none (pr, &a, cfg, err);
      if (r == 0)
        r = check_egress (pol, &a, err);
      if (r == 0 && !pol->allow_runtime_sockets)
        r = check_runtime_sockets (cfg, err);
      if (r == 0)
        r = check_netns (cfg, err);
      if (r == 0)
        r = capsule_lsm_admit (pol, cfg, &e->lsm, err);
      if (r == 0)
        {
          e->landlock_abi = capsule_landlock_abi ();
          e->network_none = pr->network_none;
          e->egress_allow = a.egress_allow ? xstrdup (a.egress_allow) : NULL;
          e->egress_gateway = a.egress_gateway ? xstrdup (a.egress_gateway) : NULL;
          e->egress_tls_pin = a.egress_tls_pin ? xstrdup (a.egress_tls_pin) : NULL;
          e->dns_pin = a.dns_pin ? xstrdup (a.dns_pin) : NULL;
          e->credentials = a.credentials ? xstrdup (a.credentials) : NULL;
          e->capabilities = a.capabilities;
          e->capabilities_len = a.capabilities_len;
          a.capabilities = NULL;
          a.capabilities_len = 0;
        }
      /* Last: the slot, so a refusal above never holds one. */
      if (r == 0 && e->concurrency_group)
        r = capsule_slot_acquire (root, e->concurrency_group, e->concurrency_max, id, getpid (), err);
    }
  capsule_annotations_release (&a);
  capsule_policy_free (pol);
  if (r < 0)
    {
      audit_refusal (audit, id, *err ? (*err)->msg : NULL);
      capsule_effective_free (e);
      return -1;
    }
  tighten (cfg, e);
  cleanup_free char *stripped = xstrdup ("");
  for (size_t i = 0; i < e->caps_stripped_len; i++)
    {
      char *n = xasprintf ("%s%s\"%s\"", stripped, i ? "," : "", e->caps_stripped[i]);
      free (stripped);
      stripped = n;
    }
  cleanup_free char *ag = audit_json_escaped (e->agent);
  cleanup_free char *ve = audit_json_escaped (e->version);
  cleanup_free char *se = audit_json_escaped (e->session);
  cleanup_free char *extra = xasprintf (",\"decision\":\"allow\",\"profile\":\"%s\",\"agent\":\"%s\",\"version\":\"%s\","
                                        "\"session\":\"%s\",\"timeout_s\":%llu,\"landlock_abi\":%d,"
                                        "\"capabilities_stripped\":[%s],\"network\":\"%s\"",
                                        e->profile, ag, ve, se, (unsigned long long) e->timeout_s, e->landlock_abi, stripped,
                                        e->network_none ? "none" : "contained");
  /* The decision is logged before it takes effect; no log, no capsule. */
  if (capsule_audit (audit, id, "admission", extra) < 0)
    {
      if (e->concurrency_group)
        capsule_slot_release (root, e->concurrency_group, id);
      capsule_effective_free (e);
      return cr_error (err, 0, "capsule: cannot write the audit log `%s`", audit);
    }
  *out = e;
  return 0;
}

void
capsule_admit_abort (const char *root, const char *id)
{
  cleanup_free char *dir = xasprintf ("%s/.capsule-concurrency", root);
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  while (d && (de = readdir (d)))
    if (de->d_name[0] != '.')
      capsule_slot_release (root, de->d_name, id);
}
