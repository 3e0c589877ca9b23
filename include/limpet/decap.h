/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The backend-side decapsulator's maps and counters, shared by its BPF program and `limpet decap`. */
#ifndef LIMPET_DECAP_H
#define LIMPET_DECAP_H

#include <linux/types.h>

#define LIMPET_DECAP_PIN_ROOT "/sys/fs/bpf/limpet-decap"
#define LIMPET_DECAP_MAX_VIPS 1024
#define MAP_NAME_DECAP_VIPS decap_vips
#define MAP_NAME_DECAP_REASONS decap_reasons
#define LIMPET_DECAP_PROG_NAME limpet_decap
#define LIMPET_DECAP_TC_NAME limpet_decap_tc
#define LIMPET_DECAP_TCM_NAME limpet_tcdecap /* mode tc: the whole decapsulator at TC ingress */
#define LIMPET_DECAP_PIN_PROG "prog_decap"
#define LIMPET_DECAP_TC_HANDLE 0x4c4d /* its TC ingress filter, beside limpet's own */
#define LIMPET_DECAP_TC_PRIO 2
#define LIMPET_DECAP_MODE_TC 3 /* decap attach mode tc: beside LIMPET_XDP_NATIVE (1) and _SKB (2) */
#define LIMPET_DECAP_REASONS_CAP 32

/* A VIP this backend serves: the inner destination a packet must have to be unwrapped. */
struct decap_key {
	__u32 addr[4]; /* IPv4: the first word, the rest zero */
	__u8 family;   /* 4 or 6 */
	__u8 pad[3];
};
_Static_assert(sizeof(struct decap_key) == 20, "decap_key layout");

/* What the decapsulator did with a packet: one per packet (decap_reasons). */
enum limpet_decap_reason {
	LIMPET_DECAP_NONE = 0,
	LIMPET_DECAP_PASS_OTHER,    /* not IPIP/IP6IP6: untouched */
	LIMPET_DECAP_PASS_NOT_VIP,  /* encapsulated, but not for a configured VIP: untouched */
	LIMPET_DECAP_PASS_BAD,      /* truncated or inconsistent headers: untouched */
	LIMPET_DECAP_DELIVER,       /* unwrapped, given to the local stack */
	LIMPET_DECAP_SECOND_TX,     /* second chance: no socket here, sent on to the previous owner */
	LIMPET_DECAP_SECOND_STACK,  /* second chance, left to the TC step (or the kernel) */
	LIMPET_DECAP_DROP,          /* could not be unwrapped (no room to move headers) */
	LIMPET_DECAP_SECOND_NEIGH,  /* TC step: a second_stack packet sent on, next hop resolved (lib/neigh.h) */
	LIMPET_DECAP_MAX,
};
_Static_assert(LIMPET_DECAP_MAX <= LIMPET_DECAP_REASONS_CAP, "decap_reasons map too small");

#define LIMPET_DECAP_REASON_NAMES                                                                 \
	{ "none", "pass_other", "pass_not_vip", "pass_bad", "deliver", "second_tx",               \
	  "second_stack", "drop", "second_neigh" }

#endif
