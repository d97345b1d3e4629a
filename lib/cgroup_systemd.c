/* --systemd-cgroup where systemd is init: the container's cgroup is made a
 * transient scope unit, as runc's systemd driver does, so systemd knows
 * the cgroup it would otherwise see as foreign (and prune, or fight over
 * controller settings on a daemon-reload).
 *
 * The runtime still creates the cgroup directories itself (the same path:
 * slice path + unit name) and moves init in; then StartTransientUnit with
 * PIDs=[init] adopts it, with Delegate=yes (the container may manage its
 * own sub-cgroups) and the main limits as unit properties so a later
 * daemon-reload re-applies ours, not systemd's defaults.  The caller sets
 * every limit again through cgroupfs once the scope is up. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "sd_bus.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SYSTEMD_PRIVATE "/run/systemd/private"
#define JOB_TIMEOUT_MS 30000

bool
cr_systemd_booted (void)
{
  /* sd_booted()'s test, which runc uses too */
  struct stat sb;
  return lstat ("/run/systemd/system", &sb) == 0 && S_ISDIR (sb.st_mode);
}

static void
conn_cleanup (struct sd_conn *c)
{
  sd_conn_close (c);
}

static void
msg_cleanup (struct sd_msg *m)
{
  sd_msg_free (m);
}

/* Connect and subscribe (JobRemoved is sent to subscribed clients). */
static int
open_subscribed (struct sd_conn *c, const char *what, const char *unit, cr_error_t *err)
{
  if (sd_conn_open (c, SYSTEMD_PRIVATE, err) < 0)
    return cr_error_wrap (err, "%s %s", what, unit);
  struct sd_msg sub;
  sd_msg_call (&sub, "Subscribe", "");
  int r = sd_call (c, &sub, NULL, err);
  sd_msg_free (&sub);
  return r < 0 ? cr_error_wrap (err, "%s %s", what, unit) : 0;
}

/* Call, then wait for the job the call queued; "done" is success. */
static int
call_job (struct sd_conn *c, struct sd_msg *m, const char *unit, cr_error_t *err)
{
  cleanup_free char *job = NULL, *result = NULL;
  if (sd_call (c, m, &job, err) < 0)
    return -1;
  if (job == NULL)
    return cr_error (err, EPROTO, "systemd: %s %s: no job in the reply", m->member, unit);
  if (sd_wait_job (c, job, JOB_TIMEOUT_MS, &result, err) < 0)
    return cr_error_wrap (err, "systemd: %s %s", m->member, unit);
  if (strcmp (result, "done") != 0)
    return cr_error (err, 0, "systemd: %s %s: job %s", m->member, unit, result);
  return 0;
}

/* "0-3,8" -> a bitmask, CPU n = bit n%8 of byte n/8 (systemd's "ay").
 * 0 bytes when the list does not parse (cgroupfs then reports it). */
static size_t
cpu_list_bits (const char *list, unsigned char *bits, size_t cap)
{
  size_t n = 0;
  memset (bits, 0, cap);
  for (const char *p = list; *p;)
    {
      char *end;
      unsigned long a = strtoul (p, &end, 10), b = a;
      if (end == p)
        return 0;
      if (*end == '-')
        {
          p = end + 1;
          b = strtoul (p, &end, 10);
          if (end == p || b < a)
            return 0;
        }
      if (b / 8 >= cap)
        return 0;
      for (unsigned long i = a; i <= b; i++)
        bits[i / 8] |= (unsigned char) (1u << (i % 8));
      if (b / 8 + 1 > n)
        n = b / 8 + 1;
      p = *end == ',' ? end + 1 : end;
      if (*end && *end != ',')
        return 0;
    }
  return n;
}

static void
add_limits (struct sd_msg *m, const struct oci_resources *res)
{
  bool v2 = cr_cgroup_mode () == CR_CGROUP_V2;
  if (res == NULL)
    return;
  /* -1 is "no limit": systemd's infinity */
  if (res->memory && res->memory->has_limit && res->memory->limit != 0)
    sd_msg_prop_u64 (m, v2 ? "MemoryMax" : "MemoryLimit",
                     res->memory->limit < 0 ? UINT64_MAX : (uint64_t) res->memory->limit);
  if (v2 && res->memory && res->memory->has_reservation && res->memory->reservation > 0)
    sd_msg_prop_u64 (m, "MemoryLow", (uint64_t) res->memory->reservation);
  int64_t swap2;
  cr_error_t e = NULL;
  if (v2 && res->memory && res->memory->has_swap && res->memory->swap != 0
      && cr_cgroup_swap_to_v2 (res->memory->swap, res->memory->has_limit ? res->memory->limit : 0, &swap2, &e) == 0)
    sd_msg_prop_u64 (m, "MemorySwapMax", swap2 < 0 ? UINT64_MAX : (uint64_t) swap2);
  cr_error_release (&e); /* an invalid pair is reported by the cgroupfs write */
  if (res->has_pids_limit && res->pids_limit != 0)
    sd_msg_prop_u64 (m, "TasksMax", res->pids_limit < 0 ? UINT64_MAX : (uint64_t) res->pids_limit);
  const struct oci_cpu *cpu = res->cpu;
  if (cpu && cpu->has_shares && cpu->shares)
    {
      /* v2 takes the weight as is; on v1 systemd maps it back to shares */
      uint64_t w = cr_cgroup_shares_to_weight (cpu->shares);
      if (w)
        sd_msg_prop_u64 (m, "CPUWeight", w);
    }
  if (cpu && cpu->has_period && cpu->period)
    sd_msg_prop_u64 (m, "CPUQuotaPeriodUSec", cpu->period);
  unsigned char bits[128];
  size_t nb;
  if (v2 && cpu && cpu->cpus && cpu->cpus[0] && (nb = cpu_list_bits (cpu->cpus, bits, sizeof bits)) > 0)
    sd_msg_prop_bytes (m, "AllowedCPUs", bits, nb);
  if (v2 && cpu && cpu->mems && cpu->mems[0] && (nb = cpu_list_bits (cpu->mems, bits, sizeof bits)) > 0)
    sd_msg_prop_bytes (m, "AllowedMemoryNodes", bits, nb);
  if (cpu && cpu->has_quota && cpu->quota > 0)
    {
      uint64_t period = cpu->has_period && cpu->period ? cpu->period : 100000;
      /* systemd keeps CPU quotas in steps of 10 ms per second: round up
       * (runc does the same), the exact value is written to cpu.max after */
      uint64_t per_sec = (uint64_t) cpu->quota * 1000000 / period;
      per_sec = (per_sec + 9999) / 10000 * 10000;
      sd_msg_prop_u64 (m, "CPUQuotaPerSecUSec", per_sec);
    }
  if (res->block_io && res->block_io->has_weight && res->block_io->weight)
    {
      if (v2)
        sd_msg_prop_u64 (m, "IOWeight", cr_cgroup_blkio_to_io_weight (res->block_io->weight));
      else
        sd_msg_prop_u64 (m, "BlockIOWeight", res->block_io->weight);
    }
}

int
cr_systemd_scope_start (const char *cgroups_path, const char *id, pid_t pid, const struct oci_resources *res,
                        char **unit_out, cr_error_t *err)
{
  cleanup_free char *slice = NULL, *unit = NULL;
  if (cr_cgroup_systemd_unit (cgroups_path, id, &slice, &unit, err) < 0)
    return -1;
  /* A .slice name is a parent for other units, not a home for processes:
   * its cgroup stays ours alone (cgroupfs), as before. */
  if (cr_systemd_scope_of (unit) == NULL)
    return 0;
  __attribute__ ((cleanup (conn_cleanup))) struct sd_conn c = { .fd = -1 };
  if (open_subscribed (&c, "create systemd scope", unit, err) < 0)
    return -1;

  __attribute__ ((cleanup (msg_cleanup))) struct sd_msg m;
  sd_msg_call (&m, "StartTransientUnit", "ssa(sv)a(sa(sv))");
  sd_msg_string (&m, unit);
  sd_msg_string (&m, "fail");
  sd_msg_array_open (&m);
  cleanup_free char *desc = xasprintf ("capsule-runc container %s", id);
  sd_msg_prop_string (&m, "Description", desc);
  sd_msg_prop_string (&m, "Slice", slice);
  sd_msg_prop_bool (&m, "Delegate", true);
  sd_msg_prop_bool (&m, "DefaultDependencies", false);
  uint32_t p = (uint32_t) pid;
  sd_msg_prop_u32_array (&m, "PIDs", &p, 1);
  /* accounting on, so systemd enables those controllers down to the scope */
  sd_msg_prop_bool (&m, "MemoryAccounting", true);
  sd_msg_prop_bool (&m, "CPUAccounting", true);
  sd_msg_prop_bool (&m, "TasksAccounting", true);
  if (cr_cgroup_mode () == CR_CGROUP_V2)
    sd_msg_prop_bool (&m, "IOAccounting", true);
  add_limits (&m, res);
  sd_msg_array_close (&m);
  sd_msg_array_open (&m); /* no auxiliary units */
  sd_msg_array_close (&m);
  if (call_job (&c, &m, unit, err) < 0)
    return cr_error_wrap (err, "create systemd scope %s", unit);
  *unit_out = steal_pointer (&unit);
  return 0;
}

const char *
cr_systemd_scope_of (const char *cgroup_path)
{
  const char *unit = strrchr (cgroup_path, '/');
  unit = unit ? unit + 1 : cgroup_path;
  size_t n = strlen (unit);
  return n > 6 && strcmp (unit + n - 6, ".scope") == 0 ? unit : NULL;
}

int
cr_systemd_unit_set_limits (const char *unit, const struct oci_resources *res, cr_error_t *err)
{
  __attribute__ ((cleanup (conn_cleanup))) struct sd_conn c = { .fd = -1 };
  if (sd_conn_open (&c, SYSTEMD_PRIVATE, err) < 0)
    return cr_error_wrap (err, "update systemd unit %s", unit);
  __attribute__ ((cleanup (msg_cleanup))) struct sd_msg m;
  sd_msg_call (&m, "SetUnitProperties", "sba(sv)");
  sd_msg_string (&m, unit);
  sd_msg_bool (&m, true); /* runtime: until the unit goes, not on disk */
  sd_msg_array_open (&m);
  add_limits (&m, res);
  sd_msg_array_close (&m);
  if (sd_call (&c, &m, NULL, err) < 0)
    return cr_error_wrap (err, "update systemd unit %s", unit);
  return 0;
}

int
cr_systemd_unit_stop (const char *unit, cr_error_t *err)
{
  __attribute__ ((cleanup (conn_cleanup))) struct sd_conn c = { .fd = -1 };
  if (open_subscribed (&c, "stop systemd unit", unit, err) < 0)
    return -1;
  __attribute__ ((cleanup (msg_cleanup))) struct sd_msg m;
  sd_msg_call (&m, "StopUnit", "ss");
  sd_msg_string (&m, unit);
  sd_msg_string (&m, "replace");
  cr_error_t e = NULL;
  if (call_job (&c, &m, unit, &e) < 0)
    {
      /* gone already (systemd drops an empty transient scope by itself) */
      if (strstr (e->msg, "NoSuchUnit") || strstr (e->msg, "not loaded"))
        {
          cr_error_release (&e);
          return 0;
        }
      *err = e;
      return -1;
    }
  return 0;
}
