/* Error reporting, libcrun style: every fallible call returns a negative
 * value and fills *err with the errno and a message that says what was being
 * done.  The caller either handles it (cr_error_release) or passes it up. */
#ifndef CAPSULE_ERROR_H
#define CAPSULE_ERROR_H

#include <stdarg.h>

struct cr_error_s
{
  int status; /* errno value, 0 if not from a syscall */
  char *msg;  /* "what was being done: strerror" */
};
typedef struct cr_error_s *cr_error_t;

/* Fill *err (if err != NULL and *err == NULL) and return -1 (never 0).
 * With status != 0 the message gets ": strerror(status)" appended. */
int cr_error (cr_error_t *err, int status, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
/* Same, taking errno as status. */
#define cr_error_errno(err, ...) cr_error ((err), errno, __VA_ARGS__)
/* Prefix an existing error message with more context ("creating x: ...").  Returns -1. */
int cr_error_wrap (cr_error_t *err, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void cr_error_release (cr_error_t *err);
/* Print "capsule-runc: msg" to stderr, log it, release it; returns exit code 1. */
int cr_error_report (cr_error_t *err);

#endif
