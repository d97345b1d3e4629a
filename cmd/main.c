/* capsule-runc entry point: global flags (runc's), then one verb. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/log.h"
#include "lib/util.h"

#define VERBS(X)                                                              \
  X (create, "create a container")                                            \
  X (start, "executes the user defined process in a created container")       \
  X (run, "create and run a container")                                       \
  X (state, "output the state of a container")                                \
  X (list, "lists containers started by capsule-runc with the given root")    \
  X (kill, "kill sends the specified signal to the container's init process") \
  X (delete, "delete any resources held by the container")                    \
  X (exec, "execute new process inside the container")                        \
  X (ps, "ps displays the processes running inside a container")              \
  X (pause, "pause suspends all processes inside the container")              \
  X (resume, "resumes all processes that have been previously paused")        \
  X (update, "update container resource constraints")                         \
  X (events, "display container events such as OOM notifications and stats")  \
  X (features, "show the enabled features")                                   \
  X (spec, "create a new specification file")                                 \
  X (checkpoint, "checkpoint a running container (not supported)")            \
  X (restore, "restore a container from a previous checkpoint (not supported)") \
  X (inspect, "print a capsule's effective configuration")                    \
  X (check, "report what this host supports for capsules")                    \
  X (lease, "issue or verify capsule run leases")                             \
  X (killswitch, "revoke a session, agent or capability on this node")        \
  X (approve, "[ID] REQID: let a held capability request through")            \
  X (deny, "[ID] REQID: refuse a held capability request (403)")              \
  X (audit, "verify a capsule audit log")

#define DECL(n, h) extern CR_VERB (n) __attribute__ ((weak));
VERBS (DECL)

static const struct verb
{
  const char *name;
  cr_cmd_fn *fn;
  const char *help;
} verbs[] = {
#define ENTRY(n, h) { #n, (cr_cmd_fn *) 0, h },
  VERBS (ENTRY)
};

static cr_cmd_fn
verb_fn (const char *name)
{
#define LOOKUP(n, h) if (strcmp (name, #n) == 0) return cmd_##n;
  VERBS (LOOKUP)
  return NULL;
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: capsule-runc [global options] command [command options] [arguments...]\n\n"
              "capsule-runc is a runc-compatible OCI runtime that runs untrusted agents as capsules.\n\n"
              "global options:\n"
              "  --root DIR           state directory (default /run/capsule-runc)\n"
              "  --log FILE           log file\n"
              "  --log-format FORMAT  text or json\n"
              "  --debug              debug logging\n"
              "  --systemd-cgroup     cgroupsPath is slice:prefix:name\n"
              "  --criu PATH          accepted, unused\n"
              "  --rootless VALUE     accepted\n"
              "  --version, -v        print the version\n\n"
              "commands:\n");
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    fprintf (f, "  %-12s %s\n", verbs[i].name, verbs[i].help);
}

int
main (int argc, char **argv)
{
  struct cr_global g = { .root = "/run/capsule-runc", .log_format = "text" };
  static const struct cr_opt opts[] = {
    { "root", 0, true, 1 },       { "log", 0, true, 2 },      { "log-format", 0, true, 3 },
    { "debug", 0, false, 4 },     { "systemd-cgroup", 0, false, 5 }, { "criu", 0, true, 6 },
    { "rootless", 0, true, 7 },   { "version", 'v', false, 8 }, { "help", 'h', false, 9 },
    { NULL, 0, false, 0 },
  };
  int optind = 1, id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    {
      switch (id)
        {
        case 1: g.root = arg; break;
        case 2: g.log = arg; break;
        case 3:
          if (strcmp (arg, "text") != 0 && strcmp (arg, "json") != 0)
            {
              fprintf (stderr, "capsule-runc: invalid log format \"%s\": expected text or json\n", arg);
              return 1;
            }
          g.log_format = arg;
          break;
        case 4: g.debug = true; break;
        case 5: g.systemd_cgroup = true; break;
        case 6: break;
        case 7: g.rootless = strcmp (arg, "true") == 0; break;
        case 8:
          printf ("capsule-runc version %s\nspec: 1.2.0\n", CAPSULE_VERSION);
          return 0;
        case 9: usage (stdout); return 0;
        }
    }
  if (id < 0)
    return 1;
  /* Like runc (filepath.Abs): state paths end up in mounts and hooks. */
  cleanup_free char *abs_root = NULL;
  if (g.root[0] != '/')
    {
      char cwd[PATH_MAX];
      if (getcwd (cwd, sizeof cwd) == NULL)
        {
          fprintf (stderr, "capsule-runc: resolving --root `%s`: %s\n", g.root, strerror (errno));
          return 1;
        }
      g.root = abs_root = xasprintf ("%s/%s", cwd, g.root);
    }
  if (cr_log_init (g.log, strcmp (g.log_format, "json") == 0 ? CR_LOG_JSON : CR_LOG_TEXT, g.debug) < 0)
    {
      fprintf (stderr, "capsule-runc: open log file `%s` failed\n", g.log);
      return 1;
    }
  if (optind >= argc)
    {
      usage (stderr);
      return 1;
    }
  const char *verb = argv[optind];
  if (strcmp (verb, "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  cr_cmd_fn fn = verb_fn (verb);
  if (fn == NULL)
    {
      for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp (verbs[i].name, verb) == 0)
          {
            cr_log_error ("%s: not supported by this build", verb);
            return 1;
          }
      cr_log_error ("No help topic for '%s'", verb);
      return 1;
    }
  if (g.systemd_cgroup && (strcmp (verb, "create") == 0 || strcmp (verb, "run") == 0) && !cr_systemd_booted ())
    {
      /* runc's wording (its cgroup manager refuses the same way), so clients see the same error. */
      cr_log_error ("systemd not running on this host, cannot use systemd cgroups manager");
      return 1;
    }
  return fn (&g, argc - optind, argv + optind);
}
