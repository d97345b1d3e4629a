/* config.json -> struct oci_config (runtime-spec 1.0 - 1.2, what runc reads).
 * Unknown keys are ignored; every rejected value names its JSON path. */
#include "config.h"
#include "config_internal.h"
#include "json_get.h"
#include "../lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TRY(x) do { if ((x) < 0) return -1; } while (0)

static bool
oci_str_in (const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp (s, *list) == 0)
      return true;
  return false;
}

/* Array of objects under key: allocate, then call fn on each element with
 * the path pointing at it.  The array is handed out even on error so the
 * caller's free function releases whatever was filled in. */
typedef int (*oci_elem_fn) (struct ocij *p, yajl_val v, void *elem);

static int
oci_obj_array (struct ocij *p, yajl_val obj, const char *key, size_t elem_size, oci_elem_fn fn,
               void **out, size_t *len)
{
  yajl_val a;
  int r = ocij_arr (p, obj, key, false, &a);
  if (r <= 0)
    return r;
  size_t n = a->u.array.len;
  *out = xmalloc0 (n * elem_size);
  *len = n;
  size_t mark = ocij_key (p, key);
  for (size_t i = 0; i < n; i++)
    {
      size_t m = ocij_idx (p, i);
      yajl_val e = a->u.array.values[i];
      if (!YAJL_IS_OBJECT (e))
        return ocij_fail (p, "expected object");
      if (fn (p, e, (char *) *out + i * elem_size) < 0)
        return -1;
      ocij_pop (p, m);
    }
  ocij_pop (p, mark);
  return 1;
}

#define OBJARR(p, obj, key, field, fn) \
  ({ void *_a = NULL; int _r = oci_obj_array ((p), (obj), (key), sizeof *(field), (fn), &_a, &(field##_len)); \
     (field) = _a; _r; })

/* Run a block with the path extended by key (for nested objects). */
#define WITH_KEY(p, key, body) \
  do { size_t _m = ocij_key ((p), (key)); body; ocij_pop ((p), _m); } while (0)

/* ---- process ---- */

static const char *const oci_rlimit_names[] = {
  "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
  "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
  "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK", NULL
};

static const char *const oci_sched_policies[] = {
  "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE",
  "SCHED_DEADLINE", NULL
};

static const char *const oci_sched_flags[] = {
  "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX", NULL
};

static const char *const oci_ioprio_classes[] = {
  "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE", NULL
};

static int
oci_parse_rlimit (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_rlimit *rl = elem;
  TRY (ocij_str (p, v, "type", true, &rl->type));
  if (!oci_str_in (rl->type, oci_rlimit_names))
    return ocij_fail_key (p, "type", "unknown rlimit type \"%s\"", rl->type);
  TRY (ocij_u64 (p, v, "soft", true, &rl->soft, NULL));
  TRY (ocij_u64 (p, v, "hard", true, &rl->hard, NULL));
  return 0;
}

static int
oci_parse_caps (struct ocij *p, yajl_val o, struct oci_capabilities *c)
{
  TRY (ocij_strv (p, o, "bounding", &c->bounding, &c->bounding_len, &c->has_bounding));
  TRY (ocij_strv (p, o, "effective", &c->effective, &c->effective_len, &c->has_effective));
  TRY (ocij_strv (p, o, "inheritable", &c->inheritable, &c->inheritable_len, &c->has_inheritable));
  TRY (ocij_strv (p, o, "permitted", &c->permitted, &c->permitted_len, &c->has_permitted));
  TRY (ocij_strv (p, o, "ambient", &c->ambient, &c->ambient_len, &c->has_ambient));
  return 0;
}

static int
oci_parse_user (struct ocij *p, yajl_val o, struct oci_user *u)
{
  TRY (ocij_u32 (p, o, "uid", false, &u->uid, NULL));
  TRY (ocij_u32 (p, o, "gid", false, &u->gid, NULL));
  TRY (ocij_u32 (p, o, "umask", false, &u->umask, &u->has_umask));
  TRY (ocij_str (p, o, "username", false, &u->username));
  yajl_val a;
  int r = ocij_arr (p, o, "additionalGids", false, &a);
  TRY (r);
  if (r > 0)
    {
      u->additional_gids = xmalloc0 (a->u.array.len * sizeof (uint32_t));
      u->additional_gids_len = a->u.array.len;
      size_t mark = ocij_key (p, "additionalGids");
      for (size_t i = 0; i < a->u.array.len; i++)
        {
          uint64_t g;
          size_t m = ocij_idx (p, i);
          TRY (ocij_val_uint (p, a->u.array.values[i], 32, &g));
          u->additional_gids[i] = (uint32_t) g;
          ocij_pop (p, m);
        }
      ocij_pop (p, mark);
    }
  return 0;
}

static int
oci_parse_scheduler (struct ocij *p, yajl_val o, struct oci_scheduler *s)
{
  TRY (ocij_str (p, o, "policy", true, &s->policy));
  if (!oci_str_in (s->policy, oci_sched_policies))
    return ocij_fail_key (p, "policy", "unknown scheduler policy \"%s\"", s->policy);
  TRY (ocij_i32 (p, o, "nice", false, &s->nice, NULL));
  TRY (ocij_i32 (p, o, "priority", false, &s->priority, NULL));
  TRY (ocij_strv (p, o, "flags", &s->flags, &s->flags_len, NULL));
  for (size_t i = 0; i < s->flags_len; i++)
    if (!oci_str_in (s->flags[i], oci_sched_flags))
      {
        size_t m = ocij_key (p, "flags");
        ocij_idx (p, i);
        int rc = ocij_fail (p, "unknown scheduler flag \"%s\"", s->flags[i]);
        ocij_pop (p, m);
        return rc;
      }
  TRY (ocij_u64 (p, o, "runtime", false, &s->runtime, NULL));
  TRY (ocij_u64 (p, o, "deadline", false, &s->deadline, NULL));
  TRY (ocij_u64 (p, o, "period", false, &s->period, NULL));
  return 0;
}

static int
oci_parse_process_obj (struct ocij *p, yajl_val o, struct oci_process *proc)
{
  yajl_val v;
  int r;

  TRY (ocij_bool (p, o, "terminal", &proc->terminal, NULL));
  TRY (r = ocij_obj (p, o, "consoleSize", false, &v));
  if (r > 0)
    {
      proc->has_console_size = true;
      WITH_KEY (p, "consoleSize", {
        TRY (ocij_u32 (p, v, "height", false, &proc->console_height, NULL));
        TRY (ocij_u32 (p, v, "width", false, &proc->console_width, NULL));
      });
    }
  TRY (r = ocij_obj (p, o, "user", false, &v));
  if (r > 0)
    WITH_KEY (p, "user", TRY (oci_parse_user (p, v, &proc->user)));

  TRY (ocij_strv (p, o, "args", &proc->args, &proc->args_len, NULL));
  if (proc->args_len == 0)
    return ocij_fail_key (p, "args", "must not be empty");
  TRY (ocij_strv (p, o, "env", &proc->env, &proc->env_len, NULL));

  TRY (ocij_str (p, o, "cwd", false, &proc->cwd));
  if (proc->cwd == NULL || proc->cwd[0] == '\0')
    return ocij_fail_key (p, "cwd", "required");
  if (proc->cwd[0] != '/')
    return ocij_fail_key (p, "cwd", "must be an absolute path, got \"%s\"", proc->cwd);

  TRY (r = ocij_obj (p, o, "capabilities", false, &v));
  if (r > 0)
    {
      proc->capabilities = xmalloc0 (sizeof *proc->capabilities);
      WITH_KEY (p, "capabilities", TRY (oci_parse_caps (p, v, proc->capabilities)));
    }

  TRY (OBJARR (p, o, "rlimits", proc->rlimits, oci_parse_rlimit));
  /* the spec: duplicated rlimit types are an error */
  for (size_t i = 0; i < proc->rlimits_len; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp (proc->rlimits[i].type, proc->rlimits[j].type) == 0)
        {
          size_t m = ocij_key (p, "rlimits");
          ocij_idx (p, i);
          int rc = ocij_fail_key (p, "type", "duplicate rlimit type \"%s\"", proc->rlimits[i].type);
          ocij_pop (p, m);
          return rc;
        }

  TRY (ocij_bool (p, o, "noNewPrivileges", &proc->no_new_privileges, NULL));
  TRY (ocij_str (p, o, "apparmorProfile", false, &proc->apparmor_profile));
  TRY (ocij_i32 (p, o, "oomScoreAdj", false, &proc->oom_score_adj, &proc->has_oom_score_adj));
  TRY (ocij_str (p, o, "selinuxLabel", false, &proc->selinux_label));

  TRY (r = ocij_obj (p, o, "scheduler", false, &v));
  if (r > 0)
    {
      proc->scheduler = xmalloc0 (sizeof *proc->scheduler);
      WITH_KEY (p, "scheduler", TRY (oci_parse_scheduler (p, v, proc->scheduler)));
    }

  TRY (r = ocij_obj (p, o, "ioPriority", false, &v));
  if (r > 0)
    {
      struct oci_io_priority *io = proc->io_priority = xmalloc0 (sizeof *io);
      WITH_KEY (p, "ioPriority", {
        TRY (ocij_str (p, v, "class", true, &io->klass));
        if (!oci_str_in (io->klass, oci_ioprio_classes))
          return ocij_fail_key (p, "class", "unknown I/O priority class \"%s\"", io->klass);
        TRY (ocij_i32 (p, v, "priority", false, &io->priority, NULL));
        if (io->priority < 0 || io->priority > 7)
          return ocij_fail_key (p, "priority", "must be between 0 and 7, got %d", io->priority);
      });
    }

  TRY (r = ocij_obj (p, o, "execCPUAffinity", false, &v));
  if (r > 0)
    WITH_KEY (p, "execCPUAffinity", {
      TRY (ocij_str (p, v, "initial", false, &proc->exec_cpu_affinity_initial));
      TRY (ocij_str (p, v, "final", false, &proc->exec_cpu_affinity_final));
    });
  return 0;
}

/* ---- mounts, hooks ---- */

static int
oci_parse_id_mapping (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_id_mapping *m = elem;
  TRY (ocij_u32 (p, v, "containerID", false, &m->container_id, NULL));
  TRY (ocij_u32 (p, v, "hostID", false, &m->host_id, NULL));
  TRY (ocij_u32 (p, v, "size", false, &m->size, NULL));
  return 0;
}

static int
oci_parse_mount (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_mount *m = elem;
  /* runc 1.1 accepts a relative destination and takes it relative to "/" */
  TRY (ocij_str (p, v, "destination", true, &m->destination));
  if (m->destination[0] == '\0')
    return ocij_fail_key (p, "destination", "required");
  TRY (ocij_str (p, v, "type", false, &m->type));
  TRY (ocij_str (p, v, "source", false, &m->source));
  TRY (ocij_strv (p, v, "options", &m->options, &m->options_len, NULL));
  TRY (OBJARR (p, v, "uidMappings", m->uid_mappings, oci_parse_id_mapping));
  TRY (OBJARR (p, v, "gidMappings", m->gid_mappings, oci_parse_id_mapping));
  return 0;
}

static int
oci_parse_hook (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_hook *h = elem;
  TRY (ocij_str (p, v, "path", true, &h->path));
  if (h->path[0] == '\0')
    return ocij_fail_key (p, "path", "required");
  if (h->path[0] != '/')
    return ocij_fail_key (p, "path", "must be an absolute path, got \"%s\"", h->path);
  TRY (ocij_strv (p, v, "args", &h->args, &h->args_len, NULL));
  TRY (ocij_strv (p, v, "env", &h->env, &h->env_len, NULL));
  TRY (ocij_i32 (p, v, "timeout", false, &h->timeout, &h->has_timeout));
  if (h->has_timeout && h->timeout <= 0)
    return ocij_fail_key (p, "timeout", "must be greater than zero, got %d", h->timeout);
  return 0;
}

static const char *const oci_hook_names[OCI_HOOK__COUNT] = {
  [OCI_HOOK_PRESTART] = "prestart",
  [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
  [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
  [OCI_HOOK_START_CONTAINER] = "startContainer",
  [OCI_HOOK_POSTSTART] = "poststart",
  [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *
oci_hook_kind_name (enum oci_hook_kind k)
{
  if ((int) k < 0 || k >= OCI_HOOK__COUNT)
    return NULL;
  return oci_hook_names[k];
}

static int
oci_parse_hooks (struct ocij *p, yajl_val o, struct oci_hooks *h)
{
  for (int k = 0; k < OCI_HOOK__COUNT; k++)
    {
      void *a = NULL;
      int r = oci_obj_array (p, o, oci_hook_names[k], sizeof (struct oci_hook), oci_parse_hook, &a, &h->len[k]);
      h->hooks[k] = a;
      TRY (r);
    }
  return 0;
}

/* ---- linux.resources ---- */

static int
oci_parse_device_cgroup (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_device_cgroup *d = elem;
  TRY (ocij_bool (p, v, "allow", &d->allow, NULL));
  TRY (ocij_str (p, v, "type", false, &d->type));
  if (d->type && strcmp (d->type, "a") != 0 && strcmp (d->type, "b") != 0 && strcmp (d->type, "c") != 0
      && d->type[0] != '\0')
    return ocij_fail_key (p, "type", "unknown device type \"%s\"", d->type);
  TRY (ocij_i64 (p, v, "major", false, &d->major, &d->has_major));
  TRY (ocij_i64 (p, v, "minor", false, &d->minor, &d->has_minor));
  TRY (ocij_str (p, v, "access", false, &d->access));
  if (d->access && (d->access[strspn (d->access, "rwm")] != '\0'))
    return ocij_fail_key (p, "access", "invalid device access \"%s\" (expected a subset of \"rwm\")", d->access);
  return 0;
}

static int
oci_parse_weight_device (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_weight_device *w = elem;
  TRY (ocij_i64 (p, v, "major", true, &w->major, NULL));
  TRY (ocij_i64 (p, v, "minor", true, &w->minor, NULL));
  TRY (ocij_u16 (p, v, "weight", false, &w->weight, &w->has_weight));
  TRY (ocij_u16 (p, v, "leafWeight", false, &w->leaf_weight, &w->has_leaf_weight));
  return 0;
}

static int
oci_parse_throttle_device (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_throttle_device *t = elem;
  TRY (ocij_i64 (p, v, "major", true, &t->major, NULL));
  TRY (ocij_i64 (p, v, "minor", true, &t->minor, NULL));
  TRY (ocij_u64 (p, v, "rate", true, &t->rate, NULL));
  return 0;
}

static int
oci_parse_hugepage (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_hugepage_limit *h = elem;
  TRY (ocij_str (p, v, "pageSize", true, &h->page_size));
  TRY (ocij_u64 (p, v, "limit", true, &h->limit, NULL));
  return 0;
}

static int
oci_parse_net_priority (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_net_priority *n = elem;
  TRY (ocij_str (p, v, "name", true, &n->name));
  TRY (ocij_u32 (p, v, "priority", true, &n->priority, NULL));
  return 0;
}

static int
oci_parse_memory (struct ocij *p, yajl_val o, struct oci_memory *m)
{
  TRY (ocij_i64 (p, o, "limit", false, &m->limit, &m->has_limit));
  TRY (ocij_i64 (p, o, "reservation", false, &m->reservation, &m->has_reservation));
  TRY (ocij_i64 (p, o, "swap", false, &m->swap, &m->has_swap));
  TRY (ocij_i64 (p, o, "kernel", false, &m->kernel, &m->has_kernel));
  TRY (ocij_i64 (p, o, "kernelTCP", false, &m->kernel_tcp, &m->has_kernel_tcp));
  TRY (ocij_u64 (p, o, "swappiness", false, &m->swappiness, &m->has_swappiness));
  TRY (ocij_bool (p, o, "disableOOMKiller", &m->disable_oom_killer, &m->has_disable_oom_killer));
  TRY (ocij_bool (p, o, "useHierarchy", &m->use_hierarchy, &m->has_use_hierarchy));
  TRY (ocij_bool (p, o, "checkBeforeUpdate", &m->check_before_update, &m->has_check_before_update));
  return 0;
}

static int
oci_parse_cpu (struct ocij *p, yajl_val o, struct oci_cpu *c)
{
  TRY (ocij_u64 (p, o, "shares", false, &c->shares, &c->has_shares));
  TRY (ocij_i64 (p, o, "quota", false, &c->quota, &c->has_quota));
  TRY (ocij_u64 (p, o, "burst", false, &c->burst, &c->has_burst));
  TRY (ocij_u64 (p, o, "period", false, &c->period, &c->has_period));
  TRY (ocij_i64 (p, o, "realtimeRuntime", false, &c->realtime_runtime, &c->has_realtime_runtime));
  TRY (ocij_u64 (p, o, "realtimePeriod", false, &c->realtime_period, &c->has_realtime_period));
  TRY (ocij_str (p, o, "cpus", false, &c->cpus));
  TRY (ocij_str (p, o, "mems", false, &c->mems));
  TRY (ocij_i64 (p, o, "idle", false, &c->idle, &c->has_idle));
  return 0;
}

static int
oci_parse_blkio (struct ocij *p, yajl_val o, struct oci_blkio *b)
{
  TRY (ocij_u16 (p, o, "weight", false, &b->weight, &b->has_weight));
  TRY (ocij_u16 (p, o, "leafWeight", false, &b->leaf_weight, &b->has_leaf_weight));
  TRY (OBJARR (p, o, "weightDevice", b->weight_device, oci_parse_weight_device));
  TRY (OBJARR (p, o, "throttleReadBpsDevice", b->throttle_read_bps, oci_parse_throttle_device));
  TRY (OBJARR (p, o, "throttleWriteBpsDevice", b->throttle_write_bps, oci_parse_throttle_device));
  TRY (OBJARR (p, o, "throttleReadIOPSDevice", b->throttle_read_iops, oci_parse_throttle_device));
  TRY (OBJARR (p, o, "throttleWriteIOPSDevice", b->throttle_write_iops, oci_parse_throttle_device));
  return 0;
}

static int
oci_parse_rdma (struct ocij *p, yajl_val o, struct oci_resources *r)
{
  size_t n = o->u.object.len;
  r->rdma = xmalloc0 (n * sizeof *r->rdma);
  r->rdma_len = n;
  for (size_t i = 0; i < n; i++)
    {
      struct oci_rdma *d = &r->rdma[i];
      yajl_val v = o->u.object.values[i];
      d->name = xstrdup (o->u.object.keys[i]);
      size_t m = ocij_key (p, d->name);
      if (!YAJL_IS_OBJECT (v))
        return ocij_fail (p, "expected object");
      TRY (ocij_u32 (p, v, "hcaHandles", false, &d->hca_handles, &d->has_hca_handles));
      TRY (ocij_u32 (p, v, "hcaObjects", false, &d->hca_objects, &d->has_hca_objects));
      ocij_pop (p, m);
    }
  return 0;
}

static int
oci_parse_resources_obj (struct ocij *p, yajl_val o, struct oci_resources *res)
{
  yajl_val v;
  int r;

  TRY (OBJARR (p, o, "devices", res->devices, oci_parse_device_cgroup));

  TRY (r = ocij_obj (p, o, "memory", false, &v));
  if (r > 0)
    {
      res->memory = xmalloc0 (sizeof *res->memory);
      WITH_KEY (p, "memory", TRY (oci_parse_memory (p, v, res->memory)));
    }
  TRY (r = ocij_obj (p, o, "cpu", false, &v));
  if (r > 0)
    {
      res->cpu = xmalloc0 (sizeof *res->cpu);
      WITH_KEY (p, "cpu", TRY (oci_parse_cpu (p, v, res->cpu)));
    }
  TRY (r = ocij_obj (p, o, "pids", false, &v));
  if (r > 0)
    WITH_KEY (p, "pids", TRY (ocij_i64 (p, v, "limit", false, &res->pids_limit, &res->has_pids_limit)));
  TRY (r = ocij_obj (p, o, "blockIO", false, &v));
  if (r > 0)
    {
      res->block_io = xmalloc0 (sizeof *res->block_io);
      WITH_KEY (p, "blockIO", TRY (oci_parse_blkio (p, v, res->block_io)));
    }
  TRY (OBJARR (p, o, "hugepageLimits", res->hugepage_limits, oci_parse_hugepage));
  TRY (r = ocij_obj (p, o, "network", false, &v));
  if (r > 0)
    {
      res->has_network = true;
      WITH_KEY (p, "network", {
        TRY (ocij_u32 (p, v, "classID", false, &res->class_id, &res->has_class_id));
        TRY (OBJARR (p, v, "priorities", res->net_priorities, oci_parse_net_priority));
      });
    }
  TRY (r = ocij_obj (p, o, "rdma", false, &v));
  if (r > 0)
    WITH_KEY (p, "rdma", TRY (oci_parse_rdma (p, v, res)));
  TRY (ocij_strmap (p, o, "unified", &res->unified, &res->unified_len));
  return 0;
}

/* ---- linux.seccomp ---- */

static const char *const oci_seccomp_actions[] = {
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", NULL
};

static const char *const oci_seccomp_archs[] = {
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", NULL
};

static const char *const oci_seccomp_flags[] = {
  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL
};

static const char *const oci_seccomp_ops[] = {
  [OCI_SCMP_NE] = "SCMP_CMP_NE", [OCI_SCMP_LT] = "SCMP_CMP_LT", [OCI_SCMP_LE] = "SCMP_CMP_LE",
  [OCI_SCMP_EQ] = "SCMP_CMP_EQ", [OCI_SCMP_GE] = "SCMP_CMP_GE", [OCI_SCMP_GT] = "SCMP_CMP_GT",
  [OCI_SCMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ", NULL
};

static int
oci_check_names (struct ocij *p, const char *key, char **v, size_t n, const char *const *known, const char *what)
{
  for (size_t i = 0; i < n; i++)
    if (!oci_str_in (v[i], known))
      {
        size_t m = ocij_key (p, key);
        ocij_idx (p, i);
        int rc = ocij_fail (p, "unknown %s \"%s\"", what, v[i]);
        ocij_pop (p, m);
        return rc;
      }
  return 0;
}

static int
oci_parse_seccomp_arg (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_seccomp_arg *a = elem;
  cleanup_free char *op = NULL;
  TRY (ocij_u32 (p, v, "index", true, &a->index, NULL));
  if (a->index > 5)
    return ocij_fail_key (p, "index", "syscall argument index %u out of range (0..5)", a->index);
  TRY (ocij_u64 (p, v, "value", true, &a->value, NULL));
  TRY (ocij_u64 (p, v, "valueTwo", false, &a->value_two, NULL));
  TRY (ocij_str (p, v, "op", true, &op));
  for (int i = 0; oci_seccomp_ops[i]; i++)
    if (strcmp (op, oci_seccomp_ops[i]) == 0)
      {
        a->op = (enum oci_seccomp_op) i;
        return 0;
      }
  return ocij_fail_key (p, "op", "unknown seccomp operator \"%s\"", op);
}

static int
oci_parse_seccomp_syscall (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_seccomp_syscall *s = elem;
  TRY (ocij_strv (p, v, "names", &s->names, &s->names_len, NULL));
  if (s->names_len == 0)
    return ocij_fail_key (p, "names", "required");
  TRY (ocij_str (p, v, "action", true, &s->action));
  if (!oci_str_in (s->action, oci_seccomp_actions))
    return ocij_fail_key (p, "action", "unknown seccomp action \"%s\"", s->action);
  TRY (ocij_u32 (p, v, "errnoRet", false, &s->errno_ret, &s->has_errno_ret));
  TRY (OBJARR (p, v, "args", s->args, oci_parse_seccomp_arg));
  return 0;
}

static int
oci_parse_seccomp (struct ocij *p, yajl_val o, struct oci_seccomp *s)
{
  TRY (ocij_str (p, o, "defaultAction", true, &s->default_action));
  if (!oci_str_in (s->default_action, oci_seccomp_actions))
    return ocij_fail_key (p, "defaultAction", "unknown seccomp action \"%s\"", s->default_action);
  TRY (ocij_u32 (p, o, "defaultErrnoRet", false, &s->default_errno_ret, &s->has_default_errno_ret));
  TRY (ocij_strv (p, o, "architectures", &s->architectures, &s->architectures_len, NULL));
  TRY (oci_check_names (p, "architectures", s->architectures, s->architectures_len, oci_seccomp_archs,
                        "seccomp architecture"));
  TRY (ocij_strv (p, o, "flags", &s->flags, &s->flags_len, NULL));
  TRY (oci_check_names (p, "flags", s->flags, s->flags_len, oci_seccomp_flags, "seccomp flag"));
  TRY (ocij_str (p, o, "listenerPath", false, &s->listener_path));
  TRY (ocij_str (p, o, "listenerMetadata", false, &s->listener_metadata));
  TRY (OBJARR (p, o, "syscalls", s->syscalls, oci_parse_seccomp_syscall));
  return 0;
}

/* ---- linux ---- */

static const char *const oci_ns_types[] = {
  "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time", NULL
};

static const char *const oci_propagations[] = {
  "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable", NULL
};

static int
oci_parse_namespace (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_namespace *ns = elem;
  TRY (ocij_str (p, v, "type", true, &ns->type));
  if (!oci_str_in (ns->type, oci_ns_types))
    return ocij_fail_key (p, "type", "unknown namespace type \"%s\"", ns->type);
  TRY (ocij_str (p, v, "path", false, &ns->path));
  return 0;
}

static int
oci_parse_device (struct ocij *p, yajl_val v, void *elem)
{
  struct oci_device *d = elem;
  TRY (ocij_str (p, v, "path", true, &d->path));
  if (d->path[0] == '\0')
    return ocij_fail_key (p, "path", "required");
  TRY (ocij_str (p, v, "type", true, &d->type));
  if (strcmp (d->type, "c") != 0 && strcmp (d->type, "b") != 0 && strcmp (d->type, "u") != 0
      && strcmp (d->type, "p") != 0)
    return ocij_fail_key (p, "type", "unknown device type \"%s\"", d->type);
  bool need_numbers = strcmp (d->type, "p") != 0;
  TRY (ocij_i64 (p, v, "major", need_numbers, &d->major, NULL));
  TRY (ocij_i64 (p, v, "minor", need_numbers, &d->minor, NULL));
  TRY (ocij_u32 (p, v, "fileMode", false, &d->file_mode, &d->has_file_mode));
  TRY (ocij_u32 (p, v, "uid", false, &d->uid, &d->has_uid));
  TRY (ocij_u32 (p, v, "gid", false, &d->gid, &d->has_gid));
  return 0;
}

static int
oci_parse_time_offset (struct ocij *p, yajl_val o, const char *key, struct oci_time_offset *t)
{
  yajl_val v;
  int r;
  TRY (r = ocij_obj (p, o, key, false, &v));
  if (r == 0)
    return 0;
  t->has = true;
  WITH_KEY (p, key, {
    TRY (ocij_i64 (p, v, "secs", false, &t->secs, NULL));
    TRY (ocij_u32 (p, v, "nanosecs", false, &t->nanosecs, NULL));
    if (t->nanosecs >= 1000000000u)
      return ocij_fail_key (p, "nanosecs", "must be less than 1000000000, got %u", t->nanosecs);
  });
  return 0;
}

static int
oci_parse_linux (struct ocij *p, yajl_val o, struct oci_linux *l)
{
  yajl_val v;
  int r;

  TRY (OBJARR (p, o, "uidMappings", l->uid_mappings, oci_parse_id_mapping));
  TRY (OBJARR (p, o, "gidMappings", l->gid_mappings, oci_parse_id_mapping));
  TRY (ocij_strmap (p, o, "sysctl", &l->sysctl, &l->sysctl_len));

  TRY (r = ocij_obj (p, o, "resources", false, &v));
  if (r > 0)
    {
      l->resources = xmalloc0 (sizeof *l->resources);
      WITH_KEY (p, "resources", TRY (oci_parse_resources_obj (p, v, l->resources)));
    }
  TRY (ocij_str (p, o, "cgroupsPath", false, &l->cgroups_path));

  TRY (OBJARR (p, o, "namespaces", l->namespaces, oci_parse_namespace));
  for (size_t i = 0; i < l->namespaces_len; i++)
    for (size_t j = 0; j < i; j++)
      if (strcmp (l->namespaces[i].type, l->namespaces[j].type) == 0)
        {
          size_t m = ocij_key (p, "namespaces");
          ocij_idx (p, i);
          int rc = ocij_fail_key (p, "type", "duplicate namespace type \"%s\"", l->namespaces[i].type);
          ocij_pop (p, m);
          return rc;
        }

  TRY (OBJARR (p, o, "devices", l->devices, oci_parse_device));

  TRY (r = ocij_obj (p, o, "seccomp", false, &v));
  if (r > 0)
    {
      l->seccomp = xmalloc0 (sizeof *l->seccomp);
      WITH_KEY (p, "seccomp", TRY (oci_parse_seccomp (p, v, l->seccomp)));
    }

  TRY (ocij_str (p, o, "rootfsPropagation", false, &l->rootfs_propagation));
  if (l->rootfs_propagation && l->rootfs_propagation[0] && !oci_str_in (l->rootfs_propagation, oci_propagations))
    return ocij_fail_key (p, "rootfsPropagation", "unknown propagation \"%s\"", l->rootfs_propagation);
  TRY (ocij_strv (p, o, "maskedPaths", &l->masked_paths, &l->masked_paths_len, NULL));
  TRY (ocij_strv (p, o, "readonlyPaths", &l->readonly_paths, &l->readonly_paths_len, NULL));
  TRY (ocij_str (p, o, "mountLabel", false, &l->mount_label));

  TRY (r = ocij_obj (p, o, "intelRdt", false, &v));
  if (r > 0)
    {
      struct oci_intel_rdt *rdt = l->intel_rdt = xmalloc0 (sizeof *rdt);
      WITH_KEY (p, "intelRdt", {
        TRY (ocij_str (p, v, "closID", false, &rdt->clos_id));
        TRY (ocij_str (p, v, "l3CacheSchema", false, &rdt->l3_cache_schema));
        TRY (ocij_str (p, v, "memBwSchema", false, &rdt->mem_bw_schema));
        TRY (ocij_bool (p, v, "enableCMT", &rdt->enable_cmt, NULL));
        TRY (ocij_bool (p, v, "enableMBM", &rdt->enable_mbm, NULL));
      });
    }

  TRY (r = ocij_obj (p, o, "personality", false, &v));
  if (r > 0)
    {
      struct oci_personality *pe = l->personality = xmalloc0 (sizeof *pe);
      WITH_KEY (p, "personality", {
        TRY (ocij_str (p, v, "domain", true, &pe->domain));
        if (strcmp (pe->domain, "LINUX") != 0 && strcmp (pe->domain, "LINUX32") != 0)
          return ocij_fail_key (p, "domain", "unknown personality domain \"%s\"", pe->domain);
        TRY (ocij_strv (p, v, "flags", &pe->flags, &pe->flags_len, NULL));
      });
    }

  TRY (r = ocij_obj (p, o, "timeOffsets", false, &v));
  if (r > 0)
    WITH_KEY (p, "timeOffsets", {
      TRY (oci_parse_time_offset (p, v, "monotonic", &l->time_monotonic));
      TRY (oci_parse_time_offset (p, v, "boottime", &l->time_boottime));
    });
  return 0;
}

/* ---- top level ---- */

static int
oci_parse_config_obj (struct ocij *p, yajl_val o, struct oci_config *c)
{
  yajl_val v;
  int r;

  TRY (ocij_str (p, o, "ociVersion", true, &c->oci_version));
  if (c->oci_version[0] == '\0')
    return ocij_fail_key (p, "ociVersion", "required");

  TRY (r = ocij_obj (p, o, "root", false, &v));
  if (r == 0)
    return ocij_fail_key (p, "root", "required");
  WITH_KEY (p, "root", {
    TRY (ocij_str (p, v, "path", true, &c->root_path));
    if (c->root_path[0] == '\0')
      return ocij_fail_key (p, "path", "required");
    TRY (ocij_bool (p, v, "readonly", &c->root_readonly, NULL));
  });

  TRY (OBJARR (p, o, "mounts", c->mounts, oci_parse_mount));

  TRY (r = ocij_obj (p, o, "process", false, &v));
  if (r > 0)
    {
      c->process = xmalloc0 (sizeof *c->process);
      WITH_KEY (p, "process", TRY (oci_parse_process_obj (p, v, c->process)));
    }

  TRY (ocij_str (p, o, "hostname", false, &c->hostname));
  TRY (ocij_str (p, o, "domainname", false, &c->domainname));

  TRY (r = ocij_obj (p, o, "hooks", false, &v));
  if (r > 0)
    WITH_KEY (p, "hooks", TRY (oci_parse_hooks (p, v, &c->hooks)));

  TRY (ocij_strmap (p, o, "annotations", &c->annotations, &c->annotations_len));

  TRY (r = ocij_obj (p, o, "linux", false, &v));
  if (r > 0)
    {
      c->linux_ = xmalloc0 (sizeof *c->linux_);
      WITH_KEY (p, "linux", TRY (oci_parse_linux (p, v, c->linux_)));
    }
  return 0;
}

static void
oci_tree_freep (yajl_val *t)
{
  if (*t)
    yajl_tree_free (*t);
}
#define cleanup_tree __attribute__ ((cleanup (oci_tree_freep)))

/* Parse text whose top level must be an object (what names the document in errors). */
static yajl_val
oci_parse_top (const char *json, size_t len, const char *what, cr_error_t *err)
{
  yajl_val t = ocij_parse_text (json, len, err);
  if (t == NULL)
    {
      cr_error_wrap (err, "parsing %s", what);
      return NULL;
    }
  if (!YAJL_IS_OBJECT (t))
    {
      yajl_tree_free (t);
      cr_error (err, 0, "parsing %s: expected a JSON object", what);
      return NULL;
    }
  return t;
}

struct oci_config *
oci_config_parse (const char *json, size_t len, cr_error_t *err)
{
  cleanup_tree yajl_val t = oci_parse_top (json, len, "config.json", err);
  if (t == NULL)
    return NULL;
  struct oci_config *c = xmalloc0 (sizeof *c);
  struct ocij p;
  ocij_init (&p, NULL, err);
  if (oci_parse_config_obj (&p, t, c) < 0)
    {
      oci_config_free (c);
      return NULL;
    }
  return c;
}

struct oci_config *
oci_config_load (const char *path, cr_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file (path, &buf, &len, err) < 0)
    return NULL;
  return oci_config_parse (buf, len, err);
}

struct oci_process *
oci_process_parse (const char *json, size_t len, cr_error_t *err)
{
  cleanup_tree yajl_val t = oci_parse_top (json, len, "process", err);
  if (t == NULL)
    return NULL;
  struct oci_process *proc = xmalloc0 (sizeof *proc);
  struct ocij p;
  ocij_init (&p, NULL, err);
  if (oci_parse_process_obj (&p, t, proc) < 0)
    {
      oci_process_free (proc);
      return NULL;
    }
  return proc;
}

struct oci_resources *
oci_resources_parse (const char *json, size_t len, cr_error_t *err)
{
  cleanup_tree yajl_val t = oci_parse_top (json, len, "resources", err);
  if (t == NULL)
    return NULL;
  struct oci_resources *r = xmalloc0 (sizeof *r);
  struct ocij p;
  ocij_init (&p, NULL, err);
  if (oci_parse_resources_obj (&p, t, r) < 0)
    {
      oci_resources_free (r);
      return NULL;
    }
  return r;
}

const char *
oci_annotation (const struct oci_config *c, const char *key)
{
  if (c == NULL || key == NULL)
    return NULL;
  for (size_t i = 0; i < c->annotations_len; i++)
    if (strcmp (c->annotations[i].key, key) == 0)
      return c->annotations[i].value;
  return NULL;
}

const struct oci_namespace *
oci_namespace_find (const struct oci_config *c, const char *type)
{
  if (c == NULL || c->linux_ == NULL || type == NULL)
    return NULL;
  for (size_t i = 0; i < c->linux_->namespaces_len; i++)
    if (strcmp (c->linux_->namespaces[i].type, type) == 0)
      return &c->linux_->namespaces[i];
  return NULL;
}
