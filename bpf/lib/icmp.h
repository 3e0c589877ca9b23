/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* ICMP and ICMPv6 errors about VIP flows, routed by their inner header (docs/design.md §4.1):
 *  - to the VIP (a router could not deliver a reply limpet sent the client, e.g. fragmentation
 *    needed): on to the flow's backend, the inner source rewritten to it, so path-MTU
 *    discovery reaches the socket that sends;
 *  - to a client, from the backend side (about a packet limpet sent a backend): back to the
 *    client with the inner destination rewritten to the VIP.
 * The inner L4 checksum is left as it was: stacks do not check it in an ICMP error. An error
 * about a DSR VIP's flow (its backend's reply, sent as the VIP) goes to the DSR program, which
 * sends it to the backend unchanged, as it sends the flow's packets (icmp_dsr_to).
 */
#ifndef LIMPET_BPF_ICMP_H
#define LIMPET_BPF_ICMP_H

#include "parse.h"
#include "csum.h"
#include "select.h"
#include "flow.h"
#include "dsr.h"

/* <linux/icmp.h> pulls in libc headers a BPF build has not: the fields limpet needs */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3
struct icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest; /* unused, or the next-hop MTU */
};

struct icmp_inner {
	struct iphdr *ip;
	__be16 *sport, *dport;
};

/* The packet an error quotes: IPv4 without options, TCP or UDP, its first 8 L4 bytes. */
static __always_inline int icmp_inner4(struct pkt *p, struct icmp_inner *in, struct flow_key *k)
{
	struct icmphdr *ih = p->l4;
	struct iphdr *ip;
	__u8 *l4;

	/* the quote (20 + 8 bytes) must lie inside the datagram, not in the frame's padding */
	if (!ih || (void *)(ih + 1) > p->data_end || p->l4_len < sizeof(*ih) + 20 + 8)
		return -1;
	if (ih->type != ICMP_DEST_UNREACH && ih->type != ICMP_TIME_EXCEEDED)
		return -1;
	ip = (void *)(ih + 1);
	if ((void *)(ip + 1) > p->data_end || ip->ihl != 5 ||
	    (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP))
		return -1;
	l4 = (void *)(ip + 1);
	if ((void *)(l4 + 8) > p->data_end)
		return -1;
	in->ip = ip;
	in->sport = (__be16 *)l4;
	in->dport = (__be16 *)(l4 + 2);
	k->src[0] = ip->saddr;
	k->dst[0] = ip->daddr;
	k->sport = *in->sport;
	k->dport = *in->dport;
	k->proto = ip->protocol;
	k->family = LIMPET_AF_INET;
	return 0;
}

/* Rewrite the inner address at *addr and port at *port; every checksum that covers them. */
static __always_inline void icmp_inner_rewrite(struct pkt *p, struct icmp_inner *in, __be32 *addr,
					       __be16 *port, __be32 naddr, __be16 nport)
{
	struct icmphdr *ih = p->l4;
	__u32 old = *addr;
	__u16 oldcheck = in->ip->check, oldport = *port;

	csum_replace_words(&in->ip->check, &old, &naddr, 1);
	*addr = naddr;
	*port = nport;
	csum_replace_words(&ih->checksum, &old, &naddr, 1);
	csum_replace16(&ih->checksum, oldport, nport);
	csum_replace16(&ih->checksum, oldcheck, in->ip->check);
}

/* IPv4: an error sent to its quote's source; k: the quote reversed (the client's flow key when
 * sent to the VIP, a reply's key when sent to a client). 0 or -1.
 */
static __always_inline int icmp_key4(struct pkt *p, struct icmp_inner *in, struct flow_key *k)
{
	struct flow_key ik = {};

	if (!p->ip4 || icmp_inner4(p, in, &ik) || p->key.dst[0] != ik.src[0])
		return -1;
	k->src[0] = ik.dst[0];
	k->dst[0] = ik.src[0];
	k->sport = ik.dport;
	k->dport = ik.sport;
	k->proto = ik.proto;
	k->family = LIMPET_AF_INET;
	return 0;
}

#define ICMP_GO_DSR (-1) /* an error about a DSR VIP's flow: the DSR program's */

/* Is k (client -> VIP, its flow fv or none here) a DSR VIP's connection? Then its errors are
 * the DSR program's: with no flow here too, as a host behind ECMP gets errors about other
 * hosts' connections (the router hashes an error by its own addresses).
 */
static __always_inline int icmp_flow_dsr(const struct flow_key *k, const struct flow_val *fv)
{
	struct vip_meta *vip = vip_lookup(k, k->dport);

	return vip && (!fv || vip->vip_id == fv->vip_id) && vip->mode != LIMPET_MODE_NAT;
}

static __always_inline int icmp_error(struct xdp_md *ctx, struct pkt *p)
{
	struct icmp_inner in = {};
	struct flow_key k = {}, ck = {};
	struct flow_val *fv;
	int where;

	/* An error goes to the quoted packet's source. To the VIP: the quote went VIP -> client,
	 * and reversed it is the flow's key. To a client: the quote went client -> backend, and
	 * reversed it is a reply's key, whose flow names the VIP.
	 */
	if (icmp_key4(p, &in, &k))
		return LIMPET_R_PASS_L4_OTHER;
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	fv = flow_find(&k, &where);
	if (icmp_flow_dsr(&k, fv))
		return ICMP_GO_DSR;
	if (fv) {
		struct backend *be = backend_get(fv->backend_id, fv->vip_id);

		if (!be)
			return LIMPET_R_PASS_L4_OTHER;
		icmp_inner_rewrite(p, &in, &in.ip->saddr, in.sport, be->addr[0],
				   be->port ? be->port : k.dport);
		if (fv->sp.state == LIMPET_SP_ESTABLISHED && k.proto == IPPROTO_TCP) {
			/* the quoted seq is in the client's view of a spliced flow: the backend's own */
			__be32 *seq = (__be32 *)(in.dport + 1);
			__u32 o = *seq, n = bpf_htonl(bpf_ntohl(o) - fv->sp.delta);

			if ((void *)(seq + 1) <= p->data_end) {
				csum_replace_words(&((struct icmphdr *)p->l4)->checksum, &o, &n, 1);
				*seq = n;
			}
		}
		{
			/* outer destination: ICMP's checksum has no pseudo-header */
			__u32 old = p->ip4->daddr;

			csum_replace_words(&p->ip4->check, &old, be->addr, 1);
			p->ip4->daddr = be->addr[0];
		}
		event_count(LIMPET_EV_ICMP_FWD);
		return fwd_packet(ctx, p, NULL, 0);
	}
	if (flow_reply_key(&k, &ck) == FLOW_NONE)
		return LIMPET_R_PASS_L4_OTHER;
	icmp_inner_rewrite(p, &in, &in.ip->daddr, in.dport, ck.dst[0], ck.dport);
	event_count(LIMPET_EV_ICMP_FWD);
	return fwd_packet(ctx, p, NULL, 0);
}

/* IPv6: the quote is an IPv6 header (no extension headers) and 8 L4 bytes, of a packet from
 * the error's destination; k: the quote reversed (a flow key, or a reply key). 0 or -1.
 */
static __always_inline int icmp_inner6(struct pkt *p, struct ipv6hdr **qp, __u8 **l4p,
				       struct flow_key *k)
{
	struct icmphdr *ih = p->l4;
	struct ipv6hdr *ip6 = p->ip6, *q;
	__u32 *a, *b;
	__u8 *l4;

	if (!ip6 || !ih || (void *)(ih + 1) > p->data_end ||
	    p->l4_len < sizeof(*ih) + sizeof(*q) + 8)
		return -1;
	if (ih->type != ICMPV6_DEST_UNREACH && ih->type != ICMPV6_PKT_TOOBIG &&
	    ih->type != ICMPV6_TIME_EXCEED)
		return -1; /* neighbour discovery and the rest: the kernel's */
	q = (void *)(ih + 1);
	if ((void *)(q + 1) > p->data_end ||
	    (q->nexthdr != IPPROTO_TCP && q->nexthdr != IPPROTO_UDP))
		return -1;
	l4 = (void *)(q + 1);
	if ((void *)(l4 + 8) > p->data_end)
		return -1;
	/* sent to the quote's source; reversed, the quote is a flow key or a reply key */
	a = (__u32 *)&ip6->daddr, b = (__u32 *)&q->saddr;
	if ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]))
		return -1;
	__builtin_memcpy(k->src, &q->daddr, 16);
	__builtin_memcpy(k->dst, &q->saddr, 16);
	k->sport = *(__be16 *)(l4 + 2);
	k->dport = *(__be16 *)l4;
	k->proto = q->nexthdr;
	k->family = LIMPET_AF_INET6;
	*qp = q;
	*l4p = l4;
	return 0;
}

/* ICMPv6's checksum covers a pseudo-header, so the outer destination's change counts too. */
static __always_inline int icmp6_error(struct xdp_md *ctx, struct pkt *p)
{
	struct icmphdr *ih = p->l4;
	struct ipv6hdr *ip6 = p->ip6, *q;
	struct flow_key k = {}, ck = {};
	struct flow_val *fv;
	int where;
	__be16 *qsport, *qdport;
	__u8 *l4;

	if (icmp_inner6(p, &q, &l4, &k) || !ih || (void *)(ih + 1) > p->data_end)
		return LIMPET_R_PASS_L4_OTHER;
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	qsport = (__be16 *)l4;
	qdport = (__be16 *)(l4 + 2);
	fv = flow_find(&k, &where);
	if (icmp_flow_dsr(&k, fv))
		return ICMP_GO_DSR;
	if (fv) {
		struct backend *be = backend_get(fv->backend_id, fv->vip_id);
		__be16 np;
		__u32 old[4];

		if (!be)
			return LIMPET_R_PASS_L4_OTHER;
		np = be->port ? be->port : *qsport;
		/* the quoted source and the outer destination both become the backend */
		__builtin_memcpy(old, &q->saddr, 16);
		csum_replace_words(&ih->checksum, old, be->addr, 4);
		__builtin_memcpy(&q->saddr, be->addr, 16);
		csum_replace_words(&ih->checksum, old, be->addr, 4); /* pseudo-header: outer dst */
		__builtin_memcpy(&ip6->daddr, be->addr, 16);
		csum_replace16(&ih->checksum, *qsport, np);
		*qsport = np;
		if (fv->sp.state == LIMPET_SP_ESTABLISHED && k.proto == IPPROTO_TCP &&
		    (void *)(l4 + 8) <= p->data_end) {
			__u32 o, n;

			__builtin_memcpy(&o, l4 + 4, 4);
			n = bpf_htonl(bpf_ntohl(o) - fv->sp.delta);
			csum_replace_words(&ih->checksum, &o, &n, 1);
			__builtin_memcpy(l4 + 4, &n, 4);
		}
		event_count(LIMPET_EV_ICMP_FWD);
		return fwd_packet(ctx, p, NULL, 0);
	}
	if (flow_reply_key(&k, &ck) == FLOW_NONE)
		return LIMPET_R_PASS_L4_OTHER;
	{
		__u32 old[4];

		__builtin_memcpy(old, &q->daddr, 16);
		csum_replace_words(&ih->checksum, old, ck.dst, 4);
		__builtin_memcpy(&q->daddr, ck.dst, 16);
		csum_replace16(&ih->checksum, *qdport, ck.dport);
		*qdport = ck.dport;
	}
	event_count(LIMPET_EV_ICMP_FWD);
	return fwd_packet(ctx, p, NULL, 0);
}

/* The DSR program's step for an error about a DSR connection (ICMP_GO_DSR): its key again from
 * the quote, and its backend in t — its flow's, or with no flow here the table's (ip-hash,
 * five-tuple) — so the error goes there untouched: its stack sent the quoted packet as the
 * VIP. 0 or a reason.
 */
static __noinline int icmp_dsr_to(struct pkt *p, struct dsr_to *t)
{
	struct icmp_inner in = {};
	struct flow_key k = {};
	struct vip_meta *vip;
	struct flow_val *fv;
	struct backend *be;
	struct ipv6hdr *q;
	__u8 *l4;
	int where;

	if (p->ip4 ? icmp_key4(p, &in, &k) : icmp_inner6(p, &q, &l4, &k))
		return LIMPET_R_PASS_L4_OTHER;
	fv = flow_find(&k, &where);
	vip = vip_lookup(&k, k.dport);
	if (!vip || vip->mode == LIMPET_MODE_NAT || (fv && vip->vip_id != fv->vip_id))
		return LIMPET_R_PASS_L4_OTHER;
	/* no flow here: the backend the table gives the connection, as on the host that has it */
	be = fv ? backend_get(fv->backend_id, fv->vip_id) : table_pick(&k, vip);
	if (!be)
		return LIMPET_R_PASS_L4_OTHER;
	event_count(LIMPET_EV_ICMP_FWD);
	__builtin_memcpy(t->addr, be->addr, 16);
	t->vip_id = vip->vip_id;
	t->mode = vip->mode;
	t->family = be->family;
	return 0;
}

#endif
