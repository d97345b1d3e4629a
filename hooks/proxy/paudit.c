/* The proxy's audit records: one line per decision (written before it takes
 * effect), one per finished exchange (bytes, duration), and lifecycle.
 *
 * Two lines per request are built on the hot path, so they are assembled by
 * hand (no snprintf, no allocation): escaping copies runs of plain bytes with
 * memcpy, numbers are converted digit by digit.  Each field is capped as
 * before (same output as audit_json_escape into a buffer of that size). */
#include "proxy.h"
#include "util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define J(buf, s) (audit_json_escape ((buf), sizeof (buf), (s) ? (s) : ""), (buf))

struct lb
{
  char *p, *end; /* end: one byte is always left for the NUL */
};

static void
lb_raw (struct lb *b, const char *s, size_t n)
{
  if (n > (size_t) (b->end - b->p))
    n = b->end - b->p;
  memcpy (b->p, s, n);
  b->p += n;
}

#define LB_LIT(b, s) lb_raw ((b), (s), sizeof (s) - 1)

/* JSON string body of s, at most cap-1 output bytes (escapes are never cut). */
static void
lb_str (struct lb *b, const char *s, size_t cap)
{
  static const char hex[] = "0123456789abcdef";
  if (s == NULL)
    return;
  size_t left = cap - 1;
  while (*s)
    {
      const char *run = s;
      while ((unsigned char) *s >= 0x20 && (unsigned char) *s < 0x7f && *s != '"' && *s != '\\')
        s++;
      size_t n = s - run;
      if (n > left)
        n = left;
      lb_raw (b, run, n);
      left -= n;
      if (s - run > (ptrdiff_t) n || *s == '\0')
        return;
      unsigned char c = *s++;
      char esc[6];
      size_t el = 2;
      esc[0] = '\\';
      if (c == '"' || c == '\\')
        esc[1] = c;
      else
        {
          memcpy (esc + 1, "u00", 3);
          esc[4] = hex[c >> 4];
          esc[5] = hex[c & 15];
          el = 6;
        }
      if (el > left)
        return;
      lb_raw (b, esc, el);
      left -= el;
    }
}

static void
lb_u64 (struct lb *b, uint64_t v)
{
  char d[24];
  int i = sizeof d;
  do
    d[--i] = '0' + v % 10;
  while ((v /= 10) != 0);
  lb_raw (b, d + i, sizeof d - i);
}

static void
lb_int (struct lb *b, int v)
{
  if (v < 0)
    {
      LB_LIT (b, "-");
      lb_u64 (b, -(int64_t) v);
    }
  else
    lb_u64 (b, v);
}

static size_t
lb_end (struct lb *b, char *start)
{
  *b->p = '\0';
  return b->p - start;
}

static void
req_fields (struct lb *b, const char *capsule_id, const struct paudit_req *r)
{
  LB_LIT (b, "\"capsule\":\"");
  lb_str (b, capsule_id, 256);
  LB_LIT (b, "\",\"client\":\"");
  lb_str (b, r->client, 128);
  LB_LIT (b, "\",\"listener\":\"");
  lb_str (b, r->listener, 32);
  LB_LIT (b, "\",\"method\":\"");
  lb_str (b, r->method, 64);
  LB_LIT (b, "\",\"host\":\"");
  lb_str (b, r->host, 600);
  LB_LIT (b, "\",\"port\":");
  lb_int (b, r->port);
  LB_LIT (b, ",\"path\":\"");
  lb_str (b, r->path, 1100);
  LB_LIT (b, "\"");
}

size_t
paudit_format_decision (char *out, size_t cap, const char *capsule_id, const struct paudit_req *r)
{
  struct lb b = { out, out + cap - 1 };
  LB_LIT (&b, "{\"event\":\"egress\",");
  req_fields (&b, capsule_id, r);
  if (r->rule)
    {
      LB_LIT (&b, ",\"rule\":\"");
      lb_str (&b, r->rule, 600);
      LB_LIT (&b, "\"");
    }
  else
    LB_LIT (&b, ",\"rule\":null");
  LB_LIT (&b, ",\"verdict\":\"");
  lb_raw (&b, r->verdict, strlen (r->verdict));
  LB_LIT (&b, "\",\"reason\":\"");
  lb_str (&b, r->reason, 400);
  LB_LIT (&b, "\"}");
  return lb_end (&b, out);
}

size_t
paudit_format_done (char *out, size_t cap, const char *capsule_id, const struct paudit_req *r, int status,
                    uint64_t up, uint64_t down, uint64_t duration_ms)
{
  struct lb b = { out, out + cap - 1 };
  LB_LIT (&b, "{\"event\":\"egress.done\",");
  req_fields (&b, capsule_id, r);
  LB_LIT (&b, ",\"status\":");
  lb_int (&b, status);
  LB_LIT (&b, ",\"bytes_up\":");
  lb_u64 (&b, up);
  LB_LIT (&b, ",\"bytes_down\":");
  lb_u64 (&b, down);
  LB_LIT (&b, ",\"duration_ms\":");
  lb_u64 (&b, duration_ms);
  LB_LIT (&b, "}");
  return lb_end (&b, out);
}

static int
append (struct proxy *px, const char *line, bool defer)
{
  if (px->audit == NULL)
    return 0;
  cr_error_t err = NULL;
  if ((defer ? audit_append_deferred (px->audit, line, &err) : audit_append (px->audit, line, &err)) < 0)
    {
      fprintf (stderr, "capsule-proxy: audit: %s\n", err->msg);
      cr_error_release (&err);
      return -1;
    }
  return 0;
}

void
paudit_event (struct proxy *px, const char *event, const char *detail)
{
  char id[256], ev[64], d[1024], line[1600];
  snprintf (line, sizeof line, "{\"event\":\"%s\",\"capsule\":\"%s\",\"detail\":\"%s\"}", J (ev, event),
            J (id, px->cfg->capsule_id), J (d, detail));
  append (px, line, false);
}

int
paudit_decision (struct proxy *px, const struct paudit_req *r)
{
  char line[4096];
  px->requests++;
  if (px->audit == NULL)
    return 0;
  paudit_format_decision (line, sizeof line, px->cfg->capsule_id, r);
  return append (px, line, false);
}

void
paudit_done (struct proxy *px, const struct paudit_req *r, int status, uint64_t up, uint64_t down,
             uint64_t duration_ms)
{
  char line[4096];
  if (px->audit == NULL)
    return;
  paudit_format_done (line, sizeof line, px->cfg->capsule_id, r, status, up, down, duration_ms);
  append (px, line, true);
}

#define GATE_MAX 256
#define GATE_BUF (GATE_MAX * 1024)

bool
paudit_gate (struct proxy *px, struct conn *c, const struct paudit_req *r)
{
  if (!px->batching || px->audit == NULL || px->n_gated == GATE_MAX)
    return false;
  if (px->gated == NULL)
    {
      px->gated = malloc (GATE_MAX * sizeof *px->gated);
      px->gate_buf = malloc (GATE_BUF);
      if (px->gated == NULL || px->gate_buf == NULL)
        {
          paudit_free_gated (px);
          return false;
        }
    }
  if (GATE_BUF - px->gate_len < 4096)
    return false;
  px->gate_len += paudit_format_decision (px->gate_buf + px->gate_len, 4096, px->cfg->capsule_id, r) + 1;
  px->gated[px->n_gated++] = c;
  px->requests++;
  return true;
}

int
paudit_flush_gated (struct proxy *px)
{
  int ret = 0;
  for (size_t off = 0, i = 0; off < px->gate_len && ret == 0; i++)
    {
      const char *line = px->gate_buf + off;
      off += strlen (line) + 1;
      /* all but the last wait in memory and go out with it */
      ret = append (px, line, off < px->gate_len);
    }
  px->gate_len = 0;
  return ret;
}

void
paudit_free_gated (struct proxy *px)
{
  free (px->gated);
  free (px->gate_buf);
  px->gated = NULL;
  px->gate_buf = NULL;
  px->n_gated = px->gate_len = 0;
}
