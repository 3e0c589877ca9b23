/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* on-down reset (docs/design.md §5.4): a client's packet of a flow whose backend is down is
 * answered in place with a RST from the VIP, so the client reconnects at once — to a healthy
 * backend — instead of waiting out TCP's timeouts. The flow is forgotten.
 */
#ifndef LIMPET_BPF_RESET_H
#define LIMPET_BPF_RESET_H

#include "parse.h"
#include "reply.h"
#include "flow.h"

/* The RST answers what the client acknowledged: seq = its ACK (RFC 9293 §3.10.7.1, and exactly
 * RCV.NXT, so RFC 5961 accepts it), no payload, no options.
 */
static __always_inline int reset_reply(struct xdp_md *ctx, struct pkt *p, const int v6)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr *th = p->l4;
	__u8 out[20] = {};
	struct tcphdr *rh = (struct tcphdr *)out;

	if (!th || (void *)(th + 1) > p->data_end || !th->ack || th->rst || th->syn)
		return LIMPET_R_DROP_ABSORBED;
	if (!v6 ? !p->ip4 || (p->ip4->ihl & 0xf) != 5 : !p->ip6 || p->ip6->nexthdr != IPPROTO_TCP)
		return LIMPET_R_DROP_ABSORBED; /* IP options, extension headers: not answered */
	rh->source = th->dest;
	rh->dest = th->source;
	rh->seq = th->ack_seq;
	rh->doff = 5;
	rh->rst = 1;
	if (reply_in_place(ctx, p, v6, out, sizeof(out), (void *)th - data))
		return LIMPET_R_DROP_ABSORBED;
	flow_forget(&p->key);
	return LIMPET_R_TX_RESET;
}

#endif
