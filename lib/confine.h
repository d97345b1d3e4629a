/* Kernel confinement a capsule's processes get right before execve (after
 * the config's own caps/no_new_privs, before the config's own seccomp
 * filter): the Landlock ruleset and the capsule seccomp filter, a separate
 * stacked filter, so the kernel applies the stricter answer of it and the
 * config's filter and the capsule is never weaker than either.
 *
 * The filter (default allow, native ABI only; i386 and x32 calls kill the process):
 *   EPERM   unshare, setns, clone with any CLONE_NEW* flag; mount, umount2,
 *           pivot_root, chroot, fsopen, fsconfig, fsmount, fspick, open_tree,
 *           move_mount, mount_setattr; ptrace, process_vm_readv/writev,
 *           pidfd_getfd; bpf; keyctl, add_key, request_key; io_uring_setup,
 *           io_uring_enter, io_uring_register; kexec_load, kexec_file_load;
 *           init_module, finit_module, delete_module; perf_event_open;
 *           userfaultfd; open_by_handle_at; ioctl TIOCSTI/TIOCLINUX (low 32 bits);
 *           socket() of any family but AF_UNIX, AF_INET, AF_INET6, AF_NETLINK;
 *           SOCK_RAW for AF_INET/AF_INET6, SOCK_PACKET for any family
 *           (netlink's own SOCK_RAW stays: it is how netlink is spoken);
 *           socketpair() of any family but AF_UNIX
 *   ENOSYS  clone3 (its flags live in memory the filter cannot read; libc
 *           falls back to clone, whose flags are checked) */
#ifndef CAPSULE_CONFINE_H
#define CAPSULE_CONFINE_H

#include <stddef.h>

#include "error.h"

struct capsule_effective;

/* Landlock (at the recorded ABI) + the capsule seccomp filter. */
int capsule_confine_child (const struct capsule_effective *eff, cr_error_t *err);
/* Same, with the signature of struct capsule_glue's confine hook. */
int capsule_confine_child_cb (const void *eff, cr_error_t *err);
/* The seccomp filter alone (sets no_new_privs). */
int capsule_seccomp_load (cr_error_t *err);
/* The embedded BPF program (struct sock_filter[]), len in bytes: for tests. */
void capsule_seccomp_program (const void **prog, size_t *len);

#endif
