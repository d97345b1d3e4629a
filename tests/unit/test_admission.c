/* Capsule admission: effective configuration, config tightening, and every
 * refusal (with its audit line and nothing left behind). */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/admission.h"
#include "lib/concurrency.h"
#include "lib/lease.h"
#include "lib/util.h"
#include "oci-spec/config.h"
#include "t.h"

static char root[64];
static int seq;

static char *
config_json (const char *annotations, const char *namespaces, const char *mounts)
{
  return xasprintf (
      "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
      "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"user\":{\"uid\":0,\"gid\":0},"
      "\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_NET_RAW\",\"CAP_SYS_ADMIN\",\"CAP_KILL\",\"CAP_MKNOD\"],"
      "\"effective\":[\"CAP_CHOWN\",\"CAP_NET_ADMIN\"],\"permitted\":[\"CAP_CHOWN\",\"CAP_NET_ADMIN\"]}},"
      "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
      "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/tmp\",\"options\":[\"rbind\",\"rw\"]}%s],"
      "\"linux\":{\"namespaces\":[%s],"
      "\"resources\":{\"pids\":{\"limit\":100},\"memory\":{\"limit\":1073741824}},"
      "\"devices\":[{\"type\":\"c\",\"path\":\"/dev/nvidia0\",\"major\":195,\"minor\":0},"
      "{\"type\":\"c\",\"path\":\"/dev/fuse\",\"major\":10,\"minor\":229}]},"
      "\"annotations\":{%s}}",
      mounts ? mounts : "", namespaces ? namespaces : "{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"mount\"}",
      annotations ? annotations : "");
}

static void
set_policy (const char *json)
{
  char *p = xasprintf ("%s/policy.json", root);
  if (json == NULL)
    unlink (p);
  else
    {
      cr_error_t err = NULL;
      T_CHECK (write_file_atomic (p, json, strlen (json), &err) == 0, "write policy");
    }
  setenv ("CAPSULE_POLICY", p, 1);
  free (p);
}

/* Admit; returns the error message (malloc'd) or NULL; *effp and *cfgp for inspection. */
static char *
admit (const char *annotations, const char *namespaces, const char *mounts, struct capsule_effective **effp,
       struct oci_config **cfgp, char **idp)
{
  cleanup_free char *json = config_json (annotations, namespaces, mounts);
  cr_error_t err = NULL;
  struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c != NULL, "config parses: %s", err ? err->msg : "");
  if (c == NULL)
    return xstrdup ("config");
  char *id = xasprintf ("c%d", ++seq);
  char *dir = xasprintf ("%s/%s", root, id);
  struct capsule_effective *e = NULL;
  char *msg = NULL;
  if (capsule_admit (c, id, root, dir, &e, &err) < 0)
    {
      msg = xstrdup (err->msg);
      cr_error_release (&err);
    }
  if (effp)
    *effp = e;
  else
    capsule_effective_free (e);
  if (cfgp)
    *cfgp = c;
  else
    oci_config_free (c);
  if (idp)
    *idp = id;
  else
    free (id);
  free (dir);
  return msg;
}

static void
refused (const char *annotations, const char *namespaces, const char *mounts, const char *want)
{
  char *id = NULL;
  char *m = admit (annotations, namespaces, mounts, NULL, NULL, &id);
  T_CHECK (m != NULL, "admitted, expected refusal with %s", want);
  T_CONTAINS (m, want);
  /* The refusal is audited with its reason; nothing else is left. */
  char *log = xasprintf ("%s/.capsule-audit/%s.jsonl", root, id);
  cleanup_free char *text = NULL;
  cr_error_t err = NULL;
  T_CHECK (read_file (log, &text, NULL, &err) == 0, "audit log %s", log);
  T_CONTAINS (text, "\"decision\":\"deny\"");
  if (m && text)
    {
      /* The reason is in the line (JSON-escaped backticks are plain). */
      T_CONTAINS (text, strchr (m, ':') ? strchr (m, ':') + 2 : m);
    }
  char *dir = xasprintf ("%s/%s", root, id);
  T_CHECK (access (dir, F_OK) < 0, "no state dir left");
  cr_error_release (&err);
  free (dir);
  free (log);
  free (m);
  free (id);
}

static bool
has_str (char **v, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

int
main (void)
{
  snprintf (root, sizeof root, "/tmp/test-admission.XXXXXX");
  T_CHECK (mkdtemp (root) != NULL, "mkdtemp");
  struct capsule_effective *e = NULL;
  struct oci_config *c = NULL;
  char *m;

  /* No policy file, no annotation: a plain container, untouched. */
  set_policy (NULL);
  m = admit (NULL, NULL, NULL, &e, &c, NULL);
  T_CHECK (m == NULL && e == NULL, "plain container: %s", m);
  T_CHECK (c && !c->root_readonly && c->mounts_len == 2 && !c->process->no_new_privileges, "plain config untouched");
  oci_config_free (c);
  free (m);

  /* An annotated container gets the built-in default profile. */
  m = admit ("\"capsule/agent\":\"bot\",\"capsule/limits\":\"pids=50,memory=2Gi\"", NULL, NULL, &e, &c, NULL);
  T_CHECK (m == NULL && e != NULL, "default capsule: %s", m);
  if (e && c)
    {
      T_STREQ (e->agent, "bot");
      T_STREQ (e->version, "unversioned");
      T_STREQ (e->profile, "default");
      T_CHECK (e->writable_len == 2, "writable");
      T_CHECK (c->root_readonly, "readonly rootfs");
      T_CHECK (c->process->no_new_privileges, "no_new_privs");
      /* tmpfs per writable path, appended. */
      T_CHECK (c->mounts_len == 4, "mounts: %zu", c->mounts_len);
      const struct oci_mount *w = &c->mounts[2];
      T_STREQ (w->destination, "/workspace");
      T_STREQ (w->type, "tmpfs");
      T_CHECK (has_str (w->options, w->options_len, "nosuid") && has_str (w->options, w->options_len, "nodev")
                   && has_str (w->options, w->options_len, "mode=1777")
                   && has_str (w->options, w->options_len, "size=67108864"),
               "tmpfs options");
      /* Bind mounts outside writable paths are made read-only. */
      T_CHECK (has_str (c->mounts[1].options, c->mounts[1].options_len, "ro")
                   && !has_str (c->mounts[1].options, c->mounts[1].options_len, "rw"),
               "bind mount ro");
      /* Capabilities: intersected with the minimal set, network/admin caps stripped. */
      const struct oci_capabilities *k = c->process->capabilities;
      T_CHECK (k->bounding_len == 2 && has_str (k->bounding, k->bounding_len, "CAP_CHOWN")
                   && has_str (k->bounding, k->bounding_len, "CAP_KILL"),
               "bounding: %zu", k->bounding_len);
      T_CHECK (k->effective_len == 1 && k->permitted_len == 1, "effective/permitted");
      T_CHECK (has_str (e->caps_stripped, e->caps_stripped_len, "CAP_NET_RAW")
                   && has_str (e->caps_stripped, e->caps_stripped_len, "CAP_SYS_ADMIN")
                   && has_str (e->caps_stripped, e->caps_stripped_len, "CAP_NET_ADMIN")
                   && has_str (e->caps_stripped, e->caps_stripped_len, "CAP_MKNOD"),
               "stripped recorded");
      /* Limits: never looser than the config asked (pids 100 -> 50; memory 1Gi kept over 2Gi). */
      const struct oci_resources *r = c->linux_->resources;
      T_CHECK (r->has_pids_limit && r->pids_limit == 50, "pids %lld", (long long) r->pids_limit);
      T_CHECK (r->memory->has_limit && r->memory->limit == 1073741824, "memory %lld", (long long) r->memory->limit);
      T_CHECK (r->cpu && r->cpu->has_quota && r->cpu->quota == 100000 && r->cpu->period == 100000, "cpu quota");
      /* Masked/readonly paths; GPU nodes hidden, others kept. */
      T_CHECK (has_str (c->linux_->masked_paths, c->linux_->masked_paths_len, "/proc/kcore")
                   && has_str (c->linux_->readonly_paths, c->linux_->readonly_paths_len, "/proc/sys"),
               "masked paths");
      T_CHECK (c->linux_->devices_len == 1 && strcmp (c->linux_->devices[0].path, "/dev/fuse") == 0, "gpu hidden");
      T_CHECK (e->devices_hidden_len == 1, "hidden recorded");
      /* JSON round trip. */
      char *j = capsule_effective_to_json (e, true);
      cr_error_t err = NULL;
      struct capsule_effective *e2 = capsule_effective_from_json (j, strlen (j), &err);
      T_CHECK (e2 != NULL, "reload: %s", err ? err->msg : "");
      if (e2)
        {
          char *j2 = capsule_effective_to_json (e2, true);
          T_STREQ (j, j2);
          free (j2);
          capsule_effective_free (e2);
        }
      T_CONTAINS (j, "\"landlock_abi\"");
      free (j);
    }
  capsule_effective_free (e);
  oci_config_free (c);
  free (m);

  /* The network namespace must be the capsule's own. */
  refused ("\"capsule/agent\":\"bot\"", "{\"type\":\"pid\"},{\"type\":\"mount\"}", NULL, "no network namespace");
  refused ("\"capsule/agent\":\"bot\"", "{\"type\":\"network\",\"path\":\"/proc/self/ns/net\"}", NULL,
           "is the runtime's own");
  refused ("\"capsule/agent\":\"bot\"", "{\"type\":\"network\"},{\"type\":\"user\"}", NULL,
           "owned by the container's own user namespace");
  /* Runtime sockets. */
  if (access ("/run/containerd/containerd.sock", F_OK) == 0 || access ("/var/run/docker.sock", F_OK) == 0)
    refused ("\"capsule/agent\":\"bot\"", NULL, ",{\"destination\":\"/run\",\"type\":\"bind\",\"source\":\"/run\"}",
             "container-runtime socket");
  refused ("\"capsule/agent\":\"bot\"", NULL,
           ",{\"destination\":\"/var/run/docker.sock\",\"type\":\"bind\",\"source\":\"/var/run/docker.sock\"}",
           "container-runtime sockets are refused");
  /* Malformed annotations. */
  refused ("\"capsule/fs.size\":\"lots\"", NULL, NULL, "annotation capsule/fs.size: `lots`");
  /* Bounds of the built-in profile. */
  refused ("\"capsule/fs.size\":\"2Gi\"", NULL, NULL, "annotation capsule/fs.size: `2Gi`: size exceeds the node policy bound 1Gi");
  refused ("\"capsule/limits\":\"cpu=8\"", NULL, NULL, "annotation capsule/limits: `cpu=8`: cpu exceeds the node policy bound cpu=4.000");
  refused ("\"capsule/limits\":\"gpu=1\"", NULL, NULL, "gpu exceeds the node policy bound gpu=0");
  refused ("\"capsule/profile\":\"gold\"", NULL, NULL, "annotation capsule/profile: `gold`: no such profile");
  /* Egress: private addresses only where the policy allows. */
  refused ("\"capsule/egress.allow\":\"GET 127.0.0.1:8080/ok/*\"", NULL, NULL, "egress.allow_private does not cover");
  refused ("\"capsule/egress.allow\":\"169.254.169.254\"", NULL, NULL, "egress.allow_private does not cover");
  refused ("\"capsule/egress.allow\":\"localhost:8080\"", NULL, NULL, "egress.allow_private does not cover");
  refused ("\"capsule/dns.pin\":\"api.example.com=10.0.0.1\"", NULL, NULL, "not covered");
  refused ("\"capsule/egress.allow\":\"get api.example.com\"", NULL, NULL, "capsule/egress.allow");
  refused ("\"capsule/egress.gateway\":\"gw.example.com\"", NULL, NULL, "expected host:port");
  refused ("\"capsule/lease\":\"abc.def\"", NULL, NULL, "names no lease key");
  m = admit ("\"capsule/egress.allow\":\"GET,POST api.example.com/v1/*; *.corp.example:8443\"", NULL, NULL, NULL, NULL, NULL);
  T_CHECK (m == NULL, "public egress rules: %s", m);
  free (m);

  /* A policy: bounds, allow_private, leases, concurrency. */
  char *priv = xasprintf ("%s/lease.key", root), *pub = xasprintf ("%s/lease.pub", root);
  cr_error_t err = NULL;
  T_CHECK (capsule_lease_keygen (priv, pub, &err) == 0, "keygen");
  char *pol = xasprintf ("{\"lease\":{\"public_key\":\"%s\"},\"egress\":{\"allow_private\":[\"127.0.0.0/8\",\"::1/128\"]},"
                         "\"profiles\":{\"default\":{\"timeout\":\"10m\",\"max_timeout\":\"1h\",\"max_concurrency\":3,"
                         "\"writable_allowed\":[\"/workspace\",\"/tmp\"]}}}",
                         pub);
  set_policy (pol);
  int64_t now = (int64_t) time (NULL);
  struct capsule_lease l = { .agent = "bot", .version = "1.0", .session = "s1", .profile = "default", .nbf = now - 5,
                             .exp = now + 600 };
  char *tok = NULL, *expired = NULL, *other = NULL;
  T_CHECK (capsule_lease_issue (priv, &l, &tok, &err) == 0, "issue");
  l.exp = now - 1;
  l.nbf = now - 100;
  T_CHECK (capsule_lease_issue (priv, &l, &expired, &err) == 0, "issue expired");
  l.exp = now + 600;
  l.session = "s2";
  T_CHECK (capsule_lease_issue (priv, &l, &other, &err) == 0, "issue other session");
  char *ok_ann = xasprintf ("\"capsule/agent\":\"bot\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\","
                            "\"capsule/lease\":\"%s\"",
                            tok);
  m = admit (ok_ann, NULL, NULL, &e, NULL, NULL);
  T_CHECK (m == NULL && e && e->lease_checked && e->lease_exp == now + 600 && e->timeout_s == 600, "leased capsule: %s", m);
  capsule_effective_free (e);
  free (m);
  refused ("\"capsule/agent\":\"bot\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\"", NULL, NULL,
           "required by the node policy");
  char *ann = xasprintf ("\"capsule/agent\":\"bot\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\","
                         "\"capsule/lease\":\"%s\"", expired);
  refused (ann, NULL, NULL, "expired");
  free (ann);
  ann = xasprintf ("\"capsule/agent\":\"bot\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\","
                   "\"capsule/lease\":\"%s\"", other);
  refused (ann, NULL, NULL, "issued for session `s2`, this capsule's session is `s1`");
  free (ann);
  ann = xasprintf ("\"capsule/agent\":\"evil\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\","
                   "\"capsule/lease\":\"%s\"", tok);
  refused (ann, NULL, NULL, "issued for agent `bot`");
  free (ann);
  /* Forged: payload changed, signature kept. */
  {
    char *dot = strchr (tok, '.');
    char *forged = xasprintf ("%.*sX%s", (int) (dot - tok) - 1, tok, dot);
    ann = xasprintf ("\"capsule/agent\":\"bot\",\"capsule/version\":\"1.0\",\"capsule/session\":\"s1\","
                     "\"capsule/lease\":\"%s\"", forged);
    refused (ann, NULL, NULL, "capsule/lease");
    free (ann);
    free (forged);
  }
  char *with = xasprintf ("%s,\"capsule/timeout\":\"2h\"", ok_ann);
  refused (with, NULL, NULL, "annotation capsule/timeout: `2h`: timeout exceeds the node policy bound 3600s");
  free (with);
  with = xasprintf ("%s,\"capsule/fs.writable\":\"/home\"", ok_ann);
  refused (with, NULL, NULL, "annotation capsule/fs.writable: `/home` is not below a path the node policy allows");
  free (with);
  with = xasprintf ("%s,\"capsule/egress.allow\":\"GET 127.0.0.1:8080/ok/*; [::1]:9000\"", ok_ann);
  m = admit (with, NULL, NULL, NULL, NULL, NULL);
  T_CHECK (m == NULL, "allow_private covers loopback: %s", m);
  free (m);
  free (with);
  with = xasprintf ("%s,\"capsule/egress.allow\":\"10.0.0.1\"", ok_ann);
  refused (with, NULL, NULL, "10.0.0.1");
  free (with);
  with = xasprintf ("%s,\"capsule/concurrency\":\"g=4\"", ok_ann);
  refused (with, NULL, NULL, "annotation capsule/concurrency: `g=4`: N exceeds the node policy bound 3");
  free (with);
  /* Concurrency: group=1, the second is refused while the first holds it. */
  with = xasprintf ("%s,\"capsule/concurrency\":\"g=1\"", ok_ann);
  char *id1 = NULL;
  m = admit (with, NULL, NULL, NULL, NULL, &id1);
  T_CHECK (m == NULL, "first in group: %s", m);
  free (m);
  refused (with, NULL, NULL, "group `g` is full: 1 of 1 running");
  capsule_admit_abort (root, id1);
  m = admit (with, NULL, NULL, NULL, NULL, NULL);
  T_CHECK (m == NULL, "slot freed by abort: %s", m);
  free (m);
  free (with);
  free (id1);

  /* "default": "capsule" makes every container a capsule. */
  set_policy ("{\"default\":\"capsule\"}");
  m = admit (NULL, NULL, NULL, &e, NULL, NULL);
  T_CHECK (m == NULL && e != NULL, "policy default capsule: %s", m);
  capsule_effective_free (e);
  free (m);
  /* A broken policy fails closed. */
  set_policy ("{\"default\":");
  m = admit (NULL, NULL, NULL, NULL, NULL, NULL);
  T_CHECK (m != NULL && strstr (m, "node policy"), "broken policy refused: %s", m);
  free (m);

  free (tok);
  free (expired);
  free (other);
  free (ok_ann);
  free (pol);
  free (priv);
  free (pub);
  char *cmd = xasprintf ("rm -rf %s", root);
  T_CHECK (system (cmd) == 0, "cleanup");
  free (cmd);
  return t_done ();
}
