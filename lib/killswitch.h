/* The node kill switch (SPEC §7): revocations recorded as files in one
 * directory that every capsule monitor (and capsule-proxy, for
 * capabilities) watches with inotify.
 *
 * Directory: the node policy's `directories.killswitch`, else
 * KILLSWITCH_DEFAULT_DIR (killswitch_dir_resolve).
 *
 * One file per revocation, named so that a lookup is a stat:
 *   session-<ID>                 every capsule of that session
 *   agent-<NAME>                 every version of that agent
 *   agent-<NAME>@<VERSION>       that version only
 *   capability-<NAME>            the brokered capability NAME (capsule-proxy)
 * Names (ID, NAME, VERSION) are 1..KILLSWITCH_NAME_MAX characters of
 * [A-Za-z0-9._:@+-] (the annotation charset), never starting with '.' and
 * never containing ".." (killswitch_name_valid); a capability NAME is
 * 1..64 of [A-Za-z0-9_-] like its annotation.  On the command line
 * `agent NAME@VERSION` splits at the last '@'.
 *
 * Content: one JSON line, e.g.
 *   {"kind":"agent","name":"bot","version":"1.2","time":"2026-11-23T16:30:00Z",
 *    "reason":"...","by":"uid 0","pid":123}
 * ("version" only for agent@version).  A record appears atomically: it is
 * written to a dot-file (".tmp-…", which watchers ignore, as every name
 * starting with '.') and renamed into place, so a watcher sees IN_MOVED_TO
 * for a complete file.  Lifting a revocation unlinks the file. */
#ifndef CAPSULE_KILLSWITCH_H
#define CAPSULE_KILLSWITCH_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define KILLSWITCH_DEFAULT_DIR "/run/capsule/killswitch"
#define KILLSWITCH_NAME_MAX 128
#define KILLSWITCH_CAPABILITY_MAX 64
#define KILLSWITCH_REASON_MAX 1024

#define KILLSWITCH_PREFIX_SESSION "session-"
#define KILLSWITCH_PREFIX_AGENT "agent-"
#define KILLSWITCH_PREFIX_CAPABILITY "capability-"

/* What watchers of the directory ask inotify for. */
#define KILLSWITCH_INOTIFY_MASK (IN_CREATE | IN_MOVED_TO)

enum killswitch_kind
{
  KILLSWITCH_SESSION,
  KILLSWITCH_AGENT,      /* version NULL: every version */
  KILLSWITCH_CAPABILITY,
};

/* policy_dir if set and non-empty, else KILLSWITCH_DEFAULT_DIR. */
const char *killswitch_dir_resolve (const char *policy_dir);

bool killswitch_name_valid (const char *s);
bool killswitch_capability_valid (const char *s);

/* The record's file name for kind/name[/version] (malloc'd), or -1 with an
 * error naming the bad part. */
int killswitch_file_name (enum killswitch_kind kind, const char *name, const char *version, char **out,
                          cr_error_t *err);

/* Record a revocation (creates dir 0755 if missing); reason may be NULL.
 * Re-recording an existing revocation replaces its record. */
int killswitch_record (const char *dir, enum killswitch_kind kind, const char *name, const char *version,
                       const char *reason, cr_error_t *err);
/* Lift (unlink) a revocation; ENOENT is an error ("no such revocation"). */
int killswitch_lift (const char *dir, enum killswitch_kind kind, const char *name, const char *version,
                     cr_error_t *err);

/* The record file names in dir (sorted, dot-files skipped); a missing dir
 * is an empty list.  *names is a NULL-terminated malloc'd vector. */
int killswitch_list (const char *dir, char ***names, size_t *n, cr_error_t *err);
void killswitch_names_free (char **names);
/* The content of one record (its JSON line, no newline), malloc'd. */
int killswitch_read (const char *dir, const char *file_name, char **content, cr_error_t *err);

/* Does the record file name revoke a capsule with this session, agent and
 * version?  (For a watcher's inotify event: no I/O.) */
bool killswitch_name_matches (const char *file_name, const char *session, const char *agent, const char *version);
/* If the record names a capability, its NAME (pointer into file_name), else NULL. */
const char *killswitch_capability_of (const char *file_name);

/* Is any revocation in dir matching this capsule present?  Returns 1 and
 * the matching file name in *which (malloc'd, may be NULL), 0 if none, -1
 * on an I/O error other than a missing file.  Stats at most three names. */
int killswitch_matches (const char *dir, const char *session, const char *agent, const char *version, char **which,
                        cr_error_t *err);
/* Same for a capability. */
int killswitch_capability_revoked (const char *dir, const char *capability, cr_error_t *err);

/* For `create`: 0 when nothing revokes this capsule, else -1 with an error
 * naming the revocation and its reason ("capsule: agent `x` is revoked by
 * the kill switch (agent-x in /dir: reason)"). */
int killswitch_admit_check (const char *dir, const char *session, const char *agent, const char *version,
                            cr_error_t *err);

#endif
