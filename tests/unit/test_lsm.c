/* Capsule LSM: the capsule-default AppArmor profile text (and, when
 * apparmor_parser is installed, that it compiles), the policy's lsm keys,
 * and admission on a host without AppArmor/SELinux. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/lsm.h"
#include "lib/policy.h"
#include "lib/util.h"
#include "t.h"

/* A whole line of the profile, leading blanks aside. */
static bool
has_line (const char *text, const char *line)
{
  size_t n = strlen (line);
  for (const char *p = text; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    {
      const char *q = p + strspn (p, " ");
      if (strncmp (q, line, n) == 0 && (q[n] == '\n' || q[n] == '\0'))
        return true;
    }
  return false;
}

static void
profile_text (void)
{
  cleanup_free char *t = capsule_apparmor_profile_text ("capsule-default");
  T_CONTAINS (t, "profile capsule-default flags=(attach_disconnected,mediate_deleted) {\n");
  static const char *const want[] = {
    "deny mount,", "deny umount,", "deny pivot_root,", "deny network raw,", "deny network packet,",
    "ptrace (trace,read,tracedby,readby) peer=capsule-default,", "signal (send,receive) peer=capsule-default,",
    "deny /proc/sys/** wklx,", "deny /proc/sysrq-trigger rwklx,", "deny /sys/** wklx,", "deny /proc/* w,",
    "deny /sys/kernel/security/** rwklx,", "file,",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    T_CHECK (has_line (t, want[i]), "profile lacks `%s`", want[i]);
  /* No blanket mount/ptrace allowance sneaks in next to the denials. */
  T_CHECK (!has_line (t, "mount,") && !has_line (t, "ptrace,") && !has_line (t, "pivot_root,"), "broad allow rule");
  T_CHECK (t[strlen (t) - 2] == '}', "profile not closed");
  size_t open = 0, close = 0;
  for (const char *p = t; *p; p++)
    open += *p == '{', close += *p == '}';
  T_CHECK (open == 1 && close == 1, "braces %zu/%zu", open, close);
  cleanup_free char *other = capsule_apparmor_profile_text ("capsule-x");
  T_CONTAINS (other, "profile capsule-x ");
  T_CONTAINS (other, "peer=capsule-x,");
}

/* apparmor_parser -S compiles without a kernel: proves the syntax. */
static void
profile_compiles (void)
{
  const char *cands[] = { "/usr/sbin/apparmor_parser", "/sbin/apparmor_parser" };
  const char *parser = NULL;
  for (size_t i = 0; i < 2 && !parser; i++)
    if (access (cands[i], X_OK) == 0)
      parser = cands[i];
  if (parser == NULL)
    {
      printf ("SKIP: apparmor_parser not installed: profile syntax not compiled\n");
      return;
    }
  char path[] = "/tmp/capsule-lsm-XXXXXX";
  int fd = mkstemp (path);
  T_CHECK (fd >= 0, "mkstemp");
  cleanup_free char *t = capsule_apparmor_profile_text ("capsule-default");
  T_CHECK (write (fd, t, strlen (t)) == (ssize_t) strlen (t), "write");
  close (fd);
  cleanup_free char *cmd = xasprintf ("%s -S %s >/dev/null 2>/tmp/capsule-lsm-parser.err", parser, path);
  int st = system (cmd);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0, "apparmor_parser -S rejected the profile (see /tmp/capsule-lsm-parser.err)");
  /* and the parser does reject a broken one (the check above can fail) */
  cleanup_free char *bad = xasprintf ("echo 'profile x { deny mount }' >%s; %s -S %s >/dev/null 2>&1", path, parser, path);
  st = system (bad);
  T_CHECK (WIFEXITED (st) && WEXITSTATUS (st) != 0, "a broken profile compiled");
  unlink (path);
}

static void
policy_keys (void)
{
  const char *j = "{\"lsm\": {\"apparmor_profile\": \"my-prof\", \"selinux_label\": \"u:r:t:s0\", \"allow_unconfined\": true}}";
  struct capsule_policy *p = NULL;
  cr_error_t err = NULL;
  T_CHECK (capsule_policy_parse (j, strlen (j), "t.json", &p, &err) == 0, "%s", err ? err->msg : "");
  if (p)
    {
      T_STREQ (p->lsm_apparmor_profile, "my-prof");
      T_STREQ (p->lsm_selinux_label, "u:r:t:s0");
      T_CHECK (p->lsm_allow_unconfined, "allow_unconfined");
      capsule_policy_free (p);
    }
  p = NULL;
  const char *b = "{\"lsm\": {\"allow_unconfined\": \"yes\"}}";
  T_CHECK (capsule_policy_parse (b, strlen (b), "t.json", &p, &err) < 0, "string for a bool accepted");
  if (err)
    T_CONTAINS (err->msg, "allow_unconfined");
  cr_error_release (&err);
  capsule_policy_free (p);
}

/* What admission does depends on the host: check it against what the host has. */
static void
admit_here (void)
{
  bool aa = capsule_lsm_apparmor_enabled (), se = capsule_lsm_selinux_enabled ();
  cleanup_free char *list = capsule_lsm_list ();
  T_CHECK (list != NULL, "lsm list");
  printf ("# lsm list: [%s] apparmor=%d selinux=%d\n", list, aa, se);
  if (aa || se)
    {
      printf ("SKIP: host has AppArmor/SELinux: the no-LSM admission path is covered in the VM test\n");
      return;
    }
  struct oci_process proc = { 0 };
  struct oci_config cfg = { .process = &proc };
  char *label = NULL;
  cr_error_t err = NULL;
  T_CHECK (capsule_lsm_admit (NULL, &cfg, &label, &err) == 0, "%s", err ? err->msg : "");
  T_CHECK (label && strncmp (label, "none: ", 6) == 0, "label %s", label ? label : "(null)");
  T_CONTAINS (label, "neither AppArmor nor SELinux");
  T_CHECK (proc.apparmor_profile == NULL && proc.selinux_label == NULL, "label set on a host without LSM");
  /* "none" and NULL labels apply nothing in the child */
  T_CHECK (capsule_lsm_apply_exec (label, &err) == 0, "apply none");
  T_CHECK (capsule_lsm_apply_exec (NULL, &err) == 0, "apply NULL");
  free (label);
  /* Loading fails closed when the kernel side is not there. */
  T_CHECK (capsule_apparmor_ensure ("capsule-test", "profile capsule-test {}\n", &err) < 0, "ensure without AppArmor");
  if (err)
    T_CONTAINS (err->msg, "capsule-test");
  cr_error_release (&err);
}

int
main (void)
{
  profile_text ();
  profile_compiles ();
  policy_keys ();
  admit_here ();
  return t_done ();
}
