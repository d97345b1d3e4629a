/* Running OCI hooks (prestart, createRuntime, ... poststop). */
#include "hooks.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How much of a hook's stdout/stderr is quoted in an error. */
#define HOOK_CAPTURE_MAX 4096

struct hook_capture
{
  char buf[HOOK_CAPTURE_MAX + 1];
  size_t len;
  bool truncated;
};

static void
hook_capture_add (struct hook_capture *c, const char *data, size_t n)
{
  size_t room = HOOK_CAPTURE_MAX - c->len;
  if (n > room)
    {
      c->truncated = true;
      n = room;
    }
  memcpy (c->buf + c->len, data, n);
  c->len += n;
  c->buf[c->len] = '\0';
}

/* One line for the error message: trailing newlines dropped, inner ones
 * turned into spaces (errors are printed as one line). */
static const char *
hook_capture_text (struct hook_capture *c)
{
  while (c->len > 0 && (c->buf[c->len - 1] == '\n' || c->buf[c->len - 1] == '\r'))
    c->buf[--c->len] = '\0';
  for (size_t i = 0; i < c->len; i++)
    if (c->buf[i] == '\n' || c->buf[i] == '\r')
      c->buf[i] = ' ';
  if (c->truncated && c->len >= 3)
    memcpy (c->buf + c->len - 3, "...", 3);
  return c->buf;
}

static int
hook_pidfd_open (pid_t pid)
{
#ifdef SYS_pidfd_open
  return (int) syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
  return -1;
#endif
}

static int64_t
hook_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* argv/envp as NULL-terminated copies of the pointer arrays (the strings are borrowed). */
static char **
hook_vector (char **v, size_t n, const char *first_default)
{
  char **out = xmalloc0 ((n + 2) * sizeof (char *));
  size_t k = 0;
  if (n == 0 && first_default)
    out[k++] = (char *) first_default;
  for (size_t i = 0; i < n; i++)
    out[k++] = v[i];
  out[k] = NULL;
  return out;
}

/* Spawn the hook with posix_spawn (a vfork-style clone: no copy of our page
 * tables, no copy-on-write faults afterwards; a capsule's create runs one
 * while its init sets up): default signal dispositions, empty mask, its own
 * process group (a timeout kills whatever it spawned too), and only 0, 1, 2. */
static int
hook_spawn (pid_t *pid, const char *path, char **argv, char **envp, int in_fd, int out_fd, int err_fd)
{
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  sigset_t all, none;
  sigfillset (&all);
  sigemptyset (&none);
  int r = posix_spawnattr_init (&attr);
  if (r != 0)
    return r;
  r = posix_spawn_file_actions_init (&fa);
  if (r != 0)
    {
      posix_spawnattr_destroy (&attr);
      return r;
    }
  if ((r = posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)) == 0
      && (r = posix_spawnattr_setsigdefault (&attr, &all)) == 0 && (r = posix_spawnattr_setsigmask (&attr, &none)) == 0
      && (r = posix_spawnattr_setpgroup (&attr, 0)) == 0 && (r = posix_spawn_file_actions_adddup2 (&fa, in_fd, 0)) == 0
      && (r = posix_spawn_file_actions_adddup2 (&fa, out_fd, 1)) == 0
      && (r = posix_spawn_file_actions_adddup2 (&fa, err_fd, 2)) == 0
      && (r = posix_spawn_file_actions_addclosefrom_np (&fa, 3)) == 0)
    r = posix_spawn (pid, path, &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  return r;
}

/* Pipe ends handed to the hook sit above 0-2, so its dup2s cannot clobber each other. */
static int
hook_fd_above_stdio (int *fd)
{
  if (*fd > 2)
    return 0;
  int n = fcntl (*fd, F_DUPFD_CLOEXEC, 3);
  if (n < 0)
    return -1;
  close (*fd);
  *fd = n;
  return 0;
}

struct hook_io
{
  const char *in;
  size_t in_len, in_off;
  int in_fd, out_fd, err_fd;
  struct hook_capture out, errout;
};

static void
hook_closep (int *fd)
{
  if (*fd >= 0)
    close (*fd);
  *fd = -1;
}

/* Read what is available on *fd into cap (and copy it to our stderr); close on EOF. */
static void
hook_pump_read (int *fd, struct hook_capture *cap)
{
  char buf[4096];
  for (;;)
    {
      ssize_t n = read (*fd, buf, sizeof buf);
      if (n > 0)
        {
          hook_capture_add (cap, buf, (size_t) n);
          if (write (STDERR_FILENO, buf, (size_t) n) < 0)
            {
              /* our stderr is gone: the capture still has it */
            }
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || (n < 0 && errno != EAGAIN))
        hook_closep (fd);
      return;
    }
}

static void
hook_pump_write (struct hook_io *io)
{
  while (io->in_off < io->in_len)
    {
      ssize_t n = write (io->in_fd, io->in + io->in_off, io->in_len - io->in_off);
      if (n > 0)
        {
          io->in_off += (size_t) n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      break;   /* EPIPE: the hook does not read its stdin, which is fine */
    }
  hook_closep (&io->in_fd);
}

static void
hook_status_text (int status, char *buf, size_t len)
{
  if (WIFEXITED (status))
    snprintf (buf, len, "exit status %d", WEXITSTATUS (status));
  else if (WIFSIGNALED (status))
    {
      /* Go's wording: "signal: killed" */
      const char *s = strsignal (WTERMSIG (status));
      snprintf (buf, len, "signal: %s", s ? s : "unknown");
      size_t p = strlen ("signal: ");
      if (strlen (buf) > p)
        buf[p] = (char) tolower ((unsigned char) buf[p]);
    }
  else
    snprintf (buf, len, "wait status %d", status);
}

/* Feed stdin, collect output, wait for the exit or the timeout. */
static int
hook_supervise (const struct oci_hook *hook, size_t index, pid_t pid, struct hook_io *io, cr_error_t *err)
{
  fcntl (io->in_fd, F_SETFL, O_NONBLOCK);
  fcntl (io->out_fd, F_SETFL, O_NONBLOCK);
  fcntl (io->err_fd, F_SETFL, O_NONBLOCK);

  cleanup_close int pidfd = hook_pidfd_open (pid);
  int64_t deadline = hook->has_timeout && hook->timeout > 0 ? hook_now_ms () + (int64_t) hook->timeout * 1000 : -1;
  int status = 0;
  bool exited = false;
  while (!exited)
    {
      struct pollfd pf[4];
      int nf = 0, i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
      if (io->in_fd >= 0)
        pf[i_in = nf++] = (struct pollfd){ .fd = io->in_fd, .events = POLLOUT };
      if (io->out_fd >= 0)
        pf[i_out = nf++] = (struct pollfd){ .fd = io->out_fd, .events = POLLIN };
      if (io->err_fd >= 0)
        pf[i_err = nf++] = (struct pollfd){ .fd = io->err_fd, .events = POLLIN };
      if (pidfd >= 0)
        pf[i_pid = nf++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
      int wait_ms = pidfd >= 0 ? -1 : 20;   /* without pidfd: poll waitpid */
      if (deadline >= 0)
        {
          int64_t left = deadline - hook_now_ms ();
          if (left <= 0)
            {
              kill (-pid, SIGKILL);
              kill (pid, SIGKILL);
              while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
                ;
              return cr_error (err, 0, "error running hook #%zu `%s`: hook timed out after %ds", index, hook->path,
                               hook->timeout);
            }
          if (wait_ms < 0 || left < wait_ms)
            wait_ms = (int) (left > INT_MAX ? INT_MAX : left);
        }
      int n = poll (pf, (nfds_t) nf, wait_ms);
      if (n < 0 && errno != EINTR)
        {
          int e = errno;
          kill (pid, SIGKILL);
          waitpid (pid, NULL, 0);
          return cr_error (err, e, "error running hook #%zu `%s`: poll", index, hook->path);
        }
      if (n > 0)
        {
          if (i_in >= 0 && pf[i_in].revents)
            hook_pump_write (io);
          if (i_out >= 0 && pf[i_out].revents)
            hook_pump_read (&io->out_fd, &io->out);
          if (i_err >= 0 && pf[i_err].revents)
            hook_pump_read (&io->err_fd, &io->errout);
        }
      if (pidfd < 0 || (i_pid >= 0 && n > 0 && pf[i_pid].revents))
        {
          pid_t w = waitpid (pid, &status, WNOHANG);
          if (w == pid)
            exited = true;
          else if (w < 0 && errno != EINTR)
            return cr_error_errno (err, "error running hook #%zu `%s`: waitpid", index, hook->path);
        }
    }

  /* Whatever the hook wrote before exiting is in the pipes; do not wait for
   * EOF, a daemon it left behind may hold them open. */
  if (io->out_fd >= 0)
    hook_pump_read (&io->out_fd, &io->out);
  if (io->err_fd >= 0)
    hook_pump_read (&io->err_fd, &io->errout);

  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      char st[64];
      hook_status_text (status, st, sizeof st);
      return cr_error (err, 0, "error running hook #%zu `%s`: %s, stdout: %s, stderr: %s", index, hook->path, st,
                       hook_capture_text (&io->out), hook_capture_text (&io->errout));
    }
  return 0;
}

int
cr_hook_run (const struct oci_hook *hook, size_t index, const char *state_json, cr_error_t *err)
{
  if (hook == NULL || hook->path == NULL)
    return cr_error (err, EINVAL, "error running hook #%zu: no path", index);
  cleanup_free char **argv = hook_vector (hook->args, hook->args_len, hook->path);
  cleanup_free char **envp = hook_vector (hook->env, hook->env_len, NULL);
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
  if (pipe2 (in, O_CLOEXEC) < 0 || pipe2 (out, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0
      || hook_fd_above_stdio (&in[0]) < 0 || hook_fd_above_stdio (&out[1]) < 0 || hook_fd_above_stdio (&errp[1]) < 0)
    {
      int e = errno;
      for (int i = 0; i < 2; i++)
        {
          hook_closep (&in[i]);
          hook_closep (&out[i]);
          hook_closep (&errp[i]);
        }
      return cr_error (err, e, "error running hook #%zu `%s`: pipe", index, hook->path);
    }

  /* A hook that does not read stdin must not kill us with SIGPIPE. */
  sigset_t pipeset, oldmask, pending;
  sigemptyset (&pipeset);
  sigaddset (&pipeset, SIGPIPE);
  sigpending (&pending);
  bool pipe_was_pending = sigismember (&pending, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipeset, &oldmask);
  /* with SIGCHLD ignored the kernel reaps the hook and we lose its status */
  struct sigaction old_chld, dfl = { .sa_handler = SIG_DFL };
  sigaction (SIGCHLD, NULL, &old_chld);
  bool chld_ignored = old_chld.sa_handler == SIG_IGN;
  if (chld_ignored)
    sigaction (SIGCHLD, &dfl, NULL);

  pid_t pid = -1;
  int spawn_errno = hook_spawn (&pid, hook->path, argv, envp, in[0], out[1], errp[1]);
  close (in[0]);
  close (out[1]);
  close (errp[1]);
  struct hook_io *io = xmalloc0 (sizeof *io);
  io->in = state_json ? state_json : "";
  io->in_len = strlen (io->in);
  io->in_fd = in[1];
  io->out_fd = out[0];
  io->err_fd = errp[0];

  int ret;
  if (spawn_errno != 0)
    ret = cr_error (err, spawn_errno, "error running hook #%zu `%s`: exec", index, hook->path);
  else
    ret = hook_supervise (hook, index, pid, io, err);

  hook_closep (&io->in_fd);
  hook_closep (&io->out_fd);
  hook_closep (&io->err_fd);
  free (io);
  /* Swallow the SIGPIPE our own write may have raised, then unblock. */
  if (!pipe_was_pending)
    {
      struct timespec zero = { 0, 0 };
      while (sigtimedwait (&pipeset, NULL, &zero) == SIGPIPE)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &oldmask, NULL);
  if (chld_ignored)
    sigaction (SIGCHLD, &old_chld, NULL);
  return ret;
}

int
cr_hooks_run (const struct oci_hook *hooks, size_t n, const char *state_json, cr_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    if (cr_hook_run (&hooks[i], i, state_json, err) < 0)
      return -1;
  return 0;
}
