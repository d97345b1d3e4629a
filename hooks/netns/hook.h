/* capsule-hook: network containment as standard OCI hooks (SPEC §6).
 *
 *   capsule-hook setup    [options]  createRuntime/prestart: pin the netns,
 *                                    install the ruleset, start the proxy
 *                                    supervisor; or join an existing capsule netns
 *   capsule-hook teardown [options]  poststop: stop supervisor + proxy, unpin
 *   capsule-hook supervise ...       internal: the proxy supervisor daemon
 *
 * Options: --state-dir DIR (default /run/capsule/<id>), --config FILE (the
 * effective capsule config, handed to the proxy when it exists), --proxy PATH
 * (default: capsule-proxy next to this binary, or ../proxy/capsule-proxy),
 * --audit FILE (default DIR/audit.jsonl), --restarts N (default 3),
 * --on-proxy-failure kill|restart-forever (default kill once restarts are
 * used up), --inbound PORT (repeatable), --cgroup-parent PATH (default
 * /capsule-proxy), --allow RULE (repeatable, extra operator rules).
 * The OCI state JSON is read from stdin; without --config the capsule/
 * annotations in it are used (plain runc). */
#ifndef CAPSULE_HOOK_H
#define CAPSULE_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define HOOK_MAX_LIST 32

struct hook_opts
{
  const char *state_dir;
  const char *config;
  const char *proxy;
  const char *audit;
  bool audit_explicit;       /* --audit given: capsule.json's audit does not override it */
  const char *cgroup_parent;
  const char *self;          /* our own path, for the supervisor exec */
  int restarts;
  bool restart_forever;
  uint16_t inbound[HOOK_MAX_LIST];
  size_t n_inbound;
  const char *allow[HOOK_MAX_LIST];
  size_t n_allow;
};

struct hook_state
{
  char *id;
  int pid;
  char *bundle;
  char *egress_allow;        /* capsule/egress.allow annotation, or NULL */
};

int hook_read_state (int fd, struct hook_state *st, cr_error_t *err);
void hook_state_free (struct hook_state *st);

int hook_setup (const struct hook_opts *o, const struct hook_state *st, cr_error_t *err);
int hook_supervise (int argc, char **argv);

/* Append one audit line {"event":EVENT,"capsule":ID,<extra>} (extra: JSON
 * members without braces, or ""); failures are reported on stderr only. */
void hook_audit (const char *file, const char *event, const char *id, const char *extra);

/* proxycfg.c: write the proxy's JSON config to out_path from capsule_json
 * (the effective capsule config; NULL under plain runc) or else from
 * annotation_rules; *audit_out gets the capsule's audit path if named. */
int hook_proxy_config (const char *capsule_json, const char *annotation_rules, const char *id, const char *out_path,
                       char **audit_out, cr_error_t *err);

/* link.c: inside the capsule netns. */
int hook_loopback_up (cr_error_t *err);
int hook_link_setup_isolated (cr_error_t *err);

#endif
