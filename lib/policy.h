/* The node policy (SPEC §5): /etc/capsule/policy.json, or the file named by
 * $CAPSULE_POLICY.  Every key is optional; a missing file means runc
 * behaviour plus the built-in `default` profile for containers that ask for
 * capsule mode with annotations.  See examples/policy/README.md.
 *
 *   {
 *     "default": "capsule" | "runc",            // capsule: confine every container
 *     "lease": { "public_key": "/etc/capsule/lease.pub" },   // PEM Ed25519; makes leases required
 *     "directories": { "audit": DIR, "killswitch": DIR, "secrets": DIR, "state": DIR },
 *     "egress": { "allow_private": ["127.0.0.0/8", "::1/128"] },
 *     "allow_runtime_sockets": false,
 *     "lsm": { "apparmor_profile": "NAME", "selinux_label": "u:r:t:s0", "allow_unconfined": false },
 *     "profiles": {
 *       "NAME": {
 *         "writable": "/workspace;/tmp",   // same syntax as the annotations
 *         "writable_allowed": ["/workspace", "/tmp", "/home"],   // prefixes annotations may name
 *         "fs_size": "64Mi",    "max_fs_size": "1Gi",
 *         "timeout": "1h",      "max_timeout": "24h",   // absent/"" = no timeout / no bound
 *         "limits": "cpu=1,memory=512Mi,pids=256,gpu=0",
 *         "max_limits": "cpu=4,memory=4Gi,pids=4096,gpu=0",
 *         "capabilities": ["CAP_CHOWN", ...],   // the most a capsule keeps
 *         "max_concurrency": 0                  // bound on capsule/concurrency N, 0 = none
 *       }
 *     }
 *   }
 *
 * A profile key that is absent takes the built-in default profile's value
 * (documented in examples/policy/README.md); a max_* that is absent means
 * the annotation may not loosen that value beyond the built-in bound. */
#ifndef CAPSULE_POLICY_H
#define CAPSULE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../oci-spec/annotations.h"
#include "egress_rule.h"
#include "error.h"

#define CAPSULE_POLICY_PATH "/etc/capsule/policy.json"

struct capsule_profile
{
  char *name;
  char **writable; size_t writable_len;
  char **writable_allowed; size_t writable_allowed_len;   /* 0 = any valid path */
  uint64_t fs_size, max_fs_size;
  uint64_t timeout_s, max_timeout_s;                      /* 0 = none / unbounded */
  struct capsule_limits limits, max_limits;
  char **caps; size_t caps_len;
  uint32_t max_concurrency;                               /* 0 = unbounded */
  /* "none": no network at all (a fresh netns with only loopback, no hooks,
   * rules or proxy; egress annotations refused); default "contained". */
  bool network_none;
};

struct capsule_policy
{
  char *path;                  /* NULL when no policy file exists */
  bool default_capsule;
  char *lease_public_key;      /* path of a PEM file */
  char *audit_dir, *killswitch_dir, *secrets_dir, *state_dir;
  struct cidr *allow_private; size_t allow_private_len;
  bool allow_runtime_sockets;
  /* lsm: label to use instead of capsule-default / container_t; may a config name `unconfined`? */
  char *lsm_apparmor_profile, *lsm_selinux_label;
  bool lsm_allow_unconfined;
  struct capsule_profile *profiles; size_t profiles_len;   /* always contains "default" */
};

/* Load $CAPSULE_POLICY or /etc/capsule/policy.json; a missing file gives the
 * built-in policy.  Errors name the file and the JSON path. */
int capsule_policy_load (struct capsule_policy **out, cr_error_t *err);
int capsule_policy_parse (const char *json, size_t len, const char *path, struct capsule_policy **out, cr_error_t *err);
void capsule_policy_free (struct capsule_policy *p);

const struct capsule_profile *capsule_policy_profile (const struct capsule_policy *p, const char *name);
/* Is the address covered by egress.allow_private? */
bool capsule_policy_private_allowed (const struct capsule_policy *p, int family, const void *addr);

/* The capabilities a capsule keeps at most by default (SPEC §4). */
extern const char *const capsule_default_caps[];

#endif
