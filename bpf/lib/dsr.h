/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Direct server return (docs/design.md §4.3): a DSR VIP's client packets reach the backend with
 * only the destination MAC changed (l2dsr) or inside an outer IP header (ipip), unchanged
 * otherwise; the backend answers the client itself, so limpet sees one direction only.
 */
#ifndef LIMPET_BPF_DSR_H
#define LIMPET_BPF_DSR_H

#include "parse.h"
#include "csum.h"
#include "maps.h"
#include "select.h"
#include "stats.h"
#include "flow.h"
#include "token.h"
#include "frag.h"

/* Where a DSR packet goes. */
struct dsr_to {
	__u32 addr[4];   /* the backend */
	struct flow_val *fv; /* its established flow (the send cache), or NULL */
	__u32 second;    /* ipip, second chance: the slot's previous owner's id + 1; 0: none */
	__u32 vip_id;
	__u8 mode;       /* enum limpet_mode */
	__u8 family;     /* the backend's, so the outer header's (ipip: IPv4 in IPv6 too) */
	__u16 mtu;       /* out, drop_too_big: the path's MTU toward the backend... */
	__u16 hlen;      /* ...and the outer headers that did not fit */
};

/* A DSR flow's client packet (the only direction limpet sees): keep it fresh (now: the coarse
 * clock, read once per packet by the caller); the handshake's ACK (TCP) or a second datagram
 * (UDP) establishes it and writes the client's affinity; a FIN moves it back to the evictable
 * table, a RST ends it. 1: the entry stays where it is (established), so its send cache may be
 * used; else 0.
 */
static __noinline int dsr_client_step(const struct pkt *p, const struct vip_meta *vip,
				      struct flow_val *fv, int where, __u64 now)
{
	struct tcphdr *th = p->l4;
	int proven = where == FLOW_HALF;

	if (now - fv->last_seen > LIMPET_TOUCH_NS) {
		fv->last_seen = now;
		affinity_touch(p, vip, fv, now);
	}
	if (p->key.proto == IPPROTO_TCP) {
		if (!th || (void *)(th + 1) > p->data_end)
			return 0;
		if (th->rst) {
			flow_forget(&p->key);
			return 0;
		}
		if (th->fin) {
			fv->sp.fin |= LIMPET_FIN_CLIENT;
			if (where == FLOW_EST)
				flow_demote(&p->key, fv);
			return 0;
		}
		proven = proven && !th->syn && th->ack && !fv->sp.fin;
	}
	if (proven && !flow_promote(&p->key, fv))
		affinity_bind(&p->key, vip, fv, now);
	return where == FLOW_EST;
}

/* Second chance (ipip, TCP): a mid-connection packet this host has no flow for — it came from
 * a balancer host that failed, or over a changed route — goes to the slot's owner with the
 * slot's previous owner as a second header; the owner's decap hands it on when it has no
 * socket for it. The previous owner's id + 1, or 0.
 */
static __always_inline __u32 dsr_second(const struct pkt *p, const struct vip_meta *vip,
					__u32 slot, __u32 id)
{
	struct tcphdr *th = p->l4;
	__u32 vip_id = vip->vip_id, idx, *prev;
	void *table;

	if (vip->mode != LIMPET_MODE_IPIP || p->key.proto != IPPROTO_TCP || !th ||
	    (void *)(th + 1) > p->data_end || th->syn || slot >= vip->maglev_m)
		return 0;
	table = bpf_map_lookup_elem(&MAP_NAME_MAGLEV, &vip_id);
	if (!table)
		return 0;
	idx = slot + vip->maglev_m;
	prev = bpf_map_lookup_elem(table, &idx);
	/* the control plane keeps only owners that still serve the VIP; dsr_send checks again */
	if (!prev || *prev == LIMPET_NO_BACKEND || *prev == id)
		return 0;
	return *prev + 1;
}

/* A new DSR flow: chosen by the VIP's policy, kept half-open until the client proves itself.
 * Its backend's id, or -reason; *second: its second chance (id + 1, or 0).
 */
static __noinline int dsr_new_flow(struct xdp_md *ctx, const struct pkt *p,
				   const struct vip_meta *vip, int known, __u32 *second)
{
	struct token_hash th;
	struct token_spec *ts;
	__u32 slot;
	int r, tok = 0;

	if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_UDP) {
		ts = token_spec_get(vip->vip_id);
		tok = ts && !token_udp(ctx, p, ts, &th);
		event_count(tok ? LIMPET_EV_TOKEN_FOUND : LIMPET_EV_TOKEN_MISSING);
	}
	r = backend_pick(&p->key, vip, tok ? &th : NULL, 0, &slot);
	if (r < 0)
		return r;
	*second = dsr_second(p, vip, slot, r);
	if (known)
		flow_forget(&p->key); /* its backend is gone: start again, half-open */
	flow_create(&p->key, vip, r, tok ? &th : NULL, *second);
	return r;
}

#define DSR_RESET (-1) /* a down backend's client with on-down reset: the RST responder's */

/* A DSR VIP's packet (not a later fragment): its backend (and established flow), counted. 0,
 * DSR_RESET or a reason.
 */
static __noinline int dsr_choose(struct xdp_md *ctx, struct pkt *p, struct dsr_to *t)
{
	struct vip_meta *vip = vip_lookup(&p->key, p->key.dport);
	struct backend *be = NULL;
	struct limpet_stats *vs;
	struct flow_val *fv;
	__u32 id = 0, second = 0;
	int where, r, new_flow = 0;

	if (!vip || vip->mode == LIMPET_MODE_NAT)
		return LIMPET_R_PASS_NOT_VIP;
	vs = vip_stats_get(vip->vip_id);
	fv = flow_find(&p->key, &where);
	if (fv && fv->vip_id == vip->vip_id) {
		id = fv->backend_id;
		be = backend_get(id, vip->vip_id);
		if (be && be->health == LIMPET_HEALTH_DOWN && p->key.proto == IPPROTO_TCP &&
		    (vip->flags & LIMPET_VIP_F_ON_DOWN_RESET))
			return DSR_RESET;
		second = fv->second;
		if (be && dsr_client_step(p, vip, fv, where, bpf_ktime_get_coarse_ns()))
			t->fv = fv;
	}
	if (!be) {
		r = dsr_new_flow(ctx, p, vip, fv != NULL, &second);
		if (r < 0)
			return -r;
		id = r;
		be = backend_get(id, vip->vip_id);
		if (!be)
			return LIMPET_R_DROP_BAD_BACKEND;
		new_flow = 1;
	}
	stats_count(vs, p->len, new_flow);
	stats_count(backend_stats_get(id), p->len, new_flow);
	frag_record(p, be->addr, vip->mode == LIMPET_MODE_L2DSR ? LIMPET_FRAG_L2DSR : LIMPET_FRAG_IPIP,
		    vip->vip_id, id);
	__builtin_memcpy(t->addr, be->addr, 16);
	t->vip_id = vip->vip_id;
	t->mode = vip->mode;
	t->family = be->family;
	t->second = second; /* dsr_send finds its address (and that it still serves the VIP) */
	return 0;
}

/* A later fragment of a DSR datagram: where its first one went. 0 or a reason. */
static __noinline int dsr_frag_later(const struct pkt *p, struct dsr_to *t)
{
	struct frag_key fk = {};
	struct frag_val *fv;
	struct backend *be;

	frag_key_of(p, &fk);
	fv = bpf_map_lookup_elem(&MAP_NAME_FRAGS, &fk);
	if (!fv || (fv->dir != LIMPET_FRAG_L2DSR && fv->dir != LIMPET_FRAG_IPIP))
		return LIMPET_R_PASS_FRAG;
	be = backend_get(fv->backend_id, fv->vip_id);
	if (!be)
		return LIMPET_R_DROP_BAD_BACKEND;
	event_count(LIMPET_EV_FRAG_FWD);
	stats_count(vip_stats_get(fv->vip_id), p->len, 0);
	stats_count(backend_stats_get(fv->backend_id), p->len, 0);
	__builtin_memcpy(t->addr, be->addr, 16);
	t->vip_id = fv->vip_id;
	t->family = be->family;
	t->mode = fv->dir == LIMPET_FRAG_L2DSR ? LIMPET_MODE_L2DSR : LIMPET_MODE_IPIP;
	return 0;
}

#endif
