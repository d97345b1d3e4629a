/* One file per verb: each defines `int cmd_<verb> (struct cr_global *g, int argc, char **argv)`
 * where argv[0] is the verb and the return value is the process exit code.
 * main.c parses the global flags and dispatches; verbs not linked in
 * (weak symbols) answer "not supported". */
#ifndef CAPSULE_CMD_H
#define CAPSULE_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

struct cr_global
{
  const char *root;        /* --root, default /run/capsule-runc */
  const char *log;         /* --log */
  const char *log_format;  /* text|json */
  bool debug;
  bool systemd_cgroup;
  bool rootless;
};

typedef int (*cr_cmd_fn) (struct cr_global *g, int argc, char **argv);

#define CR_VERB(name) int cmd_##name (struct cr_global *g, int argc, char **argv)

/* Flag parsing shared by verbs: accepts --flag, -flag, --flag=value,
 * --flag value and single-letter short forms, like Go's flag package. */
struct cr_opt
{
  const char *name;     /* long name without dashes, e.g. "bundle" */
  char short_name;      /* 'b' or 0 */
  bool has_arg;
  int id;
};
/* Returns the matched opt id, 0 at the first non-flag argument (left in
 * *optind), -1 on error (message printed).  *arg receives the value. */
int cr_getopt (int argc, char **argv, int *optind, const struct cr_opt *opts, const char **arg);

/* Verbs that take no flags and exactly one container id: the id, or NULL
 * after printing runc's "requires exactly 1 argument" error. */
const char *cr_single_id (int argc, char **argv);

#endif
