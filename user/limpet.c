// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet: the loader. Loads and attaches the XDP program, pins an instance's state, and replays
 * pcaps through the program against the live configuration.
 */
#include <errno.h>
#include <getopt.h>
#include <dirent.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "limpet_xdp.skel.h"
#include "limpet_tc.skel.h"

#define LIMPET_TC_HANDLE 0x4c50 /* "LP" */
#define LIMPET_TC_PRIO 1

const char *instance = "default";
char err[LIMPET_ERR_LEN];
bool attach_quiet;
__u32 attach_prog_id;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: limpet [OPTIONS] COMMAND\n"
		"       COMMAND := { attach dev IFNAME [mode { native | skb }] [flows N] [halfopen N]\n"
		"                  [affinity N]\n"
		"                  | detach dev IFNAME\n"
		"                  | status\n"
		"                  | replay FILE.pcap [out OUT.pcap] [dev IFNAME]\n"
		"                  | destroy\n"
		"                  | run -c FILE\n"
		"                  | help }\n"
		"       OPTIONS := { -i|--instance NAME | -n|--netns NETNS | -c|--config FILE (run) |\n"
		"                    -j|--json | -p|--pretty | -v|--verbose }\n"
		"\n"
		"attach   load limpet's XDP program and its TC ingress program (token binding steps;\n"
		"         first time: create the instance) and attach both to IFNAME; every device of an\n"
		"         instance shares its maps, and attaching again replaces the programs on all of\n"
		"         them atomically, keeping all state. flows (established connections, never\n"
		"         evicted), halfopen (connections not yet established or closed) and affinity\n"
		"         (clients) size the tables when the instance is created; default: 1/64 of\n"
		"         the memory (flows = affinity = 4 x halfopen). XDP redirects only into devices\n"
		"         attached in native mode; a bridge has none: attach to its ports, or to the\n"
		"         bridge in skb mode.\n"
		"detach   remove the programs from IFNAME; the instance's state stays pinned.\n"
		"status   devices, program, pins and VIP/backend/flow counts of the instance.\n"
		"replay   run each frame of a pcap through the program with the instance's VIPs and\n"
		"         backends (a private flow table and counters: the live ones are untouched);\n"
		"         print each verdict and rewrite, and write the output frames to OUT.pcap. A\n"
		"         frame the kernel will not run (too short or too long) gets verdict 'error'\n"
		"         and goes to OUT.pcap as it was; the run carries on.\n"
		"destroy  detach from every device and remove the instance's pins.\n"
		"run      the daemon (foreground, for systemd): attach the devices FILE names, make the\n"
		"         instance's VIPs and backends what FILE says (as limpetctl apply), run the VIPs'\n"
		"         health checks (a backend found down leaves the table), sweep flows\n"
		"         every 5 s (FILE's 'flows sweep' settings), re-read FILE on SIGHUP (a file that\n"
		"         does not load changes nothing), log each change as one line to stderr. On\n"
		"         SIGTERM, or if it dies, the datapath keeps forwarding; one daemon per instance.\n"
		"\n"
		"State is pinned under " LIMPET_PIN_ROOT "/NAME/ (instance 'default' unless -i).\n");
}

static int need_root(void)
{
	if (geteuid() != 0) {
		out_error("limpet needs root (CAP_BPF, CAP_NET_ADMIN) to load and attach BPF programs");
		return 1;
	}
	return 0;
}

static int dev_index(const char *ifname, unsigned int *ifindex)
{
	*ifindex = if_nametoindex(ifname);
	if (!*ifindex) {
		out_error("no such device '%s'", ifname);
		return -ENODEV;
	}
	return 0;
}

static __u32 xdp_flags_of(__u32 mode)
{
	return mode == LIMPET_XDP_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
}

static int prog_name_of(__u32 id, char *name, size_t len)
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
static __u32 xdp_attached_id(unsigned int ifindex, __u32 *mode)
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

/* The TC ingress program (token binding steps) on a device: created or replaced. */
static int tc_install(unsigned int ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LIMPET_TC_HANDLE, .priority = LIMPET_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

static void tc_remove(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = LIMPET_TC_HANDLE, .priority = LIMPET_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

/* Unpin everything in an instance's directory. */
static void pins_remove(const char *dir)
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
static int devmap_flags(const char *dir, struct bpf_map *m)
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
		out_error("read pinned map %s: %s", path, strerror(errno));
		ret = 1;
	}
	close(fd);
	return ret;
}

/* Table sizes: a new instance takes the asked or default ones; an existing one keeps its own
 * (the pinned maps cannot be resized), and asking for others is an error. Set on both objects
 * before load, or libbpf will not reuse the pins. 0, or 1 with the error printed.
 */
static int attach_sizes(const char *dir, const __u32 ask[TBL_MAX], struct limpet_xdp *skel,
			struct limpet_tc *tc)
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
				out_error("instance '%s' holds %u %s entries; sizes are set when an instance is created: limpet destroy, then attach with %s %u",
					  instance, sizes[t], table_names[t], table_names[t], ask[t]);
				return 1;
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
			out_error("size %s: %s", table_names[t], strerror(errno));
			return 1;
		}
	return devmap_flags(dir, skel->maps.MAP_NAME_TX_DEVS);
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

int cmd_attach(const char *ifname, __u32 mode, const __u32 ask[TBL_MAX])
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts);
	struct limpet_xdp *skel = NULL;
	struct limpet_tc *tc = NULL;
	int tc_fd, tc_new;
	struct limpet_config cfg;
	struct dev_info di = {}, cur;
	unsigned int ifindex;
	__u32 zero = 0, att_mode = 0, att_id, key, next, *prev = NULL;
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	char dir[128], pname[32];
	int lock, ret = 1, prog_fd, cfg_fd, devs_fd, created;

	if (need_root() || dev_index(ifname, &ifindex))
		return 1;
	if (mode == LIMPET_XDP_NATIVE && is_bridge(ifname)) {
		out_error("%s is a bridge, which has no native XDP: attach limpet to its ports, or to %s in skb mode (mode skb)",
			  ifname, ifname);
		return 1;
	}
	if (bpffs_ensure(err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	inst_dir(instance, dir, sizeof(dir));
	mkdir(LIMPET_PIN_ROOT, 0700);
	created = mkdir(dir, 0700) == 0;
	if (!created && errno != EEXIST) {
		out_error("create %s: %s", dir, strerror(errno));
		return 1;
	}
	lock = inst_lock(instance, err, sizeof(err));
	if (lock < 0) {
		out_error("%s", err);
		return 1;
	}

	oopts.pin_root_path = dir;
	skel = limpet_xdp__open_opts(&oopts);
	tc = limpet_tc__open_opts(&oopts); /* the same pins: the XDP object creates them */
	if (!skel || !tc) {
		out_error("open BPF object: %s", strerror(errno));
		goto out;
	}
	if (attach_sizes(dir, ask, skel, tc))
		goto out;
	ret = limpet_xdp__load(skel);
	if (ret) {
		out_error("load BPF program into instance '%s': %s%s", instance, strerror(-ret),
			  ret == -EINVAL ? " (pinned maps from an incompatible limpet? limpet destroy)" :
			  ret == -EPERM ? " (no permission for BPF: need CAP_BPF)" : "");
		ret = 1;
		goto out;
	}
	ret = devmap_flags(dir, tc->maps.MAP_NAME_TX_DEVS) ? -EINVAL : limpet_tc__load(tc);
	if (ret) {
		out_error("load TC program into instance '%s': %s", instance, strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = 1;
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

	att_id = xdp_attached_id(ifindex, &att_mode);
	if (bpf_map_lookup_elem(devs_fd, &ifindex, &cur) == 0) {
		if (att_id && att_id != cur.prog_id) {
			prog_name_of(att_id, pname, sizeof(pname));
			out_error("%s: its limpet program was replaced by another XDP program (id %u, name %s); detach that first",
				  ifname, att_id, pname);
			goto out;
		}
		if (att_id && att_mode != mode) {
			out_error("%s is attached in %s mode; detach it first to change the mode", ifname,
				  att_mode == LIMPET_XDP_SKB ? "skb" : "native");
			goto out;
		}
	} else if (att_id) {
		prog_name_of(att_id, pname, sizeof(pname));
		out_error("another XDP program is attached to %s (id %u, name %s)%s; detach it first: ip link set dev %s xdp off",
			  ifname, att_id, pname,
			  strcmp(pname, LIMPET_STR(LIMPET_PROG_NAME)) ? "" : " of another limpet instance",
			  ifname);
		goto out;
	}
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &ilen)) {
		out_error("read program info: %s", strerror(errno));
		goto out;
	}

	/* TC first: if XDP then fails, removing our filter leaves the device as it was */
	tc_new = bpf_map_lookup_elem(devs_fd, &ifindex, &cur) != 0;
	ret = tc_install(ifindex, tc_fd);
	if (ret) {
		out_error("attach TC ingress program to %s: %s", ifname, strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = xdp_install(ifindex, prog_fd, mode, att_id);
	if (ret) {
		out_error("attach XDP to %s in %s mode: %s%s", ifname,
			  mode == LIMPET_XDP_SKB ? "skb" : "native", strerror(-ret),
			  ret == -EOPNOTSUPP ? " (driver has no native XDP: try mode skb)" : "");
		if (tc_new)
			tc_remove(ifindex);
		ret = 1;
		goto out;
	}
	di.ifindex = ifindex;
	di.xdp_mode = mode;
	di.prog_id = info.id;
	snprintf(di.ifname, sizeof(di.ifname), "%s", ifname);
	bpf_map_update_elem(devs_fd, &ifindex, &di, BPF_ANY);
	tx_dev_set(bpf_map__fd(skel->maps.MAP_NAME_TX_DEVS), &di);

	/* upgrade: the instance's other devices run the new program too */
	while (!bpf_map_get_next_key(devs_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key == ifindex || bpf_map_lookup_elem(devs_fd, &key, &cur))
			continue;
		att_id = xdp_attached_id(key, &att_mode);
		if (!att_id || att_id != cur.prog_id) {
			fprintf(stderr, "Warning: %s no longer runs this instance's program; not touched\n",
				cur.ifname);
			continue;
		}
		if (xdp_install(key, prog_fd, cur.xdp_mode, att_id) || tc_install(key, tc_fd)) {
			fprintf(stderr, "Warning: upgrade program on %s: %s\n", cur.ifname, strerror(errno));
			continue;
		}
		cur.prog_id = info.id;
		bpf_map_update_elem(devs_fd, &key, &cur, BPF_ANY);
		tx_dev_set(bpf_map__fd(skel->maps.MAP_NAME_TX_DEVS), &cur);
	}
	{
		/* an instance from before the reverse map (or a crash mid-change): replies find
		 * their VIP again
		 */
		struct inst in;

		if (!inst_open(&in, instance, err, sizeof(err))) {
			int r = op_reverse_sync(&in);

			if (r)
				fprintf(stderr, "Warning: rebuild the reverse map: %s\n", strerror(-r));
			inst_close(&in);
		}
	}
	/* the tail-call table must keep a user reference, or the kernel empties it when this
	 * process exits; replacing the pin releases the previous program's table
	 */
	if (pin_atomic(bpf_map__fd(skel->maps.limpet_jump), dir, LIMPET_PIN_JUMP)) {
		out_error("pin the tail-call table in %s: %s", dir, strerror(errno));
		goto out;
	}
	if (pin_atomic(bpf_program__fd(skel->progs.LIMPET_PROG_NAME), dir, LIMPET_PIN_PROG) ||
	    pin_atomic(tc_fd, dir, LIMPET_PIN_TC_PROG))
		fprintf(stderr, "Warning: pin programs in %s: %s\n", dir, strerror(errno));

	attach_prog_id = info.id;
	if (!attach_quiet) {
		out_kv_str("instance", instance);
		out_kv_str("attached", ifname);
		out_kv_str("mode", mode == LIMPET_XDP_SKB ? "skb" : "native");
		out_kv_u64("prog_id", info.id);
	}
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

/* Lock the instance, then open it; on failure the error is printed and -1 returned. */
static int inst_open_locked(struct inst *in)
{
	int lock = inst_lock(instance, err, sizeof(err));

	if (lock < 0 || inst_open(in, instance, err, sizeof(err))) {
		out_error("%s", err);
		if (lock >= 0)
			close(lock);
		return -1;
	}
	in->lock_fd = lock;
	return 0;
}

static int cmd_detach(const char *ifname)
{
	struct dev_info cur;
	unsigned int ifindex;
	struct inst in;
	__u32 att_mode, att_id;
	int ret = 1;

	if (need_root() || dev_index(ifname, &ifindex) || inst_open_locked(&in))
		return 1;
	if (bpf_map_lookup_elem(in.fd[IM_DEVS], &ifindex, &cur)) {
		out_error("%s is not attached to instance '%s'", ifname, instance);
		goto out;
	}
	att_id = xdp_attached_id(ifindex, &att_mode);
	if (att_id && att_id == cur.prog_id &&
	    bpf_xdp_detach(ifindex, xdp_flags_of(cur.xdp_mode), NULL)) {
		out_error("detach XDP from %s: %s", ifname, strerror(errno));
		goto out;
	}
	tc_remove(ifindex);
	bpf_map_delete_elem(in.fd[IM_TX_DEVS], &ifindex);
	bpf_map_delete_elem(in.fd[IM_DEVS], &ifindex);
	out_kv_str("instance", instance);
	out_kv_str("detached", ifname);
	ret = 0;
out:
	inst_close(&in);
	return ret;
}

/* Entries of a map whose keys fit 64 bytes (all of limpet's do). */
static __u64 map_count(int fd)
{
	char key[64], next[64];
	void *prev = NULL;
	__u64 n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/* The tables that grow with clients: size, fill, kernel memory. */
static void status_tables(struct inst *in)
{
	static const char *const cols[] = { "table", "size", "used", "memory_bytes" };
	static const enum inst_map maps[TBL_MAX] = { IM_FLOWS, IM_HALFOPEN, IM_AFFINITY };
	struct table_usage u;

	out_table_begin("tables", cols, 4);
	for (int t = 0; t < TBL_MAX; t++) {
		if (table_usage(in->fd[maps[t]], &u))
			continue;
		out_row_begin();
		out_cell_str(table_names[t]);
		out_cell_u64(u.size);
		out_cell_u64(u.used);
		out_cell_u64(u.memory);
		out_row_end();
	}
	out_table_end();
}

static int cmd_status(void)
{
	static const char *const cols[] = { "device", "ifindex", "mode", "prog_id", "attached",
					     "redirect" };
	static const char *const pcols[] = { "pin" };
	struct dev_info cur;
	struct backend be;
	struct inst in;
	__u32 key, next, *prev = NULL, id, att_mode, att_id, txv;
	__u64 backends = 0;
	struct dirent *de;
	DIR *d;

	if (need_root())
		return 1;
	if (inst_open(&in, instance, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	out_kv_str("instance", instance);
	out_kv_str("pin_dir", in.dir);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (!bpf_map_lookup_elem(in.fd[IM_BACKENDS], &id, &be) && be.state != LIMPET_BE_FREE)
			backends++;
	out_kv_u64("vips", map_count(in.fd[IM_VIPS]));
	out_kv_u64("backends", backends);
	status_tables(&in);
	out_table_begin("devices", cols, 6);
	while (!bpf_map_get_next_key(in.fd[IM_DEVS], prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(in.fd[IM_DEVS], &key, &cur))
			continue;
		att_id = xdp_attached_id(key, &att_mode);
		out_row_begin();
		out_cell_str(cur.ifname);
		out_cell_u64(key);
		out_cell_str(cur.xdp_mode == LIMPET_XDP_SKB ? "skb" : "native");
		out_cell_u64(cur.prog_id);
		out_cell_str(att_id == cur.prog_id ? "yes" : att_id ? "replaced" : "no");
		/* whether XDP may redirect into it (tx_devs), or the kernel forwards to it */
		out_cell_str(bpf_map_lookup_elem(in.fd[IM_TX_DEVS], &key, &txv) ? "no" : "yes");
		out_row_end();
	}
	out_table_end();
	out_table_begin("pins", pcols, 1);
	d = opendir(in.dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		out_row_begin();
		out_cell_str(de->d_name);
		out_row_end();
	}
	if (d)
		closedir(d);
	out_table_end();
	inst_close(&in);
	return 0;
}

static int cmd_destroy(void)
{
	struct dev_info cur;
	struct inst in;
	__u32 key, next, *prev = NULL, att_mode;
	char dir[128];

	if (need_root() || inst_open_locked(&in))
		return 1;
	while (!bpf_map_get_next_key(in.fd[IM_DEVS], prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(in.fd[IM_DEVS], &key, &cur))
			continue;
		if (xdp_attached_id(key, &att_mode) == cur.prog_id) {
			bpf_xdp_detach(key, xdp_flags_of(cur.xdp_mode), NULL);
			tc_remove(key);
		}
	}
	snprintf(dir, sizeof(dir), "%s", in.dir);
	pins_remove(dir);
	inst_close(&in); /* also drops the lock */
	if (rmdir(dir)) {
		out_error("remove %s: %s", dir, strerror(errno));
		return 1;
	}
	out_kv_str("destroyed", instance);
	return 0;
}

static const char *const xdp_action_names[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

/* A frame the kernel would not run (shorter than an Ethernet header, longer than a test run
 * takes): a row of its own, verdict "error".
 */
static void replay_error_row(int n, size_t len, int e)
{
	char why[64];

	snprintf(why, sizeof(why), "error: %s (%zu bytes)", strerror(e), len);
	out_row_begin();
	out_cell_u64(n);
	out_cell_str("error");
	out_cell_str(why);
	out_cell_str("-");
	out_cell_str("unchanged");
	out_cell_str("-");
	out_row_end();
}

static int cmd_replay(const char *file, const char *outfile, const char *ifname)
{
	static const char *const cols[] = { "frame", "verdict", "reason", "in", "out", "verifies" };
	static const enum inst_map reuse[] = { IM_VIPS, IM_BACKENDS, IM_MAGLEV, IM_CONFIG };
	static unsigned char buf[65536], obuf[65536 + 256];
	struct pcap_reader rd;
	struct limpet_xdp *skel = NULL;
	struct inst live, priv = { .lock_fd = -1 };
	__u64 before[LIMPET_R_MAX], after[LIMPET_R_MAX];
	unsigned int ifindex = 0;
	FILE *wf = NULL;
	size_t len;
	int n = 0, ret = 1, r, i;

	for (i = 0; i < IM_MAX; i++)
		priv.fd[i] = -1;
	if (need_root())
		return 1;
	if (ifname && dev_index(ifname, &ifindex))
		return 1;
	if (inst_open(&live, instance, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	if (pcap_open_read(&rd, file, err, sizeof(err))) {
		out_error("%s", err);
		inst_close(&live);
		return 1;
	}
	if (outfile && !(wf = pcap_open_write(outfile))) {
		out_error("write %s: %s", outfile, strerror(errno));
		goto out;
	}
	skel = limpet_xdp__open();
	if (!skel || obj_private_maps(skel->obj, &live, reuse, 4, err, sizeof(err))) {
		out_error("%s", skel ? err : "open BPF object");
		goto out;
	}
	if ((r = limpet_xdp__load(skel))) {
		out_error("load BPF program for replay: %s", strerror(-r));
		goto out;
	}
	if (inst_from_object(&priv, skel->obj, err, sizeof(err))) {
		out_error("%s", err);
		goto out;
	}
	out_table_begin("frames", cols, 6);
	while ((r = pcap_next(&rd, buf, sizeof(buf), &len)) == 1) {
		LIBBPF_OPTS(bpf_test_run_opts, topts);
		struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = ifindex };
		struct pkt_info pin, pout;
		char ins[128], outs[128], a1[64], a2[64], reason[32] = "?";

		n++;
		topts.data_in = buf;
		topts.data_size_in = len;
		topts.data_out = obuf;
		topts.data_size_out = sizeof(obuf);
		if (ifindex) {
			topts.ctx_in = &ctx;
			topts.ctx_size_in = sizeof(ctx);
		}
		reasons_sum(priv.fd[IM_REASONS], before);
		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.LIMPET_PROG_NAME), &topts)) {
			/* too short or too long for a test run: say so, keep the frame, go on */
			replay_error_row(n, len, errno);
			if (wf && pcap_write(wf, buf, len)) {
				out_error("write %s: %s", outfile, strerror(errno));
				goto out;
			}
			continue;
		}
		reasons_sum(priv.fd[IM_REASONS], after);
		for (i = 0; i < LIMPET_R_MAX; i++)
			if (after[i] != before[i])
				snprintf(reason, sizeof(reason), "%s", reason_names[i]);
		pkt_decode(buf, len, &pin);
		pkt_decode(obuf, topts.data_size_out, &pout);
		snprintf(ins, sizeof(ins), "-");
		if (pin.ok)
			snprintf(ins, sizeof(ins), "%s > %s",
				 endpoint_str(pin.src, pin.family, pin.sport, a1, sizeof(a1)),
				 endpoint_str(pin.dst, pin.family, pin.dport, a2, sizeof(a2)));
		snprintf(outs, sizeof(outs), "%s", topts.data_size_out == len &&
			 !memcmp(buf, obuf, len) ? "unchanged" : "-");
		if (pout.ok && strcmp(outs, "unchanged"))
			snprintf(outs, sizeof(outs), "%s > %s",
				 endpoint_str(pout.src, pout.family, pout.sport, a1, sizeof(a1)),
				 endpoint_str(pout.dst, pout.family, pout.dport, a2, sizeof(a2)));
		out_row_begin();
		out_cell_u64(n);
		out_cell_str(topts.retval < 5 ? xdp_action_names[topts.retval] : "?");
		out_cell_str(reason);
		out_cell_str(ins);
		out_cell_str(outs);
		snprintf(a1, sizeof(a1), "BAD: %s", pout.bad ? pout.bad : "");
		out_cell_str(!pout.ok ? "-" : pout.bad ? a1 : "ok");
		out_row_end();
		if (wf && pcap_write(wf, obuf, topts.data_size_out)) {
			out_error("write %s: %s", outfile, strerror(errno));
			goto out;
		}
	}
	out_table_end();
	if (r < 0) {
		out_error("%s: truncated or corrupt after frame %d", file, n);
		goto out;
	}
	ret = 0;
out:
	if (wf)
		fclose(wf);
	fclose(rd.f);
	inst_close(&priv);
	inst_close(&live);
	limpet_xdp__destroy(skel);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "instance", required_argument, NULL, 'i' }, { "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },         { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },           { "netns", required_argument, NULL, 'n' },
		{ "config", required_argument, NULL, 'c' },   {}
	};
	bool json = false, pretty = false, verbose = false;
	const char *netns = NULL, *conf = NULL;
	const char *cmd;
	int c, ret;

	while ((c = getopt_long(argc, argv, "i:n:c:jpvh", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			instance = optarg;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			json = pretty = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	out_init(json, pretty);
	libbpf_quiet(verbose);
	if (!inst_name_valid(instance)) {
		out_error("invalid instance name '%s' (letters, digits, '-', '_'; at most 32)", instance);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (netns && netns_enter(netns, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	cmd = argv[0];
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	} else if (!strcmp(cmd, "attach")) {
		__u32 mode = LIMPET_XDP_NATIVE, ask[TBL_MAX] = { 0 };

		if (argc < 3 || argc % 2 == 0 || strcmp(argv[1], "dev"))
			goto bad;
		for (int i = 3; i < argc; i += 2) {
			int t;

			for (t = 0; t < TBL_MAX && strcmp(argv[i], table_names[t]); t++)
				;
			if (t < TBL_MAX) {
				if (parse_u32(argv[i + 1], LIMPET_TABLE_MIN, LIMPET_TABLE_MAX, &ask[t])) {
					out_error("%s: expected a number of entries (%u-%u), got '%s'",
						  argv[i], LIMPET_TABLE_MIN, LIMPET_TABLE_MAX, argv[i + 1]);
					return 2;
				}
			} else if (!strcmp(argv[i], "mode") && !strcmp(argv[i + 1], "skb")) {
				mode = LIMPET_XDP_SKB;
			} else if (!strcmp(argv[i], "mode") && !strcmp(argv[i + 1], "native")) {
				mode = LIMPET_XDP_NATIVE;
			} else if (!strcmp(argv[i], "mode")) {
				out_error("unknown mode '%s' (native or skb)", argv[i + 1]);
				return 2;
			} else {
				out_error("attach: unknown option '%s' (mode, flows, halfopen, affinity)",
					  argv[i]);
				return 2;
			}
		}
		ret = cmd_attach(argv[2], mode, ask);
	} else if (!strcmp(cmd, "run")) {
		if (argc != 1 || !conf)
			goto bad;
		ret = need_root() ? 1 : cmd_run(conf);
	} else if (!strcmp(cmd, "detach")) {
		if (argc != 3 || strcmp(argv[1], "dev"))
			goto bad;
		ret = cmd_detach(argv[2]);
	} else if (!strcmp(cmd, "status")) {
		if (argc != 1)
			goto bad;
		ret = cmd_status();
	} else if (!strcmp(cmd, "destroy")) {
		if (argc != 1)
			goto bad;
		ret = cmd_destroy();
	} else if (!strcmp(cmd, "replay")) {
		const char *outf = NULL, *dev = NULL;
		int i;

		if (argc < 2 || argc % 2)
			goto bad;
		for (i = 2; i < argc; i += 2) {
			if (!strcmp(argv[i], "out"))
				outf = argv[i + 1];
			else if (!strcmp(argv[i], "dev"))
				dev = argv[i + 1];
			else
				goto bad;
		}
		ret = cmd_replay(argv[1], outf, dev);
	} else {
		out_error("unknown command '%s'; try: limpet help", cmd);
		return 2;
	}
	out_flush();
	return ret;
bad:
	out_error("invalid arguments for '%s'; try: limpet help", cmd);
	return 2;
}
