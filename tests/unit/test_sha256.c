/* lib/sha256.c: FIPS 180-2 appendix B / RFC 4231 vectors, and agreement
 * with libcrypto on every length around the block and padding edges. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/crypto_dl.h"
#include "../../lib/sha256.h"
#include "t.h"

static void
hex (const unsigned char *md, char out[65])
{
  for (int i = 0; i < 32; i++)
    snprintf (out + 2 * i, 3, "%02x", md[i]);
}

static void
check_sha (const char *msg, size_t len, const char *want)
{
  unsigned char md[32];
  char h[65];
  capsule_sha256 (msg, len, md);
  hex (md, h);
  T_STREQ (h, want);
}

static void
check_hmac (const void *key, size_t kl, const char *msg, const char *want)
{
  unsigned char md[32];
  char h[65];
  capsule_hmac_sha256 (key, kl, msg, strlen (msg), md);
  hex (md, h);
  T_STREQ (h, want);
}

/* Everything below, with whichever block function this process picked. */
static void
run_checks (void)
{
  check_sha ("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check_sha ("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_sha (m448, strlen (m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  {
    /* One million 'a', fed in uneven pieces through the streaming interface. */
    struct capsule_sha256 s;
    char chunk[1000];
    memset (chunk, 'a', sizeof chunk);
    capsule_sha256_init (&s);
    size_t done = 0, step = 1;
    while (done < 1000000)
      {
        size_t n = step < 1000000 - done ? step : 1000000 - done;
        if (n > sizeof chunk)
          n = sizeof chunk;
        capsule_sha256_update (&s, chunk, n);
        done += n;
        step = step * 7 % 997 + 1;
      }
    unsigned char md[32];
    char h[65];
    capsule_sha256_final (&s, md);
    hex (md, h);
    T_STREQ (h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
  /* RFC 4231 test cases 1, 2 and 6 (key longer than a block). */
  unsigned char k1[20], k6[131];
  memset (k1, 0x0b, sizeof k1);
  memset (k6, 0xaa, sizeof k6);
  check_hmac (k1, sizeof k1, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  check_hmac ("Jefe", 4, "what do ya want for nothing?",
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  check_hmac (k6, sizeof k6, "Test Using Larger Than Block-Size Key - Hash Key First",
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

  T_CHECK (capsule_memeq_ct ("abcd", "abcd", 4) == 0, "equal");
  T_CHECK (capsule_memeq_ct ("abcd", "abce", 4) != 0, "differ");

  /* Every length 0..300 (all padding cases) and a few keys against libcrypto. */
  cr_error_t e = NULL;
  const struct capsule_crypto *c = capsule_crypto (&e);
  if (c == NULL)
    {
      printf ("SKIP libcrypto comparison: %s\n", e->msg);
      cr_error_release (&e);
      return;
    }
  unsigned char buf[300];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char) (i * 131 + 7);
  int bad_sha = 0, bad_hmac = 0;
  for (size_t len = 0; len <= sizeof buf; len++)
    {
      unsigned char a[32], b[EVP_MAX_MD_SIZE];
      unsigned int bl = 0;
      capsule_sha256 (buf, len, a);
      c->EVP_Digest (buf, len, b, &bl, c->EVP_sha256 (), NULL);
      bad_sha += bl != 32 || memcmp (a, b, 32) != 0;
      size_t kl = len % 150;
      capsule_hmac_sha256 (buf + 1, kl, buf, len, a);
      c->HMAC (c->EVP_sha256 (), buf + 1, (int) kl, buf, len, b, &bl);
      bad_hmac += bl != 32 || memcmp (a, b, 32) != 0;
    }
  T_CHECK (bad_sha == 0, "%d SHA-256 lengths disagree with libcrypto", bad_sha);
  T_CHECK (bad_hmac == 0, "%d HMAC-SHA256 lengths disagree with libcrypto", bad_hmac);
}

int
main (void)
{
  /* The portable block function in a child, the one this CPU gets here:
   * both must pass everything. */
  pid_t p = fork ();
  if (p == 0)
    {
      setenv ("CAPSULE_SHA256_PORTABLE", "1", 1);
      T_STREQ (capsule_sha256_impl (), "portable");
      run_checks ();
      int r = t_done ();
      fflush (stdout);
      _exit (r);
    }
  printf ("block function: %s (and portable in a child)\n", capsule_sha256_impl ());
  if (strcmp (capsule_sha256_impl (), "sha-ni") != 0)
    printf ("SKIP sha-ni block function: this CPU has no SHA extensions (the portable one is tested)\n");
  run_checks ();
  int st = 0;
  T_CHECK (p > 0 && waitpid (p, &st, 0) == p && WIFEXITED (st) && WEXITSTATUS (st) == 0, "portable block function: child failed");
  return t_done ();
}
