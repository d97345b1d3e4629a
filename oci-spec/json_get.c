#include "json_get.h"
#include "config.h"
#include "../lib/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
ocij_init (struct ocij *p, const char *root, cr_error_t *err)
{
  p->err = err;
  p->len = 0;
  p->path[0] = '\0';
  if (root && *root)
    p->len = (size_t) snprintf (p->path, sizeof p->path, "%s", root);
  if (p->len >= sizeof p->path)
    p->len = sizeof p->path - 1;
}

static size_t
ocij_append (struct ocij *p, const char *fmt, ...)
{
  size_t mark = p->len;
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (p->path + p->len, sizeof p->path - p->len, fmt, ap);
  va_end (ap);
  if (n > 0)
    p->len += (size_t) n;
  if (p->len >= sizeof p->path)
    p->len = sizeof p->path - 1;   /* truncated: still a useful prefix */
  return mark;
}

size_t
ocij_key (struct ocij *p, const char *key)
{
  return ocij_append (p, p->len ? ".%s" : "%s", key);
}

size_t
ocij_idx (struct ocij *p, size_t i)
{
  return ocij_append (p, "[%zu]", i);
}

void
ocij_pop (struct ocij *p, size_t mark)
{
  p->len = mark;
  p->path[mark] = '\0';
}

static int
ocij_vfail (struct ocij *p, const char *fmt, va_list ap)
{
  cleanup_free char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  if (p->len)
    return cr_error (p->err, 0, "%s: %s", p->path, msg ? msg : "invalid value");
  return cr_error (p->err, 0, "%s", msg ? msg : "invalid value");
}

int
ocij_fail (struct ocij *p, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int r = ocij_vfail (p, fmt, ap);
  va_end (ap);
  return r;
}

int
ocij_fail_key (struct ocij *p, const char *key, const char *fmt, ...)
{
  size_t mark = ocij_key (p, key);
  va_list ap;
  va_start (ap, fmt);
  int r = ocij_vfail (p, fmt, ap);
  va_end (ap);
  ocij_pop (p, mark);
  return r;
}

yajl_val
ocij_member (yajl_val obj, const char *key)
{
  if (!YAJL_IS_OBJECT (obj))
    return NULL;
  /* Like Go's encoding/json (what runc parses with): the last occurrence
   * wins, and a key that matches no field exactly matches case-insensitively. */
  yajl_val v = NULL;
  bool found = false;
  for (size_t i = obj->u.object.len; i-- > 0 && !found;)
    if (strcmp (obj->u.object.keys[i], key) == 0)
      {
        v = obj->u.object.values[i];
        found = true;
      }
  for (size_t i = obj->u.object.len; i-- > 0 && !found;)
    if (strcasecmp (obj->u.object.keys[i], key) == 0)
      {
        v = obj->u.object.values[i];
        found = true;
      }
  return YAJL_IS_NULL (v) ? NULL : v;
}

int
ocij_val_str (struct ocij *p, yajl_val v, char **out)
{
  if (!YAJL_IS_STRING (v))
    return ocij_fail (p, "expected string");
  *out = xstrdup (v->u.string);
  return 0;
}

/* JSON integers only: no fraction, no exponent (Go rejects 1.0 for an int). */
static bool
ocij_is_integer_text (const char *s)
{
  if (*s == '-')
    s++;
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}

int
ocij_val_uint (struct ocij *p, yajl_val v, int bits, uint64_t *out)
{
  if (!YAJL_IS_NUMBER (v) || !ocij_is_integer_text (v->u.number.r) || v->u.number.r[0] == '-')
    {
      /* "-0" is still zero, but Go refuses any minus sign for unsigned types */
      return ocij_fail (p, "expected unsigned integer");
    }
  errno = 0;
  unsigned long long n = strtoull (v->u.number.r, NULL, 10);
  uint64_t max = bits >= 64 ? UINT64_MAX : (UINT64_C (1) << bits) - 1;
  if (errno == ERANGE || n > max)
    return ocij_fail (p, "value %s out of range for uint%d", v->u.number.r, bits);
  *out = n;
  return 0;
}

int
ocij_val_int (struct ocij *p, yajl_val v, int bits, int64_t *out)
{
  if (!YAJL_IS_NUMBER (v) || !ocij_is_integer_text (v->u.number.r))
    return ocij_fail (p, "expected integer");
  errno = 0;
  long long n = strtoll (v->u.number.r, NULL, 10);
  int64_t max = bits >= 64 ? INT64_MAX : (INT64_C (1) << (bits - 1)) - 1;
  int64_t min = bits >= 64 ? INT64_MIN : -(INT64_C (1) << (bits - 1));
  if (errno == ERANGE || n > max || n < min)
    return ocij_fail (p, "value %s out of range for int%d", v->u.number.r, bits);
  *out = n;
  return 0;
}

/* Look up key; on presence push it onto the path.  Returns 1/0/-1 like the getters. */
static int
ocij_enter (struct ocij *p, yajl_val obj, const char *key, bool required, yajl_val *v, size_t *mark)
{
  *v = ocij_member (obj, key);
  if (*v == NULL)
    return required ? ocij_fail_key (p, key, "required") : 0;
  *mark = ocij_key (p, key);
  return 1;
}

int
ocij_obj (struct ocij *p, yajl_val obj, const char *key, bool required, yajl_val *out)
{
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, required, out, &mark);
  if (r <= 0)
    return r;
  if (!YAJL_IS_OBJECT (*out))
    return ocij_fail (p, "expected object");
  ocij_pop (p, mark);
  return 1;
}

int
ocij_arr (struct ocij *p, yajl_val obj, const char *key, bool required, yajl_val *out)
{
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, required, out, &mark);
  if (r <= 0)
    return r;
  if (!YAJL_IS_ARRAY (*out))
    return ocij_fail (p, "expected array");
  ocij_pop (p, mark);
  return 1;
}

int
ocij_str (struct ocij *p, yajl_val obj, const char *key, bool required, char **out)
{
  yajl_val v;
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, required, &v, &mark);
  if (r <= 0)
    return r;
  if (ocij_val_str (p, v, out) < 0)
    return -1;
  ocij_pop (p, mark);
  return 1;
}

int
ocij_bool (struct ocij *p, yajl_val obj, const char *key, bool *out, bool *has)
{
  yajl_val v;
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, false, &v, &mark);
  if (r <= 0)
    return r;
  if (!YAJL_IS_TRUE (v) && !YAJL_IS_FALSE (v))
    return ocij_fail (p, "expected boolean");
  *out = YAJL_IS_TRUE (v);
  if (has)
    *has = true;
  ocij_pop (p, mark);
  return 1;
}

static int
ocij_uint_key (struct ocij *p, yajl_val obj, const char *key, bool required, int bits, uint64_t *out, bool *has)
{
  yajl_val v;
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, required, &v, &mark);
  if (r <= 0)
    return r;
  if (ocij_val_uint (p, v, bits, out) < 0)
    return -1;
  if (has)
    *has = true;
  ocij_pop (p, mark);
  return 1;
}

static int
ocij_int_key (struct ocij *p, yajl_val obj, const char *key, bool required, int bits, int64_t *out, bool *has)
{
  yajl_val v;
  size_t mark = 0;
  int r = ocij_enter (p, obj, key, required, &v, &mark);
  if (r <= 0)
    return r;
  if (ocij_val_int (p, v, bits, out) < 0)
    return -1;
  if (has)
    *has = true;
  ocij_pop (p, mark);
  return 1;
}

int
ocij_u64 (struct ocij *p, yajl_val obj, const char *key, bool required, uint64_t *out, bool *has)
{
  return ocij_uint_key (p, obj, key, required, 64, out, has);
}

int
ocij_u32 (struct ocij *p, yajl_val obj, const char *key, bool required, uint32_t *out, bool *has)
{
  uint64_t n;
  int r = ocij_uint_key (p, obj, key, required, 32, &n, has);
  if (r > 0)
    *out = (uint32_t) n;
  return r;
}

int
ocij_u16 (struct ocij *p, yajl_val obj, const char *key, bool required, uint16_t *out, bool *has)
{
  uint64_t n;
  int r = ocij_uint_key (p, obj, key, required, 16, &n, has);
  if (r > 0)
    *out = (uint16_t) n;
  return r;
}

int
ocij_i64 (struct ocij *p, yajl_val obj, const char *key, bool required, int64_t *out, bool *has)
{
  return ocij_int_key (p, obj, key, required, 64, out, has);
}

int
ocij_i32 (struct ocij *p, yajl_val obj, const char *key, bool required, int32_t *out, bool *has)
{
  int64_t n;
  int r = ocij_int_key (p, obj, key, required, 32, &n, has);
  if (r > 0)
    *out = (int32_t) n;
  return r;
}

int
ocij_strv (struct ocij *p, yajl_val obj, const char *key, char ***out, size_t *len, bool *has)
{
  yajl_val a;
  int r = ocij_arr (p, obj, key, false, &a);
  if (r <= 0)
    return r;
  size_t n = a->u.array.len;
  *out = xmalloc0 ((n + 1) * sizeof (char *));   /* NULL-terminated too: handy for execve */
  *len = n;
  if (has)
    *has = true;
  size_t mark = ocij_key (p, key);
  for (size_t i = 0; i < n; i++)
    {
      size_t m = ocij_idx (p, i);
      if (ocij_val_str (p, a->u.array.values[i], &(*out)[i]) < 0)
        return -1;
      ocij_pop (p, m);
    }
  ocij_pop (p, mark);
  return 1;
}

int
ocij_strmap (struct ocij *p, yajl_val obj, const char *key, struct oci_kv **out, size_t *len)
{
  yajl_val o;
  int r = ocij_obj (p, obj, key, false, &o);
  if (r <= 0)
    return r;
  size_t n = o->u.object.len;
  *out = xmalloc0 (n * sizeof (struct oci_kv));
  *len = 0;
  size_t mark = ocij_key (p, key);
  for (size_t i = 0; i < n; i++)
    {
      const char *k = o->u.object.keys[i];
      size_t m = ocij_key (p, k);
      struct oci_kv *kv = NULL;
      for (size_t j = 0; j < *len && kv == NULL; j++)
        if (strcmp ((*out)[j].key, k) == 0)
          kv = &(*out)[j];   /* duplicate key: the last value wins */
      if (kv == NULL)
        {
          kv = &(*out)[(*len)++];
          kv->key = xstrdup (k);
        }
      free (kv->value);
      kv->value = NULL;
      if (ocij_val_str (p, o->u.object.values[i], &kv->value) < 0)
        return -1;
      ocij_pop (p, m);
    }
  ocij_pop (p, mark);
  return 1;
}

yajl_val
ocij_parse_text (const char *json, size_t len, cr_error_t *err)
{
  if (json == NULL)
    {
      cr_error (err, EINVAL, "invalid JSON: no input");
      return NULL;
    }
  cleanup_free char *buf = xmalloc0 (len + 1);
  memcpy (buf, json, len);
  if (strlen (buf) != len)
    {
      cr_error (err, 0, "invalid JSON: NUL byte in input");
      return NULL;
    }
  char ebuf[512] = "";
  yajl_val tree = yajl_tree_parse (buf, ebuf, sizeof ebuf);
  if (tree == NULL)
    {
      /* yajl's message spans lines (with a caret marker): keep the first one */
      ebuf[strcspn (ebuf, "\n")] = '\0';
      const char *m = ebuf;
      if (strncmp (m, "parse error: ", 13) == 0)
        m += 13;
      cr_error (err, 0, "invalid JSON: %s", m[0] ? m : "parse error");
      return NULL;
    }
  return tree;
}

void
ocij_strv_free (char **v, size_t n)
{
  if (v == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    free (v[i]);
  free (v);
}
