/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Connection state: where a flow lives (established or half-open), how a backend's reply finds
 * it, and the moves between the two tables (docs/design.md, "Connection state").
 */
#ifndef LIMPET_BPF_FLOW_H
#define LIMPET_BPF_FLOW_H

#include <limpet/limpet.h>
#include "maps.h"
#include "select.h"
#include "stats.h"

enum flow_where {
	FLOW_NONE = 0,
	FLOW_EST = 1,  /* in flows: never evicted */
	FLOW_HALF = 2, /* in halfopen: LRU */
};

static __always_inline struct flow_val *flow_find(const struct flow_key *k, int *where)
{
	struct flow_val *fv = bpf_map_lookup_elem(&MAP_NAME_FLOWS, k);

	if (fv) {
		*where = FLOW_EST;
		return fv;
	}
	fv = bpf_map_lookup_elem(&MAP_NAME_HALFOPEN, k);
	*where = fv ? FLOW_HALF : FLOW_NONE;
	return fv;
}

static __always_inline void flow_forget(const struct flow_key *k)
{
	bpf_map_delete_elem(&MAP_NAME_FLOWS, k);
	bpf_map_delete_elem(&MAP_NAME_HALFOPEN, k);
}

/* The client's key ck (client → VIP) of a backend's reply r (backend → client), and where its
 * flow is: the reverse map names the VIPs behind the reply's source endpoint (an exact port,
 * then a port-0 VIP's backends), and the VIP whose flow for this client exists is the one.
 * A subprogram of its own: inlined, its loops multiply the verifier's paths at every caller.
 */
static __noinline int flow_reply_key(const struct flow_key *r, struct flow_key *ck)
{
	struct rev_key rk = {};
	struct rev_val *rv;
	struct flow_val *fv;
	int where;

	__builtin_memcpy(rk.addr, r->src, 16);
	rk.proto = r->proto;
	rk.family = r->family;
	__builtin_memcpy(ck->src, r->dst, 16);
	ck->sport = r->dport;
	ck->proto = r->proto;
	ck->family = r->family;
#pragma clang loop unroll(disable)
	for (int pass = 0; pass < 2; pass++) {
		rk.port = pass ? 0 : r->sport;
		rv = bpf_map_lookup_elem(&MAP_NAME_REVERSE, &rk);
		if (!rv)
			continue;
#pragma clang loop unroll(disable)
		for (int i = 0; i < LIMPET_REV_VIPS; i++) {
			if (i >= rv->n)
				break;
			__builtin_memcpy(ck->dst, rv->v[i].addr, 16);
			ck->dport = rv->v[i].port ? rv->v[i].port : r->sport;
			fv = flow_find(ck, &where);
			if (fv && fv->vip_id == rv->v[i].vip_id)
				return where;
		}
	}
	return FLOW_NONE;
}

/* The client's affinity, written when its connection is established (a spoofed SYN writes
 * none): the source prefix for ip-hash, the token hashes a UDP token VIP's flow carries.
 */
static __always_inline void affinity_bind(const struct flow_key *k, const struct vip_meta *vip,
					  const struct flow_val *fv, __u64 now)
{
	struct affinity_key ak = { .vip_id = vip->vip_id };
	struct affinity_val av = { .backend_id = fv->backend_id, .last_seen = now };

	if (!vip->affinity_ttl || fv->sp.state != LIMPET_SP_NONE)
		return; /* spliced flows: TC wrote it when it chose */
	if (fv->tok_h1 | fv->tok_h2) {
		ak.kind = LIMPET_AFF_TOKEN;
		ak.key[0] = fv->tok_h1;
		ak.key[1] = fv->tok_h2;
	} else if (vip->policy == LIMPET_POLICY_FIVE_TUPLE ||
		   (vip->policy == LIMPET_POLICY_TOKEN && (vip->flags & LIMPET_VIP_F_FALLBACK_5T))) {
		return;
	} else {
		affinity_key_init(&ak, k, vip);
	}
	bpf_map_update_elem(&MAP_NAME_AFFINITY, &ak, &av, BPF_ANY);
}

/* A new flow starts half-open: one entry, in the table floods may churn. second: an ipip
 * flow's second-chance backend (id + 1), 0 for none.
 */
static __noinline __attribute__((unused)) void flow_create(const struct flow_key *k,
							    const struct vip_meta *vip, __u32 id,
							    const struct token_hash *tok, __u32 second)
{
	struct flow_val fv = { .backend_id = id, .vip_id = vip->vip_id,
			       .last_seen = bpf_ktime_get_coarse_ns() };

	fv.second = second;
	if (tok) {
		fv.tok_h1 = tok->h1;
		fv.tok_h2 = tok->h2;
	}
	bpf_map_update_elem(&MAP_NAME_HALFOPEN, k, &fv, BPF_ANY);
}

/* Half-open → established: copy into flows, drop the half-open entry. flows full: the flow
 * stays half-open (it works, but churn can evict it). 0 moved, -1 not.
 */
static __noinline __attribute__((unused)) int flow_promote(const struct flow_key *k,
							    const struct flow_val *fv)
{
	/* straight from one map's value to the other: no 120-byte copy on the stack */
	if (bpf_map_update_elem(&MAP_NAME_FLOWS, k, fv, BPF_NOEXIST)) {
		event_count(LIMPET_EV_FLOWS_FULL);
		return -1;
	}
	bpf_map_delete_elem(&MAP_NAME_HALFOPEN, k);
	event_count(LIMPET_EV_FLOW_EST);
	return 0;
}

/* Established → closed: a closed flow goes back to the evictable table, where its last
 * packets (and pass_stale) still find it; flows keeps only live connections.
 */
static __noinline __attribute__((unused)) void flow_demote(const struct flow_key *k,
							     const struct flow_val *fv)
{
	bpf_map_update_elem(&MAP_NAME_HALFOPEN, k, fv, BPF_ANY);
	bpf_map_delete_elem(&MAP_NAME_FLOWS, k);
}

#endif
