/* Minimal D-Bus client for systemd's private socket (see sd_bus.h).
 * Wire format: D-Bus specification, "Message Format": a 12-byte fixed
 * header, an a(yv) array of header fields, padding to 8, the body; every
 * value aligned to its size (strings and arrays to 4, structs to 8). */
#include "sd_bus.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { T_CALL = 1, T_RETURN = 2, T_ERROR = 3, T_SIGNAL = 4 };
enum { F_PATH = 1, F_INTERFACE = 2, F_MEMBER = 3, F_ERROR_NAME = 4, F_REPLY_SERIAL = 5, F_DESTINATION = 6, F_SIGNATURE = 8 };
#define SD_MAX_MSG (1u << 20)

/* ---- building ---- */

static void
put (struct sd_msg *m, const void *p, size_t n)
{
  if (n == 0)
    return;
  if (m->len + n > m->cap)
    {
      m->cap = (m->len + n) * 2 + 64;
      m->d = realloc (m->d, m->cap);
      if (m->d == NULL)
        abort ();
    }
  memcpy (m->d + m->len, p, n);
  m->len += n;
}

static void
align (struct sd_msg *m, size_t a)
{
  static const unsigned char zero[8];
  put (m, zero, (a - m->len % a) % a);
}

static void
put_u32 (struct sd_msg *m, uint32_t v)
{
  align (m, 4);
  put (m, &v, 4); /* little-endian host: x86, arm64 */
}

static void
put_u64 (struct sd_msg *m, uint64_t v)
{
  align (m, 8);
  put (m, &v, 8);
}

static void
put_str (struct sd_msg *m, const char *s)
{
  size_t n = strlen (s);
  put_u32 (m, (uint32_t) n);
  put (m, s, n + 1);
}

static void
put_sig (struct sd_msg *m, const char *s)
{
  unsigned char n = (unsigned char) strlen (s);
  put (m, &n, 1);
  put (m, s, (size_t) n + 1);
}

void
sd_msg_call (struct sd_msg *m, const char *member, const char *sig)
{
  memset (m, 0, sizeof *m);
  m->member = member;
  m->sig = sig;
}

void
sd_msg_free (struct sd_msg *m)
{
  free (m->d);
  m->d = NULL;
}

void
sd_msg_string (struct sd_msg *m, const char *s)
{
  put_str (m, s);
}

void
sd_msg_bool (struct sd_msg *m, bool v)
{
  put_u32 (m, v ? 1 : 0);
}

void
sd_msg_array_open (struct sd_msg *m)
{
  if (m->depth >= 4)
    abort ();
  put_u32 (m, 0);
  m->arr[m->depth] = m->len - 4;
  align (m, 8); /* struct elements; the padding is there even when empty */
  m->arr_start[m->depth++] = m->len;
}

void
sd_msg_array_close (struct sd_msg *m)
{
  m->depth--;
  uint32_t n = (uint32_t) (m->len - m->arr_start[m->depth]);
  memcpy (m->d + m->arr[m->depth], &n, 4);
}

static void
prop_head (struct sd_msg *m, const char *name, const char *vsig)
{
  align (m, 8);
  put_str (m, name);
  put_sig (m, vsig);
}

void
sd_msg_prop_string (struct sd_msg *m, const char *name, const char *v)
{
  prop_head (m, name, "s");
  put_str (m, v);
}

void
sd_msg_prop_bool (struct sd_msg *m, const char *name, bool v)
{
  prop_head (m, name, "b");
  put_u32 (m, v ? 1 : 0);
}

void
sd_msg_prop_u64 (struct sd_msg *m, const char *name, uint64_t v)
{
  prop_head (m, name, "t");
  put_u64 (m, v);
}

void
sd_msg_prop_u32_array (struct sd_msg *m, const char *name, const uint32_t *v, size_t n)
{
  prop_head (m, name, "au");
  put_u32 (m, (uint32_t) (n * 4));
  for (size_t i = 0; i < n; i++)
    put_u32 (m, v[i]);
}

void
sd_msg_prop_bytes (struct sd_msg *m, const char *name, const unsigned char *v, size_t n)
{
  prop_head (m, name, "ay");
  put_u32 (m, (uint32_t) n);
  put (m, v, n);
}

static void
field (struct sd_msg *h, unsigned char code, const char *sig, const char *v)
{
  align (h, 8);
  put (h, &code, 1);
  put_sig (h, sig);
  if (strcmp (sig, "g") == 0)
    put_sig (h, v);
  else
    put_str (h, v);
}

/* ---- reading ---- */

struct rd
{
  const unsigned char *d;
  size_t len, off;
  bool bad;
};

static void
rd_align (struct rd *r, size_t a)
{
  r->off += (a - r->off % a) % a;
  if (r->off > r->len)
    r->bad = true;
}

static uint32_t
rd_u32 (struct rd *r)
{
  rd_align (r, 4);
  uint32_t v = 0;
  if (r->bad || r->off + 4 > r->len)
    return r->bad = true, 0;
  memcpy (&v, r->d + r->off, 4);
  r->off += 4;
  return v;
}

/* A string or object path: points into the message (NUL-terminated). */
static const char *
rd_str (struct rd *r)
{
  uint32_t n = rd_u32 (r);
  if (r->bad || r->off + n + 1 > r->len || r->d[r->off + n] != '\0')
    return r->bad = true, "";
  const char *s = (const char *) r->d + r->off;
  r->off += n + 1;
  return s;
}

static const char *
rd_sig (struct rd *r)
{
  if (r->off + 1 > r->len)
    return r->bad = true, "";
  size_t n = r->d[r->off];
  if (r->off + 1 + n + 1 > r->len || r->d[r->off + 1 + n] != '\0')
    return r->bad = true, "";
  const char *s = (const char *) r->d + r->off + 1;
  r->off += n + 2;
  return s;
}

struct in_msg
{
  unsigned char *buf;
  int type;
  uint32_t reply_serial;
  const char *error_name, *member, *sig;
  struct rd body;
};

static int
read_full (int fd, void *p, size_t n, int timeout_ms, cr_error_t *err)
{
  unsigned char *b = p;
  while (n > 0)
    {
      struct pollfd pf = { fd, POLLIN, 0 };
      int pr = poll (&pf, 1, timeout_ms);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr < 0)
        return cr_error_errno (err, "systemd D-Bus: poll");
      if (pr == 0)
        return cr_error (err, ETIMEDOUT, "systemd D-Bus: no answer from systemd");
      ssize_t r = read (fd, b, n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return cr_error_errno (err, "systemd D-Bus: read");
      if (r == 0)
        return cr_error (err, ECONNRESET, "systemd D-Bus: systemd closed the connection");
      b += r;
      n -= (size_t) r;
    }
  return 0;
}

static int
read_msg (struct sd_conn *c, struct in_msg *m, int timeout_ms, cr_error_t *err)
{
  unsigned char h[16];
  memset (m, 0, sizeof *m);
  if (read_full (c->fd, h, sizeof h, timeout_ms, err) < 0)
    return -1;
  uint32_t body_len, fields_len;
  memcpy (&body_len, h + 4, 4);
  memcpy (&fields_len, h + 12, 4);
  if (h[0] != 'l' || h[3] != 1 || body_len > SD_MAX_MSG || fields_len > SD_MAX_MSG)
    return cr_error (err, EPROTO, "systemd D-Bus: malformed message header");
  size_t hlen = 16 + fields_len;
  hlen += (8 - hlen % 8) % 8;
  size_t total = hlen + body_len;
  m->buf = xmalloc0 (total + 1);
  memcpy (m->buf, h, 16);
  if (read_full (c->fd, m->buf + 16, total - 16, timeout_ms, err) < 0)
    {
      free (m->buf);
      m->buf = NULL;
      return -1;
    }
  m->type = h[1];
  m->error_name = m->member = m->sig = "";
  struct rd r = { m->buf, 16 + fields_len, 16, false };
  while (!r.bad && r.off < r.len)
    {
      rd_align (&r, 8);
      if (r.off >= r.len)
        break;
      unsigned char code = m->buf[r.off++];
      const char *vs = rd_sig (&r);
      if (strcmp (vs, "u") == 0)
        {
          uint32_t v = rd_u32 (&r);
          if (code == F_REPLY_SERIAL)
            m->reply_serial = v;
        }
      else if (strcmp (vs, "s") == 0 || strcmp (vs, "o") == 0)
        {
          const char *v = rd_str (&r);
          if (code == F_ERROR_NAME)
            m->error_name = v;
          else if (code == F_MEMBER)
            m->member = v;
        }
      else if (strcmp (vs, "g") == 0)
        {
          const char *v = rd_sig (&r);
          if (code == F_SIGNATURE)
            m->sig = v;
        }
      else
        r.bad = true; /* no other field types are defined */
    }
  if (r.bad)
    {
      free (m->buf);
      m->buf = NULL;
      return cr_error (err, EPROTO, "systemd D-Bus: malformed header fields");
    }
  m->body = (struct rd){ m->buf + hlen, body_len, 0, false };
  return 0;
}

/* A JobRemoved signal (uoss: id, job, unit, result): remember it. */
static void
note_signal (struct sd_conn *c, struct in_msg *m)
{
  if (m->type != T_SIGNAL || strcmp (m->member, "JobRemoved") != 0 || strcmp (m->sig, "uoss") != 0)
    return;
  rd_u32 (&m->body);
  const char *job = rd_str (&m->body);
  rd_str (&m->body);
  const char *result = rd_str (&m->body);
  if (m->body.bad)
    return;
  c->done = realloc (c->done, (c->n_done + 1) * sizeof *c->done);
  if (c->done == NULL)
    abort ();
  c->done[c->n_done].job = xstrdup (job);
  c->done[c->n_done].result = xstrdup (result);
  c->n_done++;
}

/* ---- connection ---- */

static int
write_all_fd (int fd, const void *p, size_t n, cr_error_t *err)
{
  const unsigned char *b = p;
  while (n > 0)
    {
      ssize_t w = send (fd, b, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return cr_error_errno (err, "systemd D-Bus: write");
      b += w;
      n -= (size_t) w;
    }
  return 0;
}

int
sd_conn_open (struct sd_conn *c, const char *socket_path, cr_error_t *err)
{
  memset (c, 0, sizeof *c);
  c->fd = -1;
  cleanup_close int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return cr_error_errno (err, "systemd D-Bus: socket");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen (socket_path) >= sizeof sa.sun_path)
    return cr_error (err, ENAMETOOLONG, "systemd D-Bus: `%s`", socket_path);
  strcpy (sa.sun_path, socket_path);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    return cr_error_errno (err, "connect to systemd at `%s`", socket_path);
  /* SASL EXTERNAL: the peer credentials of the socket prove who we are;
   * the initial response is our uid in hex-encoded decimal.  The NUL byte,
   * AUTH and BEGIN go in one write, then the OK is read, and only then the
   * first message (as systemctl does): systemd 252 left a first call
   * unanswered when BEGIN and it arrived in the same read. */
  char uid[16], hex[40], line[128];
  snprintf (uid, sizeof uid, "%u", (unsigned) geteuid ());
  for (size_t i = 0; uid[i]; i++)
    snprintf (hex + 2 * i, 3, "%02x", (unsigned char) uid[i]);
  int n = snprintf (line, sizeof line, "%cAUTH EXTERNAL %s\r\nBEGIN\r\n", '\0', hex);
  if (write_all_fd (fd, line, (size_t) n, err) < 0)
    return -1;
  size_t got = 0;
  while (got < sizeof line - 1 && (got < 2 || memcmp (line + got - 2, "\r\n", 2) != 0))
    if (read_full (fd, line + got++, 1, 5000, err) < 0)
      return -1;
  line[got] = '\0';
  if (strncmp (line, "OK ", 3) != 0)
    {
      line[strcspn (line, "\r\n")] = '\0';
      return cr_error (err, EACCES, "systemd D-Bus: authentication refused (`%s`)", line);
    }
  c->fd = steal_fd (&fd);
  return 0;
}

void
sd_conn_close (struct sd_conn *c)
{
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  for (size_t i = 0; i < c->n_done; i++)
    free (c->done[i].job), free (c->done[i].result);
  free (c->done);
  c->done = NULL;
  c->n_done = 0;
}

int
sd_call (struct sd_conn *c, struct sd_msg *m, char **path_out, cr_error_t *err)
{
  struct sd_msg h = { 0 };
  unsigned char fixed[4] = { 'l', T_CALL, 0, 1 };
  put (&h, fixed, 4);
  put_u32 (&h, (uint32_t) m->len);
  uint32_t serial = ++c->serial;
  put_u32 (&h, serial);
  put_u32 (&h, 0);
  size_t fstart = h.len;
  field (&h, F_PATH, "o", "/org/freedesktop/systemd1");
  field (&h, F_INTERFACE, "s", "org.freedesktop.systemd1.Manager");
  field (&h, F_MEMBER, "s", m->member);
  field (&h, F_DESTINATION, "s", "org.freedesktop.systemd1");
  if (m->sig && m->sig[0])
    field (&h, F_SIGNATURE, "g", m->sig);
  uint32_t flen = (uint32_t) (h.len - fstart);
  memcpy (h.d + 12, &flen, 4);
  align (&h, 8);
  if (m->len)
    put (&h, m->d, m->len);
  int r = write_all_fd (c->fd, h.d, h.len, err);
  sd_msg_free (&h);
  if (r < 0)
    return -1;
  for (;;)
    {
      struct in_msg in;
      if (read_msg (c, &in, 30000, err) < 0)
        return cr_error_wrap (err, "%s", m->member);
      cleanup_free unsigned char *buf = in.buf;
      if ((in.type == T_RETURN || in.type == T_ERROR) && in.reply_serial == serial)
        {
          if (in.type == T_ERROR)
            {
              const char *text = strncmp (in.sig, "s", 1) == 0 ? rd_str (&in.body) : "";
              return cr_error (err, 0, "systemd: %s: %s: %s", m->member, in.error_name, text);
            }
          if (path_out)
            *path_out = strncmp (in.sig, "o", 1) == 0 ? xstrdup (rd_str (&in.body)) : NULL;
          return 0;
        }
      note_signal (c, &in);
    }
}

int
sd_wait_job (struct sd_conn *c, const char *job, int timeout_ms, char **result, cr_error_t *err)
{
  struct timespec t0;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;)
    {
      for (size_t i = 0; i < c->n_done; i++)
        if (strcmp (c->done[i].job, job) == 0)
          {
            *result = xstrdup (c->done[i].result);
            return 0;
          }
      struct timespec t;
      clock_gettime (CLOCK_MONOTONIC, &t);
      long left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
      if (left <= 0)
        return cr_error (err, ETIMEDOUT, "systemd: job %s did not finish in %d ms", job, timeout_ms);
      struct in_msg in;
      if (read_msg (c, &in, (int) left, err) < 0)
        return -1;
      note_signal (c, &in);
      free (in.buf);
    }
}
