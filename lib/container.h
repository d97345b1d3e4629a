/* The container lifecycle, top-down: create, start, run, kill, delete,
 * state.  cmd/ verbs parse flags and call these; lib/container.c is the one
 * place to read how a container comes to life and goes away. */
#ifndef CAPSULE_CONTAINER_H
#define CAPSULE_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "state.h"

struct cr_context
{
  const char *root;          /* --root */
  bool systemd_cgroup;       /* --systemd-cgroup */
};

struct capsule_monitor_thread;

struct cr_create_opts
{
  const char *id;
  const char *bundle;        /* default "." */
  const char *config_path;   /* default <bundle>/config.json */
  const char *pid_file;
  const char *console_socket;
  bool no_pivot;
  bool no_new_keyring;
  int preserve_fds;
  bool foreground;           /* `run` without --detach: stay the parent, proxy the tty */
  /* Foreground `run`: if the process has no tty, create gives the container
   * pipes for fds 0-2 and stores the runtime's ends here {stdin writer,
   * stdout reader, stderr reader}; left -1 otherwise. */
  int *stdio_out;
  /* Foreground `run` of a capsule with its own pid namespace: the monitor
   * runs as a thread of the runtime and its handle lands here (the caller
   * stops it before delete); NULL: a monitor daemon, as for `create`. */
  struct capsule_monitor_thread **monitor_out;
};

/* *pty_out (may be NULL) receives the pty master of a foreground `run -t`, else -1. */
int cr_container_create (struct cr_context *ctx, const struct cr_create_opts *o, pid_t *init_pid, int *pty_out,
                         cr_error_t *err);
int cr_container_start (struct cr_context *ctx, const char *id, cr_error_t *err);
/* create + start + (foreground) wait; returns the container's exit code (0-255) or -1. */
int cr_container_run (struct cr_context *ctx, const struct cr_create_opts *o, bool detach, bool keep, cr_error_t *err);
int cr_container_kill (struct cr_context *ctx, const char *id, int sig, bool all, cr_error_t *err);
int cr_container_delete (struct cr_context *ctx, const char *id, bool force, cr_error_t *err);
/* OCI state JSON of a container (malloc'd). */
char *cr_container_state_json (struct cr_context *ctx, const char *id, bool pretty, bool with_owner, cr_error_t *err);
/* Load a container's state; *dirfd gets the (locked if lock) state dir. */
int cr_container_load (struct cr_context *ctx, const char *id, bool lock, int *dirfd, struct cr_state *st, cr_error_t *err);

/* Signal name ("KILL", "SIGKILL", "9") -> number, -1 if unknown. */
int cr_signal_parse (const char *s);

#endif
