/* The capsule annotation schema: every key, every error, every bound. */
#include <stdlib.h>

#include "lib/util.h"
#include "oci-spec/annotations.h"
#include "oci-spec/config.h"
#include "t.h"

/* Parse one annotation; return the error message (malloc'd) or NULL. */
static char *
one (const char *key, const char *value, struct capsule_annotations *a)
{
  struct oci_kv kv[2] = { { (char *) "other/key", (char *) "x" }, { (char *) key, (char *) value } };
  cr_error_t err = NULL;
  if (capsule_annotations_parse (kv, 2, a, &err) == 0)
    return NULL;
  char *m = xstrdup (err->msg);
  cr_error_release (&err);
  return m;
}

static void
ok (const char *key, const char *value)
{
  struct capsule_annotations a;
  char *m = one (key, value, &a);
  T_CHECK (m == NULL, "%s=%s refused: %s", key, value, m);
  if (m == NULL)
    {
      T_CHECK (a.any, "%s: any not set", key);
      capsule_annotations_release (&a);
    }
  free (m);
}

static void
bad (const char *key, const char *value, const char *want)
{
  struct capsule_annotations a;
  char *m = one (key, value, &a);
  T_CHECK (m != NULL, "%s=%s accepted", key, value);
  if (m == NULL)
    {
      capsule_annotations_release (&a);
      return;
    }
  /* Every error names the key and (when there is one) the value. */
  T_CONTAINS (m, key);
  if (*value)
    T_CONTAINS (m, value);
  T_CONTAINS (m, want);
  free (m);
}

int
main (void)
{
  struct capsule_annotations a;
  char *m;

  /* No capsule keys at all: not a capsule. */
  {
    struct oci_kv kv[1] = { { (char *) "io.kubernetes.cri.container-type", (char *) "sandbox" } };
    cr_error_t err = NULL;
    T_CHECK (capsule_annotations_parse (kv, 1, &a, &err) == 0 && !a.any, "plain");
    capsule_annotations_release (&a);
  }

  /* Identifiers. */
  const char *idk[] = { "capsule/profile", "capsule/agent", "capsule/version", "capsule/session" };
  for (size_t i = 0; i < 4; i++)
    {
      ok (idk[i], "support-bot_1.4.2:x@y+z");
      bad (idk[i], "", "expected 1 to 128 characters");
      bad (idk[i], "has space", "expected 1 to 128 characters");
      bad (idk[i], "semi;colon", "expected 1 to 128 characters");
      char big[130];
      memset (big, 'a', 129);
      big[129] = '\0';
      bad (idk[i], big, "expected 1 to 128 characters");
      big[128] = '\0';
      ok (idk[i], big);
    }
  m = one ("capsule/agent", "support-bot", &a);
  T_CHECK (m == NULL && a.agent && strcmp (a.agent, "support-bot") == 0, "agent stored");
  capsule_annotations_release (&a);

  /* Lease. */
  ok ("capsule/lease", "eyJ2IjoxfQ.c2ln-_");
  bad ("capsule/lease", "a b", "expected a lease token");
  bad ("capsule/lease", "abc=", "expected a lease token");

  /* Free-text keys (grammar checked at admission). */
  const char *tk[] = { "capsule/egress.allow", "capsule/egress.gateway", "capsule/egress.tls-pin", "capsule/dns.pin",
                       "capsule/credentials", "capsule/capability.send_mail" };
  for (size_t i = 0; i < 6; i++)
    {
      ok (tk[i], "GET,POST api.example.com/v1/*; *.corp.example:8443");
      bad (tk[i], " ; ", "expected a non-empty value");
      bad (tk[i], "a\tb", "control characters");
    }
  bad ("capsule/capability.bad name", "x", "capability name");
  m = one ("capsule/capability.send-mail", "POST mail.example/send rate=5/1h", &a);
  T_CHECK (m == NULL && a.capabilities_len == 1 && strcmp (a.capabilities[0].name, "send-mail") == 0, "capability");
  capsule_annotations_release (&a);

  /* fs.writable */
  m = one ("capsule/fs.writable", " /workspace/ ; /tmp;/home/agent ", &a);
  T_CHECK (m == NULL && a.writable_len == 3 && strcmp (a.writable[0], "/workspace") == 0
               && strcmp (a.writable[2], "/home/agent") == 0, "writable list");
  capsule_annotations_release (&a);
  bad ("capsule/fs.writable", "workspace", "absolute");
  bad ("capsule/fs.writable", "/", "root directory");
  bad ("capsule/fs.writable", "/a/../etc", "normalised");
  bad ("capsule/fs.writable", "/a//b", "normalised");
  bad ("capsule/fs.writable", "/a/.", "normalised");
  bad ("capsule/fs.writable", "/proc/sys", "/proc, /sys and /dev");
  bad ("capsule/fs.writable", "/dev", "/proc, /sys and /dev");
  bad ("capsule/fs.writable", "/sys", "/proc, /sys and /dev");
  ok ("capsule/fs.writable", "/devices");
  bad ("capsule/fs.writable", "/a;/a", "twice");
  bad ("capsule/fs.writable", ";", "expected");
  {
    char buf[512] = "";
    for (int i = 0; i < 17; i++)
      snprintf (buf + strlen (buf), sizeof buf - strlen (buf), "/w%d;", i);
    bad ("capsule/fs.writable", buf, "at most 16");
    buf[strlen (buf) - 5] = '\0'; /* drop "/w16;" */
    ok ("capsule/fs.writable", buf);
  }

  /* fs.size and its bounds. */
  m = one ("capsule/fs.size", "256Mi", &a);
  T_CHECK (m == NULL && a.has_fs_size && a.fs_size == 256ULL << 20, "256Mi");
  capsule_annotations_release (&a);
  ok ("capsule/fs.size", "1Mi");
  ok ("capsule/fs.size", "1Ti");
  ok ("capsule/fs.size", "1048576");
  ok ("capsule/fs.size", "2G");
  bad ("capsule/fs.size", "1048575", "between 1Mi and 1Ti");
  bad ("capsule/fs.size", "1025Gi", "between 1Mi and 1Ti");
  bad ("capsule/fs.size", "12Qi", "expected a size like 256Mi");
  bad ("capsule/fs.size", "-1Mi", "expected a size");
  bad ("capsule/fs.size", "1.5Gi", "expected a size");
  bad ("capsule/fs.size", "99999999999999999999Ti", "expected a size");
  bad ("capsule/fs.size", "20000000Ti", "size out of range");

  /* timeout */
  m = one ("capsule/timeout", "1h30m", &a);
  T_CHECK (m == NULL && a.timeout_s == 5400, "1h30m");
  capsule_annotations_release (&a);
  ok ("capsule/timeout", "1s");
  ok ("capsule/timeout", "30d");
  bad ("capsule/timeout", "0s", "between 1s and 30d");
  bad ("capsule/timeout", "30d1s", "between 1s and 30d");
  bad ("capsule/timeout", "15", "expected a duration");
  bad ("capsule/timeout", "15x", "expected a duration");
  bad ("capsule/timeout", "m", "expected a duration");

  /* concurrency */
  m = one ("capsule/concurrency", "batch-1=3", &a);
  T_CHECK (m == NULL && a.has_concurrency && strcmp (a.concurrency_group, "batch-1") == 0 && a.concurrency_max == 3, "conc");
  capsule_annotations_release (&a);
  ok ("capsule/concurrency", "g=100000");
  bad ("capsule/concurrency", "g=0", "expected group=N");
  bad ("capsule/concurrency", "g=100001", "expected group=N");
  bad ("capsule/concurrency", "=3", "expected group=N");
  bad ("capsule/concurrency", "g", "expected group=N");
  bad ("capsule/concurrency", "a/b=3", "expected group=N");
  bad ("capsule/concurrency", ".hidden=3", "expected group=N");
  bad ("capsule/concurrency", "g=3x", "expected group=N");

  /* limits */
  m = one ("capsule/limits", "cpu=0.5, memory=512Mi,pids=256,gpu=0", &a);
  T_CHECK (m == NULL && a.has_limits && a.limits.cpu_milli == 500 && a.limits.memory == 512ULL << 20
               && a.limits.pids == 256 && a.limits.has_gpu && a.limits.gpu == 0, "limits");
  capsule_annotations_release (&a);
  m = one ("capsule/limits", "cpu=250m", &a);
  T_CHECK (m == NULL && a.limits.cpu_milli == 250 && !a.limits.has_memory, "cpu=250m");
  capsule_annotations_release (&a);
  ok ("capsule/limits", "cpu=0.01");
  ok ("capsule/limits", "cpu=1024");
  bad ("capsule/limits", "cpu=0.0005", "at most 3 decimals");
  bad ("capsule/limits", "cpu=0.009", "between 0.01 and 1024");
  bad ("capsule/limits", "cpu=0.001", "between 0.01 and 1024");
  bad ("capsule/limits", "cpu=1025", "between 0.01 and 1024");
  bad ("capsule/limits", "cpu=abc", "expected a CPU count");
  bad ("capsule/limits", "memory=4095Ki", "between 4Mi and 16Ti");
  ok ("capsule/limits", "memory=4Mi");
  bad ("capsule/limits", "memory=17Ti", "between 4Mi and 16Ti");
  bad ("capsule/limits", "pids=0", "pids must be");
  bad ("capsule/limits", "pids=4194305", "pids must be");
  ok ("capsule/limits", "pids=4194304");
  bad ("capsule/limits", "gpu=65", "gpu must be");
  ok ("capsule/limits", "gpu=64");
  bad ("capsule/limits", "disk=1", "unknown limit");
  bad ("capsule/limits", "cpu=1,cpu=2", "given twice");
  bad ("capsule/limits", "cpu", "expected key=value");
  bad ("capsule/limits", ",", "expected key=value");

  /* Unknown keys and duplicates. */
  bad ("capsule/unknown", "x", "unknown capsule annotation");
  bad ("capsule/fs.Size", "1Mi", "unknown capsule annotation");
  {
    struct oci_kv kv[2] = { { (char *) "capsule/agent", (char *) "a" }, { (char *) "capsule/agent", (char *) "b" } };
    cr_error_t err = NULL;
    T_CHECK (capsule_annotations_parse (kv, 2, &a, &err) < 0 && strstr (err->msg, "given twice"), "dup key");
    cr_error_release (&err);
  }

  /* Helpers. */
  char *s = capsule_format_size (64ULL << 20);
  T_STREQ (s, "64Mi");
  free (s);
  s = capsule_format_size (1000);
  T_STREQ (s, "1000");
  free (s);
  return t_done ();
}
