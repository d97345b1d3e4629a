/* Go flag-package-compatible option parsing: -flag and --flag, "=value" or
 * separate value, single-letter aliases; "--" ends the flags. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "lib/log.h"

int
cr_getopt (int argc, char **argv, int *optind, const struct cr_opt *opts, const char **arg)
{
  *arg = NULL;
  if (*optind >= argc)
    return 0;
  const char *a = argv[*optind];
  if (a[0] != '-' || a[1] == '\0')
    return 0;
  if (strcmp (a, "--") == 0)
    {
      (*optind)++;
      return 0;
    }
  const char *name = a + 1;
  if (*name == '-')
    name++;
  const char *eq = strchr (name, '=');
  size_t nlen = eq ? (size_t) (eq - name) : strlen (name);
  for (const struct cr_opt *o = opts; o->name; o++)
    {
      bool match = (strlen (o->name) == nlen && strncmp (o->name, name, nlen) == 0)
                   || (o->short_name && nlen == 1 && name[0] == o->short_name);
      if (!match)
        continue;
      (*optind)++;
      if (o->has_arg)
        {
          if (eq)
            *arg = eq + 1;
          else if (*optind < argc)
            *arg = argv[(*optind)++];
          else
            {
              cr_log_error ("flag needs an argument: %s", a);
              return -1;
            }
        }
      else if (eq)
        *arg = eq + 1;  /* --detach=true */
      return o->id;
    }
  cr_log_error ("flag provided but not defined: %s", a);
  return -1;
}

const char *
cr_single_id (int argc, char **argv)
{
  static const struct cr_opt none[] = { { NULL, 0, false, 0 } };
  int optind = 1, id;
  const char *arg;
  while ((id = cr_getopt (argc, argv, &optind, none, &arg)) > 0)
    ;
  if (id < 0)
    return NULL;
  if (optind != argc - 1)
    {
      cr_log_error ("\"%s\" requires exactly 1 argument", argv[0]);
      return NULL;
    }
  return argv[optind];
}
