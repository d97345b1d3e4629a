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
/* Connect to the console socket (before pivot_root or setns hide the host path). */
int cr_console_socket_connect (const char *socket_path, cr_error_t *err);
/* Send the master fd over a connected console socket. */
int cr_console_socket_send_fd (int sock, int master, cr_error_t *err);
/* Both of the above. */
int cr_console_socket_send (const char *socket_path, int master, cr_error_t *err);
/* The size of the terminal on our stdin/stdout/stderr, if any and not 0x0
 * (a foreground pty starts with it, like runc resizing to the host's). */
bool cr_terminal_host_size (unsigned *rows, unsigned *cols);
/* Copy between stdin/stdout and master until the master closes (foreground run -t). */
void cr_terminal_proxy (int master, int child_pidfd);

#endif
