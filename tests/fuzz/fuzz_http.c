/* libFuzzer target: the strict HTTP/1.1 request/response parsers, the
 * authority/absolute-URI splitters and the chunked framing scanner. */
#include "http_parse.h"
#include "egress_rule.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct http_message m;
  const char *why;
  const char *buf = (const char *) data;
  int hl = http_parse_request (buf, size, &m, &why);
  if (hl > 0)
    {
      const char *a, *o, *h;
      size_t al, ol, hlen;
      int port;
      if (m.form == HTTP_TARGET_ABSOLUTE && http_split_absolute (m.target, m.target_len, &a, &al, &o, &ol) == 0)
        {
          char host[EGRESS_HOST_MAX], path[EGRESS_PATH_MAX];
          enum egress_host_kind k;
          if (http_split_authority (a, al, &h, &hlen, &port, 80) == 0)
            egress_host_normalize (h, hlen, host, sizeof host, &k);
          egress_path_normalize (o, ol, path, sizeof path);
        }
      /* the rest of the input as a body */
      struct http_body b;
      http_body_init (&b, m.chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_LENGTH, m.content_length > 0 ? m.content_length : 0);
      size_t off = hl;
      while (off < size && !b.done)
        {
          size_t step = (size - off) > 7 ? 7 : size - off; /* odd split points */
          ssize_t k = http_body_scan (&b, buf + off, step);
          if (k < 0)
            break;
          off += k;
          if (k == 0)
            break;
        }
    }
  http_parse_response (buf, size, &m, &why);
  return 0;
}
