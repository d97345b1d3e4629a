/* capsule-runc ps [--format table|json] ID [ps options]: the container's processes (from its cgroup). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/container.h"
#include "lib/log.h"
#include "lib/util.h"

CR_VERB (ps)
{
  static const struct cr_opt opts[] = { { "format", 'f', true, 1 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg, *format = "table";
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    format = arg;
  if (id < 0)
    return 1;
  if (optind >= argc)
    {
      cr_log_error ("\"ps\" requires a minimum of 1 argument");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cr_error_t err = NULL;
  int dirfd;
  struct cr_state st;
  if (cr_container_load (&ctx, argv[optind], false, &dirfd, &st, &err) < 0)
    return cr_error_report (&err);
  close (dirfd);
  struct cr_cgroup cg;
  pid_t *pids = NULL;
  size_t n = 0;
  if (cr_cgroup_open (st.cgroup_path, &cg, &err) < 0 || cr_cgroup_pids (&cg, &pids, &n, &err) < 0)
    {
      cr_state_release (&st);
      return cr_error_report (&err);
    }
  cr_cgroup_release (&cg);
  cr_state_release (&st);
  if (strcmp (format, "json") == 0)
    {
      printf ("[");
      for (size_t i = 0; i < n; i++)
        printf ("%s%d", i ? "," : "", pids[i]);
      printf ("]\n");
      free (pids);
      return 0;
    }
  if (strcmp (format, "table") != 0)
    {
      free (pids);
      cr_log_error ("invalid format option");
      return 1;
    }
  /* Run ps(1) with the given options and keep the header and our pids' lines. */
  int fds[2];
  if (pipe (fds) < 0)
    return 1;
  pid_t child = fork ();
  if (child == 0)
    {
      dup2 (fds[1], 1);
      close (fds[0]);
      int extra = argc - optind - 1;
      char **av = xmalloc0 (sizeof (char *) * (size_t) (extra + 3));
      av[0] = (char *) "ps";
      if (extra == 0)
        av[1] = (char *) "-ef";
      for (int i = 0; i < extra; i++)
        av[1 + i] = argv[optind + 1 + i];
      execvp ("ps", av);
      _exit (127);
    }
  close (fds[1]);
  FILE *f = fdopen (fds[0], "r");
  char line[8192];
  int pid_col = -1;
  while (f && fgets (line, sizeof line, f))
    {
      if (pid_col < 0)
        {
          /* header: find the PID column */
          char copy[8192];
          strcpy (copy, line);
          int col = 0;
          for (char *tok = strtok (copy, " \t\n"); tok; tok = strtok (NULL, " \t\n"), col++)
            if (strcmp (tok, "PID") == 0)
              pid_col = col;
          if (pid_col < 0)
            {
              cr_log_error ("couldn't find PID field in ps output");
              return 1;
            }
          fputs (line, stdout);
          continue;
        }
      char copy[8192];
      strcpy (copy, line);
      int col = 0;
      for (char *tok = strtok (copy, " \t\n"); tok; tok = strtok (NULL, " \t\n"), col++)
        if (col == pid_col)
          {
            pid_t p = (pid_t) atoi (tok);
            for (size_t i = 0; i < n; i++)
              if (pids[i] == p)
                fputs (line, stdout);
            break;
          }
    }
  if (f)
    fclose (f);
  int ws;
  waitpid (child, &ws, 0);
  free (pids);
  return WIFEXITED (ws) ? WEXITSTATUS (ws) : 1;
}
