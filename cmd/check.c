/* capsule-runc check: what this host supports for capsules (cgroup mode,
 * Landlock ABI, seccomp, nf_tables, LSMs, user namespaces) and which
 * profiles of the node policy it can therefore honour.  JSON on stdout;
 * exit status 1 when the policy does not load or a profile cannot be honoured. */
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "lib/audit.h"
#include "lib/cgroup.h"
#include "lib/confine.h"
#include "lib/landlock.h"
#include "lib/lsm.h"
#include "lib/policy.h"
#include "lib/util.h"

static bool
exists (const char *p)
{
  return access (p, F_OK) == 0;
}

/* Load the capsule filter in a throwaway child: proves the kernel takes it. */
static bool
seccomp_works (void)
{
  pid_t p = fork ();
  if (p == 0)
    {
      cr_error_t e = NULL;
      _exit (capsule_seccomp_load (&e) == 0 ? 0 : 1);
    }
  int st = 0;
  return p > 0 && waitpid (p, &st, 0) == p && WIFEXITED (st) && WEXITSTATUS (st) == 0;
}

/* Ask the kernel's nf_tables for its ruleset generation (works built-in or as a module). */
static bool
nftables_works (void)
{
  cleanup_close int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0)
    return false;
  struct
  {
    struct nlmsghdr nh;
    struct nfgenmsg nf;
  } req = { .nh = { .nlmsg_len = sizeof req, .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
                    .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
            .nf = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 } };
  struct timeval tv = { .tv_sec = 1 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (send (fd, &req, sizeof req, 0) < 0)
    return false;
  char buf[4096];
  ssize_t n = recv (fd, buf, sizeof buf, 0);
  if (n < (ssize_t) sizeof (struct nlmsghdr))
    return false;
  const struct nlmsghdr *nh = (const struct nlmsghdr *) buf;
  return nh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN);
}

static bool
controller (enum cr_cgroup_mode mode, const char *name)
{
  if (mode == CR_CGROUP_V2)
    {
      cleanup_free char *c = read_first_line ("/sys/fs/cgroup/cgroup.controllers");
      if (c == NULL)
        return false;
      size_t n = strlen (name);
      for (char *p = strstr (c, name); p; p = strstr (p + 1, name))
        if ((p == c || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
          return true;
      return false;
    }
  cleanup_free char *d = xasprintf ("/sys/fs/cgroup/%s", name);
  return exists (d);
}

/* The "lsm" member: what is active and the label a capsule would get.
 * Returns what keeps capsules from running here (a capsule fails closed
 * without its label), or NULL. */
static char *
print_lsm (const struct capsule_policy *pol)
{
  cleanup_free char *list = capsule_lsm_list ();
  bool aa = capsule_lsm_apparmor_enabled (), se = capsule_lsm_selinux_enabled ();
  cleanup_free char *parser = capsule_apparmor_parser_path ();
  char *missing = NULL;
  cleanup_free char *label = NULL;
  const char *state = "";
  if (aa)
    {
      const char *pn = pol && pol->lsm_apparmor_profile && *pol->lsm_apparmor_profile ? pol->lsm_apparmor_profile : NULL;
      const char *name = pn ? pn : CAPSULE_APPARMOR_DEFAULT;
      cr_error_t e = NULL;
      int loaded = capsule_apparmor_loaded (name, &e);
      cr_error_release (&e);
      state = loaded > 0 ? "loaded" : pn || parser == NULL ? "not loaded, cannot be loaded" : "loaded at the first capsule";
      if (loaded <= 0 && (pn || parser == NULL))
        missing = xasprintf ("apparmor profile %s", name);
      label = xasprintf ("apparmor:%s", name);
    }
  else if (se)
    {
      const char *l = pol && pol->lsm_selinux_label && *pol->lsm_selinux_label ? pol->lsm_selinux_label : CAPSULE_SELINUX_DEFAULT;
      label = xasprintf ("selinux:%s", l);
    }
  char lq[512], pq[512], bq[512];
  audit_json_escape (lq, sizeof lq, list ? list : "");
  audit_json_escape (pq, sizeof pq, parser ? parser : "");
  audit_json_escape (bq, sizeof bq, label ? label : "none");
  printf ("  \"lsm\": {\"active\": \"%s\", \"apparmor\": %s, \"selinux\": %s, \"capsule_label\": \"%s\", "
          "\"profile_state\": \"%s\", \"apparmor_parser\": %s%s%s},\n",
          lq, aa ? "true" : "false", se ? "true" : "false", bq, state, parser ? "\"" : "", parser ? pq : "null",
          parser ? "\"" : "");
  return missing;
}

CR_VERB (check)
{
  (void) g;
  (void) argc;
  (void) argv;
  enum cr_cgroup_mode mode = cr_cgroup_mode ();
  const char *mname = mode == CR_CGROUP_V2 ? "v2" : mode == CR_CGROUP_HYBRID ? "hybrid" : mode == CR_CGROUP_V1 ? "v1" : "none";
  bool cpu = controller (mode, "cpu"), mem = controller (mode, "memory"), pids = controller (mode, "pids");
  int abi = capsule_landlock_abi ();
  bool sc = seccomp_works ();
  const struct scmp_version *v = seccomp_version ();
  bool nft = nftables_works ();
  cleanup_free char *userns = read_first_line ("/proc/sys/user/max_user_namespaces");

  printf ("{\n  \"cgroup\": {\"mode\": \"%s\", \"cpu\": %s, \"memory\": %s, \"pids\": %s},\n", mname, cpu ? "true" : "false",
          mem ? "true" : "false", pids ? "true" : "false");
  printf ("  \"landlock_abi\": %d,\n", abi);
  printf ("  \"seccomp\": {\"filter_loads\": %s, \"libseccomp\": \"%u.%u.%u\"},\n", sc ? "true" : "false", v->major,
          v->minor, v->micro);
  printf ("  \"nf_tables\": %s,\n", nft ? "true" : "false");
  struct capsule_policy *pol = NULL;
  cr_error_t err = NULL;
  int prc = capsule_policy_load (&pol, &err);
  cleanup_free char *lsm_missing = print_lsm (prc == 0 ? pol : NULL);
  printf ("  \"user_namespaces\": %s,\n", userns && atoi (userns) > 0 ? "true" : "false");

  int rc = 0;
  if (prc < 0)
    {
      char m[1024];
      audit_json_escape (m, sizeof m, err->msg);
      printf ("  \"policy\": {\"ok\": false, \"error\": \"%s\"},\n  \"profiles\": []\n}\n", m);
      cr_error_release (&err);
      return 1;
    }
  char pq[1024];
  audit_json_escape (pq, sizeof pq, pol->path ? pol->path : "(built-in)");
  printf ("  \"policy\": {\"ok\": true, \"path\": \"%s\", \"default\": \"%s\"},\n  \"profiles\": [", pq,
          pol->default_capsule ? "capsule" : "runc");
  for (size_t i = 0; i < pol->profiles_len; i++)
    {
      const struct capsule_profile *pr = &pol->profiles[i];
      char missing[256] = "";
      if (!sc)
        strcat (missing, "\"seccomp\",");
      if (!cpu)
        strcat (missing, "\"cgroup cpu\",");
      if (!mem)
        strcat (missing, "\"cgroup memory\",");
      if (!pids)
        strcat (missing, "\"cgroup pids\",");
      if (lsm_missing)
        {
          char mq[160];
          audit_json_escape (mq, sizeof mq, lsm_missing);
          snprintf (missing + strlen (missing), sizeof missing - strlen (missing), "\"%s\",", mq);
        }
      if (missing[0])
        {
          missing[strlen (missing) - 1] = '\0';
          rc = 1;
        }
      char nq[256];
      audit_json_escape (nq, sizeof nq, pr->name);
      printf ("%s\n    {\"name\": \"%s\", \"honoured\": %s, \"missing\": [%s], \"landlock\": \"%s\"}", i ? "," : "", nq,
              missing[0] ? "false" : "true", missing,
              abi >= 6 ? "full" : abi > 0 ? "partial (no scoping)" : "unavailable (read-only mounts only)");
    }
  printf ("\n  ]\n}\n");
  capsule_policy_free (pol);
  return rc;
}
