/* Strict HTTP/1.1 head parser and chunked framing scanner.  Anything a
 * front end and a back end could read two ways is rejected, not repaired. */
#include "http_parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool
tchar (unsigned char c)
{
  return isalnum (c) || (c && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
http_header_is (const struct http_header *h, const char *name)
{
  size_t l = strlen (name);
  return h->name_len == l && strncasecmp (h->name, name, l) == 0;
}

bool
http_list_has (const char *v, size_t len, const char *token)
{
  size_t tl = strlen (token);
  size_t i = 0;
  while (i < len)
    {
      while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
        i++;
      size_t s = i;
      while (i < len && v[i] != ',')
        i++;
      size_t e = i;
      while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
      if (e - s == tl && strncasecmp (v + s, token, tl) == 0)
        return true;
    }
  return false;
}

/* Next CRLF-terminated line starting at pos.  Returns 1 with [*ls,*le) the
 * line without CRLF and *next after it, 0 if incomplete, -1 on bare CR/LF or
 * an overlong line. */
static int
next_line (const char *buf, size_t len, size_t pos, size_t *ls, size_t *le, size_t *next, const char **why)
{
  const char *lf = memchr (buf + pos, '\n', len - pos);
  if (lf == NULL)
    {
      if (len - pos > HTTP_MAX_LINE)
        {
          *why = "line too long";
          return -1;
        }
      if (memchr (buf + pos, '\r', len - pos) && buf[len - 1] != '\r')
        {
          *why = "bare CR";
          return -1;
        }
      return 0;
    }
  size_t e = lf - buf;
  if (e == pos || buf[e - 1] != '\r')
    {
      *why = "bare LF";
      return -1;
    }
  if (e - 1 - pos > HTTP_MAX_LINE)
    {
      *why = "line too long";
      return -1;
    }
  if (memchr (buf + pos, '\r', e - 1 - pos))
    {
      *why = "bare CR";
      return -1;
    }
  *ls = pos;
  *le = e - 1;
  *next = e + 1;
  return 1;
}

static int
parse_version (const char *p, size_t n, int *minor)
{
  if (n != 8 || memcmp (p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
    return -1;
  *minor = p[7] - '0';
  return 0;
}

static int
parse_headers (const char *buf, size_t len, size_t pos, struct http_message *m, bool is_request, const char **why)
{
  bool seen_cl = false, seen_te = false, keep_alive = false;
  int hosts = 0;
  for (;;)
    {
      size_t ls, le, next;
      int r = next_line (buf, len, pos, &ls, &le, &next, why);
      if (r <= 0)
        {
          if (r == 0 && len >= HTTP_MAX_HEAD)
            {
              *why = "header section too large";
              return -1;
            }
          return r;
        }
      if (next > HTTP_MAX_HEAD)
        {
          *why = "header section too large";
          return -1;
        }
      if (ls == le)
        {
          pos = next;
          break;
        }
      const char *l = buf + ls;
      size_t n = le - ls;
      if (l[0] == ' ' || l[0] == '\t')
        {
          *why = "obs-fold (line folding)";
          return -1;
        }
      size_t i = 0;
      while (i < n && tchar (l[i]))
        i++;
      if (i == 0 || i >= n || l[i] != ':')
        {
          *why = (i < n && (l[i] == ' ' || l[i] == '\t')) ? "whitespace before ':'" : "invalid header name";
          return -1;
        }
      size_t vs = i + 1;
      while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
        vs++;
      size_t ve = n;
      while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
      for (size_t k = vs; k < ve; k++)
        {
          unsigned char c = l[k];
          if ((c < 0x20 && c != '\t') || c == 0x7f)
            {
              *why = "control character in header value";
              return -1;
            }
        }
      if (m->n_headers >= HTTP_MAX_HEADERS)
        {
          *why = "too many header fields";
          return -1;
        }
      struct http_header *h = &m->headers[m->n_headers++];
      h->name = l;
      h->name_len = i;
      h->value = l + vs;
      h->value_len = ve - vs;

      if (http_header_is (h, "content-length"))
        {
          if (seen_cl)
            {
              *why = "duplicate Content-Length";
              return -1;
            }
          seen_cl = true;
          if (h->value_len == 0 || h->value_len > 18)
            {
              *why = "invalid Content-Length";
              return -1;
            }
          int64_t v = 0;
          for (size_t k = 0; k < h->value_len; k++)
            {
              if (!isdigit ((unsigned char) h->value[k]))
                {
                  *why = "invalid Content-Length";
                  return -1;
                }
              v = v * 10 + (h->value[k] - '0');
            }
          m->content_length = v;
        }
      else if (http_header_is (h, "transfer-encoding"))
        {
          if (seen_te)
            {
              *why = "duplicate Transfer-Encoding";
              return -1;
            }
          seen_te = true;
          if (h->value_len != 7 || strncasecmp (h->value, "chunked", 7) != 0)
            {
              *why = "unsupported Transfer-Encoding (only \"chunked\")";
              return -1;
            }
          m->chunked = true;
        }
      else if (http_header_is (h, "host"))
        {
          hosts++;
          m->host_idx = m->n_headers - 1;
        }
      else if (http_header_is (h, "connection"))
        {
          if (http_list_has (h->value, h->value_len, "close"))
            m->conn_close = true;
          if (http_list_has (h->value, h->value_len, "keep-alive"))
            keep_alive = true;
        }
      else if (http_header_is (h, "expect") && is_request)
        {
          if (h->value_len == 12 && strncasecmp (h->value, "100-continue", 12) == 0)
            m->expect_continue = true;
          else
            {
              *why = "unsupported Expect";
              return -1;
            }
        }
      else if (http_header_is (h, "upgrade"))
        m->upgrade = true;
      pos = next;
    }
  if (seen_cl && seen_te)
    {
      *why = "both Content-Length and Transfer-Encoding";
      return -1;
    }
  if (seen_te && m->minor == 0)
    {
      *why = "Transfer-Encoding in HTTP/1.0";
      return -1;
    }
  if (is_request)
    {
      if (hosts > 1)
        {
          *why = "duplicate Host";
          return -1;
        }
      if (hosts == 0 && m->minor == 1)
        {
          *why = "missing Host";
          return -1;
        }
    }
  if (m->minor == 0 && !keep_alive)
    m->conn_close = true;
  return (int) pos;
}

static void
msg_init (struct http_message *m)
{
  memset (m, 0, offsetof (struct http_message, headers));
  m->n_headers = 0;
  m->content_length = -1;
  m->chunked = m->conn_close = m->expect_continue = m->upgrade = false;
  m->host_idx = -1;
}

int
http_parse_request (const char *buf, size_t len, struct http_message *m, const char **why)
{
  msg_init (m);
  *why = "malformed request";
  size_t ls, le, next;
  int r = next_line (buf, len, 0, &ls, &le, &next, why);
  if (r <= 0)
    return r;
  const char *l = buf + ls;
  size_t n = le - ls;
  /* method SP target SP version, single spaces */
  const char *sp1 = memchr (l, ' ', n);
  if (sp1 == NULL)
    {
      *why = "malformed request line";
      return -1;
    }
  m->method = l;
  m->method_len = sp1 - l;
  if (m->method_len == 0 || m->method_len > 20)
    {
      *why = "invalid method";
      return -1;
    }
  for (size_t i = 0; i < m->method_len; i++)
    if (!(isupper ((unsigned char) l[i]) || l[i] == '-' || l[i] == '_'))
      {
        *why = "invalid method";
        return -1;
      }
  const char *t = sp1 + 1;
  const char *sp2 = memchr (t, ' ', l + n - t);
  if (sp2 == NULL || sp2 == t)
    {
      *why = "malformed request line";
      return -1;
    }
  m->target = t;
  m->target_len = sp2 - t;
  for (size_t i = 0; i < m->target_len; i++)
    if ((unsigned char) t[i] <= 0x20 || (unsigned char) t[i] >= 0x7f)
      {
        *why = "invalid request target";
        return -1;
      }
  if (parse_version (sp2 + 1, l + n - sp2 - 1, &m->minor) < 0)
    {
      *why = "unsupported HTTP version";
      return -1;
    }
  bool is_connect = m->method_len == 7 && memcmp (m->method, "CONNECT", 7) == 0;
  if (is_connect)
    m->form = HTTP_TARGET_AUTHORITY;
  else if (t[0] == '/')
    m->form = HTTP_TARGET_ORIGIN;
  else if (m->target_len > 7 && strncasecmp (t, "http://", 7) == 0)
    m->form = HTTP_TARGET_ABSOLUTE;
  else
    {
      *why = "invalid request target";
      return -1;
    }
  return parse_headers (buf, len, next, m, true, why);
}

int
http_parse_response (const char *buf, size_t len, struct http_message *m, const char **why)
{
  msg_init (m);
  *why = "malformed response";
  size_t ls, le, next;
  int r = next_line (buf, len, 0, &ls, &le, &next, why);
  if (r <= 0)
    return r;
  const char *l = buf + ls;
  size_t n = le - ls;
  if (n < 12 || parse_version (l, 8, &m->minor) < 0 || l[8] != ' ' || !isdigit ((unsigned char) l[9])
      || !isdigit ((unsigned char) l[10]) || !isdigit ((unsigned char) l[11]) || (n > 12 && l[12] != ' '))
    {
      *why = "malformed status line";
      return -1;
    }
  m->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  if (m->status < 100)
    {
      *why = "malformed status line";
      return -1;
    }
  return parse_headers (buf, len, next, m, false, why);
}

int
http_split_authority (const char *a, size_t len, const char **host, size_t *host_len, int *port, int default_port)
{
  if (len == 0 || memchr (a, '@', len))
    return -1;
  const char *pc = NULL;
  if (a[0] == '[')
    {
      const char *rb = memchr (a, ']', len);
      if (!rb)
        return -1;
      *host = a;
      *host_len = rb + 1 - a;
      if ((size_t) (rb + 1 - a) < len)
        {
          if (rb[1] != ':')
            return -1;
          pc = rb + 1;
        }
    }
  else
    {
      pc = memchr (a, ':', len);
      *host = a;
      *host_len = pc ? (size_t) (pc - a) : len;
    }
  if (*host_len == 0)
    return -1;
  if (!pc)
    {
      *port = default_port;
      return default_port > 0 ? 0 : -1;
    }
  size_t pl = a + len - pc - 1;
  if (pl == 0 || pl > 5)
    return -1;
  int p = 0;
  for (size_t i = 0; i < pl; i++)
    {
      if (!isdigit ((unsigned char) pc[1 + i]))
        return -1;
      p = p * 10 + pc[1 + i] - '0';
    }
  if (p < 1 || p > 65535)
    return -1;
  *port = p;
  return 0;
}

int
http_split_absolute (const char *t, size_t len, const char **auth, size_t *auth_len, const char **origin,
                     size_t *origin_len)
{
  if (len < 8 || strncasecmp (t, "http://", 7) != 0)
    return -1;
  const char *a = t + 7;
  const char *end = t + len;
  const char *p = a;
  while (p < end && *p != '/' && *p != '?' && *p != '#')
    p++;
  if (p < end && *p == '#')
    return -1;
  *auth = a;
  *auth_len = p - a;
  if (*auth_len == 0 || memchr (t, '#', len))
    return -1;
  if (p == end)
    {
      *origin = "/";
      *origin_len = 1;
    }
  else if (*p == '?')
    return -1; /* "http://host?q": no path; refuse rather than guess */
  else
    {
      *origin = p;
      *origin_len = end - p;
    }
  return 0;
}

enum
{
  CH_SIZE,
  CH_EXT,
  CH_SIZE_LF,
  CH_DATA,
  CH_DATA_CR,
  CH_DATA_LF,
  CH_TRAILER_START,
  CH_TRAILER_LINE,
  CH_TRAILER_LF,
  CH_FINAL_LF,
};

void
http_body_init (struct http_body *b, enum http_body_kind kind, uint64_t length)
{
  memset (b, 0, sizeof *b);
  b->kind = kind;
  b->remaining = length;
  b->cstate = CH_SIZE;
  b->done = kind == HTTP_BODY_NONE || (kind == HTTP_BODY_LENGTH && length == 0);
}

ssize_t
http_body_scan (struct http_body *b, const char *p, size_t n)
{
  if (b->done)
    return 0;
  switch (b->kind)
    {
    case HTTP_BODY_NONE:
      return 0;
    case HTTP_BODY_EOF:
      return n;
    case HTTP_BODY_LENGTH:
      {
        size_t k = n < b->remaining ? n : b->remaining;
        b->remaining -= k;
        if (b->remaining == 0)
          b->done = true;
        return k;
      }
    case HTTP_BODY_CHUNKED:
      break;
    }
  size_t i = 0;
  while (i < n && !b->done)
    {
      unsigned char c = p[i];
      switch (b->cstate)
        {
        case CH_SIZE:
          if (isxdigit (c))
            {
              if (++b->cdigits > 15)
                return -1;
              b->csize = b->csize * 16 + (isdigit (c) ? c - '0' : (tolower (c) - 'a' + 10));
            }
          else if (b->cdigits == 0)
            return -1;
          else if (c == ';')
            b->cstate = CH_EXT, b->line_len = 0;
          else if (c == '\r')
            b->cstate = CH_SIZE_LF;
          else
            return -1;
          i++;
          break;
        case CH_EXT:
          if (c == '\r')
            b->cstate = CH_SIZE_LF;
          else if ((c < 0x20 && c != '\t') || c == 0x7f || ++b->line_len > 4096)
            return -1;
          i++;
          break;
        case CH_SIZE_LF:
          if (c != '\n')
            return -1;
          i++;
          if (b->csize == 0)
            b->cstate = CH_TRAILER_START;
          else
            b->cstate = CH_DATA, b->remaining = b->csize;
          break;
        case CH_DATA:
          {
            size_t k = n - i < b->remaining ? n - i : b->remaining;
            b->remaining -= k;
            i += k;
            if (b->remaining == 0)
              b->cstate = CH_DATA_CR;
            break;
          }
        case CH_DATA_CR:
          if (c != '\r')
            return -1;
          b->cstate = CH_DATA_LF;
          i++;
          break;
        case CH_DATA_LF:
          if (c != '\n')
            return -1;
          b->cstate = CH_SIZE;
          b->csize = 0;
          b->cdigits = 0;
          i++;
          break;
        case CH_TRAILER_START:
          if (c == '\r')
            b->cstate = CH_FINAL_LF;
          else if (tchar (c))
            b->cstate = CH_TRAILER_LINE, b->line_len = 1;
          else
            return -1;
          i++;
          break;
        case CH_TRAILER_LINE:
          if (c == '\r')
            b->cstate = CH_TRAILER_LF;
          else if (c == '\n' || (c < 0x20 && c != '\t') || ++b->line_len > HTTP_MAX_LINE)
            return -1;
          i++;
          break;
        case CH_TRAILER_LF:
          if (c != '\n')
            return -1;
          b->cstate = CH_TRAILER_START;
          i++;
          break;
        case CH_FINAL_LF:
          if (c != '\n')
            return -1;
          b->done = true;
          i++;
          break;
        }
    }
  return i;
}
