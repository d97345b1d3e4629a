/* `exec`: a new process inside a running container: joins every namespace
 * and the cgroup of its init and applies the same confinement the config
 * (and capsule mode) gives the init. */
#ifndef CAPSULE_EXEC_H
#define CAPSULE_EXEC_H

#include <stdbool.h>

#include "../oci-spec/config.h"
#include "container.h"
#include "error.h"

struct cr_exec_opts
{
  const char *id;
  const char *process_path;  /* --process FILE, or NULL */
  char **args;               /* inline args when no --process */
  size_t args_len;
  const char *cwd;
  char **env;                /* --env K=V (appended) */
  size_t env_len;
  const char *user;          /* uid[:gid] */
  char **caps;               /* --cap (added) */
  size_t caps_len;
  gid_t *additional_gids;
  size_t additional_gids_len;
  bool tty, detach, ignore_paused;
  int no_new_privs;          /* -1: as the config says, else 0/1 (--no-new-privs[=false]) */
  const char *console_socket;
  const char *pid_file;
  const char *apparmor, *process_label; /* --apparmor, --process-label */
  int preserve_fds;
};

/* Returns the process' exit code (foreground) or 0 (detached), -1 on error. */
int cr_container_exec (struct cr_context *ctx, const struct cr_exec_opts *o, cr_error_t *err);

#endif
