/* libFuzzer target: DNS query parsing and answer building of the stub, and
 * the TLS ClientHello SNI reader of the transparent listener. */
#include "dns_msg.h"
#include "tls_sni.h"

#include <netinet/in.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct dns_query q;
  uint8_t out[1500];
  if (dns_parse_query (data, size, &q) == 0)
    {
      struct sockaddr_storage a[2] = { 0 };
      a[0].ss_family = AF_INET;
      a[1].ss_family = AF_INET6;
      dns_build_response (data, &q, 0, a, 2, 60, out, 512);
      dns_build_response (data, &q, 3, NULL, 0, 0, out, sizeof out);
    }
  else
    dns_build_formerr (data, size, out, sizeof out);
  char sni[256];
  bool ech;
  tls_sni_parse (data, size, sni, sizeof sni, &ech);
  return 0;
}
