// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Sizes of the tables that grow with clients: chosen when an instance is created (or from the
 * machine's memory), read back from its pins later, and how full and how large they are.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "liblimpet.h"

const char *const table_names[TBL_MAX] = {
	[TBL_FLOWS] = LIMPET_STR(MAP_NAME_FLOWS),
	[TBL_HALFOPEN] = LIMPET_STR(MAP_NAME_HALFOPEN),
	[TBL_AFFINITY] = LIMPET_STR(MAP_NAME_AFFINITY),
};

static __u32 floor_pow2(__u64 n)
{
	__u32 p = 1;

	while ((__u64)p * 2 <= n && p < (1u << 31))
		p *= 2;
	return p;
}

/* 1/64 of the memory for the three tables, at ~384 bytes per established connection
 * (its flows entry, a quarter of a halfopen entry, one affinity), rounded down to a power of two:
 * 524,288 flows on a VM with 23.4 GiB.
 */
void tables_default(__u32 sizes[TBL_MAX])
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
	__u64 mem = pages > 0 && psz > 0 ? (__u64)pages * (__u64)psz : 1ULL << 30;
	__u32 flows = floor_pow2(mem / 64 / 384);

	if (flows < 65536)
		flows = 65536;
	if (flows > LIMPET_TABLE_MAX)
		flows = LIMPET_TABLE_MAX;
	sizes[TBL_FLOWS] = flows;
	sizes[TBL_HALFOPEN] = flows / 4;
	sizes[TBL_AFFINITY] = flows;
}

/* The sizes of an existing instance's pinned tables: 0, or -ENOENT for a new instance. */
int tables_pinned(const char *dir, __u32 sizes[TBL_MAX])
{
	for (int t = 0; t < TBL_MAX; t++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[256];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, table_names[t]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -ENOENT;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			return -errno;
		}
		close(fd);
		sizes[t] = info.max_entries;
	}
	return 0;
}

static int count_one(const void *key, const void *val, void *ctx)
{
	(*(__u64 *)ctx)++;
	return 0;
}

/* A table's size, fill (read in batches) and kernel memory (memlock from fdinfo). */
int table_usage(int fd, struct table_usage *u)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[64], line[128];
	FILE *f;
	int ret;

	memset(u, 0, sizeof(*u));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	u->size = info.max_entries;
	ret = map_scan(fd, info.key_size, info.value_size, count_one, &u->used);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", (unsigned long long *)&u->memory) == 1)
			break;
	if (f)
		fclose(f);
	return ret;
}
