/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The packet tests' harness: the loaded objects, the test VIPs, running a frame through the
 * XDP or TC program, and what a result must look like. Shared by tests/bpf/t_*.c.
 */
#ifndef LIMPET_TEST_HARNESS_H
#define LIMPET_TEST_HARNESS_H

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

extern struct limpet_xdp *skel;
extern struct limpet_tc *tcskel;
extern struct inst in;
extern int prog_fd, tc_fd;
extern char err[LIMPET_ERR_LEN];

#define VIP4T "10.200.0.1:80/tcp"
#define VIP4U "10.200.0.1:53/udp"
#define VIP6T "[fc00:200::1]:80/tcp"
#define VIP6U "[fc00:200::1]:53/udp"
#define VIP4ANY "10.200.0.2:0/tcp"
#define VIP4EMPTY "10.200.0.3:80/tcp"
#define VIP4P24 "10.200.0.4:80/tcp"
#define VIP4TOKU "10.200.0.5:4000/udp"
#define TEST_HALFOPEN 2048 /* halfopen is small here, so a flood test can overrun it */

/* What one run of a program did: verdict, its one reason, the output frame. */
struct result {
	int action;
	int reason;
	unsigned char out[4096];
	__u32 len;
};

/* The TCP header of an output frame, decoded (tcp_seen). */
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

void must(int ret);
int fresh(void **state); /* no connection state: flows, affinities, fragments, held segments */
void vip(const char *spec, __u8 policy, int prefix);
void backend(const char *vspec, const char *be);
/* limpet's ipip frame from scratch: Ethernet dmac ← smac (a VLAN tag of in_pkt kept), one outer
 * header per dst (outermost first; v6: IPv6 ones, the label left 0) from src, then in_pkt's IP
 * datagram (at l2) unchanged. Its length. (t_dsr.c)
 */
size_t ipip_frame(const unsigned char *in_pkt, size_t in_len, size_t l2, int v6, const char *src,
		  const char *const *dst, int n, const unsigned char *dmac, const unsigned char *smac,
		  unsigned char *out);
/* An ICMP fragmentation-needed frame from src to dst quoting the IPv4 packet quoted. (t_icmp.c) */
size_t icmp_error_frame(const char *src, const char *dst, const struct pspec *quoted,
			unsigned char *out);
/* Run a frame through program fd whose reasons (nreasons of them) are counted in reasons_fd. */
void run_prog(int fd, int reasons_fd, int nreasons, const unsigned char *pkt, size_t len,
	      struct result *r, unsigned int ifindex);
void run_if(const unsigned char *pkt, size_t len, struct result *r, unsigned int ifindex);
void run(const unsigned char *pkt, size_t len, struct result *r);
void expect_frame(const struct result *r, const struct pspec *want);
void expect_unchanged(const struct result *r, const unsigned char *in_pkt, size_t len);
void out_dst(const struct result *r, char *addr, size_t alen, unsigned short *port);
int in_set(const char *a, const char *const *set);
__u64 table_count(int fd);
__u64 flow_count(void);
void establish(const char *src, const char *dst, unsigned short sport, unsigned short dport,
	       char *be, size_t blen, unsigned short *bport);
void backend_of_pkt(const struct pspec *s, char *out, size_t olen);
void backend_of(const char *src, const char *dst, unsigned short sport, unsigned short dport,
		char *out, size_t olen);
__u8 flow_fin(const struct pspec *c);
unsigned int rd32(const unsigned char *p);
void tcp_seen(const struct result *r, struct tcp_seen *t);
void run_tc(const unsigned char *pkt, size_t len, struct result *r);
__u64 event(int e);
void expect_valid(const struct result *r);

/* the tests, by file */
void test_nat_v4_tcp(void **state);
void test_nat_v4_udp(void **state);
void test_nat_v6_tcp(void **state);
void test_nat_v6_udp(void **state);
void test_vlan_options_ext(void **state);
void test_not_ours(void **state);
void test_vip_filter(void **state);
void test_truncation(void **state);
void test_bad_headers(void **state);
void test_fragments(void **state);
void test_ttl_and_drop(void **state);
void test_port0_vip(void **state);
void test_fib_forward(void **state);
void test_dsr_ipip4(void **state);
void test_dsr_encap_source(void **state);
void test_dsr_ipip6(void **state);
void test_dsr_l2(void **state);
void test_dsr_mtu(void **state);
void test_dsr_established(void **state);
void test_dsr_4in6(void **state);
void test_dsr_icmp(void **state);
void test_decap_deliver(void **state);
void test_decap_second_chance(void **state);
void test_decap_foreign(void **state);
void test_decap_truncated(void **state);
void test_decap_tc_deliver(void **state);
void test_decap_tc_second_chance(void **state);
void test_decap_tc_foreign(void **state);
void test_decap_tc_truncated(void **state);
void test_dsr_fragments(void **state);
void test_dsr_flow_state(void **state);
void test_dsr_second_chance(void **state);
void test_dsr_second_chance_batch(void **state);
void test_dsr_second_chance_edit(void **state);
void test_backends_edit_full(void **state);
void test_dsr_second_chance_drained(void **state);
void test_dsr_second_chance_replace(void **state);
void test_close_tracking(void **state);
void test_stickiness_and_prefix(void **state);
void test_affinity_table(void **state);
void test_drain_and_delete(void **state);
void test_established_survives_churn(void **state);
void test_udp_established(void **state);
void test_udp_token(void **state);
void test_token_synack(void **state);
void test_token_synack_v6(void **state);
void test_token_bad_cookie(void **state);
void test_token_bad_segment(void **state);
void test_token_binding(void **state);
void test_token_backend_rst(void **state);
void test_tail_call_missed(void **state);
void test_token_bad_syn(void **state);
void test_icmp_errors(void **state);
void test_icmp6_errors(void **state);
void test_lengths_v4(void **state);
void test_lengths_v6(void **state);
void test_ethernet_padding(void **state);
void test_ipv6_routing_header(void **state);
void test_on_down_reset(void **state);
void test_slowstart_table(void **state);
void test_health_batch(void **state);
void test_table_counts(void **state);
void test_counters_summed(void **state);
void test_ramp_batch(void **state);
void test_table_old_template(void **state);

#endif
