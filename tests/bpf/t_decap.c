// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of the backend-side decapsulator, its XDP program (limpet_decap) and mode tc's
 * (limpet_tcdecap) each: limpet's IPIP, IP6IP6 and IPv4 in IPv6 frames unwrapped to the
 * client's frame byte for byte, second-chance frames handed on inside their second header, and
 * foreign, malformed and truncated frames left untouched.
 */
#include <linux/pkt_cls.h>
#include <limpet/decap.h>
#include "harness.h"
#include "limpet_decap.skel.h"

static struct limpet_decap *dk;
static bool tcm; /* the tests run mode tc's program, not the XDP one */
static const unsigned char mac_be[6] = { 2, 0, 0, 0, 2, 1 }, mac_lb[6] = { 2, 0, 0, 0, 2, 0xfe };

static void decap_vip(const char *addr)
{
	struct decap_key k = { .family = strchr(addr, ':') ? 6 : 4 };
	__u32 one = 1;

	assert_int_equal(inet_pton(k.family == 6 ? AF_INET6 : AF_INET, addr, k.addr), 1);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(dk->maps.decap_vips), &k, &one, BPF_ANY), 0);
}

/* The decapsulator loaded once, maps private, serving one IPv4 and one IPv6 VIP. */
static void decap_setup(void)
{
	if (dk)
		return;
	dk = limpet_decap__open();
	assert_non_null(dk);
	must(obj_private_maps(dk->obj, NULL, NULL, 0, err, sizeof(err)));
	assert_int_equal(limpet_decap__load(dk), 0);
	decap_vip("10.200.1.1");
	decap_vip("fc00:200:1::1");
}

static void run_decap(const unsigned char *pkt, size_t len, struct result *r)
{
	run_prog(bpf_program__fd(tcm ? dk->progs.limpet_tcdecap : dk->progs.limpet_decap),
		 bpf_map__fd(dk->maps.decap_reasons), LIMPET_DECAP_MAX, pkt, len, r, 0);
}

/* The verdict that gives a frame to the local stack as it now is. */
static int pass_act(void)
{
	return tcm ? TC_ACT_OK : XDP_PASS;
}

static void expect_untouched(const struct result *r, const unsigned char *in_pkt, size_t len)
{
	assert_int_equal(r->action, pass_act());
	assert_int_equal(r->len, len);
	assert_memory_equal(r->out, in_pkt, len);
}

/* limpet's frame: n outer headers of family outer6 (outermost first: to dst[0]) in front of
 * the client's datagram.
 */
static size_t wrap(const unsigned char *client, size_t clen, int outer6, const char *const *dst,
		   int n, unsigned char *out)
{
	return ipip_frame(client, clen, 14, outer6, outer6 ? "fd00:2::fe" : "10.2.0.254", dst, n,
			  mac_be, mac_lb, out);
}

/* The client's frame as the backend's stack must get it: limpet's MACs, the client's type. */
static size_t unwrapped(const unsigned char *client, size_t clen, unsigned char *out)
{
	memcpy(out, client, clen);
	memcpy(out, mac_be, 6);
	memcpy(out + 6, mac_lb, 6);
	return clen;
}

/* IPIP, IP6IP6 and IPv4 in IPv6 to a VIP here: unwrapped (deliver), byte for byte. */
static void decap_deliver(void)
{
	struct pspec s4 = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.20",
			    .dst = "10.200.1.1", .sport = 5000, .dport = 80, .tcp_flags = 0x18,
			    .payload = "GET / HTTP/1.1\r\n\r\n", .seq = 1, .ack = 1 };
	struct pspec s6 = s4;
	const char *d4[1] = { "10.2.0.1" }, *d6[1] = { "fd00:2::1" };
	unsigned char c[2048], f[2048], want[2048];
	struct result r;
	size_t cl;

	decap_setup();
	s6.family = 6, s6.src = "2001:db8::20", s6.dst = "fc00:200:1::1";
	cl = pkt_build(&s4, c);
	for (int outer6 = 0; outer6 < 2; outer6++) {
		run_decap(f, wrap(c, cl, outer6, outer6 ? d6 : d4, 1, f), &r);
		assert_int_equal(r.reason, LIMPET_DECAP_DELIVER);
		assert_int_equal(r.action, pass_act());
		assert_int_equal(r.len, unwrapped(c, cl, want));
		assert_memory_equal(r.out, want, cl);
	}
	cl = pkt_build(&s6, c);
	run_decap(f, wrap(c, cl, 1, d6, 1, f), &r);
	assert_int_equal(r.reason, LIMPET_DECAP_DELIVER);
	assert_int_equal(r.len, unwrapped(c, cl, want));
	assert_memory_equal(r.out, want, cl);
}

/* Second chance: behind a second header a SYN is this backend's (both headers go); a segment it
 * has no socket for goes on to the previous owner inside the second header (XDP: by the TC
 * step, this namespace having no route to it; mode tc: redirected at once).
 */
static void decap_second_chance(void)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.21",
			   .dst = "10.200.1.1", .sport = 5001, .dport = 80, .tcp_flags = 0x02 };
	const char *d[2] = { "10.2.0.1", "10.2.0.2" };
	unsigned char c[2048], f[2048], want[2048];
	struct result r;
	size_t cl, wl;

	decap_setup();
	cl = pkt_build(&s, c);
	run_decap(f, wrap(c, cl, 0, d, 2, f), &r);
	assert_int_equal(r.reason, LIMPET_DECAP_DELIVER);
	assert_int_equal(r.len, unwrapped(c, cl, want));
	assert_memory_equal(r.out, want, cl);
	s.tcp_flags = 0x10, s.seq = 1, s.ack = 1;
	cl = pkt_build(&s, c);
	wl = wrap(c, cl, 0, d + 1, 1, want); /* what is left: the second header and the client's */
	run_decap(f, wrap(c, cl, 0, d, 2, f), &r);
	if (tcm) {
		assert_int_equal(r.reason, LIMPET_DECAP_SECOND_NEIGH);
		assert_int_equal(r.action, TC_ACT_REDIRECT);
		assert_int_equal(r.len, wl);
		assert_memory_equal(r.out, want, wl);
		return;
	}
	assert_int_equal(r.reason, LIMPET_DECAP_SECOND_STACK);
	assert_int_equal(r.action, XDP_PASS);
	assert_true(r.len >= wl); /* the mark for the TC step may lead the frame */
	assert_memory_equal(r.out + r.len - wl + 12, want + 12, wl - 12);
}

/* Not limpet's, or not for a VIP here: untouched, counted as such. */
static void decap_foreign(void)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.22",
			   .dst = "10.200.1.9", .sport = 5002, .dport = 80, .tcp_flags = 0x02 };
	const char *d[1] = { "10.2.0.1" };
	unsigned char c[2048], f[2048];
	struct result r;
	size_t cl, fl;

	decap_setup();
	cl = pkt_build(&s, c);
	fl = wrap(c, cl, 0, d, 1, f);
	run_decap(f, fl, &r); /* IPIP, but 10.200.1.9 is no VIP here */
	assert_int_equal(r.reason, LIMPET_DECAP_PASS_NOT_VIP);
	expect_untouched(&r, f, fl);
	run_decap(c, cl, &r); /* plain TCP */
	assert_int_equal(r.reason, LIMPET_DECAP_PASS_OTHER);
	expect_untouched(&r, c, cl);
	s.dst = "10.200.1.1";
	cl = pkt_build(&s, c);
	fl = wrap(c, cl, 0, d, 1, f);
	f[14 + 6] = 0x20; /* the outer header a fragment */
	pb_put16(f + 24, 0), pb_put16(f + 24, pb_fold(pb_sum(f + 14, 20, 0)));
	run_decap(f, fl, &r);
	assert_int_equal(r.reason, LIMPET_DECAP_PASS_OTHER);
	expect_untouched(&r, f, fl);
	fl = wrap(c, cl, 1, (const char *const[]){ "fd00:2::1" }, 1, f);
	f[14 + 6] = IPPROTO_UDP; /* IPv6 carrying something else */
	run_decap(f, fl, &r);
	assert_int_equal(r.reason, LIMPET_DECAP_PASS_OTHER);
	expect_untouched(&r, f, fl);
}

/* Truncated at every byte, or lengths that disagree: never unwrapped, never changed. */
static void decap_truncated(void)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_TCP, .src = "198.51.100.23",
			   .dst = "10.200.1.1", .sport = 5003, .dport = 80, .tcp_flags = 0x02 };
	unsigned char c[2048], f[2048];
	struct result r;
	size_t cl, fl;

	decap_setup();
	cl = pkt_build(&s, c);
	for (int outer6 = 0; outer6 < 2; outer6++) {
		fl = wrap(c, cl, outer6, (const char *const[]){ outer6 ? "fd00:2::1" : "10.2.0.1" }, 1, f);
		/* (the kernel's test run builds no skb too short for its IP header) */
		for (size_t n = tcm ? 14 + (outer6 ? 40 : 20) : 14; n < fl; n++) {
			run_decap(f, n, &r);
			assert_true(r.reason == LIMPET_DECAP_PASS_BAD || r.reason == LIMPET_DECAP_PASS_OTHER);
			expect_untouched(&r, f, n);
		}
		/* the outer length one more than the frame holds; the inner one short of the outer */
		for (int which = 0; which < 2; which++) {
			unsigned char *l = which ? f + 14 + (outer6 ? 40 : 20) + 2 : f + 14 + (outer6 ? 4 : 2);
			unsigned int was = l[0] << 8 | l[1];

			pb_put16(l, which ? was - 1 : was + 1);
			run_decap(f, fl, &r);
			assert_int_equal(r.reason, LIMPET_DECAP_PASS_BAD);
			expect_untouched(&r, f, fl);
			pb_put16(l, was);
		}
	}
}

/* Each test twice: the XDP program, then mode tc's. */
#define DECAP_BOTH(name)                                                                          \
	void test_decap_##name(void **state)                                                      \
	{                                                                                         \
		(void)state;                                                                      \
		tcm = false;                                                                      \
		decap_##name();                                                                   \
	}                                                                                         \
	void test_decap_tc_##name(void **state)                                                   \
	{                                                                                         \
		(void)state;                                                                      \
		tcm = true;                                                                       \
		decap_##name();                                                                   \
		tcm = false;                                                                      \
	}
DECAP_BOTH(deliver)
DECAP_BOTH(second_chance)
DECAP_BOTH(foreign)
DECAP_BOTH(truncated)
