/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Packet parsing: Ethernet (+ one VLAN tag), IPv4 (options, fragments), IPv6 (extension
 * headers, fragment header), TCP, UDP. The one place that decides which bytes belong to the
 * packet (docs/design.md §4.2): the IP datagram is what its own length says (IPv4 total
 * length, IPv6 payload length), never the frame, whose Ethernet padding is not payload; every
 * header inside it (IHL, extension headers, TCP data offset, UDP length, ICMP's 8 bytes) must
 * end inside it, and p->l4_len says how much of it follows the L4 header's start. Readers and
 * writers after the parse stay within those bounds; anything inconsistent is a pass_bad_*
 * reason, never rewritten.
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
	__u8 pad;
	__u16 l4_len;         /* bytes of the datagram from l4 on (its IP length fields' word) */
	__u32 len;            /* frame length, for byte counters */
};

/* The L4 header at l4, with l4_len bytes of the datagram from there on (its own length fields
 * already checked against the frame): it must end inside the datagram.
 */
static __always_inline int parse_l4(struct pkt *p, void *l4, void *data_end, __u32 l4_len)
{
	p->l4 = l4;
	p->l4_len = l4_len;
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || l4_len < sizeof(*th) || th->doff < 5 ||
		    th->doff * 4 > l4_len)
			return -LIMPET_R_PASS_BAD_L4;
		p->key.sport = th->source;
		p->key.dport = th->dest;
	} else if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		__u32 ulen;

		if ((void *)(uh + 1) > data_end || l4_len < sizeof(*uh))
			return -LIMPET_R_PASS_BAD_L4;
		/* the UDP length is the datagram's; a first fragment holds only part of it */
		ulen = bpf_ntohs(uh->len);
		if (p->frag == PKT_FRAG_FIRST ? ulen <= l4_len : ulen != l4_len)
			return -LIMPET_R_PASS_BAD_L4;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
	} else if ((p->key.proto == IPPROTO_ICMP && p->ip4) ||
		   (p->key.proto == IPPROTO_ICMPV6 && p->ip6)) {
		/* kept for errors about VIP flows (icmp.h); ports stay 0 */
		if (l4 + 8 > data_end || l4_len < 8)
			return -LIMPET_R_PASS_BAD_L4;
	} else {
		return -LIMPET_R_PASS_L4_OTHER;
	}
	return 0;
}

static __always_inline int parse_ipv4(struct pkt *p, void *l3, void *data_end)
{
	struct iphdr *iph = l3;
	__u32 hlen, avail, tot;
	__u16 frag_off;

	if ((void *)(iph + 1) > data_end)
		return -LIMPET_R_PASS_BAD_L3;
	hlen = (iph->ihl & 0xf) * 4;
	avail = data_end - l3;
	tot = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || hlen < sizeof(*iph) || tot < hlen || tot > avail)
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
	return parse_l4(p, l3 + hlen, data_end, tot - hlen);
}

/* 1 when byte a equals b, without a branch: the extension-header walk is unrolled, and a
 * branch in it would multiply the verifier's paths through everything after the parse.
 */
static __always_inline __u32 byte_eq(__u32 a, __u32 b)
{
	__u32 x = (a ^ b) & 0xff;

	asm volatile("" : "+r"(x)); /* keep the compiler from turning it back into a compare */
	return (x - 1) >> 31;
}

/* IPv6 and up to LIMPET_IPV6_EXT_MAX extension headers, all inside the payload length. A
 * Routing header with segments left is another node's to process, and the L4 checksum covers
 * its final destination (RFC 8200 §8.1): such a packet is passed (pass_ipv6_rh).
 */
static __always_inline int parse_ipv6(struct pkt *p, void *l3, void *data_end)
{
	struct ipv6hdr *ip6h = l3;
	void *cur = ip6h + 1;
	__u32 plen, ext, rh = 0;
	__u8 nexthdr;
	int i;

	if (cur > data_end)
		return -LIMPET_R_PASS_BAD_L3;
	plen = bpf_ntohs(ip6h->payload_len);
	if (ip6h->version != 6 || plen + sizeof(*ip6h) > (__u64)(data_end - l3))
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
			__u8 *oh = cur; /* next header, length in 8-byte units - 1, [routing] segments left */

			if ((void *)(oh + 8) > data_end)
				return -LIMPET_R_PASS_BAD_L3;
			rh |= byte_eq(nexthdr, IPPROTO_ROUTING) & ((oh[3] + 0xffu) >> 8);
			nexthdr = oh[0];
			cur += (oh[1] + 1) * 8;
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
				if ((__u64)(cur - (void *)(ip6h + 1)) > plen)
					return -LIMPET_R_PASS_BAD_L3;
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
	ext = cur - (void *)(ip6h + 1);
	if (ext > plen)
		return -LIMPET_R_PASS_BAD_L3; /* extension headers run past the payload */
	if (rh)
		return -LIMPET_R_PASS_IPV6_RH;
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_AH)
		return -LIMPET_R_PASS_IPV6_EXT;
	return parse_l4(p, cur, data_end, plen - ext);
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
