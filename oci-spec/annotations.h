/* The capsule annotation schema (SPEC §4): every `capsule/` key of a
 * config.json, parsed by one table.  A malformed value, an unknown
 * `capsule/` key or a value outside the syntactic bounds below is an error
 * naming the key and the bad value ("annotation capsule/fs.size: `12Qi`:
 * expected a size like 256Mi"); nothing is ignored.
 *
 * Syntactic bounds (the node policy narrows them further, lib/policy.h):
 *   profile, agent, version, session   1..128 chars of [A-Za-z0-9._:@+-]
 *   lease                              1..4096 chars of base64url and '.'
 *   fs.writable   1..16 absolute paths, no "." / ".." / "//", not "/",
 *                 not under /proc, /sys or /dev, no duplicates
 *   fs.size       1Mi .. 1Ti           (suffixes k K Ki M Mi G Gi T Ti, or bytes)
 *   timeout       1s .. 30d            (N[smhd], concatenations like 1h30m)
 *   concurrency   group=N, group 1..64 chars of [A-Za-z0-9._-], N 1..100000
 *   limits        cpu 0.01..1024 (at most 3 decimals), memory 4Mi..16Ti,
 *                 pids 1..4194304, gpu 0..64; each key at most once
 *   capability.NAME   NAME 1..64 chars of [A-Za-z0-9_-], value non-empty
 *   egress.*, dns.pin, credentials   non-empty; their grammar is checked by
 *                 admission (lib/egress_rule.h), which also needs the policy. */
#ifndef CAPSULE_OCI_ANNOTATIONS_H
#define CAPSULE_OCI_ANNOTATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"

struct oci_kv;

#define CAPSULE_ANNOTATION_PREFIX "capsule/"
#define CAPSULE_MAX_WRITABLE 16

struct capsule_limits
{
  bool has_cpu; uint32_t cpu_milli;     /* 500 = half a CPU */
  bool has_memory; uint64_t memory;     /* bytes */
  bool has_pids; int64_t pids;
  bool has_gpu; uint32_t gpu;
};

struct capsule_capability_ann { char *name; char *value; };

struct capsule_annotations
{
  bool any;                     /* at least one capsule/ key */
  char *profile, *agent, *version, *session, *lease;
  char *egress_allow, *egress_gateway, *egress_tls_pin, *dns_pin, *credentials;
  struct capsule_capability_ann *capabilities; size_t capabilities_len;
  char **writable; size_t writable_len;  /* has_writable when the key was given */
  bool has_writable;
  bool has_fs_size; uint64_t fs_size;
  bool has_timeout; uint64_t timeout_s;
  bool has_concurrency; char *concurrency_group; uint32_t concurrency_max;
  bool has_limits; struct capsule_limits limits;
};

/* Parse the capsule/ keys of an annotation map (other keys are ignored).
 * On error *out is released and *err names the key and value. */
int capsule_annotations_parse (const struct oci_kv *kv, size_t n, struct capsule_annotations *out, cr_error_t *err);
void capsule_annotations_release (struct capsule_annotations *a);

/* Value parsers shared with the node policy.  They return 0 or -1 and put
 * a short reason ("expected a size like 256Mi") in *why (static string). */
int capsule_parse_size (const char *s, uint64_t *out, const char **why);
int capsule_parse_duration (const char *s, uint64_t *secs, const char **why);
int capsule_parse_cpu (const char *s, uint32_t *milli, const char **why);
int capsule_parse_limits (const char *s, struct capsule_limits *out, const char **why);
int capsule_parse_writable (const char *s, char ***out, size_t *n, const char **why);
/* "256Mi" style text for a byte count (exact when possible); malloc'd. */
char *capsule_format_size (uint64_t bytes);

#endif
