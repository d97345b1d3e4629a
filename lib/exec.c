#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsule_glue.h"
#include "cgroup.h"
#include "init.h"
#include "log.h"
#include "namespaces.h"
#include "process.h"
#include "seccomp.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void
strv_append (char ***v, size_t *n, const char *s)
{
  char **nv = realloc (*v, sizeof (char *) * (*n + 2));
  if (nv == NULL)
    abort ();
  nv[*n] = xstrdup (s);
  nv[*n + 1] = NULL;
  *v = nv;
  (*n)++;
}

/* The process to run: --process FILE, or the config's process with the flags' overrides (runc's rules). */
static struct oci_process *
build_process (const struct cr_exec_opts *o, struct oci_config *c, cr_error_t *err)
{
  struct oci_process *p;
  if (o->process_path)
    {
      cleanup_free char *text = NULL;
      size_t len;
      if (read_file (o->process_path, &text, &len, err) < 0)
        return NULL;
      p = oci_process_parse (text, len, err);
      if (p == NULL)
        cr_error_wrap (err, "process file `%s`", o->process_path);
      return p;
    }
  if (o->args_len == 0)
    {
      cr_error (err, 0, "exec args cannot be empty");
      return NULL;
    }
  p = steal_pointer (&c->process);
  for (size_t i = 0; i < p->args_len; i++)
    free (p->args[i]);
  free (p->args);
  p->args = NULL;
  p->args_len = 0;
  for (size_t i = 0; i < o->args_len; i++)
    strv_append (&p->args, &p->args_len, o->args[i]);
  for (size_t i = 0; i < o->env_len; i++)
    strv_append (&p->env, &p->env_len, o->env[i]);
  if (o->cwd)
    {
      free (p->cwd);
      p->cwd = xstrdup (o->cwd);
    }
  if (o->user)
    {
      char *end;
      unsigned long uid = strtoul (o->user, &end, 10);
      if (end == o->user || (*end && *end != ':'))
        {
          cr_error (err, 0, "exec: invalid --user \"%s\": expected uid[:gid]", o->user);
          oci_process_free (p);
          return NULL;
        }
      p->user.uid = (uint32_t) uid;
      if (*end == ':')
        p->user.gid = (uint32_t) strtoul (end + 1, NULL, 10);
    }
  if (o->additional_gids_len)
    {
      /* appended to the config's, like runc */
      size_t n0 = p->user.additional_gids_len;
      uint32_t *g = realloc (p->user.additional_gids, sizeof (uint32_t) * (n0 + o->additional_gids_len));
      if (g == NULL)
        abort ();
      for (size_t i = 0; i < o->additional_gids_len; i++)
        g[n0 + i] = (uint32_t) o->additional_gids[i];
      p->user.additional_gids = g;
      p->user.additional_gids_len = n0 + o->additional_gids_len;
    }
  if (o->caps_len)
    {
      if (p->capabilities == NULL)
        p->capabilities = xmalloc0 (sizeof *p->capabilities);
      struct oci_capabilities *cp = p->capabilities;
      for (size_t i = 0; i < o->caps_len; i++)
        {
          strv_append (&cp->bounding, &cp->bounding_len, o->caps[i]);
          strv_append (&cp->effective, &cp->effective_len, o->caps[i]);
          strv_append (&cp->permitted, &cp->permitted_len, o->caps[i]);
          cp->has_bounding = cp->has_effective = cp->has_permitted = true;
          if (cp->has_inheritable && cp->inheritable_len)
            {
              strv_append (&cp->ambient, &cp->ambient_len, o->caps[i]);
              cp->has_ambient = true;
            }
        }
    }
  if (o->apparmor)
    {
      free (p->apparmor_profile);
      p->apparmor_profile = xstrdup (o->apparmor);
    }
  if (o->process_label)
    {
      free (p->selinux_label);
      p->selinux_label = xstrdup (o->process_label);
    }
  if (o->no_new_privs >= 0)
    p->no_new_privileges = o->no_new_privs > 0;
  p->terminal = o->tty;
  return p;
}

static void
winch_noop (int sig)
{
  (void) sig;
}

static int
pidfd_open_ (pid_t pid)
{
  return (int) syscall (SYS_pidfd_open, pid, 0);
}

/* --pid-file, made absolute against our cwd like runc; nothing when path is NULL. */
static int
exec_write_pid_file (const char *pid_file, pid_t pid, cr_error_t *err)
{
  if (pid_file == NULL)
    return 0;
  char buf[32];
  int n = snprintf (buf, sizeof buf, "%d", pid);
  cleanup_free char *abs = NULL;
  const char *path = pid_file;
  char cwd[PATH_MAX];
  if (path[0] != '/' && getcwd (cwd, sizeof cwd))
    path = abs = xasprintf ("%s/%s", cwd, pid_file);
  return write_file_atomic (path, buf, (size_t) n, err);
}

/* The parent's side of the cgroup entry: wait for the child's self-join
 * report, then write cgroup.procs for whatever is still missing. */
static int
exec_cgroup_enter (const struct cr_cgroup *cg, pid_t pid, int sync_fd, bool selfjoin, bool into_cgroup,
                   cr_error_t *err)
{
  bool need_v1 = cg->mode != CR_CGROUP_V2 && !selfjoin;
  bool need_v2 = cg->mode != CR_CGROUP_V1 && !into_cgroup;
  if (selfjoin)
    {
      enum cr_sync_msg t;
      cleanup_free char *why = NULL;
      if (cr_sync_recv (sync_fd, &t, &why, NULL, err) < 0)
        return cr_error_wrap (err, "exec: wait for the process to join its cgroup");
      if (t == CR_SYNC_ERROR)
        return cr_error (err, 0, "%s", why ? why : "exec failed");
      if (t != CR_SYNC_CGROUP)
        return cr_error (err, 0, "exec: unexpected sync message %d (wanted %d)", (int) t, (int) CR_SYNC_CGROUP);
      if (why)
        {
          cr_log_debug ("exec: the process could not join its cgroup (%s): moving it from the runtime", why);
          need_v1 = true;
        }
    }
  if (!need_v1 && !need_v2)
    return 0;
  return cr_cgroup_enter_part (cg, pid, need_v1, need_v2, err);
}

int
cr_container_exec (struct cr_context *ctx, const struct cr_exec_opts *o, cr_error_t *err)
{
  /* With --process the terminal flag is the process file's (what containerd's shim sends). */
  struct cr_exec_opts eo = *o;
  if (o->process_path)
    {
      cleanup_free char *text = NULL;
      size_t len;
      if (read_file (o->process_path, &text, &len, err) < 0)
        return -1;
      struct oci_process *pp = oci_process_parse (text, len, err);
      if (pp == NULL)
        return cr_error_wrap (err, "process file `%s`", o->process_path);
      eo.tty = pp->terminal;
      oci_process_free (pp);
    }
  o = &eo;
  /* runc's checkTerminal, and its need for a host terminal to proxy a foreground tty. */
  if (o->tty && o->detach && o->console_socket == NULL)
    return cr_error (err, 0, "cannot allocate tty if runc will detach without setting console socket");
  if (o->console_socket && (!o->detach || !o->tty))
    return cr_error (err, 0, "cannot use console socket if runc will not detach or allocate tty");
  if (o->tty && !o->detach && !isatty (STDIN_FILENO) && !isatty (STDOUT_FILENO) && !isatty (STDERR_FILENO))
    {
      int t = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (t < 0)
        return cr_error_errno (err, "open /dev/tty");
      close (t);
    }
  cleanup_close int dirfd = -1;
  struct cr_state st;
  if (cr_container_load (ctx, o->id, false, &dirfd, &st, err) < 0)
    return -1;
  const char *status = cr_state_status (dirfd, &st);
  bool paused_ok = o->ignore_paused && strcmp (status, "paused") == 0;
  if (strcmp (status, "running") != 0 && strcmp (status, "created") != 0 && !paused_ok)
    {
      int r = strcmp (status, "paused") == 0
                  ? cr_error (err, 0, "cannot exec in a paused container (use --ignore-paused to override)")
                  : cr_error (err, 0, "cannot exec in a stopped container");
      cr_state_release (&st);
      return r;
    }
  cleanup_free char *config_text = NULL;
  size_t config_len;
  {
    cleanup_close int cfd = openat (dirfd, "config.json", O_RDONLY | O_CLOEXEC);
    if (cfd < 0 || read_all_fd (cfd, &config_text, &config_len, err) < 0)
      {
        cr_state_release (&st);
        return cfd < 0 ? cr_error_errno (err, "open stored config") : -1;
      }
  }
  cleanup_config struct oci_config *c = oci_config_parse (config_text, config_len, err);
  if (c == NULL)
    {
      cr_state_release (&st);
      return -1;
    }
  struct oci_process *p = build_process (o, c, err);
  if (p == NULL)
    {
      cr_state_release (&st);
      return -1;
    }
  cleanup_capsule_glue struct capsule_glue capsule = { 0 };
  if (capsule_glue_exec (c, p, ctx->root, o->id, dirfd, &capsule, err) < 0)
    {
      oci_process_free (p);
      cr_state_release (&st);
      return -1;
    }

  /* Open the init's namespaces now, while the pid is known to be it. */
  static const char *const types[] = { "user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time" };
  static const int flags[] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
                               CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME };
  struct cr_ns_join joins[8];
  size_t nj = 0;
  cleanup_close int pidfd = pidfd_open_ (st.pid);
  for (size_t i = 0; i < 8; i++)
    {
      char a[64], b[64];
      snprintf (a, sizeof a, "/proc/%d/ns/%s", st.pid, types[i]);
      snprintf (b, sizeof b, "/proc/self/ns/%s", types[i]);
      unsigned long ia = cr_ns_inode_path (a), ib = cr_ns_inode_path (b);
      if (ia == 0 || ia == ib)
        continue;
      int fd = open (a, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      joins[nj].fd = fd;
      joins[nj].flag = flags[i];
      joins[nj].path = xstrdup (a);
      nj++;
    }
  if (!cr_state_init_alive (&st))
    {
      for (size_t i = 0; i < nj; i++)
        {
          close (joins[i].fd);
          free (joins[i].path);
        }
      oci_process_free (p);
      cr_state_release (&st);
      return cr_error (err, 0, "cannot exec in a stopped container");
    }

  struct cr_cgroup cg = { .v2_dirfd = -1 };
  bool have_cg = st.cgroup_path && cr_cgroup_open (st.cgroup_path, &cg, err) == 0;
  cr_error_release (err);

  /* pid and time namespaces apply to children: join them for the fork only. */
  cleanup_close int own_pid = open ("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
  cleanup_close int own_time = open ("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  for (size_t i = 0; i < nj; i++)
    if ((joins[i].flag == CLONE_NEWPID || joins[i].flag == CLONE_NEWTIME) && setns (joins[i].fd, joins[i].flag) < 0)
      {
        int e = errno;
        oci_process_free (p);
        cr_state_release (&st);
        return cr_error (err, e, "join %s namespace of the container", joins[i].flag == CLONE_NEWPID ? "pid" : "time");
      }

  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return cr_error_errno (err, "socketpair");
  cleanup_close int sync_fd = sv[0];
  bool foreground_tty = o->tty && !o->detach && o->console_socket == NULL;
  /* The seccomp agent's fd comes back through us: that one waits for the thaw. */
  bool uses_notify = c->linux_ && c->linux_->seccomp && cr_seccomp_uses_notify (c->linux_->seccomp);
  if (o->tty && o->detach && o->console_socket == NULL)
    return cr_error (err, 0, "cannot allocate tty if runc will detach without setting console socket");

  /* Non-dumpable before the fork: the child is visible in the container's pid
   * namespace from birth and must never have an openable /proc/PID/exe (CVE-2019-5736). */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* v1 hierarchies: the child joins them itself (no RCU wait, see
   * cr_cgroup_selfjoin_open), except into a frozen cgroup, where it would
   * stop before it could tell us. */
  struct cr_cgroup_selfjoin sj = { NULL, 0 };
  if (have_cg && !paused_ok)
    {
      cr_error_t je = NULL;
      if (cr_cgroup_selfjoin_open (&cg, &sj, &je) < 0)
        {
          cr_log_debug ("exec: cgroup self-join not possible (%s): the runtime moves the process", je->msg);
          cr_error_release (&je);
        }
    }
  bool selfjoin = sj.n > 0;
  bool into_cgroup = false;
  pid_t pid;
  if (have_cg && cg.v2_dirfd >= 0)
    {
      struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (unsigned long long) cg.v2_dirfd };
      pid = (pid_t) syscall (SYS_clone3, &ca, sizeof ca);
      into_cgroup = pid >= 0;
      if (pid < 0)
        pid = fork ();
    }
  else
    pid = fork ();
  if (pid == 0)
    {
      cr_error_t e = NULL;
      close (sv[0]);
      if (selfjoin)
        {
          /* First act, before any user code: an empty message is success,
           * a text is the reason and the parent moves us instead. */
          cr_error_t je = NULL;
          cr_cgroup_selfjoin_run (&sj, &je);
          cr_sync_send (sv[1], CR_SYNC_CGROUP, je ? je->msg : NULL, -1, NULL);
          cr_error_release (&je);
        }
      /* Into a frozen cgroup (--ignore-paused) we are left behind until thawed: no death signal then. */
      if (!paused_ok)
        prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      prctl (PR_SET_DUMPABLE, 0, 0, 0, 0); /* CVE-2019-5736: the container cannot open our exe */
      /* Wait until the parent has put us in every cgroup hierarchy. */
      if (cr_sync_expect (sv[1], CR_SYNC_GO, NULL, &e) < 0)
        _exit (255);
      /* The console socket's path is on the host: connect before joining the mount namespace. */
      int console_sock = -1;
      if (p->terminal && o->console_socket && (console_sock = cr_console_socket_connect (o->console_socket, &e)) < 0)
        goto child_fail;
      /* The host's procfs, for the LSM attributes: the container's /proc is not trusted. */
      int host_proc = open ("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
      struct oci_config pc = { .process = p, .linux_ = c->linux_ };
      if (host_proc < 0 || cr_process_check_host (&pc, &e) < 0 || cr_process_lsm (host_proc, p, &e) < 0)
        goto child_fail;
      int mask = ~(CLONE_NEWPID | CLONE_NEWTIME);
      if (cr_ns_join (joins, nj, mask, &e) < 0)
        goto child_fail;
      if (chdir ("/") < 0)
        {
          cr_error_errno (&e, "chdir to container root");
          goto child_fail;
        }
      if (p->terminal)
        {
          int master;
          cleanup_free char *slave = NULL;
          if (cr_terminal_open (&master, &slave, &e) < 0)
            goto child_fail;
          if (console_sock >= 0 && cr_console_socket_send_fd (console_sock, master, &e) < 0)
            goto child_fail;
          if (console_sock >= 0)
            close (console_sock);
          if (foreground_tty && cr_sync_send (sv[1], CR_SYNC_PTY, NULL, master, &e) < 0)
            goto child_fail;
          close (master);
          unsigned rows = p->has_console_size ? p->console_height : 0;
          unsigned cols = p->has_console_size ? p->console_width : 0;
          if (foreground_tty)
            cr_terminal_host_size (&rows, &cols);
          if (cr_terminal_become (slave, rows, cols, &e) < 0)
            goto child_fail;
        }
      else
        setsid ();
      if (cr_process_rlimits (p, &e) < 0 || cr_process_scheduler (p, &e) < 0 || cr_process_io_priority (p, &e) < 0)
        goto child_fail;
      {
        char *exe = cr_process_find_exec (p, &e);
        if (exe == NULL)
          goto child_fail;
        /* The death signal survives execve: a detached process must outlive us. */
        prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
        int sc_loaded = cr_init_seccomp_notify (c->linux_, sv[1], &e);
        if (sc_loaded < 0)
          goto child_fail;
        cr_init_finish_process (p, c->linux_, exe, o->preserve_fds, sc_loaded > 0, capsule.confine,
                                capsule.confine_data, &e);
      }
    child_fail:
      cr_sync_send (sv[1], CR_SYNC_ERROR, e ? e->msg : "exec failed", -1, NULL);
      _exit (255);
    }
  int fork_errno = errno;
  cr_cgroup_selfjoin_close (&sj);
  close (sv[1]);
  if (own_pid >= 0)
    setns (own_pid, CLONE_NEWPID);
  if (own_time >= 0)
    setns (own_time, CLONE_NEWTIME);
  for (size_t i = 0; i < nj; i++)
    {
      close (joins[i].fd);
      free (joins[i].path);
    }
  oci_process_free (p);
  cr_state_release (&st);
  if (pid < 0)
    return cr_error (err, fork_errno, "fork exec process");
  /* The child is in every hierarchy of the container before GO: v1 by its
   * self-join (or by us if it could not), v2/unified by CLONE_INTO_CGROUP (or by us). */
  if ((have_cg && exec_cgroup_enter (&cg, pid, sync_fd, selfjoin, into_cgroup, err) < 0)
      || cr_sync_send (sync_fd, CR_SYNC_GO, NULL, -1, err) < 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      if (have_cg)
        cr_cgroup_release (&cg);
      return -1;
    }
  if (have_cg)
    cr_cgroup_release (&cg);
  /* Like runc: --ignore-paused --detach does not wait for a process that is
   * frozen the moment it joins the cgroup; it goes on once resumed, and what
   * fails after this is no longer ours to report. */
  if (paused_ok && o->detach && !uses_notify)
    return exec_write_pid_file (o->pid_file, pid, err);

  /* The child either reports an error or the socket closes on its execve. */
  int pty = -1;
  enum cr_sync_msg t;
  char *text = NULL;
  int got_fd = -1;
  cr_error_t e2 = NULL;
  for (;;)
    {
      if (cr_sync_recv (sync_fd, &t, &text, &got_fd, &e2) < 0)
        {
          cr_error_release (&e2); /* EOF: exec'd */
          break;
        }
      if (t == CR_SYNC_PTY)
        {
          pty = got_fd;
          free (text);
          text = NULL;
          continue;
        }
      if (t == CR_SYNC_SECCOMP_FD)
        {
          /* The child waits on nothing here: it goes on to execve while we hand the fd over. */
          const struct oci_seccomp *sc = c->linux_ ? c->linux_->seccomp : NULL;
          cleanup_free char *sj = cr_container_state_json (ctx, o->id, false, false, NULL);
          int r = cr_seccomp_send_listener (sc ? sc->listener_path : NULL, got_fd, pid,
                                            sc ? sc->listener_metadata : NULL, sj, err);
          close (got_fd);
          free (text);
          text = NULL;
          if (r < 0)
            {
              kill (pid, SIGKILL);
              waitpid (pid, NULL, 0);
              if (pty >= 0)
                close (pty);
              return -1;
            }
          continue;
        }
      if (t == CR_SYNC_ERROR)
        {
          int r = cr_error (err, 0, "%s", text ? text : "exec failed");
          free (text);
          if (pty >= 0)
            close (pty);
          waitpid (pid, NULL, 0);
          return r;
        }
      free (text);
      text = NULL;
    }
  if (exec_write_pid_file (o->pid_file, pid, err) < 0)
    return -1;
  if (o->detach)
    {
      if (pty >= 0)
        close (pty);
      return 0;
    }
  if (pty >= 0)
    {
      /* A handler (not SIG_IGN) so SIGWINCH interrupts the proxy, which then resizes the pty. */
      struct sigaction sa = { .sa_handler = winch_noop };
      sigaction (SIGWINCH, &sa, NULL);
      int cpfd = pidfd_open_ (pid);
      cr_terminal_proxy (pty, cpfd);
      if (cpfd >= 0)
        close (cpfd);
      close (pty);
    }
  int wst;
  while (waitpid (pid, &wst, 0) < 0)
    if (errno != EINTR)
      return cr_error_errno (err, "wait for exec process");
  return WIFEXITED (wst) ? WEXITSTATUS (wst) : 128 + WTERMSIG (wst);
}
