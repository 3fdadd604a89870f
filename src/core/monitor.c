#define LOG_MODULE "monitor"
#include "monitor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect/engine.h"
#include "sampler.h"

struct monitor {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct config cfg;      /* effective; changed under lock */
    struct config *pending; /* a reload waiting for the next tick */
    pthread_t thread;
    bool running;
    bool joinable; /* a thread was created and not yet joined */
    bool stop;

    struct snapshot *current;
    struct snapshot **ring;
    size_t ring_cap, ring_head, ring_len; /* head: next slot to write */

    monitor_tick_fn hook;
    void *hook_data;
    struct monitor_stats stats;
    struct anomaly_log *anomalies;
};

#define ANOMALY_LOG_CAP 1000

static int ring_resize_locked(struct monitor *m, size_t cap)
{
    struct snapshot **nr;
    size_t keep, i;

    if (cap == m->ring_cap)
        return 0;
    nr = calloc(cap, sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    keep = m->ring_len < cap ? m->ring_len : cap;
    /* copy the newest `keep`, oldest first; drop the rest */
    for (i = 0; i < m->ring_len; i++) {
        size_t idx = (m->ring_head + m->ring_cap - m->ring_len + i) % m->ring_cap;
        if (i < m->ring_len - keep)
            snapshot_unref(m->ring[idx]);
        else
            nr[i - (m->ring_len - keep)] = m->ring[idx];
    }
    free(m->ring);
    m->ring = nr;
    m->ring_cap = cap;
    m->ring_len = keep;
    m->ring_head = keep % cap;
    return 0;
}

struct monitor *monitor_new(const struct config *cfg)
{
    struct monitor *m = calloc(1, sizeof(*m));
    pthread_condattr_t ca;

    if (!m)
        return NULL;
    if (config_copy(&m->cfg, cfg) < 0) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &ca);
    pthread_condattr_destroy(&ca);
    m->anomalies = anomaly_log_new(ANOMALY_LOG_CAP);
    if (!m->anomalies ||
        ring_resize_locked(m, cfg->agent.history_size ? cfg->agent.history_size : 1) < 0) {
        monitor_free(m);
        return NULL;
    }
    return m;
}

void monitor_free(struct monitor *m)
{
    if (!m)
        return;
    monitor_stop(m);
    for (size_t i = 0; i < m->ring_cap; i++)
        snapshot_unref(m->ring[i]);
    free(m->ring);
    snapshot_unref(m->current);
    if (m->pending) {
        config_done(m->pending);
        free(m->pending);
    }
    config_done(&m->cfg);
    anomaly_log_free(m->anomalies);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

const double monitor_tick_bucket_le[MONITOR_TICK_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25,
};

static unsigned tick_bucket(uint64_t ns)
{
    double sec = (double)ns / 1e9;
    unsigned i = 0;

    while (i < MONITOR_TICK_BUCKETS && sec > monitor_tick_bucket_le[i])
        i++;
    return i;
}

static void publish(struct monitor *m, struct snapshot *snap, uint64_t took_ns,
                    const struct sampler *s)
{
    struct snapshot *old_cur, *old_slot;

    pthread_mutex_lock(&m->lock);
    old_cur = m->current;
    m->current = snapshot_ref(snap);
    old_slot = m->ring[m->ring_head];
    m->ring[m->ring_head] = snap; /* the caller's reference moves into the ring */
    m->ring_head = (m->ring_head + 1) % m->ring_cap;
    if (m->ring_len < m->ring_cap)
        m->ring_len++;
    m->stats.ticks++; /* counts on across reloads, which rebuild the sampler */
    m->stats.last_tick_ns = took_ns;
    m->stats.last_tick_unix_ms = snap->timestamp_ms;
    m->stats.last_tick_mono_ns = mono_ns();
    m->stats.tick_seconds_sum += (double)took_ns / 1e9;
    m->stats.tick_buckets[tick_bucket(took_ns)]++;
    m->stats.ncollectors = s->nslots;
    for (unsigned i = 0; i < s->nslots && i < 32; i++) {
        m->stats.collector_errors[i] = s->slots[i].errors;
        m->stats.collector_names[i] = s->slots[i].ops->name;
    }
    pthread_mutex_unlock(&m->lock);
    snapshot_unref(old_cur);
    snapshot_unref(old_slot);
}

static void *sampler_main(void *arg)
{
    struct monitor *m = arg;
    struct sampler s;
    struct detect_engine *eng = NULL;
    uint64_t interval_ns, next;
    monitor_tick_fn hook;
    void *hook_data;

    pthread_mutex_lock(&m->lock);
    interval_ns = m->cfg.monitoring.sampling_interval_ms * 1000000ull;
    if (sampler_init(&s, &m->cfg) < 0) {
        log_error("cannot initialise the collectors: out of memory");
        m->running = false;
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    if (m->cfg.detection.enabled && !(eng = detect_engine_new(&m->cfg, m->anomalies)))
        log_error("anomaly detection is off: out of memory");
    pthread_mutex_unlock(&m->lock);

    next = mono_ns();
    for (;;) {
        struct snapshot *snap;
        uint64_t t0, now;
        struct timespec dl;

        pthread_mutex_lock(&m->lock);
        for (;;) {
            if (m->stop || m->pending)
                break;
            now = mono_ns();
            if (now >= next)
                break;
            dl.tv_sec = (time_t)(next / 1000000000ull);
            dl.tv_nsec = (long)(next % 1000000000ull);
            pthread_cond_timedwait(&m->wake, &m->lock, &dl);
        }
        if (m->stop) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        if (m->pending) {
            struct sampler ns;
            config_done(&m->cfg);
            m->cfg = *m->pending;
            free(m->pending);
            m->pending = NULL;
            interval_ns = m->cfg.monitoring.sampling_interval_ms * 1000000ull;
            next = mono_ns();
            if (ring_resize_locked(m, m->cfg.agent.history_size) < 0)
                log_warn("history ring keeps its old size: out of memory");
            if (sampler_init(&ns, &m->cfg) == 0) {
                sampler_done(&s);
                s = ns;
                log_info("configuration reloaded (sampling every %llu ms)",
                         (unsigned long long)m->cfg.monitoring.sampling_interval_ms);
            } else {
                log_error("reload: cannot rebuild the collectors (out of memory); keeping them");
            }
            /* what the detectors learned survives a reload; only turning them off drops it */
            if (!m->cfg.detection.enabled) {
                detect_engine_free(eng);
                eng = NULL;
            } else if (eng) {
                detect_engine_configure(eng, &m->cfg);
            } else if (!(eng = detect_engine_new(&m->cfg, m->anomalies))) {
                log_error("anomaly detection is off: out of memory");
            }
        }
        hook = m->hook;
        hook_data = m->hook_data;
        pthread_mutex_unlock(&m->lock);

        t0 = mono_ns();
        snap = sampler_tick(&s);
        if (snap && eng)
            detect_engine_tick(eng, snap);
        now = mono_ns();
        if (snap) {
            publish(m, snap, now - t0, &s);
            if (hook)
                hook(hook_data, snap);
        } else {
            log_error("tick skipped: out of memory");
        }

        next += interval_ns;
        if (next <= now) {
            /* fell behind (suspend, overload): skip the missed ticks, keep the phase */
            uint64_t missed = (now - next) / interval_ns + 1;
            next += missed * interval_ns;
            pthread_mutex_lock(&m->lock);
            m->stats.ticks_missed += missed;
            pthread_mutex_unlock(&m->lock);
            log_debug("sampler fell behind; skipped %llu ticks", (unsigned long long)missed);
        }
    }
    detect_engine_free(eng);
    sampler_done(&s);
    return NULL;
}

int monitor_start(struct monitor *m)
{
    sigset_t all, old;
    int r;

    pthread_mutex_lock(&m->lock);
    if (m->running) {
        pthread_mutex_unlock(&m->lock);
        return -EALREADY;
    }
    if (m->joinable) {
        /* a sampler thread that ended on its own (init failure): reap it first */
        pthread_t t = m->thread;
        m->joinable = false;
        pthread_mutex_unlock(&m->lock);
        pthread_join(t, NULL);
        pthread_mutex_lock(&m->lock);
    }
    if (!m->cfg.enabled || !m->cfg.monitoring.enabled) {
        pthread_mutex_unlock(&m->lock);
        log_info("monitoring is disabled in the configuration; not sampling");
        return 0;
    }
    m->stop = false;
    m->running = true;
    pthread_mutex_unlock(&m->lock);

    /* the sampler thread takes no signals: the daemon's main thread handles them */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&m->thread, NULL, sampler_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&m->lock);
    if (r != 0)
        m->running = false;
    else
        m->joinable = true;
    pthread_mutex_unlock(&m->lock);
    return -r;
}

int monitor_stop(struct monitor *m)
{
    bool join;

    pthread_mutex_lock(&m->lock);
    join = m->joinable;
    m->joinable = false;
    m->stop = true;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    if (join)
        pthread_join(m->thread, NULL);
    pthread_mutex_lock(&m->lock);
    m->running = false;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

bool monitor_running(struct monitor *m)
{
    bool r;

    pthread_mutex_lock(&m->lock);
    r = m->running;
    pthread_mutex_unlock(&m->lock);
    return r;
}

struct snapshot *monitor_current(struct monitor *m)
{
    struct snapshot *s;

    pthread_mutex_lock(&m->lock);
    s = snapshot_ref(m->current);
    pthread_mutex_unlock(&m->lock);
    return s;
}

size_t monitor_history(struct monitor *m, size_t limit, struct snapshot **out)
{
    size_t n, first;

    pthread_mutex_lock(&m->lock);
    n = limit < m->ring_len ? limit : m->ring_len;
    first = (m->ring_head + m->ring_cap - n) % m->ring_cap;
    for (size_t i = 0; i < n; i++)
        out[i] = snapshot_ref(m->ring[(first + i) % m->ring_cap]);
    pthread_mutex_unlock(&m->lock);
    return n;
}

int monitor_reload(struct monitor *m, const struct config *cfg)
{
    struct config *c = malloc(sizeof(*c));

    if (!c)
        return -ENOMEM;
    if (config_copy(c, cfg) < 0) {
        free(c);
        return -ENOMEM;
    }
    pthread_mutex_lock(&m->lock);
    if (m->pending) {
        config_done(m->pending);
        free(m->pending);
    }
    if (m->running) {
        m->pending = c;
        pthread_cond_broadcast(&m->wake);
    } else {
        /* no sampler thread: apply now */
        config_done(&m->cfg);
        m->cfg = *c;
        free(c);
        m->pending = NULL;
        ring_resize_locked(m, m->cfg.agent.history_size);
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

void monitor_set_tick_hook(struct monitor *m, monitor_tick_fn fn, void *userdata)
{
    pthread_mutex_lock(&m->lock);
    m->hook = fn;
    m->hook_data = userdata;
    pthread_mutex_unlock(&m->lock);
}

struct anomaly_log *monitor_anomalies(struct monitor *m)
{
    return m->anomalies;
}

struct snapshot *monitor_current_stats(struct monitor *m, struct monitor_stats *ret)
{
    struct snapshot *s;

    pthread_mutex_lock(&m->lock);
    s = m->current ? snapshot_ref(m->current) : NULL;
    *ret = m->stats;
    pthread_mutex_unlock(&m->lock);
    return s;
}

void monitor_get_stats(struct monitor *m, struct monitor_stats *ret)
{
    pthread_mutex_lock(&m->lock);
    *ret = m->stats;
    pthread_mutex_unlock(&m->lock);
}

int monitor_get_config(struct monitor *m, struct config *ret)
{
    int r;

    pthread_mutex_lock(&m->lock);
    r = config_copy(ret, m->pending ? m->pending : &m->cfg);
    pthread_mutex_unlock(&m->lock);
    return r;
}
