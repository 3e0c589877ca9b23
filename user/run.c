// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* limpet run: the daemon — an instance kept as its configuration file says (docs/design.md §5.2).
 * Attaches, applies the file, sweeps flows, re-reads the file on SIGHUP, and on SIGTERM exits
 * leaving the datapath forwarding: the pinned state is the truth, the daemon only maintains it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>

#include "loader.h"

#define SWEEP_EVERY_S 5

static volatile sig_atomic_t got_hup, got_term;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

/* One line per change or event, to stderr (journald keeps the time). */
void daemon_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "limpet[%s]: ", instance);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void log_change(void *ctx, const char *change)
{
	(void)ctx;
	daemon_log("%s", change);
}

/* One daemon per instance: a lock held for its life, naming the holder (destroy takes it too,
 * so it never pulls an instance from under a daemon that would announce its VIPs again).
 */
int run_lock(void)
{
	char path[256], pid[32] = "";
	int fd;

	mkdir("/run/limpet", 0700);
	snprintf(path, sizeof(path), "/run/limpet/%s.run", instance);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		out_error("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		out_error("instance '%s' is run by a limpet run daemon (pid %s); stop it first",
			  instance, pid[0] ? pid : "?");
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	return fd;
}

/* Make the instance what c says (after prev, into an instance without VIPs: cfg_apply_after),
 * under the instance lock (limpetctl waits meanwhile). When that changes an instance that had
 * VIPs, what it was is saved (state.c), for a start with no state to apply as its previous.
 */
static int run_apply(const struct cfg *c, const struct cfg *prev)
{
	char *before = NULL, *after = NULL, path[128];
	struct inst in;
	int lock = inst_lock(instance, err, sizeof(err)), ret;

	if (lock < 0 || inst_open(&in, instance, err, sizeof(err))) {
		daemon_log("apply: %s", err);
		if (lock >= 0)
			close(lock);
		return -1;
	}
	in.lock_fd = lock;
	err[0] = '\0';
	before = state_snapshot(&in);
	if (prev ? cfg_apply_after(&in, prev, c, log_change, NULL, err, sizeof(err)) :
		   cfg_apply(&in, c, log_change, NULL, err, sizeof(err)))
		daemon_log("apply: %s", err);
	after = before ? state_snapshot(&in) : NULL;
	if (before && (!after || strcmp(before, after)) && (ret = state_save(before))) {
		state_path(path, sizeof(path));
		daemon_log("saving the previous configuration to %s: %s", path, strerror(-ret));
	}
	free(before);
	free(after);
	inst_close(&in);
	return err[0] ? -1 : 0;
}

/* No previous file given: the one saved at the last change, if there is one that loads. */
static const char *run_saved_previous(struct cfg *prev)
{
	static char path[128];

	state_path(path, sizeof(path));
	if (access(path, F_OK))
		return NULL;
	if (cfg_load(path, prev, err, sizeof(err))) {
		daemon_log("saved previous configuration: %s; not used", err);
		return NULL;
	}
	daemon_log("previous configuration (saved at the last change): %s", path);
	return path;
}

static void run_sweep(const struct cfg *c)
{
	struct inst in;
	int lock = inst_lock(instance, err, sizeof(err)), n;

	if (lock < 0 || inst_open(&in, instance, err, sizeof(err))) {
		daemon_log("flows sweep: %s", err);
		if (lock >= 0)
			close(lock);
		return;
	}
	in.lock_fd = lock;
	n = c->sweep_set ? op_flows_sweep(&in, c->binding_s, c->idle_s, c->closed_s) :
			   op_flows_sweep(&in, 5, 86400, 10);
	if (n > 0)
		daemon_log("flows sweep: %d removed", n);
	else if (n < 0)
		daemon_log("flows sweep: %s", strerror(-n));
	inst_close(&in);
}

/* Announce what should be (VIPs with a backend taking clients) after a health change, and on
 * every resync (a reload, limpetctl's changes, someone touching the device), when it differs
 * from what was done. An error is logged once, until it changes.
 */
static void run_announce(const struct cfg *c, struct announce_set *done, bool resync)
{
	static struct announce_set want;
	static char last_err[LIMPET_ERR_LEN];
	struct inst in;
	int ret;

	if (!c->announce_dev[0] || inst_open(&in, instance, err, sizeof(err)))
		return;
	ret = announce_wanted(&in, &want);
	inst_close(&in);
	if (ret || (!resync && want.n == done->n &&
		    !memcmp(want.a, done->a, sizeof(want.a[0]) * want.n)))
		return;
	err[0] = '\0';
	ret = announce_apply(c->announce_dev, &want, log_change, NULL, err, sizeof(err));
	if (ret && strcmp(err, last_err))
		daemon_log("%s", err);
	snprintf(last_err, sizeof(last_err), "%s", ret ? err : "");
	*done = ret ? (struct announce_set){ .n = -1 } : want;
}

static bool devs_equal(const struct cfg *a, const struct cfg *b)
{
	if (a->ndevs != b->ndevs)
		return false;
	for (int i = 0; i < a->ndevs; i++)
		if (strcmp(a->devs[i].name, b->devs[i].name) || a->devs[i].mode != b->devs[i].mode ||
		    memcmp(a->devs[i].ask, b->devs[i].ask, sizeof(a->devs[i].ask)))
			return false;
	return true;
}

/* SIGHUP: the file again; a file that does not load changes nothing. */
static void run_reload(const char *path, struct cfg *c)
{
	struct cfg next;

	if (cfg_load(path, &next, err, sizeof(err))) {
		daemon_log("reload: %s; nothing changed", err);
		return;
	}
	daemon_log("reload: %s", path);
	if (strcmp(next.metrics, c->metrics))
		daemon_log("metrics listen: the new address takes effect when the daemon restarts");
	if (!devs_equal(&next, c))
		daemon_log("attach lines changed: devices are attached when the daemon starts; "
			   "restart it (or limpet attach/detach by hand)");
	if (strcmp(next.announce_dev, c->announce_dev) && c->announce_dev[0]) {
		struct announce_set none = { .n = 0 };

		if (announce_apply(c->announce_dev, &none, log_change, NULL, err, sizeof(err)))
			daemon_log("%s", err);
	}
	cfg_free(c);
	*c = next;
	run_apply(c, NULL);
}

static void attach_warning(const char *msg)
{
	daemon_log("attach: %s", msg);
}

static int run_attach(const struct cfg *c)
{
	__u32 id;

	for (int i = 0; i < c->ndevs; i++) {
		if (attach_dev(instance, c->devs[i].name, c->devs[i].mode, c->devs[i].ask, &id,
			       attach_warning, err, sizeof(err))) {
			out_error("%s", err);
			return -1;
		}
		daemon_log("attached dev %s mode %s (program id %u)", c->devs[i].name,
			   c->devs[i].mode == LIMPET_XDP_SKB ? "skb" : "native", id);
	}
	return 0;
}

int cmd_run(const char *path, const char *prev_path)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct cfg c, prev = { 0 };
	time_t last_sweep = 0;
	void *metrics = NULL;
	struct health *health;
	static struct announce_set announced = { .n = -1 };
	int lock = -1;

	if (cfg_load(path, &c, err, sizeof(err))) {
		out_error("%s", err);
		return 1;
	}
	if (prev_path && cfg_load(prev_path, &prev, err, sizeof(err))) {
		out_error("%s", err);
		cfg_free(&c);
		return 1;
	}
	if (!c.ndevs)
		out_error("%s: no 'attach dev IFNAME' line: the daemon needs a device", path);
	else if (c.announce_dev[0] && !if_nametoindex(c.announce_dev))
		out_error("%s: announce dev %s: no such device; name one that exists (lo, or a dummy "
			  "device)", path, c.announce_dev);
	else
		lock = run_lock();
	if (lock < 0 || run_attach(&c)) {
		if (lock >= 0)
			close(lock);
		cfg_free(&c);
		cfg_free(&prev);
		return 1;
	}
	if (!prev_path) /* read once the daemon is sure to run: a refused start says nothing of it */
		prev_path = run_saved_previous(&prev);
	run_apply(&c, prev_path ? &prev : NULL); /* prev: only into an instance without VIPs */
	cfg_free(&prev);
	if (c.metrics[0]) {
		metrics = metrics_start(c.metrics, err, sizeof(err));
		if (!metrics) {
			out_error("%s", err);
			cfg_free(&c);
			return 1;
		}
		daemon_log("metrics on http://%s/metrics", c.metrics);
	}
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	daemon_log("running from %s: %d VIPs, %d backends, %d devices", path, c.nvips, c.nbes, c.ndevs);
	health = health_start(daemon_log, err, sizeof(err));
	if (!health)
		daemon_log("health checks off: %s", err);
	while (!got_term) {
		bool resync = false, changed = false;

		if (got_hup) {
			got_hup = 0;
			run_reload(path, &c);
			resync = true;
		}
		if (time(NULL) - last_sweep >= SWEEP_EVERY_S) {
			run_sweep(&c);
			last_sweep = time(NULL);
			resync = true; /* and pick up what limpetctl changed */
		}
		if (health)
			changed = health_tick(health, resync, 200);
		else
			usleep(200000);
		if (resync || changed)
			run_announce(&c, &announced, resync);
	}
	health_stop(health);
	daemon_log("exiting on a signal; the datapath keeps forwarding on the pinned state");
	metrics_stop(metrics);
	cfg_free(&c);
	close(lock);
	return 0;
}
