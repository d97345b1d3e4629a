/* Micro-benchmark of the proxy's per-request audit work (not part of ctest):
 * a decision line (audit_append) and a completion line (deferred), 14
 * requests per held batch like the event loop under wrk -c32, into a file in
 * DIR (tmpfs: the disk is not what is measured).  Prints user and system
 * CPU per request.  Build (from the source tree, after building capsule-proxy in B):
 *   gcc -O2 -D_GNU_SOURCE -I lib -I hooks/proxy tests/bench/proxy/audit_micro.c \
 *     B/hooks/proxy/libcapsule_proxy_core.a $(pkg-config --libs yajl libssl libcrypto) -o audit_micro
 * Usage: audit_micro DIR [N] [ref] ("ref": format with snprintf as before);
 * AUDIT_MICRO_KEEP=1 keeps DIR/audit-micro.jsonl. */
#include "proxy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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

static double
tv_us (struct timeval tv)
{
  return tv.tv_sec * 1e6 + tv.tv_usec;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    return 2;
  long n = argc > 2 ? atol (argv[2]) : 200000;
  bool ref = argc > 3 && strcmp (argv[3], "ref") == 0;
  char path[512];
  snprintf (path, sizeof path, "%s/audit-micro.jsonl", argv[1]);
  unlink (path);
  cr_error_t err = NULL;
  struct audit_log *log = NULL;
  if (audit_open (path, &log, &err) < 0)
    return fprintf (stderr, "%s\n", err->msg), 1;
  struct paudit_req r = { "127.0.0.1:43210", "forward", "GET", "127.0.0.1", 8080, "/ok/1k",
                          "GET 127.0.0.1:8080/ok/*", "allow", "" };
  struct rusage a, b;
  getrusage (RUSAGE_SELF, &a);
  char line[4096];
  for (long i = 0; i < n; i++)
    {
      if (i % 14 == 0)
        audit_hold (log, true);
      if (ref)
        {
          char f[3000], ru[600], why[400];
          ref_fields (f, sizeof f, "bench", &r);
          snprintf (line, sizeof line, "{\"event\":\"egress\",%s,\"rule\":\"%s\",\"verdict\":\"%s\",\"reason\":\"%s\"}",
                    f, J (ru, r.rule), r.verdict, J (why, r.reason));
        }
      else
        paudit_format_decision (line, sizeof line, "bench", &r);
      if (audit_append (log, line, &err) < 0)
        return fprintf (stderr, "%s\n", err->msg), 1;
      if (ref)
        {
          char f[3000];
          ref_fields (f, sizeof f, "bench", &r);
          snprintf (line, sizeof line,
                    "{\"event\":\"egress.done\",%s,\"status\":%d,\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64
                    ",\"duration_ms\":%" PRIu64 "}",
                    f, 200, (uint64_t) 97, (uint64_t) 1250, (uint64_t) 0);
        }
      else
        paudit_format_done (line, sizeof line, "bench", &r, 200, 97, 1250, 0);
      if (audit_append_deferred (log, line, &err) < 0)
        return fprintf (stderr, "%s\n", err->msg), 1;
      if (i % 14 == 13)
        audit_hold (log, false);
    }
  audit_hold (log, false);
  getrusage (RUSAGE_SELF, &b);
  audit_close (log);
  printf ("%s: %.2f us user + %.2f us sys per request (2 lines)\n", ref ? "snprintf" : "hand-built",
          (tv_us (b.ru_utime) - tv_us (a.ru_utime)) / n, (tv_us (b.ru_stime) - tv_us (a.ru_stime)) / n);
  if (getenv ("AUDIT_MICRO_KEEP") == NULL)
    unlink (path);
  return 0;
}
