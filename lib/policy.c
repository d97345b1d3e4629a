/* Node policy loader: JSON -> struct capsule_policy, with the built-in
 * default profile filling whatever the file leaves out. */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../oci-spec/json_get.h"
#include "util.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

const char *const capsule_default_caps[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
  "CAP_NET_BIND_SERVICE", NULL,
};

static char **
strv_dup (const char *const *v, size_t n, size_t *out_n)
{
  char **r = xmalloc0 ((n + 1) * sizeof *r);
  for (size_t i = 0; i < n; i++)
    r[i] = xstrdup (v[i]);
  *out_n = n;
  return r;
}

static void
builtin_profile (struct capsule_profile *pr, const char *name)
{
  memset (pr, 0, sizeof *pr);
  pr->name = xstrdup (name);
  static const char *const wr[] = { "/workspace", "/tmp" };
  pr->writable = strv_dup (wr, 2, &pr->writable_len);
  pr->fs_size = 64 * MIB;
  pr->max_fs_size = 1 * GIB;
  pr->timeout_s = 0;
  pr->max_timeout_s = 0;
  pr->limits = (struct capsule_limits){ .has_cpu = true, .cpu_milli = 1000, .has_memory = true, .memory = 512 * MIB,
                                        .has_pids = true, .pids = 256, .has_gpu = true, .gpu = 0 };
  pr->max_limits = (struct capsule_limits){ .has_cpu = true, .cpu_milli = 4000, .has_memory = true, .memory = 4 * GIB,
                                            .has_pids = true, .pids = 4096, .has_gpu = true, .gpu = 0 };
  size_t n = 0;
  while (capsule_default_caps[n])
    n++;
  pr->caps = strv_dup (capsule_default_caps, n, &pr->caps_len);
}

static void
profile_release (struct capsule_profile *pr)
{
  free (pr->name);
  ocij_strv_free (pr->writable, pr->writable_len);
  ocij_strv_free (pr->writable_allowed, pr->writable_allowed_len);
  ocij_strv_free (pr->caps, pr->caps_len);
}

void
capsule_policy_free (struct capsule_policy *p)
{
  if (p == NULL)
    return;
  free (p->path);
  free (p->lease_public_key);
  free (p->audit_dir);
  free (p->killswitch_dir);
  free (p->secrets_dir);
  free (p->state_dir);
  free (p->lsm_apparmor_profile);
  free (p->lsm_selinux_label);
  free (p->allow_private);
  for (size_t i = 0; i < p->profiles_len; i++)
    profile_release (&p->profiles[i]);
  free (p->profiles);
  free (p);
}

bool
capsule_policy_private_allowed (const struct capsule_policy *p, int family, const void *addr)
{
  for (size_t i = 0; p && i < p->allow_private_len; i++)
    if (egress_cidr_contains (&p->allow_private[i], family, addr))
      return true;
  return false;
}

const struct capsule_profile *
capsule_policy_profile (const struct capsule_policy *p, const char *name)
{
  for (size_t i = 0; i < p->profiles_len; i++)
    if (strcmp (p->profiles[i].name, name) == 0)
      return &p->profiles[i];
  return NULL;
}

/* A string key parsed by one of the annotation value parsers. */
static int
get_text (struct ocij *j, yajl_val obj, const char *key, char **out)
{
  *out = NULL;
  return ocij_str (j, obj, key, false, out);
}

static int
get_size (struct ocij *j, yajl_val obj, const char *key, uint64_t *out)
{
  cleanup_free char *s = NULL;
  int r = get_text (j, obj, key, &s);
  if (r <= 0)
    return r;
  const char *why;
  if (capsule_parse_size (s, out, &why) < 0)
    return ocij_fail_key (j, key, "`%s`: %s", s, why);
  return 1;
}

static int
get_duration (struct ocij *j, yajl_val obj, const char *key, uint64_t *out)
{
  cleanup_free char *s = NULL;
  int r = get_text (j, obj, key, &s);
  if (r <= 0)
    return r;
  const char *why;
  if (*s == '\0')
    *out = 0;
  else if (capsule_parse_duration (s, out, &why) < 0)
    return ocij_fail_key (j, key, "`%s`: %s", s, why);
  return 1;
}

static int
get_limits (struct ocij *j, yajl_val obj, const char *key, struct capsule_limits *lim)
{
  cleanup_free char *s = NULL;
  int r = get_text (j, obj, key, &s);
  if (r <= 0)
    return r;
  struct capsule_limits l;
  const char *why;
  if (capsule_parse_limits (s, &l, &why) < 0)
    return ocij_fail_key (j, key, "`%s`: %s", s, why);
  /* Keys left out keep the built-in value. */
  if (l.has_cpu)
    lim->cpu_milli = l.cpu_milli;
  if (l.has_memory)
    lim->memory = l.memory;
  if (l.has_pids)
    lim->pids = l.pids;
  if (l.has_gpu)
    lim->gpu = l.gpu;
  return 1;
}

static int
parse_profile (struct ocij *j, const char *name, yajl_val o, struct capsule_profile *pr)
{
  builtin_profile (pr, name);
  if (!YAJL_IS_OBJECT (o))
    return ocij_fail (j, "expected an object");
  cleanup_free char *wr = NULL;
  int r = get_text (j, o, "writable", &wr);
  if (r < 0)
    return -1;
  if (r > 0)
    {
      char **v;
      size_t n;
      const char *why;
      if (capsule_parse_writable (wr, &v, &n, &why) < 0)
        return ocij_fail_key (j, "writable", "`%s`: %s", wr, why);
      ocij_strv_free (pr->writable, pr->writable_len);
      pr->writable = v;
      pr->writable_len = n;
    }
  if (ocij_strv (j, o, "writable_allowed", &pr->writable_allowed, &pr->writable_allowed_len, NULL) < 0)
    return -1;
  if (get_size (j, o, "fs_size", &pr->fs_size) < 0 || get_size (j, o, "max_fs_size", &pr->max_fs_size) < 0
      || get_duration (j, o, "timeout", &pr->timeout_s) < 0 || get_duration (j, o, "max_timeout", &pr->max_timeout_s) < 0
      || get_limits (j, o, "limits", &pr->limits) < 0 || get_limits (j, o, "max_limits", &pr->max_limits) < 0)
    return -1;
  bool has_caps = false;
  char **caps = NULL;
  size_t caps_len = 0;
  if (ocij_strv (j, o, "capabilities", &caps, &caps_len, &has_caps) < 0)
    return -1;
  if (has_caps)
    {
      ocij_strv_free (pr->caps, pr->caps_len);
      pr->caps = caps;
      pr->caps_len = caps_len;
    }
  if (ocij_u32 (j, o, "max_concurrency", false, &pr->max_concurrency, NULL) < 0)
    return -1;
  cleanup_free char *net = NULL;
  if ((r = get_text (j, o, "network", &net)) < 0)
    return -1;
  if (r > 0)
    {
      if (strcmp (net, "none") == 0)
        pr->network_none = true;
      else if (strcmp (net, "contained") != 0)
        return ocij_fail_key (j, "network", "`%s`: expected \"contained\" or \"none\"", net);
    }
  /* A profile's own defaults must lie within its own bounds. */
  if (pr->fs_size > pr->max_fs_size)
    return ocij_fail (j, "fs_size exceeds max_fs_size");
  if (pr->max_timeout_s && (pr->timeout_s == 0 || pr->timeout_s > pr->max_timeout_s))
    return ocij_fail (j, "timeout must be set and within max_timeout");
  if (pr->limits.cpu_milli > pr->max_limits.cpu_milli || pr->limits.memory > pr->max_limits.memory
      || pr->limits.pids > pr->max_limits.pids || pr->limits.gpu > pr->max_limits.gpu)
    return ocij_fail (j, "limits exceed max_limits");
  return 0;
}

static int
parse_policy (yajl_val root, struct capsule_policy *p, cr_error_t *err)
{
  struct ocij j;
  ocij_init (&j, "", err);
  if (!YAJL_IS_OBJECT (root))
    return ocij_fail (&j, "expected a JSON object");
  cleanup_free char *def = NULL;
  if (get_text (&j, root, "default", &def) < 0)
    return -1;
  if (def && strcmp (def, "capsule") == 0)
    p->default_capsule = true;
  else if (def && strcmp (def, "runc") != 0)
    return ocij_fail_key (&j, "default", "`%s`: expected \"capsule\" or \"runc\"", def);

  yajl_val o;
  int r;
  if ((r = ocij_obj (&j, root, "lease", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      size_t m = ocij_key (&j, "lease");
      if (ocij_str (&j, o, "public_key", false, &p->lease_public_key) < 0)
        return -1;
      ocij_pop (&j, m);
    }
  if ((r = ocij_obj (&j, root, "directories", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      size_t m = ocij_key (&j, "directories");
      if (ocij_str (&j, o, "audit", false, &p->audit_dir) < 0 || ocij_str (&j, o, "killswitch", false, &p->killswitch_dir) < 0
          || ocij_str (&j, o, "secrets", false, &p->secrets_dir) < 0 || ocij_str (&j, o, "state", false, &p->state_dir) < 0)
        return -1;
      ocij_pop (&j, m);
    }
  if ((r = ocij_obj (&j, root, "egress", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      size_t m = ocij_key (&j, "egress");
      char **v = NULL;
      size_t n = 0;
      if (ocij_strv (&j, o, "allow_private", &v, &n, NULL) < 0)
        return -1;
      p->allow_private = xmalloc0 ((n + 1) * sizeof *p->allow_private);
      for (size_t i = 0; i < n; i++)
        if (egress_cidr_parse (v[i], &p->allow_private[p->allow_private_len++]) < 0)
          {
            ocij_key (&j, "allow_private");
            ocij_idx (&j, i);
            int rr = ocij_fail (&j, "`%s`: expected a CIDR like 127.0.0.0/8", v[i]);
            ocij_strv_free (v, n);
            return rr;
          }
      ocij_strv_free (v, n);
      ocij_pop (&j, m);
    }
  if (ocij_bool (&j, root, "allow_runtime_sockets", &p->allow_runtime_sockets, NULL) < 0)
    return -1;
  if ((r = ocij_obj (&j, root, "lsm", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      size_t m = ocij_key (&j, "lsm");
      if (ocij_str (&j, o, "apparmor_profile", false, &p->lsm_apparmor_profile) < 0
          || ocij_str (&j, o, "selinux_label", false, &p->lsm_selinux_label) < 0
          || ocij_bool (&j, o, "allow_unconfined", &p->lsm_allow_unconfined, NULL) < 0)
        return -1;
      ocij_pop (&j, m);
    }

  if ((r = ocij_obj (&j, root, "profiles", false, &o)) < 0)
    return -1;
  size_t np = r > 0 ? o->u.object.len : 0;
  p->profiles = xmalloc0 ((np + 1) * sizeof *p->profiles);
  size_t m = ocij_key (&j, "profiles");
  for (size_t i = 0; i < np; i++)
    {
      const char *name = o->u.object.keys[i];
      size_t m2 = ocij_key (&j, name);
      if (capsule_policy_profile (p, name))
        return ocij_fail (&j, "profile given twice");
      if (parse_profile (&j, name, o->u.object.values[i], &p->profiles[p->profiles_len++]) < 0)
        return -1;
      ocij_pop (&j, m2);
    }
  ocij_pop (&j, m);
  if (capsule_policy_profile (p, "default") == NULL)
    builtin_profile (&p->profiles[p->profiles_len++], "default");
  return 0;
}

int
capsule_policy_parse (const char *json, size_t len, const char *path, struct capsule_policy **out, cr_error_t *err)
{
  struct capsule_policy *p = xmalloc0 (sizeof *p);
  p->path = path ? xstrdup (path) : NULL;
  yajl_val root = ocij_parse_text (json, len, err);
  if (root == NULL || parse_policy (root, p, err) < 0)
    {
      if (root)
        yajl_tree_free (root);
      capsule_policy_free (p);
      return cr_error_wrap (err, "node policy `%s`", path ? path : "(text)");
    }
  yajl_tree_free (root);
  *out = p;
  return 0;
}

int
capsule_policy_load (struct capsule_policy **out, cr_error_t *err)
{
  const char *path = getenv ("CAPSULE_POLICY");
  if (path == NULL || *path == '\0')
    path = CAPSULE_POLICY_PATH;
  cleanup_free char *text = NULL;
  size_t len = 0;
  cr_error_t e = NULL;
  if (read_file (path, &text, &len, &e) < 0)
    {
      int st = e ? e->status : 0;
      cr_error_release (&e);
      if (st != ENOENT)
        return cr_error (err, st, "read node policy `%s`", path);
      struct capsule_policy *p = xmalloc0 (sizeof *p);
      p->profiles = xmalloc0 (sizeof *p->profiles);
      builtin_profile (&p->profiles[p->profiles_len++], "default");
      *out = p;
      return 0;
    }
  return capsule_policy_parse (text, len, path, out, err);
}
