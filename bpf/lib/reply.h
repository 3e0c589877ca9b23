/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Answering a TCP packet in place from where it was sent to (the SYN-cookie SYN-ACK, the
 * on-down RST): the XDP responders' one way to turn a packet around.
 */
#ifndef LIMPET_BPF_REPLY_H
#define LIMPET_BPF_REPLY_H

#include "parse.h"
#include "tcp.h"

/* The packet p, its TCP header at off, becomes a reply carrying the TCP header hdr[hlen] and
 * nothing else: MACs and addresses swapped, a fresh IP header (TTL 64, DF), lengths and
 * checksums set, the frame trimmed after the header. v6 is a constant (one program per
 * family). 0, or -1 when the packet could not be rewritten.
 */
static __always_inline int reply_in_place(struct xdp_md *ctx, struct pkt *p, const int v6,
					  __u8 *hdr, __u32 hlen, __u32 off)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *oh = (struct tcphdr *)hdr;
	__u32 frame = (__u32)((long)p->data_end - (long)data), keep = off + hlen;
	__u8 mac[ETH_ALEN];

	if (hlen < 20 || hlen > 60)
		return -1;
	oh->check = 0;
	if (!v6) {
		struct iphdr *iph = p->ip4;
		__be32 a;

		if (!iph)
			return -1;
		a = iph->saddr;
		iph->saddr = iph->daddr;
		iph->daddr = a;
		iph->ttl = 64;
		iph->tos = 0;
		iph->id = 0;
		iph->frag_off = bpf_htons(0x4000);
		iph->tot_len = bpf_htons(sizeof(*iph) + hlen);
		ip4_csum_set(iph);
		oh->check = tcp4_csum(iph->saddr, iph->daddr, hdr, hlen, hlen, 0);
	} else {
		struct ipv6hdr *ip6h = p->ip6;
		__u32 a6[4];

		if (!ip6h)
			return -1;
		__builtin_memcpy(a6, &ip6h->saddr, 16);
		__builtin_memcpy(&ip6h->saddr, &ip6h->daddr, 16);
		__builtin_memcpy(&ip6h->daddr, a6, 16);
		ip6h->hop_limit = 64;
		ip6h->payload_len = bpf_htons(hlen);
		oh->check = tcp6_csum((__u32 *)&ip6h->saddr, (__u32 *)&ip6h->daddr, hdr, hlen, hlen, 0);
	}
	__builtin_memcpy(mac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, mac, ETH_ALEN);
	if (bpf_xdp_store_bytes(ctx, off, hdr, hlen))
		return -1;
	/* whatever followed the header (data, padding) is not part of the reply */
	if (frame > keep && frame - keep < 0x10000 && bpf_xdp_adjust_tail(ctx, -(int)(frame - keep)))
		return -1;
	return 0;
}

#endif
