// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests: frames through the real compiled XDP and TC programs with BPF_PROG_TEST_RUN,
 * VIPs and backends configured through the real control operations. Each expected frame is
 * built from scratch (checksums included) and compared byte for byte with what the program
 * wrote. Runs in a private network namespace, so FIB lookups see only what a test sets up. This
 * file holds the harness and the list; the tests are in t_nat.c, t_flows.c, t_token.c, t_icmp.c.
 */
#include "harness.h"

struct limpet_xdp *skel;
struct limpet_tc *tcskel;
struct inst in;
int prog_fd, tc_fd;
char err[LIMPET_ERR_LEN];

void must(int ret)
{
	if (ret)
		fail_msg("setup: %s", err);
}

void vip(const char *spec, __u8 policy, int prefix)
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

void backend(const char *vspec, const char *be)
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
						     IM_TOKENS, IM_EVENTS, IM_PENDING, IM_VIP_FILTER };

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
int fresh(void **state)
{
	static const enum inst_map maps[] = { IM_FLOWS, IM_HALFOPEN, IM_AFFINITY, IM_FRAGS,
					      IM_PENDING };
	struct bpf_program *const jumps[LIMPET_JUMP_MAX] = {
		[LIMPET_JUMP_SYNPROXY4] = skel->progs.limpet_synproxy4,
		[LIMPET_JUMP_SYNPROXY6] = skel->progs.limpet_synproxy6,
		[LIMPET_JUMP_RESET4] = skel->progs.limpet_reset4,
		[LIMPET_JUMP_RESET6] = skel->progs.limpet_reset6,
		[LIMPET_JUMP_DSR4] = skel->progs.limpet_dsr4,
		[LIMPET_JUMP_DSR6] = skel->progs.limpet_dsr6,
		[LIMPET_JUMP_ICMP4] = skel->progs.limpet_icmp4,
		[LIMPET_JUMP_ICMP6] = skel->progs.limpet_icmp6,
	};
	char key[64];
	int fd;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		while (!bpf_map_get_next_key(in.fd[maps[i]], NULL, key))
			if (bpf_map_delete_elem(in.fd[maps[i]], key))
				return -1;
	/* a test that took programs out of the jump table leaves the next one a whole table */
	for (__u32 k = 0; k < LIMPET_JUMP_MAX; k++) {
		fd = bpf_program__fd(jumps[k]);
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.limpet_jump), &k, &fd, BPF_ANY))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	limpet_tc__destroy(tcskel);
	inst_close(&in);
	limpet_xdp__destroy(skel);
	return 0;
}

/* One frame through a program (XDP: ifindex as the ingress device, 0 for none), and the one
 * reason of nreasons it counted: exactly one per packet, and never 0 (a program's "go on").
 */
void run_prog(int fd, int reasons_fd, int nreasons, const unsigned char *pkt, size_t len,
		     struct result *r, unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_test_run_opts, t);
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
	__u64 before[32], after[32];

	assert_true(nreasons <= 32);
	t.data_in = pkt;
	t.data_size_in = len;
	t.data_out = r->out;
	t.data_size_out = sizeof(r->out);
	if (ifindex) {
		t.ctx_in = &ctx;
		t.ctx_size_in = sizeof(ctx);
	}
	counters_sum(reasons_fd, nreasons, before);
	assert_int_equal(bpf_prog_test_run_opts(fd, &t), 0);
	counters_sum(reasons_fd, nreasons, after);
	r->action = t.retval;
	r->len = t.data_size_out;
	r->reason = -1;
	for (int i = 0; i < nreasons; i++)
		if (after[i] != before[i]) {
			assert_int_equal(after[i] - before[i], 1);
			assert_int_equal(r->reason, -1);
			r->reason = i;
		}
	assert_true(r->reason > 0);
}

void run_if(const unsigned char *pkt, size_t len, struct result *r, unsigned int ifindex)
{
	run_prog(prog_fd, in.fd[IM_REASONS], LIMPET_R_MAX, pkt, len, r, ifindex);
}

void run(const unsigned char *pkt, size_t len, struct result *r)
{
	run_if(pkt, len, r, 0);
}

void expect_frame(const struct result *r, const struct pspec *want)
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

void expect_unchanged(const struct result *r, const unsigned char *in_pkt, size_t len)
{
	assert_int_equal(r->action, XDP_PASS);
	assert_int_equal(r->len, len);
	assert_memory_equal(r->out, in_pkt, len);
}

/* Which backend (address text, port) did the frame go to? */
void out_dst(const struct result *r, char *addr, size_t alen, unsigned short *port)
{
	struct pkt_info pi;

	pkt_decode(r->out, r->len, &pi);
	assert_true(pi.ok);
	addr_str(pi.dst, pi.family, addr, alen);
	*port = pi.dport;
}

int in_set(const char *a, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(a, *set))
			return 1;
	return 0;
}

__u64 table_count(int fd)
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
__u64 flow_count(void)
{
	return table_count(in.fd[IM_FLOWS]) + table_count(in.fd[IM_HALFOPEN]);
}

/* A TCP handshake through the VIP: the client's SYN, the backend's SYN-ACK (seq 5000), the
 * client's ACK of it; the flow is then established. be, *bport: the backend chosen.
 */
void establish(const char *src, const char *dst, unsigned short sport, unsigned short dport,
	       char *be, size_t blen, unsigned short *bport)
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

/* Where the frame s is forwarded to (address text): it must be forwarded. */
void backend_of_pkt(const struct pspec *s, char *out, size_t olen)
{
	unsigned char pkt[2048];
	struct result r;
	unsigned short p;

	run(pkt, pkt_build(s, pkt), &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	out_dst(&r, out, olen, &p);
}

void backend_of(const char *src, const char *dst, unsigned short sport, unsigned short dport,
		char *out, size_t olen)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = src, .dst = dst,
			   .sport = sport, .dport = dport, .tcp_flags = 0x02 };

	backend_of_pkt(&s, out, olen);
}

/* TCP close tracking: FIN both ways or RST closes a flow; a backend SYN-ACK on a closed flow's
 * tuple is not limpet's (the client reached the backend directly) and removes the flow both
 * ways; a client SYN on the tuple opens it again.
 */
__u8 flow_fin(const struct pspec *c)
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

unsigned int rd32(const unsigned char *p)
{
	return (unsigned int)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* The TCP header of an untagged IPv4 frame, options decoded. */
void tcp_seen(const struct result *r, struct tcp_seen *t)
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

/* The TC program on one packet: like run_if, exactly one TC reason. */
void run_tc(const unsigned char *pkt, size_t len, struct result *r)
{
	run_prog(tc_fd, in.fd[IM_TC_REASONS], LIMPET_TC_MAX, pkt, len, r, 0);
}

__u64 event(int e)
{
	__u64 ev[LIMPET_EV_MAX];

	counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, ev);
	return ev[e];
}

void expect_valid(const struct result *r)
{
	struct pkt_info pi;

	pkt_decode(r->out, r->len, &pi);
	assert_true(pi.ok && pi.len_ok && pi.l3_csum_ok);
	assert_int_equal(pi.l4_csum_ok, 1);
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
		cmocka_unit_test_setup(test_vip_filter, fresh),
		cmocka_unit_test_setup(test_truncation, fresh),
		cmocka_unit_test_setup(test_bad_headers, fresh),
		cmocka_unit_test_setup(test_lengths_v4, fresh),
		cmocka_unit_test_setup(test_lengths_v6, fresh),
		cmocka_unit_test_setup(test_ethernet_padding, fresh),
		cmocka_unit_test_setup(test_ipv6_routing_header, fresh),
		cmocka_unit_test_setup(test_fragments, fresh),
		cmocka_unit_test_setup(test_ttl_and_drop, fresh),
		cmocka_unit_test_setup(test_port0_vip, fresh),
		cmocka_unit_test_setup(test_stickiness_and_prefix, fresh),
		cmocka_unit_test_setup(test_affinity_table, fresh),
		cmocka_unit_test_setup(test_drain_and_delete, fresh),
		cmocka_unit_test_setup(test_on_down_reset, fresh),
		cmocka_unit_test_setup(test_slowstart_table, fresh),
		cmocka_unit_test_setup(test_health_batch, fresh),
		cmocka_unit_test_setup(test_table_counts, fresh),
		cmocka_unit_test_setup(test_counters_summed, fresh),
		cmocka_unit_test_setup(test_ramp_batch, fresh),
		cmocka_unit_test_setup(test_table_old_template, fresh),
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
		cmocka_unit_test_setup(test_token_bad_segment, fresh),
		cmocka_unit_test_setup(test_token_bad_syn, fresh),
		cmocka_unit_test_setup(test_token_binding, fresh),
		cmocka_unit_test_setup(test_token_backend_rst, fresh),
		cmocka_unit_test_setup(test_fib_forward, fresh),
		cmocka_unit_test_setup(test_dsr_ipip4, fresh),
		cmocka_unit_test_setup(test_dsr_encap_source, fresh),
		cmocka_unit_test_setup(test_dsr_ipip6, fresh),
		cmocka_unit_test_setup(test_dsr_l2, fresh),
		cmocka_unit_test_setup(test_dsr_mtu, fresh),
		cmocka_unit_test_setup(test_dsr_established, fresh),
		cmocka_unit_test_setup(test_dsr_4in6, fresh),
		cmocka_unit_test_setup(test_dsr_icmp, fresh),
		cmocka_unit_test(test_decap_deliver),
		cmocka_unit_test(test_decap_second_chance),
		cmocka_unit_test(test_decap_foreign),
		cmocka_unit_test(test_decap_truncated),
		cmocka_unit_test(test_decap_tc_deliver),
		cmocka_unit_test(test_decap_tc_second_chance),
		cmocka_unit_test(test_decap_tc_foreign),
		cmocka_unit_test(test_decap_tc_truncated),
		cmocka_unit_test_setup(test_dsr_fragments, fresh),
		cmocka_unit_test_setup(test_dsr_flow_state, fresh),
		cmocka_unit_test_setup(test_dsr_second_chance, fresh),
		cmocka_unit_test_setup(test_dsr_second_chance_batch, fresh),
		cmocka_unit_test_setup(test_dsr_second_chance_edit, fresh),
		cmocka_unit_test_setup(test_backends_edit_full, fresh),
		cmocka_unit_test_setup(test_dsr_second_chance_drained, fresh),
		cmocka_unit_test_setup(test_dsr_second_chance_replace, fresh),
	};

	return cmocka_run_group_tests_name("packet", tests, setup, teardown);
}
