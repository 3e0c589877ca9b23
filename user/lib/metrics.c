// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* An instance's counters in Prometheus' text exposition format (docs/design.md §5.3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "liblimpet.h"

int metrics_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	__u32 port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host) ||
	    parse_u32(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The per-VIP families, then the per-backend ones (each family's samples together). */
static int vip_metrics(FILE *f, struct inst *in, const struct vip_set *l)
{
	static const struct { const char *name, *help; size_t off; } vf[] = {
		{ "limpet_vip_packets_total", "Packets sent toward the VIP's backends.",
		  offsetof(struct limpet_stats, packets) },
		{ "limpet_vip_bytes_total", "Bytes sent toward the VIP's backends.",
		  offsetof(struct limpet_stats, bytes) },
		{ "limpet_vip_new_flows_total", "Connections (flows) the VIP began.",
		  offsetof(struct limpet_stats, new_flows) },
		{ "limpet_vip_reply_packets_total", "Backend replies sent back to clients.",
		  offsetof(struct limpet_stats, reply_packets) },
		{ "limpet_vip_affinity_hits_total", "New flows sent by a client's affinity.",
		  offsetof(struct limpet_stats, aff_hits) },
	};
	struct limpet_stats *st = calloc(LIMPET_MAX_VIPS, sizeof(*st));
	char vs[80];
	int ret = st ? 0 : -ENOMEM;

	/* every VIP's counters read together, so a VIP's packets and bytes are of one moment */
	if (ret || (ret = stats_sum_all(in->fd[IM_VIP_STATS], LIMPET_MAX_VIPS, st)))
		goto out;
	for (size_t i = 0; i < sizeof(vf) / sizeof(vf[0]); i++) {
		family(f, vf[i].name, "counter", vf[i].help);
		for (int v = 0; v < l->n; v++) {
			if (l->v[v].m.vip_id >= LIMPET_MAX_VIPS)
				continue;
			fprintf(f, "%s{vip=\"%s\"} %llu\n", vf[i].name, vip_str(&l->v[v].k, vs, sizeof(vs)),
				*(unsigned long long *)((char *)&st[l->v[v].m.vip_id] + vf[i].off));
		}
	}
out:
	free(st);
	return ret;
}

/* Whether each VIP's address is announced here (a limpet-owned address on some device): for a
 * host behind ECMP, whether the router sends it the VIP's clients. Skipped if unreadable.
 */
static void announce_metrics(FILE *f, const struct vip_set *l)
{
	static struct announce_set have;
	char vs[80];

	if (announce_present(&have, NULL, 0))
		return;
	family(f, "limpet_vip_announced", "gauge",
	       "1 while the VIP's address is announced from this host (announce dev), else 0.");
	for (int v = 0; v < l->n; v++) {
		int on = 0;

		for (int i = 0; i < have.n && !on; i++)
			on = have.a[i].family == l->v[v].k.family && !memcmp(have.a[i].a, l->v[v].k.addr, 16);
		fprintf(f, "limpet_vip_announced{vip=\"%s\"} %d\n", vip_str(&l->v[v].k, vs, sizeof(vs)), on);
	}
}

static const struct vip_key *vip_of(const struct vip_set *l, __u32 vip_id)
{
	for (int v = 0; v < l->n; v++)
		if (l->v[v].m.vip_id == vip_id)
			return &l->v[v].k;
	return NULL;
}

static int backend_metrics(FILE *f, struct inst *in, const struct vip_set *l)
{
	static const struct { const char *name, *type, *help; size_t off; } bf[] = {
		{ "limpet_backend_packets_total", "counter", "Packets sent toward the backend.",
		  offsetof(struct limpet_stats, packets) },
		{ "limpet_backend_bytes_total", "counter", "Bytes sent toward the backend.",
		  offsetof(struct limpet_stats, bytes) },
		{ "limpet_backend_new_flows_total", "counter", "Connections (flows) sent to the backend.",
		  offsetof(struct limpet_stats, new_flows) },
		{ "limpet_backend_active", "gauge", "1 when the backend takes new clients (not draining).", 0 },
		{ "limpet_backend_health", "gauge", "1 unless the backend is down (checked or set by hand).", 1 },
	};
	struct backend *bes = NULL, be;
	struct limpet_stats *st = calloc(LIMPET_MAX_BACKENDS, sizeof(*st));
	const struct vip_key *k;
	char vs[80], as[64];
	int ret = st ? 0 : -ENOMEM;
	__u32 id;

	/* every backend's counters read together, so its packets and bytes are of one moment */
	if (ret || (ret = backends_get(in, &bes)) ||
	    (ret = stats_sum_all(in->fd[IM_BACKEND_STATS], backends_span(bes), st)))
		goto out;
	for (size_t i = 0; i < sizeof(bf) / sizeof(bf[0]); i++) {
		family(f, bf[i].name, bf[i].type, bf[i].help);
		for (id = 0; id < LIMPET_MAX_BACKENDS; id++) {
			be = bes[id];
			if (be.state == LIMPET_BE_FREE || !(k = vip_of(l, be.vip_id)))
				continue;
			addr_str(be.addr, be.family, as, sizeof(as));
			fprintf(f, "%s{vip=\"%s\",backend=\"%s\"} ", bf[i].name,
				vip_str(k, vs, sizeof(vs)), as);
			if (!strcmp(bf[i].type, "gauge"))
				fprintf(f, "%d\n", bf[i].off ? be.health != LIMPET_HEALTH_DOWN :
							       be.state == LIMPET_BE_ACTIVE);
			else
				fprintf(f, "%llu\n", *(unsigned long long *)((char *)&st[id] + bf[i].off));
		}
	}
out:
	free(bes);
	free(st);
	return ret;
}

/* One counter family from a per-CPU array of n counters, labelled by their names. */
static int named_counters(FILE *f, int fd, __u32 n, const char *const *names, __u32 first,
			  const char *name, const char *label, const char *help)
{
	__u64 *v = calloc(n, sizeof(*v));
	int ret = v ? counters_sum(fd, n, v) : -ENOMEM;

	if (!ret) {
		family(f, name, "counter", help);
		for (__u32 i = first; i < n; i++)
			fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
				(unsigned long long)v[i]);
	}
	free(v);
	return ret;
}

static void table_metrics(FILE *f, struct inst *in)
{
	const int fds[TBL_MAX] = { in->fd[IM_FLOWS], in->fd[IM_HALFOPEN], in->fd[IM_AFFINITY] };
	static const char *const gauges[TBL_MAX] = { "limpet_flows", "limpet_halfopen_flows",
						      "limpet_affinities" };
	static const char *const helps[TBL_MAX] = {
		"Established connections (the flows table).",
		"Connections not yet established, binding or closed (the halfopen table).",
		"Clients with an affinity (the affinity table).",
	};
	struct table_usage u[TBL_MAX];
	bool ok[TBL_MAX];

	tables_usage(fds, u, ok);
	for (int t = 0; t < TBL_MAX; t++) {
		if (!ok[t])
			continue;
		family(f, gauges[t], "gauge", helps[t]);
		fprintf(f, "%s %llu\n", gauges[t], (unsigned long long)u[t].used);
	}
	family(f, "limpet_table_capacity", "gauge", "Entries each table holds at most.");
	for (int t = 0; t < TBL_MAX; t++)
		if (ok[t])
			fprintf(f, "limpet_table_capacity{table=\"%s\"} %llu\n", table_names[t],
				(unsigned long long)u[t].size);
}

int metrics_render(struct inst *in, FILE *f)
{
	struct vip_set *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	/* a counter that cannot be read fails the scrape (Prometheus's up = 0), never a 0 */
	ret = vips_read(in, l);
	if (!ret)
		ret = vip_metrics(f, in, l);
	if (!ret) {
		announce_metrics(f, l);
		ret = backend_metrics(f, in, l);
	}
	if (!ret)
		ret = named_counters(f, in->fd[IM_REASONS], LIMPET_R_MAX, reason_names, 1,
				     "limpet_reason_packets_total", "reason",
				     "Packets the XDP program saw, by the one reason it counted for each.");
	if (!ret)
		ret = named_counters(f, in->fd[IM_TC_REASONS], LIMPET_TC_MAX, tc_reason_names, 1,
				     "limpet_tc_reason_packets_total", "reason",
				     "Packets the TC program saw, by the one reason it counted for each.");
	if (!ret)
		ret = named_counters(f, in->fd[IM_EVENTS], LIMPET_EV_MAX, event_names, 0,
				     "limpet_event_total", "event",
				     "Events beside the verdicts (tokens found, flows full, ...).");
	if (!ret)
		table_metrics(f, in);
	free(l);
	return ret;
}
