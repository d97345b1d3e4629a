/* SHA-256 per FIPS 180-4 §6.2, HMAC per RFC 2104 (see sha256.h). */
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

/* FIPS 180-4 §4.2.2: first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t
rotr32 (uint32_t x, unsigned n)
{
  return (x >> n) | (x << (32 - n));
}

/* §6.2.2: one 512-bit block. */
static void
sha256_block_c (uint32_t h[8], const unsigned char *p)
{
  uint32_t w[64];
  for (int t = 0; t < 16; t++)
    w[t] = (uint32_t) p[4 * t] << 24 | (uint32_t) p[4 * t + 1] << 16 | (uint32_t) p[4 * t + 2] << 8 | p[4 * t + 3];
  for (int t = 16; t < 64; t++)
    {
      uint32_t s0 = rotr32 (w[t - 15], 7) ^ rotr32 (w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = rotr32 (w[t - 2], 17) ^ rotr32 (w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++)
    {
      uint32_t S1 = rotr32 (e, 6) ^ rotr32 (e, 11) ^ rotr32 (e, 25);
      uint32_t ch = (e & f) ^ (~e & g);
      uint32_t t1 = hh + S1 + ch + sha256_k[t] + w[t];
      uint32_t S0 = rotr32 (a, 2) ^ rotr32 (a, 13) ^ rotr32 (a, 22);
      uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      uint32_t t2 = S0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The same block with the x86 SHA extensions (sha256rnds2 does two rounds,
 * sha256msg1/2 the message schedule): about ten times faster, which the
 * proxy notices (two chained audit lines per request). */
__attribute__ ((target ("sha,sse4.1"))) static void
sha256_block_shani (uint32_t h[8], const unsigned char *p)
{
  const __m128i bswap = _mm_set_epi64x (0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  /* The instructions keep the state as ABEF and CDGH. */
  __m128i t = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *) &h[0]), 0xB1);   /* CDAB */
  __m128i cdgh = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *) &h[4]), 0x1B); /* HGFE */
  __m128i abef = _mm_alignr_epi8 (t, cdgh, 8);
  cdgh = _mm_blend_epi16 (cdgh, t, 0xF0);
  const __m128i abef0 = abef, cdgh0 = cdgh;
  __m128i w[4];
  for (int i = 0; i < 16; i++)
    {
      __m128i m;
      if (i < 4)
        m = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (p + 16 * i)), bswap);
      else
        {
          /* W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]), four at a time. */
          m = _mm_sha256msg1_epu32 (w[i & 3], w[(i + 1) & 3]);
          m = _mm_add_epi32 (m, _mm_alignr_epi8 (w[(i + 3) & 3], w[(i + 2) & 3], 4));
          m = _mm_sha256msg2_epu32 (m, w[(i + 3) & 3]);
        }
      w[i & 3] = m;
      __m128i k = _mm_add_epi32 (m, _mm_loadu_si128 ((const __m128i *) &sha256_k[4 * i]));
      cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, k);
      abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (k, 0x0E));
    }
  abef = _mm_add_epi32 (abef, abef0);
  cdgh = _mm_add_epi32 (cdgh, cdgh0);
  t = _mm_shuffle_epi32 (abef, 0x1B);    /* FEBA */
  cdgh = _mm_shuffle_epi32 (cdgh, 0xB1); /* DCHG */
  _mm_storeu_si128 ((__m128i *) &h[0], _mm_blend_epi16 (t, cdgh, 0xF0)); /* DCBA */
  _mm_storeu_si128 ((__m128i *) &h[4], _mm_alignr_epi8 (cdgh, t, 8));    /* HGFE */
}
#endif

static void (*sha256_block_fn) (uint32_t h[8], const unsigned char *p);

static void
sha256_pick (void)
{
  sha256_block_fn = sha256_block_c;
#if defined(__x86_64__)
  if (getenv ("CAPSULE_SHA256_PORTABLE") == NULL && __builtin_cpu_supports ("sha") && __builtin_cpu_supports ("sse4.1"))
    sha256_block_fn = sha256_block_shani;
#endif
}

static void
sha256_block (uint32_t h[8], const unsigned char *p)
{
  if (sha256_block_fn == NULL)
    sha256_pick ();
  sha256_block_fn (h, p);
}

const char *
capsule_sha256_impl (void)
{
  if (sha256_block_fn == NULL)
    sha256_pick ();
#if defined(__x86_64__)
  if (sha256_block_fn == sha256_block_shani)
    return "sha-ni";
#endif
  return "portable";
}

void
capsule_sha256_init (struct capsule_sha256 *s)
{
  /* §5.3.3: first 32 bits of the fractional parts of the square roots of the first 8 primes. */
  static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  memcpy (s->h, h0, sizeof h0);
  s->bytes = 0;
  s->used = 0;
}

void
capsule_sha256_update (struct capsule_sha256 *s, const void *data, size_t len)
{
  const unsigned char *p = data;
  s->bytes += len;
  if (s->used)
    {
      size_t take = CAPSULE_SHA256_BLOCK - s->used;
      if (take > len)
        take = len;
      memcpy (s->buf + s->used, p, take);
      s->used += take;
      p += take;
      len -= take;
      if (s->used < CAPSULE_SHA256_BLOCK)
        return;
      sha256_block (s->h, s->buf);
      s->used = 0;
    }
  for (; len >= CAPSULE_SHA256_BLOCK; p += CAPSULE_SHA256_BLOCK, len -= CAPSULE_SHA256_BLOCK)
    sha256_block (s->h, p);
  memcpy (s->buf, p, len);
  s->used = len;
}

void
capsule_sha256_final (struct capsule_sha256 *s, unsigned char out[CAPSULE_SHA256_LEN])
{
  /* §5.1.1: a 1 bit, zeros to 56 mod 64 bytes, then the bit length big-endian. */
  uint64_t bits = s->bytes * 8;
  s->buf[s->used++] = 0x80;
  if (s->used > 56)
    {
      memset (s->buf + s->used, 0, CAPSULE_SHA256_BLOCK - s->used);
      sha256_block (s->h, s->buf);
      s->used = 0;
    }
  memset (s->buf + s->used, 0, 56 - s->used);
  for (int i = 0; i < 8; i++)
    s->buf[56 + i] = (unsigned char) (bits >> (56 - 8 * i));
  sha256_block (s->h, s->buf);
  for (int i = 0; i < 8; i++)
    {
      out[4 * i] = (unsigned char) (s->h[i] >> 24);
      out[4 * i + 1] = (unsigned char) (s->h[i] >> 16);
      out[4 * i + 2] = (unsigned char) (s->h[i] >> 8);
      out[4 * i + 3] = (unsigned char) s->h[i];
    }
  memset (s, 0, sizeof *s);
}

void
capsule_sha256 (const void *data, size_t len, unsigned char out[CAPSULE_SHA256_LEN])
{
  struct capsule_sha256 s;
  capsule_sha256_init (&s);
  capsule_sha256_update (&s, data, len);
  capsule_sha256_final (&s, out);
}

void
capsule_hmac_sha256 (const void *key, size_t key_len, const void *msg, size_t msg_len,
                     unsigned char out[CAPSULE_SHA256_LEN])
{
  unsigned char k[CAPSULE_SHA256_BLOCK] = { 0 }, pad[CAPSULE_SHA256_BLOCK], inner[CAPSULE_SHA256_LEN];
  /* A key longer than a block is hashed first (RFC 2104 §2). */
  if (key_len > CAPSULE_SHA256_BLOCK)
    capsule_sha256 (key, key_len, k);
  else if (key_len)
    memcpy (k, key, key_len);
  struct capsule_sha256 s;
  for (int i = 0; i < CAPSULE_SHA256_BLOCK; i++)
    pad[i] = k[i] ^ 0x36;
  capsule_sha256_init (&s);
  capsule_sha256_update (&s, pad, sizeof pad);
  capsule_sha256_update (&s, msg, msg_len);
  capsule_sha256_final (&s, inner);
  for (int i = 0; i < CAPSULE_SHA256_BLOCK; i++)
    pad[i] = k[i] ^ 0x5c;
  capsule_sha256_init (&s);
  capsule_sha256_update (&s, pad, sizeof pad);
  capsule_sha256_update (&s, inner, sizeof inner);
  capsule_sha256_final (&s, out);
  memset (k, 0, sizeof k);
  memset (pad, 0, sizeof pad);
}

int
capsule_memeq_ct (const void *a, const void *b, size_t n)
{
  const volatile unsigned char *x = a, *y = b;
  unsigned char d = 0;
  for (size_t i = 0; i < n; i++)
    d |= x[i] ^ y[i];
  return d != 0;
}
