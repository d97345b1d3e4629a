/* Typed access to a yajl tree that keeps track of the JSON path being read,
 * so every error can say exactly where it is ("process.rlimits[2].hard:
 * expected unsigned integer").  Internal to oci-spec/.
 *
 * Key getters return 1 when the key is present, 0 when it is absent or JSON
 * null (like Go's encoding/json, null counts as absent), -1 on error. */
#ifndef CAPSULE_OCI_JSON_GET_H
#define CAPSULE_OCI_JSON_GET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "../lib/error.h"

struct oci_kv;

struct ocij
{
  char path[512];
  size_t len;
  cr_error_t *err;
};

void ocij_init (struct ocij *p, const char *root, cr_error_t *err);
/* Append ".key" / "[i]" to the path; return the mark to restore with ocij_pop. */
size_t ocij_key (struct ocij *p, const char *key);
size_t ocij_idx (struct ocij *p, size_t i);
void ocij_pop (struct ocij *p, size_t mark);
/* Fill *err with "<path>: <msg>" and return -1. */
int ocij_fail (struct ocij *p, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Same, for a child key of the current path. */
int ocij_fail_key (struct ocij *p, const char *key, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Member of an object, NULL when absent or null.  The first occurrence wins. */
yajl_val ocij_member (yajl_val obj, const char *key);

/* Value converters: the path already points at v. */
int ocij_val_str (struct ocij *p, yajl_val v, char **out);
int ocij_val_uint (struct ocij *p, yajl_val v, int bits, uint64_t *out);
int ocij_val_int (struct ocij *p, yajl_val v, int bits, int64_t *out);

/* Key getters on an object. */
int ocij_obj (struct ocij *p, yajl_val obj, const char *key, bool required, yajl_val *out);
int ocij_arr (struct ocij *p, yajl_val obj, const char *key, bool required, yajl_val *out);
int ocij_str (struct ocij *p, yajl_val obj, const char *key, bool required, char **out);
int ocij_bool (struct ocij *p, yajl_val obj, const char *key, bool *out, bool *has);
int ocij_u64 (struct ocij *p, yajl_val obj, const char *key, bool required, uint64_t *out, bool *has);
int ocij_u32 (struct ocij *p, yajl_val obj, const char *key, bool required, uint32_t *out, bool *has);
int ocij_u16 (struct ocij *p, yajl_val obj, const char *key, bool required, uint16_t *out, bool *has);
int ocij_i64 (struct ocij *p, yajl_val obj, const char *key, bool required, int64_t *out, bool *has);
int ocij_i32 (struct ocij *p, yajl_val obj, const char *key, bool required, int32_t *out, bool *has);
/* Array of strings. */
int ocij_strv (struct ocij *p, yajl_val obj, const char *key, char ***out, size_t *len, bool *has);
/* Object of string values (annotations, sysctl, unified). */
int ocij_strmap (struct ocij *p, yajl_val obj, const char *key, struct oci_kv **out, size_t *len);

/* Parse text (not necessarily NUL-terminated) into a tree; errors say "invalid JSON: ...". */
yajl_val ocij_parse_text (const char *json, size_t len, cr_error_t *err);

void ocij_strv_free (char **v, size_t n);

#endif
