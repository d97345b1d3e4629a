/* cgroupsPath translation: cgroupfs and systemd forms, as runc does. */
#include "lib/cgroup.h"
#include "lib/cgroup_internal.h"
#include "lib/util.h"
#include "t.h"

#include <stdlib.h>

static char *
tr (const char *p, const char *id, bool systemd, const char *own)
{
  char *out = NULL;
  cr_error_t err = NULL;
  if (cr_cgroup_translate_path (p, id, systemd, own, &out, &err) < 0)
    {
      char *m = xasprintf ("ERR: %s", err->msg);
      cr_error_release (&err);
      return m;
    }
  return out;
}

#define TR(expect, p, id, sd, own)                                                                                     \
  do                                                                                                                   \
    {                                                                                                                  \
      char *_r = tr (p, id, sd, own);                                                                                  \
      T_STREQ (_r, expect);                                                                                            \
      free (_r);                                                                                                       \
    }                                                                                                                  \
  while (0)

#define TR_ERR(needle, p, id, sd, own)                                                                                 \
  do                                                                                                                   \
    {                                                                                                                  \
      char *_r = tr (p, id, sd, own);                                                                                  \
      T_CONTAINS (_r, "ERR: ");                                                                                        \
      T_CONTAINS (_r, needle);                                                                                         \
      free (_r);                                                                                                       \
    }                                                                                                                  \
  while (0)

int
main (void)
{
  /* cgroupfs: absolute paths are cleaned, never above the root */
  TR ("/a/b", "/a/b", "id", false, "/own");
  TR ("/a/b", "/a//b/", "id", false, "/own");
  TR ("/a/c", "/a/./b/../c", "id", false, "/own");
  TR ("/x", "/../../x", "id", false, "/own");
  /* ':' is an ordinary character without --systemd-cgroup (runc) */
  TR ("/system.slice:docker:abc", "/system.slice:docker:abc", "id", false, "/");
  /* empty = own cgroup + id; relative = below own cgroup, ".." cannot climb out */
  TR ("/own/ctr1", "", "ctr1", false, "/own");
  TR ("/own/ctr1", NULL, "ctr1", false, "/own");
  TR ("/ctr1", NULL, "ctr1", false, "/");
  TR ("/own/a/b", "a/b", "id", false, "/own");
  TR ("/own/x", "../../x", "id", false, "/own");
  TR_ERR ("root cgroup", "/", "id", false, "/");
  TR_ERR ("root cgroup", "/..", "id", false, "/");
  TR_ERR ("invalid cgroupsPath", "", "", false, "/");

  /* systemd: slice:prefix:name */
  TR ("/system.slice/docker-abc.scope", "system.slice:docker:abc", "id", true, NULL);
  TR ("/system.slice/docker-abc.scope", ":docker:abc", "id", true, NULL);
  TR ("/a.slice/a-b.slice/a-b-c.slice/crio-x.scope", "a-b-c.slice:crio:x", "id", true, NULL);
  TR ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope",
      "kubepods-burstable-pod1.slice:cri-containerd:abc", "id", true, NULL);
  TR ("/machine.slice/sub.slice", "machine.slice:ignored:sub.slice", "id", true, NULL);
  TR ("/x-y.scope", "-.slice:x:y", "id", true, NULL);
  TR ("/x-y.scope", "-:x:y", "id", true, NULL);
  /* empty cgroupsPath = ":runc:<id>" */
  TR ("/system.slice/runc-ctr1.scope", "", "ctr1", true, NULL);
  TR ("/system.slice/runc-ctr1.scope", NULL, "ctr1", true, NULL);
  TR_ERR ("slice:prefix:name", "/a/b", "id", true, NULL);
  TR_ERR ("slice:prefix:name", "a:b", "id", true, NULL);
  TR_ERR ("slice:prefix:name", "a.slice:b:c:d", "id", true, NULL);
  TR_ERR ("invalid slice name", "foo:docker:abc", "id", true, NULL);
  TR_ERR ("invalid slice name", "a--b.slice:docker:abc", "id", true, NULL);
  TR_ERR ("invalid slice name", "-a.slice:docker:abc", "id", true, NULL);
  TR_ERR ("invalid slice name", "a-.slice:docker:abc", "id", true, NULL);
  TR_ERR ("invalid slice name", ".slice:docker:abc", "id", true, NULL);
  TR_ERR ("invalid slice name", "a/b.slice:docker:abc", "id", true, NULL);
  TR_ERR ("must not contain", "system.slice:docker:a/b", "id", true, NULL);
  TR_ERR ("empty name", "system.slice:docker:", "id", true, NULL);

  /* expand_slice on its own */
  char *s = NULL;
  cr_error_t err = NULL;
  T_CHECK (cr_cgroup_expand_slice ("a-b-c.slice", &s, &err) == 0, "expand");
  T_STREQ (s, "/a.slice/a-b.slice/a-b-c.slice");
  free (s);
  T_CHECK (cr_cgroup_expand_slice ("-.slice", &s, &err) == 0, "root slice");
  T_STREQ (s, "/");
  free (s);

  /* check_path */
  T_CHECK (cr_cgroup_check_path ("/a/b", &err) == 0, "ok path");
  T_CHECK (cr_cgroup_check_path ("a/b", &err) < 0, "relative rejected");
  cr_error_release (&err);
  T_CHECK (cr_cgroup_check_path ("/a/../b", &err) < 0, ".. rejected");
  cr_error_release (&err);
  T_CHECK (cr_cgroup_check_path ("/a//b", &err) < 0, "empty component rejected");
  cr_error_release (&err);

  /* resolve with the real /proc/self/cgroup: absolute paths do not need it */
  T_CHECK (cr_cgroup_resolve_path ("/capsule-test/x", "x", false, &s, &err) == 0, "resolve abs");
  T_STREQ (s, "/capsule-test/x");
  free (s);
  T_CHECK (cr_cgroup_resolve_path (NULL, "ctr9", false, &s, &err) == 0, "resolve default");
  T_CHECK (s && s[0] == '/' && strstr (s, "/ctr9") != NULL, "default ends in /ctr9: %s", s ? s : "(null)");
  free (s);
  cr_error_release (&err);
  return t_done ();
}
