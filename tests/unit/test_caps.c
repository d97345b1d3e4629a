/* lib/caps.c: names <-> numbers, and the five sets really applied in a
 * forked child (read back from /proc/self/status). */
#include "lib/caps.h"
#include "lib/util.h"
#include "t.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIT(c) (UINT64_C (1) << (c))
enum { KILL = 5, SETUID = 7, SETPCAP = 8, NET_BIND = 10, NET_ADMIN = 12, NET_RAW = 13, SYS_ADMIN = 21 };

struct result { int rc; char msg[256]; uint64_t bnd, eff, prm, inh, amb; };

static uint64_t
status_mask (const char *status, const char *key)
{
  const char *p = strstr (status, key);
  return p ? strtoull (p + strlen (key), NULL, 16) : UINT64_MAX;
}

/* Fork; in the child optionally become uid 1000 keeping caps, apply c, report. */
static struct result
apply_in_child (const struct oci_capabilities *c, bool setuid_first)
{
  struct result r = { .rc = -99 };
  int fds[2];
  if (pipe (fds) < 0)
    return r;
  pid_t pid = fork ();
  if (pid == 0)
    {
      struct result cr = { 0 };
      cr_error_t err = NULL;
      if (setuid_first)
        {
          prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0);
          if (setresgid (1000, 1000, 1000) < 0 || setresuid (1000, 1000, 1000) < 0)
            _exit (3);
        }
      cr.rc = cr_caps_apply (c, &err);
      if (err)
        snprintf (cr.msg, sizeof cr.msg, "%s", err->msg);
      char *st = NULL;
      cr_error_t e2 = NULL;
      if (read_file ("/proc/self/status", &st, NULL, &e2) == 0)
        {
          cr.bnd = status_mask (st, "CapBnd:");
          cr.eff = status_mask (st, "CapEff:");
          cr.prm = status_mask (st, "CapPrm:");
          cr.inh = status_mask (st, "CapInh:");
          cr.amb = status_mask (st, "CapAmb:");
        }
      if (write (fds[1], &cr, sizeof cr) != sizeof cr)
        _exit (2);
      _exit (0);
    }
  close (fds[1]);
  if (read (fds[0], &r, sizeof r) != sizeof r)
    r.rc = -98;
  close (fds[0]);
  waitpid (pid, NULL, 0);
  return r;
}

#define CHECK_MASK(got, want) T_CHECK ((got) == (want), #got " = %#" PRIx64 ", want %#" PRIx64, (uint64_t) (got), (uint64_t) (want))

static void
test_names (void)
{
  cleanup_error cr_error_t err = NULL;
  T_CHECK (cr_cap_from_name ("CAP_NET_RAW", &err) == 13, "NET_RAW");
  T_CHECK (cr_cap_from_name ("CAP_CHOWN", &err) == 0, "CHOWN");
  T_CHECK (cr_cap_from_name ("CAP_CHECKPOINT_RESTORE", &err) == (cr_caps_last_cap () >= 40 ? 40 : -2), "CR");
  T_CHECK (cr_cap_from_name ("CAP_FOO", &err) == -2 && err == NULL, "unknown is not an error");
  T_CHECK (cr_cap_from_name ("CAP_net_raw", &err) == -2 && err == NULL, "case matters like runc");
  T_CHECK (cr_cap_from_name ("NET_RAW", &err) == -1, "malformed accepted");
  T_STREQ (err ? err->msg : NULL, "invalid capability name \"NET_RAW\": expected CAP_<NAME>");
  T_STREQ (cr_cap_name (21), "CAP_SYS_ADMIN");
  T_CHECK (cr_cap_name (64) == NULL && cr_cap_name (-1) == NULL, "out of range name");
  T_CHECK (cr_caps_last_cap () >= 37, "cap_last_cap %d", cr_caps_last_cap ());
  const char *const *known = cr_caps_known_names ();
  size_t n = 0;
  while (known[n])
    n++;
  T_CHECK (n == (size_t) cr_caps_last_cap () + 1, "known names %zu", n);
  T_STREQ (known[13], "CAP_NET_RAW");

  char *names[] = { "CAP_KILL", "CAP_BOGUS", "CAP_NET_BIND_SERVICE" };
  uint64_t m;
  T_CHECK (cr_caps_mask (names, 3, &m, &err) == 0 && m == (BIT (KILL) | BIT (NET_BIND)), "mask skips unknown");
}

static char **
strv (const char *const *v, size_t *n)
{
  *n = 0;
  while (v[*n])
    (*n)++;
  char **out = xmalloc0 ((*n + 1) * sizeof (char *));
  for (size_t i = 0; i < *n; i++)
    out[i] = xstrdup (v[i]);
  return out;
}

static void
free_caps (struct oci_capabilities *c)
{
  char **sets[] = { c->bounding, c->effective, c->inheritable, c->permitted, c->ambient };
  size_t lens[] = { c->bounding_len, c->effective_len, c->inheritable_len, c->permitted_len, c->ambient_len };
  for (int s = 0; s < 5; s++)
    {
      for (size_t i = 0; sets[s] && i < lens[s]; i++)
        free (sets[s][i]);
      free (sets[s]);
    }
}

static void
test_remove (void)
{
  struct oci_capabilities c = { 0 };
  c.bounding = strv ((const char *[]){ "CAP_NET_ADMIN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN", NULL }, &c.bounding_len);
  c.effective = strv ((const char *[]){ "CAP_NET_RAW", NULL }, &c.effective_len);
  c.permitted = strv ((const char *[]){ "CAP_KILL", NULL }, &c.permitted_len);
  c.ambient = strv ((const char *[]){ "CAP_SYS_ADMIN", "CAP_KILL", NULL }, &c.ambient_len);
  const char *const strip[] = { "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN", NULL };
  T_CHECK (cr_caps_remove (&c, strip) == 5, "removed count");
  T_CHECK (c.bounding_len == 1 && c.bounding[1] == NULL, "bounding");
  T_STREQ (c.bounding[0], "CAP_KILL");
  T_CHECK (c.effective_len == 0 && c.effective[0] == NULL, "effective");
  T_CHECK (c.permitted_len == 1, "permitted untouched");
  T_CHECK (c.ambient_len == 1, "ambient");
  T_STREQ (c.ambient[0], "CAP_KILL");
  T_CHECK (cr_caps_remove (NULL, strip) == 0, "NULL caps");
  free_caps (&c);
}

static void
test_apply (void)
{
  if (geteuid () != 0)
    {
      printf ("SKIP apply tests: not root\n");
      return;
    }
  /* runc spec's default: ambient listed, inheritable absent -> no ambient (CVE-2022-29162) */
  struct oci_capabilities c = { 0 };
  c.bounding = strv ((const char *[]){ "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", NULL }, &c.bounding_len);
  c.effective = strv ((const char *[]){ "CAP_KILL", NULL }, &c.effective_len);
  c.permitted = strv ((const char *[]){ "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL }, &c.permitted_len);
  c.ambient = strv ((const char *[]){ "CAP_NET_BIND_SERVICE", NULL }, &c.ambient_len);
  c.has_bounding = c.has_effective = c.has_permitted = c.has_ambient = true;
  struct result r = apply_in_child (&c, false);
  T_CHECK (r.rc == 0, "apply: %d %s", r.rc, r.msg);
  CHECK_MASK (r.bnd, BIT (KILL) | BIT (NET_BIND) | BIT (29));
  CHECK_MASK (r.eff, BIT (KILL));
  CHECK_MASK (r.prm, BIT (KILL) | BIT (NET_BIND));
  CHECK_MASK (r.inh, 0);
  CHECK_MASK (r.amb, 0);

  /* inheritable asked for: ambient works */
  c.inheritable = strv ((const char *[]){ "CAP_NET_BIND_SERVICE", NULL }, &c.inheritable_len);
  c.has_inheritable = true;
  r = apply_in_child (&c, false);
  T_CHECK (r.rc == 0, "apply: %s", r.msg);
  CHECK_MASK (r.inh, BIT (NET_BIND));
  CHECK_MASK (r.amb, BIT (NET_BIND));

  /* after setresuid(1000) with keepcaps, as cr_process_user leaves it */
  r = apply_in_child (&c, true);
  T_CHECK (r.rc == 0, "apply after setuid: %s", r.msg);
  CHECK_MASK (r.bnd, BIT (KILL) | BIT (NET_BIND) | BIT (29));
  CHECK_MASK (r.eff, BIT (KILL));
  CHECK_MASK (r.prm, BIT (KILL) | BIT (NET_BIND));
  CHECK_MASK (r.amb, BIT (NET_BIND));
  free_caps (&c);

  /* no capabilities object: nothing at all */
  r = apply_in_child (NULL, false);
  T_CHECK (r.rc == 0, "apply NULL: %s", r.msg);
  CHECK_MASK (r.bnd, 0);
  CHECK_MASK (r.eff, 0);
  CHECK_MASK (r.prm, 0);
  CHECK_MASK (r.amb, 0);

  /* unknown names are ignored, malformed ones refused */
  struct oci_capabilities u = { 0 };
  u.bounding = strv ((const char *[]){ "CAP_KILL", "CAP_NOT_A_CAP", NULL }, &u.bounding_len);
  u.permitted = strv ((const char *[]){ "CAP_KILL", NULL }, &u.permitted_len);
  r = apply_in_child (&u, false);
  T_CHECK (r.rc == 0, "unknown cap: %s", r.msg);
  CHECK_MASK (r.bnd, BIT (KILL));
  CHECK_MASK (r.prm, BIT (KILL));
  CHECK_MASK (r.eff, 0);
  free_caps (&u);

  struct oci_capabilities m = { 0 };
  m.effective = strv ((const char *[]){ "kill", NULL }, &m.effective_len);
  r = apply_in_child (&m, false);
  T_CHECK (r.rc < 0, "malformed cap accepted");
  T_STREQ (r.msg, "process.capabilities: invalid capability name \"kill\": expected CAP_<NAME>");
  free_caps (&m);

  /* effective beyond permitted is refused by the kernel */
  struct oci_capabilities e = { 0 };
  e.effective = strv ((const char *[]){ "CAP_SYS_ADMIN", NULL }, &e.effective_len);
  e.bounding = strv ((const char *[]){ "CAP_SYS_ADMIN", NULL }, &e.bounding_len);
  r = apply_in_child (&e, false);
  T_CHECK (r.rc < 0, "effective without permitted accepted");
  T_CONTAINS (r.msg, "capset (effective 0x200000, permitted 0, inheritable 0): Operation not permitted");
  free_caps (&e);
}

int
main (void)
{
  test_names ();
  test_remove ();
  test_apply ();
  return t_done ();
}
