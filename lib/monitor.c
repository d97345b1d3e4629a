/* Per-capsule monitor daemon (see monitor.h). */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct monitor
{
  const struct capsule_effective *eff;
  const char *state_dir, *cgroup_path, *ks_dir;
  int pidfd, tfd, ifd, hfd;
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

static __attribute__ ((noreturn)) void
monitor_main (struct monitor *m)
{
  m->tfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  m->hfd = timerfd_create (CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (m->tfd < 0 || m->hfd < 0)
    _exit (1);
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
      struct pollfd p[4] = { { .fd = m->pidfd, .events = POLLIN },
                             { .fd = m->tfd, .events = POLLIN },
                             { .fd = m->ifd, .events = POLLIN },
                             { .fd = m->hfd, .events = POLLIN } };
      if (poll (p, 4, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          _exit (1);
        }
      if (p[2].revents)
        monitor_ks_events (m);
      if (p[0].revents)
        {
          cleanup_free char *cause = m->cause ? xasprintf (",\"cause\":\"%s\"", m->cause) : xstrdup ("");
          capsule_audit (audit, id, "exited", cause);
          /* The init is gone; without a pid namespace its children may not be. */
          if (cgroup_empty (m->cgroup_path) == 0)
            kill_cgroup_until_empty (m->cgroup_path);
          monitor_head (m, "exited", true);
          _exit (0);
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

int
capsule_monitor_start (const char *state_dir, const struct capsule_effective *eff, pid_t init_pid,
                       const char *cgroup_path, cr_error_t *err)
{
  struct monitor m = { .eff = eff, .state_dir = state_dir, .cgroup_path = cgroup_path,
                       .ks_dir = killswitch_dir_resolve (eff->killswitch_dir), .pidfd = -1, .ifd = -1 };
  /* Everything that can fail is done here, so that create fails (closed)
   * instead of running a capsule nobody watches. */
  cleanup_free char *root = root_of (state_dir);
  cleanup_free char *key_path = audit_head_key_path (root);
  if (audit_head_key_load (key_path, true, m.key, err) < 0)
    return cr_error_wrap (err, "capsule monitor: audit head key");
  m.have_key = true;
  /* A pod's sandbox outlives a kill switch: its app containers (each with
   * its own monitor, sharing the pod's session) are what gets killed;
   * kubelet would recreate a dead sandbox in a loop. */
  cleanup_close int ifd = -1;
  if (!capsule_pod_is_sandbox (state_dir))
    {
      if (mkdir_p (m.ks_dir, 0755, err) < 0)
        return cr_error_wrap (err, "capsule monitor: kill switch directory");
      ifd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
      if (ifd < 0)
        return cr_error_errno (err, "capsule monitor: inotify_init1");
      if (inotify_add_watch (ifd, m.ks_dir, KILLSWITCH_INOTIFY_MASK | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) < 0)
        return cr_error_errno (err, "capsule monitor: watch the kill switch directory `%s`", m.ks_dir);
    }

  unsigned long long init_start = cr_proc_start_time (init_pid);
  cleanup_close int pidfd = (int) syscall (SYS_pidfd_open, init_pid, 0);
  if (pidfd < 0)
    return cr_error_errno (err, "capsule monitor: pidfd_open %d", (int) init_pid);
  if (cr_proc_start_time (init_pid) != init_start || init_start == 0)
    return cr_error (err, ESRCH, "capsule monitor: container init %d", (int) init_pid);
  /* One fork, not two: the runtime is a child subreaper, so a grandchild
   * would come back to it anyway; the child gets its own session and the
   * pid is known at once, without waiting for anything to be scheduled.
   * What can fail is done before the fork. */
  cleanup_close int hp = fcntl (pidfd, F_DUPFD_CLOEXEC, 100);
  cleanup_close int hi = ifd >= 0 ? fcntl (ifd, F_DUPFD_CLOEXEC, 100) : -1;
  if (hp < 0 || (ifd >= 0 && hi < 0))
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
      monitor_main (&m);
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
