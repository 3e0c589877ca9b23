// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Packet tests of session tokens: UDP tokens, SYN cookies, the delayed-binding steps, a missed
 * tail call.
 */
#include "harness.h"

static void udp_token_backend(const char *src, unsigned short sport, const char *payload,
			      char *out, size_t olen)
{
	struct pspec s = { .family = 4, .proto = IPPROTO_UDP, .src = src, .dst = "10.200.0.5",
			   .sport = sport, .dport = 4000, .payload = payload };

	backend_of_pkt(&s, out, olen);
}

void test_udp_token(void **state)
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

#define OPT_ALL { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 1, 3, 3, 9 }

/* SYN → SYN-ACK from XDP: a cookie, the client's options answered only if offered. */
void test_token_synack(void **state)
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

/* A SYN the kernel would drop costs no cookie: bad TCP or IPv4 checksum, an IP length that leaves
 * no room for the TCP header, bad data in a Fast Open SYN; over IPv6 too. Good ones, with data
 * too, are answered.
 */
void test_token_bad_syn(void **state)
{
	struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.212",
			     .dst = "10.200.0.6", .sport = 6100, .dport = 80, .tcp_flags = 0x02,
			     .seq = 77 };
	unsigned char pkt[512];
	struct result r;
	size_t len;
	__u64 sent = event(LIMPET_EV_SYNACK_SENT);

	len = pkt_build(&syn, pkt);
	pkt[14 + 20 + 16] ^= 0x40; /* TCP checksum */
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_DROP_BAD_SYN);
	assert_int_equal(r.action, XDP_DROP);
	len = pkt_build(&syn, pkt);
	pkt[14 + 10] ^= 0x40; /* IPv4 header checksum */
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_DROP_BAD_SYN);
	len = pkt_build(&syn, pkt);
	pkt[14 + 2] = 0, pkt[14 + 3] = 20; /* total length 20: no TCP header in the datagram */
	pkt[14 + 10] = pkt[14 + 11] = 0;
	{
		unsigned int s = 0;

		for (int i = 0; i < 20; i += 2)
			s += pkt[14 + i] << 8 | pkt[14 + i + 1];
		s = (s & 0xffff) + (s >> 16);
		s = ~((s & 0xffff) + (s >> 16)) & 0xffff;
		pkt[14 + 10] = s >> 8, pkt[14 + 11] = s; /* a valid IP header, a lying length */
	}
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_PASS_BAD_L4); /* the parse: no TCP header in it */
	assert_int_equal(r.len, len);
	assert_memory_equal(r.out, pkt, len);
	/* Fast Open: data in the SYN, checked too */
	syn.payload = "GET /?sid=tfo HTTP/1.1\r\n\r\n";
	len = pkt_build(&syn, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_SYNACK);
	pkt[len - 3] ^= 1;
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_DROP_BAD_SYN);
	/* IPv6 */
	syn = (struct pspec){ .family = 6, .proto = IPPROTO_TCP, .src = "2001:db8::212",
			      .dst = "fc00:200::6", .sport = 6101, .dport = 80, .tcp_flags = 0x02,
			      .seq = 77 };
	len = pkt_build(&syn, pkt);
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_SYNACK);
	pkt[14 + 40 + 16] ^= 0x40;
	run(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_R_DROP_BAD_SYN);
	/* only the two good SYNs were answered, and only they count as sent */
	assert_int_equal(event(LIMPET_EV_SYNACK_SENT), sent + 2);
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
void test_token_synack_v6(void **state)
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

void test_token_bad_cookie(void **state)
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

/* A first segment whose payload or IPv4 header was corrupted on the way: rebuilt into the
 * backend SYN it would get a valid checksum, so it is dropped (the client resends it).
 */
void test_token_bad_segment(void **state)
{
	unsigned char pkt[512];
	struct handshake h;
	struct result r;
	__u64 flows;
	size_t len;

	token_syn(7050, &h);
	flows = flow_count();
	len = first_segment(7050, &h, 0, "GET /?sid=corrupt HTTP/1.1\r\n\r\n", pkt);
	pkt[len - 3] ^= 0x20; /* a payload byte: the TCP checksum no longer holds */
	run_tc(pkt, len, &r);
	assert_int_equal(r.action, 2 /* TC_ACT_SHOT */);
	assert_int_equal(r.reason, LIMPET_TC_DROP_BAD_CSUM);
	assert_int_equal(flow_count(), flows);
	pkt[len - 3] ^= 0x20;
	pkt[14 + 10] ^= 0x01; /* the IPv4 header checksum */
	run_tc(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_TC_DROP_BAD_CSUM);
	assert_int_equal(flow_count(), flows);
	/* intact, the same segment binds */
	pkt[14 + 10] ^= 0x01;
	run_tc(pkt, len, &r);
	assert_int_equal(r.reason, LIMPET_TC_BIND_SYN);
	(void)state;
}

/* first segment → backend SYN; backend SYN-ACK → the held segment; then both directions */
void test_token_binding(void **state)
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

void test_token_backend_rst(void **state)
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

/* A SYN to a token VIP whose responder cannot be tail-called: dropped with a reason of its own. */
void test_tail_call_missed(void **state)
{
	struct pspec syn = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.152",
			     .dst = "10.200.0.6", .sport = 7400, .dport = 80, .tcp_flags = 0x02 };
	int jump = bpf_map__fd(skel->maps.limpet_jump), fd;
	unsigned char pkt[512];
	struct result r;
	__u32 k = LIMPET_JUMP_SYNPROXY4;

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
