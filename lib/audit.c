/* Hash-chained JSONL audit log; see audit.h for the line format. */
#include "audit.h"
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>

#define AUDIT_LINE_MAX 16384

struct audit_log
{
  int fd;
  char *path;
  uint64_t seq;      /* seq of the last line in the file */
  char prev[65];     /* hex hash of the last line */
  off_t known_end;   /* file size after our last write/read */
  bool dirty;
  uint64_t wgen;     /* audit_wgen after our last write */
  dev_t dev;         /* the file, to know whose sync covers our writes */
  ino_t ino;
  bool hold;         /* keep the lock between appends (audit_hold) */
  bool locked;
  char *pend;        /* deferred lines (audit_append_deferred), written with the next line */
  size_t pend_len;
  time_t tsec;       /* second of tbuf */
  char tbuf[32];     /* tsec formatted, YYYY-MM-DDTHH:MM:SS */
};

#define AUDIT_PEND_MAX 65536

/* fdatasync works on the inode: a sync through one handle covers whatever
 * any handle of this process wrote to that file before it.  The last sync is
 * remembered, so that `delete` (the signed head's handle syncs, then the
 * cached handle that wrote "deleted" closes) pays one sync, not two. */
static _Atomic uint64_t audit_wgen;
static pthread_mutex_t audit_synced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct
{
  dev_t dev;
  ino_t ino;
  uint64_t gen; /* every write with wgen <= gen reached the disk */
} audit_synced;

static int
log_datasync (struct audit_log *log)
{
  uint64_t gen = atomic_load (&audit_wgen);
  if (fdatasync (log->fd) < 0)
    return -1;
  pthread_mutex_lock (&audit_synced_lock);
  audit_synced.dev = log->dev;
  audit_synced.ino = log->ino;
  audit_synced.gen = gen;
  pthread_mutex_unlock (&audit_synced_lock);
  return 0;
}

/* Did a later sync of the same file (through any handle) cover our writes? */
static bool
log_covered (struct audit_log *log)
{
  pthread_mutex_lock (&audit_synced_lock);
  bool c = audit_synced.gen != 0 && audit_synced.dev == log->dev && audit_synced.ino == log->ino
           && log->wgen <= audit_synced.gen;
  pthread_mutex_unlock (&audit_synced_lock);
  return c;
}

/* Write the deferred lines plus (optionally) one more with a single writev. */
static int
write_out (struct audit_log *log, const char *line, size_t n, cr_error_t *err)
{
  struct iovec iov[2];
  int cnt = 0;
  if (log->pend_len)
    iov[cnt++] = (struct iovec){ log->pend, log->pend_len };
  if (n)
    iov[cnt++] = (struct iovec){ (void *) line, n };
  size_t total = log->pend_len + n;
  size_t done = 0;
  while (done < total)
    {
      ssize_t w = writev (log->fd, iov, cnt);
      if (w < 0)
        {
          if (errno == EINTR)
            continue;
          return cr_error_errno (err, "appending to audit log `%s`", log->path);
        }
      done += w;
      /* advance the iovecs past what was written */
      while (cnt > 0 && (size_t) w >= iov[0].iov_len)
        {
          w -= iov[0].iov_len;
          iov[0] = iov[1];
          cnt--;
        }
      if (cnt > 0)
        {
          iov[0].iov_base = (char *) iov[0].iov_base + w;
          iov[0].iov_len -= w;
        }
    }
  log->known_end += total;
  log->pend_len = 0;
  log->dirty = true;
  log->wgen = atomic_fetch_add (&audit_wgen, 1) + 1;
  return 0;
}

/* The chain's SHA-256 is lib/sha256.c: a capsule `run` never loads libcrypto. */
static void
sha256_hex (const char *data, size_t len, char out[65])
{
  unsigned char md[CAPSULE_SHA256_LEN];
  capsule_sha256 (data, len, md);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < CAPSULE_SHA256_LEN; i++)
    {
      out[2 * i] = hex[md[i] >> 4];
      out[2 * i + 1] = hex[md[i] & 15];
    }
  out[64] = '\0';
}

size_t
audit_json_escape (char *dst, size_t cap, const char *s)
{
  size_t o = 0;
  if (cap == 0)
    return 0;
  for (; s && *s; s++)
    {
      unsigned char c = *s;
      char tmp[8];
      const char *rep = NULL;
      size_t rl = 1;
      if (c == '"')
        rep = "\\\"", rl = 2;
      else if (c == '\\')
        rep = "\\\\", rl = 2;
      else if (c < 0x20 || c >= 0x7f)
        {
          snprintf (tmp, sizeof tmp, "\\u%04x", c);
          rep = tmp, rl = 6;
        }
      if (o + rl >= cap)
        break;
      if (rep)
        memcpy (dst + o, rep, rl);
      else
        dst[o] = c;
      o += rl;
    }
  dst[o] = '\0';
  return o;
}

char *
audit_json_escaped (const char *s)
{
  size_t cap = strlen (s) * 6 + 1;
  char *r = xmalloc0 (cap);
  audit_json_escape (r, cap, s);
  return r;
}

/* Parse `{"seq":N,` at the start of a line. */
static bool
line_seq (const char *line, size_t len, uint64_t *seq)
{
  static const char pfx[] = "{\"seq\":";
  if (len < sizeof pfx || memcmp (line, pfx, sizeof pfx - 1) != 0)
    return false;
  uint64_t v = 0;
  size_t i = sizeof pfx - 1;
  if (i >= len || line[i] < '1' || line[i] > '9')
    return false;
  for (; i < len && line[i] >= '0' && line[i] <= '9'; i++)
    {
      if (v > UINT64_MAX / 10)
        return false;
      v = v * 10 + (line[i] - '0');
    }
  if (i >= len || line[i] != ',')
    return false;
  *seq = v;
  return true;
}

/* Re-read the last complete line of the file to recover seq and hash. */
static int
reload_head (struct audit_log *log, cr_error_t *err)
{
  struct stat st;
  if (fstat (log->fd, &st) < 0)
    return cr_error_errno (err, "stat audit log `%s`", log->path);
  log->seq = 0;
  memset (log->prev, '0', 64);
  log->prev[64] = '\0';
  log->known_end = st.st_size;
  if (st.st_size == 0)
    return 0;
  off_t want = st.st_size < AUDIT_LINE_MAX + 1 ? st.st_size : AUDIT_LINE_MAX + 1;
  cleanup_free char *buf = malloc (want + 1);
  if (buf == NULL)
    return cr_error_errno (err, "reading audit log `%s`", log->path);
  ssize_t r = pread (log->fd, buf, want, st.st_size - want);
  if (r != want)
    return cr_error_errno (err, "reading audit log `%s`", log->path);
  size_t end = r;
  /* Ignore a torn final line without '\n' (never written by us). */
  while (end > 0 && buf[end - 1] != '\n')
    end--;
  if (end == 0)
    return cr_error (err, 0, "audit log `%s`: no complete last line to chain to", log->path);
  size_t ls = end - 1;
  while (ls > 0 && buf[ls - 1] != '\n')
    ls--;
  if (ls == 0 && want != st.st_size)
    return cr_error (err, 0, "audit log `%s`: last line too long", log->path);
  size_t ll = end - 1 - ls;
  if (!line_seq (buf + ls, ll, &log->seq))
    return cr_error (err, 0, "audit log `%s`: last line is not an audit line", log->path);
  sha256_hex (buf + ls, ll, log->prev);
  return 0;
}

int
audit_open (const char *path, struct audit_log **out, cr_error_t *err)
{
  /* Read access too: the chain head is recovered with pread. */
  cleanup_close int rw = open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (rw < 0)
    return cr_error_errno (err, "opening audit log `%s`", path);
  struct audit_log *log = xmalloc0 (sizeof *log);
  log->fd = steal_fd (&rw);
  log->path = xstrdup (path);
  struct stat st;
  if (fstat (log->fd, &st) == 0)
    log->dev = st.st_dev, log->ino = st.st_ino;
  if (flock (log->fd, LOCK_SH) < 0 || reload_head (log, err) < 0)
    {
      int ret = errno && !(err && *err) ? cr_error_errno (err, "locking audit log `%s`", path) : -1;
      audit_close (log);
      return ret;
    }
  flock (log->fd, LOCK_UN);
  *out = log;
  return 0;
}

/* Build and write one line; called with the lock held. */
static int
append_locked (struct audit_log *log, const char *json_object, size_t jl, bool defer, cr_error_t *err)
{
  if (!log->locked)
    {
      struct stat st;
      if (fstat (log->fd, &st) < 0)
        return cr_error_errno (err, "stat audit log `%s`", log->path);
      if (st.st_size != log->known_end && reload_head (log, err) < 0)
        return -1;
    }

  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  /* "YYYY-MM-DDTHH:MM:SS" changes once a second: format it only then. */
  if (ts.tv_sec != log->tsec)
    {
      struct tm tm;
      gmtime_r (&ts.tv_sec, &tm);
      strftime (log->tbuf, sizeof log->tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
      log->tsec = ts.tv_sec;
    }

  char stackbuf[2048];
  size_t need = jl + 160;
  cleanup_free char *heap = need > sizeof stackbuf ? malloc (need) : NULL;
  char *line = need > sizeof stackbuf ? heap : stackbuf;
  if (line == NULL)
    return cr_error_errno (err, "audit line");
  /* {"seq":N,"time":"...Z","prev":"<hex>"[,]<rest>\n, by hand (hot path) */
  char *o = line;
  memcpy (o, "{\"seq\":", 7), o += 7;
  char d[24];
  int di = sizeof d;
  uint64_t v = log->seq + 1;
  do
    d[--di] = '0' + v % 10;
  while ((v /= 10) != 0);
  memcpy (o, d + di, sizeof d - di), o += sizeof d - di;
  memcpy (o, ",\"time\":\"", 9), o += 9;
  memcpy (o, log->tbuf, 19), o += 19;
  *o++ = '.';
  long us = ts.tv_nsec / 1000;
  for (int i = 5; i >= 0; i--, us /= 10)
    o[i] = '0' + us % 10;
  o += 6;
  memcpy (o, "Z\",\"prev\":\"", 11), o += 11;
  memcpy (o, log->prev, 64), o += 64;
  *o++ = '"';
  const char *rest = json_object + 1; /* "...}" or "}" */
  if (*rest != '}')
    *o++ = ',';
  memcpy (o, rest, jl - 1), o += jl - 1;
  *o++ = '\n';
  int n = o - line;
  if (defer && log->hold && log->pend_len + n <= AUDIT_PEND_MAX)
    {
      if (log->pend == NULL && (log->pend = malloc (AUDIT_PEND_MAX)) == NULL)
        return cr_error_errno (err, "audit buffer");
      memcpy (log->pend + log->pend_len, line, n);
      log->pend_len += n;
    }
  else if (write_out (log, line, n, err) < 0)
    return -1;
  log->seq++;
  sha256_hex (line, n - 1, log->prev);
  return 0;
}

static int
append_impl (struct audit_log *log, const char *json_object, bool defer, cr_error_t *err)
{
  size_t jl = strlen (json_object);
  if (jl < 2 || json_object[0] != '{' || json_object[jl - 1] != '}')
    return cr_error (err, 0, "audit: not a JSON object: `%.40s`", json_object);
  if (memchr (json_object, '\n', jl))
    return cr_error (err, 0, "audit: newline in audit record");
  bool was_locked = log->locked;
  if (!was_locked && flock (log->fd, LOCK_EX) < 0)
    return cr_error_errno (err, "locking audit log `%s`", log->path);
  int ret = append_locked (log, json_object, jl, defer, err);
  if (log->hold && ret == 0)
    log->locked = true;
  else
    {
      flock (log->fd, LOCK_UN);
      log->locked = false;
    }
  return ret;
}

int
audit_append (struct audit_log *log, const char *json_object, cr_error_t *err)
{
  return append_impl (log, json_object, false, err);
}

int
audit_append_deferred (struct audit_log *log, const char *json_object, cr_error_t *err)
{
  return append_impl (log, json_object, true, err);
}

void
audit_hold (struct audit_log *log, bool hold)
{
  if (!log)
    return;
  log->hold = hold;
  if (!hold && log->pend_len)
    write_out (log, NULL, 0, NULL);
  if (!hold && log->locked)
    {
      flock (log->fd, LOCK_UN);
      log->locked = false;
    }
}

int
audit_sync (struct audit_log *log, cr_error_t *err)
{
  if (!log || !log->dirty)
    return 0;
  log->dirty = false;
  if (log_covered (log))
    return 0;
  if (log_datasync (log) < 0)
    return cr_error_errno (err, "syncing audit log `%s`", log->path);
  return 0;
}

int
audit_datasync (struct audit_log *log, cr_error_t *err)
{
  /* Always: this handle may have written nothing while another one did. */
  log->dirty = false;
  if (log_datasync (log) < 0)
    return cr_error_errno (err, "syncing audit log `%s`", log->path);
  return 0;
}

void
audit_head (struct audit_log *log, uint64_t *seq, char hash_hex[65])
{
  *seq = log->seq;
  memcpy (hash_hex, log->prev, 65);
}

void
audit_close (struct audit_log *log)
{
  if (!log)
    return;
  if (log->pend_len)
    write_out (log, NULL, 0, NULL);
  if (log->dirty && !log_covered (log))
    log_datasync (log);
  close (log->fd);
  free (log->pend);
  free (log->path);
  free (log);
}

static int
verify_impl (const char *path, uint64_t expect_seq, const char *expect_hash, uint64_t *bad, char **why,
             cr_error_t *err)
{
  cleanup_fclose FILE *f = fopen (path, "re");
  if (f == NULL)
    return cr_error_errno (err, "opening audit log `%s`", path);
  cleanup_free char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t lineno = 0;
  char prev[65];
  memset (prev, '0', 64);
  prev[64] = '\0';
  char pfx[200];
  *bad = 0;
  *why = NULL;
  while ((n = getline (&line, &cap, f)) > 0)
    {
      lineno++;
      if (line[n - 1] != '\n')
        {
          *bad = lineno;
          *why = xstrdup ("incomplete last line (no newline)");
          return 1;
        }
      n--;
      uint64_t seq;
      if (!line_seq (line, n, &seq))
        {
          *bad = lineno;
          *why = xstrdup ("not an audit line (no leading seq)");
          return 1;
        }
      if (seq != lineno)
        {
          *bad = lineno;
          *why = xasprintf ("sequence number %" PRIu64 ", expected %" PRIu64 " (line deleted, inserted or reordered)",
                            seq, lineno);
          return 1;
        }
      int pl = snprintf (pfx, sizeof pfx, "{\"seq\":%" PRIu64 ",\"time\":\"", seq);
      const char *pp = memmem (line, n, "\",\"prev\":\"", 10);
      if (pl < 0 || memcmp (line, pfx, pl) != 0 || pp == NULL || (size_t) (pp + 10 + 64 - line) > (size_t) n
          || pp[10 + 64] != '"' || line[n - 1] != '}')
        {
          *bad = lineno;
          *why = xstrdup ("malformed audit line");
          return 1;
        }
      if (memcmp (pp + 10, prev, 64) != 0)
        {
          *bad = lineno;
          *why = xstrdup ("hash chain broken: prev does not match the previous line (edited, deleted or reordered)");
          return 1;
        }
      sha256_hex (line, n, prev);
    }
  if (ferror (f))
    return cr_error_errno (err, "reading audit log `%s`", path);
  if (expect_seq > 0)
    {
      if (lineno != expect_seq)
        {
          *bad = lineno < expect_seq ? lineno + 1 : expect_seq + 1;
          *why = xasprintf ("file has %" PRIu64 " lines, recorded head says %" PRIu64 " (truncated or extended)", lineno,
                            expect_seq);
          return 1;
        }
      if (expect_hash && strcasecmp (expect_hash, prev) != 0)
        {
          *bad = lineno;
          *why = xstrdup ("last line hash differs from the recorded head (chain rewritten)");
          return 1;
        }
    }
  return 0;
}

int
audit_verify (const char *path, uint64_t *first_bad_line, char **why, cr_error_t *err)
{
  return verify_impl (path, 0, NULL, first_bad_line, why, err);
}

int
audit_verify_head (const char *path, uint64_t expect_seq, const char *expect_hash, uint64_t *first_bad_line,
                   char **why, cr_error_t *err)
{
  return verify_impl (path, expect_seq, expect_hash, first_bad_line, why, err);
}
