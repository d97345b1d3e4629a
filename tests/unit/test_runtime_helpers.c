/* Pure helpers of the runtime: container id rule, signal names, mount
 * options, rlimit names, state JSON shape, propagation names. */
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "lib/container.h"
#include "lib/mount_opts.h"
#include "lib/process.h"
#include "lib/state.h"
#include "t.h"

static void
test_ids (void)
{
  const char *good[] = { "a", "abc-DEF_0+9.x", "_x", "+x", "-x", "1" };
  const char *bad[] = { "", ".x", "a/b", "..", "a b", "a\nb", "é" };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    {
      cr_error_t e = NULL;
      T_CHECK (cr_validate_id (good[i], &e) == 0, "id '%s' should be valid", good[i]);
      cr_error_release (&e);
    }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      cr_error_t e = NULL;
      T_CHECK (cr_validate_id (bad[i], &e) < 0, "id '%s' should be invalid", bad[i]);
      if (e && bad[i][0])
        T_CONTAINS (e->msg, "invalid container id format");
      cr_error_release (&e);
    }
}

static void
test_signals (void)
{
  T_CHECK (cr_signal_parse ("KILL") == SIGKILL, "KILL");
  T_CHECK (cr_signal_parse ("SIGKILL") == SIGKILL, "SIGKILL");
  T_CHECK (cr_signal_parse ("sigterm") == SIGTERM, "sigterm");
  T_CHECK (cr_signal_parse ("9") == 9, "9");
  T_CHECK (cr_signal_parse ("15") == 15, "15");
  T_CHECK (cr_signal_parse ("WINCH") == SIGWINCH, "WINCH");
  T_CHECK (cr_signal_parse ("RTMIN+1") == SIGRTMIN + 1, "RTMIN+1");
  T_CHECK (cr_signal_parse ("NOPE") < 0, "unknown name");
  T_CHECK (cr_signal_parse ("0") < 0, "0 is not a signal to send");
  T_CHECK (cr_signal_parse ("99") < 0, "99 out of range");
}

static void
test_mount_opts (void)
{
  char *o1[] = { "nosuid", "noexec", "nodev", "ro", "rprivate", "mode=755", "size=65536k" };
  struct cr_mount_opts m;
  cr_error_t e = NULL;
  T_CHECK (cr_mount_opts_parse (o1, 7, &m, &e) == 0, "parse");
  T_CHECK (m.flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY), "flags %lx", m.flags);
  T_CHECK (m.propagation == (MS_PRIVATE | MS_REC), "propagation");
  T_STREQ (m.data, "mode=755,size=65536k");
  cr_mount_opts_release (&m);
  char *o2[] = { "rbind", "ro", "rw" };
  T_CHECK (cr_mount_opts_parse (o2, 3, &m, &e) == 0, "parse rbind");
  T_CHECK (m.bind && m.rec_bind, "rbind sets bind + rec");
  T_CHECK (!(m.flags & MS_RDONLY), "rw after ro clears it");
  T_CHECK (m.data == NULL, "no data");
  cr_mount_opts_release (&m);
  T_CHECK (cr_propagation_flags ("rslave", &e) == (long) (MS_SLAVE | MS_REC), "rslave");
  T_CHECK (cr_propagation_flags ("sideways", &e) < 0, "unknown propagation");
  T_CONTAINS (e ? e->msg : NULL, "rootfsPropagation");
  cr_error_release (&e);
}

static void
test_rlimits (void)
{
  T_CHECK (cr_rlimit_from_name ("RLIMIT_NOFILE") == RLIMIT_NOFILE, "NOFILE");
  T_CHECK (cr_rlimit_from_name ("RLIMIT_RTTIME") == RLIMIT_RTTIME, "RTTIME");
  T_CHECK (cr_rlimit_from_name ("RLIMIT_FOO") < 0, "unknown");
}

static void
test_state_json (void)
{
  struct cr_state s = { .id = "c1", .bundle = "/b", .rootfs = "/b/rootfs", .created = "2026-01-01T00:00:00.000000000Z", .pid = 42 };
  const char *ann[] = { "k", "v\"q", NULL };
  char *j = cr_state_oci_json (&s, "running", ann, false);
  T_STREQ (j, "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"pid\":42,\"status\":\"running\",\"bundle\":\"/b\","
              "\"rootfs\":\"/b/rootfs\",\"created\":\"2026-01-01T00:00:00.000000000Z\","
              "\"annotations\":{\"k\":\"v\\\"q\"},\"owner\":\"\"}");
  free (j);
  j = cr_state_oci_json (&s, "stopped", NULL, false);
  T_CONTAINS (j, "\"pid\":0");
  free (j);
}

int
main (void)
{
  test_ids ();
  test_signals ();
  test_mount_opts ();
  test_rlimits ();
  test_state_json ();
  return t_done ();
}
