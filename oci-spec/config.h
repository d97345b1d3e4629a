/* The OCI runtime-spec config.json (1.0 – 1.2, the fields runc reads) as C
 * structures, parsed with yajl.  Unknown keys are ignored like runc does;
 * a wrong type, bad value or missing required field is an error naming the
 * JSON path ("process.rlimits[2].hard: expected unsigned integer").
 *
 * Conventions: strings are NULL when absent; arrays are (ptr, count);
 * optional scalars carry a has_ flag; everything is owned by the struct and
 * freed by oci_config_free. */
#ifndef CAPSULE_OCI_CONFIG_H
#define CAPSULE_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

struct oci_kv { char *key; char *value; };  /* for string maps (annotations, sysctl, unified) */

struct oci_id_mapping { uint32_t container_id, host_id, size; };

struct oci_mount
{
  char *destination;            /* required */
  char *type;
  char *source;
  char **options; size_t options_len;
  struct oci_id_mapping *uid_mappings; size_t uid_mappings_len;
  struct oci_id_mapping *gid_mappings; size_t gid_mappings_len;
};

struct oci_rlimit { char *type; uint64_t soft, hard; };   /* type like "RLIMIT_NOFILE", all required */

struct oci_capabilities
{
  char **bounding; size_t bounding_len;
  char **effective; size_t effective_len;
  char **inheritable; size_t inheritable_len;
  char **permitted; size_t permitted_len;
  char **ambient; size_t ambient_len;
  bool has_bounding, has_effective, has_inheritable, has_permitted, has_ambient;
};

struct oci_user
{
  uint32_t uid, gid;
  bool has_umask; uint32_t umask;
  uint32_t *additional_gids; size_t additional_gids_len;
  char *username;
};

struct oci_scheduler
{
  char *policy;                 /* required when scheduler present: SCHED_OTHER, ... */
  int32_t nice, priority;
  char **flags; size_t flags_len;
  uint64_t runtime, deadline, period;
};

struct oci_io_priority { char *klass; int32_t priority; };   /* "class": IOPRIO_CLASS_RT|BE|IDLE */

struct oci_process
{
  bool terminal;
  bool has_console_size; uint32_t console_height, console_width;
  char *cwd;                    /* required by spec; runc requires absolute */
  char **env; size_t env_len;
  char **args; size_t args_len;
  struct oci_rlimit *rlimits; size_t rlimits_len;
  char *apparmor_profile;
  struct oci_capabilities *capabilities;  /* NULL if absent */
  bool no_new_privileges;
  bool has_oom_score_adj; int32_t oom_score_adj;
  struct oci_scheduler *scheduler;        /* NULL if absent */
  char *selinux_label;
  struct oci_io_priority *io_priority;    /* NULL if absent */
  char *exec_cpu_affinity_initial, *exec_cpu_affinity_final;
  struct oci_user user;
};

struct oci_hook
{
  char *path;                   /* required, absolute */
  char **args; size_t args_len;
  char **env; size_t env_len;
  bool has_timeout; int32_t timeout; /* seconds, > 0 */
};

enum oci_hook_kind
{
  OCI_HOOK_PRESTART,
  OCI_HOOK_CREATE_RUNTIME,
  OCI_HOOK_CREATE_CONTAINER,
  OCI_HOOK_START_CONTAINER,
  OCI_HOOK_POSTSTART,
  OCI_HOOK_POSTSTOP,
  OCI_HOOK__COUNT
};

struct oci_hooks { struct oci_hook *hooks[OCI_HOOK__COUNT]; size_t len[OCI_HOOK__COUNT]; };

struct oci_namespace { char *type; char *path; };  /* type: pid network mount ipc uts user cgroup time */

struct oci_device
{
  char *type;                   /* c b u p */
  char *path;                   /* required */
  int64_t major, minor;
  bool has_file_mode; uint32_t file_mode;
  bool has_uid; uint32_t uid;
  bool has_gid; uint32_t gid;
};

struct oci_device_cgroup
{
  bool allow;
  char *type;                   /* NULL or "a" = all, "c", "b" */
  bool has_major; int64_t major;  /* absent = wildcard */
  bool has_minor; int64_t minor;
  char *access;                 /* "rwm" subset; NULL = rwm */
};

struct oci_memory
{
  bool has_limit; int64_t limit;
  bool has_reservation; int64_t reservation;
  bool has_swap; int64_t swap;
  bool has_kernel; int64_t kernel;
  bool has_kernel_tcp; int64_t kernel_tcp;
  bool has_swappiness; uint64_t swappiness;
  bool has_disable_oom_killer; bool disable_oom_killer;
  bool has_use_hierarchy; bool use_hierarchy;
  bool has_check_before_update; bool check_before_update;
};

struct oci_cpu
{
  bool has_shares; uint64_t shares;
  bool has_quota; int64_t quota;
  bool has_burst; uint64_t burst;
  bool has_period; uint64_t period;
  bool has_realtime_runtime; int64_t realtime_runtime;
  bool has_realtime_period; uint64_t realtime_period;
  char *cpus, *mems;
  bool has_idle; int64_t idle;
};

struct oci_weight_device { int64_t major, minor; bool has_weight; uint16_t weight; bool has_leaf_weight; uint16_t leaf_weight; };
struct oci_throttle_device { int64_t major, minor; uint64_t rate; };

struct oci_blkio
{
  bool has_weight; uint16_t weight;
  bool has_leaf_weight; uint16_t leaf_weight;
  struct oci_weight_device *weight_device; size_t weight_device_len;
  struct oci_throttle_device *throttle_read_bps; size_t throttle_read_bps_len;
  struct oci_throttle_device *throttle_write_bps; size_t throttle_write_bps_len;
  struct oci_throttle_device *throttle_read_iops; size_t throttle_read_iops_len;
  struct oci_throttle_device *throttle_write_iops; size_t throttle_write_iops_len;
};

struct oci_hugepage_limit { char *page_size; uint64_t limit; };
struct oci_net_priority { char *name; uint32_t priority; };
struct oci_rdma { char *name; bool has_hca_handles; uint32_t hca_handles; bool has_hca_objects; uint32_t hca_objects; };

struct oci_resources
{
  struct oci_device_cgroup *devices; size_t devices_len;
  struct oci_memory *memory;    /* NULL if absent */
  struct oci_cpu *cpu;
  bool has_pids_limit; int64_t pids_limit;  /* "pids": {"limit": N} */
  struct oci_blkio *block_io;
  struct oci_hugepage_limit *hugepage_limits; size_t hugepage_limits_len;
  bool has_network; bool has_class_id; uint32_t class_id;
  struct oci_net_priority *net_priorities; size_t net_priorities_len;
  struct oci_rdma *rdma; size_t rdma_len;
  struct oci_kv *unified; size_t unified_len;
};

enum oci_seccomp_op { OCI_SCMP_NE, OCI_SCMP_LT, OCI_SCMP_LE, OCI_SCMP_EQ, OCI_SCMP_GE, OCI_SCMP_GT, OCI_SCMP_MASKED_EQ };

struct oci_seccomp_arg { uint32_t index; uint64_t value, value_two; enum oci_seccomp_op op; };

struct oci_seccomp_syscall
{
  char **names; size_t names_len;   /* required, non-empty */
  char *action;                     /* required: SCMP_ACT_* */
  bool has_errno_ret; uint32_t errno_ret;
  struct oci_seccomp_arg *args; size_t args_len;
};

struct oci_seccomp
{
  char *default_action;             /* required */
  bool has_default_errno_ret; uint32_t default_errno_ret;
  char **architectures; size_t architectures_len;   /* SCMP_ARCH_* */
  char **flags; size_t flags_len;                   /* SECCOMP_FILTER_FLAG_* */
  char *listener_path, *listener_metadata;
  struct oci_seccomp_syscall *syscalls; size_t syscalls_len;
};

struct oci_intel_rdt { char *clos_id, *l3_cache_schema, *mem_bw_schema; bool enable_cmt, enable_mbm; };

struct oci_personality { char *domain; char **flags; size_t flags_len; };  /* LINUX, LINUX32 */

struct oci_time_offset { bool has; int64_t secs; uint32_t nanosecs; };

struct oci_linux
{
  struct oci_id_mapping *uid_mappings; size_t uid_mappings_len;
  struct oci_id_mapping *gid_mappings; size_t gid_mappings_len;
  struct oci_kv *sysctl; size_t sysctl_len;
  struct oci_resources *resources;   /* NULL if absent */
  char *cgroups_path;
  struct oci_namespace *namespaces; size_t namespaces_len;
  struct oci_device *devices; size_t devices_len;
  struct oci_seccomp *seccomp;       /* NULL if absent */
  char *rootfs_propagation;          /* shared slave private unbindable rshared rslave rprivate runbindable */
  char **masked_paths; size_t masked_paths_len;
  char **readonly_paths; size_t readonly_paths_len;
  char *mount_label;
  struct oci_intel_rdt *intel_rdt;
  struct oci_personality *personality;
  struct oci_time_offset time_monotonic, time_boottime;
};

struct oci_config
{
  char *oci_version;              /* required */
  char *root_path;                /* root.path; required on Linux */
  bool root_readonly;
  struct oci_mount *mounts; size_t mounts_len;
  struct oci_process *process;    /* NULL if absent (allowed for create? runc requires it) */
  char *hostname, *domainname;
  struct oci_hooks hooks;
  struct oci_kv *annotations; size_t annotations_len;
  struct oci_linux *linux_;       /* NULL if absent */
};

/* Parse config.json text / file.  On error returns NULL and *err names the JSON path. */
struct oci_config *oci_config_parse (const char *json, size_t len, cr_error_t *err);
struct oci_config *oci_config_load (const char *path, cr_error_t *err);
void oci_config_free (struct oci_config *c);
static inline void oci_config_freep (struct oci_config **c) { if (*c) oci_config_free (*c); }
#define cleanup_config __attribute__ ((cleanup (oci_config_freep)))

/* A process.json as given to `exec --process` (same shape as config.process). */
struct oci_process *oci_process_parse (const char *json, size_t len, cr_error_t *err);
void oci_process_free (struct oci_process *p);

/* A linux.resources object as given to `update --resources`. */
struct oci_resources *oci_resources_parse (const char *json, size_t len, cr_error_t *err);
void oci_resources_free (struct oci_resources *r);

/* Lookups. */
const char *oci_annotation (const struct oci_config *c, const char *key);
/* Namespace entry of the given type or NULL. */
const struct oci_namespace *oci_namespace_find (const struct oci_config *c, const char *type);

/* Hook kind <-> JSON key ("createRuntime"). */
const char *oci_hook_kind_name (enum oci_hook_kind k);

#endif
