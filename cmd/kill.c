/* capsule-runc kill [--all] ID [SIGNAL] */
#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"

CR_VERB (kill)
{
  static const struct cr_opt opts[] = { { "all", 'a', false, 1 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg;
  bool all = false;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    if (id == 1)
      all = arg == NULL || arg[0] == 't' || arg[0] == '1';
  if (id < 0)
    return 1;
  if (optind >= argc || argc - optind > 2)
    {
      cr_log_error ("\"kill\" requires a minimum of 1 and a maximum of 2 arguments");
      return 1;
    }
  const char *sigs = argc - optind == 2 ? argv[optind + 1] : "SIGTERM";
  int sig = cr_signal_parse (sigs);
  if (sig < 0)
    {
      cr_log_error ("unknown signal \"%s\"", sigs);
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  if (cr_container_kill (&ctx, argv[optind], sig, all, &err) < 0)
    return cr_error_report (&err);
  return 0;
}
