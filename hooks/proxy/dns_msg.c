/* DNS message parsing/building for the stub (RFC 1035), bounds-checked. */
#include "dns_msg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int
dns_parse_query (const uint8_t *buf, size_t len, struct dns_query *q)
{
  if (len < 12 || len > 65535)
    return -1;
  q->id = (buf[0] << 8) | buf[1];
  q->flags = (buf[2] << 8) | buf[3];
  unsigned qd = (buf[4] << 8) | buf[5];
  if (q->flags & 0x8000) /* a response, not a query */
    return -1;
  if (qd != 1)
    return -1;
  size_t p = 12, o = 0;
  for (;;)
    {
      if (p >= len)
        return -1;
      unsigned l = buf[p++];
      if (l == 0)
        break;
      if (l > 63 || p + l > len)
        return -1; /* includes compression pointers (0xc0) */
      if (o + l + 1 > 253 + 1)
        return -1;
      if (o)
        q->name[o++] = '.';
      for (unsigned i = 0; i < l; i++)
        {
          uint8_t c = buf[p + i];
          if (c == '.' || c < 0x21 || c > 0x7e)
            return -1; /* no dots/blanks inside labels */
          q->name[o++] = c;
        }
      p += l;
    }
  q->name[o] = '\0';
  if (p + 4 > len)
    return -1;
  q->qtype = (buf[p] << 8) | buf[p + 1];
  q->qclass = (buf[p + 2] << 8) | buf[p + 3];
  q->qend = p + 4;
  return 0;
}

int
dns_build_response (const uint8_t *query, const struct dns_query *q, int rcode, const struct sockaddr_storage *addrs,
                    int naddrs, uint32_t ttl, uint8_t *out, size_t cap)
{
  if (q->qend > cap)
    return -1;
  memcpy (out, query, q->qend);
  /* QR=1, opcode kept, AA=1, RD kept, RA=0 */
  uint16_t flags = 0x8000 | (q->flags & 0x7800) | 0x0400 | (q->flags & 0x0100) | (rcode & 0xf);
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  size_t p = q->qend;
  unsigned an = 0;
  for (int i = 0; i < naddrs && rcode == DNS_RCODE_OK; i++)
    {
      int fam = addrs[i].ss_family;
      const void *a;
      unsigned alen;
      if (fam == AF_INET && q->qtype == DNS_T_A)
        a = &((const struct sockaddr_in *) &addrs[i])->sin_addr, alen = 4;
      else if (fam == AF_INET6 && q->qtype == DNS_T_AAAA)
        a = &((const struct sockaddr_in6 *) &addrs[i])->sin6_addr, alen = 16;
      else
        continue;
      if (p + 12 + alen > cap)
        break;
      uint8_t rr[12] = { 0xc0, 0x0c, q->qtype >> 8, q->qtype & 0xff, 0, 1, ttl >> 24, (ttl >> 16) & 0xff,
                         (ttl >> 8) & 0xff, ttl & 0xff, 0, alen };
      memcpy (out + p, rr, 12);
      memcpy (out + p + 12, a, alen);
      p += 12 + alen;
      an++;
    }
  out[4] = 0, out[5] = 1;                   /* QDCOUNT */
  out[6] = an >> 8, out[7] = an & 0xff;     /* ANCOUNT */
  out[8] = out[9] = out[10] = out[11] = 0;  /* NS, AR */
  return (int) p;
}

int
dns_build_formerr (const uint8_t *query, size_t len, uint8_t *out, size_t cap)
{
  if (len < 2 || cap < 12)
    return -1;
  memset (out, 0, 12);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = 0x80;
  out[3] = DNS_RCODE_FORMERR;
  return 12;
}
