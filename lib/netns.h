/* Network namespace handles for capsule containment: pin a container's
 * netns by bind-mounting /proc/PID/ns/net onto a file under the capsule's
 * state dir (so rules and proxy outlive process churn and the namespace
 * cannot be swapped), unpin, enter and leave, compare by inode. */
#ifndef CAPSULE_NETNS_H
#define CAPSULE_NETNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Identity of a namespace: nsfs device + inode. */
struct netns_id
{
  dev_t dev;
  ino_t ino;
};

/* Bind-mount /proc/<pid>/ns/net onto pin_path (created empty).  Pinning the
 * same namespace twice is fine; a pin of another namespace is an error. */
int netns_pin (pid_t pid, const char *pin_path, cr_error_t *err);
/* Unmount (lazily) and unlink the pin; a missing pin is not an error. */
int netns_unpin (const char *pin_path, cr_error_t *err);
/* true if path is a live pin (an nsfs mount). */
bool netns_is_pinned (const char *pin_path);

/* Identity of the namespace behind an nsfs path or fd. */
int netns_id_path (const char *path, struct netns_id *id, cr_error_t *err);
int netns_id_fd (int fd, struct netns_id *id, cr_error_t *err);
static inline bool netns_id_eq (const struct netns_id *a, const struct netns_id *b)
{
  return a->dev == b->dev && a->ino == b->ino;
}

/* setns the calling thread into the netns at fd; *saved gets an fd of the
 * previous one for netns_leave (which closes it). */
int netns_enter (int nsfd, int *saved, cr_error_t *err);
int netns_leave (int saved, cr_error_t *err);

/* 1 if the netns at fd is owned by the calling process' user namespace
 * (so nobody inside a nested user namespace is root over its rules), 0 if
 * another user namespace owns it, <0 on error. */
int netns_owned_by_our_userns (int nsfd, cr_error_t *err);

/* Bring lo up in the current netns (a new one starts with it down). */
int netns_loopback_up (cr_error_t *err);

/* Number of interfaces other than lo in the current netns, <0 on error. */
int netns_count_non_lo (cr_error_t *err);

#endif
