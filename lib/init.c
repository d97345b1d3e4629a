#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "hooks.h"
#include "process.h"
#include "rootfs.h"
#include "netns.h"
#include "seccomp.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

static int
set_hostname (const struct oci_config *c, int new_flags, cr_error_t *err)
{
  if (c->hostname && *c->hostname)
    {
      if (!(new_flags & CLONE_NEWUTS) && !oci_namespace_find (c, "uts"))
        return cr_error (err, 0, "unable to set hostname without a private UTS namespace");
      if (sethostname (c->hostname, strlen (c->hostname)) < 0)
        return cr_error_errno (err, "sethostname `%s`", c->hostname);
    }
  if (c->domainname && *c->domainname)
    {
      if (!(new_flags & CLONE_NEWUTS) && !oci_namespace_find (c, "uts"))
        return cr_error (err, 0, "unable to set domainname without a private UTS namespace");
      if (setdomainname (c->domainname, strlen (c->domainname)) < 0)
        return cr_error_errno (err, "setdomainname `%s`", c->domainname);
    }
  return 0;
}

static int
run_hooks_in_child (const struct cr_init_args *a, enum oci_hook_kind kind, const char *status, cr_error_t *err)
{
  const struct oci_config *c = a->config;
  if (c->hooks.len[kind] == 0)
    return 0;
  struct cr_state s = *a->state;
  s.pid = getpid ();
  const char *ann[2 * 64 + 1];
  size_t k = 0;
  for (size_t i = 0; i < c->annotations_len && k + 2 < sizeof ann / sizeof ann[0]; i++)
    {
      ann[k++] = c->annotations[i].key;
      ann[k++] = c->annotations[i].value;
    }
  ann[k] = NULL;
  cleanup_free char *json = cr_state_oci_json (&s, status, ann, false);
  if (cr_hooks_run (c->hooks.hooks[kind], c->hooks.len[kind], json, err) < 0)
    return cr_error_wrap (err, "%s hook", oci_hook_kind_name (kind));
  return 0;
}

/* The container's own /etc/passwd entry for uid (no NSS: it is not our libc's business). */
static char *
passwd_home (uid_t uid)
{
  cleanup_fclose FILE *f = fopen ("/etc/passwd", "re");
  char line[1024];
  while (f && fgets (line, sizeof line, f))
    {
      char *fields[7] = { 0 };
      char *save = NULL, *tok = line;
      int n = 0;
      /* strsep keeps empty fields, unlike strtok */
      while (n < 7 && (fields[n] = strsep (&tok, ":\n")) != NULL)
        n++;
      (void) save;
      if (n >= 6 && fields[2] && (uid_t) strtoul (fields[2], NULL, 10) == uid && fields[5] && *fields[5])
        return xstrdup (fields[5]);
    }
  return NULL;
}

/* process.env, plus HOME from the container's passwd (or "/") when unset, like runc. */
static char **
env_with_home (const struct oci_process *p)
{
  size_t n = p->env_len;
  char **env = xmalloc0 (sizeof (char *) * (n + 2));
  bool has_home = false;
  for (size_t i = 0; i < n; i++)
    {
      env[i] = p->env[i];
      if (strncmp (p->env[i], "HOME=", 5) == 0)
        has_home = true;
    }
  if (!has_home)
    {
      cleanup_free char *home = passwd_home (getuid ());
      env[n] = xasprintf ("HOME=%s", home ? home : "/");
    }
  return env;
}

int
cr_init_seccomp_notify (const struct oci_linux *l, int sync_fd, cr_error_t *err)
{
  const struct oci_seccomp *sc = l ? l->seccomp : NULL;
  if (sc == NULL || !cr_seccomp_uses_notify (sc))
    return 0;
  int listener = -1;
  if (cr_seccomp_load (sc, &listener, err) < 0)
    return -1;
  if (listener < 0)
    return cr_error (err, 0, "seccomp: no notify fd from the kernel");
  int r = cr_sync_send (sync_fd, CR_SYNC_SECCOMP_FD, NULL, listener, err);
  close (listener);
  return r < 0 ? -1 : 1;
}

int
cr_init_finish_process (const struct oci_process *p, const struct oci_linux *l, const char *exe, int preserve_fds,
                        bool seccomp_loaded, int (*confine) (const void *, cr_error_t *), const void *confine_data,
                        cr_error_t *err)
{
  const struct oci_seccomp *sc = seccomp_loaded || l == NULL ? NULL : l->seccomp;
  /* Without no_new_privs the filter must go in while we still hold CAP_SYS_ADMIN. */
  bool seccomp_early = sc && !p->no_new_privileges;
  if (seccomp_early && cr_seccomp_load (sc, NULL, err) < 0)
    return -1;
  if (cr_process_user (p, err) < 0)
    return -1;
  if (cr_caps_apply (p->capabilities, err) < 0)
    return -1;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return cr_error_errno (err, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (cr_process_cwd (p, err) < 0)
    return -1;
  if (cr_process_close_fds (preserve_fds, err) < 0)
    return -1;
  if (confine && confine (confine_data, err) < 0)
    return -1;
  if (sc && !seccomp_early && cr_seccomp_load (sc, NULL, err) < 0)
    return -1;
  cleanup_free char **env = env_with_home (p);
  execve (exe, p->args, env);
  return cr_error_errno (err, "exec: \"%s\"", exe);
}

/* The container's own stdio (pipes from `run`) onto fds 0-2; moved above 2
 * first, since a runtime started with closed stdio may hold them there. */
static int
set_stdio (const int *fds, cr_error_t *err)
{
  int high[3];
  for (int i = 0; i < 3; i++)
    if ((high[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
      return cr_error_errno (err, "set up the container's stdio");
  for (int i = 0; i < 3; i++)
    {
      if (dup2 (high[i], i) < 0)
        return cr_error_errno (err, "set up the container's stdio");
      close (high[i]);
    }
  return 0;
}

/* runc's fixStdioPermissions: fds 0-2 belong to the process's user (uid
 * only; the group stays), unless already so or /dev/null, so the process
 * can reopen /dev/stdout.  Ids that do not map here are left alone. */
static int
fix_stdio_owner (uid_t uid, cr_error_t *err)
{
  struct stat null_st;
  bool have_null = stat ("/dev/null", &null_st) == 0;
  for (int fd = 0; fd < 3; fd++)
    {
      struct stat st;
      if (fstat (fd, &st) < 0)
        continue;
      if (st.st_uid == uid || (have_null && S_ISCHR (st.st_mode) && st.st_rdev == null_st.st_rdev))
        continue;
      if (fchown (fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM)
        return cr_error_errno (err, "chown fd %d to the process user", fd);
    }
  return 0;
}

static __attribute__ ((noreturn)) void
fail (struct cr_init_args *a, cr_error_t *err)
{
  const char *msg = err && *err ? (*err)->msg : "container init failed";
  if (a->sync_fd >= 0)
    cr_sync_send (a->sync_fd, CR_SYNC_ERROR, msg, -1, NULL);
  else
    dprintf (STDERR_FILENO, "capsule-runc: %s\n", msg);
  _exit (1);
}

void
cr_init_main (struct cr_init_args *a)
{
  cr_error_t err = NULL;
  const struct oci_config *c = a->config;
  const struct oci_process *p = c->process;

  if (a->state_dirfd >= 0)
    close (a->state_dirfd);
  if (a->stdio_fds && set_stdio (a->stdio_fds, &err) < 0)
    fail (a, &err);
  /* Die with the runtime until create has finished. */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  /* (A parent that died before that line shows up as EOF on the sync socket below;
   * getppid() cannot tell: it is 0 in a new pid namespace.) */
  /* Non-dumpable: nothing in the container can open our /proc/<pid>/exe (CVE-2019-5736). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);

  if (cr_sync_expect (a->sync_fd, CR_SYNC_GO, NULL, &err) < 0)
    _exit (1);
  /* The console socket's path is on the host: connect while it is reachable. */
  cleanup_close int console_sock = -1;
  if (p && p->terminal && a->console_socket)
    {
      console_sock = cr_console_socket_connect (a->console_socket, &err);
      if (console_sock < 0)
        fail (a, &err);
    }
  if (a->new_ns_flags & CLONE_NEWUSER)
    {
      if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
        {
          cr_error_errno (&err, "become root in the new user namespace");
          fail (a, &err);
        }
    }
  if (cr_ns_join (a->joins, a->joins_len, ~0, &err) < 0)
    fail (a, &err);
  if (a->loopback_up && netns_loopback_up (&err) < 0)
    fail (a, &err);
  /* Made here, not by clone: we are in the container's cgroups now (GO), so
   * they become the namespace's root, as with runc. */
  if ((a->new_ns_flags & CLONE_NEWCGROUP) && unshare (CLONE_NEWCGROUP) < 0)
    {
      cr_error_errno (&err, "create the cgroup namespace");
      fail (a, &err);
    }
  /* A non-dumpable task's /proc/self files belong to host root, out of reach of
   * root in a new user namespace; timens_offsets is one. Dumpable for that write
   * only when we are alone in a new pid namespace (nothing in the container can see us). */
  bool alone = (a->new_ns_flags & CLONE_NEWPID) && (a->new_ns_flags & CLONE_NEWUSER);
  if (alone)
    prctl (PR_SET_DUMPABLE, 1, 0, 0, 0);
  int tr = cr_ns_unshare_time (c, &err);
  if (alone)
    prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (tr < 0 || cr_process_check_host (c, &err) < 0)
    fail (a, &err);
  if (chdir (a->bundle) < 0)
    {
      cr_error_errno (&err, "chdir to bundle `%s`", a->bundle);
      fail (a, &err);
    }
  if (set_hostname (c, a->new_ns_flags, &err) < 0)
    fail (a, &err);

  struct cr_rootfs_ctx rctx = {
    .config = c,
    .rootfs = a->rootfs,
    .cgroup_path = a->cgroup_path,
    .userns = (a->new_ns_flags & CLONE_NEWUSER) || oci_namespace_find (c, "user"),
    .cgroupns = oci_namespace_find (c, "cgroup") != NULL,
    .idmap_fds = a->idmap_fds,
  };
  if (cr_rootfs_prepare (&rctx, &err) < 0)
    fail (a, &err);
  if (p && p->cwd && *p->cwd)
    {
      cleanup_close int rootfd = open (a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
      int cwdfd = rootfd < 0 ? -1 : cr_open_in_root (rootfd, p->cwd, true, false, &err);
      if (cwdfd < 0)
        fail (a, &err);
      close (cwdfd);
    }

  /* Parent runs prestart + createRuntime hooks now: namespaces exist, mounts are done. */
  if (cr_sync_send (a->sync_fd, CR_SYNC_HOOKS, NULL, -1, &err) < 0
      || cr_sync_expect (a->sync_fd, CR_SYNC_HOOKS_DONE, NULL, &err) < 0)
    fail (a, &err);
  if (run_hooks_in_child (a, OCI_HOOK_CREATE_CONTAINER, "created", &err) < 0)
    fail (a, &err);

  if (cr_rootfs_pivot (a->rootfs, a->no_pivot, &err) < 0)
    fail (a, &err);
  cleanup_close int procfd = cr_private_procfs (&err);
  if (procfd < 0)
    fail (a, &err);
  if (cr_process_sysctl (procfd, c->linux_, &err) < 0)
    fail (a, &err);

  if (p && p->terminal)
    {
      int master;
      cleanup_free char *slave = NULL;
      if (cr_terminal_open (&master, &slave, &err) < 0 || cr_rootfs_setup_console (slave, &err) < 0)
        fail (a, &err);
      if (console_sock >= 0)
        {
          if (cr_console_socket_send_fd (console_sock, master, &err) < 0)
            fail (a, &err);
          close (console_sock);
          console_sock = -1;
        }
      else if (a->foreground_tty)
        {
          if (cr_sync_send (a->sync_fd, CR_SYNC_PTY, NULL, master, &err) < 0)
            fail (a, &err);
        }
      else
        {
          cr_error (&err, 0, "cannot allocate tty if runc will detach without setting console socket");
          fail (a, &err);
        }
      close (master);
      unsigned rows = p->has_console_size ? p->console_height : 0, cols = p->has_console_size ? p->console_width : 0;
      if (a->foreground_tty)
        cr_terminal_host_size (&rows, &cols);
      if (cr_terminal_become (slave, rows, cols, &err) < 0)
        fail (a, &err);
    }
  /* Masked and read-only paths last: the console bind above writes /dev. */
  if (cr_rootfs_finalize (&rctx, &err) < 0)
    fail (a, &err);
  if (!a->no_new_keyring)
    {
      char name[128];
      snprintf (name, sizeof name, "_ses.%s", a->state->id);
      /* Not fatal: some kernels/namespaces refuse keyrings (runc warns too). */
      syscall (SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
    }
  if (p)
    {
      if (cr_process_rlimits (p, &err) < 0 || cr_process_oom_score_adj (procfd, p, &err) < 0
          || cr_process_scheduler (p, &err) < 0 || cr_process_io_priority (p, &err) < 0
          || cr_process_lsm (procfd, p, &err) < 0)
        fail (a, &err);
    }
  if (cr_personality (c->linux_, &err) < 0)
    fail (a, &err);
  cleanup_free char *exe = p ? cr_process_find_exec (p, &err) : NULL;
  if (exe == NULL)
    fail (a, &err);

  /* A notify filter goes in now, so its fd can reach the seccomp agent through the parent. */
  int sc_loaded = cr_init_seccomp_notify (c->linux_, a->sync_fd, &err);
  if (sc_loaded < 0)
    fail (a, &err);
  /* Ready: the parent records the state; then we no longer die with it. */
  if (cr_sync_send (a->sync_fd, CR_SYNC_READY, NULL, -1, &err) < 0
      || cr_sync_expect (a->sync_fd, CR_SYNC_CREATED, NULL, &err) < 0)
    _exit (1);
  if (!a->keep_pdeathsig)
    prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  close (a->sync_fd);
  a->sync_fd = -1;

  /* Block until `start` opens the fifo's other end. */
  char fifo[32];
  snprintf (fifo, sizeof fifo, "self/fd/%d", a->fifo_fd);
  int wfd = openat (procfd, fifo, O_WRONLY | O_CLOEXEC);
  if (wfd < 0)
    {
      cr_error_errno (&err, "open exec fifo");
      fail (a, &err);
    }
  if (write (wfd, "0", 1) != 1)
    {
      cr_error_errno (&err, "write exec fifo");
      fail (a, &err);
    }
  close (wfd);
  close (a->fifo_fd);
  close (procfd);
  procfd = -1;

  if (run_hooks_in_child (a, OCI_HOOK_START_CONTAINER, "running", &err) < 0)
    fail (a, &err);
  /* Socket activation, like runc: fds 3.. from LISTEN_FDS (meant for the runtime)
   * go to the container, before the --preserve-fds ones, announced to it as pid 1's. */
  struct oci_process pp = *p;
  int preserve = a->preserve_fds;
  const char *lfds = getenv ("LISTEN_FDS"), *lpid = getenv ("LISTEN_PID");
  int nlisten = lfds ? atoi (lfds) : 0;
  if (nlisten > 0 && lpid && atoi (lpid) == (int) a->parent)
    {
      char **env = xmalloc0 (sizeof (char *) * (p->env_len + 3));
      for (size_t i = 0; i < p->env_len; i++)
        env[i] = p->env[i];
      env[p->env_len] = xasprintf ("LISTEN_FDS=%d", nlisten);
      env[p->env_len + 1] = xstrdup ("LISTEN_PID=1");
      pp.env = env;
      pp.env_len = p->env_len + 2;
      preserve += nlisten;
    }
  if (fix_stdio_owner (p->user.uid, &err) < 0)
    fail (a, &err);
  cr_init_finish_process (&pp, c->linux_, exe, preserve, sc_loaded > 0, a->confine, a->confine_data, &err);
  fail (a, &err);
}
