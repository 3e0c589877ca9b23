// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Per-packet cost of limpet's XDP paths beside floor programs, and of the backends' decapsulator
 * (XDP and mode tc) on the frame limpet's ipip case sends, measured in the same run with
 * BPF_PROG_TEST_RUN. Every run gets a fresh copy of its packet (repeat = 1, one syscall each,
 * the kernel's own per-run timer), so a rewrite never feeds the next run; a case runs until it
 * has taken the wanted wall time. Cases are interleaved over rounds; the median round counts.
 * Prints a markdown table.
 *
 *   bench_xdp [SECONDS_PER_CASE [ROUNDS [FLOWS]]]
 *
 * FLOWS sizes the established table (filled to 64 short of it): the established case then runs
 * against that many concurrent flows, and the table's kernel memory per entry is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "lib/liblimpet.h"
#include "limpet_xdp.skel.h"
#include "limpet_decap.skel.h"
#include "floor.skel.h"
#include "pktbuild.h"

static double min_seconds = 1.0;
static unsigned long fill_n; /* established flows from 11.0.0.0 up (vary 3 picks among them) */
/* the known client's VIP: every port, so each run can be a new connection of one client */
#define KNOWN_VIP "10.200.0.3:0/tcp"
static char err[LIMPET_ERR_LEN];

struct bcase {
	const char *name;
	int prog_fd;
	unsigned char pkt[256];
	size_t len;
	int vary;           /* vary the client on every run: 1 address and port, 2 ports, 3 a fill flow */
	__u32 want_action;
	/* what every run must do to the ip-hash VIP's counters (checked: a case measures what its
	 * name says): count a new flow, an affinity hit, an affinity miss
	 */
	int new_flow, aff_hit, aff_miss;
	int grow; /* bytes every run's output frame must add (an outer header; < 0: take away); 0: not checked */
	int tc;   /* a TC program: run on an skb, no XDP context */
	double ns;
	unsigned long runs;
	double rounds[16];
};

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_entry(const void *key, const void *val, void *ctx)
{
	(*(__u64 *)ctx)++;
	return 0;
}

/* The filled table's size and memory, and what reading its fill costs: the kernel's count
 * (tables_usage: limpet status, a metrics scrape) beside a batched walk of the same table.
 */
static void fill_report(const int tfds[TBL_MAX])
{
	struct table_usage u[TBL_MAX];
	bool tok[TBL_MAX];
	__u64 walked = 0;
	double t0 = now_s(), t1, t2;

	tables_usage(tfds, u, tok);
	t1 = now_s();
	map_scan(tfds[TBL_FLOWS], sizeof(struct flow_key), sizeof(struct flow_val), count_entry,
		 &walked);
	t2 = now_s();
	if (!tok[TBL_FLOWS])
		return;
	fprintf(stderr, "flows: %llu of %u entries, %llu bytes of kernel memory (%.1f per entry)\n",
		(unsigned long long)u[TBL_FLOWS].used, u[TBL_FLOWS].size,
		(unsigned long long)u[TBL_FLOWS].memory, (double)u[TBL_FLOWS].memory / u[TBL_FLOWS].size);
	fprintf(stderr, "reading the three tables' fill: %.1f ms (the kernel's counts); walking flows "
		"alone: %.1f ms (%llu entries)\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3,
		(unsigned long long)walked);
}

static int measure(struct bcase *c, unsigned int ifindex);

/* The backend's side of the ipip case: its frame as limpet sends it (one run of the case, ipip),
 * unwrapped by the decapsulator's XDP program and by mode tc's, each serving the VIP vip. Fills
 * out[0] and out[1]; 0, or -1 with the error printed.
 */
static int decap_cases(struct limpet_decap **dk, const struct bcase *ipip, unsigned int ifindex,
		       const char *vip, struct bcase *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	struct xdp_md ctx = { .data_end = (__u32)ipip->len, .ingress_ifindex = ifindex };
	struct decap_key dkey = { .family = 4 };
	unsigned char frame[256];
	__u32 one = 1;

	*dk = limpet_decap__open();
	if (!*dk || obj_private_maps((*dk)->obj, NULL, NULL, 0, err, sizeof(err)) ||
	    limpet_decap__load(*dk)) {
		fprintf(stderr, "Error: load the decapsulator: %s\n", err[0] ? err : strerror(errno));
		return -1;
	}
	inet_pton(AF_INET, vip, dkey.addr);
	bpf_map_update_elem(bpf_map__fd((*dk)->maps.decap_vips), &dkey, &one, BPF_ANY);
	t.data_in = ipip->pkt;
	t.data_size_in = ipip->len;
	t.data_out = frame;
	t.data_size_out = sizeof(frame);
	t.ctx_in = &ctx;
	t.ctx_size_in = sizeof(ctx);
	if (bpf_prog_test_run_opts(ipip->prog_fd, &t) || t.retval != XDP_REDIRECT ||
	    t.data_size_out != ipip->len + 20) {
		fprintf(stderr, "Error: the ipip case sent no encapsulated frame\n");
		return -1;
	}
	out[0] = (struct bcase){ .name = "decap (backend, XDP): limpet's ipip frame unwrapped", .prog_fd = bpf_program__fd((*dk)->progs.limpet_decap), .want_action = XDP_PASS, .grow = -20 };
	out[1] = (struct bcase){ .name = "decap mode tc (backend, TC ingress): the same frame", .prog_fd = bpf_program__fd((*dk)->progs.limpet_tcdecap), .want_action = TC_ACT_OK, .grow = -20, .tc = 1 };
	for (int i = 0; i < 2; i++) {
		memcpy(out[i].pkt, frame, t.data_size_out);
		out[i].len = t.data_size_out;
	}
	return 0;
}

static int measure(struct bcase *c, unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	struct xdp_md ctx = { .data_end = (__u32)c->len, .ingress_ifindex = ifindex };
	unsigned char out[512];
	double start = now_s();
	unsigned long long total = 0;
	__u32 seq = 0;

	if (!c->tc) {
		t.ctx_in = &ctx;
		t.ctx_size_in = sizeof(ctx);
	}
	c->runs = 0;
	do {
		for (int i = 0; i < 256; i++) {
			if (c->vary == 3) {
				/* one of the fill's established flows, a different one every run */
				__u32 k = (seq = seq * 1103515245u + 12345u) % fill_n;

				c->pkt[14 + 12] = 11;
				c->pkt[14 + 13] = k >> 16;
				c->pkt[14 + 14] = k >> 8;
				c->pkt[14 + 15] = k;
			} else if (c->vary) {
				/* a new client per run: source address and port (ip-hash keys on the
				 * address); checksums need not match, the program does not verify them
				 */
				seq++;
				c->pkt[14 + 13] = seq >> 16;
				c->pkt[14 + 14] = seq >> 8;
				c->pkt[14 + 15] = seq;
				c->pkt[14 + 20] = seq >> 8;
				c->pkt[14 + 21] = seq;
				if (c->vary == 2) {
					/* same client, new connection: both ports (a port-0 VIP),
					 * so no tuple comes back for 2^32 runs
					 */
					c->pkt[14 + 13] = c->pkt[14 + 14] = c->pkt[14 + 15] = 7;
					c->pkt[14 + 22] = (seq >> 24) | 0x80;
					c->pkt[14 + 23] = seq >> 16;
				}
			}
			t.data_in = c->pkt;
			t.data_size_in = c->len;
			t.data_out = out;
			t.data_size_out = sizeof(out);
			t.repeat = 1;
			if (bpf_prog_test_run_opts(c->prog_fd, &t))
				return -errno;
			if (t.retval != c->want_action ||
			    (c->grow && t.data_size_out != c->len + c->grow)) {
				fprintf(stderr, "bench: %s returned %u with %u bytes, expected %u with %zu\n",
					c->name, t.retval, t.data_size_out, c->want_action,
					c->len + c->grow);
				return -EINVAL;
			}
			total += t.duration;
			c->runs++;
		}
	} while (now_s() - start < min_seconds);
	c->ns = (double)total / c->runs;
	return 0;
}

/* count entries from client 11.0.0.0 up, to dst:dport from sport, each with value v. */
static int fill_table(int fd, unsigned long count, __u32 dst, __u16 sport, __u16 dport,
		      const struct flow_val *v)
{
	const unsigned int chunk = 1 << 20;
	struct flow_key *keys = calloc(chunk, sizeof(*keys));
	struct flow_val *vals = calloc(chunk, sizeof(*vals));
	int ret = keys && vals ? 0 : -ENOMEM;

	for (unsigned long done = 0; done < count && !ret;) {
		unsigned int cnt = count - done > chunk ? chunk : count - done, j;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		for (j = 0; j < cnt; j++) {
			keys[j] = (struct flow_key){ .family = LIMPET_AF_INET, .proto = IPPROTO_TCP,
						     .sport = htons(sport), .dport = htons(dport) };
			keys[j].src[0] = htonl(0x0b000000 + done + j);
			keys[j].dst[0] = htonl(dst);
			vals[j] = *v;
		}
		ret = bpf_map_update_batch(fd, keys, vals, &cnt, &bo) ? -errno : 0;
		done += cnt;
	}
	free(keys);
	free(vals);
	return ret;
}

/* The counters of the two ip-hash VIPs, added. */
static void vips_sum(struct inst *in, __u32 a, __u32 b, struct limpet_stats *s)
{
	struct limpet_stats t;

	stats_sum(in->fd[IM_VIP_STATS], a, s);
	stats_sum(in->fd[IM_VIP_STATS], b, &t);
	s->new_flows += t.new_flows;
	s->aff_hits += t.aff_hits;
	s->aff_misses += t.aff_misses;
}

/* The (last) active backend of a VIP: the one a benchmark flow is written to. */
static __u32 active_backend(struct inst *in, __u32 vip_id)
{
	struct backend be;
	__u32 id = 0;

	for (__u32 b = 0; b < LIMPET_MAX_BACKENDS; b++)
		if (!bpf_map_lookup_elem(in->fd[IM_BACKENDS], &b, &be) && be.vip_id == vip_id &&
		    be.state == LIMPET_BE_ACTIVE)
			id = b;
	return id;
}

static int sh(const char *cmd)
{
	char c[512];

	snprintf(c, sizeof(c), "%s >/dev/null 2>&1", cmd);
	return system(c);
}

int main(int argc, char **argv)
{
	static const char *const net[] = {
		"ip link set lo up",
		"ip link add bin0 type veth peer name bin1", "ip link add bout0 type veth peer name bout1",
		"ip link set bin0 up", "ip link set bin1 up", "ip link set bout0 up", "ip link set bout1 up",
		"ip addr add 192.0.2.1/24 dev bin0", "ip addr add 10.1.0.254/24 dev bout0",
		"ip neigh replace 10.1.0.1 lladdr 02:00:00:00:01:01 dev bout0 nud permanent",
		"ip neigh replace 10.1.0.2 lladdr 02:00:00:00:01:02 dev bout0 nud permanent",
		"ip neigh replace 10.1.0.3 lladdr 02:00:00:00:01:03 dev bout0 nud permanent",
		"sysctl -qw net.ipv4.ip_forward=1",
	};
	struct pspec est = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.77",
			     .dst = "10.200.0.1", .sport = 40000, .dport = 80, .payload = "GET / HTTP/1.1\r\n\r\n" };
	struct pspec other = est, known = est;
	struct limpet_xdp *lb;
	struct floor *fl;
	struct inst in;
	struct vip_key k, kk;
	struct vip_meta vm, km;
	struct vip_opts vo = { .policy = LIMPET_POLICY_IP_HASH, .affinity_ttl = 1800,
			       .table_size = LIMPET_MAGLEV_M_DEFAULT };
	struct limpet_config cfg = { LIMPET_HASH_SEED_DEFAULT, LIMPET_MAGLEV_M_DEFAULT, 0 };
	struct bcase cs[16];
	struct limpet_decap *dk = NULL;
	int ipip_case = -1, decap_case = -1;
	double ratios[16] = { 0 }, dratios[16] = { 0 };
	struct flow_key fk = { .sport = htons(40002), .dport = htons(80), .proto = IPPROTO_TCP,
			       .family = LIMPET_AF_INET };
	struct flow_val fv = { .sp = { .state = LIMPET_SP_ESTABLISHED, .delta = 12345, .ts_off = 777,
				       .ws_c = 7, .ws_b = 7, .ws_lb = 7,
				       .opts = LIMPET_SP_OPT_TS | LIMPET_SP_OPT_SACK } };
	unsigned int ifin;
	__u32 zero = 0, one = 1;
	int i, n = 0, rounds = 3, r;
	unsigned long nflows = LIMPET_MAX_FLOWS;

	if (argc > 1)
		min_seconds = atof(argv[1]);
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		nflows = strtoul(argv[3], NULL, 0);
	if (rounds < 1 || rounds > 16 || min_seconds <= 0 || nflows < 1024 || nflows > 67108864) {
		fprintf(stderr, "Usage: bench_xdp [SECONDS_PER_CASE [ROUNDS (1-16) [FLOWS (1024-67108864)]]]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "Error: unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < (int)(sizeof(net) / sizeof(net[0])); i++)
		if (sh(net[i])) {
			fprintf(stderr, "Error: %s failed\n", net[i]);
			return 1;
		}
	ifin = if_nametoindex("bin0");
	libbpf_quiet(false);
	lb = limpet_xdp__open();
	if (lb)
		bpf_map__set_max_entries(lb->maps.MAP_NAME_FLOWS, nflows);
	fl = floor__open_and_load();
	if (!lb || !fl || obj_private_maps(lb->obj, NULL, NULL, 0, err, sizeof(err)) ||
	    limpet_xdp__load(lb) || inst_from_object(&in, lb->obj, err, sizeof(err))) {
		fprintf(stderr, "Error: load: %s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	bpf_map_update_elem(in.fd[IM_CONFIG], &zero, &cfg, BPF_ANY);
	/* both devices as limpet attach records native ones: XDP may redirect into them */
	{
		__u32 ifout = if_nametoindex("bout0");

		bpf_map_update_elem(in.fd[IM_TX_DEVS], &ifin, &ifin, BPF_ANY);
		bpf_map_update_elem(in.fd[IM_TX_DEVS], &ifout, &ifout, BPF_ANY);
	}
	if (vip_parse("10.200.0.1:80/tcp", &k, err, sizeof(err)) ||
	    op_vip_add(&in, &k, &vo, err, sizeof(err)) ||
	    op_backend_add(&in, &k, "10.1.0.1", 1, err, sizeof(err)) ||
	    op_backend_add(&in, &k, "10.1.0.2", 1, err, sizeof(err)) ||
	    op_backend_add(&in, &k, "10.1.0.3", 1, err, sizeof(err)) ||
	    vip_parse(KNOWN_VIP, &kk, err, sizeof(err)) ||
	    op_vip_add(&in, &kk, &vo, err, sizeof(err)) ||
	    op_backend_add(&in, &kk, "10.1.0.1", 1, err, sizeof(err)) ||
	    op_backend_add(&in, &kk, "10.1.0.2", 1, err, sizeof(err)) ||
	    op_vip_find(&in, &kk, &km)) {
		fprintf(stderr, "Error: configure: %s\n", err);
		return 1;
	}
	known.dst = "10.200.0.3";

	/* floors */
	memset(cs, 0, sizeof(cs));
	cs[n] = (struct bcase){ .name = "floor: return XDP_TX", .prog_fd = bpf_program__fd(fl->progs.floor_tx), .want_action = XDP_TX };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;
	cs[n] = (struct bcase){ .name = "floor: parse + swap MACs", .prog_fd = bpf_program__fd(fl->progs.floor_parse_swap), .want_action = XDP_TX };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;
	cs[n] = (struct bcase){ .name = "floor 3: parse + 1 hash lookup + swap MACs", .prog_fd = bpf_program__fd(fl->progs.floor_parse_lookup_swap), .want_action = XDP_TX };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;
	{
		struct flow_key fk = { .family = LIMPET_AF_INET, .proto = IPPROTO_TCP };

		inet_pton(AF_INET, est.src, fk.src);
		inet_pton(AF_INET, est.dst, fk.dst);
		fk.sport = htons(est.sport);
		fk.dport = htons(est.dport);
		bpf_map_update_elem(bpf_map__fd(fl->maps.floor_flows), &fk, &one, BPF_ANY);
	}

	/* limpet */
	cs[n] = (struct bcase){ .name = "limpet: established flow (NAT, cached next hop, redirect)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;
	cs[n] = (struct bcase){ .name = "limpet: affinity hit (known client, new connection)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT, .vary = 2, .new_flow = 1, .aff_hit = 1 };
	cs[n].len = pkt_build(&known, cs[n].pkt), n++;
	cs[n] = (struct bcase){ .name = "limpet: new flow, new client, full flow table", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT, .vary = 1, .new_flow = 1, .aff_miss = 1 };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;
	/* token VIP: SYN answered with a cookie, and a spliced established flow */
	{
		static const unsigned char synopts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0xe8,
							 0, 0, 0, 0, 1, 3, 3, 7 };
		static const unsigned char tsopts[] = { 1, 1, 8, 10, 0, 0, 0x03, 0xe9, 0, 0, 0x13, 0x88 };
		struct vip_opts to = { .policy = LIMPET_POLICY_TOKEN, .affinity_ttl = 1800,
				       .table_size = LIMPET_MAGLEV_M_DEFAULT,
				       .token = { .source = LIMPET_TOK_QUERY, .name_len = 3, .name = "sid" } };
		struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.77",
				     .dst = "10.200.0.2", .sport = 40001, .dport = 80, .tcp_flags = 0x02,
				     .seq = 1000, .topts = synopts, .topts_len = sizeof(synopts) };
		struct pspec spl = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.77",
				     .dst = "10.200.0.2", .sport = 40002, .dport = 80, .tcp_flags = 0x10,
				     .seq = 1001, .ack = 5001, .topts = tsopts, .topts_len = sizeof(tsopts),
				     .payload = "GET / HTTP/1.1\r\n\r\n" };
		struct vip_meta tm;
		struct vip_key tk;

		if (vip_parse("10.200.0.2:80/tcp", &tk, err, sizeof(err)) ||
		    op_vip_add(&in, &tk, &to, err, sizeof(err)) ||
		    op_backend_add(&in, &tk, "10.1.0.1", 1, err, sizeof(err)) ||
		    op_vip_find(&in, &tk, &tm)) {
			fprintf(stderr, "Error: configure token VIP: %s\n", err);
			return 1;
		}
		/* the state a completed binding leaves: written directly, the TC step is not timed */
		inet_pton(AF_INET, "192.0.2.77", fk.src);
		inet_pton(AF_INET, "10.200.0.2", fk.dst);
		fv.backend_id = active_backend(&in, tm.vip_id);
		fv.vip_id = tm.vip_id;
		fv.last_seen = mono_coarse_ns();
		cs[n] = (struct bcase){ .name = "limpet token: SYN -> SYN-ACK with a cookie (XDP_TX)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_TX };
		cs[n].len = pkt_build(&syn, cs[n].pkt), n++;
		cs[n] = (struct bcase){ .name = "limpet token: spliced established flow (seq/ack/TS translated)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT };
		cs[n].len = pkt_build(&spl, cs[n].pkt), n++;
	}
	/* an ipip (DSR) VIP's established flow: encapsulated toward its backend, no next-hop cache */
	{
		struct vip_opts io = vo;
		struct pspec ip = est;
		struct flow_key ik = { .family = LIMPET_AF_INET, .proto = IPPROTO_TCP };
		struct flow_val iv = {};
		struct vip_meta im;
		struct vip_key ikk;

		io.mode = LIMPET_MODE_IPIP;
		ip.dst = "10.200.0.9";
		ip.tcp_flags = 0x10;
		if (vip_parse("10.200.0.9:80/tcp", &ikk, err, sizeof(err)) ||
		    op_vip_add(&in, &ikk, &io, err, sizeof(err)) ||
		    op_backend_add(&in, &ikk, "10.1.0.3", 1, err, sizeof(err)) ||
		    op_vip_find(&in, &ikk, &im)) {
			fprintf(stderr, "Error: configure ipip VIP: %s\n", err);
			return 1;
		}
		inet_pton(AF_INET, ip.src, ik.src);
		inet_pton(AF_INET, ip.dst, ik.dst);
		ik.sport = htons(ip.sport);
		ik.dport = htons(ip.dport);
		iv.backend_id = active_backend(&in, im.vip_id);
		iv.vip_id = im.vip_id;
		iv.last_seen = mono_coarse_ns();
		bpf_map_update_elem(in.fd[IM_FLOWS], &ik, &iv, BPF_ANY); /* established, as its ACK would */
		ipip_case = n;
		cs[n] = (struct bcase){ .name = "limpet ipip: established flow (DSR, encapsulated, redirect)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT, .grow = 20 };
		cs[n].len = pkt_build(&ip, cs[n].pkt), n++;
		decap_case = decap_cases(&dk, &cs[ipip_case], ifin, ip.dst, &cs[n]);
		if (decap_case < 0)
			return 1;
		decap_case = n, n += 2;
	}
	other.dst = "10.200.0.99";
	cs[n] = (struct bcase){ .name = "limpet: not a VIP (pass)", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_PASS };
	cs[n].len = pkt_build(&other, cs[n].pkt), n++;
	cs[n] = (struct bcase){ .name = "limpet: established flow, a different one of FLOWS each run", .prog_fd = bpf_program__fd(lb->progs.limpet_xdp), .want_action = XDP_REDIRECT, .vary = 3 };
	cs[n].len = pkt_build(&est, cs[n].pkt), n++;

	/* halfopen full, so new flows evict */
	{
		struct flow_val zv = {};

		if (fill_table(in.fd[IM_HALFOPEN], LIMPET_MAX_HALFOPEN, 0xcbcbcb00, 0, 0, &zv)) {
			fprintf(stderr, "Error: fill halfopen: %s\n", strerror(errno));
			return 1;
		}
	}
	bpf_map_update_elem(in.fd[IM_FLOWS], &fk, &fv, BPF_ANY); /* the spliced flow */
	/* the established case's flow: its first packet opens it half-open; established, it is in
	 * flows (written directly: the handshake is not what this case times)
	 */
	{
		struct bcase first = cs[3];
		struct flow_key ek = { .family = LIMPET_AF_INET, .proto = IPPROTO_TCP };
		struct flow_val ev;
		double keep = min_seconds;

		min_seconds = 0;
		if (measure(&first, ifin))
			return 1;
		min_seconds = keep;
		inet_pton(AF_INET, est.src, ek.src);
		inet_pton(AF_INET, est.dst, ek.dst);
		ek.sport = htons(est.sport);
		ek.dport = htons(est.dport);
		if (bpf_map_lookup_elem(in.fd[IM_HALFOPEN], &ek, &ev) ||
		    bpf_map_update_elem(in.fd[IM_FLOWS], &ek, &ev, BPF_NOEXIST)) {
			fprintf(stderr, "Error: establish the benchmark's flow: %s\n", strerror(errno));
			return 1;
		}
		bpf_map_delete_elem(in.fd[IM_HALFOPEN], &ek);
		/* the known client of "affinity hit": an affinity written as establishment would */
		{
			struct affinity_key ak = { .kind = LIMPET_AFF_SRC_IP, .vip_id = km.vip_id };
			struct affinity_val av = { .last_seen = mono_coarse_ns(),
						   .backend_id = active_backend(&in, km.vip_id) };

			ak.key[0] = ek.src[0];
			((unsigned char *)ak.key)[1] = ((unsigned char *)ak.key)[2] =
				((unsigned char *)ak.key)[3] = 7;
			bpf_map_update_elem(in.fd[IM_AFFINITY], &ak, &av, BPF_ANY);
		}
	}
	/* prime: the established flow, the spliced flow's next hop, the "known client" */
	{
		struct bcase warm = cs[3];

		min_seconds = min_seconds > 0.05 ? min_seconds : 0.05;
		double save = min_seconds;

		min_seconds = 0;
		if (measure(&warm, ifin))
			return 1;
		warm = cs[7];
		if (measure(&warm, ifin))
			return 1;
		min_seconds = save;
	}
	/* flows full but for a few: copies of the primed established flow (next hop cached for an
	 * hour) for FLOWS clients, so the last case lands on a cold one every run
	 */
	{
		struct flow_key ek = { .family = LIMPET_AF_INET, .proto = IPPROTO_TCP,
				       .sport = htons(est.sport), .dport = htons(est.dport) };
		struct flow_val tv;
		const int tfds[TBL_MAX] = { in.fd[IM_FLOWS], in.fd[IM_HALFOPEN], in.fd[IM_AFFINITY] };

		inet_pton(AF_INET, est.src, ek.src);
		inet_pton(AF_INET, est.dst, ek.dst);
		fill_n = nflows - 64;
		if (bpf_map_lookup_elem(in.fd[IM_FLOWS], &ek, &tv) || !tv.nh.expires) {
			fprintf(stderr, "Error: the established flow has no next hop\n");
			return 1;
		}
		tv.nh.expires += 3600ULL * 1000000000ULL;
		tv.last_seen = mono_coarse_ns(); /* a flow seen > 1 s ago refreshes it, as live ones do */
		if (fill_table(in.fd[IM_FLOWS], fill_n, ntohl(ek.dst[0]), est.sport, est.dport, &tv)) {
			fprintf(stderr, "Error: fill flows: %s\n", strerror(errno));
			return 1;
		}
		fill_report(tfds);
	}
	if (op_vip_find(&in, &k, &vm)) {
		fprintf(stderr, "Error: the ip-hash VIP is gone\n");
		return 1;
	}
	for (r = 0; r < rounds; r++)
		for (i = 0; i < n; i++) {
			struct limpet_stats s0, s1;

			vips_sum(&in, vm.vip_id, km.vip_id, &s0);
			if (measure(&cs[i], ifin)) {
				fprintf(stderr, "Error: measuring '%s' failed\n", cs[i].name);
				return 1;
			}
			vips_sum(&in, vm.vip_id, km.vip_id, &s1);
			if (s1.new_flows - s0.new_flows != cs[i].new_flow * cs[i].runs ||
			    s1.aff_hits - s0.aff_hits != cs[i].aff_hit * cs[i].runs ||
			    s1.aff_misses - s0.aff_misses != cs[i].aff_miss * cs[i].runs) {
				fprintf(stderr, "Error: '%s' did not do what it says: of %lu runs, %llu new flows, %llu affinity hits, %llu misses\n",
					cs[i].name, cs[i].runs, s1.new_flows - s0.new_flows,
					s1.aff_hits - s0.aff_hits, s1.aff_misses - s0.aff_misses);
				return 1;
			}
			cs[i].rounds[r] = cs[i].ns;
		}
	/* the ipip / NAT ratio of each round before the rounds are sorted: the two cases ran
	 * moments apart, so a round's ratio shrugs off a slow spell of the machine that one median
	 * caught and the other did not
	 */
	for (r = 0; ipip_case >= 0 && r < rounds; r++)
		ratios[r] = cs[ipip_case].rounds[r] / cs[3].rounds[r];
	for (r = 0; decap_case >= 0 && r < rounds; r++)
		dratios[r] = cs[decap_case + 1].rounds[r] / cs[decap_case].rounds[r];
	qsort(ratios, rounds, sizeof(double), dcmp);
	qsort(dratios, rounds, sizeof(double), dcmp);
	for (i = 0; i < n; i++) {
		qsort(cs[i].rounds, rounds, sizeof(double), dcmp);
		cs[i].ns = cs[i].rounds[rounds / 2];
	}

	{
		double base = cs[0].ns, floor3 = cs[2].ns;

		printf("| case | ns/packet (median of %d) | min–max | net of `return XDP_TX` | × floor 3 | net × floor 3 |\n",
		       rounds);
		printf("|---|---:|---:|---:|---:|---:|\n");
		for (i = 0; i < n; i++)
			printf("| %s | %.1f | %.0f–%.0f | %.1f | %.2f | %.2f |\n", cs[i].name, cs[i].ns,
			       cs[i].rounds[0], cs[i].rounds[rounds - 1], cs[i].ns - base,
			       cs[i].ns / floor3, i ? (cs[i].ns - base) / (floor3 - base) : 0.0);
		if (ipip_case >= 0)
			printf("\nipip encapsulation per packet / NAT rewrite (established flows): %.2f, the median ratio of %d rounds (%.2f–%.2f; target <= 1.2)\n",
			       ratios[rounds / 2], rounds, ratios[0], ratios[rounds - 1]);
		if (decap_case >= 0)
			printf("decap mode tc per packet / decap XDP (a backend unwrapping it): %.2f, the median ratio of %d rounds (%.2f–%.2f)\n",
			       dratios[rounds / 2], rounds, dratios[0], dratios[rounds - 1]);
	}
	limpet_decap__destroy(dk);
	floor__destroy(fl);
	inst_close(&in);
	limpet_xdp__destroy(lb);
	return 0;
}
