#include "cmd/create_opts.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

enum { O_BUNDLE = 1, O_CONSOLE, O_PIDFILE, O_NOPIVOT, O_NOKEYRING, O_PRESERVE, O_DETACH, O_KEEP, O_NOSUBREAPER, O_PIDFD };

static bool
flag_true (const char *arg)
{
  return arg == NULL || strcmp (arg, "true") == 0 || strcmp (arg, "1") == 0;
}

int
cr_parse_create_opts (int argc, char **argv, struct cr_create_opts *o, struct cr_run_flags *run, int *optind)
{
  static const struct cr_opt create_opts[] = {
    { "bundle", 'b', true, O_BUNDLE },       { "console-socket", 0, true, O_CONSOLE },
    { "pid-file", 0, true, O_PIDFILE },      { "no-pivot", 0, false, O_NOPIVOT },
    { "no-new-keyring", 0, false, O_NOKEYRING }, { "preserve-fds", 0, true, O_PRESERVE },
    { "pidfd-socket", 0, true, O_PIDFD },
    { "detach", 'd', false, O_DETACH },      { "keep", 0, false, O_KEEP },
    { "no-subreaper", 0, false, O_NOSUBREAPER },
    { NULL, 0, false, 0 },
  };
  memset (o, 0, sizeof *o);
  if (run)
    memset (run, 0, sizeof *run);
  *optind = 1;
  int id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, optind, create_opts, &arg)) > 0)
    {
      if (run == NULL && (id == O_DETACH || id == O_KEEP || id == O_NOSUBREAPER))
        {
          cr_log_error ("flag provided but not defined: %s", argv[*optind - 1]);
          return -1;
        }
      switch (id)
        {
        case O_BUNDLE: o->bundle = arg; break;
        case O_CONSOLE: o->console_socket = arg; break;
        case O_PIDFILE: o->pid_file = arg; break;
        case O_NOPIVOT: o->no_pivot = flag_true (arg); break;
        case O_NOKEYRING: o->no_new_keyring = flag_true (arg); break;
        case O_PRESERVE:
          {
            char *end;
            long n = strtol (arg, &end, 10);
            if (*end || n < 0 || n > 100000)
              {
                cr_log_error ("invalid value \"%s\" for flag --preserve-fds", arg);
                return -1;
              }
            o->preserve_fds = (int) n;
            break;
          }
        case O_DETACH: run->detach = flag_true (arg); break;
        case O_KEEP: run->keep = flag_true (arg); break;
        default: break;
        }
    }
  if (id < 0)
    return -1;
  if (o->bundle == NULL)
    o->bundle = ".";
  return 0;
}
