/*
 * Detected anomalies: the seed's PerformanceAnomaly and a bounded, thread-safe
 * log of the most recent ones (the detectors append, the API and the alerting
 * read).
 *
 * The log keeps the newest `cap` anomalies; older ones drop out (the persistent
 * record is the store's and the alert log's job). Strings are copied in.
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
