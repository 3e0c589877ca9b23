// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests: frames through the real compiled XDP program with BPF_PROG_TEST_RUN, VIPs and
 * backends configured through the real control operations. Each expected frame is built from
 * scratch (checksums included) and compared byte for byte with what the program wrote.
 * Runs in a private network namespace, so FIB lookups see only what a test sets up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "lib/liblimpet.h"
#include "limpet_xdp.skel.h"
#include "limpet_tc.skel.h"
#include "pktbuild.h"

static struct limpet_xdp *skel;
static struct limpet_tc *tcskel;
static struct inst in;
static int prog_fd, tc_fd;
static char err[LIMPET_ERR_LEN];

#define VIP4T "10.200.0.1:80/tcp"
#define VIP4U "10.200.0.1:53/udp"
#define VIP6T "[fc00:200::1]:80/tcp"
#define VIP6U "[fc00:200::1]:53/udp"
#define VIP4ANY "10.200.0.2:0/tcp"
#define VIP4EMPTY "10.200.0.3:80/tcp"
#define VIP4P24 "10.200.0.4:80/tcp"
#define VIP4TOKU "10.200.0.5:4000/udp"
#define TEST_HALFOPEN 2048

static __u64 event(int e);

static void must(int ret)
{
	if (ret)
		fail_msg("setup: %s", err);
}

static void vip(const char *spec, __u8 policy, int prefix)
{
	struct vip_opts o = { .policy = policy, .affinity_ttl = 1800, .table_size = 65537 };
	struct vip_key k;

	must(vip_parse(spec, &k, err, sizeof(err)));
	if (prefix) {
		o.prefix4 = prefix;
		o.prefix4_set = true;
	}
	must(op_vip_add(&in, &k, &o, err, sizeof(err)));
}

static void backend(const char *vspec, const char *be)
{
	struct vip_key k;

	must(vip_parse(vspec, &k, err, sizeof(err)));
	must(op_backend_add(&in, &k, be, 1, err, sizeof(err)));
}

static int setup(void **state)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (need root)\n", strerror(errno));
		return -1;
	}
	libbpf_quiet(false);
	skel = limpet_xdp__open();
	/* a small half-open table, so a flood test can overrun it several times over */
	if (skel)
		bpf_map__set_max_entries(skel->maps.MAP_NAME_HALFOPEN, TEST_HALFOPEN);
	if (!skel || obj_private_maps(skel->obj, NULL, NULL, 0, err, sizeof(err)) ||
	    limpet_xdp__load(skel) || inst_from_object(&in, skel->obj, err, sizeof(err))) {
		fprintf(stderr, "load limpet_xdp: %s\n", err[0] ? err : strerror(errno));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.limpet_xdp);
	{
		/* the TC program shares every map with the XDP one, as in a live instance */
		static const enum inst_map all[] = { IM_VIPS, IM_BACKENDS, IM_MAGLEV, IM_FLOWS, IM_HALFOPEN,
						     IM_REVERSE, IM_AFFINITY, IM_FRAGS, IM_VIP_STATS,
						     IM_BACKEND_STATS, IM_REASONS, IM_TC_REASONS, IM_CONFIG, IM_DEVS,
						     IM_TOKENS, IM_EVENTS, IM_PENDING };

		tcskel = limpet_tc__open();
		if (!tcskel || obj_private_maps(tcskel->obj, &in, all, sizeof(all) / sizeof(all[0]),
						err, sizeof(err)) || limpet_tc__load(tcskel)) {
			fprintf(stderr, "load limpet_tc: %s\n", err[0] ? err : strerror(errno));
			return -1;
		}
		tc_fd = bpf_program__fd(tcskel->progs.limpet_tc);
	}
	{
		struct limpet_config cfg = { LIMPET_HASH_SEED_DEFAULT, LIMPET_MAGLEV_M_DEFAULT, 0 };
		__u32 zero = 0;

		bpf_map_update_elem(in.fd[IM_CONFIG], &zero, &cfg, BPF_ANY);
	}
	vip(VIP4T, LIMPET_POLICY_IP_HASH, 0);
	backend(VIP4T, "10.1.0.1:8080");
	backend(VIP4T, "10.1.0.2");
	backend(VIP4T, "10.1.0.3");
	vip(VIP4U, LIMPET_POLICY_FIVE_TUPLE, 0);
	backend(VIP4U, "10.1.0.1");
	backend(VIP4U, "10.1.0.2");
	vip(VIP6T, LIMPET_POLICY_IP_HASH, 0);
	backend(VIP6T, "fc00:1::1");
	backend(VIP6T, "[fc00:1::2]:8080");
	vip(VIP6U, LIMPET_POLICY_FIVE_TUPLE, 0);
	backend(VIP6U, "[fc00:1::1]:5353");
	vip(VIP4ANY, LIMPET_POLICY_IP_HASH, 0);
	backend(VIP4ANY, "10.1.0.5");
	vip(VIP4EMPTY, LIMPET_POLICY_IP_HASH, 0);
	{
		struct vip_opts o = { .policy = LIMPET_POLICY_TOKEN, .affinity_ttl = 1800,
				      .table_size = 65537,
				      .token = { .source = LIMPET_TOK_UDP, .offset = 2, .len = 8 } };
		struct vip_key k;

		must(vip_parse(VIP4TOKU, &k, err, sizeof(err)));
		must(op_vip_add(&in, &k, &o, err, sizeof(err)));
		for (int i = 1; i <= 4; i++) {
			char b[32];

			snprintf(b, sizeof(b), "10.1.5.%d", i);
			backend(VIP4TOKU, b);
		}
	}
	{
		struct vip_opts o = { .policy = LIMPET_POLICY_TOKEN, .affinity_ttl = 1800,
				      .table_size = 65537,
				      .token = { .source = LIMPET_TOK_QUERY, .name_len = 3, .name = "sid" } };
		struct vip_key k;

		must(vip_parse("10.200.0.6:80/tcp", &k, err, sizeof(err)));
		must(op_vip_add(&in, &k, &o, err, sizeof(err)));
		backend("10.200.0.6:80/tcp", "10.1.6.1:8080");
		must(vip_parse("[fc00:200::6]:80/tcp", &k, err, sizeof(err)));
		must(op_vip_add(&in, &k, &o, err, sizeof(err)));
		backend("[fc00:200::6]:80/tcp", "fc00:1::6");
	}
	vip(VIP4P24, LIMPET_POLICY_IP_HASH, 24);
	for (int i = 1; i <= 5; i++) {
		char b[32];

		snprintf(b, sizeof(b), "10.1.4.%d", i);
		backend(VIP4P24, b);
	}
	return 0;
}

/* Each test starts with no connection state: flows, affinities, fragments, held segments. */
static int fresh(void **state)
{
	static const enum inst_map maps[] = { IM_FLOWS, IM_HALFOPEN, IM_AFFINITY, IM_FRAGS,
					      IM_PENDING };
	char key[64];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		while (!bpf_map_get_next_key(in.fd[maps[i]], NULL, key))
			if (bpf_map_delete_elem(in.fd[maps[i]], key))
				return -1;
	return 0;
}

static int teardown(void **state)
{
	limpet_tc__destroy(tcskel);
	inst_close(&in);
	limpet_xdp__destroy(skel);
	return 0;
}

struct result {
	int action;
	int reason;
	unsigned char out[4096];
	__u32 len;
};

static void run_if(const unsigned char *pkt, size_t len, struct result *r, unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	__u64 before[LIMPET_R_MAX], after[LIMPET_R_MAX];

	t.data_in = pkt;
	t.data_size_in = len;
	t.data_out = r->out;
	t.data_size_out = sizeof(r->out);
	if (ifindex) {
		t.ctx_in = &ctx;
		t.ctx_size_in = sizeof(ctx);
	}
	reasons_sum(in.fd[IM_REASONS], before);
	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &t), 0);
	reasons_sum(in.fd[IM_REASONS], after);
	r->action = t.retval;
	r->len = t.data_size_out;
	r->reason = -1;
	/* exactly one reason per packet, and never reason 0 (the program's "go on") */
	for (int i = 0; i < LIMPET_R_MAX; i++)
		if (after[i] != before[i]) {
			assert_int_equal(after[i] - before[i], 1);
			assert_int_equal(r->reason, -1);
			r->reason = i;
		}
	assert_int_not_equal(r->reason, -1);
	assert_int_not_equal(r->reason, LIMPET_R_NONE);
}

static void run(const unsigned char *pkt, size_t len, struct result *r)
{
	run_if(pkt, len, r, 0);
}

static void expect_frame(const struct result *r, const struct pspec *want)
{
	unsigned char exp[4096];
	size_t n = pkt_build(want, exp);

	assert_int_equal(r->len, n);
	if (memcmp(r->out, exp, n)) {
		for (size_t i = 0; i < n; i++)
			if (r->out[i] != exp[i])
				fail_msg("frame differs first at byte %zu: got %02x want %02x", i,
					 r->out[i], exp[i]);
	}
}

static void expect_unchanged(const struct result *r, const unsigned char *in_pkt, size_t len)
{
	assert_int_equal(r->action, XDP_PASS);
	assert_int_equal(r->len, len);
	assert_memory_equal(r->out, in_pkt, len);
}

/* Which backend (address text, port) did the frame go to? */
static void out_dst(const struct result *r, char *addr, size_t alen, unsigned short *port)
{
	struct pkt_info pi;

	pkt_decode(r->out, r->len, &pi);
	assert_true(pi.ok);
	addr_str(pi.dst, pi.family, addr, alen);
	*port = pi.dport;
}

static int in_set(const char *a, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(a, *set))
			return 1;
	return 0;
}

/* VIP → backend and the backend's reply → VIP, for one family/protocol. */
static void check_nat_roundtrip(struct pspec s, const char *const *backends,
				const unsigned short *ports)
{
	unsigned char pkt[2048];
	struct result r;
	struct pspec want, reply, back;
	char be[64];
	unsigned short bport;
	size_t len = pkt_build(&s, pkt);
	int i;

	run(pkt, len, &r);
	assert_int_equal(r.action, XDP_PASS); /* no FIB route in the test netns: the kernel routes */
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, be, sizeof(be), &bport);
	assert_true(in_set(be, backends));
	for (i = 0; backends[i] && strcmp(backends[i], be); i++)
		;
	assert_int_equal(bport, ports[i]);
	want = s;
	want.dst = be;
	want.dport = bport;
	expect_frame(&r, &want);

	/* the same packet again takes the flow-table path to the same backend */
	run(pkt, len, &r);
	expect_frame(&r, &want);

	/* the backend's reply comes back from the VIP */
	reply = s;
	reply.src = be;
	reply.sport = bport;
	reply.dst = s.src;
	reply.dport = s.sport;
	reply.payload = "reply!";
	len = pkt_build(&reply, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	back = reply;
	back.src = s.dst;
	back.sport = s.dport;
	expect_frame(&r, &back);
}

static const char *const be4[] = { "10.1.0.1", "10.1.0.2", "10.1.0.3", NULL };
static const unsigned short be4_ports[] = { 8080, 80, 80 };

static void test_nat_v4_tcp(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.10",
			   .dst = "10.200.0.1", .sport = 40000, .dport = 80, .payload = "GET / HTTP/1.1\r\n\r\n" };

	check_nat_roundtrip(s, be4, be4_ports);
}

static void test_nat_v4_udp(void **state)
{
	static const char *const be[] = { "10.1.0.1", "10.1.0.2", NULL };
	static const unsigned short ports[] = { 53, 53 };
	struct pspec s = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.11",
			   .dst = "10.200.0.1", .sport = 5555, .dport = 53, .payload = "query" };

	check_nat_roundtrip(s, be, ports);
	s.udp_nocsum = 1; /* a UDP checksum of 0 stays 0 */
	s.sport = 5556;
	check_nat_roundtrip(s, be, ports);
}

static void test_nat_v6_tcp(void **state)
{
	static const char *const be[] = { "fc00:1::1", "fc00:1::2", NULL };
	static const unsigned short ports[] = { 80, 8080 };
	struct pspec s = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::10",
			   .dst = "fc00:200::1", .sport = 40001, .dport = 80, .payload = "hello" };

	check_nat_roundtrip(s, be, ports);
}

static void test_nat_v6_udp(void **state)
{
	static const char *const be[] = { "fc00:1::1", NULL };
	static const unsigned short ports[] = { 5353 };
	struct pspec s = { .family = 6, .proto = IPPROTO_UDP, .src = "2001:db8::11",
			   .dst = "fc00:200::1", .sport = 5000, .dport = 53, .payload = "q6" };

	check_nat_roundtrip(s, be, ports);
}

static void test_vlan_options_ext(void **state)
{
	struct pspec v = { .family = 4, .vlan = 42, .proto = IPPROTO_TCP, .src = "192.0.2.12",
			   .dst = "10.200.0.1", .sport = 40002, .dport = 80, .payload = "x" };
	struct pspec o = { .family = 4, .ip_opts = 8, .proto = IPPROTO_UDP, .src = "192.0.2.13",
			   .dst = "10.200.0.1", .sport = 40003, .dport = 53, .payload = "opts" };
	static const char *const beu[] = { "10.1.0.1", "10.1.0.2", NULL };
	static const unsigned short beu_ports[] = { 53, 53 };
	static const char *const be6[] = { "fc00:1::1", "fc00:1::2", NULL };
	static const unsigned short be6_ports[] = { 80, 8080 };
	struct pspec e = { .family = 6, .v6_dstopts = 1, .proto = IPPROTO_TCP,
			   .src = "2001:db8::12", .dst = "fc00:200::1", .sport = 40004, .dport = 80,
			   .payload = "ext" };

	check_nat_roundtrip(v, be4, be4_ports);
	check_nat_roundtrip(o, beu, beu_ports);
	check_nat_roundtrip(e, be6, be6_ports);
}

static void test_not_ours(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.20",
			   .dst = "10.200.0.9", .sport = 1, .dport = 80 };
	static const unsigned char arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2,
					       0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };
	unsigned char pkt[2048];
	struct result r;
	size_t len;

	len = pkt_build(&s, pkt);
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_NOT_VIP);

	s.dst = "10.200.0.1"; /* the VIP address, another port */
	s.dport = 81;
	len = pkt_build(&s, pkt);
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_NOT_VIP);

	s.proto = 1; /* ICMP to the VIP */
	len = pkt_build(&s, pkt);
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_L4_OTHER);

	run(arp, sizeof(arp), &r);
	expect_unchanged(&r, arp, sizeof(arp));
	assert_int_equal(r.reason, LIMPET_R_PASS_NOT_IP);
}

static __u64 table_count(int fd)
{
	struct flow_key k, next;
	void *prev = NULL;
	__u64 n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* Flows in both tables: established and half-open. */
static __u64 flow_count(void)
{
	return table_count(in.fd[IM_FLOWS]) + table_count(in.fd[IM_HALFOPEN]);
}

/* Cut a frame at every byte inside its headers, with and without the IP length fixed up to
 * match: never a rewrite, never state.
 */
static void truncate_all(const struct pspec *s, size_t hdr_len)
{
	unsigned char pkt[2048], cut[2048];
	size_t len = pkt_build(s, pkt), l3 = 14 + (s->vlan ? 4 : 0);
	__u64 flows = flow_count();
	struct result r;

	for (size_t n = 14; n < hdr_len && n < len; n++) {
		for (int fix = 0; fix < 2; fix++) {
			memcpy(cut, pkt, n);
			if (fix && s->family == 4 && n >= l3 + 20) {
				unsigned int acc;

				pb_put16(cut + l3 + 2, n - l3);
				cut[l3 + 10] = cut[l3 + 11] = 0;
				acc = pb_sum(cut + l3, (cut[l3] & 0xf) * 4 <= n - l3 ? (cut[l3] & 0xf) * 4 : 20, 0);
				pb_put16(cut + l3 + 10, pb_fold(acc));
			} else if (fix && s->family == 6 && n >= l3 + 40) {
				pb_put16(cut + l3 + 4, n - l3 - 40);
			} else if (fix) {
				continue;
			}
			run(cut, n, &r);
			if (r.action != XDP_PASS || r.len != n || memcmp(r.out, cut, n))
				fail_msg("cut at %zu (fix %d): action %d reason %d, frame changed", n,
					 fix, r.action, r.reason);
			assert_true(r.reason >= LIMPET_R_PASS_NOT_IP && r.reason <= LIMPET_R_PASS_IPV6_EXT);
		}
	}
	assert_int_equal(flow_count(), flows);
}

static void test_truncation(void **state)
{
	struct pspec a = { .family = 4, .vlan = 7, .ip_opts = 12, .proto = IPPROTO_TCP,
			   .src = "192.0.2.30", .dst = "10.200.0.1", .sport = 3, .dport = 80,
			   .payload = "data" };
	struct pspec b = { .family = 6, .v6_dstopts = 1, .proto = IPPROTO_UDP,
			   .src = "2001:db8::30", .dst = "fc00:200::1", .sport = 3, .dport = 53,
			   .payload = "data" };
	struct pspec c = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.31",
			   .dst = "10.200.0.1", .sport = 3, .dport = 53, .payload = "data" };

	truncate_all(&a, 18 + 32 + 20);
	truncate_all(&b, 14 + 48 + 8);
	truncate_all(&c, 14 + 20 + 8);
}

static void test_bad_headers(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.32",
			   .dst = "10.200.0.1", .sport = 3, .dport = 80, .payload = "data" };
	unsigned char pkt[2048];
	struct result r;
	size_t len = pkt_build(&s, pkt);

	pkt[14] = 0x44; /* IHL 4 */
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_BAD_L3);
	len = pkt_build(&s, pkt);
	pkt[14 + 20 + 12] = 0x40; /* TCP data offset 4 */
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_BAD_L4);
	len = pkt_build(&s, pkt);
	pkt[14] = 0x65; /* version 6 in an IPv4 ethertype */
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_BAD_L3);
}

static void test_fragments(void **state)
{
	static const char *const be[] = { "10.1.0.1", "10.1.0.2", NULL };
	static const char *const be6[] = { "fc00:1::1", NULL };
	struct pspec first = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.40",
			       .dst = "10.200.0.1", .sport = 999, .dport = 53, .frag = 1,
			       .ipid = 77, .payload = "first-part" };
	struct pspec later = first, want;
	unsigned char pkt[2048];
	struct result r;
	char b[64];
	unsigned short p;
	size_t len;
	__u64 ev;

	/* a later fragment before its first: passed, counted */
	later.frag = 2;
	later.payload = "second-part";
	len = pkt_build(&later, pkt);
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_FRAG);

	len = pkt_build(&first, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, b, sizeof(b), &p);
	assert_true(in_set(b, be));
	want = first;
	want.dst = b;
	expect_frame(&r, &want);

	ev = event(LIMPET_EV_FRAG_FWD);
	len = pkt_build(&later, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK); /* the verdict; frag_fwd is an event */
	assert_int_equal(event(LIMPET_EV_FRAG_FWD), ev + 1);
	want = later;
	want.dst = b;
	expect_frame(&r, &want);

	/* IPv6 */
	first.family = later.family = 6;
	first.src = later.src = "2001:db8::40";
	first.dst = later.dst = "fc00:200::1";
	first.ipid = later.ipid = 0x01020304;
	len = pkt_build(&first, pkt);
	run(pkt, len, &r);
	out_dst(&r, b, sizeof(b), &p);
	assert_true(in_set(b, be6));
	assert_int_equal(p, 5353);
	want = first;
	want.dst = b;
	want.dport = 5353;
	expect_frame(&r, &want);
	len = pkt_build(&later, pkt);
	run(pkt, len, &r);
	want = later;
	want.dst = b;
	expect_frame(&r, &want);
}

static void test_ttl_and_drop(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.50",
			   .dst = "10.200.0.1", .sport = 5, .dport = 80, .ttl = 1 };
	unsigned char pkt[2048];
	struct result r;
	__u64 flows = flow_count();
	size_t len = pkt_build(&s, pkt);

	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_TTL);
	assert_int_equal(flow_count(), flows);

	s.ttl = 64;
	s.dst = "10.200.0.3"; /* a VIP without backends */
	len = pkt_build(&s, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.action, XDP_DROP);
	assert_int_equal(r.reason, LIMPET_R_DROP_NO_BACKEND);
}

static void test_port0_vip(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.60",
			   .dst = "10.200.0.2", .sport = 6, .dport = 4242 }, want;
	unsigned char pkt[2048];
	struct result r;
	size_t len = pkt_build(&s, pkt);

	run(pkt, len, &r);
	want = s;
	want.dst = "10.1.0.5";
	expect_frame(&r, &want);
}

/* A TCP handshake through the VIP: the client's SYN, the backend's SYN-ACK (seq 5000), the
 * client's ACK of it; the flow is then established. be, *bport: the backend chosen.
 */
static void establish(const char *src, const char *dst, unsigned short sport,
		      unsigned short dport, char *be, size_t blen, unsigned short *bport)
{
	struct pspec c = { .family = strchr(src, ':') ? 6 : 4, .proto = IPPROTO_TCP, .src = src,
			   .dst = dst, .sport = sport, .dport = dport, .tcp_flags = 0x02, .seq = 100 };
	struct pspec b;
	unsigned char pkt[2048];
	struct result r;

	run(pkt, pkt_build(&c, pkt), &r);
	out_dst(&r, be, blen, bport);
	b = (struct pspec){ .family = c.family, .proto = IPPROTO_TCP, .src = be, .dst = src,
			    .sport = *bport, .dport = sport, .tcp_flags = 0x12, .seq = 5000,
			    .ack = 101 };
	run(pkt, pkt_build(&b, pkt), &r);
	assert_true(r.reason == LIMPET_R_FWD_STACK || r.reason == LIMPET_R_FWD_REDIRECT ||
		    r.reason == LIMPET_R_FWD_TX);
	c.tcp_flags = 0x10;
	c.seq = 101;
	c.ack = 5001;
	run(pkt, pkt_build(&c, pkt), &r);
	assert_true(r.reason == LIMPET_R_FWD_STACK || r.reason == LIMPET_R_FWD_REDIRECT ||
		    r.reason == LIMPET_R_FWD_TX);
}

static void backend_of(const char *src, const char *dst, unsigned short sport,
		       unsigned short dport, char *out, size_t olen)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = src, .dst = dst,
			   .sport = sport, .dport = dport, .tcp_flags = 0x02 };
	unsigned char pkt[2048];
	struct result r;
	unsigned short p;

	run(pkt, pkt_build(&s, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, out, olen, &p);
}

/* TCP close tracking: FIN both ways or RST closes a flow; a backend SYN-ACK on a closed flow's
 * tuple is not limpet's (the client reached the backend directly) and removes the flow both
 * ways; a client SYN on the tuple opens it again.
 */
static __u8 flow_fin(const struct pspec *c)
{
	struct flow_key k = { .proto = IPPROTO_TCP, .family = LIMPET_AF_INET };
	struct flow_val fv;

	assert_int_equal(inet_pton(AF_INET, c->src, k.src), 1);
	assert_int_equal(inet_pton(AF_INET, c->dst, k.dst), 1);
	k.sport = htons(c->sport);
	k.dport = htons(c->dport);
	if (bpf_map_lookup_elem(in.fd[IM_FLOWS], &k, &fv) &&
	    bpf_map_lookup_elem(in.fd[IM_HALFOPEN], &k, &fv))
		return 0xff; /* no flow */
	return fv.sp.fin;
}

static void test_close_tracking(void **state)
{
	struct pspec c = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.77", .dst = "10.200.0.1",
			   .sport = 33000, .dport = 80, .tcp_flags = 0x02 };
	struct pspec b, back;
	unsigned char pkt[2048];
	struct result r;
	char be[64];
	unsigned short bport;
	size_t len;

	run(pkt, pkt_build(&c, pkt), &r); /* SYN: a new flow */
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, be, sizeof(be), &bport);
	assert_int_equal(flow_fin(&c), 0);
	b = (struct pspec){ .family = 4, .proto = IPPROTO_TCP, .src = be, .dst = c.src,
			    .sport = bport, .dport = c.sport, .tcp_flags = 0x11 /* FIN ACK */ };
	back = b;
	back.src = c.dst;
	back.sport = c.dport;
	run(pkt, pkt_build(&b, pkt), &r); /* the backend closes first */
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	expect_frame(&r, &back); /* still translated */
	assert_int_equal(flow_fin(&c), LIMPET_FIN_BACKEND);
	c.tcp_flags = 0x11;
	run(pkt, pkt_build(&c, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	assert_int_equal(flow_fin(&c), LIMPET_FIN_BACKEND | LIMPET_FIN_CLIENT);
	/* the last ACK still goes back from the VIP */
	b.tcp_flags = 0x10;
	back.tcp_flags = 0x10;
	run(pkt, pkt_build(&b, pkt), &r);
	expect_frame(&r, &back);
	/* a SYN-ACK on the closed tuple answers a direct connection: untouched, flow gone */
	b.tcp_flags = 0x12;
	len = pkt_build(&b, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_PASS_STALE);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(flow_fin(&c), 0xff);
	run(pkt, len, &r); /* and nothing of limpet's is left for it */
	assert_int_equal(r.reason, LIMPET_R_PASS_NOT_VIP);

	/* again: closed by the client's RST; then the client's SYN on the tuple opens it again */
	c.tcp_flags = 0x02;
	run(pkt, pkt_build(&c, pkt), &r);
	c.tcp_flags = 0x04;
	run(pkt, pkt_build(&c, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	assert_int_equal(flow_fin(&c), LIMPET_FIN_RST);
	c.tcp_flags = 0x02;
	run(pkt, pkt_build(&c, pkt), &r);
	assert_int_equal(flow_fin(&c), 0);
	b.tcp_flags = 0x12;
	back.tcp_flags = 0x12;
	run(pkt, pkt_build(&b, pkt), &r); /* the backend's answer to that SYN is translated */
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	expect_frame(&r, &back);
	/* a backend RST closes it too */
	b.tcp_flags = 0x04;
	run(pkt, pkt_build(&b, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	assert_int_equal(flow_fin(&c), LIMPET_FIN_RST);
	assert_int_equal(op_flows_sweep(&in, 5, 3600, 0) >= 1, 1);
	assert_int_equal(flow_fin(&c), 0xff);
}

static void test_stickiness_and_prefix(void **state)
{
	char first[64], b[64], seen[8][64], src[32];
	int nseen = 0, i, c;

	/* ip-hash: every new connection of a client lands on its backend */
	for (c = 0; c < 20; c++) {
		snprintf(src, sizeof(src), "198.51.100.%d", c + 1);
		backend_of(src, "10.200.0.1", 10000, 80, first, sizeof(first));
		for (i = 1; i < 6; i++) {
			backend_of(src, "10.200.0.1", 10000 + i, 80, b, sizeof(b));
			assert_string_equal(b, first);
		}
	}
	/* prefix 24: a whole /24 goes to one backend; /24s are spread */
	for (c = 0; c < 30; c++) {
		snprintf(src, sizeof(src), "203.0.%d.1", c);
		backend_of(src, "10.200.0.4", 1, 80, first, sizeof(first));
		for (i = 2; i < 60; i += 7) {
			snprintf(src, sizeof(src), "203.0.%d.%d", c, i);
			backend_of(src, "10.200.0.4", 1, 80, b, sizeof(b));
			assert_string_equal(b, first);
		}
		for (i = 0; i < nseen && strcmp(seen[i], first); i++)
			;
		if (i == nseen && nseen < 8)
			snprintf(seen[nseen++], 64, "%s", first);
	}
	assert_true(nseen >= 4); /* 30 /24s over 5 backends */
}

static void test_affinity_table(void **state)
{
	struct vip_key k;
	struct vip_meta m;
	struct affinity_key ak = { .kind = LIMPET_AFF_SRC_IP };
	struct affinity_val av = {};
	struct limpet_stats before, after;
	char maglev_choice[64], b[64];
	__u32 id;

	must(vip_parse(VIP4T, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &m), 0);
	backend_of("198.51.100.200", "10.200.0.1", 1, 80, maglev_choice, sizeof(maglev_choice));

	/* point a fresh client's affinity at a backend Maglev would not pick for it */
	ak.vip_id = m.vip_id;
	inet_pton(AF_INET, "198.51.100.201", ak.key);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		struct backend be;
		char a[64];

		if (bpf_map_lookup_elem(in.fd[IM_BACKENDS], &id, &be) || be.vip_id != m.vip_id ||
		    be.state != LIMPET_BE_ACTIVE)
			continue;
		backend_of("198.51.100.201", "10.200.0.1", 2, 80, b, sizeof(b));
		if (strcmp(addr_str(be.addr, be.family, a, sizeof(a)), b))
			break;
	}
	assert_true(id < LIMPET_MAX_BACKENDS);
	av.backend_id = id;
	av.last_seen = mono_coarse_ns();
	assert_int_equal(bpf_map_update_elem(in.fd[IM_AFFINITY], &ak, &av, BPF_ANY), 0);
	stats_sum(in.fd[IM_VIP_STATS], m.vip_id, &before);
	backend_of("198.51.100.201", "10.200.0.1", 3, 80, b, sizeof(b));
	stats_sum(in.fd[IM_VIP_STATS], m.vip_id, &after);
	{
		struct backend be;
		char a[64];

		bpf_map_lookup_elem(in.fd[IM_BACKENDS], &id, &be);
		assert_string_equal(b, addr_str(be.addr, be.family, a, sizeof(a)));
	}
	assert_int_equal(after.aff_hits - before.aff_hits, 1);
	assert_int_equal(after.new_flows - before.new_flows, 1);

	/* an expired entry is ignored: back to Maglev's choice */
	av.last_seen = mono_coarse_ns() - (m.affinity_ttl + 5) * 1000000000ULL;
	assert_int_equal(bpf_map_update_elem(in.fd[IM_AFFINITY], &ak, &av, BPF_ANY), 0);
	backend_of("198.51.100.201", "10.200.0.1", 4, 80, b, sizeof(b));
	backend_of("198.51.100.201", "10.200.0.1", 5, 80, maglev_choice, sizeof(maglev_choice));
	assert_string_equal(b, maglev_choice);
}

static void test_drain_and_delete(void **state)
{
	struct vip_key k;
	char b[64], victim[64], spec[64];
	unsigned short bp;
	int c;

	must(vip_parse(VIP4P24, &k, err, sizeof(err)));
	/* a client with an open (established) connection */
	establish("192.0.2.99", "10.200.0.4", 7000, 80, victim, sizeof(victim), &bp);
	snprintf(spec, sizeof(spec), "%s", victim);
	must(op_backend_set_state(&in, &k, spec, LIMPET_BE_DRAINING, err, sizeof(err)));
	/* its flow and its affinity keep the draining backend */
	backend_of("192.0.2.99", "10.200.0.4", 7000, 80, b, sizeof(b));
	assert_string_equal(b, victim);
	backend_of("192.0.2.99", "10.200.0.4", 7001, 80, b, sizeof(b));
	assert_string_equal(b, victim);
	/* no new client gets it */
	for (c = 0; c < 200; c++) {
		char src[32];

		snprintf(src, sizeof(src), "100.64.%d.%d", c / 200, c % 200 + 1);
		backend_of(src, "10.200.0.4", 1, 80, b, sizeof(b));
		assert_string_not_equal(b, victim);
	}
	/* deleted: the open flow is re-selected on its next packet */
	must(op_backend_set_state(&in, &k, spec, LIMPET_BE_FREE, err, sizeof(err)));
	backend_of("192.0.2.99", "10.200.0.4", 7000, 80, b, sizeof(b));
	assert_string_not_equal(b, victim);
	must(op_backend_add(&in, &k, spec, 1, err, sizeof(err)));
}

static void udp_token_backend(const char *src, unsigned short sport, const char *payload,
			      char *out, size_t olen)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_UDP, .src = src, .dst = "10.200.0.5",
			   .sport = sport, .dport = 4000, .payload = payload };
	unsigned char pkt[2048];
	struct result r;
	unsigned short p;

	run(pkt, pkt_build(&s, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, out, olen, &p);
}

static void test_udp_token(void **state)
{
	__u64 ev0[LIMPET_EV_MAX], ev1[LIMPET_EV_MAX];
	char first[64], b[64], src[32], tok[32];
	int seen = 0, t, c;
	char names[4][64] = { "" };

	counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, ev0);
	/* one session token from 10 client addresses and ports: one backend */
	udp_token_backend("198.18.7.1", 1000, "v1SESSION1rest", first, sizeof(first));
	for (c = 2; c <= 10; c++) {
		snprintf(src, sizeof(src), "198.18.%d.%d", c, c * 3);
		udp_token_backend(src, 1000 + c, "v1SESSION1other-bytes", b, sizeof(b));
		assert_string_equal(b, first);
	}
	/* different tokens from one address spread over the backends */
	for (t = 0; t < 40; t++) {
		snprintf(tok, sizeof(tok), "v1tok%05dxyz", t);
		udp_token_backend("198.18.99.1", 2000 + t, tok, b, sizeof(b));
		for (c = 0; c < seen && strcmp(names[c], b); c++)
			;
		if (c == seen && seen < 4)
			snprintf(names[seen++], 64, "%s", b);
	}
	assert_int_equal(seen, 4);
	counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, ev1);
	assert_int_equal(ev1[LIMPET_EV_TOKEN_FOUND] - ev0[LIMPET_EV_TOKEN_FOUND], 50);
	/* too short for offset 2 + len 8: the fallback (ip-hash), counted */
	udp_token_backend("198.18.99.2", 3000, "v1short", b, sizeof(b));
	counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, ev1);
	assert_int_equal(ev1[LIMPET_EV_TOKEN_MISSING] - ev0[LIMPET_EV_TOKEN_MISSING], 1);
}

/* ---- token VIPs: the delayed-binding transitions ---- */

struct tcp_seen {
	unsigned int seq, ack;
	unsigned char flags;
	unsigned short window, mss;
	int ws, sack, ts;
	unsigned int tsval, tsecr;
	unsigned int sack_l, sack_r;
	size_t plen;
	const unsigned char *payload;
};

static unsigned int rd32(const unsigned char *p)
{
	return (unsigned int)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* The TCP header of an untagged IPv4 frame, options decoded. */
static void tcp_seen(const struct result *r, struct tcp_seen *t)
{
	const unsigned char *th = r->out + 14 + 20;
	size_t hl = (th[12] >> 4) * 4, off = 20, tot = (r->out[16] << 8 | r->out[17]);

	memset(t, 0, sizeof(*t));
	t->ws = -1;
	t->seq = rd32(th + 4);
	t->ack = rd32(th + 8);
	t->flags = th[13];
	t->window = th[14] << 8 | th[15];
	while (off < hl) {
		unsigned char k = th[off], l;

		if (k == 0)
			break;
		if (k == 1) {
			off++;
			continue;
		}
		l = th[off + 1];
		if (k == 2)
			t->mss = th[off + 2] << 8 | th[off + 3];
		if (k == 3)
			t->ws = th[off + 2];
		if (k == 4)
			t->sack = 1;
		if (k == 5) {
			t->sack_l = rd32(th + off + 2);
			t->sack_r = rd32(th + off + 6);
		}
		if (k == 8) {
			t->ts = 1;
			t->tsval = rd32(th + off + 2);
			t->tsecr = rd32(th + off + 6);
		}
		off += l;
	}
	t->plen = tot - 20 - hl;
	t->payload = th + hl;
}

/* The TC program on one packet; like run_if, exactly one TC reason per packet. */
static void run_tc(const unsigned char *pkt, size_t len, struct result *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	__u64 before[LIMPET_TC_MAX], after[LIMPET_TC_MAX];

	t.data_in = pkt;
	t.data_size_in = len;
	t.data_out = r->out;
	t.data_size_out = sizeof(r->out);
	counters_sum(in.fd[IM_TC_REASONS], LIMPET_TC_MAX, before);
	assert_int_equal(bpf_prog_test_run_opts(tc_fd, &t), 0);
	counters_sum(in.fd[IM_TC_REASONS], LIMPET_TC_MAX, after);
	r->action = t.retval;
	r->len = t.data_size_out;
	r->reason = -1;
	for (int i = 0; i < LIMPET_TC_MAX; i++)
		if (after[i] != before[i]) {
			assert_int_equal(after[i] - before[i], 1);
			assert_int_equal(r->reason, -1);
			r->reason = i;
		}
	assert_int_not_equal(r->reason, -1);
	assert_int_not_equal(r->reason, LIMPET_TC_NONE);
}

static __u64 event(int e)
{
	__u64 ev[LIMPET_EV_MAX];

	counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, ev);
	return ev[e];
}

/* Established connections live apart from half-open ones: a flood of spoofed SYNs and of
 * short connections, several times the half-open table, evicts none of them, writes no
 * affinity for a spoofed source, and the backend can push first afterwards.
 */
static void test_established_survives_churn(void **state)
{
	struct pspec push, want, c;
	unsigned char pkt[2048];
	struct result r;
	char be[64], b2[64], src[32];
	__u64 aff_before, est_before;
	unsigned short bport;
	int i;

	establish("192.0.2.150", "10.200.0.1", 40000, 80, be, sizeof(be), &bport);
	est_before = table_count(in.fd[IM_FLOWS]);
	assert_true(est_before >= 1);
	aff_before = table_count(in.fd[IM_AFFINITY]);
	c = (struct pspec){ .family = 4, .proto = IPPROTO_TCP, .dst = "10.200.0.1", .dport = 80,
			    .tcp_flags = 0x02, .src = src };
	for (i = 0; i < 3 * TEST_HALFOPEN; i++) {
		snprintf(src, sizeof(src), "198.%d.%d.%d", 18 + i / 65536, i / 256 % 256, i % 256);
		c.sport = 1024 + i % 60000;
		run(pkt, pkt_build(&c, pkt), &r);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	}
	/* spoofed sources never completed a handshake: no affinity, nothing established */
	assert_int_equal(table_count(in.fd[IM_AFFINITY]), aff_before);
	assert_int_equal(table_count(in.fd[IM_FLOWS]), est_before);
	assert_true(table_count(in.fd[IM_HALFOPEN]) <= TEST_HALFOPEN);
	/* the backend speaks first after the flood: still from the VIP */
	push = (struct pspec){ .family = 4, .proto = IPPROTO_TCP, .src = be, .dst = "192.0.2.150",
			       .sport = bport, .dport = 40000, .tcp_flags = 0x18, .seq = 5001,
			       .ack = 101, .payload = "push" };
	want = push;
	want.src = "10.200.0.1";
	want.sport = 80;
	run(pkt, pkt_build(&push, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	expect_frame(&r, &want);
	/* and the client answers on the same backend */
	c = (struct pspec){ .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.150",
			    .dst = "10.200.0.1", .sport = 40000, .dport = 80, .tcp_flags = 0x10,
			    .seq = 101, .ack = 5005 };
	run(pkt, pkt_build(&c, pkt), &r);
	out_dst(&r, b2, sizeof(b2), &bport);
	assert_string_equal(b2, be);
	/* a connection that closes leaves the established table */
	c.tcp_flags = 0x04;
	run(pkt, pkt_build(&c, pkt), &r);
	assert_int_equal(table_count(in.fd[IM_FLOWS]), est_before - 1);
	assert_int_equal(flow_fin(&c), LIMPET_FIN_RST);
}

/* A SYN to a token VIP whose responder cannot be tail-called: dropped with a reason of its own. */
static void test_tail_call_missed(void **state)
{
	struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.152",
			     .dst = "10.200.0.6", .sport = 7400, .dport = 80, .tcp_flags = 0x02 };
	int jump = bpf_map__fd(skel->maps.limpet_jump), fd;
	unsigned char pkt[512];
	struct result r;
	__u32 k = 0;

	assert_int_equal(bpf_map_lookup_elem(jump, &k, &fd), 0); /* the program's id */
	assert_int_equal(bpf_map_delete_elem(jump, &k), 0);
	run(pkt, pkt_build(&syn, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_DROP_TAIL_CALL);
	assert_int_equal(r.action, XDP_DROP);
	fd = bpf_program__fd(skel->progs.limpet_synproxy4);
	assert_int_equal(bpf_map_update_elem(jump, &k, &fd, BPF_ANY), 0);
	run(pkt, pkt_build(&syn, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_SYNACK);
}

/* UDP: a flow is established when the client sends after the backend replied. */
static void test_udp_established(void **state)
{
	struct pspec c = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.151",
			   .dst = "10.200.0.1", .sport = 5353, .dport = 53, .payload = "q" }, b;
	unsigned char pkt[2048];
	struct result r;
	char be[64];
	unsigned short bport;
	__u64 est = table_count(in.fd[IM_FLOWS]);

	run(pkt, pkt_build(&c, pkt), &r);
	out_dst(&r, be, sizeof(be), &bport);
	run(pkt, pkt_build(&c, pkt), &r); /* the client again, no reply yet: still half-open */
	assert_int_equal(table_count(in.fd[IM_FLOWS]), est);
	b = (struct pspec){ .family = 4, .proto = IPPROTO_UDP, .src = be, .dst = c.src,
			    .sport = bport, .dport = c.sport, .payload = "a" };
	run(pkt, pkt_build(&b, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	run(pkt, pkt_build(&c, pkt), &r);
	assert_int_equal(table_count(in.fd[IM_FLOWS]), est + 1);
}

static void expect_valid(const struct result *r)
{
	struct pkt_info pi;

	pkt_decode(r->out, r->len, &pi);
	assert_true(pi.ok && pi.len_ok && pi.l3_csum_ok);
	assert_int_equal(pi.l4_csum_ok, 1);
}

#define OPT_ALL { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 1, 3, 3, 9 }

/* SYN → SYN-ACK from XDP: a cookie, the client's options answered only if offered. */
static void test_token_synack(void **state)
{
	static const unsigned char all[] = OPT_ALL;                         /* MSS SACK TS WS */
	static const unsigned char nots[] = { 2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 3, 3, 9 }; /* MSS SACK WS */
	static const unsigned char nows[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0 };
	static const unsigned char nosack[] = { 2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 1, 3, 3, 9 };
	const struct { const unsigned char *o; int len, ts, ws, sack; } mix[] = {
		{ all, sizeof(all), 1, 1, 1 }, { nots, sizeof(nots), 0, 0, 0 },
		{ nows, sizeof(nows), 1, 0, 1 }, { nosack, sizeof(nosack), 1, 1, 0 },
	};
	__u64 flows = flow_count();

	for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
		struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.210",
				     .dst = "10.200.0.6", .sport = 6000 + i, .dport = 80,
				     .tcp_flags = 0x02, .seq = 1000000, .topts = mix[i].o,
				     .topts_len = mix[i].len };
		unsigned char pkt[512];
		struct result r;
		struct tcp_seen t;
		struct pkt_info pi;

		run(pkt, pkt_build(&syn, pkt), &r);
		assert_int_equal(r.action, XDP_TX);
		assert_int_equal(r.reason, LIMPET_R_SYNACK);
		expect_valid(&r);
		pkt_decode(r.out, r.len, &pi);
		assert_int_equal(pi.sport, 80);
		assert_int_equal(pi.dport, 6000 + i);
		tcp_seen(&r, &t);
		assert_int_equal(t.flags, 0x12);
		assert_int_equal(t.ack, 1000001);
		assert_int_equal(t.window, 1460);
		assert_int_equal(t.mss, 1460);
		assert_int_equal(t.ts, mix[i].ts);
		if (mix[i].ts)
			assert_int_equal(t.tsecr, 1000);
		assert_int_equal(t.ws >= 0, mix[i].ws);
		assert_int_equal(t.sack, mix[i].sack);
		assert_int_equal(t.plen, 0);
	}
	assert_int_equal(flow_count(), flows); /* no state for a SYN */
}

struct handshake {
	unsigned int cookie, tsval;
};

static void token_syn(unsigned short sport, struct handshake *h)
{
	static const unsigned char all[] = OPT_ALL;
	struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.211", .dst = "10.200.0.6",
			     .sport = sport, .dport = 80, .tcp_flags = 0x02, .seq = 5000,
			     .topts = all, .topts_len = sizeof(all) };
	unsigned char pkt[512];
	struct result r;
	struct tcp_seen t;

	run(pkt, pkt_build(&syn, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_SYNACK);
	tcp_seen(&r, &t);
	h->cookie = t.seq;
	h->tsval = t.tsval;
}

static size_t first_segment(unsigned short sport, const struct handshake *h, unsigned int ackdelta,
			    const char *req, unsigned char *pkt)
{
	unsigned char ts[12] = { 1, 1, 8, 10, 0, 0, 0x03, 0xe9 };
	struct pspec d = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.211",
			   .dst = "10.200.0.6", .sport = sport, .dport = 80, .tcp_flags = 0x18,
			   .seq = 5001, .ack = h->cookie + 1 + ackdelta, .window = 502,
			   .topts = ts, .topts_len = 12, .payload = req };

	ts[8] = h->tsval >> 24;
	ts[9] = h->tsval >> 16;
	ts[10] = h->tsval >> 8;
	ts[11] = h->tsval;
	return pkt_build(&d, pkt);
}

/* IPv6: the SYN-ACK comes from the IPv6 responder (its own tail-call program). */
static void test_token_synack_v6(void **state)
{
	static const unsigned char all[] = OPT_ALL;
	struct pspec syn = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::210",
			     .dst = "fc00:200::6", .sport = 6100, .dport = 80, .tcp_flags = 0x02,
			     .seq = 2000000, .topts = all, .topts_len = sizeof(all) };
	unsigned char pkt[512];
	struct result r;
	struct pkt_info pi;
	const unsigned char *th;
	char a[64];

	run(pkt, pkt_build(&syn, pkt), &r);
	assert_int_equal(r.action, XDP_TX);
	assert_int_equal(r.reason, LIMPET_R_SYNACK);
	pkt_decode(r.out, r.len, &pi);
	assert_true(pi.ok && pi.len_ok);
	assert_int_equal(pi.l4_csum_ok, 1);
	assert_string_equal(addr_str(pi.src, 6, a, sizeof(a)), "fc00:200::6");
	assert_string_equal(addr_str(pi.dst, 6, a, sizeof(a)), "2001:db8::210");
	th = r.out + 14 + 40;
	assert_int_equal(th[13], 0x12);
	assert_int_equal(rd32(th + 8), 2000001);
	assert_int_equal(th[20], 2); /* MSS first: one IPv6 MSS */
	assert_int_equal(th[22] << 8 | th[23], 1440);
}

static void test_token_bad_cookie(void **state)
{
	unsigned char pkt[512];
	struct handshake h;
	struct result r;
	__u64 bad = event(LIMPET_EV_COOKIE_BAD), flows;
	size_t len;

	token_syn(7000, &h);
	flows = flow_count();
	len = first_segment(7000, &h, 7, "GET /?sid=x HTTP/1.1\r\n\r\n", pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_TO_TC);
	run_tc(pkt, len, &r);
	assert_int_equal(r.action, 2 /* TC_ACT_SHOT */);
	assert_int_equal(r.reason, LIMPET_TC_DROP_COOKIE);
	assert_int_equal(event(LIMPET_EV_COOKIE_BAD), bad + 1);
	assert_int_equal(flow_count(), flows);
}

/* first segment → backend SYN; backend SYN-ACK → the held segment; then both directions */
static void test_token_binding(void **state)
{
	static const char req[] = "GET /ride?x=1&sid=rider-42 HTTP/1.1\r\nHost: v\r\n\r\n";
	static const unsigned char sa_opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x13, 0x88,
						 0, 0, 0x03, 0xe9, 1, 3, 3, 9 };
	unsigned char pkt[512];
	struct handshake h;
	struct result r;
	struct tcp_seen t;
	struct pkt_info pi;
	char a[64];
	size_t len;
	unsigned int b_isn = 0x70000000, delta, ts_off;
	__u64 retry = event(LIMPET_EV_SYN_RETRY), done = event(LIMPET_EV_BIND_DONE);

	token_syn(7100, &h);
	len = first_segment(7100, &h, 0, req, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_TO_TC);
	run_tc(pkt, len, &r);
	assert_int_equal(r.action, 0 /* TC_ACT_OK: the kernel routes the SYN */);
	assert_int_equal(r.reason, LIMPET_TC_BIND_SYN);
	expect_valid(&r);
	pkt_decode(r.out, r.len, &pi);
	assert_string_equal(addr_str(pi.dst, 4, a, sizeof(a)), "10.1.6.1");
	assert_string_equal(addr_str(pi.src, 4, a, sizeof(a)), "192.0.2.211");
	assert_int_equal(pi.dport, 8080);
	tcp_seen(&r, &t);
	assert_int_equal(t.flags, 0x02);
	assert_int_equal(t.seq, 5000); /* the client's ISN */
	assert_int_equal(t.plen, 0);   /* syn-data off: the segment is held */
	assert_int_equal(t.mss, 1460);
	assert_int_equal(t.ws, 9);
	assert_true(t.sack && t.ts);
	assert_int_equal(t.tsval, 1001);

	/* the first segment again while binding: the SYN is sent again */
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_TO_TC);
	run_tc(pkt, len, &r);
	tcp_seen(&r, &t);
	assert_int_equal(t.flags, 0x02);
	assert_int_equal(event(LIMPET_EV_SYN_RETRY), retry + 1);

	/* the backend's SYN-ACK becomes the held segment, back to the backend */
	{
		struct pspec sa = { .family = 4, .proto = IPPROTO_TCP, .src = "10.1.6.1",
				    .dst = "192.0.2.211", .sport = 8080, .dport = 7100,
				    .tcp_flags = 0x12, .seq = b_isn, .ack = 5001, .window = 65160,
				    .topts = sa_opts, .topts_len = sizeof(sa_opts) };

		len = pkt_build(&sa, pkt);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_TO_TC);
		run_tc(pkt, len, &r);
		assert_int_equal(r.action, 7 /* TC_ACT_REDIRECT, back out to the backend */);
		assert_int_equal(r.reason, LIMPET_TC_DELIVER);
		expect_valid(&r);
		pkt_decode(r.out, r.len, &pi);
		assert_string_equal(addr_str(pi.dst, 4, a, sizeof(a)), "10.1.6.1");
		assert_int_equal(pi.sport, 7100);
		assert_int_equal(pi.dport, 8080);
		tcp_seen(&r, &t);
		assert_int_equal(t.flags, 0x18);
		assert_int_equal(t.seq, 5001);
		assert_int_equal(t.ack, b_isn + 1);
		assert_int_equal(t.window, 502);
		assert_true(t.ts);
		assert_int_equal(t.tsval, 1001);
		assert_int_equal(t.tsecr, 5000);
		assert_int_equal(t.plen, sizeof(req) - 1);
		assert_memory_equal(t.payload, req, sizeof(req) - 1);
		assert_int_equal(event(LIMPET_EV_BIND_DONE), done + 1);
	}
	delta = h.cookie - b_isn;
	{
		struct flow_key fk = { .sport = htons(7100), .dport = htons(80), .proto = IPPROTO_TCP,
				       .family = 4 };
		struct flow_val fv;

		inet_pton(AF_INET, "192.0.2.211", fk.src);
		inet_pton(AF_INET, "10.200.0.6", fk.dst);
		assert_int_equal(bpf_map_lookup_elem(in.fd[IM_FLOWS], &fk, &fv), 0);
		assert_int_equal(fv.sp.state, LIMPET_SP_ESTABLISHED);
		assert_int_equal(fv.sp.delta, delta);
		ts_off = fv.sp.ts_off;
	}

	/* twice: from flows, then from halfopen, where a spliced flow lives on when flows was full */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			struct flow_key fk = { .sport = htons(7100), .dport = htons(80),
					       .proto = IPPROTO_TCP, .family = 4 };
			struct flow_val fv;

			inet_pton(AF_INET, "192.0.2.211", fk.src);
			inet_pton(AF_INET, "10.200.0.6", fk.dst);
			assert_int_equal(bpf_map_lookup_elem(in.fd[IM_FLOWS], &fk, &fv), 0);
			assert_int_equal(bpf_map_update_elem(in.fd[IM_HALFOPEN], &fk, &fv, BPF_ANY), 0);
			assert_int_equal(bpf_map_delete_elem(in.fd[IM_FLOWS], &fk), 0);
		}
		/* client → backend: ack and SACK edges into the backend's space, TSecr back to its clock */
		{
			unsigned char o[24] = { 1, 1, 8, 10, 0, 0, 0x03, 0xea, 0, 0, 0, 0, 1, 1, 5, 10 };
			unsigned int ecr = 5000 - ts_off, sl = h.cookie + 100, sr = h.cookie + 200;
			struct pspec c = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.211",
					   .dst = "10.200.0.6", .sport = 7100, .dport = 80, .tcp_flags = 0x10,
					   .seq = 5001 + sizeof(req) - 1, .ack = h.cookie + 1 + 50,
					   .window = 500, .topts = o, .topts_len = 24 };

			o[8] = ecr >> 24, o[9] = ecr >> 16, o[10] = ecr >> 8, o[11] = ecr;
			o[16] = sl >> 24, o[17] = sl >> 16, o[18] = sl >> 8, o[19] = sl;
			o[20] = sr >> 24, o[21] = sr >> 16, o[22] = sr >> 8, o[23] = sr;
			len = pkt_build(&c, pkt);
			run(pkt, len, &r);
			assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
			expect_valid(&r);
			tcp_seen(&r, &t);
			assert_int_equal(t.ack, b_isn + 1 + 50);
			assert_int_equal(t.sack_l, b_isn + 100);
			assert_int_equal(t.sack_r, b_isn + 200);
			assert_int_equal(t.tsecr, 5000);
			assert_int_equal(t.tsval, 1002);
			assert_int_equal(t.window, 500);
		}
		/* backend → client: seq into the client's space, TSval onto limpet's clock, window rescaled */
		{
			unsigned char o[12] = { 1, 1, 8, 10, 0, 0, 0x13, 0x92, 0, 0, 0x03, 0xea };
			struct pspec b = { .family = 4, .proto = IPPROTO_TCP, .src = "10.1.6.1",
					   .dst = "192.0.2.211", .sport = 8080, .dport = 7100, .tcp_flags = 0x18,
					   .seq = b_isn + 1, .ack = 5001 + sizeof(req) - 1, .window = 100,
					   .topts = o, .topts_len = 12, .payload = "HTTP/1.1 200 OK\r\n\r\n" };

			len = pkt_build(&b, pkt);
			run(pkt, len, &r);
			assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
			expect_valid(&r);
			pkt_decode(r.out, r.len, &pi);
			assert_string_equal(addr_str(pi.src, 4, a, sizeof(a)), "10.200.0.6");
			assert_int_equal(pi.sport, 80);
			tcp_seen(&r, &t);
			assert_int_equal(t.seq, h.cookie + 1);
			assert_int_equal(t.tsval, 5010 - ts_off);
			assert_int_equal(t.tsecr, 1002);
			assert_int_equal(t.window, 100 << 9 >> 7); /* backend scale 9, client reads scale 7 */
		}
	}
}

static void test_token_backend_rst(void **state)
{
	unsigned char pkt[512];
	struct handshake h;
	struct result r;
	struct tcp_seen t;
	struct pkt_info pi;
	char a[64];
	size_t len;
	__u64 failed = event(LIMPET_EV_BIND_FAILED), flows;

	token_syn(7200, &h);
	len = first_segment(7200, &h, 0, "GET /?sid=gone HTTP/1.1\r\n\r\n", pkt);
	run(pkt, len, &r);
	run_tc(pkt, len, &r);
	flows = flow_count();
	{
		struct pspec rst = { .family = 4, .proto = IPPROTO_TCP, .src = "10.1.6.1",
				     .dst = "192.0.2.211", .sport = 8080, .dport = 7200,
				     .tcp_flags = 0x14, .seq = 0, .ack = 5001 };

		len = pkt_build(&rst, pkt);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_TO_TC);
		run_tc(pkt, len, &r);
		assert_int_equal(r.action, 0);
		assert_int_equal(r.reason, LIMPET_TC_CLIENT_RST);
		expect_valid(&r);
		pkt_decode(r.out, r.len, &pi);
		assert_string_equal(addr_str(pi.src, 4, a, sizeof(a)), "10.200.0.6");
		assert_string_equal(addr_str(pi.dst, 4, a, sizeof(a)), "192.0.2.211");
		assert_int_equal(pi.sport, 80);
		assert_int_equal(pi.dport, 7200);
		tcp_seen(&r, &t);
		assert_int_equal(t.flags & 0x04, 0x04);
		assert_int_equal(t.seq, h.cookie + 1);
	}
	assert_int_equal(event(LIMPET_EV_BIND_FAILED), failed + 1);
	assert_int_equal(flow_count(), flows - 1);
}

/* An ICMP error (type 3, code 4: fragmentation needed) from src to dst quoting the IPv4 packet
 * `quoted` (its IP header and first 8 L4 bytes). Returns the frame length.
 */
static size_t icmp_error_frame(const char *src, const char *dst, const struct pspec *quoted,
			       unsigned char *out)
{
	unsigned char q[256], *ip = out + 14, *ic = ip + 20;
	size_t qlen = pkt_build(quoted, q);

	(void)qlen;
	memcpy(out, q, 12); /* MACs */
	out[12] = 0x08, out[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	pb_put16(ip + 2, 20 + 8 + 28);
	ip[8] = 64;
	ip[9] = 1;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	pb_put16(ip + 10, pb_fold(pb_sum(ip, 20, 0)));
	memset(ic, 0, 8);
	ic[0] = 3, ic[1] = 4;
	pb_put16(ic + 6, 1400);
	memcpy(ic + 8, q + 14, 28); /* quoted IP header + 8 bytes */
	pb_put16(ic + 2, pb_fold(pb_sum(ic, 8 + 28, 0)));
	return 14 + 20 + 8 + 28;
}

static void expect_icmp_valid(const struct result *r)
{
	const unsigned char *ip = r->out + 14, *ic = ip + 20, *qip = ic + 8;

	assert_int_equal(pb_fold(pb_sum(ip, 20, 0)), 0);        /* outer IP header */
	assert_int_equal(pb_fold(pb_sum(ic, r->len - 34, 0)), 0); /* ICMP message */
	assert_int_equal(pb_fold(pb_sum(qip, 20, 0)), 0);       /* quoted IP header */
}

/* Open a flow from the first client (fmt: one integer conversion) whose backend listens on port: a
 * test of a port rewrite must see one. The client goes to c->src (kept in client).
 */
static void client_on_port(struct pspec *c, const char *fmt, unsigned short port, char *client,
			   size_t clen, char *be, size_t belen)
{
	unsigned char pkt[512];
	struct result r;
	unsigned short bport = 0;

	for (int i = 1; i < 200 && bport != port; i++) {
		snprintf(client, clen, fmt, i);
		c->src = client;
		run(pkt, pkt_build(c, pkt), &r);
		out_dst(&r, be, belen, &bport);
	}
	assert_int_equal(bport, port);
}

static void test_icmp_errors(void **state)
{
	static char client[32];
	struct pspec c = { .family = 4, .proto = IPPROTO_TCP, .dst = "10.200.0.1",
			   .sport = 7300, .dport = 80, .tcp_flags = 0x02 };
	unsigned char pkt[512], bip[4], vip[4];
	struct result r;
	char be[64];
	unsigned short bport = 8080;
	size_t len;
	__u64 ev;

	/* 10.1.0.1:8080: the quoted port really changes */
	client_on_port(&c, "192.0.3.%d", bport, client, sizeof(client), be, sizeof(be));
	inet_pton(AF_INET, be, bip);
	inet_pton(AF_INET, "10.200.0.1", vip);

	/* to the VIP, about a reply limpet sent the client: on to the backend */
	{
		struct pspec q = { .family = 4, .proto = IPPROTO_TCP, .src = "10.200.0.1",
				   .dst = client, .sport = 80, .dport = 7300, .seq = 42 };

		len = icmp_error_frame("198.51.100.254", "10.200.0.1", &q, pkt);
		ev = event(LIMPET_EV_ICMP_FWD);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		assert_int_equal(event(LIMPET_EV_ICMP_FWD), ev + 1);
		assert_memory_equal(r.out + 14 + 16, bip, 4);          /* outer destination */
		assert_memory_equal(r.out + 14 + 28 + 12, bip, 4);     /* quoted source */
		assert_int_equal(r.out[14 + 48] << 8 | r.out[14 + 49], bport); /* quoted port */
		assert_int_equal(rd32(r.out + 14 + 52), 42);           /* quoted seq: plain NAT */
		expect_icmp_valid(&r);
	}
	/* to the client, about a packet limpet sent the backend: the quote names the VIP again */
	{
		struct pspec q = { .family = 4, .proto = IPPROTO_TCP, .src = client, .dst = be,
				   .sport = 7300, .dport = bport };

		len = icmp_error_frame("10.1.0.250", client, &q, pkt);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		assert_memory_equal(r.out + 14 + 16 + 0, pkt + 14 + 16, 4); /* still to the client */
		assert_memory_equal(r.out + 14 + 28 + 16, vip, 4);     /* quoted destination */
		assert_int_equal(r.out[14 + 50] << 8 | r.out[14 + 51], 80);
		expect_icmp_valid(&r);
	}
	/* about a flow limpet does not know: the kernel's */
	{
		struct pspec q = { .family = 4, .proto = IPPROTO_TCP, .src = "10.200.0.1",
				   .dst = "192.0.2.221", .sport = 80, .dport = 1 };

		len = icmp_error_frame("198.51.100.254", "10.200.0.1", &q, pkt);
		run(pkt, len, &r);
		expect_unchanged(&r, pkt, len);
		assert_int_equal(r.reason, LIMPET_R_PASS_L4_OTHER);
	}
}

/* An ICMPv6 Packet Too Big from src to dst quoting the IPv6 packet `quoted` (header + 8 bytes). */
static size_t icmp6_error_frame(const char *src, const char *dst, const struct pspec *quoted,
				unsigned char *out)
{
	unsigned char q[256], *ip = out + 14, *ic = ip + 40, ph[40];
	size_t mlen = 8 + 48;

	pkt_build(quoted, q);
	memcpy(out, q, 12);
	out[12] = 0x86, out[13] = 0xdd;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	pb_put16(ip + 4, mlen);
	ip[6] = 58;
	ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	memset(ic, 0, 8);
	ic[0] = 2; /* packet too big */
	pb_put16(ic + 6, 1280);
	memcpy(ic + 8, q + 14, 48);
	memcpy(ph, ip + 8, 32);
	memset(ph + 32, 0, 8);
	pb_put16(ph + 34, mlen);
	ph[39] = 58;
	pb_put16(ic + 2, pb_fold(pb_sum(ic, mlen, pb_sum(ph, 40, 0))));
	return 14 + 40 + mlen;
}

static void expect_icmp6_valid(const struct result *r)
{
	const unsigned char *ip = r->out + 14, *ic = ip + 40;
	unsigned char ph[40];
	size_t mlen = r->len - 54;

	memcpy(ph, ip + 8, 32);
	memset(ph + 32, 0, 8);
	pb_put16(ph + 34, mlen);
	ph[39] = 58;
	assert_int_equal(pb_fold(pb_sum(ic, mlen, pb_sum(ph, 40, 0))), 0);
}

static void test_icmp6_errors(void **state)
{
	static char client[64];
	struct pspec c = { .family = 6, .proto = IPPROTO_TCP, .dst = "fc00:200::1",
			   .sport = 7400, .dport = 80, .tcp_flags = 0x02 };
	unsigned char pkt[512], bip[16], vip[16];
	struct result r;
	char be[64];
	size_t len;

	/* [fc00:1::2]:8080: the quoted port really changes */
	client_on_port(&c, "2001:db8::3:%x", 8080, client, sizeof(client), be, sizeof(be));
	inet_pton(AF_INET6, be, bip);
	inet_pton(AF_INET6, "fc00:200::1", vip);
	{
		struct pspec q = { .family = 6, .proto = IPPROTO_TCP, .src = "fc00:200::1",
				   .dst = client, .sport = 80, .dport = 7400, .seq = 42 };

		len = icmp6_error_frame("2001:db8::fe", "fc00:200::1", &q, pkt);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		assert_memory_equal(r.out + 14 + 24, bip, 16);      /* outer destination */
		assert_memory_equal(r.out + 14 + 48 + 8, bip, 16);  /* quoted source */
		assert_int_equal(r.out[14 + 88] << 8 | r.out[14 + 89], 8080);
		expect_icmp6_valid(&r);
	}
	{
		struct pspec q = { .family = 6, .proto = IPPROTO_TCP, .src = client, .dst = be,
				   .sport = 7400, .dport = 8080 };

		len = icmp6_error_frame("fc00:1::fe", client, &q, pkt);
		run(pkt, len, &r);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		assert_memory_equal(r.out + 14 + 48 + 24, vip, 16); /* quoted destination */
		assert_int_equal(r.out[14 + 90] << 8 | r.out[14 + 91], 80);
		expect_icmp6_valid(&r);
	}
	{
		/* neighbour discovery is the kernel's */
		struct pspec q = { .family = 6, .proto = IPPROTO_TCP, .src = "fc00:200::1",
				   .dst = client, .sport = 80, .dport = 7400 };

		len = icmp6_error_frame("2001:db8::fe", "fc00:200::1", &q, pkt);
		pkt[54] = 135; /* neighbour solicitation */
		run(pkt, len, &r);
		expect_unchanged(&r, pkt, len);
		assert_int_equal(r.reason, LIMPET_R_PASS_L4_OTHER);
	}
}

/* With a FIB route and a resolved neighbour: MACs set, TTL decremented, out via TX/redirect. */
static void test_fib_forward(void **state)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add tin0 type veth peer name tin1",
		"ip link add tout0 type veth peer name tout1",
		"ip link set tin0 up", "ip link set tin1 up", "ip link set tout0 up", "ip link set tout1 up",
		"ip addr add 192.0.2.1/24 dev tin0",
		"ip addr add 10.1.0.254/24 dev tout0",
		"ip neigh replace 10.1.0.1 lladdr 02:00:00:00:01:01 dev tout0 nud permanent",
		"ip neigh replace 10.1.0.2 lladdr 02:00:00:00:01:02 dev tout0 nud permanent",
		"ip neigh replace 10.1.0.3 lladdr 02:00:00:00:01:03 dev tout0 nud permanent",
		"ip neigh replace 192.0.2.77 lladdr 02:00:00:00:02:77 dev tin0 nud permanent",
		"sysctl -qw net.ipv4.ip_forward=1",
	};
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.77",
			   .dst = "10.200.0.1", .sport = 9, .dport = 80, .payload = "fib" }, want;
	unsigned char pkt[2048], mac[6];
	unsigned int tin, tout;
	struct pkt_info pi;
	struct result r;
	char b[64];
	unsigned short p;
	size_t len, i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char c[256];

		snprintf(c, sizeof(c), "%s >/dev/null 2>&1", cmds[i]);
		if (system(c))
			fail_msg("setup: %s", cmds[i]);
	}
	tin = if_nametoindex("tin0");
	tout = if_nametoindex("tout0");
	/* tout0 is not a device limpet may redirect into (not in tx_devs, as a bridge or an skb-mode
	 * device would not be): the kernel forwards the rewritten packet, TTL and MACs untouched
	 */
	{
		struct pspec st = s;

		st.sport = 10;
		len = pkt_build(&st, pkt);
		run_if(pkt, len, &r, tin);
		assert_int_equal(r.action, XDP_PASS);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		out_dst(&r, b, sizeof(b), &p);
		want = st;
		want.dst = b;
		want.dport = p;
		expect_frame(&r, &want);
	}
	/* both attached in native mode, as limpet attach records them */
	assert_int_equal(bpf_map_update_elem(in.fd[IM_TX_DEVS], &tout, &tout, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(in.fd[IM_TX_DEVS], &tin, &tin, BPF_ANY), 0);
	establish(s.src, s.dst, s.sport, s.dport, b, sizeof(b), &p); /* next hops: established flows */
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, tin);
	assert_int_equal(r.action, XDP_REDIRECT);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	out_dst(&r, b, sizeof(b), &p);
	pkt_decode(r.out, r.len, &pi);
	assert_int_equal(pi.ttl, 63);
	assert_true(pi.l3_csum_ok && pi.l4_csum_ok == 1);
	mac[0] = 2, mac[1] = 0, mac[2] = 0, mac[3] = 0, mac[4] = 1;
	mac[5] = b[strlen(b) - 1] - '0';
	assert_memory_equal(pi.dmac, mac, 6);
	{
		struct ifreq ifr = {};
		int sk = socket(AF_INET, SOCK_DGRAM, 0);

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "tout0");
		assert_int_equal(ioctl(sk, SIOCGIFHWADDR, &ifr), 0);
		close(sk);
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	}
	assert_memory_equal(pi.smac, mac, 6);
	/* everything but MACs, TTL and the IP checksum as built from scratch */
	want = s;
	want.dst = b;
	want.dport = p;
	want.ttl = 63;
	{
		unsigned char exp[2048];
		size_t n = pkt_build(&want, exp);

		assert_int_equal(n, r.len);
		assert_memory_equal(r.out + 12, exp + 12, n - 12);
	}
	/* the flow caches its next hop: a neighbour change shows after revalidation (1 s) */
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "ip neigh replace %s lladdr 02:00:00:00:0a:0a dev tout0 nud permanent", b);
		assert_int_equal(system(cmd), 0);
		run_if(pkt, len, &r, tin);
		pkt_decode(r.out, r.len, &pi);
		assert_int_equal(pi.dmac[4], 0x01); /* still the cached 02:00:00:00:01:0N */
		assert_int_equal(pi.dmac[5], b[strlen(b) - 1] - '0');
		usleep(1100 * 1000);
		run_if(pkt, len, &r, tin);
		pkt_decode(r.out, r.len, &pi);
		assert_int_equal(pi.dmac[4], 0x0a);
		assert_int_equal(pi.dmac[5], 0x0a);
	}
	/* a reply arriving on the backend side leaves on the client side */
	{
		struct pspec rep = { .family = 4, .proto = IPPROTO_TCP, .src = b, .sport = p,
				     .dst = "192.0.2.77", .dport = 9, .payload = "back" };

		len = pkt_build(&rep, pkt);
		run_if(pkt, len, &r, tout);
		assert_int_equal(r.action, XDP_REDIRECT);
		pkt_decode(r.out, r.len, &pi);
		assert_true(pi.l3_csum_ok && pi.l4_csum_ok == 1);
		assert_int_equal(pi.sport, 80);
		assert_int_equal(pi.dmac[5], 0x77);
	}
	/* the same device both ways: XDP_TX */
	s.src = "10.1.0.9";
	assert_int_equal(system("ip neigh replace 10.1.0.9 lladdr 02:00:00:00:01:09 dev tout0 nud permanent"), 0);
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, tout);
	assert_int_equal(r.action, XDP_TX);
	assert_int_equal(r.reason, LIMPET_R_FWD_TX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_nat_v4_tcp, fresh),
		cmocka_unit_test_setup(test_nat_v4_udp, fresh),
		cmocka_unit_test_setup(test_nat_v6_tcp, fresh),
		cmocka_unit_test_setup(test_nat_v6_udp, fresh),
		cmocka_unit_test_setup(test_vlan_options_ext, fresh),
		cmocka_unit_test_setup(test_not_ours, fresh),
		cmocka_unit_test_setup(test_truncation, fresh),
		cmocka_unit_test_setup(test_bad_headers, fresh),
		cmocka_unit_test_setup(test_fragments, fresh),
		cmocka_unit_test_setup(test_ttl_and_drop, fresh),
		cmocka_unit_test_setup(test_port0_vip, fresh),
		cmocka_unit_test_setup(test_stickiness_and_prefix, fresh),
		cmocka_unit_test_setup(test_affinity_table, fresh),
		cmocka_unit_test_setup(test_drain_and_delete, fresh),
		cmocka_unit_test_setup(test_close_tracking, fresh),
		cmocka_unit_test_setup(test_established_survives_churn, fresh),
		cmocka_unit_test_setup(test_udp_established, fresh),
		cmocka_unit_test_setup(test_tail_call_missed, fresh),
		cmocka_unit_test_setup(test_udp_token, fresh),
		cmocka_unit_test_setup(test_icmp_errors, fresh),
		cmocka_unit_test_setup(test_icmp6_errors, fresh),
		cmocka_unit_test_setup(test_token_synack, fresh),
		cmocka_unit_test_setup(test_token_synack_v6, fresh),
		cmocka_unit_test_setup(test_token_bad_cookie, fresh),
		cmocka_unit_test_setup(test_token_binding, fresh),
		cmocka_unit_test_setup(test_token_backend_rst, fresh),
		cmocka_unit_test_setup(test_fib_forward, fresh),
	};

	return cmocka_run_group_tests_name("packet", tests, setup, teardown);
}
