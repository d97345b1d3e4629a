/* The capsule's nftables default-deny ruleset (SPEC §6), built with libmnl +
 * libnftnl and sent as ONE atomic netlink batch (never by exec'ing nft).
 * Everything here acts on the network namespace of the calling thread:
 * enter the capsule's netns first (netns.h).
 *
 * The ruleset, as `nft list ruleset` prints it (isolated shape: no mark):
 *
 *   table inet capsule {
 *     chain output {      type filter hook output priority filter; policy drop;
 *       ct state established,related accept
 *       icmpv6 type nd-neighbor-solicit accept             # pod shape only: IPv6 ND
 *       icmpv6 type nd-neighbor-advert accept              #   on the real interface
 *       meta mark M [ip daddr A | ip6 daddr A] accept      # pod shape: the proxy's sockets
 *       ip daddr 127.0.0.1 tcp dport P accept               # proxy, transparent, dns ports
 *       ip daddr 127.0.0.1 udp dport D accept               # dns stub
 *       reject with icmpx admin-prohibited }                # fail fast, never leave
 *     chain nat_output {  type nat hook output priority -100; policy accept;
 *       meta mark M return
 *       ip daddr 127.0.0.0/8 return
 *       meta nfproto ipv4 udp dport 53 redirect to :D
 *       meta nfproto ipv4 tcp dport 53 redirect to :D
 *       meta nfproto ipv4 meta l4proto tcp redirect to :T }
 *     chain input {       type filter hook input priority filter; policy drop;
 *       ct state established,related accept
 *       icmpv6 type nd-neighbor-{solicit,advert} accept    # pod shape only
 *       iif "lo" accept
 *       tcp dport I accept }                                # inbound ports of the policy
 *     chain forward {     type filter hook forward priority filter; policy drop; }
 *   }
 *
 * IPv6 (other than replies), ICMP/ICMPv6, raw, SCTP and UDP other than DNS
 * to the stub all end at the reject.  Installing replaces an existing
 * `inet capsule` table in the same batch (add, delete, add), so there is
 * never a moment without rules. */
#ifndef CAPSULE_NFT_H
#define CAPSULE_NFT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NFT_CAPSULE_TABLE "capsule"

struct nft_capsule_rules
{
  uint16_t proxy_port;       /* forward proxy on 127.0.0.1; 0 = none */
  uint16_t transparent_port; /* workload TCP is redirected here; 0 = no redirect */
  uint16_t dns_port;         /* DNS stub on 127.0.0.1; 0 = no DNS at all */
  uint32_t proxy_mark;       /* pod shape: SO_MARK of the proxy's sockets; 0 = isolated */
  /* Pod shape: where marked sockets may go (none listed = anywhere). */
  const struct in_addr *mark_dst4;
  size_t mark_dst4_len;
  const struct in6_addr *mark_dst6;
  size_t mark_dst6_len;
  /* TCP ports that accept new inbound connections from outside. */
  const uint16_t *inbound_ports;
  size_t inbound_ports_len;
  /* Non-NULL: keep the netlink socket open and store it here (O_CLOEXEC)
   * for the caller to close later.  Its last close waits for the kernel's
   * deferred release of the transaction (an RCU grace period, ~10 ms): a
   * caller with other work to do overlaps that wait instead of sitting in it. */
  int *keep_fd;
};

/* Install (or atomically replace) the ruleset in the current netns. */
int nft_capsule_install (const struct nft_capsule_rules *r, cr_error_t *err);
/* Delete the table; a missing table is not an error. */
int nft_capsule_remove (cr_error_t *err);
/* 1 if the table exists in the current netns, 0 if not, <0 on error. */
int nft_capsule_present (cr_error_t *err);

#endif
