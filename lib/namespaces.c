#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct
{
  const char *type, *proc;
  int flag;
} ns_table[] = {
  { "user", "user", CLONE_NEWUSER },     { "pid", "pid", CLONE_NEWPID },       { "network", "net", CLONE_NEWNET },
  { "mount", "mnt", CLONE_NEWNS },       { "ipc", "ipc", CLONE_NEWIPC },       { "uts", "uts", CLONE_NEWUTS },
  { "cgroup", "cgroup", CLONE_NEWCGROUP }, { "time", "time", CLONE_NEWTIME },
};

int
cr_ns_flag (const char *type)
{
  for (size_t i = 0; i < sizeof ns_table / sizeof ns_table[0]; i++)
    if (strcmp (ns_table[i].type, type) == 0)
      return ns_table[i].flag;
  return 0;
}

const char *
cr_ns_proc_name (const char *type)
{
  for (size_t i = 0; i < sizeof ns_table / sizeof ns_table[0]; i++)
    if (strcmp (ns_table[i].type, type) == 0)
      return ns_table[i].proc;
  return NULL;
}

int
cr_ns_new_flags (const struct oci_config *c)
{
  int flags = 0;
  if (c->linux_ == NULL)
    return 0;
  for (size_t i = 0; i < c->linux_->namespaces_len; i++)
    {
      const struct oci_namespace *ns = &c->linux_->namespaces[i];
      if (ns->path == NULL || *ns->path == '\0')
        flags |= cr_ns_flag (ns->type);
    }
  /* Not a clone flag: a child cloned into a new time namespace is in it at
   * once and its offsets can no longer be written (cr_ns_unshare_time). */
  return flags & ~CLONE_NEWTIME;
}

void
cr_ns_join_free (struct cr_ns_join *j, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      if (j[i].fd >= 0)
        close (j[i].fd);
      free (j[i].path);
    }
  free (j);
}

int
cr_ns_open_paths (const struct oci_config *c, struct cr_ns_join **out, size_t *n, cr_error_t *err)
{
  *out = NULL;
  *n = 0;
  if (c->linux_ == NULL)
    return 0;
  /* A mount namespace that exists already belongs to some other user namespace
   * than a new one: root of the new one could not mount there (runc fails later,
   * in its rootfs setup, with EPERM). Say so before anything starts. */
  const struct oci_namespace *mnt = oci_namespace_find (c, "mount");
  const struct oci_namespace *user = oci_namespace_find (c, "user");
  if (mnt && mnt->path && *mnt->path && user && (user->path == NULL || *user->path == '\0'))
    return cr_error (err, EPERM,
                     "mount namespace `%s` joined by path with a new user namespace: the new user namespace "
                     "would not own it (join the user namespace that owns it by path instead)",
                     mnt->path);
  struct cr_ns_join *j = xmalloc0 (sizeof *j * (c->linux_->namespaces_len + 1));
  size_t k = 0;
  for (size_t i = 0; i < c->linux_->namespaces_len; i++)
    {
      const struct oci_namespace *ns = &c->linux_->namespaces[i];
      if (ns->path == NULL || *ns->path == '\0')
        continue;
      int fd = open (ns->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          int saved = errno;
          cr_ns_join_free (j, k);
          return cr_error (err, saved, "open %s namespace `%s`", ns->type, ns->path);
        }
      j[k].fd = fd;
      j[k].flag = cr_ns_flag (ns->type);
      j[k].path = xstrdup (ns->path);
      k++;
    }
  *out = j;
  *n = k;
  return 0;
}

int
cr_ns_join (struct cr_ns_join *j, size_t n, int mask, cr_error_t *err)
{
  /* The user namespace first: joining it grants the caps needed for the rest. */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++)
      {
        if (!(j[i].flag & mask) || j[i].fd < 0)
          continue;
        if ((pass == 0) != (j[i].flag == CLONE_NEWUSER))
          continue;
        if (setns (j[i].fd, j[i].flag) < 0)
          return cr_error_errno (err, "join namespace `%s`", j[i].path);
        close (j[i].fd);
        j[i].fd = -1;
      }
  return 0;
}

unsigned long
cr_ns_inode_path (const char *path)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return 0;
  return (unsigned long) st.st_ino;
}

bool
cr_ns_wants_new_time (const struct oci_config *c)
{
  const struct oci_namespace *ns = oci_namespace_find (c, "time");
  return ns && (ns->path == NULL || *ns->path == '\0');
}

int
cr_ns_unshare_time (const struct oci_config *c, cr_error_t *err)
{
  const struct oci_linux *l = c->linux_;
  bool offsets = l && (l->time_monotonic.has || l->time_boottime.has);
  if (!cr_ns_wants_new_time (c))
    {
      if (offsets)
        return cr_error (err, 0, "time namespace offsets specified, but time namespace isn't enabled in the config");
      return 0;
    }
  if (unshare (CLONE_NEWTIME) < 0)
    return cr_error_errno (err, "unshare time namespace");
  /* Writable only while no process is in the new namespace. */
  if (offsets)
    {
      char buf[128];
      int n = 0;
      if (l->time_monotonic.has)
        n += snprintf (buf + n, sizeof buf - (size_t) n, "%d %lld %u\n", CLOCK_MONOTONIC,
                       (long long) l->time_monotonic.secs, l->time_monotonic.nanosecs);
      if (l->time_boottime.has)
        n += snprintf (buf + n, sizeof buf - (size_t) n, "%d %lld %u\n", CLOCK_BOOTTIME,
                       (long long) l->time_boottime.secs, l->time_boottime.nanosecs);
      cleanup_close int fd = open ("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        return cr_error_errno (err, "open /proc/self/timens_offsets");
      if (write (fd, buf, (size_t) n) != n)
        return cr_error_errno (err, "write time namespace offsets `%.*s`", n - 1, buf);
    }
  cleanup_close int ns = open ("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
  if (ns < 0)
    return cr_error_errno (err, "open /proc/self/ns/time_for_children");
  if (setns (ns, CLONE_NEWTIME) < 0)
    return cr_error_errno (err, "enter the new time namespace");
  return 0;
}

/* Which joined namespaces the runtime enters before clone, for the child to inherit. */
static bool
parent_joins (int flag, int new_flags)
{
  if (flag == CLONE_NEWPID || flag == CLONE_NEWTIME)
    return true; /* they apply to children only */
  /* A child born in a new user namespace has no privilege over the host's
   * namespaces: like runc, join them before the user namespace exists. */
  return (new_flags & CLONE_NEWUSER) && (flag == CLONE_NEWNET || flag == CLONE_NEWIPC || flag == CLONE_NEWUTS
                                         || flag == CLONE_NEWCGROUP);
}

int
cr_ns_parent_enter (struct cr_ns_join *j, size_t n, int new_flags, struct cr_ns_saved *saved, cr_error_t *err)
{
  static const struct
  {
    int flag;
    const char *self;
  } own[] = { { CLONE_NEWPID, "/proc/self/ns/pid_for_children" }, { CLONE_NEWTIME, "/proc/self/ns/time_for_children" },
              { CLONE_NEWNET, "/proc/self/ns/net" },              { CLONE_NEWIPC, "/proc/self/ns/ipc" },
              { CLONE_NEWUTS, "/proc/self/ns/uts" },              { CLONE_NEWCGROUP, "/proc/self/ns/cgroup" } };
  saved->n = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (j[i].fd < 0 || !parent_joins (j[i].flag, new_flags))
        continue;
      for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
        if (own[k].flag == j[i].flag && saved->n < sizeof saved->fd / sizeof saved->fd[0])
          {
            int fd = open (own[k].self, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
              return cr_error_errno (err, "open `%s`", own[k].self);
            saved->fd[saved->n] = fd;
            saved->flag[saved->n++] = own[k].flag;
          }
      if (setns (j[i].fd, j[i].flag) < 0)
        return cr_error_errno (err, "join namespace `%s`", j[i].path);
      close (j[i].fd);
      j[i].fd = -1;
    }
  return 0;
}

void
cr_ns_parent_restore (struct cr_ns_saved *saved)
{
  for (size_t i = 0; i < saved->n; i++)
    {
      setns (saved->fd[i], saved->flag[i]);
      close (saved->fd[i]);
    }
  saved->n = 0;
}

int
cr_ns_joined_userns (const struct cr_ns_join *j, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (j[i].flag == CLONE_NEWUSER && j[i].fd >= 0)
      return (int) i;
  return -1;
}

pid_t
cr_ns_clone_in_userns (struct cr_ns_join *j, size_t n, int flags)
{
  int u = cr_ns_joined_userns (j, n);
  if (u < 0)
    {
      errno = EINVAL;
      return -1;
    }
  int p[2];
  if (pipe2 (p, O_CLOEXEC) < 0)
    return -1;
  pid_t helper = fork ();
  if (helper < 0)
    {
      int e = errno;
      close (p[0]);
      close (p[1]);
      errno = e;
      return -1;
    }
  if (helper == 0)
    {
      /* Throwaway: it may wander into any namespace. Joined ones first, with
       * host privilege (as runc does for a new user namespace); the user
       * namespace last, so that the clone's new namespaces belong to it. */
      struct
      {
        pid_t pid;
        int err;
      } r = { -1, 0 };
      close (p[0]);
      for (int pass = 0; pass < 2 && r.err == 0; pass++)
        for (size_t i = 0; i < n && r.err == 0; i++)
          {
            if (j[i].fd < 0 || (pass == 0) == (j[i].flag == CLONE_NEWUSER))
              continue;
            if (setns (j[i].fd, j[i].flag) < 0)
              r.err = errno;
            close (j[i].fd);
            j[i].fd = -1; /* the child is in it already */
          }
      /* Root of that namespace (runc's init does the same): host root is unmapped there. */
      if (r.err == 0 && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
        r.err = errno;
      if (r.err == 0)
        {
          /* CLONE_PARENT: the init is the runtime's child, as with a plain clone. */
          r.pid = (pid_t) syscall (SYS_clone, (unsigned long) flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
          if (r.pid == 0)
            {
              close (p[1]);
              return 0;
            }
          if (r.pid < 0)
            r.err = errno;
        }
      if (write (p[1], &r, sizeof r) != (ssize_t) sizeof r)
        _exit (1);
      _exit (0);
    }
  close (p[1]);
  struct
  {
    pid_t pid;
    int err;
  } r = { -1, EPIPE };
  ssize_t got;
  do
    got = read (p[0], &r, sizeof r);
  while (got < 0 && errno == EINTR);
  close (p[0]);
  while (waitpid (helper, NULL, 0) < 0 && errno == EINTR)
    ;
  if (got != (ssize_t) sizeof r)
    r = (typeof (r)){ -1, EPIPE };
  if (r.pid < 0)
    {
      errno = r.err ? r.err : EINVAL;
      return -1;
    }
  return r.pid;
}
