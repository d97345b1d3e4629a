/* capsule-hook entry point: options, the OCI state on stdin, dispatch. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "lib/audit.h"
#include "lib/netcontain.h"
#include "lib/util.h"

int
hook_read_state (int fd, struct hook_state *st, cr_error_t *err)
{
  cleanup_free char *text = NULL;
  char ebuf[256];
  yajl_val root, v;
  const char *p_id[] = { "id", NULL }, *p_pid[] = { "pid", NULL }, *p_bundle[] = { "bundle", NULL };
  const char *p_allow[] = { "annotations", "capsule/egress.allow", NULL };

  memset (st, 0, sizeof *st);
  if (read_all_fd (fd, &text, NULL, err) < 0)
    return cr_error_wrap (err, "reading the OCI state from stdin");
  root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (root == NULL)
    return cr_error (err, EINVAL, "parsing the OCI state from stdin: %s", ebuf);
  if ((v = yajl_tree_get (root, p_id, yajl_t_string)))
    st->id = xstrdup (YAJL_GET_STRING (v));
  if ((v = yajl_tree_get (root, p_pid, yajl_t_number)) && YAJL_IS_INTEGER (v))
    st->pid = (int) YAJL_GET_INTEGER (v);
  if ((v = yajl_tree_get (root, p_bundle, yajl_t_string)))
    st->bundle = xstrdup (YAJL_GET_STRING (v));
  if ((v = yajl_tree_get (root, p_allow, yajl_t_string)))
    st->egress_allow = xstrdup (YAJL_GET_STRING (v));
  yajl_tree_free (root);
  if (st->id == NULL)
    return cr_error (err, EINVAL, "OCI state on stdin has no \"id\"");
  /* The id names a directory: the runtime's id rule (SPEC §3). */
  if (st->id[0] == '.' || strpbrk (st->id, "/ ") != NULL)
    return cr_error (err, EINVAL, "OCI state: invalid id `%s`", st->id);
  return 0;
}

void
hook_state_free (struct hook_state *st)
{
  free (st->id);
  free (st->bundle);
  free (st->egress_allow);
}

void
hook_audit (const char *file, const char *event, const char *id, const char *extra)
{
  struct audit_log *log = NULL;
  cr_error_t err = NULL;
  char eid[512];
  cleanup_free char *line = NULL;

  audit_json_escape (eid, sizeof eid, id ? id : "");
  line = xasprintf ("{\"event\":\"%s\",\"capsule\":\"%s\"%s%s}", event, eid, extra && *extra ? "," : "",
                    extra ? extra : "");
  if (audit_open (file, &log, &err) < 0 || audit_append (log, line, &err) < 0 || audit_sync (log, &err) < 0)
    {
      fprintf (stderr, "capsule-hook: audit `%s`: %s\n", file, err ? err->msg : "?");
      cr_error_release (&err);
    }
  if (log)
    audit_close (log);
}

static int
usage (void)
{
  fprintf (stderr, "usage: capsule-hook setup|teardown [--state-dir DIR] [--config FILE] [--proxy PATH]\n"
                   "       [--audit FILE] [--restarts N] [--on-proxy-failure kill|restart-forever]\n"
                   "       [--inbound PORT]... [--allow RULE]... [--cgroup-parent PATH]  (OCI state on stdin)\n");
  return 2;
}

/* Our own absolute path, for exec'ing the supervisor and finding the proxy. */
static char *
self_path (void)
{
  char buf[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  return xstrdup (buf);
}

static char *
default_proxy (const char *self)
{
  cleanup_free char *dir = xstrdup (self);
  char *slash = strrchr (dir, '/');
  if (slash == NULL)
    return NULL;
  *slash = '\0';
  char *a = xasprintf ("%s/capsule-proxy", dir);
  if (access (a, X_OK) == 0)
    return a;
  free (a);
  a = xasprintf ("%s/../proxy/capsule-proxy", dir);
  if (access (a, X_OK) == 0)
    return a;
  free (a);
  return NULL;
}

int
main (int argc, char **argv)
{
  enum { O_STATE = 256, O_CONFIG, O_PROXY, O_AUDIT, O_RESTARTS, O_FAILURE, O_INBOUND, O_ALLOW, O_CGROUP };
  static const struct option longopts[] = {
    { "state-dir", required_argument, NULL, O_STATE },  { "config", required_argument, NULL, O_CONFIG },
    { "proxy", required_argument, NULL, O_PROXY },      { "audit", required_argument, NULL, O_AUDIT },
    { "restarts", required_argument, NULL, O_RESTARTS }, { "on-proxy-failure", required_argument, NULL, O_FAILURE },
    { "inbound", required_argument, NULL, O_INBOUND },  { "allow", required_argument, NULL, O_ALLOW },
    { "cgroup-parent", required_argument, NULL, O_CGROUP }, { NULL, 0, NULL, 0 },
  };
  struct hook_opts o = { .restarts = 3, .cgroup_parent = "/capsule-proxy" };
  struct hook_state st;
  cr_error_t err = NULL;
  cleanup_free char *self = NULL, *proxy = NULL, *state_dir = NULL, *audit = NULL;
  const char *cmd;
  int c, ret;

  if (argc < 2)
    return usage ();
  cmd = argv[1];
  if (strcmp (cmd, "supervise") == 0)
    return hook_supervise (argc - 1, argv + 1);
  if (strcmp (cmd, "setup") != 0 && strcmp (cmd, "teardown") != 0)
    return usage ();

  optind = 2;
  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1)
    switch (c)
      {
      case O_STATE: o.state_dir = optarg; break;
      case O_CONFIG: o.config = optarg; break;
      case O_PROXY: o.proxy = optarg; break;
      case O_AUDIT: o.audit = optarg; o.audit_explicit = true; break;
      case O_RESTARTS: o.restarts = atoi (optarg); break;
      case O_FAILURE:
        if (strcmp (optarg, "kill") == 0)
          o.restart_forever = false;
        else if (strcmp (optarg, "restart-forever") == 0)
          o.restart_forever = true;
        else
          return usage ();
        break;
      case O_INBOUND:
        if (o.n_inbound >= HOOK_MAX_LIST || atoi (optarg) <= 0 || atoi (optarg) > 65535)
          return usage ();
        o.inbound[o.n_inbound++] = (uint16_t) atoi (optarg);
        break;
      case O_ALLOW:
        if (o.n_allow >= HOOK_MAX_LIST)
          return usage ();
        o.allow[o.n_allow++] = optarg;
        break;
      case O_CGROUP: o.cgroup_parent = optarg; break;
      default: return usage ();
      }
  if (optind < argc)
    return usage ();

  if (hook_read_state (STDIN_FILENO, &st, &err) < 0)
    {
      /* teardown by hand (no state on stdin) only needs the state dir */
      if (strcmp (cmd, "teardown") != 0 || o.state_dir == NULL)
        goto fail;
      cr_error_release (&err);
    }
  if (o.state_dir == NULL)
    o.state_dir = state_dir = xasprintf ("/run/capsule/%s", st.id);
  if (o.audit == NULL && strcmp (cmd, "teardown") == 0)
    {
      /* where setup sent the capsule's audit lines */
      cleanup_free char *af = xasprintf ("%s/net.audit", o.state_dir);
      cr_error_t e = NULL;
      if (read_file (af, &audit, NULL, &e) == 0 && audit[0] == '/')
        o.audit = audit;
      cr_error_release (&e);
    }
  if (o.audit == NULL)
    {
      free (audit);
      o.audit = audit = xasprintf ("%s/audit.jsonl", o.state_dir);
    }

  if (strcmp (cmd, "teardown") == 0)
    {
      ret = netcontain_cleanup (o.state_dir, &err);
      if (ret == 0 && st.id)
        hook_audit (o.audit, "network.teardown", st.id, "");
    }
  else
    {
      self = self_path ();
      if (self == NULL)
        {
          cr_error_errno (&err, "reading /proc/self/exe");
          goto fail;
        }
      o.self = self;
      if (o.proxy == NULL)
        o.proxy = proxy = default_proxy (self);
      if (o.proxy == NULL)
        {
          cr_error (&err, ENOENT, "capsule-proxy not found next to %s (use --proxy PATH)", self);
          goto fail;
        }
      ret = hook_setup (&o, &st, &err);
    }
  hook_state_free (&st);
  if (ret < 0)
    goto fail;
  return 0;

fail:
  fprintf (stderr, "capsule-hook %s: %s\n", cmd, err ? err->msg : "failed");
  cr_error_release (&err);
  return 1;
}
