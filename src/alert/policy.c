/* The alert policy (policy.h). */
#define LOG_MODULE "alert"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "policy.h"

static int any_state(void *ctx, struct alert_state *st)
{
    (void)ctx;
    (void)st;
    return 1; /* one is enough */
}

int alert_policy_init(struct alert_policy *p, const struct config *cfg, struct outbox *ob,
                      const char *const *channels, size_t n_channels)
{
    memset(p, 0, sizeof(*p));
    p->ob = ob;
    snprintf(p->node_id, sizeof(p->node_id), "%s", cfg->agent.node_id ? cfg->agent.node_id : "");
    for (size_t i = 0; i < n_channels && i < ALERT_MAX_CHANNELS; i++)
        p->channels[p->n_channels++] = channels[i];
    p->min_severity = cfg->alerts.min_severity;
    p->quantum_alerts = cfg->alerts.quantum_alerts;
    p->repeat_ms = (int64_t)cfg->alerts.repeat_interval_sec * 1000;
    p->hold_ms = (int64_t)cfg->alerts.hold_down_sec * 1000;
    p->storm_threshold = cfg->alerts.storm_threshold;
    if (p->storm_threshold && !(p->storm_ring = calloc(p->storm_threshold, sizeof(int64_t))))
        return -ENOMEM;
    /* a summary interrupted by a restart goes out at the next tick */
    if (outbox_summary_states(ob, any_state, NULL) > 0)
        p->summary_due_ms = 1;
    return 0;
}

void alert_policy_done(struct alert_policy *p)
{
    if (p->in_txn)
        outbox_rollback(p->ob);
    free(p->storm_ring);
    p->storm_ring = NULL;
}

/* Every change of state goes through here: the next tick looks again. */
static int txn(struct alert_policy *p)
{
    p->next_due_ms = 0;
    if (p->in_txn)
        return 0;
    if (outbox_begin(p->ob) < 0)
        return -EIO;
    p->in_txn = true;
    return 0;
}

void alert_policy_abort(struct alert_policy *p)
{
    if (!p->in_txn)
        return;
    p->in_txn = false;
    outbox_rollback(p->ob);
}

int alert_policy_commit(struct alert_policy *p)
{
    if (!p->in_txn)
        return 0;
    p->in_txn = false;
    if (outbox_commit(p->ob) < 0) {
        outbox_rollback(p->ob);
        return -EIO;
    }
    return 0;
}

/* A notification for every channel. */
static int emit(struct alert_policy *p, struct notification *n, const char *suffix)
{
    char key[320];
    int r;

    if (suffix)
        snprintf(key, sizeof(key), "%s:%s:%s:%s", p->node_id, n->alert_id,
                 alert_event_name(n->event), suffix);
    else
        snprintf(key, sizeof(key), "%s:%s:%s", p->node_id, n->alert_id, alert_event_name(n->event));
    n->key = key;
    n->node_id = p->node_id;
    if ((r = txn(p)) < 0)
        return r;
    for (size_t i = 0; i < p->n_channels; i++) {
        r = outbox_add(p->ob, p->channels[i], n);
        if (r < 0)
            return r;
        p->notifications += (uint64_t)r;
    }
    return 0;
}

/* A notification about st's alert. */
static int emit_state(struct alert_policy *p, const struct alert_state *st, enum alert_event ev,
                      unsigned prev, int64_t now, const char *suffix)
{
    struct notification n = {
        .event = ev,
        .alert_id = st->alert_id,
        .anomaly_type = st->anomaly_type,
        .component = st->component,
        .description = st->description,
        .details = st->details,
        .body = st->body,
        .severity = st->severity,
        .prev_severity = prev,
        .quantum_relevant = st->quantum_relevant,
        .starts_ms = st->opened_ms,
        .ends_ms = ev == ALERT_EV_RESOLVED ? st->resolved_ms : 0,
        .created_ms = now,
    };
    return emit(p, &n, suffix);
}

static bool eligible(const struct alert_policy *p, const struct anomaly *a)
{
    return a->severity >= p->min_severity && (!a->quantum_relevant || p->quantum_alerts);
}

static bool storm(const struct alert_policy *p, int64_t now)
{
    int64_t oldest;

    if (!p->storm_threshold)
        return false;
    oldest = p->storm_ring[p->storm_next]; /* the ring is full once this slot is set */
    return oldest > 0 && now - oldest < ALERT_STORM_WINDOW_MS;
}

static void storm_note(struct alert_policy *p, int64_t now)
{
    if (!p->storm_threshold)
        return;
    p->storm_ring[p->storm_next] = now;
    p->storm_next = (p->storm_next + 1) % p->storm_threshold;
}

/* The anomaly's words into st: what later notifications about it say. */
static int take_text(struct alert_state *st, const struct anomaly *a)
{
    struct strbuf d, b;

    strbuf_init(&d, 1 << 16);
    strbuf_init(&b, 1 << 16);
    if (a->n_related) {
        strbuf_puts(&d, "related metrics:\n");
        for (size_t i = 0; i < a->n_related; i++) {
            strbuf_printf(&d, "  %s = ", a->related_metrics[i].key);
            strbuf_json_num(&d, a->related_metrics[i].value, 6);
            strbuf_putc(&d, '\n');
        }
    }
    if (a->n_actions) {
        strbuf_puts(&d, "suggested actions:\n");
        for (size_t i = 0; i < a->n_actions; i++)
            strbuf_printf(&d, "  - %s\n", a->suggested_actions[i]);
    }
    anomaly_to_json(a, &b);
    if (b.overflow) {
        /* cut short it is no JSON: the notifications carry "anomaly": null instead */
        strbuf_done(&b);
        strbuf_init(&b, 16);
        strbuf_puts(&b, "null");
    }
    alert_state_done(st);
    st->anomaly_type = strdup(a->anomaly_type);
    st->component = strdup(a->component);
    st->description = strdup(a->description ? a->description : "");
    st->details = strbuf_steal(&d);
    st->body = strbuf_steal(&b);
    strbuf_done(&d);
    strbuf_done(&b);
    if (!st->anomaly_type || !st->component || !st->description || !st->details || !st->body)
        return -ENOMEM;
    return 0;
}

static void fingerprint(char *fp, size_t cap, const struct anomaly *a)
{
    snprintf(fp, cap, "%s/%s", a->anomaly_type, a->component);
}

static int64_t detected_ms(const struct anomaly *a)
{
    return a->detected_at_ms ? (int64_t)a->detected_at_ms : (int64_t)a->detected_at * 1000;
}

/* A new alert for a. */
static int open_alert(struct alert_policy *p, struct alert_state *st, const struct anomaly *a,
                      int64_t now)
{
    int r;

    alert_state_done(st);
    memset(st, 0, sizeof(*st));
    fingerprint(st->fingerprint, sizeof(st->fingerprint), a);
    snprintf(st->alert_id, sizeof(st->alert_id), "%s", a->id);
    snprintf(st->anomaly_id, sizeof(st->anomaly_id), "%s", a->id);
    st->phase = ALERT_OPEN;
    st->severity = a->severity;
    st->quantum_relevant = a->quantum_relevant;
    st->opened_ms = detected_ms(a);
    st->notified_ms = now;
    if ((r = take_text(st, a)) < 0)
        return r;
    if ((r = txn(p)) < 0)
        return r;
    if (storm(p, now)) {
        st->summary = SUMMARY_FIRED;
        if (!p->summary_due_ms)
            p->summary_due_ms = now + ALERT_STORM_WINDOW_MS;
    } else {
        storm_note(p, now);
        if ((r = emit_state(p, st, ALERT_EV_FIRING, 0, now, NULL)) < 0)
            return r;
    }
    return outbox_state_put(p->ob, st);
}

int alert_policy_anomaly(struct alert_policy *p, const struct anomaly *a, int64_t now)
{
    struct alert_state st = {0};
    char fp[sizeof(st.fingerprint)];
    bool write = false;
    int r;

    fingerprint(fp, sizeof(fp), a);
    r = outbox_state_get(p->ob, fp, &st);
    if (r < 0)
        return r;
    if (!anomaly_open(a)) {
        /* the anomaly the alert follows ended: the hold-down starts */
        if (r == 1 && st.phase == ALERT_OPEN && !strcmp(st.anomaly_id, a->id)) {
            st.phase = ALERT_RESOLVING;
            st.since_ms = a->resolved_at_ms ? (int64_t)a->resolved_at_ms : now;
            /* the resolved notification carries the anomaly as it ended */
            if ((r = take_text(&st, a)) == 0 && (r = txn(p)) == 0)
                r = outbox_state_put(p->ob, &st);
        } else {
            r = 0;
        }
        alert_state_done(&st);
        return r;
    }
    if (!eligible(p, a)) {
        alert_state_done(&st);
        return 0;
    }
    if (r == 0 || st.phase == ALERT_RESOLVED) {
        r = open_alert(p, &st, a, now);
        alert_state_done(&st);
        return r;
    }
    if (st.phase == ALERT_RESOLVING) {
        /* fired again within the hold-down: the same alert goes on, unsaid */
        st.phase = ALERT_OPEN;
        st.since_ms = 0;
        write = true;
    }
    if (strcmp(st.anomaly_id, a->id) != 0) {
        snprintf(st.anomaly_id, sizeof(st.anomaly_id), "%s", a->id);
        write = true;
    }
    if (a->severity > st.severity) {
        unsigned prev = st.severity;
        st.severity = a->severity;
        if ((r = take_text(&st, a)) < 0 || (r = txn(p)) < 0)
            goto out;
        if (st.summary == SUMMARY_NONE) {
            char n[8];
            snprintf(n, sizeof(n), "%u", st.severity);
            if ((r = emit_state(p, &st, ALERT_EV_ESCALATED, prev, now, n)) < 0)
                goto out;
        }
        write = true;
    } else if (write && (r = take_text(&st, a)) < 0) {
        goto out;
    }
    r = 0;
    if (write && (r = txn(p)) == 0)
        r = outbox_state_put(p->ob, &st);
out:
    alert_state_done(&st);
    return r;
}

struct reconcile {
    struct alert_policy *p;
    const char *const *ids;
    size_t n;
    int64_t now;
    int err;
};

static int reconcile_one(void *ctx, struct alert_state *st)
{
    struct reconcile *rc = ctx;

    for (size_t i = 0; i < rc->n; i++)
        if (!strcmp(rc->ids[i], st->anomaly_id))
            return 0;
    st->phase = ALERT_RESOLVING;
    st->since_ms = rc->now;
    if ((rc->err = txn(rc->p)) == 0)
        rc->err = outbox_state_put(rc->p->ob, st);
    return rc->err;
}

int alert_policy_reconcile(struct alert_policy *p, const char *const *open_ids, size_t n,
                           int64_t now)
{
    struct reconcile rc = {p, open_ids, n, now, 0};
    long r = outbox_states(p->ob, ALERT_OPEN, reconcile_one, &rc);

    return r < 0 ? (int)r : rc.err;
}

struct tick {
    struct alert_policy *p;
    int64_t now;
    int64_t next; /* the earliest moment something not due yet will be */
    int err;
    /* the summary being written */
    struct strbuf body, details;
    unsigned fired, resolved;
};

static int resolve_due(void *ctx, struct alert_state *st)
{
    struct tick *t = ctx;
    struct alert_policy *p = t->p;

    if (t->now - st->since_ms < p->hold_ms) {
        if (st->since_ms + p->hold_ms < t->next)
            t->next = st->since_ms + p->hold_ms;
        return 0;
    }
    st->phase = ALERT_RESOLVED;
    st->resolved_ms = st->since_ms;
    if ((t->err = txn(p)) < 0)
        return t->err;
    if (st->summary != SUMMARY_NONE) {
        st->summary = SUMMARY_RESOLVED;
        if (!p->summary_due_ms)
            p->summary_due_ms = t->now;
    } else if ((t->err = emit_state(p, st, ALERT_EV_RESOLVED, 0, t->now, NULL)) < 0) {
        return t->err;
    }
    return t->err = outbox_state_put(p->ob, st);
}

static int repeat_due(void *ctx, struct alert_state *st)
{
    struct tick *t = ctx;
    struct alert_policy *p = t->p;
    char n[16];

    if (!p->repeat_ms || st->summary != SUMMARY_NONE)
        return 0;
    if (t->now - st->notified_ms < p->repeat_ms) {
        if (st->notified_ms + p->repeat_ms < t->next)
            t->next = st->notified_ms + p->repeat_ms;
        return 0;
    }
    st->repeats++;
    st->notified_ms = t->now;
    snprintf(n, sizeof(n), "%" PRIu32, st->repeats);
    if ((t->err = txn(p)) < 0 || (t->err = emit_state(p, st, ALERT_EV_REPEAT, 0, t->now, n)) < 0)
        return t->err;
    return t->err = outbox_state_put(p->ob, st);
}

#define SUMMARY_LIST_MAX 50 /* alerts listed by name in one summary; the rest are counted */

static int summarise(void *ctx, struct alert_state *st)
{
    struct tick *t = ctx;
    bool resolved = st->summary == SUMMARY_RESOLVED;
    unsigned listed = t->fired + t->resolved;

    if (listed < SUMMARY_LIST_MAX) {
        strbuf_puts(&t->body, listed ? ",{\"alert_id\":" : "{\"alert_id\":");
        strbuf_json_str(&t->body, st->alert_id);
        strbuf_puts(&t->body, ",\"anomaly_type\":");
        strbuf_json_str(&t->body, st->anomaly_type);
        strbuf_puts(&t->body, ",\"component\":");
        strbuf_json_str(&t->body, st->component);
        strbuf_printf(&t->body, ",\"severity\":%u,\"status\":\"%s\"}", st->severity,
                      resolved ? "resolved" : "firing");
        strbuf_printf(&t->details, "%s: %s %s on %s\n", resolved ? "resolved" : "fired",
                      alert_severity_name(st->severity), st->anomaly_type, st->component);
    }
    if (resolved)
        t->resolved++;
    else
        t->fired++;
    st->summary = SUMMARY_DONE;
    if ((t->err = txn(t->p)) < 0)
        return t->err;
    return t->err = outbox_state_put(t->p->ob, st);
}

static int flush_summary(struct alert_policy *p, struct tick *t)
{
    char id[64], desc[256];
    struct notification n = {0};
    long r;

    strbuf_init(&t->body, 1 << 20);
    strbuf_init(&t->details, 1 << 20);
    strbuf_putc(&t->body, '[');
    r = outbox_summary_states(p->ob, summarise, t);
    strbuf_putc(&t->body, ']');
    if (r > 0 && t->err == 0) {
        unsigned total = t->fired + t->resolved;
        if (total > SUMMARY_LIST_MAX)
            strbuf_printf(&t->details, "and %u more\n", total - SUMMARY_LIST_MAX);
        snprintf(id, sizeof(id), "storm-%" PRId64, t->now);
        snprintf(desc, sizeof(desc),
                 "Alert storm: %u alert(s) fired and %u resolved beyond %u a minute; "
                 "they are summarised here instead of one notification each",
                 t->fired, t->resolved, p->storm_threshold);
        n.event = ALERT_EV_SUMMARY;
        n.alert_id = id;
        n.anomaly_type = "alert_storm";
        n.component = "alerts";
        n.description = desc;
        n.details = t->details.buf ? t->details.buf : "";
        n.body = t->body.buf;
        n.severity = 3;
        n.starts_ms = t->now;
        n.created_ms = t->now;
        n.count = total;
        t->err = emit(p, &n, NULL);
    }
    strbuf_done(&t->body);
    strbuf_done(&t->details);
    if (r < 0)
        return (int)r;
    if (t->err == 0)
        p->summary_due_ms = 0;
    return t->err;
}

int alert_policy_tick(struct alert_policy *p, int64_t now)
{
    struct tick t = {.p = p, .now = now, .next = INT64_MAX};
    long r;

    if (p->next_due_ms && now < p->next_due_ms)
        return 0;
    r = outbox_states(p->ob, ALERT_RESOLVING, resolve_due, &t);
    if (r < 0 || t.err < 0)
        return r < 0 ? (int)r : t.err;
    r = outbox_states(p->ob, ALERT_OPEN, repeat_due, &t);
    if (r < 0 || t.err < 0)
        return r < 0 ? (int)r : t.err;
    if (p->summary_due_ms && now >= p->summary_due_ms && (r = flush_summary(p, &t)) < 0)
        return (int)r;
    if (p->summary_due_ms && p->summary_due_ms < t.next)
        t.next = p->summary_due_ms;
    /* what this tick changed (a resolved, a repeat) reset it: look again next tick */
    if (!p->in_txn)
        p->next_due_ms = t.next;
    return 0;
}
