/* Capsule confinement in a forked child: the Landlock ruleset (writes only
 * below the writable paths) and the capsule seccomp filter (each denied
 * call attempted and shown to fail; fork/exec and ordinary sockets still work). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/confine.h"
#include "lib/landlock.h"
#include "lib/util.h"
#include "t.h"

#define DENIED(call, want)                                                                                             \
  do                                                                                                                   \
    {                                                                                                                  \
      errno = 0;                                                                                                       \
      long _r = (long) (call);                                                                                         \
      T_CHECK (_r == -1 && errno == (want), "%s: returned %ld errno %d (%s), want %s", #call, _r, errno,              \
               strerror (errno), #want);                                                                               \
    }                                                                                                                  \
  while (0)

static int
wr (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  int r = write (fd, "x", 1) == 1 ? 0 : -1;
  close (fd);
  return r;
}

/* Run fn in a child; returns its wait status. */
static int
in_child (void (*fn) (void *), void *arg)
{
  fflush (NULL);
  pid_t p = fork ();
  if (p == 0)
    {
      fn (arg);
      int r = t_done ();
      fflush (NULL);
      _exit (r);
    }
  int st = 0;
  waitpid (p, &st, 0);
  return st;
}

static const char *dir;

static void
landlock_child (void *arg)
{
  int abi = *(int *) arg;
  char *w = xasprintf ("%s/w", dir), *ro = xasprintf ("%s/ro", dir);
  char *wf = xasprintf ("%s/w/new", dir), *rof = xasprintf ("%s/ro/new", dir), *old = xasprintf ("%s/ro/old", dir);
  char *sub = xasprintf ("%s/ro/sub", dir), *moved = xasprintf ("%s/w/old", dir);
  char *const writable[] = { w };
  cr_error_t err = NULL;
  T_CHECK (capsule_landlock_apply (writable, 1, abi, &err) == 0, "apply: %s", err ? err->msg : "");
  T_CHECK (wr (wf) == 0, "write below writable path");
  errno = 0;
  T_CHECK (wr (rof) < 0 && errno == EACCES, "create outside: errno %d", errno);
  errno = 0;
  T_CHECK (open (old, O_WRONLY | O_CLOEXEC) < 0 && errno == EACCES, "open existing for write outside: errno %d", errno);
  DENIED (unlink (old), EACCES);
  DENIED (mkdir (sub, 0755), EACCES);
  DENIED (symlink ("x", sub), EACCES);
  DENIED (mkfifo (sub, 0644), EACCES);
  errno = 0;
  long r = rename (old, moved);
  T_CHECK (r < 0 && (errno == EACCES || errno == EXDEV), "rename out of read-only tree: errno %d", errno);
  if (abi >= 3)
    DENIED (truncate (old, 0), EACCES);
  /* Reading stays allowed; /dev/null stays writable. */
  int fd = open (old, O_RDONLY | O_CLOEXEC);
  T_CHECK (fd >= 0, "read outside");
  if (fd >= 0)
    close (fd);
  T_CHECK (wr ("/dev/null") == 0, "write /dev/null");
  DENIED (mknod ("/dev/capsule-test-node", S_IFREG | 0600, 0), EACCES);
  /* Children inherit the domain. */
  pid_t p = fork ();
  if (p == 0)
    _exit (wr (rof) < 0 && errno == EACCES ? 0 : 1);
  int st;
  waitpid (p, &st, 0);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "child inherits Landlock");
  (void) ro;
}

static void
x32_call (void *arg)
{
  (void) arg;
  syscall (0x40000000 | SYS_getpid);
  _exit (0);
}

static void
i386_call (void *arg)
{
  (void) arg;
  long ret;
  /* getpid through the 32-bit entry point. */
  __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
  _exit (0);
}

static void
seccomp_child (void *arg)
{
  (void) arg;
  cr_error_t err = NULL;
  T_CHECK (capsule_seccomp_load (&err) == 0, "load: %s", err ? err->msg : "");
  DENIED (unshare (CLONE_NEWNS), EPERM);
  DENIED (unshare (CLONE_NEWUSER), EPERM);
  DENIED (unshare (0), EPERM);
  int nsfd = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  DENIED (setns (nsfd, 0), EPERM);
  DENIED (mount ("none", "/tmp", "tmpfs", 0, NULL), EPERM);
  DENIED (umount2 ("/tmp", MNT_DETACH), EPERM);
  DENIED (syscall (SYS_pivot_root, ".", "."), EPERM);
  DENIED (chroot ("/"), EPERM);
  DENIED (syscall (SYS_fsopen, "tmpfs", 0), EPERM);
  DENIED (syscall (SYS_fsmount, 3, 0, 0), EPERM);
  DENIED (syscall (SYS_fspick, AT_FDCWD, "/", 0), EPERM);
  DENIED (syscall (SYS_open_tree, AT_FDCWD, "/", 1), EPERM);
  DENIED (syscall (SYS_move_mount, -1, "", -1, "", 0), EPERM);
  DENIED (syscall (SYS_mount_setattr, -1, "", 0, NULL, 0), EPERM);
  DENIED (ptrace (PTRACE_TRACEME, 0, NULL, NULL), EPERM);
  DENIED (ptrace (PTRACE_ATTACH, getppid (), NULL, NULL), EPERM);
  DENIED (syscall (SYS_process_vm_readv, getppid (), NULL, 0, NULL, 0, 0), EPERM);
  DENIED (syscall (SYS_process_vm_writev, getppid (), NULL, 0, NULL, 0, 0), EPERM);
  DENIED (syscall (SYS_bpf, 0, NULL, 0), EPERM);
  DENIED (syscall (SYS_keyctl, 0, 0, 0, 0, 0), EPERM);
  DENIED (syscall (SYS_add_key, "user", "x", "y", 1, 0), EPERM);
  DENIED (syscall (SYS_request_key, "user", "x", NULL, 0), EPERM);
  DENIED (syscall (SYS_io_uring_setup, 8, NULL), EPERM);
  DENIED (syscall (SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0), EPERM);
  DENIED (syscall (SYS_io_uring_register, 0, 0, NULL, 0), EPERM);
  DENIED (syscall (SYS_kexec_load, 0, 0, NULL, 0), EPERM);
  DENIED (syscall (SYS_kexec_file_load, -1, -1, 0, "", 0), EPERM);
  DENIED (syscall (SYS_init_module, NULL, 0, ""), EPERM);
  DENIED (syscall (SYS_finit_module, -1, "", 0), EPERM);
  DENIED (syscall (SYS_delete_module, "x", 0), EPERM);
  DENIED (syscall (SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
  DENIED (syscall (SYS_userfaultfd, 0), EPERM);
  DENIED (syscall (SYS_pidfd_getfd, -1, 0, 0), EPERM);
  DENIED (syscall (SYS_open_by_handle_at, -1, NULL, 0), EPERM);
  /* TIOCSTI / TIOCLINUX on the low 32 bits, whatever the high bits say. */
  char c = 'x';
  DENIED (ioctl (0, TIOCSTI, &c), EPERM);
  DENIED (syscall (SYS_ioctl, 0, 0xabcd00000000UL | TIOCSTI, &c), EPERM);
  DENIED (syscall (SYS_ioctl, 0, (unsigned long) TIOCLINUX, &c), EPERM);
  /* Sockets: only unix, inet, inet6, netlink; no raw or packet types. */
  DENIED (socket (AF_PACKET, SOCK_RAW, 0), EPERM);
  DENIED (socket (AF_VSOCK, SOCK_STREAM, 0), EPERM);
  DENIED (socket (AF_UNSPEC, SOCK_STREAM, 0), EPERM);
  DENIED (socket (AF_BLUETOOTH, SOCK_STREAM, 0), EPERM);
  DENIED (socket (AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
  DENIED (socket (AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW), EPERM);
  DENIED (socket (AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM);
  DENIED (socket (AF_INET, SOCK_PACKET, 0), EPERM);
  DENIED (syscall (SYS_socket, 0x100000000UL | AF_INET, SOCK_STREAM, 0), EPERM);
  DENIED (socketpair (AF_INET, SOCK_STREAM, 0, (int[2]){ 0, 0 }), EPERM);
  int s;
  T_CHECK ((s = socket (AF_INET, SOCK_STREAM, 0)) >= 0, "tcp socket allowed");
  close (s);
  T_CHECK ((s = socket (AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0, "udp6 socket allowed");
  close (s);
  T_CHECK ((s = socket (AF_UNIX, SOCK_STREAM, 0)) >= 0, "unix socket allowed");
  close (s);
  T_CHECK ((s = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0)) >= 0, "netlink socket allowed");
  close (s);
  int sv[2];
  T_CHECK (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) == 0, "unix socketpair allowed");
  /* clone3 answers ENOSYS; clone with namespace flags EPERM; fork and exec work. */
  DENIED (syscall (SYS_clone3, NULL, 0), ENOSYS);
  DENIED (syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM);
  DENIED (syscall (SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), EPERM);
  DENIED (syscall (SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0), EPERM);
  fflush (NULL);
  pid_t p = fork ();
  if (p == 0)
    {
      execl ("/bin/sh", "sh", "-c", "exit 7", (char *) NULL);
      _exit (1);
    }
  int st = 0;
  T_CHECK (p > 0 && waitpid (p, &st, 0) == p && WIFEXITED (st) && WEXITSTATUS (st) == 7, "fork+exec: status %d", st);
  /* Non-native ABIs kill the process. */
  st = in_child (x32_call, NULL);
  T_CHECK (WIFSIGNALED (st) && WTERMSIG (st) == SIGSYS, "x32 call killed (status %d)", st);
  st = in_child (i386_call, NULL);
  T_CHECK (WIFSIGNALED (st) && WTERMSIG (st) == SIGSYS, "i386 call killed (status %d)", st);
}

int
main (void)
{
  char tmpl[] = "/tmp/test-landlock.XXXXXX";
  dir = mkdtemp (tmpl);
  T_CHECK (dir != NULL, "mkdtemp");
  char *w = xasprintf ("%s/w", dir), *ro = xasprintf ("%s/ro", dir), *old = xasprintf ("%s/ro/old", dir);
  mkdir (w, 0755);
  mkdir (ro, 0755);
  T_CHECK (wr (old) == 0, "setup");
  int abi = capsule_landlock_abi ();
  printf ("landlock ABI %d\n", abi);
  if (abi > 0)
    {
      int st = in_child (landlock_child, &abi);
      T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "landlock child: status %d", st);
      /* A recorded ABI above the kernel's is refused (fail closed). */
      int hi = abi + 1;
      char *const wv[] = { w };
      cr_error_t err = NULL;
      pid_t p = fork ();
      if (p == 0)
        _exit (capsule_landlock_apply (wv, 1, hi, &err) < 0 ? 0 : 1);
      waitpid (p, &st, 0);
      T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "higher ABI refused");
    }
  else
    printf ("SKIP: Landlock not available: Landlock part not run\n");
  int st = in_child (seccomp_child, NULL);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "seccomp child: status %d", st);
  char *cmd = xasprintf ("rm -rf %s", dir);
  T_CHECK (system (cmd) == 0, "cleanup");
  free (cmd);
  free (w);
  free (ro);
  free (old);
  return t_done ();
}
