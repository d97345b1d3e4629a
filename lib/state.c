#include "state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cgroup.h"
#include "util.h"

void
cr_state_release (struct cr_state *s)
{
  free (s->id);
  free (s->bundle);
  free (s->rootfs);
  free (s->created);
  free (s->cgroup_path);
  memset (s, 0, sizeof *s);
}

int
cr_validate_id (const char *id, cr_error_t *err)
{
  if (id == NULL || *id == '\0')
    return cr_error (err, 0, "container id cannot be empty");
  for (const char *p = id; *p; p++)
    {
      bool ok = isalnum ((unsigned char) *p) || *p == '_' || *p == '+' || *p == '-' || (*p == '.' && p != id);
      if (!ok)
        return cr_error (err, 0, "invalid container id format: %s", id);
    }
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0 || strlen (id) > 1024)
    return cr_error (err, 0, "invalid container id format: %s", id);
  return 0;
}

char *
cr_state_dir (const char *root, const char *id)
{
  return xasprintf ("%s/%s", root, id);
}

int
cr_state_dir_create (const char *root, const char *id, cr_error_t *err)
{
  if (mkdir_p (root, 0700, err) < 0)
    return cr_error_wrap (err, "create state root");
  cleanup_free char *dir = cr_state_dir (root, id);
  if (mkdir (dir, 0711) < 0)
    {
      if (errno == EEXIST)
        return cr_error (err, 0, "container with given ID already exists: %s", id);
      return cr_error_errno (err, "mkdir `%s`", dir);
    }
  return open_dir_locked (dir, "state directory", err);
}

int
cr_state_dir_open (const char *root, const char *id, bool lock, cr_error_t *err)
{
  if (cr_validate_id (id, err) < 0)
    return -1;
  cleanup_free char *dir = cr_state_dir (root, id);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return cr_error (err, 0, "container does not exist");
      return cr_error_errno (err, "open `%s`", dir);
    }
  if (lock && flock (fd, LOCK_EX) < 0)
    {
      close (fd);
      return cr_error_errno (err, "lock `%s`", dir);
    }
  return fd;
}

#define GEN_STR(g, k, v) do { yajl_gen_string (g, (const unsigned char *) (k), strlen (k)); \
    const char *_v = (v) ? (v) : ""; yajl_gen_string (g, (const unsigned char *) _v, strlen (_v)); } while (0)
#define GEN_INT(g, k, v) do { yajl_gen_string (g, (const unsigned char *) (k), strlen (k)); yajl_gen_integer (g, (long long) (v)); } while (0)
#define GEN_BOOL(g, k, v) do { yajl_gen_string (g, (const unsigned char *) (k), strlen (k)); yajl_gen_bool (g, (v)); } while (0)

int
cr_state_write (int dirfd, const struct cr_state *s, cr_error_t *err)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    return cr_error (err, ENOMEM, "write state");
  yajl_gen_map_open (g);
  GEN_STR (g, "id", s->id);
  GEN_STR (g, "bundle", s->bundle);
  GEN_STR (g, "rootfs", s->rootfs);
  GEN_STR (g, "created", s->created);
  GEN_STR (g, "cgroup_path", s->cgroup_path);
  GEN_INT (g, "pid", s->pid);
  yajl_gen_string (g, (const unsigned char *) "start_time", 10);
  char num[32];
  snprintf (num, sizeof num, "%llu", s->start_time);
  yajl_gen_number (g, num, strlen (num));
  GEN_BOOL (g, "capsule", s->capsule);
  GEN_BOOL (g, "created_done", s->created_done);
  yajl_gen_map_close (g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  /* write+rename inside the container dir: atomic for any reader. */
  char tmp[64];
  snprintf (tmp, sizeof tmp, "state.json.%d", getpid ());
  int ret = write_file_at (dirfd, tmp, buf, len, err);
  yajl_gen_free (g);
  if (ret < 0)
    return ret;
  if (renameat (dirfd, tmp, dirfd, "state.json") < 0)
    {
      int saved = errno;
      unlinkat (dirfd, tmp, 0);
      return cr_error (err, saved, "rename state.json");
    }
  return 0;
}

static char *
tree_str (yajl_val root, const char *key)
{
  const char *path[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, path, yajl_t_string);
  return v && *YAJL_GET_STRING (v) ? xstrdup (YAJL_GET_STRING (v)) : NULL;
}

int
cr_state_read (int dirfd, struct cr_state *s, cr_error_t *err)
{
  memset (s, 0, sizeof *s);
  cleanup_close int fd = openat (dirfd, "state.json", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return cr_error (err, 0, "container does not exist");
      return cr_error_errno (err, "open state.json");
    }
  cleanup_free char *text = NULL;
  if (read_all_fd (fd, &text, NULL, err) < 0)
    return cr_error_wrap (err, "read state.json");
  char ebuf[256];
  yajl_val root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (root == NULL)
    return cr_error (err, 0, "state.json is corrupt: %s", ebuf);
  s->id = tree_str (root, "id");
  s->bundle = tree_str (root, "bundle");
  s->rootfs = tree_str (root, "rootfs");
  s->created = tree_str (root, "created");
  s->cgroup_path = tree_str (root, "cgroup_path");
  const char *p_pid[] = { "pid", NULL }, *p_st[] = { "start_time", NULL }, *p_c[] = { "capsule", NULL },
             *p_d[] = { "created_done", NULL };
  yajl_val v = yajl_tree_get (root, p_pid, yajl_t_number);
  s->pid = v ? (pid_t) YAJL_GET_INTEGER (v) : 0;
  v = yajl_tree_get (root, p_st, yajl_t_number);
  s->start_time = v ? strtoull (YAJL_GET_NUMBER (v), NULL, 10) : 0;
  v = yajl_tree_get (root, p_c, yajl_t_any);
  s->capsule = v && YAJL_IS_TRUE (v);
  v = yajl_tree_get (root, p_d, yajl_t_any);
  s->created_done = v && YAJL_IS_TRUE (v);
  yajl_tree_free (root);
  return 0;
}

unsigned long long
cr_proc_start_time (pid_t pid)
{
  char path[64], buf[1024];
  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* comm may hold spaces and parens: fields start after the last ')'. */
  char *p = strrchr (buf, ')');
  if (p == NULL || p[1] != ' ')
    return 0;
  p += 2;
  char state = *p;
  if (state == 'Z' || state == 'X')
    return 0;
  /* p is field 3; starttime is field 22. */
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr (p, ' ');
      if (p)
        p++;
    }
  return p ? strtoull (p, NULL, 10) : 0;
}

bool
cr_state_init_alive (const struct cr_state *s)
{
  if (s->pid <= 0)
    return false;
  unsigned long long st = cr_proc_start_time (s->pid);
  return st != 0 && st == s->start_time;
}

const char *
cr_state_status (int dirfd, const struct cr_state *s)
{
  if (!cr_state_init_alive (s))
    return s->created_done || s->pid > 0 ? "stopped" : "creating";
  if (!s->created_done)
    return "creating";
  struct stat st;
  if (fstatat (dirfd, "exec.fifo", &st, 0) == 0)
    return "created";
  if (s->cgroup_path)
    {
      struct cr_cgroup cg;
      cr_error_t e = NULL;
      if (cr_cgroup_open (s->cgroup_path, &cg, &e) == 0)
        {
          int frozen = cr_cgroup_is_frozen (&cg, &e);
          cr_cgroup_release (&cg);
          if (frozen > 0)
            return "paused";
        }
      cr_error_release (&e);
    }
  return "running";
}

char *
cr_now_rfc3339 (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t l = strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + l, sizeof buf - l, ".%09ldZ", ts.tv_nsec);
  return xstrdup (buf);
}

char *
cr_state_oci_json (const struct cr_state *s, const char *status, const char *const *annotations, bool pretty)
{
  return cr_state_oci_json_owner (s, status, annotations, NULL, pretty);
}

char *
cr_state_oci_json_owner (const struct cr_state *s, const char *status, const char *const *annotations, const char *owner,
                         bool pretty)
{
  yajl_gen g = yajl_gen_alloc (NULL);
  if (g == NULL)
    return NULL;
  yajl_gen_config (g, yajl_gen_beautify, pretty ? 1 : 0);
  yajl_gen_config (g, yajl_gen_indent_string, "  ");
  yajl_gen_map_open (g);
  GEN_STR (g, "ociVersion", "1.2.0");
  GEN_STR (g, "id", s->id);
  GEN_INT (g, "pid", strcmp (status, "stopped") == 0 ? 0 : s->pid);
  GEN_STR (g, "status", status);
  GEN_STR (g, "bundle", s->bundle);
  GEN_STR (g, "rootfs", s->rootfs);
  GEN_STR (g, "created", s->created);
  /* runc's key order: annotations come before owner. */
  if (annotations && annotations[0])
    {
      yajl_gen_string (g, (const unsigned char *) "annotations", 11);
      yajl_gen_map_open (g);
      for (size_t i = 0; annotations[i] && annotations[i + 1]; i += 2)
        GEN_STR (g, annotations[i], annotations[i + 1]);
      yajl_gen_map_close (g);
    }
  GEN_STR (g, "owner", owner ? owner : "");
  yajl_gen_map_close (g);
  const unsigned char *buf;
  size_t len;
  yajl_gen_get_buf (g, &buf, &len);
  char *out = strndup ((const char *) buf, len);
  yajl_gen_free (g);
  return out;
}
