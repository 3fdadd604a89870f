/*
 * The sampler: the set of host collectors built from one config, run once per
 * tick into a fresh snapshot. Owned and driven by one thread at a time (the
 * monitor's sampler thread, or `arthamon snapshot` in the foreground).
 */
#ifndef AM_CORE_SAMPLER_H
#define AM_CORE_SAMPLER_H

#include <stdint.h>

#include "collect/collector.h"
#include "config.h"
#include "snapshot.h"

#define SAMPLER_MAX_COLLECTORS 32

struct sampler_slot {
    const struct collector_ops *ops;
    void *state;     /* NULL: init failed, collector left out */
    uint64_t errors; /* collect() failures */
};

struct sampler {
    char *node_id;
    struct sampler_slot slots[SAMPLER_MAX_COLLECTORS];
    unsigned nslots;
    uint64_t last_mono_ns; /* 0 before the first tick */
    uint64_t ticks;
};

/* Initialises every collector of collector_table for cfg (cfg is not kept). A
 * collector whose init fails is logged and left out. -ENOMEM only. */
int sampler_init(struct sampler *s, const struct config *cfg);
/* Runs every collector once; returns the new snapshot (one reference, owned by
 * the caller) or NULL on out of memory. The first tick has no rates. */
struct snapshot *sampler_tick(struct sampler *s);
void sampler_done(struct sampler *s);

uint64_t mono_ns(void);

#endif
