/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Every map limpet's XDP program uses, pinned by name under the instance's directory. */
#ifndef LIMPET_BPF_MAPS_H
#define LIMPET_BPF_MAPS_H

#include <limpet/limpet.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LIMPET_MAX_VIPS * 2);
	__type(key, struct vip_key);
	__type(value, struct vip_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_VIPS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_BACKENDS SEC(".maps");

/* Inner tables differ in size per VIP (BPF_F_INNER_MAP); the slot swap is atomic. The control
 * plane writes a new one by mapping it into memory (BPF_F_MMAPABLE): a copy, not 65,537 updates.
 */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_MAGLEV_M_DEFAULT);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LIMPET_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_table);
} MAP_NAME_MAGLEV SEC(".maps");

/* Established connections: never evicted, so churn and floods cannot break one. Entries leave
 * when the connection closes (to halfopen) or when the sweeper finds them idle. Full: a new
 * connection stays in halfopen (counted, event flows_full).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LIMPET_MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_FLOWS SEC(".maps");

/* Connections not (or no longer) established: half-open, binding, closed. A SYN flood churns
 * this table only.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LIMPET_MAX_HALFOPEN);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_HALFOPEN SEC(".maps");

/* Written by the control plane: a backend endpoint → the VIPs behind which it serves. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LIMPET_MAX_BACKENDS);
	__type(key, struct rev_key);
	__type(value, struct rev_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_REVERSE SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LIMPET_MAX_AFFINITY);
	__type(key, struct affinity_key);
	__type(value, struct affinity_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_AFFINITY SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LIMPET_MAX_FRAGS);
	__type(key, struct frag_key);
	__type(value, struct frag_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_FRAGS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct limpet_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_VIP_STATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct limpet_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_BACKEND_STATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_REASONS_CAP); /* room for new reasons: upgrades keep the pin */
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_REASONS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_TC_REASONS_CAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_TC_REASONS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct limpet_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_CONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct token_spec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_TOKENS SEC(".maps");

/* DSR per VIP: an ipip VIP's outer source (docs/design.md §4.3). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct dsr_spec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_DSR SEC(".maps");

/* Which destination addresses can be no VIP's (limpet.h, LIMPET_VIP_FILTER_BITS): a word each. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_VIP_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_VIP_FILTER SEC(".maps");

/* Health checks per VIP: the control plane's and the daemon's; pinned so they outlive both. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LIMPET_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct check_spec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_CHECKS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIMPET_EVENTS_CAP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LIMPET_MAX_PENDING);
	__type(key, struct flow_key);
	__type(value, struct pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_PENDING SEC(".maps");

/* Per-CPU room for a first segment (the BPF stack has 512 bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_SCRATCH SEC(".maps");

/* Written by the loader: the devices XDP may redirect into (attached in native mode, so their
 * drivers take XDP frames). A next hop elsewhere is left to the kernel. The kernel marks a
 * devmap read-only for programs (BPF_F_RDONLY_PROG), which the loader matches when it reuses
 * the pin.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, LIMPET_MAX_DEVS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_TX_DEVS SEC(".maps");

/* Written by the loader only: which devices this instance is attached to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LIMPET_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct dev_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} MAP_NAME_DEVS SEC(".maps");

#endif
