/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Sending a DSR packet: the backend's next hop from the FIB, then a new destination MAC (l2dsr)
 * or one or two outer IP headers in front of the untouched client packet (ipip).
 */
#ifndef LIMPET_BPF_ENCAP_H
#define LIMPET_BPF_ENCAP_H

#include <limpet/hash.h>
#include "parse.h"
#include "csum.h"
#include "maps.h"
#include "fwd.h"
#include "tcp.h"
#include "dsr.h"

#define ENCAP_TTL 64
#define IP4_DF 0x4000

/* The outer source: the VIP's prefix with the flow's hash in its host bits, or the host's
 * address toward the backend (FIB). 0 or -1 (none known).
 */
static __always_inline int encap_src(const struct dsr_spec *ds, const struct bpf_fib_lookup *fib,
				     int v6, __u32 hash, __u32 *src)
{
	__u32 plen, host;

	if (!ds || !ds->src_plen) {
		if (!v6) {
			src[0] = fib->ipv4_src;
			return src[0] ? 0 : -1;
		}
		__builtin_memcpy(src, fib->ipv6_src, 16);
		return src[0] | src[1] | src[2] | src[3] ? 0 : -1;
	}
	__builtin_memcpy(src, ds->src, 16);
	plen = ds->src_plen;
	if (v6)
		plen = plen > 96 ? plen - 96 : 0; /* the hash spreads over the last word */
	host = plen >= 32 ? 0 : 0xffffffffu >> plen;
	src[v6 ? 3 : 0] = (src[v6 ? 3 : 0] & ~bpf_htonl(host)) | bpf_htonl(hash & host);
	return 0;
}

/* An outer IPv4 header in front of a datagram of dlen bytes (IPv6: the same). */
static __always_inline void encap_hdr4(void *at, const __u32 *src, const __u32 *dst, __u32 dlen,
				       __u8 tos)
{
	struct iphdr h = { .version = 4, .ihl = 5, .tos = tos, .tot_len = bpf_htons(dlen + 20),
			   .frag_off = bpf_htons(IP4_DF), .ttl = ENCAP_TTL, .protocol = IPPROTO_IPIP,
			   .saddr = src[0], .daddr = dst[0] };
	ip4_csum_set(&h);
	__builtin_memcpy(at, &h, sizeof(h));
}

static __always_inline void encap_hdr6(void *at, const __u32 *src, const __u32 *dst, __u32 dlen,
				       __be32 vtc_flow)
{
	struct ipv6hdr h = { .payload_len = bpf_htons(dlen), .nexthdr = IPPROTO_IPV6,
			     .hop_limit = ENCAP_TTL };

	*(__be32 *)&h = vtc_flow;
	__builtin_memcpy(&h.saddr, src, 16);
	__builtin_memcpy(&h.daddr, dst, 16);
	__builtin_memcpy(at, &h, sizeof(h));
}

/* Move the L2 header (Ethernet and up to two VLAN tags) hlen bytes to the front and write the
 * outer headers behind it. 0, or -1 (no headroom).
 */
static __always_inline int encap_push(struct xdp_md *ctx, __u32 l2len, __u32 dlen, const __u32 *src,
				      const struct dsr_to *t, int v6, __u32 inner_word)
{
	__u32 hsize = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 hlen = t->n_hdrs == 2 ? 2 * hsize : hsize, off;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u8 l2[22];

	if (l2len != 14 && l2len != 18 && l2len != 22)
		return -1;
	if (data + 22 > data_end)
		return -1; /* an IP header follows any L2 header, so 22 bytes are there */
	__builtin_memcpy(l2, data, 22);
	if (bpf_xdp_adjust_head(ctx, -(int)hlen))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 14 > data_end)
		return -1;
	__builtin_memcpy(data, l2, 14);
	off = 14;
	if (l2len >= 18) {
		if (data + 18 > data_end)
			return -1;
		__builtin_memcpy(data + 14, l2 + 14, 4);
		off = 18;
	}
	if (l2len == 22) {
		if (data + 22 > data_end)
			return -1;
		__builtin_memcpy(data + 18, l2 + 18, 4);
		off = 22;
	}
	asm volatile("" : "+r"(off)); /* a constant on each path for the verifier, not l2len */
	data += off;
	if (v6) {
		struct ipv6hdr *h = data;

		if ((void *)(h + 1) > data_end)
			return -1;
		encap_hdr6(h, src, t->addr, dlen + hlen - hsize, inner_word);
		if (t->n_hdrs == 2 && (void *)(h + 2) <= data_end)
			encap_hdr6(h + 1, src, t->second, dlen, inner_word);
	} else {
		struct iphdr *h = data;

		if ((void *)(h + 1) > data_end)
			return -1;
		encap_hdr4(h, src, t->addr, dlen + hlen - hsize, inner_word);
		if (t->n_hdrs == 2 && (void *)(h + 2) <= data_end)
			encap_hdr4(h + 1, src, t->second, dlen, inner_word);
	}
	return 0;
}

/* The frame for the TC step to send (struct limpet_neigh_meta). 0, or -1: no room for it. */
static __always_inline int neigh_mark(struct xdp_md *ctx, const struct bpf_fib_lookup *fib)
{
	struct limpet_neigh_meta *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return -1;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return -1;
	m->magic = LIMPET_META_NEIGH;
	m->ifindex = fib->ifindex;
	m->family = fib->family;
	__builtin_memcpy(m->nh, fib->ipv6_dst, 16);
	return 0;
}

/* The frame's next hop is on dev fib->ifindex: new MACs, out the same device or a redirect.
 * stack: the TC step sends it instead (an unresolved neighbour, a device without XDP frames).
 */
static __always_inline int dsr_out(struct xdp_md *ctx, const struct bpf_fib_lookup *fib,
				   __u32 in_ifindex, int stack)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (stack)
		return neigh_mark(ctx, fib) ? LIMPET_R_DROP_DSR_PATH : LIMPET_R_FWD_STACK;
	if ((void *)(eth + 1) > data_end)
		return LIMPET_R_DROP_DSR_PATH;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	if (fib->ifindex == in_ifindex)
		return LIMPET_R_FWD_TX;
	bpf_redirect_map(&MAP_NAME_TX_DEVS, fib->ifindex, 0);
	return LIMPET_R_FWD_REDIRECT;
}

/* Send p where t says. A reason. */
static __noinline int dsr_send(struct xdp_md *ctx, struct pkt *p, const struct dsr_to *t)
{
	__u32 in_ifindex = ctx->ingress_ifindex, vip_id = t->vip_id, src[4] = {};
	__u32 dlen, l2len, inner_word, hash, hsize, v6word = 0;
	struct bpf_fib_lookup fib = {};
	struct dsr_spec *ds = NULL;
	int v6, rc, ipip = t->mode == LIMPET_MODE_IPIP, xdp_dev;

	if (p->ip4) {
		v6 = 0;
		dlen = bpf_ntohs(p->ip4->tot_len);
		l2len = (void *)p->ip4 - (void *)p->eth;
		inner_word = p->ip4->tos;
		fib.family = AF_INET;
		fib.tos = p->ip4->tos;
		fib.ipv4_dst = t->addr[0];
	} else if (p->ip6) {
		v6 = 1;
		dlen = bpf_ntohs(p->ip6->payload_len) + sizeof(struct ipv6hdr);
		l2len = (void *)p->ip6 - (void *)p->eth;
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_dst, t->addr, 16);
		v6word = *(__be32 *)p->ip6;
	} else {
		return LIMPET_R_PASS_BAD_L3;
	}
	hsize = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	fib.ifindex = in_ifindex;
	fib.tot_len = dlen + (ipip ? hsize * t->n_hdrs : 0);
	fib.l4_protocol = ipip ? (v6 ? IPPROTO_IPV6 : IPPROTO_IPIP) : p->key.proto;
	if (ipip)
		ds = bpf_map_lookup_elem(&MAP_NAME_DSR, &vip_id);
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), ipip && (!ds || !ds->src_plen) ?
							 BPF_FIB_LOOKUP_SRC : 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return LIMPET_R_DROP_TOO_BIG;
	xdp_dev = rc == BPF_FIB_LKUP_RET_SUCCESS &&
		  (fib.ifindex == in_ifindex || bpf_map_lookup_elem(&MAP_NAME_TX_DEVS, &fib.ifindex));
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return LIMPET_R_DROP_DSR_PATH;
	if (!ipip) {
		/* the backend itself must be the next hop */
		if (fib.ipv6_dst[0] != t->addr[0] ||
		    (v6 && (fib.ipv6_dst[1] != t->addr[1] || fib.ipv6_dst[2] != t->addr[2] ||
			    fib.ipv6_dst[3] != t->addr[3])))
			return LIMPET_R_DROP_DSR_PATH;
		return dsr_out(ctx, &fib, in_ifindex, !xdp_dev);
	}
	hash = limpet_hash9(p->key.src, p->key.dst,
			    ((__u32)p->key.sport << 16 | p->key.dport) ^ p->key.proto, 0);
	/* IPv6: version and traffic class as the client sent them, the flow's own label */
	if (v6)
		inner_word = (v6word & bpf_htonl(0xFFF00000)) | bpf_htonl(hash & 0xFFFFF);
	if (encap_src(ds, &fib, v6, hash, src) || encap_push(ctx, l2len, dlen, src, t, v6, inner_word))
		return LIMPET_R_DROP_DSR_PATH;
	return dsr_out(ctx, &fib, in_ifindex, !xdp_dev);
}

#endif
