#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cr_log_progname = "capsule-runc";
static int log_fd = -1;
static enum cr_log_format log_format = CR_LOG_TEXT;
static bool log_debug;

int
cr_log_init (const char *path, enum cr_log_format fmt, bool debug)
{
  log_format = fmt;
  log_debug = debug;
  if (path && *path)
    {
      log_fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (log_fd < 0)
        return -1;
    }
  return 0;
}

/* JSON-escape s into out (bounded). */
static void
json_escape (const char *s, char *out, size_t n)
{
  size_t j = 0;
  for (; *s && j + 7 < n; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        {
          out[j++] = '\\';
          out[j++] = (char) c;
        }
      else if (c < 0x20)
        j += (size_t) snprintf (out + j, n - j, "\\u%04x", c);
      else
        out[j++] = (char) c;
    }
  out[j] = '\0';
}

static void
emit (const char *level, bool to_stderr, const char *fmt, va_list ap)
{
  char msg[4096];
  vsnprintf (msg, sizeof msg, fmt, ap);
  if (to_stderr)
    dprintf (STDERR_FILENO, "%s: %s\n", cr_log_progname, msg);
  if (log_fd < 0)
    return;
  char ts[64];
  struct timespec now;
  struct tm tm;
  clock_gettime (CLOCK_REALTIME, &now);
  gmtime_r (&now.tv_sec, &tm);
  size_t l = strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (ts + l, sizeof ts - l, ".%09ldZ", now.tv_nsec);
  if (log_format == CR_LOG_JSON)
    {
      char esc[8192];
      json_escape (msg, esc, sizeof esc);
      dprintf (log_fd, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s\"}\n", level, esc, ts);
    }
  else
    dprintf (log_fd, "time=\"%s\" level=%s msg=\"%s\"\n", ts, level, msg);
}

void
cr_log_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  emit ("error", true, fmt, ap);
  va_end (ap);
}

void
cr_log_warning (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  emit ("warning", false, fmt, ap);
  va_end (ap);
}

void
cr_log_debug (const char *fmt, ...)
{
  if (!log_debug)
    return;
  va_list ap;
  va_start (ap, fmt);
  emit ("debug", false, fmt, ap);
  va_end (ap);
}
