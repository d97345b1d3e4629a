/* Concurrency groups: N holders admitted, the N+1th refused, slots freed on
 * release and reclaimed when a holder died without release. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/concurrency.h"
#include "lib/util.h"
#include "t.h"

static pid_t
sleeper (void)
{
  pid_t p = fork ();
  if (p == 0)
    {
      /* Never outlive the test. */
      alarm (60);
      pause ();
      _exit (0);
    }
  return p;
}

int
main (void)
{
  char tmpl[] = "/tmp/test-conc.XXXXXX";
  const char *root = mkdtemp (tmpl);
  cr_error_t err = NULL;
  pid_t a = sleeper (), b = sleeper (), c = sleeper ();
  T_CHECK (capsule_slot_acquire (root, "g", 2, "a", a, &err) == 0, "first");
  T_CHECK (capsule_slot_acquire (root, "g", 2, "b", b, &err) == 0, "second");
  T_CHECK (capsule_slot_count (root, "g", &err) == 2, "count 2");
  T_CHECK (capsule_slot_acquire (root, "g", 2, "c", c, &err) < 0, "third refused");
  T_CONTAINS (err ? err->msg : NULL, "group `g` is full: 2 of 2 running");
  cr_error_release (&err);
  /* Another group is independent. */
  T_CHECK (capsule_slot_acquire (root, "h", 1, "c", c, &err) == 0, "other group");
  /* Re-acquiring one's own slot (same id) does not count against oneself. */
  T_CHECK (capsule_slot_acquire (root, "g", 2, "b", b, &err) == 0, "same id again");
  /* Release frees a slot. */
  capsule_slot_release (root, "g", "a");
  T_CHECK (capsule_slot_acquire (root, "g", 2, "c", c, &err) == 0, "after release");
  T_CHECK (capsule_slot_acquire (root, "g", 2, "d", getpid (), &err) < 0, "full again");
  cr_error_release (&err);
  /* A holder that died without release is reclaimed; a zombie counts as dead. */
  kill (b, SIGKILL);
  usleep (100000);
  T_CHECK (capsule_slot_count (root, "g", &err) == 1, "zombie holder reclaimed");
  waitpid (b, NULL, 0);
  T_CHECK (capsule_slot_acquire (root, "g", 2, "d", getpid (), &err) == 0, "slot of dead holder reused");
  /* Handing the slot over to another process. */
  T_CHECK (capsule_slot_update (root, "g", "d", a, &err) == 0, "update");
  T_CHECK (capsule_slot_count (root, "g", &err) == 2, "count after update");
  kill (a, SIGKILL);
  waitpid (a, NULL, 0);
  T_CHECK (capsule_slot_count (root, "g", &err) == 1, "updated holder death reclaimed");
  /* Many concurrent acquirers: never more than max admitted. */
  int admitted = 0;
  pid_t kids[16];
  for (int i = 0; i < 16; i++)
    {
      kids[i] = fork ();
      if (kids[i] == 0)
        {
          char id[16];
          snprintf (id, sizeof id, "r%d", i);
          cr_error_t e = NULL;
          _exit (capsule_slot_acquire (root, "race", 5, id, getppid (), &e) == 0 ? 0 : 1);
        }
    }
  for (int i = 0; i < 16; i++)
    {
      int st;
      waitpid (kids[i], &st, 0);
      admitted += WIFEXITED (st) && WEXITSTATUS (st) == 0;
    }
  T_CHECK (admitted == 5, "race: %d admitted of max 5", admitted);
  kill (c, SIGKILL);
  waitpid (c, NULL, 0);
  char *cmd = xasprintf ("rm -rf %s", root);
  T_CHECK (system (cmd) == 0, "cleanup");
  free (cmd);
  return t_done ();
}
