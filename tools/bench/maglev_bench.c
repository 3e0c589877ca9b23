// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Maglev table build time and quality for 10 / 100 / 1,000 backends at M = 65537 and 655373:
 * build time (median of ROUNDS builds), max/mean slots per backend, and the share of slots that
 * change when one backend is added or removed beside the ideal (1/(n+1) and 1/n).
 *   maglev_bench [ROUNDS]    prints a markdown table
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <limpet/hash.h>
#include "lib/liblimpet.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* n backends 10.1.x.y:80, ids 0..n-1; backend `skip` left out (-1: none) */
static int backends(struct maglev_backend *b, int n, int skip)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		if (i == skip)
			continue;
		memset(&b[k], 0, sizeof(b[k]));
		b[k].id = i;
		b[k].addr[0] = htonl(0x0a010000 + i * 7 + 1);
		b[k].port = 80;
		b[k].family = LIMPET_AF_INET;
		b[k].weight = 1;
		k++;
	}
	return k;
}

static double changed(const __u32 *a, const __u32 *b, __u32 m)
{
	__u32 j, c = 0;

	for (j = 0; j < m; j++)
		c += a[j] != b[j];
	return (double)c / m;
}

int main(int argc, char **argv)
{
	static const int ns[] = { 10, 100, 1000 };
	static const __u32 ms[] = { 65537, 655373 };
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	struct maglev_backend *b = calloc(1001, sizeof(*b));
	double *times = calloc(rounds > 0 ? rounds : 1, sizeof(double));

	if (rounds < 1 || !b || !times) {
		fprintf(stderr, "usage: maglev_bench [ROUNDS>=1]\n");
		return 1;
	}
	printf("| backends | M | build ms (median of %d) | max/mean | add one: slots moved (ideal) | remove one: slots moved (ideal) |\n", rounds);
	printf("|---:|---:|---:|---:|---:|---:|\n");
	for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
			__u32 m = ms[mi], *t = malloc(m * 4), *t2 = malloc(m * 4), j, *cnt, mx = 0;
			int n = ns[ni], k, r;
			double add, del;

			for (r = 0; r < rounds; r++) {
				double t0 = now();

				k = backends(b, n, -1);
				if (maglev_build(b, k, m, LIMPET_HASH_SEED_DEFAULT, t)) {
					fprintf(stderr, "maglev_build failed for %d backends, M %u\n", n, m);
					return 1;
				}
				times[r] = now() - t0;
			}
			qsort(times, rounds, sizeof(double), cmp_d);
			cnt = calloc(n + 1, sizeof(*cnt));
			for (j = 0; j < m; j++)
				cnt[t[j]]++;
			for (k = 0; k < n; k++)
				mx = cnt[k] > mx ? cnt[k] : mx;
			k = backends(b, n + 1, -1);
			maglev_build(b, k, m, LIMPET_HASH_SEED_DEFAULT, t2);
			add = changed(t, t2, m);
			k = backends(b, n, n / 2); /* one from the middle */
			maglev_build(b, k, m, LIMPET_HASH_SEED_DEFAULT, t2);
			del = changed(t, t2, m);
			printf("| %d | %u | %.1f | %.3f | %.2f %% (%.2f %%) | %.2f %% (%.2f %%) |\n", n, m,
			       times[rounds / 2] * 1e3, mx / ((double)m / n), add * 100, 100.0 / (n + 1),
			       del * 100, 100.0 / n);
			free(cnt);
			free(t);
			free(t2);
		}
	}
	return 0;
}
