/* cgroupsPath translation, following runc:
 *  - cgroupfs: "/a/b" is cleaned ("..", "." and "//" resolved, never above
 *    the root); a relative path or an empty one (which means the container
 *    id) is taken relative to the runtime's own cgroup.
 *  - --systemd-cgroup: "slice:prefix:name"; empty slice = system.slice,
 *    "-" / "-.slice" = the root slice, "a-b.slice" = /a.slice/a-b.slice;
 *    the unit is "prefix-name.scope", or name itself if it ends in .slice;
 *    an empty cgroupsPath means ":runc:<id>" (runc docs/systemd.md).
 * The result is the cgroupfs path in both modes; with systemd the scope
 * unit is registered on top (lib/cgroup_systemd.c). */
#include "cgroup.h"
#include "cgroup_internal.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

/* Lexical clean of "/" + p, like Go's filepath.Clean: ".." at the root stays at the root. */
static char *
clean_abs (const char *p)
{
  size_t len = strlen (p);
  char *out = xmalloc0 (len + 2);
  size_t o = 0;
  const char *s = p;
  while (*s)
    {
      while (*s == '/')
        s++;
      if (*s == '\0')
        break;
      const char *e = strchrnul (s, '/');
      size_t n = (size_t) (e - s);
      if (n == 1 && s[0] == '.')
        ;
      else if (n == 2 && s[0] == '.' && s[1] == '.')
        {
          while (o > 0 && out[o - 1] != '/')
            o--;
          if (o > 0)
            o--;
        }
      else
        {
          out[o++] = '/';
          memcpy (out + o, s, n);
          o += n;
        }
      s = e;
    }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  return out;
}

int
cr_cgroup_check_path (const char *path, cr_error_t *err)
{
  if (path == NULL || path[0] != '/')
    return cr_error (err, EINVAL, "invalid cgroup path `%s`: must be absolute", path ? path : "(null)");
  if (strcmp (path, "/") == 0)
    return cr_error (err, EINVAL, "invalid cgroup path `/`: refusing to use the root cgroup");
  const char *s = path + 1;
  for (;;)
    {
      const char *e = strchrnul (s, '/');
      size_t n = (size_t) (e - s);
      if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return cr_error (err, EINVAL, "invalid cgroup path `%s`: empty, `.` or `..` component", path);
      if (*e == '\0')
        break;
      s = e + 1;
    }
  return 0;
}

int
cr_cgroup_expand_slice (const char *slice, char **out, cr_error_t *err)
{
  if (!has_suffix (slice, ".slice") || strlen (slice) == strlen (".slice") || strchr (slice, '/'))
    return cr_error (err, EINVAL, "invalid slice name `%s`", slice);
  size_t base_len = strlen (slice) - strlen (".slice");
  cleanup_free char *base = strndup (slice, base_len);
  if (base == NULL)
    return cr_error (err, ENOMEM, "expand slice");
  if (strcmp (base, "-") == 0)
    {
      *out = xstrdup ("/");
      return 0;
    }
  /* Each dash-separated prefix is one level: a-b-c -> /a.slice/a-b.slice/a-b-c.slice */
  size_t cap = 1, levels = 1;
  for (const char *c = base; *c; c++)
    levels += *c == '-';
  cap = levels * (base_len + 8) + 1;
  cleanup_free char *path = xmalloc0 (cap);
  size_t o = 0;
  const char *s = base;
  for (;;)
    {
      const char *e = strchrnul (s, '-');
      if (e == s)
        return cr_error (err, EINVAL, "invalid slice name `%s`", slice);
      o += (size_t) snprintf (path + o, cap - o, "/%.*s.slice", (int) (e - base), base);
      if (*e == '\0')
        break;
      s = e + 1;
      if (*s == '\0')
        return cr_error (err, EINVAL, "invalid slice name `%s`", slice);
    }
  *out = steal_pointer (&path);
  return 0;
}

int
cr_cgroup_systemd_unit (const char *cgroups_path, const char *id, char **slice_out, char **unit_out, cr_error_t *err)
{
  cleanup_free char *copy = NULL;
  const char *slice, *prefix, *name;
  if (cgroups_path == NULL || cgroups_path[0] == '\0')
    {
      slice = "";
      prefix = "runc";
      name = id;
    }
  else
    {
      copy = xstrdup (cgroups_path);
      char *c1 = strchr (copy, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c1 == NULL || c2 == NULL || strchr (c2 + 1, ':'))
        return cr_error (err, EINVAL,
                         "invalid cgroupsPath `%s`: expected \"slice:prefix:name\" for systemd cgroups",
                         cgroups_path);
      *c1 = *c2 = '\0';
      slice = copy;
      prefix = c1 + 1;
      name = c2 + 1;
    }
  if (name == NULL || name[0] == '\0')
    return cr_error (err, EINVAL, "invalid cgroupsPath `%s`: empty name", cgroups_path ? cgroups_path : "");
  if (strchr (prefix, '/') || strchr (name, '/') || strcmp (name, "..") == 0 || strcmp (name, ".") == 0)
    return cr_error (err, EINVAL, "invalid cgroupsPath `%s`: prefix and name must not contain `/`",
                     cgroups_path ? cgroups_path : "");
  if (slice[0] == '\0')
    slice = "system.slice";
  else if (strcmp (slice, "-") == 0)
    slice = "-.slice";
  *slice_out = xstrdup (slice);
  *unit_out = has_suffix (name, ".slice") ? xstrdup (name) : xasprintf ("%s-%s.scope", prefix, name);
  return 0;
}

static int
translate_systemd (const char *cgroups_path, const char *id, char **out, cr_error_t *err)
{
  cleanup_free char *slice = NULL, *unit = NULL;
  if (cr_cgroup_systemd_unit (cgroups_path, id, &slice, &unit, err) < 0)
    return -1;
  cleanup_free char *expanded = NULL;
  if (cr_cgroup_expand_slice (slice, &expanded, err) < 0)
    return cr_error_wrap (err, "invalid cgroupsPath `%s`", cgroups_path ? cgroups_path : "");
  *out = xasprintf ("%s/%s", strcmp (expanded, "/") == 0 ? "" : expanded, unit);
  return 0;
}

int
cr_cgroup_translate_path (const char *cgroups_path, const char *id, bool systemd_cgroup, const char *own_cgroup,
                          char **out, cr_error_t *err)
{
  cleanup_free char *p = NULL;
  if ((cgroups_path == NULL || cgroups_path[0] == '\0') && (id == NULL || id[0] == '\0'))
    return cr_error (err, EINVAL, "invalid cgroupsPath: empty and no container id");
  if (systemd_cgroup)
    {
      if (translate_systemd (cgroups_path, id, &p, err) < 0)
        return -1;
    }
  else if (cgroups_path != NULL && cgroups_path[0] == '/')
    p = clean_abs (cgroups_path);
  else
    {
      const char *rel = (cgroups_path && cgroups_path[0]) ? cgroups_path : id;
      /* Cleaning the relative part first keeps "../.." from climbing above our own cgroup. */
      cleanup_free char *r = clean_abs (rel);
      cleanup_free char *joined = xasprintf ("%s%s", own_cgroup ? own_cgroup : "/", r);
      p = clean_abs (joined);
    }
  if (cr_cgroup_check_path (p, err) < 0)
    return cr_error_wrap (err, "invalid cgroupsPath `%s`", cgroups_path ? cgroups_path : "");
  *out = steal_pointer (&p);
  return 0;
}

/* The caller's own cgroup: the "0::" line on v2, else one v1 controller's
 * (cpu preferred: runc resolves per controller, we keep one path for all). */
static int
own_cgroup (char **out, cr_error_t *err)
{
  cleanup_fclose FILE *f = fopen ("/proc/self/cgroup", "re");
  if (f == NULL)
    return cr_error_errno (err, "open /proc/self/cgroup");
  static const char *prefs[] = { "cpu", "pids", "name=systemd", "memory" };
  enum cr_cgroup_mode mode = cr_cgroup_mode ();
  cleanup_free char *line = NULL, *best = NULL, *first = NULL;
  size_t cap = 0;
  int best_rank = 100;
  while (getline (&line, &cap, f) > 0)
    {
      line[strcspn (line, "\n")] = '\0';
      char *c1 = strchr (line, ':');
      char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      const char *ctrls = c1 + 1, *path = c2 + 1;
      if (ctrls[0] == '\0')
        {
          if (mode == CR_CGROUP_V2)
            {
              *out = xstrdup (path);
              return 0;
            }
          continue;
        }
      if (first == NULL)
        first = xstrdup (path);
      for (int i = 0; i < (int) (sizeof prefs / sizeof prefs[0]); i++)
        {
          size_t pl = strlen (prefs[i]);
          for (const char *s = ctrls; s; s = strchr (s, ','), s = s ? s + 1 : NULL)
            if (strncmp (s, prefs[i], pl) == 0 && (s[pl] == ',' || s[pl] == '\0') && i < best_rank)
              {
                best_rank = i;
                free (best);
                best = xstrdup (path);
              }
        }
    }
  if (best)
    *out = steal_pointer (&best);
  else if (first)
    *out = steal_pointer (&first);
  else
    *out = xstrdup ("/");
  return 0;
}

int
cr_cgroup_resolve_path (const char *cgroups_path, const char *id, bool systemd_cgroup, char **out, cr_error_t *err)
{
  cleanup_free char *own = NULL;
  if (!systemd_cgroup && (cgroups_path == NULL || cgroups_path[0] != '/'))
    if (own_cgroup (&own, err) < 0)
      return -1;
  return cr_cgroup_translate_path (cgroups_path, id, systemd_cgroup, own, out, err);
}
