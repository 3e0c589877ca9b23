// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* A pass-through XDP program for veth peers in testbeds: frames redirected into a veth are
 * delivered only when its peer runs XDP.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int limpet_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
