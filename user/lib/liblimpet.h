/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* limpet's control-plane library: what both CLIs and the tests link. */
#ifndef LIMPET_LIB_H
#define LIMPET_LIB_H

#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include <limpet/limpet.h>
#include <limpet/decap.h>

#define LIMPET_ERR_LEN 256
#define LIMPET_HASH_SEED_DEFAULT 0x6c696d70u /* same on every host: same tables (docs/design.md §3) */

/* ---- addresses (addr.c) ---- */
struct l_addr {
	__u32 a[4]; /* network order; IPv4 in a[0] */
	__u8 family; /* LIMPET_AF_INET / LIMPET_AF_INET6 */
};

int addr_parse(const char *s, struct l_addr *out);
/* "ADDR:PORT/PROTO", "[V6]:PORT/PROTO" */
int vip_parse(const char *s, struct vip_key *out, char *err, size_t errlen);
/* "ADDR[:PORT]", "[V6][:PORT]"; *has_port tells whether a port was given */
int backend_parse(const char *s, struct l_addr *addr, __u16 *port, bool *has_port, char *err,
		  size_t errlen);
const char *addr_str(const __u32 *a, __u8 family, char *buf, size_t len);
/* "10.0.0.1:80" or "[fc00::1]:80" (port in host order) */
const char *endpoint_str(const __u32 *a, __u8 family, __u16 port, char *buf, size_t len);
const char *vip_str(const struct vip_key *k, char *buf, size_t len);
const char *proto_str(__u8 proto);
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
void prefix_mask(__u8 family, unsigned int len, __u32 mask[4]);
bool is_prime(__u32 n);

/* ---- Maglev (maglev.c) ---- */
struct maglev_backend {
	__u32 id;
	__u32 addr[4];
	__u16 port;
	__u8 family;
	__u32 weight;
};
/* Fill table[m] with backend ids; the result depends only on the set of backends and seed. */
int maglev_build(const struct maglev_backend *bs, int n, __u32 m, __u32 seed, __u32 *table);

/* ---- instance: pins, maps, lock (instance.c) ---- */
enum inst_map {
	IM_VIPS, IM_BACKENDS, IM_MAGLEV, IM_FLOWS, IM_HALFOPEN, IM_REVERSE, IM_AFFINITY, IM_FRAGS,
	IM_VIP_STATS, IM_BACKEND_STATS, IM_REASONS, IM_TC_REASONS, IM_CONFIG, IM_DEVS, IM_TX_DEVS, IM_TOKENS, IM_EVENTS, IM_PENDING, IM_CHECKS, IM_DSR, IM_VIP_FILTER, IM_MAX,
};
extern const char *const inst_map_names[IM_MAX];

struct inst {
	char name[64];
	char dir[128];
	int fd[IM_MAX];
	int lock_fd;
};

int inst_name_valid(const char *name);
void inst_dir(const char *name, char *buf, size_t len);
int bpffs_ensure(char *err, size_t errlen);
/* Enter the network namespace /run/netns/NAME (as ip -n does); the host's bpffs stays in view. */
int netns_enter(const char *name, char *err, size_t errlen);
int inst_open(struct inst *in, const char *name, char *err, size_t errlen);
void inst_close(struct inst *in);
int inst_lock(const char *name, char *err, size_t errlen);
struct bpf_object;
/* An instance view over a loaded object's own maps (replay, packet tests); no lock. */
int inst_from_object(struct inst *in, struct bpf_object *obj, char *err, size_t errlen);
/* Stop libbpf pinning obj's maps; then reuse the listed ones from a live instance. */
int obj_private_maps(struct bpf_object *obj, const struct inst *live, const enum inst_map *reuse,
		     int nreuse, char *err, size_t errlen);
void libbpf_quiet(bool verbose);

/* ---- table sizes (tables.c) ---- */
enum table_id { TBL_FLOWS, TBL_HALFOPEN, TBL_AFFINITY, TBL_MAX };
#define LIMPET_TABLE_MIN 1024
#define LIMPET_TABLE_MAX (1u << 26) /* 67,108,864 entries */
extern const char *const table_names[TBL_MAX];
void tables_default(__u32 sizes[TBL_MAX]);
int tables_pinned(const char *dir, __u32 sizes[TBL_MAX]);
struct table_usage {
	__u32 size;
	__u64 used;
	__u64 memory; /* bytes */
};
/* Size, fill and kernel memory of the three tables (fds by enum table_id); ok[t] says which were
 * read. The fill is the kernel's own count of each map's entries (a bpf_map iterator: no walk,
 * whatever the fill), or a batched walk where the kernel has no such count.
 */
void tables_usage(const int fds[TBL_MAX], struct table_usage u[TBL_MAX], bool ok[TBL_MAX]);
/* The entries of the maps ids[0..n) as the kernel counts them (bpf/limpet_count.bpf.c walks
 * the maps, not their entries): counts[i], or -1 for a map not found; 0, or -errno where the
 * kernel cannot (no map iterator or no bpf_map_sum_elem_count: before Linux 6.6).
 */
int map_counts(const __u32 *ids, int n, __s64 *counts);

/* ---- operations (ops.c); all return 0 or -errno with err filled ---- */
struct vip_opts {
	__u8 policy;
	__u8 prefix4, prefix6;
	bool prefix4_set, prefix6_set;
	__u32 affinity_ttl;
	__u32 table_size;
	struct token_spec token; /* policy token */
	bool syn_data;
	struct check_spec check; /* type LIMPET_CHECK_NONE: unchecked */
	__u8 mode;               /* enum limpet_mode */
	struct dsr_spec dsr;     /* mode ipip: encap-source (src_plen 0: the host's address) */
};
int vip_opts_check(const struct vip_key *k, const struct vip_opts *o, char *err, size_t errlen);
int op_vip_add(struct inst *in, const struct vip_key *k, const struct vip_opts *o, char *err,
	       size_t errlen);
int op_vip_del(struct inst *in, const struct vip_key *k, char *err, size_t errlen);
/* Write the VIP filter (limpet.h) from the VIPs, plus extra (a VIP about to be added) if not
 * NULL; 0 or -errno (words written before a failure are right; the rest keep their last state).
 */
int vip_filter_sync(int vips_fd, int filter_fd, const struct vip_key *extra);
int op_backend_add(struct inst *in, const struct vip_key *k, const char *be_spec, __u32 weight,
		   char *err, size_t errlen);
/* A backend to add: its spec (BACKEND of limpetctl), weight and state (active or draining). */
struct be_new {
	const char *spec;
	__u32 weight;
	__u8 state;
};
/* Add n backends to VIP k at once: all are checked before any is written, and the reverse map
 * and the VIP's table are rebuilt once for all of them. Nothing changes on failure; err names
 * the first backend refused.
 */
int op_backends_add(struct inst *in, const struct vip_key *k, const struct be_new *bn, int n,
		    char *err, size_t errlen);
/* A change to one of a VIP's backends: its id (as backends_get has it), new weight and state
 * (active, draining, or FREE: it goes).
 */
struct be_edit {
	__u32 id;
	__u32 weight;
	__u8 state;
};
/* ne edits and n new backends of VIP k as one change (apply makes each VIP's so): all checked
 * before any is written, then one reverse map sync and one table rebuild, so an ipip VIP's slots
 * that moved name the owners they had before it (second chance, design §4.3) — in steps, a slot
 * passed on twice would name a backend that never had its connections. A new backend takes no
 * id freed by the same change while another is free. Nothing changes on failure.
 */
int op_backends_edit(struct inst *in, const struct vip_key *k, const struct be_edit *ed, int ne,
		     const struct be_new *bn, int n, char *err, size_t errlen);
/* Every backend slot by id (LIMPET_MAX_BACKENDS of them; a free one has state FREE), in one
 * batch; 0 or -errno.
 */
int backends_read(struct inst *in, struct backend *bes);
/* The same into an array it allocates (*bes; the caller frees it); NULL on failure. */
int backends_get(struct inst *in, struct backend **bes);
/* How many ids from 0 hold every backend in use (ids are taken lowest first): the highest + 1. */
__u32 backends_span(const struct backend *bes);
int op_backend_set_state(struct inst *in, const struct vip_key *k, const char *be_spec,
			 __u8 state, char *err, size_t errlen);
/* be_spec drained and new_spec added (weight) as one change (op_backends_edit): the drained
 * one's connections keep their second chance through the new one. Nothing changes on failure.
 */
int op_backend_replace(struct inst *in, const struct vip_key *k, const char *be_spec,
		       const char *new_spec, __u32 weight, char *err, size_t errlen);
int op_vip_find(struct inst *in, const struct vip_key *k, struct vip_meta *meta);
/* Backends a VIP's Maglev table of m slots takes: M ≥ 100 × backends keeps it balanced. */
static inline __u32 maglev_backends_max(__u32 m)
{
	return m / 100;
}
/* Every VIP of the instance, in id order (read in batches). */
struct vip_set {
	struct vip_entry {
		struct vip_key k;
		struct vip_meta m;
	} v[LIMPET_MAX_VIPS];
	int n;
};
/* A backend that takes new clients: in its VIP's Maglev table (unless all are down: fail-open),
 * and what makes a VIP worth announcing.
 */
static inline bool backend_takes_clients(const struct backend *be)
{
	return be->state == LIMPET_BE_ACTIVE && be->health != LIMPET_HEALTH_DOWN;
}
int vips_read(struct inst *in, struct vip_set *s);
/* Whether the instance has a VIP (one with no history yet has none): 1, 0 or -errno. */
int vips_any(struct inst *in);
/* A backend's health as the daemon's checks found it (by id). */
struct health_change {
	__u32 id;
	__u8 health;  /* LIMPET_HEALTH_UP or _DOWN */
	bool ramp;    /* up with a slowstart: begin at 1 % of its table share */
	bool changed; /* out: it took (not a hand-set backend, nor one already so) */
};
/* Health changes of one VIP's backends, made together (the daemon makes those of one tick so):
 * one table rebuild and one walk of the affinities for all of them. Backends found down leave
 * the table and their clients' affinities go, so their next connections land on healthy
 * backends; their open flows stay. How many changed, or -errno (then none did).
 */
int op_backends_health_set(struct inst *in, const struct vip_meta *meta, struct health_change *hc,
			   int n);
bool vip_all_down(struct inst *in, const struct vip_meta *meta);
/* Slowstart steps of one VIP's backends (ids[i] to pcts[i] % of its share, 0 = all), made
 * together: one table rebuild. How many changed, or -errno (then none did).
 */
int op_backends_ramp(struct inst *in, const struct vip_meta *meta, const __u32 *ids,
		     const __u16 *pcts, int n);
int op_backend_health_mode(struct inst *in, const struct vip_key *k, const char *spec, __u8 mode,
			   char *err, size_t errlen);
int op_vip_check_set(struct inst *in, const struct vip_key *k, const struct check_spec *cs,
		     char *err, size_t errlen);
/* The address, its family and the port a backend spec names for VIP k in mode (its port by
 * default; an ipip IPv4 VIP takes IPv6 backends).
 */
int backend_endpoint(const struct vip_key *k, __u8 mode, const char *spec, __u32 addr[4],
		     __u8 *family, __be16 *port, char *err, size_t errlen);

/* Attaching (attach.c): the instance's programs on a device — the first time creating the
 * instance with table sizes ask (0: default), else upgrading every device it runs on, its state
 * kept. 0 with *prog_id, or -errno with err; warn (may be NULL) hears what it could not do on
 * other devices.
 */
typedef void (*attach_warn_fn)(const char *msg);
int attach_dev(const char *instance, const char *ifname, __u32 mode, const __u32 ask[TBL_MAX],
	       __u32 *prog_id, attach_warn_fn warn, char *err, size_t errlen);
__u32 xdp_flags_of(__u32 mode);
/* Why the kernel answers EEXIST to an XDP change on a device that has no other program. */
#define LIMPET_XDP_UPPER_WHY \
	"a device stacked on it, a VXLAN, VLAN, macvlan or bridge, has an XDP program, and the kernel changes none below one"
/* The XDP program attached to ifindex, in any mode (0 if none). */
__u32 xdp_attached_id(unsigned int ifindex, __u32 *mode);
int prog_name_of(__u32 id, char *name, size_t len);

/* The backend-side decapsulator (lib/decap.c): an instance's pins under LIMPET_DECAP_PIN_ROOT. */
/* mode: LIMPET_XDP_NATIVE or _SKB (the XDP program and its TC step), or LIMPET_DECAP_MODE_TC (all
 * at TC ingress, the XDP hook left to others). Attaching again in another mode switches modes.
 */
int decap_attach(const char *inst, const char *ifname, __u32 mode, char *err, size_t errlen);
int decap_detach(const char *inst, const char *ifname, char *err, size_t errlen);
/* Detach inst's decapsulator from every device here that runs it, then remove its pins;
 * 0 (*ndev: how many devices) or -errno.
 */
int decap_destroy(const char *inst, int *ndev, char *err, size_t errlen);
/* A device running an instance's decapsulator. */
struct decap_dev {
	char ifname[16];
	__u32 mode;   /* LIMPET_XDP_NATIVE, LIMPET_XDP_SKB or LIMPET_DECAP_MODE_TC */
	__u32 xdp_id; /* its XDP program (0 in mode tc) */
	__u32 tc_id;  /* its TC ingress program: the step, or mode tc's whole program */
};
#define LIMPET_DECAP_MAX_DEVS 256
/* The devices of this namespace that run inst's decapsulator (their programs use its VIP map),
 * up to max: how many, or -errno with err filled (-ENOENT: no such instance).
 */
int decap_devices(const char *inst, struct decap_dev *d, int max, char *err, size_t errlen);
int decap_vip_set(const char *inst, const char *addr, bool add, char *err, size_t errlen);
/* The VIPs (up to max) and the counters (LIMPET_DECAP_MAX) of an instance. */
int decap_read(const char *inst, struct l_addr *vips, int max, int *n, __u64 *counters, char *err,
	       size_t errlen);
void tc_remove(unsigned int ifindex);
/* A TC ingress filter (handle, prio) running prog_fd on a device, created or replaced; removed. */
int tc_filter_set(unsigned int ifindex, int prog_fd, __u32 handle, __u32 prio);
void tc_filter_del(unsigned int ifindex, __u32 handle, __u32 prio);
/* The id of the program in the device's TC ingress filter handle/prio, or 0. */
__u32 tc_filter_prog(unsigned int ifindex, __u32 handle, __u32 prio);
/* Unpin everything in an instance's directory. */
void pins_remove(const char *dir);

/* A configuration file (config.c): the VIPs, backends, devices and metrics address it names. */
struct cfg_vip {
	struct vip_key k;
	struct vip_opts o;
	int line;
};
struct cfg_backend {
	struct vip_key k;
	char spec[128];
	__u32 addr[4];
	__u8 family;
	__be16 port;
	__u32 weight;
	bool drain;
	int line;
};
struct cfg_dev {
	char name[32];
	__u32 mode;           /* enum limpet_xdp_mode */
	__u32 ask[TBL_MAX];   /* table sizes asked for (0: default), used when the instance is new */
	int line;
};
struct cfg {
	struct cfg_vip *vips;
	struct cfg_backend *bes;
	struct cfg_dev *devs;
	int nvips, nbes, ndevs;
	char metrics[64];
	char announce_dev[16];            /* IFNAMSIZ; 'announce dev': the daemon announces VIPs there */
	bool sweep_set;                   /* a 'flows sweep' line: the daemon's sweeper settings */
	__u32 binding_s, idle_s, closed_s;
	char path[256]; /* for errors: FILE:LINE */
};
typedef void (*cfg_log_fn)(void *ctx, const char *change);
typedef void (*cfg_line_fn)(void *ctx, const char *line);
/* Read and check the whole file; errors name FILE:LINE. 0 or -errno (nothing kept). */
int cfg_load(const char *path, struct cfg *c, char *err, size_t errlen);
void cfg_free(struct cfg *c);
/* Make the instance's VIPs and backends what c says, changing only what differs; each change
 * goes to log as one line. 0 or -errno.
 */
int cfg_apply(struct inst *in, const struct cfg *c, cfg_log_fn log, void *ctx, char *err,
	      size_t errlen);
/* cfg_apply of prev then c into an instance without VIPs (a host starting with no state: the
 * configuration before the last change, then the current one, so an ipip VIP's second chance
 * knows the owners before that change); an instance with VIPs gets c alone (said to log).
 */
int cfg_apply_after(struct inst *in, const struct cfg *prev, const struct cfg *c, cfg_log_fn log,
		    void *ctx, char *err, size_t errlen);
/* The instance's devices, VIPs and backends as configuration lines. */
int cfg_save(struct inst *in, cfg_line_fn emit, void *ctx);

/* ---- announcing VIPs to the host's routing daemon (announce.c) ---- */
#define LIMPET_IFA_PROTO 0x4c /* address protocol of the addresses limpet adds ('L') */
struct announce_set {
	struct {
		__u32 a[4];
		__u8 family;
	} a[LIMPET_MAX_VIPS];
	int n;
};
typedef void (*announce_log_fn)(void *ctx, const char *change);
/* The VIP addresses to announce: those of VIPs with a backend that takes new clients (active,
 * not down). 0 or -errno.
 */
int announce_wanted(struct inst *in, struct announce_set *want);
/* Make dev's limpet-owned addresses exactly want (adds NODAD /32, /128 marked LIMPET_IFA_PROTO;
 * removes only addresses so marked); each change goes to log. 0 or -errno (every change tried).
 */
int announce_apply(const char *dev, const struct announce_set *want, announce_log_fn log,
		   void *ctx, char *err, size_t errlen);
/* The VIP addresses of the instance pinned at dir (an older limpet's too: only its vips map is
 * read; none when that is gone). 0 or -errno.
 */
int announce_of_pins(const char *dir, struct announce_set *vips);
/* The limpet-owned addresses on every device (what this host announces). 0 or -errno. */
int announce_present(struct announce_set *have, char *err, size_t errlen);
/* Withdraw from every device the limpet-owned addresses that are in vips (an instance going
 * away); each change goes to log. 0 or -errno (every one tried).
 */
int announce_withdraw(const struct announce_set *vips, announce_log_fn log, void *ctx, char *err,
		      size_t errlen);

/* Prometheus text exposition of the instance's counters and tables (metrics.c). */
int metrics_render(struct inst *in, FILE *f);
/* ADDR:PORT or [ADDR6]:PORT; 0 or -EINVAL. */
int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int op_table_rebuild(struct inst *in, const struct vip_meta *meta);
int op_affinity_flush(struct inst *in, int vip_id, int backend_id);
/* Make the reverse map (backend endpoint → VIPs) match the VIPs and backends; -E2BIG when an
 * endpoint would serve more than LIMPET_REV_VIPS VIPs (nothing changed then).
 */
int op_reverse_sync(struct inst *in);
/* Call fn for every entry of a map (hash or array, per-CPU too), read in batches; 0, fn's
 * non-zero return, or -errno.
 */
int map_scan(int fd, size_t ksize, size_t vsize,
	     int (*fn)(const void *key, const void *val, void *ctx), void *ctx);
/* All n entries of an array map (keys 0..n-1) in one batch; 0 or -errno. */
int array_read(int fd, __u32 n, __u32 *keys, void *vals);
/* Remove TCP flows closed (FIN both ways or RST) at least closed_s ago, flows stuck binding
 * longer than binding_s, and flows idle longer than idle_s (established or half-open), with their
 * held segments; returns how many.
 */
int op_flows_sweep(struct inst *in, __u32 binding_s, __u32 idle_s, __u32 closed_s);
int stats_sum(int map_fd, __u32 key, struct limpet_stats *out);
/* Entries 0..n-1 of a per-CPU stats array, each summed over the CPUs, in a few batched reads
 * (one moment, near enough); 0 or -errno.
 */
int stats_sum_all(int map_fd, __u32 n, struct limpet_stats *out);
int reasons_sum(int map_fd, __u64 out[LIMPET_R_MAX]);
/* Per-CPU __u64 counters 0..n-1 (of an array that may hold more), each summed over the CPUs,
 * in a few batched reads; 0 or -errno.
 */
int counters_sum(int map_fd, __u32 n, __u64 *out);
extern const char *const reason_names[LIMPET_R_MAX];
extern const char *const tc_reason_names[LIMPET_TC_MAX];
extern const char *const event_names[LIMPET_EV_MAX];
/* "query session_id", "udp offset 0 len 8", "-" */
const char *token_spec_str(const struct token_spec *ts, char *buf, size_t len);
const char *policy_str(__u8 policy);
extern const char *const mode_names[LIMPET_MODE_MAX];
/* "ADDR/LEN" (LEN defaults to the full address) */
int prefix_parse(const char *s, struct l_addr *addr, __u8 *len);
const char *be_state_str(__u8 state);
__u64 mono_coarse_ns(void);

/* ---- output: text or JSON from the same calls (output.c) ---- */
void out_init(bool json, bool pretty);
bool out_is_json(void);
void out_table_begin(const char *name, const char *const *cols, int ncols);
void out_row_begin(void);
void out_cell_str(const char *v);
void out_cell_u64(__u64 v);
void out_row_end(void);
void out_table_end(void);
/* The table ends with no row: printed as out_table_end does, unless the command failed (ret),
 * when an empty table would only stand above the error.
 */
void out_table_end_or_drop(int ret);
void out_kv_str(const char *k, const char *v);
void out_kv_u64(const char *k, __u64 v);
void out_flush(void);
void out_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* getopt's refusal (c '?' or ':', opt its optopt, arg the word) as one line naming help. */
void out_opt_error(int c, int opt, const char *arg, const char *help);

/* ---- pcap files (pcap.c) ---- */
struct pcap_reader {
	FILE *f;
	bool swap;
	bool nsec;
};
int pcap_open_read(struct pcap_reader *r, const char *path, char *err, size_t errlen);
/* 1 frame read, 0 end, -1 error */
int pcap_next(struct pcap_reader *r, unsigned char *buf, size_t cap, size_t *len);
FILE *pcap_open_write(const char *path);
int pcap_write(FILE *f, const unsigned char *buf, size_t len);

/* ---- frame decoding and checksum verification (pkt.c) ---- */
struct pkt_info {
	int ok;          /* parsed as Ethernet + IPv4/IPv6 */
	__u8 family;
	__u8 proto;
	int vlan;
	__u32 src[4], dst[4];
	__u16 sport, dport; /* host order; 0 without L4 */
	int has_l4;
	int frag;        /* 0 none, 1 first, 2 later */
	int l3_csum_ok;  /* IPv4 header checksum (1 for IPv6) */
	int l4_csum_ok;  /* -1 when not checkable (fragment, no L4) */
	int len_ok;      /* every length field agrees: IP with the frame, headers with the IP's */
	const char *bad; /* the first thing that does not verify (a static string), or NULL */
	__u8 ttl;
	__u8 dmac[6], smac[6];
};
void pkt_decode(const unsigned char *buf, size_t len, struct pkt_info *pi);

#endif
