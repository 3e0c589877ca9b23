/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* What the loader's files share: the instance in hand and the daemon's entry. */
#ifndef LIMPET_LOADER_H
#define LIMPET_LOADER_H

#include "lib/liblimpet.h"

extern const char *instance;
extern char err[LIMPET_ERR_LEN];
int cmd_run(const char *path, const char *prev_path);
/* The instance's daemon lock (its fd), or -1 with the error printed (the holder's pid). */
int run_lock(void);
int decap_main(int argc, char **argv);

/* The daemon's saved previous configuration (state.c): /var/lib/limpet/NAME.prev.conf. */
void state_path(char *buf, size_t len);
/* The instance as configuration lines (limpetctl save's), or NULL when it has no VIP. */
char *state_snapshot(struct inst *in);
/* Write snap as the saved previous configuration, atomically; 0 or -errno. */
int state_save(const char *snap);
/* Forget it (limpet destroy); 0 or -errno. */
int state_remove(void);

/* One line to the daemon's log. */
typedef void (*log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The daemon's health checks (health.c). */
struct health;
struct health *health_start(log_fn log, char *err, size_t errlen);
/* Start due probes, count finished ones, wait up to wait_ms; resync: VIPs or backends changed. */
bool health_tick(struct health *h, bool resync, int wait_ms);
void health_stop(struct health *h);
/* /metrics on ADDR:PORT in a thread of its own; NULL with err when it cannot listen. */
void *metrics_start(const char *addr, char *err, size_t errlen);
void metrics_stop(void *d);

#endif
