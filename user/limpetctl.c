// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpetctl: VIPs, backends, stats, flows and affinities of a running limpet instance. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/ctl.h"

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "instance", required_argument, NULL, 'i' }, { "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },         { "help", no_argument, NULL, 'h' },
		{ "netns", required_argument, NULL, 'n' },    {}
	};
	const char *netns = NULL;
	const char *instance = "default";
	bool json = false, pretty = false;
	char err[LIMPET_ERR_LEN] = "";
	struct ctl_cmd cmd;
	struct inst in;
	int c, ret, lock = -1;

	opterr = 0; /* a bad option is one error line, as every other error */
	while ((c = getopt_long(argc, argv, ":i:n:jph", lopts, NULL)) != -1) {
		switch (c) {
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
		case 'h':
			ctl_usage(stdout);
			return 0;
		default:
			out_opt_error(c, optopt, argv[optind - 1], "limpetctl help");
			return 2;
		}
	}
	out_init(json, pretty);
	if (ctl_parse(argc - optind, argv + optind, &cmd, err, sizeof(err))) {
		out_error("%s", err);
		return 2;
	}
	if (cmd.op == CTL_HELP) {
		ctl_usage(stdout);
		return 0;
	}
	if (geteuid() != 0) {
		out_error("limpetctl needs root (CAP_BPF) to open the pinned maps of instance '%s'", instance);
		return 1;
	}
	if (netns && netns_enter(netns, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	if (ctl_writes(&cmd)) {
		lock = inst_lock(instance, err, sizeof(err));
		if (lock < 0) {
			out_error("%s", err);
			return 1;
		}
	}
	if (inst_open(&in, instance, err, sizeof(err))) {
		out_error("%s", err);
		return inst_name_valid(instance) ? 1 : 2;
	}
	in.lock_fd = lock;
	ret = ctl_run(&in, &cmd, err, sizeof(err));
	if (ret) {
		out_error("%s", err[0] ? err : strerror(-ret));
		inst_close(&in);
		return 1;
	}
	out_flush();
	inst_close(&in);
	return 0;
}
