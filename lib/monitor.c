/* Per-capsule monitor daemon (see monitor.h). */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admission.h"
#include "cgroup.h"
#include "concurrency.h"
#include "state.h"
#include "util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

bool
capsule_monitor_needed (const struct capsule_effective *eff)
{
  return eff && eff->timeout_s > 0;
}

static void
kill_cgroup (const char *cgroup_path, int sig)
{
  struct cr_cgroup cg = { .v2_dirfd = -1 };
  cr_error_t e = NULL;
  if (cr_cgroup_open (cgroup_path, &cg, &e) == 0)
    {
      cr_cgroup_kill_all (&cg, sig, &e);
      cr_cgroup_release (&cg);
    }
  cr_error_release (&e);
}

static int
cgroup_empty (const char *cgroup_path)
{
  struct cr_cgroup cg = { .v2_dirfd = -1 };
  cr_error_t e = NULL;
  pid_t *pids = NULL;
  size_t n = 0;
  int r = -1;
  if (cr_cgroup_open (cgroup_path, &cg, &e) == 0 && cr_cgroup_pids (&cg, &pids, &n, &e) == 0)
    r = n == 0;
  free (pids);
  cr_cgroup_release (&cg);
  cr_error_release (&e);
  return r;
}

static void
arm (int tfd, uint64_t secs)
{
  struct itimerspec its = { .it_value = { .tv_sec = (time_t) secs } };
  timerfd_settime (tfd, 0, &its, NULL);
}

static __attribute__ ((noreturn)) void
monitor_main (const char *id, const char *audit, const char *cgroup_path, uint64_t timeout_s, int pidfd)
{
  int tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (tfd < 0)
    _exit (1);
  if (timeout_s)
    arm (tfd, timeout_s);
  enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
  for (;;)
    {
      struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = tfd, .events = POLLIN } };
      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          _exit (1);
        }
      if (p[0].revents)
        {
          capsule_audit (audit, id, "exited", phase == RUNNING ? "" : ",\"cause\":\"timeout\"");
          /* The init is gone; without a pid namespace its children may not be. */
          if (cgroup_empty (cgroup_path) == 0)
            kill_cgroup (cgroup_path, SIGKILL);
          _exit (0);
        }
      if (p[1].revents)
        {
          uint64_t ticks;
          if (read (tfd, &ticks, sizeof ticks) < 0)
            continue;
          if (phase == RUNNING)
            {
              cleanup_free char *extra = xasprintf (",\"timeout_s\":%llu,\"signal\":\"SIGTERM\"", (unsigned long long) timeout_s);
              capsule_audit (audit, id, "timeout", extra);
              kill_cgroup (cgroup_path, SIGTERM);
              phase = TERMINATING;
              arm (tfd, CAPSULE_MONITOR_GRACE_S);
            }
          else if (phase == TERMINATING)
            {
              capsule_audit (audit, id, "timeout-kill", ",\"signal\":\"SIGKILL\"");
              kill_cgroup (cgroup_path, SIGKILL);
              phase = KILLED;
            }
        }
    }
}

static void
detach_stdio (void)
{
  int fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return;
  for (int i = 0; i < 3; i++)
    dup2 (fd, i);
  if (fd > 2)
    close (fd);
}

int
capsule_monitor_start (const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                       const char *cgroup_path, cr_error_t *err)
{
  unsigned long long init_start = cr_proc_start_time (init_pid);
  int pidfd = (int) syscall (SYS_pidfd_open, init_pid, 0);
  if (pidfd < 0)
    return cr_error_errno (err, "capsule monitor: pidfd_open %d", (int) init_pid);
  if (cr_proc_start_time (init_pid) != init_start || init_start == 0)
    {
      close (pidfd);
      return cr_error (err, ESRCH, "capsule monitor: container init %d", (int) init_pid);
    }
  int pp[2];
  if (pipe2 (pp, O_CLOEXEC) < 0)
    {
      close (pidfd);
      return cr_error_errno (err, "capsule monitor: pipe");
    }
  pid_t child = fork ();
  if (child < 0)
    {
      close (pidfd);
      close (pp[0]);
      close (pp[1]);
      return cr_error_errno (err, "capsule monitor: fork");
    }
  if (child == 0)
    {
      close (pp[0]);
      setsid ();
      pid_t gc = fork ();
      if (gc != 0)
        _exit (gc < 0);
      sigset_t all;
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      for (int s = 1; s < NSIG; s++)
        signal (s, SIG_DFL);
      signal (SIGPIPE, SIG_IGN);
      if (chdir ("/") < 0)
        _exit (1);
      pid_t me = getpid ();
      if (write (pp[1], &me, sizeof me) != sizeof me)
        _exit (1);
      close (pp[1]);
      detach_stdio ();
      /* Keep only the pidfd: move it to 3 and close everything above. */
      if (pidfd != 3)
        {
          if (dup2 (pidfd, 3) < 0)
            _exit (1);
          close (pidfd);
        }
      syscall (SYS_close_range, 4U, ~0U, 0U);
      capsule_audit_forget ();
      monitor_main (eff->id, eff->audit_path, cgroup_path, eff->timeout_s, 3);
    }
  close (pp[1]);
  close (pidfd);
  waitpid (child, NULL, 0);
  pid_t mon = 0;
  ssize_t n = read (pp[0], &mon, sizeof mon);
  close (pp[0]);
  if (n != sizeof mon || mon <= 0)
    return cr_error (err, 0, "capsule monitor: did not start");
  char buf[64];
  int len = snprintf (buf, sizeof buf, "%d %llu\n", (int) mon, cr_proc_start_time (mon));
  cleanup_free char *path = xasprintf ("%s/monitor.pid", state_dir);
  if (write_file_atomic (path, buf, (size_t) len, err) < 0)
    {
      kill (mon, SIGKILL);
      return -1;
    }
  return 0;
}

void
capsule_monitor_stop (const char *state_dir)
{
  cleanup_free char *path = xasprintf ("%s/monitor.pid", state_dir);
  cleanup_free char *text = NULL;
  cr_error_t e = NULL;
  if (read_file (path, &text, NULL, &e) < 0)
    {
      cr_error_release (&e);
      return;
    }
  int pid = 0;
  unsigned long long st = 0;
  if (sscanf (text, "%d %llu", &pid, &st) != 2 || pid <= 0)
    return;
  int pfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pfd < 0)
    return;
  /* Same process as recorded (not a reused pid)?  Checked after the pidfd pins it. */
  if (cr_proc_start_time (pid) == st)
    syscall (SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0);
  close (pfd);
  unlink (path);
}

int
capsule_started (const char *root, const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                 const char *cgroup_path, cr_error_t *err)
{
  if (eff->concurrency_group
      && capsule_slot_update (root, eff->concurrency_group, eff->id, init_pid, err) < 0)
    return -1;
  if (capsule_monitor_needed (eff) && capsule_monitor_start (state_dir, eff, init_pid, cgroup_path, err) < 0)
    return -1;
  cleanup_free char *extra = xasprintf (",\"pid\":%d", (int) init_pid);
  capsule_audit (eff->audit_path, eff->id, "created", extra);
  return 0;
}

int
capsule_release (const char *state_dir, cr_error_t *err)
{
  capsule_monitor_stop (state_dir);
  cleanup_effective struct capsule_effective *eff = NULL;
  if (capsule_effective_load (state_dir, &eff, err) < 0)
    return -1;
  cleanup_free char *root = xstrdup (state_dir);
  char *slash = strrchr (root, '/');
  if (slash && slash != root)
    *slash = '\0';
  if (eff->concurrency_group)
    capsule_slot_release (root, eff->concurrency_group, eff->id);
  capsule_audit (eff->audit_path, eff->id, "deleted", "");
  return 0;
}
