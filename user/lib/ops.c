// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Control operations on an instance's maps. Every operation validates first and writes last;
 * a failed write is rolled back, so a command either happens whole or not at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <limpet/hash.h>
#include "liblimpet.h"

const char *const reason_names[LIMPET_R_MAX] = LIMPET_REASON_NAMES;
const char *const event_names[LIMPET_EV_MAX] = LIMPET_EVENT_NAMES;
_Static_assert(sizeof((const char *[])LIMPET_EVENT_NAMES) / sizeof(char *) == LIMPET_EV_MAX,
	       "a name for every event");
_Static_assert(sizeof((const char *[])LIMPET_REASON_NAMES) / sizeof(char *) == LIMPET_R_MAX,
	       "a name for every reason");
const char *const tc_reason_names[LIMPET_TC_MAX] = LIMPET_TC_REASON_NAMES;
_Static_assert(sizeof((const char *[])LIMPET_TC_REASON_NAMES) / sizeof(char *) == LIMPET_TC_MAX,
	       "a name for every TC reason");

const char *const mode_names[LIMPET_MODE_MAX] = LIMPET_MODE_NAMES;
_Static_assert(sizeof((const char *[])LIMPET_MODE_NAMES) / sizeof(char *) == LIMPET_MODE_MAX,
	       "a name for every mode");

const char *policy_str(__u8 policy)
{
	switch (policy) {
	case LIMPET_POLICY_IP_HASH:
		return "ip-hash";
	case LIMPET_POLICY_FIVE_TUPLE:
		return "five-tuple";
	case LIMPET_POLICY_TOKEN:
		return "token";
	default:
		return "?";
	}
}

const char *be_state_str(__u8 state)
{
	switch (state) {
	case LIMPET_BE_ACTIVE:
		return "active";
	case LIMPET_BE_DRAINING:
		return "draining";
	default:
		return "free";
	}
}

__u64 mono_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int percpu_zero(int fd, __u32 key, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int ret;

	if (ncpu < 1)
		return -EINVAL;
	zero = calloc(ncpu, (value_size + 7) & ~7UL);
	if (!zero)
		return -ENOMEM;
	ret = bpf_map_update_elem(fd, &key, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return ret;
}

/* Add ncpu per-CPU copies of a value of words __u64s into out. */
static void cpus_add(__u64 *out, const __u64 *v, int ncpu, size_t words)
{
	for (int i = 0; i < ncpu; i++)
		for (size_t w = 0; w < words; w++)
			out[w] += v[i * words + w];
}

_Static_assert(sizeof(struct limpet_stats) == 7 * sizeof(__u64), "limpet_stats: __u64s only");
#define STATS_WORDS (sizeof(struct limpet_stats) / sizeof(__u64))

int stats_sum(int fd, __u32 key, struct limpet_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v;

	memset(out, 0, sizeof(*out));
	if (ncpu < 1)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*out));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return -errno;
	}
	cpus_add((__u64 *)out, v, ncpu, STATS_WORDS);
	free(v);
	return 0;
}

struct percpu_acc {
	__u64 *out;
	__u32 n;
	int ncpu;
	size_t words;
};

static int percpu_add(const void *key, const void *val, void *ctx)
{
	const struct percpu_acc *a = ctx;
	__u32 k = *(const __u32 *)key;

	if (k >= a->n)
		return 1; /* an array's keys come in order: the rest is not wanted */
	cpus_add(a->out + (size_t)k * a->words, val, a->ncpu, a->words);
	return 0;
}

/* Keys 0..n-1 of a per-CPU array of values of words __u64s, each summed over the CPUs into
 * out[key * words ...], in a few batched reads (so all of one moment, near enough), stopping
 * after the batch that holds key n-1. 0 or -errno.
 */
static int percpu_sum(int fd, __u32 n, size_t words, __u64 *out)
{
	struct percpu_acc a = { .out = out, .n = n, .ncpu = libbpf_num_possible_cpus(),
				.words = words };
	int ret;

	memset(out, 0, (size_t)n * words * sizeof(__u64));
	if (a.ncpu < 1)
		return -EINVAL;
	ret = map_scan(fd, sizeof(__u32), (size_t)a.ncpu * words * sizeof(__u64), percpu_add, &a);
	return ret > 0 ? 0 : ret;
}

int stats_sum_all(int fd, __u32 n, struct limpet_stats *out)
{
	return percpu_sum(fd, n, STATS_WORDS, (__u64 *)out);
}

int reasons_sum(int fd, __u64 out[LIMPET_R_MAX])
{
	return counters_sum(fd, LIMPET_R_MAX, out);
}

int counters_sum(int fd, __u32 n, __u64 *out)
{
	return percpu_sum(fd, n, 1, out);
}

const char *token_spec_str(const struct token_spec *ts, char *buf, size_t len)
{
	static const char *const src[] = { "-", "query", "cookie", "header", "udp" };

	if (ts->source == LIMPET_TOK_UDP)
		snprintf(buf, len, "udp offset %u len %u", ts->offset, ts->len);
	else if (ts->source && ts->source < 4)
		snprintf(buf, len, "%s %.*s", src[ts->source], ts->name_len, ts->name);
	else
		snprintf(buf, len, "-");
	return buf;
}

int op_vip_find(struct inst *in, const struct vip_key *k, struct vip_meta *meta)
{
	return bpf_map_lookup_elem(in->fd[IM_VIPS], k, meta) ? -errno : 0;
}

static __u32 config_seed(struct inst *in)
{
	struct limpet_config cfg = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(in->fd[IM_CONFIG], &zero, &cfg))
		return LIMPET_HASH_SEED_DEFAULT;
	return cfg.hash_seed;
}

/* The backends a VIP's Maglev table holds: the active ones that are not down — or, when every
 * active one is down, all of them (fail-open: better a backend that may answer than none);
 * with draining, the draining ones too (the table as it was before they were drained).
 * Fills bs; returns how many.
 */
static int table_members(const struct backend *bes, __u32 vip_id, struct maglev_backend *bs,
			 bool draining)
{
	int n = 0, pass;
	__u32 id;

	for (pass = 0; pass < 2 && !n; pass++) {
		for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
			const struct backend *be = &bes[id];
			bool in = be->state == LIMPET_BE_ACTIVE ||
				  (draining && be->state == LIMPET_BE_DRAINING);

			if (!in || be->vip_id != vip_id ||
			    (pass == 0 && be->health == LIMPET_HEALTH_DOWN))
				continue;
			bs[n].id = id;
			memcpy(bs[n].addr, be->addr, 16);
			bs[n].port = ntohs(be->port);
			bs[n].family = be->family;
			bs[n].weight = be->weight;
			n++;
		}
	}
	return n;
}

/* Slowstart: a backend ramping up (ramp_pct 1-99) gets only that share of the slots it would
 * own; every other slot keeps its owner in the table built without it, so the ramp moves
 * nothing but the slots it hands over (the few other slots a Maglev rebuild shifts move once,
 * when the ramp ends). Which slots go first is fixed per slot: a growing share only adds.
 */
static int table_ramp(struct inst *in, const struct backend *bes, const struct maglev_backend *bs,
		      int n, __u32 m, __u32 *table)
{
	struct maglev_backend *rest;
	__u32 *without, pct[LIMPET_MAX_BACKENDS] = { 0 };
	int i, k = 0, ret;

	for (i = 0; i < n; i++)
		if (bes[bs[i].id].ramp_pct < 100)
			pct[bs[i].id] = bes[bs[i].id].ramp_pct;
	rest = calloc(n, sizeof(*rest));
	without = malloc(m * sizeof(*without));
	for (i = 0; rest && i < n; i++)
		if (!pct[bs[i].id])
			rest[k++] = bs[i];
	ret = !rest || !without ? -ENOMEM : 0;
	if (!ret && k && k < n)
		ret = maglev_build(rest, k, m, config_seed(in), without);
	for (__u32 s = 0; !ret && k && k < n && s < m; s++)
		if (!pct[table[s]] || (s * 2654435761u >> 16) % 100 >= pct[table[s]])
			table[s] = without[s];
	free(rest);
	free(without);
	return ret;
}

/* An array map's n values, in one batch (keys: room for n). */
int array_read(int fd, __u32 n, __u32 *keys, void *vals)
{
	__u32 out, count = n;

	return bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, NULL) && errno != ENOENT ?
		       -errno : (count == n ? 0 : -EIO);
}

int backends_read(struct inst *in, struct backend *bes)
{
	__u32 *keys = malloc(LIMPET_MAX_BACKENDS * sizeof(*keys));
	int ret = keys ? array_read(in->fd[IM_BACKENDS], LIMPET_MAX_BACKENDS, keys, bes) : -ENOMEM;

	free(keys);
	return ret;
}

__u32 backends_span(const struct backend *bes)
{
	__u32 n = LIMPET_MAX_BACKENDS;

	while (n && bes[n - 1].state == LIMPET_BE_FREE)
		n--;
	return n;
}

int backends_get(struct inst *in, struct backend **bes)
{
	int ret;

	*bes = malloc(LIMPET_MAX_BACKENDS * sizeof(**bes));
	ret = *bes ? backends_read(in, *bes) : -ENOMEM;
	if (ret) {
		free(*bes);
		*bes = NULL;
	}
	return ret;
}

/* An ipip VIP's second chance (table[m, 2m)): each slot's previous owner — the old owner when
 * the slot changed hands, else the one it had before — while that backend still serves the VIP.
 */
static void table_previous(struct inst *in, const struct backend *bes,
			   const struct vip_meta *meta, __u32 *table)
{
	__u32 m = meta->maglev_m, id = meta->vip_id, inner, n, *old = NULL, *keys = NULL, s, o, q;
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	bool serves[LIMPET_MAX_BACKENDS] = { false };
	int fd = -1;

	for (s = 0; s < m; s++)
		table[m + s] = LIMPET_NO_BACKEND;
	if (bpf_map_lookup_elem(in->fd[IM_MAGLEV], &id, &inner))
		return;
	fd = bpf_map_get_fd_by_id(inner);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &ilen) || info.max_entries < m)
		goto out;
	n = info.max_entries;
	old = malloc(n * sizeof(*old));
	keys = malloc(n * sizeof(*keys));
	if (!old || !keys || array_read(fd, n, keys, old))
		goto out;
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		serves[id] = bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == meta->vip_id;
	for (s = 0; s < m; s++) {
		o = old[s];
		q = n >= 2 * m ? old[m + s] : LIMPET_NO_BACKEND;
		if (o != table[s] && o < LIMPET_MAX_BACKENDS && serves[o])
			table[m + s] = o;
		else if (q != table[s] && q < LIMPET_MAX_BACKENDS && serves[q])
			table[m + s] = q;
	}
out:
	free(old);
	free(keys);
	if (fd >= 0)
		close(fd);
}

/* Second chance from the configuration alone, for slots the tables' history names nobody for
 * (a table built fresh, as on a host restarted while a backend drains): a slot a draining backend
 * would own were it active names it — where its connections are, as every host computes alike.
 */
static int table_previous_drained(struct inst *in, const struct backend *bes,
				  const struct vip_meta *meta, __u32 *table)
{
	struct maglev_backend *bs = NULL;
	__u32 m = meta->maglev_m, *with = NULL, s, id, o;
	int n, ret = 0;

	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (bes[id].state == LIMPET_BE_DRAINING && bes[id].vip_id == meta->vip_id)
			break;
	if (id == LIMPET_MAX_BACKENDS)
		return 0;
	bs = calloc(LIMPET_MAX_BACKENDS, sizeof(*bs));
	with = malloc(m * sizeof(*with));
	ret = bs && with ? 0 : -ENOMEM;
	n = ret ? 0 : table_members(bes, meta->vip_id, bs, true);
	if (n)
		ret = maglev_build(bs, n, m, config_seed(in), with);
	for (s = 0; n && !ret && s < m; s++) {
		o = with[s];
		if (table[m + s] == LIMPET_NO_BACKEND && o != table[s] && o < LIMPET_MAX_BACKENDS &&
		    bes[o].state == LIMPET_BE_DRAINING)
			table[m + s] = o;
	}
	free(bs);
	free(with);
	return ret;
}

/* A new inner table holding table[0..slots): mapped into memory and copied (its template says
 * BPF_F_MMAPABLE), or, with mmapable false, written in one batch. Its fd, or -errno. An array
 * map's values lie 8 bytes apart (the kernel rounds value_size up to 8), so a 4-byte slot is
 * written every other word.
 */
static int table_map(const __u32 *table, __u32 slots, bool mmapable)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_INNER_MAP);
	size_t len = slots * 8ul;
	__u32 count = slots, *keys = NULL;
	void *mem = MAP_FAILED;
	int fd, ret = 0;

	if (mmapable)
		copts.map_flags |= BPF_F_MMAPABLE;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "limpet_maglev", 4, 4, slots, &copts);
	if (fd < 0)
		return -errno;
	if (mmapable) {
		mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem == MAP_FAILED)
			ret = -errno;
		for (__u32 i = 0; !ret && i < slots; i++)
			((__u32 *)mem)[2 * i] = table[i];
	} else if ((keys = malloc(slots * sizeof(*keys)))) {
		for (__u32 i = 0; i < slots; i++)
			keys[i] = i;
		ret = bpf_map_update_batch(fd, keys, table, &count, NULL) ? -errno : 0;
	} else {
		ret = -ENOMEM;
	}
	if (mem != MAP_FAILED)
		munmap(mem, len);
	free(keys);
	if (ret)
		close(fd);
	return ret ? ret : fd;
}

/* Swap VIP vip_id's table for one holding table[0..slots). An instance made by a limpet from
 * before mmapable tables refuses one (its template lacks the flag: EINVAL): written in a batch.
 */
static int table_swap(struct inst *in, __u32 vip_id, const __u32 *table, __u32 slots)
{
	int ret = -EINVAL;

	for (int mmapable = 1; mmapable >= 0 && ret == -EINVAL; mmapable--) {
		int fd = table_map(table, slots, mmapable);

		ret = fd < 0 ? fd :
		      bpf_map_update_elem(in->fd[IM_MAGLEV], &vip_id, &fd, BPF_ANY) ? -errno : 0;
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

/* Build the VIP's table from its active backends off to the side, then swap the slot. */
int op_table_rebuild(struct inst *in, const struct vip_meta *meta)
{
	struct maglev_backend *bs = calloc(LIMPET_MAX_BACKENDS, sizeof(*bs));
	struct backend *bes = NULL;
	__u32 id = meta->vip_id, m = meta->maglev_m, *table = NULL, slots;
	int n = 0, ret = bs ? backends_get(in, &bes) : -ENOMEM;

	if (ret)
		goto out;
	n = table_members(bes, meta->vip_id, bs, false);
	if (!n) {
		ret = bpf_map_delete_elem(in->fd[IM_MAGLEV], &id) && errno != ENOENT ? -errno : 0;
		goto out;
	}
	slots = meta->mode == LIMPET_MODE_IPIP ? 2 * m : m; /* ipip: and each slot's previous owner */
	table = malloc(slots * sizeof(*table));
	if (!table) {
		ret = -ENOMEM;
		goto out;
	}
	ret = maglev_build(bs, n, m, config_seed(in), table);
	if (!ret)
		ret = table_ramp(in, bes, bs, n, m, table);
	if (ret)
		goto out;
	if (slots > m) {
		table_previous(in, bes, meta, table);
		ret = table_previous_drained(in, bes, meta, table);
	}
	if (!ret)
		ret = table_swap(in, id, table, slots);
out:
	free(bs);
	free(bes);
	free(table);
	return ret;
}

/* Keys gathered while iterating a map, deleted after: deleting while iterating skips keys. */
struct key_list {
	void *keys;
	size_t n, cap, size;
};

static int key_list_push(struct key_list *l, const void *key)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *k = realloc(l->keys, cap * l->size);

		if (!k)
			return -ENOMEM;
		l->keys = k;
		l->cap = cap;
	}
	memcpy((char *)l->keys + l->n++ * l->size, key, l->size);
	return 0;
}

#define SCAN_BATCH 4096
#define SCAN_VALUES_MAX (4u << 20) /* bytes of values a batch reads at most */

/* A few syscalls for 262,144 entries, where a key-by-key walk takes seconds. */
int map_scan(int fd, size_t ksize, size_t vsize,
	     int (*fn)(const void *key, const void *val, void *ctx), void *ctx)
{
	__u32 per = SCAN_BATCH, token = 0, count;
	void *keys, *vals, *batch = NULL;
	int more = 1, ret = 0;

	while (per > 64 && per * vsize > SCAN_VALUES_MAX) /* per-CPU values on many CPUs */
		per /= 2;
	keys = calloc(per, ksize);
	vals = calloc(per, vsize);
	if (!keys || !vals)
		ret = -ENOMEM;
	while (more && !ret) {
		count = per;
		if (bpf_map_lookup_batch(fd, batch, &token, keys, vals, &count, NULL)) {
			if (errno != ENOENT) {
				ret = -errno;
				break;
			}
			more = 0; /* the last (possibly empty) batch */
		}
		batch = &token;
		for (__u32 i = 0; i < count && !ret; i++)
			ret = fn((char *)keys + i * ksize, (char *)vals + i * vsize, ctx);
	}
	free(keys);
	free(vals);
	return ret;
}

/* Delete n keys in as few syscalls as possible; a key already gone (LRU eviction, the datapath)
 * is skipped. Returns how many were deleted.
 */
static size_t delete_keys(int fd, const void *keys, size_t n, size_t ksize)
{
	size_t i = 0, done = 0;

	while (i < n) {
		__u32 c = n - i > SCAN_BATCH ? SCAN_BATCH : n - i;
		int ret = bpf_map_delete_batch(fd, (const char *)keys + i * ksize, &c, NULL);

		i += c;
		done += c;
		if (ret && errno == ENOENT)
			i++; /* c stopped at the missing key */
		else if (ret) /* no batch support: one at a time */
			for (; i < n; i++)
				done += !bpf_map_delete_elem(fd, (const char *)keys + i * ksize);
	}
	return done;
}

struct aff_flush {
	int vip_id;         /* -1: every VIP */
	const bool *of;     /* by backend id; NULL: every backend */
	struct key_list del;
};

static int aff_flush_one(const void *key, const void *val, void *ctx)
{
	const struct affinity_key *k = key;
	const struct affinity_val *v = val;
	struct aff_flush *f = ctx;

	if (f->vip_id >= 0 && k->vip_id != (__u32)f->vip_id)
		return 0;
	if (f->of && (v->backend_id >= LIMPET_MAX_BACKENDS || !f->of[v->backend_id]))
		return 0;
	return key_list_push(&f->del, k);
}

static int affinity_flush(struct inst *in, int vip_id, const bool *of)
{
	struct aff_flush f = { vip_id, of, { .size = sizeof(struct affinity_key) } };
	int fd = in->fd[IM_AFFINITY];
	int ret = map_scan(fd, sizeof(struct affinity_key), sizeof(struct affinity_val),
			   aff_flush_one, &f);

	if (!ret)
		ret = (int)delete_keys(fd, f.del.keys, f.del.n, f.del.size);
	free(f.del.keys);
	return ret;
}

int op_affinity_flush(struct inst *in, int vip_id, int backend_id)
{
	bool of[LIMPET_MAX_BACKENDS] = { false };

	if (backend_id < 0 || backend_id >= LIMPET_MAX_BACKENDS)
		return affinity_flush(in, vip_id, NULL);
	of[backend_id] = true;
	return affinity_flush(in, vip_id, of);
}

/* The affinities of VIP vip_id that name one of n backend ids: one walk of the table for all. */
static int affinity_flush_ids(struct inst *in, __u32 vip_id, const __u32 *ids, int n)
{
	bool *of = calloc(LIMPET_MAX_BACKENDS, sizeof(*of));
	int ret = -ENOMEM;

	for (int i = 0; of && i < n; i++)
		of[ids[i] % LIMPET_MAX_BACKENDS] = true;
	if (of)
		ret = affinity_flush(in, vip_id, of);
	free(of);
	return ret;
}

/* Options a VIP cannot have, whatever the instance holds: -EINVAL with err. apply checks a
 * whole file with it before it changes anything; op_vip_add checks again.
 */
int vip_opts_check(const struct vip_key *k, const struct vip_opts *o, char *err, size_t errlen)
{
	char vs[80], what[100];

	snprintf(what, sizeof(what), "add vip %s: ", vip_str(k, vs, sizeof(vs)));
	if (k->family == LIMPET_AF_INET && o->prefix6_set) {
		snprintf(err, errlen, "%sprefix6 applies to IPv6 VIPs; use prefix", what);
		return -EINVAL;
	}
	if (k->family == LIMPET_AF_INET6 && o->prefix4_set) {
		snprintf(err, errlen, "%sprefix applies to IPv4 VIPs; use prefix6", what);
		return -EINVAL;
	}
	if (o->dsr.src_plen && o->mode != LIMPET_MODE_IPIP) {
		snprintf(err, errlen, "%sencap-source needs mode ipip", what);
		return -EINVAL;
	}
	if (o->mode != LIMPET_MODE_NAT && o->policy == LIMPET_POLICY_TOKEN && k->proto == IPPROTO_TCP) {
		snprintf(err, errlen, "%sa TCP token VIP needs mode nat (binding a session "
			 "needs both directions; DSR replies bypass limpet)", what);
		return -EINVAL;
	}
	if (o->policy == LIMPET_POLICY_TOKEN) {
		bool udp_tok = o->token.source == LIMPET_TOK_UDP;

		if (udp_tok != (k->proto == IPPROTO_UDP)) {
			snprintf(err, errlen, "%s%s", what, udp_tok ?
				 "token udp needs a UDP VIP" :
				 "UDP VIPs take 'token udp offset O len L'");
			return -EINVAL;
		}
		if (o->syn_data && udp_tok) {
			snprintf(err, errlen, "%ssyn-data applies to TCP token VIPs", what);
			return -EINVAL;
		}
	}
	return 0;
}

static int vip_filter_mark(const void *key, const void *val, void *ctx)
{
	__u32 b = limpet_vip_bucket(((const struct vip_key *)key)->addr);

	(void)val;
	((__u64 *)ctx)[b / 64] &= ~(1ULL << (b % 64));
	return 0;
}

int vip_filter_sync(int vips_fd, int filter_fd, const struct vip_key *extra)
{
	__u64 bits[LIMPET_VIP_FILTER_WORDS];
	__u32 w[LIMPET_VIP_FILTER_WORDS], count = LIMPET_VIP_FILTER_WORDS;
	int ret;

	memset(bits, 0xff, sizeof(bits));
	ret = map_scan(vips_fd, sizeof(struct vip_key), sizeof(struct vip_meta), vip_filter_mark,
		       bits);
	if (ret)
		return ret;
	if (extra)
		vip_filter_mark(extra, NULL, bits);
	for (__u32 i = 0; i < LIMPET_VIP_FILTER_WORDS; i++)
		w[i] = i;
	return bpf_map_update_batch(filter_fd, w, bits, &count, NULL) ? -errno : 0;
}

static int vip_id_used(const void *key, const void *val, void *ctx)
{
	__u32 id = ((const struct vip_meta *)val)->vip_id;

	(void)key;
	if (id < LIMPET_MAX_VIPS)
		((bool *)ctx)[id] = true;
	return 0;
}

int op_vip_add(struct inst *in, const struct vip_key *k, const struct vip_opts *o, char *err,
	       size_t errlen)
{
	bool used[LIMPET_MAX_VIPS] = { false };
	struct vip_meta meta = {}, m;
	char vs[80];
	__u32 id;
	int ret;

	vip_str(k, vs, sizeof(vs));
	if (!op_vip_find(in, k, &m)) {
		snprintf(err, errlen, "add vip %s: vip already exists", vs);
		return -EEXIST;
	}
	ret = vip_opts_check(k, o, err, errlen);
	if (ret)
		return ret;
	ret = map_scan(in->fd[IM_VIPS], sizeof(struct vip_key), sizeof(struct vip_meta), vip_id_used,
		       used);
	if (ret) {
		snprintf(err, errlen, "add vip %s: read the VIPs: %s", vs, strerror(-ret));
		return ret;
	}
	for (id = 0; id < LIMPET_MAX_VIPS && used[id]; id++)
		;
	if (id == LIMPET_MAX_VIPS) {
		snprintf(err, errlen, "add vip %s: too many VIPs (limit %d)", vs, LIMPET_MAX_VIPS);
		return -ENOSPC;
	}
	meta.vip_id = id;
	meta.policy = o->policy;
	meta.mode = o->mode;
	meta.prefix4 = o->prefix4_set ? o->prefix4 : 32;
	meta.prefix6 = o->prefix6_set ? o->prefix6 : 128;
	meta.affinity_ttl = o->affinity_ttl;
	meta.maglev_m = o->table_size ? o->table_size : LIMPET_MAGLEV_M_DEFAULT;
	prefix_mask(k->family, k->family == LIMPET_AF_INET ? meta.prefix4 : meta.prefix6,
		    meta.src_mask);
	if (o->syn_data)
		meta.flags |= LIMPET_VIP_F_SYN_DATA;
	if (o->policy == LIMPET_POLICY_TOKEN && o->token.fallback == LIMPET_POLICY_FIVE_TUPLE)
		meta.flags |= LIMPET_VIP_F_FALLBACK_5T;
	if (o->check.on_down_reset)
		meta.flags |= LIMPET_VIP_F_ON_DOWN_RESET;

	/* a recycled id must not inherit counters, a table or affinities */
	ret = percpu_zero(in->fd[IM_VIP_STATS], id, sizeof(struct limpet_stats));
	if (!ret && bpf_map_delete_elem(in->fd[IM_MAGLEV], &id) && errno != ENOENT)
		ret = -errno;
	if (!ret)
		op_affinity_flush(in, id, -1);
	if (!ret && bpf_map_update_elem(in->fd[IM_TOKENS], &id, &o->token, BPF_ANY))
		ret = -errno;
	if (!ret && bpf_map_update_elem(in->fd[IM_CHECKS], &id, &o->check, BPF_ANY))
		ret = -errno;
	if (!ret && bpf_map_update_elem(in->fd[IM_DSR], &id, &o->dsr, BPF_ANY))
		ret = -errno;
	/* the filter lets the address through before the VIP exists */
	if (!ret)
		ret = vip_filter_sync(in->fd[IM_VIPS], in->fd[IM_VIP_FILTER], k);
	if (!ret && bpf_map_update_elem(in->fd[IM_VIPS], k, &meta, BPF_NOEXIST))
		ret = -errno;
	if (ret)
		snprintf(err, errlen, "add vip %s: %s", vs, strerror(-ret));
	return ret;
}

/* VIP k's meta, and its name in vs; -ENOENT with "WHAT vip K: vip not found" in err. */
static int vip_locate(struct inst *in, const struct vip_key *k, const char *what,
		      struct vip_meta *meta, char *vs, size_t vslen, char *err, size_t errlen)
{
	vip_str(k, vs, vslen);
	if (!op_vip_find(in, k, meta))
		return 0;
	snprintf(err, errlen, "%s vip %s: vip not found", what, vs);
	return -ENOENT;
}

int op_vip_del(struct inst *in, const struct vip_key *k, char *err, size_t errlen)
{
	static const struct backend none;
	struct backend *bes = NULL;
	struct vip_meta meta;
	char vs[80];
	__u32 id;
	int ret = backends_get(in, &bes);

	if (ret) {
		snprintf(err, errlen, "delete vip: read the backends: %s", strerror(-ret));
		free(bes);
		return ret;
	}
	if (vip_locate(in, k, "delete", &meta, vs, sizeof(vs), err, errlen)) {
		free(bes);
		return -ENOENT;
	}
	/* stop matching first; then nothing can select the backends being freed */
	if (bpf_map_delete_elem(in->fd[IM_VIPS], k)) {
		ret = -errno;
		snprintf(err, errlen, "delete vip %s: %s", vs, strerror(-ret));
		free(bes);
		return ret;
	}
	id = meta.vip_id;
	bpf_map_delete_elem(in->fd[IM_MAGLEV], &id);
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == meta.vip_id)
			bpf_map_update_elem(in->fd[IM_BACKENDS], &id, &none, BPF_ANY);
	free(bes);
	op_affinity_flush(in, meta.vip_id, -1);
	op_reverse_sync(in);
	vip_filter_sync(in->fd[IM_VIPS], in->fd[IM_VIP_FILTER], NULL); /* failing: lookups stay */
	return 0;
}

/* Resolve "ADDR[:PORT]" against a VIP in mode: the family must be the VIP's, but an ipip IPv4
 * VIP may have IPv6 backends (IPv4 in IPv6); the port defaults to the VIP's.
 */
static int backend_resolve(const struct vip_key *k, __u8 mode, const char *spec, const char *what,
			   struct l_addr *a, __be16 *port, char *err, size_t errlen)
{
	char vs[80];
	bool has_port;
	__u16 p;
	int ret;

	vip_str(k, vs, sizeof(vs));
	ret = backend_parse(spec, a, &p, &has_port, err, errlen);
	if (ret)
		return ret;
	if (a->family != k->family &&
	    (mode != LIMPET_MODE_IPIP || a->family != LIMPET_AF_INET6)) {
		snprintf(err, errlen, "%s backend %s to vip %s: address family differs from the VIP's "
			 "(only an IPv4 VIP in mode ipip takes IPv6 backends)", what, spec, vs);
		return -EINVAL;
	}
	if (has_port && !k->port) {
		/* its replies could not name the client's port: the reverse map keys on it */
		snprintf(err, errlen, "%s backend %s to vip %s: a port-0 VIP keeps the client's port; "
			 "give the backend no port", what, spec, vs);
		return -EINVAL;
	}
	*port = has_port ? htons(p) : k->port;
	return 0;
}

int backend_endpoint(const struct vip_key *k, __u8 mode, const char *spec, __u32 addr[4],
		     __u8 *family, __be16 *port, char *err, size_t errlen)
{
	struct l_addr a;
	int ret = backend_resolve(k, mode, spec, "add", &a, port, err, errlen);

	if (!ret) {
		memcpy(addr, a.a, 16);
		*family = a.family;
	}
	return ret;
}

/* The id of VIP vip_id's backend at address a and port among bes (by id), or -ENOENT. */
static int backend_index(const struct backend *bes, __u32 vip_id, const struct l_addr *a,
			 __be16 port)
{
	for (__u32 id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == vip_id &&
		    bes[id].family == a->family && bes[id].port == port &&
		    !memcmp(bes[id].addr, a->a, 16))
			return id;
	return -ENOENT;
}

static int backend_find(struct inst *in, __u32 vip_id, const struct l_addr *a, __be16 port,
			struct backend *out)
{
	struct backend *bes = NULL;
	int id = backends_get(in, &bes);

	if (!id)
		id = backend_index(bes, vip_id, a, port);
	if (id >= 0 && out)
		*out = bes[id];
	free(bes);
	return id;
}

/* "backend SPEC" or "N backends", for an error about a batch of new backends. */
static const char *batch_what(const struct be_new *bn, int n, char *buf, size_t len)
{
	if (n == 1)
		snprintf(buf, len, "backend %s", bn[0].spec);
	else
		snprintf(buf, len, "%d backends", n);
	return buf;
}

/* A free id for a new backend: a free slot, else (with the instance full) one of the backends
 * leaving in the same change, so a replacement never needs more room than the end result.
 */
static int backend_free_id(const struct backend *bes, bool *leaving)
{
	__u32 id;

	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		if (bes[id].state == LIMPET_BE_FREE)
			return id;
	for (id = 0; leaving && id < LIMPET_MAX_BACKENDS; id++)
		if (leaving[id]) {
			leaving[id] = false;
			return id;
		}
	return -ENOSPC;
}

/* Check new backends of one VIP against the instance's (bes, by id; those marked in leaving
 * go in the same change) and each other, and give each an id (ids), filling its slot in bes;
 * -errno with err naming the first that fails.
 */
static int backends_plan(const struct vip_key *k, const struct vip_meta *meta,
			 struct backend *bes, bool *leaving, const struct be_new *bn, int n,
			 __u32 *ids, char *err, size_t errlen)
{
	__u32 count = 0, limit = maglev_backends_max(meta->maglev_m), id;
	struct l_addr a;
	__be16 port;
	char vs[80];
	int i, ret;

	vip_str(k, vs, sizeof(vs));
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++)
		count += bes[id].state != LIMPET_BE_FREE && bes[id].vip_id == meta->vip_id &&
			 !(leaving && leaving[id]);
	for (i = 0; i < n; i++) {
		ret = backend_resolve(k, meta->mode, bn[i].spec, "add", &a, &port, err, errlen);
		if (ret)
			return ret;
		if (meta->mode != LIMPET_MODE_NAT && port != k->port) {
			snprintf(err, errlen, "add backend %s to vip %s: an %s VIP's packets keep their "
				 "port; give the backend without one", bn[i].spec, vs,
				 mode_names[meta->mode]);
			return -EINVAL;
		}
		ret = backend_index(bes, meta->vip_id, &a, port);
		if (ret >= 0 && !(leaving && leaving[ret])) {
			snprintf(err, errlen, "add backend %s to vip %s: backend already exists",
				 bn[i].spec, vs);
			return -EEXIST;
		}
		if (count++ >= limit) {
			snprintf(err, errlen, "add backend %s to vip %s: too many backends (table-size "
				 "%u allows %u)", bn[i].spec, vs, meta->maglev_m, limit);
			return -ENOSPC;
		}
		ret = backend_free_id(bes, leaving);
		if (ret < 0) {
			snprintf(err, errlen, "add backend %s to vip %s: too many backends in this "
				 "instance (limit %d)", bn[i].spec, vs, LIMPET_MAX_BACKENDS);
			return ret;
		}
		ids[i] = ret;
		bes[ret] = (struct backend){ .port = port, .family = a.family, .state = bn[i].state,
					     .weight = bn[i].weight, .vip_id = meta->vip_id };
		memcpy(bes[ret].addr, a.a, 16);
	}
	return 0;
}

/* Whether a backend comes to slot id (comes: nb holds one ob did not, or another) or goes from
 * it (ob held one nb does not, or another).
 */
static bool backend_swapped(const struct backend *ob, const struct backend *nb, __u32 id,
			    bool comes)
{
	const struct backend *a = &ob[id], *b = &nb[id];
	const struct backend *moving = comes ? b : a, *other = comes ? a : b;

	if (moving->state == LIMPET_BE_FREE)
		return false;
	return other->state == LIMPET_BE_FREE || a->family != b->family || a->port != b->port ||
	       memcmp(a->addr, b->addr, 16);
}

/* The ids among ids[0..n) whose backend comes (or goes): their affinities go (a new backend's
 * id may be named by an old one's); those that come start at zero counters. How many, or -errno.
 */
static int backends_fresh(struct inst *in, const struct vip_meta *meta,
			  const struct backend *ob, const struct backend *nb, const __u32 *ids,
			  int n, bool comes)
{
	__u32 *f = calloc(n > 0 ? n : 1, sizeof(*f));
	int i, nf = 0, ret = f ? 0 : -ENOMEM;

	for (i = 0; i < n && !ret; i++) {
		if (!backend_swapped(ob, nb, ids[i], comes))
			continue;
		f[nf++] = ids[i];
		if (comes)
			ret = percpu_zero(in->fd[IM_BACKEND_STATS], ids[i], sizeof(struct limpet_stats));
	}
	if (!ret && nf)
		affinity_flush_ids(in, meta->vip_id, f, nf);
	free(f);
	return ret < 0 ? ret : nf;
}

/* One change to a VIP's backends: slots ids[0..n) written as nb has them (ob: as they are),
 * then the reverse map (when a backend came or went) and the VIP's table, once for all — so an
 * ipip VIP's moved slots name the owners they had before the change (design §4.3). A failure
 * puts every slot back as ob has it.
 */
static int backends_commit(struct inst *in, const struct vip_meta *meta,
			   const struct backend *ob, const struct backend *nb, const __u32 *ids,
			   int n)
{
	int i, w = 0, comes = backends_fresh(in, meta, ob, nb, ids, n, true), goes = 0, ret = 0;

	for (i = 0; i < n; i++)
		goes += backend_swapped(ob, nb, ids[i], false);
	ret = comes < 0 ? comes : 0;
	for (; w < n && !ret; w++)
		if (bpf_map_update_elem(in->fd[IM_BACKENDS], &ids[w], &nb[ids[w]], BPF_ANY))
			ret = -errno;
	/* replies must find their VIP before the table sends the first client */
	if (!ret && (comes || goes))
		ret = op_reverse_sync(in);
	if (!ret)
		ret = op_table_rebuild(in, meta);
	if (ret && w) {
		for (i = 0; i < w; i++)
			bpf_map_update_elem(in->fd[IM_BACKENDS], &ids[i], &ob[ids[i]], BPF_ANY);
		if (comes || goes)
			op_reverse_sync(in);
	}
	if (!ret && goes) /* after: a client may still have named it until the table changed */
		backends_fresh(in, meta, ob, nb, ids, n, false);
	return ret;
}

/* The instance's backends twice: as they are (*ob) and a copy to change (*nb). */
static int backends_pair(struct inst *in, struct backend **ob, struct backend **nb)
{
	int ret = backends_get(in, ob);

	*nb = ret ? NULL : malloc(LIMPET_MAX_BACKENDS * sizeof(**nb));
	if (!ret && !*nb)
		ret = -ENOMEM;
	if (!ret)
		memcpy(*nb, *ob, LIMPET_MAX_BACKENDS * sizeof(**nb));
	return ret;
}

/* Edits to VIP meta's backends, made in nb: each names one of its backends. The ids edited go to
 * ids; those whose state is FREE are marked in leaving.
 */
static int backends_edit_plan(const char *vs, const struct vip_meta *meta, struct backend *nb,
			      bool *leaving, const struct be_edit *ed, int ne, __u32 *ids,
			      char *err, size_t errlen)
{
	for (int i = 0; i < ne; i++) {
		__u32 id = ed[i].id;

		if (id >= LIMPET_MAX_BACKENDS || nb[id].state == LIMPET_BE_FREE ||
		    nb[id].vip_id != meta->vip_id || leaving[id]) {
			snprintf(err, errlen, "change the backends of vip %s: backend id %u is not one of "
				 "its backends", vs, id);
			return -ENOENT;
		}
		ids[i] = id;
		leaving[id] = ed[i].state == LIMPET_BE_FREE;
		if (!leaving[id]) {
			nb[id].state = ed[i].state;
			nb[id].weight = ed[i].weight;
		}
	}
	return 0;
}

/* err for a failed op_backends_edit that has none yet: "add ... to vip" when it only adds. */
static int backends_edit_err(int ret, const char *vs, int ne, const struct be_new *bn, int n,
			     char *err, size_t errlen)
{
	char what[80], head[200];

	if (!ret || (*err && ret != -E2BIG))
		return ret;
	batch_what(bn, n, what, sizeof(what));
	if (ne)
		snprintf(head, sizeof(head), "change the backends of vip %s", vs);
	else
		snprintf(head, sizeof(head), "add %s to vip %s", what, vs);
	if (ret == -ENOENT)
		snprintf(err, errlen, "%s: vip not found", head);
	else if (ret == -E2BIG)
		snprintf(err, errlen, "%s: %s already serves %d VIPs of this protocol (replies are "
			 "matched to their VIP by it); use another port", head,
			 n == 1 ? "the endpoint" : "an endpoint", LIMPET_REV_VIPS);
	else
		snprintf(err, errlen, "%s: %s", head, strerror(-ret));
	return ret;
}

int op_backends_edit(struct inst *in, const struct vip_key *k, const struct be_edit *ed, int ne,
		     const struct be_new *bn, int n, char *err, size_t errlen)
{
	struct backend *ob = NULL, *nb = NULL;
	__u32 *ids = calloc(ne + n > 0 ? ne + n : 1, sizeof(*ids));
	bool *leaving = calloc(LIMPET_MAX_BACKENDS, sizeof(*leaving));
	struct vip_meta meta;
	char vs[80];
	int i, ret = ids && leaving ? 0 : -ENOMEM;

	vip_str(k, vs, sizeof(vs));
	*err = '\0';
	if (!ret && op_vip_find(in, k, &meta))
		ret = -ENOENT;
	if (!ret)
		ret = backends_pair(in, &ob, &nb);
	if (!ret)
		ret = backends_edit_plan(vs, &meta, nb, leaving, ed, ne, ids, err, errlen);
	if (!ret)
		ret = backends_plan(k, &meta, nb, leaving, bn, n, ids + ne, err, errlen);
	for (i = 0; !ret && i < LIMPET_MAX_BACKENDS; i++)
		if (leaving[i])
			memset(&nb[i], 0, sizeof(nb[i]));
	if (!ret)
		ret = backends_commit(in, &meta, ob, nb, ids, ne + n);
	free(ob);
	free(nb);
	free(ids);
	free(leaving);
	return backends_edit_err(ret, vs, ne, bn, n, err, errlen);
}

int op_backends_add(struct inst *in, const struct vip_key *k, const struct be_new *bn, int n,
		    char *err, size_t errlen)
{
	return op_backends_edit(in, k, NULL, 0, bn, n, err, errlen);
}

int op_backend_add(struct inst *in, const struct vip_key *k, const char *spec, __u32 weight,
		   char *err, size_t errlen)
{
	const struct be_new bn = { spec, weight, LIMPET_BE_ACTIVE };

	return op_backends_add(in, k, &bn, 1, err, errlen);
}

/* The backend spec names in VIP k: its id (>= 0, be and meta filled) or -errno with err. */
static int backend_locate(struct inst *in, const struct vip_key *k, const char *spec,
			  const char *what, struct vip_meta *meta, struct backend *be, char *err,
			  size_t errlen)
{
	struct l_addr a;
	__be16 port;
	char vs[80];
	int id, ret;

	vip_str(k, vs, sizeof(vs));
	if (op_vip_find(in, k, meta)) {
		snprintf(err, errlen, "%s backend %s of vip %s: vip not found", what, spec, vs);
		return -ENOENT;
	}
	ret = backend_resolve(k, meta->mode, spec, what, &a, &port, err, errlen);
	if (ret)
		return ret;
	id = backend_find(in, meta->vip_id, &a, port, be);
	if (id < 0)
		snprintf(err, errlen, "%s backend %s of vip %s: backend not found", what, spec, vs);
	return id;
}

/* One backend's state (FREE: deleted) by op_backends_edit; err says "WHAT backend SPEC of vip
 * VIP: why".
 */
int op_backend_set_state(struct inst *in, const struct vip_key *k, const char *spec, __u8 state,
			 char *err, size_t errlen)
{
	const char *what = state == LIMPET_BE_FREE ? "delete" :
			   state == LIMPET_BE_DRAINING ? "drain" : "undrain";
	struct vip_meta meta;
	struct be_edit ed;
	struct backend be;
	char vs[80];
	int id, ret;

	id = backend_locate(in, k, spec, what, &meta, &be, err, errlen);
	if (id < 0)
		return id;
	ed = (struct be_edit){ id, be.weight, state };
	ret = op_backends_edit(in, k, &ed, 1, NULL, 0, err, errlen);
	if (ret)
		snprintf(err, errlen, "%s backend %s of vip %s: %s", what, spec,
			 vip_str(k, vs, sizeof(vs)), strerror(-ret));
	return ret;
}

int op_backend_replace(struct inst *in, const struct vip_key *k, const char *spec,
		       const char *new_spec, __u32 weight, char *err, size_t errlen)
{
	const struct be_new bn = { new_spec, weight, LIMPET_BE_ACTIVE };
	struct vip_meta meta;
	struct be_edit ed;
	struct backend be;
	int id;

	id = backend_locate(in, k, spec, "replace", &meta, &be, err, errlen);
	if (id < 0)
		return id;
	ed = (struct be_edit){ id, be.weight, LIMPET_BE_DRAINING };
	return op_backends_edit(in, k, &ed, 1, &bn, 1, err, errlen);
}


struct sweep {
	__u64 now;
	__u32 binding_s, idle_s, closed_s;
	struct key_list del, pdel; /* flows, their held segments */
};

static int sweep_one(const void *key, const void *val, void *ctx)
{
	const struct flow_val *fv = val;
	struct sweep *w = ctx;
	__u64 idle, limit;

	if (limpet_flow_closed(fv->sp.fin))
		limit = w->closed_s; /* last_seen: when it closed, or its last packet since */
	else if (fv->sp.state == LIMPET_SP_BINDING)
		limit = w->binding_s;
	else
		limit = w->idle_s;
	idle = w->now > fv->last_seen ? (w->now - fv->last_seen) / 1000000000ULL : 0;
	if (idle < limit)
		return 0;
	if (key_list_push(&w->del, key) ||
	    (fv->sp.state != LIMPET_SP_NONE && key_list_push(&w->pdel, key)))
		return -ENOMEM;
	return 0;
}

/* Both flow tables: established flows leave only through here (or by closing). */
int op_flows_sweep(struct inst *in, __u32 binding_s, __u32 idle_s, __u32 closed_s)
{
	static const enum inst_map tables[] = { IM_FLOWS, IM_HALFOPEN };
	struct sweep w = { .now = mono_coarse_ns(), .binding_s = binding_s, .idle_s = idle_s,
			   .closed_s = closed_s, .del = { .size = sizeof(struct flow_key) },
			   .pdel = { .size = sizeof(struct flow_key) } };
	int ret = 0, n = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]) && !ret; t++) {
		w.del.n = w.pdel.n = 0;
		ret = map_scan(in->fd[tables[t]], sizeof(struct flow_key), sizeof(struct flow_val),
			       sweep_one, &w);
		if (ret)
			break;
		delete_keys(in->fd[IM_PENDING], w.pdel.keys, w.pdel.n, w.pdel.size);
		n += (int)delete_keys(in->fd[tables[t]], w.del.keys, w.del.n, w.del.size);
	}
	free(w.del.keys);
	free(w.pdel.keys);
	return ret ? ret : n;
}

/* The reverse map as the VIPs and backends say it should be, built in memory: NAT VIPs' backends
 * only (a DSR VIP's replies never pass limpet, so its backends take no room and no VIP limit).
 * Every (endpoint, VIP) pair is sorted by endpoint and merged, so 4,096 backends cost a sort,
 * not 4,096 searches; keys come out sorted for the stale-entry search.
 */
struct rev_pair {
	struct rev_key k;
	struct rev_vip v;
};

struct rev_build {
	struct vip_key vks[LIMPET_MAX_VIPS]; /* by vip_id */
	bool have[LIMPET_MAX_VIPS];          /* a NAT VIP */
	struct rev_pair *pairs;
	size_t npairs;
	struct rev_key *keys;
	struct rev_val *vals;
	size_t n;
	struct key_list del; /* entries of the live map no longer wanted */
};

static int rev_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct rev_key));
}

static int rev_pair_cmp(const void *a, const void *b)
{
	const struct rev_pair *x = a, *y = b;
	int c = rev_key_cmp(&x->k, &y->k);

	return c ? c : (x->v.vip_id > y->v.vip_id) - (x->v.vip_id < y->v.vip_id);
}

static int rev_vip(const void *key, const void *val, void *ctx)
{
	const struct vip_meta *m = val;
	struct rev_build *rb = ctx;

	if (m->vip_id < LIMPET_MAX_VIPS && m->mode == LIMPET_MODE_NAT) {
		rb->vks[m->vip_id] = *(const struct vip_key *)key;
		rb->have[m->vip_id] = true;
	}
	return 0;
}

/* One pair for each backend of a NAT VIP (bes by id). */
static void rev_pairs(struct rev_build *rb, const struct backend *bes)
{
	for (__u32 id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		const struct backend *be = &bes[id];
		struct rev_pair *p = &rb->pairs[rb->npairs];
		const struct vip_key *vk;

		if (be->state == LIMPET_BE_FREE || be->vip_id >= LIMPET_MAX_VIPS ||
		    !rb->have[be->vip_id])
			continue;
		vk = &rb->vks[be->vip_id];
		memset(p, 0, sizeof(*p));
		memcpy(p->k.addr, be->addr, 16);
		p->k.port = be->port;
		p->k.family = be->family;
		p->k.proto = vk->proto;
		memcpy(p->v.addr, vk->addr, 16);
		p->v.port = vk->port;
		p->v.vip_id = be->vip_id;
		rb->npairs++;
	}
}

/* Sorted pairs into entries: -E2BIG when an endpoint has more VIPs than an entry holds. */
static int rev_merge(struct rev_build *rb)
{
	qsort(rb->pairs, rb->npairs, sizeof(*rb->pairs), rev_pair_cmp);
	for (size_t i = 0; i < rb->npairs; i++) {
		const struct rev_pair *p = &rb->pairs[i];
		struct rev_val *v;

		if (!rb->n || rev_key_cmp(&rb->keys[rb->n - 1], &p->k)) {
			rb->keys[rb->n] = p->k;
			memset(&rb->vals[rb->n], 0, sizeof(rb->vals[0]));
			rb->n++;
		}
		v = &rb->vals[rb->n - 1];
		if (v->n && v->v[v->n - 1].vip_id == p->v.vip_id)
			continue;
		if (v->n == LIMPET_REV_VIPS)
			return -E2BIG;
		v->v[v->n++] = p->v;
	}
	return 0;
}

static int rev_stale(const void *key, const void *val, void *ctx)
{
	struct rev_build *rb = ctx;

	if (bsearch(key, rb->keys, rb->n, sizeof(*rb->keys), rev_key_cmp))
		return 0;
	return key_list_push(&rb->del, key);
}

int op_reverse_sync(struct inst *in)
{
	struct rev_build *rb = calloc(1, sizeof(*rb));
	struct backend *bes = NULL;
	int ret = -ENOMEM;

	if (rb) {
		rb->pairs = calloc(LIMPET_MAX_BACKENDS, sizeof(*rb->pairs));
		rb->keys = calloc(LIMPET_MAX_BACKENDS, sizeof(*rb->keys));
		rb->vals = calloc(LIMPET_MAX_BACKENDS, sizeof(*rb->vals));
		rb->del.size = sizeof(struct rev_key);
	}
	if (rb && rb->pairs && rb->keys && rb->vals)
		ret = map_scan(in->fd[IM_VIPS], sizeof(struct vip_key), sizeof(struct vip_meta),
			       rev_vip, rb);
	if (!ret)
		ret = backends_get(in, &bes);
	if (!ret) {
		rev_pairs(rb, bes);
		ret = rev_merge(rb);
	}
	/* new and changed entries first, then the stale ones: a live endpoint never misses */
	for (size_t i = 0; i < (rb ? rb->n : 0) && !ret; i++)
		if (bpf_map_update_elem(in->fd[IM_REVERSE], &rb->keys[i], &rb->vals[i], BPF_ANY))
			ret = -errno;
	if (!ret)
		ret = map_scan(in->fd[IM_REVERSE], sizeof(struct rev_key), sizeof(struct rev_val),
			       rev_stale, rb);
	if (!ret)
		delete_keys(in->fd[IM_REVERSE], rb->del.keys, rb->del.n, rb->del.size);
	if (rb) {
		free(rb->del.keys);
		free(rb->pairs);
		free(rb->keys);
		free(rb->vals);
	}
	free(rb);
	free(bes);
	return ret;
}

/* Backends ids[0..n) of one VIP changed together, each by change(be, i, arg) (false: not this
 * one): one change (backends_commit). took[i] says which changed; how many did, or -errno (then
 * none did).
 */
static int backends_change(struct inst *in, const struct vip_meta *meta, const __u32 *ids, int n,
			   bool (*change)(struct backend *be, int i, const void *arg),
			   const void *arg, bool *took)
{
	struct backend *ob = NULL, *nb = NULL;
	__u32 *cid = calloc(n > 0 ? n : 1, sizeof(*cid));
	int i, changed = 0, ret = cid ? backends_pair(in, &ob, &nb) : -ENOMEM;

	memset(took, 0, n * sizeof(*took));
	for (i = 0; i < n && !ret; i++) {
		struct backend *be = ids[i] < LIMPET_MAX_BACKENDS ? &nb[ids[i]] : NULL;

		if (!be || be->state == LIMPET_BE_FREE || be->vip_id != meta->vip_id ||
		    !change(be, i, arg))
			continue;
		cid[changed++] = ids[i];
		took[i] = true;
	}
	if (!ret && changed)
		ret = backends_commit(in, meta, ob, nb, cid, changed);
	if (ret)
		memset(took, 0, n * sizeof(*took));
	free(ob);
	free(nb);
	free(cid);
	return ret ? ret : changed;
}

/* One change of health: taken unless the backend is set by hand or already so. A backend found
 * down loses any slowstart under way.
 */
static bool health_apply(struct backend *be, int i, const void *arg)
{
	const struct health_change *c = (const struct health_change *)arg + i;

	if (be->health == c->health || be->health_mode != LIMPET_HM_AUTO)
		return false;
	be->health = c->health;
	if (c->health == LIMPET_HEALTH_DOWN)
		be->ramp_pct = 0;
	else if (c->ramp)
		be->ramp_pct = 1;
	return true;
}

int op_backends_health_set(struct inst *in, const struct vip_meta *meta, struct health_change *hc,
			   int n)
{
	__u32 *ids = calloc(n > 0 ? n : 1, sizeof(*ids)), ndown = 0;
	bool *took = calloc(n > 0 ? n : 1, sizeof(*took));
	int i, ret = ids && took ? 0 : -ENOMEM;

	for (i = 0; i < n && !ret; i++)
		ids[i] = hc[i].id;
	if (!ret)
		ret = backends_change(in, meta, ids, n, health_apply, hc, took);
	for (i = 0; i < n; i++) {
		hc[i].changed = took && took[i];
		if (hc[i].changed && hc[i].health == LIMPET_HEALTH_DOWN)
			ids[ndown++] = hc[i].id; /* ids now lists the downed ones */
	}
	if (ret > 0 && ndown)
		affinity_flush_ids(in, meta->vip_id, ids, ndown);
	free(ids);
	free(took);
	return ret;
}

/* limpetctl backend health VIP BACKEND up|down|auto: set by hand, or back to the checks. */
int op_backend_health_mode(struct inst *in, const struct vip_key *k, const char *spec, __u8 mode,
			   char *err, size_t errlen)
{
	struct check_spec cs = {};
	struct backend be;
	struct vip_meta meta;
	char vs[80];
	int id, ret;
	__u32 uid;

	id = backend_locate(in, k, spec, "health of", &meta, &be, err, errlen);
	if (id < 0)
		return id;
	uid = id;
	bpf_map_lookup_elem(in->fd[IM_CHECKS], &meta.vip_id, &cs);
	be.health_mode = mode;
	if (mode != LIMPET_HM_AUTO)
		be.health = mode == LIMPET_HM_UP ? LIMPET_HEALTH_UP : LIMPET_HEALTH_DOWN;
	else if (cs.type == LIMPET_CHECK_NONE)
		be.health = LIMPET_HEALTH_UNCHECKED;
	/* back to auto with a check: the last state stands until the next check */
	ret = bpf_map_update_elem(in->fd[IM_BACKENDS], &uid, &be, BPF_ANY) ? -errno :
									 op_table_rebuild(in, &meta);
	if (!ret && be.health == LIMPET_HEALTH_DOWN)
		op_affinity_flush(in, meta.vip_id, id);
	if (ret)
		snprintf(err, errlen, "health of backend %s of vip %s: %s", spec,
			 vip_str(k, vs, sizeof(vs)), strerror(-ret));
	return ret;
}

/* A VIP's check replaced in place (its backends, flows and affinities stay); without a check,
 * backends left to the checks are unchecked again and the table takes them all.
 */
int op_vip_check_set(struct inst *in, const struct vip_key *k, const struct check_spec *cs,
		     char *err, size_t errlen)
{
	struct backend *bes, be;
	struct vip_meta meta;
	char vs[80];
	__u32 id;
	int ret;

	if (vip_locate(in, k, "check of", &meta, vs, sizeof(vs), err, errlen))
		return -ENOENT;
	id = meta.vip_id;
	if (bpf_map_update_elem(in->fd[IM_CHECKS], &id, cs, BPF_ANY)) {
		snprintf(err, errlen, "check of vip %s: %s", vs, strerror(errno));
		return -errno;
	}
	meta.flags = cs->on_down_reset ? meta.flags | LIMPET_VIP_F_ON_DOWN_RESET :
					 meta.flags & ~LIMPET_VIP_F_ON_DOWN_RESET;
	if (bpf_map_update_elem(in->fd[IM_VIPS], k, &meta, BPF_EXIST)) {
		snprintf(err, errlen, "check of vip %s: %s", vs, strerror(errno));
		return -errno;
	}
	if (cs->type != LIMPET_CHECK_NONE)
		return 0;
	ret = backends_get(in, &bes);
	for (id = 0; !ret && id < LIMPET_MAX_BACKENDS; id++) {
		be = bes[id];
		if (be.state == LIMPET_BE_FREE || be.vip_id != meta.vip_id ||
		    be.health_mode != LIMPET_HM_AUTO)
			continue;
		be.health = LIMPET_HEALTH_UNCHECKED;
		be.ramp_pct = 0;
		bpf_map_update_elem(in->fd[IM_BACKENDS], &id, &be, BPF_ANY);
	}
	free(bes);
	if (ret)
		snprintf(err, errlen, "check of vip %s: read the backends: %s", vs, strerror(-ret));
	return ret ? ret : op_table_rebuild(in, &meta);
}

/* Whether every active backend of the VIP is down (its table then holds them all: fail-open). */
bool vip_all_down(struct inst *in, const struct vip_meta *meta)
{
	struct backend *bes = NULL;
	int active = 0, down = 0, ret = backends_get(in, &bes);

	for (__u32 id = 0; !ret && id < LIMPET_MAX_BACKENDS; id++) {
		if (bes[id].state != LIMPET_BE_ACTIVE || bes[id].vip_id != meta->vip_id)
			continue;
		active++;
		down += bes[id].health == LIMPET_HEALTH_DOWN;
	}
	free(bes);
	return active > 0 && down == active;
}

/* Slowstart: the share (1-99 %, 0 = all) of its table slots a backend back up has so far. */
static bool ramp_apply(struct backend *be, int i, const void *arg)
{
	const __u16 pct = ((const __u16 *)arg)[i];

	if (be->ramp_pct == pct)
		return false;
	be->ramp_pct = pct;
	return true;
}

int op_backends_ramp(struct inst *in, const struct vip_meta *meta, const __u32 *ids,
		     const __u16 *pcts, int n)
{
	bool *took = calloc(n > 0 ? n : 1, sizeof(*took));
	int ret = took ? backends_change(in, meta, ids, n, ramp_apply, pcts, took) : -ENOMEM;

	free(took);
	return ret;
}


static int vip_collect(const void *key, const void *val, void *ctx)
{
	struct vip_set *s = ctx;

	if (s->n == LIMPET_MAX_VIPS)
		return -E2BIG;
	memcpy(&s->v[s->n].k, key, sizeof(struct vip_key));
	memcpy(&s->v[s->n].m, val, sizeof(struct vip_meta));
	s->n++;
	return 0;
}

static int by_vip_id(const void *a, const void *b)
{
	const struct vip_entry *x = a, *y = b;

	return x->m.vip_id < y->m.vip_id ? -1 : x->m.vip_id > y->m.vip_id;
}

int vips_read(struct inst *in, struct vip_set *s)
{
	int ret;

	s->n = 0;
	ret = map_scan(in->fd[IM_VIPS], sizeof(struct vip_key), sizeof(struct vip_meta), vip_collect,
		       s);
	if (!ret)
		qsort(s->v, s->n, sizeof(s->v[0]), by_vip_id);
	return ret;
}

int vips_any(struct inst *in)
{
	struct vip_set *s = calloc(1, sizeof(*s));
	int ret = s ? vips_read(in, s) : -ENOMEM;

	if (!ret)
		ret = s->n > 0;
	free(s);
	return ret;
}
