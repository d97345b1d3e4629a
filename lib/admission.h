/* Capsule admission at `create` (SPEC §4, §5): config.json + capsule/
 * annotations + node policy -> the effective configuration, or a refusal
 * that names the key, the value and the bound, is audited, and leaves
 * nothing behind.
 *
 * For an admitted capsule the config is tightened in place so that the
 * ordinary runtime code applies the config-level confinement:
 *   root.readonly = true; one tmpfs (size=fs.size, nosuid, nodev,
 *   mode=1777) per writable path; masked and read-only /proc and /sys paths
 *   added; capabilities intersected with the profile's set (default:
 *   capsule_default_caps) and CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN
 *   removed from every set; noNewPrivileges = true; linux.resources cpu,
 *   memory and pids set from capsule/limits (never looser than the config
 *   asked); GPU device nodes removed from linux.devices unless gpu=N > 0;
 *   the LSM label of the profile when the host has AppArmor or SELinux.
 * Refused: annotations beyond the profile's bounds, unknown profiles, a
 * missing/forged/expired lease (when the policy names a key) or one not
 * bound to this capsule's agent/version/session/profile, a full concurrency
 * group, container-runtime sockets mounted in (unless the policy allows
 * them), egress rules naming private addresses not in
 * egress.allow_private, and the runtime's own network namespace (no
 * network namespace entry, or a path with the same inode as
 * /proc/self/ns/net) or one owned by a non-initial user namespace.  A
 * profile with network "none" needs a new network namespace (never one
 * joined by path, which may have interfaces) and refuses every egress
 * annotation: its capsule gets no hooks, rules or proxy, only loopback. */
#ifndef CAPSULE_ADMISSION_H
#define CAPSULE_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../oci-spec/annotations.h"
#include "../oci-spec/config.h"
#include "error.h"

struct capsule_effective
{
  char *id, *profile, *agent, *version, *session;
  char **writable; size_t writable_len;
  uint64_t fs_size;
  uint64_t timeout_s;                     /* 0 = none */
  char *concurrency_group; uint32_t concurrency_max;   /* group NULL = none */
  struct capsule_limits limits;
  char **caps; size_t caps_len;           /* what the process may keep at most */
  char **caps_stripped; size_t caps_stripped_len;   /* removed from the config's sets */
  char **devices_hidden; size_t devices_hidden_len; /* GPU nodes taken out */
  int landlock_abi;                       /* 0 = none on this host */
  char *lsm;                              /* "apparmor:NAME", "selinux:LABEL" or NULL */
  bool lease_checked; int64_t lease_exp;
  char *audit_path;                       /* the capsule's audit.jsonl */
  char *killswitch_dir, *secrets_dir;
  /* Network and brokered-capability settings, passed through for the proxy. */
  char *egress_allow, *egress_gateway, *egress_tls_pin, *dns_pin, *credentials;
  struct capsule_capability_ann *capabilities; size_t capabilities_len;
  char *policy_path;                      /* NULL = built-in policy */
  bool network_none;                      /* profile network "none": no hooks, rules, proxy */
};

/* Returns 0 with *eff = NULL for a plain container.  root is the runtime's
 * state root (--root), state_dir the container's dir below it. */
int capsule_admit (struct oci_config *cfg, const char *id, const char *root, const char *state_dir,
                   struct capsule_effective **eff, cr_error_t *err);
/* Undo what a successful capsule_admit took (concurrency slot) after a create failed later on. */
void capsule_admit_abort (const char *root, const char *id);

/* Is this config capsule-enabled (annotations or policy default)? */
bool capsule_wanted (const struct oci_config *cfg, bool policy_default_capsule);

/* Serialise / load the effective configuration (<state_dir>/capsule.json). */
char *capsule_effective_to_json (const struct capsule_effective *eff, bool pretty);
struct capsule_effective *capsule_effective_from_json (const char *json, size_t len, cr_error_t *err);
int capsule_effective_load (const char *state_dir, struct capsule_effective **out, cr_error_t *err);
void capsule_effective_free (struct capsule_effective *eff);
static inline void capsule_effective_freep (struct capsule_effective **e) { if (*e) capsule_effective_free (*e); }
#define cleanup_effective __attribute__ ((cleanup (capsule_effective_freep)))

/* A container that is not a capsule but joins a capsule's network namespace
 * (by path; its init's or the pinned one): strip CAP_NET_ADMIN, CAP_NET_RAW
 * and CAP_SYS_ADMIN from proc (create: cfg->process; exec: the new process)
 * and audit it in that capsule's log.  capsule_admit does it for create. */
void capsule_strip_joiner (const struct oci_config *cfg, struct oci_process *proc, const char *root, const char *id);

/* Apply the capability rules to a process (exec into a capsule). */
int capsule_restrict_process (const struct capsule_effective *eff, struct oci_process *p, cr_error_t *err);

/* One audit line {"source":"capsule-runc","event":EVENT,"id":...,<extra members>}
 * into the capsule's log; extra_json is "" or ",\"k\":v..." already escaped.
 * Returns -1 (and warns on stderr) when the line could not be written.  The
 * log stays open for the rest of the process (closed at exit). */
int capsule_audit (const char *audit_path, const char *id, const char *event, const char *extra_json);
/* In a forked child that closed its fds: drop the cached log handle without closing it. */
void capsule_audit_forget (void);
/* Where a capsule's audit log lives: <policy audit dir>/<id>.jsonl or <state_dir>/audit.jsonl. */
char *capsule_audit_path (const char *policy_audit_dir, const char *id, const char *state_dir);

#endif
