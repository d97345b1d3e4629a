/* Landlock ruleset for capsules (see landlock.h).  The uapi structures are
 * declared here so an old <linux/landlock.h> does not limit the ABI used. */
#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

struct capsule_ll_ruleset_attr
{
  uint64_t handled_access_fs;
  uint64_t handled_access_net; /* ABI 4 */
  uint64_t scoped;             /* ABI 6 */
};

struct capsule_ll_path_beneath
{
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__ ((packed));

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */

#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

int
capsule_landlock_abi (void)
{
  long v = syscall (__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
  return v < 0 ? 0 : (int) v;
}

static uint64_t
write_rights (int abi)
{
  uint64_t r = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR | LL_FS_MAKE_REG
               | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
  if (abi >= 2)
    r |= LL_FS_REFER;
  if (abi >= 3)
    r |= LL_FS_TRUNCATE;
  if (abi >= 5)
    r |= LL_FS_IOCTL_DEV;
  return r;
}

static int
add_path (int ruleset, const char *path, uint64_t access, cr_error_t *err)
{
  cleanup_close int fd = open (path, O_PATH | O_CLOEXEC | O_DIRECTORY);
  if (fd < 0)
    return cr_error_errno (err, "landlock: open `%s`", path);
  struct capsule_ll_path_beneath pb = { .allowed_access = access, .parent_fd = fd };
  if (syscall (__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
    return cr_error_errno (err, "landlock: add rule for `%s`", path);
  return 0;
}

int
capsule_landlock_apply (char *const *writable, size_t n, int abi, cr_error_t *err)
{
  if (abi <= 0)
    return 0;
  int have = capsule_landlock_abi ();
  if (have < abi)
    return cr_error (err, 0, "landlock: kernel ABI %d is lower than the recorded ABI %d", have, abi);
  struct capsule_ll_ruleset_attr attr = { .handled_access_fs = write_rights (abi) };
  size_t size = sizeof attr.handled_access_fs;
  if (abi >= 4)
    size += sizeof attr.handled_access_net;
  if (abi >= 6)
    {
      attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
      size += sizeof attr.scoped;
    }
  cleanup_close int rs = (int) syscall (__NR_landlock_create_ruleset, &attr, size, 0);
  if (rs < 0)
    return cr_error_errno (err, "landlock: create ruleset (ABI %d)", abi);
  for (size_t i = 0; i < n; i++)
    if (add_path (rs, writable[i], attr.handled_access_fs, err) < 0)
      return -1;
  /* Existing device nodes (/dev/null, ttys) may be opened for writing, nothing created there. */
  uint64_t dev = LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0) | (abi >= 5 ? LL_FS_IOCTL_DEV : 0);
  if (access ("/dev", F_OK) == 0 && add_path (rs, "/dev", dev, err) < 0)
    return -1;
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return cr_error_errno (err, "prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall (__NR_landlock_restrict_self, rs, 0) < 0)
    return cr_error_errno (err, "landlock: restrict self");
  return 0;
}
