/* `capsule-hook supervise`: the proxy supervisor daemon, exec'd by setup in
 * its own session, holding the proxy's listening sockets (fds 3..6, created
 * inside the capsule netns) for the capsule's whole life.
 *
 *   supervise STATE_DIR ID PID SHAPE RESTARTS POLICY AUDIT CGROUP_PARENT PROXY -- PROXY-ARGS...
 *
 * It runs the proxy (in the capsule netns for the pod shape, with its
 * upstream sockets marked; in the host netns for the isolated shape), and
 * when the proxy dies restarts it with the same sockets up to RESTARTS
 * times, after which it kills the capsule (POLICY "kill").  While the proxy
 * is down the ruleset still drops everything: fail closed.  Both are
 * audited.  It stops the proxy and exits on SIGTERM (teardown) or when the
 * container's init exits.  Readiness ("ok" or an error) goes to fd 7. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/netcontain.h"
#include "lib/util.h"

#define SUP_READY_FD 7
#define SUP_NFT_FD 8 /* setup's nft socket, if any: closed after the answer */
#define SUP_MAX_CGROUPS 8

struct sup
{
  const char *state_dir, *id, *audit, *proxy, *cgroup_parent;
  pid_t cpid;
  bool pod;
  int max_restarts;
  bool restart_forever;
  char **proxy_argv;
  int cpidfd, pinfd;
  pid_t proxy_pid;
  int proxy_pidfd;
  char *container_cgroup;   /* cgroupfs dir of the container's processes */
  char *cgroups[SUP_MAX_CGROUPS]; /* ours and the proxy's */
  bool cgroup_v1[SUP_MAX_CGROUPS];
  size_t n_cgroups;
  int cgroup_v2fd;          /* our v2 cgroup dir: the proxy is cloned into it */
};

static int
sup_pidfd_open (pid_t pid)
{
  return (int) syscall (SYS_pidfd_open, pid, 0);
}

static void
sup_ready (const char *msg)
{
  if (fcntl (SUP_READY_FD, F_GETFD) >= 0)
    {
      if (write (SUP_READY_FD, msg, strlen (msg)) < 0)
        { /* setup sees EOF and reports it */ }
      close (SUP_READY_FD);
    }
}

/* The cgroup dir holding the container's processes (pids or memory v1
 * hierarchy, else the v2 one), read while its init is alive. */
static char *
sup_container_cgroup (pid_t pid)
{
  char path[64], line[4096];
  cleanup_fclose FILE *f = NULL;
  char *best = NULL;
  int best_rank = 0;

  snprintf (path, sizeof path, "/proc/%d/cgroup", (int) pid);
  f = fopen (path, "re");
  if (f == NULL)
    return NULL;
  while (fgets (line, sizeof line, f))
    {
      char *c1 = strchr (line, ':'), *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      int rank = 0;
      const char *base = NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      c2[1 + strcspn (c2 + 1, "\n")] = '\0';
      if (strcmp (c1 + 1, "pids") == 0)
        rank = 3, base = "/sys/fs/cgroup/pids";
      else if (strcmp (c1 + 1, "memory") == 0)
        rank = 2, base = "/sys/fs/cgroup/memory";
      else if (c1[1] == '\0')
        rank = 1, base = access ("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
      if (rank > best_rank)
        {
          free (best);
          best = xasprintf ("%s%s", base, c2 + 1);
          best_rank = rank;
        }
    }
  return best;
}

/* CGROUP_PARENT/ID in every hierarchy we know; best effort, recorded for
 * cleanup.  Only created here: see sup_enter_cgroups for who enters which. */
static void
sup_make_cgroups (struct sup *s)
{
  static const char *const roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu",
                                       "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
  cleanup_free char *list = xstrdup ("");
  cleanup_error cr_error_t err = NULL;
  cleanup_free char *lf = xasprintf ("%s/proxy.cgroups", s->state_dir);
  bool pure_v2 = access ("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;

  for (size_t i = 0; i < sizeof roots / sizeof *roots && s->n_cgroups < SUP_MAX_CGROUPS; i++)
    {
      cleanup_free char *procs = xasprintf ("%s/cgroup.procs", roots[i]);
      /* "/sys/fs/cgroup" itself only on a pure v2 host */
      if (access (procs, F_OK) != 0 || (i == 5 && !pure_v2))
        continue;
      char *dir = xasprintf ("%s%s/%s", roots[i], s->cgroup_parent, s->id);
      cr_error_release (&err);
      if (mkdir_p (dir, 0755, &err) < 0)
        {
          free (dir);
          continue;
        }
      s->cgroup_v1[s->n_cgroups] = i < 4;
      s->cgroups[s->n_cgroups++] = dir;
      if (i >= 4 && s->cgroup_v2fd < 0)
        s->cgroup_v2fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      char *n = xasprintf ("%s%s\n", list, dir);
      free (list);
      list = n;
    }
  cr_error_release (&err);
  netcontain_write_state (lf, list, strlen (list), 0600, &err);
}

/* Move the calling process into those cgroups, the v1 or the v2 ones.  It
 * is single-threaded, so on v1 "0" into `tasks` moves it without the global
 * threadgroup lock, whose write side waits for an RCU grace period (~10 ms);
 * v2 only has cgroup.procs, which takes it: the proxy is cloned straight
 * into its v2 cgroup instead, and we move there once setup has its answer. */
static void
sup_enter_cgroups (const struct sup *s, bool v1)
{
  for (size_t i = 0; i < s->n_cgroups; i++)
    {
      if (s->cgroup_v1[i] != v1)
        continue;
      cleanup_free char *f = xasprintf ("%s/%s", s->cgroups[i], s->cgroup_v1[i] ? "tasks" : "cgroup.procs");
      int fd = open (f, O_WRONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          if (write (fd, "0", 1) < 0)
            { /* best effort, as before: the proxy still runs */ }
          close (fd);
        }
    }
}

static void
sup_audit (struct sup *s, const char *event, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
sup_audit (struct sup *s, const char *event, const char *fmt, ...)
{
  char extra[512];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (extra, sizeof extra, fmt, ap);
  va_end (ap);
  hook_audit (s->audit, event, s->id, extra);
}

static int
sup_spawn_proxy (struct sup *s, char *errbuf, size_t errlen)
{
  int ep[2];
  pid_t pid;
  int e = 0;
  ssize_t n;
  cleanup_free char *pf = xasprintf ("%s/proxy.pid", s->state_dir);
  cleanup_free char *logf = xasprintf ("%s/proxy.log", s->state_dir);
  cleanup_error cr_error_t err = NULL;

  if (pipe2 (ep, O_CLOEXEC) < 0)
    return -1;
  pid = -1;
  if (s->cgroup_v2fd >= 0)
    {
      struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD,
                               .cgroup = (uint64_t) s->cgroup_v2fd };
      pid = (pid_t) syscall (SYS_clone3, &ca, sizeof ca);
    }
  bool into_cgroup = pid >= 0;
  if (pid < 0)
    pid = fork ();
  if (pid < 0)
    {
      snprintf (errbuf, errlen, "fork: %s", strerror (errno));
      close (ep[0]);
      close (ep[1]);
      return -1;
    }
  if (pid == 0)
    {
      sigset_t all;
      int logfd;
      /* The proxy never outlives its supervisor: its sockets die with it. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (!into_cgroup)
        sup_enter_cgroups (s, false);
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      if (s->pod && setns (s->pinfd, CLONE_NEWNET) < 0)
        e = errno;
      logfd = open (logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (logfd >= 0)
        {
          dup2 (logfd, 1);
          dup2 (logfd, 2);
        }
      if (e == 0)
        {
          execv (s->proxy, s->proxy_argv);
          e = errno;
        }
      if (write (ep[1], &e, sizeof e) < 0)
        _exit (126);
      _exit (127);
    }
  close (ep[1]);
  n = read (ep[0], &e, sizeof e);
  close (ep[0]);
  if (n == sizeof e)
    {
      waitpid (pid, NULL, 0);
      snprintf (errbuf, errlen, "exec `%s`: %s", s->proxy, strerror (e));
      return -1;
    }
  s->proxy_pid = pid;
  s->proxy_pidfd = sup_pidfd_open (pid);
  netcontain_pidfile_write (pf, pid, &err);
  return 0;
}

/* SIGTERM the proxy, SIGKILL after 2 s, reap it. */
static void
sup_stop_proxy (struct sup *s)
{
  cleanup_free char *pf = xasprintf ("%s/proxy.pid", s->state_dir);
  if (s->proxy_pid <= 0)
    return;
  kill (s->proxy_pid, SIGTERM);
  struct pollfd p = { .fd = s->proxy_pidfd, .events = POLLIN };
  if (s->proxy_pidfd < 0 || poll (&p, 1, 2000) <= 0)
    kill (s->proxy_pid, SIGKILL);
  waitpid (s->proxy_pid, NULL, 0);
  if (s->proxy_pidfd >= 0)
    close (s->proxy_pidfd);
  s->proxy_pidfd = -1;
  s->proxy_pid = 0;
  unlink (pf);
}

/* Kill every process of the capsule: init (its pid namespace goes with it)
 * and whatever else sits in its cgroup. */
static void
sup_kill_capsule (struct sup *s)
{
  syscall (SYS_pidfd_send_signal, s->cpidfd, SIGKILL, NULL, 0);
  for (int round = 0; round < 3 && s->container_cgroup; round++)
    {
      cleanup_free char *procs = xasprintf ("%s/cgroup.procs", s->container_cgroup);
      cleanup_fclose FILE *f = fopen (procs, "re");
      int pid;
      if (f == NULL)
        break;
      while (fscanf (f, "%d", &pid) == 1)
        if (pid > 1 && pid != getpid ())
          kill (pid, SIGKILL);
    }
}

static void
sup_cleanup (struct sup *s)
{
  cleanup_free char *sf = xasprintf ("%s/supervisor.pid", s->state_dir);
  sup_stop_proxy (s);
  /* Our cgroups are removed by teardown once we have exited. */
  if (netcontain_pidfile_read (sf) == getpid ())
    unlink (sf);
}

int
hook_supervise (int argc, char **argv)
{
  struct sup s = { .cpidfd = -1, .pinfd = -1, .proxy_pidfd = -1, .cgroup_v2fd = -1 };
  char errbuf[512], markbuf[32];
  sigset_t mask;
  int sfd, used = 0;
  cleanup_free char *sf = NULL;
  cleanup_error cr_error_t err = NULL;

  if (argc < 11 || strcmp (argv[10], "--") != 0)
    {
      sup_ready ("supervise: bad arguments");
      return 2;
    }
  fcntl (SUP_READY_FD, F_SETFD, FD_CLOEXEC);
  /* Nothing is open yet: fd 8 is setup's nft socket or nothing. */
  int nft_fd = fcntl (SUP_NFT_FD, F_SETFD, FD_CLOEXEC) == 0 ? SUP_NFT_FD : -1; /* never into the proxy */
  s.state_dir = argv[1];
  s.id = argv[2];
  s.cpid = (pid_t) atoi (argv[3]);
  s.pod = strcmp (argv[4], "pod") == 0;
  s.max_restarts = atoi (argv[5]);
  s.restart_forever = strcmp (argv[6], "restart-forever") == 0;
  s.audit = argv[7];
  s.cgroup_parent = argv[8];
  s.proxy = argv[9];

  /* proxy argv: PROXY-ARGS plus the socket mark in the pod shape */
  s.proxy_argv = xmalloc0 ((size_t) (argc - 11 + 4) * sizeof (char *));
  s.proxy_argv[0] = (char *) "capsule-proxy";
  int k = 1;
  for (int i = 11; i < argc; i++)
    s.proxy_argv[k++] = argv[i];
  if (s.pod)
    {
      snprintf (markbuf, sizeof markbuf, "%u", NETCONTAIN_PROXY_MARK);
      s.proxy_argv[k++] = (char *) "--upstream-mark";
      s.proxy_argv[k++] = markbuf;
    }
  s.proxy_argv[k] = NULL;

  s.cpidfd = sup_pidfd_open (s.cpid);
  if (s.cpidfd < 0)
    {
      snprintf (errbuf, sizeof errbuf, "container pid %d: %s", (int) s.cpid, strerror (errno));
      sup_ready (errbuf);
      return 1;
    }
  fcntl (s.cpidfd, F_SETFD, FD_CLOEXEC);
  if (s.pod)
    {
      cleanup_free char *pin = xasprintf ("%s/netns", s.state_dir);
      s.pinfd = open (pin, O_RDONLY | O_CLOEXEC);
      if (s.pinfd < 0)
        {
          snprintf (errbuf, sizeof errbuf, "opening `%s`: %s", pin, strerror (errno));
          sup_ready (errbuf);
          return 1;
        }
    }
  /* Still the runtime's cgroup: a container left there (no cgroupsPath of
   * its own) shares it with the runtime and its callers, never kill that. */
  cleanup_free char *runtime_cgroup = sup_container_cgroup (getpid ());
  sup_make_cgroups (&s);
  sup_enter_cgroups (&s, true);

  sigemptyset (&mask);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigaddset (&mask, SIGHUP);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC);

  sf = xasprintf ("%s/supervisor.pid", s.state_dir);
  if (netcontain_pidfile_write (sf, getpid (), &err) < 0 || sup_spawn_proxy (&s, errbuf, sizeof errbuf) < 0)
    {
      if (err)
        snprintf (errbuf, sizeof errbuf, "%s", err->msg);
      sup_ready (errbuf);
      sup_cleanup (&s);
      return 1;
    }
  sup_ready ("ok");
  if (nft_fd >= 0)
    close (nft_fd);
  {
    char key[64] = "?";
    cleanup_free char *pin = xasprintf ("%s/netns", s.state_dir);
    cleanup_error cr_error_t kerr = NULL;
    netcontain_key_of (pin, key, sizeof key, &kerr);
    /* the proxy writes its own proxy.start; the supervisor's view of it
     * goes here, before the slow cgroup look-up below, so it precedes
     * whatever the capsule does */
    sup_audit (&s, "network.setup", "\"role\":\"owner\",\"shape\":\"%s\",\"netns\":\"%s\",\"proxy_pid\":%d",
               s.pod ? "pod" : "isolated", key, (int) s.proxy_pid);
  }
  /* Not needed before the answer (reading /proc/PID/cgroup and moving take
   * cgroup_mutex, which anyone on the node may hold for a while). */
  s.container_cgroup = sup_container_cgroup (s.cpid);
  if (s.container_cgroup && (runtime_cgroup == NULL || strcmp (s.container_cgroup, runtime_cgroup) == 0))
    {
      free (s.container_cgroup);
      s.container_cgroup = NULL;
    }
  sup_enter_cgroups (&s, false);

  for (;;)
    {
      struct pollfd p[3] = { { s.cpidfd, POLLIN, 0 }, { sfd, POLLIN, 0 }, { s.proxy_pidfd, POLLIN, 0 } };
      if (poll (p, s.proxy_pidfd >= 0 ? 3 : 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[0].revents)
        break; /* the container's init is gone */
      if (p[1].revents)
        break; /* teardown */
      if (s.proxy_pidfd >= 0 && p[2].revents)
        {
          int status = 0;
          waitpid (s.proxy_pid, &status, 0);
          close (s.proxy_pidfd);
          s.proxy_pidfd = -1;
          s.proxy_pid = 0;
          sup_audit (&s, "proxy.exit", "\"status\":%d,\"signal\":%d", WIFEXITED (status) ? WEXITSTATUS (status) : -1,
                     WIFSIGNALED (status) ? WTERMSIG (status) : 0);
          if (!s.restart_forever && used >= s.max_restarts)
            {
              sup_audit (&s, "capsule.kill", "\"reason\":\"proxy failed\",\"restarts\":%d", used);
              sup_kill_capsule (&s);
              break;
            }
          /* back off: 50 ms, 100 ms, ... up to 2 s */
          long ms = 50L << (used < 6 ? used : 6);
          if (ms > 2000)
            ms = 2000;
          nanosleep (&(struct timespec) { ms / 1000, (ms % 1000) * 1000000L }, NULL);
          used++;
          if (sup_spawn_proxy (&s, errbuf, sizeof errbuf) < 0)
            {
              char esc[400];
              audit_json_escape (esc, sizeof esc, errbuf);
              sup_audit (&s, "capsule.kill", "\"reason\":\"proxy restart failed: %s\"", esc);
              sup_kill_capsule (&s);
              break;
            }
          sup_audit (&s, "proxy.restart", "\"attempt\":%d,\"pid\":%d", used, (int) s.proxy_pid);
        }
    }
  sup_cleanup (&s);
  return 0;
}
