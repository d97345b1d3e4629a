/* capsule-runc features: what this runtime implements (runtime-spec features.md shape). */
#include <stdio.h>
#include <string.h>

#include <ctype.h>
#include <seccomp.h>
#include <sys/capability.h>

#include "cmd/cmd.h"
#include "lib/cgroup.h"

static void
list (const char *key, const char *const *v, bool last)
{
  printf ("  \"%s\": [", key);
  for (size_t i = 0; v[i]; i++)
    printf ("%s\"%s\"", i ? ", " : "", v[i]);
  printf ("]%s\n", last ? "" : ",");
}

CR_VERB (features)
{
  (void) g;
  (void) argc;
  (void) argv;
  static const char *const hooks[] = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL };
  static const char *const mount_opts[] = {
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "loud", "mand", "noatime",
    "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
    "remount", "ridmap", "ro", "rprivate", "rro", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave",
    "strictatime", "suid", "sync", "tmpcopyup", "unbindable", NULL };
  static const char *const ns[] = { "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts", NULL };
  static const char *const actions[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                         "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
                                         "SCMP_ACT_TRAP", NULL };
  static const char *const ops[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                                     "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL };
  static const char *const archs[] = { "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                                       "SCMP_ARCH_ARM", NULL };
  static const char *const flags[] = { "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                       "SECCOMP_FILTER_FLAG_TSYNC", NULL };
  printf ("{\n  \"ociVersionMin\": \"1.0.0\",\n  \"ociVersionMax\": \"1.2.0\",\n");
  list ("hooks", hooks, false);
  list ("mountOptions", mount_opts, false);
  printf ("  \"linux\": {\n");
  list ("namespaces", ns, false);
  printf ("  \"capabilities\": [");
  for (int c = 0; c <= CAP_LAST_CAP; c++)
    {
      char *name = cap_to_name ((cap_value_t) c);
      if (name == NULL)
        continue;
      for (char *p = name; *p; p++)
        *p = (char) toupper ((unsigned char) *p);
      printf ("%s\"%s\"", c ? ", " : "", name);
      cap_free (name);
    }
  printf ("],\n");
  enum cr_cgroup_mode m = cr_cgroup_mode ();
  printf ("  \"cgroup\": {\"v1\": %s, \"v2\": %s, \"systemd\": true, \"systemdUser\": false, \"rdma\": true},\n",
          m != CR_CGROUP_V2 ? "true" : "false", m != CR_CGROUP_V1 ? "true" : "false");
  printf ("  \"seccomp\": {\"enabled\": true,\n");
  list ("actions", actions, false);
  list ("operators", ops, false);
  list ("archs", archs, false);
  list ("knownFlags", flags, false);
  list ("supportedFlags", flags, true);
  printf ("  },\n  \"apparmor\": {\"enabled\": true},\n  \"selinux\": {\"enabled\": true},\n"
          "  \"intelRdt\": {\"enabled\": false},\n  \"mountExtensions\": {\"idmap\": {\"enabled\": true}}\n  },\n");
  const struct scmp_version *v = seccomp_version ();
  printf ("  \"annotations\": {\"io.github.capsule-runc.version\": \"%s\", \"io.github.seccomp.libseccomp.version\": \"%u.%u.%u\"}\n}\n",
          CAPSULE_VERSION, v->major, v->minor, v->micro);
  return 0;
}
