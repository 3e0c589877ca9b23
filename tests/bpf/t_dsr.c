// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of direct server return: l2dsr and ipip output frames byte for byte (outer
 * headers built here from scratch), MTU, paths limpet cannot use, fragments, second chance.
 */
#include "harness.h"

#define DVIP4 "10.200.1.1:80/tcp"
#define DVIP4SRC "10.200.1.2:80/tcp"
#define DVIP4L2 "10.200.1.3:80/tcp"
#define DVIP6 "[fc00:200:1::1]:80/tcp"
#define DVIP4GW "10.200.1.4:80/tcp"
#define DVIP4U "10.200.1.5:53/udp"
#define DVIP46 "10.200.1.6:80/tcp" /* IPv4 in IPv6: backends with IPv6 addresses only */

static unsigned int din, dout;
static unsigned char dout_mac[6];

static void sh(const char *cmd)
{
	char c[300];

	snprintf(c, sizeof(c), "%s >/dev/null 2>&1", cmd);
	if (system(c))
		fail_msg("setup: %s", cmd);
}

static void dsr_vip(const char *spec, __u8 mode, const char *encap_src)
{
	struct vip_opts o = { .policy = LIMPET_POLICY_IP_HASH, .affinity_ttl = 1800,
			      .table_size = 65537, .mode = mode };
	struct vip_key k;
	struct l_addr a;

	must(vip_parse(spec, &k, err, sizeof(err)));
	if (encap_src) {
		assert_int_equal(prefix_parse(encap_src, &a, &o.dsr.src_plen), 0);
		memcpy(o.dsr.src, a.a, 16);
	}
	op_vip_del(&in, &k, err, sizeof(err));
	must(op_vip_add(&in, &k, &o, err, sizeof(err)));
}

/* A client side (din0) and a backend segment (dout0, backends with fixed neighbours), both
 * devices limpet may send XDP frames into; VIPs in each mode.
 */
static void dsr_setup(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add din0 type veth peer name din1",
		"ip link add dout0 type veth peer name dout1",
		"ip link set din0 up", "ip link set din1 up", "ip link set dout0 up",
		"ip link set dout1 up", "ip addr add 198.51.100.1/24 dev din0",
		"ip addr add 10.2.0.254/24 dev dout0", "ip addr add fd00:2::fe/64 dev dout0 nodad",
		"ip neigh replace 10.2.0.1 lladdr 02:00:00:00:02:01 dev dout0 nud permanent",
		"ip neigh replace 10.2.0.2 lladdr 02:00:00:00:02:02 dev dout0 nud permanent",
		"ip neigh replace 10.2.0.3 lladdr 02:00:00:00:02:03 dev dout0 nud permanent",
		"ip neigh replace fd00:2::1 lladdr 02:00:00:00:02:01 dev dout0 nud permanent",
		"ip neigh replace fd00:2::2 lladdr 02:00:00:00:02:02 dev dout0 nud permanent",
		"ip route add 10.3.0.0/24 via 10.2.0.1 dev dout0",
		"sysctl -qw net.ipv4.ip_forward=1", "sysctl -qw net.ipv6.conf.all.forwarding=1",
	};
	static const struct {
		const char *spec;
		__u8 mode;
		const char *encap_src, *be[2];
	} vips[] = {
		{ DVIP4, LIMPET_MODE_IPIP, NULL, { "10.2.0.1", "10.2.0.2" } },
		{ DVIP4SRC, LIMPET_MODE_IPIP, "10.255.0.0/16", { "10.2.0.3" } },
		{ DVIP4L2, LIMPET_MODE_L2DSR, NULL, { "10.2.0.3" } },
		{ DVIP6, LIMPET_MODE_IPIP, NULL, { "fd00:2::1", "fd00:2::2" } },
		{ DVIP4U, LIMPET_MODE_IPIP, NULL, { "10.2.0.1", "10.2.0.2" } },
		{ DVIP4GW, LIMPET_MODE_L2DSR, NULL, { "10.3.0.9" } }, /* behind a gateway */
		{ DVIP46, LIMPET_MODE_IPIP, NULL, { "fd00:2::1", "fd00:2::2" } },
	};
	struct ifreq ifr = {};
	int sk;

	if (din)
		return;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		sh(cmds[i]);
	din = if_nametoindex("din0");
	dout = if_nametoindex("dout0");
	assert_int_equal(bpf_map_update_elem(in.fd[IM_TX_DEVS], &din, &din, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(in.fd[IM_TX_DEVS], &dout, &dout, BPF_ANY), 0);
	sk = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "dout0");
	assert_int_equal(ioctl(sk, SIOCGIFHWADDR, &ifr), 0);
	close(sk);
	memcpy(dout_mac, ifr.ifr_hwaddr.sa_data, 6);
	for (size_t i = 0; i < sizeof(vips) / sizeof(vips[0]); i++) {
		dsr_vip(vips[i].spec, vips[i].mode, vips[i].encap_src);
		for (int b = 0; b < 2 && vips[i].be[b]; b++)
			backend(vips[i].spec, vips[i].be[b]);
	}
}

/* DVIP4 as dsr_setup made it (ipip, 10.2.0.1 and .2), for the tests after one that changed it. */
static void dsr_vip4_reset(void)
{
	dsr_vip(DVIP4, LIMPET_MODE_IPIP, NULL);
	backend(DVIP4, "10.2.0.1");
	backend(DVIP4, "10.2.0.2");
}

size_t ipip_frame(const unsigned char *in_pkt, size_t in_len, size_t l2, int v6, const char *src,
		  const char *const *dst, int n, const unsigned char *dmac, const unsigned char *smac,
		  unsigned char *out)
{
	size_t hs = v6 ? 40 : 20, dl = in_len - l2, at = l2;
	int inner6 = in_pkt[l2] >> 4 == 6;

	memcpy(out, dmac, 6);
	memcpy(out + 6, smac, 6);
	memcpy(out + 12, in_pkt + 12, l2 - 12); /* a VLAN tag stays in front */
	pb_put16(out + l2 - 2, v6 ? 0x86dd : 0x0800); /* the outer header's type */
	for (int i = 0; i < n; i++, at += hs) {
		unsigned char *h = out + at;
		size_t below = dl + hs * (n - 1 - i);

		memset(h, 0, hs);
		if (!v6) {
			h[0] = 0x45;
			h[1] = in_pkt[l2 + 1]; /* the client's TOS */
			pb_put16(h + 2, below + 20);
			h[6] = 0x40; /* DF */
			h[8] = 64;
			h[9] = IPPROTO_IPIP;
			inet_pton(AF_INET, src, h + 12);
			inet_pton(AF_INET, dst[i], h + 16);
			pb_put16(h + 10, pb_fold(pb_sum(h, 20, 0)));
		} else {
			if (inner6) { /* version, class; the label is checked apart */
				memcpy(h, in_pkt + l2, 4);
				h[1] &= 0xf0, h[2] = h[3] = 0;
			} else { /* IPv4 in IPv6: the TOS as traffic class */
				h[0] = 0x60 | in_pkt[l2 + 1] >> 4;
				h[1] = (in_pkt[l2 + 1] & 0x0f) << 4;
			}
			pb_put16(h + 4, below);
			h[6] = i < n - 1 || inner6 ? 41 : 4;
			h[7] = 64;
			inet_pton(AF_INET6, src, h + 8);
			inet_pton(AF_INET6, dst[i], h + 24);
		}
	}
	memcpy(out + at, in_pkt + l2, dl);
	return at + dl;
}

/* The expected ipip frame out of dout0 toward a backend's MAC. */
static size_t ipip_frame_to(const unsigned char *in_pkt, size_t in_len, size_t l2, int v6,
			    const char *src, const char *const *dst, int n, const unsigned char *dmac,
			    unsigned char *out)
{
	return ipip_frame(in_pkt, in_len, l2, v6, src, dst, n, dmac, dout_mac, out);
}

static size_t want_ipip(const unsigned char *in_pkt, size_t in_len, int v6, const char *src,
			const char *const *dst, int n, const unsigned char *dmac, unsigned char *out)
{
	return ipip_frame_to(in_pkt, in_len, 14, v6, src, dst, n, dmac, out);
}

static void expect_bytes(const struct result *r, const unsigned char *want, size_t len)
{
	assert_int_equal(r->len, len);
	assert_memory_equal(r->out, want, len);
}

static void backend_mac(const char *addr, unsigned char *mac)
{
	static const unsigned char base[5] = { 2, 0, 0, 0, 2 };

	memcpy(mac, base, 5);
	mac[5] = addr[strlen(addr) - 1] - '0';
}

/* ipip, IPv4: the outer header from the host's address on dout0 to the chosen backend, the
 * client's datagram untouched behind it (TTL too: the backend is its destination).
 */
void test_dsr_ipip4(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.7",
			   .dst = "10.200.1.1", .sport = 4000, .dport = 80, .tcp_flags = 0x02,
			   .payload = "", .seq = 1 };
	unsigned char pkt[2048], want[2048], mac[6];
	const char *dst[1];
	char be[64] = "";
	struct result r;
	size_t len, wl;

	dsr_setup();
	for (int i = 0; i < 40; i++) {
		s.sport = 4000 + i;
		s.payload = i & 1 ? "datagram with a payload" : "";
		len = pkt_build(&s, pkt);
		pkt[15] = 0x28; /* a DSCP the outer header copies... */
		pkt[24] = pkt[25] = 0;
		pb_put16(pkt + 24, pb_fold(pb_sum(pkt + 14, 20, 0))); /* ...with its checksum */
		run_if(pkt, len, &r, din);
		assert_int_equal(r.action, XDP_REDIRECT);
		assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
		inet_ntop(AF_INET, r.out + 30, be, sizeof(be));
		assert_true(!strcmp(be, "10.2.0.1") || !strcmp(be, "10.2.0.2"));
		dst[0] = be;
		backend_mac(be, mac);
		wl = want_ipip(pkt, len, 0, "10.2.0.254", dst, 1, mac, want);
		expect_bytes(&r, want, wl);
	}
}

/* encap-source PREFIX: the outer source carries the flow's hash in its host bits — one flow
 * keeps one source, flows spread over many.
 */
void test_dsr_encap_source(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.8",
			   .dst = "10.200.1.2", .sport = 1, .dport = 80, .tcp_flags = 0x02,
			   .payload = "", .seq = 1 };
	unsigned char pkt[2048], want[2048], mac[6];
	const char *dst[1] = { "10.2.0.3" };
	char src[64], first[64] = "", seen[64][16];
	int nseen = 0;
	struct result r;
	size_t len;

	dsr_setup();
	backend_mac("10.2.0.3", mac);
	for (int i = 0; i < 64; i++) {
		s.sport = 1000 + i / 2; /* each flow twice */
		len = pkt_build(&s, pkt);
		run_if(pkt, len, &r, din);
		assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
		inet_ntop(AF_INET, r.out + 26, src, sizeof(src));
		assert_memory_equal(r.out + 26, "\x0a\xff", 2); /* inside 10.255.0.0/16 */
		expect_bytes(&r, want, want_ipip(pkt, len, 0, src, dst, 1, mac, want));
		if (i & 1) {
			assert_string_equal(src, first);
			continue;
		}
		strcpy(first, src);
		for (int j = 0; j <= nseen; j++)
			if (j == nseen) {
				strcpy(seen[nseen++], src);
				break;
			} else if (!strcmp(seen[j], src)) {
				break;
			}
	}
	assert_true(nseen >= 28); /* 32 flows over 65536 sources */
}

/* IP6IP6: outer IPv6 header with the client's traffic class, a label per flow, next header 41. */
void test_dsr_ipip6(void **state)
{
	struct pspec s = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::7",
			   .dst = "fc00:200:1::1", .sport = 5000, .dport = 80, .tcp_flags = 0x10,
			   .payload = "hello", .seq = 1, .ack = 1 };
	unsigned char pkt[2048], want[2048], mac[6], label[3];
	const char *dst[1];
	char be[64];
	struct result r;
	size_t len, wl;

	dsr_setup();
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	inet_ntop(AF_INET6, r.out + 14 + 24, be, sizeof(be));
	assert_true(!strcmp(be, "fd00:2::1") || !strcmp(be, "fd00:2::2"));
	dst[0] = be;
	backend_mac(be, mac);
	wl = want_ipip(pkt, len, 1, "fd00:2::fe", dst, 1, mac, want);
	memcpy(label, r.out + 15, 3);
	label[0] &= 0x0f;
	assert_true(label[0] | label[1] | label[2]);
	r.out[15] &= 0xf0, r.out[16] = r.out[17] = 0;
	expect_bytes(&r, want, wl);
	/* the same flow again: the same label */
	run_if(pkt, len, &r, din);
	r.out[15] &= 0x0f;
	assert_memory_equal(r.out + 15, label, 3);
}

/* l2dsr: only the MACs change; TTL, addresses, checksums as the client sent them. A backend
 * behind a gateway is no l2dsr backend: dropped and counted, never sent to the gateway.
 */
void test_dsr_l2(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.9",
			   .dst = "10.200.1.3", .sport = 6000, .dport = 80, .tcp_flags = 0x02,
			   .payload = "", .seq = 1 };
	unsigned char pkt[2048], want[2048];
	struct result r;
	size_t len;

	dsr_setup();
	len = pkt_build(&s, pkt);
	memcpy(want, pkt, len);
	backend_mac("10.2.0.3", want);
	memcpy(want + 6, dout_mac, 6);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	expect_bytes(&r, want, len);
	s.dst = "10.200.1.4";
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.action, XDP_DROP);
	assert_int_equal(r.reason, LIMPET_R_DROP_DSR_PATH);
}

/* The ICMP error a client gets for in_pkt (its IP header at 14, no options or extension
 * headers) that is too big by mtu, from scratch: MACs swapped, the VIP to the client, type 3
 * code 4 (IPv6: type 2), the MTU, the client's IP header and 8 bytes behind it quoted.
 */
static size_t want_too_big(const unsigned char *in_pkt, int v6, unsigned int mtu, unsigned char *out)
{
	size_t hs = v6 ? 40 : 20, q = hs + 8, at = 14 + hs;
	unsigned char *h = out + 14, *m = out + at;
	unsigned int acc = 0;

	memcpy(out, in_pkt + 6, 6);
	memcpy(out + 6, in_pkt, 6);
	memcpy(out + 12, in_pkt + 12, 2);
	memset(h, 0, hs + 8);
	memcpy(m + 8, in_pkt + 14, q);
	if (!v6) {
		h[0] = 0x45;
		pb_put16(h + 2, 20 + 8 + q);
		h[8] = 64;
		h[9] = IPPROTO_ICMP;
		memcpy(h + 12, in_pkt + 14 + 16, 4); /* from the VIP */
		memcpy(h + 16, in_pkt + 14 + 12, 4); /* to the client */
		pb_put16(h + 10, pb_fold(pb_sum(h, 20, 0)));
		m[0] = 3, m[1] = 4;
		pb_put16(m + 6, mtu);
	} else {
		h[0] = 0x60;
		pb_put16(h + 4, 8 + q);
		h[6] = IPPROTO_ICMPV6;
		h[7] = 64;
		memcpy(h + 8, in_pkt + 14 + 24, 16);
		memcpy(h + 24, in_pkt + 14 + 8, 16);
		m[0] = 2;
		pb_put16(m + 4, mtu >> 16), pb_put16(m + 6, mtu & 0xffff);
		acc = pb_sum(h + 8, 32, 0) + 8 + q + IPPROTO_ICMPV6;
	}
	pb_put16(m + 2, pb_fold(pb_sum(m, 8 + q, acc)));
	return at + 8 + q;
}

/* s, a full-size (1500-byte) packet, is answered with the ICMP error naming mtu. */
static void expect_too_big(const struct pspec *s, unsigned int mtu)
{
	unsigned char pkt[2048], want[2048];
	struct result r;
	size_t len = pkt_build(s, pkt);

	assert_int_equal(len, 14 + 1500);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.action, XDP_TX);
	assert_int_equal(r.reason, LIMPET_R_TX_TOO_BIG);
	expect_bytes(&r, want, want_too_big(pkt, s->family == 6, mtu, want));
}

/* MTU: a full-size datagram that the outer header would push past dout0's MTU (1500) is
 * answered with ICMP fragmentation needed naming 1480 (IPv6: packet too big, 1460), so the
 * client sends smaller ones; without DF it is dropped as drop_too_big; the same size in l2dsr
 * goes.
 */
void test_dsr_mtu(void **state)
{
	static char big[1500];
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.10",
			   .dst = "10.200.1.1", .sport = 7000, .dport = 80, .tcp_flags = 0x10,
			   .payload = big, .seq = 1, .ack = 1, .df = 1 };
	struct pspec s6 = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::10",
			    .dst = "fc00:200:1::1", .sport = 7000, .dport = 80, .tcp_flags = 0x10,
			    .payload = big, .seq = 1, .ack = 1 };
	unsigned char pkt[2048];
	struct result r;
	size_t len;

	dsr_setup();
	/* the connection's SYN first: a flow this host knows carries no second-chance header */
	s.tcp_flags = 0x02, s.payload = "";
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.len, len + 20);
	s.tcp_flags = 0x10, s.payload = big;
	memset(big, 'a', 1460);
	expect_too_big(&s, 1480);
	big[1460 - 20] = 0; /* 1480 bytes: 1500 once encapsulated */
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	assert_int_equal(r.len, len + 20);
	/* the established flow's send cache is fresh now, but vouches only for what the FIB let
	 * through: a bigger packet is still too big
	 */
	memset(big, 'a', 1460);
	expect_too_big(&s, 1480);
	s.df = 0; /* may be fragmented: no ICMP is due, and limpet cannot fragment it */
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.action, XDP_DROP);
	assert_int_equal(r.reason, LIMPET_R_DROP_TOO_BIG);
	s.dst = "10.200.1.3", s.df = 1;
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	assert_int_equal(r.len, len);
	/* IPv6: 40 bytes of outer header, packet too big naming 1460 */
	s6.tcp_flags = 0x02, s6.payload = "";
	run_if(pkt, pkt_build(&s6, pkt), &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	s6.tcp_flags = 0x10, s6.payload = big;
	big[1440] = 0;
	expect_too_big(&s6, 1460);
}

/* Packets from..to-1 of one connection (SYN, the handshake's ACK, then data), each expected at
 * the backend be in the frame built here (be empty: the first packet's backend, written to be),
 * from src (an IPv6 one: IPv6 outer headers). IPv6 outer headers' label is checked to stay the
 * flow's own, then set to 0 on both sides.
 */
static void dsr_connection(struct pspec *s, int from, int to, const char *src, char *be,
			   size_t belen)
{
	unsigned char pkt[2048], want[2048], mac[6], label[3] = { 0 };
	int outer6 = strchr(src, ':') != NULL;
	size_t l2 = s->vlan ? 18 : 14, len, wl, ho = l2 + (outer6 ? 24 : 16);
	const char *dst[1] = { be };
	struct result r;

	for (int i = from; i < to; i++) {
		s->tcp_flags = i == 0 ? 0x02 : i == 1 ? 0x10 : 0x18;
		s->payload = i < 2 ? "" : "data of an established connection";
		s->seq = 1 + i, s->ack = i ? 1 : 0;
		len = pkt_build(s, pkt);
		run_if(pkt, len, &r, din);
		assert_int_equal(r.action, XDP_REDIRECT);
		assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
		if (!be[0])
			inet_ntop(outer6 ? AF_INET6 : AF_INET, r.out + ho, be, belen);
		backend_mac(be, mac);
		wl = ipip_frame_to(pkt, len, l2, outer6, src, dst, 1, mac, want);
		if (outer6) {
			unsigned char *l = r.out + l2 + 1, got[3] = { l[0] & 0x0f, l[1], l[2] };

			if (i == from)
				memcpy(label, got, 3);
			assert_memory_equal(got, label, 3);
			l[0] &= 0xf0, l[1] = l[2] = 0;
		}
		expect_bytes(&r, want, wl);
	}
}

/* An established flow's packets are sent by limpet_xdp itself from the flow's cached way (no
 * tail call into the DSR program, no second parse), in the same frames as the DSR program's:
 * with the DSR programs taken out of the jump table, an established connection still goes,
 * byte for byte, and a new one is dropped as drop_tail_call. IPv4 and IPv6, a VLAN tag, UDP.
 */
void test_dsr_established(void **state)
{
	struct pspec s4 = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.12",
			    .dst = "10.200.1.1", .sport = 9100, .dport = 80, .vlan = 7 };
	struct pspec s6 = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::12",
			    .dst = "fc00:200:1::1", .sport = 9100, .dport = 80 };
	struct pspec su = { .family = 4, .proto = IPPROTO_UDP, .src = "198.51.100.12",
			    .dst = "10.200.1.5", .sport = 9100, .dport = 53 };
	int jump = bpf_map__fd(skel->maps.limpet_jump), fd4, fd6;
	__u32 k4 = LIMPET_JUMP_DSR4, k6 = LIMPET_JUMP_DSR6;
	char be4[64] = "", be6[64] = "", beu[64] = "";
	unsigned char pkt[2048];
	struct result r;

	dsr_setup();
	dsr_connection(&s4, 0, 5, "10.2.0.254", be4, sizeof(be4));
	dsr_connection(&s6, 0, 5, "fd00:2::fe", be6, sizeof(be6));
	s4.vlan = 0; /* the same flow untagged (the frame, not the flow, carries the tag) */
	dsr_connection(&s4, 5, 7, "10.2.0.254", be4, sizeof(be4));
	dsr_connection(&su, 0, 4, "10.2.0.254", beu, sizeof(beu)); /* the second datagram proves */

	fd4 = bpf_program__fd(skel->progs.limpet_dsr4);
	fd6 = bpf_program__fd(skel->progs.limpet_dsr6);
	assert_int_equal(bpf_map_delete_elem(jump, &k4), 0);
	assert_int_equal(bpf_map_delete_elem(jump, &k6), 0);
	s4.vlan = 7;
	dsr_connection(&s4, 7, 10, "10.2.0.254", be4, sizeof(be4));
	dsr_connection(&s6, 5, 8, "fd00:2::fe", be6, sizeof(be6));
	dsr_connection(&su, 4, 6, "10.2.0.254", beu, sizeof(beu));
	s4.sport = 9101, s4.tcp_flags = 0x02, s4.payload = "";
	run_if(pkt, pkt_build(&s4, pkt), &r, din);
	assert_int_equal(r.reason, LIMPET_R_DROP_TAIL_CALL);
	assert_int_equal(bpf_map_update_elem(jump, &k4, &fd4, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(jump, &k6, &fd6, BPF_ANY), 0);
	run_if(pkt, pkt_build(&s4, pkt), &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
}

/* IPv4 in IPv6: an IPv4 ipip VIP's IPv6 backends get the client's datagram behind an IPv6
 * header (next header 4, the TOS as traffic class, the flow's label, Ethernet type IPv6), from
 * the handshake to established packets (limpet_xdp's own path); a packet too big once
 * encapsulated learns the IPv6 path's MTU less 40. Only an ipip IPv4 VIP takes IPv6 backends.
 */
void test_dsr_4in6(void **state)
{
	static char big[1500];
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.13",
			   .dst = "10.200.1.6", .sport = 9200, .dport = 80, .df = 1 };
	struct vip_key k;
	char be[64] = "";

	dsr_setup();
	dsr_connection(&s, 0, 6, "fd00:2::fe", be, sizeof(be));
	assert_true(!strcmp(be, "fd00:2::1") || !strcmp(be, "fd00:2::2"));
	s.tcp_flags = 0x10, s.payload = big;
	memset(big, 'a', 1460);
	expect_too_big(&s, 1460);

	must(vip_parse(DVIP4L2, &k, err, sizeof(err)));
	assert_int_equal(op_backend_add(&in, &k, "fd00:2::3", 1, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "only an IPv4 VIP in mode ipip takes IPv6 backends"));
	must(vip_parse(DVIP6, &k, err, sizeof(err)));
	assert_int_equal(op_backend_add(&in, &k, "10.2.0.3", 1, err, sizeof(err)), -EINVAL);
}

/* s's first packet (IPv4, one outer IPv4 header): sent; its backend's address and MAC. */
static void dsr_first4(const struct pspec *s, char *be, size_t belen, unsigned char *mac)
{
	unsigned char pkt[2048];
	struct result r;

	run_if(pkt, pkt_build(s, pkt), &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	inet_ntop(AF_INET, r.out + 30, be, belen);
	backend_mac(be, mac);
}

/* The frame pkt goes to backend be (MAC mac) inside one outer IPv4 header from dout0. */
static void expect_ipip4(const unsigned char *pkt, size_t len, const char *be,
			 const unsigned char *mac)
{
	unsigned char want[2048];
	const char *dst[1] = { be };
	struct result r;

	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	expect_bytes(&r, want, want_ipip(pkt, len, 0, "10.2.0.254", dst, 1, mac, want));
}

/* An ICMP error about a DSR connection — a router on the client's path could not pass the
 * backend's reply, sent as the VIP — goes to its backend untouched inside the outer header (its
 * stack sent the quoted packet, so path-MTU discovery reaches the socket): the flow's, or with
 * no flow here (another host's connection, behind ECMP) the one the table gives it, which is
 * where its SYN goes. One quoting no VIP is the kernel's.
 */
void test_dsr_icmp(void **state)
{
	struct pspec c = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.14",
			   .dst = "10.200.1.1", .sport = 9300, .dport = 80, .tcp_flags = 0x02 };
	struct pspec reply = { .family = 4, .proto = IPPROTO_TCP, .src = "10.200.1.1",
			       .dst = "198.51.100.14", .sport = 80, .dport = 9300, .tcp_flags = 0x10,
			       .payload = "", .seq = 7, .ack = 1 };
	unsigned char pkt[2048], mac[6];
	char be[64];
	struct result r;
	size_t len;

	dsr_setup();
	dsr_first4(&c, be, sizeof(be), mac);
	expect_ipip4(pkt, icmp_error_frame("192.0.2.1", "10.200.1.1", &reply, pkt), be, mac);
	for (int i = 0; i < 8; i++) { /* clients without a flow here */
		char cl[32], tbe[64];

		snprintf(cl, sizeof(cl), "198.51.%d.%d", 101 + i, 20 + i);
		reply.dst = c.src = cl;
		len = icmp_error_frame("192.0.2.1", "10.200.1.1", &reply, pkt);
		run_if(pkt, len, &r, din);
		assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
		inet_ntop(AF_INET, r.out + 30, tbe, sizeof(tbe));
		dsr_first4(&c, be, sizeof(be), mac); /* the connection's SYN goes to the same one */
		assert_string_equal(tbe, be);
		expect_ipip4(pkt, len, be, mac);
	}
	reply.sport = 81; /* no VIP */
	len = icmp_error_frame("192.0.2.1", "10.200.1.1", &reply, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_PASS_L4_OTHER);
	expect_unchanged(&r, pkt, len);
	/* l2dsr: the error as it came, to the backend's MAC */
	reply.src = c.dst = "10.200.1.3", reply.sport = 80;
	run_if(pkt, pkt_build(&c, pkt), &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	backend_mac("10.2.0.3", mac);
	len = icmp_error_frame("192.0.2.1", "10.200.1.3", &reply, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
	memcpy(pkt, mac, 6);
	memcpy(pkt + 6, dout_mac, 6);
	expect_bytes(&r, pkt, len);
}

/* Fragments: the later ones go where the first went, inside the same outer header. */
void test_dsr_fragments(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_UDP, .src = "198.51.100.11",
			   .dst = "10.200.1.5", .sport = 8000, .dport = 53, .payload = "first part",
			   .frag = 1, .ipid = 77 };
	unsigned char pkt[2048], mac[6];
	char be[64];

	dsr_setup();
	dsr_first4(&s, be, sizeof(be), mac);
	s.frag = 2;
	s.payload = "second part";
	expect_ipip4(pkt, pkt_build(&s, pkt), be, mac);
}

/* Establishing in DSR: the SYN leaves a half-open flow, the handshake's ACK moves it to flows
 * and writes the client's affinity; a RST ends it.
 */
void test_dsr_flow_state(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.12",
			   .dst = "10.200.1.1", .sport = 9000, .dport = 80, .tcp_flags = 0x02,
			   .payload = "", .seq = 1 };
	unsigned char pkt[2048];
	struct result r;
	size_t len;

	dsr_setup();
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(table_count(in.fd[IM_HALFOPEN]), 1);
	assert_int_equal(table_count(in.fd[IM_FLOWS]), 0);
	assert_int_equal(table_count(in.fd[IM_AFFINITY]), 0);
	s.tcp_flags = 0x10, s.seq = 2, s.ack = 1000;
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(table_count(in.fd[IM_FLOWS]), 1);
	assert_int_equal(table_count(in.fd[IM_HALFOPEN]), 0);
	assert_int_equal(table_count(in.fd[IM_AFFINITY]), 1);
	s.tcp_flags = 0x04;
	len = pkt_build(&s, pkt);
	run_if(pkt, len, &r, din);
	assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT); /* the RST reaches the backend */
	assert_int_equal(flow_count(), 0);
}

/* Second chance: a mid-connection packet this host has no flow for, whose Maglev slot changed
 * owner when a backend was added, goes to the new owner with the previous owner as a second
 * outer header (the backend's decap hands it on when it has no socket); a SYN, or a slot that
 * kept its owner, carries one header.
 */
void test_dsr_second_chance(void **state)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.13",
			   .dst = "10.200.1.1", .sport = 1, .dport = 80, .tcp_flags = 0x10,
			   .payload = "mid-connection", .seq = 5, .ack = 5 };
	unsigned char pkt[2048], want[2048], mac[6];
	static unsigned char before[200][256];
	static size_t before_len[200];
	char be[64], prev[64], src[64];
	const char *dst[2];
	int moved = 0, kept = 0;
	struct result r;
	size_t len;

	dsr_setup();
	for (int i = 0; i < 200; i++) {
		snprintf(src, sizeof(src), "203.0.%d.%d", 113 + i / 100, i % 100 + 1);
		s.src = src;
		len = pkt_build(&s, pkt);
		run_if(pkt, len, &r, din);
		assert_int_equal(r.reason, LIMPET_R_FWD_REDIRECT);
		assert_true(r.len <= sizeof(before[i]));
		memcpy(before[i], r.out, r.len);
		before_len[i] = r.len;
	}
	backend(DVIP4, "10.2.0.3");
	assert_int_equal(fresh(state), 0); /* another balancer host: it knows none of these flows */
	for (int i = 0; i < 200; i++) {
		snprintf(src, sizeof(src), "203.0.%d.%d", 113 + i / 100, i % 100 + 1);
		s.src = src;
		len = pkt_build(&s, pkt);
		run_if(pkt, len, &r, din);
		inet_ntop(AF_INET, r.out + 30, be, sizeof(be));
		inet_ntop(AF_INET, before[i] + 30, prev, sizeof(prev));
		dst[0] = be;
		dst[1] = prev;
		backend_mac(be, mac);
		if (!strcmp(be, prev)) {
			/* the owner kept its slot: what it sent before (with the slot's own earlier
			 * owner, from when the VIP was built one backend at a time, if it had one)
			 */
			kept++;
			expect_bytes(&r, before[i], before_len[i]);
			continue;
		}
		moved++;
		assert_string_equal(be, "10.2.0.3"); /* only the new backend takes slots */
		expect_bytes(&r, want, want_ipip(pkt, len, 0, "10.2.0.254", dst, 2, mac, want));
		/* a later packet of that flow, now known here: still both headers */
		run_if(pkt, len, &r, din);
		expect_bytes(&r, want, want_ipip(pkt, len, 0, "10.2.0.254", dst, 2, mac, want));
	}
	assert_true(moved > 20 && kept > 20);
	/* a SYN is a new connection: the slot's owner only */
	s.tcp_flags = 0x02, s.payload = "";
	for (int i = 0; i < 200; i++) {
		s.sport = 30000 + i;
		len = pkt_build(&s, pkt);
		run_if(pkt, len, &r, din);
		assert_int_equal(r.len, len + 20);
	}
	dsr_vip4_reset();
}

/* A VIP's table, both halves for ipip (owners, then each slot's previous owner); m filled. */
static __u32 *vip_table(const char *spec, __u32 *m)
{
	struct vip_meta meta;
	struct vip_key k;
	__u32 inner, *keys, *t;
	int fd;

	must(vip_parse(spec, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &meta), 0);
	assert_int_equal(bpf_map_lookup_elem(in.fd[IM_MAGLEV], &meta.vip_id, &inner), 0);
	fd = bpf_map_get_fd_by_id(inner);
	assert_true(fd >= 0);
	*m = meta.maglev_m;
	keys = malloc(2 * *m * sizeof(*keys));
	t = malloc(2 * *m * sizeof(*t));
	assert_int_equal(array_read(fd, 2 * *m, keys, t), 0);
	close(fd);
	free(keys);
	return t;
}

/* Backends added together (apply adds a VIP's list at once): every slot that changed hands
 * names, as its previous owner, the backend that held it before the change — the one with the
 * slot's connections — never a backend of the same change. One at a time, a slot taken by the
 * first and then by the second would name the first, which never had a connection there.
 */
void test_dsr_second_chance_batch(void **state)
{
	const struct be_new bn[] = { { "10.2.0.4", 1, LIMPET_BE_ACTIVE },
				     { "10.2.0.5", 1, LIMPET_BE_ACTIVE } };
	__u32 m, *before, *after, moved = 0, kept = 0;
	struct vip_key k;

	(void)state;
	dsr_setup();
	before = vip_table(DVIP4, &m);
	must(vip_parse(DVIP4, &k, err, sizeof(err)));
	must(op_backends_add(&in, &k, bn, 2, err, sizeof(err)));
	after = vip_table(DVIP4, &m);
	for (__u32 s = 0; s < m; s++) {
		if (after[s] == before[s]) {
			kept++;
			assert_int_equal(after[m + s], before[m + s]);
			continue;
		}
		moved++;
		assert_int_equal(after[m + s], before[s]);
	}
	/* two of four backends' worth of slots moved, about half */
	assert_true(moved > m / 3 && kept > m / 3);
	free(before);
	free(after);
	dsr_vip4_reset();
}

/* VIP spec's backend at address a: its id. */
static __u32 be_id(const char *spec, const char *a)
{
	struct backend *bes = NULL;
	struct vip_meta meta;
	struct vip_key k;
	struct in_addr ia;
	__u32 id;

	must(vip_parse(spec, &k, err, sizeof(err)));
	assert_int_equal(op_vip_find(&in, &k, &meta), 0);
	assert_int_equal(inet_pton(AF_INET, a, &ia), 1);
	assert_int_equal(backends_get(&in, &bes), 0);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == meta.vip_id &&
		    bes[id].addr[0] == ia.s_addr)
			break;
	free(bes);
	assert_true(id < LIMPET_MAX_BACKENDS);
	return id;
}

/* A file that drains one backend, deletes another and adds two (a replacement, as apply makes
 * it): one change, so every slot that changed hands names the owner it had before the file if
 * that one still serves — in steps, a drained backend's slot passed on to a survivor and then
 * to a new backend would name the survivor, which never had its connections. The new backends
 * take ids no backend of the change held.
 */
void test_dsr_second_chance_edit(void **state)
{
	const struct be_new bn[] = { { "10.2.0.4", 1, LIMPET_BE_ACTIVE },
				     { "10.2.0.5", 1, LIMPET_BE_ACTIVE } };
	__u32 m, *before, *after, s, id1, id2, id3, from1 = 0, from3 = 0;
	struct be_edit ed[2];
	struct vip_key k;

	(void)state;
	dsr_setup();
	backend(DVIP4, "10.2.0.3");
	id1 = be_id(DVIP4, "10.2.0.1");
	id2 = be_id(DVIP4, "10.2.0.2");
	id3 = be_id(DVIP4, "10.2.0.3");
	before = vip_table(DVIP4, &m);
	ed[0] = (struct be_edit){ id1, 1, LIMPET_BE_DRAINING };
	ed[1] = (struct be_edit){ id2, 0, LIMPET_BE_FREE };
	must(vip_parse(DVIP4, &k, err, sizeof(err)));
	must(op_backends_edit(&in, &k, ed, 2, bn, 2, err, sizeof(err)));
	assert_true(be_id(DVIP4, "10.2.0.4") != id2 && be_id(DVIP4, "10.2.0.5") != id2);
	after = vip_table(DVIP4, &m);
	for (s = 0; s < m; s++) {
		assert_true(after[s] != id1 && after[s] != id2); /* drained, deleted: no new client */
		assert_true(after[m + s] != id2);                 /* nor a second chance */
		if (after[s] == before[s])
			continue;
		if (before[s] == id1 || before[s] == id3) /* the drained one's, the survivor's */
			assert_int_equal(after[m + s], before[s]);
		from1 += before[s] == id1; /* every slot of the drained one moved */
		from3 += before[s] == id3; /* some of the survivor's went to the new ones */
	}
	assert_true(from1 > m / 4 && from3 > m / 10);
	free(before);
	free(after);
	dsr_vip4_reset();
}

/* An instance full to its last backend slot takes a replacement in one change: the new backend
 * reuses the id of the one leaving (a file of 4,096 backends that swaps one needs no 4,097th).
 */
void test_backends_edit_full(void **state)
{
	struct backend *bes = NULL;
	struct be_new *bn = calloc(LIMPET_MAX_BACKENDS, sizeof(*bn));
	char (*spec)[32] = calloc(LIMPET_MAX_BACKENDS, sizeof(*spec));
	struct vip_opts o = { .policy = LIMPET_POLICY_IP_HASH, .table_size = LIMPET_MAGLEV_M_MAX,
			      .mode = LIMPET_MODE_IPIP };
	__u32 used = 0, id, gone;
	struct be_edit ed;
	struct vip_key k;
	int n = 0;

	(void)state;
	assert_non_null(bn);
	assert_non_null(spec);
	must(vip_parse("10.200.9.9:0/udp", &k, err, sizeof(err)));
	must(op_vip_add(&in, &k, &o, err, sizeof(err)));
	assert_int_equal(backends_get(&in, &bes), 0);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		used += bes[id].state != LIMPET_BE_FREE;
	free(bes);
	for (; used + n < LIMPET_MAX_BACKENDS; n++) {
		snprintf(spec[n], sizeof(spec[n]), "10.60.%d.%d", n / 250, n % 250 + 1);
		bn[n] = (struct be_new){ spec[n], 1, LIMPET_BE_ACTIVE };
	}
	must(op_backends_add(&in, &k, bn, n, err, sizeof(err)));
	snprintf(spec[0], sizeof(spec[0]), "10.61.0.1");
	bn[0] = (struct be_new){ spec[0], 1, LIMPET_BE_ACTIVE };
	/* one more is refused, and changes nothing */
	assert_int_equal(op_backends_add(&in, &k, bn, 1, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "too many backends in this instance"));
	gone = be_id("10.200.9.9:0/udp", "10.60.0.7");
	ed = (struct be_edit){ gone, 0, LIMPET_BE_FREE };
	must(op_backends_edit(&in, &k, &ed, 1, bn, 1, err, sizeof(err)));
	assert_int_equal(be_id("10.200.9.9:0/udp", "10.61.0.1"), gone);
	must(op_vip_del(&in, &k, err, sizeof(err)));
	free(bn);
	free(spec);
}

/* A table built fresh (no history: a host restarted while a backend drains) still gives the
 * draining backend's connections their second chance: each slot it would own were it active
 * names it. Checked against a VIP whose same three backends are all active.
 */
void test_dsr_second_chance_drained(void **state)
{
	const struct be_new bx[] = { { "10.2.0.1", 1, LIMPET_BE_ACTIVE },
				     { "10.2.0.2", 1, LIMPET_BE_ACTIVE },
				     { "10.2.0.3", 1, LIMPET_BE_DRAINING } };
	const struct be_new by[] = { bx[0], bx[1], { "10.2.0.3", 1, LIMPET_BE_ACTIVE } };
	static const char *const vx = "10.200.1.7:80/tcp", *const vy = "10.200.1.8:80/tcp";
	__u32 m, *tx, *ty, id3x, id3y, named = 0;
	struct vip_key kx, ky;

	(void)state;
	dsr_setup();
	dsr_vip(vx, LIMPET_MODE_IPIP, NULL);
	dsr_vip(vy, LIMPET_MODE_IPIP, NULL);
	must(vip_parse(vx, &kx, err, sizeof(err)));
	must(vip_parse(vy, &ky, err, sizeof(err)));
	must(op_backends_add(&in, &kx, bx, 3, err, sizeof(err)));
	must(op_backends_add(&in, &ky, by, 3, err, sizeof(err)));
	id3x = be_id(vx, "10.2.0.3");
	id3y = be_id(vy, "10.2.0.3");
	tx = vip_table(vx, &m);
	ty = vip_table(vy, &m);
	for (__u32 s = 0; s < m; s++) {
		assert_true(tx[s] != id3x); /* draining: no new client */
		if (ty[s] == id3y) {
			assert_int_equal(tx[m + s], id3x);
			named++;
		} else {
			assert_int_equal(tx[m + s], LIMPET_NO_BACKEND);
		}
	}
	assert_true(named > m / 4);
	free(tx);
	free(ty);
	must(op_vip_del(&in, &kx, err, sizeof(err)));
	must(op_vip_del(&in, &ky, err, sizeof(err)));
}

/* limpetctl backend replace: the old backend drained and the new one added as one change, so
 * each of the old one's slots names it, and each slot the new one took from a survivor names
 * that survivor (in two commands, the old one's slots passed on twice would name a survivor).
 */
void test_dsr_second_chance_replace(void **state)
{
	__u32 m, *before, *after, id1, id2, id4, from1 = 0, from2 = 0;
	struct vip_key k;

	(void)state;
	dsr_setup();
	id1 = be_id(DVIP4, "10.2.0.1");
	id2 = be_id(DVIP4, "10.2.0.2");
	before = vip_table(DVIP4, &m);
	must(vip_parse(DVIP4, &k, err, sizeof(err)));
	must(op_backend_replace(&in, &k, "10.2.0.1", "10.2.0.4", 1, err, sizeof(err)));
	id4 = be_id(DVIP4, "10.2.0.4");
	after = vip_table(DVIP4, &m);
	for (__u32 s = 0; s < m; s++) {
		assert_true(after[s] == id2 || after[s] == id4);
		if (before[s] == id1) {
			assert_int_equal(after[m + s], id1);
			from1++;
		} else if (after[s] == id4) {
			assert_int_equal(after[m + s], id2);
			from2++;
		}
	}
	assert_true(from1 > m / 3 && from2 > m / 10);
	free(before);
	free(after);
	dsr_vip4_reset();
}
