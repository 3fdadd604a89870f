/*
 * Host collectors: one file per kernel source, registered in collector_table[]
 * (collectors.c). A collector is a struct of function pointers:
 *
 *   init     builds the instance state from the environment (files opened once);
 *            -errno leaves the collector out (the sampler logs why, once).
 *            Ownership of the state passes to the sampler only on success.
 *   collect  re-reads its sources and fills its part of the snapshot; a figure
 *            it cannot give this tick stays absent (NaN) and is logged once
 *            through log_once. Returns 0, or -errno when the whole source failed
 *            (counted in the self-metrics). The first call has tick->dt_sec == 0
 *            and only sets baselines for rates.
 *   fini     releases the state (accepts NULL).
 *
 * All three run on the sampler thread only.
 */
#ifndef AM_COLLECT_COLLECTOR_H
#define AM_COLLECT_COLLECTOR_H

#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"
#include "core/snapshot.h"

struct coll_env {
    const struct config *cfg; /* valid during init only: copy what you keep */
    const char *procfs_root;
    const char *sysfs_root;
};

struct coll_tick {
    uint64_t mono_ns; /* CLOCK_MONOTONIC at the start of the tick */
    double dt_sec;    /* since the previous collect; 0 on the first */
};

struct collector_ops {
    const char *name;
    int (*init)(const struct coll_env *env, void **ret_state);
    int (*collect)(void *state, struct snapshot *snap, const struct coll_tick *tick);
    void (*fini)(void *state);
};

extern const struct collector_ops coll_cpu;
extern const struct collector_ops coll_memory;
extern const struct collector_ops coll_disk;
extern const struct collector_ops coll_network;
extern const struct collector_ops coll_process;
extern const struct collector_ops coll_gpu;
extern const struct collector_ops coll_node;
extern const struct collector_ops coll_quantum;

extern const struct collector_ops *const collector_table[];
extern const unsigned collector_table_len;

#endif
