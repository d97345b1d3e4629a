/* The signed audit chain head (SPEC §7): the monitor (and `delete`) record
 * the line count and hash of a capsule's audit log's last line, signed with
 * a node key, in <audit file>.head next to the log (so it outlives the
 * container's state dir, as the log does).  `audit verify FILE` checks it
 * when it exists: the signature must be valid and the file must still reach
 * that line with that hash (it may have grown since), which catches tail
 * truncation and a chain rewritten from some line on.
 *
 * Head file: one JSON line
 *   {"v":1,"id":ID,"event":EV,"seq":N,"hash":HEX64,"time":"…Z","alg":"hmac-sha256",
 *    "key_id":HEX16,"sig":HEX64}
 * sig = HMAC-SHA256(key, "capsule-audit-head/1\n" id "\n" event "\n" seq "\n" hash "\n" time).
 *
 * Node key: 32 random bytes, hex, in a 0600 file created on first use:
 * $CAPSULE_AUDIT_KEY if set, else <state root>/.capsule-audit-key.
 * key_id is the first 16 hex digits of SHA-256 of the key. */
#ifndef CAPSULE_AUDIT_HEAD_H
#define CAPSULE_AUDIT_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define AUDIT_HEAD_SUFFIX ".head"
#define AUDIT_HEAD_KEY_NAME ".capsule-audit-key"
#define AUDIT_HEAD_KEY_LEN 32

/* <audit_path>.head (malloc'd). */
char *audit_head_path (const char *audit_path);
/* $CAPSULE_AUDIT_KEY, else <root>/.capsule-audit-key (malloc'd). */
char *audit_head_key_path (const char *root);
/* Load the key; with create, make it (0600, atomically) when missing. */
int audit_head_key_load (const char *key_path, bool create, unsigned char key[AUDIT_HEAD_KEY_LEN], cr_error_t *err);

/* Record the current head of audit_path, signed with key.  A head with a
 * higher seq already on disk is kept (a late, older writer never moves the
 * head back).  event names what prompted it ("created", "periodic", …). */
int audit_head_record (const char *audit_path, const unsigned char key[AUDIT_HEAD_KEY_LEN], const char *id,
                       const char *event, cr_error_t *err);

/* Check audit_path against its recorded head.  Returns 0 (intact; *present
 * false when there is no head file), 1 (mismatch: *why malloc'd, *bad_line
 * the first line found wrong, 0 for a bad head file), -1 on I/O errors.
 * *seq receives the head's line count.  Assumes the chain itself was
 * verified (audit_verify): then one matching line hash vouches for every
 * line before it. */
int audit_head_check (const char *audit_path, const unsigned char key[AUDIT_HEAD_KEY_LEN], bool *present,
                      uint64_t *seq, uint64_t *bad_line, char **why, cr_error_t *err);

#endif
