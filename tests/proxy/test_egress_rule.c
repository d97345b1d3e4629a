/* Rule grammar, normalisation and matching (SPEC §4). */
#include "egress_rule.h"
#include "t.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

static bool
parses (const char *s)
{
  struct egress_rule r;
  cr_error_t err = NULL;
  if (egress_rule_parse (s, &r, &err) < 0)
    {
      cr_error_release (&err);
      return false;
    }
  egress_rule_free (&r);
  return true;
}

static const char *
parse_err (const char *s)
{
  static char msg[512];
  struct egress_rule r;
  cr_error_t err = NULL;
  if (egress_rule_parse (s, &r, &err) == 0)
    {
      egress_rule_free (&r);
      return "(parsed)";
    }
  snprintf (msg, sizeof msg, "%s", err->msg);
  cr_error_release (&err);
  return msg;
}

/* Match a request against one rule text; host and path are raw (normalised here). */
static bool
m (const char *rule, const char *method, const char *host, int port, const char *path)
{
  struct egress_rule r;
  cr_error_t err = NULL;
  if (egress_rule_parse (rule, &r, &err) < 0)
    {
      fprintf (stderr, "rule %s: %s\n", rule, err->msg);
      cr_error_release (&err);
      return false;
    }
  char h[EGRESS_HOST_MAX], p[EGRESS_PATH_MAX];
  enum egress_host_kind k;
  bool ok = egress_host_normalize (host, strlen (host), h, sizeof h, &k) == 0
            && (path == NULL || egress_path_normalize (path, strlen (path), p, sizeof p) == 0)
            && egress_rule_matches (&r, method, h, k, port, path ? p : NULL);
  egress_rule_free (&r);
  return ok;
}

static const char *
norm_path (const char *in)
{
  static char out[EGRESS_PATH_MAX];
  if (egress_path_normalize (in, strlen (in), out, sizeof out) < 0)
    return "(invalid)";
  return out;
}

static const char *
norm_host (const char *in)
{
  static char out[EGRESS_HOST_MAX];
  enum egress_host_kind k;
  if (egress_host_normalize (in, strlen (in), out, sizeof out, &k) < 0)
    return "(invalid)";
  return out;
}

int
main (void)
{
  /* grammar */
  T_CHECK (parses ("api.example.com"), "plain host");
  T_CHECK (parses ("GET,POST api.example.com/v1/*"), "methods + glob");
  T_CHECK (parses ("* api.example.com:8443/**"), "star methods");
  T_CHECK (parses ("*.corp.example:8443"), "wildcard");
  T_CHECK (parses ("127.0.0.1:8080/ok/*"), "ipv4 literal");
  T_CHECK (parses ("[::1]:8080"), "ipv6 literal");
  T_CHECK (!parses (""), "empty");
  T_CHECK (!parses ("get api.example.com"), "lower-case method");
  T_CHECK (!parses ("GET,,POST host"), "empty method");
  T_CHECK (!parses ("host:0"), "port 0");
  T_CHECK (!parses ("host:65536"), "port too big");
  T_CHECK (!parses ("host:http"), "named port");
  T_CHECK (!parses ("user@host"), "userinfo");
  T_CHECK (!parses ("h\xc3\xa9llo.example"), "non-ASCII host (IDNA needs A-labels)");
  T_CHECK (parses ("xn--hllo-bpa.example"), "A-label host");
  T_CHECK (!parses ("host/a?b"), "query in glob");
  T_CHECK (!parses ("GET host extra"), "trailing junk");
  T_CHECK (!parses ("*.1.2.3.4"), "wildcard IP");
  T_CHECK (!parses ("-bad.example"), "bad label");
  T_CHECK (!parses ("host/%zz"), "bad escape in glob");
  T_CONTAINS (parse_err ("GET host:99999"), "host:99999");
  T_CONTAINS (parse_err ("get host"), "bad method");
  T_CONTAINS (parse_err ("GET bad_host!/x"), "bad host");

  struct egress_rule *v;
  size_t n;
  cr_error_t err = NULL;
  T_CHECK (egress_rules_parse_list ("GET,POST api.example.com/v1/*; *.corp.example:8443 ;;", &v, &n, &err) == 0, "list");
  T_CHECK (n == 2, "two rules, got %zu", n);
  if (n == 2)
    {
      T_STREQ (v[0].methods, ",GET,POST,");
      T_STREQ (v[0].host, "api.example.com");
      T_STREQ (v[0].path_glob, "/v1/*");
      T_CHECK (v[1].kind == EGRESS_HOST_WILDCARD && v[1].port == 8443, "wildcard rule");
      T_STREQ (v[1].text, "*.corp.example:8443");
    }
  egress_rules_free (v, n);
  T_CHECK (egress_rules_parse_list ("ok.example; GET bad host", &v, &n, &err) < 0, "bad list");
  T_CONTAINS (err ? err->msg : NULL, "GET bad host");
  cr_error_release (&err);

  /* matching */
  T_CHECK (m ("GET api.example.com/v1/*", "GET", "api.example.com", 80, "/v1/users"), "glob");
  T_CHECK (m ("GET api.example.com/v1/*", "GET", "API.Example.COM.", 443, "/v1/users"), "case + trailing dot");
  T_CHECK (!m ("GET api.example.com/v1/*", "GET", "api.example.com", 80, "/v1/users/1"), "* does not cross /");
  T_CHECK (m ("GET api.example.com/v1/**", "GET", "api.example.com", 80, "/v1/users/1"), "** crosses /");
  T_CHECK (!m ("GET api.example.com/v1/*", "POST", "api.example.com", 80, "/v1/users"), "method");
  T_CHECK (!m ("GET api.example.com/v1/*", "GET", "api.example.com", 8080, "/v1/users"), "default ports only");
  T_CHECK (m ("api.example.com:8080", "DELETE", "api.example.com", 8080, "/x"), "explicit port, any method");
  T_CHECK (!m ("api.example.com:8080", "GET", "api.example.com", 80, "/x"), "explicit port excludes 80");
  T_CHECK (m ("*.corp.example", "GET", "a.b.corp.example", 443, "/"), "wildcard deep");
  T_CHECK (!m ("*.corp.example", "GET", "corp.example", 443, "/"), "wildcard not apex");
  T_CHECK (!m ("*.corp.example", "GET", "evilcorp.example", 443, "/"), "wildcard label boundary");
  T_CHECK (!m ("GET api.example.com/v1/*", "GET", "api.example.com", 80, "/v1/../admin"), "dot-dot resolved");
  T_CHECK (!m ("GET api.example.com/v1/*", "GET", "api.example.com", 80, "/v1/%2e%2e/admin"), "encoded dot-dot");
  T_CHECK (m ("GET api.example.com/v1/*", "GET", "api.example.com", 80, "/v1/%75sers"), "unreserved decoded");
  T_CHECK (m ("GET 127.0.0.1:8080/ok/*", "GET", "0x7f.1", 8080, "/ok/x"), "IPv4 spelling normalised");
  T_CHECK (m ("GET 127.0.0.1:8080/ok/*", "GET", "2130706433", 8080, "/ok/x"), "IPv4 integer spelling");
  T_CHECK (m ("[::1]:8080", "GET", "[0:0::1]", 8080, "/"), "IPv6 canonical");
  T_CHECK (m ("127.0.0.1:8080", "GET", "[::ffff:127.0.0.1]", 8080, "/"), "v4-mapped is v4");
  T_CHECK (m ("api.example.com:443", NULL, "api.example.com", 443, NULL), "tunnel unrestricted");
  T_CHECK (!m ("GET api.example.com", NULL, "api.example.com", 443, NULL), "tunnel vs method-restricted");
  T_CHECK (!m ("api.example.com/v1/*", NULL, "api.example.com", 443, NULL), "tunnel vs path-restricted");
  T_CHECK (m ("CONNECT api.example.com", NULL, "api.example.com", 443, NULL), "tunnel with CONNECT");

  /* normalisation */
  T_STREQ (norm_path ("/a/./b/../c"), "/a/c");
  T_STREQ (norm_path ("/a//b"), "/a//b");
  T_STREQ (norm_path ("/../../x"), "/x");
  T_STREQ (norm_path ("/a/.."), "/");
  T_STREQ (norm_path ("/%7euser/%2f"), "/~user/%2F");
  T_STREQ (norm_path ("/a%"), "(invalid)");
  T_STREQ (norm_path ("/a%4"), "(invalid)");
  T_STREQ (norm_path ("/a b"), "(invalid)");
  T_STREQ (norm_path ("a"), "(invalid)");
  T_STREQ (norm_host ("Example.COM."), "example.com");
  T_STREQ (norm_host ("017700000001"), "127.0.0.1");
  T_STREQ (norm_host ("1.2.3.999"), "(invalid)");
  T_STREQ (norm_host ("exa mple.com"), "(invalid)");
  T_STREQ (norm_host ("[fd00:ec2:0::254]"), "fd00:ec2::254");

  /* SSRF ranges */
  T_CHECK (egress_ip_text_is_private ("169.254.169.254"), "metadata v4");
  T_CHECK (egress_ip_text_is_private ("fd00:ec2::254"), "metadata v6");
  T_CHECK (egress_ip_text_is_private ("127.0.0.2"), "loopback");
  T_CHECK (egress_ip_text_is_private ("10.1.2.3"), "rfc1918");
  T_CHECK (egress_ip_text_is_private ("172.31.0.1"), "rfc1918 172");
  T_CHECK (!egress_ip_text_is_private ("172.32.0.1"), "not private 172.32");
  T_CHECK (egress_ip_text_is_private ("224.0.0.1"), "multicast");
  T_CHECK (egress_ip_text_is_private ("::ffff:10.0.0.1"), "mapped private");
  T_CHECK (egress_ip_text_is_private ("fe80::1"), "link-local v6");
  T_CHECK (!egress_ip_text_is_private ("93.184.216.34"), "public v4");
  T_CHECK (!egress_ip_text_is_private ("2606:2800:220:1::1"), "public v6");
  struct egress_rule r;
  T_CHECK (egress_rule_parse ("GET 127.0.0.1:8080/ok/*", &r, &err) == 0, "parse");
  T_CHECK (egress_rule_names_private_ip (&r), "names private ip");
  egress_rule_free (&r);
  T_CHECK (egress_rule_parse ("localhost:8080", &r, &err) == 0, "parse");
  T_CHECK (!egress_rule_names_private_ip (&r), "a name is not an IP literal");
  egress_rule_free (&r);
  T_CHECK (egress_ip_in_cidr ("127.0.0.1", "127.0.0.0/8") == 1, "cidr v4");
  T_CHECK (egress_ip_in_cidr ("::1", "::1/128") == 1, "cidr v6");
  T_CHECK (egress_ip_in_cidr ("10.0.0.1", "127.0.0.0/8") == 0, "cidr miss");
  T_CHECK (egress_ip_in_cidr ("10.0.0.1", "bogus/8") == -1, "cidr bad");
  T_CHECK (egress_ip_in_cidr ("10.0.0.1", "10.0.0.0/+8") == -1 && egress_ip_in_cidr ("10.0.0.1", "10.0.0.0/") == -1
               && egress_ip_in_cidr ("10.0.0.1", "10.0.0.0/0008") == -1, "cidr prefix must be plain digits");
  T_CHECK (egress_ip_in_cidr ("192.0.2.7", "0.0.0.0/0") == 1 && egress_ip_in_cidr ("192.0.2.7", "::/0") == 0, "cidr /0, family");
  T_CHECK (egress_ip_in_cidr ("10.1.3.255", "10.1.2.0/23") == 1 && egress_ip_in_cidr ("10.1.4.0", "10.1.2.0/23") == 0, "cidr /23");

  /* credentials */
  struct egress_cred c;
  T_CHECK (egress_cred_parse ("gh@GET api.github.com/repos/**=Authorization", &c, &err) == 0, "cred");
  T_STREQ (c.name, "gh");
  T_STREQ (c.header, "Authorization");
  T_STREQ (c.rule.path_glob, "/repos/**");
  egress_cred_free (&c);
  T_CHECK (egress_cred_parse ("gh api.github.com", &c, &err) < 0, "cred bad");
  cr_error_release (&err);
  return t_done ();
}
