/* The OCI seccomp profile as a libseccomp filter.  The filter is exported as
 * BPF and installed with seccomp(2) ourselves so every SECCOMP_FILTER_FLAG_*
 * works whatever this libseccomp version knows. */
#include "seccomp.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

struct cr_name_val { const char *name; unsigned long val; };

static const struct cr_name_val cr_seccomp_arch_table[] = {
  { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
  { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
  { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
  { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
  { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
  { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
  { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
  { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
  { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
  { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
  { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
  { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
  { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
  { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
  { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
  { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
  { "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },
  { "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
  { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
#ifdef SCMP_ARCH_LOONGARCH64
  { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64 },
#endif
#ifdef SCMP_ARCH_M68K
  { "SCMP_ARCH_M68K", SCMP_ARCH_M68K },
#endif
#ifdef SCMP_ARCH_SH
  { "SCMP_ARCH_SH", SCMP_ARCH_SH },
  { "SCMP_ARCH_SHEB", SCMP_ARCH_SHEB },
#endif
};

/* Architectures the OCI spec names that this libseccomp may not know: warned about, skipped. */
static const char *const cr_seccomp_arch_maybe[] = {
  "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", NULL
};

static const struct cr_name_val cr_seccomp_flag_table[] = {
  { "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
  { "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
  { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
  { "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

static const struct cr_name_val cr_seccomp_op_table[] = {
  [OCI_SCMP_NE] = { "SCMP_CMP_NE", SCMP_CMP_NE },
  [OCI_SCMP_LT] = { "SCMP_CMP_LT", SCMP_CMP_LT },
  [OCI_SCMP_LE] = { "SCMP_CMP_LE", SCMP_CMP_LE },
  [OCI_SCMP_EQ] = { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  [OCI_SCMP_GE] = { "SCMP_CMP_GE", SCMP_CMP_GE },
  [OCI_SCMP_GT] = { "SCMP_CMP_GT", SCMP_CMP_GT },
  [OCI_SCMP_MASKED_EQ] = { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))

static const char *const cr_seccomp_action_names[] = {
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", NULL
};

/* OCI action name (+ errnoRet) -> libseccomp action.  what names it in errors. */
static int
cr_seccomp_action (const char *name, bool has_ret, uint32_t ret, const char *what, uint32_t *out, cr_error_t *err)
{
  if (name == NULL)
    return cr_error (err, 0, "%s: action required", what);
  bool takes_ret = strcmp (name, "SCMP_ACT_ERRNO") == 0 || strcmp (name, "SCMP_ACT_TRACE") == 0;
  if (has_ret && !takes_ret)
    return cr_error (err, 0, "%s: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not %s", what, name);
  /* the return value is 16 bits in the filter */
  if (has_ret && ret > 0xffff)
    return cr_error (err, 0, "%s: errnoRet %u out of range (0..65535)", what, ret);
  uint16_t code = has_ret ? (uint16_t) ret : EPERM;
  if (strcmp (name, "SCMP_ACT_KILL") == 0 || strcmp (name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp (name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp (name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO (code);
  else if (strcmp (name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE (code);
  else if (strcmp (name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp (name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    *out = SCMP_ACT_NOTIFY;
  else
    return cr_error (err, 0, "%s: unknown seccomp action \"%s\"", what, name);
  return 0;
}

static void
cr_seccomp_releasep (scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release (*ctx);
}
#define cleanup_seccomp __attribute__ ((cleanup (cr_seccomp_releasep)))

static int
cr_seccomp_add_archs (scmp_filter_ctx ctx, const struct oci_seccomp *s, cr_error_t *err)
{
  for (size_t i = 0; i < s->architectures_len; i++)
    {
      const char *a = s->architectures[i];
      const struct cr_name_val *found = NULL;
      for (size_t k = 0; k < N_ELEM (cr_seccomp_arch_table) && !found; k++)
        if (strcmp (cr_seccomp_arch_table[k].name, a) == 0)
          found = &cr_seccomp_arch_table[k];
      if (found == NULL)
        {
          bool maybe = false;
          for (const char *const *m = cr_seccomp_arch_maybe; *m && !maybe; m++)
            maybe = strcmp (*m, a) == 0;
          if (!maybe)
            return cr_error (err, 0, "linux.seccomp.architectures[%zu]: unknown seccomp architecture \"%s\"", i, a);
          cr_log_warning ("seccomp architecture %s is not supported by this libseccomp: skipped", a);
          continue;
        }
      int r = seccomp_arch_add (ctx, (uint32_t) found->val);
      if (r < 0 && r != -EEXIST)
        return cr_error (err, -r, "seccomp: add architecture %s", a);
    }
  return 0;
}

static int
cr_seccomp_add_rule (scmp_filter_ctx ctx, const struct oci_seccomp_syscall *sc, size_t idx, uint32_t def_action,
                     cr_error_t *err)
{
  char what[64];
  snprintf (what, sizeof what, "linux.seccomp.syscalls[%zu]", idx);
  uint32_t act;
  if (cr_seccomp_action (sc->action, sc->has_errno_ret, sc->errno_ret, what, &act, err) < 0)
    return -1;
  /* libseccomp refuses rules that repeat the default action; runc skips them */
  if (act == def_action)
    return 0;

  struct scmp_arg_cmp conds[6];
  unsigned per_index[6] = { 0 };
  size_t nconds = sc->args_len;
  if (nconds > 6)
    return cr_error (err, 0, "%s.args: at most 6 conditions per rule", what);
  bool repeated = false;
  for (size_t i = 0; i < nconds; i++)
    {
      const struct oci_seccomp_arg *a = &sc->args[i];
      if (a->index > 5)
        return cr_error (err, 0, "%s.args[%zu].index: syscall argument index %u out of range (0..5)", what, i,
                         a->index);
      if ((unsigned) a->op >= N_ELEM (cr_seccomp_op_table))
        return cr_error (err, 0, "%s.args[%zu].op: unknown seccomp operator", what, i);
      conds[i] = (struct scmp_arg_cmp){ .arg = a->index, .op = (enum scmp_compare) cr_seccomp_op_table[a->op].val,
                                        .datum_a = a->value, .datum_b = a->value_two };
      if (++per_index[a->index] > 1)
        repeated = true;
    }

  for (size_t n = 0; n < sc->names_len; n++)
    {
      const char *name = sc->names[n];
      int nr = seccomp_syscall_resolve_name (name);
      if (nr == __NR_SCMP_ERROR)
        continue;   /* unknown on this architecture: runc ignores it */
      int r;
      if (nconds == 0)
        r = seccomp_rule_add (ctx, act, nr, 0);
      else if (!repeated)
        /* distinct argument indexes: one rule, all conditions ANDed */
        r = seccomp_rule_add_array (ctx, act, nr, (unsigned) nconds, conds);
      else
        {
          /* the same index twice cannot be ANDed by libseccomp: one rule per condition (runc) */
          r = 0;
          for (size_t i = 0; i < nconds && r >= 0; i++)
            r = seccomp_rule_add_array (ctx, act, nr, 1, &conds[i]);
        }
      if (r < 0)
        return cr_error (err, -r, "%s: add seccomp rule for %s", what, name);
    }
  return 0;
}

int
cr_seccomp_build (const struct oci_seccomp *s, scmp_filter_ctx *out, cr_error_t *err)
{
  *out = NULL;
  uint32_t def;
  if (cr_seccomp_action (s->default_action, s->has_default_errno_ret, s->default_errno_ret,
                         "linux.seccomp.defaultAction", &def, err) < 0)
    return -1;
  if (def == SCMP_ACT_NOTIFY)
    return cr_error (err, 0, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  cleanup_seccomp scmp_filter_ctx ctx = seccomp_init (def);
  if (ctx == NULL)
    return cr_error (err, EINVAL, "seccomp_init");
  /* no_new_privs only when process.noNewPrivileges asks for it */
  int r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (r < 0)
    return cr_error (err, -r, "seccomp: clear the NNP attribute");
  if (cr_seccomp_add_archs (ctx, s, err) < 0)
    return -1;
  for (size_t i = 0; i < s->flags_len; i++)
    {
      bool ok = false;
      for (size_t k = 0; k < N_ELEM (cr_seccomp_flag_table) && !ok; k++)
        ok = strcmp (cr_seccomp_flag_table[k].name, s->flags[i]) == 0;
      if (!ok)
        return cr_error (err, 0, "linux.seccomp.flags[%zu]: unknown seccomp flag \"%s\"", i, s->flags[i]);
    }
  for (size_t i = 0; i < s->syscalls_len; i++)
    if (cr_seccomp_add_rule (ctx, &s->syscalls[i], i, def, err) < 0)
      return -1;
  *out = steal_pointer (&ctx);
  return 0;
}

bool
cr_seccomp_uses_notify (const struct oci_seccomp *s)
{
  if (s == NULL)
    return false;
  if (s->default_action && strcmp (s->default_action, "SCMP_ACT_NOTIFY") == 0)
    return true;
  for (size_t i = 0; i < s->syscalls_len; i++)
    if (s->syscalls[i].action && strcmp (s->syscalls[i].action, "SCMP_ACT_NOTIFY") == 0)
      return true;
  return false;
}

/* BPF of the filter, via a memfd (libseccomp 2.5 only exports to an fd). */
static int
cr_seccomp_export (scmp_filter_ctx ctx, char **bpf, size_t *len, cr_error_t *err)
{
  cleanup_close int fd = memfd_create ("capsule-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "memfd_create");
  int r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    return cr_error (err, -r, "seccomp: export the filter");
  if (lseek (fd, 0, SEEK_SET) < 0)
    return cr_error_errno (err, "lseek");
  return read_all_fd (fd, bpf, len, err);
}

/* runc compatibility: a syscall newer than every syscall the profile names
 * gets ENOSYS instead of the default action, so libc falls back to the old
 * call (clone3 -> clone) when an older profile does not know the new one.
 * Native architecture only; prepended as a small BPF stub. */
static int
cr_seccomp_enosys_stub (const struct oci_seccomp *s, char **bpf, size_t *len, cr_error_t *err)
{
  uint32_t def;
  if (cr_seccomp_action (s->default_action, s->has_default_errno_ret, s->default_errno_ret,
                         "linux.seccomp.defaultAction", &def, err) < 0)
    return -1;
  if (def == SCMP_ACT_ALLOW || def == SCMP_ACT_LOG || def == SCMP_ACT_ERRNO (ENOSYS))
    return 0;
  int max = -1;
  for (size_t i = 0; i < s->syscalls_len; i++)
    for (size_t n = 0; n < s->syscalls[i].names_len; n++)
      {
        int nr = seccomp_syscall_resolve_name (s->syscalls[i].names[n]);
        if (nr != __NR_SCMP_ERROR && nr > max)
          max = nr;
      }
  if (max < 0)
    return 0;
  uint32_t arch = seccomp_arch_native ();
  struct sock_filter stub[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    /* x32 numbers carry bit 30 on x86_64: leave them to the main filter */
    BPF_JUMP (BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 2, 0),
    BPF_JUMP (BPF_JMP | BPF_JGT | BPF_K, (uint32_t) max, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
  };
  size_t nlen = sizeof stub + *len;
  char *out = xmalloc0 (nlen);
  memcpy (out, stub, sizeof stub);
  memcpy (out + sizeof stub, *bpf, *len);
  free (*bpf);
  *bpf = out;
  *len = nlen;
  return 0;
}

int
cr_seccomp_load (const struct oci_seccomp *s, int *listener_fd, cr_error_t *err)
{
  if (listener_fd)
    *listener_fd = -1;
  if (s == NULL)
    return 0;
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  if (cr_seccomp_build (s, &ctx, err) < 0)
    return -1;

  unsigned long flags = 0;
  for (size_t i = 0; i < s->flags_len; i++)
    for (size_t k = 0; k < N_ELEM (cr_seccomp_flag_table); k++)
      if (strcmp (cr_seccomp_flag_table[k].name, s->flags[i]) == 0)
        flags |= cr_seccomp_flag_table[k].val;
  bool notify = cr_seccomp_uses_notify (s);
  if (!notify)
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;   /* the kernel refuses it without a listener */
  if (notify)
    {
      flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
      /* TSYNC and NEW_LISTENER both return a value: the kernel wants TSYNC_ESRCH */
      if (flags & SECCOMP_FILTER_FLAG_TSYNC)
        flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }

  cleanup_free char *bpf = NULL;
  size_t len = 0;
  if (cr_seccomp_export (ctx, &bpf, &len, err) < 0)
    return -1;
  if (cr_seccomp_enosys_stub (s, &bpf, &len, err) < 0)
    return -1;
  struct sock_fprog prog = { .len = (unsigned short) (len / sizeof (struct sock_filter)),
                             .filter = (struct sock_filter *) bpf };
  if (len % sizeof (struct sock_filter) != 0 || len / sizeof (struct sock_filter) > 0xffff)
    return cr_error (err, EINVAL, "seccomp: filter of %zu bytes", len);

  long r = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0)
    {
      if (errno == EACCES)
        return cr_error_errno (err, "load seccomp filter (needs CAP_SYS_ADMIN or no_new_privs)");
      return cr_error_errno (err, "load seccomp filter (flags %#lx)", flags);
    }
  if (notify)
    {
      if (listener_fd)
        *listener_fd = (int) r;
      else
        close ((int) r);
    }
  return 0;
}

const char *const *
cr_seccomp_actions (void)
{
  return cr_seccomp_action_names;
}

const char *const *
cr_seccomp_archs (void)
{
  static const char *names[N_ELEM (cr_seccomp_arch_table) + 1];
  for (size_t i = 0; i < N_ELEM (cr_seccomp_arch_table); i++)
    names[i] = cr_seccomp_arch_table[i].name;
  return names;
}

const char *const *
cr_seccomp_operators (void)
{
  static const char *names[N_ELEM (cr_seccomp_op_table) + 1];
  for (size_t i = 0; i < N_ELEM (cr_seccomp_op_table); i++)
    names[i] = cr_seccomp_op_table[i].name;
  return names;
}

const char *const *
cr_seccomp_flags (void)
{
  static const char *names[N_ELEM (cr_seccomp_flag_table) + 1];
  for (size_t i = 0; i < N_ELEM (cr_seccomp_flag_table); i++)
    names[i] = cr_seccomp_flag_table[i].name;
  return names;
}
