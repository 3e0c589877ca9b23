// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet's TC ingress program: the delayed-binding steps of token VIPs that change a packet's
 * size, which an skb can do and an XDP frame cannot reliably (docs/design.md §6):
 *  - the client's first data segment (cookie valid): find the token, choose the backend, keep
 *    the segment, and turn the packet into the backend SYN (carrying the data with syn-data);
 *  - the backend's SYN-ACK: turn it into the held first segment (or, when the backend took the
 *    data in its SYN, into the handshake's ACK) and send it back to the backend;
 *  - a backend RST while binding: a RST to the client.
 * XDP passes exactly these packets up (reason to_tc); everything else goes by untouched.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/stats.h"
#include "lib/select.h"
#include "lib/token.h"
#include "lib/tcp.h"
#include "lib/synproxy.h"
#include "lib/flow.h"
#include "lib/neigh.h"

struct tc_pkt {
	__u32 l3off, l4off, th_len, plen;
	__u32 v6;
	union {
		struct iphdr ip;     /* v6 == 0 */
		struct ipv6hdr ip6;  /* v6 == 1; no extension headers */
	};
	struct tcphdr th;
	struct flow_key key;
};

/* The parsed packet lives here, not on the 512-byte stack the binding steps need. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tc_pkt);
} tc_pkts SEC(".maps");

static __always_inline int tc_parse(struct __sk_buff *skb, struct tc_pkt *t)
{
	__be16 proto;

	t->l3off = sizeof(struct ethhdr);
	if (bpf_skb_load_bytes(skb, 12, &proto, 2))
		return -1;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, 16, &proto, 2))
			return -1;
		t->l3off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, t->l3off, &t->ip, 20))
			return -1;
		if (t->ip.version != 4 || t->ip.ihl != 5 || t->ip.protocol != IPPROTO_TCP ||
		    (t->ip.frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			return -1;
		t->l4off = t->l3off + 20;
		t->plen = bpf_ntohs(t->ip.tot_len) - 20; /* L4 length for now */
		t->key.src[0] = t->ip.saddr;
		t->key.dst[0] = t->ip.daddr;
		t->key.family = LIMPET_AF_INET;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, t->l3off, &t->ip6, 40))
			return -1;
		if (t->ip6.version != 6 || t->ip6.nexthdr != IPPROTO_TCP)
			return -1;
		t->v6 = 1;
		t->l4off = t->l3off + 40;
		t->plen = bpf_ntohs(t->ip6.payload_len);
		__builtin_memcpy(t->key.src, &t->ip6.saddr, 16);
		__builtin_memcpy(t->key.dst, &t->ip6.daddr, 16);
		t->key.family = LIMPET_AF_INET6;
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, t->l4off, &t->th, 20))
		return -1;
	t->th_len = t->th.doff * 4;
	if (t->th_len < 20 || t->th_len > 60 || t->plen < t->th_len || t->plen > 0xffff)
		return -1;
	t->plen -= t->th_len;
	t->key.sport = t->th.source;
	t->key.dport = t->th.dest;
	t->key.proto = IPPROTO_TCP;
	return 0;
}

/* Rewrite the packet as the IP header in t (t->ip or t->ip6, addresses already set) + a TCP
 * header hdr[hlen] + plen bytes of payload (0: none).
 */
static __always_inline int tc_rewrite(struct __sk_buff *skb, struct tc_pkt *t, __u8 *hdr,
				      __u32 hlen, const __u8 *payload, __u32 plen)
{
	struct tcphdr *th = (struct tcphdr *)hdr;
	__s32 diff = (__s32)hlen - (__s32)t->th_len;
	__u32 psum = 0;

	if (hlen < 20 || hlen > 60 || plen > LIMPET_PENDING_MAX)
		return -1;
	if (diff && bpf_skb_adjust_room(skb, diff, BPF_ADJ_ROOM_NET, 0))
		return -1;
	if (bpf_skb_change_tail(skb, t->l4off + hlen + plen, 0))
		return -1;
	if (plen) {
		__u64 n = opaque(plen); /* 64-bit: checked and passed in one register */

		if (!n || n > LIMPET_PENDING_MAX ||
		    bpf_skb_store_bytes(skb, t->l4off + hlen, payload, n, 0))
			return -1;
		psum = data_csum(payload, n);
	}
	th->check = 0;
	if (t->v6) {
		t->ip6.payload_len = bpf_htons(hlen + plen);
		th->check = tcp6_csum((__u32 *)&t->ip6.saddr, (__u32 *)&t->ip6.daddr, hdr, hlen,
				      hlen + plen, psum);
		if (bpf_skb_store_bytes(skb, t->l3off, &t->ip6, 40, 0))
			return -1;
	} else {
		t->ip.tot_len = bpf_htons(20 + hlen + plen);
		ip4_csum_set(&t->ip);
		th->check = tcp4_csum(t->ip.saddr, t->ip.daddr, hdr, hlen, hlen + plen, psum);
		if (bpf_skb_store_bytes(skb, t->l3off, &t->ip, 20, 0))
			return -1;
	}
	if (bpf_skb_store_bytes(skb, t->l4off, hdr, hlen & 0x3c, 0))
		return -1;
	return 0;
}

/* The packet becomes the backend SYN: the client's ISN and options, to the backend. */
static __noinline int bind_syn(struct __sk_buff *skb, struct tc_pkt *t, const struct backend *be,
			       const struct splice *sp, const struct pending *pd)
{
	int syn_data = !!(sp->opts & LIMPET_SP_SYN_DATA);
	__u8 hdr[64] = {};
	struct tcphdr *th = (struct tcphdr *)hdr;
	struct tcp_opts o = {};
	__u32 hlen;

	th->source = t->th.source;
	th->dest = be->port ? be->port : t->th.dest;
	th->seq = bpf_htonl(sp->c_isn);
	th->syn = 1;
	th->window = bpf_htons(sp->ws_c != 0xff ? 65535 : pd->win);
	o.mss = sp->mss;
	o.sack = !!(sp->opts & LIMPET_SP_OPT_SACK);
	o.ts = !!(sp->opts & LIMPET_SP_OPT_TS);
	o.tsval = pd->tsval;
	o.ws = sp->ws_c;
	hlen = tcp_opts_write(hdr, &o, syn_data, 0);
	th->doff = hlen / 4;
	if (t->v6)
		__builtin_memcpy(&t->ip6.daddr, be->addr, 16);
	else
		t->ip.daddr = be->addr[0];
	if (tc_rewrite(skb, t, hdr, hlen, pd->data, syn_data ? pd->len : 0))
		return LIMPET_TC_DROP_REWRITE;
	return LIMPET_TC_BIND_SYN; /* the kernel routes it to the backend, resolves the neighbour */
}

/* The client's options, recovered from the first segment's TSecr (our SYN-ACK's TSval). */
static __noinline int bind_parse(struct __sk_buff *skb, struct tc_pkt *t, __u32 vip_flags,
				 struct splice *sp, struct pending *sc)
{
	struct opt_walk w = {};
	__u32 len = t->th_len;

	if (len < 20 || len > 60) /* checked by tc_parse; again for the verifier */
		return -1;
	w.len = len;
	if (bpf_skb_load_bytes(skb, t->l4off, w.hdr, len))
		return -1;
	opt_walk_run(&w, OPT_PARSE);
	sp->state = LIMPET_SP_BINDING;
	sp->c_isn = bpf_ntohl(t->th.seq) - 1;
	sp->lb_isn = bpf_ntohl(t->th.ack_seq) - 1;
	sp->ws_c = sp->ws_lb = 0xff;
	sp->mss = 536; /* without timestamps the client's MSS is not recoverable: be safe */
	sp->opts = vip_flags & LIMPET_VIP_F_SYN_DATA ? LIMPET_SP_SYN_DATA : 0;
	if (w.o.ts) {
		struct tcp_opts d = {};

		synproxy_ts_decode(w.o.tsecr, &d);
		sp->mss = d.mss;
		sp->opts |= LIMPET_SP_OPT_TS | (d.sack ? LIMPET_SP_OPT_SACK : 0);
		if (d.ws != 0xff) {
			sp->opts |= LIMPET_SP_OPT_WS;
			sp->ws_c = d.ws;
			sp->ws_lb = LIMPET_WS_LB;
		}
	}
	sc->tsval = w.o.tsval;
	sc->win = bpf_ntohs(t->th.window);
	return 0;
}

struct bind_args {
	__u32 id;
	__u32 has_tok;
	struct token_hash tok;
	struct splice sp;
};

/* The binding flow (half-open until the backend answers; its replies find it through the
 * reverse map), and the held first segment.
 */
static __noinline int bind_state(struct tc_pkt *t, const struct vip_meta *vip,
				 const struct bind_args *a)
{
	struct flow_val nf = { .backend_id = a->id, .vip_id = vip->vip_id,
			       .last_seen = bpf_ktime_get_coarse_ns(), .sp = a->sp };
	__u32 zero = 0;
	struct pending *sc = bpf_map_lookup_elem(&MAP_NAME_SCRATCH, &zero);

	if (!sc)
		return -1;
	if (a->has_tok) {
		nf.tok_h1 = a->tok.h1;
		nf.tok_h2 = a->tok.h2;
	}
	if (bpf_map_update_elem(&MAP_NAME_PENDING, &t->key, sc, BPF_ANY) ||
	    bpf_map_update_elem(&MAP_NAME_HALFOPEN, &t->key, &nf, BPF_ANY))
		return -1;
	return 0;
}

/* 1 when the first segment is one the backend's kernel would accept as it came: its IPv4
 * header checksum and its TCP checksum over the pseudo-header, header and payload (psum: the
 * held payload's sum). Rebuilt into the backend SYN, a corrupt one would get a valid checksum.
 */
static __noinline int tc_seg_valid(struct __sk_buff *skb, const struct tc_pkt *t, __u32 psum)
{
	struct opt_walk w = {};
	__u32 len = t->th_len;
	__s64 sum;

	if (len < 20 || len > 60 || bpf_skb_load_bytes(skb, t->l4off, w.hdr, len))
		return 0;
	if (t->v6)
		return !tcp6_csum((__u32 *)&t->ip6.saddr, (__u32 *)&t->ip6.daddr, w.hdr, len,
				  len + t->plen, psum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&t->ip, sizeof(t->ip), 0);
	return !csum_fold32((__u32)sum) &&
	       !tcp4_csum(t->ip.saddr, t->ip.daddr, w.hdr, len, len + t->plen, psum);
}

static __noinline int tc_client(struct __sk_buff *skb, struct tc_pkt *t, struct vip_meta *vip)
{
	int where;
	struct flow_val *fv = flow_find(&t->key, &where);
	struct token_spec *ts;
	struct pending *sc;
	struct backend *be = NULL;
	struct bind_args a = {};
	__u32 zero = 0;
	__u64 plen = t->plen;

	if (!plen || plen > LIMPET_PENDING_MAX)
		return LIMPET_TC_DROP_NO_STATE; /* no first segment limpet could hold */
	if (fv && fv->vip_id == vip->vip_id && fv->sp.state == LIMPET_SP_BINDING) {
		/* the first segment again: the backend has not answered; send the SYN again */
		struct pending *pd = bpf_map_lookup_elem(&MAP_NAME_PENDING, &t->key);

		be = backend_get(fv->backend_id, vip->vip_id);
		if (!pd || !be)
			return LIMPET_TC_DROP_NO_STATE;
		event_count(LIMPET_EV_SYN_RETRY);
		return bind_syn(skb, t, be, &fv->sp, pd);
	}
	if (fv && fv->sp.state == LIMPET_SP_ESTABLISHED)
		return LIMPET_TC_DROP_SPLICED; /* XDP's to translate; not ours to answer */
	if (!t->th.ack || t->th.syn || t->th.rst)
		return LIMPET_TC_DROP_NO_STATE;
	{
		struct tcphdr thc = t->th;
		long bad;

		if (t->v6) {
			struct ipv6hdr ipc = t->ip6;

			bad = bpf_tcp_raw_check_syncookie_ipv6(&ipc, &thc);
		} else {
			struct iphdr ipc = t->ip;

			bad = bpf_tcp_raw_check_syncookie_ipv4(&ipc, &thc);
		}
		if (bad) {
			event_count(LIMPET_EV_COOKIE_BAD);
			return LIMPET_TC_DROP_COOKIE;
		}
	}
	event_count(LIMPET_EV_COOKIE_OK);
	sc = bpf_map_lookup_elem(&MAP_NAME_SCRATCH, &zero);
	if (!sc || bind_parse(skb, t, vip->flags, &a.sp, sc))
		return LIMPET_TC_DROP_REWRITE;
	sc->len = plen;
	plen = opaque(plen);
	if (!plen || plen > LIMPET_PENDING_MAX ||
	    bpf_skb_load_bytes(skb, t->l4off + t->th_len, sc->data, plen))
		return LIMPET_TC_DROP_REWRITE;
	sc->data[plen] = sc->data[plen + 1] = sc->data[plen + 2] = sc->data[plen + 3] = 0;
	if (!tc_seg_valid(skb, t, data_csum(sc->data, plen)))
		return LIMPET_TC_DROP_BAD_CSUM;

	ts = token_spec_get(vip->vip_id);
	a.has_tok = ts && !token_http(plen, ts, &a.tok);
	event_count(a.has_tok ? LIMPET_EV_TOKEN_FOUND : LIMPET_EV_TOKEN_MISSING);

	if (backend_select(&t->key, vip, &a.id, &be, a.has_tok ? &a.tok : NULL, 1) || !be)
		return LIMPET_TC_DROP_NO_BACKEND;
	if (bind_state(t, vip, &a))
		return LIMPET_TC_DROP_REWRITE;
	stats_count(vip_stats_get(vip->vip_id), skb->len, 1);
	stats_count(backend_stats_get(a.id), skb->len, 1);
	event_count(LIMPET_EV_BIND_STARTED);
	return bind_syn(skb, t, be, &a.sp, sc);
}

static __always_inline void swap_macs(struct __sk_buff *skb)
{
	__u8 mac[12], sw[12];

	if (bpf_skb_load_bytes(skb, 0, mac, 12))
		return;
	__builtin_memcpy(sw, mac + 6, 6);
	__builtin_memcpy(sw + 6, mac, 6);
	bpf_skb_store_bytes(skb, 0, sw, 12, 0);
}

/* A backend's packet on a spliced flow (ck: the client's key, from flow_reply_key); a plain NAT
 * flow's packets are XDP's alone.
 */
static __noinline int tc_backend(struct __sk_buff *skb, struct tc_pkt *t, const struct flow_key *ck)
{
	struct flow_val *fv;
	struct pending *pd;
	struct opt_walk w = {};
	struct tcphdr *th = (struct tcphdr *)w.hdr;
	struct tcp_opts o = {};
	__u32 b_isn, ack, hlen, plen;
	int acked, where;

	fv = flow_find(ck, &where);
	if (!fv || fv->sp.state == LIMPET_SP_NONE)
		return LIMPET_TC_PASS;
	pd = bpf_map_lookup_elem(&MAP_NAME_PENDING, ck);
	if (!pd) /* no held segment: nothing left to deliver */
		return fv->sp.state == LIMPET_SP_ESTABLISHED ? LIMPET_TC_DROP_SPLICED :
							       LIMPET_TC_DROP_NO_STATE;

	if (t->th.rst) {
		if (fv->sp.state != LIMPET_SP_BINDING)
			return LIMPET_TC_DROP_NO_STATE;
		/* the backend refused: the client hears it at once, from the VIP */
		th->source = ck->dport;
		th->dest = t->th.dest;
		th->seq = bpf_htonl(fv->sp.lb_isn + 1);
		th->ack_seq = bpf_htonl(fv->sp.c_isn + 1 + pd->len);
		th->rst = 1;
		th->ack = 1;
		th->doff = 5;
		if (t->v6) {
			__builtin_memcpy(&t->ip6.saddr, ck->dst, 16);
			t->ip6.hop_limit = 64;
		} else {
			t->ip.saddr = ck->dst[0];
			t->ip.ttl = 64;
		}
		event_count(LIMPET_EV_BIND_FAILED);
		bpf_map_delete_elem(&MAP_NAME_PENDING, ck);
		flow_forget(ck);
		if (tc_rewrite(skb, t, w.hdr, 20, pd->data, 0))
			return LIMPET_TC_DROP_REWRITE;
		return LIMPET_TC_CLIENT_RST; /* routed to the client by the kernel */
	}
	if (!t->th.syn || !t->th.ack || fv->sp.state != LIMPET_SP_ESTABLISHED)
		return LIMPET_TC_DROP_NO_STATE; /* XDP completes the state on the SYN-ACK */
	b_isn = bpf_ntohl(t->th.seq);
	ack = bpf_ntohl(t->th.ack_seq);
	acked = ack == fv->sp.c_isn + 1 + pd->len; /* the backend took the data in its SYN */
	hlen = t->th_len;
	if (hlen < 20 || hlen > 60)
		return LIMPET_TC_DROP_REWRITE;
	w.len = hlen;
	if (bpf_skb_load_bytes(skb, t->l4off, w.hdr, hlen))
		return LIMPET_TC_DROP_REWRITE;
	opt_walk_run(&w, OPT_PARSE);

	/* the held first segment (or the ACK, if the backend has the data) back to the backend */
	__builtin_memset(w.hdr, 0, sizeof(w.hdr));
	plen = acked ? 0 : pd->len;
	th->source = t->th.dest;
	th->dest = t->th.source;
	th->seq = bpf_htonl(fv->sp.c_isn + 1 + (acked ? pd->len : 0));
	th->ack_seq = bpf_htonl(b_isn + 1);
	th->ack = 1;
	th->psh = !!plen;
	th->window = bpf_htons(pd->win);
	o.ws = 0xff;
	if (fv->sp.opts & LIMPET_SP_OPT_TS) {
		o.ts = 1;
		o.tsval = pd->tsval;
		o.tsecr = w.o.tsval;
		/* NOP NOP TS, as stacks send it */
		w.hdr[20] = w.hdr[21] = TCPOPT_NOP;
		w.hdr[22] = TCPOPT_TS;
		w.hdr[23] = 10;
		put32(w.hdr, 24, o.tsval);
		put32(w.hdr, 28, o.tsecr);
		hlen = 32;
	} else {
		hlen = 20;
	}
	th->doff = hlen / 4;
	if (t->v6) {
		__u32 a6[4];

		__builtin_memcpy(a6, &t->ip6.saddr, 16);
		__builtin_memcpy(&t->ip6.saddr, &t->ip6.daddr, 16);
		__builtin_memcpy(&t->ip6.daddr, a6, 16);
		t->ip6.hop_limit = 64;
	} else {
		__be32 a4 = t->ip.saddr;

		t->ip.saddr = t->ip.daddr;
		t->ip.daddr = a4;
		t->ip.ttl = 64;
	}
	if (tc_rewrite(skb, t, w.hdr, hlen, pd->data, plen))
		return LIMPET_TC_DROP_REWRITE;
	swap_macs(skb);
	bpf_map_delete_elem(&MAP_NAME_PENDING, ck);
	event_count(LIMPET_EV_BIND_DONE);
	return LIMPET_TC_DELIVER; /* back out the device it came in on */
}

static __always_inline int tc_process(struct __sk_buff *skb, struct tc_pkt *t)
{
	struct flow_key ck = {};
	struct vip_meta *vip;

	if (tc_parse(skb, t))
		return LIMPET_TC_PASS;
	vip = vip_lookup(&t->key, t->key.dport);
	if (vip)
		return vip->policy == LIMPET_POLICY_TOKEN ? tc_client(skb, t, vip) : LIMPET_TC_PASS;
	if (flow_reply_key(&t->key, &ck) == FLOW_NONE)
		return LIMPET_TC_PASS;
	/* a binding step (the SYN-ACK XDP just completed, or a RST); never let a spliced flow's
	 * packet out untranslated
	 */
	return tc_backend(skb, t, &ck);
}

/* The one place a TC reason becomes a verdict. */
static __always_inline int tc_action(struct __sk_buff *skb, int r)
{
	switch (r) {
	case LIMPET_TC_PASS:
	case LIMPET_TC_BIND_SYN:
	case LIMPET_TC_CLIENT_RST:
		return TC_ACT_OK;
	case LIMPET_TC_DELIVER:
		return bpf_redirect(skb->ifindex, 0);
	case LIMPET_TC_NEIGH:
		return neigh_send(skb);
	default:
		return TC_ACT_SHOT;
	}
}

SEC("tc")
int LIMPET_TC_PROG_NAME(struct __sk_buff *skb)
{
	struct tc_pkt *t;
	__u32 zero = 0;
	int r = LIMPET_TC_PASS;

	t = bpf_map_lookup_elem(&tc_pkts, &zero);
	if (neigh_marked(skb)) {
		r = LIMPET_TC_NEIGH; /* a frame XDP could not address (fwd_stack) */
	} else if (t) {
		__builtin_memset(t, 0, sizeof(*t));
		r = tc_process(skb, t);
	}
	tc_reason_count(r);
	return tc_action(skb, r);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
