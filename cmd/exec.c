/* capsule-runc exec [--process F | args...] [--tty] [--detach] [--pid-file F] [--console-socket S]
 *                   [--cwd D] [--env K=V]... [--user U[:G]] [--additional-gids G]... [--cap C]...
 *                   [--no-new-privs] [--preserve-fds N] ID [COMMAND ARGS...] */
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/exec.h"
#include "lib/log.h"

enum { E_CONSOLE = 1, E_CWD, E_ENV, E_TTY, E_USER, E_GIDS, E_PROCESS, E_DETACH, E_PIDFILE, E_LABEL, E_APPARMOR,
       E_NNP, E_CAP, E_PRESERVE, E_CGROUP, E_IGNORE_PAUSED };

#define MAX_REPEAT 256

CR_VERB (exec)
{
  static const struct cr_opt opts[] = {
    { "console-socket", 0, true, E_CONSOLE }, { "cwd", 0, true, E_CWD },     { "env", 'e', true, E_ENV },
    { "tty", 't', false, E_TTY },             { "user", 'u', true, E_USER }, { "additional-gids", 'g', true, E_GIDS },
    { "process", 'p', true, E_PROCESS },      { "detach", 'd', false, E_DETACH }, { "pid-file", 0, true, E_PIDFILE },
    { "process-label", 0, true, E_LABEL },    { "apparmor", 0, true, E_APPARMOR }, { "no-new-privs", 0, false, E_NNP },
    { "cap", 'c', true, E_CAP },              { "preserve-fds", 0, true, E_PRESERVE }, { "cgroup", 0, true, E_CGROUP },
    { "ignore-paused", 0, false, E_IGNORE_PAUSED },
    { NULL, 0, false, 0 },
  };
  struct cr_exec_opts o = { .no_new_privs = -1 };
  char *env[MAX_REPEAT], *caps[MAX_REPEAT];
  gid_t gids[MAX_REPEAT];
  o.env = env;
  o.caps = caps;
  o.additional_gids = gids;
  int optind = 1, id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    {
      bool on = arg == NULL || strcmp (arg, "true") == 0;
      switch (id)
        {
        case E_CONSOLE: o.console_socket = arg; break;
        case E_CWD: o.cwd = arg; break;
        case E_ENV: if (o.env_len < MAX_REPEAT) env[o.env_len++] = (char *) arg; break;
        case E_TTY: o.tty = on; break;
        case E_USER: o.user = arg; break;
        case E_GIDS: if (o.additional_gids_len < MAX_REPEAT) gids[o.additional_gids_len++] = (gid_t) strtoul (arg, NULL, 10); break;
        case E_PROCESS: o.process_path = arg; break;
        case E_DETACH: o.detach = on; break;
        case E_PIDFILE: o.pid_file = arg; break;
        case E_NNP: o.no_new_privs = on ? 1 : 0; break;
        case E_IGNORE_PAUSED: o.ignore_paused = on; break;
        case E_CAP: if (o.caps_len < MAX_REPEAT) caps[o.caps_len++] = (char *) arg; break;
        case E_PRESERVE: o.preserve_fds = atoi (arg); break;
        case E_APPARMOR: o.apparmor = arg; break;
        case E_LABEL: o.process_label = arg; break;
        default: break; /* --cgroup: sub-cgroups not supported, the container's is used */
        }
    }
  if (id < 0)
    return 1;
  if (optind >= argc)
    {
      cr_log_error ("\"exec\" requires a minimum of 1 argument");
      return 1;
    }
  o.id = argv[optind++];
  o.args = argv + optind;
  o.args_len = (size_t) (argc - optind);
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  int code = cr_container_exec (&ctx, &o, &err);
  /* runc: any failure of exec itself is "exec failed: ..." with status 255. */
  if (code < 0)
    {
      cr_error_wrap (&err, "exec failed");
      cr_error_report (&err);
      return 255;
    }
  return code;
}
