/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* NAT rewrites: destination → backend on the way in, source → VIP on the way back.
 * L3 and L4 checksums are updated incrementally; later fragments carry no L4 header.
 */
#ifndef LIMPET_BPF_NAT_H
#define LIMPET_BPF_NAT_H

#include "parse.h"
#include "csum.h"

enum nat_side {
	NAT_DST = 0,
	NAT_SRC = 1,
};

static __always_inline void nat_l4(struct pkt *p, const __u32 *old, const __u32 *addr, int n,
				   __be16 port, int side)
{
	struct udphdr *uh = p->l4; /* ports sit at the same offsets in TCP and UDP */
	__be16 *pf;
	__u16 *sum;
	int udp_zero;

	if (!uh)
		return;
	/* bounds again: the verifier does not tie key.proto to the check parse_l4 made */
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > p->data_end)
			return;
		sum = &th->check;
	} else {
		if ((void *)(uh + 1) > p->data_end)
			return;
		sum = &uh->check;
	}
	pf = side == NAT_DST ? &uh->dest : &uh->source;
	/* an IPv4 UDP checksum of 0 means "none": keep it so */
	udp_zero = p->key.proto == IPPROTO_UDP && *sum == 0;
	if (!udp_zero) {
		csum_replace_words(sum, old, addr, n);
		if (port != *pf)
			csum_replace16(sum, *pf, port);
		if (p->key.proto == IPPROTO_UDP && *sum == 0)
			*sum = 0xffff;
	}
	*pf = port;
}

/* Rewrite one side's address (and port, when p->l4) to addr/port. */
static __always_inline void nat_rewrite(struct pkt *p, const __u32 *addr, __be16 port, int side)
{
	if (p->ip4) {
		struct iphdr *iph = p->ip4;
		__u32 *field = side == NAT_DST ? &iph->daddr : &iph->saddr;
		__u32 old = *field;

		csum_replace_words(&iph->check, &old, addr, 1);
		*field = addr[0];
		nat_l4(p, &old, addr, 1, port, side);
	} else if (p->ip6) {
		/* the verifier cannot tell ip6 is set when ip4 is not */
		struct ipv6hdr *ip6h = p->ip6;
		__u32 *field = side == NAT_DST ? (__u32 *)&ip6h->daddr : (__u32 *)&ip6h->saddr;
		__u32 old[4];

		__builtin_memcpy(old, field, 16);
		__builtin_memcpy(field, addr, 16);
		nat_l4(p, old, addr, 4, port, side);
	}
}

#endif
