// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Decode a frame and verify its checksums from scratch: independent of the BPF code, so replay
 * and the packet tests can judge what the datapath wrote.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "liblimpet.h"

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

static int l4_check(const struct pkt_info *pi, const unsigned char *l4, size_t l4len)
{
	unsigned char ph[40];
	__u32 acc;
	size_t plen;

	if (pi->family == LIMPET_AF_INET) {
		memcpy(ph, pi->src, 4);
		memcpy(ph + 4, pi->dst, 4);
		ph[8] = 0;
		ph[9] = pi->proto;
		ph[10] = l4len >> 8;
		ph[11] = l4len & 0xff;
		plen = 12;
	} else {
		memcpy(ph, pi->src, 16);
		memcpy(ph + 16, pi->dst, 16);
		ph[32] = l4len >> 24;
		ph[33] = (l4len >> 16) & 0xff;
		ph[34] = (l4len >> 8) & 0xff;
		ph[35] = l4len & 0xff;
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = pi->proto;
		plen = 40;
	}
	/* IPv4 UDP may carry no checksum */
	if (pi->proto == IPPROTO_UDP && pi->family == LIMPET_AF_INET && l4len >= 8 &&
	    l4[6] == 0 && l4[7] == 0)
		return 1;
	acc = sum16(ph, plen, 0);
	acc = sum16(l4, l4len, acc);
	return fold(acc) == 0xffff;
}

void pkt_decode(const unsigned char *buf, size_t len, struct pkt_info *pi)
{
	const unsigned char *p = buf + 14, *end = buf + len, *l4;
	__u16 et;
	size_t l4len;

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
	if (et == 0x0800) {
		size_t ihl, tot;
		__u16 fo;

		if (end - p < 20 || (p[0] >> 4) != 4)
			return;
		ihl = (p[0] & 0xf) * 4;
		tot = p[2] << 8 | p[3];
		if (ihl < 20 || (size_t)(end - p) < ihl)
			return;
		pi->ok = 1;
		pi->family = LIMPET_AF_INET;
		pi->proto = p[9];
		pi->ttl = p[8];
		memcpy(pi->src, p + 12, 4);
		memcpy(pi->dst, p + 16, 4);
		pi->len_ok = tot >= ihl && tot <= (size_t)(end - p);
		pi->l3_csum_ok = fold(sum16(p, ihl, 0)) == 0xffff;
		fo = p[6] << 8 | p[7];
		if (fo & 0x1fff)
			pi->frag = 2;
		else if (fo & 0x2000)
			pi->frag = 1;
		if (!pi->len_ok || pi->frag == 2)
			return;
		l4 = p + ihl;
		l4len = tot - ihl;
	} else if (et == 0x86dd) {
		__u8 nh;
		size_t pl;

		if (end - p < 40 || (p[0] >> 4) != 6)
			return;
		pi->ok = 1;
		pi->family = LIMPET_AF_INET6;
		pi->l3_csum_ok = 1;
		pi->ttl = p[7];
		memcpy(pi->src, p + 8, 16);
		memcpy(pi->dst, p + 24, 16);
		pl = p[4] << 8 | p[5];
		pi->len_ok = pl + 40 <= (size_t)(end - p);
		nh = p[6];
		l4 = p + 40;
		while (pi->len_ok && (nh == 0 || nh == 43 || nh == 60 || nh == 44) && l4 + 8 <= end) {
			if (nh == 44) {
				__u16 off = l4[2] << 8 | l4[3];

				pi->frag = (off & 0xfff8) ? 2 : (off & 1) ? 1 : 0;
				nh = l4[0];
				l4 += 8;
				if (pi->frag == 2)
					break;
			} else {
				nh = l4[0];
				l4 += (l4[1] + 1) * 8;
			}
		}
		pi->proto = nh;
		if (!pi->len_ok || pi->frag == 2 || l4 > p + 40 + pl)
			return;
		l4len = p + 40 + pl - l4;
	} else {
		return;
	}
	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP)
		return;
	if (l4len < (pi->proto == IPPROTO_TCP ? 20u : 8u))
		return;
	pi->has_l4 = 1;
	pi->sport = l4[0] << 8 | l4[1];
	pi->dport = l4[2] << 8 | l4[3];
	if (!pi->frag)
		pi->l4_csum_ok = l4_check(pi, l4, l4len);
}
