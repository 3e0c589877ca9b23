// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's health checks (docs/design.md §5.4): every backend of a VIP with a check is
 * probed from this host (TCP connect or HTTP GET, libcurl's multi interface, all at once),
 * rise successes make it up, fall failures down, jittered so probes do not align.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <curl/curl.h>

#include "loader.h"

struct hc_target {
	__u32 vip_id, be_id;
	struct vip_key vk;
	struct check_spec cs;
	__u32 addr[4];
	__u8 family;
	__u16 port;
	int ok_run, fail_run;
	double next_due;
	double ramp_start; /* slowstart under way since (0: none) */
	__u16 ramp_pct;
	__u8 want, was; /* a change of health for health_commit (want 0: none), and before it */
	bool ramp_due;  /* a slowstart step (ramp_pct) for health_commit */
	CURL *easy;     /* a probe in flight */
};

struct health {
	CURLM *multi;
	struct hc_target t[LIMPET_MAX_BACKENDS];
	int n;
	struct inst in; /* reads; changes take the instance lock */
	log_fn log;
	struct vip_set vips;
	bool changed;     /* a backend's health changed since the last tick */
	double ramp_next; /* when slowstart steps are next made */
};

#define RAMP_EVERY_S 0.5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* interval × [0.8, 1.2): checks of many backends spread out instead of firing together */
static double jitter(__u16 interval_s)
{
	return interval_s * (0.8 + 0.4 * (rand() / (RAND_MAX + 1.0)));
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static void target_name(const struct hc_target *t, char *buf, size_t len)
{
	char vs[80], be[80];

	vip_str(&t->vk, vs, sizeof(vs));
	endpoint_str(t->addr, t->family, t->port, be, sizeof(be));
	snprintf(buf, len, "%s %s", vs, be);
}

static int probe_start(struct health *h, struct hc_target *t)
{
	char url[160], a[64];

	addr_str(t->addr, t->family, a, sizeof(a));
	snprintf(url, sizeof(url), t->family == LIMPET_AF_INET6 ? "http://[%s]:%u%s" : "http://%s:%u%s",
		 a, t->port, t->cs.type == LIMPET_CHECK_HTTP ? t->cs.path : "/");
	t->easy = curl_easy_init();
	if (!t->easy)
		return -ENOMEM;
	curl_easy_setopt(t->easy, CURLOPT_URL, url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)t->cs.timeout_s * 1000);
	curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(t->easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "limpet-check");
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
	if (t->cs.type == LIMPET_CHECK_TCP)
		curl_easy_setopt(t->easy, CURLOPT_CONNECT_ONLY, 1L);
	curl_multi_add_handle(h->multi, t->easy);
	return 0;
}

/* Every backend of a VIP with a check, keeping the counts of those already known. */
static void health_sync(struct health *h)
{
	static struct hc_target old[LIMPET_MAX_BACKENDS];
	static struct backend bes[LIMPET_MAX_BACKENDS];
	static int old_of[LIMPET_MAX_BACKENDS]; /* by backend id: its target in old + 1, or 0 */
	struct check_spec cs;
	struct backend be;
	int nold = h->n, i;

	memcpy(old, h->t, sizeof(h->t[0]) * nold);
	memset(old_of, 0, sizeof(old_of));
	for (i = 0; i < nold; i++)
		old_of[old[i].be_id % LIMPET_MAX_BACKENDS] = i + 1;
	h->n = 0;
	if (vips_read(&h->in, &h->vips) || backends_read(&h->in, bes))
		h->vips.n = 0;
	for (int v = 0; v < h->vips.n; v++) {
		const struct vip_key k = h->vips.v[v].k;
		const struct vip_meta m = h->vips.v[v].m;

		if (bpf_map_lookup_elem(h->in.fd[IM_CHECKS], &m.vip_id, &cs) ||
		    cs.type == LIMPET_CHECK_NONE)
			continue;
		for (__u32 id = 0; id < LIMPET_MAX_BACKENDS; id++) {
			struct hc_target t = { .vip_id = m.vip_id, .be_id = id, .vk = k, .cs = cs };

			be = bes[id];
			if (be.state == LIMPET_BE_FREE || be.vip_id != m.vip_id)
				continue;
			memcpy(t.addr, be.addr, 16);
			t.family = be.family;
			t.port = cs.port ? cs.port : ntohs(be.port);
			t.next_due = now_s() + jitter(1);
			i = old_of[id] - 1; /* the same backend, address, port and check */
			if (i >= 0 && (old[i].vip_id != t.vip_id || memcmp(old[i].addr, t.addr, 16) ||
				       old[i].port != t.port || memcmp(&old[i].cs, &cs, sizeof(cs))))
				i = -1;
			if (i >= 0) {
				t = old[i];
				old[i].easy = NULL; /* carried over, in flight or not */
				if (t.easy) /* its result must find it where it is now */
					curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &h->t[h->n]);
			} else if (be.ramp_pct) {
				/* a ramp a previous daemon began: carry on from where it is */
				t.ramp_pct = be.ramp_pct;
				t.ramp_start = now_s() - be.ramp_pct * cs.slowstart_s / 100.0;
			}
			h->t[h->n++] = t;
		}
	}
	for (i = 0; i < nold; i++)
		if (old[i].easy) {
			curl_multi_remove_handle(h->multi, old[i].easy);
			curl_easy_cleanup(old[i].easy);
		}
}

/* The instance locked and opened for a change to target t's backend: 0, or -1 (logged). */
static int target_open(struct health *h, const struct hc_target *t, struct inst *in,
		       struct vip_meta *m)
{
	char name[200], e[LIMPET_ERR_LEN];
	int lock = inst_lock(instance, e, sizeof(e));

	if (lock < 0 || inst_open(in, instance, e, sizeof(e)) || op_vip_find(in, &t->vk, m)) {
		target_name(t, name, sizeof(name));
		h->log("health %s: %s", name, lock < 0 ? e : "vip or instance gone");
		if (lock >= 0)
			close(lock);
		return -1;
	}
	in->lock_fd = lock;
	return 0;
}

/* The changes of a tick for one VIP's targets, made together: health changes (hc, of their
 * targets hof) and slowstart steps (rid/rpct, of their targets rof).
 */
struct vip_changes {
	struct hc_target *hof[LIMPET_MAX_BACKENDS], *rof[LIMPET_MAX_BACKENDS];
	struct health_change hc[LIMPET_MAX_BACKENDS];
	__u32 rid[LIMPET_MAX_BACKENDS];
	__u16 rpct[LIMPET_MAX_BACKENDS];
	int n, nr;
};

/* Health changes: one rebuild. Back up after being down with a slowstart, a backend starts at
 * 1 % of its table share (ramp_step raises it).
 */
static void health_commit_vip(struct health *h, struct inst *in, const struct vip_meta *m,
			      struct vip_changes *c)
{
	char name[200];
	bool down = false;
	int r = op_backends_health_set(in, m, c->hc, c->n);

	if (r < 0)
		h->log("health %s: %s", vip_str(&c->hof[0]->vk, name, sizeof(name)), strerror(-r));
	for (int i = 0; i < c->n; i++) {
		struct hc_target *t = c->hof[i];

		if (!c->hc[i].changed)
			continue;
		h->changed = true;
		down |= c->hc[i].health == LIMPET_HEALTH_DOWN;
		if (c->hc[i].ramp) {
			t->ramp_start = now_s();
			t->ramp_pct = 1;
		} else if (c->hc[i].health == LIMPET_HEALTH_DOWN) { /* a ramp cut short */
			t->ramp_start = 0;
			t->ramp_pct = 0;
		}
		target_name(t, name, sizeof(name));
		h->log("backend %s %s %s (%d checks in a row)%s",
		       c->hc[i].health == LIMPET_HEALTH_UP ? "up" : "down", name,
		       c->hc[i].health == LIMPET_HEALTH_DOWN ? "failed" : "passed",
		       c->hc[i].health == LIMPET_HEALTH_UP ? t->ok_run : t->fail_run,
		       t->ramp_start ? "; slowstart" : "");
	}
	if (down && vip_all_down(in, m))
		h->log("vip %s: every backend is down: sending to all of them (fail-open)",
		       vip_str(&c->hof[0]->vk, name, sizeof(name)));
}

/* Slowstart steps: one rebuild. */
static void ramp_commit_vip(struct health *h, struct inst *in, const struct vip_meta *m,
			    struct vip_changes *c)
{
	char name[200];
	int r = op_backends_ramp(in, m, c->rid, c->rpct, c->nr);

	if (r < 0)
		h->log("slowstart %s: %s", vip_str(&c->rof[0]->vk, name, sizeof(name)), strerror(-r));
	for (int i = 0; r >= 0 && i < c->nr; i++) {
		if (c->rpct[i])
			continue;
		target_name(c->rof[i], name, sizeof(name));
		h->log("backend %s: slowstart done, its whole share", name);
	}
}

/* One VIP's targets t[0..n): their changes of this tick, under one instance lock. */
static void vip_commit(struct health *h, struct hc_target *t, int n)
{
	static struct vip_changes c;
	struct vip_meta m;
	struct inst in;

	c.n = c.nr = 0;
	for (int j = 0; j < n; j++) {
		if (t[j].want) { /* a health change wins over a slowstart step of the same tick */
			c.hof[c.n] = &t[j];
			c.hc[c.n++] = (struct health_change){
				.id = t[j].be_id, .health = t[j].want,
				.ramp = t[j].want == LIMPET_HEALTH_UP && t[j].was == LIMPET_HEALTH_DOWN &&
					t[j].cs.slowstart_s };
		} else if (t[j].ramp_due) {
			c.rof[c.nr] = &t[j];
			c.rid[c.nr] = t[j].be_id;
			c.rpct[c.nr++] = t[j].ramp_pct;
		}
		t[j].want = 0;
		t[j].ramp_due = false;
	}
	if (!(c.n + c.nr) || target_open(h, c.n ? c.hof[0] : c.rof[0], &in, &m))
		return;
	if (c.n)
		health_commit_vip(h, &in, &m, &c);
	if (c.nr)
		ramp_commit_vip(h, &in, &m, &c);
	inst_close(&in);
}

/* The changes of a tick, one VIP at a time (targets are grouped by VIP): backends of a VIP that
 * crossed rise or fall, or took a slowstart step, together cost one table rebuild, not one each.
 */
static void health_commit(struct health *h)
{
	int i = 0, j;

	while (i < h->n) {
		for (j = i; j < h->n && h->t[j].vip_id == h->t[i].vip_id; j++)
			;
		vip_commit(h, &h->t[i], j - i);
		i = j;
	}
}

/* Slowstart: the share grows with time, in steps of at least 5 %, to all of it (a step is
 * made by health_commit with the tick's others).
 */
static void ramp_step(struct hc_target *t, double now)
{
	__u16 pct = t->cs.slowstart_s ? (now - t->ramp_start) * 100 / t->cs.slowstart_s : 100;

	if (pct < 100 && pct < t->ramp_pct + 5)
		return;
	t->ramp_pct = pct >= 100 ? 0 : pct;
	t->ramp_due = true;
	if (!t->ramp_pct)
		t->ramp_start = 0;
}

static void probe_done(struct health *h, CURLMsg *msg)
{
	struct hc_target *t = NULL;
	long code = 0;
	bool ok;
	__u8 cur = LIMPET_HEALTH_UNCHECKED;
	struct backend be;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	ok = msg->data.result == CURLE_OK &&
	     (t->cs.type == LIMPET_CHECK_TCP || (code >= t->cs.expect_lo && code <= t->cs.expect_hi));
	curl_multi_remove_handle(h->multi, t->easy);
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
	t->next_due = now_s() + jitter(t->cs.interval_s);
	t->ok_run = ok ? t->ok_run + 1 : 0;
	t->fail_run = ok ? 0 : t->fail_run + 1;
	if (!bpf_map_lookup_elem(h->in.fd[IM_BACKENDS], &t->be_id, &be))
		cur = be.health;
	t->was = cur;
	if (ok && cur != LIMPET_HEALTH_UP && t->ok_run >= t->cs.rise)
		t->want = LIMPET_HEALTH_UP; /* made with the tick's others: health_commit */
	else if (!ok && cur != LIMPET_HEALTH_DOWN && t->fail_run >= t->cs.fall)
		t->want = LIMPET_HEALTH_DOWN;
}

struct health *health_start(log_fn log, char *err, size_t errlen)
{
	struct health *h = calloc(1, sizeof(*h));

	if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) || !(h->multi = curl_multi_init())) {
		snprintf(err, errlen, "health checks: cannot start libcurl");
		free(h);
		return NULL;
	}
	if (inst_open(&h->in, instance, err, errlen)) {
		curl_multi_cleanup(h->multi);
		free(h);
		return NULL;
	}
	h->log = log;
	srand(time(NULL) ^ getpid());
	health_sync(h);
	return h;
}

/* Probes due start, finished ones count; waits up to wait_ms for network activity. Whether a
 * backend's health changed.
 */
bool health_tick(struct health *h, bool resync, int wait_ms)
{
	double now = now_s();
	bool ramps = now >= h->ramp_next, changed;
	CURLMsg *msg;
	int running, left;

	if (resync)
		health_sync(h);
	for (int i = 0; i < h->n; i++) {
		if (!h->t[i].easy && h->t[i].next_due <= now)
			probe_start(h, &h->t[i]);
		if (h->t[i].ramp_start && ramps)
			ramp_step(&h->t[i], now);
	}
	curl_multi_perform(h->multi, &running);
	while ((msg = curl_multi_info_read(h->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			probe_done(h, msg);
	health_commit(h);
	if (ramps) { /* steps together, however short the ticks; a busy tick spaces them out */
		double busy = now_s() - now;

		h->ramp_next = now + (busy * 4 > RAMP_EVERY_S ? busy * 4 : RAMP_EVERY_S);
	}
	curl_multi_poll(h->multi, NULL, 0, wait_ms, NULL);
	changed = h->changed;
	h->changed = false;
	return changed;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->n; i++)
		if (h->t[i].easy) {
			curl_multi_remove_handle(h->multi, h->t[i].easy);
			curl_easy_cleanup(h->t[i].easy);
		}
	curl_multi_cleanup(h->multi);
	inst_close(&h->in);
	free(h);
	curl_global_cleanup();
}
