// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet's XDP entry: parse → VIP → flow → select → rewrite → forward (docs/design.md §4). */
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
#include "lib/reset.h"
#include "lib/frag.h"
#include "lib/dsr.h"
#include "lib/encap.h"
#include "lib/toobig.h"

/* Programs the main one hands packets to (enum limpet_jump): filled by libbpf at load, never
 * pinned, so an upgrade brings its own.
 */
int limpet_synproxy4(struct xdp_md *ctx);
int limpet_synproxy6(struct xdp_md *ctx);
int limpet_reset4(struct xdp_md *ctx);
int limpet_reset6(struct xdp_md *ctx);
int limpet_dsr4(struct xdp_md *ctx);
int limpet_dsr6(struct xdp_md *ctx);
int limpet_icmp4(struct xdp_md *ctx);
int limpet_icmp6(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LIMPET_JUMP_MAX);
	__type(key, __u32);
	__array(values, int(void *));
} limpet_jump SEC(".maps") = {
	.values = { [LIMPET_JUMP_SYNPROXY4] = (void *)&limpet_synproxy4,
		    [LIMPET_JUMP_SYNPROXY6] = (void *)&limpet_synproxy6,
		    [LIMPET_JUMP_RESET4] = (void *)&limpet_reset4,
		    [LIMPET_JUMP_RESET6] = (void *)&limpet_reset6,
		    [LIMPET_JUMP_DSR4] = (void *)&limpet_dsr4,
		    [LIMPET_JUMP_DSR6] = (void *)&limpet_dsr6,
		    [LIMPET_JUMP_ICMP4] = (void *)&limpet_icmp4,
		    [LIMPET_JUMP_ICMP6] = (void *)&limpet_icmp6 },
};

/* The backend's SYN-ACK for a binding flow: complete the state here, so whatever the backend
 * sends right behind it (a Fast Open response) is translated in XDP like any later segment, and
 * the flow is established (the client proved itself with its cookie). The TC program then turns
 * this SYN-ACK into the held first segment, or the handshake's ACK.
 */
static __noinline int bind_complete(struct xdp_md *ctx, struct pkt *p, const struct flow_key *ck)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;
	struct opt_walk w = {};
	struct flow_val *fv;
	struct pending *pd;
	__u32 len, ack, b_isn;

	if (!th || (void *)(th + 1) > p->data_end)
		return LIMPET_R_TO_TC;
	fv = bpf_map_lookup_elem(&MAP_NAME_HALFOPEN, ck);
	pd = bpf_map_lookup_elem(&MAP_NAME_PENDING, ck);
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
	flow_promote(ck, fv);
	return LIMPET_R_TO_TC;
}

/* TCP close tracking (LIMPET_FIN_*), one side's flag: FIN or RST marks the flow; once closed, an
 * established NAT flow leaves flows for halfopen (a spliced one stays until swept: its last
 * segments still need translating). 1: it left flows.
 */
static __always_inline int flow_fin_mark(const struct flow_key *ck, struct flow_val *fv,
					 int where, __u8 side, __u64 now)
{
	if (!side || (fv->sp.fin & side))
		return 0;
	fv->sp.fin |= side;
	fv->last_seen = now; /* the sweeper counts a closed flow's age from here */
	if (where != FLOW_EST || !limpet_flow_closed(fv->sp.fin) || fv->sp.state != LIMPET_SP_NONE)
		return 0;
	flow_demote(ck, fv);
	return 1;
}

/* What a step did to a flow's table entry. */
enum flow_step {
	STEP_STAYED = 0,
	STEP_PROMOTED = 1, /* half-open → flows */
	STEP_DEMOTED = 2,  /* flows → halfopen */
};

/* Client side: FIN or RST closes; a SYN on the tuple is a new connection and opens it again;
 * the client's ACK of the backend's SYN-ACK establishes a half-open flow.
 */
static __always_inline int flow_client_track(const struct pkt *p, struct flow_val *fv, int where,
					     __u64 now)
{
	struct tcphdr *th = p->l4;

	if (!th || (void *)(th + 1) > p->data_end)
		return STEP_STAYED;
	if (th->syn) {
		if (!th->ack && fv->sp.fin)
			fv->sp.fin = 0;
		return STEP_STAYED;
	}
	if (th->rst || th->fin)
		return flow_fin_mark(&p->key, fv, where, th->rst ? LIMPET_FIN_RST : LIMPET_FIN_CLIENT,
				     now) ? STEP_DEMOTED : STEP_STAYED;
	if (where == FLOW_HALF && th->ack && (fv->seen & LIMPET_SEEN_BACKEND) && !fv->sp.fin &&
	    bpf_ntohl(th->ack_seq) - fv->b_ack < LIMPET_ACK_WINDOW && !flow_promote(&p->key, fv))
		return STEP_PROMOTED;
	return STEP_STAYED;
}

/* A client packet of a known flow: keep it and its affinity fresh, track TCP's state, and
 * establish a half-open flow the client has now proven (then its affinity is written). A
 * subprogram: which table the flow sits in must not multiply the verifier's paths after it.
 */
static __noinline int flow_client_step(const struct pkt *p, const struct vip_meta *vip,
				       struct flow_val *fv, int where, int be_ok)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	int step;

	if (be_ok && now - fv->last_seen > LIMPET_TOUCH_NS) {
		fv->last_seen = now;
		affinity_touch(p, vip, fv, now);
	}
	if (p->key.proto == IPPROTO_TCP)
		step = flow_client_track(p, fv, where, now);
	else
		step = where == FLOW_HALF && (fv->seen & LIMPET_SEEN_BACKEND) &&
		       !flow_promote(&p->key, fv) ? STEP_PROMOTED : STEP_STAYED;
	if (step == STEP_PROMOTED && be_ok)
		affinity_bind(&p->key, vip, fv, now);
	return step;
}

/* Backend side: a UDP reply on a half-open flow marks that the backend spoke (and writes the
 * client's affinity); for TCP, on SYN,
 * FIN or RST only: a SYN-ACK on the 4-tuple of a closed flow answers some other connection — the
 * client reusing its address and port to reach the backend directly — so the closed flow goes
 * and the packet is the kernel's; any other SYN-ACK gives the ISN the client's ACK must carry.
 * 0 (translate as usual; *step says what happened to the entry) or a reason.
 */
static __noinline int flow_backend_track(const struct pkt *p, const struct flow_key *ck,
					 struct flow_val *fv, int where, int *step)
{
	struct tcphdr *th = p->l4;

	*step = STEP_STAYED;
	if (p->key.proto != IPPROTO_TCP) {
		/* UDP has no handshake: a backend that answers vouches for the client's affinity
		 * (a client may send once per address, as a reconnecting token session does)
		 */
		if (where == FLOW_HALF && !(fv->seen & LIMPET_SEEN_BACKEND)) {
			struct vip_meta *vip = vip_lookup(ck, ck->dport);

			fv->seen |= LIMPET_SEEN_BACKEND;
			if (vip)
				affinity_bind(ck, vip, fv, bpf_ktime_get_coarse_ns());
		}
		return 0;
	}
	if (!th || (void *)(th + 1) > p->data_end)
		return 0;
	if (th->syn) {
		if (limpet_flow_closed(fv->sp.fin)) {
			flow_forget(ck);
			return LIMPET_R_PASS_STALE;
		}
		if (where == FLOW_HALF && th->ack) {
			fv->b_ack = bpf_ntohl(th->seq) + 1;
			fv->seen |= LIMPET_SEEN_BACKEND;
		}
		return 0;
	}
	if (flow_fin_mark(ck, fv, where, th->rst ? LIMPET_FIN_RST : LIMPET_FIN_BACKEND,
			  bpf_ktime_get_coarse_ns()))
		*step = STEP_DEMOTED;
	return 0;
}

/* Whether a reply on an established flow needs tracking: TCP SYN, FIN, RST. */
static __always_inline int reply_tcp_flags(const struct pkt *p)
{
	struct tcphdr *th = p->l4;

	return p->key.proto == IPPROTO_TCP && th && (void *)(th + 1) <= p->data_end &&
	       (th->syn | th->fin | th->rst);
}

/* A reply on a half-open flow: a binding step, or tracking (and a spliced flow's translation).
 * 0: rewrite it (ids: its VIP and backend), REPLY_BIND_COMPLETE, or a reason.
 */
#define REPLY_BIND_COMPLETE (-1)
static __noinline int reply_half(struct xdp_md *ctx, struct pkt *p, const struct flow_key *ck,
				 __u32 *ids)
{
	struct flow_val *fv = bpf_map_lookup_elem(&MAP_NAME_HALFOPEN, ck);
	struct tcphdr *th = p->l4;
	int step, r;

	if (!fv)
		return LIMPET_R_PASS_NOT_VIP;
	if (fv->sp.state == LIMPET_SP_BINDING)
		/* the backend's SYN-ACK completes it (the caller), a RST is for TC */
		return th && (void *)(th + 1) <= p->data_end && th->syn && th->ack ?
			       REPLY_BIND_COMPLETE : LIMPET_R_TO_TC;
	ids[0] = fv->vip_id;
	ids[1] = fv->backend_id;
	r = flow_backend_track(p, ck, fv, FLOW_HALF, &step);
	if (r || fv->sp.state != LIMPET_SP_ESTABLISHED)
		return r;
	/* a spliced flow that found flows full lives on in halfopen */
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	splice_translate(ctx, p, &fv->sp, SPLICE_B2C);
	return 0;
}

/* A backend's reply: source back to the VIP. */
static __always_inline int lb_reply(struct xdp_md *ctx, struct pkt *p)
{
	struct flow_key ck = {};
	struct flow_val *fv = NULL;
	__u32 ids[2] = {};
	int where, r, step = STEP_STAYED;

	where = flow_reply_key(&p->key, &ck);
	if (where == FLOW_HALF) {
		r = reply_half(ctx, p, &ck, ids);
		if (r == REPLY_BIND_COMPLETE)
			return bind_complete(ctx, p, &ck);
		if (r)
			return r;
	} else if (where == FLOW_EST) {
		fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &ck);
		if (!fv)
			return LIMPET_R_PASS_NOT_VIP;
		ids[0] = fv->vip_id;
		ids[1] = fv->backend_id;
		if (reply_tcp_flags(p)) {
			r = flow_backend_track(p, &ck, fv, FLOW_EST, &step);
			if (r)
				return r;
			if (step == STEP_DEMOTED)
				fv = NULL; /* a NAT flow: nothing left to translate but addresses */
		}
	} else {
		return LIMPET_R_PASS_NOT_VIP;
	}
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	if (fv && fv->sp.state == LIMPET_SP_ESTABLISHED)
		splice_translate(ctx, p, &fv->sp, SPLICE_B2C);
	stats_count_reply(vip_stats_get(ids[0]), p->len);
	stats_count_reply(backend_stats_get(ids[1]), p->len);
	frag_record(p, ck.dst, LIMPET_FRAG_TO_CLIENT, ids[0], ids[1]);
	nat_rewrite(p, ck.dst, ck.dport, NAT_SRC);
	return fwd_packet(ctx, p, fv ? &fv->nh_rev : NULL, bpf_ktime_get_coarse_ns());
}

/* A TCP token VIP without an established spliced flow: the handshake limpet answers itself, and
 * the first data segment for the TC program (docs/design.md §6). 0: an established flow, go on.
 */
static __always_inline int lb_token_tcp(struct xdp_md *ctx, struct pkt *p, struct vip_meta *vip,
					struct flow_val *fv)
{
	struct tcphdr *th = p->l4;

	if (!th || (void *)(th + 1) > p->data_end)
		return LIMPET_R_PASS_BAD_L4;
	if (th->syn && !th->ack) {
		if (th->rst || th->fin)
			return LIMPET_R_DROP_ABSORBED;
		/* a new connection: whatever this 4-tuple carried before is over (a flood's SYNs
		 * find nothing: no deletes on that path)
		 */
		if (fv)
			flow_forget(&p->key);
		bpf_tail_call(ctx, &limpet_jump,
			      p->ip4 ? LIMPET_JUMP_SYNPROXY4 : LIMPET_JUMP_SYNPROXY6);
		return LIMPET_R_DROP_TAIL_CALL; /* the jump table is filled at load: not reached */
	}
	if (fv && fv->vip_id == vip->vip_id) {
		if (fv->sp.state == LIMPET_SP_ESTABLISHED)
			return 0;
		if (fv->sp.state == LIMPET_SP_BINDING)
			return LIMPET_R_TO_TC; /* e.g. the first segment again: resend the SYN */
	}
	if (p->l4_len > th->doff * 4 && !th->rst && !th->syn)
		return LIMPET_R_TO_TC; /* the first data segment */
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
	int new_flow = 0, where, known = 0, spliced = 0, step;
	__be16 port;
	int r;

	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;

	fv = flow_find(&p->key, &where);
	if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_TCP) {
		r = lb_token_tcp(ctx, p, vip, fv); /* 0: an established spliced flow */
		if (r)
			return r;
	}
	if (fv && fv->vip_id == vip->vip_id) {
		be = backend_get(fv->backend_id, vip->vip_id);
		id = fv->backend_id;
		if (be && be->health == LIMPET_HEALTH_DOWN && (vip->flags & LIMPET_VIP_F_ON_DOWN_RESET) &&
		    p->key.proto == IPPROTO_TCP) {
			bpf_tail_call(ctx, &limpet_jump, p->ip4 ? LIMPET_JUMP_RESET4 : LIMPET_JUMP_RESET6);
			return LIMPET_R_DROP_TAIL_CALL;
		}
		known = 1;
		spliced = fv->sp.state != LIMPET_SP_NONE;
		step = flow_client_step(p, vip, fv, where, be != NULL);
		/* the tail caches the next hop in established flows only */
		if (step == STEP_PROMOTED)
			fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, &p->key);
		else if (step == STEP_DEMOTED || where != FLOW_EST) {
			/* a spliced flow that found flows full lives on in halfopen */
			if (where == FLOW_HALF && fv->sp.state == LIMPET_SP_ESTABLISHED)
				splice_translate(ctx, p, &fv->sp, SPLICE_C2B);
			fv = NULL;
		}
	} else {
		fv = NULL;
	}
	if (!be) {
		/* new flow, or its backend was deleted: choose (again) */
		struct token_hash th, *tok = NULL;

		if (spliced)
			return LIMPET_R_DROP_BAD_BACKEND; /* a spliced flow: its backend or nothing */

		if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_UDP) {
			struct token_spec *ts = token_spec_get(vip->vip_id);

			if (ts && !token_udp(ctx, p, ts, &th))
				tok = &th;
			event_count(tok ? LIMPET_EV_TOKEN_FOUND : LIMPET_EV_TOKEN_MISSING);
		}
		r = backend_select(&p->key, vip, &id, &be, tok, 0);
		if (r)
			return r;
		if (known)
			flow_forget(&p->key); /* its backend is gone: start again, half-open */
		new_flow = 1;
		flow_create(&p->key, vip, id, tok, 0);
		fv = NULL;
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

/* A DSR VIP's packet: for the DSR program (its own verifier budget). */
static __always_inline int lb_dsr(struct xdp_md *ctx, const struct pkt *p)
{
	bpf_tail_call(ctx, &limpet_jump, p->ip4 ? LIMPET_JUMP_DSR4 : LIMPET_JUMP_DSR6);
	return LIMPET_R_DROP_TAIL_CALL; /* the jump table is filled at load: not reached */
}

static __always_inline int lb_process(struct xdp_md *ctx, struct pkt *p)
{
	struct vip_meta *vip;
	int r;

	if (p->frag == PKT_FRAG_LATER) {
		r = frag_later(ctx, p);
		return r == FRAG_GO_DSR ? lb_dsr(ctx, p) : r;
	}
	if (p->key.proto == IPPROTO_ICMP || p->key.proto == IPPROTO_ICMPV6) {
		/* rare: tail-called, so the verifier walks them on their own (~110k instructions
		 * that limpet_xdp's walk, near the 1M limit, no longer carries)
		 */
		bpf_tail_call(ctx, &limpet_jump,
			      p->key.proto == IPPROTO_ICMP ? LIMPET_JUMP_ICMP4 : LIMPET_JUMP_ICMP6);
		return LIMPET_R_DROP_TAIL_CALL;
	}
	vip = vip_lookup(&p->key, p->key.dport);
	if (!vip)
		return lb_reply(ctx, p);
	if (vip->mode != LIMPET_MODE_NAT) {
		r = dsr_fast(ctx, p, vip);
		return r == DSR_SLOW ? lb_dsr(ctx, p) : r;
	}
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

/* The programs limpet_xdp tail-calls, one per family and job, so the verifier never walks one's
 * branches with another's state: a SYN to a TCP token VIP answered with a SYN cookie; a client's
 * packet of a flow whose backend is down (on-down reset) answered with a RST; a DSR VIP's packet;
 * an ICMP or ICMPv6 packet (an error about a flow is routed by its quote, docs/design.md §4.1).
 */
enum responder { RESPOND_SYNACK, RESPOND_RESET };

static __always_inline int responder_prog(struct xdp_md *ctx, const int v6, const int job)
{
	struct pkt p = {};
	int r = parse_packet(ctx, &p);

	if (r < 0)
		r = -r;
	else
		r = job == RESPOND_SYNACK ? synproxy_synack(ctx, &p, v6) : reset_reply(ctx, &p, v6);
	if (r == LIMPET_R_SYNACK)
		event_count(LIMPET_EV_SYNACK_SENT); /* counted when sent, not when asked for */
	reason_count(r);
	return reason_action(r);
}

static __always_inline int dsr_prog(struct xdp_md *ctx, const int v6)
{
	struct dsr_to t = {};
	struct pkt p = {};
	int r = parse_packet(ctx, &p);

	if (r < 0) {
		r = -r;
	} else {
		if (p.frag == PKT_FRAG_LATER)
			r = dsr_frag_later(&p, &t);
		else if (p.key.proto == IPPROTO_ICMP || p.key.proto == IPPROTO_ICMPV6)
			r = icmp_dsr_to(&p, &t); /* an error about a DSR flow (ICMP_GO_DSR) */
		else
			r = dsr_choose(ctx, &p, &t);
		if (r == DSR_RESET) {
			bpf_tail_call(ctx, &limpet_jump, v6 ? LIMPET_JUMP_RESET6 : LIMPET_JUMP_RESET4);
			r = LIMPET_R_DROP_TAIL_CALL;
		} else if (!r) {
			r = dsr_send(ctx, &p, &t);
			if (r == LIMPET_R_DROP_TOO_BIG)
				r = limpet_toobig(ctx, t.mtu, t.hlen);
		}
	}
	reason_count(r);
	return reason_action(r);
}

static __always_inline int icmp_prog(struct xdp_md *ctx, const int v6)
{
	struct pkt p = {};
	int r = parse_packet(ctx, &p);

	if (r < 0) {
		r = -r;
	} else {
		r = v6 ? icmp6_error(ctx, &p) : icmp_error(ctx, &p);
		if (r == ICMP_GO_DSR)
			r = lb_dsr(ctx, &p); /* an error about a DSR connection: the DSR program's */
	}
	reason_count(r);
	return reason_action(r);
}

SEC("xdp")
int limpet_icmp4(struct xdp_md *ctx)
{
	return icmp_prog(ctx, 0);
}

SEC("xdp")
int limpet_icmp6(struct xdp_md *ctx)
{
	return icmp_prog(ctx, 1);
}

SEC("xdp")
int limpet_dsr4(struct xdp_md *ctx)
{
	return dsr_prog(ctx, 0);
}

SEC("xdp")
int limpet_dsr6(struct xdp_md *ctx)
{
	return dsr_prog(ctx, 1);
}

SEC("xdp")
int limpet_synproxy4(struct xdp_md *ctx)
{
	return responder_prog(ctx, 0, RESPOND_SYNACK);
}

SEC("xdp")
int limpet_synproxy6(struct xdp_md *ctx)
{
	return responder_prog(ctx, 1, RESPOND_SYNACK);
}

SEC("xdp")
int limpet_reset4(struct xdp_md *ctx)
{
	return responder_prog(ctx, 0, RESPOND_RESET);
}

SEC("xdp")
int limpet_reset6(struct xdp_md *ctx)
{
	return responder_prog(ctx, 1, RESPOND_RESET);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
