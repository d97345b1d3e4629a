/* Per-capsule monitor daemon (see monitor.h). */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admission.h"
#include "audit.h"
#include "audit_head.h"
#include "capsule_pod.h"
#include "cgroup.h"
#include "concurrency.h"
#include "killswitch.h"
#include "log.h"
#include "netcontain.h"
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
  /* Every capsule: the kill switch and the audit head need a watcher even without a timeout. */
  return eff != NULL;
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

/* SIGKILL sweeps until the cgroup is empty: cgroup.kill on v2 is one
 * write; on v1 each sweep freezes first, but a sweep can still race a
 * fork on a cgroup without a freezer, so repeat (bounded). */
static void
kill_cgroup_until_empty (const char *cgroup_path)
{
  for (int i = 0; i < 500; i++)
    {
      kill_cgroup (cgroup_path, SIGKILL);
      if (cgroup_empty (cgroup_path) != 0)
        return;
      struct timespec ts = { .tv_nsec = 2 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
}

static void
arm_ms (int tfd, uint64_t ms)
{
  struct itimerspec its = { .it_value = { .tv_sec = (time_t) (ms / 1000), .tv_nsec = (long) (ms % 1000) * 1000000L } };
  timerfd_settime (tfd, 0, &its, NULL);
}

static void
arm (int tfd, uint64_t secs)
{
  arm_ms (tfd, secs * 1000);
}

/* What an in-process monitor's stop eventfd carries: must a head follow "exited"? */
#define CAPSULE_MONITOR_STOP_NOHEAD 1
#define CAPSULE_MONITOR_STOP_HEAD 2

struct monitor
{
  const struct capsule_effective *eff;
  const char *state_dir, *cgroup_path, *ks_dir;
  int pidfd, tfd, ifd, hfd;
  int stopfd;            /* in-process monitor: eventfd that `run` writes before its delete; -1 for the daemon */
  bool have_key;
  unsigned char key[AUDIT_HEAD_KEY_LEN];
  off_t head_size;       /* audit file size when the head was last recorded */
  const char *cause;     /* why the capsule is being stopped, NULL while it runs */
};

static void
monitor_head (struct monitor *m, const char *event, bool force)
{
  if (!m->have_key || m->eff->audit_path == NULL)
    return;
  struct stat st;
  if (stat (m->eff->audit_path, &st) < 0 || (!force && st.st_size == m->head_size))
    return;
  cr_error_t e = NULL;
  if (audit_head_record (m->eff->audit_path, m->key, m->eff->id, event, &e) == 0)
    m->head_size = st.st_size;
  cr_error_release (&e);
}

/* The proxy supervisor stops the proxy (and with it every connection) on SIGTERM. */
static void
monitor_stop_proxy (struct monitor *m)
{
  cleanup_free char *path = xasprintf ("%s/supervisor.pid", m->state_dir);
  pid_t pid = netcontain_pidfile_read (path);
  if (pid <= 0)
    return;
  int pfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pfd < 0)
    return;
  if (netcontain_pidfile_read (path) == pid)
    syscall (SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0);
  close (pfd);
}

static void
monitor_killswitch (struct monitor *m, const char *record)
{
  if (m->cause && strcmp (m->cause, "killswitch") == 0)
    return;
  cleanup_free char *content = NULL;
  cr_error_t e = NULL;
  if (killswitch_read (m->ks_dir, record, &content, &e) < 0)
    content = xstrdup ("");
  cr_error_release (&e);
  size_t cap = strlen (content) * 6 + strlen (record) * 6 + 2;
  cleanup_free char *cq = xmalloc0 (cap), *rq = xmalloc0 (cap);
  audit_json_escape (cq, cap, content);
  audit_json_escape (rq, cap, record);
  cleanup_free char *extra = xasprintf (",\"record\":\"%s\",\"revocation\":\"%s\",\"signal\":\"SIGKILL\"", rq, cq);
  /* The decision is on record before it takes effect. */
  capsule_audit (m->eff->audit_path, m->eff->id, "killswitch", extra);
  m->cause = "killswitch";
  kill_cgroup_until_empty (m->cgroup_path);
  monitor_stop_proxy (m);
  monitor_head (m, "killswitch", true);
}

/* Full check of the directory (start, queue overflow, directory replaced). */
static void
monitor_ks_scan (struct monitor *m)
{
  cleanup_free char *which = NULL;
  cr_error_t e = NULL;
  if (killswitch_matches (m->ks_dir, m->eff->session, m->eff->agent, m->eff->version, &which, &e) > 0)
    monitor_killswitch (m, which);
  cr_error_release (&e);
}

static void
monitor_ks_rewatch (struct monitor *m)
{
  cr_error_t e = NULL;
  mkdir_p (m->ks_dir, 0755, &e);
  cr_error_release (&e);
  inotify_add_watch (m->ifd, m->ks_dir, KILLSWITCH_INOTIFY_MASK | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
  monitor_ks_scan (m);
}

static void
monitor_ks_events (struct monitor *m)
{
  char buf[8192] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  for (;;)
    {
      ssize_t n = read (m->ifd, buf, sizeof buf);
      if (n <= 0)
        return;
      for (char *p = buf; p < buf + n;)
        {
          struct inotify_event *ev = (struct inotify_event *) p;
          p += sizeof *ev + ev->len;
          if (ev->mask & IN_Q_OVERFLOW)
            monitor_ks_scan (m);
          else if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
            monitor_ks_rewatch (m);
          else if (ev->len && ev->name[0] != '.'
                   && killswitch_name_matches (ev->name, m->eff->session, m->eff->agent, m->eff->version))
            monitor_killswitch (m, ev->name);
        }
    }
}

/* The init is gone: on record (with why, if we stopped it), leftovers of
 * a capsule without its own pid namespace killed, signed head. */
static void
monitor_init_exited (struct monitor *m, bool head)
{
  cleanup_free char *cause = m->cause ? xasprintf (",\"cause\":\"%s\"", m->cause) : xstrdup ("");
  capsule_audit (m->eff->audit_path, m->eff->id, "exited", cause);
  /* (An in-process monitor's capsule has its own pid namespace: the kernel
   * killed the rest with the init.) */
  if (m->stopfd < 0 && cgroup_empty (m->cgroup_path) == 0)
    kill_cgroup_until_empty (m->cgroup_path);
  if (head)
    monitor_head (m, "exited", true);
}

static bool
fd_readable (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll (&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The event loop; returns when the init has exited (after recording it) or
 * when an in-process monitor is told to stop. */
static void
monitor_loop (struct monitor *m)
{
  m->tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  m->hfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (m->tfd < 0 || m->hfd < 0)
    return;
  uint64_t timeout_s = m->eff->timeout_s;
  if (timeout_s)
    arm (m->tfd, timeout_s);
  /* First tick soon after start: it covers the "created" line written by create. */
  struct itimerspec hits = { .it_value = { .tv_nsec = 50 * 1000 * 1000 }, .it_interval = { .tv_sec = CAPSULE_MONITOR_HEAD_S } };
  timerfd_settime (m->hfd, 0, &hits, NULL);
  /* A revocation recorded between admission and the watch. */
  if (m->ifd >= 0)
    monitor_ks_scan (m);
  enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
  const char *id = m->eff->id, *audit = m->eff->audit_path;
  for (;;)
    {
      struct pollfd p[5] = { { .fd = m->pidfd, .events = POLLIN },
                             { .fd = m->tfd, .events = POLLIN },
                             { .fd = m->ifd, .events = POLLIN },
                             { .fd = m->hfd, .events = POLLIN },
                             { .fd = m->stopfd, .events = POLLIN } };
      if (poll (p, 5, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      if (p[2].revents)
        monitor_ks_events (m);
      if (p[0].revents)
        {
          monitor_init_exited (m, true);
          return;
        }
      if (p[4].revents)
        {
          /* `run` is about to delete: "exited" goes on record first if the
           * init is gone (delete's lines follow it, and its head covers it). */
          uint64_t v = 0;
          bool head = read (m->stopfd, &v, sizeof v) == sizeof v && v == CAPSULE_MONITOR_STOP_HEAD;
          if (fd_readable (m->pidfd))
            monitor_init_exited (m, head);
          return;
        }
      if (p[3].revents)
        {
          uint64_t ticks;
          if (read (m->hfd, &ticks, sizeof ticks) > 0)
            monitor_head (m, "periodic", false);
        }
      if (p[1].revents)
        {
          uint64_t ticks;
          if (read (m->tfd, &ticks, sizeof ticks) < 0)
            continue;
          if (m->cause && strcmp (m->cause, "killswitch") == 0)
            continue;
          if (phase == RUNNING)
            {
              cleanup_free char *extra = xasprintf (",\"timeout_s\":%llu,\"signal\":\"SIGTERM\"", (unsigned long long) timeout_s);
              capsule_audit (audit, id, "timeout", extra);
              m->cause = "timeout";
              kill_cgroup (m->cgroup_path, SIGTERM);
              phase = TERMINATING;
              arm (m->tfd, CAPSULE_MONITOR_GRACE_S);
            }
          else if (phase == TERMINATING)
            {
              capsule_audit (audit, id, "timeout-kill", ",\"signal\":\"SIGKILL\"");
              kill_cgroup (m->cgroup_path, SIGKILL);
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

static char *
root_of (const char *state_dir)
{
  char *root = xstrdup (state_dir);
  char *slash = strrchr (root, '/');
  if (slash && slash != root)
    *slash = '\0';
  return root;
}

/* Atomic (rename) but not fsync'ed: the file names a live process, and
 * after a crash there is no monitor left to name; state.json is written
 * the same way. */
static int
monitor_pid_write (const char *path, const char *buf, size_t len, cr_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.tmp.%d", path, (int) getpid ());
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return cr_error_errno (err, "capsule monitor: create `%s`", tmp);
  if (write_all (fd, buf, len, err) < 0 || rename (tmp, path) < 0)
    {
      int saved = errno;
      unlink (tmp);
      if (err && *err)
        return cr_error_wrap (err, "capsule monitor: `%s`", path);
      return cr_error (err, saved, "capsule monitor: rename `%s`", tmp);
    }
  return 0;
}

/* Everything that can fail is done here, so that create fails (closed)
 * instead of running a capsule nobody watches: the head key, the kill
 * switch watch, a pidfd of the init (checked to be the same process). */
static int
monitor_prepare (struct monitor *m, pid_t init_pid, cr_error_t *err)
{
  cleanup_free char *root = root_of (m->state_dir);
  cleanup_free char *key_path = audit_head_key_path (root);
  if (audit_head_key_load (key_path, true, m->key, err) < 0)
    return cr_error_wrap (err, "capsule monitor: audit head key");
  m->have_key = true;
  /* A pod's sandbox outlives a kill switch: its app containers (each with
   * its own monitor, sharing the pod's session) are what gets killed;
   * kubelet would recreate a dead sandbox in a loop. */
  cleanup_close int ifd = -1;
  if (!capsule_pod_is_sandbox (m->state_dir))
    {
      if (mkdir_p (m->ks_dir, 0755, err) < 0)
        return cr_error_wrap (err, "capsule monitor: kill switch directory");
      ifd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
      if (ifd < 0)
        return cr_error_errno (err, "capsule monitor: inotify_init1");
      if (inotify_add_watch (ifd, m->ks_dir, KILLSWITCH_INOTIFY_MASK | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
        return cr_error_errno (err, "capsule monitor: watch the kill switch directory `%s`", m->ks_dir);
    }
  unsigned long long init_start = cr_proc_start_time (init_pid);
  cleanup_close int pidfd = (int) syscall (SYS_pidfd_open, init_pid, 0);
  if (pidfd < 0)
    return cr_error_errno (err, "capsule monitor: pidfd_open %d", (int) init_pid);
  if (cr_proc_start_time (init_pid) != init_start || init_start == 0)
    return cr_error (err, ESRCH, "capsule monitor: container init %d", (int) init_pid);
  m->pidfd = steal_fd (&pidfd);
  m->ifd = steal_fd (&ifd);
  return 0;
}

static void
monitor_release_fds (struct monitor *m)
{
  int *fds[] = { &m->pidfd, &m->ifd, &m->tfd, &m->hfd, &m->stopfd };
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (*fds[i] >= 0)
      {
        close (*fds[i]);
        *fds[i] = -1;
      }
}

int
capsule_monitor_start (const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                       const char *cgroup_path, cr_error_t *err)
{
  struct monitor m = { .eff = eff, .state_dir = state_dir, .cgroup_path = cgroup_path,
                       .ks_dir = killswitch_dir_resolve (eff->killswitch_dir), .pidfd = -1, .ifd = -1,
                       .tfd = -1, .hfd = -1, .stopfd = -1 };
  if (monitor_prepare (&m, init_pid, err) < 0)
    return -1;
  /* One fork, not two: the runtime is a child subreaper, so a grandchild
   * would come back to it anyway; the child gets its own session and the
   * pid is known at once, without waiting for anything to be scheduled.
   * What can fail is done before the fork. */
  cleanup_close int hp = fcntl (m.pidfd, F_DUPFD_CLOEXEC, 100);
  cleanup_close int hi = m.ifd >= 0 ? fcntl (m.ifd, F_DUPFD_CLOEXEC, 100) : -1;
  int had_ifd = m.ifd >= 0;
  monitor_release_fds (&m);
  if (hp < 0 || (had_ifd && hi < 0))
    return cr_error_errno (err, "capsule monitor: dup");
  pid_t mon = fork ();
  if (mon < 0)
    return cr_error_errno (err, "capsule monitor: fork");
  if (mon == 0)
    {
      setsid ();
      sigset_t all;
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      for (int s = 1; s < NSIG; s++)
        signal (s, SIG_DFL);
      signal (SIGPIPE, SIG_IGN);
      /* Keep only the pidfd (3) and the inotify fd (4); close everything above. */
      if (chdir ("/") < 0 || dup2 (hp, 3) < 0 || (hi >= 0 && dup2 (hi, 4) < 0))
        _exit (1);
      detach_stdio ();
      syscall (SYS_close_range, hi >= 0 ? 5U : 4U, ~0U, 0U);
      fcntl (3, F_SETFD, FD_CLOEXEC);
      if (hi >= 0)
        fcntl (4, F_SETFD, FD_CLOEXEC);
      capsule_audit_forget ();
      m.pidfd = 3;
      m.ifd = hi >= 0 ? 4 : -1;
      monitor_loop (&m);
      _exit (0);
    }
  char buf[64];
  int len = snprintf (buf, sizeof buf, "%d %llu\n", (int) mon, cr_proc_start_time (mon));
  cleanup_free char *path = xasprintf ("%s/monitor.pid", state_dir);
  if (monitor_pid_write (path, buf, (size_t) len, err) < 0)
    {
      kill (mon, SIGKILL);
      return -1;
    }
  return 0;
}

/* ---- in-process monitor (foreground `run`) ------------------------------- */

struct capsule_monitor_thread
{
  struct monitor m;
  struct capsule_effective *eff; /* owned: the thread outlives create's copy */
  char *state_dir, *cgroup_path;
  pthread_t thread;
};

static void *
monitor_thread_main (void *arg)
{
  struct capsule_monitor_thread *t = arg;
  monitor_loop (&t->m);
  return NULL;
}

int
capsule_monitor_start_thread (const char *state_dir, struct capsule_effective *eff, pid_t init_pid,
                              const char *cgroup_path, struct capsule_monitor_thread **out, cr_error_t *err)
{
  *out = NULL;
  struct capsule_monitor_thread *t = xmalloc0 (sizeof *t);
  t->state_dir = xstrdup (state_dir);
  t->cgroup_path = xstrdup (cgroup_path);
  t->m = (struct monitor){ .eff = eff, .state_dir = t->state_dir, .cgroup_path = t->cgroup_path,
                           .ks_dir = killswitch_dir_resolve (eff->killswitch_dir), .pidfd = -1, .ifd = -1,
                           .tfd = -1, .hfd = -1, .stopfd = -1 };
  int r = monitor_prepare (&t->m, init_pid, err);
  if (r == 0 && (t->m.stopfd = eventfd (0, EFD_CLOEXEC)) < 0)
    r = cr_error_errno (err, "capsule monitor: eventfd");
  if (r == 0)
    {
      /* Signals stay with the main thread (`run` forwards them to the init). */
      sigset_t all, old;
      sigfillset (&all);
      pthread_sigmask (SIG_SETMASK, &all, &old);
      int e = pthread_create (&t->thread, NULL, monitor_thread_main, t);
      pthread_sigmask (SIG_SETMASK, &old, NULL);
      if (e != 0)
        r = cr_error (err, e, "capsule monitor: start the monitor thread");
    }
  if (r < 0)
    {
      monitor_release_fds (&t->m);
      free (t->state_dir);
      free (t->cgroup_path);
      free (t);
      return -1;
    }
  t->eff = eff;
  *out = t;
  return 0;
}

/* Closing an inotify instance waits for an SRCU grace period (the kernel's
 * fsnotify mark reaper: 10-20 ms here), which a foreground `run` would pay
 * on its way out.  A helper sharing our memory and fd table closes it and
 * pays instead (the release runs in the closing task); it only makes two
 * raw system calls on its own small stack. */
static int
closer_main (void *arg)
{
  syscall (SYS_close, (int) (intptr_t) arg);
  syscall (SYS_exit, 0);
  return 0;
}

static void
close_off_path (int fd)
{
  static char stack[16384] __attribute__ ((aligned (16)));
  if (fd >= 0 && clone (closer_main, stack + sizeof stack, CLONE_VM | CLONE_FILES | SIGCHLD, (void *) (intptr_t) fd) < 0)
    close (fd); /* no helper: pay for it here */
}

void
capsule_monitor_thread_stop (struct capsule_monitor_thread *t, bool head)
{
  if (t == NULL)
    return;
  uint64_t one = head ? CAPSULE_MONITOR_STOP_HEAD : CAPSULE_MONITOR_STOP_NOHEAD;
  if (write (t->m.stopfd, &one, sizeof one) < 0)
    {
      /* an eventfd write only fails on overflow */
    }
  pthread_join (t->thread, NULL);
  close_off_path (steal_fd (&t->m.ifd));
  monitor_release_fds (&t->m);
  capsule_effective_free (t->eff);
  free (t->state_dir);
  free (t->cgroup_path);
  free (t);
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

/* The signed head after a lifecycle line written by this process. */
static void
record_head (const char *root, const struct capsule_effective *eff, const char *event)
{
  if (eff->audit_path == NULL)
    return;
  cleanup_free char *key_path = audit_head_key_path (root);
  unsigned char key[AUDIT_HEAD_KEY_LEN];
  cr_error_t e = NULL;
  if (audit_head_key_load (key_path, true, key, &e) < 0 || audit_head_record (eff->audit_path, key, eff->id, event, &e) < 0)
    cr_log_warning ("capsule %s: %s", eff->id, e ? e->msg : "audit head not recorded");
  cr_error_release (&e);
}

int
capsule_started (const char *root, const char *state_dir, struct capsule_effective *eff, pid_t init_pid,
                 const char *cgroup_path, struct capsule_monitor_thread **thread, cr_error_t *err)
{
  if (eff->concurrency_group
      && capsule_slot_update (root, eff->concurrency_group, eff->id, init_pid, err) < 0)
    return -1;
  cleanup_free char *extra = xasprintf (",\"pid\":%d", (int) init_pid);
  cleanup_free char *audit_path = xstrdup (eff->audit_path ? eff->audit_path : "");
  cleanup_free char *id = xstrdup (eff->id);
  if (capsule_monitor_needed (eff)
      && (thread ? capsule_monitor_start_thread (state_dir, eff, init_pid, cgroup_path, thread, err)
                 : capsule_monitor_start (state_dir, eff, init_pid, cgroup_path, err)) < 0)
    return -1;
  /* (eff may belong to the monitor thread now: only the copies from here on.) */
  capsule_audit (*audit_path ? audit_path : NULL, id, "created", extra);
  /* The head after "created" is the monitor's first tick: off create's path. */
  return 0;
}

int
capsule_release (const char *state_dir, const struct capsule_effective *loaded, cr_error_t *err)
{
  capsule_monitor_stop (state_dir);
  cleanup_effective struct capsule_effective *own = NULL;
  const struct capsule_effective *eff = loaded;
  if (eff == NULL)
    {
      if (capsule_effective_load (state_dir, &own, err) < 0)
        return -1;
      eff = own;
    }
  if (eff == NULL)
    return 0;
  cleanup_free char *root = xstrdup (state_dir);
  char *slash = strrchr (root, '/');
  if (slash && slash != root)
    *slash = '\0';
  if (eff->concurrency_group)
    capsule_slot_release (root, eff->concurrency_group, eff->id);
  capsule_audit (eff->audit_path, eff->id, "deleted", "");
  record_head (root, eff, "deleted");
  return 0;
}
