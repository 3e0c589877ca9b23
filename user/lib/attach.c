// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Attaching an instance's programs to a device (the first time: creating the instance),
 * upgrading them in place on all its devices, detaching and destroying: the loader's and the
 * daemon's (docs/design.md §5).
 */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "liblimpet.h"
#include "limpet_xdp.skel.h"
#include "limpet_tc.skel.h"

#define LIMPET_TC_HANDLE 0x4c50 /* "LP" */
#define LIMPET_TC_PRIO 1

/* Fill err; returns ret (a -errno, or -EINVAL for 0). */
static int attach_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret ? ret : -EINVAL;
}

static void warnf(attach_warn_fn warn, const char *fmt, ...)
{
	char msg[LIMPET_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (warn)
		warn(msg);
}

__u32 xdp_flags_of(__u32 mode)
{
	return mode == LIMPET_XDP_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

int prog_name_of(__u32 id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), ret;

	snprintf(name, len, "?");
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &ilen);
	close(fd);
	if (!ret)
		snprintf(name, len, "%s", info.name);
	return ret;
}

/* The XDP program attached to ifindex, in any mode (0 if none). */
__u32 xdp_attached_id(unsigned int ifindex, __u32 *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return 0;
	*mode = q.attach_mode == XDP_ATTACHED_SKB ? LIMPET_XDP_SKB : LIMPET_XDP_NATIVE;
	return q.attach_mode == XDP_ATTACHED_SKB ? q.skb_prog_id : q.drv_prog_id;
}

/* Replace (or install) our program on a device; refuses to replace anyone else's. */
static int xdp_install(unsigned int ifindex, int prog_fd, __u32 mode, __u32 old_id)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	__u32 flags = xdp_flags_of(mode);
	int old_fd = -1, ret;

	if (old_id) {
		old_fd = bpf_prog_get_fd_by_id(old_id);
		if (old_fd < 0)
			return -errno;
		opts.old_prog_fd = old_fd;
		flags |= XDP_FLAGS_REPLACE;
	} else {
		flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	}
	ret = bpf_xdp_attach(ifindex, prog_fd, flags, &opts);
	if (old_fd >= 0)
		close(old_fd);
	return ret;
}

int tc_filter_set(unsigned int ifindex, int prog_fd, __u32 handle, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

__u32 tc_filter_prog(unsigned int ifindex, __u32 handle, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

void tc_filter_del(unsigned int ifindex, __u32 handle, __u32 prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);

	bpf_tc_detach(&hook, &opts);
}

/* The TC ingress program (token binding steps) on a device: created or replaced. */
static int tc_install(unsigned int ifindex, int prog_fd)
{
	return tc_filter_set(ifindex, prog_fd, LIMPET_TC_HANDLE, LIMPET_TC_PRIO);
}

void tc_remove(unsigned int ifindex)
{
	tc_filter_del(ifindex, LIMPET_TC_HANDLE, LIMPET_TC_PRIO);
}

/* Unpin everything in an instance's directory. */
void pins_remove(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* Pin an object under a name, replacing an older pin in one rename. */
static int pin_atomic(int fd, const char *dir, const char *name)
{
	char tmp[256], path[256];

	snprintf(tmp, sizeof(tmp), "%s/%s_new", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path)) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

/* The kernel creates a devmap read-only for programs (and refuses that flag from userspace):
 * reusing a pinned one, the objects must expect it, or libbpf sees a mismatch.
 */
static int devmap_flags(const char *dir, struct bpf_map *m, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, LIMPET_STR(MAP_NAME_TX_DEVS));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* a new instance: the XDP object creates it; TC is set after */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || bpf_map__set_map_flags(m, info.map_flags)) {
		snprintf(err, errlen, "read pinned map %s: %s", path, strerror(errno));
		ret = -EINVAL;
	}
	close(fd);
	return ret;
}

/* Table sizes: a new instance takes the asked or default ones; an existing one keeps its own
 * (the pinned maps cannot be resized), and asking for others is an error. Set on both objects
 * before load, or libbpf will not reuse the pins. 0, or 1 with the error printed.
 */
static int attach_sizes(const char *instance, const char *dir, const __u32 ask[TBL_MAX],
			struct limpet_xdp *skel, struct limpet_tc *tc, char *err, size_t errlen)
{
	struct bpf_map *xm[TBL_MAX] = { skel->maps.MAP_NAME_FLOWS, skel->maps.MAP_NAME_HALFOPEN,
					skel->maps.MAP_NAME_AFFINITY };
	struct bpf_map *tm[TBL_MAX] = { tc->maps.MAP_NAME_FLOWS, tc->maps.MAP_NAME_HALFOPEN,
					tc->maps.MAP_NAME_AFFINITY };
	__u32 sizes[TBL_MAX];
	int t;

	if (!tables_pinned(dir, sizes)) {
		for (t = 0; t < TBL_MAX; t++) {
			if (ask[t] && ask[t] != sizes[t]) {
				snprintf(err, errlen, "instance '%s' holds %u %s entries; sizes are set when an instance is created: limpet destroy, then attach with %s %u",
					 instance, sizes[t], table_names[t], table_names[t], ask[t]);
				return -EINVAL;
			}
		}
	} else {
		tables_default(sizes);
		for (t = 0; t < TBL_MAX; t++)
			if (ask[t])
				sizes[t] = ask[t];
	}
	for (t = 0; t < TBL_MAX; t++)
		if (bpf_map__set_max_entries(xm[t], sizes[t]) || bpf_map__set_max_entries(tm[t], sizes[t])) {
			snprintf(err, errlen, "size %s: %s", table_names[t], strerror(errno));
			return -EINVAL;
		}
	return devmap_flags(dir, skel->maps.MAP_NAME_TX_DEVS, err, errlen);
}

/* XDP may redirect into a device only when its driver takes XDP frames: those attached in
 * native mode. Packets for the others (skb mode: bridges, drivers without XDP) go through the
 * kernel.
 */
static void tx_dev_set(int tx_fd, const struct dev_info *di)
{
	__u32 ifindex = di->ifindex;

	if (di->xdp_mode == LIMPET_XDP_NATIVE)
		bpf_map_update_elem(tx_fd, &ifindex, &ifindex, BPF_ANY);
	else
		bpf_map_delete_elem(tx_fd, &ifindex);
}

/* Whether a device is a Linux bridge (it has no native XDP; its ports do). Asked of the driver
 * in this network namespace: /sys may show another one's (nsenter --net).
 */
static bool is_bridge(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&di;
	ret = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return !ret && !strcmp(di.driver, "bridge");
}

/* limpet asks the FIB as a forwarder: with forwarding off on the device, every lookup fails. */
static void forwarding_check(const char *ifname, attach_warn_fn warn)
{
	static const char *const fam[] = { "ipv4", "ipv6" };
	char path[128], v = '1';

	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding", fam[i], ifname);
		f = fopen(path, "r");
		if (f && fread(&v, 1, 1, f) == 1 && v == '0')
			warnf(warn, "%s forwarding is off on %s: limpet cannot send to backends "
				    "(drop_dsr_path, fwd_stack); sysctl -w net.%s.conf.all.forwarding=1",
			      fam[i], ifname, fam[i]);
		if (f)
			fclose(f);
	}
}

/* What the instance's other devices are moved to when a device is attached. */
struct upgrade {
	int devs_fd, tx_fd, prog_fd, tc_fd;
	__u32 prog_id;
	attach_warn_fn warn;
};

/* The instance's devices, read before any is changed: rewriting a hash map's entry while
 * walking it with get_next_key can move it in its bucket and walk two entries in a circle.
 */
struct dev_list {
	__u32 key[LIMPET_MAX_DEVS];
	struct dev_info di[LIMPET_MAX_DEVS];
	int n;
};

static int dev_collect(const void *key, const void *val, void *ctx)
{
	struct dev_list *l = ctx;

	if (l->n == LIMPET_MAX_DEVS)
		return 0;
	l->key[l->n] = *(const __u32 *)key;
	l->di[l->n++] = *(const struct dev_info *)val;
	return 0;
}

/* The instance's devices other than skip run up's program too. Returns how many the kernel
 * refused because an upper device of theirs (a VXLAN, VLAN, macvlan or bridge on them) has an
 * XDP program, which it allows no change below; those are not warned about when quiet.
 */
static int upgrade_others(const struct upgrade *up, unsigned int skip, int quiet)
{
	struct dev_list l = { .n = 0 };
	__u32 att_id, att_mode;
	int busy = 0, rc;

	rc = map_scan(up->devs_fd, sizeof(__u32), sizeof(struct dev_info), dev_collect, &l);
	if (rc)
		warnf(up->warn, "read the instance's devices: %s", strerror(-rc));
	for (int i = 0; i < l.n; i++) {
		struct dev_info *cur = &l.di[i];

		if (l.key[i] == skip)
			continue;
		att_id = xdp_attached_id(l.key[i], &att_mode);
		if (!att_id || att_id != cur->prog_id) {
			warnf(up->warn, "%s no longer runs this instance's program; not touched",
			      cur->ifname);
			continue;
		}
		rc = xdp_install(l.key[i], up->prog_fd, cur->xdp_mode, att_id);
		if (!rc)
			rc = tc_install(l.key[i], up->tc_fd);
		busy += rc == -EEXIST;
		if (rc == -EEXIST && !quiet)
			warnf(up->warn, "%s keeps limpet's previous program: " LIMPET_XDP_UPPER_WHY "; limpet detach dev UPPER, attach dev %s, then attach UPPER again",
			      cur->ifname, cur->ifname);
		else if (rc && rc != -EEXIST)
			warnf(up->warn, "upgrade program on %s: %s", cur->ifname, strerror(-rc));
		if (rc)
			continue;
		cur->prog_id = up->prog_id;
		bpf_map_update_elem(up->devs_fd, &l.key[i], cur, BPF_ANY);
		tx_dev_set(up->tx_fd, cur);
	}
	return busy;
}

/* ifindex, attached just now, may be the upper device that kept the others from their upgrade:
 * without its program for a moment, they take the new one, then it gets it back. 0 or -errno.
 */
static int upgrade_below(const struct upgrade *up, unsigned int ifindex, __u32 mode)
{
	bpf_xdp_detach(ifindex, xdp_flags_of(mode), NULL);
	upgrade_others(up, ifindex, 0);
	return xdp_install(ifindex, up->prog_fd, mode, 0);
}

int attach_dev(const char *instance, const char *ifname, __u32 mode, const __u32 ask[TBL_MAX],
	       __u32 *prog_id, attach_warn_fn warn, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	struct limpet_xdp *skel = NULL;
	struct limpet_tc *tc = NULL;
	int tc_fd, tc_new;
	struct limpet_config cfg;
	struct dev_info di = {}, cur;
	struct upgrade up;
	unsigned int ifindex;
	__u32 zero = 0, att_mode = 0, att_id;
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	char dir[128], pname[32];
	int lock, ret = -EINVAL, prog_fd, cfg_fd, devs_fd, created;

	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return attach_err(err, errlen, -ENODEV, "no such device '%s'", ifname);
	if (mode == LIMPET_XDP_NATIVE && is_bridge(ifname))
		return attach_err(err, errlen, -EINVAL, "%s is a bridge, which has no native XDP: attach limpet to its ports, or to %s in skb mode (mode skb)",
				  ifname, ifname);
	ret = bpffs_ensure(err, errlen);
	if (ret)
		return ret;
	inst_dir(instance, dir, sizeof(dir));
	mkdir(LIMPET_PIN_ROOT, 0700);
	created = mkdir(dir, 0700) == 0;
	if (!created && errno != EEXIST)
		return attach_err(err, errlen, -errno, "create %s: %s", dir, strerror(errno));
	lock = inst_lock(instance, err, errlen);
	if (lock < 0)
		return lock;
	ret = -EINVAL;

	oopts.pin_root_path = dir;
	skel = limpet_xdp__open_opts(&oopts);
	tc = limpet_tc__open_opts(&oopts); /* the same pins: the XDP object creates them */
	if (!skel || !tc) {
		ret = attach_err(err, errlen, -errno, "open BPF object: %s", strerror(errno));
		goto out;
	}
	ret = attach_sizes(instance, dir, ask, skel, tc, err, errlen);
	if (ret)
		goto out;
	ret = limpet_xdp__load(skel);
	if (ret) {
		attach_err(err, errlen, ret, "load BPF program into instance '%s': %s%s", instance,
			   strerror(-ret),
			   ret == -EINVAL ? " (pinned maps from an incompatible limpet? limpet destroy)" :
			   ret == -EPERM ? " (no permission for BPF: need CAP_BPF)" : "");
		goto out;
	}
	ret = devmap_flags(dir, tc->maps.MAP_NAME_TX_DEVS, err, errlen);
	if (!ret && (ret = limpet_tc__load(tc)))
		attach_err(err, errlen, ret, "load TC program into instance '%s': %s", instance,
			   strerror(-ret));
	if (ret)
		goto out;
	ret = -EINVAL;
	tc_fd = bpf_program__fd(tc->progs.LIMPET_TC_PROG_NAME);
	prog_fd = bpf_program__fd(skel->progs.LIMPET_PROG_NAME);
	cfg_fd = bpf_map__fd(skel->maps.MAP_NAME_CONFIG);
	devs_fd = bpf_map__fd(skel->maps.MAP_NAME_DEVS);
	if (!bpf_map_lookup_elem(cfg_fd, &zero, &cfg) && !cfg.maglev_m) {
		/* a new instance */
		cfg.hash_seed = LIMPET_HASH_SEED_DEFAULT;
		cfg.maglev_m = LIMPET_MAGLEV_M_DEFAULT;
		bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY);
	}
	/* right for the VIPs there are (an instance pinned before the filter has an empty one) */
	vip_filter_sync(bpf_map__fd(skel->maps.MAP_NAME_VIPS),
			bpf_map__fd(skel->maps.MAP_NAME_VIP_FILTER), NULL);

	att_id = xdp_attached_id(ifindex, &att_mode);
	if (bpf_map_lookup_elem(devs_fd, &ifindex, &cur) == 0) {
		if (att_id && att_id != cur.prog_id) {
			prog_name_of(att_id, pname, sizeof(pname));
			attach_err(err, errlen, 0, "%s: its limpet program was replaced by another XDP program (id %u, name %s); detach that first",
				   ifname, att_id, pname);
			goto out;
		}
		if (att_id && att_mode != mode) {
			attach_err(err, errlen, 0, "%s is attached in %s mode; detach it first to change the mode",
				   ifname, att_mode == LIMPET_XDP_SKB ? "skb" : "native");
			goto out;
		}
	} else if (att_id) {
		prog_name_of(att_id, pname, sizeof(pname));
		attach_err(err, errlen, 0, "another XDP program is attached to %s (id %u, name %s)%s; detach it first: ip link set dev %s xdp off",
			   ifname, att_id, pname,
			   strcmp(pname, LIMPET_STR(LIMPET_PROG_NAME)) ? "" : " of another limpet instance",
			   ifname);
		goto out;
	}
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &ilen)) {
		attach_err(err, errlen, 0, "read program info: %s", strerror(errno));
		goto out;
	}

	/* TC first: if XDP then fails, removing our filter leaves the device as it was */
	tc_new = bpf_map_lookup_elem(devs_fd, &ifindex, &cur) != 0;
	ret = tc_install(ifindex, tc_fd);
	if (ret) {
		attach_err(err, errlen, ret, "attach TC ingress program to %s: %s", ifname,
			   strerror(-ret));
		goto out;
	}
	ret = xdp_install(ifindex, prog_fd, mode, att_id);
	if (ret) {
		attach_err(err, errlen, ret, "attach XDP to %s in %s mode: %s%s", ifname,
			   mode == LIMPET_XDP_SKB ? "skb" : "native", strerror(-ret),
			   ret == -EOPNOTSUPP ? " (driver has no native XDP: try mode skb)" :
			   ret == -EEXIST ? ": " LIMPET_XDP_UPPER_WHY "; attach this one first, or detach that one" :
					    "");
		if (tc_new)
			tc_remove(ifindex);
		goto out;
	}
	up.devs_fd = devs_fd;
	up.tx_fd = bpf_map__fd(skel->maps.MAP_NAME_TX_DEVS);
	up.prog_fd = prog_fd;
	up.tc_fd = tc_fd;
	up.prog_id = info.id;
	up.warn = warn;
	ret = upgrade_others(&up, ifindex, tc_new);
	if (ret > 0 && tc_new) {
		ret = upgrade_below(&up, ifindex, mode);
		if (ret) {
			attach_err(err, errlen, ret, "attach XDP to %s in %s mode again, after the devices below it took the new program: %s",
				   ifname, mode == LIMPET_XDP_SKB ? "skb" : "native", strerror(-ret));
			tc_remove(ifindex);
			goto out;
		}
	}
	ret = -EINVAL;
	di.ifindex = ifindex;
	di.xdp_mode = mode;
	di.prog_id = info.id;
	snprintf(di.ifname, sizeof(di.ifname), "%s", ifname);
	bpf_map_update_elem(devs_fd, &ifindex, &di, BPF_ANY);
	tx_dev_set(up.tx_fd, &di);
	{
		/* an instance from before the reverse map (or a crash mid-change): replies find
		 * their VIP again
		 */
		struct inst in;

		char e2[LIMPET_ERR_LEN];

		if (!inst_open(&in, instance, e2, sizeof(e2))) {
			int r = op_reverse_sync(&in);

			if (r)
				warnf(warn, "rebuild the reverse map: %s", strerror(-r));
			inst_close(&in);
		}
	}
	/* the tail-call table must keep a user reference, or the kernel empties it when this
	 * process exits; replacing the pin releases the previous program's table
	 */
	if (pin_atomic(bpf_map__fd(skel->maps.limpet_jump), dir, LIMPET_PIN_JUMP)) {
		attach_err(err, errlen, 0, "pin the tail-call table in %s: %s", dir, strerror(errno));
		goto out;
	}
	if (pin_atomic(bpf_program__fd(skel->progs.LIMPET_PROG_NAME), dir, LIMPET_PIN_PROG) ||
	    pin_atomic(tc_fd, dir, LIMPET_PIN_TC_PROG))
		warnf(warn, "pin programs in %s: %s", dir, strerror(errno));
	forwarding_check(ifname, warn);
	*prog_id = info.id;
	ret = 0;
out:
	limpet_tc__destroy(tc);
	limpet_xdp__destroy(skel);
	if (ret && created) {
		/* a new instance that did not come up leaves nothing behind */
		pins_remove(dir);
		rmdir(dir);
	}
	close(lock);
	return ret;
}

