// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* How many entries each map holds, from the kernel's own per-CPU counters: a bpf_map iterator
 * writes (map id, count) for every map, so limpet status and a metrics scrape learn the tables'
 * fill without walking 10 million flows (docs/design.md §5.3). Loaded, read and closed by
 * user/lib/tables.c; never attached to traffic.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <limpet/limpet.h>

/* The kernel's types, only the fields read here (CO-RE finds them in the running kernel). */
struct seq_file;
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));
struct bpf_map {
	__u32 id;
} __attribute__((preserve_access_index));
struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));

extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym;

SEC("iter/bpf_map")
int limpet_count(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	struct map_count r = {};

	if (!map)
		return 0;
	r.id = map->id;
	r.count = bpf_map_sum_elem_count(map);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
