/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Build test frames with checksums computed from scratch, independent of the code under test. */
#ifndef LIMPET_PKTBUILD_H
#define LIMPET_PKTBUILD_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

struct pspec {
	int family;            /* 4 or 6 */
	int vlan;              /* 802.1Q tag id, 0 = none */
	unsigned char proto;   /* IPPROTO_TCP / IPPROTO_UDP / other */
	const char *src, *dst;
	unsigned short sport, dport;
	int ip_opts;           /* IPv4 option bytes (multiple of 4) */
	int v6_dstopts;        /* an 8-byte destination-options header */
	int v6_rh;             /* a type-2 routing header (one address, PB_RH_ADDR) with v6_rh - 1
				* segments left; 0 = none */
	int frag;              /* 0 none, 1 first (MF), 2 later (offset 8 words) */
	unsigned int ipid;
	unsigned char ttl;     /* 0 → 64 */
	unsigned char tcp_flags;
	int udp_nocsum;
	const char *payload;
	unsigned int seq, ack;     /* TCP */
	unsigned short window;     /* TCP; 0 → 65535 */
	int window_zero;           /* TCP: a window of 0 (a RST) */
	int df;                    /* IPv4: don't fragment (limpet's own replies set it) */
	const unsigned char *topts; /* TCP options, a multiple of 4 bytes */
	int topts_len;
};

static unsigned int pb_sum(const unsigned char *p, size_t n, unsigned int acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += p[i] << 8 | p[i + 1];
	if (n & 1)
		acc += p[n - 1] << 8;
	return acc;
}

static unsigned short pb_fold(unsigned int acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (unsigned short)~acc;
}

static void pb_put16(unsigned char *p, unsigned int v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

#define PB_RH_ADDR "fc00:99::1" /* the routing header's address: the final destination */

/* Returns the frame length. */
static size_t pkt_build(const struct pspec *s, unsigned char *out)
{
	static const unsigned char dmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const unsigned char smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	unsigned char *p = out, *l3, *l4, ph[40];
	size_t plen = s->payload ? strlen(s->payload) : 0, l4len, hl, phl;
	unsigned char sa[16] = { 0 }, da[16] = { 0 };
	int af = s->family == 6 ? AF_INET6 : AF_INET;
	int has_l4 = s->frag != 2 && (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP);
	unsigned int acc;

	inet_pton(af, s->src, sa);
	inet_pton(af, s->dst, da);
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	p += 12;
	if (s->vlan) {
		pb_put16(p, 0x8100);
		pb_put16(p + 2, s->vlan);
		p += 4;
	}
	pb_put16(p, s->family == 6 ? 0x86dd : 0x0800);
	p += 2;
	l3 = p;
	l4len = has_l4 ? (s->proto == IPPROTO_TCP ? 20 + s->topts_len : 8) + plen : plen ? plen : 8;
	if (s->family == 4) {
		hl = 20 + s->ip_opts;
		memset(l3, 0, hl);
		l3[0] = 0x40 | (hl / 4);
		pb_put16(l3 + 2, hl + l4len);
		pb_put16(l3 + 4, s->ipid & 0xffff);
		pb_put16(l3 + 6, s->frag == 1 ? 0x2000 : s->frag == 2 ? 0x0008 : s->df ? 0x4000 : 0);
		l3[8] = s->ttl ? s->ttl : 64;
		l3[9] = s->proto;
		memcpy(l3 + 12, sa, 4);
		memcpy(l3 + 16, da, 4);
		for (int i = 0; i < s->ip_opts; i++)
			l3[20 + i] = i == s->ip_opts - 1 ? 0 : 1; /* NOPs then EOL */
		pb_put16(l3 + 10, pb_fold(pb_sum(l3, hl, 0)));
	} else {
		size_t ext = (s->v6_dstopts ? 8 : 0) + (s->frag ? 8 : 0) + (s->v6_rh ? 24 : 0);
		unsigned char *e = l3 + 40 + (s->v6_rh ? 24 : 0), nh = s->proto;

		hl = 40 + ext;
		memset(l3, 0, hl);
		l3[0] = 0x60;
		pb_put16(l3 + 4, ext + l4len);
		l3[7] = s->ttl ? s->ttl : 64;
		memcpy(l3 + 8, sa, 16);
		memcpy(l3 + 24, da, 16);
		if (s->frag) {
			unsigned char *f = l3 + 40 + (s->v6_rh ? 24 : 0) + (s->v6_dstopts ? 8 : 0);

			f[0] = nh;
			pb_put16(f + 2, s->frag == 1 ? 1 : 8 << 3);
			f[4] = s->ipid >> 24;
			f[5] = s->ipid >> 16;
			f[6] = s->ipid >> 8;
			f[7] = s->ipid;
			nh = 44;
		}
		if (s->v6_dstopts) {
			e[0] = nh;
			e[1] = 0;
			e[2] = 1; /* PadN */
			e[3] = 4;
			nh = 60;
		}
		if (s->v6_rh) {
			unsigned char *rh = l3 + 40;

			rh[0] = nh;
			rh[1] = 2; /* 24 bytes */
			rh[2] = 2; /* type 2 */
			rh[3] = s->v6_rh - 1;
			inet_pton(AF_INET6, PB_RH_ADDR, rh + 8);
			if (s->v6_rh > 1) /* L4 checksums cover the final destination (RFC 8200 §8.1) */
				inet_pton(AF_INET6, PB_RH_ADDR, da);
			nh = 43;
		}
		l3[6] = nh;
	}
	l4 = l3 + hl;
	memset(l4, 0, l4len);
	if (!has_l4) {
		if (plen)
			memcpy(l4, s->payload, plen);
		return l4 + l4len - out;
	}
	pb_put16(l4, s->sport);
	pb_put16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		l4[4] = s->seq >> 24;
		l4[5] = s->seq >> 16;
		l4[6] = s->seq >> 8;
		l4[7] = s->seq;
		l4[8] = s->ack >> 24;
		l4[9] = s->ack >> 16;
		l4[10] = s->ack >> 8;
		l4[11] = s->ack;
		l4[12] = ((20 + s->topts_len) / 4) << 4;
		l4[13] = s->tcp_flags ? s->tcp_flags : 0x18;
		pb_put16(l4 + 14, s->window_zero ? 0 : s->window ? s->window : 65535);
		if (s->topts_len)
			memcpy(l4 + 20, s->topts, s->topts_len);
		memcpy(l4 + 20 + s->topts_len, s->payload ? s->payload : "", plen);
	} else {
		/* a first fragment's UDP length is the whole datagram's: more follows */
		pb_put16(l4 + 4, s->frag == 1 ? l4len + 64 : l4len);
		memcpy(l4 + 8, s->payload ? s->payload : "", plen);
	}
	if (s->family == 4) {
		memcpy(ph, sa, 4);
		memcpy(ph + 4, da, 4);
		ph[8] = 0;
		ph[9] = s->proto;
		pb_put16(ph + 10, l4len);
		phl = 12;
	} else {
		memcpy(ph, sa, 16);
		memcpy(ph + 16, da, 16);
		memset(ph + 32, 0, 8);
		pb_put16(ph + 34, l4len);
		ph[39] = s->proto;
		phl = 40;
	}
	if (s->frag == 1) /* a first fragment's checksum covers the whole datagram: fake one */
		acc = pb_sum(ph, phl, 0x1234);
	else
		acc = pb_sum(ph, phl, 0);
	acc = pb_sum(l4, l4len, acc);
	if (!(s->proto == IPPROTO_UDP && s->udp_nocsum)) {
		unsigned short c = pb_fold(acc);

		if (s->proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		pb_put16(l4 + (s->proto == IPPROTO_TCP ? 16 : 6), c);
	}
	return l4 + l4len - out;
}

#endif
