#include "namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

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
  return flags;
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
