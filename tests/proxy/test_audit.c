/* Hash-chained audit log: append, reopen, two writers, verify detects
 * edits, deletions, reordering, truncation against a recorded head. */
#include "audit.h"
#include "t.h"
#include "util.h"

#include <stdlib.h>
#include <sys/wait.h>

static int
verify (const char *path, uint64_t *bad)
{
  char *why = NULL;
  cr_error_t err = NULL;
  int r = audit_verify (path, bad, &why, &err);
  if (r < 0)
    cr_error_release (&err);
  free (why);
  return r;
}

static void
sh (const char *cmd)
{
  if (system (cmd) != 0)
    fprintf (stderr, "command failed: %s\n", cmd);
}

int
main (void)
{
  char dir[] = "/tmp/audit-test.XXXXXX";
  if (!mkdtemp (dir))
    return 1;
  char path[256], copy[256], cmd[1024];
  snprintf (path, sizeof path, "%s/a.jsonl", dir);
  snprintf (copy, sizeof copy, "%s/b.jsonl", dir);
  cr_error_t err = NULL;
  struct audit_log *log = NULL;
  T_CHECK (audit_open (path, &log, &err) == 0, "open");
  T_CHECK (audit_append (log, "{\"event\":\"start\"}", &err) == 0, "append 1");
  T_CHECK (audit_append (log, "{}", &err) == 0, "append empty object");
  T_CHECK (audit_append (log, "not json", &err) < 0, "reject non-object");
  cr_error_release (&err);
  T_CHECK (audit_append (log, "{\"a\":\"x\ny\"}", &err) < 0, "reject newline");
  cr_error_release (&err);
  audit_close (log);

  /* reopen recovers the chain head */
  T_CHECK (audit_open (path, &log, &err) == 0, "reopen");
  T_CHECK (audit_append (log, "{\"event\":\"after-reopen\"}", &err) == 0, "append 3");
  /* a second writer (another process) appends behind our back */
  pid_t pid = fork ();
  if (pid == 0)
    {
      struct audit_log *l2 = NULL;
      cr_error_t e2 = NULL;
      if (audit_open (path, &l2, &e2) < 0)
        _exit (1);
      for (int i = 0; i < 50; i++)
        if (audit_append (l2, "{\"event\":\"child\"}", &e2) < 0)
          _exit (1);
      audit_close (l2);
      _exit (0);
    }
  for (int i = 0; i < 50; i++)
    audit_append (log, "{\"event\":\"parent\"}", &err);
  int st;
  waitpid (pid, &st, 0);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "child writer");
  T_CHECK (audit_append (log, "{\"event\":\"last\"}", &err) == 0, "append last");
  /* batched: lock held, completion lines deferred and written with the next line */
  audit_hold (log, true);
  T_CHECK (audit_append_deferred (log, "{\"event\":\"done1\"}", &err) == 0, "deferred 1");
  T_CHECK (audit_append_deferred (log, "{\"event\":\"done2\"}", &err) == 0, "deferred 2");
  T_CHECK (audit_append (log, "{\"event\":\"decision\"}", &err) == 0, "decision after deferred");
  T_CHECK (audit_append_deferred (log, "{\"event\":\"done3\"}", &err) == 0, "deferred 3");
  audit_hold (log, false);
  uint64_t seq;
  char head[65];
  audit_head (log, &seq, head);
  seq -= 4;
  T_CHECK (seq == 104, "head seq %lu", (unsigned long) seq);
  audit_close (log);

  seq += 4;
  uint64_t bad = 0;
  snprintf (cmd, sizeof cmd, "tail -n 4 %s | grep -c -E 'done1|done2|decision|done3' | grep -qx 4", path);
  T_CHECK (system (cmd) == 0, "deferred lines written in order");
  T_CHECK (verify (path, &bad) == 0, "intact chain verifies (bad=%lu)", (unsigned long) bad);
  char *why = NULL;
  T_CHECK (audit_verify_head (path, seq, head, &bad, &why, &err) == 0, "head matches");
  free (why);
  why = NULL;
  T_CHECK (audit_verify_head (path, seq + 1, NULL, &bad, &why, &err) == 1, "head count mismatch");
  free (why);
  why = NULL;

  /* edit line 3 */
  snprintf (cmd, sizeof cmd, "sed '3s/after-reopen/after-REOPEN/' %s > %s", path, copy);
  sh (cmd);
  T_CHECK (verify (copy, &bad) == 1 && bad == 4, "edit detected at next line (bad=%lu)", (unsigned long) bad);
  /* delete line 5 */
  snprintf (cmd, sizeof cmd, "sed '5d' %s > %s", path, copy);
  sh (cmd);
  T_CHECK (verify (copy, &bad) == 1 && bad == 5, "deletion detected (bad=%lu)", (unsigned long) bad);
  /* swap lines 6 and 7 */
  snprintf (cmd, sizeof cmd, "f=%s; { sed -n 1,5p $f; sed -n 7p $f; sed -n 6p $f; sed -n '8,$p' $f; } > %s", path, copy);
  sh (cmd);
  T_CHECK (verify (copy, &bad) == 1 && bad == 6, "reordering detected (bad=%lu)", (unsigned long) bad);
  /* truncate tail: chain alone is fine, the recorded head catches it */
  snprintf (cmd, sizeof cmd, "head -n 100 %s > %s", path, copy);
  sh (cmd);
  T_CHECK (verify (copy, &bad) == 0, "truncated prefix is a valid chain");
  T_CHECK (audit_verify_head (copy, seq, head, &bad, &why, &err) == 1, "truncation caught by head");
  free (why);
  /* a line edited and its seq kept, first line */
  snprintf (cmd, sizeof cmd, "sed '1s/start/stort/' %s > %s", path, copy);
  sh (cmd);
  T_CHECK (verify (copy, &bad) == 1 && bad == 2, "first line edit (bad=%lu)", (unsigned long) bad);

  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  sh (cmd);
  return t_done ();
}
