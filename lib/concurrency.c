/* Concurrency slots as files under a flock'd directory (see concurrency.h). */
#include "concurrency.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "state.h"
#include "util.h"

static int
open_group (const char *root, const char *group, cr_error_t *err)
{
  cleanup_free char *dir = xasprintf ("%s/.capsule-concurrency/%s", root, group);
  if (mkdir_p (dir, 0700, err) < 0)
    return -1;
  return open_dir_locked (dir, "concurrency group", err);
}

static int
write_holder (int dfd, const char *id, pid_t pid, cr_error_t *err)
{
  char buf[64];
  int n = snprintf (buf, sizeof buf, "%d %llu\n", (int) pid, cr_proc_start_time (pid));
  cleanup_free char *tmp = xasprintf (".%s.tmp", id);
  if (write_file_at (dfd, tmp, buf, (size_t) n, err) < 0)
    return -1;
  if (renameat (dfd, tmp, dfd, id) < 0)
    return cr_error_errno (err, "concurrency slot `%s`", id);
  return 0;
}

/* Count live holders, removing stale entries; skip `except`. */
static int
count_live (int dfd, const char *except, cr_error_t *err)
{
  int dup = fcntl (dfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0)
    return cr_error_errno (err, "dup");
  cleanup_dir DIR *d = fdopendir (dup);
  if (d == NULL)
    {
      close (dup);
      return cr_error_errno (err, "read concurrency group");
    }
  int live = 0;
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.' || (except && strcmp (de->d_name, except) == 0))
        continue;
      char buf[64] = "";
      int fd = openat (dfd, de->d_name, O_RDONLY | O_CLOEXEC);
      if (fd >= 0)
        {
          ssize_t n = read (fd, buf, sizeof buf - 1);
          buf[n > 0 ? n : 0] = '\0';
          close (fd);
        }
      int pid = 0;
      unsigned long long st = 0;
      if (sscanf (buf, "%d %llu", &pid, &st) == 2 && pid > 0 && st != 0 && cr_proc_start_time (pid) == st)
        live++;
      else
        unlinkat (dfd, de->d_name, 0); /* died without delete: reclaim */
    }
  return live;
}

int
capsule_slot_acquire (const char *root, const char *group, uint32_t max, const char *id, pid_t holder, cr_error_t *err)
{
  cleanup_close int dfd = open_group (root, group, err);
  if (dfd < 0)
    return -1;
  int live = count_live (dfd, id, err);
  if (live < 0)
    return -1;
  if ((uint32_t) live >= max)
    return cr_error (err, 0, "annotation capsule/concurrency: group `%s` is full: %d of %u running", group, live, max);
  return write_holder (dfd, id, holder, err);
}

int
capsule_slot_update (const char *root, const char *group, const char *id, pid_t holder, cr_error_t *err)
{
  cleanup_close int dfd = open_group (root, group, err);
  if (dfd < 0)
    return -1;
  return write_holder (dfd, id, holder, err);
}

void
capsule_slot_release (const char *root, const char *group, const char *id)
{
  cr_error_t e = NULL;
  cleanup_close int dfd = open_group (root, group, &e);
  cr_error_release (&e);
  if (dfd >= 0)
    unlinkat (dfd, id, 0);
}

int
capsule_slot_count (const char *root, const char *group, cr_error_t *err)
{
  cleanup_close int dfd = open_group (root, group, err);
  if (dfd < 0)
    return -1;
  return count_live (dfd, NULL, err);
}
