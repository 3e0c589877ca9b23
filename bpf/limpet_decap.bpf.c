// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet's backend-side decapsulator (docs/design.md §4.4): parse → unwrap or hand on → count. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <limpet/decap.h>
#include "lib/neigh.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LIMPET_DECAP_MAX_VIPS);
	__type(key, struct decap_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_DECAP_VIPS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_DECAP_REASONS_CAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_DECAP_REASONS SEC(".maps");

/* An encapsulated packet as limpet sends it: outer header(s), then the client's datagram. */
struct encap {
	void *inner;      /* the client's IP header */
	int v6;           /* the outer headers' family */
	int inner_v6;     /* the client's (IPv4 in IPv6: 0 under v6) */
	int n_hdrs;       /* 1, or 2 with a second-chance header */
	__u32 hsize;      /* one outer header's size */
	__u32 second[4];  /* n_hdrs 2: the previous owner */
};

/* Outer header at l3: IPIP (no options, not a fragment), or IPv6 (no extension headers) over
 * IPv6 or IPv4; its length within room (the bytes from l3 to the packet's end; end bounds what
 * can be read), and what it carries. 0: one of limpet's; else a reason.
 */
static __always_inline int outer_ok(void *l3, void *end, __u32 room, int v6, __u32 *len,
				    int *next_v6)
{
	if (!v6) {
		struct iphdr *h = l3;

		if ((void *)(h + 1) > end)
			return LIMPET_DECAP_PASS_BAD;
		if (h->version != 4 || h->ihl != 5 || h->protocol != IPPROTO_IPIP ||
		    (h->frag_off & bpf_htons(0x3fff)))
			return LIMPET_DECAP_PASS_OTHER;
		*len = bpf_ntohs(h->tot_len);
		*next_v6 = 0;
	} else {
		struct ipv6hdr *h = l3;

		if ((void *)(h + 1) > end)
			return LIMPET_DECAP_PASS_BAD;
		if (h->version != 6 || (h->nexthdr != IPPROTO_IPV6 && h->nexthdr != IPPROTO_IPIP))
			return LIMPET_DECAP_PASS_OTHER;
		*len = bpf_ntohs(h->payload_len) + sizeof(*h);
		*next_v6 = h->nexthdr == IPPROTO_IPV6;
	}
	return *len > room ? LIMPET_DECAP_PASS_BAD : 0;
}

/* The client's datagram behind one or two outer headers at l3 (room: as outer_ok), and whether
 * it is for a VIP here.
 */
static __always_inline int encap_parse(void *l3, void *end, __u32 room, int v6, struct encap *e)
{
	__u32 len, ilen;
	int r = outer_ok(l3, end, room, v6, &len, &e->inner_v6), next_v6;
	struct decap_key k = {};

	if (r)
		return r;
	e->v6 = v6;
	e->hsize = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	if (len < e->hsize)
		return LIMPET_DECAP_PASS_BAD;
	e->n_hdrs = 1;
	e->inner = l3 + e->hsize;
	/* a second outer header (of the same family), toward the previous owner: second chance */
	if (e->inner_v6 == v6 && !outer_ok(e->inner, end, len - e->hsize, v6, &ilen, &next_v6)) {
		if (ilen + e->hsize != len)
			return LIMPET_DECAP_PASS_BAD;
		if (v6)
			__builtin_memcpy(e->second, &((struct ipv6hdr *)e->inner)->daddr, 16);
		else
			e->second[0] = ((struct iphdr *)e->inner)->daddr;
		e->n_hdrs = 2;
		e->inner += e->hsize;
		e->inner_v6 = next_v6;
		len -= e->hsize;
	}
	k.family = e->inner_v6 ? 6 : 4;
	if (e->inner_v6) {
		struct ipv6hdr *h = e->inner;

		if ((void *)(h + 1) > end || h->version != 6 ||
		    bpf_ntohs(h->payload_len) + sizeof(*h) != len - e->hsize)
			return LIMPET_DECAP_PASS_BAD;
		__builtin_memcpy(k.addr, &h->daddr, 16);
	} else {
		struct iphdr *h = e->inner;

		if ((void *)(h + 1) > end || h->version != 4 || h->ihl < 5 ||
		    bpf_ntohs(h->tot_len) != len - e->hsize)
			return LIMPET_DECAP_PASS_BAD;
		k.addr[0] = h->daddr;
	}
	return bpf_map_lookup_elem(&MAP_NAME_DECAP_VIPS, &k) ? 0 : LIMPET_DECAP_PASS_NOT_VIP;
}

/* Second chance: is the client's TCP segment one this host has no connection for — not a SYN,
 * and no socket but at most a listener? Then it belongs to the previous owner.
 */
static __always_inline int not_mine(void *ctx, const struct encap *e, void *end)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	struct tcphdr *th;
	__u32 tlen;
	int state;

	if (e->inner_v6) {
		struct ipv6hdr *h = e->inner;

		if ((void *)(h + 1) > end || h->nexthdr != IPPROTO_TCP)
			return 0;
		th = (void *)(h + 1);
		__builtin_memcpy(t.ipv6.saddr, &h->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &h->daddr, 16);
		tlen = sizeof(t.ipv6);
	} else {
		struct iphdr *h = e->inner;

		if ((void *)(h + 1) > end || h->protocol != IPPROTO_TCP || h->ihl != 5 ||
		    (h->frag_off & bpf_htons(0x3fff)))
			return 0;
		th = (void *)(h + 1);
		t.ipv4.saddr = h->saddr;
		t.ipv4.daddr = h->daddr;
		tlen = sizeof(t.ipv4);
	}
	if ((void *)(th + 1) > end || th->syn)
		return 0;
	if (e->inner_v6) {
		t.ipv6.sport = th->source;
		t.ipv6.dport = th->dest;
	} else {
		t.ipv4.sport = th->source;
		t.ipv4.dport = th->dest;
	}
	sk = bpf_sk_lookup_tcp(ctx, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 1;
	state = sk->state;
	bpf_sk_release(sk);
	return state == BPF_TCP_LISTEN;
}

/* Strip n outer header bytes (moving the Ethernet header up, its type now v6's). 0 or -1. */
static __always_inline int strip(struct xdp_md *ctx, __u32 n, int v6)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr eth;

	if (data + sizeof(eth) > end)
		return -1;
	__builtin_memcpy(&eth, data, sizeof(eth));
	eth.h_proto = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (bpf_xdp_adjust_head(ctx, (int)n))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + sizeof(eth) > end)
		return -1;
	__builtin_memcpy(data, &eth, sizeof(eth));
	return 0;
}

/* Hand the inner packet, still inside the second header, on to the previous owner: out the
 * same device when the FIB says so (forwarding on), else by the TC step (lib/neigh.h), the
 * kernel routing it and resolving the neighbour: backends rarely have each other's, and need
 * not forward.
 */
static __always_inline int hand_on(struct xdp_md *ctx, const struct encap *e)
{
	struct bpf_fib_lookup fib = { .ifindex = ctx->ingress_ifindex };
	void *data, *end;
	struct ethhdr *eth;
	int rc;

	if (strip(ctx, e->hsize, e->v6))
		return LIMPET_DECAP_DROP;
	fib.family = e->v6 ? AF_INET6 : AF_INET;
	fib.l4_protocol = e->inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	if (e->v6)
		__builtin_memcpy(fib.ipv6_dst, e->second, 16);
	else
		fib.ipv4_dst = e->second[0];
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || fib.ifindex != ctx->ingress_ifindex ||
	    (void *)(eth + 1) > end)
		return neigh_mark(ctx, ctx->ingress_ifindex, 0, NULL) ? LIMPET_DECAP_DROP :
									LIMPET_DECAP_SECOND_STACK;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return LIMPET_DECAP_SECOND_TX;
}

/* The frame at data (len bytes in all, end bounding what can be read): 0 and e filled for one
 * of limpet's to a VIP here, else the reason to leave it.
 */
static __always_inline int frame_parse(void *data, void *end, __u32 len, struct encap *e)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end || len < sizeof(*eth))
		return LIMPET_DECAP_PASS_BAD;
	if (eth->h_proto != bpf_htons(ETH_P_IP) && eth->h_proto != bpf_htons(ETH_P_IPV6))
		return LIMPET_DECAP_PASS_OTHER;
	return encap_parse(eth + 1, end, len - sizeof(*eth), eth->h_proto == bpf_htons(ETH_P_IPV6), e);
}

static __always_inline void count(int r)
{
	__u32 k = r;
	__u64 *c = bpf_map_lookup_elem(&MAP_NAME_DECAP_REASONS, &k);

	if (c)
		(*c)++;
}

static __always_inline int decap_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct encap e = {};
	int r = frame_parse(data, end, bpf_xdp_get_buff_len(ctx), &e);

	if (r)
		return r;
	if (e.n_hdrs == 2 && not_mine(ctx, &e, end))
		return hand_on(ctx, &e);
	return strip(ctx, e.hsize * e.n_hdrs, e.inner_v6) ? LIMPET_DECAP_DROP : LIMPET_DECAP_DELIVER;
}

SEC("xdp")
int LIMPET_DECAP_PROG_NAME(struct xdp_md *ctx)
{
	int r = decap_process(ctx);

	count(r);
	switch (r) {
	case LIMPET_DECAP_SECOND_TX:
		return XDP_TX;
	case LIMPET_DECAP_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

/* The TC step: a hand-on the XDP step marked (second_stack) goes on; only those are counted. */
SEC("tc")
int LIMPET_DECAP_TC_NAME(struct __sk_buff *skb)
{
	if (!neigh_marked(skb))
		return TC_ACT_OK;
	count(LIMPET_DECAP_SECOND_NEIGH);
	return neigh_send(skb);
}

/* bpf_skb_adjust_room's flags that set skb->protocol when a decapsulation changes the family
 * (Linux 6.3; Debian 12's headers predate them).
 */
#define DECAP_L3_IPV4 (1ULL << 7)
#define DECAP_L3_IPV6 (1ULL << 8)
/* What mode tc reads in the linear part: Ethernet, two outer headers, the client's IP and TCP. */
#define TCM_PULL (sizeof(struct ethhdr) + 3 * sizeof(struct ipv6hdr) + sizeof(struct tcphdr))

/* mode tc: n outer header bytes out of the skb (its gso_size and checksum state kept: an
 * IPIP header carries no L4 checksum), the Ethernet type to_v6's. 0 or -1.
 */
static __always_inline int tc_strip(struct __sk_buff *skb, __u32 n, int from_v6, int to_v6)
{
	__u64 fl = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET;
	__be16 proto = bpf_htons(to_v6 ? ETH_P_IPV6 : ETH_P_IP);

	if (from_v6 != to_v6)
		fl |= to_v6 ? DECAP_L3_IPV6 : DECAP_L3_IPV4;
	if (bpf_skb_adjust_room(skb, -(__s32)n, BPF_ADJ_ROOM_MAC, fl))
		return -1;
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0) ?
		       -1 : 0;
}

static __always_inline int decap_tc_process(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct encap e = {};
	int r;

	/* the headers are nearly always in the linear part already; pulling them otherwise (it
	 * also unclones the skb: a copy whenever a tap is open) is for the packets that need it
	 */
	if ((void *)(long)skb->data + (len < TCM_PULL ? len : TCM_PULL) > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, len < TCM_PULL ? len : TCM_PULL); /* short: the parse says so */
	r = frame_parse((void *)(long)skb->data, (void *)(long)skb->data_end, len, &e);
	if (r)
		return r;
	if (e.n_hdrs == 2 && not_mine(skb, &e, (void *)(long)skb->data_end))
		return tc_strip(skb, e.hsize, e.v6, e.v6) ? LIMPET_DECAP_DROP : LIMPET_DECAP_SECOND_NEIGH;
	return tc_strip(skb, e.hsize * e.n_hdrs, e.v6, e.inner_v6) ? LIMPET_DECAP_DROP :
									 LIMPET_DECAP_DELIVER;
}

/* mode tc: the whole decapsulator at TC ingress (for a device whose XDP hook another program
 * holds). A hand-on goes out the device it came in on, the kernel routing the second header's
 * destination and resolving its neighbour (second_neigh).
 */
SEC("tc")
int LIMPET_DECAP_TCM_NAME(struct __sk_buff *skb)
{
	int r = decap_tc_process(skb);

	count(r);
	if (r == LIMPET_DECAP_SECOND_NEIGH)
		return bpf_redirect_neigh(skb->ifindex, NULL, 0, 0);
	return r == LIMPET_DECAP_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
