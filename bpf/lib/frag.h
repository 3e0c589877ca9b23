/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Fragments: the first one records where its datagram went, later ones (no ports) follow it. */
#ifndef LIMPET_BPF_FRAG_H
#define LIMPET_BPF_FRAG_H

#include "parse.h"
#include "maps.h"
#include "stats.h"
#include "nat.h"
#include "fwd.h"

static __always_inline void frag_key_of(const struct pkt *p, struct frag_key *fk)
{
	__builtin_memcpy(fk->src, p->key.src, 16);
	__builtin_memcpy(fk->dst, p->key.dst, 16);
	fk->id = p->frag_id;
	fk->proto = p->key.proto;
	fk->family = p->key.family;
}

/* Later fragments follow the first one; record where the datagram went. */
static __noinline void frag_record(const struct pkt *p, const __u32 *addr, __u32 dir,
					__u32 vip_id, __u32 backend_id)
{
	struct frag_key fk = {};
	struct frag_val fv = {};

	if (p->frag != PKT_FRAG_FIRST)
		return;
	frag_key_of(p, &fk);
	__builtin_memcpy(fv.addr, addr, 16);
	fv.dir = dir;
	fv.vip_id = vip_id;
	fv.backend_id = backend_id;
	bpf_map_update_elem(&MAP_NAME_FRAGS, &fk, &fv, BPF_ANY);
}

/* A later fragment: rewritten like its first one, or FRAG_GO_DSR (a DSR datagram's: the DSR
 * program sends it), or a reason.
 */
#define FRAG_GO_DSR (-1)
static __noinline int frag_later(struct xdp_md *ctx, struct pkt *p)
{
	struct frag_key fk = {};
	struct frag_val *fv;

	frag_key_of(p, &fk);
	fv = bpf_map_lookup_elem(&MAP_NAME_FRAGS, &fk);
	if (!fv)
		return LIMPET_R_PASS_FRAG;
	if (fv->dir == LIMPET_FRAG_L2DSR || fv->dir == LIMPET_FRAG_IPIP)
		return FRAG_GO_DSR;
	if (hop_limit_expiring(p))
		return LIMPET_R_PASS_TTL;
	event_count(LIMPET_EV_FRAG_FWD);
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

#endif
