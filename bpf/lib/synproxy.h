/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* SYNs to a token VIP are answered from XDP with a kernel SYN cookie, keeping no state
 * (docs/design.md §6.1). The client's MSS class, SACK and window scale ride in the low bits of our
 * TSval, which the client echoes in its first data segment.
 */
#ifndef LIMPET_BPF_SYNPROXY_H
#define LIMPET_BPF_SYNPROXY_H

#include "parse.h"
#include "tcp.h"
#include "reply.h"

/* MSS classes a SYN-ACK's TSval can carry (as the kernel's SYN cookies use) */
static __always_inline __u16 synproxy_mss(__u32 idx)
{
	switch (idx & 3) {
	case 3:
		return 1460;
	case 2:
		return 1440;
	case 1:
		return 1300;
	default:
		return 536;
	}
}

static __always_inline __u32 synproxy_ts_encode(const struct tcp_opts *o, __u64 now_ns)
{
	__u32 ms = now_ns / 1000000, idx = 0;

	if (o->mss >= 1300)
		idx = 1;
	if (o->mss >= 1440)
		idx = 2;
	if (o->mss >= 1460)
		idx = 3;
	return (ms & ~LIMPET_TS_BITS) | idx << 5 | (o->sack ? 1 : 0) << 4 |
	       (o->ws == 0xff ? 0xf : o->ws & 0xf);
}

/* The options the client offered, from the TSecr of its first data segment. */
static __always_inline void synproxy_ts_decode(__u32 tsecr, struct tcp_opts *o)
{
	o->mss = synproxy_mss(tsecr >> 5);
	o->sack = (tsecr >> 4) & 1;
	o->ws = (tsecr & 0xf) == 0xf ? 0xff : tsecr & 0xf;
}

/* A SYN worth a cookie is one the kernel would accept. The parse has held its lengths to the
 * datagram (docs/design.md §4.2); what is left: the IPv4 header checksum and the TCP checksum
 * over the pseudo-header and the whole segment. hdr: the TCP header (th_len bytes) at off. 0,
 * or the reason to drop it.
 */
static __always_inline int synproxy_syn_valid(struct xdp_md *ctx, const struct pkt *p, const int v6,
					      const __u8 *hdr, __u32 th_len, __u32 off)
{
	__u32 l4len = p->l4_len, plen = l4len - th_len, zero = 0, psum = 0;
	struct pending *sc;

	if (!v6 && (!p->ip4 || (void *)(p->ip4 + 1) > p->data_end ||
		    csum_fold32((__u32)bpf_csum_diff(NULL, 0, (__be32 *)p->ip4, sizeof(*p->ip4), 0))))
		return LIMPET_R_DROP_BAD_SYN;
	if (v6 && !p->ip6)
		return LIMPET_R_DROP_BAD_SYN;
	if (plen) {
		/* data in the SYN (Fast Open): summed from a per-CPU copy, zero-padded */
		sc = bpf_map_lookup_elem(&MAP_NAME_SCRATCH, &zero);
		if (!sc || plen > LIMPET_PENDING_MAX)
			return LIMPET_R_DROP_BAD_SYN;
		plen = opaque(plen);
		if (!plen || plen > LIMPET_PENDING_MAX ||
		    bpf_xdp_load_bytes(ctx, off + th_len, sc->data, plen))
			return LIMPET_R_DROP_BAD_SYN;
		sc->data[plen] = sc->data[plen + 1] = sc->data[plen + 2] = sc->data[plen + 3] = 0;
		psum = data_csum(sc->data, plen);
	}
	/* the segment's own checksum included: a valid one sums to 0xffff, which folds to 0 */
	if (!v6 ? tcp4_csum(p->ip4->saddr, p->ip4->daddr, hdr, th_len, l4len, psum) :
		  tcp6_csum((__u32 *)&p->ip6->saddr, (__u32 *)&p->ip6->daddr, hdr, th_len, l4len,
			    psum))
		return LIMPET_R_DROP_BAD_SYN;
	return 0;
}

/* Turn the SYN in place into our SYN-ACK, IPv4 or IPv6 (no extension headers). v6 is a
 * constant: each family is its own program (limpet_synproxy4/6, tail calls), so the verifier
 * never walks one family's branches with the other's state.
 */
static __always_inline int synproxy_synack(struct xdp_md *ctx, struct pkt *p, const int v6)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;
	struct opt_walk w = {};
	__u8 *out = w.hdr; /* parsed first, then rebuilt as the SYN-ACK's header */
	struct tcphdr *oh = (struct tcphdr *)out;
	struct tcp_opts a = {};
	__u32 th_len, off, mss = v6 ? LIMPET_MSS_LB - 20 : LIMPET_MSS_LB;
	__s64 cookie;

	if (!th || (void *)(th + 1) > p->data_end)
		return LIMPET_R_PASS_BAD_L4;
	th_len = th->doff * 4; /* 20-60 inside the datagram: the parse saw to it */
	off = (void *)th - data;
	if (th_len < 20 || bpf_xdp_load_bytes(ctx, off, w.hdr, th_len))
		return LIMPET_R_PASS_BAD_L4;
	if (!v6 && (!p->ip4 || (p->ip4->ihl & 0xf) != 5))
		return LIMPET_R_PASS_BAD_L3; /* IP options on a SYN: the kernel's to answer */
	if (v6 && (!p->ip6 || p->ip6->nexthdr != IPPROTO_TCP))
		return LIMPET_R_PASS_IPV6_EXT; /* extension headers on a SYN: the kernel's */
	if (synproxy_syn_valid(ctx, p, v6, w.hdr, th_len, off))
		return LIMPET_R_DROP_BAD_SYN;
	if (!v6) {
		struct iphdr ipc;

		if (!p->ip4)
			return LIMPET_R_PASS_BAD_L3;
		__builtin_memcpy(&ipc, p->ip4, sizeof(ipc));
		cookie = bpf_tcp_raw_gen_syncookie_ipv4(&ipc, (struct tcphdr *)w.hdr, th_len);
	} else {
		struct ipv6hdr ipc;

		if (!p->ip6)
			return LIMPET_R_PASS_IPV6_EXT;
		__builtin_memcpy(&ipc, p->ip6, sizeof(ipc));
		cookie = bpf_tcp_raw_gen_syncookie_ipv6(&ipc, (struct tcphdr *)w.hdr, th_len);
	}
	if (cookie < 0)
		return LIMPET_R_DROP_ABSORBED;
	w.len = th_len;
	opt_walk_run(&w, OPT_PARSE);
	__builtin_memset(out, 0, sizeof(w.hdr));

	oh->source = th->dest;
	oh->dest = th->source;
	oh->seq = bpf_htonl((__u32)cookie);
	oh->ack_seq = bpf_htonl(bpf_ntohl(th->seq) + 1);
	oh->doff = th_len / 4;
	oh->syn = 1;
	oh->ack = 1;
	oh->window = bpf_htons(mss); /* one MSS: the client may send its request */
	/* answer only what the client offered, in no more room than it used */
	a.mss = mss;
	a.sack = w.o.sack && w.o.ts;
	a.ts = w.o.ts;
	a.ws = w.o.ts && w.o.ws != 0xff ? LIMPET_WS_LB : 0xff;
	a.tsval = synproxy_ts_encode(&w.o, bpf_ktime_get_ns());
	a.tsecr = w.o.tsval;
	tcp_opts_write(out, &a, 0, th_len);
	/* a SYN carrying data (Fast Open) is answered without it */
	if (reply_in_place(ctx, p, v6, out, th_len, off))
		return LIMPET_R_DROP_ABSORBED;
	return LIMPET_R_SYNACK;
}

#endif
