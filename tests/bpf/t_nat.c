// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of NAT both ways: headers of every kind, truncation, fragments, TTL, port-0 VIPs,
 * FIB forwarding.
 */
#include <limpet/hash.h>
#include "harness.h"

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

void test_nat_v4_tcp(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.10",
			   .dst = "10.200.0.1", .sport = 40000, .dport = 80, .payload = "GET / HTTP/1.1\r\n\r\n" };

	check_nat_roundtrip(s, be4, be4_ports);
}

void test_nat_v4_udp(void **state)
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

void test_nat_v6_tcp(void **state)
{
	static const char *const be[] = { "fc00:1::1", "fc00:1::2", NULL };
	static const unsigned short ports[] = { 80, 8080 };
	struct pspec s = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::10",
			   .dst = "fc00:200::1", .sport = 40001, .dport = 80, .payload = "hello" };

	check_nat_roundtrip(s, be, ports);
}

void test_nat_v6_udp(void **state)
{
	static const char *const be[] = { "fc00:1::1", NULL };
	static const unsigned short ports[] = { 5353 };
	struct pspec s = { .family = 6, .proto = IPPROTO_UDP, .src = "2001:db8::11",
			   .dst = "fc00:200::1", .sport = 5000, .dport = 53, .payload = "q6" };

	check_nat_roundtrip(s, be, ports);
}

void test_vlan_options_ext(void **state)
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

void test_not_ours(void **state)
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

/* The VIP filter's bit for the address of VIP spec (set: no VIP there); set: set it first. */
static int filter_bit(const char *spec, int set)
{
	struct vip_key k;
	__u32 b, w;
	__u64 bits;

	must(vip_parse(spec, &k, err, sizeof(err)));
	b = limpet_vip_bucket(k.addr);
	w = b / 64;
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_VIP_FILTER], &w, &bits), 0);
	if (set) {
		bits |= 1ULL << (b % 64);
		assert_int_equal(bpf_map_update_elem(in.fd[IM_VIP_FILTER], &w, &bits, BPF_ANY), 0);
	}
	return (bits >> (b % 64)) & 1;
}

static int filter_set_bits(void)
{
	int n = 0;

	for (__u32 w = 0; w < LIMPET_VIP_FILTER_WORDS; w++) {
		__u64 bits;

		assert_int_equal(bpf_map_lookup_elem(in.fd[IM_VIP_FILTER], &w, &bits), 0);
		n += __builtin_popcountll(bits);
	}
	return n;
}

/* Mark the bucket of a VIP's address in the bitmap ctx; each must read clear in the filter. */
static int vip_bucket_seen(const void *key, const void *val, void *ctx)
{
	__u32 b = limpet_vip_bucket(((const struct vip_key *)key)->addr), w = b / 64;
	__u64 bits;

	(void)val;
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_VIP_FILTER], &w, &bits), 0);
	if ((bits >> (b % 64)) & 1)
		fail_msg("bucket %u of a VIP's address is marked as no VIP's", b);
	((unsigned char *)ctx)[b] = 1;
	return 0;
}

/* The VIP filter: written by every VIP change, read by every packet before the VIP lookups. */
void test_vip_filter(void **state)
{
	static unsigned char seen[LIMPET_VIP_FILTER_BITS];
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.40",
			   .dst = "10.200.0.1", .sport = 41000, .dport = 80, .payload = "x" };
	struct vip_opts o = { .policy = LIMPET_POLICY_IP_HASH };
	unsigned char pkt[2048];
	struct vip_key k;
	struct result r;
	size_t len = pkt_build(&s, pkt);
	__u32 b;
	int clear = 0;

	/* every VIP's address passes; every other bucket is skipped */
	memset(seen, 0, sizeof(seen));
	must(map_scan(in.fd[IM_VIPS], sizeof(struct vip_key), sizeof(struct vip_meta),
		      vip_bucket_seen, seen));
	for (b = 0; b < LIMPET_VIP_FILTER_BITS; b++)
		clear += seen[b];
	assert_true(clear >= 5);
	assert_int_equal(filter_set_bits(), LIMPET_VIP_FILTER_BITS - clear);

	/* a packet to a VIP whose bit says "no VIP here" is not looked up: passed untouched */
	filter_bit(VIP4T, 1);
	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, LIMPET_R_PASS_NOT_VIP);
	must(vip_filter_sync(in.fd[IM_VIPS], in.fd[IM_VIP_FILTER], NULL));
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);

	/* a VIP added opens its bucket, deleted closes it again */
	assert_int_equal(filter_bit("10.200.9.9:80/tcp", 0), 1);
	must(vip_parse("10.200.9.9:80/tcp", &k, err, sizeof(err)));
	must(op_vip_add(&in, &k, &o, err, sizeof(err)));
	assert_int_equal(filter_bit("10.200.9.9:80/tcp", 0), 0);
	assert_int_equal(filter_set_bits(), LIMPET_VIP_FILTER_BITS - clear - 1);
	must(op_vip_del(&in, &k, err, sizeof(err)));
	assert_int_equal(filter_bit("10.200.9.9:80/tcp", 0), 1);
	assert_int_equal(filter_set_bits(), LIMPET_VIP_FILTER_BITS - clear);
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

void test_truncation(void **state)
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

void test_bad_headers(void **state)
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

void test_fragments(void **state)
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

void test_ttl_and_drop(void **state)
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

void test_port0_vip(void **state)
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

/* With a FIB route and a resolved neighbour: MACs set, TTL decremented, out via TX/redirect. */
void test_fib_forward(void **state)
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
	 * device would not be): the rewritten packet, TTL decremented, MACs untouched, marked for
	 * limpet's TC step to send out tout0 (the metadata in front of the frame)
	 */
	{
		struct pspec st = s;
		struct limpet_neigh_meta m;
		struct result fr;

		st.sport = 10;
		len = pkt_build(&st, pkt);
		run_if(pkt, len, &r, tin);
		assert_int_equal(r.action, XDP_PASS);
		assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
		assert_int_equal(r.len, sizeof(m) + len);
		memcpy(&m, r.out, sizeof(m));
		assert_int_equal(m.magic, LIMPET_META_NEIGH);
		assert_int_equal(m.ifindex, tout);
		fr = r;
		fr.len = len;
		memmove(fr.out, r.out + sizeof(m), len);
		out_dst(&fr, b, sizeof(b), &p);
		want = st;
		want.dst = b;
		want.dport = p;
		want.ttl = 63;
		expect_frame(&fr, &want);
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
