/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* TCP headers built off to the side: option parsing and writing on a 64-byte copy, and
 * checksums from scratch. Shared by the XDP SYN-cookie responder and the TC binding steps.
 */
#ifndef LIMPET_BPF_TCP_H
#define LIMPET_BPF_TCP_H

#include <linux/tcp.h>
#include <linux/ip.h>
#include "csum.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8
#define TCPOPT_FASTOPEN 34
#define LIMPET_WS_LB 7          /* window scale limpet announces to clients that scale */
#define LIMPET_MSS_LB 1460      /* MSS limpet announces: a first segment fits a pending slot */
#define LIMPET_TS_BITS 0x7f     /* low TSval bits of a SYN-ACK carry the client's options */

/* An index into a 64-byte header copy the verifier can bound: the barrier keeps the compiler
 * from dropping a mask it thinks is redundant.
 */
static __always_inline __u32 ix(__u32 v)
{
	asm volatile("" : "+r"(v));
	return v & 63;
}

/* A length the verifier must bound itself: the compiler may not reuse what it proved earlier. */
static __always_inline __u64 opaque(__u64 v)
{
	asm volatile("" : "+r"(v));
	return v;
}

struct tcp_opts {
	__u16 mss;  /* 0: none */
	__u8 ws;    /* 0xff: none */
	__u8 sack;
	__u8 ts;
	__u8 pad[3];
	__u32 tsval, tsecr; /* host order */
};

static __always_inline void put32(__u8 *hdr, __u32 off, __u32 v)
{
	hdr[ix(off)] = v >> 24;
	hdr[ix(off + 1)] = v >> 16;
	hdr[ix(off + 2)] = v >> 8;
	hdr[ix(off + 3)] = v;
}

/* Write options at hdr[20..): those set in o, in the usual order, over a background of NOPs up
 * to a multiple of 4 (or up to room, when room is given). Returns the header length.
 */
static __always_inline __u32 tcp_opts_write(__u8 *hdr, const struct tcp_opts *o, int tfo,
					    __u32 room)
{
	__u32 off = 20;

	__builtin_memset(hdr + 20, TCPOPT_NOP, 40); /* padding without a loop to verify */

	if (o->mss && (!room || off + 4 <= room)) {
		hdr[ix(off)] = TCPOPT_MSS;
		hdr[ix(off + 1)] = 4;
		hdr[ix(off + 2)] = o->mss >> 8;
		hdr[ix(off + 3)] = o->mss;
		off += 4;
	}
	if (o->sack && (!room || off + 2 <= room)) {
		hdr[ix(off)] = TCPOPT_SACK_PERM;
		hdr[ix(off + 1)] = 2;
		off += 2;
	}
	if (o->ts && (!room || off + 10 <= room)) {
		hdr[ix(off)] = TCPOPT_TS;
		hdr[ix(off + 1)] = 10;
		put32(hdr, off + 2, o->tsval);
		put32(hdr, off + 6, o->tsecr);
		off += 10;
	}
	if (o->ws != 0xff && (!room || off + 4 <= room)) {
		hdr[ix(off)] = TCPOPT_NOP;
		hdr[ix(off + 1)] = TCPOPT_WS;
		hdr[ix(off + 2)] = 3;
		hdr[ix(off + 3)] = o->ws;
		off += 4;
	}
	if (tfo && (!room || off + 4 <= room)) {
		hdr[ix(off)] = TCPOPT_NOP;
		hdr[ix(off + 1)] = TCPOPT_NOP;
		hdr[ix(off + 2)] = TCPOPT_FASTOPEN;
		hdr[ix(off + 3)] = 2; /* no cookie: the backend accepts data in SYNs without one */
		off += 4;
	}
	return room ? room : (off + 3) & ~3u;
}

static __always_inline __u32 get32(const __u8 *hdr, __u32 off)
{
	return (__u32)hdr[ix(off)] << 24 | (__u32)hdr[ix(off + 1)] << 16 |
	       (__u32)hdr[ix(off + 2)] << 8 | hdr[ix(off + 3)];
}

/* Walking a header copy's options: parse them, or translate them for a spliced flow. */
enum opt_walk_mode {
	OPT_PARSE = 0,
	OPT_C2B,  /* client → backend: TSecr += ts_off, SACK edges -= delta */
	OPT_B2C,  /* backend → client: TSval -= ts_off */
};

struct opt_walk {
	__u8 hdr[64];
	__u32 len;  /* doff * 4 */
	__u32 off;
	__u32 mode;
	__u32 delta, ts_off;
	struct tcp_opts o;
};

static long opt_step(__u32 i, void *ctx)
{
	struct opt_walk *w = ctx;
	__u32 off = w->off, b;
	__u8 kind, len;

	if (off >= w->len || off >= 60)
		return 1;
	kind = w->hdr[ix(off)];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->off = off + 1;
		return 0;
	}
	if (off + 1 >= w->len)
		return 1;
	len = w->hdr[ix(off + 1)];
	if (len < 2 || off + len > w->len)
		return 1;
	if (w->mode == OPT_PARSE) {
		if (kind == TCPOPT_MSS && len == 4) {
			w->o.mss = w->hdr[ix(off + 2)] << 8 | w->hdr[ix(off + 3)];
		} else if (kind == TCPOPT_WS && len == 3) {
			w->o.ws = w->hdr[ix(off + 2)];
			if (w->o.ws > 14)
				w->o.ws = 14;
		} else if (kind == TCPOPT_SACK_PERM && len == 2) {
			w->o.sack = 1;
		} else if (kind == TCPOPT_TS && len == 10) {
			w->o.ts = 1;
			w->o.tsval = get32(w->hdr, off + 2);
			w->o.tsecr = get32(w->hdr, off + 6);
		}
	} else if (kind == TCPOPT_TS && len == 10) {
		if (w->mode == OPT_B2C)
			put32(w->hdr, off + 2, get32(w->hdr, off + 2) - w->ts_off);
		else
			put32(w->hdr, off + 6, get32(w->hdr, off + 6) + w->ts_off);
	} else if (kind == TCPOPT_SACK && w->mode == OPT_C2B) {
		for (b = 2; b + 4 <= len && b < 34; b += 4)
			put32(w->hdr, off + b, get32(w->hdr, off + b) - w->delta);
	}
	w->off = off + len;
	return 0;
}

/* Options of w->hdr (w->len bytes) into w->o, or translated in place (w->mode). */
static __always_inline void opt_walk_run(struct opt_walk *w, __u32 mode)
{
	w->off = 20;
	w->mode = mode;
	w->o.mss = 0;
	w->o.ws = 0xff;
	w->o.sack = w->o.ts = 0;
	w->o.tsval = w->o.tsecr = 0;
	bpf_loop(40, opt_step, w, 0);
}

struct pseudo4 {
	__be32 saddr, daddr;
	__u8 zero, proto;
	__be16 len;
};

/* TCP checksum from scratch: pseudo-header + header (hlen, a multiple of 4 ≤ 60) + a payload
 * sum the caller computed (0 for none).
 */
static __always_inline __u16 tcp4_csum(__be32 saddr, __be32 daddr, const __u8 *hdr, __u32 hlen,
				       __u32 l4len, __u32 payload_sum)
{
	struct pseudo4 ph = { saddr, daddr, 0, IPPROTO_TCP, bpf_htons(l4len) };
	__s64 sum;

	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), payload_sum);
	if (sum < 0 || hlen < 20 || hlen > 60)
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)hdr, hlen & 0x3c, (__u32)sum);
	return csum_fold32((__u32)sum);
}

struct pseudo6 {
	__u32 saddr[4], daddr[4];
	__be32 len;
	__u8 zero[3], proto;
};

/* The same over IPv6 (addresses: 16 bytes each). */
static __always_inline __u16 tcp6_csum(const __u32 *saddr, const __u32 *daddr, const __u8 *hdr,
				       __u32 hlen, __u32 l4len, __u32 payload_sum)
{
	struct pseudo6 ph = { .len = bpf_htonl(l4len), .proto = IPPROTO_TCP };
	__s64 sum;

	__builtin_memcpy(ph.saddr, saddr, 16);
	__builtin_memcpy(ph.daddr, daddr, 16);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), payload_sum);
	if (sum < 0 || hlen < 20 || hlen > 60)
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)hdr, hlen & 0x3c, (__u32)sum);
	return csum_fold32((__u32)sum);
}

/* Sum of a segment's bytes held in a buffer (a first segment, a SYN's data), in ≤ 512-byte chunks (bpf_csum_diff's limit); the buffer is
 * zero past len up to a multiple of 4.
 */
static __always_inline __u32 data_csum(const __u8 *data, __u32 len)
{
	__u64 n = (len + 3) & ~3u, s1, s2, s3;
	__s64 sum;

	s1 = opaque(n > 512 ? 512 : n);
	s2 = opaque(n > 1024 ? 512 : n > 512 ? n - 512 : 0);
	s3 = opaque(n > 1024 ? n - 1024 : 0);
	if (s1 > 512 || s2 > 512 || s3 > LIMPET_PENDING_MAX + 4 - 1024 || (s1 | s2 | s3) & 3)
		return 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)data, s1, 0);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)(data + 512), s2, (__u32)sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)(data + 1024), s3, (__u32)sum);
	return (__u32)sum;
}

static __always_inline void ip4_csum_set(struct iphdr *iph)
{
	__s64 sum;

	iph->check = 0;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)iph, sizeof(*iph), 0);
	iph->check = csum_fold32((__u32)sum);
}

/* Replace a 32-bit field that may sit at an odd byte offset of the header. */
static __always_inline void csum_replace32_at(__u16 *sum, __u32 from, __u32 to, int odd)
{
	__u32 d = csum_add32(~from, to);

	d = (d & 0xffff) + (d >> 16);
	d = (d & 0xffff) + (d >> 16);
	if (odd)
		d = ((d >> 8) | (d << 8)) & 0xffff;
	*sum = csum_fold32(csum_add32((__u16)~*sum, d));
}

#endif
