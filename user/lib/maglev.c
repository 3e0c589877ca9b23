// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Maglev lookup tables (Eisenbud et al., NSDI '16), weighted, from the set of backends alone:
 * backends are sorted by address first, so every host and every insertion order gets the same
 * table (docs/design.md §3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <limpet/hash.h>
#include "liblimpet.h"

static int backend_cmp(const void *a, const void *b)
{
	const struct maglev_backend *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family - y->family;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return (int)x->port - (int)y->port;
}

int maglev_build(const struct maglev_backend *in, int n, __u32 m, __u32 seed, __u32 *table)
{
	struct maglev_backend *bs;
	__u32 *offset, *skip, *next, filled = 0;
	int i, ret = 0;

	if (n <= 0 || m < 2 || !is_prime(m))
		return -EINVAL;
	bs = malloc(n * sizeof(*bs));
	offset = malloc(n * sizeof(*offset));
	skip = malloc(n * sizeof(*skip));
	next = calloc(n, sizeof(*next));
	if (!bs || !offset || !skip || !next) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(bs, in, n * sizeof(*bs));
	qsort(bs, n, sizeof(*bs), backend_cmp);
	for (i = 0; i < n; i++) {
		__u32 extra = (__u32)bs[i].port << 8 | bs[i].family;

		if (!bs[i].weight || (i && !backend_cmp(&bs[i - 1], &bs[i]))) {
			ret = -EINVAL; /* weight 0 or the same backend twice */
			goto out;
		}
		offset[i] = limpet_hash5(bs[i].addr, extra, seed) % m;
		skip[i] = limpet_hash5(bs[i].addr, extra, seed ^ 0x9e3779b9u) % (m - 1) + 1;
	}
	for (__u32 j = 0; j < m; j++)
		table[j] = LIMPET_NO_BACKEND;

	/* Each round, a backend claims as many free slots as its weight, each the next free one
	 * in its own permutation (offset + k * skip) mod m.
	 */
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			for (__u32 w = 0; w < bs[i].weight && filled < m; w++) {
				__u32 c = (__u32)(((__u64)offset[i] + (__u64)next[i] * skip[i]) % m);

				while (table[c] != LIMPET_NO_BACKEND) {
					next[i]++;
					c = (__u32)(((__u64)offset[i] + (__u64)next[i] * skip[i]) % m);
				}
				table[c] = bs[i].id;
				next[i]++;
				filled++;
			}
		}
	}
out:
	free(bs);
	free(offset);
	free(skip);
	free(next);
	return ret;
}
