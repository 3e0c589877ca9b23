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
#include "pktbuild.h"

static struct limpet_xdp *skel;
static struct inst in;
static int prog_fd;
static char err[LIMPET_ERR_LEN];

#define VIP4T "10.200.0.1:80/tcp"
#define VIP4U "10.200.0.1:53/udp"
#define VIP6T "[fc00:200::1]:80/tcp"
#define VIP6U "[fc00:200::1]:53/udp"
#define VIP4ANY "10.200.0.2:0/tcp"
#define VIP4EMPTY "10.200.0.3:80/tcp"
#define VIP4P24 "10.200.0.4:80/tcp"
#define VIP4TOKU "10.200.0.5:4000/udp"

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
	if (!skel || obj_private_maps(skel->obj, NULL, NULL, 0, err, sizeof(err)) ||
	    limpet_xdp__load(skel) || inst_from_object(&in, skel->obj, err, sizeof(err))) {
		fprintf(stderr, "load limpet_xdp: %s\n", err[0] ? err : strerror(errno));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.limpet_xdp);
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
	vip(VIP4P24, LIMPET_POLICY_IP_HASH, 24);
	for (int i = 1; i <= 5; i++) {
		char b[32];

		snprintf(b, sizeof(b), "10.1.4.%d", i);
		backend(VIP4P24, b);
	}
	return 0;
}

static int teardown(void **state)
{
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
	for (int i = 0; i < LIMPET_R_MAX; i++)
		if (i != LIMPET_R_FRAG_FWD && after[i] != before[i]) {
			assert_int_equal(after[i] - before[i], 1); /* exactly one verdict */
			assert_int_equal(r->reason, -1);
			r->reason = i;
		}
	assert_int_not_equal(r->reason, -1);
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

static __u64 flow_count(void)
{
	struct flow_key k, next;
	void *prev = NULL;
	__u64 n = 0;

	while (!bpf_map_get_next_key(in.fd[IM_FLOWS], prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
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
	__u64 before[LIMPET_R_MAX], after[LIMPET_R_MAX];

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

	reasons_sum(in.fd[IM_REASONS], before);
	len = pkt_build(&later, pkt);
	run(pkt, len, &r);
	reasons_sum(in.fd[IM_REASONS], after);
	assert_int_equal(after[LIMPET_R_FRAG_FWD] - before[LIMPET_R_FRAG_FWD], 1);
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
	int c;

	must(vip_parse(VIP4P24, &k, err, sizeof(err)));
	/* a client with an open flow */
	backend_of("192.0.2.99", "10.200.0.4", 7000, 80, victim, sizeof(victim));
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
		cmocka_unit_test(test_nat_v4_tcp),
		cmocka_unit_test(test_nat_v4_udp),
		cmocka_unit_test(test_nat_v6_tcp),
		cmocka_unit_test(test_nat_v6_udp),
		cmocka_unit_test(test_vlan_options_ext),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_ttl_and_drop),
		cmocka_unit_test(test_port0_vip),
		cmocka_unit_test(test_stickiness_and_prefix),
		cmocka_unit_test(test_affinity_table),
		cmocka_unit_test(test_drain_and_delete),
		cmocka_unit_test(test_udp_token),
		cmocka_unit_test(test_fib_forward),
	};

	return cmocka_run_group_tests_name("packet", tests, setup, teardown);
}
