/* Kill-switch records: one file per revocation (see killswitch.h). */
#include "killswitch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "audit.h"
#include "util.h"

const char *
killswitch_dir_resolve (const char *policy_dir)
{
  return policy_dir && *policy_dir ? policy_dir : KILLSWITCH_DEFAULT_DIR;
}

static bool
chars_in (const char *s, size_t max, const char *extra)
{
  size_t n = 0;
  if (s == NULL || *s == '\0')
    return false;
  for (; *s; s++, n++)
    {
      char c = *s;
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr (extra, c);
      if (!ok || n >= max)
        return false;
    }
  return true;
}

bool
killswitch_name_valid (const char *s)
{
  /* A file name component: no '/', no leading '.' (dot-files are temporaries), no "..". */
  return chars_in (s, KILLSWITCH_NAME_MAX, "._:@+-") && s[0] != '.' && strstr (s, "..") == NULL;
}

bool
killswitch_capability_valid (const char *s)
{
  return chars_in (s, KILLSWITCH_CAPABILITY_MAX, "_-");
}

static const char *
kind_word (enum killswitch_kind k)
{
  return k == KILLSWITCH_SESSION ? "session" : k == KILLSWITCH_AGENT ? "agent" : "capability";
}

int
killswitch_file_name (enum killswitch_kind kind, const char *name, const char *version, char **out, cr_error_t *err)
{
  *out = NULL;
  if (kind == KILLSWITCH_CAPABILITY)
    {
      if (!killswitch_capability_valid (name))
        return cr_error (err, 0, "kill switch: invalid capability name `%s` (1 to %d characters of A-Z a-z 0-9 _ -)",
                         name ? name : "", KILLSWITCH_CAPABILITY_MAX);
      *out = xasprintf (KILLSWITCH_PREFIX_CAPABILITY "%s", name);
      return 0;
    }
  if (!killswitch_name_valid (name))
    return cr_error (err, 0,
                     "kill switch: invalid %s name `%s` (1 to %d characters of A-Z a-z 0-9 . _ : @ + -, no leading "
                     "'.', no '..')",
                     kind_word (kind), name ? name : "", KILLSWITCH_NAME_MAX);
  if (kind == KILLSWITCH_SESSION)
    {
      if (version)
        return cr_error (err, 0, "kill switch: a session has no version");
      *out = xasprintf (KILLSWITCH_PREFIX_SESSION "%s", name);
      return 0;
    }
  if (version && !killswitch_name_valid (version))
    return cr_error (err, 0, "kill switch: invalid version `%s` of agent `%s`", version, name);
  *out = version ? xasprintf (KILLSWITCH_PREFIX_AGENT "%s@%s", name, version)
                 : xasprintf (KILLSWITCH_PREFIX_AGENT "%s", name);
  return 0;
}

int
killswitch_record (const char *dir, enum killswitch_kind kind, const char *name, const char *version,
                   const char *reason, cr_error_t *err)
{
  cleanup_free char *fname = NULL;
  if (killswitch_file_name (kind, name, version, &fname, err) < 0)
    return -1;
  if (reason && strlen (reason) > KILLSWITCH_REASON_MAX)
    return cr_error (err, 0, "kill switch: reason longer than %d bytes", KILLSWITCH_REASON_MAX);
  if (mkdir_p (dir, 0755, err) < 0)
    return cr_error_wrap (err, "kill switch directory `%s`", dir);

  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r (&ts.tv_sec, &tm);
  char tbuf[40];
  strftime (tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
  cleanup_free char *rq = audit_json_escaped (reason ? reason : "");
  cleanup_free char *ver = version ? xasprintf (",\"version\":\"%s\"", version) : xstrdup ("");
  cleanup_free char *line
      = xasprintf ("{\"kind\":\"%s\",\"name\":\"%s\"%s,\"time\":\"%s.%06ldZ\",\"reason\":\"%s\",\"by\":\"uid %u\","
                   "\"pid\":%d}\n",
                   kind_word (kind), name, ver, tbuf, ts.tv_nsec / 1000, rq, (unsigned) getuid (), (int) getpid ());

  /* A dot-file first, then rename: watchers see one complete file appear.
   * fsync after the rename: the watchers act on the page cache at once, and
   * a record emptied by a crash still revokes (lookups are stats). */
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return cr_error_errno (err, "kill switch: open directory `%s`", dir);
  cleanup_free char *tmp = xasprintf (".tmp-%d-%s", (int) getpid (), fname);
  cleanup_close int fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    return cr_error_errno (err, "kill switch: create `%s/%s`", dir, tmp);
  if (write_all (fd, line, strlen (line), err) < 0)
    {
      unlinkat (dfd, tmp, 0);
      return cr_error_wrap (err, "kill switch: write `%s/%s`", dir, tmp);
    }
  if (renameat (dfd, tmp, dfd, fname) < 0)
    {
      int saved = errno;
      unlinkat (dfd, tmp, 0);
      return cr_error (err, saved, "kill switch: rename `%s` to `%s/%s`", tmp, dir, fname);
    }
  if (fsync (fd) < 0 || fsync (dfd) < 0)
    return cr_error_errno (err, "kill switch: fsync `%s/%s` (the revocation is in effect)", dir, fname);
  return 0;
}

int
killswitch_lift (const char *dir, enum killswitch_kind kind, const char *name, const char *version, cr_error_t *err)
{
  cleanup_free char *fname = NULL;
  if (killswitch_file_name (kind, name, version, &fname, err) < 0)
    return -1;
  cleanup_free char *path = xasprintf ("%s/%s", dir, fname);
  if (unlink (path) < 0)
    {
      if (errno == ENOENT)
        return cr_error (err, 0, "kill switch: no such revocation `%s` in `%s`", fname, dir);
      return cr_error_errno (err, "kill switch: remove `%s`", path);
    }
  return 0;
}

static bool
is_record_name (const char *n)
{
  return strncmp (n, KILLSWITCH_PREFIX_SESSION, strlen (KILLSWITCH_PREFIX_SESSION)) == 0
         || strncmp (n, KILLSWITCH_PREFIX_AGENT, strlen (KILLSWITCH_PREFIX_AGENT)) == 0
         || strncmp (n, KILLSWITCH_PREFIX_CAPABILITY, strlen (KILLSWITCH_PREFIX_CAPABILITY)) == 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

void
killswitch_names_free (char **names)
{
  for (size_t i = 0; names && names[i]; i++)
    free (names[i]);
  free (names);
}

int
killswitch_list (const char *dir, char ***names, size_t *n, cr_error_t *err)
{
  *names = xmalloc0 (sizeof (char *));
  *n = 0;
  cleanup_dir DIR *d = opendir (dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : cr_error_errno (err, "kill switch: open directory `%s`", dir);
  struct dirent *de;
  size_t cap = 1;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.' || !is_record_name (de->d_name))
        continue;
      if (*n + 1 >= cap)
        {
          cap = cap * 2 + 8;
          char **nv = realloc (*names, cap * sizeof (char *));
          if (nv == NULL)
            {
              killswitch_names_free (*names);
              *names = NULL;
              return cr_error_errno (err, "kill switch: list `%s`", dir);
            }
          *names = nv;
        }
      (*names)[(*n)++] = xstrdup (de->d_name);
      (*names)[*n] = NULL;
    }
  qsort (*names, *n, sizeof (char *), cmp_str);
  return 0;
}

int
killswitch_read (const char *dir, const char *file_name, char **content, cr_error_t *err)
{
  *content = NULL;
  if (file_name[0] == '.' || strchr (file_name, '/'))
    return cr_error (err, 0, "kill switch: bad record name `%s`", file_name);
  cleanup_free char *path = xasprintf ("%s/%s", dir, file_name);
  size_t len = 0;
  if (read_file (path, content, &len, err) < 0)
    return -1;
  while (len > 0 && ((*content)[len - 1] == '\n' || (*content)[len - 1] == '\r'))
    (*content)[--len] = '\0';
  /* Keep it one line, whatever was written there by hand. */
  for (size_t i = 0; i < len; i++)
    if ((*content)[i] == '\n' || (*content)[i] == '\r')
      (*content)[i] = ' ';
  return 0;
}

bool
killswitch_name_matches (const char *f, const char *session, const char *agent, const char *version)
{
  size_t ls = strlen (KILLSWITCH_PREFIX_SESSION), la = strlen (KILLSWITCH_PREFIX_AGENT);
  if (session && strncmp (f, KILLSWITCH_PREFIX_SESSION, ls) == 0)
    return strcmp (f + ls, session) == 0;
  if (agent && strncmp (f, KILLSWITCH_PREFIX_AGENT, la) == 0)
    {
      const char *rest = f + la;
      size_t al = strlen (agent);
      if (strncmp (rest, agent, al) != 0)
        return false;
      if (rest[al] == '\0')
        return true;
      return version && rest[al] == '@' && strcmp (rest + al + 1, version) == 0;
    }
  return false;
}

const char *
killswitch_capability_of (const char *f)
{
  size_t lc = strlen (KILLSWITCH_PREFIX_CAPABILITY);
  return strncmp (f, KILLSWITCH_PREFIX_CAPABILITY, lc) == 0 && f[lc] ? f + lc : NULL;
}

/* 1 if dir/name exists, 0 if not, -1 on another error. */
static int
record_exists (const char *dir, const char *name, cr_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s", dir, name);
  struct stat st;
  if (stat (path, &st) == 0)
    return 1;
  if (errno == ENOENT || errno == ENOTDIR)
    return 0;
  return cr_error_errno (err, "kill switch: stat `%s`", path);
}

int
killswitch_matches (const char *dir, const char *session, const char *agent, const char *version, char **which,
                    cr_error_t *err)
{
  if (which)
    *which = NULL;
  char *cands[3] = { NULL, NULL, NULL };
  int nc = 0;
  /* A name outside the record charset can never have been recorded. */
  if (session && killswitch_name_valid (session))
    cands[nc++] = xasprintf (KILLSWITCH_PREFIX_SESSION "%s", session);
  if (agent && killswitch_name_valid (agent))
    {
      cands[nc++] = xasprintf (KILLSWITCH_PREFIX_AGENT "%s", agent);
      if (version && killswitch_name_valid (version))
        cands[nc++] = xasprintf (KILLSWITCH_PREFIX_AGENT "%s@%s", agent, version);
    }
  int ret = 0;
  for (int i = 0; i < nc && ret == 0; i++)
    {
      ret = record_exists (dir, cands[i], err);
      if (ret > 0 && which)
        *which = steal_pointer (&cands[i]);
    }
  for (int i = 0; i < nc; i++)
    free (cands[i]);
  return ret;
}

int
killswitch_capability_revoked (const char *dir, const char *capability, cr_error_t *err)
{
  if (!killswitch_capability_valid (capability))
    return 0;
  cleanup_free char *name = xasprintf (KILLSWITCH_PREFIX_CAPABILITY "%s", capability);
  return record_exists (dir, name, err);
}

/* The "reason" member of a record, or "" (malloc'd). */
static char *
record_reason (const char *content)
{
  char ebuf[128];
  yajl_val root = yajl_tree_parse (content, ebuf, sizeof ebuf);
  const char *p[] = { "reason", NULL };
  yajl_val v = root ? yajl_tree_get (root, p, yajl_t_string) : NULL;
  char *r = xstrdup (v && YAJL_GET_STRING (v) ? YAJL_GET_STRING (v) : "");
  yajl_tree_free (root);
  return r;
}

int
killswitch_admit_check (const char *dir, const char *session, const char *agent, const char *version,
                        cr_error_t *err)
{
  cleanup_free char *which = NULL;
  int r = killswitch_matches (dir, session, agent, version, &which, err);
  if (r < 0)
    return cr_error_wrap (err, "capsule: cannot check the kill switch");
  if (r == 0)
    return 0;
  cleanup_free char *content = NULL;
  cleanup_free char *reason = NULL;
  cr_error_t e = NULL;
  if (killswitch_read (dir, which, &content, &e) == 0)
    reason = record_reason (content);
  cr_error_release (&e);
  bool is_session = strncmp (which, KILLSWITCH_PREFIX_SESSION, strlen (KILLSWITCH_PREFIX_SESSION)) == 0;
  bool whole_agent = !is_session && strcmp (which + strlen (KILLSWITCH_PREFIX_AGENT), agent) == 0;
  const char *what = is_session ? "session" : whole_agent ? "agent" : "agent version";
  cleanup_free char *subj = is_session ? xstrdup (session) : whole_agent ? xstrdup (agent) : xasprintf ("%s@%s", agent, version);
  return cr_error (err, 0, "capsule: %s `%s` is revoked by the kill switch (%s in %s%s%s)", what, subj, which, dir,
                   reason && *reason ? ": " : "", reason ? reason : "");
}
