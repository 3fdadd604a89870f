/*
 * The alert policy: which anomaly changes become notifications, and when.
 *
 *  - An open anomaly of at least alerts.min_severity (a quantum-relevant one
 *    only with alerts.quantum_alerts) opens an alert for its type + component:
 *    one "firing" notification per channel. Its severity rising while open
 *    sends "escalated"; still open after repeat_interval_sec sends "repeat".
 *  - When the anomaly resolves, the alert is held down for hold_down_sec: if
 *    the same type + component fires again meanwhile, it is the same alert
 *    (no resolved/firing pair); otherwise "resolved" goes out, dated when the
 *    anomaly ended.
 *  - Storm: once storm_threshold alerts fired within a minute, further ones
 *    (and later their resolutions) go into one "summary" a minute.
 *
 * The state lives in the outbox (outbox.h) and every decision is made from
 * the anomaly's current state, never from a remembered event, so replaying
 * the anomaly log after a restart changes nothing that was already decided.
 * Notification keys are "<node_id>:<alert_id>:<event>[:<n>]".
 */
#ifndef AM_ALERT_POLICY_H
#define AM_ALERT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/anomaly.h"
#include "core/config.h"
#include "outbox.h"

#define ALERT_MAX_CHANNELS    8
#define ALERT_STORM_WINDOW_MS 60000

struct alert_policy {
    struct outbox *ob;
    char node_id[128];
    const char *channels[ALERT_MAX_CHANNELS]; /* static names (the table's) */
    size_t n_channels;
    unsigned min_severity;
    bool quantum_alerts;
    int64_t repeat_ms, hold_ms;
    uint32_t storm_threshold;
    int64_t *storm_ring; /* times of the latest individual firings */
    uint32_t storm_next;
    int64_t summary_due_ms; /* 0: no summary pending (as far as known) */
    int64_t next_due_ms;    /* alert_policy_tick() has nothing to do before (0: look) */
    bool in_txn;
    uint64_t notifications; /* added to the outbox (all channels) */
};

/* From cfg's alerts section; channels are the configured ones' names. -ENOMEM. */
int alert_policy_init(struct alert_policy *p, const struct config *cfg, struct outbox *ob,
                      const char *const *channels, size_t n_channels);
void alert_policy_done(struct alert_policy *p);

/* One anomaly's current state, at now. 0 or -errno. */
int alert_policy_anomaly(struct alert_policy *p, const struct anomaly *a, int64_t now);
/* Alerts whose anomaly is no longer open among open_ids (after a restart:
 * anomalies that ended while the daemon was down) start their hold-down. */
int alert_policy_reconcile(struct alert_policy *p, const char *const *open_ids, size_t n,
                           int64_t now);
/* Time-driven decisions: hold-downs that ended, repeats, storm summaries.
 * Cheap when nothing is due (p->next_due_ms says when something may be). */
int alert_policy_tick(struct alert_policy *p, int64_t now);
/* Ends the transaction the calls above may have opened: 0, or -EIO (rolled back). */
int alert_policy_commit(struct alert_policy *p);
/* Takes back what the calls above did since the last commit (after one failed:
 * a decision half made, such as alerts marked summarised without their summary,
 * must not be kept). */
void alert_policy_abort(struct alert_policy *p);

#endif
