// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* An instance made to match a loaded configuration by changing only what differs, and an
 * instance's state printed as configuration (docs/design.md §5.1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "liblimpet.h"

/* The options a VIP was added with, as its maps hold them. */
static void vip_opts_of(struct inst *in, const struct vip_meta *m, struct vip_opts *o)
{
	__u32 id = m->vip_id;

	memset(o, 0, sizeof(*o));
	o->policy = m->policy;
	o->prefix4 = m->prefix4;
	o->prefix6 = m->prefix6;
	o->prefix4_set = o->prefix6_set = true;
	o->affinity_ttl = m->affinity_ttl;
	o->table_size = m->maglev_m;
	o->syn_data = m->flags & LIMPET_VIP_F_SYN_DATA;
	o->mode = m->mode;
	if (bpf_map_lookup_elem(in->fd[IM_DSR], &id, &o->dsr))
		memset(&o->dsr, 0, sizeof(o->dsr));
	if (bpf_map_lookup_elem(in->fd[IM_TOKENS], &id, &o->token))
		memset(&o->token, 0, sizeof(o->token));
	if (bpf_map_lookup_elem(in->fd[IM_CHECKS], &id, &o->check))
		memset(&o->check, 0, sizeof(o->check));
	/* the datapath's flag is the truth; the check's byte only carries it from the grammar */
	o->check.on_down_reset = !!(m->flags & LIMPET_VIP_F_ON_DOWN_RESET);
}

/* The same VIP options, defaults made explicit. */
static bool vip_opts_equal(const struct vip_opts *a, const struct vip_opts *b)
{
	return a->policy == b->policy && (a->prefix4_set ? a->prefix4 : 32) ==
		(b->prefix4_set ? b->prefix4 : 32) &&
	       (a->prefix6_set ? a->prefix6 : 128) == (b->prefix6_set ? b->prefix6 : 128) &&
	       a->affinity_ttl == b->affinity_ttl &&
	       (a->table_size ? a->table_size : LIMPET_MAGLEV_M_DEFAULT) ==
		       (b->table_size ? b->table_size : LIMPET_MAGLEV_M_DEFAULT) &&
	       a->syn_data == b->syn_data && a->mode == b->mode &&
	       !memcmp(&a->dsr, &b->dsr, sizeof(a->dsr)) &&
	       (a->policy != LIMPET_POLICY_TOKEN || !memcmp(&a->token, &b->token, sizeof(a->token)));
}

static void say(cfg_log_fn log, void *ctx, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log)
		log(ctx, line);
}

/* Options no VIP may have, and a DSR VIP's backends with a port of their own: refused with the
 * line before anything changes, as op_vip_add and op_backend_add would refuse them half-way.
 */
static int cfg_check_vips(const struct cfg *c, char *err, size_t errlen)
{
	char e[LIMPET_ERR_LEN];
	int i, j;

	for (i = 0; i < c->nvips; i++)
		if (vip_opts_check(&c->vips[i].k, &c->vips[i].o, e, sizeof(e))) {
			snprintf(err, errlen, "%s:%d: %s", c->path, c->vips[i].line, e);
			return -EINVAL;
		}
	for (i = 0; i < c->nbes; i++)
		for (j = 0; j < c->nvips; j++)
			if (!memcmp(&c->bes[i].k, &c->vips[j].k, sizeof(struct vip_key)) &&
			    c->vips[j].o.mode != LIMPET_MODE_NAT && c->bes[i].port != c->vips[j].k.port) {
				snprintf(err, errlen, "%s:%d: backend %s: an %s VIP's packets keep "
					 "their port; give the backend without one", c->path,
					 c->bes[i].line, c->bes[i].spec, mode_names[c->vips[j].o.mode]);
				return -EINVAL;
			}
	return 0;
}

/* Whether backend b's VIP in the file is a NAT VIP (its replies are matched to it). */
static bool cfg_be_nat(const struct cfg *c, const struct cfg_backend *b)
{
	for (int j = 0; j < c->nvips; j++)
		if (!memcmp(&b->k, &c->vips[j].k, sizeof(struct vip_key)))
			return c->vips[j].o.mode == LIMPET_MODE_NAT;
	return true;
}

/* What the file asks that the maps could refuse, checked before anything changes: backends
 * per VIP (its table size), per instance, and NAT VIPs per backend endpoint (the reverse map).
 */
static int cfg_check_limits(const struct cfg *c, char *err, size_t errlen)
{
	bool *nat;
	int i, j, same, ret = 0;

	if (cfg_check_vips(c, err, errlen))
		return -EINVAL;

	if (c->nbes > LIMPET_MAX_BACKENDS) {
		snprintf(err, errlen, "%s: %d backends, more than an instance holds (%d)", c->path,
			 c->nbes, LIMPET_MAX_BACKENDS);
		return -ENOSPC;
	}
	for (i = 0; i < c->nvips; i++) {
		__u32 m = c->vips[i].o.table_size ? c->vips[i].o.table_size : LIMPET_MAGLEV_M_DEFAULT;

		for (j = 0, same = 0; j < c->nbes; j++)
			same += !memcmp(&c->bes[j].k, &c->vips[i].k, sizeof(struct vip_key));
		if ((__u32)same > maglev_backends_max(m)) {
			snprintf(err, errlen, "%s:%d: the vip has %d backends; its table-size %u "
				 "allows %u", c->path, c->vips[i].line, same, m, maglev_backends_max(m));
			return -ENOSPC;
		}
	}
	/* once per backend, not once per pair: a DSR VIP's backends have no reply to match */
	nat = calloc(c->nbes ? c->nbes : 1, sizeof(*nat));
	if (!nat)
		return -ENOMEM;
	for (i = 0; i < c->nbes; i++)
		nat[i] = cfg_be_nat(c, &c->bes[i]);
	for (i = 0; i < c->nbes && !ret; i++) {
		if (!nat[i])
			continue;
		for (j = 0, same = 0; j < c->nbes; j++)
			same += nat[j] && !memcmp(c->bes[j].addr, c->bes[i].addr, 16) &&
				c->bes[j].family == c->bes[i].family && c->bes[j].port == c->bes[i].port &&
				c->bes[j].k.proto == c->bes[i].k.proto;
		if (same > LIMPET_REV_VIPS) {
			snprintf(err, errlen, "%s:%d: backend %s would serve %d VIPs of this protocol; "
				 "an endpoint serves at most %d", c->path, c->bes[i].line, c->bes[i].spec,
				 same, LIMPET_REV_VIPS);
			ret = -E2BIG;
		}
	}
	free(nat);
	return ret;
}

/* The spec that names backend be of VIP k: ADDR, [ADDR]:PORT or ADDR:PORT. */
static const char *be_spec(const struct vip_key *k, const struct backend *be, char *buf,
			   size_t len)
{
	char a[64];

	addr_str(be->addr, be->family, a, sizeof(a));
	if (!k->port || be->port == k->port)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, be->family == LIMPET_AF_INET6 ? "[%s]:%u" : "%s:%u", a,
			 ntohs(be->port));
	return buf;
}

/* What VIP k's backends (bes, by id) need to become the file's: an edit for each it has that
 * the file changes or does not name, in ed, with the file's line for it in eof (NULL: it goes);
 * seen marks the file's backends it has.
 */
static int apply_backends_diff(const struct cfg *c, const struct vip_key *k, __u32 vip_id,
			       const struct backend *bes, bool *seen, struct be_edit *ed,
			       const struct cfg_backend **eof)
{
	int ne = 0, j;

	for (__u32 id = 0; id < LIMPET_MAX_BACKENDS; id++) {
		const struct backend *be = &bes[id];
		__u8 want = LIMPET_BE_FREE;
		__u32 weight = be->weight;

		if (be->state == LIMPET_BE_FREE || be->vip_id != vip_id)
			continue;
		for (j = 0; j < c->nbes; j++)
			if (!memcmp(&c->bes[j].k, k, sizeof(*k)) && c->bes[j].port == be->port &&
			    c->bes[j].family == be->family && !memcmp(c->bes[j].addr, be->addr, 16))
				break;
		if (j < c->nbes) {
			seen[j] = true;
			want = c->bes[j].drain ? LIMPET_BE_DRAINING : LIMPET_BE_ACTIVE;
			weight = c->bes[j].weight;
		}
		if (want == be->state && weight == be->weight)
			continue;
		eof[ne] = j < c->nbes ? &c->bes[j] : NULL;
		ed[ne++] = (struct be_edit){ id, weight, want };
	}
	return ne;
}

/* Each change of VIP k's backends as apply prints it: edits in id order, then the new ones. */
static void apply_backends_say(const struct vip_key *k, const struct backend *bes,
			       const struct be_edit *ed, const struct cfg_backend *const *eof, int ne,
			       const struct cfg_backend *const *of, int n, cfg_log_fn log, void *ctx)
{
	const struct backend *be;
	char vs[80], bs[80];
	int i;

	vip_str(k, vs, sizeof(vs));
	for (i = 0; i < ne; i++) {
		be = &bes[ed[i].id];
		if (!eof[i]) {
			say(log, ctx, "backend del %s %s", vs, be_spec(k, be, bs, sizeof(bs)));
			continue;
		}
		if (ed[i].weight != be->weight)
			say(log, ctx, "backend weight %s %s %u", vs, eof[i]->spec, ed[i].weight);
		if (ed[i].state != be->state)
			say(log, ctx, "backend %s %s %s", eof[i]->drain ? "drain" : "undrain", vs,
			    eof[i]->spec);
	}
	for (i = 0; i < n; i++) {
		say(log, ctx, "backend add %s %s weight %u", vs, of[i]->spec, of[i]->weight);
		if (of[i]->drain)
			say(log, ctx, "backend drain %s %s", vs, of[i]->spec);
	}
}

/* VIP k (vip_id) as the file has it: the backends it does not name go, its new ones come, the
 * others take its weights and drain states — as one change (op_backends_edit: one table rebuild,
 * and an ipip VIP's second chance names the owners from before the file).
 */
static int apply_backends(struct inst *in, const struct cfg *c, const struct vip_key *k,
			  __u32 vip_id, cfg_log_fn log, void *ctx, char *err, size_t errlen)
{
	int nb = c->nbes ? c->nbes : 1, ne = 0, n = 0, i, ret;
	struct be_edit *ed = calloc(LIMPET_MAX_BACKENDS, sizeof(*ed));
	const struct cfg_backend **eof = calloc(LIMPET_MAX_BACKENDS, sizeof(*eof));
	struct be_new *bn = calloc(nb, sizeof(*bn));
	const struct cfg_backend **of = calloc(nb, sizeof(*of));
	bool *seen = calloc(nb, sizeof(*seen));
	struct backend *bes = NULL;

	ret = ed && eof && bn && of && seen ? backends_get(in, &bes) : -ENOMEM;
	if (!ret)
		ne = apply_backends_diff(c, k, vip_id, bes, seen, ed, eof);
	for (i = 0; i < c->nbes && !ret; i++) {
		if (seen[i] || memcmp(&c->bes[i].k, k, sizeof(*k)))
			continue;
		of[n] = &c->bes[i];
		bn[n++] = (struct be_new){ c->bes[i].spec, c->bes[i].weight,
					   c->bes[i].drain ? LIMPET_BE_DRAINING : LIMPET_BE_ACTIVE };
	}
	if (!ret && (ne || n))
		ret = op_backends_edit(in, k, ed, ne, bn, n, err, errlen);
	if (!ret)
		apply_backends_say(k, bes, ed, eof, ne, of, n, log, ctx);
	free(bes);
	free(ed);
	free(eof);
	free(bn);
	free(of);
	free(seen);
	return ret;
}

/* One VIP of the file: kept (its backends, ids, affinities and flows with it), added, or
 * replaced when its options changed.
 */
static int apply_vip(struct inst *in, const struct cfg_vip *v, const struct vip_set *cur,
		     cfg_log_fn log, void *ctx, char *err, size_t errlen)
{
	struct vip_opts o;
	struct vip_meta m;
	char vs[80];
	int i, ret;

	vip_str(&v->k, vs, sizeof(vs));
	for (i = 0; i < cur->n && memcmp(&cur->v[i].k, &v->k, sizeof(v->k)); i++)
		;
	if (i < cur->n) {
		vip_opts_of(in, &cur->v[i].m, &o);
		if (vip_opts_equal(&o, &v->o)) {
			/* a check is changed in place: the VIP keeps its flows */
			if (!memcmp(&o.check, &v->o.check, sizeof(o.check)))
				return 0;
			ret = op_vip_check_set(in, &v->k, &v->o.check, err, errlen);
			if (!ret)
				say(log, ctx, "vip check %s %s", vs,
				    v->o.check.type == LIMPET_CHECK_NONE ? "removed" : "changed");
			return ret;
		}
		ret = op_vip_del(in, &v->k, err, errlen);
		if (ret)
			return ret;
		say(log, ctx, "vip del %s (its options changed)", vs);
	}
	ret = op_vip_add(in, &v->k, &v->o, err, errlen);
	if (!ret)
		say(log, ctx, "vip add %s", vs);
	if (!ret && op_vip_find(in, &v->k, &m))
		ret = -ENOENT;
	return ret;
}

int cfg_apply(struct inst *in, const struct cfg *c, cfg_log_fn log, void *ctx, char *err,
	      size_t errlen)
{
	struct vip_set *cur = calloc(1, sizeof(*cur));
	struct vip_meta m;
	char vs[80];
	int i, j, ret;

	if (!cur)
		return -ENOMEM;
	ret = cfg_check_limits(c, err, errlen);
	if (!ret)
		ret = vips_read(in, cur);
	/* what the file no longer has goes first: its room is free for what comes */
	for (i = 0; i < cur->n && !ret; i++) {
		for (j = 0; j < c->nvips && memcmp(&c->vips[j].k, &cur->v[i].k, sizeof(struct vip_key)); j++)
			;
		if (j < c->nvips)
			continue;
		ret = op_vip_del(in, &cur->v[i].k, err, errlen);
		if (!ret)
			say(log, ctx, "vip del %s", vip_str(&cur->v[i].k, vs, sizeof(vs)));
	}
	for (i = 0; i < c->nvips && !ret; i++) {
		ret = apply_vip(in, &c->vips[i], cur, log, ctx, err, errlen);
		if (!ret && op_vip_find(in, &c->vips[i].k, &m))
			ret = -ENOENT;
		if (!ret)
			ret = apply_backends(in, c, &c->vips[i].k, m.vip_id, log, ctx, err, errlen);
	}
	if (ret && !*err)
		snprintf(err, errlen, "apply: %s", strerror(-ret));
	free(cur);
	return ret;
}

struct said_before {
	cfg_log_fn log;
	void *ctx;
};

static void say_previous(void *ctx, const char *change)
{
	struct said_before *b = ctx;

	say(b->log, b->ctx, "previous: %s", change);
}

/* A host that starts with no state (docs/design.md §4.3): into an instance without VIPs, prev
 * — the configuration before the last change — goes first and then c, as the one change hosts
 * that lived through it made, so an ipip VIP's second chance names the owners from before it.
 * An instance with VIPs has its own history and gets c alone. Both are checked first; should
 * prev fail half-way all the same, c is applied from there (said to log).
 */
int cfg_apply_after(struct inst *in, const struct cfg *prev, const struct cfg *c, cfg_log_fn log,
		    void *ctx, char *err, size_t errlen)
{
	struct said_before b = { log, ctx };
	int has = 0, ret = cfg_check_limits(prev, err, errlen);

	if (!ret)
		ret = cfg_check_limits(c, err, errlen);
	if (!ret && (has = vips_any(in)) < 0)
		ret = has;
	if (!ret && has)
		say(log, ctx, "previous %s not applied: the instance has VIPs, and its own history",
		    prev->path);
	else if (!ret && cfg_apply(in, prev, say_previous, &b, err, errlen)) {
		/* history is a help, the file is the truth: it still goes in, from where prev stopped */
		say(log, ctx, "previous %s: %s; applying the file without it", prev->path, err);
		err[0] = '\0';
	}
	if (!ret)
		ret = cfg_apply(in, c, log, ctx, err, errlen);
	if (ret && !*err)
		snprintf(err, errlen, "apply: %s", strerror(-ret));
	return ret;
}

static void token_words(const struct token_spec *t, char *buf, size_t len)
{
	static const char *const src[] = { "", "query", "cookie", "header" };

	if (t->source == LIMPET_TOK_UDP)
		snprintf(buf, len, " token udp offset %u len %u", t->offset, t->len);
	else if (t->source >= 1 && t->source <= 3)
		snprintf(buf, len, " token %s %.*s", src[t->source], t->name_len, t->name);
	else
		buf[0] = '\0';
}

/* A VIP's check in the grammar, every setting spelled out. */
static void check_words(const struct check_spec *c, char *buf, size_t len)
{
	int n = 0;

	buf[0] = '\0';
	if (c->type == LIMPET_CHECK_NONE) {
		if (c->on_down_reset)
			snprintf(buf, len, " on-down reset");
		return;
	}
	if (c->type == LIMPET_CHECK_TCP)
		n = snprintf(buf, len, " check tcp");
	else
		n = snprintf(buf, len, " check http %.*s expect %u-%u", LIMPET_CHECK_PATH_MAX - 1,
			     c->path, c->expect_lo, c->expect_hi);
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " check-interval %u check-timeout %u rise %u fall %u",
			      c->interval_s, c->timeout_s, c->rise, c->fall);
	if (c->port && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " check-port %u", c->port);
	if (c->slowstart_s && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, " slowstart %u", c->slowstart_s);
	if (c->on_down_reset && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - n, " on-down reset");
}

/* "vip add VIP [options]" with the options that differ from the defaults. */
static void vip_line_str(struct inst *in, const struct vip_key *k, const struct vip_meta *m,
			 char *buf, size_t len)
{
	static const char *const pol[] = { "ip-hash", "five-tuple", "token" };
	struct vip_opts o;
	char vs[80], tok[96];
	size_t n;

	vip_opts_of(in, m, &o);
	token_words(&o.token, tok, sizeof(tok));
	n = snprintf(buf, len, "vip add %s", vip_str(k, vs, sizeof(vs)));
	if (o.policy != LIMPET_POLICY_IP_HASH && o.policy < 3 && n < len)
		n += snprintf(buf + n, len - n, " policy %s%s", pol[o.policy],
			      o.policy == LIMPET_POLICY_TOKEN ? tok : "");
	if (o.policy == LIMPET_POLICY_TOKEN && o.token.fallback == LIMPET_POLICY_FIVE_TUPLE && n < len)
		n += snprintf(buf + n, len - n, " fallback five-tuple");
	if (o.syn_data && n < len)
		n += snprintf(buf + n, len - n, " syn-data on");
	if (o.prefix4 != 32 && n < len)
		n += snprintf(buf + n, len - n, " prefix %u", o.prefix4);
	if (o.prefix6 != 128 && n < len)
		n += snprintf(buf + n, len - n, " prefix6 %u", o.prefix6);
	if (o.affinity_ttl != LIMPET_AFFINITY_TTL_DEFAULT && n < len)
		n += snprintf(buf + n, len - n, " affinity-timeout %u", o.affinity_ttl);
	if (o.table_size != LIMPET_MAGLEV_M_DEFAULT && n < len)
		n += snprintf(buf + n, len - n, " table-size %u", o.table_size);
	if (o.mode != LIMPET_MODE_NAT && o.mode < LIMPET_MODE_MAX && n < len)
		n += snprintf(buf + n, len - n, " mode %s", mode_names[o.mode]);
	if (o.dsr.src_plen && n < len)
		n += snprintf(buf + n, len - n, " encap-source %s/%u",
			      addr_str(o.dsr.src, k->family, vs, sizeof(vs)), o.dsr.src_plen);
	if (n < len)
		check_words(&o.check, buf + n, len - n);
}

struct save_ctx {
	cfg_line_fn emit;
	void *ctx;
};

static int save_dev(const void *key, const void *val, void *ctx)
{
	const struct dev_info *d = val;
	struct save_ctx *sc = ctx;
	char line[96];

	(void)key;
	snprintf(line, sizeof(line), "attach dev %.16s mode %s", d->ifname,
		 d->xdp_mode == LIMPET_XDP_SKB ? "skb" : "native");
	sc->emit(sc->ctx, line);
	return 0;
}

static int save_devs(struct inst *in, cfg_line_fn emit, void *ctx)
{
	struct save_ctx sc = { emit, ctx };

	return map_scan(in->fd[IM_DEVS], sizeof(__u32), sizeof(struct dev_info), save_dev, &sc);
}

int cfg_save(struct inst *in, cfg_line_fn emit, void *ctx)
{
	struct vip_set *cur = calloc(1, sizeof(*cur));
	struct backend *bes = NULL, be;
	char line[512], vs[80], bs[80];
	int i, ret;
	__u32 id;

	if (!cur)
		return -ENOMEM;
	save_devs(in, emit, ctx);
	ret = vips_read(in, cur); /* in id order: the order they were added in */
	if (!ret)
		ret = backends_get(in, &bes);
	for (i = 0; i < cur->n && !ret; i++) {
		vip_line_str(in, &cur->v[i].k, &cur->v[i].m, line, sizeof(line));
		emit(ctx, line);
		vip_str(&cur->v[i].k, vs, sizeof(vs));
		for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
			be = bes[id];
			if (be.state == LIMPET_BE_FREE || be.vip_id != cur->v[i].m.vip_id)
				continue;
			be_spec(&cur->v[i].k, &be, bs, sizeof(bs));
			if (be.weight == 1)
				snprintf(line, sizeof(line), "backend add %s %s", vs, bs);
			else
				snprintf(line, sizeof(line), "backend add %s %s weight %u", vs, bs,
					 be.weight);
			emit(ctx, line);
			if (be.state == LIMPET_BE_DRAINING) {
				snprintf(line, sizeof(line), "backend drain %s %s", vs, bs);
				emit(ctx, line);
			}
		}
	}
	free(cur);
	free(bes);
	return ret;
}
