/* lib/cgroup.c self-join: a child that writes "0" to the v1 `tasks` files the
 * parent opened lands in the container's cgroup in every v1 hierarchy, even
 * after dropping every privilege (the opener's credentials count). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/t.h"
#include "lib/cgroup.h"
#include "lib/cgroup_internal.h"
#include "lib/util.h"

static const char *
procf_of (pid_t pid)
{
  static char b[64];
  snprintf (b, sizeof b, "/proc/%d/cgroup", (int) pid);
  return b;
}

int
main (void)
{
  if (geteuid () != 0)
    {
      printf ("SKIP: needs root\n");
      return 77;
    }
  if (cr_cgroup_mode () == CR_CGROUP_V2)
    {
      printf ("SKIP: pure cgroup v2 host: no v1 hierarchy to self-join (clone3 CLONE_INTO_CGROUP is used)\n");
      return 77;
    }
  char path[64];
  snprintf (path, sizeof path, "/capsule-test/selfjoin-%d", (int) getpid ());
  struct cr_cgroup cg;
  cr_error_t err = NULL;
  if (cr_cgroup_create (path, NULL, &cg, &err) < 0)
    {
      printf ("SKIP: cannot create a test cgroup: %s\n", err->msg);
      return 77;
    }
  struct cr_cgroup_selfjoin sj;
  T_CHECK (cr_cgroup_selfjoin_open (&cg, &sj, &err) == 0, "open: %s", err ? err->msg : "");
  size_t v1 = 0;
  const struct cr_cgroup_hiers *hs = cr_cgroup_hiers ();
  for (size_t i = 0; i < hs->n; i++)
    v1 += !hs->h[i].v2;
  T_CHECK (sj.n == v1 && v1 > 0, "%zu fds for %zu v1 hierarchies", sj.n, v1);

  int res[2], go[2];
  if (pipe (res) < 0 || pipe (go) < 0)
    abort ();
  pid_t pid = fork ();
  if (pid == 0)
    {
      /* Nobody, no capabilities: only the fds opened by root remain. */
      if (setresgid (65534, 65534, 65534) < 0 || setresuid (65534, 65534, 65534) < 0)
        _exit (2);
      cr_error_t e = NULL;
      char r = cr_cgroup_selfjoin_run (&sj, &e) == 0 ? 'y' : 'n';
      if (e)
        fprintf (stderr, "child: %s\n", e->msg);
      if (write (res[1], &r, 1) != 1)
        _exit (3);
      char b;
      if (read (go[0], &b, 1) < 0)
        _exit (4);
      _exit (0);
    }
  cr_cgroup_selfjoin_close (&sj);
  char r = 0;
  T_CHECK (read (res[0], &r, 1) == 1 && r == 'y', "child could not join (%c)", r);

  /* /proc/PID/cgroup: every v1 line names our path; the unified one does not move. */
  char procf[64];
  snprintf (procf, sizeof procf, "/proc/%d/cgroup", (int) pid);
  cleanup_free char *text = NULL;
  size_t len = 0;
  T_CHECK (read_file (procf, &text, &len, &err) == 0, "read %s", procf);
  size_t in = 0;
  for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL)
    {
      nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      if (strncmp (line, "0::", 3) == 0)
        continue;
      const char *p = strchr (strchr (line, ':') + 1, ':') + 1;
      T_CHECK (strcmp (p, path) == 0, "v1 line `%s` is not in %s", line, path);
      in += strcmp (p, path) == 0;
    }
  T_CHECK (in == v1, "%zu of %zu v1 hierarchies joined", in, v1);

  /* The parent-side fallback still works (and is a no-op move now). */
  T_CHECK (cr_cgroup_enter_part (&cg, pid, true, false, &err) == 0, "enter_part: %s", err ? err->msg : "");

  if (write (go[1], "x", 1) != 1)
    abort ();
  waitpid (pid, NULL, 0);

  /* A child that cannot join reports why (the runtime then moves it from
   * outside with cr_cgroup_enter_part, as here). */
  struct cr_cgroup_selfjoin sj2;
  T_CHECK (cr_cgroup_selfjoin_open (&cg, &sj2, &err) == 0, "open again");
  pid = fork ();
  if (pid == 0)
    {
      close (sj2.fds[0]); /* the write fails: EBADF */
      cr_error_t e = NULL;
      int rr = cr_cgroup_selfjoin_run (&sj2, &e);
      char msg[256];
      snprintf (msg, sizeof msg, "%d %s", rr, e ? e->msg : "");
      if (write (res[1], msg, strlen (msg) + 1) < 0)
        _exit (3);
      char b;
      if (read (go[0], &b, 1) < 0)
        _exit (4);
      _exit (0);
    }
  cr_cgroup_selfjoin_close (&sj2);
  char msg[256] = "";
  T_CHECK (read (res[0], msg, sizeof msg - 1) > 0, "no report from the child");
  T_CONTAINS (msg, "-1 join cgroup: write 0 to `tasks`");
  T_CHECK (cr_cgroup_enter_part (&cg, pid, true, false, &err) == 0, "fallback enter: %s", err ? err->msg : "");
  cleanup_free char *text2 = NULL;
  T_CHECK (read_file (procf_of (pid), &text2, &len, &err) == 0, "read cgroup of the fallback child");
  T_CONTAINS (text2, path);
  if (write (go[1], "x", 1) != 1)
    abort ();
  waitpid (pid, NULL, 0);
  T_CHECK (cr_cgroup_destroy (&cg, &err) == 0, "destroy: %s", err ? err->msg : "");
  cr_cgroup_release (&cg);
  return t_done ();
}
