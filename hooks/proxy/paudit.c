/* The proxy's audit records: one line per decision (written before it takes
 * effect), one per finished exchange (bytes, duration), and lifecycle. */
#include "proxy.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define J(buf, s) (audit_json_escape ((buf), sizeof (buf), (s) ? (s) : ""), (buf))

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

static int
req_fields (char *out, size_t cap, struct proxy *px, const struct paudit_req *r)
{
  char id[256], cl[128], li[32], m[64], h[600], p[1100];
  return snprintf (out, cap,
                   "\"capsule\":\"%s\",\"client\":\"%s\",\"listener\":\"%s\",\"method\":\"%s\",\"host\":\"%s\","
                   "\"port\":%d,\"path\":\"%s\"",
                   J (id, px->cfg->capsule_id), J (cl, r->client), J (li, r->listener), J (m, r->method),
                   J (h, r->host), r->port, J (p, r->path));
}

int
paudit_decision (struct proxy *px, const struct paudit_req *r)
{
  char fields[3000], ru[600], why[400], line[4096];
  req_fields (fields, sizeof fields, px, r);
  snprintf (line, sizeof line, "{\"event\":\"egress\",%s,\"rule\":%s%s%s,\"verdict\":\"%s\",\"reason\":\"%s\"}", fields,
            r->rule ? "\"" : "", r->rule ? J (ru, r->rule) : "null", r->rule ? "\"" : "", r->verdict,
            J (why, r->reason));
  px->requests++;
  return append (px, line, false);
}

void
paudit_done (struct proxy *px, const struct paudit_req *r, int status, uint64_t up, uint64_t down,
             uint64_t duration_ms)
{
  char fields[3000], line[4096];
  req_fields (fields, sizeof fields, px, r);
  snprintf (line, sizeof line,
            "{\"event\":\"egress.done\",%s,\"status\":%d,\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64
            ",\"duration_ms\":%" PRIu64 "}",
            fields, status, up, down, duration_ms);
  append (px, line, true);
}
