/* Flags shared by create and run. */
#ifndef CAPSULE_CREATE_OPTS_H
#define CAPSULE_CREATE_OPTS_H

#include <stdbool.h>

#include "lib/container.h"
#include "lib/log.h"

struct cr_run_flags
{
  bool detach, keep;
};

/* Parses argv[1..] (argv[0] is the verb); run_flags NULL for create. */
int cr_parse_create_opts (int argc, char **argv, struct cr_create_opts *o, struct cr_run_flags *run, int *optind);

#endif
