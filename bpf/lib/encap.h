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
#include "neigh.h"

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

/* An outer IPv4 header at h in front of a datagram of dlen bytes (IPv6: the same). */
static __always_inline void encap_hdr4(struct iphdr *h, const __u32 *src, const __u32 *dst,
				       __u32 dlen, __u8 tos)
{
	ip4_hdr_put((__u32 *)h, tos, dlen + 20, IP4_DF, ENCAP_TTL, IPPROTO_IPIP, src[0], dst[0]);
}

static __always_inline void encap_hdr6(struct ipv6hdr *h, const __u32 *src, const __u32 *dst,
				       __u32 dlen, __be32 vtc_flow, __u8 next)
{
	*(__be32 *)h = vtc_flow;
	h->payload_len = bpf_htons(dlen);
	h->nexthdr = next;
	h->hop_limit = ENCAP_TTL;
	__builtin_memcpy(&h->saddr, src, 16);
	__builtin_memcpy(&h->daddr, dst, 16);
}

/* Make room for hlen bytes of outer headers behind the L2 header (Ethernet and the one VLAN tag
 * the parse takes): the head grows, the L2 header is copied from its old place to the new front
 * (they do not overlap: hlen >= 20 > 18), its type set to the outer family's, and the outer
 * headers are written behind it; v6: IPv6 outer headers (over IPv6, or IPv4: inner4). 0 or -1.
 */
static __always_inline int encap_push(struct xdp_md *ctx, __u32 l2len, __u32 dlen, const __u32 *src,
				      const __u32 *dst, const __u32 *second, int v6, int inner4,
				      __u32 inner_word)
{
	__u32 hsize = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 hlen = second ? 2 * hsize : hsize, off;
	void *data, *data_end, *old;

	if (l2len != 14 && l2len != 18)
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)hlen))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	old = data + hlen;
	if (old + 18 > data_end)
		return -1; /* an IP header follows the L2 header, so 18 bytes are there */
	__builtin_memcpy(data, old, 14);
	off = 14;
	if (l2len == 18) {
		__builtin_memcpy(data + 14, old + 14, 4);
		off = 18;
	}
	asm volatile("" : "+r"(off)); /* a constant on each path for the verifier, not l2len */
	*(__be16 *)(data + off - 2) = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	data += off;
	if (v6) {
		struct ipv6hdr *h = data;
		__u8 next = inner4 ? IPPROTO_IPIP : IPPROTO_IPV6;

		if ((void *)(h + 1) > data_end)
			return -1;
		/* a second header nests in the first: its next header is the second's */
		if (second && (void *)(h + 2) > data_end)
			return -1;
		encap_hdr6(h, src, dst, dlen + hlen - hsize, inner_word, second ? IPPROTO_IPV6 : next);
		if (second)
			encap_hdr6(h + 1, src, second, dlen, inner_word, next);
	} else {
		struct iphdr *h = data;

		if ((void *)(h + 1) > data_end)
			return -1;
		if (second && (void *)(h + 2) > data_end)
			return -1;
		encap_hdr4(h, src, dst, dlen + hlen - hsize, inner_word);
		if (second)
			encap_hdr4(h + 1, src, second, dlen, inner_word);
	}
	return 0;
}

/* The (encapsulated) frame at ctx to its next hop: new MACs, out the same device or a redirect
 * (no hop limit to decrement: the backend is the packet's destination).
 */
static __always_inline int dsr_l2_out(struct xdp_md *ctx, __u32 in_ifindex, __u32 ifindex,
				      const __u8 *dmac, const __u8 *smac)
{
	struct ethhdr *eth = (void *)(long)ctx->data;

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return LIMPET_R_DROP_DSR_PATH;
	return l2_out(eth, in_ifindex, ifindex, dmac, smac);
}

/* The frame the FIB's way; stack: the TC step sends it instead (an unresolved neighbour, a device
 * without XDP frames).
 */
static __always_inline int dsr_out(struct xdp_md *ctx, const struct bpf_fib_lookup *fib,
				   __u32 in_ifindex, int stack)
{
	if (stack)
		return neigh_mark(ctx, fib->ifindex, fib->family, fib->ipv6_dst) ?
			       LIMPET_R_DROP_DSR_PATH : LIMPET_R_FWD_STACK;
	return dsr_l2_out(ctx, in_ifindex, fib->ifindex, fib->dmac, fib->smac);
}

/* Where a DSR packet goes next: the FIB's answer (or a flow's cache of it), and for ipip the
 * outer source and the flow's hash.
 */
struct dsr_route {
	struct bpf_fib_lookup fib;
	__u32 src[4];
	__u32 hash;
	int fib_src; /* in: ask the FIB for the host's source address toward the backend */
	int stack;   /* the TC step sends it (no neighbour yet, a device without XDP frames) */
};

/* Ask the FIB for the way to t's backend, a datagram of tot bytes leaving. 0 or a reason. */
static __noinline int dsr_route(struct xdp_md *ctx, const struct pkt *p,
			      const struct dsr_to *t, __u32 tot, struct dsr_route *r)
{
	__u32 in_ifindex = ctx->ingress_ifindex;
	int v6 = t->family == LIMPET_AF_INET6, ipip = t->mode == LIMPET_MODE_IPIP, rc;

	r->fib.family = v6 ? AF_INET6 : AF_INET;
	if (p->ip4 && !v6)
		r->fib.tos = p->ip4->tos;
	__builtin_memcpy(r->fib.ipv6_dst, t->addr, 16);
	r->fib.ifindex = in_ifindex;
	r->fib.tot_len = tot;
	r->fib.l4_protocol = ipip ? (p->ip4 ? IPPROTO_IPIP : IPPROTO_IPV6) : p->key.proto;
	rc = bpf_fib_lookup(ctx, &r->fib, sizeof(r->fib), r->fib_src ? BPF_FIB_LOOKUP_SRC : 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return LIMPET_R_DROP_TOO_BIG;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return LIMPET_R_DROP_DSR_PATH;
	r->stack = rc != BPF_FIB_LKUP_RET_SUCCESS ||
		   (r->fib.ifindex != in_ifindex &&
		    !bpf_map_lookup_elem(&MAP_NAME_TX_DEVS, &r->fib.ifindex));
	if (!ipip) /* the backend itself must be the next hop */
		return r->fib.ipv6_dst[0] != t->addr[0] ||
			       (v6 && (r->fib.ipv6_dst[1] != t->addr[1] ||
				       r->fib.ipv6_dst[2] != t->addr[2] ||
				       r->fib.ipv6_dst[3] != t->addr[3])) ?
		       LIMPET_R_DROP_DSR_PATH : 0;
	return 0;
}

/* The way and, for ipip, the outer source and the flow's hash, from the FIB. 0 or a reason. */
static __noinline int dsr_way(struct xdp_md *ctx, const struct pkt *p,
			    const struct dsr_to *t, __u32 tot, struct dsr_route *r)
{
	__u32 vip_id = t->vip_id;
	struct dsr_spec *ds = NULL;
	int rc;

	/* encap-source is a prefix of the VIP's family: an IPv6 backend of an IPv4 VIP takes the
	 * host's source
	 */
	if (t->mode == LIMPET_MODE_IPIP && t->family == p->key.family)
		ds = bpf_map_lookup_elem(&MAP_NAME_DSR, &vip_id);
	r->fib_src = t->mode == LIMPET_MODE_IPIP && (!ds || !ds->src_plen);
	rc = dsr_route(ctx, p, t, tot, r);
	if (rc || t->mode != LIMPET_MODE_IPIP)
		return rc;
	if (t->family == LIMPET_AF_INET6 || (ds && ds->src_plen))
		r->hash = limpet_hash9(p->key.src, p->key.dst,
				       ((__u32)p->key.sport << 16 | p->key.dport) ^ p->key.proto, 0);
	return encap_src(ds, &r->fib, t->family == LIMPET_AF_INET6, r->hash, r->src) ?
		       LIMPET_R_DROP_DSR_PATH : 0;
}

/* The way an established flow took a moment ago, while fresh (no FIB lookup per packet, as NAT
 * flows). 1: r filled; 0: ask the FIB.
 */
static __always_inline int dsr_cache_ok(const struct flow_val *fv, __u32 in_ifindex, __u32 tot,
					__u64 now)
{
	return fv && nh_fresh(&fv->nh, in_ifindex, now) && tot <= fv->dc.ok_len;
}

static __always_inline int dsr_cached(const struct flow_val *fv, __u32 in_ifindex, __u32 tot,
				      __u64 now, struct dsr_route *r)
{
	if (!dsr_cache_ok(fv, in_ifindex, tot, now))
		return 0;
	r->fib.ifindex = fv->nh.ifindex;
	__builtin_memcpy(r->fib.dmac, fv->nh.dmac, ETH_ALEN);
	__builtin_memcpy(r->fib.smac, fv->nh.smac, ETH_ALEN);
	__builtin_memcpy(r->src, fv->dc.src, 16);
	r->hash = fv->dc.hash;
	return 1;
}

static __always_inline void dsr_cache_set(struct flow_val *fv, __u32 in_ifindex, __u32 tot,
					  __u64 now, const struct dsr_route *r)
{
	if (!fv || r->stack)
		return; /* the TC step's frames need the FIB's next hop each time */
	nh_set(&fv->nh, &r->fib, in_ifindex, 0, now);
	__builtin_memcpy(fv->dc.src, r->src, 16);
	fv->dc.hash = r->hash;
	fv->dc.ok_len = tot;
}

/* The datagram a DSR packet carries and what it becomes on the wire. */
struct dsr_frame {
	__u32 dlen;       /* the client's datagram */
	__u32 l2len;      /* its L2 header */
	__u32 inner_word; /* IPv4: its TOS; IPv6: its first word */
	__u32 tot;        /* the datagram that leaves (with outer headers, ipip) */
};

/* p's frame in mode toward a backend of family (second: with a second outer header). 0, or -1
 * (not IP).
 */
static __always_inline int dsr_frame_of(const struct pkt *p, __u8 mode, __u8 family, int second,
					struct dsr_frame *f)
{
	__u32 hsize = family == LIMPET_AF_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);

	if (p->ip4) {
		f->dlen = bpf_ntohs(p->ip4->tot_len);
		f->l2len = (void *)p->ip4 - (void *)p->eth;
		f->inner_word = p->ip4->tos;
	} else if (p->ip6) {
		f->dlen = bpf_ntohs(p->ip6->payload_len) + sizeof(struct ipv6hdr);
		f->l2len = (void *)p->ip6 - (void *)p->eth;
		f->inner_word = *(__be32 *)p->ip6;
	} else {
		return -1;
	}
	f->tot = f->dlen + (mode == LIMPET_MODE_IPIP ? hsize * (second ? 2 : 1) : 0);
	return 0;
}

/* ipip: the outer header(s) of family from src to dst (and second, or NULL) in front of p's
 * datagram; l2dsr: nothing. 0, or a reason.
 */
static __always_inline int dsr_encap(struct xdp_md *ctx, const struct pkt *p, __u8 mode,
				     __u8 family, const struct dsr_frame *f, const __u32 *src,
				     __u32 hash, const __u32 *dst, const __u32 *second)
{
	int v6 = family == LIMPET_AF_INET6;
	__u32 inner_word = f->inner_word;

	if (mode != LIMPET_MODE_IPIP)
		return 0;
	/* IPv6: the client's traffic class (IPv4: its TOS), the flow's own label */
	if (v6 && p->ip4)
		inner_word = bpf_htonl(6 << 28 | (inner_word & 0xff) << 20 | (hash & 0xFFFFF));
	else if (v6)
		inner_word = (inner_word & bpf_htonl(0xFFF00000)) | bpf_htonl(hash & 0xFFFFF);
	return encap_push(ctx, f->l2len, f->dlen, src, dst, second, v6, p->ip4 != NULL,
			  inner_word) ? LIMPET_R_DROP_DSR_PATH : 0;
}

/* Send p where t says. A reason (drop_too_big: t's mtu and hlen say by how much). */
static __noinline int dsr_send(struct xdp_md *ctx, struct pkt *p, struct dsr_to *t)
{
	__u32 in_ifindex = ctx->ingress_ifindex;
	struct backend *sb = t->second ? backend_get(t->second - 1, t->vip_id) : NULL;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct dsr_route r = {};
	struct dsr_frame f;
	int rc;

	if (sb && sb->family != t->family)
		sb = NULL; /* a second header nests in the first: the same family only */
	if (dsr_frame_of(p, t->mode, t->family, sb != NULL, &f))
		return LIMPET_R_PASS_BAD_L3;
	if (!dsr_cached(t->fv, in_ifindex, f.tot, now, &r)) {
		rc = dsr_way(ctx, p, t, f.tot, &r);
		if (rc == LIMPET_R_DROP_TOO_BIG) {
			t->mtu = r.fib.mtu_result;
			t->hlen = f.tot - f.dlen;
		}
		if (rc)
			return rc;
		dsr_cache_set(t->fv, in_ifindex, f.tot, now, &r);
	}
	rc = dsr_encap(ctx, p, t->mode, t->family, &f, r.src, r.hash, t->addr,
		       sb ? sb->addr : NULL);
	return rc ? rc : dsr_out(ctx, &r.fib, in_ifindex, r.stack);
}

/* An established DSR flow's packet, sent by limpet_xdp itself when nothing but its cached way is
 * needed: not a fragment, no TCP SYN, FIN or RST, its backend serving and up, no second chance,
 * the way fresh. Everything else goes to the DSR program (its tail call costs a second parse and
 * lookups). A reason, or DSR_SLOW before anything was changed or counted.
 */
#define DSR_SLOW (-2)

static __noinline int dsr_fast(struct xdp_md *ctx, struct pkt *p, const struct vip_meta *vip)
{
	__u32 in_ifindex = ctx->ingress_ifindex;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct tcphdr *th = p->l4;
	struct flow_val *fv;
	struct backend *be;
	struct dsr_frame f;
	int rc;

	if (p->frag != PKT_NOT_FRAG || !th)
		return DSR_SLOW;
	if (p->key.proto == IPPROTO_TCP &&
	    ((void *)(th + 1) > p->data_end || th->syn || th->fin || th->rst))
		return DSR_SLOW;
	fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &p->key);
	if (!fv || fv->vip_id != vip->vip_id || fv->second)
		return DSR_SLOW;
	be = backend_get(fv->backend_id, vip->vip_id);
	if (!be || be->health == LIMPET_HEALTH_DOWN || dsr_frame_of(p, vip->mode, be->family, 0, &f) ||
	    !dsr_cache_ok(fv, in_ifindex, f.tot, now))
		return DSR_SLOW;
	dsr_client_step(p, vip, fv, FLOW_EST, now); /* one clock read per packet */
	stats_count(vip_stats_get(vip->vip_id), p->len, 0);
	stats_count(backend_stats_get(fv->backend_id), p->len, 0);
	rc = dsr_encap(ctx, p, vip->mode, be->family, &f, fv->dc.src, fv->dc.hash, be->addr, NULL);
	return rc ? rc : dsr_l2_out(ctx, in_ifindex, fv->nh.ifindex, fv->nh.dmac, fv->nh.smac);
}

#endif
