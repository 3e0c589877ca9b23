/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Flow keys from one side to the other. */
#ifndef LIMPET_BPF_FLOW_H
#define LIMPET_BPF_FLOW_H

#include <limpet/limpet.h>

/* The client's key (client → VIP) of a backend's reply (backend → client) and its rnat entry. */
static __always_inline void flow_key_of_reply(struct flow_key *ck, const struct flow_key *reply,
					      const struct rnat_val *rv)
{
	__builtin_memcpy(ck->src, reply->dst, 16);
	__builtin_memcpy(ck->dst, rv->vip_addr, 16);
	ck->sport = reply->dport;
	ck->dport = rv->vip_port;
	ck->proto = reply->proto;
	ck->family = reply->family;
}

#endif
