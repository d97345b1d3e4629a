/* capsule-proxy configuration: command-line flags plus the effective
 * capsule config JSON written by the runtime (schema: README.md). */
#include "broker.h"
#include "capability_rule.h"
#include "mitm.h"
#include "proxy.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <yajl/yajl_tree.h>

void
config_init (struct proxy_config *c)
{
  memset (c, 0, sizeof *c);
  c->listen_fd = c->transparent_fd = c->dns_fd = c->dns_tcp_fd = -1;
  c->max_conns = 4096;
  c->idle_timeout_ms = 120000;
  c->header_timeout_ms = 10000;
}

static void
strv_free (char **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}

void
config_free (struct proxy_config *c)
{
  free (c->capsule_id);
  free (c->listen);
  free (c->transparent);
  free (c->dns);
  strv_free (c->rules, c->n_rules);
  strv_free (c->annot_rules, c->n_annot);
  strv_free (c->pins, c->n_pins);
  strv_free (c->tls_pins, c->n_tls_pins);
  for (size_t i = 0; i < c->n_creds; i++)
    {
      free (c->cred_rules[i]);
      free (c->cred_files[i]);
    }
  free (c->cred_rules);
  free (c->cred_files);
  free (c->secrets_dir);
  free (c->ca_out);
  free (c->upstream_ca);
  free (c->gateway);
  free (c->audit_path);
  free (c->config_path);
  broker_settings_free (&c->broker);
  memset (c, 0, sizeof *c);
}

void
strv_push (char ***v, size_t *n, const char *s)
{
  char **nv = realloc (*v, (*n + 1) * sizeof *nv);
  if (nv == NULL)
    abort ();
  *v = nv;
  nv[(*n)++] = xstrdup (s);
}

char **
strv_concat (char **a, size_t na, char **b, size_t nb)
{
  char **v = xmalloc0 ((na + nb + 1) * sizeof *v);
  for (size_t i = 0; i < na; i++)
    v[i] = a[i];
  for (size_t i = 0; i < nb; i++)
    v[na + i] = b[i];
  return v;
}

void
config_add_cred (struct proxy_config *c, const char *rule, const char *file)
{
  char **r = realloc (c->cred_rules, (c->n_creds + 1) * sizeof *r);
  char **f = realloc (c->cred_files, (c->n_creds + 1) * sizeof *f);
  if (!r || !f)
    abort ();
  c->cred_rules = r;
  c->cred_files = f;
  r[c->n_creds] = xstrdup (rule);
  f[c->n_creds] = file ? xstrdup (file) : NULL;
  c->n_creds++;
}

/* Credentials: parse, read each secret (one line; no CR/LF inside). */
static int
build_creds (const struct proxy_config *c, struct policy *pol, cr_error_t *err)
{
  if (c->n_creds == 0)
    return 0;
  struct policy_cred *v = calloc (c->n_creds, sizeof *v);
  if (v == NULL)
    return cr_error_errno (err, "credentials");
  size_t k = 0;
  int ret = 0;
  for (size_t i = 0; i < c->n_creds && ret == 0; i++)
    {
      if (egress_cred_parse (c->cred_rules[i], &v[k].c, err) < 0)
        {
          ret = -1;
          break;
        }
      k++;
      cleanup_free char *path = c->cred_files[i] ? xstrdup (c->cred_files[i])
                                : c->secrets_dir ? xasprintf ("%s/%s", c->secrets_dir, v[k - 1].c.name) : NULL;
      if (path == NULL)
        {
          ret = cr_error (err, 0, "credential `%s`: no secret_file and no secrets_dir", v[k - 1].c.name);
          break;
        }
      if (c->check)
        continue;
      char *sec = NULL;
      size_t len = 0;
      if (read_file (path, &sec, &len, err) < 0)
        {
          ret = cr_error_wrap (err, "credential `%s`", v[k - 1].c.name);
          break;
        }
      while (len > 0 && (sec[len - 1] == '\n' || sec[len - 1] == '\r'))
        sec[--len] = '\0';
      v[k - 1].secret = sec;
      if (len == 0 || strpbrk (sec, "\r\n") || strlen (sec) != len)
        {
          ret = cr_error (err, 0, "credential `%s`: secret must be one non-empty line", v[k - 1].c.name);
          break;
        }
    }
  if (ret < 0)
    {
      for (size_t i = 0; i < k; i++)
        {
          egress_cred_free (&v[i].c);
          free (v[i].secret);
        }
      free (v);
      return -1;
    }
  policy_set_creds (pol, v, k);
  return 0;
}

int
config_parse_addr (const char *s, struct sockaddr_storage *ss, socklen_t *len, cr_error_t *err)
{
  memset (ss, 0, sizeof *ss);
  char host[INET6_ADDRSTRLEN + 2];
  const char *colon = strrchr (s, ':');
  if (!colon || colon == s || !colon[1] || strspn (colon + 1, "0123456789") != strlen (colon + 1))
    return cr_error (err, 0, "bad address `%s` (want ADDR:PORT)", s);
  long port = strtol (colon + 1, NULL, 10);
  size_t hl = colon - s;
  if (port < 0 || port > 65535 || hl >= sizeof host)
    return cr_error (err, 0, "bad address `%s`", s);
  memcpy (host, s, hl);
  host[hl] = '\0';
  char *h = host;
  if (h[0] == '[' && hl > 2 && h[hl - 1] == ']')
    {
      h[hl - 1] = '\0';
      h++;
    }
  struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
  if (inet_pton (AF_INET, h, &s4->sin_addr) == 1)
    {
      s4->sin_family = AF_INET;
      s4->sin_port = htons (port);
      *len = sizeof *s4;
      return 0;
    }
  if (inet_pton (AF_INET6, h, &s6->sin6_addr) == 1)
    {
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons (port);
      *len = sizeof *s6;
      return 0;
    }
  return cr_error (err, 0, "bad address `%s` (IP literal expected)", s);
}

static int
get_str (yajl_val root, const char *key, char **out, cr_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_any);
  if (v == NULL || YAJL_IS_NULL (v))
    return 0;
  if (!YAJL_IS_STRING (v))
    return cr_error (err, 0, "config: `%s` must be a string", key);
  free (*out);
  *out = xstrdup (YAJL_GET_STRING (v));
  return 0;
}

static int
get_int (yajl_val root, const char *key, long long min, long long max, long long *out, bool *present, cr_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_any);
  *present = false;
  if (v == NULL || YAJL_IS_NULL (v))
    return 0;
  if (!YAJL_IS_INTEGER (v) || YAJL_GET_INTEGER (v) < min || YAJL_GET_INTEGER (v) > max)
    return cr_error (err, 0, "config: `%s` must be an integer in [%lld, %lld]", key, min, max);
  *out = YAJL_GET_INTEGER (v);
  *present = true;
  return 0;
}

static int
get_strv (yajl_val root, const char *key, char ***v, size_t *n, cr_error_t *err)
{
  const char *path[] = { key, NULL };
  yajl_val a = yajl_tree_get (root, path, yajl_t_any);
  if (a == NULL || YAJL_IS_NULL (a))
    return 0;
  if (!YAJL_IS_ARRAY (a))
    return cr_error (err, 0, "config: `%s` must be an array of strings", key);
  for (size_t i = 0; i < a->u.array.len; i++)
    {
      yajl_val s = a->u.array.values[i];
      if (!YAJL_IS_STRING (s))
        return cr_error (err, 0, "config: `%s[%zu]` must be a string", key, i);
      strv_push (v, n, YAJL_GET_STRING (s));
    }
  return 0;
}

/* Brokered capabilities (broker.h): "capabilities" {NAME: VALUE}, where
 * their state lives, the agent, the kill-switch directory and the confirm
 * timeout.  Every rule is parsed here so --check reports a bad one. */
static int
config_load_broker (yajl_val root, struct broker_settings *out, cr_error_t *err)
{
  struct broker_settings s = { 0 };
  int ret = -1;
  const char *cp[] = { "capabilities", NULL };
  yajl_val caps = yajl_tree_get (root, cp, yajl_t_any);
  if (caps && !YAJL_IS_NULL (caps))
    {
      if (!YAJL_IS_OBJECT (caps))
        {
          cr_error (err, 0, "config: `capabilities` must be an object NAME -> \"METHOD host/path [options]\"");
          goto out;
        }
      for (size_t i = 0; i < caps->u.object.len; i++)
        {
          yajl_val v = caps->u.object.values[i];
          struct capability_rule r;
          if (!YAJL_IS_STRING (v))
            {
              cr_error (err, 0, "config: `capabilities.%s` must be a string", caps->u.object.keys[i]);
              goto out;
            }
          if (capability_rule_parse (caps->u.object.keys[i], YAJL_GET_STRING (v), &r, err) < 0)
            goto out;
          capability_rule_free (&r);
          strv_push (&s.names, &s.n, caps->u.object.keys[i]);
          s.n--;
          strv_push (&s.values, &s.n, YAJL_GET_STRING (v));
        }
    }
  long long t;
  bool present;
  if (get_str (root, "state_dir", &s.state_dir, err) < 0 || get_str (root, "agent", &s.agent, err) < 0
      || get_str (root, "agent_state_dir", &s.agent_state_dir, err) < 0
      || get_str (root, "killswitch_dir", &s.killswitch_dir, err) < 0
      || get_int (root, "confirm_timeout_s", 1, 86400, &t, &present, err) < 0)
    goto out;
  if (present)
    s.confirm_timeout_s = t;
  if (s.n > 0 && s.state_dir == NULL)
    {
      cr_error (err, 0, "config: `capabilities` need a `state_dir` for their counters");
      goto out;
    }
  broker_settings_free (out);
  *out = s;
  memset (&s, 0, sizeof s);
  ret = 0;
out:
  broker_settings_free (&s);
  return ret;
}

int
config_load_json (struct proxy_config *c, const char *path, cr_error_t *err)
{
  cleanup_free char *data = NULL;
  if (read_file (path, &data, NULL, err) < 0)
    return cr_error_wrap (err, "reading proxy config");
  char ebuf[256] = "";
  yajl_val root = yajl_tree_parse (data, ebuf, sizeof ebuf);
  if (root == NULL)
    return cr_error (err, 0, "config `%s`: invalid JSON: %s", path, ebuf);
  int ret = -1;
  if (!YAJL_IS_OBJECT (root))
    {
      cr_error (err, 0, "config `%s`: top level must be an object", path);
      goto out;
    }
  static const char *known[] = { "capsule_id", "listen", "listen_fd", "transparent", "transparent_fd", "dns", "dns_fd",
                                 "dns_tcp_fd", "rules", "operator_rules", "dns_pins", "tls_pins", "credentials",
                                 "audit", "limits", "upstream_mark", "secrets_dir", "ca_out", "upstream_ca",
                                 "capabilities", "state_dir", "agent", "agent_state_dir", "killswitch_dir",
                                 "confirm_timeout_s", "gateway", NULL };
  for (size_t i = 0; i < root->u.object.len; i++)
    {
      const char *k = root->u.object.keys[i];
      bool ok = false;
      for (size_t j = 0; known[j]; j++)
        ok |= strcmp (k, known[j]) == 0;
      if (!ok)
        {
          cr_error (err, 0, "config `%s`: unknown key `%s`", path, k);
          goto out;
        }
    }
  if (get_str (root, "capsule_id", &c->capsule_id, err) < 0 || get_str (root, "listen", &c->listen, err) < 0
      || get_str (root, "transparent", &c->transparent, err) < 0 || get_str (root, "dns", &c->dns, err) < 0
      || get_str (root, "audit", &c->audit_path, err) < 0 || get_str (root, "secrets_dir", &c->secrets_dir, err) < 0
      || get_str (root, "ca_out", &c->ca_out, err) < 0 || get_str (root, "upstream_ca", &c->upstream_ca, err) < 0 || get_strv (root, "rules", &c->annot_rules, &c->n_annot, err) < 0
      || get_strv (root, "operator_rules", &c->rules, &c->n_rules, err) < 0
      || get_str (root, "gateway", &c->gateway, err) < 0)
    goto out;
  struct
  {
    const char *key;
    int *dst;
  } fds[] = { { "listen_fd", &c->listen_fd }, { "transparent_fd", &c->transparent_fd }, { "dns_fd", &c->dns_fd },
              { "dns_tcp_fd", &c->dns_tcp_fd } };
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    {
      long long v;
      bool present;
      if (get_int (root, fds[i].key, 0, INT_MAX, &v, &present, err) < 0)
        goto out;
      if (present)
        *fds[i].dst = v;
    }
  {
    long long v;
    bool present;
    if (get_int (root, "upstream_mark", 0, UINT32_MAX, &v, &present, err) < 0)
      goto out;
    if (present)
      c->upstream_mark = v;
  }
  const char *lp[] = { "limits", NULL };
  yajl_val limits = yajl_tree_get (root, lp, yajl_t_any);
  if (limits && !YAJL_IS_NULL (limits))
    {
      if (!YAJL_IS_OBJECT (limits))
        {
          cr_error (err, 0, "config: `limits` must be an object");
          goto out;
        }
      struct
      {
        const char *key;
        int *dst;
      } lims[] = { { "max_connections", &c->max_conns },
                   { "idle_timeout_ms", &c->idle_timeout_ms },
                   { "header_timeout_ms", &c->header_timeout_ms } };
      for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++)
        {
          long long v;
          bool present;
          if (get_int (limits, lims[i].key, 1, INT_MAX, &v, &present, err) < 0)
            goto out;
          if (present)
            *lims[i].dst = v;
        }
    }
  const char *pp[] = { "dns_pins", NULL };
  yajl_val pins = yajl_tree_get (root, pp, yajl_t_any);
  if (pins && !YAJL_IS_NULL (pins))
    {
      if (!YAJL_IS_OBJECT (pins))
        {
          cr_error (err, 0, "config: `dns_pins` must be an object host -> [ip, ...]");
          goto out;
        }
      for (size_t i = 0; i < pins->u.object.len; i++)
        {
          yajl_val a = pins->u.object.values[i];
          if (!YAJL_IS_ARRAY (a) || a->u.array.len == 0)
            {
              cr_error (err, 0, "config: `dns_pins.%s` must be a non-empty array of IPs", pins->u.object.keys[i]);
              goto out;
            }
          cleanup_free char *spec = xasprintf ("%s=", pins->u.object.keys[i]);
          for (size_t j = 0; j < a->u.array.len; j++)
            {
              if (!YAJL_IS_STRING (a->u.array.values[j]))
                {
                  cr_error (err, 0, "config: `dns_pins.%s` must hold strings", pins->u.object.keys[i]);
                  goto out;
                }
              char *ns = xasprintf ("%s%s%s", spec, j ? "," : "", YAJL_GET_STRING (a->u.array.values[j]));
              free (spec);
              spec = ns;
            }
          strv_push (&c->pins, &c->n_pins, spec);
        }
    }
  const char *tp[] = { "tls_pins", NULL };
  yajl_val tpins = yajl_tree_get (root, tp, yajl_t_any);
  if (tpins && !YAJL_IS_NULL (tpins))
    {
      if (!YAJL_IS_OBJECT (tpins))
        {
          cr_error (err, 0, "config: `tls_pins` must be an object host -> [\"sha256/BASE64\", ...]");
          goto out;
        }
      for (size_t i = 0; i < tpins->u.object.len; i++)
        {
          yajl_val a = tpins->u.object.values[i];
          if (!YAJL_IS_ARRAY (a))
            {
              cr_error (err, 0, "config: `tls_pins.%s` must be an array", tpins->u.object.keys[i]);
              goto out;
            }
          for (size_t j = 0; j < a->u.array.len; j++)
            {
              if (!YAJL_IS_STRING (a->u.array.values[j]))
                {
                  cr_error (err, 0, "config: `tls_pins.%s` must hold strings", tpins->u.object.keys[i]);
                  goto out;
                }
              cleanup_free char *spec
                = xasprintf ("%s=%s", tpins->u.object.keys[i], YAJL_GET_STRING (a->u.array.values[j]));
              strv_push (&c->tls_pins, &c->n_tls_pins, spec);
            }
        }
    }
  const char *cp[] = { "credentials", NULL };
  yajl_val creds = yajl_tree_get (root, cp, yajl_t_any);
  if (creds && !YAJL_IS_NULL (creds))
    {
      /* Validated here; injection needs TLS interception (not yet built). */
      if (!YAJL_IS_ARRAY (creds))
        {
          cr_error (err, 0, "config: `credentials` must be an array");
          goto out;
        }
      for (size_t i = 0; i < creds->u.array.len; i++)
        {
          const char *rp[] = { "rule", NULL };
          yajl_val r = yajl_tree_get (creds->u.array.values[i], rp, yajl_t_string);
          if (r == NULL)
            {
              cr_error (err, 0, "config: `credentials[%zu].rule` must be a string", i);
              goto out;
            }
          struct egress_cred cred;
          if (egress_cred_parse (YAJL_GET_STRING (r), &cred, err) < 0)
            goto out;
          egress_cred_free (&cred);
          const char *fp[] = { "secret_file", NULL };
          yajl_val f = yajl_tree_get (creds->u.array.values[i], fp, yajl_t_any);
          if (f && !YAJL_IS_STRING (f))
            {
              cr_error (err, 0, "config: `credentials[%zu].secret_file` must be a string", i);
              goto out;
            }
          config_add_cred (c, YAJL_GET_STRING (r), f ? YAJL_GET_STRING (f) : NULL);
        }
    }
  if (config_load_broker (root, &c->broker, err) < 0)
    goto out;
  ret = 0;
out:
  yajl_tree_free (root);
  return ret;
}

int
config_build_policy (const struct proxy_config *c, struct policy **policy, struct resolver **resolver, cr_error_t *err)
{
  size_t n = c->n_rules + c->n_annot;
  struct egress_rule *rules = calloc (n ? n : 1, sizeof *rules);
  if (rules == NULL)
    return cr_error_errno (err, "building policy");
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      bool trusted = i < c->n_rules;
      const char *t = trusted ? c->rules[i] : c->annot_rules[i - c->n_rules];
      if (egress_rule_parse (t, &rules[k], err) < 0)
        {
          egress_rules_free (rules, k);
          return -1;
        }
      rules[k++].trusted = trusted;
    }
  struct resolver *res = resolver_new ();
  for (size_t i = 0; i < c->n_pins; i++)
    if (resolver_pin (res, c->pins[i], err) < 0)
      {
        resolver_free (res);
        egress_rules_free (rules, k);
        return -1;
      }
  /* Resolve the rules' names once, now, all in parallel (wildcards: on first use). */
  if (!c->check)
    {
      const char **names = calloc (k ? k : 1, sizeof *names);
      size_t nn = 0;
      for (size_t i = 0; names && i < k; i++)
        if (rules[i].kind == EGRESS_HOST_NAME)
          names[nn++] = rules[i].host;
      /* On reload the loop must not wait: the names are only registered and
       * looked up by the resolver workers once they start. */
      if (names && c->reload)
        resolver_want (res, names, nn);
      else if (names)
        resolver_prefetch (res, names, nn, 5000);
      free (names);
    }
  if (policy_compile (rules, k, policy, err) < 0)
    {
      resolver_free (res);
      return -1;
    }
  for (size_t i = 0; i < c->n_tls_pins; i++)
    {
      const char *eq = strchr (c->tls_pins[i], '=');
      char host[EGRESS_HOST_MAX];
      enum egress_host_kind kind;
      unsigned char spki[32];
      if (!eq || egress_host_normalize (c->tls_pins[i], eq - c->tls_pins[i], host, sizeof host, &kind) < 0
          || mitm_parse_pin (eq + 1, spki) < 0)
        {
          policy_free (*policy);
          *policy = NULL;
          resolver_free (res);
          return cr_error (err, 0, "tls pin `%s`: expected host=sha256/BASE64 (SPKI SHA-256)", c->tls_pins[i]);
        }
      policy_add_pin (*policy, host, spki);
    }
  if (build_creds (c, *policy, err) < 0)
    {
      policy_free (*policy);
      *policy = NULL;
      resolver_free (res);
      return -1;
    }
  *resolver = res;
  return 0;
}
