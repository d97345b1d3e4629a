/* Container terminals: a pty made inside the container's devpts, the
 * master handed to the client over --console-socket with SCM_RIGHTS (what
 * containerd and conmon expect), or proxied by a foreground `run -t`. */
#ifndef CAPSULE_TERMINAL_H
#define CAPSULE_TERMINAL_H

#include <stdbool.h>

#include "error.h"

/* Open a new pty from /dev/ptmx; *master and the slave path. */
int cr_terminal_open (int *master, char **slave_path, cr_error_t *err);
/* Make the slave the controlling terminal and fds 0-2 (new session). */
int cr_terminal_become (const char *slave_path, unsigned rows, unsigned cols, cr_error_t *err);
/* Connect to the console socket and send the master fd. */
int cr_console_socket_send (const char *socket_path, int master, cr_error_t *err);
/* Copy between stdin/stdout and master until the master closes (foreground run -t). */
void cr_terminal_proxy (int master, int child_pidfd);

#endif
