/* Kubernetes pods as the capsule unit (see capsule_pod.h). */
#include "capsule_pod.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "audit.h"
#include "netcontain.h"
#include "util.h"

#define POD_FILE "pod.json"
#define POD_PREFIX "capsule/"

enum capsule_pod_role
capsule_pod_role (const struct oci_config *cfg, const char **sandbox_id)
{
  const char *t = oci_annotation (cfg, CAPSULE_POD_ANN_TYPE);
  const char *s = oci_annotation (cfg, CAPSULE_POD_ANN_SANDBOX);
  if (t == NULL)
    {
      t = oci_annotation (cfg, CAPSULE_POD_ANN_TYPE_CRIO);
      s = oci_annotation (cfg, CAPSULE_POD_ANN_SANDBOX_CRIO);
    }
  if (sandbox_id)
    *sandbox_id = s && *s ? s : NULL;
  if (t == NULL)
    return CAPSULE_POD_NONE;
  if (strcmp (t, "sandbox") == 0)
    return CAPSULE_POD_SANDBOX;
  return CAPSULE_POD_CONTAINER;
}

/* Seconds since boot: a pod's deadline must not move with the wall clock. */
static long long
pod_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (long long) ts.tv_sec;
}

/* ---- the record ---------------------------------------------------------- */

static void
g_str (yajl_gen g, const char *k, const char *v)
{
  yajl_gen_string (g, (const unsigned char *) k, strlen (k));
  if (v)
    yajl_gen_string (g, (const unsigned char *) v, strlen (v));
  else
    yajl_gen_null (g);
}

int
capsule_pod_record (const struct oci_config *cfg, const struct capsule_effective *eff, int dirfd, cr_error_t *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  const unsigned char *buf;
  size_t len;
  int r;

  if (g == NULL)
    return cr_error (err, ENOMEM, "capsule pod: recording the pod");
  yajl_gen_map_open (g);
  g_str (g, "sandbox", eff->id);
  g_str (g, "session", eff->session);
  g_str (g, "agent", eff->agent);
  g_str (g, "version", eff->version);
  g_str (g, "audit", eff->audit_path);
  yajl_gen_string (g, (const unsigned char *) "deadline", 8);
  yajl_gen_integer (g, eff->timeout_s ? pod_now () + (long long) eff->timeout_s : 0);
  yajl_gen_string (g, (const unsigned char *) "annotations", 11);
  yajl_gen_map_open (g);
  for (size_t i = 0; i < cfg->annotations_len; i++)
    if (strncmp (cfg->annotations[i].key, POD_PREFIX, strlen (POD_PREFIX)) == 0)
      g_str (g, cfg->annotations[i].key, cfg->annotations[i].value);
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  yajl_gen_get_buf (g, &buf, &len);
  r = write_file_at (dirfd, POD_FILE, buf, len, err);
  yajl_gen_free (g);
  return r < 0 ? cr_error_wrap (err, "capsule pod: recording the pod") : 0;
}

bool
capsule_pod_is_sandbox (const char *state_dir)
{
  cleanup_free char *p = xasprintf ("%s/" POD_FILE, state_dir);
  return access (p, F_OK) == 0;
}

struct pod
{
  char *dir, *sandbox, *session, *agent, *version, *audit;
  long long deadline;
  yajl_val root; /* keeps the annotations object alive */
  yajl_val annotations;
};

static void
pod_release (struct pod *p)
{
  free (p->dir);
  free (p->sandbox);
  free (p->session);
  free (p->agent);
  free (p->version);
  free (p->audit);
  if (p->root)
    yajl_tree_free (p->root);
  memset (p, 0, sizeof *p);
}
#define cleanup_pod __attribute__ ((cleanup (pod_release)))

static char *
pod_str (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v ? xstrdup (YAJL_GET_STRING (v)) : NULL;
}

/* 1 and *p filled if dir holds a pod record, 0 if not. */
static int
pod_load (const char *dir, struct pod *p, cr_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/" POD_FILE, dir);
  cleanup_free char *text = NULL;
  char ebuf[256];
  const char *p_dl[] = { "deadline", NULL }, *p_ann[] = { "annotations", NULL };
  yajl_val v;

  memset (p, 0, sizeof *p);
  if (read_file (path, &text, NULL, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          cr_error_release (err);
          return 0;
        }
      return cr_error_wrap (err, "capsule pod");
    }
  p->root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (p->root == NULL)
    return cr_error (err, EINVAL, "capsule pod: parsing `%s`: %s", path, ebuf);
  p->dir = xstrdup (dir);
  p->sandbox = pod_str (p->root, "sandbox");
  p->session = pod_str (p->root, "session");
  p->agent = pod_str (p->root, "agent");
  p->version = pod_str (p->root, "version");
  p->audit = pod_str (p->root, "audit");
  if ((v = yajl_tree_get (p->root, p_dl, yajl_t_number)) && YAJL_IS_INTEGER (v))
    p->deadline = YAJL_GET_INTEGER (v);
  p->annotations = yajl_tree_get (p->root, p_ann, yajl_t_object);
  if (p->sandbox == NULL || p->session == NULL)
    return cr_error (err, EINVAL, "capsule pod: `%s` has no sandbox or session", path);
  return 1;
}

/* ---- joining --------------------------------------------------------------- */

static void
ann_set (struct oci_config *cfg, const char *key, const char *value)
{
  for (size_t i = 0; i < cfg->annotations_len; i++)
    if (strcmp (cfg->annotations[i].key, key) == 0)
      {
        free (cfg->annotations[i].value);
        cfg->annotations[i].value = xstrdup (value);
        return;
      }
  struct oci_kv *n = realloc (cfg->annotations, (cfg->annotations_len + 1) * sizeof *n);
  if (n == NULL)
    abort ();
  cfg->annotations = n;
  n[cfg->annotations_len].key = xstrdup (key);
  n[cfg->annotations_len].value = xstrdup (value);
  cfg->annotations_len++;
}

static void
ann_del (struct oci_config *cfg, const char *key)
{
  size_t o = 0;
  for (size_t i = 0; i < cfg->annotations_len; i++)
    {
      if (strcmp (cfg->annotations[i].key, key) == 0)
        {
          free (cfg->annotations[i].key);
          free (cfg->annotations[i].value);
          continue;
        }
      cfg->annotations[o++] = cfg->annotations[i];
    }
  cfg->annotations_len = o;
}

/* The pod whose sandbox is `sandbox_id` under root, or whose sandbox owns
 * the netns at net_path.  1 = found (*p filled), 0 = none. */
static int
pod_find (const char *root, const char *id, const char *sandbox_id, const char *net_path, struct pod *p,
          cr_error_t *err)
{
  char want[64] = "", have[64];
  int r;

  if (net_path && *net_path)
    {
      cleanup_error cr_error_t tmp = NULL;
      /* no such netns: nothing joins anything (admission reports it) */
      if (netcontain_key_of (net_path, want, sizeof want, &tmp) < 0)
        want[0] = '\0';
    }
  if (sandbox_id && strcmp (sandbox_id, id) != 0 && strchr (sandbox_id, '/') == NULL && sandbox_id[0] != '.')
    {
      cleanup_free char *dir = xasprintf ("%s/%s", root, sandbox_id);
      r = pod_load (dir, p, err);
      if (r != 0)
        {
          if (r < 0)
            return -1;
          /* The pod is the unit: a container claiming a capsule pod lives in its netns. */
          cleanup_free char *pin = xasprintf ("%s/netns", dir);
          cleanup_error cr_error_t tmp = NULL;
          if (netcontain_key_of (pin, have, sizeof have, &tmp) < 0)
            return cr_error (err, 0, "capsule pod %s: the sandbox has no pinned network namespace", sandbox_id);
          if (strcmp (want, have) != 0)
            return cr_error (err, 0,
                             "capsule pod %s: container %s is not in the pod's network namespace (refused: it would "
                             "escape the pod's egress rules)",
                             sandbox_id, id);
          return 1;
        }
    }
  if (want[0] == '\0')
    return 0;
  /* By netns identity: the owner of the ruleset there, if it is a pod. */
  cleanup_free char *owner = NULL;
  r = netcontain_find_owner (want, &owner, err);
  if (r <= 0)
    return r;
  return pod_load (owner, p, err);
}

int
capsule_pod_join (struct oci_config *cfg, const char *id, const char *root, cr_error_t *err)
{
  const char *sandbox_id = NULL;
  enum capsule_pod_role role = capsule_pod_role (cfg, &sandbox_id);
  const struct oci_namespace *net = oci_namespace_find (cfg, "network");
  cleanup_pod struct pod p = { 0 };
  int r;

  if (role == CAPSULE_POD_SANDBOX)
    return 0;
  r = pod_find (root, id, sandbox_id, net ? net->path : NULL, &p, err);
  if (r <= 0)
    return r;

  /* Time first: a pod whose time is up gets no new containers (the sandbox
   * itself stays, so kubelet does not recreate the pod in a loop). */
  long long left = p.deadline ? p.deadline - pod_now () : 0;
  if (p.deadline && left <= 0)
    {
      char idq[512];
      audit_json_escape (idq, sizeof idq, id);
      cleanup_free char *extra = xasprintf (",\"decision\":\"deny\",\"container\":\"%s\","
                                            "\"reason\":\"the pod's capsule timeout has passed\"",
                                            idq);
      capsule_audit (p.audit, p.sandbox, "pod-admission", extra);
      return cr_error (err, 0, "capsule pod %s: container %s refused: the pod's capsule timeout has passed", p.sandbox,
                       id);
    }

  /* The pod's capsule annotations, where the container has none of its own. */
  for (size_t i = 0; p.annotations && i < YAJL_GET_OBJECT (p.annotations)->len; i++)
    {
      const char *k = YAJL_GET_OBJECT (p.annotations)->keys[i];
      yajl_val v = YAJL_GET_OBJECT (p.annotations)->values[i];
      if (YAJL_IS_STRING (v) && oci_annotation (cfg, k) == NULL)
        ann_set (cfg, k, YAJL_GET_STRING (v));
    }
  /* What belongs to the pod is the pod's, whatever the container says. */
  ann_del (cfg, "capsule/concurrency");
  ann_set (cfg, "capsule/session", p.session);
  if (p.agent && oci_annotation (cfg, "capsule/agent") == NULL)
    ann_set (cfg, "capsule/agent", p.agent);
  if (p.version && oci_annotation (cfg, "capsule/version") == NULL)
    ann_set (cfg, "capsule/version", p.version);
  if (p.deadline)
    {
      char t[32];
      snprintf (t, sizeof t, "%llds", left);
      ann_set (cfg, "capsule/timeout", t);
    }
  else
    ann_del (cfg, "capsule/timeout");
  {
    char idq[512];
    audit_json_escape (idq, sizeof idq, id);
    cleanup_free char *extra = xasprintf (",\"decision\":\"allow\",\"container\":\"%s\",\"timeout_left_s\":%lld", idq,
                                          p.deadline ? left : 0);
    capsule_audit (p.audit, p.sandbox, "pod-admission", extra);
  }
  return 1;
}
