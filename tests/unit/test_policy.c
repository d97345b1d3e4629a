/* Node policy: parsing, built-in defaults, bounds, errors, allow_private. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "lib/policy.h"
#include "lib/util.h"
#include "t.h"

static struct capsule_policy *
parse (const char *json, char **msg)
{
  struct capsule_policy *p = NULL;
  cr_error_t err = NULL;
  *msg = NULL;
  if (capsule_policy_parse (json, strlen (json), "test.json", &p, &err) < 0)
    {
      *msg = xstrdup (err->msg);
      cr_error_release (&err);
      return NULL;
    }
  return p;
}

static void
bad (const char *json, const char *want)
{
  char *m;
  struct capsule_policy *p = parse (json, &m);
  T_CHECK (p == NULL, "accepted: %s", json);
  capsule_policy_free (p);
  T_CONTAINS (m, want);
  T_CONTAINS (m, "test.json");
  free (m);
}

static bool
priv (const struct capsule_policy *p, const char *ip)
{
  unsigned char a[16];
  int fam = strchr (ip, ':') ? AF_INET6 : AF_INET;
  inet_pton (fam, ip, a);
  return capsule_policy_private_allowed (p, fam, a);
}

int
main (void)
{
  char *m;
  /* Empty policy: built-in default profile. */
  struct capsule_policy *p = parse ("{}", &m);
  T_CHECK (p != NULL, "empty: %s", m);
  const struct capsule_profile *d = capsule_policy_profile (p, "default");
  T_CHECK (d && d->writable_len == 2 && strcmp (d->writable[0], "/workspace") == 0 && strcmp (d->writable[1], "/tmp") == 0,
           "default writable");
  T_CHECK (d && d->fs_size == 64ULL << 20 && d->timeout_s == 0 && d->limits.pids == 256 && d->limits.gpu == 0,
           "default values");
  T_CHECK (d && d->caps_len == 8, "default caps");
  T_CHECK (!p->default_capsule && p->lease_public_key == NULL, "defaults");
  T_CHECK (!priv (p, "127.0.0.1"), "no allow_private by default");
  capsule_policy_free (p);

  p = parse ("{\"default\":\"capsule\",\"lease\":{\"public_key\":\"/k.pub\"},"
             "\"directories\":{\"audit\":\"/a\",\"killswitch\":\"/k\",\"secrets\":\"/s\",\"state\":\"/st\"},"
             "\"egress\":{\"allow_private\":[\"127.0.0.0/8\",\"::1/128\",\"10.1.2.0/23\"]},"
             "\"allow_runtime_sockets\":true,"
             "\"profiles\":{\"strict\":{\"writable\":\"/workspace\",\"writable_allowed\":[\"/workspace\",\"/home\"],"
             "\"fs_size\":\"16Mi\",\"max_fs_size\":\"32Mi\",\"timeout\":\"10m\",\"max_timeout\":\"1h\","
             "\"limits\":\"cpu=0.5,pids=64\",\"max_limits\":\"cpu=1,memory=1Gi,pids=128\","
             "\"capabilities\":[\"CAP_KILL\"],\"max_concurrency\":4}}}",
             &m);
  T_CHECK (p != NULL, "full: %s", m);
  if (p)
    {
      T_CHECK (p->default_capsule, "default capsule");
      T_STREQ (p->lease_public_key, "/k.pub");
      T_STREQ (p->audit_dir, "/a");
      T_STREQ (p->killswitch_dir, "/k");
      T_STREQ (p->secrets_dir, "/s");
      T_STREQ (p->state_dir, "/st");
      T_CHECK (p->allow_runtime_sockets, "sockets");
      T_CHECK (priv (p, "127.0.0.1") && priv (p, "127.255.1.2") && priv (p, "::1"), "allow_private loopback");
      T_CHECK (priv (p, "10.1.3.255") && !priv (p, "10.1.4.0") && !priv (p, "10.1.1.255"), "allow_private /23");
      T_CHECK (!priv (p, "169.254.169.254") && !priv (p, "::2"), "not covered");
      const struct capsule_profile *s = capsule_policy_profile (p, "strict");
      T_CHECK (s && s->writable_len == 1 && s->writable_allowed_len == 2, "strict writable");
      T_CHECK (s && s->fs_size == 16ULL << 20 && s->max_fs_size == 32ULL << 20, "strict sizes");
      T_CHECK (s && s->timeout_s == 600 && s->max_timeout_s == 3600, "strict timeouts");
      T_CHECK (s && s->limits.cpu_milli == 500 && s->limits.pids == 64 && s->limits.memory == 512ULL << 20, "strict limits");
      T_CHECK (s && s->max_limits.cpu_milli == 1000 && s->max_limits.memory == 1ULL << 30, "strict max");
      T_CHECK (s && s->caps_len == 1 && s->max_concurrency == 4, "strict caps");
      T_CHECK (capsule_policy_profile (p, "default") != NULL, "default added");
      T_CHECK (capsule_policy_profile (p, "nope") == NULL, "unknown profile");
    }
  capsule_policy_free (p);

  bad ("[]", "expected a JSON object");
  bad ("{", "invalid JSON");
  bad ("{\"default\":\"yes\"}", "default: `yes`: expected \"capsule\" or \"runc\"");
  bad ("{\"egress\":{\"allow_private\":[\"10.0.0.0/33\"]}}", "egress.allow_private[0]: `10.0.0.0/33`");
  bad ("{\"egress\":{\"allow_private\":[\"localhost\"]}}", "expected a CIDR");
  bad ("{\"profiles\":{\"x\":[]}}", "profiles.x: expected an object");
  bad ("{\"profiles\":{\"x\":{\"fs_size\":\"12Q\"}}}", "profiles.x.fs_size: `12Q`");
  bad ("{\"profiles\":{\"x\":{\"timeout\":\"soon\"}}}", "profiles.x.timeout: `soon`");
  bad ("{\"profiles\":{\"x\":{\"limits\":\"disk=1\"}}}", "profiles.x.limits: `disk=1`: unknown limit");
  bad ("{\"profiles\":{\"x\":{\"writable\":\"/\"}}}", "profiles.x.writable");
  bad ("{\"profiles\":{\"x\":{\"fs_size\":\"2Gi\"}}}", "fs_size exceeds max_fs_size");
  bad ("{\"profiles\":{\"x\":{\"limits\":\"memory=8Gi\"}}}", "limits exceed max_limits");
  bad ("{\"profiles\":{\"x\":{\"max_timeout\":\"1h\"}}}", "timeout must be set and within max_timeout");
  bad ("{\"profiles\":{\"x\":{\"timeout\":\"2h\",\"max_timeout\":\"1h\"}}}", "timeout must be set and within max_timeout");
  bad ("{\"profiles\":{\"x\":{\"capabilities\":\"CAP_KILL\"}}}", "profiles.x.capabilities");
  bad ("{\"lease\":{\"public_key\":7}}", "lease.public_key");

  /* Missing file: built-in policy; unreadable path: error. */
  setenv ("CAPSULE_POLICY", "/nonexistent/policy.json", 1);
  cr_error_t err = NULL;
  p = NULL;
  T_CHECK (capsule_policy_load (&p, &err) == 0 && p && p->path == NULL && capsule_policy_profile (p, "default"),
           "missing policy file");
  capsule_policy_free (p);
  setenv ("CAPSULE_POLICY", "/", 1);
  p = NULL;
  T_CHECK (capsule_policy_load (&p, &err) < 0, "directory as policy refused");
  cr_error_release (&err);
  /* The shipped example parses. */
  const char *src = getenv ("CAPSULE_SRC");
  char *ex = xasprintf ("%s/examples/policy/policy.json", src ? src : "/work/main");
  setenv ("CAPSULE_POLICY", ex, 1);
  p = NULL;
  T_CHECK (capsule_policy_load (&p, &err) == 0, "example policy: %s", err ? err->msg : "");
  cr_error_release (&err);
  capsule_policy_free (p);
  free (ex);
  return t_done ();
}
