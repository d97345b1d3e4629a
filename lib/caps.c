/* Capability sets of the container process. */
#include "caps.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Kernel capability numbers (include/uapi/linux/capability.h). */
static const char *const cr_cap_names[] = {
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
  "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
  "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define CR_CAP_TABLE_LEN ((int) (sizeof cr_cap_names / sizeof cr_cap_names[0]))

int
cr_caps_last_cap (void)
{
  static int last = -1;
  if (last >= 0)
    return last;
  cleanup_free char *buf = NULL;
  cr_error_t err = NULL;
  if (read_file ("/proc/sys/kernel/cap_last_cap", &buf, NULL, &err) == 0)
    last = atoi (buf);
  else
    {
      cr_error_release (&err);
      /* no procfs (yet): probe the bounding set */
      int c = 0;
      while (c < 63 && prctl (PR_CAPBSET_READ, c + 1, 0, 0, 0) >= 0)
        c++;
      last = c;
    }
  if (last < 0 || last > 63)
    last = CR_CAP_TABLE_LEN - 1;
  return last;
}

const char *
cr_cap_name (int cap)
{
  if (cap < 0 || cap >= CR_CAP_TABLE_LEN)
    return NULL;
  return cr_cap_names[cap];
}

int
cr_cap_from_name (const char *name, cr_error_t *err)
{
  if (name == NULL || strncmp (name, "CAP_", 4) != 0 || name[4] == '\0')
    return cr_error (err, 0, "invalid capability name \"%s\": expected CAP_<NAME>", name ? name : "");
  int cap = -2;
  for (int i = 0; i < CR_CAP_TABLE_LEN; i++)
    if (strcmp (cr_cap_names[i], name) == 0)
      cap = i;
  if (cap == -2)
    {
      /* newer than our table: ask libcap, but only for upper-case names like runc's map */
      for (const char *p = name + 4; *p; p++)
        if (!(isupper ((unsigned char) *p) || isdigit ((unsigned char) *p) || *p == '_'))
          return -2;
      cap_value_t v;
      if (cap_from_name (name, &v) == 0)
        cap = (int) v;
    }
  if (cap < 0 || cap > cr_caps_last_cap ())
    return -2;
  return cap;
}

int
cr_caps_mask (char *const *names, size_t n, uint64_t *mask, cr_error_t *err)
{
  *mask = 0;
  for (size_t i = 0; i < n; i++)
    {
      int cap = cr_cap_from_name (names[i], err);
      if (cap == -1)
        return -1;
      if (cap == -2)
        {
          cr_log_warning ("ignoring unknown or unsupported capability \"%s\"", names[i]);
          continue;
        }
      *mask |= UINT64_C (1) << cap;
    }
  return 0;
}

static int
cr_caps_get (struct __user_cap_data_struct data[2])
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  return (int) syscall (SYS_capget, &hdr, data);
}

static int
cr_caps_set (uint64_t eff, uint64_t prm, uint64_t inh)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) (eff >> (32 * i));
      data[i].permitted = (uint32_t) (prm >> (32 * i));
      data[i].inheritable = (uint32_t) (inh >> (32 * i));
    }
  return (int) syscall (SYS_capset, &hdr, data);
}

int
cr_caps_apply (const struct oci_capabilities *c, cr_error_t *err)
{
  uint64_t bnd = 0, eff = 0, prm = 0, inh = 0, amb = 0;
  if (c)
    {
      if (cr_caps_mask (c->bounding, c->bounding_len, &bnd, err) < 0
          || cr_caps_mask (c->effective, c->effective_len, &eff, err) < 0
          || cr_caps_mask (c->permitted, c->permitted_len, &prm, err) < 0
          || cr_caps_mask (c->inheritable, c->inheritable_len, &inh, err) < 0
          || cr_caps_mask (c->ambient, c->ambient_len, &amb, err) < 0)
        return cr_error_wrap (err, "process.capabilities");
    }

  /* After setresuid the effective set is empty: take back what we are
   * still permitted so CAP_SETPCAP can shrink the bounding set. */
  struct __user_cap_data_struct cur[2];
  if (cr_caps_get (cur) < 0)
    return cr_error_errno (err, "capget");
  uint64_t cur_prm = (uint64_t) cur[0].permitted | ((uint64_t) cur[1].permitted << 32);
  uint64_t cur_inh = (uint64_t) cur[0].inheritable | ((uint64_t) cur[1].inheritable << 32);
  if (cr_caps_set (cur_prm, cur_prm, cur_inh) < 0)
    return cr_error_errno (err, "capset (raise effective)");

  int last = cr_caps_last_cap ();
  for (int cap = 0; cap <= last; cap++)
    {
      if (bnd & (UINT64_C (1) << cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        {
          int e = errno;
          if (e == EINVAL || prctl (PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
            continue;   /* unknown to the kernel, or already gone */
          const char *n = cr_cap_name (cap);
          return cr_error (err, e, "drop %s from the bounding set", n ? n : "capability");
        }
    }

  if (cr_caps_set (eff, prm, inh) < 0)
    return cr_error_errno (err, "capset (effective %#llx, permitted %#llx, inheritable %#llx)",
                           (unsigned long long) eff, (unsigned long long) prm, (unsigned long long) inh);

  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return cr_error_errno (err, "clear the ambient capability set");
  for (int cap = 0; cap <= last; cap++)
    {
      if (!(amb & (UINT64_C (1) << cap)))
        continue;
      /* The kernel wants it in permitted and inheritable; runc only warns. */
      if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
        cr_log_warning ("cannot raise ambient capability %s: %s", cr_cap_name (cap) ? cr_cap_name (cap) : "?",
                        strerror (errno));
    }
  return 0;
}

static size_t
cr_caps_remove_from (char **v, size_t *n, const char *const *names)
{
  size_t removed = 0, k = 0;
  for (size_t i = 0; v && i < *n; i++)
    {
      bool drop = false;
      for (const char *const *p = names; *p && !drop; p++)
        drop = strcmp (v[i], *p) == 0;
      if (drop)
        {
          free (v[i]);
          removed++;
        }
      else
        v[k++] = v[i];
    }
  if (removed)
    v[k] = NULL;   /* keep the parser's arrays NULL-terminated */
  *n = k;
  return removed;
}

size_t
cr_caps_remove (struct oci_capabilities *c, const char *const *names)
{
  if (c == NULL || names == NULL)
    return 0;
  return cr_caps_remove_from (c->bounding, &c->bounding_len, names)
         + cr_caps_remove_from (c->effective, &c->effective_len, names)
         + cr_caps_remove_from (c->inheritable, &c->inheritable_len, names)
         + cr_caps_remove_from (c->permitted, &c->permitted_len, names)
         + cr_caps_remove_from (c->ambient, &c->ambient_len, names);
}

const char *const *
cr_caps_known_names (void)
{
  static const char *names[CR_CAP_TABLE_LEN + 1];
  int last = cr_caps_last_cap ();
  int k = 0;
  for (int i = 0; i <= last && i < CR_CAP_TABLE_LEN; i++)
    names[k++] = cr_cap_names[i];
  names[k] = NULL;
  return names;
}
