/* lib/seccomp.c: filters built from OCI profiles and loaded in forked
 * children, where the denied syscalls are attempted. */
#include "lib/seccomp.h"
#include "lib/util.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/capsule-test-seccomp-XXXXXX";

static struct oci_config *
cfg (const char *seccomp_json)
{
  cleanup_free char *json = xasprintf ("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"r\"},\"linux\":{\"seccomp\":%s}}",
                                       seccomp_json);
  cleanup_error cr_error_t err = NULL;
  struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c != NULL, "fixture: %s", err ? err->msg : "");
  return c;
}

/* Child exit code: 0 = all good, N = step N failed, 100 = load failed. */
typedef int (*child_fn) (const struct oci_seccomp *s);

static int
in_child (const struct oci_seccomp *s, child_fn fn)
{
  pid_t pid = fork ();
  if (pid == 0)
    {
      cr_error_t err = NULL;
      if (cr_seccomp_load (s, NULL, &err) < 0)
        {
          fprintf (stderr, "load: %s\n", err->msg);
          _exit (100);
        }
      _exit (fn (s));
    }
  int st = 0;
  waitpid (pid, &st, 0);
  return WIFEXITED (st) ? WEXITSTATUS (st) : 200 + WTERMSIG (st);
}

static int
deny_getpid_mkdir (const struct oci_seccomp *s)
{
  (void) s;
  if (syscall (SYS_getpid) != -1 || errno != EPERM)
    return 1;
  cleanup_free char *d = xasprintf ("%s/denied", tmpdir);
  if (syscall (SYS_mkdir, d, 0755) != -1 || errno != 38)
    return 2;
  if (access (d, F_OK) == 0)
    return 3;
  if (syscall (SYS_getppid) <= 0)   /* not in the profile: allowed */
    return 4;
  /* the NNP attribute of libseccomp is off: no_new_privs stays unset */
  if (prctl (PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
    return 5;
  return 0;
}

static void
test_deny_list (void)
{
  cleanup_config struct oci_config *c = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
      "\"syscalls\":[{\"names\":[\"getpid\",\"no_such_syscall_on_any_arch\"],\"action\":\"SCMP_ACT_ERRNO\"},"
      "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
      "{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
  if (c)
    T_CHECK (in_child (c->linux_->seccomp, deny_getpid_mkdir) == 0, "deny list");
}

static int
allow_list_child (const struct oci_seccomp *s)
{
  (void) s;
  if (syscall (SYS_getppid) != -1 || errno != 13)   /* not allowed: defaultErrnoRet */
    return 1;
  if (syscall (SYS_getpid) <= 0)
    return 2;
  /* execve of the container process still works after the load */
  char *argv[] = { "busybox", "sh", "-c", "exit 7", NULL };
  execve ("/bin/busybox", argv, (char *[]){ NULL });
  return 3;
}

static int
allow_list_no_execve_child (const struct oci_seccomp *s)
{
  (void) s;
  char *argv[] = { "busybox", "true", NULL };
  execve ("/bin/busybox", argv, (char *[]){ NULL });
  return errno == 13 ? 0 : 1;
}

static const char *allow_names =
  "\"read\",\"write\",\"open\",\"openat\",\"close\",\"brk\",\"mmap\",\"mprotect\",\"munmap\",\"arch_prctl\","
  "\"set_tid_address\",\"set_robust_list\",\"rseq\",\"prlimit64\",\"getuid\",\"geteuid\",\"getgid\",\"getegid\","
  "\"getpid\",\"exit\",\"exit_group\",\"rt_sigaction\",\"rt_sigprocmask\",\"rt_sigreturn\",\"fstat\",\"newfstatat\","
  "\"stat\",\"lstat\",\"access\",\"readlink\",\"getrandom\",\"uname\",\"ioctl\",\"futex\",\"fcntl\",\"getcwd\","
  "\"socketcall\",\"ipc\",\"_llseek\",\"wait4\",\"madvise\",\"sigaltstack\"";

static void
test_allow_list (void)
{
  if (access ("/bin/busybox", X_OK) < 0)
    {
      printf ("SKIP allow-list execve test: /bin/busybox missing (busybox-static)\n");
      return;
    }
  /* getppid listed with the default action on purpose: such rules are skipped, like runc */
  cleanup_free char *with_exec = xasprintf (
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":13,\"syscalls\":[{\"names\":[%s,\"execve\"],"
      "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}",
      allow_names);
  cleanup_config struct oci_config *c = cfg (with_exec);
  if (c)
    { int r = in_child (c->linux_->seccomp, allow_list_child); T_CHECK (r == 7, "allow list + execve: %d", r); }
  cleanup_free char *no_exec = xasprintf (
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":13,\"syscalls\":[{\"names\":[%s],\"action\":\"SCMP_ACT_ALLOW\"}]}",
      allow_names);
  cleanup_config struct oci_config *c2 = cfg (no_exec);
  if (c2)
    T_CHECK (in_child (c2->linux_->seccomp, allow_list_no_execve_child) == 0, "execve denied when not listed");
}

static int
args_child (const struct oci_seccomp *s)
{
  (void) s;
  pid_t me = getpid ();
  errno = 0;
  /* AND: arg0 == 0 && arg1 == 0 */
  if (syscall (SYS_getpriority, PRIO_PROCESS, 0) != -1 || errno != EACCES)
    return 1;
  if (syscall (SYS_getpriority, PRIO_PROCESS, me) < 0)   /* arg1 differs */
    return 2;
  if (syscall (SYS_getpriority, PRIO_PGRP, 0) < 0)       /* arg0 differs */
    return 3;
  /* MASKED_EQ: (mode & 0700) == 0700 */
  if (syscall (SYS_umask, 0777) != -1 || errno != E2BIG)
    return 4;
  if (syscall (SYS_umask, 0022) < 0)
    return 5;
  /* same index twice -> separate rules (OR): dup(100) and dup(101) denied */
  if (syscall (SYS_dup, 100) != -1 || errno != EDOM)
    return 6;
  if (syscall (SYS_dup, 101) != -1 || errno != EDOM)
    return 7;
  if (syscall (SYS_dup, 102) != -1 || errno != EBADF)    /* not matched: the kernel's own EBADF */
    return 8;
  /* GT: getpgid(pid > 1<<30) */
  if (syscall (SYS_getpgid, (1L << 30) + 5) != -1 || errno != ERANGE)
    return 9;
  if (syscall (SYS_getpgid, 0) < 0)
    return 10;
  return 0;
}

static void
test_args (void)
{
  cleanup_config struct oci_config *c = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
      "{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
      " \"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":7,"
      " \"args\":[{\"index\":0,\"value\":448,\"valueTwo\":448,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
      "{\"names\":[\"dup\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":33,"
      " \"args\":[{\"index\":0,\"value\":100,\"op\":\"SCMP_CMP_EQ\"},{\"index\":0,\"value\":101,\"op\":\"SCMP_CMP_EQ\"}]},"
      "{\"names\":[\"getpgid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":34,"
      " \"args\":[{\"index\":0,\"value\":1073741824,\"op\":\"SCMP_CMP_GT\"}]}]}");
  if (c)
    {
      int r = in_child (c->linux_->seccomp, args_child);
      T_CHECK (r == 0, "argument rules: step %d", r);
    }
}

static int
enosys_child (const struct oci_seccomp *s)
{
  (void) s;
  /* getpid is below the newest listed syscall (exit_group): the default errno */
  if (syscall (SYS_getpid) != -1 || errno != EPERM)
    return 1;
  /* process_madvise is newer than everything listed: ENOSYS so libc can fall back */
  if (syscall (SYS_process_madvise, -1, NULL, 0, 0, 0) != -1 || errno != ENOSYS)
    return 2;
  if (syscall (SYS_getppid) <= 0)
    return 3;
  return 0;
}

/* The allow lists carry what the ASan runtime needs too (mmap, sigaltstack...). */
static void
test_enosys_newer (void)
{
  cleanup_config struct oci_config *c = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"getppid\",\"exit_group\",\"exit\",\"write\",\"rt_sigreturn\",\"mmap\",\"munmap\",\"mprotect\",\"madvise\",\"sigaltstack\",\"rt_sigaction\",\"rt_sigprocmask\",\"futex\",\"brk\",\"prctl\",\"gettid\",\"sched_yield\"],"
      "\"action\":\"SCMP_ACT_ALLOW\"}]}");
  if (c)
    {
      int r = in_child (c->linux_->seccomp, enosys_child);
      T_CHECK (r == 0, "ENOSYS for newer syscalls: step %d", r);
    }
  /* with KILL as the default the stub still answers ENOSYS instead of killing */
  cleanup_config struct oci_config *k = cfg (
      "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\",\"syscalls\":[{\"names\":[\"getppid\",\"exit_group\",\"exit\",\"write\",\"rt_sigreturn\",\"mmap\",\"munmap\",\"mprotect\",\"madvise\",\"sigaltstack\",\"rt_sigaction\",\"rt_sigprocmask\",\"futex\",\"brk\",\"prctl\",\"gettid\",\"sched_yield\"],"
      "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
  if (k)
    {
      int r = in_child (k->linux_->seccomp, enosys_child);
      T_CHECK (r == 0, "ENOSYS with KILL default: step %d", r);
    }
}

static int
kill_child (const struct oci_seccomp *s)
{
  (void) s;
  syscall (SYS_getppid);
  return 0;   /* not reached */
}

static int
notify_child (const struct oci_seccomp *s)
{
  (void) s;
  return 0;
}

static void
test_actions_and_flags (void)
{
  const char *kills[] = { "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD" };
  for (int i = 0; i < 3; i++)
    {
      cleanup_free char *j = xasprintf ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
                                        "\"action\":\"%s\"}]}", kills[i]);
      cleanup_config struct oci_config *c = cfg (j);
      if (c)
        {
          int r = in_child (c->linux_->seccomp, kill_child);
          T_CHECK (r == 200 + SIGSYS, "%s: child status %d", kills[i], r);
        }
    }
  cleanup_config struct oci_config *t = cfg ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
                                             "\"action\":\"SCMP_ACT_TRAP\"}]}");
  if (t)
    T_CHECK (in_child (t->linux_->seccomp, kill_child) == 200 + SIGSYS, "trap -> SIGSYS");

  /* flags, LOG and TRACE actions load; NOTIFY gives a listener fd */
  cleanup_config struct oci_config *f = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\","
      "\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],"
      "\"syscalls\":[{\"names\":[\"uname\"],\"action\":\"SCMP_ACT_LOG\"},{\"names\":[\"sync\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":5}]}");
  if (f)
    T_CHECK (in_child (f->linux_->seccomp, notify_child) == 0, "flags + LOG + TRACE load");

  cleanup_config struct oci_config *n = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
      "\"syscalls\":[{\"names\":[\"mknodat\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}");
  if (n)
    {
      T_CHECK (cr_seccomp_uses_notify (n->linux_->seccomp), "uses notify");
      pid_t pid = fork ();
      if (pid == 0)
        {
          cr_error_t err = NULL;
          int fd = -1;
          if (cr_seccomp_load (n->linux_->seccomp, &fd, &err) < 0)
            {
              fprintf (stderr, "notify load: %s\n", err->msg);
              _exit (1);
            }
          char link[64] = "", path[64];
          snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
          if (fd < 0 || readlink (path, link, sizeof link - 1) < 0)
            _exit (2);
          _exit (strstr (link, "seccomp") ? 0 : 3);
        }
      int st;
      waitpid (pid, &st, 0);
      T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "notify listener fd (status %#x)", st);
    }
}

static void
expect_build_err (struct oci_seccomp *s, const char *msg)
{
  scmp_filter_ctx ctx = NULL;
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_seccomp_build (s, &ctx, &err) < 0, "accepted, expected %s", msg);
  if (ctx)
    seccomp_release (ctx);
  T_STREQ (err ? err->msg : NULL, msg);
}

static void
test_errors (void)
{
  cleanup_config struct oci_config *c = cfg (
      "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
      "\"syscalls\":[{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}");
  if (c == NULL)
    return;
  struct oci_seccomp *s = c->linux_->seccomp;
  char *saved = s->syscalls[0].action;
  s->syscalls[0].action = "SCMP_ACT_BOGUS";
  expect_build_err (s, "linux.seccomp.syscalls[0]: unknown seccomp action \"SCMP_ACT_BOGUS\"");
  s->syscalls[0].has_errno_ret = true;
  s->syscalls[0].action = "SCMP_ACT_KILL";
  expect_build_err (s, "linux.seccomp.syscalls[0]: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_KILL");
  s->syscalls[0].has_errno_ret = false;
  s->syscalls[0].action = saved;
  s->syscalls[0].args[0].op = (enum oci_seccomp_op) 42;
  expect_build_err (s, "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator");
  s->syscalls[0].args[0].op = OCI_SCMP_EQ;
  char *arch = s->architectures[0];
  s->architectures[0] = "SCMP_ARCH_VAX";
  expect_build_err (s, "linux.seccomp.architectures[0]: unknown seccomp architecture \"SCMP_ARCH_VAX\"");
  s->architectures[0] = arch;
  char *def = s->default_action;
  s->default_action = "SCMP_ACT_NOTIFY";
  expect_build_err (s, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  s->default_action = def;

  scmp_filter_ctx ctx = NULL;
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_seccomp_build (s, &ctx, &err) == 0 && ctx != NULL, "restored profile builds: %s", err ? err->msg : "");
  if (ctx)
    seccomp_release (ctx);
  T_CHECK (cr_seccomp_load (NULL, NULL, &err) == 0, "NULL profile is a no-op");
}

static void
test_fixtures (void)
{
  const char *src = getenv ("CAPSULE_SRC");
  const char *names[] = { "config-full.json", "config-containerd.json" };
  for (int i = 0; i < 2; i++)
    {
      cleanup_free char *path = src ? xasprintf ("%s/tests/unit/data/%s", src, names[i]) : NULL;
      if (path == NULL)
        {
          printf ("SKIP fixture %s: CAPSULE_SRC not set\n", names[i]);
          continue;
        }
      cleanup_error cr_error_t err = NULL;
      cleanup_config struct oci_config *c = oci_config_load (path, &err);
      T_CHECK (c && c->linux_ && c->linux_->seccomp, "%s: %s", names[i], err ? err->msg : "");
      if (!c || !c->linux_ || !c->linux_->seccomp)
        continue;
      scmp_filter_ctx ctx = NULL;
      T_CHECK (cr_seccomp_build (c->linux_->seccomp, &ctx, &err) == 0, "%s builds: %s", names[i], err ? err->msg : "");
      if (ctx)
        seccomp_release (ctx);
    }
}

/* The notify fd reaches a listener with the containerProcessState JSON. */
static void
test_send_listener (void)
{
  cleanup_free char *path = xasprintf ("%s/agent.sock", tmpdir);
  cleanup_close int lsock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
  T_CHECK (bind (lsock, (struct sockaddr *) &addr, sizeof addr) == 0 && listen (lsock, 1) == 0, "listener");
  cleanup_close int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_seccomp_send_listener (path, fd, 4242, "MKNOD=/dev/null;Q=\"x\"", "{\"id\":\"c1\"}", &err) == 0,
           "send: %s", err ? err->msg : "");
  cleanup_close int conn = accept4 (lsock, NULL, NULL, SOCK_CLOEXEC);
  char buf[1024] = "";
  union { char b[CMSG_SPACE (sizeof (int))]; struct cmsghdr a; } ctl;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
  ssize_t n = recvmsg (conn, &mh, MSG_CMSG_CLOEXEC);
  T_CHECK (n > 0, "recvmsg");
  T_STREQ (buf, "{\"ociVersion\":\"1.2.0\",\"fds\":[\"seccompFd\"],\"pid\":4242,"
                "\"metadata\":\"MKNOD=/dev/null;Q=\\\"x\\\"\",\"state\":{\"id\":\"c1\"}}");
  struct cmsghdr *cm = CMSG_FIRSTHDR (&mh);
  T_CHECK (cm && cm->cmsg_type == SCM_RIGHTS, "fd passed");
  if (cm && cm->cmsg_type == SCM_RIGHTS)
    {
      int got;
      memcpy (&got, CMSG_DATA (cm), sizeof got);
      struct stat a, b;
      T_CHECK (fstat (got, &a) == 0 && fstat (fd, &b) == 0 && a.st_ino == b.st_ino && a.st_rdev == b.st_rdev,
               "same file");
      close (got);
    }
  cleanup_error cr_error_t e2 = NULL;
  T_CHECK (cr_seccomp_send_listener (NULL, fd, 1, NULL, NULL, &e2) < 0, "no listener path");
  T_STREQ (e2 ? e2->msg : NULL, "seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath: Invalid argument");
}

/* SCMP_ACT_NOTIFY end to end: the child hands its listener fd to us, we
 * answer its mkdir with errno 77. */
static void
test_notify_roundtrip (void)
{
  cleanup_free char *path = xasprintf ("%s/notify.sock", tmpdir);
  cleanup_close int lsock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
  T_CHECK (bind (lsock, (struct sockaddr *) &addr, sizeof addr) == 0 && listen (lsock, 1) == 0, "listener");
  /* never hang the suite if the child fails before connecting */
  struct timeval tv = { .tv_sec = 20 };
  setsockopt (lsock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  cleanup_config struct oci_config *c = cfg ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"x\","
                                             "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}");
  if (c == NULL)
    return;
  pid_t pid = fork ();
  if (pid == 0)
    {
      cr_error_t err = NULL;
      int fd = -1;
      if (cr_seccomp_load (c->linux_->seccomp, &fd, &err) < 0
          || cr_seccomp_send_listener (path, fd, getpid (), "m", "{}", &err) < 0)
        {
          fprintf (stderr, "child: %s\n", err->msg);
          _exit (1);
        }
      close (fd);
      if (syscall (SYS_mkdir, "/nonexistent-capsule-dir/x", 0700) != -1 || errno != 77)
        _exit (2);
      _exit (0);
    }
  cleanup_close int conn = accept4 (lsock, NULL, NULL, SOCK_CLOEXEC);
  setsockopt (conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  union { char b[CMSG_SPACE (sizeof (int))]; struct cmsghdr a; } ctl;
  struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
  int nfd = -1;
  if (recvmsg (conn, &mh, MSG_CMSG_CLOEXEC) > 0 && CMSG_FIRSTHDR (&mh))
    memcpy (&nfd, CMSG_DATA (CMSG_FIRSTHDR (&mh)), sizeof nfd);
  T_CHECK (nfd >= 0, "got the notify fd");
  if (nfd >= 0)
    {
      struct seccomp_notif *req = NULL;
      struct seccomp_notif_resp *resp = NULL;
      T_CHECK (seccomp_notify_alloc (&req, &resp) == 0, "alloc");
      T_CHECK (seccomp_notify_receive (nfd, req) == 0, "receive");
      T_CHECK (req->data.nr == SYS_mkdir && req->pid == (uint32_t) pid, "nr %d pid %u", req->data.nr, req->pid);
      resp->id = req->id;
      resp->error = -77;
      resp->val = 0;
      resp->flags = 0;
      T_CHECK (seccomp_notify_respond (nfd, resp) == 0, "respond");
      seccomp_notify_free (req, resp);
      close (nfd);
    }
  int st = 0;
  waitpid (pid, &st, 0);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "notify child status %#x", st);
}

static void
test_features (void)
{
  const char *const *a = cr_seccomp_actions ();
  int n = 0;
  bool notify = false;
  for (; a[n]; n++)
    notify |= strcmp (a[n], "SCMP_ACT_NOTIFY") == 0;
  T_CHECK (n == 9 && notify, "actions %d", n);
  const char *const *ar = cr_seccomp_archs ();
  bool x86_64 = false;
  for (n = 0; ar[n]; n++)
    x86_64 |= strcmp (ar[n], "SCMP_ARCH_X86_64") == 0;
  T_CHECK (x86_64 && n >= 19, "archs %d", n);
  const char *const *o = cr_seccomp_operators ();
  for (n = 0; o[n]; n++)
    ;
  T_CHECK (n == 7, "operators %d", n);
  T_STREQ (o[6], "SCMP_CMP_MASKED_EQ");
  const char *const *f = cr_seccomp_flags ();
  for (n = 0; f[n]; n++)
    ;
  T_CHECK (n == 4, "flags %d", n);
}

int
main (void)
{
  if (mkdtemp (tmpdir) == NULL)
    return 1;
  test_deny_list ();
  test_allow_list ();
  test_args ();
  test_enosys_newer ();
  test_actions_and_flags ();
  test_errors ();
  test_fixtures ();
  test_features ();
  test_send_listener ();
  test_notify_roundtrip ();
  cleanup_error cr_error_t err = NULL;
  rm_rf (tmpdir, &err);
  return t_done ();
}
