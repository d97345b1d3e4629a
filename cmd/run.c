/* capsule-runc run [create flags] [--detach] [--keep] ID: create + start, and
 * in the foreground wait and return the container's exit code. */
#include "cmd/cmd.h"
#include "cmd/create_opts.h"
#include "lib/container.h"

CR_VERB (run)
{
  struct cr_create_opts o;
  struct cr_run_flags rf;
  int optind;
  if (cr_parse_create_opts (argc, argv, &o, &rf, &optind) < 0)
    return 1;
  if (optind != argc - 1)
    {
      cr_log_error ("\"run\" requires exactly 1 argument");
      return 1;
    }
  o.id = argv[optind];
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  int code = cr_container_run (&ctx, &o, rf.detach, rf.keep, &err);
  if (code < 0)
    return cr_error_report (&err);
  return code;
}
