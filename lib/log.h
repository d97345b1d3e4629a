/* Runtime logging: --log FILE, --log-format text|json, --debug.  Errors go to
 * stderr as one line and, if a log file is set, to the log in its format
 * (containerd's shim reads {"level":"error","msg":...} lines from it). */
#ifndef CAPSULE_LOG_H
#define CAPSULE_LOG_H

#include <stdbool.h>

enum cr_log_format { CR_LOG_TEXT, CR_LOG_JSON };

int cr_log_init (const char *path, enum cr_log_format fmt, bool debug);
void cr_log_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void cr_log_warning (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void cr_log_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Program name printed in stderr messages ("capsule-runc"). */
extern const char *cr_log_progname;

#endif
