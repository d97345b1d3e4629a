/* rtnetlink (libmnl) for the isolated shape: loopback up, 192.0.0.8/32 on
 * it and IPv4/IPv6 default routes through it, so that connect() to an
 * outside address reaches the nat redirect instead of failing with
 * ENETUNREACH.  Nothing is forwarded anywhere: lo is the only device. */
#include "hook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "lib/util.h"


/* Send one request and wait for its ack. */
static int
rtnl_talk (struct nlmsghdr *nlh, const char *what, cr_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct timeval tv = { .tv_sec = 5 };
  struct mnl_socket *nl = mnl_socket_open (NETLINK_ROUTE);
  int ret = 0;

  if (nl == NULL)
    return cr_error_errno (err, "%s: opening rtnetlink", what);
  setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = (uint32_t) time (NULL);
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    ret = cr_error_errno (err, "%s", what);
  else
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, sizeof buf);
      if (len < 0)
        ret = cr_error_errno (err, "%s: reading the answer", what);
      else if (mnl_cb_run (buf, (size_t) len, 0, 0, NULL, NULL) < 0)
        ret = cr_error_errno (err, "%s", what);
    }
  mnl_socket_close (nl);
  return ret;
}

static int
link_up (const char *name, cr_error_t *err)
{
  char buf[512];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct ifinfomsg *ifm;

  nlh->nlmsg_type = RTM_NEWLINK;
  ifm = mnl_nlmsg_put_extra_header (nlh, sizeof *ifm);
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  mnl_attr_put_strz (nlh, IFLA_IFNAME, name);
  return rtnl_talk (nlh, "bringing an interface up", err);
}

static int
addr_add (int family, const void *addr, unsigned plen, unsigned ifindex, cr_error_t *err)
{
  char buf[512];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct ifaddrmsg *ifa;
  size_t alen = family == AF_INET ? 4 : 16;

  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  ifa = mnl_nlmsg_put_extra_header (nlh, sizeof *ifa);
  ifa->ifa_family = (uint8_t) family;
  ifa->ifa_prefixlen = (uint8_t) plen;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex;
  mnl_attr_put (nlh, IFA_LOCAL, alen, addr);
  mnl_attr_put (nlh, IFA_ADDRESS, alen, addr);
  if (family == AF_INET6)
    mnl_attr_put_u32 (nlh, IFA_FLAGS, IFA_F_NODAD);
  return rtnl_talk (nlh, "adding an address to the stand-in interface", err);
}

static int
default_route_add (int family, unsigned ifindex, const struct in_addr *src, cr_error_t *err)
{
  char buf[512];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf);
  struct rtmsg *rtm;

  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  rtm = mnl_nlmsg_put_extra_header (nlh, sizeof *rtm);
  rtm->rtm_family = (uint8_t) family;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32 (nlh, RTA_OIF, ifindex);
  if (src)
    mnl_attr_put (nlh, RTA_PREFSRC, sizeof *src, src);
  return rtnl_talk (nlh, "adding a default route", err);
}

int
hook_loopback_up (cr_error_t *err)
{
  return link_up ("lo", err);
}

int
hook_link_setup_isolated (cr_error_t *err)
{
  /* 192.0.0.8: the IPv4 dummy address (RFC 7600), the source of redirected
   * connections.  Routes through lo: creating a stand-in device (dummy, or
   * a veth pair where the kernel has no dummy driver) cost 5-10 ms per
   * capsule; a looped-back packet that no rule redirects is dropped by the
   * output chain like any other. */
  const unsigned lo = 1; /* "lo" is always ifindex 1 in a netns */
  struct in_addr a4;
  cleanup_error cr_error_t tmp = NULL;

  inet_pton (AF_INET, "192.0.0.8", &a4);
  if (hook_loopback_up (err) < 0 || addr_add (AF_INET, &a4, 32, lo, err) < 0
      || default_route_add (AF_INET, lo, &a4, err) < 0)
    return -1;
  /* IPv6 may be disabled in this netns: then there is nothing to route. */
  default_route_add (AF_INET6, lo, NULL, &tmp);
  return 0;
}
