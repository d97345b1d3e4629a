/* cgroup v2 device access control: the OCI device rules compiled to a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached with raw bpf(2).
 *
 * Semantics match v1's "deny all, then apply the rules in order": the
 * program checks the rules from last to first and the first match decides;
 * nothing matching = deny.  An allow rule matches when every requested
 * access bit is in the rule; a deny rule when any requested bit is. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN (BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV32_REG(d, s) INSN (BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i) INSN (BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define AND32_IMM(d, i) INSN (BPF_ALU | BPF_AND | BPF_K, d, 0, 0, i)
#define RSH32_IMM(d, i) INSN (BPF_ALU | BPF_RSH | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN (BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JEQ_IMM(d, i, o) INSN (BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define EXIT() INSN (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: r2 type, r3 access, r4 major, r5 minor, r6 scratch. */
enum { R_TYPE = 2, R_ACC = 3, R_MAJ = 4, R_MIN = 5, R_TMP = 6 };

struct rule
{
  int type;        /* 0 = any, else BPF_DEVCG_DEV_* */
  int access;      /* BPF_DEVCG_ACC_* bits */
  int64_t major, minor; /* -1 = any */
  bool allow;
};

static int
rule_from_oci (const struct oci_device_cgroup *d, struct rule *r, cr_error_t *err)
{
  const char *t = (d->type && d->type[0]) ? d->type : "a";
  if (strcmp (t, "a") == 0)
    r->type = 0;
  else if (strcmp (t, "c") == 0)
    r->type = BPF_DEVCG_DEV_CHAR;
  else if (strcmp (t, "b") == 0)
    r->type = BPF_DEVCG_DEV_BLOCK;
  else
    return cr_error (err, EINVAL, "devices: invalid device type `%s`", t);
  const char *a = (d->access && d->access[0]) ? d->access : "rwm";
  r->access = 0;
  for (const char *c = a; *c; c++)
    switch (*c)
      {
      case 'r': r->access |= BPF_DEVCG_ACC_READ; break;
      case 'w': r->access |= BPF_DEVCG_ACC_WRITE; break;
      case 'm': r->access |= BPF_DEVCG_ACC_MKNOD; break;
      default: return cr_error (err, EINVAL, "devices: invalid access `%s`", a);
      }
  r->major = (d->has_major && d->major >= 0) ? d->major : -1;
  r->minor = (d->has_minor && d->minor >= 0) ? d->minor : -1;
  if (r->major > INT32_MAX || r->minor > INT32_MAX)
    return cr_error (err, EINVAL, "devices: major/minor out of range");
  /* "a" means every device, whatever major:minor says (as v1 does). */
  if (r->type == 0)
    r->major = r->minor = -1;
  r->allow = d->allow;
  return 0;
}

struct prog
{
  struct bpf_insn *insns;
  size_t n, cap;
};

static void
emit (struct prog *p, struct bpf_insn i)
{
  if (p->n == p->cap)
    {
      p->cap = p->cap ? p->cap * 2 : 64;
      struct bpf_insn *ni = realloc (p->insns, p->cap * sizeof *ni);
      if (ni == NULL)
        abort ();
      p->insns = ni;
    }
  p->insns[p->n++] = i;
}

/* Instructions a rule's block takes (so the "skip to next rule" jumps are known). */
static int
block_len (const struct rule *r)
{
  int n = 2; /* mov r0; exit */
  if (r->type)
    n++;
  if (r->access != 7)
    n += 3; /* mov tmp, and, jump */
  if (r->major >= 0)
    n++;
  if (r->minor >= 0)
    n++;
  return n;
}

static int
compile (const struct oci_device_cgroup *rules, size_t nrules, struct prog *p, cr_error_t *err)
{
  struct rule *rs = xmalloc0 ((nrules ? nrules : 1) * sizeof *rs);
  for (size_t i = 0; i < nrules; i++)
    if (rule_from_oci (&rules[i], &rs[i], err) < 0)
      {
        free (rs);
        return -1;
      }
  /* ctx: u32 access_type (access << 16 | type), u32 major, u32 minor */
  emit (p, LDX_W (R_TYPE, 1, 0));
  emit (p, MOV32_REG (R_ACC, R_TYPE));
  emit (p, AND32_IMM (R_TYPE, 0xFFFF));
  emit (p, RSH32_IMM (R_ACC, 16));
  emit (p, LDX_W (R_MAJ, 1, 4));
  emit (p, LDX_W (R_MIN, 1, 8));
  for (size_t k = nrules; k > 0; k--)
    {
      const struct rule *r = &rs[k - 1];
      int len = block_len (r);
      size_t start = p->n;
      /* jump offset to the first insn after this block, from the insn being emitted */
#define SKIP ((int16_t) (len - (int) (p->n - start) - 1))
      if (r->type)
        emit (p, JNE_IMM (R_TYPE, r->type, SKIP));
      /* with all of rwm in the rule any request matches (requests are never empty) */
      if (r->access != 7)
        {
          emit (p, MOV32_REG (R_TMP, R_ACC));
          if (r->allow)
            {
              /* every requested bit must be allowed */
              emit (p, AND32_IMM (R_TMP, ~r->access & 7));
              emit (p, JNE_IMM (R_TMP, 0, SKIP));
            }
          else
            {
              /* any requested bit denied */
              emit (p, AND32_IMM (R_TMP, r->access));
              emit (p, JEQ_IMM (R_TMP, 0, SKIP));
            }
        }
      if (r->major >= 0)
        emit (p, JNE_IMM (R_MAJ, (int32_t) r->major, SKIP));
      if (r->minor >= 0)
        emit (p, JNE_IMM (R_MIN, (int32_t) r->minor, SKIP));
      emit (p, MOV64_IMM (0, r->allow ? 1 : 0));
      emit (p, EXIT ());
#undef SKIP
      if ((int) (p->n - start) != len)
        abort ();
      /* A match-everything rule decides alone: earlier rules would be unreachable (the verifier refuses that). */
      if (len == 2)
        {
          free (rs);
          return 0;
        }
    }
  emit (p, MOV64_IMM (0, 0));
  emit (p, EXIT ());
  free (rs);
  return 0;
}

int
cr_cgroup_devices_bpf_insn_count (const struct oci_device_cgroup *rules, size_t n, cr_error_t *err)
{
  struct prog p = { 0 };
  if (compile (rules, n, &p, err) < 0)
    return -1;
  free (p.insns);
  return (int) p.n;
}

static int
sys_bpf (int cmd, union bpf_attr *attr)
{
  return (int) syscall (__NR_bpf, cmd, attr, sizeof *attr);
}

static int
load (const struct prog *p, cr_error_t *err)
{
  static char log[16384];
  union bpf_attr a;
  memset (&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uintptr_t) p->insns;
  a.insn_cnt = (uint32_t) p->n;
  a.license = (uintptr_t) "Apache";
  int fd = sys_bpf (BPF_PROG_LOAD, &a);
  if (fd >= 0)
    return fd;
  int saved = errno;
  /* Load again with the verifier log to say why. */
  a.log_buf = (uintptr_t) log;
  a.log_size = sizeof log;
  a.log_level = 1;
  log[0] = '\0';
  fd = sys_bpf (BPF_PROG_LOAD, &a);
  if (fd >= 0)
    return fd;
  log[strcspn (log, "\n")] = '\0';
  return cr_error (err, saved, "load device cgroup eBPF program (%zu insns)%s%.200s", p->n, log[0] ? ": " : "", log);
}

/* ids of the device programs attached directly to the cgroup */
static int
query (int cgfd, uint32_t *ids, uint32_t *n, cr_error_t *err)
{
  union bpf_attr a;
  memset (&a, 0, sizeof a);
  a.query.target_fd = (uint32_t) cgfd;
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = (uintptr_t) ids;
  a.query.prog_cnt = *n;
  if (sys_bpf (BPF_PROG_QUERY, &a) < 0)
    return cr_error_errno (err, "query device cgroup eBPF programs");
  *n = a.query.prog_cnt;
  return 0;
}

static int
prog_fd_by_id (uint32_t id)
{
  union bpf_attr a;
  memset (&a, 0, sizeof a);
  a.prog_id = id;
  return sys_bpf (BPF_PROG_GET_FD_BY_ID, &a);
}

int
cr_cgroup_devices_bpf_count (const char *dir, cr_error_t *err)
{
  cleanup_close int cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return cr_error_errno (err, "open cgroup `%s`", dir);
  uint32_t ids[64], n = 64;
  if (query (cgfd, ids, &n, err) < 0)
    return -1;
  return (int) n;
}

int
cr_cgroup_devices_bpf_apply (const char *dir, const struct oci_device_cgroup *rules, size_t n, cr_error_t *err)
{
  struct prog p = { 0 };
  if (compile (rules, n, &p, err) < 0)
    return -1;
  cleanup_close int progfd = load (&p, err);
  free (p.insns);
  if (progfd < 0)
    return -1;
  cleanup_close int cgfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return cr_error_errno (err, "open cgroup `%s`", dir);
  uint32_t ids[64], nids = 64;
  if (query (cgfd, ids, &nids, err) < 0)
    return -1;
  if (nids > 64)
    nids = 64;
  union bpf_attr a;
  /* One previous program: swap it atomically. */
  if (nids == 1)
    {
      cleanup_close int oldfd = prog_fd_by_id (ids[0]);
      if (oldfd >= 0)
        {
          memset (&a, 0, sizeof a);
          a.target_fd = (uint32_t) cgfd;
          a.attach_bpf_fd = (uint32_t) progfd;
          a.attach_type = BPF_CGROUP_DEVICE;
          a.attach_flags = BPF_F_ALLOW_MULTI | BPF_F_REPLACE;
          a.replace_bpf_fd = (uint32_t) oldfd;
          if (sys_bpf (BPF_PROG_ATTACH, &a) == 0)
            return 0;
        }
    }
  /* Otherwise attach first (never a moment without a filter), then detach the old ones. */
  memset (&a, 0, sizeof a);
  a.target_fd = (uint32_t) cgfd;
  a.attach_bpf_fd = (uint32_t) progfd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf (BPF_PROG_ATTACH, &a) < 0)
    return cr_error_errno (err, "attach device cgroup eBPF program to `%s`", dir);
  for (uint32_t i = 0; i < nids; i++)
    {
      cleanup_close int oldfd = prog_fd_by_id (ids[i]);
      if (oldfd < 0)
        continue; /* already gone */
      memset (&a, 0, sizeof a);
      a.target_fd = (uint32_t) cgfd;
      a.attach_bpf_fd = (uint32_t) oldfd;
      a.attach_type = BPF_CGROUP_DEVICE;
      if (sys_bpf (BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
        return cr_error_errno (err, "detach previous device cgroup eBPF program from `%s`", dir);
    }
  return 0;
}
