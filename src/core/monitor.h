/*
 * The monitor: the seed's PerformanceMonitor lifecycle around a sampler thread.
 *
 *   monitor_start   spawns the sampler thread (-EALREADY if it runs; 0 without
 *                   a thread when the config disables monitoring, as the seed)
 *   monitor_stop    wakes and joins it (0 also when it was not running)
 *   monitor_current the newest snapshot, one reference for the caller, or NULL
 *   monitor_history up to `limit` newest snapshots from the in-memory ring,
 *                   oldest first, one reference each
 *   monitor_reload  a new config, applied by the sampler thread at its next tick
 *
 * All functions are thread-safe. Readers take the lock only to copy pointers and
 * bump reference counts; the sampler never holds it while collecting.
 */
#ifndef AM_CORE_MONITOR_H
#define AM_CORE_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly.h"
#include "config.h"
#include "snapshot.h"

struct monitor;

/* Called on the sampler thread after each snapshot is published. */
typedef void (*monitor_tick_fn)(void *userdata, const struct snapshot *snap);

/* Upper bounds (seconds) of the tick-duration histogram buckets; +Inf is implicit. */
#define MONITOR_TICK_BUCKETS 10
extern const double monitor_tick_bucket_le[MONITOR_TICK_BUCKETS];

struct monitor_stats {
    uint64_t ticks;
    uint64_t last_tick_ns;      /* wall time the last tick took */
    uint64_t ticks_missed;      /* intervals skipped because the sampler fell behind */
    uint64_t last_tick_unix_ms; /* wall clock of the last publish; 0: none yet */
    uint64_t last_tick_mono_ns; /* CLOCK_MONOTONIC of the same (ages: immune to clock steps) */
    /* tick durations: count per bucket (not cumulative), the last one is +Inf */
    uint64_t tick_buckets[MONITOR_TICK_BUCKETS + 1];
    double tick_seconds_sum;
    uint64_t collector_errors[32];
    const char *collector_names[32];
    unsigned ncollectors;
};

/* Copies cfg. NULL on out of memory. */
struct monitor *monitor_new(const struct config *cfg);
/* Stops the thread if it runs, releases everything. Accepts NULL. */
void monitor_free(struct monitor *m);

int monitor_start(struct monitor *m);
int monitor_stop(struct monitor *m);
bool monitor_running(struct monitor *m);

struct snapshot *monitor_current(struct monitor *m);
size_t monitor_history(struct monitor *m, size_t limit, struct snapshot **out);

int monitor_reload(struct monitor *m, const struct config *cfg);
void monitor_set_tick_hook(struct monitor *m, monitor_tick_fn fn, void *userdata);
void monitor_get_stats(struct monitor *m, struct monitor_stats *ret);
/* The newest snapshot (one reference, or NULL) and the stats of the same tick,
 * read together so that an exporter never pairs one tick's figures with the
 * next one's counters. */
struct snapshot *monitor_current_stats(struct monitor *m, struct monitor_stats *ret);

/* The anomalies detected so far (owned by the monitor; thread-safe). */
struct anomaly_log *monitor_anomalies(struct monitor *m);

/* The effective config (a deep copy into *ret, to release with config_done()). */
int monitor_get_config(struct monitor *m, struct config *ret);

#endif
