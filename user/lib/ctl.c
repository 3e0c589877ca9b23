// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpetctl OBJECT COMMAND …: parse everything first, then run against the pinned maps. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "ctl.h"

void ctl_usage(FILE *f)
{
	fprintf(f,
		"Usage: limpetctl [OPTIONS] OBJECT { COMMAND | help }\n"
		"       OBJECT := { vip | backend | stats | flows | affinity | apply | save }\n"
		"       OPTIONS := { -i|--instance NAME | -n|--netns NETNS | -j|--json | -p|--pretty }\n"
		"\n"
		"limpetctl vip add VIP [policy { ip-hash | five-tuple }] [prefix LEN] [prefix6 LEN]\n"
		"                      [affinity-timeout SECONDS] [table-size M] [MODE] [CHECK]\n"
		"limpetctl vip add VIP policy token TOKEN [fallback { ip-hash | five-tuple }]\n"
		"                      [syn-data { on | off }] [affinity-timeout SECONDS] [table-size M]\n"
		"                      [CHECK]\n"
		"limpetctl vip del VIP\n"
		"limpetctl vip list\n"
		"limpetctl backend add VIP BACKEND [weight W]\n"
		"limpetctl backend drain VIP BACKEND\n"
		"limpetctl backend replace VIP BACKEND NEW [weight W]\n"
		"limpetctl backend del VIP BACKEND\n"
		"limpetctl backend health VIP BACKEND { up | down | auto }\n"
		"limpetctl backend list [VIP]\n"
		"limpetctl stats [VIP]\n"
		"limpetctl flows [VIP]\n"
		"limpetctl flows sweep [binding SECONDS] [idle SECONDS] [closed SECONDS]\n"
		"limpetctl affinity { list | flush } [VIP]\n"
		"limpetctl apply FILE [previous FILE]\n"
		"limpetctl save\n"
		"\n"
		"VIP     := ADDR:PORT/{ tcp | udp }, IPv6 as [ADDR]:PORT/PROTO; port 0 = every port\n"
		"BACKEND := ADDR[:PORT], IPv6 as [ADDR][:PORT]; the port defaults to the VIP's; of the\n"
		"           VIP's family, but an IPv4 VIP in mode ipip takes IPv6 ones (IPv4 in IPv6)\n"
		"TOKEN   := token { query NAME | cookie NAME | header NAME }   (TCP VIPs)\n"
		"         | token udp offset O len L                           (UDP VIPs)\n"
		"MODE    := mode { nat | l2dsr | ipip [encap-source PREFIX] }   (DSR: not TCP tokens)\n"
		"CHECK   := check { tcp | http PATH [expect LO-HI] } [check-interval S] [check-timeout S]\n"
		"           [rise N] [fall N] [check-port P] [on-down { keep | reset }] [slowstart S]\n"
		"           (run by limpet run)\n"
		"Defaults: policy ip-hash, prefix 32, prefix6 128, affinity-timeout 1800 (0 = off),\n"
		"          table-size 65537 (a prime, at least 100 x backends), weight 1 (1-%d).\n"
		"flows sweep removes TCP flows closed (FIN both ways, or RST) 10 s ago, flows binding longer\n"
		"than 5 s, and flows idle longer than 86400 s; run it periodically (e.g. every 10 s).\n"
		"apply makes the instance's VIPs and backends what FILE says (lines of 'vip add',\n"
		"'backend add', 'backend drain', 'attach', 'metrics listen'; # comments), changing only\n"
		"what differs, or nothing when a line is wrong; save prints the instance in that form.\n"
		"apply ... previous PREV: into an instance without VIPs (a limpet host starting with no\n"
		"state), PREV — the file before the last change — first, so ipip VIPs' second chance\n"
		"knows the backends from before it, as on hosts that lived through it.\n"
		"backend replace drains BACKEND and adds NEW as one change (so an ipip VIP's second\n"
		"chance keeps BACKEND's connections if a limpet host fails right after).\n",
		LIMPET_MAX_WEIGHT);
}

#define FAIL(...)                                                                                 \
	do {                                                                                      \
		snprintf(err, errlen, __VA_ARGS__);                                               \
		return -EINVAL;                                                                   \
	} while (0)

static bool token_name_ok(const char *n)
{
	size_t i, len = strlen(n);

	if (!len || len > LIMPET_TOKEN_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("_-.", n[i]))
			return false;
	return true;
}

/* "token query|cookie|header NAME" or "token udp offset O len L"; returns arguments used. */
static int parse_token(int argc, char **argv, struct token_spec *ts, char *err, size_t errlen)
{
	static const char *const kinds[] = { NULL, "query", "cookie", "header", "udp" };
	__u32 v;
	int k;

	if (argc < 2)
		FAIL("vip add: 'token' needs query NAME, cookie NAME, header NAME or udp offset O len L");
	for (k = 1; k <= LIMPET_TOK_UDP && strcmp(argv[1], kinds[k]); k++)
		;
	if (k > LIMPET_TOK_UDP)
		FAIL("vip add: unknown token source '%s' (query, cookie, header, udp)", argv[1]);
	ts->source = k;
	if (k != LIMPET_TOK_UDP) {
		if (argc < 3 || !token_name_ok(argv[2]))
			FAIL("vip add: token %s needs a NAME of 1-%d letters, digits, '_', '-', '.'",
			     argv[1], LIMPET_TOKEN_NAME_MAX);
		ts->name_len = strlen(argv[2]);
		memcpy(ts->name, argv[2], ts->name_len);
		return 3;
	}
	if (argc < 6 || strcmp(argv[2], "offset") || strcmp(argv[4], "len"))
		FAIL("vip add: expected 'token udp offset O len L'");
	if (parse_u32(argv[3], 0, LIMPET_TOKEN_UDP_OFFSET_MAX, &v))
		FAIL("vip add: token udp offset must be 0-%d, got '%s'", LIMPET_TOKEN_UDP_OFFSET_MAX,
		     argv[3]);
	ts->offset = v;
	if (parse_u32(argv[5], 1, LIMPET_TOKEN_MAX, &v))
		FAIL("vip add: token udp len must be 1-%d, got '%s'", LIMPET_TOKEN_MAX, argv[5]);
	ts->len = v;
	return 6;
}

/* check tcp | check http PATH, expect LO-HI, check-interval S, check-timeout S, rise N, fall N,
 * check-port P, on-down keep: how many words it took (0: not a check option) or -EINVAL.
 */
static int parse_check_opt(int argc, char **argv, struct check_spec *cs, char *err, size_t errlen)
{
	static const struct { const char *name; __u32 min, max; } nums[] = {
		{ "check-interval", 1, 3600 }, { "check-timeout", 1, 3600 }, { "rise", 1, 100 },
		{ "fall", 1, 100 }, { "check-port", 1, 65535 }, { "slowstart", 1, 3600 },
	};
	const char *k = argv[0], *val = argv[1];
	__u32 v, lo, hi;

	if (!strcmp(k, "check")) {
		if (!strcmp(val, "tcp")) {
			cs->type = LIMPET_CHECK_TCP;
			return 2;
		}
		if (strcmp(val, "http"))
			FAIL("vip add: check takes tcp or http PATH, got '%s'", val);
		if (argc < 3 || argv[2][0] != '/' || strlen(argv[2]) >= LIMPET_CHECK_PATH_MAX)
			FAIL("vip add: check http needs a PATH starting with / (at most %d bytes)",
			     LIMPET_CHECK_PATH_MAX - 1);
		cs->type = LIMPET_CHECK_HTTP;
		snprintf(cs->path, sizeof(cs->path), "%s", argv[2]);
		return 3;
	}
	if (!strcmp(k, "expect")) {
		if (sscanf(val, "%u-%u", &lo, &hi) != 2 || lo < 100 || hi > 599 || lo > hi)
			FAIL("vip add: expect takes LO-HI, HTTP statuses 100-599, got '%s'", val);
		cs->expect_lo = lo;
		cs->expect_hi = hi;
		return 2;
	}
	if (!strcmp(k, "on-down")) {
		if (strcmp(val, "keep") && strcmp(val, "reset"))
			FAIL("vip add: on-down takes keep or reset, got '%s'", val);
		cs->on_down_reset = !strcmp(val, "reset");
		return 2;
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(k, nums[i].name))
			continue;
		if (parse_u32(val, nums[i].min, nums[i].max, &v))
			FAIL("vip add: %s must be %u-%u, got '%s'", k, nums[i].min, nums[i].max, val);
		if (i == 0)
			cs->interval_s = v;
		else if (i == 1)
			cs->timeout_s = v;
		else if (i == 2)
			cs->rise = v;
		else if (i == 3)
			cs->fall = v;
		else if (i == 4)
			cs->port = v;
		else
			cs->slowstart_s = v;
		return 2;
	}
	return 0;
}

/* Defaults for what a check did not say; options without a check are an error. */
static int check_finish(struct check_spec *cs, __be16 vip_port, char *err, size_t errlen)
{
	if (cs->type == LIMPET_CHECK_NONE) {
		if (cs->interval_s || cs->timeout_s || cs->rise || cs->fall || cs->port ||
		    cs->expect_lo || cs->slowstart_s)
			FAIL("vip add: check-interval, check-timeout, rise, fall, check-port, expect and "
			     "slowstart need a check (check tcp, or check http PATH)");
		return 0;
	}
	if (cs->type == LIMPET_CHECK_TCP && cs->expect_lo)
		FAIL("vip add: expect applies to check http");
	if (!vip_port && !cs->port)
		FAIL("vip add: a port-0 VIP's backends have no port to check: give check-port");
	cs->interval_s = cs->interval_s ? cs->interval_s : LIMPET_CHECK_INTERVAL_DEFAULT;
	cs->timeout_s = cs->timeout_s ? cs->timeout_s : LIMPET_CHECK_TIMEOUT_DEFAULT;
	cs->rise = cs->rise ? cs->rise : LIMPET_CHECK_RISE_DEFAULT;
	cs->fall = cs->fall ? cs->fall : LIMPET_CHECK_FALL_DEFAULT;
	if (cs->type == LIMPET_CHECK_HTTP && !cs->expect_lo) {
		cs->expect_lo = 200;
		cs->expect_hi = 399;
	}
	if (cs->timeout_s > cs->interval_s)
		FAIL("vip add: check-timeout (%u) must not exceed check-interval (%u)", cs->timeout_s,
		     cs->interval_s);
	return 0;
}

static int parse_vip_opts(int argc, char **argv, struct ctl_cmd *c, char *err, size_t errlen)
{
	struct vip_opts *o = &c->vo;
	bool fallback_set = false, syn_data_set = false;
	__u32 v;
	int i, n;

	o->policy = LIMPET_POLICY_IP_HASH;
	o->affinity_ttl = LIMPET_AFFINITY_TTL_DEFAULT;
	o->table_size = LIMPET_MAGLEV_M_DEFAULT;
	o->token.fallback = LIMPET_POLICY_IP_HASH;
	for (i = 0; i < argc; i += n) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		n = 2;
		if (!strcmp(k, "token")) {
			n = parse_token(argc - i, argv + i, &o->token, err, errlen);
			if (n < 0)
				return n;
			continue;
		}
		if (!val)
			FAIL("vip add: '%s' needs a value", k);
		n = parse_check_opt(argc - i, argv + i, &o->check, err, errlen);
		if (n < 0)
			return n;
		if (n > 0)
			continue;
		n = 2;
		if (!strcmp(k, "policy")) {
			if (!strcmp(val, "ip-hash"))
				o->policy = LIMPET_POLICY_IP_HASH;
			else if (!strcmp(val, "five-tuple"))
				o->policy = LIMPET_POLICY_FIVE_TUPLE;
			else if (!strcmp(val, "token"))
				o->policy = LIMPET_POLICY_TOKEN;
			else
				FAIL("vip add: unknown policy '%s' (ip-hash, five-tuple or token)", val);
		} else if (!strcmp(k, "fallback")) {
			if (!strcmp(val, "ip-hash"))
				o->token.fallback = LIMPET_POLICY_IP_HASH;
			else if (!strcmp(val, "five-tuple"))
				o->token.fallback = LIMPET_POLICY_FIVE_TUPLE;
			else
				FAIL("vip add: unknown fallback '%s' (ip-hash or five-tuple)", val);
			fallback_set = true;
		} else if (!strcmp(k, "syn-data")) {
			if (strcmp(val, "on") && strcmp(val, "off"))
				FAIL("vip add: syn-data takes on or off, got '%s'", val);
			o->syn_data = !strcmp(val, "on");
			syn_data_set = true;
		} else if (!strcmp(k, "mode")) {
			for (v = 0; v < LIMPET_MODE_MAX && strcmp(val, mode_names[v]); v++)
				;
			if (v == LIMPET_MODE_MAX)
				FAIL("vip add: unknown mode '%s' (nat, l2dsr or ipip)", val);
			o->mode = v;
		} else if (!strcmp(k, "encap-source")) {
			struct l_addr a;

			if (prefix_parse(val, &a, &o->dsr.src_plen))
				FAIL("vip add: encap-source must be ADDR[/LEN], got '%s'", val);
			if (a.family != c->vip.family)
				FAIL("vip add: encap-source must be of the VIP's family, got '%s'", val);
			memcpy(o->dsr.src, a.a, 16);
		} else if (!strcmp(k, "prefix")) {
			if (parse_u32(val, 1, 32, &v))
				FAIL("vip add: prefix must be 1-32, got '%s'", val);
			o->prefix4 = v;
			o->prefix4_set = true;
		} else if (!strcmp(k, "prefix6")) {
			if (parse_u32(val, 1, 128, &v))
				FAIL("vip add: prefix6 must be 1-128, got '%s'", val);
			o->prefix6 = v;
			o->prefix6_set = true;
		} else if (!strcmp(k, "affinity-timeout")) {
			if (parse_u32(val, 0, 7 * 86400, &v))
				FAIL("vip add: affinity-timeout must be 0-604800 seconds, got '%s'", val);
			o->affinity_ttl = v;
		} else if (!strcmp(k, "table-size")) {
			if (parse_u32(val, 101, LIMPET_MAGLEV_M_MAX, &v) || !is_prime(v))
				FAIL("vip add: table-size must be a prime 101-%u, got '%s'",
				     LIMPET_MAGLEV_M_MAX, val);
			o->table_size = v;
		} else {
			FAIL("vip add: unknown option '%s'", k);
		}
	}
	if (check_finish(&o->check, c->vip.port, err, errlen))
		return -EINVAL;
	if (o->policy == LIMPET_POLICY_TOKEN && !o->token.source)
		FAIL("vip add: policy token needs 'token query|cookie|header NAME' or 'token udp offset O len L'");
	if (o->policy != LIMPET_POLICY_TOKEN && (o->token.source || fallback_set || syn_data_set))
		FAIL("vip add: token, fallback and syn-data need policy token");

	return 0;
}

static int parse_opt_vip(int argc, char **argv, const char *what, struct ctl_cmd *c, char *err,
			 size_t errlen)
{
	if (argc > 1)
		FAIL("%s: unexpected argument '%s'", what, argv[1]);
	if (argc == 1) {
		if (vip_parse(argv[0], &c->vip, err, errlen))
			return -EINVAL;
		c->has_vip = true;
	}
	return 0;
}

static int parse_backend_cmd(int argc, char **argv, struct ctl_cmd *c, char *err, size_t errlen)
{
	struct l_addr a;
	bool hp;
	__u16 p;
	int i;

	if (argc < 2)
		FAIL("backend: expected VIP BACKEND");
	if (vip_parse(argv[0], &c->vip, err, errlen))
		return -EINVAL;
	c->has_vip = true;
	if (backend_parse(argv[1], &a, &p, &hp, err, errlen))
		return -EINVAL;
	if (strlen(argv[1]) >= sizeof(c->be_spec))
		FAIL("backend: '%s' is too long", argv[1]);
	strcpy(c->be_spec, argv[1]);
	c->weight = 1;
	if (c->op == CTL_BE_REPLACE) {
		if (argc < 3)
			FAIL("backend replace: expected VIP BACKEND NEW");
		if (backend_parse(argv[2], &a, &p, &hp, err, errlen))
			return -EINVAL;
		if (strlen(argv[2]) >= sizeof(c->be_new))
			FAIL("backend: '%s' is too long", argv[2]);
		strcpy(c->be_new, argv[2]);
		argc--, argv++;
	}
	if (c->op == CTL_BE_HEALTH) {
		if (argc != 3 || (strcmp(argv[2], "up") && strcmp(argv[2], "down") &&
				  strcmp(argv[2], "auto")))
			FAIL("backend health: expected VIP BACKEND up|down|auto");
		c->health_mode = !strcmp(argv[2], "up")	  ? LIMPET_HM_UP :
				 !strcmp(argv[2], "down") ? LIMPET_HM_DOWN :
							    LIMPET_HM_AUTO;
		return 0;
	}
	for (i = 2; i < argc; i += 2) {
		if ((c->op == CTL_BE_ADD || c->op == CTL_BE_REPLACE) && !strcmp(argv[i], "weight")) {
			const char *what = c->op == CTL_BE_ADD ? "backend add" : "backend replace";

			if (i + 1 >= argc)
				FAIL("%s: 'weight' needs a value", what);
			if (parse_u32(argv[i + 1], 1, LIMPET_MAX_WEIGHT, &c->weight))
				FAIL("%s: weight must be 1-%d, got '%s'", what, LIMPET_MAX_WEIGHT,
				     argv[i + 1]);
		} else {
			FAIL("backend: unexpected argument '%s'", argv[i]);
		}
	}
	return 0;
}

int ctl_parse(int argc, char **argv, struct ctl_cmd *c, char *err, size_t errlen)
{
	const char *obj, *verb;

	memset(c, 0, sizeof(*c));
	if (argc < 1)
		FAIL("missing OBJECT; try: limpetctl help");
	obj = argv[0];
	verb = argc > 1 ? argv[1] : NULL;
	if (!strcmp(obj, "help")) {
		c->op = CTL_HELP;
		return 0;
	}
	if (verb && !strcmp(verb, "help")) {
		c->op = CTL_HELP;
		return 0;
	}
	if (!strcmp(obj, "vip")) {
		if (!verb)
			FAIL("vip: missing command (add, del, list)");
		if (!strcmp(verb, "add")) {
			c->op = CTL_VIP_ADD;
			if (argc < 3)
				FAIL("vip add: missing VIP");
			if (vip_parse(argv[2], &c->vip, err, errlen))
				return -EINVAL;
			c->has_vip = true;
			return parse_vip_opts(argc - 3, argv + 3, c, err, errlen);
		}
		if (!strcmp(verb, "del")) {
			c->op = CTL_VIP_DEL;
			if (argc != 3)
				FAIL("vip del: expected exactly one VIP");
			c->has_vip = true;
			return vip_parse(argv[2], &c->vip, err, errlen) ? -EINVAL : 0;
		}
		if (!strcmp(verb, "list")) {
			c->op = CTL_VIP_LIST;
			if (argc != 2)
				FAIL("vip list: unexpected argument '%s'", argv[2]);
			return 0;
		}
		FAIL("vip: unknown command '%s' (add, del, list)", verb);
	}
	if (!strcmp(obj, "backend")) {
		if (!verb)
			FAIL("backend: missing command (add, drain, replace, del, health, list)");
		if (!strcmp(verb, "add"))
			c->op = CTL_BE_ADD;
		else if (!strcmp(verb, "drain"))
			c->op = CTL_BE_DRAIN;
		else if (!strcmp(verb, "replace"))
			c->op = CTL_BE_REPLACE;
		else if (!strcmp(verb, "del"))
			c->op = CTL_BE_DEL;
		else if (!strcmp(verb, "health"))
			c->op = CTL_BE_HEALTH;
		else if (!strcmp(verb, "list")) {
			c->op = CTL_BE_LIST;
			return parse_opt_vip(argc - 2, argv + 2, "backend list", c, err, errlen);
		} else
			FAIL("backend: unknown command '%s' (add, drain, replace, del, health, list)", verb);
		return parse_backend_cmd(argc - 2, argv + 2, c, err, errlen);
	}
	if (!strcmp(obj, "stats")) {
		c->op = CTL_STATS;
		return parse_opt_vip(argc - 1, argv + 1, "stats", c, err, errlen);
	}
	if (!strcmp(obj, "flows")) {
		if (verb && !strcmp(verb, "sweep")) {
			c->op = CTL_FLOWS_SWEEP;
			c->binding_s = 5;
			c->idle_s = 86400;
			c->closed_s = 10;
			for (int i = 2; i < argc; i += 2) {
				__u32 *dst = !strcmp(argv[i], "binding") ? &c->binding_s :
					     !strcmp(argv[i], "idle") ? &c->idle_s :
					     !strcmp(argv[i], "closed") ? &c->closed_s : NULL;

				if (!dst)
					FAIL("flows sweep: unknown option '%s' (binding, idle, closed)", argv[i]);
				if (i + 1 >= argc || parse_u32(argv[i + 1], 0, 7 * 86400, dst))
					FAIL("flows sweep: %s needs SECONDS (0-604800)", argv[i]);
			}
			return 0;
		}
		c->op = CTL_FLOWS;
		return parse_opt_vip(argc - 1, argv + 1, "flows", c, err, errlen);
	}
	if (!strcmp(obj, "affinity")) {
		if (!verb)
			FAIL("affinity: missing command (list, flush)");
		if (!strcmp(verb, "list"))
			c->op = CTL_AFF_LIST;
		else if (!strcmp(verb, "flush"))
			c->op = CTL_AFF_FLUSH;
		else
			FAIL("affinity: unknown command '%s' (list, flush)", verb);
		return parse_opt_vip(argc - 2, argv + 2, "affinity", c, err, errlen);
	}
	if (!strcmp(obj, "apply")) {
		c->op = CTL_APPLY;
		if (argc == 4 && !strcmp(argv[2], "previous")) {
			c->previous = argv[3];
		} else if (argc > 2 && !strcmp(argv[2], "previous")) {
			FAIL("apply: previous: expected one FILE (the configuration before the last change)");
		} else if (argc != 2) {
			FAIL("apply: expected FILE [previous FILE]");
		}
		c->path = argv[1];
		return 0;
	}
	if (!strcmp(obj, "save")) {
		c->op = CTL_SAVE;
		if (argc != 1)
			FAIL("save: unexpected argument '%s'", argv[1]);
		return 0;
	}
	FAIL("unknown object '%s' (vip, backend, stats, flows, affinity, apply, save)", obj);
}

bool ctl_writes(const struct ctl_cmd *c)
{
	return c->op == CTL_VIP_ADD || c->op == CTL_VIP_DEL || c->op == CTL_BE_ADD ||
	       c->op == CTL_BE_DRAIN || c->op == CTL_BE_DEL || c->op == CTL_BE_REPLACE ||
	       c->op == CTL_AFF_FLUSH ||
	       c->op == CTL_FLOWS_SWEEP || c->op == CTL_APPLY || c->op == CTL_BE_HEALTH;
}

/* Iterate the VIPs (optionally one); fn returns <0 to stop. */
typedef int (*vip_fn)(struct inst *in, const struct vip_key *k, const struct vip_meta *m, void *arg);

static int for_each_vip(struct inst *in, const struct ctl_cmd *c, vip_fn fn, void *arg, char *err,
			size_t errlen)
{
	struct vip_set *s;
	struct vip_meta m;
	char vs[80];
	int ret;

	if (c->has_vip) {
		if (op_vip_find(in, &c->vip, &m)) {
			snprintf(err, errlen, "vip %s not found", vip_str(&c->vip, vs, sizeof(vs)));
			return -ENOENT;
		}
		return fn(in, &c->vip, &m, arg);
	}
	s = malloc(sizeof(*s));
	ret = s ? vips_read(in, s) : -ENOMEM;
	if (ret)
		snprintf(err, errlen, "read the VIPs: %s", strerror(-ret));
	for (int i = 0; !ret && i < s->n; i++) { /* in id order */
		ret = fn(in, &s->v[i].k, &s->v[i].m, arg);
		ret = ret < 0 ? ret : 0;
	}
	free(s);
	return ret;
}

/* for_each_vip with every backend slot read once (by id) as fn's arg. */
static int for_each_vip_bes(struct inst *in, const struct ctl_cmd *c, vip_fn fn, char *err,
			    size_t errlen)
{
	struct backend *bes = NULL;
	int ret = backends_get(in, &bes);

	if (ret)
		snprintf(err, errlen, "read the backends: %s", strerror(-ret));
	else
		ret = for_each_vip(in, c, fn, bes, err, errlen);
	free(bes);
	return ret;
}

static int vip_row(struct inst *in, const struct vip_key *k, const struct vip_meta *m, void *arg)
{
	const struct backend *bes = arg;
	char vs[80], pfx[8];
	__u32 id, active = 0, draining = 0;

	for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		if (bes[id].vip_id != m->vip_id)
			continue;
		active += bes[id].state == LIMPET_BE_ACTIVE;
		draining += bes[id].state == LIMPET_BE_DRAINING;
	}
	snprintf(pfx, sizeof(pfx), "/%u", k->family == LIMPET_AF_INET ? m->prefix4 : m->prefix6);
	out_row_begin();
	out_cell_str(vip_str(k, vs, sizeof(vs)));
	out_cell_u64(m->vip_id);
	out_cell_str(policy_str(m->policy));
	out_cell_str(m->mode < LIMPET_MODE_MAX ? mode_names[m->mode] : "?");
	out_cell_str(m->policy != LIMPET_POLICY_FIVE_TUPLE ? pfx : "-");
	out_cell_u64(m->affinity_ttl);
	out_cell_u64(m->maglev_m);
	out_cell_u64(active);
	out_cell_u64(draining);
	{
		struct token_spec ts = {};
		char tb[96], full[140];

		bpf_map_lookup_elem(in->fd[IM_TOKENS], &m->vip_id, &ts);
		snprintf(full, sizeof(full), "%s%s%s", token_spec_str(&ts, tb, sizeof(tb)),
			 m->policy == LIMPET_POLICY_TOKEN && (m->flags & LIMPET_VIP_F_FALLBACK_5T) ?
				 " fallback five-tuple" : "",
			 m->flags & LIMPET_VIP_F_SYN_DATA ? " syn-data" : "");
		out_cell_str(full);
	}
	out_row_end();
	return 0;
}

/* up, down or - (unchecked); "(set)" when set by hand. */
static const char *health_str(const struct backend *be, char *buf, size_t len)
{
	const char *h = be->health == LIMPET_HEALTH_UP ? "up" :
			be->health == LIMPET_HEALTH_DOWN ? "down" : "-";

	snprintf(buf, len, "%s%s", h, be->health_mode != LIMPET_HM_AUTO ? " (set)" : "");
	return buf;
}

static int backend_rows(struct inst *in, const struct vip_key *k, const struct vip_meta *m,
			void *arg)
{
	const struct backend *bes = arg;
	char vs[80], bs[80];
	struct backend be;
	__u32 id;

	(void)in;
	vip_str(k, vs, sizeof(vs));
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		be = bes[id];
		if (be.state == LIMPET_BE_FREE || be.vip_id != m->vip_id)
			continue;
		out_row_begin();
		out_cell_str(vs);
		out_cell_str(endpoint_str(be.addr, be.family, ntohs(be.port), bs, sizeof(bs)));
		out_cell_u64(id);
		out_cell_str(be_state_str(be.state));
		out_cell_u64(be.weight);
		out_cell_str(health_str(&be, bs, sizeof(bs)));
		out_row_end();
	}
	return 0;
}

/* affinity hits and misses are counted per VIP only */
static void stats_cells(const struct limpet_stats *s, bool with_affinity)
{
	out_cell_u64(s->packets);
	out_cell_u64(s->bytes);
	out_cell_u64(s->new_flows);
	if (with_affinity) {
		out_cell_u64(s->aff_hits);
		out_cell_u64(s->aff_misses);
	}
	out_cell_u64(s->reply_packets);
	out_cell_u64(s->reply_bytes);
}

/* What `stats` prints, read once: the backends, and every VIP's and backend's counters. */
struct stats_view {
	struct backend *bes;
	struct limpet_stats *vip, *be;
};

static void stats_view_free(struct stats_view *v)
{
	free(v->bes);
	free(v->vip);
	free(v->be);
}

/* 0, or -errno with err filled. */
static int stats_view_read(struct inst *in, struct stats_view *v, char *err, size_t errlen)
{
	int ret = backends_get(in, &v->bes);

	v->vip = calloc(LIMPET_MAX_VIPS, sizeof(*v->vip));
	v->be = calloc(LIMPET_MAX_BACKENDS, sizeof(*v->be));
	if (!ret && (!v->vip || !v->be))
		ret = -ENOMEM;
	if (!ret)
		ret = stats_sum_all(in->fd[IM_VIP_STATS], LIMPET_MAX_VIPS, v->vip);
	if (!ret)
		ret = stats_sum_all(in->fd[IM_BACKEND_STATS], backends_span(v->bes), v->be);
	if (ret)
		snprintf(err, errlen, "read the counters: %s", strerror(-ret));
	return ret;
}

static int vip_stats_row(struct inst *in, const struct vip_key *k, const struct vip_meta *m,
			 void *arg)
{
	const struct stats_view *v = arg;
	char vs[80];

	(void)in;
	if (m->vip_id >= LIMPET_MAX_VIPS)
		return 0;
	out_row_begin();
	out_cell_str(vip_str(k, vs, sizeof(vs)));
	stats_cells(&v->vip[m->vip_id], true);
	out_row_end();
	return 0;
}

static int backend_stats_rows(struct inst *in, const struct vip_key *k, const struct vip_meta *m,
			      void *arg)
{
	const struct stats_view *v = arg;
	struct backend be;
	char vs[80], bs[80];
	__u32 id;

	(void)in;
	vip_str(k, vs, sizeof(vs));
	for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		be = v->bes[id];
		if (be.state == LIMPET_BE_FREE || be.vip_id != m->vip_id)
			continue;
		out_row_begin();
		out_cell_str(vs);
		out_cell_str(endpoint_str(be.addr, be.family, ntohs(be.port), bs, sizeof(bs)));
		out_cell_str(be_state_str(be.state));
		stats_cells(&v->be[id], false);
		out_row_end();
	}
	return 0;
}

/* A per-CPU counter map as a table of name, count; rows from first on. */
static void counter_table(int fd, const char *table, const char *name_col, const char *count_col,
			  const char *const *names, __u32 n, __u32 first)
{
	const char *cols[] = { name_col, count_col };
	__u64 v[64];

	if (n > 64 || counters_sum(fd, n, v))
		return;
	out_table_begin(table, cols, 2);
	for (__u32 i = first; i < n; i++) {
		out_row_begin();
		out_cell_str(names[i]);
		out_cell_u64(v[i]);
		out_row_end();
	}
	out_table_end();
}

static int run_stats(struct inst *in, const struct ctl_cmd *c, char *err, size_t errlen)
{
	static const char *const vcols[] = { "vip", "packets", "bytes", "new_flows", "aff_hits",
					      "aff_misses", "reply_packets", "reply_bytes" };
	static const char *const bcols[] = { "vip", "backend", "state", "packets", "bytes",
					      "new_flows", "reply_packets", "reply_bytes" };
	struct stats_view v = {};
	int ret = stats_view_read(in, &v, err, errlen);

	if (!ret) {
		out_table_begin("vips", vcols, 8);
		ret = for_each_vip(in, c, vip_stats_row, &v, err, errlen);
		out_table_end_or_drop(ret); /* a VIP not there: its error alone */
	}
	if (!ret) {
		out_table_begin("backends", bcols, 8);
		ret = for_each_vip(in, c, backend_stats_rows, &v, err, errlen);
		out_table_end_or_drop(ret);
	}
	stats_view_free(&v);
	if (ret || c->has_vip)
		return ret;
	/* one reason per packet per program (0 is none); events beside them */
	counter_table(in->fd[IM_REASONS], "reasons", "reason", "packets", reason_names, LIMPET_R_MAX, 1);
	counter_table(in->fd[IM_TC_REASONS], "tc_reasons", "reason", "packets", tc_reason_names,
		      LIMPET_TC_MAX, 1);
	counter_table(in->fd[IM_EVENTS], "events", "event", "count", event_names, LIMPET_EV_MAX, 0);
	return 0;
}

/* The VIP a listing is limited to, if the command names one. */
static int vip_named(struct inst *in, const struct ctl_cmd *c, struct vip_meta *m, char *err,
		     size_t errlen)
{
	char vs[80];

	if (c->has_vip && op_vip_find(in, &c->vip, m)) {
		snprintf(err, errlen, "vip %s not found", vip_str(&c->vip, vs, sizeof(vs)));
		return -ENOENT;
	}
	return 0;
}

/* A backend id as a table cell: its address, or "(deleted)" when the id no longer serves vip_id. */
static void backend_cell(struct inst *in, __u32 id, __u32 vip_id, __be16 client_port)
{
	struct backend be;
	char buf[80];

	if (!bpf_map_lookup_elem(in->fd[IM_BACKENDS], &id, &be) && be.state != LIMPET_BE_FREE &&
	    be.vip_id == vip_id)
		out_cell_str(endpoint_str(be.addr, be.family, ntohs(be.port ? be.port : client_port),
					  buf, sizeof(buf)));
	else
		out_cell_str("(deleted)");
}

static __u64 idle_s(__u64 now, __u64 last_seen)
{
	return now > last_seen ? (now - last_seen) / 1000000000ULL : 0;
}

struct flows_out {
	struct inst *in;
	const struct ctl_cmd *c;
	__u32 vip_id;
	__u64 now;
	bool established;
};

static int flow_row(const void *k, const void *v, void *ctx)
{
	static const char *const states[] = { "nat", "binding", "spliced" };
	const struct flow_key *key = k;
	const struct flow_val *fv = v;
	struct flows_out *o = ctx;
	char a[80], b[80], st[40];

	if (o->c->has_vip && fv->vip_id != o->vip_id)
		return 0;
	snprintf(st, sizeof(st), "%s%s", fv->sp.state >= 3 ? "?" : states[fv->sp.state],
		 limpet_flow_closed(fv->sp.fin)		     ? " closed" :
		 !o->established && !fv->sp.state	     ? " half-open" : "");
	out_row_begin();
	out_cell_str(proto_str(key->proto));
	out_cell_str(endpoint_str(key->src, key->family, ntohs(key->sport), a, sizeof(a)));
	out_cell_str(endpoint_str(key->dst, key->family, ntohs(key->dport), b, sizeof(b)));
	backend_cell(o->in, fv->backend_id, fv->vip_id, key->dport);
	out_cell_str(st);
	out_cell_u64(idle_s(o->now, fv->last_seen));
	out_row_end();
	return 0;
}

/* Established flows first, then the half-open, binding and closed ones. */
static int run_flows(struct inst *in, const struct ctl_cmd *c, char *err, size_t errlen)
{
	static const char *const cols[] = { "proto", "client", "vip", "backend", "state", "idle_s" };
	struct flows_out o = { .in = in, .c = c, .now = mono_coarse_ns(), .established = true };
	struct vip_meta m = {};
	int ret;

	if (vip_named(in, c, &m, err, errlen))
		return -ENOENT;
	o.vip_id = m.vip_id;
	out_table_begin("flows", cols, 6);
	ret = map_scan(in->fd[IM_FLOWS], sizeof(struct flow_key), sizeof(struct flow_val), flow_row,
		       &o);
	o.established = false;
	if (!ret)
		ret = map_scan(in->fd[IM_HALFOPEN], sizeof(struct flow_key), sizeof(struct flow_val),
			       flow_row, &o);
	out_table_end();
	if (ret)
		snprintf(err, errlen, "flows: read the flow tables: %s", strerror(-ret));
	return ret;
}

struct aff_out {
	struct inst *in;
	const struct ctl_cmd *c;
	__u32 vip_id;
	__u64 now;
	const struct vip_key *by_id[LIMPET_MAX_VIPS]; /* the VIPs, read once */
};

static int affinity_row(const void *k, const void *v, void *ctx)
{
	const struct affinity_key *key = k;
	const struct affinity_val *av = v;
	struct aff_out *o = ctx;
	const struct vip_key *vk;
	char a[80], b[80];

	if ((o->c->has_vip && key->vip_id != o->vip_id) || key->vip_id >= LIMPET_MAX_VIPS ||
	    !(vk = o->by_id[key->vip_id]))
		return 0;
	out_row_begin();
	out_cell_str(vip_str(vk, b, sizeof(b)));
	if (key->kind == LIMPET_AFF_TOKEN) {
		out_cell_str("token");
		snprintf(a, sizeof(a), "%08x%08x", key->key[0], key->key[1]);
		out_cell_str(a); /* hashes only: limpet never keeps the token */
	} else {
		out_cell_str("src-ip");
		out_cell_str(addr_str(key->key, vk->family, a, sizeof(a)));
	}
	backend_cell(o->in, av->backend_id, key->vip_id, vk->port);
	out_cell_u64(idle_s(o->now, av->last_seen));
	out_row_end();
	return 0;
}

static int run_affinity_list(struct inst *in, const struct ctl_cmd *c, char *err, size_t errlen)
{
	static const char *const cols[] = { "vip", "kind", "key", "backend", "idle_s" };
	struct aff_out o = { .in = in, .c = c, .now = mono_coarse_ns() };
	struct vip_meta m = {};
	struct vip_set *s;
	int ret;

	if (vip_named(in, c, &m, err, errlen))
		return -ENOENT;
	o.vip_id = m.vip_id;
	s = malloc(sizeof(*s));
	ret = s ? vips_read(in, s) : -ENOMEM;
	for (int i = 0; !ret && i < s->n; i++)
		if (s->v[i].m.vip_id < LIMPET_MAX_VIPS)
			o.by_id[s->v[i].m.vip_id] = &s->v[i].k;
	out_table_begin("affinity", cols, 5);
	if (!ret)
		ret = map_scan(in->fd[IM_AFFINITY], sizeof(struct affinity_key),
			       sizeof(struct affinity_val), affinity_row, &o);
	out_table_end();
	if (ret)
		snprintf(err, errlen, "affinity: read the VIPs and the affinity table: %s",
			 strerror(-ret));
	free(s);
	return ret;
}

static void change_row(void *ctx, const char *change)
{
	(void)ctx;
	out_row_begin();
	out_cell_str(change);
	out_row_end();
}

static void save_line(void *ctx, const char *line)
{
	(void)ctx;
	if (out_is_json())
		change_row(NULL, line);
	else
		printf("%s\n", line);
}

/* apply: the whole file (and the previous one) is read and checked before the first change. */
static int run_apply(struct inst *in, const struct ctl_cmd *c, char *err, size_t errlen)
{
	static const char *const ccols[] = { "change" };
	struct cfg cfg, prev = { 0 };
	int ret = cfg_load(c->path, &cfg, err, errlen);

	if (ret)
		return ret;
	if (c->previous && (ret = cfg_load(c->previous, &prev, err, errlen))) {
		cfg_free(&cfg);
		return ret;
	}
	out_table_begin("changes", ccols, 1);
	ret = c->previous ? cfg_apply_after(in, &prev, &cfg, change_row, NULL, err, errlen) :
			    cfg_apply(in, &cfg, change_row, NULL, err, errlen);
	out_table_end_or_drop(ret);
	cfg_free(&cfg);
	cfg_free(&prev);
	return ret;
}

static int run_save(struct inst *in)
{
	static const char *const lcols[] = { "line" };
	int ret;

	if (out_is_json())
		out_table_begin("config", lcols, 1);
	ret = cfg_save(in, save_line, NULL);
	if (out_is_json())
		out_table_end();
	return ret;
}

int ctl_run(struct inst *in, const struct ctl_cmd *c, char *err, size_t errlen)
{
	static const char *const vcols[] = { "vip", "id", "policy", "mode", "prefix",
					      "affinity_timeout", "table_size", "active",
					      "draining", "token" };
	static const char *const bcols[] = { "vip", "backend", "id", "state", "weight", "health" };
	struct vip_meta m;
	int ret;

	switch (c->op) {
	case CTL_HELP:
		ctl_usage(stdout);
		return 0;
	case CTL_VIP_ADD:
		return op_vip_add(in, &c->vip, &c->vo, err, errlen);
	case CTL_VIP_DEL:
		return op_vip_del(in, &c->vip, err, errlen);
	case CTL_VIP_LIST:
		out_table_begin("vips", vcols, 10);
		ret = for_each_vip_bes(in, c, vip_row, err, errlen);
		out_table_end();
		return ret;
	case CTL_BE_ADD:
		return op_backend_add(in, &c->vip, c->be_spec, c->weight, err, errlen);
	case CTL_BE_DRAIN:
		return op_backend_set_state(in, &c->vip, c->be_spec, LIMPET_BE_DRAINING, err, errlen);
	case CTL_BE_DEL:
		return op_backend_set_state(in, &c->vip, c->be_spec, LIMPET_BE_FREE, err, errlen);
	case CTL_BE_REPLACE:
		return op_backend_replace(in, &c->vip, c->be_spec, c->be_new, c->weight, err, errlen);
	case CTL_BE_HEALTH:
		return op_backend_health_mode(in, &c->vip, c->be_spec, c->health_mode, err, errlen);
	case CTL_BE_LIST:
		out_table_begin("backends", bcols, 6);
		ret = for_each_vip_bes(in, c, backend_rows, err, errlen);
		out_table_end_or_drop(ret); /* a VIP not there: its error alone */
		return ret;
	case CTL_STATS:
		return run_stats(in, c, err, errlen);
	case CTL_FLOWS:
		return run_flows(in, c, err, errlen);
	case CTL_FLOWS_SWEEP:
		ret = op_flows_sweep(in, c->binding_s, c->idle_s, c->closed_s);
		if (ret < 0)
			return ret;
		out_kv_u64("swept", ret);
		return 0;
	case CTL_AFF_LIST:
		return run_affinity_list(in, c, err, errlen);
	case CTL_APPLY:
		return run_apply(in, c, err, errlen);
	case CTL_SAVE:
		return run_save(in);
	case CTL_AFF_FLUSH:
		if (vip_named(in, c, &m, err, errlen))
			return -ENOENT;
		ret = op_affinity_flush(in, c->has_vip ? (int)m.vip_id : -1, -1);
		if (ret < 0)
			return ret;
		out_kv_u64("flushed", ret);
		return 0;
	}
	return -EINVAL;
}
