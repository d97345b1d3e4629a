/* Hash-chained JSONL audit log (SPEC §7), shared by capsule-proxy, the
 * runtime and the monitor.
 *
 * Line format (one JSON object per line, '\n'-terminated):
 *
 *   {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.uuuuuuZ","prev":"<64 hex>",<fields>}
 *
 * where <fields> are the members of the object given to audit_append (its
 * outer braces dropped; "{}" gives no extra members), seq counts from 1, and
 * prev is the lower-case hex SHA-256 of the previous line's bytes without
 * its '\n' (64 zeros for line 1).  Appenders in several processes serialise
 * with flock(2) on the file and re-read the chain head when the file grew
 * behind their back.  Every line is write(2)n before audit_append returns
 * (so a crash of the writer loses no appended line); fdatasync is batched
 * (audit_sync). */
#ifndef CAPSULE_AUDIT_H
#define CAPSULE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct audit_log;

int audit_open (const char *path, struct audit_log **out, cr_error_t *err);
/* json_object: a complete JSON object text ("{...}"), no newline. */
int audit_append (struct audit_log *log, const char *json_object, cr_error_t *err);
/* Batching for a busy single-threaded writer: with hold set, the lock taken
 * by the first append is kept (and the file not re-checked) until
 * audit_hold (log, false).  Other writers wait at most that long. */
void audit_hold (struct audit_log *log, bool hold);
/* Same, but while held (audit_hold) the line may wait in memory and go out
 * with the next audit_append or at audit_hold (log, false), in chain order.
 * For records of things already done (completions), never for decisions. */
int audit_append_deferred (struct audit_log *log, const char *json_object, cr_error_t *err);
/* fdatasync if anything was written since the last sync. */
int audit_sync (struct audit_log *log, cr_error_t *err);
/* fdatasync whether or not this handle wrote: the head about to cover the
 * lines must not reach the disk before them. */
int audit_datasync (struct audit_log *log, cr_error_t *err);
void audit_close (struct audit_log *log);
/* Chain head after the last append: line count and hash (65 bytes incl. NUL). */
void audit_head (struct audit_log *log, uint64_t *seq, char hash_hex[65]);

/* Verify the chain.  Returns 0 if intact, 1 if broken (then *first_bad_line
 * is the 1-based line number and *why a malloc'd reason), -1 on I/O errors.
 * With expect_seq > 0 the file must end exactly at that line with that hash
 * (detects tail truncation and a rewritten chain, given a recorded head). */
int audit_verify (const char *path, uint64_t *first_bad_line, char **why, cr_error_t *err);
int audit_verify_head (const char *path, uint64_t expect_seq, const char *expect_hash,
                       uint64_t *first_bad_line, char **why, cr_error_t *err);

/* Append s to a JSON string body with escaping; returns bytes written (truncates at cap). */
size_t audit_json_escape (char *dst, size_t cap, const char *s);
/* The same, whole, in a malloc'd string. */
char *audit_json_escaped (const char *s);

#endif
