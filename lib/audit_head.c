/* Signed audit chain head; see audit_head.h. */
#include "audit_head.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "audit.h"
#include "sha256.h"
#include "util.h"

#define HEAD_MSG_TAG "capsule-audit-head/1"

static void
to_hex (const unsigned char *b, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = hex[b[i] >> 4];
      out[2 * i + 1] = hex[b[i] & 15];
    }
  out[2 * n] = '\0';
}

static int
from_hex (const char *s, unsigned char *b, size_t n)
{
  if (strlen (s) < 2 * n)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      unsigned v = 0;
      for (int k = 0; k < 2; k++)
        {
          char c = s[2 * i + k];
          unsigned d = c >= '0' && c <= '9' ? (unsigned) (c - '0')
                       : c >= 'a' && c <= 'f' ? (unsigned) (c - 'a' + 10)
                       : c >= 'A' && c <= 'F' ? (unsigned) (c - 'A' + 10)
                                              : 16u;
          if (d > 15)
            return -1;
          v = v * 16 + d;
        }
      b[i] = (unsigned char) v;
    }
  return 0;
}

static void
sha256_hex (const void *data, size_t len, char out[65])
{
  unsigned char md[CAPSULE_SHA256_LEN];
  capsule_sha256 (data, len, md);
  to_hex (md, 32, out);
}

char *
audit_head_path (const char *audit_path)
{
  return xasprintf ("%s" AUDIT_HEAD_SUFFIX, audit_path);
}

char *
audit_head_key_path (const char *root)
{
  const char *env = getenv ("CAPSULE_AUDIT_KEY");
  if (env && *env)
    return xstrdup (env);
  return xasprintf ("%s/" AUDIT_HEAD_KEY_NAME, root);
}

static int
key_read (const char *path, unsigned char key[AUDIT_HEAD_KEY_LEN], cr_error_t *err)
{
  cleanup_free char *text = NULL;
  if (read_file (path, &text, NULL, err) < 0)
    return -1;
  if (from_hex (text, key, AUDIT_HEAD_KEY_LEN) < 0)
    return cr_error (err, 0, "audit key `%s`: expected %d hex-encoded bytes", path, AUDIT_HEAD_KEY_LEN);
  return 0;
}

int
audit_head_key_load (const char *path, bool create, unsigned char key[AUDIT_HEAD_KEY_LEN], cr_error_t *err)
{
  cr_error_t e = NULL;
  if (key_read (path, key, &e) == 0)
    return 0;
  if (!create || e == NULL || e->status != ENOENT)
    {
      if (err && *err == NULL)
        *err = e;
      else
        cr_error_release (&e);
      return -1;
    }
  cr_error_release (&e);
  unsigned char fresh[AUDIT_HEAD_KEY_LEN];
  if (getrandom (fresh, sizeof fresh, 0) != (ssize_t) sizeof fresh)
    return cr_error_errno (err, "audit key: getrandom");
  char hex[2 * AUDIT_HEAD_KEY_LEN + 2];
  to_hex (fresh, sizeof fresh, hex);
  strcat (hex, "\n");
  cleanup_free char *dir = xstrdup (path);
  char *slash = strrchr (dir, '/');
  if (slash && slash != dir)
    {
      *slash = '\0';
      if (mkdir_p (dir, 0700, err) < 0)
        return -1;
    }
  /* Written aside, then link(2): of two first users, exactly one key wins. */
  cleanup_free char *tmp = xasprintf ("%s.tmp.%d", path, (int) getpid ());
  {
    cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return cr_error_errno (err, "audit key: create `%s`", tmp);
    if (write_all (fd, hex, strlen (hex), err) < 0 || fsync (fd) < 0)
      {
        unlink (tmp);
        return cr_error (err, errno, "audit key: write `%s`", tmp);
      }
  }
  int lr = link (tmp, path);
  int saved = errno;
  unlink (tmp);
  if (lr < 0 && saved != EEXIST)
    return cr_error (err, saved, "audit key: create `%s`", path);
  return key_read (path, key, err);
}

static void
head_sign (const unsigned char key[AUDIT_HEAD_KEY_LEN], const char *id, const char *event, uint64_t seq,
           const char *hash, const char *time, char sig[65])
{
  cleanup_free char *msg
      = xasprintf (HEAD_MSG_TAG "\n%s\n%s\n%" PRIu64 "\n%s\n%s", id, event, seq, hash, time);
  unsigned char md[CAPSULE_SHA256_LEN];
  capsule_hmac_sha256 (key, AUDIT_HEAD_KEY_LEN, msg, strlen (msg), md);
  to_hex (md, 32, sig);
}

static void
key_id (const unsigned char key[AUDIT_HEAD_KEY_LEN], char out[17])
{
  char full[65];
  sha256_hex (key, AUDIT_HEAD_KEY_LEN, full);
  memcpy (out, full, 16);
  out[16] = '\0';
}

struct head
{
  char *id, *event, *hash, *time, *alg, *key_id, *sig;
  uint64_t seq;
};

static void
head_free (struct head *h)
{
  free (h->id);
  free (h->event);
  free (h->hash);
  free (h->time);
  free (h->alg);
  free (h->key_id);
  free (h->sig);
  memset (h, 0, sizeof *h);
}

static char *
tree_str (yajl_val root, const char *key)
{
  const char *p[] = { key, NULL };
  yajl_val v = yajl_tree_get (root, p, yajl_t_string);
  return v && YAJL_GET_STRING (v) ? xstrdup (YAJL_GET_STRING (v)) : NULL;
}

/* 0 parsed, 1 malformed (*why), -1 I/O (ENOENT included: caller tests). */
static int
head_load (const char *path, struct head *h, char **why, cr_error_t *err)
{
  memset (h, 0, sizeof *h);
  cleanup_free char *text = NULL;
  if (read_file (path, &text, NULL, err) < 0)
    return -1;
  char ebuf[128];
  yajl_val root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (root == NULL)
    {
      *why = xasprintf ("head file `%s` is not JSON", path);
      return 1;
    }
  const char *p[] = { "seq", NULL };
  yajl_val s = yajl_tree_get (root, p, yajl_t_number);
  h->id = tree_str (root, "id");
  h->event = tree_str (root, "event");
  h->hash = tree_str (root, "hash");
  h->time = tree_str (root, "time");
  h->alg = tree_str (root, "alg");
  h->key_id = tree_str (root, "key_id");
  h->sig = tree_str (root, "sig");
  bool ok = s && YAJL_IS_INTEGER (s) && YAJL_GET_INTEGER (s) > 0 && h->id && h->event && h->hash
            && strlen (h->hash) == 64 && h->time && h->alg && h->sig;
  if (ok)
    h->seq = (uint64_t) YAJL_GET_INTEGER (s);
  yajl_tree_free (root);
  if (!ok)
    {
      head_free (h);
      *why = xasprintf ("head file `%s` is malformed", path);
      return 1;
    }
  return 0;
}

int
audit_head_record (const char *audit_path, const unsigned char key[AUDIT_HEAD_KEY_LEN], const char *id,
                   const char *event, cr_error_t *err)
{
  struct audit_log *log = NULL;
  if (audit_open (audit_path, &log, err) < 0)
    return cr_error_wrap (err, "recording the audit head");
  uint64_t seq;
  char hash[65];
  audit_head (log, &seq, hash);
  /* Lines first, then the head that vouches for them (the head's own fsync
   * below): after a crash a head never claims lines the disk lost. */
  if (seq > 0 && audit_datasync (log, err) < 0)
    {
      audit_close (log);
      return cr_error_wrap (err, "recording the audit head");
    }
  audit_close (log);
  if (seq == 0)
    return 0;

  cleanup_free char *hpath = audit_head_path (audit_path);
  struct head old;
  char *why = NULL;
  cr_error_t e = NULL;
  int lr = head_load (hpath, &old, &why, &e);
  cr_error_release (&e);
  free (why);
  if (lr == 0)
    {
      bool newer = old.seq > seq;
      head_free (&old);
      if (newer)
        return 0;
    }

  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r (&ts.tv_sec, &tm);
  char tbuf[32], tfull[80];
  strftime (tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (tfull, sizeof tfull, "%s.%06dZ", tbuf, (int) (ts.tv_nsec / 1000));
  char sig[65], kid[17];
  head_sign (key, id, event, seq, hash, tfull, sig);
  key_id (key, kid);
  char idq[512], evq[128];
  audit_json_escape (idq, sizeof idq, id);
  audit_json_escape (evq, sizeof evq, event);
  /* The signature covers the raw strings; the escaping is only JSON's. */
  cleanup_free char *line = xasprintf ("{\"v\":1,\"id\":\"%s\",\"event\":\"%s\",\"seq\":%" PRIu64 ",\"hash\":\"%s\","
                                       "\"time\":\"%s\",\"alg\":\"hmac-sha256\",\"key_id\":\"%s\",\"sig\":\"%s\"}\n",
                                       idq, evq, seq, hash, tfull, kid, sig);
  if (write_file_atomic (hpath, line, strlen (line), err) < 0)
    return cr_error_wrap (err, "recording the audit head");
  return 0;
}

int
audit_head_check (const char *audit_path, const unsigned char key[AUDIT_HEAD_KEY_LEN], bool *present, uint64_t *seq,
                  uint64_t *bad_line, char **why, cr_error_t *err)
{
  *present = false;
  *seq = 0;
  *bad_line = 0;
  *why = NULL;
  cleanup_free char *hpath = audit_head_path (audit_path);
  struct head h;
  cr_error_t e = NULL;
  int lr = head_load (hpath, &h, why, &e);
  if (lr < 0)
    {
      if (e && e->status == ENOENT)
        {
          cr_error_release (&e);
          return 0;
        }
      if (err && *err == NULL)
        *err = e;
      else
        cr_error_release (&e);
      return -1;
    }
  *present = true;
  if (lr > 0)
    return 1;
  *seq = h.seq;
  char sig[65], kid[17];
  head_sign (key, h.id, h.event, h.seq, h.hash, h.time, sig);
  key_id (key, kid);
  int ret = 0;
  if (strcmp (h.alg, "hmac-sha256") != 0)
    {
      *why = xasprintf ("head file `%s`: unknown signature algorithm `%s`", hpath, h.alg);
      ret = 1;
    }
  else if (strlen (h.sig) != 64 || capsule_memeq_ct (sig, h.sig, 64) != 0)
    {
      *why = xasprintf ("head file `%s`: bad signature (forged head%s)", hpath,
                        h.key_id && strcmp (h.key_id, kid) != 0 ? ", or signed with another node key" : "");
      ret = 1;
    }
  if (ret)
    {
      head_free (&h);
      return ret;
    }

  cleanup_fclose FILE *f = fopen (audit_path, "re");
  if (f == NULL)
    {
      head_free (&h);
      return cr_error_errno (err, "opening audit log `%s`", audit_path);
    }
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t lineno = 0;
  while ((n = getline (&line, &cap, f)) > 0)
    {
      if (++lineno < h.seq)
        continue;
      if (n > 0 && line[n - 1] == '\n')
        n--;
      char got[65];
      sha256_hex (line, (size_t) n, got);
      if (strcasecmp (got, h.hash) != 0)
        {
          *bad_line = lineno;
          *why = xasprintf ("line %" PRIu64 " differs from the signed head recorded at `%s` (chain rewritten)", lineno,
                            h.time);
          ret = 1;
        }
      break;
    }
  if (ferror (f))
    ret = cr_error_errno (err, "reading audit log `%s`", audit_path);
  else if (ret == 0 && lineno < h.seq)
    {
      *bad_line = lineno + 1;
      *why = xasprintf ("file has %" PRIu64 " lines, the signed head recorded at `%s` says %" PRIu64
                        " (tail truncated)",
                        lineno, h.time, h.seq);
      ret = 1;
    }
  head_free (&h);
  return ret;
}
