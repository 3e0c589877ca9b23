/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Packet parsing: Ethernet (+ one VLAN tag), IPv4 (options, fragments), IPv6 (extension
 * headers, fragment header), TCP, UDP. Every length is checked against data_end and against
 * the IP header's own length fields; anything inconsistent is a reason, never a guess.
 */
#ifndef LIMPET_BPF_PARSE_H
#define LIMPET_BPF_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <limpet/limpet.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define LIMPET_IPV6_EXT_MAX 4

struct vlan_hdr_l {
	__be16 tci;
	__be16 proto;
};

struct frag6_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M */
	__be32 id;
};

enum pkt_frag {
	PKT_NOT_FRAG = 0,
	PKT_FRAG_FIRST, /* carries the L4 header */
	PKT_FRAG_LATER, /* no L4 header */
};

struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip4;    /* one of ip4 / ip6 is set */
	struct ipv6hdr *ip6;
	void *l4;             /* TCP or UDP header, NULL for later fragments */
	void *data_end;
	struct flow_key key;  /* as seen on the wire: src → dst */
	__u32 frag_id;
	__u8 frag;            /* enum pkt_frag */
	__u8 pad[3];
	__u32 len;            /* frame length, for byte counters */
};

static __always_inline int parse_l4(struct pkt *p, void *l4, void *data_end)
{
	p->l4 = l4;
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || th->doff < 5)
			return -LIMPET_R_PASS_BAD_L4;
		p->key.sport = th->source;
		p->key.dport = th->dest;
	} else if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return -LIMPET_R_PASS_BAD_L4;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
	} else if ((p->key.proto == IPPROTO_ICMP && p->ip4) ||
		   (p->key.proto == IPPROTO_ICMPV6 && p->ip6)) {
		/* kept for errors about VIP flows (icmp.h); ports stay 0 */
		if (l4 + 8 > data_end)
			return -LIMPET_R_PASS_BAD_L4;
	} else {
		return -LIMPET_R_PASS_L4_OTHER;
	}
	return 0;
}

static __always_inline int parse_ipv4(struct pkt *p, void *l3, void *data_end)
{
	struct iphdr *iph = l3;
	__u32 hlen, avail;
	__u16 frag_off;

	if ((void *)(iph + 1) > data_end)
		return -LIMPET_R_PASS_BAD_L3;
	hlen = (iph->ihl & 0xf) * 4;
	avail = data_end - l3;
	if (iph->version != 4 || hlen < sizeof(*iph) || bpf_ntohs(iph->tot_len) < hlen ||
	    bpf_ntohs(iph->tot_len) > avail)
		return -LIMPET_R_PASS_BAD_L3;
	p->ip4 = iph;
	p->key.family = LIMPET_AF_INET;
	p->key.proto = iph->protocol;
	p->key.src[0] = iph->saddr;
	p->key.dst[0] = iph->daddr;

	frag_off = bpf_ntohs(iph->frag_off);
	if (frag_off & (IP_MF | IP_OFFSET)) {
		p->frag_id = iph->id;
		if (frag_off & IP_OFFSET) {
			p->frag = PKT_FRAG_LATER;
			return p->key.proto == IPPROTO_TCP || p->key.proto == IPPROTO_UDP ?
				       0 : -LIMPET_R_PASS_L4_OTHER;
		}
		p->frag = PKT_FRAG_FIRST;
	}
	return parse_l4(p, l3 + hlen, data_end);
}

static __always_inline int parse_ipv6(struct pkt *p, void *l3, void *data_end)
{
	struct ipv6hdr *ip6h = l3;
	void *cur = ip6h + 1;
	__u8 nexthdr;
	int i;

	if (cur > data_end)
		return -LIMPET_R_PASS_BAD_L3;
	if (ip6h->version != 6 || bpf_ntohs(ip6h->payload_len) + sizeof(*ip6h) >
					   (__u64)(data_end - l3))
		return -LIMPET_R_PASS_BAD_L3;
	p->ip6 = ip6h;
	p->key.family = LIMPET_AF_INET6;
	__builtin_memcpy(p->key.src, &ip6h->saddr, 16);
	__builtin_memcpy(p->key.dst, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < LIMPET_IPV6_EXT_MAX; i++) {
		if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
		    nexthdr == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *oh = cur;

			if ((void *)(oh + 1) > data_end)
				return -LIMPET_R_PASS_BAD_L3;
			nexthdr = oh->nexthdr;
			cur += (oh->hdrlen + 1) * 8;
		} else if (nexthdr == IPPROTO_FRAGMENT) {
			struct frag6_hdr *fh = cur;
			__u16 off;

			if ((void *)(fh + 1) > data_end)
				return -LIMPET_R_PASS_BAD_L3;
			nexthdr = fh->nexthdr;
			off = bpf_ntohs(fh->frag_off);
			p->frag_id = fh->id;
			cur = fh + 1;
			if (off & 0xfff8) {
				p->key.proto = nexthdr;
				p->frag = PKT_FRAG_LATER;
				return nexthdr == IPPROTO_TCP || nexthdr == IPPROTO_UDP ?
					       0 : -LIMPET_R_PASS_L4_OTHER;
			}
			if (off & 1)
				p->frag = PKT_FRAG_FIRST;
		} else {
			break;
		}
	}
	p->key.proto = nexthdr;
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_AH)
		return -LIMPET_R_PASS_IPV6_EXT;
	return parse_l4(p, cur, data_end);
}

/* Fill p from the frame; returns 0 or -reason. */
static __always_inline int parse_packet(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	p->len = data_end - data;
	p->data_end = data_end;
	if (l3 > data_end)
		return -LIMPET_R_PASS_BAD_L2;
	p->eth = eth;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr_l *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return -LIMPET_R_PASS_BAD_L2;
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(p, l3, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(p, l3, data_end);
	return -LIMPET_R_PASS_NOT_IP;
}

#endif
