/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Session tokens: finding them and reducing them to hashes. */
#ifndef LIMPET_BPF_TOKEN_H
#define LIMPET_BPF_TOKEN_H

#include <limpet/hash.h>
#include "maps.h"
#include "parse.h"
#include "select.h"
#include "tcp.h"

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
	/* inside the UDP payload (the parse held it to the datagram), not the frame's padding */
	if (sizeof(struct udphdr) + ts->offset + len > p->l4_len)
		return -1;
	off = (__u32)(p->l4 - data) + sizeof(struct udphdr) + ts->offset;
	if (bpf_xdp_load_bytes(ctx, off, w, len))
		return -1;
	token_hash_words(w, len, th);
	return 0;
}

/* HTTP tokens, in the first segment held in the per-CPU scratch buffer (TC). One bpf_loop finds
 * where the value starts, a second copies it up to its delimiter (docs/design.md §6.2).
 */
#define LIMPET_SCAN_MAX 512

struct http_scan {
	__u8 needle[LIMPET_TOKEN_NAME_MAX + 1]; /* NAME= (query, cookie) or lowercase NAME: (header) */
	__u32 nlen;
	__u32 len;      /* bytes to scan */
	__u32 source;
	__u32 in_line;  /* cookie: the current line is a Cookie header */
	__u32 found;    /* index of the value's first byte + 1 */
	__u32 vlen;
	__u32 skip;     /* header: spaces before the value */
	__u32 w[16];    /* the value, zero-padded */
};

/* A byte of the scratch buffer; the mask stays in the program for the verifier to see. */
static __always_inline __u8 sc_at(const struct pending *sc, __u64 i)
{
	asm volatile("" : "+r"(i));
	return sc->data[i & 1023];
}

static __always_inline __u8 lc(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

static long http_scan_step(__u32 i, void *ctx)
{
	struct http_scan *s = ctx;
	__u32 zero = 0, j;
	struct pending *sc = bpf_map_lookup_elem(&MAP_NAME_SCRATCH, &zero);
	__u8 prev;

	if (!sc || i >= s->len || i >= LIMPET_SCAN_MAX)
		return 1;
	prev = i ? sc_at(sc, i - 1) : '\n';
	if (s->source == LIMPET_TOK_QUERY && sc_at(sc, i) == '\r')
		return 1; /* the request line is over */
	if (prev == '\n' && s->source == LIMPET_TOK_COOKIE)
		s->in_line = lc(sc_at(sc, i)) == 'c' && lc(sc_at(sc, i + 1)) == 'o' &&
			     lc(sc_at(sc, i + 2)) == 'o' && lc(sc_at(sc, i + 3)) == 'k' &&
			     lc(sc_at(sc, i + 4)) == 'i' && lc(sc_at(sc, i + 5)) == 'e' &&
			     sc_at(sc, i + 6) == ':';
	if (s->source == LIMPET_TOK_HEADER ? prev != '\n' :
	    s->source == LIMPET_TOK_QUERY ? prev != '?' && prev != '&' :
	    !s->in_line || (prev != ' ' && prev != ';' && prev != ':'))
		return 0;
	if (i + s->nlen > s->len)
		return 0;
	for (j = 0; j < LIMPET_TOKEN_NAME_MAX + 1; j++) {
		__u8 c;

		if (j >= s->nlen)
			break;
		c = sc_at(sc, i + j);
		if (s->source == LIMPET_TOK_HEADER)
			c = lc(c);
		if (c != s->needle[j])
			return 0;
	}
	s->found = i + s->nlen + 1;
	return 1;
}

static long http_value_step(__u32 i, void *ctx)
{
	struct http_scan *s = ctx;
	__u32 zero = 0, at = s->found - 1 + i;
	struct pending *sc = bpf_map_lookup_elem(&MAP_NAME_SCRATCH, &zero);
	__u8 c;

	if (!sc || at >= s->len || s->vlen >= LIMPET_TOKEN_MAX)
		return 1;
	c = sc_at(sc, at);
	if (c == ' ' && s->source == LIMPET_TOK_HEADER && !s->vlen) {
		s->skip++;
		return 0;
	}
	if (c == '\r' || c == '\n' || c == ';' || c == '&' || c == '#' || c == ' ')
		return 1;
	((__u8 *)s->w)[opaque(s->vlen) & 63] = c;
	s->vlen++;
	return 0;
}

/* 0 and th filled when the spec's token is in the scratch buffer's first len bytes. */
static __noinline __attribute__((unused)) int token_http(__u32 len, const struct token_spec *ts, struct token_hash *th)
{
	struct http_scan s = {};
	__u32 j;

	if (!ts->name_len || ts->name_len > LIMPET_TOKEN_NAME_MAX)
		return -1;
	for (j = 0; j < LIMPET_TOKEN_NAME_MAX; j++)
		if (j < ts->name_len)
			s.needle[j] = ts->source == LIMPET_TOK_HEADER ? lc(ts->name[j]) : ts->name[j];
	j = ts->name_len;
	if (j > LIMPET_TOKEN_NAME_MAX)
		return -1;
	s.needle[j] = ts->source == LIMPET_TOK_HEADER ? ':' : '=';
	s.nlen = ts->name_len + 1;
	s.len = len < LIMPET_SCAN_MAX ? len : LIMPET_SCAN_MAX;
	s.source = ts->source;
	bpf_loop(LIMPET_SCAN_MAX, http_scan_step, &s, 0);
	if (!s.found)
		return -1;
	bpf_loop(LIMPET_TOKEN_MAX + 16, http_value_step, &s, 0);
	if (!s.vlen)
		return -1;
	token_hash_words(s.w, s.vlen, th);
	return 0;
}

#endif
