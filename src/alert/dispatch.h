/*
 * The alert dispatcher: a thread that turns the anomaly log's changes into
 * notifications (policy.h) in the durable outbox (outbox.h), and delivers
 * them through the configured channels (alert.h), oldest first per channel.
 *
 * A failed delivery is retried after an exponential back-off with jitter
 * (1 s doubling up to alerts.retry_max_sec, times 0.5..1); meanwhile the
 * channel rests, so a receiver that is down costs one attempt per back-off,
 * not one per notification. A notification still undelivered after
 * alerts.give_up_after_sec, or refused 5 times by its receiver, fails.
 * Delivery is at least once, and exactly once as far as the receiver goes
 * when it heeds the idempotency key: a delivery is marked in the outbox as
 * soon as the receiver acknowledged it (a crash between the two is the only
 * window for a repeat, and the repeat carries the same key).
 */
#ifndef AM_ALERT_DISPATCH_H
#define AM_ALERT_DISPATCH_H

#include <stdint.h>
#include <stdio.h>

#include "common/strbuf.h"
#include "core/anomaly.h"
#include "core/config.h"

struct alert_dispatch;

/* Keeps the outbox in the database at db_path (NULL: in memory; then it does not
 * survive a restart) and reads the anomalies of log. 0 or -errno (line in err). */
int alert_dispatch_new(struct alert_dispatch **ret, struct anomaly_log *log, const char *db_path,
                       struct strbuf *err);
/* Applies cfg (a copy is kept): stops the thread, reopens the channels, and
 * starts it again when alerts.enabled. 0 or -errno. */
int alert_dispatch_configure(struct alert_dispatch *d, const struct config *cfg);
/* Wakes the thread (a tick happened: there may be new anomalies). Thread-safe. */
void alert_dispatch_kick(struct alert_dispatch *d);
/* Stops the thread and frees everything. Accepts NULL. */
void alert_dispatch_free(struct alert_dispatch *d);

struct alert_channel_stats {
    const char *name;
    uint64_t sent, failed;     /* notifications, since start */
    uint64_t attempts, errors; /* delivery attempts, and those that failed */
    long pending;              /* in the outbox now (-1: unknown) */
    int64_t last_ok_ms;        /* the last delivery (0: none) */
    int64_t retry_at_ms;       /* resting after an error until then (0: not resting) */
    char last_error[256];
};

#define ALERT_DISPATCH_MAX_CHANNELS 8

/* The channels configured and their counters; returns how many. Thread-safe. */
size_t alert_dispatch_stats(struct alert_dispatch *d,
                            struct alert_channel_stats out[ALERT_DISPATCH_MAX_CHANNELS]);

/* /api/v1/alerts: {"enabled":..,"min_severity":..,"channels":[..],"notifications":[..
 * newest `limit`],"alerts":[..]}. Thread-safe; accepts NULL (alerting off). */
int alert_dispatch_to_json(struct alert_dispatch *d, size_t limit, struct strbuf *out);

/*
 * `arthamon alerts test`: sends one test notification through the channel
 * named `channel` (NULL: every configured one), synchronously and outside the
 * outbox, and writes one line per channel to out. Returns the number of
 * channels that failed (a channel named but not configured counts), or -1
 * for an unknown channel name.
 */
int alert_send_test(const struct config *cfg, const char *channel, FILE *out);

#endif
