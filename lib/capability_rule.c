/* Parser and matcher for brokered capability rules (capability_rule.h). */
#include "capability_rule.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CAP_RATE_MAX 1000000000ULL
#define CAP_PERIOD_MAX (366ULL * 86400)

bool
capability_name_valid (const char *name)
{
  size_t l = strlen (name);
  if (l == 0 || l > 64)
    return false;
  for (size_t i = 0; i < l; i++)
    if (!(isalnum ((unsigned char) name[i]) || name[i] == '_' || name[i] == '-'))
      return false;
  return true;
}

int
capability_period_parse (const char *s, uint64_t *seconds)
{
  uint64_t k = 1;
  if (isdigit ((unsigned char) *s))
    {
      char *end;
      errno = 0;
      unsigned long long v = strtoull (s, &end, 10);
      if (errno || v == 0 || v > CAP_PERIOD_MAX)
        return -1;
      k = v;
      s = end;
    }
  static const struct
  {
    char unit;
    uint64_t secs;
  } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
  if (s[0] == '\0' || s[1] != '\0')
    return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (s[0] == units[i].unit)
      {
        if (k > CAP_PERIOD_MAX / units[i].secs)
          return -1;
        *seconds = k * units[i].secs;
        return 0;
      }
  return -1;
}

static bool
field_valid (const char *f)
{
  size_t l = strlen (f);
  if (l == 0 || l > 128 || f[0] == '.' || f[l - 1] == '.' || strstr (f, ".."))
    return false;
  for (size_t i = 0; i < l; i++)
    if (!(isalnum ((unsigned char) f[i]) || f[i] == '_' || f[i] == '.' || f[i] == '-'))
      return false;
  return true;
}

/* One "key=value" option into r; returns a static reason on error. */
static const char *
parse_option (char *opt, struct capability_rule *r, bool *seen_rate, bool *seen_confirm)
{
  if (strncmp (opt, "rate=", 5) == 0)
    {
      if (*seen_rate)
        return "rate= given twice";
      *seen_rate = true;
      char *slash = strchr (opt + 5, '/');
      if (slash == NULL || slash == opt + 5)
        return "rate must be N/PERIOD, e.g. rate=10/1h";
      *slash = '\0';
      char *end;
      errno = 0;
      unsigned long long n = strtoull (opt + 5, &end, 10);
      if (errno || *end || !isdigit ((unsigned char) opt[5]) || n == 0 || n > CAP_RATE_MAX)
        return "rate count must be an integer from 1 to 1000000000";
      if (capability_period_parse (slash + 1, &r->rate_period_s) < 0)
        return "rate period must be [COUNT]s|m|h|d, e.g. 30s, m, 1h, 7d (at most 366d)";
      r->rate_n = n;
      return NULL;
    }
  if (strncmp (opt, "confirm=", 8) == 0)
    {
      if (*seen_confirm)
        return "confirm= given twice";
      *seen_confirm = true;
      const char *v = opt + 8;
      if (strcmp (v, "always") == 0)
        {
          r->confirm = CAPABILITY_CONFIRM_ALWAYS;
          return NULL;
        }
      if (strncmp (v, "new:", 4) == 0)
        {
          if (!field_valid (v + 4))
            return "confirm=new:FIELD needs a JSON field name (1..128 of A-Z a-z 0-9 _ - and '.' between names)";
          r->confirm = CAPABILITY_CONFIRM_NEW;
          r->confirm_field = xstrdup (v + 4);
          return NULL;
        }
      return "confirm must be `always` or `new:FIELD`";
    }
  return "unknown option (expected rate=N/PERIOD or confirm=always|new:FIELD)";
}

int
capability_rule_parse (const char *name, const char *value, struct capability_rule *out, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  if (!capability_name_valid (name))
    return cr_error (err, EINVAL, "annotation capsule/capability.%s: capability name: expected 1 to 64 characters of "
                                  "A-Z a-z 0-9 _ -", name);
  cleanup_free char *copy = xstrdup (value);
  char *save = NULL;
  char *method = strtok_r (copy, " \t", &save);
  char *target = method ? strtok_r (NULL, " \t", &save) : NULL;
  if (method == NULL || target == NULL)
    return cr_error (err, EINVAL, "annotation capsule/capability.%s: `%s`: expected `METHOD host[:port]/path "
                                  "[rate=N/PERIOD] [confirm=always|new:FIELD]`", name, value);
  struct capability_rule r = { 0 };
  bool seen_rate = false, seen_confirm = false;
  for (char *opt = strtok_r (NULL, " \t", &save); opt; opt = strtok_r (NULL, " \t", &save))
    {
      cleanup_free char *shown = xstrdup (opt);
      const char *why = parse_option (opt, &r, &seen_rate, &seen_confirm);
      if (why)
        {
          free (r.confirm_field);
          return cr_error (err, EINVAL, "annotation capsule/capability.%s: `%s`: `%s`: %s", name, value, shown, why);
        }
    }
  if (strcmp (method, "*") != 0)
    for (const char *p = method; *p; p++)
      if (!(isupper ((unsigned char) *p) || *p == ','))
        {
          free (r.confirm_field);
          return cr_error (err, EINVAL, "annotation capsule/capability.%s: `%s`: METHOD `%s`: expected upper-case "
                                        "tokens (GET, POST,PUT) or *", name, value, method);
        }
  cleanup_free char *rt = xasprintf ("%s %s", method, target);
  if (egress_rule_parse (rt, &r.rule, err) < 0)
    {
      free (r.confirm_field);
      return cr_error_wrap (err, "annotation capsule/capability.%s: `%s`", name, value);
    }
  free (r.rule.text);
  r.rule.text = xasprintf ("capability.%s", name);
  r.name = xstrdup (name);
  /* trimmed, single-spaced copy for audit and inspect */
  r.value = xstrdup (value);
  char *v = r.value;
  while (*v == ' ' || *v == '\t')
    v++;
  memmove (r.value, v, strlen (v) + 1);
  size_t l = strlen (r.value);
  while (l > 0 && (r.value[l - 1] == ' ' || r.value[l - 1] == '\t'))
    r.value[--l] = '\0';
  *out = r;
  return 0;
}

void
capability_rule_free (struct capability_rule *r)
{
  if (r == NULL)
    return;
  free (r->name);
  free (r->value);
  free (r->confirm_field);
  egress_rule_free (&r->rule);
  memset (r, 0, sizeof *r);
}

bool
capability_rule_matches (const struct capability_rule *r, const char *method, const char *host,
                         enum egress_host_kind kind, int port, const char *path)
{
  /* A capability is an HTTP request: never a blind tunnel. */
  if (method == NULL || path == NULL)
    return false;
  return egress_rule_matches (&r->rule, method, host, kind, port, path);
}
