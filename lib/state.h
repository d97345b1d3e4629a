/* The container state store: <root>/<id>/ holds state.json (written with
 * write+rename so a killed runtime never leaves a torn file), a copy of the
 * config (poststop hooks and exec need it after the bundle is gone) and
 * exec.fifo while the container is "created".  Each container directory is
 * locked with flock(2) by whoever changes it. */
#ifndef CAPSULE_STATE_H
#define CAPSULE_STATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct cr_state
{
  char *id;
  char *bundle;
  char *rootfs;
  char *created;            /* RFC 3339 with nanoseconds, UTC */
  char *cgroup_path;        /* resolved cgroup path, NULL until known */
  pid_t pid;                /* init pid in the runtime's pid namespace, 0 until known */
  unsigned long long start_time; /* /proc/<pid>/stat starttime: guards against pid reuse */
  bool capsule;             /* capsule-enabled: capsule.json beside state.json */
  bool created_done;        /* create finished (else the runtime died mid-create) */
};

void cr_state_release (struct cr_state *s);

/* Container id rule of runc: ^[a-zA-Z0-9_+-][a-zA-Z0-9_+.-]*$ */
int cr_validate_id (const char *id, cr_error_t *err);

char *cr_state_dir (const char *root, const char *id);
/* Create <root>/<id> exclusively ("already exists" if there) and lock it; returns the dir fd. */
int cr_state_dir_create (const char *root, const char *id, cr_error_t *err);
/* Open and lock an existing container dir ("does not exist" if missing). */
int cr_state_dir_open (const char *root, const char *id, bool lock, cr_error_t *err);

int cr_state_write (int dirfd, const struct cr_state *s, cr_error_t *err);
int cr_state_read (int dirfd, struct cr_state *s, cr_error_t *err);

/* Is the init process still the one we started (alive, not a zombie, same start time)? */
bool cr_state_init_alive (const struct cr_state *s);
/* starttime field of /proc/<pid>/stat; 0 on error or for a zombie. */
unsigned long long cr_proc_start_time (pid_t pid);

/* Status as OCI reports it: "creating", "created", "running", "paused", "stopped". */
const char *cr_state_status (int dirfd, const struct cr_state *s);

/* The OCI state JSON (runc's shape) for `state` and for hooks' stdin. */
char *cr_state_oci_json (const struct cr_state *s, const char *status, const char *const *annotations /* k,v,...,NULL */, bool pretty);

/* Same, with "owner" filled (list shows the state dir's owner, like runc). */
char *cr_state_oci_json_owner (const struct cr_state *s, const char *status, const char *const *annotations,
                               const char *owner, bool pretty);

/* Current time as RFC 3339 nanoseconds. */
char *cr_now_rfc3339 (void);

#endif
