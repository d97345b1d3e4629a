/* Pure OCI -> cgroup file value conversions (runc's documented formulas),
 * kept free of I/O so unit tests can check them. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

uint64_t
cr_cgroup_shares_to_weight (uint64_t shares)
{
  /* cpu.shares range [2, 262144] maps linearly onto cpu.weight [1, 10000]. */
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t
cr_cgroup_blkio_to_io_weight (uint64_t w)
{
  /* blkio.weight [10, 1000] maps linearly onto io.weight [1, 10000]. */
  if (w == 0)
    return 0;
  if (w < 10)
    w = 10;
  return 1 + (w - 10) * 9999 / 990;
}

bool
cr_cgroup_cpu_max (const struct oci_cpu *cpu, char *buf, size_t len)
{
  int64_t quota = cpu->has_quota ? cpu->quota : 0;
  uint64_t period = cpu->has_period ? cpu->period : 0;
  if (quota == 0 && period == 0)
    return false;
  int n;
  if (quota > 0)
    n = snprintf (buf, len, "%" PRId64, quota);
  else
    n = snprintf (buf, len, "max");
  if (period != 0 && n > 0 && (size_t) n < len)
    snprintf (buf + n, len - (size_t) n, " %" PRIu64, period);
  return true;
}

int
cr_cgroup_swap_to_v2 (int64_t swap, int64_t limit, int64_t *out, cr_error_t *err)
{
  /* v1 compatibility: unlimited memory with swap unset means unlimited swap too. */
  if (limit == -1 && swap == 0)
    {
      *out = -1;
      return 0;
    }
  if (swap == -1 || swap == 0)
    {
      *out = swap;
      return 0;
    }
  if (limit == 0 || limit == -1)
    return cr_error (err, EINVAL, "memory.swap: unable to set swap limit without memory limit");
  if (limit < 0)
    return cr_error (err, EINVAL, "memory.limit: invalid value %" PRId64, limit);
  if (swap < limit)
    return cr_error (err, EINVAL, "memory.swap: memory+swap limit (%" PRId64 ") should be >= memory limit (%" PRId64 ")",
                     swap, limit);
  *out = swap - limit;
  return 0;
}

void
cr_cgroup_num_to_str (int64_t v, char *buf, size_t len)
{
  if (v == 0)
    buf[0] = '\0';
  else if (v == -1)
    snprintf (buf, len, "max");
  else
    snprintf (buf, len, "%" PRId64, v);
}

void
cr_cgroup_pids_max (int64_t limit, char *buf, size_t len)
{
  if (limit <= 0)
    snprintf (buf, len, "max");
  else
    snprintf (buf, len, "%" PRId64, limit);
}

static int
access_ok (const char *a)
{
  if (a == NULL)
    return 1;
  for (const char *c = a; *c; c++)
    if (*c != 'r' && *c != 'w' && *c != 'm')
      return 0;
  return 1;
}

int
cr_cgroup_v1_device_line (const struct oci_device_cgroup *d, char *buf, size_t len, cr_error_t *err)
{
  const char *type = (d->type && d->type[0]) ? d->type : "a";
  if (strcmp (type, "a") != 0 && strcmp (type, "c") != 0 && strcmp (type, "b") != 0)
    return cr_error (err, EINVAL, "devices: invalid device type `%s`", type);
  if (!access_ok (d->access))
    return cr_error (err, EINVAL, "devices: invalid access `%s`", d->access);
  const char *access = (d->access && d->access[0]) ? d->access : "rwm";
  char maj[24] = "*", min[24] = "*";
  if (d->has_major && d->major >= 0)
    snprintf (maj, sizeof maj, "%" PRId64, d->major);
  if (d->has_minor && d->minor >= 0)
    snprintf (min, sizeof min, "%" PRId64, d->minor);
  snprintf (buf, len, "%s %s:%s %s", type, maj, min, access);
  return 0;
}

void
cr_cgroup_rdma_line (const struct oci_rdma *r, char *buf, size_t len)
{
  int n = snprintf (buf, len, "%s", r->name ? r->name : "");
  if (r->has_hca_handles && n > 0 && (size_t) n < len)
    n += snprintf (buf + n, len - (size_t) n, " hca_handle=%" PRIu32, r->hca_handles);
  if (r->has_hca_objects && n > 0 && (size_t) n < len)
    snprintf (buf + n, len - (size_t) n, " hca_object=%" PRIu32, r->hca_objects);
}

int
cr_cgroup_check_hugepage_size (const char *size, cr_error_t *err)
{
  /* The kernel names the files by size with a KB/MB/GB suffix ("2MB", "1GB"). */
  const char *s = size ? size : "";
  size_t digits = strspn (s, "0123456789");
  if (digits == 0 || digits > 6 || s[0] == '0'
      || (strcmp (s + digits, "KB") != 0 && strcmp (s + digits, "MB") != 0 && strcmp (s + digits, "GB") != 0))
    return cr_error (err, EINVAL, "hugepageLimits: invalid page size `%s` (expected e.g. 2MB, 1GB)", s);
  return 0;
}
