#include "error.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
cr_error (cr_error_t *err, int status, const char *fmt, ...)
{
  if (err == NULL || *err != NULL)
    return -1;
  va_list ap;
  char *msg = NULL;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  struct cr_error_s *e = calloc (1, sizeof *e);
  if (e == NULL)
    {
      free (msg);
      return -1;
    }
  e->status = status;
  if (msg && status != 0)
    {
      char *full = NULL;
      if (asprintf (&full, "%s: %s", msg, strerror (status)) >= 0)
        {
          free (msg);
          msg = full;
        }
    }
  e->msg = msg ? msg : strdup ("out of memory");
  *err = e;
  return -1;
}

int
cr_error_wrap (cr_error_t *err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -1;
  va_list ap;
  char *prefix = NULL, *full = NULL;
  va_start (ap, fmt);
  if (vasprintf (&prefix, fmt, ap) < 0)
    prefix = NULL;
  va_end (ap);
  if (prefix && asprintf (&full, "%s: %s", prefix, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = full;
    }
  free (prefix);
  return -1;
}

void
cr_error_release (cr_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

int
cr_error_report (cr_error_t *err)
{
  if (err && *err)
    {
      cr_log_error ("%s", (*err)->msg);
      cr_error_release (err);
    }
  return 1;
}
