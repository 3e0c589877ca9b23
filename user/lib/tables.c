// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Sizes of the tables that grow with clients: chosen when an instance is created (or from the
 * machine's memory), read back from its pins later, and how full and how large they are.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "liblimpet.h"
#include "limpet_count.skel.h"

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

/* Whole records of the map-count iterator into r (room for n); how many, or -errno. */
static int counts_read(int fd, struct map_count *r, int n)
{
	size_t got = 0;
	ssize_t k;

	while (got < n * sizeof(*r) &&
	       (k = read(fd, (char *)r + got, n * sizeof(*r) - got)) > 0)
		got += k;
	return k < 0 && got == 0 ? -errno : (int)(got / sizeof(*r));
}

int map_counts(const __u32 *ids, int n, __s64 *counts)
{
	struct limpet_count *skel = limpet_count__open_and_load();
	struct map_count r[256];
	struct bpf_link *link = NULL;
	int fd = -1, got = 0, ret = 0;

	for (int i = 0; i < n; i++)
		counts[i] = -1;
	if (!skel || !(link = bpf_program__attach_iter(skel->progs.limpet_count, NULL)) ||
	    (fd = bpf_iter_create(bpf_link__fd(link))) < 0)
		ret = errno ? -errno : -EOPNOTSUPP;
	while (!ret && (got = counts_read(fd, r, 256)) > 0)
		for (int j = 0; j < got; j++)
			for (int i = 0; i < n; i++)
				if (r[j].id == ids[i])
					counts[i] = r[j].count;
	if (!ret && got < 0)
		ret = got;
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	limpet_count__destroy(skel);
	return ret;
}

/* Kernel memory of a map: memlock in its fdinfo. */
static __u64 map_memory(int fd)
{
	char path[64], line[128];
	unsigned long long m = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &m) == 1)
			break;
	if (f)
		fclose(f);
	return m;
}

void tables_usage(const int fds[TBL_MAX], struct table_usage u[TBL_MAX], bool ok[TBL_MAX])
{
	__u32 ids[TBL_MAX], ks[TBL_MAX], vs[TBL_MAX];
	__s64 counts[TBL_MAX];
	int kc;

	for (int t = 0; t < TBL_MAX; t++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		memset(&u[t], 0, sizeof(u[t]));
		ok[t] = !bpf_obj_get_info_by_fd(fds[t], &info, &len);
		ids[t] = info.id;
		ks[t] = info.key_size;
		vs[t] = info.value_size;
		u[t].size = info.max_entries;
		u[t].memory = ok[t] ? map_memory(fds[t]) : 0;
	}
	kc = map_counts(ids, TBL_MAX, counts);
	for (int t = 0; t < TBL_MAX; t++) {
		if (!ok[t])
			continue;
		if (!kc && counts[t] >= 0)
			u[t].used = counts[t];
		else /* a kernel without the count: walk the table */
			ok[t] = !map_scan(fds[t], ks[t], vs[t], count_one, &u[t].used);
	}
}
