/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* XDP → TC: a frame XDP cannot address itself (its next hop's neighbour unresolved, a device
 * without XDP frames, a FIB that answers nothing) is passed with struct limpet_neigh_meta in its
 * metadata, and the TC ingress step sends it with bpf_redirect_neigh, the kernel resolving the
 * neighbour (docs/design.md §4.3, §4.4). Used by limpet and by the backend decap.
 */
#ifndef LIMPET_BPF_NEIGH_H
#define LIMPET_BPF_NEIGH_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <limpet/limpet.h>

/* the families of struct limpet_neigh_meta and bpf_fib_lookup (<sys/socket.h> is not BPF's) */
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Mark the frame: out ifindex to nh (family 0: to wherever the kernel routes its destination).
 * 0, or -1: no room for the metadata.
 */
static __always_inline int neigh_mark(struct xdp_md *ctx, __u32 ifindex, __u32 family,
				      const __u32 *nh)
{
	struct limpet_neigh_meta *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return -1;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return -1;
	m->magic = LIMPET_META_NEIGH;
	m->ifindex = ifindex;
	m->family = family;
	if (nh)
		__builtin_memcpy(m->nh, nh, 16);
	return 0;
}

static __always_inline int neigh_marked(struct __sk_buff *skb)
{
	struct limpet_neigh_meta *m = (void *)(long)skb->data_meta;

	return (void *)(m + 1) <= (void *)(long)skb->data && m->magic == LIMPET_META_NEIGH;
}

/* The verdict for a marked frame. The mark is used up here: the kernel keeps an skb's metadata
 * through a bridge and a veth into another namespace, where a backend's decap (or another
 * limpet) would otherwise read it again and send the frame out a device of the wrong host.
 */
static __always_inline int neigh_send(struct __sk_buff *skb)
{
	struct limpet_neigh_meta *m = (void *)(long)skb->data_meta;
	struct bpf_redir_neigh nh = {};

	if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != LIMPET_META_NEIGH)
		return TC_ACT_SHOT;
	m->magic = 0;
	if (!m->family)
		return bpf_redirect_neigh(m->ifindex, NULL, 0, 0);
	nh.nh_family = m->family;
	__builtin_memcpy(nh.ipv6_nh, m->nh, 16);
	return bpf_redirect_neigh(m->ifindex, &nh, sizeof(nh), 0);
}

#endif
