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

int anomaly_log_add(struct anomaly_log *log, const struct anomaly *a)
{
    struct entry *e, *old;
    size_t need, nrel, nact;
    char *pool;

    if (a->severity < 1 || a->severity > 5 || !a->anomaly_type || !a->component)
        return -EINVAL;
    nrel = a->n_related < ANOMALY_MAX_RELATED ? a->n_related : ANOMALY_MAX_RELATED;
    nact = a->n_actions < ANOMALY_MAX_ACTIONS ? a->n_actions : ANOMALY_MAX_ACTIONS;
    need = str_size(a->anomaly_type) + str_size(a->component) + str_size(a->description);
    for (size_t i = 0; i < nrel; i++)
        need += str_size(a->related_metrics[i].key);
    for (size_t i = 0; i < nact; i++)
        need += str_size(a->suggested_actions[i]);
    e = malloc(sizeof(*e) + need);
    if (!e)
        return -ENOMEM;
    e->a = *a;
    e->a.id[sizeof(e->a.id) - 1] = '\0';
    e->a.n_related = nrel;
    e->a.n_actions = nact;
    pool = e->strings;
    e->a.anomaly_type = pool_put(&pool, a->anomaly_type);
    e->a.component = pool_put(&pool, a->component);
    e->a.description = pool_put(&pool, a->description);
    for (size_t i = 0; i < nrel; i++)
        e->a.related_metrics[i].key = pool_put(&pool, a->related_metrics[i].key);
    for (size_t i = 0; i < nact; i++)
        e->a.suggested_actions[i] = pool_put(&pool, a->suggested_actions[i]);
    if (e->a.detected_at == 0)
        e->a.detected_at = (uint64_t)time(NULL);

    pthread_mutex_lock(&log->lock);
    log->seq++;
    if (!e->a.id[0])
        snprintf(e->a.id, sizeof(e->a.id), "%" PRIu64 "-%" PRIu64, e->a.detected_at, log->seq);
    old = log->ring[log->head];
    log->ring[log->head] = e;
    log->head = (log->head + 1) % log->cap;
    if (log->len < log->cap)
        log->len++;
    pthread_mutex_unlock(&log->lock);
    free(old);
    return 0;
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
    strbuf_printf(out, ",\"detected_at\":%" PRIu64 ",\"anomaly_type\":", a->detected_at);
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
    strbuf_printf(out, "],\"quantum_relevant\":%s}", a->quantum_relevant ? "true" : "false");
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
