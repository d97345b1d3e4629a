/* capsule-runc list [--format table|json] [--quiet] */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/container.h"
#include "lib/log.h"
#include "lib/util.h"

CR_VERB (list)
{
  static const struct cr_opt opts[] = { { "format", 'f', true, 1 }, { "quiet", 'q', false, 2 }, { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg, *format = "table";
  bool quiet = false;
  while ((id = cr_getopt (argc, argv, &optind, opts, &arg)) > 0)
    {
      if (id == 1)
        format = arg;
      else
        quiet = true;
    }
  if (id < 0)
    return 1;
  bool json = strcmp (format, "json") == 0;
  if (!json && strcmp (format, "table") != 0)
    {
      cr_log_error ("invalid format option");
      return 1;
    }
  struct cr_context ctx = { .root = g->root, .systemd_cgroup = g->systemd_cgroup };
  cleanup_dir DIR *d = opendir (g->root);
  if (json)
    fputs ("[", stdout);
  /* Table rows are collected and aligned like Go's tabwriter(minwidth 12, padding 3) in runc. */
  char *rows[1024][6];
  size_t nrows = 0;
  if (!json && !quiet)
    {
      const char *h[6] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER" };
      for (int k = 0; k < 6; k++)
        rows[0][k] = xstrdup (h[k]);
      nrows = 1;
    }
  bool first = true;
  struct dirent *de;
  while (d && (de = readdir (d)))
    {
      if (de->d_name[0] == '.')
        continue;
      cr_error_t err = NULL;
      char *state = cr_container_state_json (&ctx, de->d_name, false, true, &err);
      if (state == NULL)
        {
          cr_error_release (&err);
          continue;
        }
      if (json)
        {
          printf ("%s%s", first ? "" : ",", state);
          first = false;
        }
      else if (quiet)
        puts (de->d_name);
      else
        {
          /* Pull the few fields out of our own JSON: the shape is fixed. */
          char pid[32] = "0", status[32] = "", bundle[4096] = "", created[64] = "", owner[64] = "";
          const char *p;
          if ((p = strstr (state, "\"pid\":")))
            sscanf (p + 6, "%31[0-9]", pid);
          if ((p = strstr (state, "\"status\":\"")))
            sscanf (p + 10, "%31[^\"]", status);
          if ((p = strstr (state, "\"bundle\":\"")))
            sscanf (p + 10, "%4095[^\"]", bundle);
          if ((p = strstr (state, "\"created\":\"")))
            sscanf (p + 11, "%63[^\"]", created);
          if ((p = strstr (state, "\"owner\":\"")))
            sscanf (p + 9, "%63[^\"]", owner);
          if (nrows < sizeof rows / sizeof rows[0])
            {
              const char *v[6] = { de->d_name, pid, status, bundle, created, owner };
              for (int k = 0; k < 6; k++)
                rows[nrows][k] = xstrdup (v[k]);
              nrows++;
            }
        }
      free (state);
    }
  if (json)
    puts ("]");
  size_t width[6] = { 0 };
  for (size_t r = 0; r < nrows; r++)
    for (int k = 0; k < 5; k++)
      if (strlen (rows[r][k]) + 3 > width[k])
        width[k] = strlen (rows[r][k]) + 3;
  for (size_t r = 0; r < nrows; r++)
    {
      for (int k = 0; k < 6; k++)
        {
          if (k < 5)
            printf ("%-*s", (int) (width[k] < 12 ? 12 : width[k]), rows[r][k]);
          else
            printf ("%s\n", rows[r][k]);
          free (rows[r][k]);
        }
    }
  return 0;
}
