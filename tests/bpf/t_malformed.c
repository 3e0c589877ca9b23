// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of packets whose own length fields disagree with their headers, Ethernet padding,
 * and IPv6 Routing headers: passed untouched with their reason, or forwarded valid.
 */
#include "harness.h"

/* IPv4 total length set to tot, the header checksum made right again: only the length lies. */
static void ip4_set_len(unsigned char *pkt, unsigned int tot)
{
	unsigned char *ip = pkt + 14;

	pb_put16(ip + 2, tot);
	ip[10] = ip[11] = 0;
	pb_put16(ip + 10, pb_fold(pb_sum(ip, (ip[0] & 0xf) * 4, 0)));
}

static void expect_passed(const unsigned char *pkt, size_t len, int reason)
{
	struct result r;

	run(pkt, len, &r);
	expect_unchanged(&r, pkt, len);
	assert_int_equal(r.reason, reason);
}

void test_lengths_v4(void **state)
{
	struct pspec t = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.60",
			   .dst = "10.200.0.1", .sport = 4100, .dport = 80, .payload = "data" };
	struct pspec u = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.61",
			   .dst = "10.200.0.1", .sport = 4101, .dport = 53, .payload = "query" };
	unsigned char pkt[512];
	size_t len;

	/* the datagram ends before its TCP header: the frame's bytes after it are not TCP */
	len = pkt_build(&t, pkt);
	ip4_set_len(pkt, 20);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	len = pkt_build(&t, pkt);
	ip4_set_len(pkt, 20 + 12); /* half a TCP header */
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	/* a data offset past the segment (60 bytes of header in a 24-byte segment) */
	len = pkt_build(&t, pkt);
	pkt[14 + 20 + 12] = 0xf0;
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	/* a UDP length that disagrees with the datagram, either way */
	len = pkt_build(&u, pkt);
	pb_put16(pkt + 14 + 20 + 4, 8 + 5 + 1);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	pb_put16(pkt + 14 + 20 + 4, 8 + 5 - 1);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	pb_put16(pkt + 14 + 20 + 4, 4);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	/* ICMP shorter than its 8-byte header inside the datagram */
	{
		struct pspec ic = { .family = 4, .proto = IPPROTO_ICMP, .src = "192.0.2.62",
				    .dst = "10.200.0.1", .payload = "12345678" };

		len = pkt_build(&ic, pkt);
		ip4_set_len(pkt, 20 + 4);
		expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	}
	(void)state;
}

void test_lengths_v6(void **state)
{
	struct pspec t = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::60",
			   .dst = "fc00:200::1", .sport = 4200, .dport = 80, .payload = "data",
			   .v6_dstopts = 1 };
	struct pspec u = { .family = 6, .proto = IPPROTO_UDP, .src = "2001:db8::61",
			   .dst = "fc00:200::1", .sport = 4201, .dport = 53, .payload = "query" };
	unsigned char pkt[512];
	size_t len;

	/* the destination options header runs past the payload length */
	len = pkt_build(&t, pkt);
	pb_put16(pkt + 14 + 4, 4);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L3);
	/* the options fit, the TCP header does not */
	pb_put16(pkt + 14 + 4, 8 + 10);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	/* data offset past the segment */
	len = pkt_build(&t, pkt);
	pkt[14 + 40 + 8 + 12] = 0xf0;
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	/* UDP length against the payload length */
	len = pkt_build(&u, pkt);
	pb_put16(pkt + 14 + 40 + 4, 8 + 5 + 2);
	expect_passed(pkt, len, LIMPET_R_PASS_BAD_L4);
	(void)state;
}

/* Frames shorter than 60 bytes arrive padded: the padding is no payload and stays as it was. */
void test_ethernet_padding(void **state)
{
	struct pspec u = { .family = 4, .proto = IPPROTO_UDP, .src = "192.0.2.63",
			   .dst = "10.200.0.5", .sport = 4300, .dport = 4000, .payload = "v1" };
	unsigned char pkt[128];
	struct result r;
	struct pkt_info pi;
	__u64 found, missing;
	size_t len = pkt_build(&u, pkt);

	assert_true(len < 60);
	/* a token where the UDP token (offset 2, 8 bytes) would be, were padding payload */
	memset(pkt + len, '#', 60 - len);
	memcpy(pkt + len, "SESSION9", 8);
	found = event(LIMPET_EV_TOKEN_FOUND);
	missing = event(LIMPET_EV_TOKEN_MISSING);
	run(pkt, 60, &r);
	assert_true(r.reason == LIMPET_R_FWD_STACK || r.reason == LIMPET_R_FWD_TX);
	assert_int_equal(event(LIMPET_EV_TOKEN_FOUND), found);
	assert_int_equal(event(LIMPET_EV_TOKEN_MISSING), missing + 1);
	assert_int_equal(r.len, 60);
	assert_memory_equal(r.out + len, pkt + len, 60 - len); /* the padding, untouched */
	pkt_decode(r.out, r.len, &pi);
	assert_true(pi.ok && pi.len_ok && pi.l3_csum_ok);
	assert_int_equal(pi.l4_csum_ok, 1);
}

/* A Routing header with segments left: the packet is another node's to route, and its L4
 * checksum covers the final destination, so limpet passes it. Without segments left it is an
 * ordinary extension header.
 */
void test_ipv6_routing_header(void **state)
{
	struct pspec t = { .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::64",
			   .dst = "fc00:200::1", .sport = 4400, .dport = 80, .payload = "data",
			   .v6_rh = 2 };
	unsigned char pkt[512];
	struct result r;
	size_t len = pkt_build(&t, pkt);

	expect_passed(pkt, len, LIMPET_R_PASS_IPV6_RH);
	t.proto = IPPROTO_UDP;
	t.dport = 53;
	len = pkt_build(&t, pkt);
	expect_passed(pkt, len, LIMPET_R_PASS_IPV6_RH);
	/* segments left 0: the packet has arrived; forwarded with valid checksums */
	t.v6_rh = 1;
	len = pkt_build(&t, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_FWD_STACK);
	expect_valid(&r);
	(void)state;
}
