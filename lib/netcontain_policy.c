/* The node policy's "network" section (SPEC §5, §6): what the runtime hands
 * capsule-hook for every capsule.  Read here, next to the network code that
 * uses it; lib/policy.c ignores the key.
 *
 *   "network": {
 *     "on_proxy_failure": "kill" | "restart-forever",   // default "kill"
 *     "proxy_restarts": 3,      // restarts before "kill" acts (0 = kill at once)
 *     "inbound": [8080]         // TCP ports open to new inbound connections
 *   }
 *
 * A malformed value fails create with the key named, like any policy error. */
#include "netcontain.h"

#include <errno.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "util.h"

static int
np_fail (cr_error_t *err, const char *path, const char *key, const char *why)
{
  return cr_error (err, EINVAL, "node policy `%s`: network.%s: %s", path, key, why);
}

int
netcontain_policy_opts (const char *policy_path, struct netcontain_policy *np, struct netcontain_opts *o,
                        cr_error_t *err)
{
  cleanup_free char *text = NULL;
  char ebuf[256];
  const char *p_net[] = { "network", NULL };
  const char *p_fail[] = { "on_proxy_failure", NULL }, *p_rest[] = { "proxy_restarts", NULL };
  const char *p_in[] = { "inbound", NULL };
  yajl_val root, net, v;
  int ret = 0;

  memset (np, 0, sizeof *np);
  if (policy_path == NULL || *policy_path == '\0')
    return 0;
  if (read_file (policy_path, &text, NULL, err) < 0)
    return cr_error_wrap (err, "network containment: node policy");
  root = yajl_tree_parse (text, ebuf, sizeof ebuf);
  if (root == NULL)
    return cr_error (err, EINVAL, "node policy `%s`: %s", policy_path, ebuf);
  net = yajl_tree_get (root, p_net, yajl_t_any);
  if (net == NULL)
    goto out;
  if (!YAJL_IS_OBJECT (net))
    {
      ret = cr_error (err, EINVAL, "node policy `%s`: network: expected an object", policy_path);
      goto out;
    }
  if ((v = yajl_tree_get (net, p_fail, yajl_t_any)))
    {
      const char *s = YAJL_IS_STRING (v) ? YAJL_GET_STRING (v) : "";
      if (strcmp (s, "restart-forever") == 0)
        o->restart_forever = true;
      else if (strcmp (s, "kill") != 0)
        {
          ret = np_fail (err, policy_path, "on_proxy_failure", "expected \"kill\" or \"restart-forever\"");
          goto out;
        }
    }
  if ((v = yajl_tree_get (net, p_rest, yajl_t_any)))
    {
      if (!YAJL_IS_INTEGER (v) || YAJL_GET_INTEGER (v) < 0 || YAJL_GET_INTEGER (v) > 1000)
        {
          ret = np_fail (err, policy_path, "proxy_restarts", "expected an integer from 0 to 1000");
          goto out;
        }
      /* netcontain_opts: 0 = the hook's default, < 0 = none */
      o->proxy_restarts = YAJL_GET_INTEGER (v) == 0 ? -1 : (int) YAJL_GET_INTEGER (v);
    }
  if ((v = yajl_tree_get (net, p_in, yajl_t_any)))
    {
      if (!YAJL_IS_ARRAY (v) || YAJL_GET_ARRAY (v)->len > NETCONTAIN_MAX_INBOUND)
        {
          ret = np_fail (err, policy_path, "inbound", "expected an array of at most 32 TCP ports");
          goto out;
        }
      for (size_t i = 0; i < YAJL_GET_ARRAY (v)->len; i++)
        {
          yajl_val p = YAJL_GET_ARRAY (v)->values[i];
          if (!YAJL_IS_INTEGER (p) || YAJL_GET_INTEGER (p) < 1 || YAJL_GET_INTEGER (p) > 65535)
            {
              ret = np_fail (err, policy_path, "inbound", "expected TCP ports from 1 to 65535");
              goto out;
            }
          np->inbound[np->n_inbound++] = (uint16_t) YAJL_GET_INTEGER (p);
        }
      o->inbound = np->inbound;
      o->n_inbound = np->n_inbound;
    }
out:
  yajl_tree_free (root);
  return ret;
}
