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
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "limpet_xdp.skel.h"
#include "limpet_tc.skel.h"

const char *instance = "default";
char err[LIMPET_ERR_LEN];

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
		"                  | run -c FILE [previous FILE]\n"
		"                  | decap DECAP\n"
		"                  | help }\n"
		"       OPTIONS := { -i|--instance NAME | -n|--netns NETNS | -c|--config FILE (run) |\n"
		"                    -j|--json | -p|--pretty | -v|--verbose }\n"
		"       DECAP   := { attach dev IFNAME [mode { native | skb | tc }] | detach dev IFNAME |\n"
		"                    vip { add | del } ADDR | vip list | stats | status | destroy }\n"
		"\n"
		"attach   load limpet's XDP program and its TC ingress program (token binding steps;\n"
		"         first time: create the instance) and attach both to IFNAME; every device of an\n"
		"         instance shares its maps, and attaching again replaces the programs on all of\n"
		"         them atomically, keeping all state. flows (established connections, never\n"
		"         evicted), halfopen (connections not yet established or closed) and affinity\n"
		"         (clients) size the tables when the instance is created; default: 1/64 of\n"
		"         the memory (flows = affinity = 4 x halfopen). XDP redirects only into devices\n"
		"         attached in native mode; a bridge has none: attach to its ports, or to the\n"
		"         bridge in skb mode (VXLAN, macvlan likewise). Attach a device before the\n"
		"         ones stacked on it: the kernel changes no XDP program below one that has one.\n"
		"detach   remove the programs from IFNAME; the instance's state stays pinned.\n"
		"status   devices, program, pins and VIP/backend/flow counts of the instance.\n"
		"replay   run each frame of a pcap through the program with the instance's VIPs and\n"
		"         backends (a private flow table and counters: the live ones are untouched);\n"
		"         print each verdict and rewrite, and write the output frames to OUT.pcap. A\n"
		"         frame the kernel will not run (too short or too long) gets verdict 'error'\n"
		"         and goes to OUT.pcap as it was; the run carries on.\n"
		"destroy  withdraw the VIP addresses it announced, detach from every device and remove the\n"
		"         instance's pins and the daemon's saved configuration.\n"
		"run      the daemon (foreground, for systemd): attach the devices FILE names, make the\n"
		"         instance's VIPs and backends what FILE says (as limpetctl apply), run the VIPs'\n"
		"         health checks (a backend found down leaves the table), sweep flows\n"
		"         every 5 s (FILE's 'flows sweep' settings), re-read FILE on SIGHUP (a file that\n"
		"         does not load changes nothing), log each change as one line to stderr. On\n"
		"         SIGTERM, or if it dies, the datapath keeps forwarding; one daemon per instance.\n"
		"         previous FILE: the file before the last change, applied first when the\n"
		"         instance has no VIP (a host starting with no state), so ipip VIPs' second\n"
		"         chance knows the backends from before that change. Before an apply changes an\n"
		"         instance with VIPs, the daemon saves it as it was in /var/lib/limpet/NAME.prev.conf;\n"
		"         a start into an instance without VIPs (a reboot) applies that file first.\n"
		"decap    on a backend of ipip VIPs: unwrap limpet's IPIP, IP6IP6 and IPv4-in-IPv6\n"
		"         packets for the VIPs added here and hand the inner packet to the local stack\n"
		"         (the VIP on lo); anything else passes untouched. A mid-connection packet with\n"
		"         limpet's second-chance header and no socket here goes on to the previous owner.\n"
		"         mode tc: all at TC ingress, beside another XDP program on the device.\n"
		"         status: the devices here that run it, and in which mode. destroy: detach it\n"
		"         from every one of them, remove its pins.\n"
		"         Pinned under " LIMPET_DECAP_PIN_ROOT "/NAME/.\n"
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

static void attach_warn(const char *msg)
{
	fprintf(stderr, "Warning: %s\n", msg);
}

/* attach: the library does it; this prints what happened. */
static int cmd_attach(const char *ifname, __u32 mode, const __u32 ask[TBL_MAX])
{
	__u32 id = 0;

	if (need_root())
		return 1;
	if (attach_dev(instance, ifname, mode, ask, &id, attach_warn, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	out_kv_str("instance", instance);
	out_kv_str("attached", ifname);
	out_kv_str("mode", mode == LIMPET_XDP_SKB ? "skb" : "native");
	out_kv_u64("prog_id", id);
	return 0;
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
		out_error("detach XDP from %s: %s%s", ifname, strerror(errno),
			  errno == EEXIST ? ": " LIMPET_XDP_UPPER_WHY "; detach that one first" : "");
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

static int count_one(const void *key, const void *val, void *ctx)
{
	(void)key;
	(void)val;
	++*(__u64 *)ctx;
	return 0;
}

/* One row of status's device table; ctx: the TX device map. */
static int dev_row(const void *key, const void *val, void *ctx)
{
	const struct dev_info *cur = val;
	__u32 ifindex = *(const __u32 *)key, att_mode, txv;
	__u32 att_id = xdp_attached_id(ifindex, &att_mode);

	out_row_begin();
	out_cell_str(cur->ifname);
	out_cell_u64(ifindex);
	out_cell_str(cur->xdp_mode == LIMPET_XDP_SKB ? "skb" : "native");
	out_cell_u64(cur->prog_id);
	out_cell_str(att_id == cur->prog_id ? "yes" : att_id ? "replaced" : "no");
	/* whether XDP may redirect into it (tx_devs), or the kernel forwards to it */
	out_cell_str(bpf_map_lookup_elem(*(int *)ctx, &ifindex, &txv) ? "no" : "yes");
	out_row_end();
	return 0;
}

/* The tables that grow with clients: size, fill, kernel memory. */
static void status_tables(struct inst *in)
{
	static const char *const cols[] = { "table", "size", "used", "memory_bytes" };
	const int fds[TBL_MAX] = { in->fd[IM_FLOWS], in->fd[IM_HALFOPEN], in->fd[IM_AFFINITY] };
	struct table_usage u[TBL_MAX];
	bool ok[TBL_MAX];

	tables_usage(fds, u, ok);
	out_table_begin("tables", cols, 4);
	for (int t = 0; t < TBL_MAX; t++) {
		if (!ok[t])
			continue;
		out_row_begin();
		out_cell_str(table_names[t]);
		out_cell_u64(u[t].size);
		out_cell_u64(u[t].used);
		out_cell_u64(u[t].memory);
		out_row_end();
	}
	out_table_end();
}

static int cmd_status(void)
{
	static const char *const cols[] = { "device", "ifindex", "mode", "prog_id", "attached",
					     "redirect" };
	static const char *const pcols[] = { "pin" };
	struct backend *bes;
	struct inst in;
	__u64 backends = 0, vips = 0;
	__u32 id;
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
	if (!backends_get(&in, &bes))
		for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
			backends += bes[id].state != LIMPET_BE_FREE;
	free(bes);
	map_scan(in.fd[IM_VIPS], sizeof(struct vip_key), sizeof(struct vip_meta), count_one, &vips);
	out_kv_u64("vips", vips);
	out_kv_u64("backends", backends);
	status_tables(&in);
	out_table_begin("devices", cols, 6);
	map_scan(in.fd[IM_DEVS], sizeof(__u32), sizeof(struct dev_info), dev_row,
		 &in.fd[IM_TX_DEVS]);
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

/* One device's programs off; ctx counts the devices the kernel left as they were (a device below
 * one stacked on it that still has XDP: EEXIST), for another pass once the upper one is off.
 */
static int dev_undo(const void *key, const void *val, void *ctx)
{
	const struct dev_info *cur = val;
	__u32 ifindex = *(const __u32 *)key, att_mode;
	int *left = ctx;

	if (xdp_attached_id(ifindex, &att_mode) == cur->prog_id) {
		if (bpf_xdp_detach(ifindex, xdp_flags_of(cur->xdp_mode), NULL)) {
			(*left)++;
			return 0;
		}
		tc_remove(ifindex);
	}
	return 0;
}

static void destroy_log(void *ctx, const char *change)
{
	(void)ctx;
	daemon_log("%s", change);
}

/* Works on any instance, an older limpet's too: only its devices map is needed (if even that
 * is gone, there is nothing attached to undo). The instance's VIP addresses that limpet
 * announced (announce dev) are withdrawn first, so the host stops drawing their traffic.
 */
static int cmd_destroy(void)
{
	static struct announce_set vips;
	char dir[128], path[256];
	int run, lock, devs, ret;

	if (need_root())
		return 1;
	inst_dir(instance, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		out_error("instance '%s' not found (%s)", instance, dir);
		return 1;
	}
	run = run_lock();
	if (run < 0)
		return 1;
	lock = inst_lock(instance, err, sizeof(err));
	if (lock < 0) {
		out_error("%s", err);
		close(run);
		return 1;
	}
	ret = announce_of_pins(dir, &vips);
	if (ret)
		snprintf(err, sizeof(err), "reading the instance's VIPs: %s", strerror(-ret));
	else
		ret = announce_withdraw(&vips, destroy_log, NULL, err, sizeof(err));
	if (ret) {
		out_error("destroy %s: %s; nothing was detached, run destroy again", instance, err);
		close(lock);
		close(run);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, inst_map_names[IM_DEVS]);
	devs = bpf_obj_get(path);
	if (devs >= 0) {
		/* stacked devices come off top first: a pass per level, as long as one helps */
		for (int pass = 0, left = 0, before; pass < 4; pass++) {
			before = left;
			left = 0;
			map_scan(devs, sizeof(__u32), sizeof(struct dev_info), dev_undo, &left);
			if (!left || (pass && left == before))
				break;
		}
		close(devs);
	}
	pins_remove(dir);
	state_remove(); /* the daemon's saved previous configuration goes with the instance */
	close(lock);
	close(run);
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
	static const enum inst_map reuse[] = { IM_VIPS, IM_BACKENDS, IM_MAGLEV, IM_CONFIG,
						       IM_VIP_FILTER };
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
	if (!skel || obj_private_maps(skel->obj, &live, reuse, sizeof(reuse) / sizeof(reuse[0]), err,
					  sizeof(err))) {
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

	opterr = 0; /* a bad option is one error line, as every other error */
	while ((c = getopt_long(argc, argv, ":i:n:c:jpvh", lopts, NULL)) != -1) {
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
			out_opt_error(c, optopt, argv[optind - 1], "limpet help");
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
		if (!conf || (argc != 1 && (argc != 3 || strcmp(argv[1], "previous"))))
			goto bad;
		ret = need_root() ? 1 : cmd_run(conf, argc == 3 ? argv[2] : NULL);
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
	} else if (!strcmp(cmd, "decap")) {
		ret = need_root() ? 1 : decap_main(argc, argv);
		if (ret == 2)
			goto bad;
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
