/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Choosing a backend for a new flow: affinity table first, then the VIP's Maglev table. */
#ifndef LIMPET_BPF_SELECT_H
#define LIMPET_BPF_SELECT_H

#include <limpet/hash.h>
#include "maps.h"
#include "parse.h"
#include "stats.h"

/* Whether no VIP has this address: its bucket's bit set in the VIP filter (limpet.h). */
static __always_inline int vip_absent(const __u32 addr[4])
{
	__u32 b = limpet_vip_bucket(addr), w = b / 64;
	__u64 *bits = bpf_map_lookup_elem(&MAP_NAME_VIP_FILTER, &w);

	return bits && (*bits >> (b % 64)) & 1;
}

/* The exact (addr, port, proto) VIP, else the port-0 VIP of that address. */
static __always_inline struct vip_meta *vip_lookup(const struct flow_key *k, __be16 port)
{
	struct vip_key vk = {};
	struct vip_meta *vip;

	if (vip_absent(k->dst))
		return NULL;
	__builtin_memcpy(vk.addr, k->dst, 16);
	vk.port = port;
	vk.proto = k->proto;
	vk.family = k->family;
	vip = bpf_map_lookup_elem(&MAP_NAME_VIPS, &vk);
	if (vip || !port)
		return vip;
	vk.port = 0;
	return bpf_map_lookup_elem(&MAP_NAME_VIPS, &vk);
}

/* A backend that may still carry this VIP's existing clients (active or draining). */
static __always_inline struct backend *backend_get(__u32 id, __u32 vip_id)
{
	struct backend *be = bpf_map_lookup_elem(&MAP_NAME_BACKENDS, &id);

	if (!be || be->state == LIMPET_BE_FREE || be->vip_id != vip_id)
		return NULL;
	return be;
}

static __always_inline void affinity_key_init(struct affinity_key *ak, const struct flow_key *k,
					      const struct vip_meta *vip)
{
	ak->vip_id = vip->vip_id;
	ak->kind = LIMPET_AFF_SRC_IP;
	ak->key[0] = k->src[0] & vip->src_mask[0];
	ak->key[1] = k->src[1] & vip->src_mask[1];
	ak->key[2] = k->src[2] & vip->src_mask[2];
	ak->key[3] = k->src[3] & vip->src_mask[3];
}

/* A session token, reduced to the two hashes limpet keeps (never the token itself). */
struct token_hash {
	__u32 h1, h2;
};

/* Keep a connected client's affinity fresh while its flow is alive. */
static __always_inline void affinity_touch(const struct pkt *p, const struct vip_meta *vip,
					   const struct flow_val *fv, __u64 now)
{
	struct affinity_key ak = { .vip_id = vip->vip_id };
	struct affinity_val *av;

	if (!vip->affinity_ttl)
		return;
	if (fv->tok_h1 | fv->tok_h2) {
		ak.kind = LIMPET_AFF_TOKEN;
		ak.key[0] = fv->tok_h1;
		ak.key[1] = fv->tok_h2;
	} else if (vip->policy != LIMPET_POLICY_FIVE_TUPLE) {
		affinity_key_init(&ak, &p->key, vip);
	} else {
		return;
	}
	av = bpf_map_lookup_elem(&MAP_NAME_AFFINITY, &ak);
	if (av && av->backend_id == fv->backend_id)
		av->last_seen = now;
}

static __always_inline __u32 config_seed(void)
{
	__u32 zero = 0;
	struct limpet_config *cfg = bpf_map_lookup_elem(&MAP_NAME_CONFIG, &zero);

	return cfg ? cfg->hash_seed : 0;
}

/* Maglev: table[hash % M] of the VIP; only active backends are in the table. *idx: the slot. */
static __always_inline int maglev_pick(const struct vip_meta *vip, __u32 hash, __u32 *id,
				       __u32 *idx_out)
{
	__u32 vip_id = vip->vip_id, idx, *slot;
	void *table;

	table = bpf_map_lookup_elem(&MAP_NAME_MAGLEV, &vip_id);
	if (!table || !vip->maglev_m)
		return LIMPET_R_DROP_NO_BACKEND;
	idx = hash % vip->maglev_m;
	*idx_out = idx;
	slot = bpf_map_lookup_elem(table, &idx);
	if (!slot || *slot == LIMPET_NO_BACKEND)
		return LIMPET_R_DROP_NO_BACKEND;
	*id = *slot;
	return 0;
}

/* Pick a backend for a flow the flow table does not know: its id, or -reason. tok: the session
 * token of a token VIP (NULL: none found, the VIP's fallback policy places the client).
 * remember: write the client's affinity now (a client that proved itself); else it is written
 * when the flow is established (affinity_bind), so spoofed SYNs leave none. slot (may be NULL):
 * the Maglev slot that chose, LIMPET_NO_BACKEND when an affinity did. A global function: the
 * verifier checks it once, not on every path that reaches it.
 */
/* The table hash of k by policy ip-hash (the client's prefix, also put in ak) or five-tuple. */
static __always_inline __u32 pick_hash(const struct flow_key *k, const struct vip_meta *vip,
				       __u8 policy, struct affinity_key *ak)
{
	if (policy == LIMPET_POLICY_IP_HASH) {
		affinity_key_init(ak, k, vip);
		return limpet_hash5(ak->key, 0, config_seed());
	}
	return limpet_hash9(k->src, k->dst, ((__u32)k->sport << 16 | k->dport) ^ k->proto,
			    config_seed());
}

/* The backend an ip-hash or five-tuple VIP's table gives k, as any host with the same backends
 * computes it; nothing read but the table, nothing written or counted. NULL: another policy,
 * or no backend.
 */
static __always_inline struct backend *table_pick(const struct flow_key *k,
						  const struct vip_meta *vip)
{
	struct affinity_key ak = {};
	__u32 id, idx;

	if (vip->policy != LIMPET_POLICY_IP_HASH && vip->policy != LIMPET_POLICY_FIVE_TUPLE)
		return NULL;
	if (maglev_pick(vip, pick_hash(k, vip, vip->policy, &ak), &id, &idx))
		return NULL;
	return backend_get(id, vip->vip_id);
}

__noinline int backend_pick(const struct flow_key *k, const struct vip_meta *vip,
			    const struct token_hash *tok, int remember, __u32 *slot)
{
	struct limpet_stats *vs;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct affinity_key ak = {};
	struct affinity_val av = {};
	struct backend *be;
	int use_aff = 0;
	__u32 hash = 0, id, idx = LIMPET_NO_BACKEND;
	__u8 policy;
	int r;

	if (slot)
		*slot = LIMPET_NO_BACKEND;
	if (!k || !vip)
		return -LIMPET_R_DROP_BAD_BACKEND;
	vs = vip_stats_get(vip->vip_id);
	policy = vip->policy;
	if (policy == LIMPET_POLICY_TOKEN) {
		if (tok) {
			ak.vip_id = vip->vip_id;
			ak.kind = LIMPET_AFF_TOKEN;
			ak.key[0] = tok->h1;
			ak.key[1] = tok->h2;
			hash = tok->h1;
			use_aff = vip->affinity_ttl != 0;
		} else {
			policy = vip->flags & LIMPET_VIP_F_FALLBACK_5T ? LIMPET_POLICY_FIVE_TUPLE :
									   LIMPET_POLICY_IP_HASH;
		}
	}
	if (policy == LIMPET_POLICY_IP_HASH || policy == LIMPET_POLICY_FIVE_TUPLE) {
		hash = pick_hash(k, vip, policy, &ak);
		use_aff = policy == LIMPET_POLICY_IP_HASH && vip->affinity_ttl != 0;
	}

	if (use_aff) {
		struct affinity_val *hit = bpf_map_lookup_elem(&MAP_NAME_AFFINITY, &ak);

		struct backend *hb = hit ? backend_get(hit->backend_id, vip->vip_id) : NULL;

		/* a client of a backend found down goes by the table (which has it no more) */
		if (hit && now - hit->last_seen < vip->affinity_ttl * 1000000000ULL && hb &&
		    hb->health != LIMPET_HEALTH_DOWN) {
			hit->last_seen = now;
			if (vs)
				vs->aff_hits++;
			if (slot && vip->maglev_m) /* the table's slot all the same: second chance */
				*slot = hash % vip->maglev_m;
			return hit->backend_id; /* < LIMPET_MAX_BACKENDS: backend_get found it */
		}
		if (vs)
			vs->aff_misses++;
	}

	r = maglev_pick(vip, hash, &id, &idx);
	if (slot)
		*slot = idx;
	if (r)
		return -r;
	be = backend_get(id, vip->vip_id);
	if (!be || be->state != LIMPET_BE_ACTIVE)
		return -LIMPET_R_DROP_BAD_BACKEND;
	if (use_aff && remember) {
		av.backend_id = id;
		av.last_seen = now;
		bpf_map_update_elem(&MAP_NAME_AFFINITY, &ak, &av, BPF_ANY);
	}
	return id;
}

/* backend_pick, with the backend itself: 0 or a reason. */
static __always_inline int backend_select(const struct flow_key *k, const struct vip_meta *vip,
					  __u32 *id, struct backend **bep,
					  const struct token_hash *tok,
					  int remember)
{
	int r = backend_pick(k, vip, tok, remember, NULL);

	if (r < 0)
		return -r;
	*id = r;
	*bep = backend_get(r, vip->vip_id);
	return *bep ? 0 : LIMPET_R_DROP_BAD_BACKEND;
}

#endif
