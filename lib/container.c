/* The container lifecycle, top-down.
 *
 *   create:  config.json -> (capsule admission) -> state dir + lock ->
 *            cgroup -> clone(new namespaces) -> [child: lib/init.c] ->
 *            uid/gid maps, cgroup entry -> GO -> child mounts ->
 *            prestart/createRuntime hooks -> child pivots, sets up, READY ->
 *            state.json "created" -> CREATED -> the child waits on exec.fifo.
 *   start:   open exec.fifo (the child's write unblocks) -> poststart hooks.
 *   kill:    signal init, or every process of the cgroup with --all.
 *   delete:  kill what is left -> cgroup, capsule/network teardown ->
 *            poststop hooks -> remove the state dir.
 *
 * Every step that can fail leaves nothing behind: a failed create removes
 * its state dir, cgroup and child; a runtime killed at any point leaves a
 * state dir that `delete --force` cleans. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../oci-spec/config.h"
#include "capsule_glue.h"
#include "cgroup.h"
#include "hooks.h"
#include "monitor.h"
#include "init.h"
#include "log.h"
#include "namespaces.h"
#include "rootfs.h"
#include "seccomp.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- small helpers ---------------------------------------------------- */

static int
pidfd_open_ (pid_t pid)
{
  return (int) syscall (SYS_pidfd_open, pid, 0);
}

/* Wait until a process (not necessarily our child) is gone. */
static void
wait_pid_gone (pid_t pid, int timeout_ms)
{
  int fd = pidfd_open_ (pid);
  if (fd < 0)
    return;
  struct pollfd p = { fd, POLLIN, 0 };
  poll (&p, 1, timeout_ms);
  close (fd);
  waitpid (pid, NULL, WNOHANG);
}

/* The annotations as a NULL-terminated k,v list for the state JSON. */
static const char **
annotation_list (const struct oci_config *c)
{
  size_t n = c ? c->annotations_len : 0;
  const char **a = xmalloc0 (sizeof (char *) * (2 * n + 1));
  for (size_t i = 0; i < n; i++)
    {
      a[2 * i] = c->annotations[i].key;
      a[2 * i + 1] = c->annotations[i].value;
    }
  return a;
}

static int
run_hooks (const struct oci_config *c, enum oci_hook_kind kind, const struct cr_state *st, const char *status,
           cr_error_t *err)
{
  if (c == NULL || c->hooks.len[kind] == 0)
    return 0;
  cleanup_free const char **ann = annotation_list (c);
  cleanup_free char *json = cr_state_oci_json (st, status, ann, false);
  if (cr_hooks_run (c->hooks.hooks[kind], c->hooks.len[kind], json, err) < 0)
    return cr_error_wrap (err, "%s hook", oci_hook_kind_name (kind));
  return 0;
}

/* A capsule's own network hook (capsule-hook setup), started in a thread
 * right after clone so that it works while the init sets up its rootfs;
 * joined exactly where createRuntime hooks run, so the init goes on only
 * once the rules and the proxy are in place (or fails with the hook's
 * error).  Only when it is the sole prestart/createRuntime hook: user hooks
 * keep their OCI order and see what they always saw. */
struct early_hook
{
  bool started;
  pthread_t thread;
  const struct oci_config *c;
  char *json;
  int ret;
  cr_error_t err;
};

static void *
early_hook_main (void *arg)
{
  struct early_hook *h = arg;
  h->ret = cr_hooks_run (h->c->hooks.hooks[OCI_HOOK_CREATE_RUNTIME], 1, h->json, &h->err);
  return NULL;
}

static bool
early_hook_start (struct early_hook *h, const struct oci_config *c, bool capsule, int new_flags, bool joins,
                  const struct cr_state *st)
{
  /* Only a fresh netns made by clone itself: one joined by path (a pod's,
   * a sandbox's) is entered by the init later, and until then the hook
   * would see the runtime's own. */
  if (!capsule || c->hooks.len[OCI_HOOK_PRESTART] != 0 || c->hooks.len[OCI_HOOK_CREATE_RUNTIME] != 1
      || !(new_flags & CLONE_NEWNET) || (new_flags & CLONE_NEWUSER) || joins)
    return false;
  cleanup_free const char **ann = annotation_list (c);
  h->c = c;
  h->json = cr_state_oci_json (st, "creating", ann, false);
  if (pthread_create (&h->thread, NULL, early_hook_main, h) != 0)
    {
      /* No thread: the hook runs in line, as for any container. */
      free (h->json);
      h->json = NULL;
      return false;
    }
  h->started = true;
  return true;
}

static int
early_hook_join (struct early_hook *h, cr_error_t *err)
{
  if (!h->started)
    return 0;
  pthread_join (h->thread, NULL);
  h->started = false;
  if (h->ret < 0)
    {
      *err = h->err;
      h->err = NULL;
      return cr_error_wrap (err, "%s hook", oci_hook_kind_name (OCI_HOOK_CREATE_RUNTIME));
    }
  return 0;
}

/* Every exit from create waits for the hook: its cleanup needs it finished. */
static void
early_hook_release (struct early_hook *h)
{
  cr_error_t e = NULL;
  early_hook_join (h, &e);
  cr_error_release (&e);
  cr_error_release (&h->err);
  free (h->json);
}

static int
write_pid_file (const char *path, pid_t pid, cr_error_t *err)
{
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", pid);
  cleanup_free char *abs = NULL;
  if (path[0] != '/')
    {
      char cwd[PATH_MAX];
      if (getcwd (cwd, sizeof cwd) == NULL)
        return cr_error_errno (err, "getcwd");
      abs = xasprintf ("%s/%s", cwd, path);
      path = abs;
    }
  return write_file_atomic (path, buf, (size_t) n, err);
}

static int
write_id_maps (pid_t pid, const struct oci_config *c, cr_error_t *err)
{
  const struct oci_linux *l = c->linux_;
  for (int which = 0; which < 2; which++)
    {
      const struct oci_id_mapping *m = which ? l->gid_mappings : l->uid_mappings;
      size_t n = which ? l->gid_mappings_len : l->uid_mappings_len;
      if (n == 0)
        return cr_error (err, 0, "a user namespace needs linux.%s", which ? "gidMappings" : "uidMappings");
      char buf[4096];
      size_t used = 0;
      for (size_t i = 0; i < n && used < sizeof buf - 64; i++)
        used += (size_t) snprintf (buf + used, sizeof buf - used, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
      char path[64];
      snprintf (path, sizeof path, "/proc/%d/%s", pid, which ? "gid_map" : "uid_map");
      if (write_file_at (AT_FDCWD, path, buf, used, err) < 0)
        return cr_error_wrap (err, "write %s", which ? "gid_map" : "uid_map");
    }
  return 0;
}

/* clone3 with CLONE_INTO_CGROUP where the cgroup is v2, else plain clone;
 * both with no new stack, so the child continues here like fork().
 * *into_cgroup tells whether the child was born in the v2 cgroup. */
static pid_t
clone_child (int flags, int cgroup_fd, bool *into_cgroup)
{
  *into_cgroup = false;
  if (cgroup_fd >= 0)
    {
      struct clone_args ca = { .flags = (unsigned long long) flags | CLONE_INTO_CGROUP,
                               .exit_signal = SIGCHLD,
                               .cgroup = (unsigned long long) cgroup_fd };
      pid_t pid = (pid_t) syscall (SYS_clone3, &ca, sizeof ca);
      if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
        {
          *into_cgroup = pid >= 0;
          return pid;
        }
    }
  return (pid_t) syscall (SYS_clone, (unsigned long) flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* The child's first act: join the v1 hierarchies itself (cheap, see
 * cr_cgroup_selfjoin_open) and tell the parent how it went; an empty
 * message is success, a text is the reason and the parent moves us instead. */
static void
child_selfjoin (struct cr_cgroup_selfjoin *sj, int sync_fd)
{
  if (sj->n == 0)
    return;
  cr_error_t e = NULL;
  const char *msg = NULL;
  if (cr_cgroup_selfjoin_run (sj, &e) < 0)
    msg = e->msg;
  cr_sync_send (sync_fd, CR_SYNC_CGROUP, msg, -1, NULL);
  cr_error_release (&e);
}

/* The parent's side of the cgroup entry, before GO: the v1 hierarchies if
 * the child could not join them itself, the v2 one if clone3 did not. */
static int
parent_cgroup_enter (const struct cr_cgroup *cg, pid_t pid, int sync_fd, bool selfjoin, bool into_cgroup,
                     cr_error_t *err)
{
  bool need_v1 = cg->mode != CR_CGROUP_V2 && !selfjoin;
  if (selfjoin)
    {
      enum cr_sync_msg t;
      cleanup_free char *why = NULL;
      if (cr_sync_recv (sync_fd, &t, &why, NULL, err) < 0)
        return -1;
      if (t == CR_SYNC_ERROR)
        return cr_error (err, 0, "%s", why ? why : "container init failed");
      if (t != CR_SYNC_CGROUP)
        return cr_error (err, 0, "unexpected sync message %d (wanted %d)", (int) t, (int) CR_SYNC_CGROUP);
      if (why)
        {
          cr_log_debug ("container init could not join its cgroup (%s): moving it from the runtime", why);
          need_v1 = true;
        }
    }
  if (!need_v1 && into_cgroup)
    return 0;
  return cr_cgroup_enter_part (cg, pid, need_v1, !into_cgroup, err);
}

/* runc's device cgroup: the config's rules, then an allow for every
 * linux.devices node, then the default nodes every container gets. */
static void
add_default_device_rules (struct oci_config *c)
{
  struct oci_resources *r = c->linux_ ? c->linux_->resources : NULL;
  if (r == NULL || r->devices_len == 0)
    return;
  static const struct
  {
    const char *type;
    long major, minor; /* -1: any */
    const char *access;
  } defaults[] = {
    { "c", -1, -1, "m" }, { "b", -1, -1, "m" },  { "c", 1, 3, "rwm" },   { "c", 1, 8, "rwm" },
    { "c", 1, 7, "rwm" }, { "c", 5, 0, "rwm" },  { "c", 1, 5, "rwm" },   { "c", 1, 9, "rwm" },
    { "c", 5, 1, "rwm" }, { "c", 136, -1, "rwm" }, { "c", 5, 2, "rwm" },
  };
  size_t nd = sizeof defaults / sizeof defaults[0];
  size_t extra = c->linux_->devices_len + nd;
  struct oci_device_cgroup *nv = realloc (r->devices, sizeof *nv * (r->devices_len + extra));
  if (nv == NULL)
    abort ();
  r->devices = nv;
  for (size_t i = 0; i < c->linux_->devices_len; i++)
    {
      const struct oci_device *d = &c->linux_->devices[i];
      struct oci_device_cgroup *x = &r->devices[r->devices_len++];
      memset (x, 0, sizeof *x);
      x->allow = true;
      x->type = xstrdup (d->type && (d->type[0] == 'b') ? "b" : "c");
      x->has_major = x->has_minor = true;
      x->major = d->major;
      x->minor = d->minor;
      x->access = xstrdup ("rwm");
    }
  for (size_t i = 0; i < nd; i++)
    {
      struct oci_device_cgroup *x = &r->devices[r->devices_len++];
      memset (x, 0, sizeof *x);
      x->allow = true;
      x->type = xstrdup (defaults[i].type);
      x->has_major = defaults[i].major >= 0;
      x->major = defaults[i].major;
      x->has_minor = defaults[i].minor >= 0;
      x->minor = defaults[i].minor;
      x->access = xstrdup (defaults[i].access);
    }
}

struct idmap_fds
{
  int *fds;
  size_t n;
};
static void
idmap_fds_free (struct idmap_fds *f)
{
  cr_rootfs_idmap_free (f->fds, f->n);
}

/* ---- foreground stdio --------------------------------------------------- */

/* Foreground `run` without a tty: like runc, the container gets pipes for
 * fds 0-2, never the runtime's own stdio (a host terminal in the container
 * is a TIOCSTI-style hazard), and the runtime copies.  child[] are the
 * container's ends, ours[] = { stdin writer, stdout reader, stderr reader }. */
struct stdio_relay
{
  int child[3];
  int ours[3];
};

/* Close a set of three fds (child[] or ours[]). */
static void
stdio_relay_close (int *fds)
{
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0)
      {
        close (fds[i]);
        fds[i] = -1;
      }
}

static void
stdio_relay_release (struct stdio_relay *r)
{
  stdio_relay_close (r->child);
  stdio_relay_close (r->ours);
}

static int
stdio_relay_open (struct stdio_relay *r, cr_error_t *err)
{
  for (int i = 0; i < 3; i++)
    r->child[i] = r->ours[i] = -1;
  for (int i = 0; i < 3; i++)
    {
      int p[2];
      if (pipe2 (p, O_CLOEXEC) < 0)
        {
          stdio_relay_close (r->child);
          stdio_relay_close (r->ours);
          return cr_error_errno (err, "create the container's stdio pipes");
        }
      r->child[i] = i == 0 ? p[0] : p[1];
      r->ours[i] = i == 0 ? p[1] : p[0];
    }
  /* Our stdin writer never blocks: a container that does not read its
   * stdin must not stop us from copying its output. */
  fcntl (r->ours[0], F_SETFL, O_NONBLOCK);
  return 0;
}

/* ---- create ----------------------------------------------------------- */

/* Everything a half-made container holds, released on failure. */
struct create_guard
{
  bool armed;
  const char *root, *id;
  int dirfd;
  pid_t child;
  struct cr_cgroup cg;
  bool cg_made;
  char *sd_unit; /* the systemd scope made for it, if any */
};

static void
create_guard_release (struct create_guard *g)
{
  if (!g->armed)
    return;
  cr_error_t e = NULL;
  if (g->child > 0)
    {
      kill (g->child, SIGKILL);
      waitpid (g->child, NULL, 0);
    }
  if (g->cg_made)
    {
      cr_cgroup_kill_all (&g->cg, SIGKILL, &e);
      cr_error_release (&e);
      cr_cgroup_destroy (&g->cg, &e);
      cr_error_release (&e);
    }
  if (g->sd_unit)
    {
      cr_systemd_unit_stop (g->sd_unit, &e);
      cr_error_release (&e);
      free (g->sd_unit);
    }
  capsule_glue_abort (g->root, g->id);
  cleanup_free char *dir = cr_state_dir (g->root, g->id);
  rm_rf (dir, &e);
  cr_error_release (&e);
}

int
cr_container_create (struct cr_context *ctx, const struct cr_create_opts *o, pid_t *init_pid, int *pty_out,
                     cr_error_t *err)
{
  if (cr_validate_id (o->id, err) < 0)
    return -1;

  /* 1. The bundle and its config. */
  char bundle[PATH_MAX];
  if (realpath (o->bundle ? o->bundle : ".", bundle) == NULL)
    return cr_error_errno (err, "bundle `%s`", o->bundle ? o->bundle : ".");
  cleanup_free char *config_path = o->config_path ? xstrdup (o->config_path) : xasprintf ("%s/config.json", bundle);
  cleanup_config struct oci_config *c = oci_config_load (config_path, err);
  if (c == NULL)
    return -1;
  if (c->process == NULL)
    return cr_error (err, 0, "process: required");
  /* Pipes for a foreground run without a tty (released unless handed over). */
  __attribute__ ((cleanup (stdio_relay_release))) struct stdio_relay relay = { { -1, -1, -1 }, { -1, -1, -1 } };
  if (o->stdio_out && !c->process->terminal && stdio_relay_open (&relay, err) < 0)
    return -1;
  /* runc's checkTerminal: create always detaches, run only with -d. */
  if (c->process->terminal && !o->foreground && o->console_socket == NULL)
    return cr_error (err, 0, "cannot allocate tty if runc will detach without setting console socket");
  if (o->console_socket && (o->foreground || !c->process->terminal))
    return cr_error (err, 0, "cannot use console socket if runc will not detach or allocate tty");
  char rootfs[PATH_MAX];
  cleanup_free char *root_rel = c->root_path[0] == '/' ? xstrdup (c->root_path) : xasprintf ("%s/%s", bundle, c->root_path);
  if (realpath (root_rel, rootfs) == NULL)
    return cr_error_errno (err, "root.path `%s`", c->root_path);

  /* 2. The state dir: exclusive, locked, and from here on cleaned on failure. */
  cleanup_close int dirfd = cr_state_dir_create (ctx->root, o->id, err);
  if (dirfd < 0)
    return -1;
  __attribute__ ((cleanup (create_guard_release))) struct create_guard guard
      = { .armed = true, .root = ctx->root, .id = o->id, .dirfd = dirfd, .cg = { .v2_dirfd = -1 } };

  struct cr_state st = { 0 };
  st.id = (char *) o->id;
  st.bundle = bundle;
  st.rootfs = rootfs;
  cleanup_free char *created = cr_now_rfc3339 ();
  st.created = created;
  cleanup_free char *cgpath = NULL;
  if (cr_cgroup_resolve_path (c->linux_ ? c->linux_->cgroups_path : NULL, o->id, ctx->systemd_cgroup, &cgpath, err) < 0)
    return -1;
  st.cgroup_path = cgpath;
  if (cr_state_write (dirfd, &st, err) < 0)
    return -1;

  /* 3. Capsule admission: may refuse, and may tighten the config. */
  struct capsule_glue capsule = { 0 };
  if (capsule_glue_admit (c, o->id, ctx->root, dirfd, &capsule, err) < 0)
    return -1;
  st.capsule = capsule.enabled;

  /* exec and delete need the config after the bundle may be gone. */
  {
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file (config_path, &text, &len, err) < 0 || write_file_at (dirfd, "config.json", text, len, err) < 0)
      return -1;
  }
  if (mkfifoat (dirfd, "exec.fifo", 0622) < 0)
    return cr_error_errno (err, "create exec.fifo");
  /* Like runc: 0622 whatever the umask, owned by the container's root (user namespaces). */
  {
    uid_t ru = 0;
    gid_t rg = 0;
    for (size_t i = 0; c->linux_ && i < c->linux_->uid_mappings_len; i++)
      if (c->linux_->uid_mappings[i].container_id == 0)
        ru = c->linux_->uid_mappings[i].host_id;
    for (size_t i = 0; c->linux_ && i < c->linux_->gid_mappings_len; i++)
      if (c->linux_->gid_mappings[i].container_id == 0)
        rg = c->linux_->gid_mappings[i].host_id;
    if (fchmodat (dirfd, "exec.fifo", 0622, 0) < 0 || fchownat (dirfd, "exec.fifo", ru, rg, 0) < 0)
      return cr_error_errno (err, "set up exec.fifo");
    /* The stdio pipes of a foreground `run` too, as with runc: reopening
     * /dev/stdout (/proc/self/fd/1) checks the pipe's owner. */
    for (int i = 0; relay.child[0] >= 0 && (ru || rg) && i < 3; i++)
      if (fchown (relay.child[i], ru, rg) < 0)
        return cr_error_errno (err, "chown the container's stdio pipes");
  }
  cleanup_close int fifo_fd = openat (dirfd, "exec.fifo", O_PATH | O_CLOEXEC);
  if (fifo_fd < 0)
    return cr_error_errno (err, "open exec.fifo");

  /* 4. The cgroup. */
  add_default_device_rules (c);
  if (cr_cgroup_create (cgpath, c->linux_ ? c->linux_->resources : NULL, &guard.cg, err) < 0)
    return -1;
  guard.cg_made = true;

  /* Idmapped mounts need host privilege: made here, inherited by the child. */
  __attribute__ ((cleanup (idmap_fds_free))) struct idmap_fds idmap = { NULL, c->mounts_len };
  if (cr_rootfs_idmap_prepare (c, bundle, &idmap.fds, err) < 0)
    return -1;

  /* 5. Namespaces: new ones by clone flags, joined ones by setns. pid and
   * time namespaces apply to children, so the parent joins those for the
   * clone and returns to its own right after. */
  int new_flags = cr_ns_new_flags (c);
  struct cr_ns_join *joins = NULL;
  size_t joins_len = 0;
  if (cr_ns_open_paths (c, &joins, &joins_len, err) < 0)
    return -1;
  __attribute__ ((cleanup (cr_ns_parent_restore))) struct cr_ns_saved own_ns = { .n = 0 };
  if (cr_ns_parent_enter (joins, joins_len, new_flags, &own_ns, err) < 0)
    {
      cr_ns_join_free (joins, joins_len);
      return -1;
    }

  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      cr_ns_join_free (joins, joins_len);
      return cr_error_errno (err, "socketpair");
    }
  cleanup_close int sync_fd = sv[0];

  /* A foreground `run` outlives its capsule: the monitor can be a thread of
   * ours if the capsule dies with us, which a pid namespace of its own and
   * the init's parent-death signal make sure of. */
  bool monitor_in_process = capsule.enabled && o->monitor_out && (new_flags & CLONE_NEWPID);
  struct cr_init_args ia = {
    .config = c,
    .state = &st,
    .bundle = bundle,
    .rootfs = rootfs,
    .cgroup_path = cgpath,
    .sync_fd = sv[1],
    .fifo_fd = fifo_fd,
    .state_dirfd = dirfd,
    .parent = getpid (),
    .new_ns_flags = new_flags,
    .joins = joins,
    .joins_len = joins_len,
    .no_pivot = o->no_pivot,
    .no_new_keyring = o->no_new_keyring,
    .console_socket = o->console_socket,
    .foreground_tty = o->foreground && c->process->terminal && o->console_socket == NULL,
    .preserve_fds = o->preserve_fds,
    .stdio_fds = relay.child[0] >= 0 ? relay.child : NULL,
    .idmap_fds = idmap.fds,
    .confine = capsule.confine,
    .confine_data = capsule.confine_data,
    .loopback_up = capsule.loopback_up,
    .keep_pdeathsig = monitor_in_process,
  };
  /* The v1 hierarchies' tasks files, for the child to join itself; if we
   * cannot open them, we move it through cgroup.procs as before. */
  struct cr_cgroup_selfjoin sj = { NULL, 0 };
  {
    cr_error_t e = NULL;
    if (cr_cgroup_selfjoin_open (&guard.cg, &sj, &e) < 0)
      {
        cr_log_debug ("cgroup self-join not possible (%s): the runtime moves init", e->msg);
        cr_error_release (&e);
      }
  }
  bool selfjoin = sj.n > 0;
  /* A new cgroup namespace is rooted where its creator stands: the child
   * unshares it after GO, once it is in the container's cgroup. */
  int clone_flags = new_flags & ~CLONE_NEWCGROUP;
  bool into_cgroup = false;
  /* Inherited by the child: its /proc/PID/exe is never openable from the container (CVE-2019-5736). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* A user namespace joined by path must own the new namespaces: cloned from inside it (lib/namespaces.c). */
  pid_t pid = cr_ns_joined_userns (joins, joins_len) >= 0 ? cr_ns_clone_in_userns (joins, joins_len, clone_flags)
                                                          : clone_child (clone_flags, guard.cg.v2_dirfd, &into_cgroup);
  if (pid == 0)
    {
      child_selfjoin (&sj, sv[1]);
      cr_init_main (&ia);
    }
  int clone_errno = errno;
  bool had_joins = joins_len > 0;
  cr_cgroup_selfjoin_close (&sj);
  /* Only the container holds its ends: its output ends when it (and what it started) is gone. */
  stdio_relay_close (relay.child);
  close (sv[1]);
  cr_ns_join_free (joins, joins_len);
  cr_ns_parent_restore (&own_ns);
  if (pid < 0)
    return cr_error (err, clone_errno, "clone container init");
  guard.child = pid;
  st.pid = pid;
  st.start_time = cr_proc_start_time (pid);
  /* Recorded at once: a runtime killed from here on leaves a pid for `delete --force`. */
  if (cr_state_write (dirfd, &st, err) < 0)
    return -1;
  __attribute__ ((cleanup (early_hook_release))) struct early_hook early = { 0 };
  bool early_net = early_hook_start (&early, c, capsule.enabled, new_flags, had_joins, &st);

  /* 6. From the outside: cgroup membership (the child joined the v1
   * hierarchies itself unless it says otherwise), id maps; then let it go. */
  if (parent_cgroup_enter (&guard.cg, pid, sync_fd, selfjoin, into_cgroup, err) < 0)
    return -1;
  if (ctx->systemd_cgroup && cr_systemd_booted ())
    {
      /* systemd adopts the cgroup as a scope, then may have written its
       * own defaults: the config's limits go in again */
      const struct oci_resources *res = c->linux_ ? c->linux_->resources : NULL;
      if (cr_systemd_scope_start (c->linux_ ? c->linux_->cgroups_path : NULL, o->id, pid, res, &guard.sd_unit, err) < 0
          || (guard.sd_unit && cr_cgroup_set_resources (&guard.cg, res, err) < 0))
        return -1;
    }
  if ((new_flags & CLONE_NEWUSER) && write_id_maps (pid, c, err) < 0)
    return -1;
  if (cr_sync_send (sync_fd, CR_SYNC_GO, NULL, -1, err) < 0)
    return -1;

  /* 7. Mounts done in the child: prestart and createRuntime hooks (network
   * setup lives here: the namespaces exist, the process has not started). */
  if (cr_sync_expect (sync_fd, CR_SYNC_HOOKS, NULL, err) < 0)
    return -1;
  if (run_hooks (c, OCI_HOOK_PRESTART, &st, "creating", err) < 0
      || (early_net ? early_hook_join (&early, err) : run_hooks (c, OCI_HOOK_CREATE_RUNTIME, &st, "creating", err)) < 0)
    return -1;
  if (cr_sync_send (sync_fd, CR_SYNC_HOOKS_DONE, NULL, -1, err) < 0)
    return -1;

  /* 8. The child finishes alone; a foreground tty comes back to us first. */
  int pty = -1;
  if (ia.foreground_tty && cr_sync_expect (sync_fd, CR_SYNC_PTY, &pty, err) < 0)
    return -1;
  if (c->linux_ && c->linux_->seccomp && cr_seccomp_uses_notify (c->linux_->seccomp))
    {
      /* The seccomp notify fd goes to the agent at listenerPath (runtime-spec containerProcessState). */
      int nfd = -1;
      if (cr_sync_expect (sync_fd, CR_SYNC_SECCOMP_FD, &nfd, err) < 0)
        {
          if (pty >= 0)
            close (pty);
          return -1;
        }
      cleanup_free const char **ann = annotation_list (c);
      cleanup_free char *sj = cr_state_oci_json (&st, "creating", ann, false);
      int r = cr_seccomp_send_listener (c->linux_->seccomp->listener_path, nfd, pid,
                                        c->linux_->seccomp->listener_metadata, sj, err);
      close (nfd);
      if (r < 0)
        {
          if (pty >= 0)
            close (pty);
          return -1;
        }
    }
  if (cr_sync_expect (sync_fd, CR_SYNC_READY, NULL, err) < 0)
    {
      if (pty >= 0)
        close (pty);
      return -1;
    }

  /* 9. Record it: from now on the container exists. */
  st.start_time = cr_proc_start_time (pid);
  st.created_done = true;
  if (capsule_glue_started (&capsule, ctx->root, dirfd, &st, monitor_in_process, err) < 0 || cr_state_write (dirfd, &st, err) < 0
      || (o->pid_file && write_pid_file (o->pid_file, pid, err) < 0))
    {
      if (pty >= 0)
        close (pty);
      return -1;
    }
  guard.armed = false;
  free (guard.sd_unit);
  cr_cgroup_release (&guard.cg);
  /* Let the child drop its parent-death signal; wait until it has, since we may exit right away. */
  cr_sync_send (sync_fd, CR_SYNC_CREATED, NULL, -1, NULL);
  {
    enum cr_sync_msg t;
    char *txt = NULL;
    cr_error_t e = NULL;
    if (cr_sync_recv (sync_fd, &t, &txt, NULL, &e) == 0)
      free (txt);
    cr_error_release (&e);
  }
  if (o->monitor_out)
    {
      *o->monitor_out = capsule.monitor_thread;
      capsule.monitor_thread = NULL;
    }
  capsule_glue_release (&capsule);
  if (o->stdio_out)
    for (int i = 0; i < 3; i++)
      {
        o->stdio_out[i] = relay.ours[i];
        relay.ours[i] = -1;
      }
  if (init_pid)
    *init_pid = pid;
  if (pty_out)
    *pty_out = pty;
  else if (pty >= 0)
    close (pty);
  return 0;
}

/* ---- load / status ---------------------------------------------------- */

int
cr_container_load (struct cr_context *ctx, const char *id, bool lock, int *dirfd, struct cr_state *st, cr_error_t *err)
{
  int fd = cr_state_dir_open (ctx->root, id, lock, err);
  if (fd < 0)
    return -1;
  if (cr_state_read (fd, st, err) < 0)
    {
      close (fd);
      return -1;
    }
  *dirfd = fd;
  return 0;
}

static struct oci_config *
load_stored_config (int dirfd)
{
  cleanup_close int fd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  cleanup_free char *text = NULL;
  size_t len;
  cr_error_t e = NULL;
  if (read_all_fd (fd, &text, &len, &e) < 0)
    {
      cr_error_release (&e);
      return NULL;
    }
  struct oci_config *c = oci_config_parse (text, len, &e);
  cr_error_release (&e);
  return c;
}

char *
cr_container_state_json (struct cr_context *ctx, const char *id, bool pretty, bool with_owner, cr_error_t *err)
{
  cleanup_close int dirfd = -1;
  struct cr_state st;
  if (cr_container_load (ctx, id, false, &dirfd, &st, err) < 0)
    return NULL;
  cleanup_config struct oci_config *c = load_stored_config (dirfd);
  cleanup_free const char **ann = annotation_list (c);
  const char *owner = NULL;
  struct stat sb;
  if (with_owner && fstat (dirfd, &sb) == 0)
    {
      struct passwd *pw = getpwuid (sb.st_uid);
      owner = pw ? pw->pw_name : "";
    }
  char *json = cr_state_oci_json_owner (&st, cr_state_status (dirfd, &st), ann, owner, pretty);
  cr_state_release (&st);
  return json;
}

/* ---- start ------------------------------------------------------------ */

int
cr_container_start (struct cr_context *ctx, const char *id, cr_error_t *err)
{
  cleanup_close int dirfd = -1;
  struct cr_state st;
  if (cr_container_load (ctx, id, true, &dirfd, &st, err) < 0)
    return -1;
  const char *status = cr_state_status (dirfd, &st);
  int ret = 0;
  if (strcmp (status, "created") != 0)
    {
      if (strcmp (status, "stopped") == 0)
        ret = cr_error (err, 0, "cannot start a container that has stopped");
      else
        ret = cr_error (err, 0, "cannot start an already %s container", status);
      cr_state_release (&st);
      return ret;
    }
  /* Opening the read side releases init's blocking open of the write side. */
  cleanup_close int fifo = openat (dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fifo < 0)
    {
      cr_state_release (&st);
      return cr_error_errno (err, "open exec.fifo");
    }
  cleanup_close int pidfd = pidfd_open_ (st.pid);
  for (;;)
    {
      struct pollfd p[2] = { { fifo, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
      if (poll (p, pidfd >= 0 ? 2 : 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          ret = cr_error_errno (err, "wait for container init");
          break;
        }
      if (p[0].revents & POLLIN)
        {
          char b;
          if (read (fifo, &b, 1) != 1)
            ret = cr_error (err, 0, "container init exited before start");
          break;
        }
      if (p[1].revents & POLLIN)
        {
          ret = cr_error (err, 0, "container init exited before start");
          break;
        }
    }
  if (ret == 0)
    {
      unlinkat (dirfd, "exec.fifo", 0);
      cleanup_config struct oci_config *c = load_stored_config (dirfd);
      cr_error_t e = NULL;
      /* poststart failures are reported, like runc, but the container runs on. */
      if (run_hooks (c, OCI_HOOK_POSTSTART, &st, "running", &e) < 0)
        {
          cr_log_warning ("%s", e->msg);
          cr_error_release (&e);
        }
    }
  cr_state_release (&st);
  return ret;
}

/* ---- kill ------------------------------------------------------------- */

int
cr_signal_parse (const char *s)
{
  if (s == NULL || *s == '\0')
    return SIGTERM;
  char *end;
  long n = strtol (s, &end, 10);
  if (*end == '\0')
    return n > 0 && n < 65 ? (int) n : -1;
  if (strncasecmp (s, "SIG", 3) == 0)
    s += 3;
  static const struct
  {
    const char *n;
    int v;
  } tab[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT }, { "ILL", SIGILL },   { "TRAP", SIGTRAP },
    { "ABRT", SIGABRT }, { "IOT", SIGIOT },     { "BUS", SIGBUS },   { "FPE", SIGFPE },   { "KILL", SIGKILL },
    { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },   { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
    { "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
    { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },   { "TTOU", SIGTTOU }, { "URG", SIGURG },   { "XCPU", SIGXCPU },
    { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
    { "POLL", SIGPOLL }, { "PWR", SIGPWR },     { "SYS", SIGSYS },
  };
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (strcasecmp (tab[i].n, s) == 0)
      return tab[i].v;
  if (strncasecmp (s, "RTMIN+", 6) == 0)
    return SIGRTMIN + atoi (s + 6);
  if (strncasecmp (s, "RTMAX-", 6) == 0)
    return SIGRTMAX - atoi (s + 6);
  return -1;
}

int
cr_container_kill (struct cr_context *ctx, const char *id, int sig, bool all, cr_error_t *err)
{
  cleanup_close int dirfd = -1;
  struct cr_state st;
  if (cr_container_load (ctx, id, false, &dirfd, &st, err) < 0)
    return -1;
  int ret = 0;
  const char *status = cr_state_status (dirfd, &st);
  bool stopped = strcmp (status, "stopped") == 0;
  if (strcmp (status, "creating") == 0 || (stopped && !all))
    ret = cr_error (err, 0, "container not running");
  else if (all && st.cgroup_path)
    {
      /* Like runc, --all on a stopped container still reaches what is left in
       * its cgroup (no pid namespace: the init's children outlive it), and is
       * no error once the cgroup is gone. */
      struct cr_cgroup cg;
      if ((ret = cr_cgroup_open (st.cgroup_path, &cg, err)) == 0)
        {
          ret = cr_cgroup_kill_all (&cg, sig, err);
          cr_cgroup_release (&cg);
        }
      else if (stopped)
        {
          cr_error_release (err);
          ret = 0;
        }
    }
  else
    {
      /* pidfd: the signal cannot land on a recycled pid. */
      int pidfd = pidfd_open_ (st.pid);
      if (pidfd < 0 || !cr_state_init_alive (&st))
        ret = cr_error (err, ESRCH, "container not running");
      else if (syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
        ret = cr_error_errno (err, "kill container init");
      if (pidfd >= 0)
        close (pidfd);
    }
  cr_state_release (&st);
  return ret;
}

/* ---- delete ----------------------------------------------------------- */

/* --systemd-cgroup: the scope made at create goes (systemd also drops an
 * emptied transient scope by itself: this makes it prompt and explicit). */
static void
systemd_scope_stop (const struct cr_context *ctx, const char *cgroup_path)
{
  const char *unit = cr_systemd_scope_of (cgroup_path);
  if (!ctx->systemd_cgroup || unit == NULL || !cr_systemd_booted ())
    return;
  cr_error_t e = NULL;
  if (cr_systemd_unit_stop (unit, &e) < 0)
    {
      cr_log_warning ("delete: %s", e->msg);
      cr_error_release (&e);
    }
}

static void
destroy (struct cr_context *ctx, const char *id, int dirfd, struct cr_state *st)
{
  cr_error_t e = NULL;
  if (st->cgroup_path)
    {
      struct cr_cgroup cg;
      if (cr_cgroup_open (st->cgroup_path, &cg, &e) == 0)
        {
          cr_cgroup_freeze (&cg, false, &e);
          cr_error_release (&e);
          cr_cgroup_kill_all (&cg, SIGKILL, &e);
          cr_error_release (&e);
          systemd_scope_stop (ctx, st->cgroup_path);
          if (cr_cgroup_destroy (&cg, &e) < 0)
            cr_log_warning ("delete cgroup: %s", e->msg);
          cr_cgroup_release (&cg);
        }
      cr_error_release (&e);
    }
  capsule_glue_delete (ctx->root, id, dirfd);
  cleanup_config struct oci_config *c = load_stored_config (dirfd);
  if (run_hooks (c, OCI_HOOK_POSTSTOP, st, "stopped", &e) < 0)
    {
      cr_log_warning ("%s", e->msg);
      cr_error_release (&e);
    }
  cleanup_free char *dir = cr_state_dir (ctx->root, id);
  if (rm_rf (dir, &e) < 0)
    {
      cr_log_warning ("remove state dir: %s", e->msg);
      cr_error_release (&e);
    }
}

int
cr_container_delete (struct cr_context *ctx, const char *id, bool force, cr_error_t *err)
{
  if (cr_validate_id (id, err) < 0)
    return -1;
  cleanup_close int dirfd = cr_state_dir_open (ctx->root, id, true, err);
  if (dirfd < 0)
    return -1;
  struct cr_state st;
  if (cr_state_read (dirfd, &st, err) < 0)
    {
      /* A runtime killed before the first state write: only the dir exists. */
      if (!force)
        return -1;
      cr_error_release (err);
      capsule_glue_delete (ctx->root, id, dirfd);
      cleanup_free char *dir = cr_state_dir (ctx->root, id);
      return rm_rf (dir, err);
    }
  const char *status = cr_state_status (dirfd, &st);
  if (strcmp (status, "running") == 0 || strcmp (status, "paused") == 0)
    {
      if (!force)
        {
          int r = cr_error (err, 0, "cannot delete container %s that is not stopped: %s", id, status);
          cr_state_release (&st);
          return r;
        }
    }
  /* created / creating / forced running: stop init (and, in destroy, the whole cgroup). */
  if (cr_state_init_alive (&st))
    {
      int pidfd = pidfd_open_ (st.pid);
      if (pidfd >= 0)
        {
          syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
          close (pidfd);
        }
      if (st.cgroup_path)
        {
          struct cr_cgroup cg;
          cr_error_t e = NULL;
          if (cr_cgroup_open (st.cgroup_path, &cg, &e) == 0)
            {
              cr_cgroup_freeze (&cg, false, &e);
              cr_error_release (&e);
              cr_cgroup_kill_all (&cg, SIGKILL, &e);
              cr_cgroup_release (&cg);
            }
          cr_error_release (&e);
        }
      wait_pid_gone (st.pid, 10000);
    }
  destroy (ctx, id, dirfd, &st);
  cr_state_release (&st);
  return 0;
}

/* ---- run -------------------------------------------------------------- */

/* head: no delete follows, whose head would cover "exited". */
static void
monitor_thread_stop_head (struct capsule_monitor_thread **t, bool head)
{
  capsule_monitor_thread_stop (*t, head);
  *t = NULL;
}

static void
monitor_thread_stop (struct capsule_monitor_thread **t)
{
  monitor_thread_stop_head (t, true);
}

static volatile sig_atomic_t pending_signal;
static void
forward_handler (int sig)
{
  pending_signal = sig;
}

/* Move what is there from one fd to another: splice where the kernel can
 * (one side is always a pipe), read/write where it cannot.  Returns >0
 * moved, 0 end of input or output gone, -1 EAGAIN (output pipe full). */
static ssize_t
relay_move (int from, int to, bool *no_splice)
{
  if (!*no_splice)
    {
      ssize_t n;
      do
        n = splice (from, NULL, to, NULL, 1 << 16, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      while (n < 0 && errno == EINTR);
      if (n >= 0)
        return n;
      if (errno == EAGAIN)
        return -1;
      if (errno != EINVAL)
        return 0;
      *no_splice = true;
    }
  char buf[16384];
  ssize_t n;
  do
    n = read (from, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? -1 : 0;
  for (ssize_t off = 0; off < n;)
    {
      ssize_t w = write (to, buf + off, (size_t) (n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0 && errno == EAGAIN)
        {
          struct pollfd p = { to, POLLOUT, 0 };
          poll (&p, 1, -1);
          continue;
        }
      if (w <= 0)
        return 0;
      off += w;
    }
  return n;
}

/* One round of container output to our fd i; EOF or a gone reader ends it
 * (the container then sees EPIPE, as if it had our fd); a full
 * non-blocking output is waited for a little. */
static void
relay_output (struct stdio_relay *r, int i, bool *splice_off)
{
  ssize_t n = relay_move (r->ours[i], i, splice_off);
  if (n == 0)
    {
      close (r->ours[i]);
      r->ours[i] = -1;
    }
  else if (n < 0)
    {
      struct pollfd p = { i, POLLOUT, 0 };
      poll (&p, 1, 100);
    }
}

/* Copy until the container's init exits (and return its wait status);
 * signals go on to init meanwhile. */
static int
stdio_relay_run (struct stdio_relay *r, pid_t pid, int pidfd, sigset_t *waitmask)
{
  bool in_room = true, splice_off[3] = { false, false, false };
  int in_fd = STDIN_FILENO;
  for (;;)
    {
      if (pending_signal)
        {
          int sig = pending_signal;
          pending_signal = 0;
          kill (pid, sig);
        }
      struct pollfd p[4] = {
        { r->ours[0] >= 0 && in_fd >= 0 && in_room ? in_fd : -1, POLLIN, 0 },
        { r->ours[0] >= 0 && !in_room ? r->ours[0] : -1, POLLOUT, 0 },
        { r->ours[1], POLLIN, 0 },
        { r->ours[2], POLLIN, 0 },
      };
      struct pollfd all[5] = { p[0], p[1], p[2], p[3], { pidfd, POLLIN, 0 } };
      if (ppoll (all, 5, NULL, waitmask) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (all[1].revents & (POLLERR | POLLHUP))
        {
          /* The container closed its stdin: nothing more goes there. */
          close (r->ours[0]);
          r->ours[0] = -1;
        }
      else if (all[1].revents & POLLOUT)
        in_room = true;
      if (all[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL) && r->ours[0] >= 0)
        {
          ssize_t n = relay_move (in_fd, r->ours[0], &splice_off[0]);
          if (n == 0)
            {
              /* End of our stdin (or the container closed its end): it sees EOF. */
              close (r->ours[0]);
              r->ours[0] = -1;
            }
          else if (n < 0)
            in_room = false;
        }
      for (int i = 1; i < 3; i++)
        if (all[i + 1].revents & (POLLIN | POLLHUP | POLLERR) && r->ours[i] >= 0)
          relay_output (r, i, &splice_off[i]);
      if (all[4].revents & POLLIN)
        break;
    }
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  /* We are the subreaper: orphans that died meanwhile are ours to reap. */
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  return status;
}

/* After init is gone: the rest of its output (writers that are still alive
 * were killed by delete, so this ends; with --keep only what is there). */
static void
stdio_relay_drain (struct stdio_relay *r, bool wait_eof)
{
  bool splice_off[3] = { false, false, false };
  for (int i = 1; i < 3; i++)
    while (r->ours[i] >= 0)
      {
        struct pollfd p = { r->ours[i], POLLIN, 0 };
        if (poll (&p, 1, wait_eof ? 1000 : 0) <= 0)
          {
            close (r->ours[i]);
            r->ours[i] = -1;
          }
        else
          relay_output (r, i, &splice_off[i]);
      }
  stdio_relay_close (r->ours);
}

int
cr_container_run (struct cr_context *ctx, const struct cr_create_opts *o, bool detach, bool keep, cr_error_t *err)
{
  struct cr_create_opts co = *o;
  co.foreground = !detach;
  if (!detach)
    prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  /* Without a tty, create makes the container's stdio pipes and hands us our ends. */
  __attribute__ ((cleanup (stdio_relay_release))) struct stdio_relay relay = { { -1, -1, -1 }, { -1, -1, -1 } };
  if (!detach)
    co.stdio_out = relay.ours;
  /* A capsule's monitor, when it lives in this process (see cr_create_opts). */
  __attribute__ ((cleanup (monitor_thread_stop))) struct capsule_monitor_thread *monitor = NULL;
  if (!detach)
    co.monitor_out = &monitor;
  static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
  sigset_t fwdset, waitmask;
  sigemptyset (&fwdset);
  for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
    sigaddset (&fwdset, fwd[i]);
  pid_t pid;
  int pty = -1;
  if (cr_container_create (ctx, &co, &pid, &pty, err) < 0)
    return -1;
  if (!detach)
    {
      /* Caught from here on, forwarded once init runs. */
      struct sigaction sa = { .sa_handler = forward_handler };
      for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        sigaction (fwd[i], &sa, NULL);
      /* A closed stdout must end the copy, not the runtime. */
      signal (SIGPIPE, SIG_IGN);
    }
  if (cr_container_start (ctx, o->id, err) < 0)
    {
      cr_error_t e = NULL;
      monitor_thread_stop_head (&monitor, false);
      cr_container_delete (ctx, o->id, true, &e);
      cr_error_release (&e);
      return -1;
    }
  if (detach)
    return 0;

  /* Foreground: forward signals to init, proxy the tty or copy the pipes, reap, then delete.
   * The forwarded signals are blocked except inside ppoll (not before start:
   * poststart hooks would inherit the mask). */
  sigprocmask (SIG_BLOCK, &fwdset, &waitmask);
  for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
    sigdelset (&waitmask, fwd[i]);
  int pidfd = pidfd_open_ (pid);
  int status = 0, code = -1;
  if (relay.ours[1] >= 0 && pidfd >= 0)
    {
      status = stdio_relay_run (&relay, pid, pidfd, &waitmask);
      code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
    }
  sigprocmask (SIG_UNBLOCK, &fwdset, NULL);
  if (pty >= 0)
    cr_terminal_proxy (pty, pidfd);
  for (; code < 0;)
    {
      if (pending_signal)
        {
          int s = pending_signal;
          pending_signal = 0;
          kill (pid, s);
        }
      pid_t r = waitpid (-1, &status, 0);
      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (r == pid)
        {
          code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
          break;
        }
    }
  if (pidfd >= 0)
    close (pidfd);
  if (pty >= 0)
    close (pty);
  /* "exited" on record before delete's lines. */
  monitor_thread_stop_head (&monitor, keep);
  if (!keep)
    {
      cr_error_t e = NULL;
      if (cr_container_delete (ctx, o->id, true, &e) < 0)
        {
          cr_log_warning ("delete after run: %s", e->msg);
          cr_error_release (&e);
        }
    }
  stdio_relay_drain (&relay, !keep);
  if (code < 0)
    return cr_error (err, 0, "lost track of the container process");
  return code;
}
