// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of connection state: close tracking, stickiness and affinity, drain and delete,
 * churn and establishment.
 */
#include "harness.h"

void test_close_tracking(void **state)
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

void test_stickiness_and_prefix(void **state)
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

void test_affinity_table(void **state)
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

	/* a live entry to a backend found down is ignored too (the table no longer has it) */
	{
		struct backend be;
		char a[64];

		av.last_seen = mono_coarse_ns();
		assert_int_equal(bpf_map_update_elem(in.fd[IM_AFFINITY], &ak, &av, BPF_ANY), 0);
		bpf_map_lookup_elem(in.fd[IM_BACKENDS], &id, &be);
		be.health = LIMPET_HEALTH_DOWN;
		assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &id, &be, BPF_ANY), 0);
		must(op_table_rebuild(&in, &m));
		backend_of("198.51.100.201", "10.200.0.1", 6, 80, b, sizeof(b));
		assert_string_not_equal(b, addr_str(be.addr, be.family, a, sizeof(a)));
		be.health = LIMPET_HEALTH_UNCHECKED;
		assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &id, &be, BPF_ANY), 0);
		must(op_table_rebuild(&in, &m));
	}
}

/* map_scan: count affinities whose backend is deleted. */
static int aff_stale(const void *key, const void *val, void *ctx)
{
	const struct affinity_val *av = val;
	struct backend be;

	(void)key;
	if (bpf_map_lookup_elem(in.fd[IM_BACKENDS], &av->backend_id, &be) ||
	    be.state == LIMPET_BE_FREE)
		++*(int *)ctx;
	return 0;
}

void test_drain_and_delete(void **state)
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
	/* deleted: its affinities go with it, the open flow is re-selected on its next packet */
	assert_true(table_count(in.fd[IM_AFFINITY]) >= 1);
	must(op_backend_set_state(&in, &k, spec, LIMPET_BE_FREE, err, sizeof(err)));
	c = 0;
	must(map_scan(in.fd[IM_AFFINITY], sizeof(struct affinity_key), sizeof(struct affinity_val),
		      aff_stale, &c));
	assert_int_equal(c, 0);
	backend_of("192.0.2.99", "10.200.0.4", 7000, 80, b, sizeof(b));
	assert_string_not_equal(b, victim);
	must(op_backend_add(&in, &k, spec, 1, err, sizeof(err)));
}

/* Established connections live apart from half-open ones: a flood of spoofed SYNs and of
 * short connections, several times the half-open table, evicts none of them, writes no
 * affinity for a spoofed source, and the backend can push first afterwards.
 */
void test_established_survives_churn(void **state)
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

/* UDP: a flow is established when the client sends after the backend replied. */
void test_udp_established(void **state)
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

/* on-down reset: a client's next packet of a flow whose backend is down gets a RST from the
 * VIP (seq = what the client acknowledged), built from scratch here and compared byte for byte;
 * the flow is forgotten. Without the option the flow is kept (forwarded as before).
 */
static void on_down_reset_case(int family, const char *client, const char *vipaddr,
			       const char *vspec)
{
	struct check_spec cs = { .on_down_reset = 1 };
	struct pspec c = { .family = family, .proto = IPPROTO_TCP, .src = client, .dst = vipaddr,
			   .sport = 6100, .dport = 80, .tcp_flags = 0x18, .seq = 101, .ack = 5001,
			   .payload = "more" };
	struct pspec want = { .family = family, .proto = IPPROTO_TCP, .src = vipaddr, .dst = client,
			      .sport = 80, .dport = 6100, .tcp_flags = 0x04, .seq = 5001,
			      .window_zero = 1, .df = 1 };
	unsigned char pkt[512], exp[512];
	struct vip_key k;
	struct result r;
	char be[64];
	unsigned short bport;
	size_t len, n;
	__u64 flows;

	must(vip_parse(vspec, &k, err, sizeof(err)));
	establish(client, vipaddr, 6100, 80, be, sizeof(be), &bport);
	must(op_backend_health_mode(&in, &k, be, LIMPET_HM_DOWN, err, sizeof(err)));
	/* on-down keep (the default): still forwarded to its backend */
	len = pkt_build(&c, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	must(op_vip_check_set(&in, &k, &cs, err, sizeof(err)));
	flows = flow_count();
	run(pkt, len, &r);
	assert_int_equal(r.action, XDP_TX);
	assert_int_equal(r.reason, LIMPET_R_TX_RESET);
	n = pkt_build(&want, exp);
	assert_int_equal(r.len, n);
	assert_memory_equal(r.out, exp + 6, 6); /* MACs swapped */
	assert_memory_equal(r.out + 6, exp, 6);
	assert_memory_equal(r.out + 12, exp + 12, n - 12);
	expect_valid(&r);
	assert_int_equal(flow_count(), flows - 1);
	cs.on_down_reset = 0;
	must(op_vip_check_set(&in, &k, &cs, err, sizeof(err)));
	must(op_backend_health_mode(&in, &k, be, LIMPET_HM_AUTO, err, sizeof(err)));
}

void test_on_down_reset(void **state)
{
	on_down_reset_case(4, "192.0.2.210", "10.200.0.1", VIP4T);
	on_down_reset_case(6, "2001:db8::210", "fc00:200::1", VIP6T);
	(void)state;
}

/* The VIP's Maglev table, read back: slots[m] of backend ids; returns m. */
static __u32 table_read(__u32 vip_id, __u32 *slots, __u32 max)
{
	__u32 inner_id = 0, m = 0;
	int fd;

	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &vip_id, &inner_id), 0);
	fd = bpf_map_get_fd_by_id(inner_id);
	assert_true(fd >= 0);
	for (__u32 s = 0; s < max && !bpf_map_lookup_elem(fd, &s, &slots[s]); s++)
		m++;
	close(fd);
	return m;
}

/* Slowstart: a backend at 30 % of its ramp owns about 30 % of the slots it will own, and every
 * other slot is its owner in the table built without it: the ramp moves nothing else.
 */
void test_slowstart_table(void **state)
{
	static __u32 full[65537], without[65537], ramp[65537];
	struct vip_key k;
	struct vip_meta m;
	struct backend be;
	__u32 id, n, own_full = 0, own_ramp = 0, other_moved = 0;

	must(vip_parse(VIP4T, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &m), 0);
	n = table_read(m.vip_id, full, 65537);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (!bpf_map_lookup_elem(in.fd[IM_BACKENDS], &id, &be) && be.vip_id == m.vip_id &&
		    be.state == LIMPET_BE_ACTIVE)
			break;
	be.health = LIMPET_HEALTH_DOWN; /* the table without it */
	assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &id, &be, BPF_ANY), 0);
	must(op_table_rebuild(&in, &m));
	assert_int_equal(table_read(m.vip_id, without, 65537), n);
	be.health = LIMPET_HEALTH_UP;
	assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &id, &be, BPF_ANY), 0);
	assert_int_equal(op_backends_ramp(&in, &m, &id, &(__u16){ 30 }, 1), 1);
	assert_int_equal(table_read(m.vip_id, ramp, 65537), n);
	for (__u32 s = 0; s < n; s++) {
		own_full += full[s] == id;
		own_ramp += ramp[s] == id;
		if (ramp[s] != id && ramp[s] != without[s])
			other_moved++;
		if (ramp[s] == id)
			assert_int_equal(full[s], id);
	}
	assert_int_equal(other_moved, 0);
	assert_true(own_ramp * 100 > own_full * 25 && own_ramp * 100 < own_full * 35);
	assert_int_equal(op_backends_ramp(&in, &m, &id, &(__u16){ 0 }, 1), 1);
	assert_int_equal(table_read(m.vip_id, ramp, 65537), n);
	assert_memory_equal(ramp, full, n * sizeof(__u32));
	(void)state;
}

/* Health changes of one VIP made together (the daemon's changes of a tick): one table rebuild
 * for all of them, the downed backends out of the table with their affinities, a backend of
 * another VIP or set by hand left as it is, and one back up with a slowstart at 1 %.
 */
void test_health_batch(void **state)
{
	static __u32 table[65537];
	struct backend bes[LIMPET_MAX_BACKENDS], be;
	struct health_change hc[4] = {};
	__u32 ids[3], n = 0, before, after, m, other = LIMPET_MAX_BACKENDS, owned[3] = {};
	struct vip_key k;
	struct vip_meta meta;

	must(vip_parse(VIP4T, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &meta), 0);
	assert_int_equal(backends_read(&in, bes), 0);
	for (__u32 id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		if (bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == meta.vip_id && n < 3)
			ids[n++] = id;
		else if (bes[id].state != LIMPET_BE_FREE && bes[id].vip_id != meta.vip_id)
			other = id;
	}
	assert_int_equal(n, 3);
	assert_true(other < LIMPET_MAX_BACKENDS);
	for (__u32 i = 0; i < 3; i++) { /* a client with an affinity to each */
		struct affinity_key ak = { .vip_id = meta.vip_id, .key = { i + 1 } };
		struct affinity_val av = { .backend_id = ids[i] };

		assert_int_equal(bpf_map_update_elem(in.fd[IM_AFFINITY], &ak, &av, BPF_ANY), 0);
	}
	be = bes[ids[2]]; /* the third is set up by hand: the checks do not move it */
	be.health_mode = LIMPET_HM_UP;
	be.health = LIMPET_HEALTH_UP;
	assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &ids[2], &be, BPF_ANY), 0);
	hc[0] = (struct health_change){ .id = ids[0], .health = LIMPET_HEALTH_DOWN };
	hc[1] = (struct health_change){ .id = ids[1], .health = LIMPET_HEALTH_DOWN };
	hc[2] = (struct health_change){ .id = ids[2], .health = LIMPET_HEALTH_DOWN };
	hc[3] = (struct health_change){ .id = other, .health = LIMPET_HEALTH_DOWN };
	must(op_table_rebuild(&in, &meta)); /* so its table is the newest map */
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &meta.vip_id, &before), 0);
	assert_int_equal(op_backends_health_set(&in, &meta, hc, 4), 2);
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &meta.vip_id, &after), 0);
	assert_int_equal(after - before, 1); /* one new table for both */
	assert_true(hc[0].changed && hc[1].changed && !hc[2].changed && !hc[3].changed);
	m = table_read(meta.vip_id, table, 65537);
	for (__u32 s = 0; s < m; s++)
		for (__u32 i = 0; i < 3; i++)
			owned[i] += table[s] == ids[i];
	assert_int_equal(owned[0] + owned[1], 0);
	assert_int_equal(owned[2], m);
	assert_int_equal(table_count(in.fd[IM_AFFINITY]), 1); /* the third's client only */
	assert_int_equal(backends_read(&in, bes), 0);
	assert_int_equal(bes[other].health, LIMPET_HEALTH_UNCHECKED);
	/* back up with a slowstart: 1 % of its share */
	hc[0] = (struct health_change){ .id = ids[0], .health = LIMPET_HEALTH_UP, .ramp = true };
	assert_int_equal(op_backends_health_set(&in, &meta, hc, 1), 1);
	assert_int_equal(backends_read(&in, bes), 0);
	assert_int_equal(bes[ids[0]].ramp_pct, 1);
	m = table_read(meta.vip_id, table, 65537);
	owned[0] = 0;
	for (__u32 s = 0; s < m; s++)
		owned[0] += table[s] == ids[0];
	assert_true(owned[0] > 0 && owned[0] < m / 50);
	/* as the other tests expect them */
	for (__u32 i = 0; i < 3; i++) {
		be = bes[ids[i]];
		be.health_mode = LIMPET_HM_AUTO;
		be.health = LIMPET_HEALTH_UNCHECKED;
		be.ramp_pct = 0;
		assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKENDS], &ids[i], &be, BPF_ANY), 0);
	}
	must(op_table_rebuild(&in, &meta));
	(void)state;
}

/* A flow key of the fill below: client n to the VIP's address. */
static struct flow_key fill_key(__u32 n)
{
	struct flow_key k = { .src = { htonl(0xc6330000 + n) }, .dst = { htonl(0x0ac80001) },
			      .sport = htons(1000), .dport = htons(80), .proto = IPPROTO_TCP,
			      .family = LIMPET_AF_INET };
	return k;
}

/* The tables' fill as the kernel counts it (limpet status, metrics): equal to a walk of the
 * table after inserts, deletes, and an LRU table overrun (its evictions), without the walk.
 */
void test_table_counts(void **state)
{
	const int fds[TBL_MAX] = { in.fd[IM_FLOWS], in.fd[IM_HALFOPEN], in.fd[IM_AFFINITY] };
	struct flow_val v = {};
	struct table_usage u[TBL_MAX];
	__u32 ids[TBL_MAX];
	__s64 counts[TBL_MAX];
	bool ok[TBL_MAX];

	for (__u32 n = 0; n < 3000; n++) {
		struct flow_key k = fill_key(n);

		assert_int_equal(bpf_map_update_elem(in.fd[IM_FLOWS], &k, &v, BPF_ANY), 0);
		assert_int_equal(bpf_map_update_elem(in.fd[IM_HALFOPEN], &k, &v, BPF_ANY), 0);
	}
	for (__u32 n = 0; n < 1000; n++) {
		struct flow_key k = fill_key(n * 3);

		assert_int_equal(bpf_map_delete_elem(in.fd[IM_FLOWS], &k), 0);
	}
	for (int t = 0; t < TBL_MAX; t++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		assert_int_equal(bpf_obj_get_info_by_fd(fds[t], &info, &len), 0);
		ids[t] = info.id;
	}
	assert_int_equal(map_counts(ids, TBL_MAX, counts), 0);
	assert_int_equal(counts[TBL_FLOWS], 2000);
	assert_int_equal(counts[TBL_FLOWS], table_count(in.fd[IM_FLOWS]));
	/* 3000 into a table of 2048: the LRU evicted some, and the count follows */
	assert_true(counts[TBL_HALFOPEN] > 0 && counts[TBL_HALFOPEN] <= TEST_HALFOPEN);
	assert_int_equal(counts[TBL_HALFOPEN], table_count(in.fd[IM_HALFOPEN]));
	assert_int_equal(counts[TBL_AFFINITY], 0);
	tables_usage(fds, u, ok);
	assert_true(ok[TBL_FLOWS] && ok[TBL_HALFOPEN] && ok[TBL_AFFINITY]);
	assert_int_equal(u[TBL_FLOWS].used, 2000);
	assert_int_equal(u[TBL_HALFOPEN].used, counts[TBL_HALFOPEN]);
	assert_int_equal(u[TBL_HALFOPEN].size, TEST_HALFOPEN);
	(void)state;
}

/* Per-CPU counters read in batches (limpetctl stats, metrics): each key's sum over every CPU,
 * the first and last keys of the array too, and nothing past n; values written per CPU here.
 */
void test_counters_summed(void **state)
{
	int ncpu = libbpf_num_possible_cpus();
	static const __u32 keys[] = { 0, 1, 7, LIMPET_MAX_BACKENDS - 1 };
	struct limpet_stats *per = calloc(ncpu, sizeof(*per)), *all;
	__u64 *ev = calloc(ncpu, sizeof(*ev)), sums[LIMPET_EV_MAX + 1];

	all = calloc(LIMPET_MAX_BACKENDS, sizeof(*all));
	assert_true(ncpu > 0 && per && ev && all);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		for (int c = 0; c < ncpu; c++) {
			per[c].packets = (keys[i] + 1) * 1000 + c;
			per[c].reply_bytes = 1ULL << (c % 40);
		}
		assert_int_equal(bpf_map_update_elem(in.fd[IM_BACKEND_STATS], &keys[i], per, BPF_ANY), 0);
	}
	assert_int_equal(stats_sum_all(in.fd[IM_BACKEND_STATS], LIMPET_MAX_BACKENDS, all), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		__u64 packets = 0, reply_bytes = 0;

		for (int c = 0; c < ncpu; c++) {
			packets += (keys[i] + 1) * 1000 + c;
			reply_bytes += 1ULL << (c % 40);
		}
		assert_int_equal(all[keys[i]].packets, packets);
		assert_int_equal(all[keys[i]].reply_bytes, reply_bytes);
		assert_int_equal(all[keys[i]].bytes, 0);
	}
	/* the first n only (a scrape reads up to the highest backend id in use): out[n] untouched */
	memset(all, 0xab, 9 * sizeof(*all));
	assert_int_equal(stats_sum_all(in.fd[IM_BACKEND_STATS], 8, all), 0);
	assert_int_equal(all[7].packets, (__u64)ncpu * 8000 + (__u64)ncpu * (ncpu - 1) / 2);
	assert_int_equal(all[8].packets, 0xababababababababULL);
	{
		struct backend *bes = calloc(LIMPET_MAX_BACKENDS, sizeof(*bes));

		assert_non_null(bes);
		assert_int_equal(backends_span(bes), 0);
		bes[0].state = bes[5].state = LIMPET_BE_ACTIVE;
		assert_int_equal(backends_span(bes), 6);
		bes[LIMPET_MAX_BACKENDS - 1].state = LIMPET_BE_DRAINING;
		assert_int_equal(backends_span(bes), LIMPET_MAX_BACKENDS);
		free(bes);
	}
	/* a plain counter array: its last counter counted, and a key past n left out */
	for (int c = 0; c < ncpu; c++)
		ev[c] = c + 1;
	for (__u32 e = LIMPET_EV_MAX - 1; e <= LIMPET_EV_MAX; e++)
		assert_int_equal(bpf_map_update_elem(in.fd[IM_EVENTS], &e, ev, BPF_ANY), 0);
	sums[LIMPET_EV_MAX] = 12345;
	assert_int_equal(counters_sum(in.fd[IM_EVENTS], LIMPET_EV_MAX, sums), 0);
	assert_int_equal(sums[LIMPET_EV_MAX - 1], (__u64)ncpu * (ncpu + 1) / 2);
	assert_int_equal(sums[LIMPET_EV_MAX], 12345);
	free(per);
	free(ev);
	free(all);
	(void)state;
}

/* Slowstart steps of several backends made together (the daemon's steps of a tick): one table
 * rebuild, each backend at its share of the slots it will own, then whole again.
 */
void test_ramp_batch(void **state)
{
	static __u32 full[65537], ramp[65537];
	struct backend bes[LIMPET_MAX_BACKENDS];
	__u32 ids[2], n = 0, before, after, m;
	__u16 pcts[2] = { 30, 30 }, whole[2] = { 0, 0 };
	struct vip_key k;
	struct vip_meta meta;

	must(vip_parse(VIP4T, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &meta), 0);
	assert_int_equal(backends_read(&in, bes), 0);
	for (__u32 id = 0; id < LIMPET_MAX_BACKENDS && n < 2; id++)
		if (bes[id].state == LIMPET_BE_ACTIVE && bes[id].vip_id == meta.vip_id)
			ids[n++] = id;
	assert_int_equal(n, 2);
	must(op_table_rebuild(&in, &meta)); /* so its table is the newest map */
	m = table_read(meta.vip_id, full, 65537);
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &meta.vip_id, &before), 0);
	assert_int_equal(op_backends_ramp(&in, &meta, ids, pcts, 2), 2);
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &meta.vip_id, &after), 0);
	assert_int_equal(after - before, 1); /* one new table for both */
	assert_int_equal(table_read(meta.vip_id, ramp, 65537), m);
	for (int i = 0; i < 2; i++) {
		__u32 own_full = 0, own_ramp = 0;

		for (__u32 s = 0; s < m; s++) {
			own_full += full[s] == ids[i];
			own_ramp += ramp[s] == ids[i];
		}
		assert_true(own_ramp * 100 > own_full * 25 && own_ramp * 100 < own_full * 35);
	}
	assert_int_equal(op_backends_ramp(&in, &meta, ids, whole, 2), 2);
	assert_int_equal(table_read(meta.vip_id, ramp, 65537), m);
	assert_memory_equal(ramp, full, m * sizeof(__u32));
	(void)state;
}

/* An instance made before tables were mmapable: its pinned outer map's template lacks
 * BPF_F_MMAPABLE and refuses such a table; the rebuild writes the same table in a batch.
 */
void test_table_old_template(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_INNER_MAP);
	static __u32 now[65537], old[65537];
	int tmpl, outer, saved = in.fd[IM_MAGLEV], r;
	struct vip_key k;
	struct vip_meta meta;
	__u32 m, n;

	must(vip_parse(VIP4T, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &meta), 0);
	must(op_table_rebuild(&in, &meta));
	m = table_read(meta.vip_id, now, 65537);
	tmpl = bpf_map_create(BPF_MAP_TYPE_ARRAY, "old_tmpl", 4, 4, 1, &inner_opts);
	assert_true(tmpl >= 0);
	{
		LIBBPF_OPTS(bpf_map_create_opts, outer_opts, .inner_map_fd = tmpl);

		outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "old_maglev", 4, 4, LIMPET_MAX_VIPS,
				       &outer_opts);
	}
	assert_true(outer >= 0);
	in.fd[IM_MAGLEV] = outer; /* the other tests' maps are back before any assertion */
	r = op_table_rebuild(&in, &meta);
	n = r ? 0 : table_read(meta.vip_id, old, 65537);
	in.fd[IM_MAGLEV] = saved;
	assert_int_equal(r, 0);
	assert_int_equal(n, m);
	assert_memory_equal(old, now, m * sizeof(__u32));
	close(outer);
	close(tmpl);
	(void)state;
}
