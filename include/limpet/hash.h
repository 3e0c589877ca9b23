/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* One hash for BPF and userspace: Bob Jenkins' lookup3 mixing over 32-bit words. */
#ifndef LIMPET_HASH_H
#define LIMPET_HASH_H

#include <linux/types.h>

#ifndef LIMPET_INLINE
#define LIMPET_INLINE static inline __attribute__((always_inline))
#endif

LIMPET_INLINE __u32 limpet_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

#define limpet_mix(a, b, c)                                                                       \
	do {                                                                                      \
		a -= c; a ^= limpet_rol32(c, 4); c += b;                                          \
		b -= a; b ^= limpet_rol32(a, 6); a += c;                                          \
		c -= b; c ^= limpet_rol32(b, 8); b += a;                                          \
		a -= c; a ^= limpet_rol32(c, 16); c += b;                                         \
		b -= a; b ^= limpet_rol32(a, 19); a += c;                                         \
		c -= b; c ^= limpet_rol32(b, 4); b += a;                                          \
	} while (0)

#define limpet_final(a, b, c)                                                                     \
	do {                                                                                      \
		c ^= b; c -= limpet_rol32(b, 14);                                                 \
		a ^= c; a -= limpet_rol32(c, 11);                                                 \
		b ^= a; b -= limpet_rol32(a, 25);                                                 \
		c ^= b; c -= limpet_rol32(b, 16);                                                 \
		a ^= c; a -= limpet_rol32(c, 4);                                                  \
		b ^= a; b -= limpet_rol32(a, 14);                                                 \
		c ^= b; c -= limpet_rol32(b, 24);                                                 \
	} while (0)

/* Hash of 4 words (an address) plus one extra word (a port pair, a VIP id, …). */
LIMPET_INLINE __u32 limpet_hash5(const __u32 w[4], __u32 extra, __u32 seed)
{
	__u32 a, b, c;

	a = b = c = 0xdeadbeef + (5 << 2) + seed;
	a += w[0];
	b += w[1];
	c += w[2];
	limpet_mix(a, b, c);
	a += w[3];
	b += extra;
	limpet_final(a, b, c);
	return c;
}

/* The VIP filter's bucket of an address (limpet.h): its words folded, then a multiplicative hash
 * whose top bits depend on every bit folded. Cheap, fixed, not a secret: a packet made to land in
 * a VIP's bucket only gets the VIP lookups every packet had before the filter.
 */
LIMPET_INLINE __u32 limpet_vip_bucket(const __u32 w[4])
{
	__u32 x = w[0] ^ w[1] ^ w[2] ^ w[3];

	return (x * 0x9e3779b1u) >> 20; /* 12 bits: LIMPET_VIP_FILTER_BITS */
}

/* Hash of two addresses and one word: the 5-tuple policy. */
LIMPET_INLINE __u32 limpet_hash9(const __u32 s[4], const __u32 d[4], __u32 extra, __u32 seed)
{
	__u32 a, b, c;

	a = b = c = 0xdeadbeef + (9 << 2) + seed;
	a += s[0];
	b += s[1];
	c += s[2];
	limpet_mix(a, b, c);
	a += s[3];
	b += d[0];
	c += d[1];
	limpet_mix(a, b, c);
	a += d[2];
	b += d[3];
	c += extra;
	limpet_final(a, b, c);
	return c;
}


/* Hash of a token: LIMPET_TOKEN_MAX bytes as 16 words, zero-padded past len. */
LIMPET_INLINE __u32 limpet_hash_token(const __u32 w[16], __u32 len, __u32 seed)
{
	__u32 a, b, c;
	int i;

	a = b = c = 0xdeadbeef + len + seed;
	for (i = 0; i < 15; i += 3) {
		a += w[i];
		b += w[i + 1];
		c += w[i + 2];
		limpet_mix(a, b, c);
	}
	a += w[15];
	limpet_final(a, b, c);
	return c;
}

#endif
