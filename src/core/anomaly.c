#include "anomaly.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An owned copy: one allocation holds the struct and its strings. */
struct entry {
    struct anomaly a;
    char strings[];
};

struct anomaly_log {
    pthread_mutex_t lock;
    struct entry **ring;
    size_t cap, head, len; /* head: next slot to write */
    uint64_t seq;
};

struct anomaly_log *anomaly_log_new(size_t cap)
{
    struct anomaly_log *log = calloc(1, sizeof(*log));

    if (!log || cap == 0)
        goto fail;
    log->ring = calloc(cap, sizeof(*log->ring));
    if (!log->ring)
        goto fail;
    log->cap = cap;
    pthread_mutex_init(&log->lock, NULL);
    return log;
fail:
    free(log);
    return NULL;
}

void anomaly_log_free(struct anomaly_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->cap; i++)
        free(log->ring[i]);
    free(log->ring);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 1;
}

/* Copies s into *pool, returns the copy (NULL stays NULL). */
static const char *pool_put(char **pool, const char *s)
{
    size_t n;
    char *d = *pool;

    if (!s)
        s = ""; /* every string of a stored anomaly is set */
    n = strlen(s) + 1;
    memcpy(d, s, n);
    *pool += n;
    return d;
}

/* An owned copy of a, or NULL (-EINVAL / -ENOMEM in *err). */
static struct entry *entry_copy(const struct anomaly *a, int *err)
{
    struct entry *e;
    size_t need, nrel, nact;
    char *pool;

    if (a->severity < 1 || a->severity > 5 || !a->anomaly_type || !a->component) {
        *err = -EINVAL;
        return NULL;
    }
    nrel = a->n_related < ANOMALY_MAX_RELATED ? a->n_related : ANOMALY_MAX_RELATED;
    nact = a->n_actions < ANOMALY_MAX_ACTIONS ? a->n_actions : ANOMALY_MAX_ACTIONS;
    need = str_size(a->anomaly_type) + str_size(a->component) + str_size(a->description) +
           str_size(a->detector);
    for (size_t i = 0; i < nrel; i++)
        need += str_size(a->related_metrics[i].key);
    for (size_t i = 0; i < nact; i++)
        need += str_size(a->suggested_actions[i]);
    e = malloc(sizeof(*e) + need);
    if (!e) {
        *err = -ENOMEM;
        return NULL;
    }
    e->a = *a;
    e->a.id[sizeof(e->a.id) - 1] = '\0';
    e->a.n_related = nrel;
    e->a.n_actions = nact;
    pool = e->strings;
    e->a.anomaly_type = pool_put(&pool, a->anomaly_type);
    e->a.component = pool_put(&pool, a->component);
    e->a.description = pool_put(&pool, a->description);
    e->a.detector = pool_put(&pool, a->detector);
    for (size_t i = 0; i < nrel; i++)
        e->a.related_metrics[i].key = pool_put(&pool, a->related_metrics[i].key);
    for (size_t i = 0; i < nact; i++)
        e->a.suggested_actions[i] = pool_put(&pool, a->suggested_actions[i]);
    if (e->a.detected_at == 0 && e->a.detected_at_ms == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e->a.detected_at_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    }
    if (e->a.detected_at_ms == 0)
        e->a.detected_at_ms = e->a.detected_at * 1000;
    e->a.detected_at = e->a.detected_at_ms / 1000;
    return e;
}

/* Appends e (the log's lock held); returns the entry that dropped out. */
static struct entry *append_locked(struct anomaly_log *log, struct entry *e)
{
    struct entry *old = log->ring[log->head];

    log->ring[log->head] = e;
    log->head = (log->head + 1) % log->cap;
    if (log->len < log->cap)
        log->len++;
    return old;
}

int anomaly_log_add(struct anomaly_log *log, const struct anomaly *a)
{
    struct entry *e, *old;
    int err = 0;

    e = entry_copy(a, &err);
    if (!e)
        return err;
    pthread_mutex_lock(&log->lock);
    e->a.seq = ++log->seq;
    if (!e->a.id[0])
        snprintf(e->a.id, sizeof(e->a.id), "%" PRIu64 "-%" PRIu64, e->a.detected_at, e->a.seq);
    old = append_locked(log, e);
    pthread_mutex_unlock(&log->lock);
    free(old);
    return 0;
}

int anomaly_log_put(struct anomaly_log *log, const struct anomaly *a, uint64_t *ret_seq)
{
    struct entry *e, *old = NULL;
    int err = 0;
    bool found = false;

    if (!a->id[0])
        return -EINVAL;
    e = entry_copy(a, &err);
    if (!e)
        return err;
    pthread_mutex_lock(&log->lock);
    e->a.seq = ++log->seq;
    /* open anomalies are among the newest: search from the newest back */
    for (size_t i = 0; i < log->len; i++) {
        size_t idx = (log->head + log->cap - 1 - i) % log->cap;
        if (strcmp(log->ring[idx]->a.id, e->a.id) == 0) {
            old = log->ring[idx];
            log->ring[idx] = e;
            found = true;
            break;
        }
    }
    if (!found)
        old = append_locked(log, e);
    if (ret_seq)
        *ret_seq = e->a.seq;
    pthread_mutex_unlock(&log->lock);
    free(old);
    return 0;
}

uint64_t anomaly_log_seq(struct anomaly_log *log)
{
    uint64_t s;

    pthread_mutex_lock(&log->lock);
    s = log->seq;
    pthread_mutex_unlock(&log->lock);
    return s;
}

static int by_seq(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

    return x->a.seq < y->a.seq ? -1 : x->a.seq > y->a.seq;
}

uint64_t anomaly_log_changes(struct anomaly_log *log, uint64_t since,
                             void (*fn)(void *ctx, const struct anomaly *a), void *ctx)
{
    const struct entry **pick;
    size_t n = 0;
    uint64_t seq;

    pthread_mutex_lock(&log->lock);
    seq = log->seq;
    pick = malloc((log->len ? log->len : 1) * sizeof(*pick));
    if (!pick) {
        pthread_mutex_unlock(&log->lock);
        return since; /* try again next time */
    }
    for (size_t i = 0; i < log->len; i++) {
        const struct entry *e = log->ring[(log->head + log->cap - log->len + i) % log->cap];
        if (e->a.seq > since)
            pick[n++] = e;
    }
    qsort(pick, n, sizeof(*pick), by_seq);
    for (size_t i = 0; i < n; i++)
        fn(ctx, &pick[i]->a);
    pthread_mutex_unlock(&log->lock);
    free(pick);
    return seq;
}

size_t anomaly_log_count(struct anomaly_log *log)
{
    size_t n;

    pthread_mutex_lock(&log->lock);
    n = log->len;
    pthread_mutex_unlock(&log->lock);
    return n;
}

void anomaly_log_foreach(struct anomaly_log *log, uint8_t min_severity, size_t limit,
                         void (*fn)(void *ctx, const struct anomaly *a), void *ctx)
{
    size_t done = 0;

    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < log->len && done < limit; i++) {
        const struct entry *e = log->ring[(log->head + log->cap - 1 - i) % log->cap];
        if (e->a.severity < min_severity)
            continue;
        fn(ctx, &e->a);
        done++;
    }
    pthread_mutex_unlock(&log->lock);
}

void anomaly_to_json(const struct anomaly *a, struct strbuf *out)
{
    strbuf_puts(out, "{\"id\":");
    strbuf_json_str(out, a->id);
    strbuf_printf(out, ",\"detected_at\":%" PRIu64 ",\"anomaly_type\":",
                  a->detected_at_ms ? a->detected_at_ms / 1000 : a->detected_at);
    strbuf_json_str(out, a->anomaly_type);
    strbuf_printf(out, ",\"severity\":%u,\"component\":", a->severity);
    strbuf_json_str(out, a->component);
    strbuf_puts(out, ",\"description\":");
    strbuf_json_str(out, a->description ? a->description : "");
    strbuf_puts(out, ",\"related_metrics\":{");
    for (size_t i = 0; i < a->n_related; i++) {
        if (i)
            strbuf_putc(out, ',');
        strbuf_json_str(out, a->related_metrics[i].key);
        strbuf_putc(out, ':');
        strbuf_json_num(out, a->related_metrics[i].value, 6);
    }
    strbuf_puts(out, "},\"suggested_actions\":[");
    for (size_t i = 0; i < a->n_actions; i++) {
        if (i)
            strbuf_putc(out, ',');
        strbuf_json_str(out, a->suggested_actions[i]);
    }
    strbuf_printf(out, "],\"quantum_relevant\":%s", a->quantum_relevant ? "true" : "false");
    /* extensions */
    strbuf_printf(out, ",\"detected_at_ms\":%" PRIu64 ",\"updated_at_ms\":%" PRIu64,
                  a->detected_at_ms ? a->detected_at_ms : a->detected_at * 1000,
                  a->updated_at_ms
                      ? a->updated_at_ms
                      : (a->detected_at_ms ? a->detected_at_ms : a->detected_at * 1000));
    strbuf_printf(out, ",\"status\":\"%s\"", anomaly_open(a) ? "open" : "resolved");
    if (anomaly_open(a))
        strbuf_puts(out, ",\"resolved_at\":null,\"resolved_at_ms\":null");
    else
        strbuf_printf(out, ",\"resolved_at\":%" PRIu64 ",\"resolved_at_ms\":%" PRIu64,
                      a->resolved_at_ms / 1000, a->resolved_at_ms);
    strbuf_puts(out, ",\"detector\":");
    strbuf_json_str(out, a->detector ? a->detector : "");
    strbuf_puts(out, ",\"score\":");
    strbuf_json_num(out, a->score, 4);
    strbuf_putc(out, '}');
}

struct json_ctx {
    struct strbuf *out;
    size_t n;
};

static void json_one(void *ctx, const struct anomaly *a)
{
    struct json_ctx *c = ctx;

    if (c->n++)
        strbuf_putc(c->out, ',');
    anomaly_to_json(a, c->out);
}

int anomaly_log_to_json(struct anomaly_log *log, uint8_t min_severity, size_t limit,
                        struct strbuf *out)
{
    struct json_ctx c = {out, 0};

    strbuf_puts(out, "{\"anomalies\":[");
    anomaly_log_foreach(log, min_severity, limit, json_one, &c);
    strbuf_printf(out, "],\"count\":%zu}", c.n);
    return out->overflow ? -ENOSPC : 0;
}
