/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Incremental Internet checksum updates (RFC 1624), inline so the hot path makes no helper call. */
#ifndef LIMPET_BPF_CSUM_H
#define LIMPET_BPF_CSUM_H

#include <linux/types.h>

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
