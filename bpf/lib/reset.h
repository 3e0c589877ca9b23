/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* on-down reset (docs/design.md §5.4): a client's packet of a flow whose backend is down is
 * answered in place with a RST from the VIP, so the client reconnects at once — to a healthy
 * backend — instead of waiting out TCP's timeouts. The flow is forgotten.
 */
#ifndef LIMPET_BPF_RESET_H
#define LIMPET_BPF_RESET_H

#include "parse.h"
#include "tcp.h"
#include "flow.h"

/* The RST answers what the client acknowledged: seq = its ACK (RFC 9293 §3.10.7.1, and exactly
 * RCV.NXT, so RFC 5961 accepts it), no payload, no options.
 */
static __always_inline int reset_reply(struct xdp_md *ctx, struct pkt *p, const int v6)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;
	__u8 out[20] = {}, mac[ETH_ALEN];
	struct tcphdr *rh = (struct tcphdr *)out;
	__u32 off, frame, keep;

	if (!th || (void *)(th + 1) > p->data_end || !th->ack || th->rst || th->syn)
		return LIMPET_R_DROP_ABSORBED;
	rh->source = th->dest;
	rh->dest = th->source;
	rh->seq = th->ack_seq;
	rh->doff = 5;
	rh->rst = 1;
	off = (void *)th - data;
	if (!v6) {
		struct iphdr *iph = p->ip4;
		__be32 a;

		if (!iph || (iph->ihl & 0xf) != 5)
			return LIMPET_R_DROP_ABSORBED; /* IP options: not answered, dropped */
		a = iph->saddr;
		iph->saddr = iph->daddr;
		iph->daddr = a;
		iph->ttl = 64;
		iph->tos = 0;
		iph->frag_off = 0;
		iph->tot_len = bpf_htons(sizeof(*iph) + sizeof(*rh));
		ip4_csum_set(iph);
		rh->check = tcp4_csum(iph->saddr, iph->daddr, out, sizeof(out), sizeof(out), 0);
	} else {
		struct ipv6hdr *ip6h = p->ip6;
		__u32 a6[4];

		if (!ip6h || ip6h->nexthdr != IPPROTO_TCP)
			return LIMPET_R_DROP_ABSORBED;
		__builtin_memcpy(a6, &ip6h->saddr, 16);
		__builtin_memcpy(&ip6h->saddr, &ip6h->daddr, 16);
		__builtin_memcpy(&ip6h->daddr, a6, 16);
		ip6h->hop_limit = 64;
		ip6h->payload_len = bpf_htons(sizeof(*rh));
		rh->check = tcp6_csum((__u32 *)&ip6h->saddr, (__u32 *)&ip6h->daddr, out, sizeof(out),
				      sizeof(out), 0);
	}
	__builtin_memcpy(mac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, mac, ETH_ALEN);
	if (bpf_xdp_store_bytes(ctx, off, out, sizeof(out)))
		return LIMPET_R_DROP_ABSORBED;
	frame = (__u32)((long)p->data_end - (long)data);
	keep = off + sizeof(out);
	if (frame > keep && frame - keep < 0x10000 && bpf_xdp_adjust_tail(ctx, -(int)(frame - keep)))
		return LIMPET_R_DROP_ABSORBED;
	flow_forget(&p->key);
	return LIMPET_R_TX_RESET;
}

#endif
