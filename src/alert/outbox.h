/*
 * The durable outbox: alerts' state and the notifications still to deliver,
 * in two tables of the history database (its own connection; SQLite's WAL
 * lets it write beside the store), or in memory when there is no history.
 *
 *   alert_state   one row per alert (anomaly type + component): open,
 *                 resolving (held down), resolved; what was last notified
 *   alert_outbox  one row per notification and channel; UNIQUE(channel, key)
 *                 so that adding the same notification twice (a replay after
 *                 a restart) adds it once
 *
 * A notification is "pending" until a channel delivered it ("sent") or it
 * failed for good ("failed": refused by the receiver, or undelivered for
 * alerts.give_up_after_sec). Only the dispatcher thread writes; any thread
 * may read through outbox_to_json(). Every call holds the outbox's lock.
 */
#ifndef AM_ALERT_OUTBOX_H
#define AM_ALERT_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "common/strbuf.h"

struct outbox;

/* Opens the tables in the database at path (created if absent), or in memory
 * when path is NULL. 0, or -errno with one line in err. */
int outbox_open(struct outbox **ret, const char *path, struct strbuf *err);
void outbox_close(struct outbox *ob);

/* One transaction around a group of changes (0 or -EIO). */
int outbox_begin(struct outbox *ob);
int outbox_commit(struct outbox *ob);
void outbox_rollback(struct outbox *ob);

/* Adds n for channel, due at once; a notification with the same channel and
 * key is kept as it is. 1 added, 0 already there, -errno. */
int outbox_add(struct outbox *ob, const char *channel, const struct notification *n);

enum alert_phase { ALERT_OPEN = 0, ALERT_RESOLVING = 1, ALERT_RESOLVED = 2 };
/* ALERT_SUMMARY_*: where an alert of a storm stands with the summaries */
enum { SUMMARY_NONE = 0, SUMMARY_FIRED = 1, SUMMARY_RESOLVED = 2, SUMMARY_DONE = 3 };

struct alert_state {
    char fingerprint[160]; /* anomaly_type "/" component */
    char alert_id[64];     /* the anomaly that opened it */
    char anomaly_id[64];   /* the anomaly it follows now */
    enum alert_phase phase;
    unsigned severity;
    bool quantum_relevant;
    int64_t opened_ms;
    int64_t notified_ms; /* the last firing or repeat */
    int64_t since_ms;    /* ALERT_RESOLVING: when the anomaly ended */
    int64_t resolved_ms;
    uint32_t repeats;
    int summary; /* SUMMARY_* */
    /* what the notifications of a tick (repeat, resolved) say: the last anomaly's */
    char *anomaly_type, *component, *description, *details, *body;
};

/* Frees the strings of st (not st). */
void alert_state_done(struct alert_state *st);

/* The state of fingerprint: 1 (filled; alert_state_done() it), 0 none, -errno. */
int outbox_state_get(struct outbox *ob, const char *fingerprint, struct alert_state *st);
int outbox_state_put(struct outbox *ob, const struct alert_state *st);
/*
 * Calls fn for each state whose phase is `phase` (and, for phase < 0, every
 * alert not resolved), the strings valid during the call; fn's non-zero return
 * stops. Returns the number visited or -errno. fn may not write to ob.
 */
long outbox_states(struct outbox *ob, int phase, int (*fn)(void *ctx, struct alert_state *st),
                   void *ctx);
/* States in a storm summary that is still to be sent (SUMMARY_FIRED/RESOLVED). */
long outbox_summary_states(struct outbox *ob, int (*fn)(void *ctx, struct alert_state *st),
                           void *ctx);

/* A notification taken from the outbox: the fields and their strings. */
struct outbox_item {
    int64_t row;
    char *channel;
    struct notification n;
    uint32_t attempts;
    int64_t next_ms;
    char *strings[9];
};
void outbox_item_done(struct outbox_item *it);

/* The oldest pending notification of channel: 1 (filled), 0 none, -errno. */
int outbox_next(struct outbox *ob, const char *channel, struct outbox_item *it);
/* Its outcome: delivered at now; to retry at next_ms after an error; failed for good. */
int outbox_sent(struct outbox *ob, int64_t row, int64_t now);
int outbox_retry(struct outbox *ob, int64_t row, int64_t next_ms, const char *error);
int outbox_failed(struct outbox *ob, int64_t row, const char *error);
/* The latest firing/repeat/escalated notification of alert_id for channel (what a
 * refresh re-posts): 1, 0 none, -errno. */
int outbox_latest(struct outbox *ob, const char *channel, const char *alert_id,
                  struct outbox_item *it);

/* Pending notifications of channel (-errno on failure). */
long outbox_pending(struct outbox *ob, const char *channel);
/* Deletes delivered and failed notifications, and resolved alerts, older than before_ms. */
int outbox_purge(struct outbox *ob, int64_t before_ms);

/*
 * Writes the newest `limit` notifications ("notifications":[...]) and the
 * newest `limit` alerts ("alerts":[...]) as JSON object members (no braces),
 * for /api/v1/alerts. Safe from any thread. 0 or -errno.
 */
int outbox_to_json(struct outbox *ob, size_t limit, struct strbuf *out);

#endif
