// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Announcing VIPs (docs/design.md §5.5): each VIP address with a backend that can take clients
 * is an address on the announce device, for the host's routing daemon (BIRD, FRR) to export;
 * limpet owns the addresses it added there by their address protocol, and only those.
 */
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "liblimpet.h"

#define ERR(...) (err ? (void)snprintf(err, errlen, __VA_ARGS__) : (void)0)

static bool set_has(const struct announce_set *s, const __u32 *a, __u8 family)
{
	for (int i = 0; i < s->n; i++)
		if (s->a[i].family == family && !memcmp(s->a[i].a, a, 16))
			return true;
	return false;
}

static void set_add(struct announce_set *s, const __u32 *a, __u8 family)
{
	if (set_has(s, a, family) || s->n >= LIMPET_MAX_VIPS)
		return;
	memcpy(s->a[s->n].a, a, 16);
	s->a[s->n++].family = family;
}

int announce_wanted(struct inst *in, struct announce_set *want)
{
	static struct backend bes[LIMPET_MAX_BACKENDS];
	static __u32 keys[LIMPET_MAX_BACKENDS];
	static struct vip_set vips;
	bool vip_serves[LIMPET_MAX_VIPS] = { false };
	int ret;

	want->n = 0;
	ret = vips_read(in, &vips);
	if (!ret)
		ret = array_read(in->fd[IM_BACKENDS], LIMPET_MAX_BACKENDS, keys, bes);
	if (ret)
		return ret;
	for (int i = 0; i < LIMPET_MAX_BACKENDS; i++)
		if (backend_takes_clients(&bes[i]) && bes[i].vip_id < LIMPET_MAX_VIPS)
			vip_serves[bes[i].vip_id] = true;
	for (int v = 0; v < vips.n; v++)
		if (vips.v[v].m.vip_id < LIMPET_MAX_VIPS && vip_serves[vips.v[v].m.vip_id])
			set_add(want, vips.v[v].k.addr, vips.v[v].k.family);
	return 0;
}

static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	__u32 seq = nlh->nlmsg_seq, port = mnl_socket_get_portid(nl);
	int n, ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, seq, port, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

struct dump_ctx {
	int ifindex;                 /* 0: every device */
	struct announce_set *have; /* addresses with limpet's protocol */
	struct announce_set *any;  /* every address */
};

static int addr_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, IFA_MAX) >= 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int addr_one(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = {};
	struct dump_ctx *d = data;
	__u32 a[4] = {};
	__u8 fam = ifa->ifa_family == AF_INET ? LIMPET_AF_INET : LIMPET_AF_INET6;

	if (d->ifindex && (int)ifa->ifa_index != d->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr, tb);
	if (!tb[IFA_LOCAL] && !tb[IFA_ADDRESS])
		return MNL_CB_OK;
	memcpy(a, mnl_attr_get_payload(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]),
	       ifa->ifa_family == AF_INET ? 4 : 16);
	set_add(d->any, a, fam);
	if (tb[IFA_PROTO] && mnl_attr_get_u8(tb[IFA_PROTO]) == LIMPET_IFA_PROTO)
		set_add(d->have, a, fam);
	return MNL_CB_OK;
}

static int addr_dump(struct mnl_socket *nl, struct dump_ctx *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return nl_talk(nl, nlh, addr_one, d);
}

static int addr_change(struct mnl_socket *nl, int ifindex, const __u32 *a, __u8 family, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	int alen = family == LIMPET_AF_INET ? 4 : 16;

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family == LIMPET_AF_INET ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = alen * 8;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a);
	if (add) {
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
		mnl_attr_put_u8(nlh, IFA_PROTO, LIMPET_IFA_PROTO);
	}
	return nl_talk(nl, nlh, NULL, NULL);
}

/* One change: logged as "announce ADDR on DEV" / "withdraw ADDR from DEV"; 0 or -errno. */
static int announce_one(struct mnl_socket *nl, const char *dev, int ifindex, const __u32 *a,
			__u8 family, bool add, announce_log_fn log, void *ctx, char *err,
			size_t errlen)
{
	char as[INET6_ADDRSTRLEN + 1], line[128];
	int ret = addr_change(nl, ifindex, a, family, add);

	addr_str(a, family, as, sizeof(as));
	if (ret) {
		ERR("%s %s on %s: %s", add ? "announce" : "withdraw", as, dev, strerror(-ret));
		return ret;
	}
	snprintf(line, sizeof(line), "%s %s %s %s", add ? "announce" : "withdraw", as,
		 add ? "on" : "from", dev);
	if (log)
		log(ctx, line);
	return 0;
}

static int vip_addr_add(const void *key, const void *val, void *ctx)
{
	const struct vip_key *k = key;

	(void)val;
	set_add(ctx, k->addr, k->family);
	return 0;
}

int announce_of_pins(const char *dir, struct announce_set *vips)
{
	char path[PATH_MAX];
	int fd, ret;

	vips->n = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, inst_map_names[IM_VIPS]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = map_scan(fd, sizeof(struct vip_key), sizeof(struct vip_meta), vip_addr_add, vips);
	close(fd);
	return ret;
}

/* A netlink socket for address changes, or NULL with *ret = -errno and err filled (what: the
 * caller's job).
 */
static struct mnl_socket *nl_open(const char *what, int *ret, char *err, size_t errlen)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		*ret = -errno;
		ERR("%s: netlink: %s", what, strerror(-*ret));
		if (nl)
			mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

int announce_present(struct announce_set *have, char *err, size_t errlen)
{
	static struct announce_set any;
	struct dump_ctx d = { .have = have, .any = &any };
	struct mnl_socket *nl;
	int ret = 0;

	have->n = any.n = 0;
	nl = nl_open("announced addresses", &ret, err, errlen);
	if (!nl)
		return ret;
	ret = addr_dump(nl, &d);
	if (ret)
		ERR("announced addresses: reading them: %s", strerror(-ret));
	mnl_socket_close(nl);
	return ret;
}

int announce_withdraw(const struct announce_set *vips, announce_log_fn log, void *ctx, char *err,
		      size_t errlen)
{
	static struct announce_set have, any;
	struct if_nameindex *ifs, *i;
	struct mnl_socket *nl;
	int ret = 0, one;

	nl = nl_open("withdraw announcements", &ret, err, errlen);
	if (!nl)
		return ret;
	ifs = if_nameindex();
	if (!ifs) {
		ret = -errno;
		ERR("withdraw announcements: listing devices: %s", strerror(-ret));
		mnl_socket_close(nl);
		return ret;
	}
	/* device by device: every change is tried; the first failure is the one reported */
	for (i = ifs; i->if_index; i++) {
		struct dump_ctx d = { .ifindex = i->if_index, .have = &have, .any = &any };

		have.n = any.n = 0;
		one = addr_dump(nl, &d);
		if (one && !ret)
			ERR("withdraw announcements: reading %s's addresses: %s", i->if_name,
			    strerror(-one));
		ret = ret ?: one;
		for (int j = 0; !one && j < have.n; j++) {
			int e;

			if (!set_has(vips, have.a[j].a, have.a[j].family))
				continue;
			e = announce_one(nl, i->if_name, d.ifindex, have.a[j].a, have.a[j].family,
					 false, log, ctx, ret ? NULL : err, errlen);
			ret = ret ?: e;
		}
	}
	mnl_socket_close(nl);
	if_freenameindex(ifs);
	return ret;
}

int announce_apply(const char *dev, const struct announce_set *want, announce_log_fn log,
		   void *ctx, char *err, size_t errlen)
{
	static struct announce_set have, any;
	struct dump_ctx d = { .have = &have, .any = &any };
	struct mnl_socket *nl;
	int ret, r = 0, one;

	have.n = any.n = 0;
	d.ifindex = if_nametoindex(dev);
	if (!d.ifindex) {
		ERR("announce dev %s: no such device; name one that exists (lo, or a dummy device)",
		    dev);
		return -ENODEV;
	}
	nl = nl_open("announce", &ret, err, errlen);
	if (!nl)
		return ret;
	ret = addr_dump(nl, &d);
	if (ret)
		ERR("announce dev %s: reading its addresses: %s", dev, strerror(-ret));
	/* every change is tried; the first failure is the one reported */
	for (int i = 0; !ret && i < have.n; i++)
		if (!set_has(want, have.a[i].a, have.a[i].family))
			one = announce_one(nl, dev, d.ifindex, have.a[i].a, have.a[i].family, false,
					   log, ctx, r ? NULL : err, errlen), r = r ?: one;
	for (int i = 0; !ret && i < want->n; i++)
		if (!set_has(&any, want->a[i].a, want->a[i].family))
			one = announce_one(nl, dev, d.ifindex, want->a[i].a, want->a[i].family, true,
					   log, ctx, r ? NULL : err, errlen), r = r ?: one;
	mnl_socket_close(nl);
	return ret ?: r;
}
