/* oci-spec/config.c: every field of a full config is parsed, real generator
 * output parses, and every rejected input gives one exact error message. */
#include "oci-spec/config.h"
#include "lib/util.h"
#include "t.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static char *
fixture (const char *name)
{
  const char *src = getenv ("CAPSULE_SRC");
  cleanup_free char *dir = src ? xasprintf ("%s/tests/unit", src) : xstrdup (__FILE__);
  if (!src)
    *strrchr (dir, '/') = '\0';
  return xasprintf ("%s/data/%s", dir, name);
}

static struct oci_config *
load_fixture (const char *name)
{
  cleanup_free char *path = fixture (name);
  cleanup_error cr_error_t err = NULL;
  struct oci_config *c = oci_config_load (path, &err);
  T_CHECK (c != NULL, "%s: %s", name, err ? err->msg : "");
  return c;
}

/* Parse a config made of the minimal valid one plus extra members; expect msg. */
static void
expect_err (const char *extra, const char *msg)
{
  cleanup_free char *json = xasprintf ("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"}%s%s}",
                                        extra[0] ? "," : "", extra);
  cleanup_error cr_error_t err = NULL;
  struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c == NULL, "accepted: %s", json);
  oci_config_free (c);
  T_STREQ (err ? err->msg : NULL, msg);
}

static void
expect_raw_err (const char *json, const char *msg)
{
  cleanup_error cr_error_t err = NULL;
  struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c == NULL, "accepted: %s", json);
  oci_config_free (c);
  T_STREQ (err ? err->msg : NULL, msg);
}

static void
expect_ok (const char *extra)
{
  cleanup_free char *json = xasprintf ("{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"}%s%s}",
                                        extra[0] ? "," : "", extra);
  cleanup_error cr_error_t err = NULL;
  cleanup_config struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c != NULL, "%s rejected: %s", json, err ? err->msg : "");
}

static void
test_full (void)
{
  cleanup_config struct oci_config *c = load_fixture ("config-full.json");
  if (c == NULL)
    return;
  T_STREQ (c->oci_version, "1.2.0");
  T_STREQ (c->root_path, "/var/lib/rootfs");
  T_CHECK (c->root_readonly, "readonly");
  T_STREQ (c->hostname, "box");
  T_STREQ (c->domainname, "example.org");

  T_CHECK (c->mounts_len == 2, "mounts %zu", c->mounts_len);
  T_STREQ (c->mounts[0].destination, "/proc");
  T_STREQ (c->mounts[0].type, "proc");
  T_STREQ (c->mounts[0].source, "proc");
  T_CHECK (c->mounts[0].options == NULL && c->mounts[0].options_len == 0, "no options");
  T_STREQ (c->mounts[1].destination, "data");
  T_CHECK (c->mounts[1].options_len == 3, "options");
  T_STREQ (c->mounts[1].options[2], "nosuid");
  T_CHECK (c->mounts[1].options[3] == NULL, "strv NULL-terminated");
  T_CHECK (c->mounts[1].uid_mappings_len == 1 && c->mounts[1].uid_mappings[0].host_id == 100000
           && c->mounts[1].uid_mappings[0].size == 65536, "mount uid map");
  T_CHECK (c->mounts[1].gid_mappings_len == 1 && c->mounts[1].gid_mappings[0].container_id == 1
           && c->mounts[1].gid_mappings[0].host_id == 200000 && c->mounts[1].gid_mappings[0].size == 1000,
           "mount gid map");

  struct oci_process *p = c->process;
  T_CHECK (p != NULL, "process");
  if (p == NULL)
    return;
  T_CHECK (p->terminal, "terminal");
  T_CHECK (p->has_console_size && p->console_height == 40 && p->console_width == 132, "consoleSize");
  T_CHECK (p->user.uid == 1000 && p->user.gid == 1001, "uid/gid");
  T_CHECK (p->user.has_umask && p->user.umask == 18, "umask");
  T_CHECK (p->user.additional_gids_len == 2 && p->user.additional_gids[0] == 5
           && p->user.additional_gids[1] == 4294967295u, "additionalGids");
  T_STREQ (p->user.username, "agent");
  T_CHECK (p->args_len == 3, "args");
  T_STREQ (p->args[0], "/bin/sh");
  T_STREQ (p->args[2], "echo hi");
  T_CHECK (p->args[3] == NULL, "args NULL-terminated");
  T_CHECK (p->env_len == 2, "env");
  T_STREQ (p->env[1], "TERM=xterm");
  T_STREQ (p->cwd, "/work");
  T_CHECK (p->capabilities != NULL, "caps");
  if (p->capabilities)
    {
      struct oci_capabilities *k = p->capabilities;
      T_CHECK (k->has_bounding && k->bounding_len == 2, "bounding");
      T_STREQ (k->bounding[1], "CAP_NET_BIND_SERVICE");
      T_CHECK (k->has_effective && k->effective_len == 1, "effective");
      T_STREQ (k->effective[0], "CAP_KILL");
      T_CHECK (k->has_inheritable && k->inheritable_len == 0, "inheritable present but empty");
      T_CHECK (k->has_permitted && k->permitted_len == 2, "permitted");
      T_CHECK (k->has_ambient && k->ambient_len == 1, "ambient");
      T_STREQ (k->ambient[0], "CAP_NET_BIND_SERVICE");
    }
  T_CHECK (p->rlimits_len == 2, "rlimits");
  T_STREQ (p->rlimits[0].type, "RLIMIT_NOFILE");
  T_CHECK (p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 4096, "nofile");
  T_CHECK (p->rlimits[1].soft == UINT64_MAX && p->rlimits[1].hard == UINT64_MAX, "unlimited core");
  T_CHECK (p->no_new_privileges, "nnp");
  T_STREQ (p->apparmor_profile, "capsule-default");
  T_CHECK (p->has_oom_score_adj && p->oom_score_adj == -500, "oomScoreAdj");
  T_STREQ (p->selinux_label, "system_u:system_r:container_t:s0:c1,c2");
  T_CHECK (p->scheduler != NULL, "scheduler");
  if (p->scheduler)
    {
      T_STREQ (p->scheduler->policy, "SCHED_DEADLINE");
      T_CHECK (p->scheduler->nice == -5 && p->scheduler->priority == 3, "nice/prio");
      T_CHECK (p->scheduler->flags_len == 1, "sched flags");
      T_CHECK (p->scheduler->runtime == 10000000 && p->scheduler->deadline == 20000000
               && p->scheduler->period == 30000000, "deadline params");
    }
  T_CHECK (p->io_priority && p->io_priority->priority == 4, "ioPriority");
  if (p->io_priority)
    T_STREQ (p->io_priority->klass, "IOPRIO_CLASS_BE");
  T_STREQ (p->exec_cpu_affinity_initial, "0-1");
  T_STREQ (p->exec_cpu_affinity_final, "1");

  struct oci_hooks *h = &c->hooks;
  T_CHECK (h->len[OCI_HOOK_PRESTART] == 1, "prestart");
  T_STREQ (h->hooks[OCI_HOOK_PRESTART][0].path, "/usr/bin/prestart-hook");
  T_CHECK (h->hooks[OCI_HOOK_PRESTART][0].args_len == 2, "hook args");
  T_STREQ (h->hooks[OCI_HOOK_PRESTART][0].args[1], "--x");
  T_CHECK (h->hooks[OCI_HOOK_PRESTART][0].env_len == 1, "hook env");
  T_CHECK (h->hooks[OCI_HOOK_PRESTART][0].has_timeout && h->hooks[OCI_HOOK_PRESTART][0].timeout == 5, "timeout");
  T_CHECK (h->len[OCI_HOOK_CREATE_RUNTIME] == 2, "createRuntime");
  T_STREQ (h->hooks[OCI_HOOK_CREATE_RUNTIME][1].path, "/usr/bin/cr2");
  T_CHECK (!h->hooks[OCI_HOOK_CREATE_RUNTIME][1].has_timeout, "no timeout");
  T_CHECK (h->len[OCI_HOOK_CREATE_CONTAINER] == 1 && h->len[OCI_HOOK_START_CONTAINER] == 1
           && h->len[OCI_HOOK_POSTSTART] == 1 && h->len[OCI_HOOK_POSTSTOP] == 1, "other hooks");
  T_STREQ (h->hooks[OCI_HOOK_START_CONTAINER][0].path, "/usr/bin/sc");
  T_STREQ (h->hooks[OCI_HOOK_POSTSTOP][0].path, "/usr/bin/pst");

  T_STREQ (oci_annotation (c, "capsule/profile"), "default");
  T_STREQ (oci_annotation (c, "org.example/dup"), "second");
  T_CHECK (c->annotations_len == 2, "duplicate annotation keys collapse: %zu", c->annotations_len);
  T_CHECK (oci_annotation (c, "nope") == NULL, "absent annotation");

  struct oci_linux *l = c->linux_;
  T_CHECK (l != NULL, "linux");
  if (l == NULL)
    return;
  T_CHECK (l->uid_mappings_len == 1 && l->uid_mappings[0].host_id == 1000 && l->uid_mappings[0].size == 1, "uidmap");
  T_CHECK (l->gid_mappings_len == 1 && l->gid_mappings[0].host_id == 1001 && l->gid_mappings[0].size == 2, "gidmap");
  T_CHECK (l->sysctl_len == 2, "sysctl");
  T_STREQ (l->sysctl[0].key, "net.ipv4.ip_forward");
  T_STREQ (l->sysctl[0].value, "1");
  T_STREQ (l->cgroups_path, "system.slice:capsule:abc");
  T_CHECK (l->namespaces_len == 8, "namespaces");
  T_CHECK (oci_namespace_find (c, "network") && strcmp (oci_namespace_find (c, "network")->path, "/var/run/netns/x") == 0,
           "netns path");
  T_CHECK (oci_namespace_find (c, "time") && oci_namespace_find (c, "time")->path == NULL, "time ns");
  T_CHECK (l->devices_len == 2, "devices");
  T_STREQ (l->devices[0].path, "/dev/fuse");
  T_STREQ (l->devices[0].type, "c");
  T_CHECK (l->devices[0].major == 10 && l->devices[0].minor == 229, "dev numbers");
  T_CHECK (l->devices[0].has_file_mode && l->devices[0].file_mode == 438, "fileMode");
  T_CHECK (l->devices[0].has_uid && l->devices[0].has_gid, "dev uid/gid");
  T_CHECK (!l->devices[1].has_file_mode && !l->devices[1].has_uid, "fifo without extras");

  struct oci_resources *r = l->resources;
  T_CHECK (r != NULL, "resources");
  if (r)
    {
      T_CHECK (r->devices_len == 3, "dev rules");
      T_CHECK (!r->devices[0].allow && r->devices[0].type == NULL && !r->devices[0].has_major, "deny all");
      T_STREQ (r->devices[0].access, "rwm");
      T_CHECK (r->devices[1].allow && r->devices[1].has_major && r->devices[1].major == 10
               && r->devices[1].has_minor && r->devices[1].minor == 229, "allow fuse");
      T_CHECK (r->devices[2].has_major && !r->devices[2].has_minor && r->devices[2].access == NULL, "wildcard minor");
      struct oci_memory *m = r->memory;
      T_CHECK (m && m->has_limit && m->limit == 536870912 && m->has_reservation && m->reservation == 268435456
               && m->has_swap && m->swap == -1 && m->has_kernel && m->kernel == 0 && m->has_kernel_tcp
               && m->kernel_tcp == 1048576 && m->has_swappiness && m->swappiness == 60
               && m->has_disable_oom_killer && m->disable_oom_killer && m->has_use_hierarchy && !m->use_hierarchy
               && m->has_check_before_update && m->check_before_update, "memory");
      struct oci_cpu *cpu = r->cpu;
      T_CHECK (cpu && cpu->has_shares && cpu->shares == 1024 && cpu->has_quota && cpu->quota == 50000
               && cpu->has_burst && cpu->burst == 1000 && cpu->has_period && cpu->period == 100000
               && cpu->has_realtime_runtime && cpu->realtime_runtime == 950000 && cpu->has_realtime_period
               && cpu->realtime_period == 1000000 && cpu->has_idle && cpu->idle == 1, "cpu");
      if (cpu)
        {
          T_STREQ (cpu->cpus, "0-1");
          T_STREQ (cpu->mems, "0");
        }
      T_CHECK (r->has_pids_limit && r->pids_limit == 256, "pids");
      struct oci_blkio *b = r->block_io;
      T_CHECK (b && b->has_weight && b->weight == 500 && b->has_leaf_weight && b->leaf_weight == 300, "blkio weight");
      if (b)
        {
          T_CHECK (b->weight_device_len == 2 && b->weight_device[0].major == 8 && b->weight_device[0].weight == 600
                   && b->weight_device[0].has_leaf_weight && b->weight_device[0].leaf_weight == 200
                   && b->weight_device[1].minor == 16 && !b->weight_device[1].has_leaf_weight, "weightDevice");
          T_CHECK (b->throttle_read_bps_len == 1 && b->throttle_read_bps[0].rate == 1048576, "rbps");
          T_CHECK (b->throttle_write_bps_len == 1 && b->throttle_write_bps[0].rate == 2097152, "wbps");
          T_CHECK (b->throttle_read_iops_len == 1 && b->throttle_read_iops[0].rate == 100, "riops");
          T_CHECK (b->throttle_write_iops_len == 1 && b->throttle_write_iops[0].rate == 200, "wiops");
        }
      T_CHECK (r->hugepage_limits_len == 1 && r->hugepage_limits[0].limit == 209715200, "hugepages");
      T_STREQ (r->hugepage_limits[0].page_size, "2MB");
      T_CHECK (r->has_network && r->has_class_id && r->class_id == 1048577, "classID");
      T_CHECK (r->net_priorities_len == 2 && r->net_priorities[0].priority == 500, "priorities");
      T_STREQ (r->net_priorities[1].name, "lo");
      T_CHECK (r->rdma_len == 1 && r->rdma[0].has_hca_handles && r->rdma[0].hca_handles == 3
               && r->rdma[0].has_hca_objects && r->rdma[0].hca_objects == 10000, "rdma");
      T_STREQ (r->rdma[0].name, "mlx5_1");
      T_CHECK (r->unified_len == 2, "unified");
      T_STREQ (r->unified[1].key, "io.weight");
      T_STREQ (r->unified[1].value, "default 100");
    }

  struct oci_seccomp *s = l->seccomp;
  T_CHECK (s != NULL, "seccomp");
  if (s)
    {
      T_STREQ (s->default_action, "SCMP_ACT_ERRNO");
      T_CHECK (s->has_default_errno_ret && s->default_errno_ret == 1, "defaultErrnoRet");
      T_CHECK (s->architectures_len == 3, "archs");
      T_STREQ (s->architectures[2], "SCMP_ARCH_X32");
      T_CHECK (s->flags_len == 1, "flags");
      T_STREQ (s->listener_path, "/run/seccomp-agent.sock");
      T_STREQ (s->listener_metadata, "meta");
      T_CHECK (s->syscalls_len == 4, "syscalls");
      T_CHECK (s->syscalls[0].names_len == 3 && !s->syscalls[0].has_errno_ret && s->syscalls[0].args_len == 0, "rule 0");
      T_CHECK (s->syscalls[1].args_len == 1 && s->syscalls[1].args[0].index == 0 && s->syscalls[1].args[0].value == 8
               && s->syscalls[1].args[0].op == OCI_SCMP_EQ, "rule 1 arg");
      T_CHECK (s->syscalls[2].args[0].op == OCI_SCMP_MASKED_EQ && s->syscalls[2].args[0].value == 2114060288, "masked");
      T_CHECK (s->syscalls[3].has_errno_ret && s->syscalls[3].errno_ret == 38, "errnoRet");
      T_STREQ (s->syscalls[3].action, "SCMP_ACT_ERRNO");
    }
  T_STREQ (l->rootfs_propagation, "rslave");
  T_CHECK (l->masked_paths_len == 2 && l->readonly_paths_len == 1, "masked/ro");
  T_STREQ (l->masked_paths[1], "/sys/firmware");
  T_STREQ (l->mount_label, "system_u:object_r:container_file_t:s0");
  T_CHECK (l->intel_rdt && l->intel_rdt->enable_cmt && l->intel_rdt->enable_mbm, "rdt");
  if (l->intel_rdt)
    {
      T_STREQ (l->intel_rdt->clos_id, "guaranteed");
      T_STREQ (l->intel_rdt->l3_cache_schema, "L3:0=7f0");
      T_STREQ (l->intel_rdt->mem_bw_schema, "MB:0=20");
    }
  T_CHECK (l->personality && l->personality->flags_len == 0, "personality");
  if (l->personality)
    T_STREQ (l->personality->domain, "LINUX32");
  T_CHECK (l->time_monotonic.has && l->time_monotonic.secs == -3600 && l->time_monotonic.nanosecs == 5, "monotonic");
  T_CHECK (l->time_boottime.has && l->time_boottime.secs == 86400 && l->time_boottime.nanosecs == 999999999, "boottime");
}

static void
test_generated (void)
{
  cleanup_config struct oci_config *c = load_fixture ("config-runc-spec.json");
  if (c)
    {
      T_STREQ (c->root_path, "rootfs");
      T_CHECK (c->process && c->process->terminal && c->process->args_len == 1, "runc spec process");
      T_CHECK (c->process && c->process->capabilities && !c->process->capabilities->has_inheritable, "no inheritable");
      T_CHECK (c->linux_ && c->linux_->namespaces_len == 5, "runc spec namespaces");
      T_CHECK (oci_namespace_find (c, "user") == NULL, "no userns");
      T_CHECK (c->linux_ && c->linux_->masked_paths_len > 5, "masked paths");
      T_CHECK (c->mounts_len == 7, "runc spec mounts %zu", c->mounts_len);
    }
  cleanup_config struct oci_config *r = load_fixture ("config-runc-spec-rootless.json");
  if (r)
    {
      T_CHECK (oci_namespace_find (r, "user") != NULL, "rootless userns");
      T_CHECK (r->linux_ && r->linux_->uid_mappings_len == 1 && r->linux_->uid_mappings[0].size == 1, "rootless map");
    }
  cleanup_config struct oci_config *k = load_fixture ("config-containerd.json");
  if (k)
    {
      T_CHECK (k->linux_ && k->linux_->seccomp && k->linux_->seccomp->syscalls_len > 3, "containerd seccomp");
      T_STREQ (oci_annotation (k, "io.kubernetes.cri.container-type"), "container");
      T_CHECK (k->linux_ && k->linux_->resources && k->linux_->resources->devices_len == 1, "device deny-all");
    }
}

static void
test_minimal (void)
{
  const char *json = "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"}}";
  cleanup_error cr_error_t err = NULL;
  cleanup_config struct oci_config *c = oci_config_parse (json, strlen (json), &err);
  T_CHECK (c != NULL, "minimal: %s", err ? err->msg : "");
  if (c)
    {
      T_CHECK (c->process == NULL && c->linux_ == NULL && c->mounts_len == 0 && !c->root_readonly, "all absent");
      T_CHECK (oci_namespace_find (c, "pid") == NULL, "no ns");
      for (int k = 0; k < OCI_HOOK__COUNT; k++)
        T_CHECK (c->hooks.len[k] == 0 && c->hooks.hooks[k] == NULL, "no hooks");
    }
  /* null counts as absent; relative mount destinations are accepted (runc 1.1) */
  expect_ok ("\"process\":null,\"hostname\":null,\"mounts\":[{\"destination\":\"tmp\"}]");
  expect_ok ("\"linux\":{\"rootfsPropagation\":\"\"}");
  /* Go's encoding/json matches field names case-insensitively; exact names win */
  {
    const char *j = "{\"OCIVERSION\":\"1.0.0\",\"Root\":{\"Path\":\"r\"},\"hostname\":\"exact\",\"HOSTNAME\":\"folded\"}";
    cleanup_error cr_error_t e = NULL;
    cleanup_config struct oci_config *ci = oci_config_parse (j, strlen (j), &e);
    T_CHECK (ci != NULL, "case-insensitive keys: %s", e ? e->msg : "");
    if (ci)
      {
        T_STREQ (ci->root_path, "r");
        T_STREQ (ci->hostname, "exact");
      }
  }
  expect_ok ("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"a\"}]}}");
  expect_ok ("\"process\":{\"args\":[\"x\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NPROC\",\"soft\":0,\"hard\":0}]}");
  /* not NUL-terminated input */
  const char buf[] = "{\"ociVersion\":\"1\",\"root\":{\"path\":\"r\"}}GARBAGE";
  cleanup_error cr_error_t e2 = NULL;
  cleanup_config struct oci_config *c2 = oci_config_parse (buf, sizeof buf - 1 - 7, &e2);
  T_CHECK (c2 != NULL, "len honoured: %s", e2 ? e2->msg : "");

  T_STREQ (oci_hook_kind_name (OCI_HOOK_CREATE_RUNTIME), "createRuntime");
  T_STREQ (oci_hook_kind_name (OCI_HOOK_POSTSTOP), "poststop");
  T_CHECK (oci_hook_kind_name (OCI_HOOK__COUNT) == NULL, "out of range kind");
}

static void
test_errors (void)
{
  /* document level */
  expect_raw_err ("", "parsing config.json: invalid JSON: premature EOF");
  expect_raw_err ("{\"a\":", "parsing config.json: invalid JSON: premature EOF");
  expect_raw_err ("[1]", "parsing config.json: expected a JSON object");
  expect_raw_err ("{\"root\":{\"path\":\"r\"}}", "ociVersion: required");
  expect_raw_err ("{\"ociVersion\":\"\",\"root\":{\"path\":\"r\"}}", "ociVersion: required");
  expect_raw_err ("{\"ociVersion\":1,\"root\":{\"path\":\"r\"}}", "ociVersion: expected string");
  expect_raw_err ("{\"ociVersion\":\"1.0.0\"}", "root: required");
  expect_raw_err ("{\"ociVersion\":\"1.0.0\",\"root\":{}}", "root.path: required");
  expect_raw_err ("{\"ociVersion\":\"1.0.0\",\"root\":\"r\"}", "root: expected object");
  expect_raw_err ("{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\",\"readonly\":\"yes\"}}",
                  "root.readonly: expected boolean");

  /* process */
  expect_err ("\"process\":[]", "process: expected object");
  expect_err ("\"process\":{\"cwd\":\"/\"}", "process.args: must not be empty");
  expect_err ("\"process\":{\"args\":[],\"cwd\":\"/\"}", "process.args: must not be empty");
  expect_err ("\"process\":{\"args\":\"sh\",\"cwd\":\"/\"}", "process.args: expected array");
  expect_err ("\"process\":{\"args\":[\"sh\",3],\"cwd\":\"/\"}", "process.args[1]: expected string");
  expect_err ("\"process\":{\"args\":[\"sh\"]}", "process.cwd: required");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"tmp\"}", "process.cwd: must be an absolute path, got \"tmp\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[1]}", "process.env[0]: expected string");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"terminal\":1}", "process.terminal: expected boolean");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":-1}}",
              "process.user.uid: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":4294967296}}",
              "process.user.uid: value 4294967296 out of range for uint32");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"gid\":1.5}}",
              "process.user.gid: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":\"0\"}}",
              "process.user.uid: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"additionalGids\":[1,-2]}}",
              "process.user.additionalGids[1]: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"consoleSize\":{\"height\":1e3}}",
              "process.consoleSize.height: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":2},"
              "{\"type\":\"RLIMIT_CORE\",\"soft\":1,\"hard\":2},{\"type\":\"RLIMIT_AS\",\"soft\":1,\"hard\":\"x\"}]}",
              "process.rlimits[2].hard: expected unsigned integer");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":18446744073709551616,\"hard\":1}]}",
              "process.rlimits[0].soft: value 18446744073709551616 out of range for uint64");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]}",
              "process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"soft\":1,\"hard\":1}]}",
              "process.rlimits[0].type: required");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_AS\",\"hard\":1}]}",
              "process.rlimits[0].soft: required");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[{\"type\":\"RLIMIT_AS\",\"soft\":1,\"hard\":1},"
              "{\"type\":\"RLIMIT_AS\",\"soft\":1,\"hard\":1}]}",
              "process.rlimits[1].type: duplicate rlimit type \"RLIMIT_AS\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"rlimits\":[5]}", "process.rlimits[0]: expected object");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_KILL\",false]}}",
              "process.capabilities.bounding[1]: expected string");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"oomScoreAdj\":2147483648}",
              "process.oomScoreAdj: value 2147483648 out of range for int32");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"scheduler\":{}}", "process.scheduler.policy: required");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"scheduler\":{\"policy\":\"SCHED_X\"}}",
              "process.scheduler.policy: unknown scheduler policy \"SCHED_X\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"scheduler\":{\"policy\":\"SCHED_RR\",\"flags\":[\"SCHED_FLAG_RECLAIM\",\"F\"]}}",
              "process.scheduler.flags[1]: unknown scheduler flag \"F\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"ioPriority\":{\"class\":\"IOPRIO_CLASS_X\"}}",
              "process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_X\"");
  expect_err ("\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"ioPriority\":{\"class\":\"IOPRIO_CLASS_RT\",\"priority\":8}}",
              "process.ioPriority.priority: must be between 0 and 7, got 8");

  /* mounts and hooks */
  expect_err ("\"mounts\":{}", "mounts: expected array");
  expect_err ("\"mounts\":[{\"destination\":\"/a\"},{\"type\":\"tmpfs\"}]", "mounts[1].destination: required");
  expect_err ("\"mounts\":[{\"destination\":\"/a\",\"options\":[\"ro\",null]}]", "mounts[0].options[1]: expected string");
  expect_err ("\"mounts\":[{\"destination\":\"/a\",\"uidMappings\":[{\"size\":-1}]}]",
              "mounts[0].uidMappings[0].size: expected unsigned integer");
  expect_err ("\"hooks\":{\"prestart\":[{\"args\":[\"x\"]}]}", "hooks.prestart[0].path: required");
  expect_err ("\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\"},{\"path\":\"rel\"}]}",
              "hooks.poststop[1].path: must be an absolute path, got \"rel\"");
  expect_err ("\"hooks\":{\"createRuntime\":[{\"path\":\"/x\",\"timeout\":0}]}",
              "hooks.createRuntime[0].timeout: must be greater than zero, got 0");
  expect_err ("\"hooks\":{\"startContainer\":{}}", "hooks.startContainer: expected array");
  expect_err ("\"annotations\":{\"a\":\"b\",\"c\":1}", "annotations.c: expected string");
  expect_err ("\"annotations\":[]", "annotations: expected object");

  /* linux */
  expect_err ("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"foo\"}]}",
              "linux.namespaces[1].type: unknown namespace type \"foo\"");
  expect_err ("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"pid\",\"path\":\"/x\"}]}",
              "linux.namespaces[2].type: duplicate namespace type \"pid\"");
  expect_err ("\"linux\":{\"namespaces\":[{\"path\":\"/x\"}]}", "linux.namespaces[0].type: required");
  expect_err ("\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":\"1\",\"size\":1}]}",
              "linux.uidMappings[0].hostID: expected unsigned integer");
  expect_err ("\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":1}}", "linux.sysctl.net.ipv4.ip_forward: expected string");
  expect_err ("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\",\"major\":1,\"minor\":1}]}",
              "linux.devices[0].type: unknown device type \"q\"");
  expect_err ("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"minor\":1}]}",
              "linux.devices[0].major: required");
  expect_err ("\"linux\":{\"devices\":[{\"type\":\"c\",\"major\":1,\"minor\":1}]}", "linux.devices[0].path: required");
  expect_err ("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1,\"minor\":1,\"fileMode\":-1}]}",
              "linux.devices[0].fileMode: expected unsigned integer");
  expect_err ("\"linux\":{\"rootfsPropagation\":\"weird\"}", "linux.rootfsPropagation: unknown propagation \"weird\"");
  expect_err ("\"linux\":{\"maskedPaths\":\"/proc\"}", "linux.maskedPaths: expected array");
  expect_err ("\"linux\":{\"personality\":{\"domain\":\"BSD\"}}", "linux.personality.domain: unknown personality domain \"BSD\"");
  expect_err ("\"linux\":{\"timeOffsets\":{\"boottime\":{\"secs\":1,\"nanosecs\":1000000000}}}",
              "linux.timeOffsets.boottime.nanosecs: must be less than 1000000000, got 1000000000");
  expect_err ("\"linux\":{\"intelRdt\":{\"enableCMT\":\"true\"}}", "linux.intelRdt.enableCMT: expected boolean");

  /* resources */
  expect_err ("\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}", "linux.resources.memory.limit: expected integer");
  expect_err ("\"linux\":{\"resources\":{\"memory\":{\"limit\":9223372036854775808}}}",
              "linux.resources.memory.limit: value 9223372036854775808 out of range for int64");
  expect_err ("\"linux\":{\"resources\":{\"memory\":{\"swappiness\":-1}}}",
              "linux.resources.memory.swappiness: expected unsigned integer");
  expect_err ("\"linux\":{\"resources\":{\"cpu\":{\"shares\":1,\"cpus\":3}}}", "linux.resources.cpu.cpus: expected string");
  expect_err ("\"linux\":{\"resources\":{\"pids\":{\"limit\":true}}}", "linux.resources.pids.limit: expected integer");
  expect_err ("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}}",
              "linux.resources.devices[0].type: unknown device type \"x\"");
  expect_err ("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}",
              "linux.resources.devices[0].access: invalid device access \"rwx\" (expected a subset of \"rwm\")");
  expect_err ("\"linux\":{\"resources\":{\"blockIO\":{\"weight\":65536}}}",
              "linux.resources.blockIO.weight: value 65536 out of range for uint16");
  expect_err ("\"linux\":{\"resources\":{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0}]}}}",
              "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required");
  expect_err ("\"linux\":{\"resources\":{\"hugepageLimits\":[{\"limit\":1}]}}",
              "linux.resources.hugepageLimits[0].pageSize: required");
  expect_err ("\"linux\":{\"resources\":{\"network\":{\"priorities\":[{\"name\":\"eth0\",\"priority\":-1}]}}}",
              "linux.resources.network.priorities[0].priority: expected unsigned integer");
  expect_err ("\"linux\":{\"resources\":{\"rdma\":{\"mlx\":{\"hcaHandles\":\"1\"}}}}",
              "linux.resources.rdma.mlx.hcaHandles: expected unsigned integer");
  expect_err ("\"linux\":{\"resources\":{\"unified\":{\"memory.max\":100}}}",
              "linux.resources.unified.memory.max: expected string");

  /* seccomp */
  expect_err ("\"linux\":{\"seccomp\":{}}", "linux.seccomp.defaultAction: required");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_BOGUS\"}}",
              "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_BOGUS\"");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_VAX\"]}}",
              "linux.seccomp.architectures[1]: unknown seccomp architecture \"SCMP_ARCH_VAX\"");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}}",
              "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_NOPE\"");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_ERRNO\"}]}}",
              "linux.seccomp.syscalls[0].names: required");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}}",
              "linux.seccomp.syscalls[0].action: required");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"ALLOW\"}]}}",
              "linux.seccomp.syscalls[0].action: unknown seccomp action \"ALLOW\"");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]}}",
              "linux.seccomp.syscalls[0].errnoRet: expected unsigned integer");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
              "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_XX\"}]}]}}",
              "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_XX\"");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
              "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}",
              "linux.seccomp.syscalls[0].args[0].index: syscall argument index 6 out of range (0..5)");
  expect_err ("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
              "\"args\":[{\"index\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}",
              "linux.seccomp.syscalls[0].args[0].value: required");
}

static void
test_process_and_resources (void)
{
  const char *pj = "{\"args\":[\"/bin/echo\",\"x\"],\"cwd\":\"/tmp\",\"env\":[\"A=B\"],\"user\":{\"uid\":5}}";
  cleanup_error cr_error_t err = NULL;
  struct oci_process *p = oci_process_parse (pj, strlen (pj), &err);
  T_CHECK (p != NULL, "process.json: %s", err ? err->msg : "");
  if (p)
    {
      T_STREQ (p->args[1], "x");
      T_STREQ (p->cwd, "/tmp");
      T_CHECK (p->user.uid == 5 && p->env_len == 1, "process fields");
    }
  oci_process_free (p);

  const char *bad = "{\"args\":[\"/bin/echo\"],\"cwd\":\"rel\"}";
  cleanup_error cr_error_t e2 = NULL;
  p = oci_process_parse (bad, strlen (bad), &e2);
  T_CHECK (p == NULL, "relative cwd accepted");
  oci_process_free (p);
  T_STREQ (e2 ? e2->msg : NULL, "cwd: must be an absolute path, got \"rel\"");

  cleanup_error cr_error_t e3 = NULL;
  p = oci_process_parse ("[]", 2, &e3);
  T_CHECK (p == NULL, "array accepted");
  T_STREQ (e3 ? e3->msg : NULL, "parsing process: expected a JSON object");

  const char *rj = "{\"memory\":{\"limit\":1048576,\"swap\":-1},\"cpu\":{\"quota\":-1},\"pids\":{\"limit\":-1},\"unknown\":1}";
  cleanup_error cr_error_t e4 = NULL;
  struct oci_resources *r = oci_resources_parse (rj, strlen (rj), &e4);
  T_CHECK (r != NULL, "resources: %s", e4 ? e4->msg : "");
  if (r)
    T_CHECK (r->memory && r->memory->limit == 1048576 && r->memory->swap == -1 && r->cpu && r->cpu->quota == -1
             && r->has_pids_limit && r->pids_limit == -1 && r->block_io == NULL, "resources fields");
  oci_resources_free (r);

  const char *rb = "{\"cpu\":{\"period\":-5}}";
  cleanup_error cr_error_t e5 = NULL;
  r = oci_resources_parse (rb, strlen (rb), &e5);
  T_CHECK (r == NULL, "negative period accepted");
  oci_resources_free (r);
  T_STREQ (e5 ? e5->msg : NULL, "cpu.period: expected unsigned integer");

  cleanup_error cr_error_t e6 = NULL;
  cleanup_config struct oci_config *c = oci_config_load ("/nonexistent/config.json", &e6);
  T_CHECK (c == NULL, "missing file");
  T_CONTAINS (e6 ? e6->msg : NULL, "open `/nonexistent/config.json`: No such file or directory");
}

/* Every prefix of the full fixture is rejected cleanly (no crash, no leak under ASan). */
static void
test_truncated (void)
{
  cleanup_free char *path = fixture ("config-full.json");
  cleanup_free char *buf = NULL;
  size_t len = 0;
  cleanup_error cr_error_t err = NULL;
  T_CHECK (read_file (path, &buf, &len, &err) == 0, "read fixture");
  if (buf == NULL)
    return;
  int rejected = 0;
  for (size_t n = 0; n + 2 < len; n++)
    {
      cleanup_error cr_error_t e = NULL;
      struct oci_config *c = oci_config_parse (buf, n, &e);
      rejected += c == NULL && e != NULL;
      oci_config_free (c);
    }
  T_CHECK ((size_t) rejected == len - 2, "%d of %zu prefixes rejected", rejected, len - 2);
}

int
main (void)
{
  test_truncated ();
  test_full ();
  test_generated ();
  test_minimal ();
  test_errors ();
  test_process_and_resources ();
  return t_done ();
}
