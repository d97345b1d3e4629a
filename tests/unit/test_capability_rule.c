/* capsule/capability.NAME grammar (lib/capability_rule.h). */
#include "lib/capability_rule.h"
#include "t.h"

#include <stdlib.h>

static const char *
parse_err (const char *name, const char *v)
{
  static char msg[1024];
  struct capability_rule r;
  cr_error_t err = NULL;
  if (capability_rule_parse (name, v, &r, &err) == 0)
    {
      capability_rule_free (&r);
      return "(parsed)";
    }
  snprintf (msg, sizeof msg, "%s", err->msg);
  cr_error_release (&err);
  return msg;
}

static bool
matches (const char *v, const char *method, const char *host, int port, const char *path)
{
  struct capability_rule r;
  cr_error_t err = NULL;
  if (capability_rule_parse ("t", v, &r, &err) < 0)
    {
      fprintf (stderr, "unexpected parse error: %s\n", err->msg);
      cr_error_release (&err);
      return false;
    }
  char h[EGRESS_HOST_MAX], p[EGRESS_PATH_MAX];
  enum egress_host_kind k;
  bool ok = egress_host_normalize (host, strlen (host), h, sizeof h, &k) == 0
            && egress_path_normalize (path, strlen (path), p, sizeof p) == 0
            && capability_rule_matches (&r, method, h, k, port, p);
  capability_rule_free (&r);
  return ok;
}

int
main (void)
{
  struct capability_rule r;
  cr_error_t err = NULL;

  /* full form */
  T_CHECK (capability_rule_parse ("send_email", "  POST api.mail.example:8443/v1/send/* rate=10/1h confirm=new:to ",
                                  &r, &err) == 0, "%s", err ? err->msg : "");
  T_STREQ (r.name, "send_email");
  T_STREQ (r.value, "POST api.mail.example:8443/v1/send/* rate=10/1h confirm=new:to");
  T_STREQ (r.rule.text, "capability.send_email");
  T_STREQ (r.rule.host, "api.mail.example");
  T_CHECK (r.rule.port == 8443, "port %d", r.rule.port);
  T_STREQ (r.rule.path_glob, "/v1/send/*");
  T_CHECK (r.rate_n == 10 && r.rate_period_s == 3600, "rate %llu/%llu", (unsigned long long) r.rate_n,
           (unsigned long long) r.rate_period_s);
  T_CHECK (r.confirm == CAPABILITY_CONFIRM_NEW, "confirm %d", r.confirm);
  T_STREQ (r.confirm_field, "to");
  capability_rule_free (&r);

  /* minimal form: no rate, no confirm; options in any order */
  T_CHECK (capability_rule_parse ("x", "GET 127.0.0.1:8080/ok", &r, &err) == 0, "%s", err ? err->msg : "");
  T_CHECK (r.rate_n == 0 && r.confirm == CAPABILITY_CONFIRM_NONE && r.confirm_field == NULL, "defaults");
  capability_rule_free (&r);
  T_CHECK (capability_rule_parse ("x", "PUT h.example/a confirm=always rate=3/m", &r, &err) == 0, "%s",
           err ? err->msg : "");
  T_CHECK (r.confirm == CAPABILITY_CONFIRM_ALWAYS && r.rate_n == 3 && r.rate_period_s == 60, "order");
  capability_rule_free (&r);
  T_CHECK (capability_rule_parse ("x", "POST h.example/a confirm=new:payee.account", &r, &err) == 0, "%s",
           err ? err->msg : "");
  T_STREQ (r.confirm_field, "payee.account");
  capability_rule_free (&r);

  /* periods */
  uint64_t s = 0;
  T_CHECK (capability_period_parse ("s", &s) == 0 && s == 1, "s");
  T_CHECK (capability_period_parse ("m", &s) == 0 && s == 60, "m");
  T_CHECK (capability_period_parse ("1h", &s) == 0 && s == 3600, "1h");
  T_CHECK (capability_period_parse ("30m", &s) == 0 && s == 1800, "30m");
  T_CHECK (capability_period_parse ("7d", &s) == 0 && s == 7 * 86400, "7d");
  T_CHECK (capability_period_parse ("366d", &s) == 0, "366d");
  T_CHECK (capability_period_parse ("367d", &s) < 0, "367d");
  T_CHECK (capability_period_parse ("0h", &s) < 0, "0h");
  T_CHECK (capability_period_parse ("1w", &s) < 0, "w");
  T_CHECK (capability_period_parse ("", &s) < 0, "empty");
  T_CHECK (capability_period_parse ("1hh", &s) < 0, "hh");
  T_CHECK (capability_period_parse ("-1h", &s) < 0, "-1h");

  /* errors name the key, the value and the bad part */
  const char *m = parse_err ("mail", "POST api.example/x rate=0/h");
  T_CONTAINS (m, "capsule/capability.mail");
  T_CONTAINS (m, "rate=0/h");
  T_CONTAINS (m, "rate count");
  T_CONTAINS (parse_err ("mail", "POST api.example/x rate=5"), "N/PERIOD");
  T_CONTAINS (parse_err ("mail", "POST api.example/x rate=5/fortnight"), "rate period");
  T_CONTAINS (parse_err ("mail", "POST api.example/x rate=5/h rate=6/h"), "twice");
  T_CONTAINS (parse_err ("mail", "POST api.example/x confirm=sometimes"), "confirm must be");
  T_CONTAINS (parse_err ("mail", "POST api.example/x confirm=new:"), "confirm=new:FIELD");
  T_CONTAINS (parse_err ("mail", "POST api.example/x confirm=new:a..b"), "confirm=new:FIELD");
  T_CONTAINS (parse_err ("mail", "POST api.example/x confirm=always confirm=always"), "twice");
  T_CONTAINS (parse_err ("mail", "POST api.example/x burst=3"), "unknown option");
  T_CONTAINS (parse_err ("mail", "POST"), "expected `METHOD");
  T_CONTAINS (parse_err ("mail", ""), "expected `METHOD");
  T_CONTAINS (parse_err ("mail", "post api.example/x"), "METHOD `post`");
  m = parse_err ("mail", "POST bad_host!/x");
  T_CONTAINS (m, "capsule/capability.mail");
  T_CONTAINS (m, "bad_host!");
  T_CONTAINS (parse_err ("bad name", "GET h.example/x"), "capability name");
  T_CONTAINS (parse_err ("", "GET h.example/x"), "capability name");

  /* matching: egress-rule semantics, never a tunnel */
  T_CHECK (matches ("POST 127.0.0.1:8080/v1/*", "POST", "127.0.0.1", 8080, "/v1/send"), "match");
  T_CHECK (!matches ("POST 127.0.0.1:8080/v1/*", "GET", "127.0.0.1", 8080, "/v1/send"), "method");
  T_CHECK (!matches ("POST 127.0.0.1:8080/v1/*", "POST", "127.0.0.1", 8081, "/v1/send"), "port");
  T_CHECK (!matches ("POST 127.0.0.1:8080/v1/*", "POST", "127.0.0.1", 8080, "/v1/a/b"), "* does not cross /");
  T_CHECK (matches ("POST 127.0.0.1:8080/v1/**", "POST", "127.0.0.1", 8080, "/v1/a/b"), "** crosses /");
  T_CHECK (!matches ("POST 127.0.0.1:8080/v1/*", "POST", "127.0.0.1", 8080, "/v1/../admin"), "dot segments");
  T_CHECK (matches ("* *.example.com/x", "DELETE", "a.b.example.com", 443, "/x"), "wildcard");
  T_CHECK (!matches ("* *.example.com/x", "DELETE", "example.com", 443, "/x"), "wildcard excludes apex");
  T_CHECK (capability_rule_parse ("t", "GET h.example/x", &r, &err) == 0, "parse");
  T_CHECK (!capability_rule_matches (&r, NULL, "h.example", EGRESS_HOST_NAME, 443, NULL), "tunnel");
  capability_rule_free (&r);
  return t_done ();
}
