/* Pinning, entering and identifying network namespaces. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "util.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

int
netns_id_fd (int fd, struct netns_id *id, cr_error_t *err)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cr_error_errno (err, "stat of a network namespace handle");
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  return 0;
}

int
netns_id_path (const char *path, struct netns_id *id, cr_error_t *err)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return cr_error_errno (err, "stat `%s`", path);
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  return 0;
}

bool
netns_is_pinned (const char *pin_path)
{
  struct statfs sfs;
  return statfs (pin_path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

int
netns_pin (pid_t pid, const char *pin_path, cr_error_t *err)
{
  char src[64];
  cleanup_close int srcfd = -1;
  struct netns_id want = { 0, 0 }, have = { 0, 0 };
  int fd;

  snprintf (src, sizeof src, "/proc/%d/ns/net", (int) pid);
  /* Hold the namespace while we work so a dying pid cannot hand us another. */
  srcfd = open (src, O_RDONLY | O_CLOEXEC);
  if (srcfd < 0)
    return cr_error_errno (err, "opening `%s`", src);
  if (netns_id_fd (srcfd, &want, err) < 0)
    return -1;

  if (netns_is_pinned (pin_path))
    {
      if (netns_id_path (pin_path, &have, err) < 0)
        return -1;
      if (netns_id_eq (&want, &have))
        return 0;
      return cr_error (err, EEXIST, "pinning the network namespace at `%s`: another namespace is pinned there", pin_path);
    }
  fd = open (pin_path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0)
    return cr_error_errno (err, "creating the netns pin `%s`", pin_path);
  close (fd);
  /* Bind the fd we hold, not the /proc path, to avoid pid reuse races. */
  snprintf (src, sizeof src, "/proc/self/fd/%d", srcfd);
  if (mount (src, pin_path, NULL, MS_BIND, NULL) < 0)
    {
      int e = errno;
      unlink (pin_path);
      return cr_error (err, e, "bind-mounting the network namespace of pid %d onto `%s`", (int) pid, pin_path);
    }
  return 0;
}

int
netns_unpin (const char *pin_path, cr_error_t *err)
{
  /* Stacked mounts (a pin done twice by racing hooks) all go. */
  for (int i = 0; i < 16 && netns_is_pinned (pin_path); i++)
    if (umount2 (pin_path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
      return cr_error_errno (err, "unmounting the netns pin `%s`", pin_path);
  if (unlink (pin_path) < 0 && errno != ENOENT)
    return cr_error_errno (err, "removing the netns pin `%s`", pin_path);
  return 0;
}

int
netns_enter (int nsfd, int *saved, cr_error_t *err)
{
  int cur = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (cur < 0)
    return cr_error_errno (err, "opening the current network namespace");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    {
      int e = errno;
      close (cur);
      return cr_error (err, e, "entering the capsule network namespace");
    }
  *saved = cur;
  return 0;
}

int
netns_leave (int saved, cr_error_t *err)
{
  int ret = 0;
  if (setns (saved, CLONE_NEWNET) < 0)
    ret = cr_error_errno (err, "returning to the original network namespace");
  close (saved);
  return ret;
}

int
netns_count_non_lo (cr_error_t *err)
{
  struct if_nameindex *ifs = if_nameindex ();
  int n = 0;
  if (ifs == NULL)
    return cr_error_errno (err, "listing network interfaces");
  for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
    if (strcmp (i->if_name, "lo") != 0)
      n++;
  if_freenameindex (ifs);
  return n;
}

int
netns_owned_by_our_userns (int nsfd, cr_error_t *err)
{
  cleanup_close int owner = ioctl (nsfd, NS_GET_USERNS);
  struct stat a, b;

  if (owner < 0)
    return cr_error_errno (err, "finding the user namespace owning a network namespace");
  if (fstat (owner, &a) < 0 || stat ("/proc/self/ns/user", &b) < 0)
    return cr_error_errno (err, "stat of a user namespace");
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
netns_loopback_up (cr_error_t *err)
{
  cleanup_close int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cr_error_errno (err, "loopback up: socket");
  struct ifreq ifr = { 0 };
  memcpy (ifr.ifr_name, "lo", 3);
  if (ioctl (fd, SIOCGIFFLAGS, &ifr) < 0)
    return cr_error_errno (err, "loopback up: get the flags of lo");
  if (ifr.ifr_flags & IFF_UP)
    return 0;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl (fd, SIOCSIFFLAGS, &ifr) < 0)
    return cr_error_errno (err, "loopback up: set lo up");
  return 0;
}
