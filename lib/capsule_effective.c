/* The effective capsule configuration as JSON: written into the state dir
 * at create (capsule.json), read back by init-time confinement of exec'd
 * processes, the monitor, delete and `inspect`. */
#include "admission.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "../oci-spec/json_get.h"
#include "util.h"

static void
g_key (yajl_gen g, const char *k)
{
  yajl_gen_string (g, (const unsigned char *) k, strlen (k));
}

static void
g_str (yajl_gen g, const char *k, const char *v)
{
  g_key (g, k);
  if (v)
    yajl_gen_string (g, (const unsigned char *) v, strlen (v));
  else
    yajl_gen_null (g);
}

static void
g_int (yajl_gen g, const char *k, long long v)
{
  g_key (g, k);
  yajl_gen_integer (g, v);
}

static void
g_strv (yajl_gen g, const char *k, char *const *v, size_t n)
{
  g_key (g, k);
  yajl_gen_array_open (g);
  for (size_t i = 0; i < n; i++)
    yajl_gen_string (g, (const unsigned char *) v[i], strlen (v[i]));
  yajl_gen_array_close (g);
}

char *
capsule_effective_to_json (const struct capsule_effective *e, bool pretty)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  yajl_gen_config (g, yajl_gen_beautify, pretty ? 1 : 0);
  yajl_gen_map_open (g);
  g_str (g, "id", e->id);
  g_str (g, "profile", e->profile);
  g_str (g, "agent", e->agent);
  g_str (g, "version", e->version);
  g_str (g, "session", e->session);
  g_key (g, "fs");
  yajl_gen_map_open (g);
  g_strv (g, "writable", e->writable, e->writable_len);
  cleanup_free char *sz = capsule_format_size (e->fs_size);
  g_str (g, "size", sz);
  g_int (g, "size_bytes", (long long) e->fs_size);
  yajl_gen_map_close (g);
  g_int (g, "timeout_s", (long long) e->timeout_s);
  g_key (g, "concurrency");
  if (e->concurrency_group)
    {
      yajl_gen_map_open (g);
      g_str (g, "group", e->concurrency_group);
      g_int (g, "max", e->concurrency_max);
      yajl_gen_map_close (g);
    }
  else
    yajl_gen_null (g);
  g_key (g, "limits");
  yajl_gen_map_open (g);
  g_int (g, "cpu_milli", e->limits.cpu_milli);
  g_int (g, "memory", (long long) e->limits.memory);
  g_int (g, "pids", (long long) e->limits.pids);
  g_int (g, "gpu", e->limits.gpu);
  yajl_gen_map_close (g);
  g_strv (g, "capabilities", e->caps, e->caps_len);
  g_strv (g, "capabilities_stripped", e->caps_stripped, e->caps_stripped_len);
  g_strv (g, "devices_hidden", e->devices_hidden, e->devices_hidden_len);
  g_key (g, "confinement");
  yajl_gen_map_open (g);
  g_key (g, "no_new_privileges");
  yajl_gen_bool (g, 1);
  g_key (g, "readonly_rootfs");
  yajl_gen_bool (g, 1);
  g_str (g, "seccomp", "capsule-default");
  g_int (g, "landlock_abi", e->landlock_abi);
  g_str (g, "lsm", e->lsm);
  yajl_gen_map_close (g);
  g_key (g, "lease");
  if (e->lease_checked)
    {
      yajl_gen_map_open (g);
      g_int (g, "exp", e->lease_exp);
      yajl_gen_map_close (g);
    }
  else
    yajl_gen_null (g);
  g_str (g, "network", e->network_none ? "none" : "contained");
  g_str (g, "audit", e->audit_path);
  g_str (g, "killswitch_dir", e->killswitch_dir);
  g_str (g, "secrets_dir", e->secrets_dir);
  g_key (g, "egress");
  yajl_gen_map_open (g);
  g_str (g, "allow", e->egress_allow);
  g_str (g, "gateway", e->egress_gateway);
  g_str (g, "tls_pin", e->egress_tls_pin);
  g_str (g, "dns_pin", e->dns_pin);
  g_str (g, "credentials", e->credentials);
  yajl_gen_map_close (g);
  g_key (g, "brokered");
  yajl_gen_map_open (g);
  for (size_t i = 0; i < e->capabilities_len; i++)
    g_str (g, e->capabilities[i].name, e->capabilities[i].value);
  yajl_gen_map_close (g);
  g_str (g, "policy", e->policy_path);
  yajl_gen_map_close (g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *r = strndup ((const char *) buf, len);
  yajl_gen_free (g);
  if (r == NULL)
    abort ();
  return r;
}

static int
load_tree (struct ocij *j, yajl_val root, struct capsule_effective *e)
{
  yajl_val o;
  int r;
  uint64_t u;
  int64_t i;
  bool has;
  if (!YAJL_IS_OBJECT (root))
    return ocij_fail (j, "expected an object");
  if (ocij_str (j, root, "id", true, &e->id) < 0 || ocij_str (j, root, "profile", false, &e->profile) < 0
      || ocij_str (j, root, "agent", false, &e->agent) < 0 || ocij_str (j, root, "version", false, &e->version) < 0
      || ocij_str (j, root, "session", false, &e->session) < 0)
    return -1;
  if ((r = ocij_obj (j, root, "fs", true, &o)) < 0)
    return -1;
  size_t m = ocij_key (j, "fs");
  if (ocij_strv (j, o, "writable", &e->writable, &e->writable_len, NULL) < 0
      || ocij_u64 (j, o, "size_bytes", false, &e->fs_size, NULL) < 0)
    return -1;
  ocij_pop (j, m);
  if (ocij_u64 (j, root, "timeout_s", false, &e->timeout_s, NULL) < 0)
    return -1;
  if ((r = ocij_obj (j, root, "concurrency", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      m = ocij_key (j, "concurrency");
      if (ocij_str (j, o, "group", true, &e->concurrency_group) < 0
          || ocij_u32 (j, o, "max", true, &e->concurrency_max, NULL) < 0)
        return -1;
      ocij_pop (j, m);
    }
  if ((r = ocij_obj (j, root, "limits", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      m = ocij_key (j, "limits");
      if (ocij_u32 (j, o, "cpu_milli", false, &e->limits.cpu_milli, &e->limits.has_cpu) < 0
          || ocij_u64 (j, o, "memory", false, &e->limits.memory, &e->limits.has_memory) < 0
          || ocij_i64 (j, o, "pids", false, &e->limits.pids, &e->limits.has_pids) < 0
          || ocij_u32 (j, o, "gpu", false, &e->limits.gpu, &e->limits.has_gpu) < 0)
        return -1;
      ocij_pop (j, m);
    }
  if (ocij_strv (j, root, "capabilities", &e->caps, &e->caps_len, NULL) < 0
      || ocij_strv (j, root, "capabilities_stripped", &e->caps_stripped, &e->caps_stripped_len, NULL) < 0
      || ocij_strv (j, root, "devices_hidden", &e->devices_hidden, &e->devices_hidden_len, NULL) < 0)
    return -1;
  if ((r = ocij_obj (j, root, "confinement", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      m = ocij_key (j, "confinement");
      if (ocij_i64 (j, o, "landlock_abi", false, &i, &has) < 0 || ocij_str (j, o, "lsm", false, &e->lsm) < 0)
        return -1;
      e->landlock_abi = has ? (int) i : 0;
      ocij_pop (j, m);
    }
  cleanup_free char *net = NULL;
  if (ocij_str (j, root, "network", false, &net) < 0)
    return -1;
  e->network_none = net && strcmp (net, "none") == 0;
  if ((r = ocij_obj (j, root, "lease", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      e->lease_checked = true;
      m = ocij_key (j, "lease");
      if (ocij_i64 (j, o, "exp", false, &e->lease_exp, NULL) < 0)
        return -1;
      ocij_pop (j, m);
    }
  if (ocij_str (j, root, "audit", false, &e->audit_path) < 0 || ocij_str (j, root, "killswitch_dir", false, &e->killswitch_dir) < 0
      || ocij_str (j, root, "secrets_dir", false, &e->secrets_dir) < 0 || ocij_str (j, root, "policy", false, &e->policy_path) < 0)
    return -1;
  if ((r = ocij_obj (j, root, "egress", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      m = ocij_key (j, "egress");
      if (ocij_str (j, o, "allow", false, &e->egress_allow) < 0 || ocij_str (j, o, "gateway", false, &e->egress_gateway) < 0
          || ocij_str (j, o, "tls_pin", false, &e->egress_tls_pin) < 0 || ocij_str (j, o, "dns_pin", false, &e->dns_pin) < 0
          || ocij_str (j, o, "credentials", false, &e->credentials) < 0)
        return -1;
      ocij_pop (j, m);
    }
  if ((r = ocij_obj (j, root, "brokered", false, &o)) < 0)
    return -1;
  if (r > 0)
    {
      e->capabilities = xmalloc0 ((o->u.object.len + 1) * sizeof *e->capabilities);
      m = ocij_key (j, "brokered");
      for (size_t k = 0; k < o->u.object.len; k++)
        {
          size_t m2 = ocij_key (j, o->u.object.keys[k]);
          char *v = NULL;
          if (ocij_val_str (j, o->u.object.values[k], &v) < 0)
            return -1;
          e->capabilities[e->capabilities_len].name = xstrdup (o->u.object.keys[k]);
          e->capabilities[e->capabilities_len++].value = v;
          ocij_pop (j, m2);
        }
      ocij_pop (j, m);
    }
  (void) u;
  return 0;
}

struct capsule_effective *
capsule_effective_from_json (const char *json, size_t len, cr_error_t *err)
{
  yajl_val root = ocij_parse_text (json, len, err);
  if (root == NULL)
    return NULL;
  struct capsule_effective *e = xmalloc0 (sizeof *e);
  struct ocij j;
  ocij_init (&j, "capsule.json", err);
  int r = load_tree (&j, root, e);
  yajl_tree_free (root);
  if (r < 0)
    {
      capsule_effective_free (e);
      return NULL;
    }
  return e;
}

int
capsule_effective_load (const char *state_dir, struct capsule_effective **out, cr_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/capsule.json", state_dir);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (read_file (path, &text, &len, err) < 0)
    return -1;
  *out = capsule_effective_from_json (text, len, err);
  return *out ? 0 : -1;
}

void
capsule_effective_free (struct capsule_effective *e)
{
  if (e == NULL)
    return;
  free (e->id);
  free (e->profile);
  free (e->agent);
  free (e->version);
  free (e->session);
  ocij_strv_free (e->writable, e->writable_len);
  free (e->concurrency_group);
  ocij_strv_free (e->caps, e->caps_len);
  ocij_strv_free (e->caps_stripped, e->caps_stripped_len);
  ocij_strv_free (e->devices_hidden, e->devices_hidden_len);
  free (e->lsm);
  free (e->audit_path);
  free (e->killswitch_dir);
  free (e->secrets_dir);
  free (e->egress_allow);
  free (e->egress_gateway);
  free (e->egress_tls_pin);
  free (e->dns_pin);
  free (e->credentials);
  for (size_t i = 0; i < e->capabilities_len; i++)
    {
      free (e->capabilities[i].name);
      free (e->capabilities[i].value);
    }
  free (e->capabilities);
  free (e->policy_path);
  free (e);
}
