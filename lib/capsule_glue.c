/* Where the container lifecycle meets capsule mode.  Plain containers pass
 * through untouched; for a capsule, admission may refuse or tighten the
 * config, the network hooks are inserted, the effective configuration is
 * stored as capsule.json, init gets Landlock + the capsule seccomp filter,
 * and the monitor takes over timeout and kill switch once init exists. */
#include "capsule_glue.h"
#include "capsule_pod.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "confine.h"
#include "log.h"
#include "monitor.h"
#include "netcontain.h"
#include "util.h"

/* capsule-hook lives beside capsule-runc when installed, and in
 * hooks/netns/ of the build tree; CAPSULE_HOOK overrides both. */
static char *
find_hook (void)
{
  const char *env = getenv ("CAPSULE_HOOK");
  if (env && *env)
    return xstrdup (env);
  char exe[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return NULL;
  exe[n] = '\0';
  char *dir = dirname (exe);
  const char *cands[] = { "%s/capsule-hook", "%s/../hooks/netns/capsule-hook", "%s/../libexec/capsule-runc/capsule-hook" };
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
    {
      char *p = xasprintf (cands[i], dir);
      char real[PATH_MAX];
      if (access (p, X_OK) == 0 && realpath (p, real))
        {
          free (p);
          return xstrdup (real);
        }
      free (p);
    }
  return NULL;
}

/* capsule-hook as createRuntime/poststop hooks, with the node policy's
 * proxy-failure and inbound settings. */
static int
add_network_hooks (struct oci_config *c, const char *id, const char *state_dir, const struct capsule_effective *e,
                   cr_error_t *err)
{
  cleanup_free char *hook = find_hook ();
  if (hook == NULL)
    return cr_error (err, 0, "capsule %s: the network hook `capsule-hook` was not found (set CAPSULE_HOOK)", id);
  struct netcontain_opts nopts = { .audit = e->audit_path };
  struct netcontain_policy npol;
  /* What happens when the proxy dies, and inbound ports: the node policy's. */
  if (netcontain_policy_opts (e->policy_path, &npol, &nopts, err) < 0)
    return cr_error_wrap (err, "capsule %s", id);
  if (netcontain_add_hooks_opts (c, state_dir, hook, &nopts, err) < 0)
    return cr_error_wrap (err, "capsule %s: network containment", id);
  return 0;
}

int
capsule_glue_admit (struct oci_config *c, const char *id, const char *root, int dirfd, struct capsule_glue *g,
                    cr_error_t *err)
{
  memset (g, 0, sizeof *g);
  cleanup_free char *state_dir = cr_state_dir (root, id);
  struct capsule_effective *eff = NULL;
  /* A container of a capsule pod is confined as the pod, annotated or not. */
  if (capsule_pod_join (c, id, root, err) < 0)
    return -1;
  if (capsule_admit (c, id, root, state_dir, &eff, err) < 0)
    return -1;
  if (eff == NULL)
    return 0;
  g->enabled = true;
  g->eff = eff;
  g->confine = capsule_confine_child_cb;
  g->confine_data = eff;

  /* Network containment is not optional for a capsule: no hook, no capsule
   * (unless its profile has no network at all: only loopback, nothing to police). */
  if (eff->network_none)
    g->loopback_up = true;
  else if (add_network_hooks (c, id, state_dir, eff, err) < 0)
    return -1;

  cleanup_free char *json = capsule_effective_to_json (eff, true);
  if (json == NULL)
    return cr_error (err, ENOMEM, "serialise capsule.json");
  if (write_file_at (dirfd, "capsule.json", json, strlen (json), err) < 0)
    return -1;
  if (capsule_pod_role (c, NULL) == CAPSULE_POD_SANDBOX && capsule_pod_record (c, eff, dirfd, err) < 0)
    return -1;
  return 0;
}

int
capsule_glue_started (struct capsule_glue *g, const char *root, int dirfd, const struct cr_state *st,
                      bool in_process, cr_error_t *err)
{
  (void) dirfd;
  if (!g->enabled)
    return 0;
  cleanup_free char *state_dir = cr_state_dir (root, st->id);
  struct capsule_effective *e = g->eff;
  /* A pod's sandbox never times out itself: its app containers carry the
   * pod's deadline, and a killed sandbox would be recreated by kubelet. */
  if (capsule_pod_is_sandbox (state_dir))
    {
      uint64_t timeout = e->timeout_s;
      e->timeout_s = 0;
      int r = capsule_started (root, state_dir, e, st->pid, st->cgroup_path, NULL, err);
      e->timeout_s = timeout;
      return r;
    }
  if (!in_process)
    return capsule_started (root, state_dir, e, st->pid, st->cgroup_path, NULL, err);
  if (capsule_started (root, state_dir, e, st->pid, st->cgroup_path, &g->monitor_thread, err) < 0)
    return -1;
  g->eff = NULL; /* the monitor thread's now (the init has its own copy of what it confines with) */
  return 0;
}

void
capsule_glue_release (struct capsule_glue *g)
{
  /* Still here: create failed after the monitor thread started (the init is being killed). */
  capsule_monitor_thread_stop (g->monitor_thread, true);
  if (g->eff)
    capsule_effective_free (g->eff);
  memset (g, 0, sizeof *g);
}

void
capsule_glue_abort (const char *root, const char *id)
{
  capsule_admit_abort (root, id);
  cleanup_free char *state_dir = cr_state_dir (root, id);
  cr_error_t e = NULL;
  if (access (state_dir, F_OK) == 0 && netcontain_cleanup (state_dir, &e) < 0)
    cr_log_warning ("network cleanup of %s: %s", id, e->msg);
  cr_error_release (&e);
}

void
capsule_glue_delete (const char *root, const char *id, int dirfd)
{
  if (faccessat (dirfd, "capsule.json", F_OK, 0) < 0 && faccessat (dirfd, "netns", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
    return;
  cleanup_free char *state_dir = cr_state_dir (root, id);
  cr_error_t e = NULL;
  /* Read once, for the teardown line and for capsule_release. */
  cleanup_effective struct capsule_effective *eff = NULL;
  if (capsule_effective_load (state_dir, &eff, &e) < 0)
    cr_error_release (&e);
  if (netcontain_cleanup (state_dir, &e) < 0)
    cr_log_warning ("network cleanup of %s: %s", id, e->msg);
  else if (eff && !eff->network_none)
    /* The teardown capsule-hook's poststop would do, done here in-process
     * (the stored config has no such hook), audited the same way, before
     * "deleted" so that the signed head covers it. */
    capsule_audit (eff->audit_path, eff->id, "network.teardown", "");
  cr_error_release (&e);
  if (capsule_release (state_dir, eff, &e) < 0)
    cr_log_warning ("capsule release of %s: %s", id, e->msg);
  cr_error_release (&e);
}

int
capsule_glue_exec (const struct oci_config *c, struct oci_process *p, const char *root, const char *id, int dirfd,
                   struct capsule_glue *g, cr_error_t *err)
{
  (void) c;
  (void) dirfd;
  memset (g, 0, sizeof *g);
  cleanup_free char *state_dir = cr_state_dir (root, id);
  struct capsule_effective *eff = NULL;
  if (capsule_effective_load (state_dir, &eff, err) < 0)
    {
      /* No capsule.json: a plain container. */
      if (*err && (*err)->status == ENOENT)
        {
          cr_error_release (err);
          /* A plain container sharing a capsule's netns still never gets the network caps back. */
          capsule_strip_joiner (c, p, root, id);
          return 0;
        }
      return -1;
    }
  if (eff == NULL)
    return 0;
  if (capsule_restrict_process (eff, p, err) < 0)
    {
      capsule_effective_free (eff);
      return -1;
    }
  p->no_new_privileges = true;
  if (!eff->network_none)
    netcontain_set_proxy_env (p);
  g->enabled = true;
  g->eff = eff;
  g->confine = capsule_confine_child_cb;
  g->confine_data = eff;
  return 0;
}
