/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Internet checksums inline, so the hot path makes no helper call: incremental updates (RFC
 * 1624) and a new IPv4 header's.
 */
#ifndef LIMPET_BPF_CSUM_H
#define LIMPET_BPF_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

static __always_inline __u32 csum_add32(__u32 csum, __u32 addend)
{
	csum += addend;
	return csum + (csum < addend);
}

static __always_inline __u16 csum_fold32(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* A header word in memory order whose last two bytes are the checksum ck (csum_fold32's, as
 * it would be stored): an IPv4 header's third word, an ICMP header's first.
 */
static __always_inline __u32 csum_with_word(__u32 word, __u16 ck)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return word | (__u32)ck << 16;
#else
	return word | ck;
#endif
}

/* A new IPv4 header (no options) at w, written as whole words with its checksum summed from
 * them: no helper call, and no store of one type read back as another.
 */
static __always_inline void ip4_hdr_put(__u32 *w, __u8 tos, __u16 tot_len, __u16 frag_off,
					__u8 ttl, __u8 proto, __u32 saddr, __u32 daddr)
{
	__u32 w0 = bpf_htonl(0x45000000 | (__u32)tos << 16 | tot_len), w1 = bpf_htonl(frag_off);
	__u32 w2 = bpf_htonl((__u32)ttl << 24 | (__u32)proto << 16), c;

	c = csum_add32(csum_add32(w0, w1), w2);
	c = csum_add32(csum_add32(c, saddr), daddr);
	w[0] = w0;
	w[1] = w1;
	w[2] = csum_with_word(w2, csum_fold32(c));
	w[3] = saddr;
	w[4] = daddr;
}

/* Fold "from → to" for n 32-bit words into checksum *sum. */
static __always_inline void csum_replace_words(__u16 *sum, const __u32 *from, const __u32 *to,
					       int n)
{
	__u32 c = (__u16)~*sum;
	int i;

#pragma unroll
	for (i = 0; i < n; i++) {
		c = csum_add32(c, ~from[i]);
		c = csum_add32(c, to[i]);
	}
	*sum = csum_fold32(c);
}

static __always_inline void csum_replace16(__u16 *sum, __u16 from, __u16 to)
{
	__u32 c = (__u16)~*sum;

	c = csum_add32(c, (__u16)~from);
	c = csum_add32(c, to);
	*sum = csum_fold32(c);
}

#endif
