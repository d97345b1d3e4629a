/* lib/hooks.c: argv/env/stdin reach the hook exactly, only fds 0-2 are
 * inherited, timeouts kill the hook and its children, failures quote the
 * hook's output. */
#include "lib/hooks.h"
#include "lib/util.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/capsule-test-hooks-XXXXXX";

static char *
slurp (const char *name)
{
  cleanup_free char *path = xasprintf ("%s/%s", tmpdir, name);
  char *buf = NULL;
  cleanup_error cr_error_t err = NULL;
  if (read_file (path, &buf, NULL, &err) < 0)
    return NULL;
  return buf;
}

static void
test_args_env_stdin (void)
{
  cleanup_free char *outenv = xasprintf ("OUT=%s", tmpdir);
  char *args[] = { "my-hook-argv0", "-c",
                   "tr '\\0' ' ' </proc/$$/cmdline >\"$OUT/cmdline\"; env >\"$OUT/env\"; cat >\"$OUT/stdin\"; "
                   "for fd in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$fd ] && echo $fd; done >\"$OUT/fds\"; exit 0", "arg0", NULL };
  char *env[] = { outenv, "HOOK_VAR=hello world", NULL };
  struct oci_hook h = { .path = "/bin/sh", .args = args, .args_len = 4, .env = env, .env_len = 2 };
  /* an fd without CLOEXEC that must not leak into the hook */
  int leak = open ("/dev/null", O_RDONLY);
  T_CHECK (leak >= 3 && dup2 (leak, 7) == 7, "open");
  setenv ("CAPSULE_TEST_LEAK", "1", 1);
  cleanup_error cr_error_t err = NULL;
  const char *state = "{\"ociVersion\":\"1.2.0\",\"id\":\"x\",\"status\":\"creating\"}";
  int r = cr_hooks_run (&h, 1, state, &err);
  T_CHECK (r == 0, "hook failed: %s", err ? err->msg : "");
  close (leak);
  close (7);

  cleanup_free char *cmdline = slurp ("cmdline");
  T_STREQ (cmdline, "my-hook-argv0 -c tr '\\0' ' ' </proc/$$/cmdline >\"$OUT/cmdline\"; env >\"$OUT/env\"; cat >\"$OUT/stdin\"; "
                    "for fd in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$fd ] && echo $fd; done >\"$OUT/fds\"; exit 0 arg0 ");
  cleanup_free char *envs = slurp ("env");
  T_CONTAINS (envs, "HOOK_VAR=hello world\n");
  T_CONTAINS (envs, outenv);
  T_CHECK (envs && strstr (envs, "CAPSULE_TEST_LEAK") == NULL, "runtime env leaked into hook: %s", envs ? envs : "(none)");
  T_CHECK (envs && strstr (envs, "HOME=") == NULL, "HOME leaked");
  cleanup_free char *in = slurp ("stdin");
  T_STREQ (in, state);
  cleanup_free char *fds = slurp ("fds");
  T_STREQ (fds, "");   /* fds 3-9 closed, including the non-CLOEXEC fd 7 */
}

static void
test_no_args_and_empty_env (void)
{
  cleanup_free char *script = xasprintf ("%s/hook.sh", tmpdir);
  cleanup_free char *body = xasprintf ("#!/bin/sh\necho \"argc=$# env=$(env | grep -v '^PWD=' | wc -l)\" > %s/noargs\n", tmpdir);
  cleanup_error cr_error_t err = NULL;
  T_CHECK (write_file_at (AT_FDCWD, script, body, strlen (body), &err) == 0 && chmod (script, 0755) == 0, "script");
  struct oci_hook h = { .path = script };
  T_CHECK (cr_hook_run (&h, 0, "{}", &err) == 0, "no-args hook: %s", err ? err->msg : "");
  cleanup_free char *out = slurp ("noargs");
  T_STREQ (out, "argc=0 env=0\n");
}

static void
test_failure_text (void)
{
  char *args[] = { "sh", "-c", "echo out; echo line2; echo err >&2; exit 3", NULL };
  struct oci_hook h = { .path = "/bin/sh", .args = args, .args_len = 3 };
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_hooks_run (&h, 1, "{}", &err) < 0, "failing hook succeeded");
  T_STREQ (err ? err->msg : NULL, "error running hook #0 `/bin/sh`: exit status 3, stdout: out line2, stderr: err");

  char *sargs[] = { "sh", "-c", "kill -TERM $$", NULL };
  struct oci_hook s = { .path = "/bin/sh", .args = sargs, .args_len = 3 };
  cleanup_error cr_error_t e2 = NULL;
  T_CHECK (cr_hook_run (&s, 4, "{}", &e2) < 0, "signalled hook succeeded");
  T_STREQ (e2 ? e2->msg : NULL, "error running hook #4 `/bin/sh`: signal: terminated, stdout: , stderr: ");

  struct oci_hook m = { .path = "/nonexistent/hook" };
  cleanup_error cr_error_t e3 = NULL;
  T_CHECK (cr_hook_run (&m, 0, "{}", &e3) < 0, "missing hook succeeded");
  T_STREQ (e3 ? e3->msg : NULL, "error running hook #0 `/nonexistent/hook`: exec: No such file or directory");

  /* a runtime that ignores SIGCHLD still gets the exit status */
  signal (SIGCHLD, SIG_IGN);
  cleanup_error cr_error_t e4 = NULL;
  T_CHECK (cr_hook_run (&h, 1, "{}", &e4) < 0, "failing hook succeeded with SIGCHLD ignored");
  T_CONTAINS (e4 ? e4->msg : NULL, "exit status 3");
  T_CHECK (signal (SIGCHLD, SIG_DFL) == SIG_IGN, "SIGCHLD disposition restored");
}

/* The hook's stdout and stderr are copied to the runtime's stderr. */
static void
test_output_to_stderr (void)
{
  cleanup_free char *log = xasprintf ("%s/runtime-stderr", tmpdir);
  pid_t pid = fork ();
  if (pid == 0)
    {
      int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0 || dup2 (fd, 2) < 0)
        _exit (2);
      char *args[] = { "sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL };
      struct oci_hook h = { .path = "/bin/sh", .args = args, .args_len = 3 };
      cr_error_t err = NULL;
      _exit (cr_hook_run (&h, 0, "{}", &err) == 0 ? 0 : 1);
    }
  int st = 0;
  waitpid (pid, &st, 0);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "hook in child: %#x", st);
  cleanup_free char *out = slurp ("runtime-stderr");
  T_CONTAINS (out, "to-stdout\n");
  T_CONTAINS (out, "to-stderr\n");
}

static void
test_stops_at_first_failure (void)
{
  cleanup_free char *a1 = xasprintf ("touch %s/first", tmpdir);
  cleanup_free char *a3 = xasprintf ("touch %s/third", tmpdir);
  char *args1[] = { "sh", "-c", a1, NULL }, *args2[] = { "sh", "-c", "exit 1", NULL }, *args3[] = { "sh", "-c", a3, NULL };
  struct oci_hook hs[3] = {
    { .path = "/bin/sh", .args = args1, .args_len = 3 },
    { .path = "/bin/sh", .args = args2, .args_len = 3 },
    { .path = "/bin/sh", .args = args3, .args_len = 3 },
  };
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_hooks_run (hs, 3, "{}", &err) < 0, "should fail");
  T_CONTAINS (err ? err->msg : NULL, "error running hook #1 `/bin/sh`: exit status 1");
  cleanup_free char *p1 = xasprintf ("%s/first", tmpdir), *p3 = xasprintf ("%s/third", tmpdir);
  T_CHECK (access (p1, F_OK) == 0, "first hook ran");
  T_CHECK (access (p3, F_OK) < 0, "third hook ran after a failure");
}

static void
test_timeout (void)
{
  /* the hook leaves a grandchild too: both must be gone after the timeout */
  cleanup_free char *script = xasprintf ("sleep 60 & echo $! > %s/grandchild; echo $$ > %s/child; wait", tmpdir, tmpdir);
  char *args[] = { "sh", "-c", script, NULL };
  struct oci_hook h = { .path = "/bin/sh", .args = args, .args_len = 3, .has_timeout = true, .timeout = 1 };
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_hook_run (&h, 2, "{}", &err) < 0, "timeout not enforced");
  T_STREQ (err ? err->msg : NULL, "error running hook #2 `/bin/sh`: hook timed out after 1s");
  cleanup_free char *c = slurp ("child"), *g = slurp ("grandchild");
  T_CHECK (c && g, "pid files");
  if (c && g)
    {
      pid_t cp = atoi (c), gp = atoi (g);
      T_CHECK (kill (cp, 0) < 0 && errno == ESRCH, "hook %d still alive", cp);
      /* the grandchild was reparented; give init a moment to reap it */
      int alive = 1;
      for (int i = 0; i < 100 && alive; i++)
        {
          cleanup_free char *stat = xasprintf ("/proc/%d/stat", gp);
          cleanup_free char *buf = NULL;
          cleanup_error cr_error_t e = NULL;
          alive = read_file (stat, &buf, NULL, &e) == 0 && strstr (buf, ") Z ") == NULL;
          if (alive)
            usleep (10000);
        }
      T_CHECK (!alive, "grandchild %d survived the timeout", gp);
    }
}

static void
test_hook_ignores_stdin (void)
{
  /* 4 MiB of state to a hook that never reads it: no SIGPIPE, no hang */
  size_t n = 4 << 20;
  cleanup_free char *big = xmalloc0 (n + 1);
  memset (big, 'x', n);
  char *args[] = { "sh", "-c", "exit 0", NULL };
  struct oci_hook h = { .path = "/bin/sh", .args = args, .args_len = 3, .has_timeout = true, .timeout = 20 };
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_hook_run (&h, 0, big, &err) == 0, "hook: %s", err ? err->msg : "");
  sigset_t pending;
  sigpending (&pending);
  T_CHECK (!sigismember (&pending, SIGPIPE), "SIGPIPE left pending");

  /* and a hook that reads all of it gets all of it */
  cleanup_free char *cmd = xasprintf ("wc -c > %s/count", tmpdir);
  char *args2[] = { "sh", "-c", cmd, NULL };
  struct oci_hook h2 = { .path = "/bin/sh", .args = args2, .args_len = 3 };
  cleanup_error cr_error_t e2 = NULL;
  T_CHECK (cr_hook_run (&h2, 0, big, &e2) == 0, "reader hook: %s", e2 ? e2->msg : "");
  cleanup_free char *count = slurp ("count");
  T_CHECK (count && atol (count) == (long) n, "hook read %s bytes", count ? count : "?");
}

int
main (void)
{
  if (mkdtemp (tmpdir) == NULL)
    {
      perror ("mkdtemp");
      return 1;
    }
  test_args_env_stdin ();
  test_no_args_and_empty_env ();
  test_failure_text ();
  test_output_to_stderr ();
  test_stops_at_first_failure ();
  test_timeout ();
  test_hook_ignores_stdin ();
  cleanup_error cr_error_t err = NULL;
  rm_rf (tmpdir, &err);
  return t_done ();
}
