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
 * both with no new stack, so the child continues here like fork(). */
static pid_t
clone_child (int flags, int cgroup_fd)
{
  if (cgroup_fd >= 0)
    {
      struct clone_args ca = { .flags = (unsigned long long) flags | CLONE_INTO_CGROUP,
                               .exit_signal = SIGCHLD,
                               .cgroup = (unsigned long long) cgroup_fd };
      pid_t pid = (pid_t) syscall (SYS_clone3, &ca, sizeof ca);
      if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
        return pid;
    }
  return (pid_t) syscall (SYS_clone, (unsigned long) flags | SIGCHLD, NULL, NULL, NULL, NULL);
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
    .idmap_fds = idmap.fds,
    .confine = capsule.confine,
    .confine_data = capsule.confine_data,
  };
  /* Inherited by the child: its /proc/PID/exe is never openable from the container (CVE-2019-5736). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  pid_t pid = clone_child (new_flags, guard.cg.v2_dirfd);
  if (pid == 0)
    cr_init_main (&ia);
  int clone_errno = errno;
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

  /* 6. From the outside: id maps, cgroup membership; then let it go. */
  if ((new_flags & CLONE_NEWUSER) && write_id_maps (pid, c, err) < 0)
    return -1;
  if (cr_sync_send (sync_fd, CR_SYNC_GO, NULL, -1, err) < 0)
    return -1;
  /* The first cgroup.procs write of a v1 hierarchy waits out an RCU grace
   * period (the cgroup threadgroup rwsem): do it while the child mounts.
   * The child only reports HOOKS after its mounts, and nothing of the
   * workload runs before we have answered, so it is in the cgroup by then. */
  if (cr_cgroup_enter (&guard.cg, pid, err) < 0)
    return -1;

  /* 7. Mounts done in the child: prestart and createRuntime hooks (network
   * setup lives here: the namespaces exist, the process has not started). */
  if (cr_sync_expect (sync_fd, CR_SYNC_HOOKS, NULL, err) < 0)
    return -1;
  if (run_hooks (c, OCI_HOOK_PRESTART, &st, "creating", err) < 0
      || run_hooks (c, OCI_HOOK_CREATE_RUNTIME, &st, "creating", err) < 0)
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
  if (capsule_glue_started (&capsule, ctx->root, dirfd, &st, err) < 0 || cr_state_write (dirfd, &st, err) < 0
      || (o->pid_file && write_pid_file (o->pid_file, pid, err) < 0))
    {
      if (pty >= 0)
        close (pty);
      return -1;
    }
  guard.armed = false;
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
  capsule_glue_release (&capsule);
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
  if (strcmp (status, "stopped") == 0 || strcmp (status, "creating") == 0)
    ret = cr_error (err, 0, "container not running");
  else if (all && st.cgroup_path)
    {
      struct cr_cgroup cg;
      if ((ret = cr_cgroup_open (st.cgroup_path, &cg, err)) == 0)
        {
          ret = cr_cgroup_kill_all (&cg, sig, err);
          cr_cgroup_release (&cg);
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

static volatile sig_atomic_t pending_signal;
static void
forward_handler (int sig)
{
  pending_signal = sig;
}

int
cr_container_run (struct cr_context *ctx, const struct cr_create_opts *o, bool detach, bool keep, cr_error_t *err)
{
  struct cr_create_opts co = *o;
  co.foreground = !detach;
  if (!detach)
    prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t pid;
  int pty = -1;
  if (cr_container_create (ctx, &co, &pid, &pty, err) < 0)
    return -1;
  if (cr_container_start (ctx, o->id, err) < 0)
    {
      cr_error_t e = NULL;
      cr_container_delete (ctx, o->id, true, &e);
      cr_error_release (&e);
      return -1;
    }
  if (detach)
    return 0;

  /* Foreground: forward signals to init, proxy the tty, reap, then delete. */
  static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
  struct sigaction sa = { .sa_handler = forward_handler };
  for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
    sigaction (fwd[i], &sa, NULL);
  int pidfd = pidfd_open_ (pid);
  if (pty >= 0)
    cr_terminal_proxy (pty, pidfd);
  int status = 0, code = -1;
  for (;;)
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
  if (!keep)
    {
      cr_error_t e = NULL;
      if (cr_container_delete (ctx, o->id, true, &e) < 0)
        {
          cr_log_warning ("delete after run: %s", e->msg);
          cr_error_release (&e);
        }
    }
  if (code < 0)
    return cr_error (err, 0, "lost track of the container process");
  return code;
}
