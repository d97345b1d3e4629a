/* OCI -> cgroup v1/v2 value conversions (runc's formulas). */
#include "lib/cgroup.h"
#include "lib/cgroup_internal.h"
#include "lib/util.h"
#include "t.h"

#include <stdlib.h>

static const char *
cpu_max (bool hq, int64_t q, bool hp, uint64_t p)
{
  static char buf[64];
  struct oci_cpu c = { 0 };
  c.has_quota = hq;
  c.quota = q;
  c.has_period = hp;
  c.period = p;
  if (!cr_cgroup_cpu_max (&c, buf, sizeof buf))
    return "(none)";
  return buf;
}

static const char *
swap2 (int64_t swap, int64_t limit)
{
  static char buf[256];
  int64_t out = 0;
  cr_error_t err = NULL;
  if (cr_cgroup_swap_to_v2 (swap, limit, &out, &err) < 0)
    {
      snprintf (buf, sizeof buf, "ERR %s", err->msg);
      cr_error_release (&err);
      return buf;
    }
  snprintf (buf, sizeof buf, "%lld", (long long) out);
  return buf;
}

static const char *
devline (const char *type, bool hmaj, int64_t maj, bool hmin, int64_t min, const char *access)
{
  static char buf[128];
  struct oci_device_cgroup d = { .allow = true, .type = (char *) type, .has_major = hmaj, .major = maj,
                                 .has_minor = hmin, .minor = min, .access = (char *) access };
  cr_error_t err = NULL;
  if (cr_cgroup_v1_device_line (&d, buf, sizeof buf, &err) < 0)
    {
      snprintf (buf, sizeof buf, "ERR %s", err->msg);
      cr_error_release (&err);
    }
  return buf;
}

int
main (void)
{
  /* shares -> weight: 1 + ((shares - 2) * 9999) / 262142 */
  T_CHECK (cr_cgroup_shares_to_weight (0) == 0, "0 = unset");
  T_CHECK (cr_cgroup_shares_to_weight (2) == 1, "min");
  T_CHECK (cr_cgroup_shares_to_weight (1024) == 39, "1024 -> %llu", (unsigned long long) cr_cgroup_shares_to_weight (1024));
  T_CHECK (cr_cgroup_shares_to_weight (262144) == 10000, "max");
  T_CHECK (cr_cgroup_shares_to_weight (512) == 20, "512 -> %llu", (unsigned long long) cr_cgroup_shares_to_weight (512));

  /* blkio weight -> io.weight: 1 + (w - 10) * 9999 / 990 */
  T_CHECK (cr_cgroup_blkio_to_io_weight (10) == 1, "10");
  T_CHECK (cr_cgroup_blkio_to_io_weight (1000) == 10000, "1000");
  T_CHECK (cr_cgroup_blkio_to_io_weight (500) == 4950, "500 -> %llu", (unsigned long long) cr_cgroup_blkio_to_io_weight (500));
  T_CHECK (cr_cgroup_blkio_to_io_weight (0) == 0, "unset");

  /* cpu.max */
  T_STREQ (cpu_max (true, 50000, true, 100000), "50000 100000");
  T_STREQ (cpu_max (true, 50000, false, 0), "50000");
  T_STREQ (cpu_max (true, -1, true, 100000), "max 100000");
  T_STREQ (cpu_max (false, 0, true, 250000), "max 250000");
  T_STREQ (cpu_max (false, 0, false, 0), "(none)");

  /* memory.swap.max = swap - limit (OCI swap is memory+swap) */
  T_STREQ (swap2 (200, 100), "100");
  T_STREQ (swap2 (100, 100), "0");
  T_STREQ (swap2 (-1, 100), "-1");
  T_STREQ (swap2 (0, 100), "0");
  T_STREQ (swap2 (0, -1), "-1");
  T_CONTAINS (swap2 (50, 100), "should be >= memory limit");
  T_CONTAINS (swap2 (200, 0), "without memory limit");
  T_CONTAINS (swap2 (200, -1), "without memory limit");

  char b[32];
  cr_cgroup_num_to_str (0, b, sizeof b);
  T_STREQ (b, "");
  cr_cgroup_num_to_str (-1, b, sizeof b);
  T_STREQ (b, "max");
  cr_cgroup_num_to_str (1048576, b, sizeof b);
  T_STREQ (b, "1048576");
  cr_cgroup_pids_max (-1, b, sizeof b);
  T_STREQ (b, "max");
  cr_cgroup_pids_max (0, b, sizeof b);
  T_STREQ (b, "max");
  cr_cgroup_pids_max (64, b, sizeof b);
  T_STREQ (b, "64");

  /* v1 device lines */
  T_STREQ (devline ("c", true, 1, true, 3, "rwm"), "c 1:3 rwm");
  T_STREQ (devline (NULL, false, 0, false, 0, NULL), "a *:* rwm");
  T_STREQ (devline ("c", true, 136, false, 0, "rw"), "c 136:* rw");
  T_STREQ (devline ("b", true, -1, true, 5, "m"), "b *:5 m");
  T_CONTAINS (devline ("x", true, 1, true, 3, "rwm"), "invalid device type");
  T_CONTAINS (devline ("c", true, 1, true, 3, "rwx"), "invalid access");

  /* rdma */
  struct oci_rdma r = { .name = "mlx4_0", .has_hca_handles = true, .hca_handles = 2, .has_hca_objects = true, .hca_objects = 2000 };
  char line[128];
  cr_cgroup_rdma_line (&r, line, sizeof line);
  T_STREQ (line, "mlx4_0 hca_handle=2 hca_object=2000");
  r.has_hca_handles = false;
  cr_cgroup_rdma_line (&r, line, sizeof line);
  T_STREQ (line, "mlx4_0 hca_object=2000");

  /* hugepage sizes */
  cr_error_t err = NULL;
  T_CHECK (cr_cgroup_check_hugepage_size ("2MB", &err) == 0, "2MB");
  T_CHECK (cr_cgroup_check_hugepage_size ("1GB", &err) == 0, "1GB");
  T_CHECK (cr_cgroup_check_hugepage_size ("2mb", &err) < 0, "lowercase rejected");
  cr_error_release (&err);
  T_CHECK (cr_cgroup_check_hugepage_size ("../x", &err) < 0, "path rejected");
  T_CONTAINS (err ? err->msg : NULL, "hugepageLimits");
  cr_error_release (&err);

  /* device eBPF program size: 6 prologue + per-rule blocks (last rule first); the
   * leading deny-all matches everything so it ends the program (no default) */
  struct oci_device_cgroup rules[] = {
    { .allow = false, .access = "rwm" },                                                      /* deny all: 2 */
    { .allow = true, .type = "c", .has_major = true, .major = 1, .has_minor = true, .minor = 3, .access = "rwm" }, /* 5 */
    { .allow = true, .type = "c", .has_major = true, .major = 5, .has_minor = false, .access = "rw" }, /* 2+1+3+1 = 7 */
  };
  int n = cr_cgroup_devices_bpf_insn_count (rules, 3, &err);
  T_CHECK (n == 6 + 7 + 5 + 2, "insn count %d", n);
  /* without it, the default deny (2) closes the program */
  n = cr_cgroup_devices_bpf_insn_count (rules + 1, 2, &err);
  T_CHECK (n == 6 + 7 + 5 + 2, "insn count %d", n);
  /* an allow-all last makes everything before it dead code: dropped */
  struct oci_device_cgroup all[] = { rules[1], { .allow = true, .access = "rwm" } };
  n = cr_cgroup_devices_bpf_insn_count (all, 2, &err);
  T_CHECK (n == 6 + 2, "insn count %d", n);
  struct oci_device_cgroup bad = { .allow = true, .type = "z" };
  T_CHECK (cr_cgroup_devices_bpf_insn_count (&bad, 1, &err) < 0, "bad type rejected");
  T_CONTAINS (err ? err->msg : NULL, "invalid device type");
  cr_error_release (&err);
  return t_done ();
}
