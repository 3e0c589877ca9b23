// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The backend-side decapsulator: attaching it, its VIPs and counters (docs/design.md §4.4). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "liblimpet.h"
#include "limpet_decap.skel.h"

static void decap_dir(const char *inst, char *dir, size_t len)
{
	snprintf(dir, len, "%s/%s", LIMPET_DECAP_PIN_ROOT, inst);
}

static int decap_map(const char *inst, const char *map, char *err, size_t errlen)
{
	char dir[200], path[256];
	int fd;

	decap_dir(inst, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, map);
	fd = bpf_obj_get(path);
	if (fd < 0)
		snprintf(err, errlen, "decap instance %s: %s; attach it first (limpet decap attach dev IF)",
			 inst, strerror(errno));
	return fd < 0 ? -ENOENT : fd;
}

/* Load the program with its maps pinned (or reused) in the instance's directory, and attach
 * it to ifname, replacing only a decapsulator.
 */
int decap_attach(const char *inst, const char *ifname, __u32 mode, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	unsigned int ifindex = if_nametoindex(ifname);
	struct limpet_decap *skel = NULL;
	__u32 old_mode, old_id;
	char dir[200], name[64];
	int ret;

	if (!ifindex) {
		snprintf(err, errlen, "decap attach: no device '%s'", ifname);
		return -ENODEV;
	}
	old_id = xdp_attached_id(ifindex, &old_mode);
	if (old_id && (prog_name_of(old_id, name, sizeof(name)) ||
		       strcmp(name, LIMPET_STR(LIMPET_DECAP_PROG_NAME)))) {
		snprintf(err, errlen, "decap attach %s: the device runs another XDP program (%s, id %u); "
			 "detach it first", ifname, name, old_id);
		return -EBUSY;
	}
	decap_dir(inst, dir, sizeof(dir));
	mkdir(LIMPET_DECAP_PIN_ROOT, 0700);
	mkdir(dir, 0700);
	oo.pin_root_path = dir;
	skel = limpet_decap__open_opts(&oo);
	ret = skel ? limpet_decap__load(skel) : -errno;
	if (ret) {
		snprintf(err, errlen, "decap attach %s: loading the program: %s", ifname, strerror(-ret));
		goto out;
	}
	if (old_id && old_mode != mode)
		bpf_xdp_detach(ifindex, xdp_flags_of(old_mode), NULL);
	/* the TC step first: an XDP step alone would leave unresolved hand-ons to the kernel */
	ret = tc_filter_set(ifindex, bpf_program__fd(skel->progs.LIMPET_DECAP_TC_NAME),
			    LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	if (ret) {
		snprintf(err, errlen, "decap attach %s: its TC step: %s", ifname, strerror(-ret));
		goto out;
	}
	ret = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.LIMPET_DECAP_PROG_NAME),
			     xdp_flags_of(mode), NULL);
	if (ret) {
		snprintf(err, errlen, "decap attach %s: %s%s", ifname, strerror(-ret),
			 mode == LIMPET_XDP_NATIVE ? "; try mode skb" : "");
		if (!old_id)
			tc_filter_del(ifindex, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	}
out:
	limpet_decap__destroy(skel);
	return ret;
}

int decap_detach(const char *inst, const char *ifname, char *err, size_t errlen)
{
	unsigned int ifindex = if_nametoindex(ifname);
	__u32 mode, id;
	char name[64];
	int ret;

	(void)inst;
	if (!ifindex) {
		snprintf(err, errlen, "decap detach: no device '%s'", ifname);
		return -ENODEV;
	}
	id = xdp_attached_id(ifindex, &mode);
	if (!id || prog_name_of(id, name, sizeof(name)) ||
	    strcmp(name, LIMPET_STR(LIMPET_DECAP_PROG_NAME))) {
		snprintf(err, errlen, "decap detach %s: no decapsulator attached there", ifname);
		return -ENOENT;
	}
	ret = bpf_xdp_detach(ifindex, xdp_flags_of(mode), NULL);
	if (ret)
		snprintf(err, errlen, "decap detach %s: %s", ifname, strerror(-ret));
	else
		tc_filter_del(ifindex, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	return ret;
}

int decap_vip_set(const char *inst, const char *addr, bool add, char *err, size_t errlen)
{
	struct decap_key k = {};
	struct l_addr a;
	__u32 one = 1;
	int fd, ret = 0;

	if (addr_parse(addr, &a)) {
		snprintf(err, errlen, "decap vip %s: '%s' is not an IPv4 or IPv6 address",
			 add ? "add" : "del", addr);
		return -EINVAL;
	}
	fd = decap_map(inst, LIMPET_STR(MAP_NAME_DECAP_VIPS), err, errlen);
	if (fd < 0)
		return fd;
	memcpy(k.addr, a.a, 16);
	k.family = a.family;
	if (add ? bpf_map_update_elem(fd, &k, &one, BPF_ANY) : bpf_map_delete_elem(fd, &k)) {
		ret = -errno;
		snprintf(err, errlen, "decap vip %s %s: %s", add ? "add" : "del", addr,
			 ret == -ENOENT ? "not a VIP of this decapsulator" : strerror(-ret));
	}
	close(fd);
	return ret;
}

struct vip_collect {
	struct l_addr *v;
	int n, max;
};

static int vip_one(const void *key, const void *val, void *ctx)
{
	const struct decap_key *k = key;
	struct vip_collect *c = ctx;

	(void)val;
	if (c->n >= c->max)
		return 0;
	memcpy(c->v[c->n].a, k->addr, 16);
	c->v[c->n++].family = k->family;
	return 0;
}

int decap_read(const char *inst, struct l_addr *vips, int max, int *n, __u64 *counters, char *err,
	       size_t errlen)
{
	struct vip_collect c = { vips, 0, max };
	int vfd, rfd, ret;

	vfd = decap_map(inst, LIMPET_STR(MAP_NAME_DECAP_VIPS), err, errlen);
	if (vfd < 0)
		return vfd;
	rfd = decap_map(inst, LIMPET_STR(MAP_NAME_DECAP_REASONS), err, errlen);
	ret = rfd < 0 ? rfd : map_scan(vfd, sizeof(struct decap_key), sizeof(__u32), vip_one, &c);
	if (!ret)
		ret = counters_sum(rfd, LIMPET_DECAP_MAX, counters);
	if (ret && rfd >= 0)
		snprintf(err, errlen, "decap instance %s: reading its maps: %s", inst, strerror(-ret));
	*n = c.n;
	close(vfd);
	if (rfd >= 0)
		close(rfd);
	return ret;
}
