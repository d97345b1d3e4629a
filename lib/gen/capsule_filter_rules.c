/* The capsule seccomp filter's rules (listed in lib/confine.h), added to a
 * libseccomp context.  Compiled to BPF once, at build time, by
 * capsule-filter-gen: the runtime loads the program as it is, so no capsule
 * start pays for libseccomp's compiler (0.3-0.5 ms here).  A unit test
 * (tests/unit/test_capsule_filter.c) recompiles these rules with the
 * installed libseccomp and checks the embedded program is the same. */
#include "capsule_filter_rules.h"

#include <errno.h>
#include <linux/sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static const char *const deny_eperm[] = {
  "unshare", "setns",
  "mount", "umount2", "pivot_root", "chroot",
  "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
  "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
  "bpf",
  "keyctl", "add_key", "request_key",
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "kexec_load", "kexec_file_load",
  "init_module", "finit_module", "delete_module",
  "perf_event_open",
  "userfaultfd",
  "open_by_handle_at",
};

/* CLONE_NEWTIME (0x80) is not here: in clone()'s flags that bit is part of
 * the exit signal; it only exists for clone3, which answers ENOSYS. */
static const unsigned long clone_new_flags[] = {
  CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

#define SOCK_TYPE_MASK 0xf

static int
add (scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp, char *what,
     size_t what_len)
{
  int nr = seccomp_syscall_resolve_name (name);
  if (nr == __NR_SCMP_ERROR)
    return 0; /* not a syscall on this architecture */
  int r = seccomp_rule_add_array (ctx, action, nr, n, cmp);
  if (r < 0)
    snprintf (what, what_len, "rule for %s", name);
  return r;
}

int
capsule_filter_rules (scmp_filter_ctx ctx, char *what, size_t what_len)
{
  const uint32_t eperm = SCMP_ACT_ERRNO (EPERM);
  int r;
  /* Only the native ABI: i386 and x32 entry points are a classic way around filters. */
  if ((r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
    {
      snprintf (what, what_len, "bad-arch action");
      return r;
    }
  /* A binary tree over syscall numbers, not a linear scan: fewer
   * instructions per syscall, and the kernel's per-syscall cache (which
   * runs the filter once for every syscall number at load) builds faster. */
  if ((r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0)
    {
      snprintf (what, what_len, "optimize attribute");
      return r;
    }
  for (size_t i = 0; i < sizeof deny_eperm / sizeof deny_eperm[0]; i++)
    if ((r = add (ctx, eperm, deny_eperm[i], 0, NULL, what, what_len)) < 0)
      return r;
  for (size_t i = 0; i < sizeof clone_new_flags / sizeof clone_new_flags[0]; i++)
    {
      struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_MASKED_EQ, clone_new_flags[i], clone_new_flags[i]);
      if ((r = add (ctx, eperm, "clone", 1, &c, what, what_len)) < 0)
        return r;
    }
  if ((r = add (ctx, SCMP_ACT_ERRNO (ENOSYS), "clone3", 0, NULL, what, what_len)) < 0)
    return r;
  /* ioctl's request is an unsigned int: compare the low 32 bits only. */
  static const unsigned long tty_inject[] = { TIOCSTI, TIOCLINUX };
  for (size_t i = 0; i < 2; i++)
    {
      struct scmp_arg_cmp c = SCMP_A1_64 (SCMP_CMP_MASKED_EQ, 0xffffffffUL, tty_inject[i]);
      if ((r = add (ctx, eperm, "ioctl", 1, &c, what, what_len)) < 0)
        return r;
    }
  /* socket(): families other than unix, inet, inet6, netlink.  Any value
   * with high bits set also lands in "> AF_NETLINK" and is refused. */
  static const struct { enum scmp_compare op; uint64_t a, b; } fam_deny[] = {
    { SCMP_CMP_EQ, AF_UNSPEC, 0 }, { SCMP_CMP_GT, AF_NETLINK, 0 },
  };
  for (size_t i = 0; i < sizeof fam_deny / sizeof fam_deny[0]; i++)
    {
      struct scmp_arg_cmp c = { .arg = 0, .op = fam_deny[i].op, .datum_a = fam_deny[i].a, .datum_b = fam_deny[i].b };
      if ((r = add (ctx, eperm, "socket", 1, &c, what, what_len)) < 0)
        return r;
    }
  for (uint64_t f = AF_INET + 1; f < AF_NETLINK; f++)
    if (f != AF_INET6)
      {
        struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_EQ, f);
        if ((r = add (ctx, eperm, "socket", 1, &c, what, what_len)) < 0)
          return r;
      }
  static const uint64_t raw_fams[] = { AF_INET, AF_INET6 };
  for (size_t i = 0; i < 2; i++)
    {
      struct scmp_arg_cmp c[2] = { SCMP_A0_64 (SCMP_CMP_EQ, raw_fams[i]),
                                   SCMP_A1_64 (SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_RAW) };
      if ((r = add (ctx, eperm, "socket", 2, c, what, what_len)) < 0)
        return r;
    }
  {
    struct scmp_arg_cmp c = SCMP_A1_64 (SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_PACKET);
    if ((r = add (ctx, eperm, "socket", 1, &c, what, what_len)) < 0)
      return r;
  }
  {
    struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_NE, AF_UNIX);
    if ((r = add (ctx, eperm, "socketpair", 1, &c, what, what_len)) < 0)
      return r;
  }
  return 0;
}

int
capsule_filter_compile (unsigned char **prog, size_t *len, char *what, size_t what_len)
{
  *prog = NULL;
  *len = 0;
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (ctx == NULL)
    {
      snprintf (what, what_len, "init");
      return -ENOMEM;
    }
  int r = capsule_filter_rules (ctx, what, what_len);
  /* Exported through a memory file: the same program seccomp_load() would load. */
  int fd = r == 0 ? memfd_create ("capsule-filter", MFD_CLOEXEC) : -1;
  if (r == 0 && fd < 0)
    {
      r = -errno;
      snprintf (what, what_len, "memfd_create");
    }
  if (r == 0 && (r = seccomp_export_bpf (ctx, fd)) < 0)
    snprintf (what, what_len, "export");
  seccomp_release (ctx);
  struct stat st;
  if (r == 0 && fstat (fd, &st) < 0)
    r = -errno;
  if (r == 0)
    {
      *prog = malloc (st.st_size ? (size_t) st.st_size : 1);
      if (*prog == NULL || pread (fd, *prog, (size_t) st.st_size, 0) != st.st_size)
        {
          free (*prog);
          *prog = NULL;
          snprintf (what, what_len, "read the exported program");
          r = -EIO;
        }
      else
        *len = (size_t) st.st_size;
    }
  if (fd >= 0)
    close (fd);
  return r;
}
