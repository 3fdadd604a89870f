/*
 * The history store: one SQLite database (WAL) in the data directory, and the
 * tick journal beside it (journal.h).
 *
 *   journal  the newest snapshots, one record each, appended every tick with
 *            one write() (arthamon.db-ticks)
 *   blocks   compacted history: tier 0 raw (an hour of snapshots per block),
 *            tier 1 per minute and tier 2 per hour (min, max, sum, count),
 *            each block in the columnar format of codec.h
 *   texts    the snapshots' text fields, a change log (key, time, value)
 *   series   the series registry: "cpu.core_usage{core=0}" -> id
 *   records  anomalies, alert deliveries and other events (later users)
 *
 * The sampler thread appends; store_maintain() (called from a background
 * thread) compacts finished hours of the journal into blocks, derives the
 * tiers and applies retention, while appends go on. Queries may come from any
 * thread, and from another process (arthamon query) while the daemon writes.
 * All times are epoch milliseconds and come from the caller (the snapshots,
 * or an injected clock in tests).
 */
#ifndef AM_STORE_STORE_H
#define AM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "core/anomaly.h"
#include "core/snapshot.h"

#define STORE_FILE "arthamon.db"

struct store_options {
    uint32_t raw_days;    /* monitoring.retention_period_days */
    uint32_t minute_days; /* tier 1 */
    uint32_t hour_days;   /* tier 2 */
    bool read_only;       /* open an existing database for queries only */
};

struct store;

/*
 * Opens (creating if absent, unless read_only) the database at path and
 * checks it (PRAGMA quick_check, application id, format version). A file that
 * is not an arthamon database, is corrupt, or is of a newer format is refused:
 * -EINVAL with one line in errs naming the file and what to do. Never deletes.
 */
int store_open(struct store **ret, const char *path, const struct store_options *opt,
               struct strbuf *errs);
void store_close(struct store *st);

/* Appends one snapshot (a journal record; its text fields when they changed).
 * 0 or -errno (-ENOSPC when the disk is full); the store stays usable after a
 * failure. One thread at a time appends (calls are serialised). */
int store_append(struct store *st, const struct snapshot *snap);

/* Compacts finished hours into blocks, computes the tiers, applies retention,
 * as of now_ms. 0 or -errno. */
int store_maintain(struct store *st, int64_t now_ms);

enum store_agg { AGG_AVG, AGG_MIN, AGG_MAX, AGG_SUM, AGG_COUNT, AGG_LAST };

/* "avg" -> AGG_AVG...; -1 when unknown. */
int store_agg_parse(const char *s);
const char *store_agg_name(enum store_agg agg);

#define STORE_MAX_POINTS 100000 /* at step 0 (every sample) */

struct store_point {
    int64_t ts_ms; /* start of the step */
    double value;
};

/*
 * One series ("memory.physical_used_mb", "cpu.core_usage{core=1}") over
 * [from_ms, to_ms], in steps of step_ms (0: every sample), aggregated by agg.
 * The finest tier that covers the range at that step is used. Calls fn per
 * point in time order; returns the number of points, or -errno (-ENOENT for
 * an unknown series). *ret_tier (may be NULL) tells which tier answered.
 */
long store_query(struct store *st, const char *series, int64_t from_ms, int64_t to_ms,
                 int64_t step_ms, enum store_agg agg, int *ret_tier,
                 void (*fn)(void *ctx, const struct store_point *p), void *ctx);

/*
 * Snapshots rebuilt from the raw history, timestamps in [from_ms, to_ms].
 * oldest_first: the first `limit` from from_ms on, and *ret_next (may be
 * NULL) the timestamp of the one after them (0: none); otherwise the newest
 * `limit` up to to_ms. fn gets them oldest first, with node_id set to
 * node_id (or the node id recorded with it); every figure as it was
 * appended, text fields included. Nothing older than the raw retention is
 * given. Returns the number given to fn, or -errno.
 */
long store_history(struct store *st, int64_t from_ms, int64_t to_ms, size_t limit,
                   bool oldest_first, const char *node_id,
                   void (*fn)(void *ctx, const struct snapshot *snap), void *ctx,
                   int64_t *ret_next);

/* Moves the WAL's content into the database file and truncates the WAL (what a
 * backup or a size measurement wants first; the journal is a file of its own).
 * 0 or -errno. */
int store_checkpoint(struct store *st);

/* Saves an anomaly (a new one, or the new state of one saved before under the
 * same id) into the records table. 0 or -errno. */
int store_put_anomaly(struct store *st, const struct anomaly *a);

/*
 * The newest `limit` anomalies saved, given to fn oldest first (so that
 * anomaly_log_add() of each rebuilds the log in order). A record whose body is
 * not a valid anomaly is skipped. The anomaly's strings live only during the
 * call. Returns how many were given, or -errno.
 */
long store_anomalies(struct store *st, size_t limit, void (*fn)(void *ctx, const struct anomaly *a),
                     void *ctx);

/* Counters for the self-metrics and tests (read without waiting for the store). */
struct store_stats {
    uint64_t appends, append_errors;
    uint64_t ticks_rows; /* snapshots not compacted yet (in the journal) */
    uint64_t blocks[3];
    uint64_t series;
};
void store_get_stats(struct store *st, struct store_stats *ret);

#endif
