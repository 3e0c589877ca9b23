// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Decode a frame and verify it from scratch — lengths, structure and checksums, as a receiving
 * stack would — independent of the BPF code, so replay and the packet tests can judge what the
 * datapath wrote.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "liblimpet.h"

/* Where a frame's IP datagram and its L4 part are, while decoding. */
struct dec {
	const unsigned char *l3, *l4, *end; /* end: the datagram's, by its own length field */
	size_t l4len;
	__u32 final_dst[4]; /* IPv6: the pseudo-header's destination (RFC 8200 §8.1) */
};

static __u32 sum16(const unsigned char *p, size_t len, __u32 acc)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (__u32)p[len - 1] << 8;
	return acc;
}

static __u16 fold(__u32 acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (__u16)acc;
}

/* The first thing that does not verify; later findings do not overwrite it. */
static void flag(struct pkt_info *pi, const char *what)
{
	if (!pi->bad)
		pi->bad = what;
}

/* The L4 checksum over the pseudo-header (none for ICMPv4) and the whole L4 part. */
static int l4_sum_ok(const struct pkt_info *pi, const struct dec *d)
{
	unsigned char ph[40];
	size_t n = d->l4len, plen = 0;

	if (pi->family == LIMPET_AF_INET && pi->proto != IPPROTO_ICMP) {
		memcpy(ph, pi->src, 4);
		memcpy(ph + 4, pi->dst, 4);
		ph[8] = 0;
		ph[9] = pi->proto;
		ph[10] = n >> 8;
		ph[11] = n & 0xff;
		plen = 12;
	} else if (pi->family == LIMPET_AF_INET6) {
		memcpy(ph, pi->src, 16);
		memcpy(ph + 16, d->final_dst, 16);
		ph[32] = n >> 24;
		ph[33] = (n >> 16) & 0xff;
		ph[34] = (n >> 8) & 0xff;
		ph[35] = n & 0xff;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = pi->proto;
		plen = 40;
	}
	/* IPv4 UDP may carry no checksum */
	if (pi->proto == IPPROTO_UDP && pi->family == LIMPET_AF_INET && d->l4[6] == 0 &&
	    d->l4[7] == 0)
		return 1;
	return fold(sum16(d->l4, n, sum16(ph, plen, 0))) == 0xffff;
}

static int decode_ip4(const unsigned char *p, const unsigned char *fend, struct pkt_info *pi,
		      struct dec *d)
{
	size_t ihl, tot;
	__u16 fo;

	if (fend - p < 20 || (p[0] >> 4) != 4)
		return -1;
	ihl = (p[0] & 0xf) * 4;
	tot = p[2] << 8 | p[3];
	if (ihl < 20 || (size_t)(fend - p) < ihl)
		return -1;
	pi->ok = 1;
	pi->family = LIMPET_AF_INET;
	pi->proto = p[9];
	pi->ttl = p[8];
	memcpy(pi->src, p + 12, 4);
	memcpy(pi->dst, p + 16, 4);
	pi->l3_csum_ok = fold(sum16(p, ihl, 0)) == 0xffff;
	if (!pi->l3_csum_ok)
		flag(pi, "ipv4 header checksum");
	fo = p[6] << 8 | p[7];
	pi->frag = fo & 0x1fff ? 2 : fo & 0x2000 ? 1 : 0;
	if (tot < ihl || tot > (size_t)(fend - p)) {
		flag(pi, "ipv4 total length");
		return -1;
	}
	d->l4 = p + ihl;
	d->end = p + tot;
	return 0;
}

/* The final destination a Routing header names (type 4: segment 0; others: the last address). */
static void rh_final(const unsigned char *rh, struct dec *d)
{
	size_t n = rh[1] / 2; /* 16-byte addresses after the 8-byte header */

	if (n == 0 || rh[3] == 0)
		return; /* no segments left: the header's destination is the final one */
	memcpy(d->final_dst, rh + 8 + (rh[2] == 4 ? 0 : 16 * (n - 1)), 16);
}

static int decode_ip6(const unsigned char *p, const unsigned char *fend, struct pkt_info *pi,
		      struct dec *d)
{
	const unsigned char *cur = p + 40;
	size_t pl;
	__u8 nh;

	if (fend - p < 40 || (p[0] >> 4) != 6)
		return -1;
	pi->ok = 1;
	pi->family = LIMPET_AF_INET6;
	pi->l3_csum_ok = 1;
	pi->ttl = p[7];
	memcpy(pi->src, p + 8, 16);
	memcpy(pi->dst, p + 24, 16);
	memcpy(d->final_dst, p + 24, 16);
	pl = p[4] << 8 | p[5];
	if (pl + 40 > (size_t)(fend - p)) {
		flag(pi, "ipv6 payload length");
		return -1;
	}
	d->end = p + 40 + pl;
	nh = p[6];
	while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
		if (d->end - cur < 8) {
			flag(pi, "ipv6 extension header past the payload");
			return -1;
		}
		if (nh == 44) {
			__u16 off = cur[2] << 8 | cur[3];

			pi->frag = (off & 0xfff8) ? 2 : (off & 1) ? 1 : 0;
			nh = cur[0];
			cur += 8;
			if (pi->frag == 2)
				break;
			continue;
		}
		if ((size_t)(d->end - cur) < (size_t)(cur[1] + 1) * 8) {
			flag(pi, "ipv6 extension header past the payload");
			return -1;
		}
		if (nh == 43)
			rh_final(cur, d);
		nh = cur[0];
		cur += (cur[1] + 1) * 8;
	}
	pi->proto = nh;
	d->l4 = cur;
	return 0;
}

/* An ICMP error's quote: an IP header of its own family, whole, and (IPv4) a valid checksum. */
static void icmp_quote(struct pkt_info *pi, const struct dec *d)
{
	const unsigned char *q = d->l4 + 8;
	size_t qlen = d->l4len - 8, ihl;
	__u8 t = d->l4[0];

	if (pi->family == LIMPET_AF_INET ? !(t == 3 || t == 4 || t == 5 || t == 11 || t == 12) :
					   !(t >= 1 && t <= 4))
		return; /* not an error: nothing quoted */
	if (pi->family == LIMPET_AF_INET6) {
		if (qlen < 40 || (q[0] >> 4) != 6)
			flag(pi, "icmp quote");
		return;
	}
	ihl = qlen ? (q[0] & 0xf) * 4 : 0;
	if (qlen < 20 || (q[0] >> 4) != 4 || ihl < 20 || ihl > qlen ||
	    fold(sum16(q, ihl, 0)) != 0xffff)
		flag(pi, "icmp quote");
}

/* TCP data offset, UDP length, ICMP's header; then the L4 checksum (not in a fragment).
 * -1: the L4 header does not fit its own lengths.
 */
static int decode_l4(struct pkt_info *pi, const struct dec *d)
{
	const unsigned char *l4 = d->l4;
	size_t n = d->l4len, ulen;

	if ((pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) && n >= 4) {
		pi->sport = l4[0] << 8 | l4[1]; /* shown even when the rest does not verify */
		pi->dport = l4[2] << 8 | l4[3];
	}
	if (pi->proto == IPPROTO_TCP) {
		if (n < 20 || l4[12] >> 4 < 5 || (size_t)(l4[12] >> 4) * 4 > n) {
			flag(pi, "tcp data offset");
			return -1;
		}
	} else if (pi->proto == IPPROTO_UDP) {
		ulen = n >= 8 ? (size_t)(l4[4] << 8 | l4[5]) : 0;
		if (n < 8 || (pi->frag == 1 ? ulen <= n : ulen != n)) {
			flag(pi, "udp length");
			return -1;
		}
	} else if ((pi->proto == IPPROTO_ICMP && pi->family == LIMPET_AF_INET) ||
		   (pi->proto == IPPROTO_ICMPV6 && pi->family == LIMPET_AF_INET6)) {
		if (n < 8) {
			flag(pi, "icmp length");
			return -1;
		}
		if (!pi->frag)
			icmp_quote(pi, d);
	} else {
		return 0; /* other protocols: nothing to verify */
	}
	pi->has_l4 = pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP;
	if (pi->frag)
		return 0;
	pi->l4_csum_ok = l4_sum_ok(pi, d);
	if (!pi->l4_csum_ok)
		flag(pi, pi->proto == IPPROTO_TCP ? "tcp checksum" :
			 pi->proto == IPPROTO_UDP ? "udp checksum" : "icmp checksum");
	return 0;
}

void pkt_decode(const unsigned char *buf, size_t len, struct pkt_info *pi)
{
	const unsigned char *p = buf + 14, *end = buf + len;
	struct dec d = { 0 };
	__u16 et;
	int r;

	memset(pi, 0, sizeof(*pi));
	pi->l4_csum_ok = -1;
	if (len < 14)
		return;
	memcpy(pi->dmac, buf, 6);
	memcpy(pi->smac, buf + 6, 6);
	et = buf[12] << 8 | buf[13];
	if (et == 0x8100 || et == 0x88a8) {
		if (len < 18)
			return;
		pi->vlan = 1;
		et = buf[16] << 8 | buf[17];
		p += 4;
	}
	if (et == 0x0800)
		r = decode_ip4(p, end, pi, &d);
	else if (et == 0x86dd)
		r = decode_ip6(p, end, pi, &d);
	else
		return;
	if (r || !pi->ok)
		return;
	if (d.l4 > d.end) {
		flag(pi, "ip header past the datagram");
		return;
	}
	d.l4len = d.end - d.l4;
	/* a later fragment has no L4 header */
	pi->len_ok = pi->frag == 2 || !decode_l4(pi, &d);
}
