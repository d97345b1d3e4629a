/* Brokered capabilities in capsule-proxy (SPEC §4 capsule/capability.NAME,
 * §7 "Brokered capabilities").
 *
 * A request matching a capability rule is decided here, before the egress
 * rules: allowed as that capability (it needs no egress rule), refused (the
 * capability is revoked by the kill switch: 403; over its rate: 429), or
 * held until an operator answers `capsule-runc approve|deny REQID` or the
 * confirm timeout denies it.
 *
 * Files (STATE = config "state_dir", AGENTS = config "agent_state_dir"):
 *   STATE/broker/NAME.count        "WINDOW_START_EPOCH_S COUNT\n", rewritten
 *                                  atomically before a request is let through
 *   AGENTS/AGENT/NAME.count        the same per agent, node-wide (flock)
 *   STATE/broker/NAME.approved     approved confirm=new:FIELD values, one
 *                                  hex-encoded value per line (append-only)
 *   STATE/pending/REQID.json       a held request (capsule, agent, capability,
 *                                  method, host, port, path, field, value)
 *   STATE/pending/REQID.decision   "approve\n" or "deny\n", written (renamed
 *                                  into place) by capsule-runc approve|deny;
 *                                  the proxy watches the directory (inotify)
 *   KILLSWITCH/capability-NAME     present = NAME revoked (inotify, live)
 * Rate windows are fixed: a window starts at the first request counted in
 * it and lasts the rate's period; both the capsule's and the agent's counter
 * must be under N. */
#ifndef CAPSULE_PROXY_BROKER_H
#define CAPSULE_PROXY_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "egress_rule.h"
#include "error.h"

struct proxy;
struct conn;
struct ev;

/* What config.c read from the proxy config (all optional). */
struct broker_settings
{
  char **names, **values; /* capsule/capability.NAME = VALUE */
  size_t n;
  char *state_dir;        /* required when n > 0 */
  char *agent_state_dir;  /* NULL: no per-agent counters */
  char *agent;            /* NULL: the capsule id */
  char *killswitch_dir;   /* NULL: no kill switch */
  int confirm_timeout_s;  /* 0: default 60 */
};

void broker_settings_free (struct broker_settings *s);

/* Compile s's rules, prepare the state files, watch the pending and
 * kill-switch directories in px->epfd (nothing to do without capabilities). */
int broker_start (struct proxy *px, const struct broker_settings *s, cr_error_t *err);

/* SIGHUP, in two steps so that the whole reload applies or none of it:
 * broker_prepare compiles the new capabilities (and, for the run's first
 * ones, creates the directories and watches); broker_apply swaps them in
 * and cannot fail; broker_discard drops a prepared set instead.  The state
 * directory, agent, agent directory and kill-switch directory cannot change
 * once capabilities exist (prepare fails).  Applying keeps a capability's
 * counters (files by name), approved values and held requests when its
 * name is still there (its new rule and rate apply from now on); a removed
 * capability's held requests are denied (403, capability.denied) and
 * capability.removed is audited; added or changed ones get
 * capability.enabled.  summary: "N capabilities, added A, removed R, ...". */
struct broker_next;
int broker_prepare (struct proxy *px, const struct broker_settings *s, struct broker_next **out, cr_error_t *err);
void broker_apply (struct broker_next *n, char *summary, size_t sz);
void broker_discard (struct broker_next *n);

/* Is ev one of the broker's (then it is handled here)? */
bool broker_event (struct proxy *px, struct ev *ev);
void broker_stop (struct proxy *px);

enum broker_outcome
{
  BROKER_PASS,  /* no capability matches: the egress rules decide */
  BROKER_ALLOW, /* allowed as the capability: verdict.rule */
  BROKER_DENY,  /* refuse with verdict.status/phrase/reason */
  BROKER_HOLD,  /* held: conn_broker_resume will be called (or broker_forget) */
  BROKER_MORE,  /* the JSON body is needed and not all here yet */
};

struct broker_request
{
  const char *method, *host;
  enum egress_host_kind hkind;
  int port;
  const char *path;
  const char *body;   /* body bytes already received */
  size_t body_len;
  int64_t content_length; /* -1: none */
  bool chunked;
  size_t body_room;   /* most body bytes the connection can buffer */
  bool approved;      /* re-decided after an operator's approval */
};

struct broker_verdict
{
  const struct egress_rule *rule; /* BROKER_ALLOW: the capability's rule */
  void *cap;                      /* BROKER_ALLOW: for broker_commit */
  int status;
  const char *phrase;
  char reason[256];
};

enum broker_outcome broker_decide (struct proxy *px, struct conn *c, const struct broker_request *r,
                                   struct broker_verdict *v);
/* After BROKER_ALLOW and the destination checks, just before the request is
 * forwarded: count the use (capsule and agent, persisted).  -1 with v's
 * status/phrase/reason set when it cannot be let through after all (the
 * agent's rate was reached meanwhile by another capsule: 429; the counters
 * cannot be written: 503). */
int broker_commit (struct broker_verdict *v);
/* A capability's rule naming this host (for TLS interception of a CONNECT
 * and DNS answers), or NULL. */
const struct egress_rule *broker_host_rule (const char *host, enum egress_host_kind kind);

/* The connection is going away: drop its held request, if any. */
void broker_forget (struct conn *c);

/* conn.c: the held request was approved (decided again, now as approved)
 * or refused with status and reason. */
void conn_broker_resume (struct conn *c, bool approved, int status, const char *reason);

#endif
