#define LOG_MODULE "sampler"
#include "sampler.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int sampler_init(struct sampler *s, const struct config *cfg)
{
    struct coll_env env = {
        .cfg = cfg,
        .procfs_root = cfg->agent.procfs_root,
        .sysfs_root = cfg->agent.sysfs_root,
    };

    memset(s, 0, sizeof(*s));
    s->node_id = strdup(cfg->agent.node_id ? cfg->agent.node_id : "localhost");
    if (!s->node_id)
        return -ENOMEM;
    for (unsigned i = 0; i < collector_table_len && i < SAMPLER_MAX_COLLECTORS; i++) {
        struct sampler_slot *slot = &s->slots[s->nslots++];
        int r;

        slot->ops = collector_table[i];
        r = slot->ops->init(&env, &slot->state);
        if (r == -ENOMEM) {
            sampler_done(s);
            return r;
        }
        if (r < 0) {
            slot->state = NULL;
            log_warn("collector '%s' disabled: %s (under %s and %s)", slot->ops->name, strerror(-r),
                     env.procfs_root, env.sysfs_root);
        }
    }
    return 0;
}

struct snapshot *sampler_tick(struct sampler *s)
{
    struct snapshot *snap = snapshot_new();
    struct coll_tick tick;
    struct timespec rt;

    if (!snap)
        return NULL;
    tick.mono_ns = mono_ns();
    tick.dt_sec = s->last_mono_ns ? (double)(tick.mono_ns - s->last_mono_ns) / 1e9 : 0;
    clock_gettime(CLOCK_REALTIME, &rt);
    snap->timestamp = (uint64_t)rt.tv_sec;
    snap->timestamp_ms = (uint64_t)rt.tv_sec * 1000 + (uint64_t)rt.tv_nsec / 1000000;
    snap->interval_sec = tick.dt_sec > 0 ? tick.dt_sec : ABSENT;
    snap->node_id = snapshot_strdup(snap, s->node_id);

    for (unsigned i = 0; i < s->nslots; i++) {
        struct sampler_slot *slot = &s->slots[i];
        if (!slot->state)
            continue;
        if (slot->ops->collect(slot->state, snap, &tick) < 0)
            slot->errors++;
    }
    snapshot_round(snap);
    s->last_mono_ns = tick.mono_ns;
    s->ticks++;
    return snap;
}

void sampler_done(struct sampler *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->nslots; i++)
        if (s->slots[i].state)
            s->slots[i].ops->fini(s->slots[i].state);
    free(s->node_id);
    memset(s, 0, sizeof(*s));
}
