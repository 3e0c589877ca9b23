// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of ICMP and ICMPv6 errors about VIP flows, routed by their quoted header. */
#include "harness.h"

/* An ICMP error (type 3, code 4: fragmentation needed) from src to dst quoting the IPv4 packet
 * `quoted` (its IP header and first 8 L4 bytes). Returns the frame length.
 */
size_t icmp_error_frame(const char *src, const char *dst, const struct pspec *quoted,
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

void test_icmp_errors(void **state)
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
	/* the same error, its datagram ending inside the quoted ports: the rest is padding */
	{
		struct pspec q = { .family = 4, .proto = IPPROTO_TCP, .src = "10.200.0.1",
				   .dst = client, .sport = 80, .dport = 7300, .seq = 42 };
		unsigned char *ip = pkt + 14;

		len = icmp_error_frame("198.51.100.254", "10.200.0.1", &q, pkt);
		pb_put16(ip + 2, 20 + 8 + 20 + 4);
		ip[10] = ip[11] = 0;
		pb_put16(ip + 10, pb_fold(pb_sum(ip, 20, 0)));
		run(pkt, len, &r);
		expect_unchanged(&r, pkt, len);
		assert_int_equal(r.reason, LIMPET_R_PASS_L4_OTHER);
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

void test_icmp6_errors(void **state)
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
