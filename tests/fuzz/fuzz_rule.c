/* libFuzzer target: the egress rule grammar, credentials rules, rule lists,
 * and matching of the parsed rule against a request derived from the input. */
#include "egress_rule.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);
  if (!s)
    return 0;
  memcpy (s, data, size);
  s[size] = '\0';
  cr_error_t err = NULL;
  struct egress_rule *v = NULL;
  size_t n = 0;
  if (egress_rules_parse_list (s, &v, &n, &err) == 0)
    {
      for (size_t i = 0; i < n; i++)
        {
          egress_rule_names_private_ip (&v[i]);
          egress_rule_matches (&v[i], "GET", v[i].host, v[i].kind == EGRESS_HOST_WILDCARD ? EGRESS_HOST_NAME : v[i].kind,
                               v[i].port ? v[i].port : 443, v[i].path_glob ? v[i].path_glob : "/");
          egress_rule_matches (&v[i], NULL, v[i].host, v[i].kind, 443, NULL);
          if (v[i].path_glob)
            egress_glob_match (v[i].path_glob, s);
        }
      egress_rules_free (v, n);
    }
  cr_error_release (&err);
  struct egress_cred c;
  if (egress_cred_parse (s, &c, &err) == 0)
    egress_cred_free (&c);
  cr_error_release (&err);
  char out[EGRESS_PATH_MAX];
  enum egress_host_kind k;
  egress_host_normalize (s, size < 300 ? size : 300, out, sizeof out, &k);
  if (size && s[0] == '/')
    egress_path_normalize (s, size, out, sizeof out);
  egress_ip_in_cidr ("10.1.2.3", s);
  free (s);
  return 0;
}
