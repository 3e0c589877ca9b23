// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Fault injection for limpet's testbeds (this kernel has no netem): random loss on a device,
 * both ways, and a backend that ignores its first SYNs.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef LOSS_PERCENT
#define LOSS_PERCENT 3
#endif
#ifndef DROP_SYNS
#define DROP_SYNS 2
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lossy_counts SEC(".maps"); /* [0] packets dropped, [1] SYNs dropped */

static __always_inline void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&lossy_counts, &i);

	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline int lose(void)
{
	if (bpf_get_prandom_u32() % 100 >= LOSS_PERCENT)
		return 0;
	count(0);
	return 1;
}

SEC("xdp")
int xdp_lossy(struct xdp_md *ctx)
{
	return lose() ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int tc_lossy(struct __sk_buff *skb)
{
	return lose() ? TC_ACT_SHOT : TC_ACT_OK;
}

/* The first DROP_SYNS pure SYNs that arrive are dropped. ("classifier": iproute2 picks a
 * program by section name, and tc_lossy has "tc".)
 */
SEC("classifier")
int tc_drop_syns(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct tcphdr *th = (void *)(iph + 1);
	__u32 one = 1;
	__u64 *c;

	if ((void *)(th + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->protocol != IPPROTO_TCP || iph->ihl != 5 || !th->syn || th->ack)
		return TC_ACT_OK;
	c = bpf_map_lookup_elem(&lossy_counts, &one);
	if (!c || *c >= DROP_SYNS)
		return TC_ACT_OK;
	__sync_fetch_and_add(c, 1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
