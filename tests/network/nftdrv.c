/* Test driver for lib/nft.c: install / remove / query the capsule ruleset in
 * the current network namespace (run it under `ip netns exec`).
 *   nftdrv install [--proxy P] [--transparent T] [--dns D] [--mark M]
 *                  [--dst4 A]... [--dst6 A]... [--inbound P]...
 *   nftdrv remove | present */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/nft.h"
#include "lib/util.h"

int
main (int argc, char **argv)
{
  struct nft_capsule_rules r = { 0 };
  struct in_addr d4[16];
  struct in6_addr d6[16];
  uint16_t in[16];
  cr_error_t err = NULL;
  int ret;

  if (argc < 2)
    return 2;
  if (strcmp (argv[1], "present") == 0)
    {
      ret = nft_capsule_present (&err);
      if (ret < 0)
        return cr_error_report (&err);
      printf ("%s\n", ret ? "yes" : "no");
      return ret ? 0 : 1;
    }
  if (strcmp (argv[1], "remove") == 0)
    return nft_capsule_remove (&err) < 0 ? cr_error_report (&err) : 0;
  if (strcmp (argv[1], "install") != 0)
    return 2;
  r.mark_dst4 = d4;
  r.mark_dst6 = d6;
  r.inbound_ports = in;
  for (int i = 2; i + 1 < argc; i += 2)
    {
      const char *o = argv[i], *v = argv[i + 1];
      if (strcmp (o, "--proxy") == 0)
        r.proxy_port = (uint16_t) atoi (v);
      else if (strcmp (o, "--transparent") == 0)
        r.transparent_port = (uint16_t) atoi (v);
      else if (strcmp (o, "--dns") == 0)
        r.dns_port = (uint16_t) atoi (v);
      else if (strcmp (o, "--mark") == 0)
        r.proxy_mark = (uint32_t) strtoul (v, NULL, 0);
      else if (strcmp (o, "--dst4") == 0 && r.mark_dst4_len < 16 && inet_pton (AF_INET, v, &d4[r.mark_dst4_len]) == 1)
        r.mark_dst4_len++;
      else if (strcmp (o, "--dst6") == 0 && r.mark_dst6_len < 16 && inet_pton (AF_INET6, v, &d6[r.mark_dst6_len]) == 1)
        r.mark_dst6_len++;
      else if (strcmp (o, "--inbound") == 0 && r.inbound_ports_len < 16)
        in[r.inbound_ports_len++] = (uint16_t) atoi (v);
      else
        {
          fprintf (stderr, "nftdrv: bad option %s %s\n", o, v);
          return 2;
        }
    }
  return nft_capsule_install (&r, &err) < 0 ? cr_error_report (&err) : 0;
}
