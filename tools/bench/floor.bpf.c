// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Floor programs for make bench: what any XDP load balancer must at least spend. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lib/parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, __u32);
} floor_flows SEC(".maps");

static __always_inline void swap_macs(struct ethhdr *eth)
{
	unsigned char tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

SEC("xdp")
int floor_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int floor_parse_swap(struct xdp_md *ctx)
{
	struct pkt p = {};

	if (parse_packet(ctx, &p) < 0)
		return XDP_PASS;
	swap_macs(p.eth);
	return XDP_TX;
}

SEC("xdp")
int floor_parse_lookup_swap(struct xdp_md *ctx)
{
	struct pkt p = {};

	if (parse_packet(ctx, &p) < 0)
		return XDP_PASS;
	if (!bpf_map_lookup_elem(&floor_flows, &p.key))
		return XDP_PASS;
	swap_macs(p.eth);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
