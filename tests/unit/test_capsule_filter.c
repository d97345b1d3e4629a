/* The capsule seccomp filter is compiled at build time and embedded
 * (lib/confine.c): it must be exactly what the installed libseccomp makes
 * of the rules now, and the kernel must take it. */
#include <linux/filter.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/confine.h"
#include "lib/gen/capsule_filter_rules.h"
#include "t.h"

int
main (void)
{
  const void *embedded;
  size_t elen;
  capsule_seccomp_program (&embedded, &elen);
  T_CHECK (elen > 0 && elen % sizeof (struct sock_filter) == 0, "embedded program of %zu bytes", elen);

  unsigned char *fresh = NULL;
  size_t flen = 0;
  char what[128] = "";
  int r = capsule_filter_compile (&fresh, &flen, what, sizeof what);
  T_CHECK (r == 0, "compile the rules: %s (%d)", what, r);
  T_CHECK (flen == elen, "fresh program %zu bytes, embedded %zu", flen, elen);
  T_CHECK (fresh && flen == elen && memcmp (fresh, embedded, elen) == 0, "embedded program differs from a fresh compile");
  /* The first instructions check the architecture (load arch, compare). */
  const struct sock_filter *ins = embedded;
  T_CHECK (ins[0].code == (BPF_LD | BPF_W | BPF_ABS) && ins[0].k == 4, "first instruction loads seccomp_data.arch");
  free (fresh);

  /* The kernel accepts it (the attacks against it: tests/capsule/ and test_landlock.c). */
  pid_t p = fork ();
  if (p == 0)
    {
      cr_error_t e = NULL;
      _exit (capsule_seccomp_load (&e) == 0 && unshare (0) < 0 ? 0 : 1);
    }
  int st = 0;
  T_CHECK (p > 0 && waitpid (p, &st, 0) == p && WIFEXITED (st) && WEXITSTATUS (st) == 0,
           "load the embedded filter in a child (unshare must then fail)");
  return t_done ();
}
