/* Cgroup mode detection, hierarchy discovery and the lifecycle of a
 * container's cgroup dirs: create (with rollback), open, enter, pids,
 * destroy.  Resources live in cgroup_v1.c / cgroup_v2.c, the freezer and
 * kill in cgroup_freezer.c, stats in cgroup_stats.c. */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"

static enum cr_cgroup_mode forced_mode;
static enum cr_cgroup_mode detected_mode;
static struct cr_cgroup_hiers hiers_cache;
static bool hiers_loaded;

static bool
is_cgroup2 (const char *path)
{
  struct statfs sf;
  return statfs (path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

enum cr_cgroup_mode
cr_cgroup_mode (void)
{
  if (forced_mode)
    return forced_mode;
  if (detected_mode == 0)
    {
      if (is_cgroup2 (CGROUP_ROOT))
        detected_mode = CR_CGROUP_V2;
      else if (is_cgroup2 (CGROUP_ROOT "/unified"))
        detected_mode = CR_CGROUP_HYBRID;
      else
        detected_mode = CR_CGROUP_V1;
    }
  return detected_mode;
}

static void
hiers_free (void)
{
  for (size_t i = 0; i < hiers_cache.n; i++)
    {
      free (hiers_cache.h[i].mountpoint);
      free (hiers_cache.h[i].controllers);
    }
  free (hiers_cache.h);
  hiers_cache.h = NULL;
  hiers_cache.n = 0;
  hiers_loaded = false;
}

void
cr_cgroup_force_mode (enum cr_cgroup_mode m)
{
  forced_mode = m;
  hiers_free ();
}

static void
hiers_add (const char *mnt, const char *controllers, bool v2)
{
  for (size_t i = 0; i < hiers_cache.n; i++)
    if (strcmp (hiers_cache.h[i].mountpoint, mnt) == 0)
      return;
  struct cr_cgroup_hier *nh = realloc (hiers_cache.h, (hiers_cache.n + 1) * sizeof *nh);
  if (nh == NULL)
    abort ();
  hiers_cache.h = nh;
  nh[hiers_cache.n].mountpoint = xstrdup (mnt);
  nh[hiers_cache.n].controllers = xstrdup (controllers);
  nh[hiers_cache.n].v2 = v2;
  hiers_cache.n++;
}

/* Keep the controller names (and name=X) from a v1 mount's super options. */
static char *
v1_controllers (const char *superopts)
{
  static const char *skip[] = { "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods" };
  cleanup_free char *copy = xstrdup (superopts);
  char *out = xmalloc0 (strlen (superopts) + 1);
  char *save = NULL;
  for (char *t = strtok_r (copy, ",", &save); t; t = strtok_r (NULL, ",", &save))
    {
      bool drop = strncmp (t, "release_agent=", 14) == 0;
      for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        drop |= strcmp (t, skip[i]) == 0;
      if (drop)
        continue;
      if (out[0])
        strcat (out, ",");
      strcat (out, t);
    }
  return out;
}

static void
hiers_load (void)
{
  if (hiers_loaded)
    return;
  hiers_loaded = true;
  enum cr_cgroup_mode mode = cr_cgroup_mode ();
  bool hybrid_host = !is_cgroup2 (CGROUP_ROOT) && is_cgroup2 (CGROUP_ROOT "/unified");
  if (mode == CR_CGROUP_V2)
    {
      /* Forced v2 on a hybrid host uses the unified mount (tests). */
      hiers_add (hybrid_host ? CGROUP_ROOT "/unified" : CGROUP_ROOT, "", true);
      return;
    }
  cleanup_fclose FILE *f = fopen ("/proc/self/mountinfo", "re");
  if (f == NULL)
    return;
  cleanup_free char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
      char *fields[6] = { 0 };
      char *save = NULL, *t;
      int i = 0;
      for (t = strtok_r (line, " \n", &save); t && i < 5; t = strtok_r (NULL, " \n", &save))
        fields[i++] = t;
      if (i < 5)
        continue;
      const char *mnt = fields[4];
      while (t && strcmp (t, "-") != 0)
        t = strtok_r (NULL, " \n", &save);
      if (t == NULL)
        continue;
      char *fstype = strtok_r (NULL, " \n", &save);
      char *source = strtok_r (NULL, " \n", &save);
      char *superopts = strtok_r (NULL, " \n", &save);
      if (fstype == NULL || source == NULL || superopts == NULL)
        continue;
      /* Only the standard places: a container's own cgroup mounts can show up in our mountinfo. */
      if (strncmp (mnt, CGROUP_ROOT "/", strlen (CGROUP_ROOT "/")) != 0 || strchr (mnt + strlen (CGROUP_ROOT "/"), '/'))
        continue;
      if (strcmp (fstype, "cgroup") == 0)
        {
          cleanup_free char *ctrls = v1_controllers (superopts);
          if (ctrls[0])
            hiers_add (mnt, ctrls, false);
        }
      else if (strcmp (fstype, "cgroup2") == 0 && mode == CR_CGROUP_HYBRID && strcmp (mnt, CGROUP_ROOT "/unified") == 0)
        hiers_add (mnt, "", true);
    }
}

const struct cr_cgroup_hiers *
cr_cgroup_hiers (void)
{
  hiers_load ();
  return &hiers_cache;
}

const struct cr_cgroup_hier *
cr_cgroup_v1_hier (const char *controller)
{
  hiers_load ();
  size_t cl = strlen (controller);
  for (size_t i = 0; i < hiers_cache.n; i++)
    {
      if (hiers_cache.h[i].v2)
        continue;
      const char *s = hiers_cache.h[i].controllers;
      while (s && *s)
        {
          if (strncmp (s, controller, cl) == 0 && (s[cl] == ',' || s[cl] == '\0'))
            return &hiers_cache.h[i];
          s = strchr (s, ',');
          s = s ? s + 1 : NULL;
        }
    }
  return NULL;
}

const struct cr_cgroup_hier *
cr_cgroup_v2_hier (void)
{
  hiers_load ();
  for (size_t i = 0; i < hiers_cache.n; i++)
    if (hiers_cache.h[i].v2)
      return &hiers_cache.h[i];
  return NULL;
}

char *
cr_cgroup_dir (const struct cr_cgroup_hier *h, const char *path)
{
  return xasprintf ("%s%s", h->mountpoint, path);
}

/* ---- file helpers ---- */

int
cr_cgroup_write (const char *dir, const char *file, const char *value, cr_error_t *err)
{
  cleanup_free char *p = xasprintf ("%s/%s", dir, file);
  cleanup_close int fd = open (p, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return cr_error_errno (err, "open `%s`", p);
  size_t len = strlen (value);
  /* Control files take one value per write(2): a short write is an error. */
  ssize_t n;
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return cr_error_errno (err, "write `%s` to `%s`", value, p);
  return 0;
}

int
cr_cgroup_writef (const char *dir, const char *file, cr_error_t *err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *v = xvasprintf (fmt, ap);
  va_end (ap);
  return cr_cgroup_write (dir, file, v, err);
}

int
cr_cgroup_read (const char *dir, const char *file, char **out, cr_error_t *err)
{
  cleanup_free char *p = xasprintf ("%s/%s", dir, file);
  size_t len = 0;
  if (read_file (p, out, &len, err) < 0)
    return -1;
  while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == ' '))
    (*out)[--len] = '\0';
  return 0;
}

bool
cr_cgroup_file_exists (const char *dir, const char *file)
{
  cleanup_free char *p = xasprintf ("%s/%s", dir, file);
  return access (p, F_OK) == 0;
}

bool
cr_cgroup_kv_get (const char *content, const char *key, uint64_t *value)
{
  size_t kl = strlen (key);
  for (const char *l = content; l && *l; l = strchr (l, '\n'), l = l ? l + 1 : NULL)
    if (strncmp (l, key, kl) == 0 && l[kl] == ' ')
      {
        *value = strtoull (l + kl + 1, NULL, 10);
        return true;
      }
  return false;
}

/* ---- lifecycle ---- */

struct created
{
  char **dirs;
  size_t n;
};

static void
created_push (struct created *c, const char *d)
{
  char **nd = realloc (c->dirs, (c->n + 1) * sizeof *nd);
  if (nd == NULL)
    abort ();
  c->dirs = nd;
  c->dirs[c->n++] = xstrdup (d);
}

static void
created_rollback (struct created *c)
{
  for (size_t i = c->n; i > 0; i--)
    rmdir (c->dirs[i - 1]);
}

static void
created_free (struct created *c)
{
  for (size_t i = 0; i < c->n; i++)
    free (c->dirs[i]);
  free (c->dirs);
  c->dirs = NULL;
  c->n = 0;
}

/* mkdir each level of path under the hierarchy; returns how many levels were new. */
static int
mkdir_levels (const struct cr_cgroup_hier *h, const char *path, struct created *c, bool cpuset, cr_error_t *err)
{
  cleanup_free char *full = cr_cgroup_dir (h, path);
  size_t base = strlen (h->mountpoint);
  int made = 0, retries = 0;
  for (char *s = full + base + 1;; s++)
    {
      if (*s != '/' && *s != '\0')
        continue;
      char saved = *s;
      *s = '\0';
      if (mkdir (full, 0755) == 0)
        {
          created_push (c, full);
          made++;
        }
      else if (errno == ENOENT && retries++ < 3)
        {
          /* A concurrent destroy removed an empty ancestor: start over from the top. */
          *s = saved;
          s = full + base;
          continue;
        }
      else if (errno != EEXIST)
        return cr_error_errno (err, "create cgroup `%s`", full);
      if (cpuset && cr_cgroup_v1_cpuset_init (full, err) < 0)
        return -1;
      *s = saved;
      if (saved == '\0')
        break;
    }
  return made;
}

static int
fill_out (const char *path, struct cr_cgroup *out, int created_levels, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  out->mode = cr_cgroup_mode ();
  out->path = xstrdup (path);
  out->v2_dirfd = -1;
  out->created_levels = created_levels;
  const struct cr_cgroup_hier *v2 = cr_cgroup_v2_hier ();
  if (v2)
    {
      cleanup_free char *d = cr_cgroup_dir (v2, path);
      out->v2_dirfd = open (d, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (out->v2_dirfd < 0 && errno != ENOENT)
        {
          free (out->path);
          out->path = NULL;
          return cr_error_errno (err, "open cgroup `%s`", d);
        }
    }
  return 0;
}

/* runc refuses to put a new container into a cgroup that already has
 * processes (or is frozen): it would share limits and kill_all with them. */
static int
check_reusable (const char *path, cr_error_t *err)
{
  struct cr_cgroup cg = { .mode = cr_cgroup_mode (), .path = (char *) path, .v2_dirfd = -1 };
  pid_t *pids = NULL;
  size_t n = 0;
  cr_error_t local = NULL;
  if (cr_cgroup_pids (&cg, &pids, &n, &local) < 0)
    {
      cr_error_release (&local); /* does not exist (yet): fine */
      return 0;
    }
  free (pids);
  if (n > 0)
    return cr_error (err, EBUSY, "container's cgroup `%s` is not empty: %zu process(es) found", path, n);
  if (cr_cgroup_is_frozen (&cg, &local) > 0)
    return cr_error (err, EBUSY, "container's cgroup `%s` is unexpectedly frozen", path);
  cr_error_release (&local);
  return 0;
}

int
cr_cgroup_create (const char *path, const struct oci_resources *res, struct cr_cgroup *out, cr_error_t *err)
{
  if (cr_cgroup_check_path (path, err) < 0)
    return -1;
  if (check_reusable (path, err) < 0)
    return -1;
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  if (hs->n == 0)
    return cr_error (err, ENOENT, "create cgroup `%s`: no cgroup hierarchy mounted under " CGROUP_ROOT, path);
  struct created c = { 0 };
  int levels = 0;
  int ret = 0;
  for (size_t i = 0; i < hs->n && ret == 0; i++)
    {
      bool cpuset = !hs->h[i].v2 && cr_cgroup_v1_hier ("cpuset") == &hs->h[i];
      int made = mkdir_levels (&hs->h[i], path, &c, cpuset, err);
      if (made < 0)
        ret = -1;
      else if (made > levels)
        levels = made;
    }
  if (ret == 0 && cr_cgroup_mode () == CR_CGROUP_V2)
    ret = cr_cgroup_v2_enable_controllers (path, err);
  if (ret == 0 && res)
    ret = cr_cgroup_set_resources (&(struct cr_cgroup){ .mode = cr_cgroup_mode (), .path = (char *) path, .v2_dirfd = -1 },
                                   res, err);
  if (ret == 0)
    ret = fill_out (path, out, levels, err);
  if (ret < 0)
    {
      created_rollback (&c);
      created_free (&c);
      return cr_error_wrap (err, "create cgroup `%s`", path);
    }
  created_free (&c);
  return 0;
}

int
cr_cgroup_open (const char *path, struct cr_cgroup *out, cr_error_t *err)
{
  if (cr_cgroup_check_path (path, err) < 0)
    return -1;
  return fill_out (path, out, 0, err);
}

int
cr_cgroup_enter (const struct cr_cgroup *cg, pid_t pid, cr_error_t *err)
{
  return cr_cgroup_enter_part (cg, pid, true, true, err);
}

int
cr_cgroup_enter_part (const struct cr_cgroup *cg, pid_t pid, bool v1, bool v2, cr_error_t *err)
{
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  for (size_t i = 0; i < hs->n; i++)
    {
      if (hs->h[i].v2 ? !v2 : !v1)
        continue;
      cleanup_free char *d = cr_cgroup_dir (&hs->h[i], cg->path);
      if (cr_cgroup_writef (d, "cgroup.procs", err, "%d", (int) pid) < 0)
        return cr_error_wrap (err, "move pid %d into cgroup `%s`", (int) pid, cg->path);
    }
  return 0;
}

void
cr_cgroup_selfjoin_close (struct cr_cgroup_selfjoin *j)
{
  for (size_t i = 0; i < j->n; i++)
    if (j->fds[i] >= 0)
      close (j->fds[i]);
  free (j->fds);
  j->fds = NULL;
  j->n = 0;
}

int
cr_cgroup_selfjoin_open (const struct cr_cgroup *cg, struct cr_cgroup_selfjoin *j, cr_error_t *err)
{
  j->fds = NULL;
  j->n = 0;
  if (cg->mode == CR_CGROUP_V2)
    return 0;
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  j->fds = xmalloc0 (sizeof (int) * (hs->n ? hs->n : 1));
  for (size_t i = 0; i < hs->n; i++)
    {
      if (hs->h[i].v2)
        continue;
      cleanup_free char *p = xasprintf ("%s%s/tasks", hs->h[i].mountpoint, cg->path);
      int fd = open (p, O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        {
          cr_error_errno (err, "open `%s`", p);
          cr_cgroup_selfjoin_close (j);
          return -1;
        }
      j->fds[j->n++] = fd;
    }
  return 0;
}

int
cr_cgroup_selfjoin_run (struct cr_cgroup_selfjoin *j, cr_error_t *err)
{
  int ret = 0;
  for (size_t i = 0; i < j->n && ret == 0; i++)
    {
      ssize_t n;
      do
        n = write (j->fds[i], "0", 1);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          char link[64], target[PATH_MAX];
          snprintf (link, sizeof link, "/proc/self/fd/%d", j->fds[i]);
          ssize_t tl = readlink (link, target, sizeof target - 1);
          target[tl > 0 ? tl : 0] = '\0';
          ret = cr_error_errno (err, "join cgroup: write 0 to `%s`", tl > 0 ? target : "tasks");
        }
    }
  cr_cgroup_selfjoin_close (j);
  return ret;
}

int
cr_cgroup_set_resources (const struct cr_cgroup *cg, const struct oci_resources *res, cr_error_t *err)
{
  if (res == NULL)
    return 0;
  if (cg->mode == CR_CGROUP_V2)
    return cr_cgroup_v2_set (cg->path, res, err);
  return cr_cgroup_v1_set (cg->path, res, err);
}

/* The hierarchy whose cgroup.procs lists the container's processes. */
static const struct cr_cgroup_hier *
procs_hier (const struct cr_cgroup *cg)
{
  if (cg->mode == CR_CGROUP_V2)
    return cr_cgroup_v2_hier ();
  static const char *prefs[] = { "pids", "freezer", "memory", "cpu", "cpuacct", "devices", "name=systemd" };
  for (size_t i = 0; i < sizeof prefs / sizeof prefs[0]; i++)
    {
      const struct cr_cgroup_hier *h = cr_cgroup_v1_hier (prefs[i]);
      if (h)
        return h;
    }
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  return hs->n ? &hs->h[0] : NULL;
}

static int
pids_walk (const char *dir, pid_t **pids, size_t *n, size_t *cap, int depth, cr_error_t *err)
{
  cleanup_free char *procs = NULL;
  cr_error_t local = NULL;
  if (cr_cgroup_read (dir, "cgroup.procs", &procs, &local) < 0)
    {
      bool gone = depth > 0 && local->status == ENOENT; /* a child went away while we walked */
      if (gone)
        {
          cr_error_release (&local);
          return 0;
        }
      return cr_cgroup_pass_error (err, &local);
    }
  for (char *s = procs; *s;)
    {
      char *end;
      long v = strtol (s, &end, 10);
      if (end == s)
        break;
      if (*n == *cap)
        {
          *cap = *cap ? *cap * 2 : 16;
          pid_t *np = realloc (*pids, *cap * sizeof *np);
          if (np == NULL)
            abort ();
          *pids = np;
        }
      (*pids)[(*n)++] = (pid_t) v;
      s = end;
      while (*s == '\n')
        s++;
    }
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return errno == ENOENT && depth > 0 ? 0 : cr_error_errno (err, "open cgroup `%s`", dir);
  struct dirent *de;
  while ((de = readdir (d)))
    {
      if (de->d_type != DT_DIR || de->d_name[0] == '.')
        continue;
      cleanup_free char *sub = xasprintf ("%s/%s", dir, de->d_name);
      if (pids_walk (sub, pids, n, cap, depth + 1, err) < 0)
        return -1;
    }
  return 0;
}

int
cr_cgroup_pids (const struct cr_cgroup *cg, pid_t **pids, size_t *n, cr_error_t *err)
{
  *pids = NULL;
  *n = 0;
  const struct cr_cgroup_hier *h = procs_hier (cg);
  if (h == NULL)
    return cr_error (err, ENOENT, "list pids of cgroup `%s`: no cgroup hierarchy", cg->path);
  cleanup_free char *d = cr_cgroup_dir (h, cg->path);
  size_t cap = 0;
  if (pids_walk (d, pids, n, &cap, 0, err) < 0)
    {
      free (*pids);
      *pids = NULL;
      *n = 0;
      return cr_error_wrap (err, "list pids of cgroup `%s`", cg->path);
    }
  return 0;
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* rmdir dir and every sub-cgroup below it, deepest first; EBUSY is retried
 * for a while (processes exiting after a kill leave the cgroup late). */
static int
rmdir_tree (const char *dir, cr_error_t *err)
{
  /* Usually empty by now (no sub-cgroups, no tasks): one syscall. */
  if (rmdir (dir) == 0 || errno == ENOENT)
    return 0;
  {
    cleanup_dir DIR *d = opendir (dir);
    if (d == NULL)
      return errno == ENOENT ? 0 : cr_error_errno (err, "open cgroup `%s`", dir);
    struct dirent *de;
    while ((de = readdir (d)))
      {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
          continue;
        cleanup_free char *sub = xasprintf ("%s/%s", dir, de->d_name);
        if (rmdir_tree (sub, err) < 0)
          return -1;
      }
  }
  long delay = 5, waited = 0;
  for (;;)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || waited >= 3000)
        return cr_error_errno (err, "remove cgroup `%s`", dir);
      sleep_ms (delay);
      waited += delay;
      if (delay < 100)
        delay *= 2;
    }
}

int
cr_cgroup_destroy (const struct cr_cgroup *cg, cr_error_t *err)
{
  if (cg->path == NULL || cr_cgroup_check_path (cg->path, err) < 0)
    return -1;
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  int ret = 0;
  for (size_t i = 0; i < hs->n; i++)
    {
      cleanup_free char *d = cr_cgroup_dir (&hs->h[i], cg->path);
      /* Keep going on error so one busy hierarchy does not leak the others. */
      if (rmdir_tree (d, ret < 0 ? NULL : err) < 0)
        {
          ret = -1;
          continue;
        }
      /* Ancestors we created ourselves go too, if nobody else uses them. */
      for (int lvl = 1; lvl < cg->created_levels; lvl++)
        {
          char *slash = strrchr (d, '/');
          if (slash == NULL || (size_t) (slash - d) <= strlen (hs->h[i].mountpoint))
            break;
          *slash = '\0';
          if (rmdir (d) < 0)
            break;
        }
    }
  return ret < 0 ? cr_error_wrap (err, "destroy cgroup `%s`", cg->path) : 0;
}

void
cr_cgroup_release (struct cr_cgroup *cg)
{
  if (cg == NULL)
    return;
  free (cg->path);
  cg->path = NULL;
  if (cg->v2_dirfd >= 0)
    close (cg->v2_dirfd);
  cg->v2_dirfd = -1;
}
