/* lib/netcontain.c: config rewriting (hooks, proxy env, resolv.conf mount),
 * refusal without an own netns, idempotent cleanup, pid files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/netcontain.h"
#include "lib/util.h"
#include "oci-spec/config.h"
#include "tests/unit/t.h"

static const char base_cfg[] = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                               "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"env\":[\"PATH=/bin\",\"HTTP_PROXY=http://evil:1\"]},"
                               "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
                               "\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\"}]},"
                               "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"}]}}";

static const char *
env_get (const struct oci_process *p, const char *name)
{
  size_t n = strlen (name);
  const char *found = NULL;
  int count = 0;
  for (size_t i = 0; i < p->env_len; i++)
    if (strncmp (p->env[i], name, n) == 0 && p->env[i][n] == '=')
      found = p->env[i] + n + 1, count++;
  return count == 1 ? found : NULL;
}

int
main (void)
{
  char tmpl[] = "/tmp/test-netcontain.XXXXXX";
  char *dir = mkdtemp (tmpl);
  cr_error_t err = NULL;
  T_CHECK (dir != NULL, "mkdtemp");

  struct oci_config *c = oci_config_parse (base_cfg, sizeof base_cfg - 1, &err);
  T_CHECK (c != NULL, "parse: %s", err ? err->msg : "");
  if (c == NULL)
    return t_done ();
  /* a container dir under the state root `dir` */
  cleanup_free char *sd = xasprintf ("%s/ct1", dir);
  int ret = netcontain_add_hooks (c, sd, "/usr/libexec/capsule-hook", &err);
  T_CHECK (ret == 0, "add_hooks: %s", err ? err->msg : "");

  T_CHECK (c->hooks.len[OCI_HOOK_CREATE_RUNTIME] == 1, "one createRuntime hook");
  const struct oci_hook *h = c->hooks.hooks[OCI_HOOK_CREATE_RUNTIME];
  T_STREQ (h->path, "/usr/libexec/capsule-hook");
  T_CHECK (h->args_len >= 4, "setup args");
  T_STREQ (h->args[1], "setup");
  T_STREQ (h->args[3], sd);
  T_CHECK (h->has_timeout && h->timeout > 0, "hook has a timeout");
  T_CHECK (c->hooks.len[OCI_HOOK_POSTSTOP] == 2, "user's poststop hook kept, ours appended");
  T_STREQ (c->hooks.hooks[OCI_HOOK_POSTSTOP][0].path, "/bin/true");
  T_STREQ (c->hooks.hooks[OCI_HOOK_POSTSTOP][1].args[1], "teardown");

  T_STREQ (env_get (c->process, "HTTP_PROXY"), "http://127.0.0.1:3128");
  T_STREQ (env_get (c->process, "https_proxy"), "http://127.0.0.1:3128");
  T_CONTAINS (env_get (c->process, "NO_PROXY"), "127.0.0.1");
  T_STREQ (env_get (c->process, "PATH"), "/bin");

  const struct oci_mount *m = &c->mounts[c->mounts_len - 1];
  T_STREQ (m->destination, "/etc/resolv.conf");
  T_STREQ (m->type, "bind");
  /* one resolv.conf per state root, shared read-only by its containers */
  cleanup_free char *resolv = xasprintf ("%s/.capsule-resolv.conf", dir);
  T_STREQ (m->source, resolv);
  T_CHECK (m->options_len >= 2 && strcmp (m->options[1], "ro") == 0, "resolv.conf bind is read-only");
  cleanup_free char *text = NULL;
  T_CHECK (read_file (resolv, &text, NULL, &err) == 0, "resolv.conf written");
  T_CONTAINS (text, "nameserver 127.0.0.1");
  oci_config_free (c);
  {
    struct stat st1, st2;
    T_CHECK (stat (resolv, &st1) == 0, "stat resolv.conf");
    cleanup_free char *sd2 = xasprintf ("%s/ct2", dir);
    struct oci_config *c3 = oci_config_parse (base_cfg, sizeof base_cfg - 1, &err);
    T_CHECK (c3 && netcontain_add_hooks (c3, sd2, "/usr/libexec/capsule-hook", &err) == 0, "second container");
    if (c3)
      {
        T_STREQ (c3->mounts[c3->mounts_len - 1].source, resolv);
        oci_config_free (c3);
      }
    T_CHECK (stat (resolv, &st2) == 0 && st1.st_ino == st2.st_ino, "shared file left as it was, not rewritten");
    /* a file that says something else is replaced */
    FILE *f = fopen (resolv, "w");
    if (f)
      {
        fputs ("nameserver 10.0.0.1\n", f);
        fclose (f);
      }
    struct oci_config *c4 = oci_config_parse (base_cfg, sizeof base_cfg - 1, &err);
    T_CHECK (c4 && netcontain_add_hooks (c4, sd2, "/usr/libexec/capsule-hook", &err) == 0, "third container");
    if (c4)
      oci_config_free (c4);
    free (text);
    text = NULL;
    T_CHECK (read_file (resolv, &text, NULL, &err) == 0, "resolv.conf read back");
    T_CONTAINS (text, "nameserver 127.0.0.1");
  }

  /* policy knobs become hook arguments */
  {
    const uint16_t in[] = { 8080, 9090 };
    struct netcontain_opts o = { .audit = "/var/log/capsule/x.jsonl", .inbound = in, .n_inbound = 2,
                                 .proxy_restarts = -1, .cgroup_parent = "/kubepods/pod1" };
    struct oci_config *c2 = oci_config_parse (base_cfg, sizeof base_cfg - 1, &err);
    T_CHECK (c2 && netcontain_add_hooks_opts (c2, sd, "/usr/libexec/capsule-hook", &o, &err) == 0, "add_hooks_opts");
    if (c2)
      {
        const struct oci_hook *s = c2->hooks.hooks[OCI_HOOK_CREATE_RUNTIME];
        size_t total = 0;
        char joined[1024] = "";
        for (size_t i = 0; i < s->args_len; i++)
          total += (size_t) snprintf (joined + total, sizeof joined - total, "%s ", s->args[i]);
        T_CONTAINS (joined, "--audit /var/log/capsule/x.jsonl");
        T_CONTAINS (joined, "--inbound 8080 --inbound 9090");
        T_CONTAINS (joined, "--restarts 0");
        T_CONTAINS (joined, "--cgroup-parent /kubepods/pod1");
        oci_config_free (c2);
      }
  }

  /* CAPSULE_HOOK names the hook; one that is not executable is no hook */
  {
    const char *b = getenv ("CAPSULE_BUILD");
    cleanup_free char *want = b ? xasprintf ("%s/hooks/netns/capsule-hook", b) : NULL;
    if (want && access (want, X_OK) == 0)
      {
        setenv ("CAPSULE_HOOK", want, 1);
        cleanup_free char *hp = netcontain_hook_path ();
        T_STREQ (hp, want);
      }
    setenv ("CAPSULE_HOOK", "/nonexistent/capsule-hook", 1);
    cleanup_free char *none = netcontain_hook_path ();
    T_CHECK (none == NULL, "CAPSULE_HOOK that is not executable");
    unsetenv ("CAPSULE_HOOK");
  }

  /* no network namespace of its own: refused */
  static const char hostnet[] = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"},"
                                "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"]},\"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}";
  c = oci_config_parse (hostnet, sizeof hostnet - 1, &err);
  T_CHECK (c != NULL, "parse hostnet");
  cr_error_release (&err);
  T_CHECK (netcontain_add_hooks (c, dir, "/usr/libexec/capsule-hook", &err) < 0, "host netns refused");
  T_CONTAINS (err ? err->msg : NULL, "own network namespace");
  cr_error_release (&err);
  T_CHECK (netcontain_add_hooks (c, dir, "capsule-hook", &err) < 0, "relative hook path refused");
  cr_error_release (&err);
  oci_config_free (c);

  /* cleanup: nothing there, then a stale member record */
  T_CHECK (netcontain_cleanup (dir, &err) == 0, "cleanup of nothing: %s", err ? err->msg : "");
  cleanup_free char *role = xasprintf ("%s/net.role", dir);
  write_file_atomic (role, "member\n", 7, &err);
  T_CHECK (netcontain_cleanup (dir, &err) == 0, "cleanup of a member");
  T_CHECK (access (role, F_OK) != 0, "member record removed");
  T_CHECK (netcontain_cleanup (dir, &err) == 0, "cleanup twice");

  /* pid files survive only for the very process */
  cleanup_free char *pf = xasprintf ("%s/x.pid", dir);
  T_CHECK (netcontain_pidfile_write (pf, getpid (), &err) == 0, "pidfile write");
  T_CHECK (netcontain_pidfile_read (pf) == getpid (), "pidfile names us");
  write_file_atomic (pf, "1 1\n", 4, &err);
  T_CHECK (netcontain_pidfile_read (pf) == 0, "wrong start time: not that process");
  unlink (pf);
  T_CHECK (netcontain_pidfile_read (pf) == 0, "missing pid file");

  unlink (resolv);
  cleanup_free char *sd2 = xasprintf ("%s/ct2", dir);
  rmdir (sd2);
  rmdir (sd);
  rmdir (dir);
  cr_error_release (&err);
  return t_done ();
}
