/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Established spliced connections (docs/design.md §6.4): the client talks in limpet's sequence space
 * (its SYN-ACK's cookie), the backend in its own. Translate seq/ack, SACK blocks, timestamps and
 * the window scale in XDP, with incremental checksums.
 */
#ifndef LIMPET_BPF_SPLICE_H
#define LIMPET_BPF_SPLICE_H

#include "parse.h"
#include "tcp.h"

enum splice_dir {
	SPLICE_C2B = 0, /* client → backend */
	SPLICE_B2C = 1,
};

/* Translate one segment of a spliced flow, its TCP header len bytes at off: the header is
 * copied to the stack, edited there, written back; its checksum loses the header's sum before
 * the edit and gains the one after. A global function: verified once, whichever flow table sp
 * lives in.
 */
__noinline int splice_xlate(struct xdp_md *ctx, __u32 off, __u32 len, const struct splice *sp,
			    int dir)
{
	struct opt_walk w = {};
	__u32 win;
	__u16 csum;
	__s64 sum;

	len &= 0x3c; /* doff * 4: a multiple of 4, at most 60 (and so the verifier sees it) */
	if (!ctx || !sp || len < 20 || bpf_xdp_load_bytes(ctx, off, w.hdr, len))
		return -1;
	csum = w.hdr[16] | w.hdr[17] << 8; /* as stored: network order in memory */
	sum = bpf_csum_diff((__be32 *)w.hdr, len & 0x3c, NULL, 0, (__u16)~csum);
	w.len = len;
	w.delta = sp->delta;
	w.ts_off = sp->ts_off;
	if (dir == SPLICE_C2B) {
		if (w.hdr[13] & 0x10) /* ACK */
			put32(w.hdr, 8, get32(w.hdr, 8) - sp->delta);
		if (sp->opts & (LIMPET_SP_OPT_TS | LIMPET_SP_OPT_SACK))
			opt_walk_run(&w, OPT_C2B); /* nothing to translate otherwise */
	} else {
		put32(w.hdr, 4, get32(w.hdr, 4) + sp->delta);
		win = w.hdr[14] << 8 | w.hdr[15];
		if (sp->ws_lb != 0xff && !(w.hdr[13] & 0x02)) {
			/* the backend scales its window by ws_b, the client reads it with ws_lb */
			__u32 nw = (win << (sp->ws_b & 15)) >> (sp->ws_lb & 15);

			if (nw > 65535)
				nw = 65535;
			if (!nw && win)
				nw = 1;
			w.hdr[14] = nw >> 8;
			w.hdr[15] = nw;
		}
		if (sp->opts & LIMPET_SP_OPT_TS)
			opt_walk_run(&w, OPT_B2C);
	}
	sum = bpf_csum_diff(NULL, 0, (__be32 *)w.hdr, len & 0x3c, (__u32)sum);
	csum = csum_fold32((__u32)sum);
	__builtin_memcpy(&w.hdr[16], &csum, 2);
	return bpf_xdp_store_bytes(ctx, off, w.hdr, len);
}

static __always_inline void splice_translate(struct xdp_md *ctx, struct pkt *p,
					     const struct splice *sp, int dir)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;

	if (th && (void *)(th + 1) <= p->data_end)
		splice_xlate(ctx, (void *)th - data, th->doff * 4, sp, dir);
}

#endif
