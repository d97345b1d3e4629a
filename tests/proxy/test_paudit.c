/* The hand-built audit lines (paudit_format_*) are byte for byte what the
 * snprintf + audit_json_escape version produced, including escapes, NULL
 * fields, truncation at the field caps and 64-bit numbers. */
#include "proxy.h"
#include "t.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define J(buf, s) (audit_json_escape ((buf), sizeof (buf), (s) ? (s) : ""), (buf))

static void
ref_fields (char *out, size_t cap, const char *id_, const struct paudit_req *r)
{
  char id[256], cl[128], li[32], m[64], h[600], p[1100];
  snprintf (out, cap,
            "\"capsule\":\"%s\",\"client\":\"%s\",\"listener\":\"%s\",\"method\":\"%s\",\"host\":\"%s\","
            "\"port\":%d,\"path\":\"%s\"",
            J (id, id_), J (cl, r->client), J (li, r->listener), J (m, r->method), J (h, r->host), r->port,
            J (p, r->path));
}

static void
ref_decision (char *line, size_t cap, const char *id, const struct paudit_req *r)
{
  char fields[3000], ru[600], why[400];
  ref_fields (fields, sizeof fields, id, r);
  snprintf (line, cap, "{\"event\":\"egress\",%s,\"rule\":%s%s%s,\"verdict\":\"%s\",\"reason\":\"%s\"}", fields,
            r->rule ? "\"" : "", r->rule ? J (ru, r->rule) : "null", r->rule ? "\"" : "", r->verdict,
            J (why, r->reason));
}

static void
ref_done (char *line, size_t cap, const char *id, const struct paudit_req *r, int st, uint64_t up, uint64_t down,
          uint64_t ms)
{
  char fields[3000];
  ref_fields (fields, sizeof fields, id, r);
  snprintf (line, cap,
            "{\"event\":\"egress.done\",%s,\"status\":%d,\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64
            ",\"duration_ms\":%" PRIu64 "}",
            fields, st, up, down, ms);
}

static int
same (const char *what, const char *id, const struct paudit_req *r, int st, uint64_t up, uint64_t down)
{
  char a[4096], b[4096];
  ref_decision (a, sizeof a, id, r);
  size_t n = paudit_format_decision (b, sizeof b, id, r);
  T_CHECK (strcmp (a, b) == 0, "%s: got %s, want %s", what, b, a);
  T_CHECK (n == strlen (a), "decision length");
  ref_done (a, sizeof a, id, r, st, up, down, 12345);
  n = paudit_format_done (b, sizeof b, id, r, st, up, down, 12345);
  T_CHECK (strcmp (a, b) == 0, "%s: got %s, want %s", what, b, a);
  T_CHECK (n == strlen (a), "done length");
  return 0;
}

int
main (void)
{
  struct paudit_req r = { "127.0.0.1:5555", "forward", "GET", "api.example.com", 443, "/v1/x",
                          "GET api.example.com/v1/*", "allow", "" };
  same ("plain", "abc", &r, 200, 10, 1024);
  same ("64-bit numbers", "abc", &r, -1, UINT64_MAX, 0);
  struct paudit_req e = { "c\"l\\i", "forward", "G\x01T", "h\x7f\xc3\xa9st", 0, "/p\"a\\t\th\n", NULL, "deny",
                          "bad \"request\"" };
  same ("escapes, null rule", "i\"d", &e, 403, 0, 0);
  struct paudit_req n = { NULL, NULL, NULL, NULL, -5, NULL, NULL, "deny", NULL };
  same ("NULL fields", NULL, &n, 0, 0, 0);
  /* truncation: long fields, with an escape straddling the cap */
  static char longp[5000], longh[2000], longr[1000];
  memset (longp, 'p', sizeof longp - 1);
  for (int i = 1090; i < 1110; i++)
    longp[i] = '"';
  memset (longh, 'h', sizeof longh - 1);
  longh[597] = '\x05';
  memset (longr, 'r', sizeof longr - 1);
  struct paudit_req t = { "c", "forward", "GET", longh, 80, longp, longr, "allow", longr };
  same ("caps", longr, &t, 200, 1, 2);
  for (int k = 1080; k < 1100; k++)
    {
      memset (longp, 'p', sizeof longp - 1);
      longp[k] = '\\';
      same ("escape at the path cap", "x", &t, 200, 1, 2);
    }
  return t_done ();
}
