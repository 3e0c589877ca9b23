// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Sizes of the tables that grow with clients: chosen when an instance is created (or from the
 * machine's memory), read back from its pins later, and how full and how large they are.
 */
#include <errno.h>
#include <pthread.h>
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

/* The count iterator, loaded at the first count and kept for the process's life: the daemon's
 * scrapes (every few seconds, from the metrics thread) would otherwise each load and verify it,
 * parsing the kernel's BTF and leaving an audit record per load. A load that failed is not
 * tried again (the callers walk the tables instead).
 */
static struct {
	pthread_mutex_t lock;
	struct limpet_count *skel;
	struct bpf_link *link;
	int failed; /* -errno of the load, or 0 */
} count_iter = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A new read of the kept iterator: its fd, or -errno. Under count_iter.lock. */
static int count_iter_open(void)
{
	int fd;

	if (!count_iter.link && !count_iter.failed) {
		count_iter.skel = limpet_count__open_and_load();
		if (count_iter.skel)
			count_iter.link = bpf_program__attach_iter(count_iter.skel->progs.limpet_count,
								   NULL);
		if (!count_iter.link) {
			count_iter.failed = errno ? -errno : -EOPNOTSUPP;
			limpet_count__destroy(count_iter.skel);
			count_iter.skel = NULL;
		}
	}
	if (count_iter.failed)
		return count_iter.failed;
	fd = bpf_iter_create(bpf_link__fd(count_iter.link));
	return fd < 0 ? -errno : fd;
}

int map_counts(const __u32 *ids, int n, __s64 *counts)
{
	struct map_count r[256];
	int fd, got = 0;

	for (int i = 0; i < n; i++)
		counts[i] = -1;
	pthread_mutex_lock(&count_iter.lock);
	fd = count_iter_open();
	pthread_mutex_unlock(&count_iter.lock);
	if (fd < 0)
		return fd;
	while ((got = counts_read(fd, r, 256)) > 0)
		for (int j = 0; j < got; j++)
			for (int i = 0; i < n; i++)
				if (r[j].id == ids[i])
					counts[i] = r[j].count;
	close(fd);
	return got < 0 ? got : 0;
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
