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

/* Later fragments follow the first one; record where the datagram went. */
static __always_inline void frag_record(const struct pkt *p, const __u32 *addr, __u32 dir,
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

static __always_inline int frag_later(struct xdp_md *ctx, struct pkt *p)
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

/* A backend's reply: source back to the VIP. */
static __always_inline int lb_reply(struct xdp_md *ctx, struct pkt *p)
{
	struct rnat_val *rv = bpf_map_lookup_elem(&MAP_NAME_RNAT, &p->key);

	if (!rv)
		return LIMPET_R_PASS_NOT_VIP;
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	stats_count_reply(vip_stats_get(rv->vip_id), p->len);
	stats_count_reply(backend_stats_get(rv->backend_id), p->len);
	frag_record(p, rv->vip_addr, LIMPET_FRAG_TO_CLIENT, rv->vip_id, rv->backend_id);
	nat_rewrite(p, rv->vip_addr, rv->vip_port, NAT_SRC);
	return fwd_packet(ctx, p, &rv->nh, bpf_ktime_get_coarse_ns());
}

/* Record the new flow both ways: client → VIP, and the backend's reply → client. */
static __always_inline struct flow_val *flow_create(const struct pkt *p, const struct vip_meta *vip,
						   const struct backend *be, __u32 id, __be16 port,
						   __u64 now, const struct token_hash *tok)
{
	struct flow_val fv = { .backend_id = id, .vip_id = vip->vip_id, .last_seen = now };

	if (tok) {
		fv.tok_h1 = tok->h1;
		fv.tok_h2 = tok->h2;
	}
	struct flow_key rk = {};
	struct rnat_val rv = {};

	bpf_map_update_elem(&MAP_NAME_FLOWS, &p->key, &fv, BPF_ANY);

	__builtin_memcpy(rk.src, be->addr, 16);
	__builtin_memcpy(rk.dst, p->key.src, 16);
	rk.sport = port;
	rk.dport = p->key.sport;
	rk.proto = p->key.proto;
	rk.family = p->key.family;
	__builtin_memcpy(rv.vip_addr, p->key.dst, 16);
	rv.vip_port = p->key.dport;
	rv.vip_id = vip->vip_id;
	rv.backend_id = id;
	bpf_map_update_elem(&MAP_NAME_RNAT, &rk, &rv, BPF_ANY);
	return bpf_map_lookup_elem(&MAP_NAME_FLOWS, &p->key);
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
	if (fv && fv->vip_id == vip->vip_id) {
		id = fv->backend_id;
		be = backend_get(id, vip->vip_id);
		if (be && now - fv->last_seen > LIMPET_TOUCH_NS) {
			fv->last_seen = now;
			affinity_touch(p, vip, fv, now);
		}
	} else {
		fv = NULL;
	}
	if (!be) {
		/* new flow, or its backend was deleted: choose (again) */
		struct token_hash th, *tok = NULL;

		if (vip->policy == LIMPET_POLICY_TOKEN && p->key.proto == IPPROTO_UDP) {
			struct token_spec *ts = token_spec_get(vip->vip_id);

			if (ts && !token_udp(ctx, p, ts, &th))
				tok = &th;
			event_count(tok ? LIMPET_EV_TOKEN_FOUND : LIMPET_EV_TOKEN_MISSING);
		}
		r = backend_select(p, vip, now, &id, &be, vs, tok);
		if (r)
			return r;
		new_flow = 1;
		port = be->port ? be->port : p->key.dport;
		fv = flow_create(p, vip, be, id, port, now, tok);
	}
	port = be->port ? be->port : p->key.dport;

	stats_count(vs, p->len, new_flow);
	stats_count(backend_stats_get(id), p->len, new_flow);
	frag_record(p, be->addr, LIMPET_FRAG_TO_BACKEND, vip->vip_id, id);
	nat_rewrite(p, be->addr, port, NAT_DST);
	return fwd_packet(ctx, p, fv ? &fv->nh : NULL, now);
}

static __always_inline int lb_process(struct xdp_md *ctx, struct pkt *p)
{
	struct vip_meta *vip;

	if (p->frag == PKT_FRAG_LATER)
		return frag_later(ctx, p);
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
