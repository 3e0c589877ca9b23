/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Counters: per VIP, per backend, and one per reason. Per-CPU, so no atomics. */
#ifndef LIMPET_BPF_STATS_H
#define LIMPET_BPF_STATS_H

#include "maps.h"

static __always_inline struct limpet_stats *vip_stats_get(__u32 vip_id)
{
	return bpf_map_lookup_elem(&MAP_NAME_VIP_STATS, &vip_id);
}

static __always_inline struct limpet_stats *backend_stats_get(__u32 backend_id)
{
	return bpf_map_lookup_elem(&MAP_NAME_BACKEND_STATS, &backend_id);
}

static __always_inline void stats_count(struct limpet_stats *s, __u32 len, int new_flow)
{
	if (!s)
		return;
	s->packets++;
	s->bytes += len;
	s->new_flows += new_flow;
}

static __always_inline void stats_count_reply(struct limpet_stats *s, __u32 len)
{
	if (!s)
		return;
	s->reply_packets++;
	s->reply_bytes += len;
}

static __always_inline void reason_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&MAP_NAME_REASONS, &reason);

	if (c)
		(*c)++;
}

static __always_inline void tc_reason_count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&MAP_NAME_TC_REASONS, &reason);

	if (c)
		(*c)++;
}

static __always_inline void event_count(__u32 ev)
{
	__u64 *c = bpf_map_lookup_elem(&MAP_NAME_EVENTS, &ev);

	if (c)
		(*c)++;
}

/* The one place a reason becomes an XDP verdict. */
static __always_inline int reason_action(__u32 reason)
{
	switch (reason) {
	case LIMPET_R_FWD_REDIRECT:
		return XDP_REDIRECT;
	case LIMPET_R_FWD_TX:
	case LIMPET_R_SYNACK:
	case LIMPET_R_TX_RESET:
	case LIMPET_R_TX_TOO_BIG:
		return XDP_TX;
	case LIMPET_R_DROP_NO_BACKEND:
	case LIMPET_R_DROP_BAD_BACKEND:
	case LIMPET_R_DROP_ABSORBED:
	case LIMPET_R_DROP_TAIL_CALL:
	case LIMPET_R_DROP_BAD_SYN:
	case LIMPET_R_DROP_TOO_BIG:
	case LIMPET_R_DROP_DSR_PATH:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

#endif
