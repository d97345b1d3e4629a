/* The proxy's configuration (hooks/proxy/config.c schema) from the
 * runtime's effective capsule config (<state>/capsule.json, lib/admission.h)
 * or, under plain runc, from the capsule/egress.allow annotation alone.
 * The annotation values stay annotation rules ("rules"), so the proxy
 * applies its private-address checks to them. */
#include "hook.h"

#include <errno.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "lib/killswitch.h"
#include "lib/netcontain.h"
#include "lib/util.h"

static void
gen_str (yajl_gen g, const char *s)
{
  yajl_gen_string (g, (const unsigned char *) s, strlen (s));
}

static char *
trim (char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  size_t l = strlen (s);
  while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'))
    s[--l] = '\0';
  return s;
}

/* "a; b" -> ["a","b"] */
static void
gen_list (yajl_gen g, const char *key, const char *value)
{
  cleanup_free char *v = xstrdup (value);
  char *save = NULL;
  gen_str (g, key);
  yajl_gen_array_open (g);
  for (char *r = strtok_r (v, ";", &save); r; r = strtok_r (NULL, ";", &save))
    if (*trim (r))
      gen_str (g, trim (r));
  yajl_gen_array_close (g);
}

/* "host=a,b; host2=c" -> {"host":["a","b"],"host2":["c"]} (split_values)
 * or {"host":["a,b"]} */
static int
gen_pins (yajl_gen g, const char *key, const char *value, bool split_values, cr_error_t *err)
{
  cleanup_free char *v = xstrdup (value);
  char *save = NULL;
  gen_str (g, key);
  yajl_gen_map_open (g);
  for (char *r = strtok_r (v, ";", &save); r; r = strtok_r (NULL, ";", &save))
    {
      char *e = strchr (r = trim (r), '=');
      if (*r == '\0')
        continue;
      if (e == NULL)
        return cr_error (err, EINVAL, "capsule config: %s entry `%s` is not host=value", key, r);
      *e = '\0';
      gen_str (g, trim (r));
      yajl_gen_array_open (g);
      char *save2 = NULL;
      if (!split_values)
        gen_str (g, trim (e + 1));
      else
        for (char *x = strtok_r (e + 1, ",", &save2); x; x = strtok_r (NULL, ",", &save2))
          if (*trim (x))
            gen_str (g, trim (x));
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
  return 0;
}

/* Brokered capabilities (hooks/proxy/broker.h): the rules from capsule.json's
 * "brokered", their counters and held requests in the container's state dir
 * (beside capsule.json, where `capsule-runc approve|deny` looks), per-agent
 * counters in ROOT/.capsule-broker, and the kill-switch directory. */
static void
gen_brokered (yajl_gen g, yajl_val root, const char *capsule_json)
{
  const char *bp[] = { "brokered", NULL };
  yajl_val b = yajl_tree_get (root, bp, yajl_t_object);
  if (b == NULL || b->u.object.len == 0)
    return;
  /* the directory `capsule-runc killswitch` writes to (lib/killswitch.h) */
  const char *kp[] = { "killswitch_dir", NULL };
  yajl_val ks = yajl_tree_get (root, kp, yajl_t_string);
  gen_str (g, "killswitch_dir");
  gen_str (g, ks && *YAJL_GET_STRING (ks) ? YAJL_GET_STRING (ks) : KILLSWITCH_DEFAULT_DIR);
  gen_str (g, "capabilities");
  yajl_gen_map_open (g);
  for (size_t i = 0; i < b->u.object.len; i++)
    if (YAJL_IS_STRING (b->u.object.values[i]))
      {
        gen_str (g, b->u.object.keys[i]);
        gen_str (g, YAJL_GET_STRING (b->u.object.values[i]));
      }
  yajl_gen_map_close (g);
  cleanup_free char *state = xstrdup (capsule_json);
  char *slash = strrchr (state, '/');
  if (slash == NULL)
    state = (free (state), xstrdup ("."));
  else
    *slash = '\0';
  gen_str (g, "state_dir");
  gen_str (g, state);
  slash = strrchr (state, '/');
  if (slash && slash != state)
    {
      *slash = '\0';
      cleanup_free char *agents = xasprintf ("%s/.capsule-broker", state);
      gen_str (g, "agent_state_dir");
      gen_str (g, agents);
    }
  const char *ap[] = { "agent", NULL };
  yajl_val a = yajl_tree_get (root, ap, yajl_t_string);
  if (a)
    {
      gen_str (g, "agent");
      gen_str (g, YAJL_GET_STRING (a));
    }
}

static const char *
tree_str (yajl_val root, const char *a, const char *b)
{
  const char *path[] = { a, b, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v ? YAJL_GET_STRING (v) : NULL;
}

int
hook_proxy_config (const char *capsule_json, const char *annotation_rules, const char *id, const char *out_path,
                   char **audit_out, cr_error_t *err)
{
  cleanup_free char *text = NULL;
  yajl_val root = NULL;
  yajl_gen g;
  const unsigned char *buf;
  size_t len;
  char ebuf[256];
  int ret = 0;
  const char *allow = annotation_rules, *dns = NULL, *tls = NULL, *creds = NULL, *secrets = NULL, *gateway = NULL;

  *audit_out = NULL;
  if (capsule_json)
    {
      if (read_file (capsule_json, &text, NULL, err) < 0)
        return cr_error_wrap (err, "reading the capsule config");
      root = yajl_tree_parse (text, ebuf, sizeof ebuf);
      if (root == NULL)
        return cr_error (err, EINVAL, "capsule config `%s`: %s", capsule_json, ebuf);
      allow = tree_str (root, "egress", "allow");
      dns = tree_str (root, "egress", "dns_pin");
      tls = tree_str (root, "egress", "tls_pin");
      creds = tree_str (root, "egress", "credentials");
      gateway = tree_str (root, "egress", "gateway");
      secrets = tree_str (root, "secrets_dir", NULL);
      const char *a = tree_str (root, "audit", NULL);
      if (a && *a)
        *audit_out = xstrdup (a);
      const char *cid = tree_str (root, "id", NULL);
      if (cid)
        id = cid;
    }

  g = yajl_gen_alloc (NULL);
  yajl_gen_map_open (g);
  gen_str (g, "capsule_id");
  gen_str (g, id);
  if (allow)
    gen_list (g, "rules", allow);
  if (gateway && *gateway)
    {
      /* every allowed request leaves through it (capsule-proxy --gateway) */
      gen_str (g, "gateway");
      gen_str (g, gateway);
    }
  if (root)
    gen_brokered (g, root, capsule_json);
  if (secrets && *secrets)
    {
      gen_str (g, "secrets_dir");
      gen_str (g, secrets);
    }
  if (dns && *dns)
    ret = gen_pins (g, "dns_pins", dns, true, err);
  if (ret == 0 && tls && *tls)
    ret = gen_pins (g, "tls_pins", tls, false, err);
  if (ret == 0 && creds && *creds)
    {
      cleanup_free char *v = xstrdup (creds);
      char *save = NULL;
      gen_str (g, "credentials");
      yajl_gen_array_open (g);
      for (char *r = strtok_r (v, ";", &save); r; r = strtok_r (NULL, ";", &save))
        if (*trim (r))
          {
            yajl_gen_map_open (g);
            gen_str (g, "rule");
            gen_str (g, trim (r));
            yajl_gen_map_close (g);
          }
      yajl_gen_array_close (g);
    }
  yajl_gen_map_close (g);
  if (ret == 0 && yajl_gen_get_buf (g, &buf, &len) == yajl_gen_status_ok)
    ret = netcontain_write_state (out_path, (const char *) buf, len, 0600, err);
  else if (ret == 0)
    ret = cr_error (err, EINVAL, "generating the proxy config");
  yajl_gen_free (g);
  yajl_tree_free (root);
  return ret;
}
