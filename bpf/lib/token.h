/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Session tokens: finding them and reducing them to hashes. */
#ifndef LIMPET_BPF_TOKEN_H
#define LIMPET_BPF_TOKEN_H

#include <limpet/hash.h>
#include "maps.h"
#include "parse.h"
#include "select.h"

static __always_inline struct token_spec *token_spec_get(__u32 vip_id)
{
	return bpf_map_lookup_elem(&MAP_NAME_TOKENS, &vip_id);
}

static __always_inline void token_hash_words(const __u32 w[16], __u32 len, struct token_hash *th)
{
	__u32 seed = config_seed();

	th->h1 = limpet_hash_token(w, len, seed);
	th->h2 = limpet_hash_token(w, len, seed ^ 0x85ebca6bu);
	if (!(th->h1 | th->h2))
		th->h2 = 1; /* 0/0 means "no token" in a flow */
}

/* UDP: bytes [offset, offset + len) of the payload, in every datagram. 0 found, -1 missing. */
static __always_inline int token_udp(struct xdp_md *ctx, const struct pkt *p,
				     const struct token_spec *ts, struct token_hash *th)
{
	void *data = (void *)(long)ctx->data;
	__u32 w[16] = {};
	__u32 off, len = ts->len;

	if (!p->l4 || p->key.proto != IPPROTO_UDP || len == 0 || len > LIMPET_TOKEN_MAX)
		return -1;
	off = (__u32)(p->l4 - data) + sizeof(struct udphdr) + ts->offset;
	if (off > 0xffff || off + len > (__u32)(p->data_end - data))
		return -1;
	if (bpf_xdp_load_bytes(ctx, off, w, len))
		return -1;
	token_hash_words(w, len, th);
	return 0;
}

#endif
