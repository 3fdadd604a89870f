/*
 * Detected anomalies: the seed's PerformanceAnomaly and a bounded, thread-safe
 * log of the most recent ones (the detection engine writes, the API, the
 * store and the alerting read).
 *
 * An anomaly has a lifecycle: it opens when a detector fires, is updated while
 * it lasts (same id) and is resolved after enough normal ticks. The log keeps
 * the newest `cap` anomalies by detection time; older ones drop out (the
 * persistent record is the store's). Every change gets a sequence number, so a
 * reader (the store writer, the alert outbox) can take the changes since the
 * last one it saw. Strings are copied in.
 */
#ifndef AM_CORE_ANOMALY_H
#define AM_CORE_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "snapshot.h"

#define ANOMALY_MAX_ACTIONS 8
#define ANOMALY_MAX_RELATED 16

struct anomaly {
    char id[40];
    uint64_t detected_at; /* epoch seconds */
    /* extensions */
    uint64_t detected_at_ms; /* epoch milliseconds (0: detected_at * 1000) */
    uint64_t updated_at_ms;  /* the latest tick it was seen abnormal */
    uint64_t resolved_at_ms; /* 0 while open */
    const char *detector;    /* "rule", "series", "multivariate", "trend"; NULL: "" */
    double score;            /* the detector's peak score in [0, 1] (NaN: none) */
    uint64_t seq;            /* the log's change number (set by the log) */
    const char *anomaly_type;
    uint8_t severity; /* 1..5 */
    const char *component;
    const char *description;
    struct kv_num related_metrics[ANOMALY_MAX_RELATED];
    size_t n_related;
    const char *suggested_actions[ANOMALY_MAX_ACTIONS];
    size_t n_actions;
    bool quantum_relevant;
};

struct anomaly_log;

struct anomaly_log *anomaly_log_new(size_t cap);
void anomaly_log_free(struct anomaly_log *log);

/* Copies a into the log (an empty id gets a fresh one). -EINVAL for a severity
 * outside 1..5 or a missing type/component, -ENOMEM. */
int anomaly_log_add(struct anomaly_log *log, const struct anomaly *a);

/*
 * Adds a, or replaces the entry with the same id in place (an update keeps its
 * place in detection order). a->id must be set. Writes the change number into
 * *ret_seq (may be NULL). Errors as anomaly_log_add().
 */
int anomaly_log_put(struct anomaly_log *log, const struct anomaly *a, uint64_t *ret_seq);

/* The latest change number (0: none yet). */
uint64_t anomaly_log_seq(struct anomaly_log *log);

/* Calls fn for every anomaly in the log changed after change number `since`,
 * oldest change first, under the log's lock; returns the latest change number. */
uint64_t anomaly_log_changes(struct anomaly_log *log, uint64_t since,
                             void (*fn)(void *ctx, const struct anomaly *a), void *ctx);

/* True while a is open (not resolved). */
static inline bool anomaly_open(const struct anomaly *a)
{
    return a->resolved_at_ms == 0;
}

/* Anomalies in the log. */
size_t anomaly_log_count(struct anomaly_log *log);

/*
 * Writes {"anomalies":[...],"count":n} with the newest `limit` anomalies of at
 * least min_severity, newest first, with the seed's field names.
 */
int anomaly_log_to_json(struct anomaly_log *log, uint8_t min_severity, size_t limit,
                        struct strbuf *out);

/* Calls fn for the newest `limit` anomalies of at least min_severity, newest
 * first, under the log's lock (fn must not call back into the log). */
void anomaly_log_foreach(struct anomaly_log *log, uint8_t min_severity, size_t limit,
                         void (*fn)(void *ctx, const struct anomaly *a), void *ctx);

/* One anomaly as a JSON object. */
void anomaly_to_json(const struct anomaly *a, struct strbuf *out);

#endif
