/* DNS wire format: parse one query, build the stub's answer. */
#ifndef CAPSULE_PROXY_DNS_MSG_H
#define CAPSULE_PROXY_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_T_A 1
#define DNS_T_AAAA 28
#define DNS_RCODE_OK 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

struct dns_query
{
  uint16_t id, flags, qtype, qclass;
  char name[256]; /* dotted, as sent (no trailing dot), "" for the root */
  size_t qend;    /* end offset of the question section */
};

/* 0 ok, -1 not a parseable single-question query (no compression allowed
 * in the question, labels 1..63, name <= 253). */
int dns_parse_query (const uint8_t *buf, size_t len, struct dns_query *q);
/* Build a response into out (cap bytes) with the given rcode and addresses
 * (only those matching qtype are put in).  Returns its length or -1. */
int dns_build_response (const uint8_t *query, const struct dns_query *q, int rcode, const struct sockaddr_storage *addrs,
                        int naddrs, uint32_t ttl, uint8_t *out, size_t cap);
/* A FORMERR reply echoing only the id (when the query could not be parsed). */
int dns_build_formerr (const uint8_t *query, size_t len, uint8_t *out, size_t cap);

#endif
