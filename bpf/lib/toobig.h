/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Path MTU discovery through DSR (docs/design.md §4.3): a client's packet that its ipip outer
 * header would push past the path MTU toward the backend is answered, in place, with ICMP
 * "fragmentation needed" (IPv4, DF set) or ICMPv6 "packet too big" from the VIP, naming the MTU
 * that fits once encapsulated, so the client's stack sends smaller packets from then on.
 */
#ifndef LIMPET_BPF_TOOBIG_H
#define LIMPET_BPF_TOOBIG_H

#include "parse.h"
#include "csum.h"

#define TOOBIG_QUOTE4 28 /* the client's IPv4 header (no options) and 8 bytes of its TCP/UDP */
#define TOOBIG_QUOTE6 48 /* its IPv6 header (no extension headers) and 8 bytes */
#define TOOBIG_MIN6 1280 /* IPv6's minimum link MTU: no smaller MTU is ever named */
#define TOOBIG_MIN4 68

/* Sum n 32-bit words at w into c (n a constant: unrolled). */
static __always_inline __u32 toobig_sum(__u32 c, const __u32 *w, const int n)
{
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		c = csum_add32(c, w[i]);
	return c;
}

/* The ICMP (ICMPv6) message after the new IP header at ip, its quote already behind it: type,
 * code, checksum (IPv6: with its pseudo-header), the MTU. Written and summed as whole words, so
 * no store of one type is read back as another.
 */
static __always_inline void toobig_icmp(void *ip, int v6, __u32 mtu)
{
	__u32 *m = ip + (v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)), w0, w1, c;

	if (!v6) {
		w0 = bpf_htonl(3 << 24 | 4 << 16); /* destination unreachable, fragmentation needed */
		w1 = bpf_htonl(mtu & 0xffff);
		c = toobig_sum(csum_add32(w0, w1), m + 2, TOOBIG_QUOTE4 / 4);
	} else {
		w0 = bpf_htonl(2 << 24); /* packet too big */
		w1 = bpf_htonl(mtu);
		c = toobig_sum(csum_add32(w0, w1), (__u32 *)ip + 2, 8); /* the addresses */
		c = csum_add32(c, bpf_htonl(8 + TOOBIG_QUOTE6));
		c = csum_add32(c, bpf_htonl(IPPROTO_ICMPV6));
		c = toobig_sum(c, m + 2, TOOBIG_QUOTE6 / 4);
	}
	m[0] = csum_with_word(w0, csum_fold32(c));
	m[1] = w1;
}

/* The new IP header at ip (the client's, quoted behind already): from the VIP to the client. */
static __always_inline void toobig_ip(void *ip, int v6, const __u32 *vip, const __u32 *client)
{
	__u32 *h = ip;

	if (!v6) {
		ip4_hdr_put(h, 0, 20 + 8 + TOOBIG_QUOTE4, 0, 64, IPPROTO_ICMP, vip[0], client[0]);
	} else {
		h[0] = bpf_htonl(0x60000000);
		h[1] = bpf_htonl((8 + TOOBIG_QUOTE6) << 16 | IPPROTO_ICMPV6 << 8 | 64);
		__builtin_memcpy(h + 2, vip, 16);
		__builtin_memcpy(h + 6, client, 16);
	}
}

/* p, too big by the FIB's mtu toward the backend once hlen bytes of outer headers are in front,
 * becomes the ICMP error back out the device it came in on: MACs swapped, the frame cut after
 * the quote. tx_too_big, or drop_too_big where no error is due or possible (IPv4 without DF,
 * IP options or IPv6 extension headers, a fragment, an MTU below the protocol's minimum).
 */
static __always_inline int toobig_reply(struct xdp_md *ctx, struct pkt *p, __u32 mtu, __u32 hlen)
{
	int v6 = !p->ip4, quote = v6 ? TOOBIG_QUOTE6 : TOOBIG_QUOTE4;
	__u32 client[4] = {}, vip[4] = {}, keep, frame, l2;
	__u8 *ip = p->ip4 ? (void *)p->ip4 : (void *)p->ip6, mac[ETH_ALEN];

	if (!ip || p->frag != PKT_NOT_FRAG || mtu < hlen ||
	    (p->key.proto != IPPROTO_TCP && p->key.proto != IPPROTO_UDP))
		return LIMPET_R_DROP_TOO_BIG; /* never an ICMP error about an ICMP error */
	mtu -= hlen;
	if (!v6 ? !(p->ip4->frag_off & bpf_htons(0x4000)) || p->ip4->ihl != 5 || mtu < TOOBIG_MIN4 :
		  p->l4 != (void *)(p->ip6 + 1) || mtu < TOOBIG_MIN6)
		return LIMPET_R_DROP_TOO_BIG;
	if ((void *)(ip + 2 * TOOBIG_QUOTE6) > p->data_end)
		return LIMPET_R_DROP_TOO_BIG; /* a packet too big is bigger than this */
	__builtin_memcpy(client, p->key.src, 16);
	__builtin_memcpy(vip, p->key.dst, 16);
	if (v6)
		__builtin_memcpy(ip + TOOBIG_QUOTE6, ip, TOOBIG_QUOTE6); /* adjacent, no overlap */
	else
		__builtin_memcpy(ip + TOOBIG_QUOTE4, ip, TOOBIG_QUOTE4);
	toobig_ip(ip, v6, vip, client);
	toobig_icmp(ip, v6, mtu);
	__builtin_memcpy(mac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, mac, ETH_ALEN);
	l2 = ip - (__u8 *)p->eth;
	keep = l2 + 2 * quote;
	frame = p->len;
	if (frame > keep && bpf_xdp_adjust_tail(ctx, -(int)(frame - keep)))
		return LIMPET_R_DROP_TOO_BIG;
	return LIMPET_R_TX_TOO_BIG;
}

/* The same for the packet at ctx, parsed again: a global function, so the verifier walks it
 * once on its own instead of once for every way the DSR program reaches it. A reason.
 */
__noinline int limpet_toobig(struct xdp_md *ctx, __u32 mtu, __u32 hlen)
{
	struct pkt p = {};

	if (!ctx || parse_packet(ctx, &p) < 0)
		return LIMPET_R_DROP_TOO_BIG;
	return toobig_reply(ctx, &p, mtu, hlen);
}

#endif
