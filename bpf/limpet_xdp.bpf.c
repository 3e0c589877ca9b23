// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet's XDP entry: parse → VIP → flow → select → rewrite → forward (DESIGN.md §4). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/select.h"
#include "lib/nat.h"
#include "lib/fwd.h"
#include "lib/token.h"
#include "lib/synproxy.h"
#include "lib/splice.h"
#include "lib/flow.h"
#include "lib/icmp.h"

/* Programs the main one hands packets to: filled by libbpf at load, never pinned, so an upgrade
 * brings its own.
 */
enum { LIMPET_JUMP_SYNPROXY4 = 0, LIMPET_JUMP_SYNPROXY6 = 1 };
int limpet_synproxy4(struct xdp_md *ctx);
int limpet_synproxy6(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(void *));
} limpet_jump SEC(".maps") = {
	.values = { [LIMPET_JUMP_SYNPROXY4] = (void *)&limpet_synproxy4,
		    [LIMPET_JUMP_SYNPROXY6] = (void *)&limpet_synproxy6 },
};

/* Later fragments follow the first one; record where the datagram went. */
static __noinline void frag_record(const struct pkt *p, const __u32 *addr, __u32 dir,
					__u32 vip_id, __u32 backend_id)
{
	struct frag_key fk = {};
	struct frag_val fv = {};

	if (p->frag != PKT_FRAG_FIRST)
		return;
	__builtin_memcpy(fk.src, p->key.src, 16);
	__builtin_memcpy(fk.dst, p->key.dst, 16);
	fk.id = p->frag_id;
	fk.proto = p->key.proto;
	fk.family = p->key.family;
	__builtin_memcpy(fv.addr, addr, 16);
	fv.dir = dir;
	fv.vip_id = vip_id;
	fv.backend_id = backend_id;
	bpf_map_update_elem(&MAP_NAME_FRAGS, &fk, &fv, BPF_ANY);
}

static __noinline int frag_later(struct xdp_md *ctx, struct pkt *p)
{
	struct frag_key fk = {};
	struct frag_val *fv;

	__builtin_memcpy(fk.src, p->key.src, 16);
	__builtin_memcpy(fk.dst, p->key.dst, 16);
	fk.id = p->frag_id;
	fk.proto = p->key.proto;
	fk.family = p->key.family;
	fv = bpf_map_lookup_elem(&MAP_NAME_FRAGS, &fk);
	if (!fv)
		return LIMPET_R_PASS_FRAG;
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	reason_count(LIMPET_R_FRAG_FWD);
	if (fv->dir == LIMPET_FRAG_TO_BACKEND) {
		stats_count(vip_stats_get(fv->vip_id), p->len, 0);
		stats_count(backend_stats_get(fv->backend_id), p->len, 0);
		nat_rewrite(p, fv->addr, 0, NAT_DST);
	} else {
		stats_count_reply(vip_stats_get(fv->vip_id), p->len);
		stats_count_reply(backend_stats_get(fv->backend_id), p->len);
		nat_rewrite(p, fv->addr, 0, NAT_SRC);
	}
	return fwd_packet(ctx, p, NULL, 0);
}

/* The backend's SYN-ACK for a binding flow: complete the state here, so whatever the backend
 * sends right behind it (a Fast Open response) is translated in XDP like any later segment. The
 * TC program then turns this SYN-ACK into the held first segment, or the handshake's ACK.
 */
static __noinline int bind_complete(struct xdp_md *ctx, struct pkt *p, struct rnat_val *rv)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;
	struct flow_key ck = {};
	struct opt_walk w = {};
	struct flow_val *fv;
	struct pending *pd;
	__u32 len, ack, b_isn;

	if (!th || (void *)(th + 1) > p->data_end)
		return LIMPET_R_TO_TC;
	flow_key_of_reply(&ck, &p->key, rv);
	fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &ck);
	pd = bpf_map_lookup_elem(&MAP_NAME_PENDING, &ck);
	if (!fv || !pd || fv->sp.state != LIMPET_SP_BINDING)
		return LIMPET_R_TO_TC; /* TC drops what has no binding */
	ack = bpf_ntohl(th->ack_seq);
	if (ack != fv->sp.c_isn + 1 && ack != fv->sp.c_isn + 1 + pd->len)
		return LIMPET_R_TO_TC;
	b_isn = bpf_ntohl(th->seq);
	len = th->doff * 4;
	if (len < 20 || len > 60 || bpf_xdp_load_bytes(ctx, (void *)th - data, w.hdr, len))
		return LIMPET_R_TO_TC;
	w.len = len;
	opt_walk_run(&w, OPT_PARSE);
	fv->sp.delta = fv->sp.lb_isn - b_isn;
	fv->sp.ws_b = w.o.ws == 0xff ? 0 : w.o.ws;
	if (w.o.ts && (fv->sp.opts & LIMPET_SP_OPT_TS))
		/* the client's clock for us starts past our SYN-ACK's TSval (PAWS) */
		fv->sp.ts_off = w.o.tsval - ((__u32)(bpf_ktime_get_ns() / 1000000) + LIMPET_TS_BITS + 1);
	fv->sp.state = LIMPET_SP_ESTABLISHED;
	rv->sp = fv->sp;
	return LIMPET_R_TO_TC;
}

/* TCP close tracking (LIMPET_FIN_*), client side: FIN or RST marks the flow; a SYN on the tuple
 * is a new connection and opens it again.
 */
static __always_inline void flow_close_track(const struct pkt *p, struct flow_val *fv, __u64 now)
{
	struct tcphdr *th = p->l4;
	__u8 side;

	if (!th || (void *)(th + 1) > p->data_end)
		return;
	if (th->syn && !th->ack) {
		if (fv->sp.fin)
			fv->sp.fin = 0;
		return;
	}
	side = th->rst ? LIMPET_FIN_RST : th->fin ? LIMPET_FIN_CLIENT : 0;
	if (side && !(fv->sp.fin & side)) {
		fv->sp.fin |= side;
		fv->last_seen = now; /* the sweeper counts a closed flow's age from here */
	}
}

/* Backend side: FIN or RST marks the flow (one more lookup, once or twice per connection); a
 * SYN-ACK on the 4-tuple of a closed flow answers some other connection — the client reusing its
 * address and port to reach the backend directly — so the closed flow goes and the packet is the
 * kernel's. 0: translate as usual.
 */
static __noinline int reply_close_track(const struct pkt *p, const struct rnat_val *rv)
{
	struct tcphdr *th = p->l4;
	struct flow_key ck = {};
	struct flow_val *fv;
	__u8 side;

	if (!th || (void *)(th + 1) > p->data_end)
		return 0;
	if (th->syn)
		side = 0;
	else if (th->rst)
		side = LIMPET_FIN_RST;
	else if (th->fin)
		side = LIMPET_FIN_BACKEND;
	else
		return 0;
	flow_key_of_reply(&ck, &p->key, rv);
	fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &ck);
	if (!fv)
		return 0;
	if (!side) {
		if (!limpet_flow_closed(fv->sp.fin))
			return 0;
		/* both ways: a later client SYN to the VIP on this tuple starts afresh */
		bpf_map_delete_elem(&MAP_NAME_FLOWS, &ck);
		bpf_map_delete_elem(&MAP_NAME_RNAT, &p->key);
		return LIMPET_R_PASS_STALE;
	}
	if (!(fv->sp.fin & side)) {
		fv->sp.fin |= side;
		fv->last_seen = bpf_ktime_get_coarse_ns();
	}
	return 0;
}

/* A backend's reply: source back to the VIP. */
static __always_inline int lb_reply(struct xdp_md *ctx, struct pkt *p)
{
	struct rnat_val *rv = bpf_map_lookup_elem(&MAP_NAME_RNAT, &p->key);
	struct tcphdr *th = p->l4;
	int r;

	if (!rv)
		return LIMPET_R_PASS_NOT_VIP;
	if (rv->sp.state == LIMPET_SP_BINDING) {
		if (th && (void *)(th + 1) <= p->data_end && th->syn && th->ack)
			return bind_complete(ctx, p, rv);
		return LIMPET_R_TO_TC; /* RST: a binding step too */
	}
	if (p->key.proto == IPPROTO_TCP && th && (void *)(th + 1) <= p->data_end &&
	    (th->syn | th->fin | th->rst)) {
		r = reply_close_track(p, rv);
		if (r)
			return r;
	}
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	if (rv->sp.state == LIMPET_SP_ESTABLISHED)
		splice_translate(ctx, p, &rv->sp, SPLICE_B2C);
	stats_count_reply(vip_stats_get(rv->vip_id), p->len);
	stats_count_reply(backend_stats_get(rv->backend_id), p->len);
	frag_record(p, rv->vip_addr, LIMPET_FRAG_TO_CLIENT, rv->vip_id, rv->backend_id);
	nat_rewrite(p, rv->vip_addr, rv->vip_port, NAT_SRC);
	return fwd_packet(ctx, p, &rv->nh, bpf_ktime_get_coarse_ns());
}

/* Record the new flow both ways: client → VIP, and the backend's reply → client. */
static __noinline struct flow_val *flow_create(const struct pkt *p, const struct vip_meta *vip,
					       const struct backend *be, __u32 id,
					       const struct token_hash *tok)
{
	struct flow_val fv = { .backend_id = id, .vip_id = vip->vip_id,
			       .last_seen = bpf_ktime_get_coarse_ns() };

	if (tok) {
		fv.tok_h1 = tok->h1;
		fv.tok_h2 = tok->h2;
	}
	struct flow_key rk = {};
	struct rnat_val rv = {};

	bpf_map_update_elem(&MAP_NAME_FLOWS, &p->key, &fv, BPF_ANY);
	limpet_reply_key(&rk, &p->key, be);
	__builtin_memcpy(rv.vip_addr, p->key.dst, 16);
	rv.vip_port = p->key.dport;
	rv.vip_id = vip->vip_id;
	rv.backend_id = id;
	bpf_map_update_elem(&MAP_NAME_RNAT, &rk, &rv, BPF_ANY);
	return bpf_map_lookup_elem(&MAP_NAME_FLOWS, &p->key);
}

/* A TCP token VIP without an established spliced flow: the handshake limpet answers itself, and
 * the first data segment for the TC program (DESIGN.md §6). 0: an established flow, go on.
 */
static __always_inline int lb_token_tcp(struct xdp_md *ctx, struct pkt *p, struct vip_meta *vip,
					struct flow_val *fv)
{
	struct tcphdr *th = p->l4;
	__u32 hlen;

	if (!th || (void *)(th + 1) > p->data_end)
		return LIMPET_R_PASS_BAD_L4;
	if (th->syn && !th->ack) {
		if (th->rst || th->fin)
			return LIMPET_R_DROP_ABSORBED;
		/* a new connection: whatever this 4-tuple carried before is over */
		bpf_map_delete_elem(&MAP_NAME_FLOWS, &p->key);
		event_count(LIMPET_EV_SYNACK_SENT);
		bpf_tail_call(ctx, &limpet_jump,
			      p->ip4 ? LIMPET_JUMP_SYNPROXY4 : LIMPET_JUMP_SYNPROXY6);
		return LIMPET_R_DROP_ABSORBED; /* the jump table is filled at load: not reached */
	}
	if (fv && fv->vip_id == vip->vip_id) {
		if (fv->sp.state == LIMPET_SP_ESTABLISHED)
			return 0;
		if (fv->sp.state == LIMPET_SP_BINDING)
			return LIMPET_R_TO_TC; /* e.g. the first segment again: resend the SYN */
	}
	if (p->ip4) {
		hlen = (p->ip4->ihl & 0xf) * 4 + th->doff * 4;
		if (bpf_ntohs(p->ip4->tot_len) > hlen && !th->rst && !th->syn)
			return LIMPET_R_TO_TC; /* the first data segment */
	} else if (p->ip6) {
		hlen = (__u32)((void *)th - (void *)(p->ip6 + 1)) + th->doff * 4;
		if (bpf_ntohs(p->ip6->payload_len) > hlen && !th->rst && !th->syn)
			return LIMPET_R_TO_TC;
	}
	event_count(LIMPET_EV_ACK_ABSORBED);
	return LIMPET_R_DROP_ABSORBED;
}

static __always_inline int lb_vip(struct xdp_md *ctx, struct pkt *p, struct vip_meta *vip)
{
	struct limpet_stats *vs = vip_stats_get(vip->vip_id);
	__u64 now = bpf_ktime_get_coarse_ns();
	struct backend *be = NULL;
	struct flow_val *fv;
	__u32 id = 0;
	int new_flow = 0;
	__be16 port;
	int r;

	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;

	fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &p->key);
	if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_TCP) {
		r = lb_token_tcp(ctx, p, vip, fv); /* 0: an established spliced flow */
		if (r)
			return r;
	}
	if (fv && fv->vip_id == vip->vip_id) {
		id = fv->backend_id;
		be = backend_get(id, vip->vip_id);
		if (be && now - fv->last_seen > LIMPET_TOUCH_NS) {
			fv->last_seen = now;
			affinity_touch(p, vip, fv, now);
		}
		if (p->key.proto == IPPROTO_TCP)
			flow_close_track(p, fv, now);
	} else {
		fv = NULL;
	}
	if (!be) {
		/* new flow, or its backend was deleted: choose (again) */
		struct token_hash th, *tok = NULL;

		if (fv && fv->sp.state != LIMPET_SP_NONE)
			return LIMPET_R_DROP_BAD_BACKEND; /* a spliced flow: its backend or nothing */

		if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_UDP) {
			struct token_spec *ts = token_spec_get(vip->vip_id);

			if (ts && !token_udp(ctx, p, ts, &th))
				tok = &th;
			event_count(tok ? LIMPET_EV_TOKEN_FOUND : LIMPET_EV_TOKEN_MISSING);
		}
		r = backend_select(&p->key, vip, now, &id, &be, vs, tok);
		if (r)
			return r;
		new_flow = 1;
		fv = flow_create(p, vip, be, id, tok);
	}
	port = be->port ? be->port : p->key.dport;

	stats_count(vs, p->len, new_flow);
	stats_count(backend_stats_get(id), p->len, new_flow);
	if (fv && fv->sp.state == LIMPET_SP_ESTABLISHED)
		splice_translate(ctx, p, &fv->sp, SPLICE_C2B);
	frag_record(p, be->addr, LIMPET_FRAG_TO_BACKEND, vip->vip_id, id);
	nat_rewrite(p, be->addr, port, NAT_DST);
	return fwd_packet(ctx, p, fv ? &fv->nh : NULL, now);
}

static __always_inline int lb_process(struct xdp_md *ctx, struct pkt *p)
{
	struct vip_meta *vip;

	if (p->frag == PKT_FRAG_LATER)
		return frag_later(ctx, p);
	if (p->key.proto == IPPROTO_ICMP)
		return icmp_error(ctx, p);
	if (p->key.proto == IPPROTO_ICMPV6)
		return icmp6_error(ctx, p);
	vip = vip_lookup(&p->key, p->key.dport);
	if (!vip)
		return lb_reply(ctx, p);
	return lb_vip(ctx, p, vip);
}

SEC("xdp")
int LIMPET_PROG_NAME(struct xdp_md *ctx)
{
	struct pkt p = {};
	int r = parse_packet(ctx, &p);

	r = r < 0 ? -r : lb_process(ctx, &p);
	reason_count(r);
	return reason_action(r);
}

/* SYNs to a TCP token VIP (tail calls from limpet_xdp): answered with a SYN cookie. */
static __always_inline int synproxy_prog(struct xdp_md *ctx, const int v6)
{
	struct pkt p = {};
	int r = parse_packet(ctx, &p);

	r = r < 0 ? -r : synproxy_synack(ctx, &p, v6);
	reason_count(r);
	return reason_action(r);
}

SEC("xdp")
int limpet_synproxy4(struct xdp_md *ctx)
{
	return synproxy_prog(ctx, 0);
}

SEC("xdp")
int limpet_synproxy6(struct xdp_md *ctx)
{
	return synproxy_prog(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
