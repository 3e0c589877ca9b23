// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet decap: the backend-side decapsulator's commands (parse and print; lib/decap.c acts). */
#include <stdio.h>
#include <string.h>

#include "loader.h"

static const char *const decap_reason_names[LIMPET_DECAP_MAX] = LIMPET_DECAP_REASON_NAMES;
_Static_assert(sizeof((const char *[])LIMPET_DECAP_REASON_NAMES) / sizeof(char *) ==
		       LIMPET_DECAP_MAX,
	       "a name for every decap reason");

static int decap_show(bool stats)
{
	static const char *const vcols[] = { "vip" }, *const rcols[] = { "reason", "packets" };
	struct l_addr vips[LIMPET_DECAP_MAX_VIPS];
	__u64 c[LIMPET_DECAP_MAX];
	char b[64];
	int n, i;

	if (decap_read(instance, vips, LIMPET_DECAP_MAX_VIPS, &n, c, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	if (!stats) {
		out_table_begin("vips", vcols, 1);
		for (i = 0; i < n; i++) {
			out_row_begin();
			out_cell_str(addr_str(vips[i].a, vips[i].family, b, sizeof(b)));
			out_row_end();
		}
	} else {
		out_table_begin("reasons", rcols, 2);
		for (i = 1; i < LIMPET_DECAP_MAX; i++) {
			out_row_begin();
			out_cell_str(decap_reason_names[i]);
			out_cell_u64(c[i]);
			out_row_end();
		}
	}
	out_table_end();
	return 0;
}

/* The devices that run this instance's decapsulator, and how. */
static int decap_status(void)
{
	static const char *const cols[] = { "device", "mode", "xdp_prog", "tc_prog" };
	static const char *const modes[] = { [LIMPET_XDP_NATIVE] = "native", [LIMPET_XDP_SKB] = "skb",
					     [LIMPET_DECAP_MODE_TC] = "tc" };
	struct decap_dev d[LIMPET_DECAP_MAX_DEVS];
	int n = decap_devices(instance, d, LIMPET_DECAP_MAX_DEVS, err, sizeof(err));

	if (n < 0) {
		out_error("%s", err);
		return 1;
	}
	out_table_begin("devices", cols, 4);
	for (int i = 0; i < n; i++) {
		out_row_begin();
		out_cell_str(d[i].ifname);
		out_cell_str(d[i].mode <= LIMPET_DECAP_MODE_TC && modes[d[i].mode] ? modes[d[i].mode] : "?");
		out_cell_u64(d[i].xdp_id);
		out_cell_u64(d[i].tc_id);
		out_row_end();
	}
	out_table_end();
	return 0;
}

/* argv[0] is "decap". 0, 1 (failed) or 2 (bad arguments). */
int decap_main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	__u32 mode = LIMPET_XDP_NATIVE;
	int ret;

	if (!strcmp(sub, "attach") && (argc == 4 || argc == 6) && !strcmp(argv[2], "dev")) {
		if (argc == 6 && (strcmp(argv[4], "mode") ||
				  (strcmp(argv[5], "skb") && strcmp(argv[5], "native") &&
				   strcmp(argv[5], "tc"))))
			return 2;
		if (argc == 6 && !strcmp(argv[5], "skb"))
			mode = LIMPET_XDP_SKB;
		if (argc == 6 && !strcmp(argv[5], "tc"))
			mode = LIMPET_DECAP_MODE_TC;
		ret = decap_attach(instance, argv[3], mode, err, sizeof(err));
	} else if (!strcmp(sub, "detach") && argc == 4 && !strcmp(argv[2], "dev")) {
		ret = decap_detach(instance, argv[3], err, sizeof(err));
	} else if (!strcmp(sub, "vip") && argc == 4 &&
		   (!strcmp(argv[2], "add") || !strcmp(argv[2], "del"))) {
		ret = decap_vip_set(instance, argv[3], !strcmp(argv[2], "add"), err, sizeof(err));
	} else if (!strcmp(sub, "vip") && argc == 3 && !strcmp(argv[2], "list")) {
		return decap_show(false);
	} else if (!strcmp(sub, "stats") && argc == 2) {
		return decap_show(true);
	} else if (!strcmp(sub, "status") && argc == 2) {
		return decap_status();
	} else if (!strcmp(sub, "destroy") && argc == 2) {
		int ndev = 0;

		ret = decap_destroy(instance, &ndev, err, sizeof(err));
		if (!ret) {
			out_kv_str("destroyed", instance);
			out_kv_u64("devices", ndev);
		}
	} else {
		return 2;
	}
	if (ret)
		out_error("%s", err);
	return ret ? 1 : 0;
}
