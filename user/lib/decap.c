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

/* Which of the decapsulator's programs a device runs: XDP (its id in *xdp) and at TC ingress
 * (its id in *tc, the step or mode tc's whole program; tcm says which).
 */
static void decap_progs(unsigned int ifindex, __u32 *xdp, __u32 *xmode, __u32 *tc, bool *tcm)
{
	char name[64];

	*xdp = xdp_attached_id(ifindex, xmode);
	if (*xdp && (prog_name_of(*xdp, name, sizeof(name)) ||
		     strcmp(name, LIMPET_STR(LIMPET_DECAP_PROG_NAME))))
		*xdp = 0;
	*tc = tc_filter_prog(ifindex, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	*tcm = *tc && !prog_name_of(*tc, name, sizeof(name)) &&
	       !strcmp(name, LIMPET_STR(LIMPET_DECAP_TCM_NAME));
}

/* mode tc: the whole program at TC ingress, then an XDP decapsulator there goes. */
static int decap_attach_tc(unsigned int ifindex, struct limpet_decap *skel, __u32 old_id,
			   __u32 old_mode)
{
	int ret = tc_filter_set(ifindex, bpf_program__fd(skel->progs.LIMPET_DECAP_TCM_NAME),
				LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);

	if (!ret && old_id)
		ret = bpf_xdp_detach(ifindex, xdp_flags_of(old_mode), NULL);
	return ret;
}

/* XDP modes: the XDP program and its TC step, ordered so that something unwraps all along
 * (from mode tc: XDP first; else the TC step first, so no hand-on is left to the kernel).
 */
static int decap_attach_xdp(unsigned int ifindex, struct limpet_decap *skel, __u32 mode,
			    __u32 old_id, __u32 old_mode, bool from_tcm)
{
	int step = bpf_program__fd(skel->progs.LIMPET_DECAP_TC_NAME), ret = 0;

	if (old_id && old_mode != mode)
		bpf_xdp_detach(ifindex, xdp_flags_of(old_mode), NULL);
	if (!from_tcm)
		ret = tc_filter_set(ifindex, step, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	if (!ret)
		ret = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.LIMPET_DECAP_PROG_NAME),
				     xdp_flags_of(mode), NULL);
	if (!ret && from_tcm)
		ret = tc_filter_set(ifindex, step, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	return ret;
}

/* Load the program with its maps pinned (or reused) in the instance's directory, and attach
 * it to ifname, replacing only a decapsulator.
 */
int decap_attach(const char *inst, const char *ifname, __u32 mode, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	unsigned int ifindex = if_nametoindex(ifname);
	struct limpet_decap *skel = NULL;
	__u32 old_mode = 0, old_id, any_id, any_mode, tc_id;
	char dir[200], name[64] = "";
	bool tcm;
	int ret;

	if (!ifindex) {
		snprintf(err, errlen, "decap attach: no device '%s'", ifname);
		return -ENODEV;
	}
	decap_progs(ifindex, &old_id, &old_mode, &tc_id, &tcm);
	any_id = xdp_attached_id(ifindex, &any_mode);
	if (mode != LIMPET_DECAP_MODE_TC && any_id && !old_id) {
		prog_name_of(any_id, name, sizeof(name));
		snprintf(err, errlen, "decap attach %s: the device runs another XDP program (%s, id %u); "
			 "detach it first, or attach with mode tc", ifname, name, any_id);
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
	if (mode == LIMPET_DECAP_MODE_TC)
		ret = decap_attach_tc(ifindex, skel, old_id, old_mode);
	else
		ret = decap_attach_xdp(ifindex, skel, mode, old_id, old_mode, tcm);
	if (ret) {
		snprintf(err, errlen, "decap attach %s: %s%s", ifname, strerror(-ret),
			 mode == LIMPET_XDP_NATIVE ? "; try mode skb (or tc)" : "");
		if (!old_id && !tc_id)
			tc_filter_del(ifindex, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	}
out:
	limpet_decap__destroy(skel);
	return ret;
}

int decap_detach(const char *inst, const char *ifname, char *err, size_t errlen)
{
	unsigned int ifindex = if_nametoindex(ifname);
	__u32 mode = 0, xdp, tc;
	bool tcm;
	int ret = 0;

	(void)inst;
	if (!ifindex) {
		snprintf(err, errlen, "decap detach: no device '%s'", ifname);
		return -ENODEV;
	}
	decap_progs(ifindex, &xdp, &mode, &tc, &tcm);
	if (!xdp && !tcm) {
		snprintf(err, errlen, "decap detach %s: no decapsulator attached there", ifname);
		return -ENOENT;
	}
	if (xdp)
		ret = bpf_xdp_detach(ifindex, xdp_flags_of(mode), NULL);
	if (ret)
		snprintf(err, errlen, "decap detach %s: %s", ifname, strerror(-ret));
	else
		tc_filter_del(ifindex, LIMPET_DECAP_TC_HANDLE, LIMPET_DECAP_TC_PRIO);
	return ret;
}

/* Whether program prog_id uses map map_id. */
static bool prog_uses_map(__u32 prog_id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[16];
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool uses = false;

	if (fd < 0)
		return false;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
			uses |= ids[i] == map_id;
	close(fd);
	return uses;
}

int decap_devices(const char *inst, struct decap_dev *d, int max, char *err, size_t errlen)
{
	struct bpf_map_info mi = {};
	__u32 ml = sizeof(mi), xdp, xmode, tc;
	struct if_nameindex *ifs = NULL, *i;
	char dir[200];
	bool tcm;
	int fd = decap_map(inst, LIMPET_STR(MAP_NAME_DECAP_VIPS), err, errlen), n = 0, ret;

	decap_dir(inst, dir, sizeof(dir));
	if (fd < 0) {
		snprintf(err, errlen, "decap instance '%s' not found (%s)", inst, dir);
		return -ENOENT;
	}
	ret = bpf_obj_get_info_by_fd(fd, &mi, &ml) ? -errno : 0;
	close(fd);
	if (!ret && !(ifs = if_nameindex()))
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "decap instance %s: %s", inst, strerror(-ret));
		return ret;
	}
	for (i = ifs; i->if_index && n < max; i++) {
		xmode = 0;
		decap_progs(i->if_index, &xdp, &xmode, &tc, &tcm);
		if (!(xdp && prog_uses_map(xdp, mi.id)) && !(tc && prog_uses_map(tc, mi.id)))
			continue;
		snprintf(d[n].ifname, sizeof(d[n].ifname), "%s", i->if_name);
		d[n].mode = tcm ? LIMPET_DECAP_MODE_TC : xmode;
		d[n].xdp_id = xdp;
		d[n++].tc_id = tc;
	}
	if_freenameindex(ifs);
	return n;
}

int decap_destroy(const char *inst, int *ndev, char *err, size_t errlen)
{
	struct decap_dev d[LIMPET_DECAP_MAX_DEVS];
	int n, ret = 0;
	char dir[200];

	*ndev = 0;
	for (int pass = 0; pass < 16; pass++) { /* a full batch may leave more: look again */
		n = decap_devices(inst, d, LIMPET_DECAP_MAX_DEVS, err, errlen);
		for (int i = 0; i < n && !ret; i++) {
			ret = decap_detach(inst, d[i].ifname, err, errlen);
			*ndev += !ret;
		}
		if (n < LIMPET_DECAP_MAX_DEVS || ret)
			break;
	}
	if (n < 0 || ret)
		return n < 0 ? n : ret;
	decap_dir(inst, dir, sizeof(dir));
	pins_remove(dir);
	if (rmdir(dir)) {
		snprintf(err, errlen, "decap destroy: remove %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
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
