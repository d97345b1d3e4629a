/* Parent <-> container-init handshake over a SOCK_SEQPACKET pair: each
 * message is one packet {type, text}; fds ride along with SCM_RIGHTS. */
#ifndef CAPSULE_SYNC_H
#define CAPSULE_SYNC_H

#include "error.h"

enum cr_sync_msg
{
  CR_SYNC_GO = 1,        /* parent -> child: maps written, cgroup entered */
  CR_SYNC_HOOKS,         /* child -> parent: mounts done, run prestart/createRuntime */
  CR_SYNC_HOOKS_DONE,    /* parent -> child */
  CR_SYNC_READY,         /* child -> parent: set up, waiting on exec.fifo next */
  CR_SYNC_CREATED,       /* parent -> child: state written, drop pdeathsig */
  CR_SYNC_ERROR,         /* child -> parent: text is the error message */
  CR_SYNC_PTY,           /* child -> parent: the pty master (foreground run -t) */
  CR_SYNC_SECCOMP_FD,    /* child -> parent: the seccomp notify fd, for linux.seccomp.listenerPath */
  CR_SYNC_CGROUP,        /* child -> parent, first: v1 cgroups joined (no text) or why not (text) */
};

int cr_sync_send (int sock, enum cr_sync_msg type, const char *text, int fd, cr_error_t *err);
/* Receives one message; *text malloc'd (may be NULL), *fd = received fd or -1.
 * EOF (peer died) is an error "container init exited during setup". */
int cr_sync_recv (int sock, enum cr_sync_msg *type, char **text, int *fd, cr_error_t *err);
/* Receive and require a given type; a CR_SYNC_ERROR becomes the error. */
int cr_sync_expect (int sock, enum cr_sync_msg want, int *fd, cr_error_t *err);

#endif
