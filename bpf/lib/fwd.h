/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Forwarding a rewritten packet: next hop from the kernel's FIB, out with XDP_TX or a redirect
 * into a device that takes XDP frames (tx_devs). Without a resolved next hop, or toward any other
 * device (a bridge, a device without native XDP), limpet's TC step sends it out the FIB's device,
 * the kernel resolving the neighbour (lib/neigh.h), so the next packet takes the fast path. Not
 * the kernel's forwarding: a reply's source is the VIP, one of the host's own addresses where the
 * host announces it, and so a martian to the receive path. A packet the FIB finds no way for
 * (unreachable, forwarding off) goes to the kernel, which answers it.
 */
#ifndef LIMPET_BPF_FWD_H
#define LIMPET_BPF_FWD_H

#include "parse.h"
#include "csum.h"
#include "maps.h"
#include "neigh.h"

/* A router must not forward what would expire; the kernel then answers with the ICMP. */
static __always_inline int hop_limit_expiring(struct pkt *p)
{
	if (p->ip4)
		return p->ip4->ttl <= 1;
	return p->ip6 ? p->ip6->hop_limit <= 1 : 1;
}

static __always_inline void hop_limit_decrement(struct pkt *p)
{
	if (p->ip4) {
		struct iphdr *iph = p->ip4;
		__u16 *word = (__u16 *)&iph->ttl; /* ttl and protocol share a 16-bit word */
		__u16 old = *word;

		iph->ttl--;
		csum_replace16(&iph->check, old, *word);
	} else if (p->ip6) {
		p->ip6->hop_limit--;
	}
}

/* The frame at eth to its next hop: new MACs, out the same device or a redirect. */
static __always_inline int l2_out(struct ethhdr *eth, __u32 in_ifindex, __u32 ifindex,
				  const __u8 *dmac, const __u8 *smac)
{
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	if (ifindex == in_ifindex)
		return LIMPET_R_FWD_TX;
	/* a member of tx_devs (the caller checked): the redirect is the map's, not a bare ifindex */
	bpf_redirect_map(&MAP_NAME_TX_DEVS, ifindex, 0);
	return LIMPET_R_FWD_REDIRECT;
}

static __always_inline int fwd_out(struct xdp_md *ctx, struct pkt *p, __u32 in_ifindex,
				   __u32 ifindex, const __u8 *dmac, const __u8 *smac)
{
	hop_limit_decrement(p);
	return l2_out(p->eth, in_ifindex, ifindex, dmac, smac);
}

/* The packet for the TC step to send out ifindex (lib/neigh.h), its hop limit decremented as a
 * router's. fwd_stack; if there is no room for the mark, the kernel forwards it as it is.
 */
static __always_inline int fwd_neigh(struct xdp_md *ctx, struct pkt *p, __u32 ifindex)
{
	int v4 = p->ip4 != NULL, tagged;
	struct pkt q = {};
	void *data, *end;

	if ((!p->ip4 && !p->ip6) || !p->eth)
		return LIMPET_R_FWD_STACK;
	/* the one VLAN tag the parse takes, or none */
	tagged = p->eth->h_proto == bpf_htons(ETH_P_8021Q) || p->eth->h_proto == bpf_htons(ETH_P_8021AD);
	if (neigh_mark(ctx, ifindex, 0, NULL))
		return LIMPET_R_FWD_STACK;
	/* the mark moved nothing, but the verifier forgot p: the IP header again */
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	data += tagged ? 18 : 14;
	if (v4) {
		q.ip4 = data;
		if ((void *)(q.ip4 + 1) > end)
			return LIMPET_R_FWD_STACK;
	} else {
		q.ip6 = data;
		if ((void *)(q.ip6 + 1) > end)
			return LIMPET_R_FWD_STACK;
	}
	hop_limit_decrement(&q);
	return LIMPET_R_FWD_STACK;
}

/* A flow's cached next hop, usable for a packet that arrived on in_ifindex. */
static __always_inline int nh_fresh(const struct nexthop *nh, __u32 in_ifindex, __u64 now)
{
	return nh && nh->in_ifindex == in_ifindex && now < nh->expires;
}

static __always_inline void nh_set(struct nexthop *nh, const struct bpf_fib_lookup *fib,
				   __u32 in_ifindex, __u32 flags, __u64 now)
{
	nh->ifindex = fib->ifindex;
	nh->in_ifindex = in_ifindex;
	__builtin_memcpy(nh->dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib->smac, ETH_ALEN);
	nh->flags = flags;
	nh->expires = now + LIMPET_NEXTHOP_TTL_NS;
}

/* nh: the flow's cached next hop (NULL: none), used while fresh and refreshed from the FIB. */
static __always_inline int fwd_packet(struct xdp_md *ctx, struct pkt *p, struct nexthop *nh,
				      __u64 now)
{
	__u32 in_ifindex = ctx->ingress_ifindex; /* read ctx once: no derived ctx pointers */
	struct bpf_fib_lookup fib = {};
	int rc, stack;

	if (nh_fresh(nh, in_ifindex, now))
		return nh->flags & LIMPET_NH_STACK ?
			       fwd_neigh(ctx, p, nh->ifindex) :
			       fwd_out(ctx, p, in_ifindex, nh->ifindex, nh->dmac, nh->smac);

	fib.ifindex = in_ifindex;
	fib.l4_protocol = p->key.proto;
	if (p->ip4) {
		fib.family = AF_INET;
		fib.tos = p->ip4->tos;
		fib.tot_len = bpf_ntohs(p->ip4->tot_len);
		fib.ipv4_src = p->ip4->saddr;
		fib.ipv4_dst = p->ip4->daddr;
	} else if (p->ip6) {
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)p->ip6 & bpf_htonl(0x0FFFFFFF);
		fib.tot_len = bpf_ntohs(p->ip6->payload_len) + sizeof(struct ipv6hdr);
		__builtin_memcpy(fib.ipv6_src, &p->ip6->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &p->ip6->daddr, 16);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
		if (nh)
			nh->expires = 0;
		return rc == BPF_FIB_LKUP_RET_NO_NEIGH ? fwd_neigh(ctx, p, fib.ifindex) :
							 LIMPET_R_FWD_STACK;
	}
	/* XDP frames only to devices that take them; the TC step sends to the rest */
	stack = fib.ifindex != in_ifindex && !bpf_map_lookup_elem(&MAP_NAME_TX_DEVS, &fib.ifindex);
	if (nh)
		nh_set(nh, &fib, in_ifindex, stack ? LIMPET_NH_STACK : 0, now);
	if (stack)
		return fwd_neigh(ctx, p, fib.ifindex);
	return fwd_out(ctx, p, in_ifindex, fib.ifindex, fib.dmac, fib.smac);
}

#endif
