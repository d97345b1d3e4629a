/* Minimal unit-test harness: T_CHECK records failures and keeps going;
 * t_done prints "N passed, N failed" and returns the exit code. */
#ifndef CAPSULE_T_H
#define CAPSULE_T_H
#include <stdio.h>
#include <string.h>

static int t_pass_n, t_fail_n;
#define T_CHECK(cond, ...) do { if (cond) t_pass_n++; else { t_fail_n++; \
  fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); fprintf (stderr, __VA_ARGS__); fputc ('\n', stderr); } } while (0)
#define T_STREQ(a, b) do { const char *_a = (a), *_b = (b); T_CHECK (_a && _b && strcmp (_a, _b) == 0, "'%s' != '%s'", _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define T_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); T_CHECK (_h && strstr (_h, _n), "'%s' does not contain '%s'", _h ? _h : "(null)", _n); } while (0)
static inline int t_done (void) { printf ("%d passed, %d failed\n", t_pass_n, t_fail_n); return t_fail_n ? 1 : 0; }
#endif
