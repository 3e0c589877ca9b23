// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* Unit tests of limpet's userspace logic: Maglev, addresses, the limpetctl grammar, output. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "lib/liblimpet.h"
#include "lib/ctl.h"

#define M 65537

static void backends_make(struct maglev_backend *b, int n, __u32 base)
{
	int i;

	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		b[i].id = i;
		b[i].addr[0] = htonl(base + i * 7 + 1);
		b[i].port = 80;
		b[i].family = LIMPET_AF_INET;
		b[i].weight = 1;
	}
}

static void counts(const __u32 *t, __u32 m, int *cnt, int n)
{
	memset(cnt, 0, n * sizeof(*cnt));
	for (__u32 j = 0; j < m; j++) {
		assert_true(t[j] < (__u32)n);
		cnt[t[j]]++;
	}
}

static void test_maglev_balance_100(void **state)
{
	struct maglev_backend b[100];
	__u32 *t = malloc(M * sizeof(*t));
	int cnt[100], i, mx = 0;

	backends_make(b, 100, 0x0a010000);
	assert_int_equal(maglev_build(b, 100, M, LIMPET_HASH_SEED_DEFAULT, t), 0);
	counts(t, M, cnt, 100);
	for (i = 0; i < 100; i++)
		mx = cnt[i] > mx ? cnt[i] : mx;
	print_message("maglev 100 backends: max/mean %.4f\n", mx / (M / 100.0));
	assert_true(mx / (M / 100.0) <= 1.01);
	free(t);
}

static void test_maglev_weights(void **state)
{
	static const __u32 w[] = { 1, 2, 3, 10, 1, 7 };
	struct maglev_backend b[6];
	__u32 *t = malloc(M * sizeof(*t)), sum = 0;
	int cnt[6], i;

	backends_make(b, 6, 0x0a020000);
	for (i = 0; i < 6; i++) {
		b[i].weight = w[i];
		sum += w[i];
	}
	assert_int_equal(maglev_build(b, 6, M, LIMPET_HASH_SEED_DEFAULT, t), 0);
	counts(t, M, cnt, 6);
	for (i = 0; i < 6; i++) {
		double want = (double)M * w[i] / sum;

		assert_true(cnt[i] >= want * 0.99 && cnt[i] <= want * 1.01);
	}
	free(t);
}

/* 10 → 11 backends. A table that depends only on the set of backends and is balanced cannot
 * move entries only toward the new backend for every addition (that forces per-slot rendezvous
 * hashing, whose balance is binomial); Maglev moves a few entries between old backends. Live
 * clients do not move at all: the affinity table holds them (tested end to end).
 */
static void test_maglev_add_disruption(void **state)
{
	struct maglev_backend b[11];
	__u32 *t1 = malloc(M * sizeof(*t1)), *t2 = malloc(M * sizeof(*t2));
	int changed = 0, to_new = 0, gained_new = 0;

	backends_make(b, 11, 0x0a030000);
	assert_int_equal(maglev_build(b, 10, M, LIMPET_HASH_SEED_DEFAULT, t1), 0);
	assert_int_equal(maglev_build(b, 11, M, LIMPET_HASH_SEED_DEFAULT, t2), 0);
	for (int j = 0; j < M; j++) {
		gained_new += t2[j] == 10;
		if (t1[j] != t2[j]) {
			changed++;
			to_new += t2[j] == 10;
		}
	}
	print_message("add 10->11: changed %d (ideal %.0f, ratio %.3f), toward the new one %d, elsewhere %.2f%% of the table\n",
		      changed, M / 11.0, changed / (M / 11.0), to_new,
		      100.0 * (changed - to_new) / M);
	assert_true(changed <= 1.1 * M / 11.0);
	assert_int_equal(to_new, gained_new);           /* every entry of the new one is new */
	assert_true((changed - to_new) <= 0.005 * M);   /* needless moves ≤ 0.5 % of the table */
	free(t1);
	free(t2);
}

static void test_maglev_remove_disruption(void **state)
{
	struct maglev_backend b[11], c[10];
	__u32 *t1 = malloc(M * sizeof(*t1)), *t2 = malloc(M * sizeof(*t2));
	int changed = 0, own = 0, k = 0, i;

	backends_make(b, 11, 0x0a040000);
	for (i = 0; i < 11; i++)
		if (i != 4)
			c[k++] = b[i];
	assert_int_equal(maglev_build(b, 11, M, LIMPET_HASH_SEED_DEFAULT, t1), 0);
	assert_int_equal(maglev_build(c, 10, M, LIMPET_HASH_SEED_DEFAULT, t2), 0);
	for (int j = 0; j < M; j++) {
		if (t1[j] == 4) {
			own++;
			assert_int_not_equal(t2[j], 4);
		}
		changed += t1[j] != t2[j];
	}
	print_message("remove 11->10: changed %d, its own %d, elsewhere %.2f%% of the table\n",
		      changed, own, 100.0 * (changed - own) / M);
	assert_true(changed <= 1.1 * own);
	assert_true((changed - own) <= 0.005 * M);
	free(t1);
	free(t2);
}

static void test_maglev_order_independent(void **state)
{
	struct maglev_backend b[40], s[40];
	__u32 *t1 = malloc(M * sizeof(*t1)), *t2 = malloc(M * sizeof(*t2));
	int round, i;

	backends_make(b, 40, 0x0a050000);
	b[3].weight = 5;
	assert_int_equal(maglev_build(b, 40, M, 7, t1), 0);
	srand(42);
	for (round = 0; round < 5; round++) {
		memcpy(s, b, sizeof(b));
		for (i = 39; i > 0; i--) {
			int r = rand() % (i + 1);
			struct maglev_backend x = s[i];

			s[i] = s[r];
			s[r] = x;
		}
		assert_int_equal(maglev_build(s, 40, M, 7, t2), 0);
		assert_memory_equal(t1, t2, M * sizeof(*t1));
	}
	/* a different seed gives a different table */
	assert_int_equal(maglev_build(b, 40, M, 8, t2), 0);
	assert_memory_not_equal(t1, t2, M * sizeof(*t1));
	free(t1);
	free(t2);
}

static void test_maglev_rejects(void **state)
{
	struct maglev_backend b[2];
	__u32 t[101];

	backends_make(b, 2, 0x0a060000);
	assert_int_equal(maglev_build(b, 2, 100, 0, t), -EINVAL); /* not prime */
	assert_int_equal(maglev_build(b, 0, 101, 0, t), -EINVAL);
	b[1] = b[0];
	assert_int_equal(maglev_build(b, 2, 101, 0, t), -EINVAL); /* duplicate */
	backends_make(b, 2, 0x0a060000);
	b[0].weight = 0;
	assert_int_equal(maglev_build(b, 2, 101, 0, t), -EINVAL);
}

static void test_addr_parse(void **state)
{
	char err[LIMPET_ERR_LEN], buf[80];
	struct vip_key k;
	struct l_addr a;
	bool hp;
	__u16 p;

	assert_int_equal(vip_parse("10.0.0.10:80/tcp", &k, err, sizeof(err)), 0);
	assert_int_equal(k.family, LIMPET_AF_INET);
	assert_int_equal(ntohs(k.port), 80);
	assert_int_equal(k.proto, IPPROTO_TCP);
	assert_string_equal(vip_str(&k, buf, sizeof(buf)), "10.0.0.10:80/tcp");
	assert_int_equal(vip_parse("[fc00::1]:0/udp", &k, err, sizeof(err)), 0);
	assert_int_equal(k.family, LIMPET_AF_INET6);
	assert_string_equal(vip_str(&k, buf, sizeof(buf)), "[fc00::1]:0/udp");
	assert_int_not_equal(vip_parse("10.0.0.10:70000/tcp", &k, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "port must be 0-65535"));
	assert_int_not_equal(vip_parse("10.0.0.10:80", &k, err, sizeof(err)), 0);
	assert_int_not_equal(vip_parse("10.0.0.10:80/sctp", &k, err, sizeof(err)), 0);
	assert_int_not_equal(vip_parse("10.0.0.300:80/tcp", &k, err, sizeof(err)), 0);
	assert_int_not_equal(vip_parse("fc00::1:80/tcp", &k, err, sizeof(err)), 0);

	assert_int_equal(backend_parse("10.1.0.11", &a, &p, &hp, err, sizeof(err)), 0);
	assert_false(hp);
	assert_int_equal(backend_parse("10.1.0.11:8080", &a, &p, &hp, err, sizeof(err)), 0);
	assert_true(hp);
	assert_int_equal(p, 8080);
	assert_int_equal(backend_parse("fc00::11", &a, &p, &hp, err, sizeof(err)), 0);
	assert_int_equal(a.family, LIMPET_AF_INET6);
	assert_false(hp);
	assert_int_equal(backend_parse("[fc00::11]:81", &a, &p, &hp, err, sizeof(err)), 0);
	assert_int_equal(p, 81);
	assert_int_not_equal(backend_parse("10.1.0.11:0", &a, &p, &hp, err, sizeof(err)), 0);
	assert_int_not_equal(backend_parse("0.0.0.0", &a, &p, &hp, err, sizeof(err)), 0);
	assert_int_not_equal(backend_parse("host.example", &a, &p, &hp, err, sizeof(err)), 0);

	{
		__u32 m[4];

		prefix_mask(LIMPET_AF_INET, 24, m);
		assert_int_equal(ntohl(m[0]), 0xffffff00);
		prefix_mask(LIMPET_AF_INET6, 56, m);
		assert_int_equal(ntohl(m[0]), 0xffffffff);
		assert_int_equal(ntohl(m[1]), 0xffffff00);
		assert_int_equal(m[2], 0);
	}
}

/* The grammar: each line either parses or fails with the expected message. */
static const struct {
	const char *line;
	const char *err; /* NULL: must parse */
	int op;
} cli_cases[] = {
	{ "vip add 10.0.0.10:80/tcp", NULL, CTL_VIP_ADD },
	{ "vip add 10.0.0.10:80/tcp policy five-tuple", NULL, CTL_VIP_ADD },
	{ "vip add 10.0.0.10:0/udp policy ip-hash prefix 24 affinity-timeout 0", NULL, CTL_VIP_ADD },
	{ "vip add [fc00::10]:443/tcp prefix6 64 table-size 655373", NULL, CTL_VIP_ADD },
	{ "vip del 10.0.0.10:80/tcp", NULL, CTL_VIP_DEL },
	{ "vip list", NULL, CTL_VIP_LIST },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11 weight 3", NULL, CTL_BE_ADD },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11:8080", NULL, CTL_BE_ADD },
	{ "backend drain 10.0.0.10:80/tcp 10.1.0.11", NULL, CTL_BE_DRAIN },
	{ "backend del 10.0.0.10:80/tcp 10.1.0.11", NULL, CTL_BE_DEL },
	{ "backend list", NULL, CTL_BE_LIST },
	{ "backend list 10.0.0.10:80/tcp", NULL, CTL_BE_LIST },
	{ "stats", NULL, CTL_STATS },
	{ "stats 10.0.0.10:80/tcp", NULL, CTL_STATS },
	{ "flows", NULL, CTL_FLOWS },
	{ "flows sweep", NULL, CTL_FLOWS_SWEEP },
	{ "flows sweep binding 10 idle 60", NULL, CTL_FLOWS_SWEEP },
	{ "flows sweep closed 0", NULL, CTL_FLOWS_SWEEP },
	{ "affinity list", NULL, CTL_AFF_LIST },
	{ "affinity flush 10.0.0.10:80/tcp", NULL, CTL_AFF_FLUSH },
	{ "vip add 10.0.0.10:80/tcp policy token token query session_id", NULL, CTL_VIP_ADD },
	{ "vip add 10.0.0.10:80/tcp policy token token cookie SESSION fallback five-tuple syn-data on", NULL, CTL_VIP_ADD },
	{ "vip add 10.0.0.10:80/tcp policy token token header X-Session-Id affinity-timeout 60", NULL, CTL_VIP_ADD },
	{ "vip add 10.0.0.10:443/udp policy token token udp offset 1 len 8", NULL, CTL_VIP_ADD },
	{ "help", NULL, CTL_HELP },
	{ "vip help", NULL, CTL_HELP },
	{ "", "missing OBJECT", 0 },
	{ "vips list", "unknown object 'vips'", 0 },
	{ "vip", "vip: missing command", 0 },
	{ "vip frob", "vip: unknown command 'frob'", 0 },
	{ "vip add", "vip add: missing VIP", 0 },
	{ "vip add 10.0.0.10:70000/tcp", "port must be 0-65535", 0 },
	{ "vip add 10.0.0.10/tcp", "expected ADDR:PORT/PROTO", 0 },
	{ "vip add 10.0.0.1000:80/tcp", "is not an IPv4 or IPv6 address", 0 },
	{ "vip add 10.0.0.10:80/icmp", "protocol must be tcp or udp", 0 },
	{ "vip add 10.0.0.10:80/tcp policy round-robin", "unknown policy 'round-robin'", 0 },
	{ "vip add 10.0.0.10:80/tcp prefix 33", "prefix must be 1-32", 0 },
	{ "vip add 10.0.0.10:80/tcp prefix6 129", "prefix6 must be 1-128", 0 },
	{ "vip add 10.0.0.10:80/tcp affinity-timeout -1", "affinity-timeout must be", 0 },
	{ "vip add 10.0.0.10:80/tcp table-size 65536", "table-size must be a prime", 0 },
	{ "vip add 10.0.0.10:80/tcp policy", "'policy' needs a value", 0 },
	{ "vip add 10.0.0.10:80/tcp colour blue", "unknown option 'colour'", 0 },
	{ "vip del", "vip del: expected exactly one VIP", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token", "policy token needs 'token", 0 },
	{ "vip add 10.0.0.10:80/tcp token query sid", "need policy token", 0 },
	{ "vip add 10.0.0.10:80/tcp syn-data on", "need policy token", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token token url sid", "unknown token source 'url'", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token token query", "needs a NAME", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token token query a=b", "needs a NAME", 0 },
	{ "vip add 10.0.0.10:80/udp policy token token udp offset 0 len 0", "len must be 1-64", 0 },
	{ "vip add 10.0.0.10:80/udp policy token token udp offset 2000 len 8", "offset must be 0-1400", 0 },
	{ "vip add 10.0.0.10:80/udp policy token token udp len 8", "expected 'token udp offset O len L'", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token token query sid fallback token", "unknown fallback 'token'", 0 },
	{ "vip add 10.0.0.10:80/tcp policy token token query sid syn-data yes", "syn-data takes on or off", 0 },
	{ "vip list 10.0.0.10:80/tcp", "vip list: unexpected argument", 0 },
	{ "backend add 10.0.0.10:80/tcp", "expected VIP BACKEND", 0 },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11 weight 0", "weight must be 1-1000", 0 },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11 weight 1001", "weight must be 1-1000", 0 },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11 weight", "'weight' needs a value", 0 },
	{ "backend add 10.0.0.10:80/tcp 10.1.0.11:99999", "port must be 1-65535", 0 },
	{ "backend add 10.0.0.10:80/tcp nonsense", "invalid backend 'nonsense'", 0 },
	{ "backend drain 10.0.0.10:80/tcp 10.1.0.11 weight 2", "unexpected argument 'weight'", 0 },
	{ "backend frob", "unknown command 'frob'", 0 },
	{ "stats 10.0.0.10:80/tcp extra", "stats: unexpected argument 'extra'", 0 },
	{ "affinity drop", "unknown command 'drop'", 0 },
	{ "flows sweep idle", "idle needs SECONDS", 0 },
	{ "flows sweep stale 5", "unknown option 'stale'", 0 },
	{ "flows sweep closed x", "closed needs SECONDS", 0 },
	{ "apply a.conf", NULL, CTL_APPLY },
	{ "apply a.conf previous b.conf", NULL, CTL_APPLY },
	{ "apply", "expected FILE [previous FILE]", 0 },
	{ "apply a.conf b.conf", "expected FILE [previous FILE]", 0 },
	{ "apply a.conf previous", "previous: expected one FILE", 0 },
	{ "apply a.conf previous b.conf c.conf", "previous: expected one FILE", 0 },
};

static void test_cli_grammar(void **state)
{
	for (size_t i = 0; i < sizeof(cli_cases) / sizeof(cli_cases[0]); i++) {
		char line[256], *argv[32], *tok, err[LIMPET_ERR_LEN] = "";
		struct ctl_cmd c;
		int argc = 0, ret;

		snprintf(line, sizeof(line), "%s", cli_cases[i].line);
		for (tok = strtok(line, " "); tok && argc < 32; tok = strtok(NULL, " "))
			argv[argc++] = tok;
		ret = ctl_parse(argc, argv, &c, err, sizeof(err));
		if (!cli_cases[i].err) {
			if (ret)
				fail_msg("'%s' should parse, got: %s", cli_cases[i].line, err);
			assert_int_equal(c.op, cli_cases[i].op);
		} else {
			if (!ret)
				fail_msg("'%s' should fail", cli_cases[i].line);
			if (!strstr(err, cli_cases[i].err))
				fail_msg("'%s': got '%s', want '%s'", cli_cases[i].line, err,
					 cli_cases[i].err);
			assert_null(strchr(err, '\n'));
		}
	}
}

static void test_cli_values(void **state)
{
	char *argv[] = { "vip", "add", "[fc00::10]:443/tcp", "prefix6", "64", "affinity-timeout",
			 "60", "policy", "five-tuple" };
	char err[LIMPET_ERR_LEN];
	struct ctl_cmd c;

	assert_int_equal(ctl_parse(9, argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.vo.prefix6, 64);
	assert_true(c.vo.prefix6_set);
	assert_false(c.vo.prefix4_set);
	assert_int_equal(c.vo.affinity_ttl, 60);
	assert_int_equal(c.vo.policy, LIMPET_POLICY_FIVE_TUPLE);
	assert_int_equal(c.vo.table_size, LIMPET_MAGLEV_M_DEFAULT);
}

/* Capture what the output layer prints. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/limpet-out-XXXXXX", *buf;
	int fd = mkstemp(path), saved = dup(1);
	long n;
	FILE *f;

	fflush(stdout);
	dup2(fd, 1);
	fn();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	if (fread(buf, 1, n, f) != (size_t)n)
		n = 0;
	fclose(f);
	close(fd);
	unlink(path);
	return buf;
}

static void emit_sample(void)
{
	static const char *const cols[] = { "vip", "packets" };

	out_kv_str("instance", "te\"st\n");
	out_table_begin("vips", cols, 2);
	out_row_begin();
	out_cell_str("10.0.0.10:80/tcp");
	out_cell_u64(18446744073709551615ULL);
	out_row_end();
	out_table_end();
	out_flush();
}

static void test_json_output(void **state)
{
	json_object *root, *vips, *row, *v;
	char *s;

	out_init(true, false);
	s = capture(emit_sample);
	root = json_tokener_parse(s);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "instance", &v));
	assert_string_equal(json_object_get_string(v), "te\"st\n");
	assert_true(json_object_object_get_ex(root, "vips", &vips));
	assert_int_equal(json_object_array_length(vips), 1);
	row = json_object_array_get_idx(vips, 0);
	assert_true(json_object_object_get_ex(row, "vip", &v));
	assert_string_equal(json_object_get_string(v), "10.0.0.10:80/tcp");
	assert_true(json_object_object_get_ex(row, "packets", &v));
	assert_true(json_object_get_uint64(v) == 18446744073709551615ULL);
	json_object_put(root);
	free(s);

	out_init(false, false);
	s = capture(emit_sample);
	assert_non_null(strstr(s, "vip               packets\n10.0.0.10:80/tcp  18446744073709551615\n"));
	free(s);
}

/* A 20-byte IPv4 header's checksum, computed again. */
static void ip4_fix_csum(unsigned char *ip)
{
	unsigned int s = 0;

	ip[10] = ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		s += ip[i] << 8 | ip[i + 1];
	s = (s & 0xffff) + (s >> 16);
	s = ~((s & 0xffff) + (s >> 16)) & 0xffff;
	ip[10] = s >> 8, ip[11] = s;
}

static void test_pkt_checksum_verifier(void **state)
{
	/* a real UDP/IPv4 frame from the Katran corpus, checksums valid */
	static const unsigned char good[] = {
		0x02, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45, 0x00, 0x00, 0x2b, 0x00,
		0x01, 0x00, 0x00, 0x40, 0x11, 0xad, 0x4f, 0xc0, 0xa8, 0x01, 0x01, 0x0a, 0xc8, 0x01,
		0x01, 0x7a, 0x69, 0x00, 0x50, 0x00, 0x17, 0x97, 0xde, 'k', 'a', 't', 'r', 'a', 'n',
		' ', 't', 'e', 's', 't', ' ', 'p', 'k', 't'
	};
	unsigned char bad[sizeof(good)];
	struct pkt_info pi;

	pkt_decode(good, sizeof(good), &pi);
	assert_true(pi.ok && pi.l3_csum_ok && pi.l4_csum_ok == 1 && pi.len_ok);
	assert_int_equal(pi.sport, 31337);
	assert_int_equal(pi.dport, 80);
	memcpy(bad, good, sizeof(good));
	bad[sizeof(bad) - 1] ^= 1;
	pkt_decode(bad, sizeof(bad), &pi);
	assert_int_equal(pi.l4_csum_ok, 0);
	memcpy(bad, good, sizeof(good));
	bad[24] ^= 1;
	pkt_decode(bad, sizeof(bad), &pi);
	assert_false(pi.l3_csum_ok);
	assert_string_equal(pi.bad, "ipv4 header checksum");
	/* lengths inside the datagram: UDP length, then an IP total length short of the UDP header */
	memcpy(bad, good, sizeof(good));
	bad[14 + 20 + 5] += 1;
	pkt_decode(bad, sizeof(bad), &pi);
	assert_false(pi.len_ok);
	assert_string_equal(pi.bad, "udp length");
	memcpy(bad, good, sizeof(good));
	bad[14 + 3] = 24;
	ip4_fix_csum(bad + 14);
	pkt_decode(bad, sizeof(bad), &pi);
	assert_false(pi.len_ok);
	assert_string_equal(pi.bad, "udp length");
	/* an ICMP echo with a bad checksum */
	{
		unsigned char ic[14 + 20 + 8];

		memcpy(ic, good, 14 + 20);
		ic[14 + 3] = 28;
		ic[14 + 9] = 1;
		memset(ic + 34, 0, 8);
		ic[34] = 8;
		ic[36] = 0xf7, ic[37] = 0xff; /* the right one */
		ip4_fix_csum(ic + 14);
		pkt_decode(ic, sizeof(ic), &pi);
		assert_null(pi.bad);
		ic[37] ^= 1;
		pkt_decode(ic, sizeof(ic), &pi);
		assert_string_equal(pi.bad, "icmp checksum");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maglev_balance_100),
		cmocka_unit_test(test_maglev_weights),
		cmocka_unit_test(test_maglev_add_disruption),
		cmocka_unit_test(test_maglev_remove_disruption),
		cmocka_unit_test(test_maglev_order_independent),
		cmocka_unit_test(test_maglev_rejects),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_cli_grammar),
		cmocka_unit_test(test_cli_values),
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_pkt_checksum_verifier),
	};

	return cmocka_run_group_tests_name("unit", tests, NULL, NULL);
}
