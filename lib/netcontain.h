/* Network containment glue (SPEC §6): what the runtime calls to wire a
 * capsule's network hooks into its config, and to clean up after it.
 *
 * Files under the capsule's state dir:
 *   netns          the pinned network namespace (owner only)
 *   net.key        "<dev>-<ino>" of the capsule netns, the node-wide key
 *   net.role       "owner" (installed rules, runs the proxy) or "member"
 *   supervisor.pid the proxy supervisor (owner only)
 *   resolv.conf    bind-mounted over /etc/resolv.conf: the proxy's DNS stub
 * Node-wide, keyed by netns identity (NETCONTAIN_NODE_DIR, or the
 * CAPSULE_NETNS_DIR environment variable):
 *   <key>/owner            the owner's state dir
 *   <key>/members/<name>   one file per container sharing the netns */
#ifndef CAPSULE_NETCONTAIN_H
#define CAPSULE_NETCONTAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../oci-spec/config.h"
#include "error.h"

#define NETCONTAIN_NODE_DIR "/run/capsule/netns"
#define NETCONTAIN_PROXY_PORT 3128
#define NETCONTAIN_TRANSPARENT_PORT 3129
#define NETCONTAIN_DNS_PORT 53
#define NETCONTAIN_PROXY_MARK 0x43415053u /* "CAPS" */
#define NETCONTAIN_MAX_INBOUND 32

/* Append the setup (createRuntime) and teardown (poststop) hooks to
 * cfg->hooks, the proxy env (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and lower-case
 * forms) to cfg->process->env, and a read-only bind mount of
 * state_dir/resolv.conf (written here) over /etc/resolv.conf.  A container
 * that joins a netns which already carries a capsule ruleset gets the same
 * hooks, which then only register it as a member: never a second ruleset.
 * CAPSULE_NETNS_DIR, when set in our environment, is passed to the hooks.
 * Refuses a config without its own network namespace. */
int netcontain_add_hooks (struct oci_config *cfg, const char *state_dir, const char *hook_path, cr_error_t *err);

/* The same with policy knobs (NULL or zero fields = the hook's defaults:
 * audit state_dir/audit.jsonl, 3 proxy restarts then kill the capsule, no
 * inbound ports, proxy cgroup /capsule-proxy/<id>). */
struct netcontain_opts
{
  const char *audit;          /* the capsule's audit log */
  const uint16_t *inbound;    /* TCP ports open to new inbound connections */
  size_t n_inbound;
  int proxy_restarts;         /* 0: default (3), > 0: that many, < 0: none */
  bool restart_forever;       /* never kill the capsule for a dying proxy */
  const char *cgroup_parent;  /* proxy cgroup parent, e.g. beside the container's */
  const char *proxy;          /* capsule-proxy path if not next to the hook */
};
int netcontain_add_hooks_opts (struct oci_config *cfg, const char *state_dir, const char *hook_path,
                               const struct netcontain_opts *opts, cr_error_t *err);

/* The node policy's "network" section (lib/netcontain_policy.c): sets
 * o->restart_forever, o->proxy_restarts and o->inbound (pointing into *np,
 * which must outlive o).  No policy file (NULL path) or no section: o is
 * left as it was. */
struct netcontain_policy
{
  uint16_t inbound[NETCONTAIN_MAX_INBOUND];
  size_t n_inbound;
};
int netcontain_policy_opts (const char *policy_path, struct netcontain_policy *np, struct netcontain_opts *o,
                            cr_error_t *err);

/* The proxy env (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and lower-case forms) on
 * p: netcontain_add_hooks does it for the init; `exec` into a capsule too,
 * since a client (containerd's CRI ExecSync) builds the process from its
 * own copy of the config, which never saw ours. */
void netcontain_set_proxy_env (struct oci_process *p);

/* Where capsule-hook is: $CAPSULE_HOOK if set, else next to the running
 * binary, else the build tree's ../hooks/netns/, else ../libexec/capsule/.
 * malloc'd, NULL if none is executable. */
char *netcontain_hook_path (void);

/* Idempotent teardown for state_dir (poststop hook, `delete --force` after
 * a crash): stop supervisor and proxy, remove the ruleset when the netns
 * outlives us, unpin, drop the membership.  Missing pieces are fine. */
int netcontain_cleanup (const char *state_dir, cr_error_t *err);

/* Node directory in use (env override or the default). */
const char *netcontain_node_dir (void);
/* "<dev>-<ino>" key of the netns at path (an nsfs file); buf >= 64 bytes. */
int netcontain_key_of (const char *ns_path, char *buf, size_t len, cr_error_t *err);
/* If the netns with that key already carries a live capsule (its owner's pin
 * is alive and is that netns), return 1 and the owner's state dir in
 * *owner_dir (malloc'd); 0 if not. */
int netcontain_find_owner (const char *key, char **owner_dir, cr_error_t *err);

/* Write a state file atomically (temporary file + rename) without fsync:
 * these files describe namespaces and processes that a power loss takes
 * away too, and fsync on a disk-backed /run costs milliseconds each on the
 * path that delays the workload. */
int netcontain_write_state (const char *path, const void *data, size_t len, mode_t mode, cr_error_t *err);

/* Pid files holding "pid starttime", so a recycled pid is never signalled:
 * read returns the pid only while that very process lives, else 0. */
int netcontain_pidfile_write (const char *path, pid_t pid, cr_error_t *err);
pid_t netcontain_pidfile_read (const char *path);

#endif
