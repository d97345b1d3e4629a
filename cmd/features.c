/* capsule-runc features: what this runtime implements (runtime-spec features.md shape). */
#include <stdio.h>
#include <string.h>

#include <seccomp.h>

#include "cmd/cmd.h"
#include "lib/caps.h"
#include "lib/cgroup.h"
#include "lib/seccomp.h"

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
  printf ("{\n  \"ociVersionMin\": \"1.0.0\",\n  \"ociVersionMax\": \"1.2.0\",\n");
  list ("hooks", hooks, false);
  list ("mountOptions", mount_opts, false);
  printf ("  \"linux\": {\n");
  list ("namespaces", ns, false);
  list ("capabilities", cr_caps_known_names (), false);
  enum cr_cgroup_mode m = cr_cgroup_mode ();
  printf ("  \"cgroup\": {\"v1\": %s, \"v2\": %s, \"systemd\": true, \"systemdUser\": false, \"rdma\": true},\n",
          m != CR_CGROUP_V2 ? "true" : "false", m != CR_CGROUP_V1 ? "true" : "false");
  printf ("  \"seccomp\": {\"enabled\": true,\n");
  list ("actions", cr_seccomp_actions (), false);
  list ("operators", cr_seccomp_operators (), false);
  list ("archs", cr_seccomp_archs (), false);
  list ("knownFlags", cr_seccomp_flags (), false);
  list ("supportedFlags", cr_seccomp_flags (), true);
  printf ("  },\n  \"apparmor\": {\"enabled\": true},\n  \"selinux\": {\"enabled\": true},\n"
          "  \"intelRdt\": {\"enabled\": false},\n  \"mountExtensions\": {\"idmap\": {\"enabled\": true}}\n  },\n");
  const struct scmp_version *v = seccomp_version ();
  printf ("  \"annotations\": {\"io.github.capsule-runc.version\": \"%s\", \"io.github.seccomp.libseccomp.version\": \"%u.%u.%u\"}\n}\n",
          CAPSULE_VERSION, v->major, v->minor, v->micro);
  return 0;
}
