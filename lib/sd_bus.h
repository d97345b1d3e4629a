/* A minimal D-Bus client for talking to systemd (PID 1) over its private
 * socket, /run/systemd/private: a direct connection (no bus daemon, no
 * Hello), SASL EXTERNAL, little-endian messages.  Only what the runtime
 * needs: method calls with string, object-path, boolean, uint32 array and
 * uint64 arguments, their replies and errors, and the signals systemd sends
 * meanwhile (JobRemoved). */
#ifndef CAPSULE_SD_BUS_H
#define CAPSULE_SD_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct sd_conn
{
  int fd;
  uint32_t serial;
  /* jobs systemd reported done while we waited for something else */
  struct sd_job_done { char *job, *result; } *done;
  size_t n_done;
};

/* A method call being built: its member, signature and body. */
struct sd_msg
{
  const char *member, *sig;
  unsigned char *d; /* the body */
  size_t len, cap;
  size_t arr[4], arr_start[4]; /* open arrays: length word, first element */
  int depth;
};

int sd_conn_open (struct sd_conn *c, const char *socket_path, cr_error_t *err);
void sd_conn_close (struct sd_conn *c);

/* A method call on org.freedesktop.systemd1 (path /org/freedesktop/systemd1,
 * interface org.freedesktop.systemd1.Manager). */
void sd_msg_call (struct sd_msg *m, const char *member, const char *sig);
void sd_msg_free (struct sd_msg *m);
void sd_msg_string (struct sd_msg *m, const char *s);
void sd_msg_bool (struct sd_msg *m, bool v);
/* a(sv) / a(sa(sv)) arrays (elements are structs: 8-aligned): open, add, close */
void sd_msg_array_open (struct sd_msg *m);
void sd_msg_array_close (struct sd_msg *m);
/* One (sv) entry of an open a(sv): name and a variant of the given kind. */
void sd_msg_prop_string (struct sd_msg *m, const char *name, const char *v);
void sd_msg_prop_bool (struct sd_msg *m, const char *name, bool v);
void sd_msg_prop_u64 (struct sd_msg *m, const char *name, uint64_t v);
void sd_msg_prop_u32_array (struct sd_msg *m, const char *name, const uint32_t *v, size_t n);
void sd_msg_prop_bytes (struct sd_msg *m, const char *name, const unsigned char *v, size_t n);

/* Send m and wait for its reply.  A reply whose body starts with an object
 * path (a job) gives it in *path_out (optional).  A D-Bus error comes back
 * as a cr_error naming the error and systemd's message. */
int sd_call (struct sd_conn *c, struct sd_msg *m, char **path_out, cr_error_t *err);

/* Wait until systemd says job `job` is removed (the JobRemoved signal);
 * *result is "done", "failed", "timeout", ... */
int sd_wait_job (struct sd_conn *c, const char *job, int timeout_ms, char **result, cr_error_t *err);

#endif
