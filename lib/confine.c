/* Child-side capsule confinement: the LSM label for execve, Landlock, then
 * the capsule seccomp filter (the list is in confine.h). */
#include "confine.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "admission.h"
#include "landlock.h"
#include "lsm.h"

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
add (scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n, const struct scmp_arg_cmp *cmp, cr_error_t *err)
{
  int nr = seccomp_syscall_resolve_name (name);
  if (nr == __NR_SCMP_ERROR)
    return 0; /* not a syscall on this architecture */
  int r = seccomp_rule_add_array (ctx, action, nr, n, cmp);
  if (r < 0)
    return cr_error (err, -r, "capsule seccomp: rule for %s", name);
  return 0;
}

static int
build (scmp_filter_ctx ctx, cr_error_t *err)
{
  const uint32_t eperm = SCMP_ACT_ERRNO (EPERM);
  int r;
  /* Only the native ABI: i386 and x32 entry points are a classic way around filters. */
  if ((r = seccomp_attr_set (ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
    return cr_error (err, -r, "capsule seccomp: bad-arch action");
  for (size_t i = 0; i < sizeof deny_eperm / sizeof deny_eperm[0]; i++)
    if (add (ctx, eperm, deny_eperm[i], 0, NULL, err) < 0)
      return -1;
  for (size_t i = 0; i < sizeof clone_new_flags / sizeof clone_new_flags[0]; i++)
    {
      struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_MASKED_EQ, clone_new_flags[i], clone_new_flags[i]);
      if (add (ctx, eperm, "clone", 1, &c, err) < 0)
        return -1;
    }
  if (add (ctx, SCMP_ACT_ERRNO (ENOSYS), "clone3", 0, NULL, err) < 0)
    return -1;
  /* ioctl's request is an unsigned int: compare the low 32 bits only. */
  static const unsigned long tty_inject[] = { TIOCSTI, TIOCLINUX };
  for (size_t i = 0; i < 2; i++)
    {
      struct scmp_arg_cmp c = SCMP_A1_64 (SCMP_CMP_MASKED_EQ, 0xffffffffUL, tty_inject[i]);
      if (add (ctx, eperm, "ioctl", 1, &c, err) < 0)
        return -1;
    }
  /* socket(): families other than unix, inet, inet6, netlink.  Any value
   * with high bits set also lands in "> AF_NETLINK" and is refused. */
  static const struct { enum scmp_compare op; uint64_t a, b; } fam_deny[] = {
    { SCMP_CMP_EQ, AF_UNSPEC, 0 }, { SCMP_CMP_GT, AF_NETLINK, 0 },
  };
  for (size_t i = 0; i < sizeof fam_deny / sizeof fam_deny[0]; i++)
    {
      struct scmp_arg_cmp c = { .arg = 0, .op = fam_deny[i].op, .datum_a = fam_deny[i].a, .datum_b = fam_deny[i].b };
      if (add (ctx, eperm, "socket", 1, &c, err) < 0)
        return -1;
    }
  for (uint64_t f = AF_INET + 1; f < AF_NETLINK; f++)
    if (f != AF_INET6)
      {
        struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_EQ, f);
        if (add (ctx, eperm, "socket", 1, &c, err) < 0)
          return -1;
      }
  static const uint64_t raw_fams[] = { AF_INET, AF_INET6 };
  for (size_t i = 0; i < 2; i++)
    {
      struct scmp_arg_cmp c[2] = { SCMP_A0_64 (SCMP_CMP_EQ, raw_fams[i]),
                                   SCMP_A1_64 (SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_RAW) };
      if (add (ctx, eperm, "socket", 2, c, err) < 0)
        return -1;
    }
  {
    struct scmp_arg_cmp c = SCMP_A1_64 (SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_PACKET);
    if (add (ctx, eperm, "socket", 1, &c, err) < 0)
      return -1;
  }
  {
    struct scmp_arg_cmp c = SCMP_A0_64 (SCMP_CMP_NE, AF_UNIX);
    if (add (ctx, eperm, "socketpair", 1, &c, err) < 0)
      return -1;
  }
  return 0;
}

int
capsule_seccomp_load (cr_error_t *err)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  if (ctx == NULL)
    return cr_error (err, ENOMEM, "capsule seccomp: init");
  int ret = build (ctx, err);
  if (ret == 0 && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    ret = cr_error_errno (err, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (ret == 0)
    {
      int r = seccomp_load (ctx);
      if (r < 0)
        ret = cr_error (err, -r, "capsule seccomp: load filter");
    }
  seccomp_release (ctx);
  return ret;
}

int
capsule_confine_child (const struct capsule_effective *eff, cr_error_t *err)
{
  /* Before Landlock, which would refuse the write to /proc; for exec'd
   * processes too, whatever --apparmor or process.json asked. */
  if (capsule_lsm_apply_exec (eff->lsm, err) < 0)
    return -1;
  if (capsule_landlock_apply (eff->writable, eff->writable_len, eff->landlock_abi, err) < 0)
    return -1;
  return capsule_seccomp_load (err);
}

int
capsule_confine_child_cb (const void *eff, cr_error_t *err)
{
  return capsule_confine_child (eff, err);
}
