/* The alert dispatcher (dispatch.h). */
#define LOG_MODULE "alert"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alert.h"
#include "core/log.h"
#include "dispatch.h"
#include "outbox.h"
#include "policy.h"

#define MAX_REFUSALS   5 /* a receiver refusing this often: the notification fails */
#define PURGE_AFTER_MS (7LL * 86400 * 1000) /* delivered/failed rows kept a week */
#define LOG_REPEAT_MS  (10LL * 60 * 1000)   /* a persisting error is logged again this often */
#define BATCH          100                  /* deliveries per channel per wake-up */
#define WAKE_MS        60000                /* the longest sleep without a kick */

struct chan {
    const struct alert_channel_ops *ops;
    void *state;
    bool opened;
    int64_t rest_until; /* resting after an error (also: next try to open) */
    uint32_t fails;     /* consecutive */
    int64_t next_refresh;
    long pending;      /* in the outbox (-1: to count) */
    int64_t unmarked;  /* row delivered but not yet marked so in the outbox (0: none) */
    int64_t logged_ms; /* when its error was last logged */
    bool logged;       /* an error line since the last success */
    struct alert_channel_stats st;
};

struct alert_dispatch {
    struct anomaly_log *log;
    struct outbox *ob;
    struct config cfg;
    bool have_cfg;
    struct alert_policy pol;
    struct chan ch[ALERT_DISPATCH_MAX_CHANNELS];
    size_t n_ch;
    uint64_t seq;          /* the anomaly log's last change acted on */
    _Atomic uint64_t seen; /* the same, for alert_dispatch_kick() on the sampler's thread */
    bool reconciled;       /* the first pass after start is done */
    int64_t next_purge;
    uint64_t rng;
    bool policy_failed;

    pthread_t thread;
    bool running;
    pthread_mutex_t lock; /* stop, kicked, the channels' stats */
    pthread_cond_t cond;
    bool stop, kicked;
};

/* ---- copies of anomalies, taken under the log's lock and used outside it */

struct copy {
    struct anomaly a;
    char *strings[4 + ANOMALY_MAX_RELATED + ANOMALY_MAX_ACTIONS];
    size_t n_strings;
};

struct changes {
    struct copy *v;
    size_t n, cap;
    bool oom;
};

static const char *keep(struct copy *c, const char *s, bool *oom)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s))) {
        *oom = true;
        return "";
    }
    c->strings[c->n_strings++] = d;
    return d;
}

static void take_change(void *ctx, const struct anomaly *a)
{
    struct changes *ch = ctx;
    struct copy *c;

    if (ch->n == ch->cap) {
        size_t ncap = ch->cap ? ch->cap * 2 : 32;
        struct copy *nv = realloc(ch->v, ncap * sizeof(*nv));
        if (!nv) {
            ch->oom = true;
            return;
        }
        ch->v = nv;
        ch->cap = ncap;
    }
    c = &ch->v[ch->n++];
    memset(c, 0, sizeof(*c));
    c->a = *a;
    c->a.anomaly_type = keep(c, a->anomaly_type, &ch->oom);
    c->a.component = keep(c, a->component, &ch->oom);
    c->a.description = keep(c, a->description, &ch->oom);
    c->a.detector = keep(c, a->detector, &ch->oom);
    for (size_t i = 0; i < a->n_related; i++)
        c->a.related_metrics[i].key = keep(c, a->related_metrics[i].key, &ch->oom);
    for (size_t i = 0; i < a->n_actions; i++)
        c->a.suggested_actions[i] = keep(c, a->suggested_actions[i], &ch->oom);
}

static void changes_done(struct changes *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        for (size_t j = 0; j < ch->v[i].n_strings; j++)
            free(ch->v[i].strings[j]);
    free(ch->v);
    memset(ch, 0, sizeof(*ch));
}

/* ---- the channels */

static uint64_t next_rand(struct alert_dispatch *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

/* 1 s doubling per consecutive failure up to retry_max_sec, times 0.5..1 */
static int64_t backoff_ms(struct alert_dispatch *d, uint32_t fails)
{
    int64_t cap = (int64_t)d->cfg.alerts.retry_max_sec * 1000, ms = 1000;

    for (uint32_t i = 1; i < fails && ms < cap; i++)
        ms *= 2;
    if (ms > cap)
        ms = cap;
    return ms / 2 + (int64_t)(next_rand(d) % (uint64_t)(ms / 2 + 1));
}

static void chan_error(struct alert_dispatch *d, struct chan *c, const char *msg, int64_t now)
{
    pthread_mutex_lock(&d->lock);
    snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", msg);
    c->fails++;
    c->rest_until = now + backoff_ms(d, c->fails);
    c->st.retry_at_ms = c->rest_until;
    pthread_mutex_unlock(&d->lock);
    if (!c->logged || now - c->logged_ms >= LOG_REPEAT_MS) {
        log_warn("%s; retrying with back-off (next in %.1f s)", msg,
                 (double)(c->rest_until - now) / 1000);
        c->logged = true;
        c->logged_ms = now;
    }
}

static void chan_ok(struct alert_dispatch *d, struct chan *c, int64_t now)
{
    if (c->logged)
        log_info("%s: delivering again", c->ops->name);
    c->logged = false;
    pthread_mutex_lock(&d->lock);
    c->fails = 0;
    c->rest_until = 0;
    c->st.retry_at_ms = 0;
    c->st.last_ok_ms = now;
    pthread_mutex_unlock(&d->lock);
}

static bool chan_open(struct alert_dispatch *d, struct chan *c, int64_t now)
{
    struct strbuf err;
    int r;

    if (c->opened)
        return true;
    strbuf_init(&err, 1024);
    r = c->ops->open(&d->cfg, &c->state, &err);
    if (r < 0) {
        if (!err.len)
            strbuf_printf(&err, "%s: cannot start: %s", c->ops->name, strerror(-r));
        chan_error(d, c, err.buf, now);
    } else {
        c->opened = true;
    }
    strbuf_done(&err);
    return c->opened;
}

static void chan_close(struct chan *c)
{
    if (c->opened)
        c->ops->close(c->state);
    c->opened = false;
    c->state = NULL;
}

/* The outbox cannot be read or written: the channel rests (with back-off, like a
 * receiver that is down) rather than asking again at once, and says so. */
static void outbox_error(struct alert_dispatch *d, struct chan *c, const char *what, int64_t now)
{
    char msg[200];

    snprintf(msg, sizeof(msg), "%s: the alert outbox cannot %s", c->ops->name, what);
    chan_error(d, c, msg, now);
}

/* Delivers c's due notifications, oldest first. */
static void deliver(struct alert_dispatch *d, struct chan *c, int64_t now)
{
    if (now < c->rest_until)
        return;
    /* a delivery whose mark failed is marked before anything else is sent: it
     * is the oldest pending row, which outbox_next() would hand out again */
    if (c->unmarked) {
        if (outbox_sent(d->ob, c->unmarked, now) < 0) {
            outbox_error(d, c, "mark a delivered notification", now);
            return;
        }
        c->unmarked = 0;
    }
    if (c->pending < 0)
        c->pending = outbox_pending(d->ob, c->ops->name);
    if (c->pending < 0) {
        outbox_error(d, c, "be read", now);
        return;
    }
    for (int i = 0; i < BATCH && c->pending != 0 && now >= c->rest_until; i++) {
        struct outbox_item it;
        struct strbuf err;
        int r = outbox_next(d->ob, c->ops->name, &it);

        if (r <= 0) {
            c->pending = r < 0 ? -1 : 0;
            if (r < 0)
                outbox_error(d, c, "be read", now);
            return;
        }
        if (now - it.n.created_ms > (int64_t)d->cfg.alerts.give_up_after_sec * 1000) {
            char why[160];
            snprintf(why, sizeof(why), "undelivered for more than %" PRIu32 " s",
                     d->cfg.alerts.give_up_after_sec);
            if (outbox_failed(d->ob, it.row, why) < 0) {
                outbox_error(d, c, "mark a notification given up", now);
                outbox_item_done(&it);
                return;
            }
            c->pending--;
            log_error("%s: notification %s failed: %s", c->ops->name, it.n.key, why);
            pthread_mutex_lock(&d->lock);
            c->st.failed++;
            pthread_mutex_unlock(&d->lock);
            outbox_item_done(&it);
            continue;
        }
        if (!chan_open(d, c, now)) {
            outbox_item_done(&it);
            return;
        }
        strbuf_init(&err, 1024);
        r = c->ops->send(c->state, &it.n, &err);
        pthread_mutex_lock(&d->lock);
        c->st.attempts++;
        if (r < 0)
            c->st.errors++;
        pthread_mutex_unlock(&d->lock);
        if (r == 0) {
            bool marked = outbox_sent(d->ob, it.row, now) == 0;

            c->pending--;
            pthread_mutex_lock(&d->lock);
            c->st.sent++;
            pthread_mutex_unlock(&d->lock);
            chan_ok(d, c, now);
            if (!marked) {
                /* kept in memory and marked before anything else goes out; only a
                 * restart before that sends it again (same idempotency key) */
                log_error("%s: %s was delivered but cannot be marked so yet", c->ops->name,
                          it.n.key);
                c->unmarked = it.row;
                outbox_error(d, c, "mark a delivered notification", now);
                strbuf_done(&err);
                outbox_item_done(&it);
                return;
            }
        } else {
            if (!err.len)
                strbuf_printf(&err, "%s: delivery failed", c->ops->name);
            if (r == ALERT_PERMANENT && it.attempts + 1 >= MAX_REFUSALS) {
                if (outbox_failed(d->ob, it.row, err.buf) < 0) {
                    /* still pending: refused again after the rest, then marked */
                    outbox_error(d, c, "mark a notification given up", now);
                    strbuf_done(&err);
                    outbox_item_done(&it);
                    return;
                }
                c->pending--;
                log_error("%s: notification %s failed after %d refusals: %s", c->ops->name,
                          it.n.key, MAX_REFUSALS, err.buf);
                pthread_mutex_lock(&d->lock);
                c->st.failed++;
                pthread_mutex_unlock(&d->lock);
            }
            chan_error(d, c, err.buf, now);
            if (r != ALERT_PERMANENT || it.attempts + 1 < MAX_REFUSALS)
                outbox_retry(d->ob, it.row, c->rest_until, err.buf);
        }
        strbuf_done(&err);
        outbox_item_done(&it);
        /* time moves on during a slow delivery */
        now = alert_now_ms();
    }
}

struct refresh {
    struct alert_dispatch *d;
    struct chan *c;
    int64_t now;
};

static int refresh_one(void *ctx, struct alert_state *st)
{
    struct refresh *rf = ctx;
    struct outbox_item it;
    struct strbuf err;
    int r;

    if (st->summary != SUMMARY_NONE)
        return 0;
    if (outbox_latest(rf->d->ob, rf->c->ops->name, st->alert_id, &it) <= 0)
        return 0;
    strbuf_init(&err, 1024);
    r = rf->c->ops->send(rf->c->state, &it.n, &err);
    if (r < 0)
        log_debug("%s: re-posting %s failed: %s", rf->c->ops->name, st->alert_id,
                  err.buf ? err.buf : "");
    strbuf_done(&err);
    outbox_item_done(&it);
    return r < 0; /* the receiver is away: the next round tries again */
}

/* Re-posts every open alert to a receiver that forgets them (Alertmanager). */
static void refresh(struct alert_dispatch *d, struct chan *c, int64_t now)
{
    uint32_t sec;
    struct refresh rf = {d, c, now};

    if (!c->ops->refresh_sec || !(sec = c->ops->refresh_sec(&d->cfg)))
        return;
    if (now < c->next_refresh)
        return;
    c->next_refresh = now + (int64_t)sec * 1000;
    if (now < c->rest_until || !chan_open(d, c, now))
        return;
    outbox_states(d->ob, -1, refresh_one, &rf);
}

/* ---- the thread */

static void policy_warn(struct alert_dispatch *d, const char *what)
{
    if (!d->policy_failed)
        log_error("alerts: cannot record %s in the outbox; retrying every second", what);
    d->policy_failed = true;
}

/* The anomaly log's changes into alerts and notifications. */
/* Notifications were added: the channels count their pending ones again. */
static void recount(struct alert_dispatch *d)
{
    for (size_t i = 0; i < d->n_ch; i++)
        d->ch[i].pending = -1;
}

static void take_anomalies(struct alert_dispatch *d, int64_t now)
{
    uint64_t added = d->pol.notifications;
    struct changes ch = {0};
    uint64_t seq;
    int r = 0;

    if (anomaly_log_seq(d->log) == d->seq && d->reconciled)
        return;
    seq = anomaly_log_changes(d->log, d->seq, take_change, &ch);
    if (ch.oom) {
        changes_done(&ch);
        policy_warn(d, "the anomalies (out of memory)");
        return;
    }
    for (size_t i = 0; i < ch.n && r == 0; i++)
        r = alert_policy_anomaly(&d->pol, &ch.v[i].a, now);
    if (r == 0 && !d->reconciled) {
        /* after a start: alerts whose anomaly ended while the daemon was down */
        const char **open = calloc(ch.n + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; open && i < ch.n; i++)
            if (anomaly_open(&ch.v[i].a))
                open[n++] = ch.v[i].a.id;
        r = open ? alert_policy_reconcile(&d->pol, open, n, now) : -ENOMEM;
        free(open);
    }
    if (r == 0)
        r = alert_policy_commit(&d->pol);
    else
        alert_policy_abort(&d->pol); /* the batch is replayed whole: decisions repeat */
    if (d->pol.notifications != added || r < 0)
        recount(d);
    if (r == 0) {
        d->seq = seq;
        atomic_store(&d->seen, seq);
        d->reconciled = true;
        if (d->policy_failed)
            log_info("alerts: recording again");
        d->policy_failed = false;
    } else {
        policy_warn(d, "the anomalies");
    }
    changes_done(&ch);
}

static void publish_pending(struct alert_dispatch *d)
{
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n_ch; i++)
        d->ch[i].st.pending = d->ch[i].pending;
    pthread_mutex_unlock(&d->lock);
}

/*
 * Each round does only what is due: the anomaly log is looked at when it
 * changed (the sampler kicks after each tick), the policy when a hold-down,
 * repeat or summary may be due, a channel when it has something pending and
 * is not resting. A quiet agent's dispatcher is not even woken by the ticks.
 */
static void *run(void *arg)
{
    struct alert_dispatch *d = arg;

    pthread_setname_np(pthread_self(), "am-alerts");
    for (;;) {
        int64_t now = alert_now_ms(), wake = now + WAKE_MS;
        uint64_t added = d->pol.notifications;
        struct timespec ts;
        int64_t wait;

        take_anomalies(d, now);
        if (alert_policy_tick(&d->pol, now) < 0) {
            alert_policy_abort(&d->pol);
            policy_warn(d, "the alerts' hold-downs and repeats");
        } else if (alert_policy_commit(&d->pol) < 0) {
            policy_warn(d, "the alerts' hold-downs and repeats");
        }
        if (d->pol.notifications != added)
            recount(d);
        for (size_t i = 0; i < d->n_ch; i++) {
            deliver(d, &d->ch[i], alert_now_ms());
            refresh(d, &d->ch[i], alert_now_ms());
        }
        if (now >= d->next_purge) {
            outbox_purge(d->ob, now - PURGE_AFTER_MS);
            d->next_purge = now + 3600 * 1000;
        }
        publish_pending(d);

        /* the next moment something is due */
        if (d->pol.next_due_ms > 0 && d->pol.next_due_ms < wake)
            wake = d->pol.next_due_ms;
        if (d->pol.next_due_ms == 0 || d->policy_failed)
            wake = now + 1000;
        for (size_t i = 0; i < d->n_ch; i++) {
            const struct chan *c = &d->ch[i];
            if (c->pending != 0 && c->rest_until < wake)
                wake = c->rest_until > now ? c->rest_until : now; /* a batch more */
            if (c->ops->refresh_sec && c->next_refresh < wake)
                wake = c->next_refresh;
        }
        if (d->next_purge < wake)
            wake = d->next_purge;
        pthread_mutex_lock(&d->lock);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        wait = wake - alert_now_ms();
        if (wait < 10)
            wait = 10;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (!d->stop && !d->kicked)
            if (pthread_cond_timedwait(&d->cond, &d->lock, &ts) == ETIMEDOUT)
                break;
        d->kicked = false;
        if (d->stop) {
            pthread_mutex_unlock(&d->lock);
            break;
        }
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

int alert_dispatch_new(struct alert_dispatch **ret, struct anomaly_log *log, const char *db_path,
                       struct strbuf *err)
{
    struct alert_dispatch *d = calloc(1, sizeof(*d));
    pthread_condattr_t ca;
    int r;

    if (!d)
        return -ENOMEM;
    if ((r = outbox_open(&d->ob, db_path, err)) < 0) {
        free(d);
        return r;
    }
    d->log = log;
    if (getrandom(&d->rng, sizeof(d->rng), 0) != (ssize_t)sizeof(d->rng) || !d->rng)
        d->rng = (uint64_t)alert_now_ms() | 1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    *ret = d;
    return 0;
}

static void stop_thread(struct alert_dispatch *d)
{
    if (!d->running)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->running = false;
    d->stop = false;
}

static void release(struct alert_dispatch *d)
{
    for (size_t i = 0; i < d->n_ch; i++)
        chan_close(&d->ch[i]);
    d->n_ch = 0;
    if (d->have_cfg) {
        alert_policy_done(&d->pol);
        config_done(&d->cfg);
        d->have_cfg = false;
    }
}

int alert_dispatch_configure(struct alert_dispatch *d, const struct config *cfg)
{
    const char *names[ALERT_DISPATCH_MAX_CHANNELS];
    int r;

    stop_thread(d);
    pthread_mutex_lock(&d->lock);
    release(d);
    pthread_mutex_unlock(&d->lock);
    if ((r = config_copy(&d->cfg, cfg)) < 0)
        return r;
    d->have_cfg = true;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; alert_channels[i] && d->n_ch < ALERT_DISPATCH_MAX_CHANNELS; i++) {
        struct chan *c = &d->ch[d->n_ch];
        if (!alert_channels[i]->configured(&d->cfg))
            continue;
        memset(c, 0, sizeof(*c));
        c->ops = alert_channels[i];
        c->st.name = c->ops->name;
        c->st.pending = -1;
        c->pending = -1;
        names[d->n_ch++] = c->ops->name;
    }
    pthread_mutex_unlock(&d->lock);
    r = alert_policy_init(&d->pol, &d->cfg, d->ob, names, d->n_ch);
    if (r < 0)
        return r;
    d->reconciled = false;
    d->seq = 0; /* replayed whole: every decision is made from the anomalies' state */
    atomic_store(&d->seen, UINT64_MAX);
    if (!d->cfg.alerts.enabled)
        return 0;
    if ((r = -pthread_create(&d->thread, NULL, run, d)) < 0)
        return r;
    d->running = true;
    {
        char list[128] = "";
        for (size_t i = 0; i < d->n_ch; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), " %s", d->ch[i].ops->name);
        log_info("alerts: min_severity %u, channels:%s", d->cfg.alerts.min_severity,
                 d->n_ch ? list : " none");
    }
    return 0;
}

void alert_dispatch_kick(struct alert_dispatch *d)
{
    /* a tick without a new anomaly change has nothing for the thread */
    if (!d || anomaly_log_seq(d->log) == atomic_load(&d->seen))
        return;
    pthread_mutex_lock(&d->lock);
    d->kicked = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

void alert_dispatch_free(struct alert_dispatch *d)
{
    if (!d)
        return;
    stop_thread(d);
    release(d);
    outbox_close(d->ob);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

size_t alert_dispatch_stats(struct alert_dispatch *d,
                            struct alert_channel_stats out[ALERT_DISPATCH_MAX_CHANNELS])
{
    size_t n;

    if (!d)
        return 0;
    pthread_mutex_lock(&d->lock);
    n = d->n_ch;
    for (size_t i = 0; i < n; i++)
        out[i] = d->ch[i].st;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void json_ms(struct strbuf *out, const char *name, int64_t ms)
{
    char t[32];

    strbuf_printf(out, ",\"%s\":", name);
    if (ms > 0) {
        alert_time_iso(ms, t);
        strbuf_printf(out, "\"%s\"", t);
    } else {
        strbuf_puts(out, "null");
    }
}

int alert_dispatch_to_json(struct alert_dispatch *d, size_t limit, struct strbuf *out)
{
    struct alert_channel_stats st[ALERT_DISPATCH_MAX_CHANNELS];
    size_t n = alert_dispatch_stats(d, st);
    bool enabled;
    unsigned min_sev = 0;
    int r = 0;

    if (d) {
        pthread_mutex_lock(&d->lock);
        enabled = d->have_cfg && d->cfg.alerts.enabled;
        min_sev = d->have_cfg ? d->cfg.alerts.min_severity : 0;
        pthread_mutex_unlock(&d->lock);
    } else {
        enabled = false;
    }
    strbuf_printf(out, "{\"enabled\":%s,\"min_severity\":", enabled ? "true" : "false");
    if (min_sev)
        strbuf_printf(out, "%u", min_sev);
    else
        strbuf_puts(out, "null");
    strbuf_puts(out, ",\"channels\":[");
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(out,
                      "%s{\"name\":\"%s\",\"sent\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"pending\":",
                      i ? "," : "", st[i].name, st[i].sent, st[i].failed);
        if (st[i].pending >= 0)
            strbuf_printf(out, "%ld", st[i].pending);
        else
            strbuf_puts(out, "null");
        strbuf_printf(out, ",\"attempts\":%" PRIu64 ",\"errors\":%" PRIu64, st[i].attempts,
                      st[i].errors);
        json_ms(out, "last_delivery_at", st[i].last_ok_ms);
        json_ms(out, "retry_at", st[i].retry_at_ms);
        strbuf_puts(out, ",\"last_error\":");
        if (st[i].last_error[0])
            strbuf_json_str(out, st[i].last_error);
        else
            strbuf_puts(out, "null");
        strbuf_putc(out, '}');
    }
    strbuf_putc(out, ']');
    if (d) {
        strbuf_putc(out, ',');
        r = outbox_to_json(d->ob, limit, out);
    } else {
        strbuf_puts(out, ",\"notifications\":[],\"alerts\":[]");
    }
    strbuf_putc(out, '}');
    return r;
}

int alert_send_test(const struct config *cfg, const char *channel, FILE *out)
{
    int64_t now = alert_now_ms();
    char key[200];
    struct notification n = {
        .event = ALERT_EV_TEST,
        .node_id = cfg->agent.node_id ? cfg->agent.node_id : "",
        .anomaly_type = "test",
        .component = "alerts",
        .description = "A test notification from `arthamon alerts test`: this channel works.",
        .details = "",
        .body = "null",
        .severity = cfg->alerts.min_severity,
        .starts_ms = now,
        .created_ms = now,
    };
    int failed = 0, tried = 0;
    char id[64];

    if (channel && !alert_channel_find(channel))
        return -1;
    snprintf(id, sizeof(id), "test-%" PRId64, now);
    snprintf(key, sizeof(key), "%s:%s:test", n.node_id, id);
    n.alert_id = id;
    n.key = key;
    for (size_t i = 0; alert_channels[i]; i++) {
        const struct alert_channel_ops *ops = alert_channels[i];
        struct strbuf err;
        void *state = NULL;
        int r;

        if (channel && strcmp(channel, ops->name) != 0)
            continue;
        if (!ops->configured(cfg)) {
            if (channel) {
                fprintf(out, "%s: not configured (see docs/alerts.md)\n", ops->name);
                failed++;
            }
            continue;
        }
        tried++;
        strbuf_init(&err, 1024);
        r = ops->open(cfg, &state, &err);
        if (r == 0) {
            r = ops->send(state, &n, &err);
            ops->close(state);
        }
        if (r == 0) {
            fprintf(out, "%s: ok\n", ops->name);
        } else {
            const char *why = err.buf ? err.buf : strerror(-r);
            size_t len = strlen(ops->name);
            if (!strncmp(why, ops->name, len) && !strncmp(why + len, ": ", 2))
                why += len + 2; /* the channel's words start with its name */
            fprintf(out, "%s: FAILED: %s\n", ops->name, why);
            failed++;
        }
        strbuf_done(&err);
    }
    if (!tried && !channel)
        fprintf(out, "no channel is configured (see docs/alerts.md)\n");
    return failed;
}
