/* Attacks run from inside a capsule by the tests/capsule scripts (a static binary
 * copied into the rootfs).  `capsule-attack NAME` tries one thing and
 * prints "NAME: SUCCEEDED" (exit 1) or "NAME: denied: <errno name>" (exit 0
 * when the errno is the expected one, else 2). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int
result (const char *name, long r, int want)
{
  if (r >= 0)
    {
      printf ("%s: SUCCEEDED\n", name);
      return 1;
    }
  int e = errno;
  printf ("%s: denied: %s (%d)\n", name, strerrorname_np (e) ? strerrorname_np (e) : "?", e);
  return e == want ? 0 : 2;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: capsule-attack NAME\n");
      return 3;
    }
  const char *n = argv[1];
  errno = 0;
  if (strcmp (n, "ptrace") == 0)
    {
      pid_t p = fork ();
      if (p == 0)
        {
          pause ();
          _exit (0);
        }
      long r = ptrace (PTRACE_ATTACH, p, NULL, NULL);
      int e = errno;
      kill (p, SIGKILL);
      waitpid (p, NULL, 0);
      errno = e;
      return result (n, r, EPERM);
    }
  if (strcmp (n, "bpf") == 0)
    return result (n, syscall (SYS_bpf, 5 /* BPF_PROG_LOAD */, NULL, 0), EPERM);
  if (strcmp (n, "keyctl") == 0)
    return result (n, syscall (SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, NULL), EPERM);
  if (strcmp (n, "add_key") == 0)
    return result (n, syscall (SYS_add_key, "user", "k", "v", 1, -3), EPERM);
  if (strcmp (n, "io_uring") == 0)
    {
      char params[120] = { 0 };
      return result (n, syscall (SYS_io_uring_setup, 4, params), EPERM);
    }
  if (strcmp (n, "perf") == 0)
    {
      char attr[128] = { 0 };
      *(unsigned *) (attr + 4) = sizeof attr; /* size */
      return result (n, syscall (SYS_perf_event_open, attr, 0, -1, -1, 0), EPERM);
    }
  if (strcmp (n, "userfaultfd") == 0)
    return result (n, syscall (SYS_userfaultfd, 0), EPERM);
  if (strcmp (n, "raw-socket") == 0)
    return result (n, socket (AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
  if (strcmp (n, "raw6-socket") == 0)
    return result (n, socket (AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM);
  if (strcmp (n, "packet-socket") == 0)
    return result (n, socket (AF_PACKET, SOCK_RAW, 0), EPERM);
  if (strcmp (n, "vsock") == 0)
    return result (n, socket (AF_VSOCK, SOCK_STREAM, 0), EPERM);
  if (strcmp (n, "unshare-user") == 0)
    return result (n, unshare (CLONE_NEWUSER), EPERM);
  if (strcmp (n, "unshare-net") == 0)
    return result (n, unshare (CLONE_NEWNET), EPERM);
  if (strcmp (n, "clone-newns") == 0)
    return result (n, syscall (SYS_clone, CLONE_NEWNS | CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM);
  if (strcmp (n, "clone3") == 0)
    return result (n, syscall (SYS_clone3, NULL, 0), ENOSYS);
  if (strcmp (n, "setns") == 0)
    {
      int fd = open ("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
      return result (n, setns (fd, 0), EPERM);
    }
  if (strcmp (n, "mount") == 0)
    return result (n, mount ("none", "/workspace", "tmpfs", 0, NULL), EPERM);
  if (strcmp (n, "remount-root") == 0)
    return result (n, mount (NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL), EPERM);
  if (strcmp (n, "fsopen") == 0)
    return result (n, syscall (SYS_fsopen, "tmpfs", 0), EPERM);
  if (strcmp (n, "open_tree") == 0)
    return result (n, syscall (SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */), EPERM);
  if (strcmp (n, "tiocsti") == 0)
    {
      char c = 'x';
      return result (n, ioctl (0, TIOCSTI, &c), EPERM);
    }
  if (strcmp (n, "kexec") == 0)
    return result (n, syscall (SYS_kexec_load, 0, 0, NULL, 0), EPERM);
  if (strcmp (n, "init_module") == 0)
    return result (n, syscall (SYS_init_module, "", 0, ""), EPERM);
  if (strcmp (n, "euid") == 0)
    {
      /* Installed setuid-root: did exec grant root? */
      printf ("euid: %d\n", (int) geteuid ());
      return geteuid () == 0 ? 1 : 0;
    }
  if (strcmp (n, "chroot") == 0)
    return result (n, chroot ("/tmp"), EPERM);
  fprintf (stderr, "unknown attack %s\n", n);
  return 3;
}
