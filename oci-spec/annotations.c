/* The capsule annotation schema as one table: key, value parser, where the
 * result goes.  See annotations.h for the bounds. */
#include "annotations.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/util.h"
#include "config.h"

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

/* ---- value parsers ---------------------------------------------------- */

static int
parse_u64 (const char **p, uint64_t *out)
{
  const char *s = *p;
  if (!isdigit ((unsigned char) *s))
    return -1;
  uint64_t v = 0;
  for (; isdigit ((unsigned char) *s); s++)
    {
      uint64_t d = (uint64_t) (*s - '0');
      if (v > (UINT64_MAX - d) / 10)
        return -1;
      v = v * 10 + d;
    }
  *p = s;
  *out = v;
  return 0;
}

int
capsule_parse_size (const char *s, uint64_t *out, const char **why)
{
  static const struct { const char *sfx; uint64_t mul; } sfx[] = {
    { "", 1 },          { "k", 1000ULL },   { "K", 1000ULL },      { "Ki", KIB },
    { "M", 1000000ULL }, { "Mi", MIB },     { "G", 1000000000ULL }, { "Gi", GIB },
    { "T", 1000000000000ULL }, { "Ti", TIB },
  };
  *why = "expected a size like 256Mi (suffixes k, K, Ki, M, Mi, G, Gi, T, Ti)";
  const char *p = s;
  uint64_t v;
  if (parse_u64 (&p, &v) < 0)
    return -1;
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
    if (strcmp (p, sfx[i].sfx) == 0)
      {
        if (v > UINT64_MAX / sfx[i].mul)
          {
            *why = "size out of range";
            return -1;
          }
        *out = v * sfx[i].mul;
        return 0;
      }
  return -1;
}

int
capsule_parse_duration (const char *s, uint64_t *secs, const char **why)
{
  *why = "expected a duration like 15m or 1h30m (units s, m, h, d)";
  const char *p = s;
  uint64_t total = 0;
  if (*p == '\0')
    return -1;
  while (*p)
    {
      uint64_t v, mul;
      if (parse_u64 (&p, &v) < 0)
        return -1;
      switch (*p++)
        {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        default: return -1;
        }
      if (v > (UINT64_MAX - total) / mul)
        {
          *why = "duration out of range";
          return -1;
        }
      total += v * mul;
    }
  *secs = total;
  return 0;
}

int
capsule_parse_cpu (const char *s, uint32_t *milli, const char **why)
{
  *why = "expected a CPU count like 0.5, 2 or 500m";
  const char *p = s;
  uint64_t whole, frac = 0;
  if (parse_u64 (&p, &whole) < 0)
    return -1;
  if (*p == 'm' && p[1] == '\0')
    {
      if (whole > UINT32_MAX)
        return -1;
      *milli = (uint32_t) whole;
      return 0;
    }
  if (*p == '.')
    {
      p++;
      int digits = 0;
      while (isdigit ((unsigned char) *p))
        {
          if (++digits > 3)
            {
              *why = "at most 3 decimals";
              return -1;
            }
          frac = frac * 10 + (uint64_t) (*p++ - '0');
        }
      if (digits == 0)
        return -1;
      for (; digits < 3; digits++)
        frac *= 10;
    }
  if (*p != '\0' || whole > 4000000)
    return -1;
  *milli = (uint32_t) (whole * 1000 + frac);
  return 0;
}

int
capsule_parse_limits (const char *s, struct capsule_limits *out, const char **why)
{
  memset (out, 0, sizeof *out);
  cleanup_free char *copy = xstrdup (s);
  char *save = NULL;
  bool any = false;
  for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save))
    {
      while (isspace ((unsigned char) *item))
        item++;
      char *end = item + strlen (item);
      while (end > item && isspace ((unsigned char) end[-1]))
        *--end = '\0';
      char *eq = strchr (item, '=');
      if (eq == NULL || eq == item || eq[1] == '\0')
        {
          *why = "expected key=value items (cpu, memory, pids, gpu) separated by commas";
          return -1;
        }
      *eq = '\0';
      const char *k = item, *v = eq + 1;
      any = true;
      if (strcmp (k, "cpu") == 0)
        {
          if (out->has_cpu)
            goto dup;
          if (capsule_parse_cpu (v, &out->cpu_milli, why) < 0)
            return -1;
          if (out->cpu_milli < 10 || out->cpu_milli > 1024000)
            {
              *why = "cpu must be between 0.01 and 1024";
              return -1;
            }
          out->has_cpu = true;
        }
      else if (strcmp (k, "memory") == 0)
        {
          if (out->has_memory)
            goto dup;
          if (capsule_parse_size (v, &out->memory, why) < 0)
            return -1;
          if (out->memory < 4 * MIB || out->memory > 16 * TIB)
            {
              *why = "memory must be between 4Mi and 16Ti";
              return -1;
            }
          out->has_memory = true;
        }
      else if (strcmp (k, "pids") == 0)
        {
          if (out->has_pids)
            goto dup;
          uint64_t n;
          const char *p = v;
          if (parse_u64 (&p, &n) < 0 || *p != '\0' || n < 1 || n > 4194304)
            {
              *why = "pids must be an integer between 1 and 4194304";
              return -1;
            }
          out->pids = (int64_t) n;
          out->has_pids = true;
        }
      else if (strcmp (k, "gpu") == 0)
        {
          if (out->has_gpu)
            goto dup;
          uint64_t n;
          const char *p = v;
          if (parse_u64 (&p, &n) < 0 || *p != '\0' || n > 64)
            {
              *why = "gpu must be an integer between 0 and 64";
              return -1;
            }
          out->gpu = (uint32_t) n;
          out->has_gpu = true;
        }
      else
        {
          *why = "unknown limit (known: cpu, memory, pids, gpu)";
          return -1;
        }
      continue;
    dup:
      *why = "a limit is given twice";
      return -1;
    }
  if (!any)
    {
      *why = "expected key=value items (cpu, memory, pids, gpu) separated by commas";
      return -1;
    }
  return 0;
}

static bool
path_under (const char *p, const char *dir)
{
  size_t n = strlen (dir);
  return strncmp (p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int
capsule_parse_writable (const char *s, char ***out, size_t *n, const char **why)
{
  char **v = NULL;
  size_t len = 0;
  cleanup_free char *copy = xstrdup (s);
  char *save = NULL;
  int ret = -1;
  for (char *item = strtok_r (copy, ";", &save); item; item = strtok_r (NULL, ";", &save))
    {
      while (isspace ((unsigned char) *item))
        item++;
      char *end = item + strlen (item);
      while (end > item && isspace ((unsigned char) end[-1]))
        *--end = '\0';
      if (*item == '\0')
        continue;
      /* Drop one trailing slash so "/workspace/" and "/workspace" are the same path. */
      if (end - item > 1 && end[-1] == '/')
        *--end = '\0';
      if (item[0] != '/')
        {
          *why = "paths must be absolute";
          goto out;
        }
      if (strcmp (item, "/") == 0)
        {
          *why = "the root directory cannot be writable (read-only rootfs)";
          goto out;
        }
      if (strstr (item, "//") || strstr (item, "/./") || strstr (item, "/../") || (end - item >= 2 && strcmp (end - 2, "/.") == 0)
          || (end - item >= 3 && strcmp (end - 3, "/..") == 0))
        {
          *why = "paths must be normalised (no //, . or .. components)";
          goto out;
        }
      if (path_under (item, "/proc") || path_under (item, "/sys") || path_under (item, "/dev"))
        {
          *why = "paths under /proc, /sys and /dev cannot be writable";
          goto out;
        }
      if (strlen (item) > 1024)
        {
          *why = "path too long";
          goto out;
        }
      for (size_t i = 0; i < len; i++)
        if (strcmp (v[i], item) == 0)
          {
            *why = "a path is given twice";
            goto out;
          }
      if (len == CAPSULE_MAX_WRITABLE)
        {
          *why = "at most 16 writable paths";
          goto out;
        }
      v = realloc (v, (len + 1) * sizeof *v);
      if (v == NULL)
        abort ();
      v[len++] = xstrdup (item);
    }
  if (len == 0)
    {
      *why = "expected ';'-separated absolute paths";
      goto out;
    }
  *out = steal_pointer (&v);
  *n = len;
  ret = 0;
out:
  for (size_t i = 0; v && i < len; i++)
    free (v[i]);
  free (v);
  return ret;
}

char *
capsule_format_size (uint64_t b)
{
  static const struct { const char *sfx; uint64_t mul; } u[] = { { "Ti", TIB }, { "Gi", GIB }, { "Mi", MIB }, { "Ki", KIB } };
  for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
    if (b >= u[i].mul && b % u[i].mul == 0)
      return xasprintf ("%llu%s", (unsigned long long) (b / u[i].mul), u[i].sfx);
  return xasprintf ("%llu", (unsigned long long) b);
}

/* ---- the table -------------------------------------------------------- */

static bool
chars_ok (const char *s, size_t max, const char *extra)
{
  size_t n = strlen (s);
  if (n == 0 || n > max)
    return false;
  for (; *s; s++)
    if (!isalnum ((unsigned char) *s) && strchr (extra, *s) == NULL)
      return false;
  return true;
}

typedef int (*ann_fn) (const char *v, struct capsule_annotations *a, void *field, const char **why);

static int
ann_ident (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) a;
  if (!chars_ok (v, 128, "._:@+-"))
    {
      *why = "expected 1 to 128 characters of A-Z a-z 0-9 . _ : @ + -";
      return -1;
    }
  *(char **) field = xstrdup (v);
  return 0;
}

static int
ann_lease (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) a;
  if (!chars_ok (v, 4096, "-_."))
    {
      *why = "expected a lease token (base64url and '.', at most 4096 characters)";
      return -1;
    }
  *(char **) field = xstrdup (v);
  return 0;
}

static int
ann_text (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) a;
  bool blank = true;
  for (const char *p = v; *p; p++)
    {
      if ((unsigned char) *p < 0x20 || *p == 0x7f)
        {
          *why = "control characters are not allowed";
          return -1;
        }
      if (!isspace ((unsigned char) *p) && *p != ';')
        blank = false;
    }
  if (blank)
    {
      *why = "expected a non-empty value";
      return -1;
    }
  if (strlen (v) > 65536)
    {
      *why = "value longer than 65536 characters";
      return -1;
    }
  *(char **) field = xstrdup (v);
  return 0;
}

static int
ann_writable (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) field;
  if (capsule_parse_writable (v, &a->writable, &a->writable_len, why) < 0)
    return -1;
  a->has_writable = true;
  return 0;
}

static int
ann_fs_size (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) field;
  if (capsule_parse_size (v, &a->fs_size, why) < 0)
    return -1;
  if (a->fs_size < MIB || a->fs_size > TIB)
    {
      *why = "must be between 1Mi and 1Ti";
      return -1;
    }
  a->has_fs_size = true;
  return 0;
}

static int
ann_timeout (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) field;
  if (capsule_parse_duration (v, &a->timeout_s, why) < 0)
    return -1;
  if (a->timeout_s < 1 || a->timeout_s > 30 * 86400)
    {
      *why = "must be between 1s and 30d";
      return -1;
    }
  a->has_timeout = true;
  return 0;
}

static int
ann_concurrency (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) field;
  *why = "expected group=N (group: 1 to 64 characters of A-Z a-z 0-9 . _ -, N: 1 to 100000)";
  const char *eq = strchr (v, '=');
  if (eq == NULL)
    return -1;
  cleanup_free char *group = strndup (v, (size_t) (eq - v));
  if (group == NULL || !chars_ok (group, 64, "._-") || group[0] == '.')
    return -1;
  const char *p = eq + 1;
  uint64_t n;
  if (parse_u64 (&p, &n) < 0 || *p != '\0' || n < 1 || n > 100000)
    return -1;
  a->concurrency_group = steal_pointer (&group);
  a->concurrency_max = (uint32_t) n;
  a->has_concurrency = true;
  return 0;
}

static int
ann_limits (const char *v, struct capsule_annotations *a, void *field, const char **why)
{
  (void) field;
  if (capsule_parse_limits (v, &a->limits, why) < 0)
    return -1;
  a->has_limits = true;
  return 0;
}

#define F(m) offsetof (struct capsule_annotations, m)
static const struct
{
  const char *key; /* after "capsule/" */
  ann_fn fn;
  size_t off;
} ann_table[] = {
  { "profile", ann_ident, F (profile) },
  { "agent", ann_ident, F (agent) },
  { "version", ann_ident, F (version) },
  { "session", ann_ident, F (session) },
  { "lease", ann_lease, F (lease) },
  { "egress.allow", ann_text, F (egress_allow) },
  { "egress.gateway", ann_text, F (egress_gateway) },
  { "egress.tls-pin", ann_text, F (egress_tls_pin) },
  { "dns.pin", ann_text, F (dns_pin) },
  { "credentials", ann_text, F (credentials) },
  { "fs.writable", ann_writable, 0 },
  { "fs.size", ann_fs_size, 0 },
  { "timeout", ann_timeout, 0 },
  { "concurrency", ann_concurrency, 0 },
  { "limits", ann_limits, 0 },
};
#undef F

static int
parse_one (const char *key, const char *value, struct capsule_annotations *a, cr_error_t *err)
{
  const char *k = key + strlen (CAPSULE_ANNOTATION_PREFIX);
  const char *why = "invalid value";
  if (strncmp (k, "capability.", 11) == 0)
    {
      const char *name = k + 11;
      if (!chars_ok (name, 64, "_-"))
        return cr_error (err, 0, "annotation %s: capability name `%s`: expected 1 to 64 characters of A-Z a-z 0-9 _ -",
                         key, name);
      char *val = NULL;
      if (ann_text (value, a, &val, &why) < 0)
        return cr_error (err, 0, "annotation %s: `%s`: %s", key, value, why);
      a->capabilities = realloc (a->capabilities, (a->capabilities_len + 1) * sizeof *a->capabilities);
      if (a->capabilities == NULL)
        abort ();
      a->capabilities[a->capabilities_len].name = xstrdup (name);
      a->capabilities[a->capabilities_len++].value = val;
      return 0;
    }
  for (size_t i = 0; i < sizeof ann_table / sizeof ann_table[0]; i++)
    if (strcmp (k, ann_table[i].key) == 0)
      {
        if (ann_table[i].fn (value, a, (char *) a + ann_table[i].off, &why) < 0)
          return cr_error (err, 0, "annotation %s: `%s`: %s", key, value, why);
        return 0;
      }
  return cr_error (err, 0, "annotation %s: `%s`: unknown capsule annotation key", key, value);
}

int
capsule_annotations_parse (const struct oci_kv *kv, size_t n, struct capsule_annotations *out, cr_error_t *err)
{
  memset (out, 0, sizeof *out);
  for (size_t i = 0; i < n; i++)
    {
      if (strncmp (kv[i].key, CAPSULE_ANNOTATION_PREFIX, strlen (CAPSULE_ANNOTATION_PREFIX)) != 0)
        continue;
      out->any = true;
      for (size_t j = 0; j < i; j++)
        if (strcmp (kv[j].key, kv[i].key) == 0)
          {
            capsule_annotations_release (out);
            return cr_error (err, 0, "annotation %s: given twice", kv[i].key);
          }
      if (parse_one (kv[i].key, kv[i].value ? kv[i].value : "", out, err) < 0)
        {
          capsule_annotations_release (out);
          return -1;
        }
    }
  return 0;
}

void
capsule_annotations_release (struct capsule_annotations *a)
{
  free (a->profile);
  free (a->agent);
  free (a->version);
  free (a->session);
  free (a->lease);
  free (a->egress_allow);
  free (a->egress_gateway);
  free (a->egress_tls_pin);
  free (a->dns_pin);
  free (a->credentials);
  for (size_t i = 0; i < a->capabilities_len; i++)
    {
      free (a->capabilities[i].name);
      free (a->capabilities[i].value);
    }
  free (a->capabilities);
  for (size_t i = 0; i < a->writable_len; i++)
    free (a->writable[i]);
  free (a->writable);
  free (a->concurrency_group);
  memset (a, 0, sizeof *a);
}
