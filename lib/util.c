#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>

void *
xmalloc0 (size_t n)
{
  void *p = calloc (1, n ? n : 1);
  if (p == NULL)
    abort ();
  return p;
}

char *
xstrdup (const char *s)
{
  if (s == NULL)
    return NULL;
  char *p = strdup (s);
  if (p == NULL)
    abort ();
  return p;
}

char *
xvasprintf (const char *fmt, va_list ap)
{
  char *s;
  if (vasprintf (&s, fmt, ap) < 0)
    abort ();
  return s;
}

char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = xvasprintf (fmt, ap);
  va_end (ap);
  return s;
}

char *
next_list_item (char **save, const char *sep)
{
  for (;;)
    {
      char *item = strsep (save, sep);
      if (item == NULL)
        return NULL;
      item += strspn (item, " \t");
      if (*item)
        return item;
    }
}

int
open_dir_locked (const char *dir, const char *what, cr_error_t *err)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "open %s `%s`", what, dir);
  if (flock (fd, LOCK_EX) < 0)
    {
      int e = errno;
      close (fd);
      errno = e;
      return cr_error_errno (err, "lock %s `%s`", what, dir);
    }
  return fd;
}

int
write_all (int fd, const void *buf, size_t len, cr_error_t *err)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return cr_error_errno (err, "write");
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
read_all_fd (int fd, char **out, size_t *len, cr_error_t *err)
{
  size_t cap = 4096, used = 0;
  cleanup_free char *buf = malloc (cap);
  if (buf == NULL)
    return cr_error (err, ENOMEM, "read");
  for (;;)
    {
      if (used + 1 >= cap)
        {
          char *nb = realloc (buf, cap * 2);
          if (nb == NULL)
            return cr_error (err, ENOMEM, "read");
          buf = nb;
          cap *= 2;
        }
      ssize_t n = read (fd, buf + used, cap - used - 1);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return cr_error_errno (err, "read");
        }
      if (n == 0)
        break;
      used += (size_t) n;
    }
  buf[used] = '\0';
  if (len)
    *len = used;
  *out = steal_pointer (&buf);
  return 0;
}

int
read_file (const char *path, char **out, size_t *len, cr_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "open `%s`", path);
  if (read_all_fd (fd, out, len, err) < 0)
    return cr_error_wrap (err, "read `%s`", path);
  return 0;
}

int
write_file_at (int dirfd, const char *path, const void *data, size_t len, cr_error_t *err)
{
  cleanup_close int fd = openat (dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return cr_error_errno (err, "open `%s` for writing", path);
  if (write_all (fd, data, len, err) < 0)
    return cr_error_wrap (err, "write `%s`", path);
  return 0;
}

int
write_file_atomic (const char *path, const void *data, size_t len, cr_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.tmp.%d", path, getpid ());
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return cr_error_errno (err, "create `%s`", tmp);
  if (write_all (fd, data, len, err) < 0 || fsync (fd) < 0)
    {
      int saved = errno;
      unlink (tmp);
      if (err && *err == NULL)
        cr_error (err, saved, "fsync `%s`", tmp);
      return cr_error_wrap (err, "write `%s`", path);
    }
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      unlink (tmp);
      return cr_error (err, saved, "rename `%s` to `%s`", tmp, path);
    }
  return 0;
}

int
mkdir_p (const char *path, mode_t mode, cr_error_t *err)
{
  /* Usually the parents exist (or the whole path does): one syscall. */
  if (mkdir (path, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return cr_error_errno (err, "mkdir `%s`", path);
  cleanup_free char *p = xstrdup (path);
  for (char *s = p + 1; *s; s++)
    {
      if (*s != '/')
        continue;
      *s = '\0';
      if (mkdir (p, mode) < 0 && errno != EEXIST)
        return cr_error_errno (err, "mkdir `%s`", p);
      *s = '/';
    }
  if (mkdir (p, mode) < 0 && errno != EEXIST)
    return cr_error_errno (err, "mkdir `%s`", p);
  return 0;
}

static int
rm_rf_at (int dirfd, const char *name, dev_t dev, cr_error_t *err)
{
  if (unlinkat (dirfd, name, 0) == 0 || errno == ENOENT)
    return 0;
  if (errno != EISDIR && errno != EPERM)
    return cr_error_errno (err, "unlink `%s`", name);
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : cr_error_errno (err, "open `%s`", name);
  struct stat st;
  if (fstat (fd, &st) < 0)
    return cr_error_errno (err, "stat `%s`", name);
  if (st.st_dev != dev)
    return cr_error (err, EXDEV, "refusing to remove `%s` across a mount point", name);
  int fd2 = dup (fd);
  if (fd2 < 0)
    return cr_error_errno (err, "dup");
  cleanup_dir DIR *d = fdopendir (fd2);
  if (d == NULL)
    {
      close (fd2);
      return cr_error_errno (err, "opendir `%s`", name);
    }
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (rm_rf_at (fd, de->d_name, dev, err) < 0)
        return -1;
    }
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return cr_error_errno (err, "rmdir `%s`", name);
  return 0;
}

int
rm_rf (const char *path, cr_error_t *err)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : cr_error_errno (err, "stat `%s`", path);
  return rm_rf_at (AT_FDCWD, path, st.st_dev, err);
}

char *
read_first_line (const char *path)
{
  cleanup_free char *t = NULL;
  cr_error_t e = NULL;
  if (read_file (path, &t, NULL, &e) < 0)
    {
      cr_error_release (&e);
      return NULL;
    }
  t[strcspn (t, "\n")] = '\0';
  return steal_pointer (&t);
}

char *
dir_find_entry (const char *dir, bool (*match) (const char *dir, const char *name, void *data), void *data)
{
  cleanup_dir DIR *d = opendir (dir);
  struct dirent *de;
  while (d && (de = readdir (d)))
    if (de->d_name[0] != '.' && match (dir, de->d_name, data))
      return xstrdup (de->d_name);
  return NULL;
}
