/* The capsule nftables ruleset as one netlink batch (see nft.h for the rules
 * in nft syntax).  Each rule is built expression by expression exactly the
 * way nft compiles the text form, so `nft list ruleset` prints it back the
 * same and tests can compare with a reference ruleset loaded by nft. */
#include "nft.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <netinet/icmp6.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "util.h"

#define NFT_BATCH_LIMIT (128 * 1024)
#define NFT_MAX_MARK_DST 256

struct nft_batch
{
  char *buf;
  struct mnl_nlmsg_batch *b;
  uint32_t seq;
  unsigned acks;   /* messages that will be answered */
  bool overflow;
};

static int
nft_batch_init (struct nft_batch *bt, cr_error_t *err)
{
  memset (bt, 0, sizeof *bt);
  bt->buf = malloc (NFT_BATCH_LIMIT + MNL_SOCKET_BUFFER_SIZE);
  if (bt->buf == NULL)
    return cr_error_errno (err, "allocating the nftables batch");
  bt->b = mnl_nlmsg_batch_start (bt->buf, NFT_BATCH_LIMIT);
  bt->seq = (uint32_t) time (NULL);
  nftnl_batch_begin (mnl_nlmsg_batch_current (bt->b), bt->seq++);
  mnl_nlmsg_batch_next (bt->b);
  return 0;
}

static void
nft_batch_fini (struct nft_batch *bt)
{
  if (bt->b)
    mnl_nlmsg_batch_stop (bt->b);
  free (bt->buf);
}

static struct nlmsghdr *
nft_batch_msg (struct nft_batch *bt, uint16_t type, uint16_t flags)
{
  bt->acks++;
  return nftnl_nlmsg_build_hdr (mnl_nlmsg_batch_current (bt->b), type, NFPROTO_INET, flags | NLM_F_ACK, bt->seq++);
}

static void
nft_batch_next (struct nft_batch *bt)
{
  if (!mnl_nlmsg_batch_next (bt->b))
    bt->overflow = true;
}

/* Read answers until every message is acked; the first error wins. */
static int
nft_recv_acks (struct mnl_socket *nl, unsigned want, const char *what, cr_error_t *err)
{
  cleanup_free char *buf = malloc (MNL_SOCKET_BUFFER_SIZE);
  unsigned got = 0;

  if (buf == NULL)
    return cr_error_errno (err, "%s: allocating", what);
  while (got < want)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, MNL_SOCKET_BUFFER_SIZE);
      if (len < 0)
        return cr_error_errno (err, "%s: reading the netlink answer", what);
      const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
      int rest = (int) len;
      for (; mnl_nlmsg_ok (nlh, rest); nlh = mnl_nlmsg_next (nlh, &rest))
        {
          if (nlh->nlmsg_type != NLMSG_ERROR)
            continue;
          const struct nlmsgerr *e = mnl_nlmsg_get_payload (nlh);
          if (e->error != 0)
            return cr_error (err, -e->error, "%s", what);
          got++;
        }
    }
  return 0;
}

static int
nft_send_batch (struct nft_batch *bt, const char *what, int *keep_fd, cr_error_t *err)
{
  struct mnl_socket *nl;
  struct timeval tv = { .tv_sec = 10 };
  int ret;

  nftnl_batch_end (mnl_nlmsg_batch_current (bt->b), bt->seq++);
  nft_batch_next (bt);
  if (bt->overflow)
    return cr_error (err, E2BIG, "%s: ruleset too large for one batch", what);

  nl = mnl_socket_open (NETLINK_NETFILTER);
  if (nl == NULL)
    return cr_error_errno (err, "%s: opening a netfilter netlink socket", what);
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    {
      ret = cr_error_errno (err, "%s: binding the netlink socket", what);
      mnl_socket_close (nl);
      return ret;
    }
  setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (mnl_socket_sendto (nl, mnl_nlmsg_batch_head (bt->b), mnl_nlmsg_batch_size (bt->b)) < 0)
    ret = cr_error_errno (err, "%s: sending the netlink batch", what);
  else
    ret = nft_recv_acks (nl, bt->acks, what, err);
  /* A duplicate keeps the socket alive past mnl_socket_close. */
  if (keep_fd && ret == 0)
    *keep_fd = fcntl (mnl_socket_get_fd (nl), F_DUPFD_CLOEXEC, 3);
  mnl_socket_close (nl);
  return ret;
}

/* ---- expressions ---- */

static int
nft_add_expr (struct nftnl_rule *r, struct nftnl_expr *e)
{
  if (e == NULL)
    return -1;
  nftnl_rule_add_expr (r, e);
  return 0;
}

static int
expr_meta (struct nftnl_rule *r, uint32_t key)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("meta");
  if (e == NULL)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  return nft_add_expr (r, e);
}

static int
expr_cmp (struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("cmp");
  if (e == NULL)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set (e, NFTNL_EXPR_CMP_DATA, data, len);
  return nft_add_expr (r, e);
}

static int
expr_payload (struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("payload");
  if (e == NULL)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  return nft_add_expr (r, e);
}

static int
expr_verdict (struct nftnl_rule *r, int verdict)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("immediate");
  if (e == NULL)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32 (e, NFTNL_EXPR_IMM_VERDICT, (uint32_t) verdict);
  return nft_add_expr (r, e);
}

/* meta nfproto == proto (one byte) */
static int
match_nfproto (struct nftnl_rule *r, uint8_t proto)
{
  return expr_meta (r, NFT_META_NFPROTO) < 0 || expr_cmp (r, NFT_CMP_EQ, &proto, 1) < 0 ? -1 : 0;
}

static int
match_l4proto (struct nftnl_rule *r, uint8_t proto)
{
  return expr_meta (r, NFT_META_L4PROTO) < 0 || expr_cmp (r, NFT_CMP_EQ, &proto, 1) < 0 ? -1 : 0;
}

static int
match_mark (struct nftnl_rule *r, uint32_t mark)
{
  return expr_meta (r, NFT_META_MARK) < 0 || expr_cmp (r, NFT_CMP_EQ, &mark, 4) < 0 ? -1 : 0;
}

/* ip daddr == a */
static int
match_ip_daddr (struct nftnl_rule *r, const struct in_addr *a)
{
  if (match_nfproto (r, NFPROTO_IPV4) < 0)
    return -1;
  return expr_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4) < 0 || expr_cmp (r, NFT_CMP_EQ, a, 4) < 0 ? -1 : 0;
}

static int
match_ip6_daddr (struct nftnl_rule *r, const struct in6_addr *a)
{
  if (match_nfproto (r, NFPROTO_IPV6) < 0)
    return -1;
  return expr_payload (r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16) < 0 || expr_cmp (r, NFT_CMP_EQ, a, 16) < 0 ? -1 : 0;
}

/* tcp/udp dport == port */
static int
match_dport (struct nftnl_rule *r, uint8_t l4, uint16_t port)
{
  uint16_t p = htons (port);
  if (match_l4proto (r, l4) < 0)
    return -1;
  return expr_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) < 0 || expr_cmp (r, NFT_CMP_EQ, &p, 2) < 0 ? -1 : 0;
}

/* icmpv6 type t (neighbour discovery) */
static int
match_icmpv6_type (struct nftnl_rule *r, uint8_t type)
{
  if (match_nfproto (r, NFPROTO_IPV6) < 0 || match_l4proto (r, IPPROTO_ICMPV6) < 0)
    return -1;
  return expr_payload (r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) < 0 || expr_cmp (r, NFT_CMP_EQ, &type, 1) < 0 ? -1 : 0;
}

/* ct state established,related */
static int
match_ct_established (struct nftnl_rule *r)
{
  uint32_t mask = NF_CT_STATE_BIT (IP_CT_ESTABLISHED) | NF_CT_STATE_BIT (IP_CT_RELATED), zero = 0;
  struct nftnl_expr *ct = nftnl_expr_alloc ("ct"), *bw;

  if (ct == NULL)
    return -1;
  nftnl_expr_set_u32 (ct, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
  nftnl_expr_set_u32 (ct, NFTNL_EXPR_CT_DREG, NFT_REG_1);
  nftnl_rule_add_expr (r, ct);
  bw = nftnl_expr_alloc ("bitwise");
  if (bw == NULL)
    return -1;
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32 (bw, NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
  nftnl_expr_set (bw, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
  nftnl_rule_add_expr (r, bw);
  return expr_cmp (r, NFT_CMP_NEQ, &zero, 4);
}

/* redirect to :port */
static int
expr_redirect (struct nftnl_rule *r, uint16_t port)
{
  uint16_t p = htons (port);
  struct nftnl_expr *imm = nftnl_expr_alloc ("immediate"), *redir;

  if (imm == NULL)
    return -1;
  nftnl_expr_set_u32 (imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
  nftnl_expr_set (imm, NFTNL_EXPR_IMM_DATA, &p, 2);
  nftnl_rule_add_expr (r, imm);
  redir = nftnl_expr_alloc ("redir");
  if (redir == NULL)
    return -1;
  nftnl_expr_set_u32 (redir, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
  nftnl_expr_set_u32 (redir, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
  return nft_add_expr (r, redir);
}

static int
expr_reject_admin (struct nftnl_rule *r)
{
  struct nftnl_expr *e = nftnl_expr_alloc ("reject");
  if (e == NULL)
    return -1;
  nftnl_expr_set_u32 (e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
  nftnl_expr_set_u8 (e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
  return nft_add_expr (r, e);
}

/* ---- objects ---- */

static void
nft_put_table (struct nft_batch *bt, uint16_t type, uint16_t flags)
{
  struct nftnl_table *t = nftnl_table_alloc ();
  if (t == NULL)
    {
      bt->overflow = true;
      return;
    }
  nftnl_table_set_u32 (t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
  nftnl_table_set_str (t, NFTNL_TABLE_NAME, NFT_CAPSULE_TABLE);
  nftnl_table_nlmsg_build_payload (nft_batch_msg (bt, type, flags), t);
  nftnl_table_free (t);
  nft_batch_next (bt);
}

static void
nft_put_chain (struct nft_batch *bt, const char *name, const char *type, uint32_t hook, int32_t prio,
               uint32_t policy)
{
  struct nftnl_chain *c = nftnl_chain_alloc ();
  if (c == NULL)
    {
      bt->overflow = true;
      return;
    }
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
  nftnl_chain_set_str (c, NFTNL_CHAIN_TABLE, NFT_CAPSULE_TABLE);
  nftnl_chain_set_str (c, NFTNL_CHAIN_NAME, name);
  nftnl_chain_set_str (c, NFTNL_CHAIN_TYPE, type);
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_HOOKNUM, hook);
  nftnl_chain_set_s32 (c, NFTNL_CHAIN_PRIO, prio);
  nftnl_chain_set_u32 (c, NFTNL_CHAIN_POLICY, policy);
  nftnl_chain_nlmsg_build_payload (nft_batch_msg (bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE), c);
  nftnl_chain_free (c);
  nft_batch_next (bt);
}

static struct nftnl_rule *
nft_rule_new (const char *chain)
{
  struct nftnl_rule *r = nftnl_rule_alloc ();
  if (r == NULL)
    return NULL;
  nftnl_rule_set_u32 (r, NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str (r, NFTNL_RULE_TABLE, NFT_CAPSULE_TABLE);
  nftnl_rule_set_str (r, NFTNL_RULE_CHAIN, chain);
  return r;
}

/* Append the rule to the batch and free it; a build error (built < 0)
 * poisons the batch so nothing half-built is ever sent. */
static void
nft_put_rule (struct nft_batch *bt, struct nftnl_rule *r, int built)
{
  if (r == NULL || built < 0)
    bt->overflow = true;
  else
    {
      nftnl_rule_nlmsg_build_payload (nft_batch_msg (bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND), r);
      nft_batch_next (bt);
    }
  if (r)
    nftnl_rule_free (r);
}

#define RULE(chain, body)                                                                                              \
  do                                                                                                                   \
    {                                                                                                                  \
      struct nftnl_rule *r_ = nft_rule_new (chain);                                                                    \
      int ok_ = r_ ? (body) : -1;                                                                                      \
      nft_put_rule (&bt, r_, ok_);                                                                                     \
    }                                                                                                                  \
  while (0)

int
nft_capsule_install (const struct nft_capsule_rules *rr, cr_error_t *err)
{
  struct nft_batch bt;
  const struct in_addr lo4 = { htonl (INADDR_LOOPBACK) };
  const uint8_t lo_net = 127;
  const uint32_t lo_ifindex = 1; /* "lo" is always ifindex 1 in a netns */
  uint16_t local_tcp[3];
  size_t n_local_tcp = 0;
  int ret;

  if (rr->mark_dst4_len + rr->mark_dst6_len > NFT_MAX_MARK_DST)
    return cr_error (err, E2BIG, "installing the capsule nftables ruleset: more than %d proxy destinations",
                     NFT_MAX_MARK_DST);
  if (rr->proxy_port)
    local_tcp[n_local_tcp++] = rr->proxy_port;
  if (rr->transparent_port)
    local_tcp[n_local_tcp++] = rr->transparent_port;
  if (rr->dns_port)
    local_tcp[n_local_tcp++] = rr->dns_port;

  if (nft_batch_init (&bt, err) < 0)
    return -1;

  /* Replace any previous table in the same transaction. */
  nft_put_table (&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
  nft_put_table (&bt, NFT_MSG_DELTABLE, 0);
  nft_put_table (&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);

  nft_put_chain (&bt, "output", "filter", NF_INET_LOCAL_OUT, 0, NF_DROP);
  nft_put_chain (&bt, "nat_output", "nat", NF_INET_LOCAL_OUT, -100, NF_ACCEPT);
  nft_put_chain (&bt, "input", "filter", NF_INET_LOCAL_IN, 0, NF_DROP);
  nft_put_chain (&bt, "forward", "filter", NF_INET_FORWARD, 0, NF_DROP);

  /* output */
  RULE ("output", match_ct_established (r_) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
  if (rr->proxy_mark)
    {
      /* The pod's real interface needs IPv6 neighbour discovery for the
       * proxy's traffic; only raw sockets (CAP_NET_RAW) could forge it. */
      RULE ("output", match_icmpv6_type (r_, ND_NEIGHBOR_SOLICIT) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
      RULE ("output", match_icmpv6_type (r_, ND_NEIGHBOR_ADVERT) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
      for (size_t i = 0; i < rr->mark_dst4_len; i++)
        RULE ("output", match_mark (r_, rr->proxy_mark) < 0 || match_ip_daddr (r_, &rr->mark_dst4[i]) < 0
                            ? -1
                            : expr_verdict (r_, NF_ACCEPT));
      for (size_t i = 0; i < rr->mark_dst6_len; i++)
        RULE ("output", match_mark (r_, rr->proxy_mark) < 0 || match_ip6_daddr (r_, &rr->mark_dst6[i]) < 0
                            ? -1
                            : expr_verdict (r_, NF_ACCEPT));
      if (rr->mark_dst4_len + rr->mark_dst6_len == 0)
        RULE ("output", match_mark (r_, rr->proxy_mark) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
    }
  for (size_t i = 0; i < n_local_tcp; i++)
    RULE ("output", match_ip_daddr (r_, &lo4) < 0 || match_dport (r_, IPPROTO_TCP, local_tcp[i]) < 0
                        ? -1
                        : expr_verdict (r_, NF_ACCEPT));
  if (rr->dns_port)
    RULE ("output", match_ip_daddr (r_, &lo4) < 0 || match_dport (r_, IPPROTO_UDP, rr->dns_port) < 0
                        ? -1
                        : expr_verdict (r_, NF_ACCEPT));
  RULE ("output", expr_reject_admin (r_));

  /* nat_output: the proxy's own traffic and loopback stay as they are. */
  if (rr->proxy_mark)
    RULE ("nat_output", match_mark (r_, rr->proxy_mark) < 0 ? -1 : expr_verdict (r_, NFT_RETURN));
  RULE ("nat_output", match_nfproto (r_, NFPROTO_IPV4) < 0 || expr_payload (r_, NFT_PAYLOAD_NETWORK_HEADER, 16, 1) < 0
                              || expr_cmp (r_, NFT_CMP_EQ, &lo_net, 1) < 0
                          ? -1
                          : expr_verdict (r_, NFT_RETURN));
  if (rr->dns_port)
    {
      RULE ("nat_output", match_nfproto (r_, NFPROTO_IPV4) < 0 || match_dport (r_, IPPROTO_UDP, 53) < 0
                              ? -1
                              : expr_redirect (r_, rr->dns_port));
      RULE ("nat_output", match_nfproto (r_, NFPROTO_IPV4) < 0 || match_dport (r_, IPPROTO_TCP, 53) < 0
                              ? -1
                              : expr_redirect (r_, rr->dns_port));
    }
  if (rr->transparent_port)
    RULE ("nat_output", match_nfproto (r_, NFPROTO_IPV4) < 0 || match_l4proto (r_, IPPROTO_TCP) < 0
                            ? -1
                            : expr_redirect (r_, rr->transparent_port));

  /* input: replies, loopback, declared inbound ports. */
  RULE ("input", match_ct_established (r_) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
  if (rr->proxy_mark)
    {
      RULE ("input", match_icmpv6_type (r_, ND_NEIGHBOR_SOLICIT) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
      RULE ("input", match_icmpv6_type (r_, ND_NEIGHBOR_ADVERT) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));
    }
  RULE ("input", expr_meta (r_, NFT_META_IIF) < 0 || expr_cmp (r_, NFT_CMP_EQ, &lo_ifindex, 4) < 0
                     ? -1
                     : expr_verdict (r_, NF_ACCEPT));
  for (size_t i = 0; i < rr->inbound_ports_len; i++)
    RULE ("input", match_dport (r_, IPPROTO_TCP, rr->inbound_ports[i]) < 0 ? -1 : expr_verdict (r_, NF_ACCEPT));

  ret = nft_send_batch (&bt, "installing the capsule nftables ruleset", rr->keep_fd, err);
  nft_batch_fini (&bt);
  return ret;
}

int
nft_capsule_remove (cr_error_t *err)
{
  struct nft_batch bt;
  int ret;

  if (nft_batch_init (&bt, err) < 0)
    return -1;
  nft_put_table (&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE);
  nft_put_table (&bt, NFT_MSG_DELTABLE, 0);
  ret = nft_send_batch (&bt, "removing the capsule nftables table", NULL, err);
  nft_batch_fini (&bt);
  return ret;
}

int
nft_capsule_present (cr_error_t *err)
{
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct mnl_socket *nl;
  struct nlmsghdr *nlh;
  struct nftnl_table *t;
  struct timeval tv = { .tv_sec = 10 };
  int ret = 0;

  t = nftnl_table_alloc ();
  if (t == NULL)
    return cr_error_errno (err, "querying the capsule nftables table");
  nftnl_table_set_str (t, NFTNL_TABLE_NAME, NFT_CAPSULE_TABLE);
  nlh = nftnl_nlmsg_build_hdr (buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, 1);
  nftnl_table_nlmsg_build_payload (nlh, t);
  nftnl_table_free (t);

  nl = mnl_socket_open (NETLINK_NETFILTER);
  if (nl == NULL)
    return cr_error_errno (err, "querying the capsule nftables table: opening netlink");
  setsockopt (mnl_socket_get_fd (nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    {
      ret = cr_error_errno (err, "querying the capsule nftables table");
      goto out;
    }
  for (;;)
    {
      ssize_t len = mnl_socket_recvfrom (nl, buf, sizeof buf);
      if (len < 0)
        {
          ret = cr_error_errno (err, "querying the capsule nftables table: reading");
          goto out;
        }
      const struct nlmsghdr *m = (const struct nlmsghdr *) buf;
      int rest = (int) len;
      for (; mnl_nlmsg_ok (m, rest); m = mnl_nlmsg_next (m, &rest))
        {
          if (m->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE))
            ret = 1;
          else if (m->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *e = mnl_nlmsg_get_payload (m);
              if (e->error == -ENOENT)
                ret = 0;
              else if (e->error != 0)
                ret = cr_error (err, -e->error, "querying the capsule nftables table");
              goto out;
            }
        }
    }
out:
  mnl_socket_close (nl);
  return ret;
}
