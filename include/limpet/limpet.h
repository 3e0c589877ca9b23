/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Definitions shared by limpet's BPF programs and its userspace: one copy only. */
#ifndef LIMPET_LIMPET_H
#define LIMPET_LIMPET_H

#include <linux/types.h>

#ifndef LIMPET_MAX_VIPS
#define LIMPET_MAX_VIPS 256
#endif
#ifndef LIMPET_MAX_BACKENDS
#define LIMPET_MAX_BACKENDS 4096 /* all VIPs together; ids are indexes */
#endif
/* Table sizes compiled into the object; the loader sets the real ones when it creates an
 * instance (limpet attach … flows N halfopen N affinity N, or a default from the machine's memory).
 */
#ifndef LIMPET_MAX_FLOWS
#define LIMPET_MAX_FLOWS 262144
#endif
#ifndef LIMPET_MAX_HALFOPEN
#define LIMPET_MAX_HALFOPEN 65536
#endif
#ifndef LIMPET_MAX_AFFINITY
#define LIMPET_MAX_AFFINITY 262144
#endif
#ifndef LIMPET_MAX_FRAGS
#define LIMPET_MAX_FRAGS 8192
#endif
#define LIMPET_MAX_DEVS 64
#define LIMPET_MAX_WEIGHT 1000
#define LIMPET_MAGLEV_M_DEFAULT 65537
#define LIMPET_MAGLEV_M_MAX 1048573 /* largest prime below 2^20 */
#define LIMPET_AFFINITY_TTL_DEFAULT 1800
#define LIMPET_NO_BACKEND 0xffffffffu
/* last_seen is refreshed at most this often, to keep the hot path read-mostly */
#define LIMPET_TOUCH_NS 1000000000ULL
/* a cached next hop is revalidated through the FIB this often */
#define LIMPET_NEXTHOP_TTL_NS 1000000000ULL

/* Map names: BPF declares the maps under these names, userspace opens the pins by them. */
#define MAP_NAME_VIPS vips
#define MAP_NAME_BACKENDS backends
#define MAP_NAME_MAGLEV maglev
#define MAP_NAME_FLOWS flows
#define MAP_NAME_HALFOPEN halfopen
#define MAP_NAME_REVERSE reverse
#define MAP_NAME_AFFINITY affinity
#define MAP_NAME_FRAGS frags
#define MAP_NAME_VIP_STATS vip_stats
#define MAP_NAME_BACKEND_STATS backend_stats
#define MAP_NAME_REASONS reasons
#define MAP_NAME_TC_REASONS tc_reasons
#define MAP_NAME_CONFIG config
#define MAP_NAME_DEVS devs
#define MAP_NAME_TX_DEVS tx_devs
#define MAP_NAME_TOKENS tokens
#define MAP_NAME_EVENTS events
#define MAP_NAME_CHECKS checks
#define MAP_NAME_PENDING pending
#define MAP_NAME_SCRATCH scratch
#define MAP_NAME_DSR dsr
#define MAP_NAME_VIP_FILTER vip_filter
#define LIMPET_TC_PROG_NAME limpet_tc
#define LIMPET_PIN_TC_PROG "prog_tc"
#define LIMPET_PIN_JUMP "jump" /* the XDP tail-call table: emptied by the kernel if unpinned */
#define LIMPET_PROG_NAME limpet_xdp
#define LIMPET_PIN_ROOT "/sys/fs/bpf/limpet"
#define LIMPET_PIN_PROG "prog_xdp"

#define LIMPET_STR_(x) #x
#define LIMPET_STR(x) LIMPET_STR_(x)

enum limpet_family {
	LIMPET_AF_INET = 4,
	LIMPET_AF_INET6 = 6,
};

enum limpet_policy {
	LIMPET_POLICY_IP_HASH = 0,
	LIMPET_POLICY_FIVE_TUPLE = 1,
	LIMPET_POLICY_TOKEN = 2, /* session token; see struct token_spec */
	LIMPET_POLICY_MAX,
};

/* How packets reach a VIP's backends (docs/design.md §4.3). */
enum limpet_mode {
	LIMPET_MODE_NAT = 0,   /* destination rewritten, replies come back through limpet */
	LIMPET_MODE_L2DSR = 1, /* only the destination MAC rewritten: backends on limpet's segment */
	LIMPET_MODE_IPIP = 2,  /* IPv4 in IPv4 / IPv6 in IPv6 toward the backend */
	LIMPET_MODE_MAX,
};
#define LIMPET_MODE_NAMES { "nat", "l2dsr", "ipip" }

enum limpet_backend_state {
	LIMPET_BE_FREE = 0, /* slot unused */
	LIMPET_BE_ACTIVE = 1,
	LIMPET_BE_DRAINING = 2, /* keeps its flows and affinities, gets no new client */
};

/* A backend's health (docs/design.md §5.4): unchecked until its VIP has a check. */
enum limpet_health {
	LIMPET_HEALTH_UNCHECKED = 0,
	LIMPET_HEALTH_UP = 1,
	LIMPET_HEALTH_DOWN = 2,
};

enum limpet_health_mode {
	LIMPET_HM_AUTO = 0, /* the daemon's checks decide */
	LIMPET_HM_UP = 1,   /* set by hand: up whatever the checks say */
	LIMPET_HM_DOWN = 2, /* set by hand: down */
};

enum limpet_check_type {
	LIMPET_CHECK_NONE = 0,
	LIMPET_CHECK_TCP = 1,  /* a TCP connect */
	LIMPET_CHECK_HTTP = 2, /* GET PATH, a status in [expect_lo, expect_hi] */
};

#define LIMPET_CHECK_PATH_MAX 64
#define LIMPET_CHECK_INTERVAL_DEFAULT 2
#define LIMPET_CHECK_TIMEOUT_DEFAULT 1
#define LIMPET_CHECK_RISE_DEFAULT 2
#define LIMPET_CHECK_FALL_DEFAULT 3

/* A VIP's health check (checks map, by vip_id): run by the daemon, read by nothing in BPF. */
struct check_spec {
	__u8 type; /* enum limpet_check_type */
	__u8 rise, fall;
	__u8 on_down_reset; /* from the grammar; the VIP's flags hold it (LIMPET_VIP_F_ON_DOWN_RESET) */
	__u16 interval_s, timeout_s;
	__u16 port; /* 0: each backend's own port */
	__u16 expect_lo, expect_hi;
	__u16 slowstart_s; /* a backend back up gets its share of new clients over this long */
	char path[LIMPET_CHECK_PATH_MAX]; /* http: what to GET */
};
_Static_assert(sizeof(struct check_spec) == 80, "check_spec layout");

/* limpet_xdp's jump table: the programs it tail-calls, one per family and job. */
enum limpet_jump {
	LIMPET_JUMP_SYNPROXY4 = 0,
	LIMPET_JUMP_SYNPROXY6 = 1,
	LIMPET_JUMP_RESET4 = 2,
	LIMPET_JUMP_RESET6 = 3,
	LIMPET_JUMP_DSR4 = 4,
	LIMPET_JUMP_DSR6 = 5,
	LIMPET_JUMP_ICMP4 = 6,
	LIMPET_JUMP_ICMP6 = 7,
	LIMPET_JUMP_MAX,
};

/* Why the XDP program passed, dropped or forwarded a packet: exactly one per packet (reasons
 * map), so they add up to the packets it saw. 0 is no reason: functions return it for "go on".
 */
enum limpet_reason {
	LIMPET_R_NONE = 0,
	LIMPET_R_FWD_REDIRECT,     /* rewritten, sent out another device */
	LIMPET_R_FWD_TX,           /* rewritten, sent back out the same device */
	LIMPET_R_FWD_STACK,        /* rewritten, for the TC step to send (no neighbour yet, a device without XDP frames), or the kernel's (no route) */
	LIMPET_R_PASS_NOT_IP,      /* ARP, LLDP, … */
	LIMPET_R_PASS_NOT_VIP,     /* IP traffic that is neither for a VIP nor a reply */
	LIMPET_R_PASS_L4_OTHER,    /* ICMP and other protocols to a VIP address */
	LIMPET_R_PASS_TTL,         /* TTL/hop limit would expire: the kernel sends the ICMP */
	LIMPET_R_PASS_FRAG,        /* a fragment limpet cannot place (policy or unknown first fragment) */
	LIMPET_R_PASS_BAD_L2,      /* truncated Ethernet/VLAN header */
	LIMPET_R_PASS_BAD_L3,      /* truncated or inconsistent IP header */
	LIMPET_R_PASS_BAD_L4,      /* truncated TCP/UDP header */
	LIMPET_R_PASS_IPV6_EXT,    /* IPv6 extension chain too long or unknown */
	LIMPET_R_DROP_NO_BACKEND,  /* VIP without an active backend */
	LIMPET_R_DROP_BAD_BACKEND, /* Maglev slot points at a missing backend (table being rebuilt) */
	LIMPET_R_SYNACK,           /* token VIP: SYN answered with a SYN cookie (XDP_TX) */
	LIMPET_R_TO_TC,            /* token VIP: first payload or binding step, for the TC program */
	LIMPET_R_DROP_ABSORBED,    /* token VIP: the handshake's bare ACK, or no state to act on */
	LIMPET_R_PASS_STALE,       /* a backend's SYN-ACK on the 4-tuple of a closed flow: not limpet's */
	LIMPET_R_DROP_TAIL_CALL,   /* the SYN-cookie responder could not be called (jump table empty) */
	LIMPET_R_DROP_BAD_SYN,     /* token VIP: a SYN with a bad checksum or lengths: no cookie spent */
	LIMPET_R_PASS_IPV6_RH,     /* IPv6 Routing header with segments left: not for limpet yet */
	LIMPET_R_TX_RESET,         /* a flow's backend is down (on-down reset): the client gets a RST */
	LIMPET_R_DROP_TOO_BIG,     /* DSR: encapsulated it would exceed the path MTU */
	LIMPET_R_DROP_DSR_PATH,    /* DSR: no usable path to the backend (route, neighbour, device) */
	LIMPET_R_TX_TOO_BIG,       /* DSR: too big once encapsulated: answered with ICMP frag needed / packet too big */
	LIMPET_R_MAX,
};

/* The counter maps are larger than their enums, so a limpet with new reasons or events can
 * still take over an instance's pinned maps (libbpf reuses a pin only of the same size).
 */
#define LIMPET_REASONS_CAP 64
#define LIMPET_TC_REASONS_CAP 32
#define LIMPET_EVENTS_CAP 64
_Static_assert(LIMPET_R_MAX <= LIMPET_REASONS_CAP, "reasons map too small");

/* Keep in the order of enum limpet_reason: names for stats output and tests. */
#define LIMPET_REASON_NAMES                                                                       \
	{ "none", "fwd_redirect", "fwd_tx", "fwd_stack", "pass_not_ip", "pass_not_vip",           \
	  "pass_l4_other", "pass_ttl", "pass_frag", "pass_bad_l2", "pass_bad_l3",                 \
	  "pass_bad_l4", "pass_ipv6_ext", "drop_no_backend", "drop_bad_backend", "synack",        \
	  "to_tc", "drop_absorbed", "pass_stale", "drop_tail_call", "drop_bad_syn",       \
	  "pass_ipv6_rh", "tx_reset", "drop_too_big", "drop_dsr_path", "tx_too_big" }

/* Why the TC program let a packet go, changed it or dropped it: one per packet (tc_reasons). */
enum limpet_tc_reason {
	LIMPET_TC_NONE = 0,
	LIMPET_TC_PASS,            /* not a binding step: untouched, the kernel's */
	LIMPET_TC_BIND_SYN,        /* a first data segment became the backend SYN (or its resend) */
	LIMPET_TC_DELIVER,         /* a backend SYN-ACK became the held segment, sent back to it */
	LIMPET_TC_CLIENT_RST,      /* a backend's RST while binding became a RST to the client */
	LIMPET_TC_DROP_COOKIE,     /* a first segment whose SYN cookie does not check */
	LIMPET_TC_DROP_NO_STATE,   /* a binding step without its binding or held segment */
	LIMPET_TC_DROP_SPLICED,    /* a spliced flow's packet that XDP did not translate */
	LIMPET_TC_DROP_NO_BACKEND, /* no backend to bind the client to */
	LIMPET_TC_DROP_REWRITE,    /* the packet could not be resized or rewritten */
	LIMPET_TC_DROP_BAD_CSUM,   /* a first segment with a bad IPv4 header or TCP checksum */
	LIMPET_TC_NEIGH,           /* a frame XDP passed (fwd_stack): sent, the kernel resolving its next hop */
	LIMPET_TC_MAX,
};

_Static_assert(LIMPET_TC_MAX <= LIMPET_TC_REASONS_CAP, "tc_reasons map too small");

#define LIMPET_TC_REASON_NAMES                                                                    \
	{ "none", "tc_pass", "tc_bind_syn", "tc_deliver", "tc_client_rst", "tc_drop_cookie",      \
	  "tc_drop_no_state", "tc_drop_spliced", "tc_drop_no_backend", "tc_drop_rewrite",      \
	  "tc_drop_bad_csum", "tc_neigh" }

/* Addresses are 16 bytes; IPv4 uses the first 4 and zeroes the rest. Ports in network order. */
struct vip_key {
	__u32 addr[4];
	__be16 port; /* 0 = every port */
	__u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family; /* enum limpet_family */
};
_Static_assert(sizeof(struct vip_key) == 20, "vip_key layout");

/* The VIP filter: one bit per bucket of destination addresses (limpet_vip_bucket). A set bit says
 * no VIP's address falls in the bucket, so a packet there skips the VIP lookups (a NAT reply, the
 * host's other traffic); a clear bit, or a map never written, looks the VIP up as before.
 */
#define LIMPET_VIP_FILTER_BITS 4096
#define LIMPET_VIP_FILTER_WORDS (LIMPET_VIP_FILTER_BITS / 64)
_Static_assert(LIMPET_VIP_FILTER_BITS == 1 << 12, "limpet_vip_bucket (hash.h) gives 12 bits");

struct vip_meta {
	__u32 vip_id;
	__u8 policy; /* enum limpet_policy */
	__u8 mode;   /* enum limpet_mode */
	__u8 prefix4;
	__u8 prefix6;
	__u32 affinity_ttl; /* seconds; 0 = no affinity */
	__u32 maglev_m;     /* size of this VIP's Maglev table */
	__u32 flags;
	__u32 src_mask[4]; /* prefix/prefix6 as a mask, computed once by the control plane */
};
_Static_assert(sizeof(struct vip_meta) == 36, "vip_meta layout");

struct backend {
	__u32 addr[4];
	__be16 port; /* 0 = keep the client's destination port (port-0 VIPs) */
	__u8 family;
	__u8 state; /* enum limpet_backend_state */
	__u32 weight;
	__u32 vip_id;
	__u8 health;      /* enum limpet_health: a down backend takes no new client */
	__u8 health_mode; /* enum limpet_health_mode: the checks', or set by hand */
	__u16 ramp_pct;   /* slowstart: 1-99 % of its table slots so far; 0 = all */
};
_Static_assert(sizeof(struct backend) == 32, "backend layout");

/* A connection as the client sees it (client → VIP): the key of flows and halfopen. */
struct flow_key {
	__u32 src[4];
	__u32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct flow_key) == 40, "flow_key layout");

/* Replies find their flow through the backend's address and port: the reverse map names the
 * VIPs (at most LIMPET_REV_VIPS) that send clients to that endpoint, so the client's key of a
 * reply is (client, VIP) for one of them. No per-connection reverse entry exists that could be
 * evicted apart from its flow. A port-0 VIP's backends keep the client's port (key port 0).
 */
#define LIMPET_REV_VIPS 4
struct rev_key {
	__u32 addr[4]; /* the backend's address */
	__be16 port;   /* its port; 0 for a port-0 VIP's backends */
	__u8 proto;
	__u8 family;
};
_Static_assert(sizeof(struct rev_key) == 20, "rev_key layout");

struct rev_vip {
	__u32 addr[4];
	__be16 port; /* 0: the reply's own source port */
	__u16 pad;
	__u32 vip_id;
};
_Static_assert(sizeof(struct rev_vip) == 24, "rev_vip layout");

struct rev_val {
	__u32 n;
	__u32 pad;
	struct rev_vip v[LIMPET_REV_VIPS];
};
_Static_assert(sizeof(struct rev_val) == 8 + 24 * LIMPET_REV_VIPS, "rev_val layout");

/* The next hop a flow's packets leave by, from bpf_fib_lookup, reused until it expires (at most
 * LIMPET_NEXTHOP_TTL_NS) so an established flow pays for no FIB lookup per packet.
 */
struct nexthop {
	__u64 expires; /* 0 = none */
	__u32 ifindex;
	__u32 in_ifindex; /* valid for packets arriving on this device only */
	__u8 dmac[6];
	__u8 smac[6];
	__u32 flags; /* LIMPET_NH_* */
};
_Static_assert(sizeof(struct nexthop) == 32, "nexthop layout");
/* The next hop is a device limpet cannot send XDP frames to (a bridge, a device attached in skb
 * mode or not at all): the rewritten packet goes to the kernel, which forwards it.
 */
#define LIMPET_NH_STACK 0x1

/* A token-routed TCP connection limpet spliced (docs/design.md §6): client and backend ISNs differ. */
enum limpet_splice_state {
	LIMPET_SP_NONE = 0,    /* plain NAT flow */
	LIMPET_SP_BINDING,     /* backend SYN sent, waiting for its SYN-ACK */
	LIMPET_SP_ESTABLISHED,
};

struct splice {
	__u32 delta;  /* lb_isn - b_isn: backend seq += delta, client ack -= delta */
	__u32 ts_off; /* backend TSval -= ts_off toward the client, client TSecr += ts_off */
	__u32 c_isn;  /* the client's ISN: the backend SYN reuses it */
	__u32 lb_isn; /* the cookie limpet answered the client's SYN with */
	__u16 mss;    /* the client's MSS */
	__u8 state;   /* enum limpet_splice_state */
	__u8 ws_c;    /* the client's window scale; 0xff: none */
	__u8 ws_b;    /* the backend's window scale */
	__u8 ws_lb;   /* the window scale limpet announced to the client */
	__u8 opts;    /* LIMPET_SP_OPT_* the client offered */
	__u8 fin;     /* LIMPET_FIN_*: how the connection closed (flow entries, every TCP flow) */
};
_Static_assert(sizeof(struct splice) == 24, "splice layout");
/* A first segment held while the backend connection opens (pending map, keyed by the client's
 * flow_key). limpet announces an MSS of at most LIMPET_PENDING_MAX, so a first segment fits.
 */
#define LIMPET_PENDING_MAX 1460
#define LIMPET_MAX_PENDING 8192
struct pending {
	__u32 len;
	__u32 tsval; /* the client's TSval on that segment */
	__u16 win;   /* its window field */
	__u16 pad;
	__u32 pad2;
	__u8 data[LIMPET_PENDING_MAX + 4]; /* zero past len, for 4-byte checksum chunks */
};
_Static_assert(sizeof(struct pending) == 1480, "pending layout");

/* TCP close tracking in flow_val.sp.fin: a closed flow is one the sweeper removes soon, and a
 * backend's SYN-ACK on its 4-tuple belongs to some other connection (the client reused its port
 * to reach the backend directly). A client SYN on the tuple opens the flow again.
 */
#define LIMPET_FIN_CLIENT 0x1
#define LIMPET_FIN_BACKEND 0x2
#define LIMPET_FIN_RST 0x4
#define limpet_flow_closed(fin) (((fin) & LIMPET_FIN_RST) || ((fin) & 3) == 3)

#define LIMPET_SP_OPT_SACK 0x1
#define LIMPET_SP_OPT_TS 0x2
#define LIMPET_SP_OPT_WS 0x4
#define LIMPET_SP_SYN_DATA 0x8 /* the backend SYN carried the first segment */

/* Who has spoken on a half-open flow (flow_val.seen). A flow is established, and moves from
 * the evictable halfopen table to flows, once the client speaks after the backend did: for TCP
 * the client's ACK of the backend's SYN-ACK (which a spoofed source never sees), for UDP any
 * datagram after a reply.
 */
#define LIMPET_SEEN_BACKEND 0x1
/* An ACK this far past the backend's ISN still proves the client saw the SYN-ACK (its own
 * handshake ACK was lost); a blind guess hits 1 in 65,536.
 */
#define LIMPET_ACK_WINDOW 65536

/* A DSR flow's send cache, beside its nh (docs/design.md §4.3): what the FIB and the outer
 * source cost once, kept while nh is fresh.
 */
struct dsr_cache {
	__u32 src[4]; /* ipip: the outer source */
	__u32 hash;   /* the flow's hash (outer source bits, IPv6 flow label) */
	__u32 ok_len; /* the largest outer datagram the FIB's MTU check let through */
	__u32 pad[2];
};
_Static_assert(sizeof(struct dsr_cache) == sizeof(struct nexthop), "dsr_cache shares nh_rev's room");

struct flow_val {
	__u32 backend_id;
	__u32 vip_id;
	__u64 last_seen;       /* CLOCK_MONOTONIC_COARSE ns */
	struct nexthop nh;     /* toward the backend */
	union {
		struct nexthop nh_rev; /* NAT: toward the client */
		struct dsr_cache dc;   /* DSR: limpet never sends toward the client */
	};
	__u32 tok_h1, tok_h2;  /* token VIPs: the affinity key, so a live session keeps it fresh */
	struct splice sp;
	union {
		__u32 b_ack;  /* TCP NAT flows, half-open: the backend's ISN + 1 */
		__u32 second; /* ipip flows: the second-chance backend's id + 1; 0: none */
	};
	__u8 seen;             /* LIMPET_SEEN_* */
	__u8 pad[3];
};
_Static_assert(sizeof(struct flow_val) == 120, "flow_val layout");

enum limpet_affinity_kind {
	LIMPET_AFF_SRC_IP = 1, /* source address masked to the VIP's prefix */
	LIMPET_AFF_TOKEN = 2,  /* key[0..1]: two 32-bit hashes of the token; never the token */
};

/* Where a VIP's session token is. */
enum limpet_token_source {
	LIMPET_TOK_NONE = 0,
	LIMPET_TOK_QUERY = 1,  /* ?NAME=value or &NAME=value in the request target */
	LIMPET_TOK_COOKIE = 2, /* Cookie: NAME=value */
	LIMPET_TOK_HEADER = 3, /* NAME: value */
	LIMPET_TOK_UDP = 4,    /* bytes [offset, offset + len) of every UDP payload */
};

#define LIMPET_TOKEN_NAME_MAX 32
#define LIMPET_TOKEN_MAX 64      /* token bytes that count; longer tokens are cut there */
#define LIMPET_TOKEN_UDP_OFFSET_MAX 1400

/* tokens map, indexed by vip_id */
struct token_spec {
	__u8 source;   /* enum limpet_token_source */
	__u8 name_len;
	__u8 fallback; /* policy when the token is missing: ip-hash or five-tuple */
	__u8 pad;
	__u16 offset;  /* udp */
	__u16 len;     /* udp */
	char name[LIMPET_TOKEN_NAME_MAX];
};
_Static_assert(sizeof(struct token_spec) == 40, "token_spec layout");

/* dsr map, indexed by vip_id: how an ipip VIP's outer header is addressed. The outer source is
 * src with its low (128 or 32 − src_plen) bits taken from the flow's hash, so a backend's NIC
 * spreads flows over its queues; src_plen 0: the host's own address toward the backend.
 */
struct dsr_spec {
	__u32 src[4];
	__u8 src_plen;
	__u8 pad[3];
};
_Static_assert(sizeof(struct dsr_spec) == 20, "dsr_spec layout");

/* A frame XDP could not address (its next hop's neighbour unresolved, a device without XDP
 * frames): XDP passes it with this in its metadata, and the TC step has the kernel send it to
 * nh out ifindex (family 0: where its destination routes), resolving the neighbour. The kernel
 * would not forward it itself: an ipip frame's source is the host's own address, an l2dsr
 * frame's destination a local VIP, and a backend's decap hand-on needs no forwarding
 * (bpf/lib/neigh.h).
 */
#define LIMPET_META_NEIGH 0x4c4e4748u /* "LNGH" */
struct limpet_neigh_meta {
	__u32 magic;
	__u32 ifindex;
	__u32 family; /* AF_INET / AF_INET6 */
	__u32 nh[4];
};
_Static_assert(sizeof(struct limpet_neigh_meta) == 28, "neigh meta: XDP metadata is at most 32 bytes");

/* An ipip VIP's Maglev table holds 2 × M slots: [0, M) the owners, [M, 2M) each slot's
 * previous owner (LIMPET_NO_BACKEND: none), for second chance (docs/design.md §4.3).
 */
#define LIMPET_VIP_F_SYN_DATA 0x1    /* token VIP: the first request rides in the backend SYN */
#define LIMPET_VIP_F_FALLBACK_5T 0x2 /* token VIP: no token → five-tuple (else ip-hash) */
#define LIMPET_VIP_F_ON_DOWN_RESET 0x4 /* a down backend's flows: a RST on the client's next packet */

/* Events: counters beside the verdicts, never instead of one (events map). */
enum limpet_event {
	LIMPET_EV_TOKEN_FOUND = 0,
	LIMPET_EV_TOKEN_MISSING,  /* fallback policy used */
	LIMPET_EV_SYNACK_SENT,    /* SYN answered with a cookie */
	LIMPET_EV_COOKIE_OK,
	LIMPET_EV_COOKIE_BAD,     /* dropped, no state */
	LIMPET_EV_ACK_ABSORBED,   /* the handshake's bare ACK: nothing to do until data */
	LIMPET_EV_BIND_STARTED,   /* backend SYN sent */
	LIMPET_EV_BIND_DONE,
	LIMPET_EV_BIND_FAILED,    /* backend refused (RST) */
	LIMPET_EV_SYN_RETRY,      /* first segment retransmitted while binding: SYN resent */
	LIMPET_EV_FLOW_EST,       /* a connection established: half-open → flows */
	LIMPET_EV_FLOWS_FULL,     /* flows full: an established connection stays half-open */
	LIMPET_EV_FRAG_FWD,       /* a later fragment sent where its first fragment went */
	LIMPET_EV_ICMP_FWD,       /* an ICMP error about a VIP flow sent on by its inner header */
	LIMPET_EV_MAX,
};
_Static_assert(LIMPET_EV_MAX <= LIMPET_EVENTS_CAP, "events map too small");

#define LIMPET_EVENT_NAMES                                                                        \
	{ "token_found", "token_missing", "synack_sent", "cookie_ok", "cookie_bad",               \
	  "ack_absorbed", "bind_started", "bind_done", "bind_failed", "syn_retry",            \
	  "flow_established", "flows_full", "frag_fwd", "icmp_fwd" }

struct affinity_key {
	__u32 vip_id;
	__u32 kind; /* enum limpet_affinity_kind */
	__u32 key[4];
};
_Static_assert(sizeof(struct affinity_key) == 24, "affinity_key layout");

struct affinity_val {
	__u32 backend_id;
	__u32 pad;
	__u64 last_seen;
};
_Static_assert(sizeof(struct affinity_val) == 16, "affinity_val layout");

/* Fragments after the first carry no ports: the first one records where the datagram went. */
struct frag_key {
	__u32 src[4];
	__u32 dst[4];
	__u32 id;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct frag_key) == 40, "frag_key layout");

enum limpet_frag_dir {
	LIMPET_FRAG_TO_BACKEND = 1, /* rewrite the destination */
	LIMPET_FRAG_TO_CLIENT = 2,  /* rewrite the source */
	LIMPET_FRAG_L2DSR = 3,      /* DSR to backend_id: the destination MAC */
	LIMPET_FRAG_IPIP = 4,       /* DSR to backend_id: encapsulated */
};

struct frag_val {
	__u32 addr[4]; /* the address to write */
	__u32 dir;     /* enum limpet_frag_dir */
	__u32 backend_id;
	__u32 vip_id;
	__u32 pad;
};
_Static_assert(sizeof(struct frag_val) == 32, "frag_val layout");

struct limpet_stats {
	__u64 packets; /* toward the backend */
	__u64 bytes;
	__u64 new_flows;
	__u64 aff_hits;
	__u64 aff_misses;
	__u64 reply_packets; /* backend → client, reverse-NATed */
	__u64 reply_bytes;
};
_Static_assert(sizeof(struct limpet_stats) == 56, "limpet_stats layout");

/* A record of the map-count iterator (bpf/limpet_count.bpf.c): a map and its entries. */
struct map_count {
	__u32 id;
	__u32 pad;
	__s64 count;
};
_Static_assert(sizeof(struct map_count) == 16, "map_count layout");

struct limpet_config {
	__u32 hash_seed;
	__u32 maglev_m; /* size for tables built from now on */
	__u64 flags;
};
_Static_assert(sizeof(struct limpet_config) == 16, "limpet_config layout");

enum limpet_xdp_mode {
	LIMPET_XDP_NATIVE = 1,
	LIMPET_XDP_SKB = 2,
};

struct dev_info {
	__u32 ifindex;
	__u32 xdp_mode; /* enum limpet_xdp_mode */
	__u32 prog_id;
	__u32 pad;
	char ifname[16];
};
_Static_assert(sizeof(struct dev_info) == 32, "dev_info layout");

#endif
