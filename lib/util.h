/* Small helpers shared by everything: cleanup attributes (instead of goto
 * ladders), checked I/O, path joins. */
#ifndef CAPSULE_UTIL_H
#define CAPSULE_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

static inline void cleanup_freep (void *p) { free (*(void **) p); }
static inline void cleanup_closep (int *fd) { if (*fd >= 0) close (*fd); }
static inline void cleanup_fclosep (FILE **f) { if (*f) fclose (*f); }
static inline void cleanup_closedirp (DIR **d) { if (*d) closedir (*d); }
static inline void cleanup_errorp (cr_error_t *e) { cr_error_release (e); }

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_fclose __attribute__ ((cleanup (cleanup_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (cleanup_closedirp)))
#define cleanup_error __attribute__ ((cleanup (cleanup_errorp)))

/* Hand ownership out of a cleanup variable. */
#define steal_pointer(pp) ({ __typeof__ (*(pp)) _p = *(pp); *(pp) = NULL; _p; })
#define steal_fd(pfd) ({ int _fd = *(pfd); *(pfd) = -1; _fd; })

void *xmalloc0 (size_t n);
char *xstrdup (const char *s);
char *xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
char *xvasprintf (const char *fmt, va_list ap) __attribute__ ((format (printf, 1, 0)));
/* Items of a "a; b;c" list in place: the next one with leading blanks
 * skipped, empty ones left out; NULL at the end.  *save starts at the
 * (writable) list. */
char *next_list_item (char **save, const char *sep);
/* open(dir, O_DIRECTORY) and take an exclusive flock on it; the fd, or -1
 * (ENOENT is left in the error's status for callers that care). */
int open_dir_locked (const char *dir, const char *what, cr_error_t *err);

/* Write all of buf / read a whole file (NUL-terminated, *len optional). */
int write_all (int fd, const void *buf, size_t len, cr_error_t *err);
int read_all_fd (int fd, char **out, size_t *len, cr_error_t *err);
int read_file (const char *path, char **out, size_t *len, cr_error_t *err);
/* Write a file relative to dirfd (AT_FDCWD ok) without O_CREAT races: O_WRONLY|O_TRUNC|O_CREAT. */
int write_file_at (int dirfd, const char *path, const void *data, size_t len, cr_error_t *err);
/* Atomic replace: write tmp file in the same directory, fsync, rename. */
int write_file_atomic (const char *path, const void *data, size_t len, cr_error_t *err);
/* mkdir -p with mode; existing directories are fine. */
int mkdir_p (const char *path, mode_t mode, cr_error_t *err);
/* rm -rf that does not cross mount points. */
int rm_rf (const char *path, cr_error_t *err);
/* The first line of a small file (no newline), NULL if it cannot be read.  malloc'd. */
char *read_first_line (const char *path);
/* The first entry of dir (dot entries skipped) that match accepts, NULL if
 * none or dir cannot be read.  malloc'd. */
char *dir_find_entry (const char *dir, bool (*match) (const char *dir, const char *name, void *data), void *data);

#endif
