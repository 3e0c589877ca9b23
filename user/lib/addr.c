// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Addresses, VIPs and backends as operators write them. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liblimpet.h"

int addr_parse(const char *s, struct l_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = LIMPET_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = LIMPET_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int prefix_parse(const char *s, struct l_addr *addr, __u8 *len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	__u32 v, max;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (slash)
		buf[slash - s] = 0;
	if (addr_parse(buf, addr))
		return -EINVAL;
	max = addr->family == LIMPET_AF_INET ? 32 : 128;
	if (slash && parse_u32(slash + 1, 1, max, &v))
		return -EINVAL;
	*len = slash ? v : max;
	return 0;
}

int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = (__u32)v;
	return 0;
}

/* Split "ADDR:PORT" / "[V6]:PORT" / "ADDR" / "[V6]" / bare V6 into address and port text. */
static int split_endpoint(const char *s, char *host, size_t hlen, const char **port)
{
	const char *colon;

	*port = NULL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || (size_t)(close - s - 1) >= hlen)
			return -EINVAL;
		memcpy(host, s + 1, close - s - 1);
		host[close - s - 1] = 0;
		if (close[1] == ':')
			*port = close + 2;
		else if (close[1])
			return -EINVAL;
		return 0;
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':')) {
		/* more than one colon: a bare IPv6 address without a port */
		if (strlen(s) >= hlen)
			return -EINVAL;
		strcpy(host, s);
		return 0;
	}
	if (colon) {
		if ((size_t)(colon - s) >= hlen)
			return -EINVAL;
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
		*port = colon + 1;
		return 0;
	}
	if (strlen(s) >= hlen)
		return -EINVAL;
	strcpy(host, s);
	return 0;
}

int vip_parse(const char *s, struct vip_key *out, char *err, size_t errlen)
{
	char buf[128], host[INET6_ADDRSTRLEN + 2];
	const char *port, *slash;
	struct l_addr a;
	__u32 p;

	memset(out, 0, sizeof(*out));
	slash = strrchr(s, '/');
	if (!slash || strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "invalid VIP '%s': expected ADDR:PORT/PROTO, e.g. 10.0.0.10:80/tcp", s);
		return -EINVAL;
	}
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	if (!strcmp(slash + 1, "tcp")) {
		out->proto = IPPROTO_TCP;
	} else if (!strcmp(slash + 1, "udp")) {
		out->proto = IPPROTO_UDP;
	} else {
		snprintf(err, errlen, "invalid VIP '%s': protocol must be tcp or udp", s);
		return -EINVAL;
	}
	if (split_endpoint(buf, host, sizeof(host), &port) || !port) {
		snprintf(err, errlen, "invalid VIP '%s': expected ADDR:PORT/PROTO (IPv6: [ADDR]:PORT/PROTO)", s);
		return -EINVAL;
	}
	if (addr_parse(host, &a)) {
		snprintf(err, errlen, "invalid VIP '%s': '%s' is not an IPv4 or IPv6 address", s, host);
		return -EINVAL;
	}
	if (parse_u32(port, 0, 65535, &p)) {
		snprintf(err, errlen, "invalid VIP '%s': port must be 0-65535 (0 = every port)", s);
		return -EINVAL;
	}
	memcpy(out->addr, a.a, 16);
	out->family = a.family;
	out->port = htons((__u16)p);
	return 0;
}

int backend_parse(const char *s, struct l_addr *addr, __u16 *port, bool *has_port, char *err,
		  size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *ptxt;
	__u32 p;

	if (split_endpoint(s, host, sizeof(host), &ptxt) || addr_parse(host, addr)) {
		snprintf(err, errlen, "invalid backend '%s': expected ADDR[:PORT] (IPv6: [ADDR][:PORT])", s);
		return -EINVAL;
	}
	*has_port = ptxt != NULL;
	*port = 0;
	if (ptxt) {
		if (parse_u32(ptxt, 1, 65535, &p)) {
			snprintf(err, errlen, "invalid backend '%s': port must be 1-65535", s);
			return -EINVAL;
		}
		*port = (__u16)p;
	}
	if ((addr->family == LIMPET_AF_INET && (addr->a[0] == 0 || addr->a[0] == 0xffffffff)) ||
	    (addr->family == LIMPET_AF_INET6 && !addr->a[0] && !addr->a[1] && !addr->a[2] &&
	     !addr->a[3])) {
		snprintf(err, errlen, "invalid backend '%s': not a unicast address", s);
		return -EINVAL;
	}
	return 0;
}

const char *addr_str(const __u32 *a, __u8 family, char *buf, size_t len)
{
	if (!inet_ntop(family == LIMPET_AF_INET6 ? AF_INET6 : AF_INET, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *endpoint_str(const __u32 *a, __u8 family, __u16 port, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN];

	addr_str(a, family, h, sizeof(h));
	if (family == LIMPET_AF_INET6)
		snprintf(buf, len, "[%s]:%u", h, port);
	else
		snprintf(buf, len, "%s:%u", h, port);
	return buf;
}

const char *proto_str(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *vip_str(const struct vip_key *k, char *buf, size_t len)
{
	char ep[INET6_ADDRSTRLEN + 10];

	snprintf(buf, len, "%s/%s", endpoint_str(k->addr, k->family, ntohs(k->port), ep, sizeof(ep)),
		 proto_str(k->proto));
	return buf;
}

void prefix_mask(__u8 family, unsigned int len, __u32 mask[4])
{
	unsigned int bits = family == LIMPET_AF_INET ? 32 : 128;
	int i;

	memset(mask, 0, 16);
	if (len > bits)
		len = bits;
	for (i = 0; i < 4 && len; i++) {
		unsigned int n = len >= 32 ? 32 : len;

		mask[i] = htonl(n == 32 ? 0xffffffffu : ~(0xffffffffu >> n));
		len -= n;
	}
}

bool is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return false;
	for (d = 2; (__u64)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}
