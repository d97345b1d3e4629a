/* Minimal ClientHello reader: one handshake record, bounds-checked. */
#include "tls_sni.h"

#include <string.h>

#define NEED(n)                                                                                                        \
  do                                                                                                                   \
    {                                                                                                                  \
      if ((size_t) (end - p) < (size_t) (n))                                                                           \
        return -1;                                                                                                     \
    }                                                                                                                  \
  while (0)

static unsigned
u16 (const uint8_t *p)
{
  return (p[0] << 8) | p[1];
}

int
tls_sni_parse (const uint8_t *buf, size_t len, char *out, size_t outsz, bool *ech)
{
  *ech = false;
  if (len < 5)
    return 0;
  if (buf[0] != 0x16 || buf[1] != 0x03)
    return -1;
  size_t rlen = u16 (buf + 3);
  if (rlen < 4 || rlen > 16384 + 2048)
    return -1;
  if (len < 5 + rlen)
    return 0;
  const uint8_t *p = buf + 5, *end = buf + 5 + rlen;
  if (p[0] != 0x01) /* ClientHello */
    return -1;
  size_t hlen = ((size_t) p[1] << 16) | (p[2] << 8) | p[3];
  p += 4;
  if (hlen > (size_t) (end - p))
    return -1; /* ClientHello split over records: not supported, refuse */
  end = p + hlen;
  NEED (2 + 32 + 1);
  p += 2 + 32;
  size_t sid = *p++;
  NEED (sid + 2);
  p += sid;
  size_t cs = u16 (p);
  p += 2;
  NEED (cs + 1);
  p += cs;
  size_t comp = *p++;
  NEED (comp + 2);
  p += comp;
  size_t elen = u16 (p);
  p += 2;
  NEED (elen);
  end = p + elen;
  bool found = false;
  while (p < end)
    {
      NEED (4);
      unsigned type = u16 (p), l = u16 (p + 2);
      p += 4;
      NEED (l);
      if (type == 0xfe0d)
        *ech = true;
      if (type == 0 && !found)
        {
          const uint8_t *q = p, *qe = p + l;
          if (qe - q < 2)
            return -1;
          size_t list = u16 (q);
          q += 2;
          if (list > (size_t) (qe - q))
            return -1;
          qe = q + list;
          while (q + 3 <= qe)
            {
              unsigned nt = q[0], nl = u16 (q + 1);
              q += 3;
              if (nl > (size_t) (qe - q))
                return -1;
              if (nt == 0)
                {
                  if (nl == 0 || nl >= outsz || memchr (q, 0, nl))
                    return -1;
                  memcpy (out, q, nl);
                  out[nl] = '\0';
                  found = true;
                  break;
                }
              q += nl;
            }
        }
      p += l;
    }
  return found ? 1 : -1;
}
