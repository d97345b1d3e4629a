/* Child-side capsule confinement: the LSM label for execve, Landlock, then
 * the capsule seccomp filter (the list is in confine.h), precompiled. */
#include "confine.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "admission.h"
#include "landlock.h"
#include "lsm.h"

/* Built from lib/gen/capsule_filter_rules.c by capsule-filter-gen. */
#include "capsule_filter_bpf.h"

int
capsule_seccomp_load (cr_error_t *err)
{
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return cr_error_errno (err, "prctl(PR_SET_NO_NEW_PRIVS)");
  struct sock_fprog prog = { .len = sizeof capsule_filter_prog / sizeof capsule_filter_prog[0],
                             .filter = (struct sock_filter *) capsule_filter_prog };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return cr_error_errno (err, "capsule seccomp: load filter");
  return 0;
}

void
capsule_seccomp_program (const void **prog, size_t *len)
{
  *prog = capsule_filter_prog;
  *len = sizeof capsule_filter_prog;
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
  int r= capsule_seccomp_load (err);
  return r;
}

int
capsule_confine_child_cb (const void *eff, cr_error_t *err)
{
  return capsule_confine_child (eff, err);
}
