/*
 * The node's own metrics: what the node recorded through the C API or sent to
 * the StatsD server since the last tick (src/ingest/agg.c), folded into the
 * snapshot's node, consensus, contract, model inference and GC fields. The
 * aggregates are the process's: one sampler per process should fold them
 * (a second would see only what the first left).
 */
#include "collector.h"

#include <errno.h>

#include "ingest/agg.h"

static int node_init(const struct coll_env *env, void **ret_state)
{
    struct agg *a = agg_global();

    (void)env;
    if (!a)
        return -ENOMEM;
    *ret_state = a;
    return 0;
}

static int node_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    /* the first tick has no interval for the rates: the values wait for the next */
    if (tick->dt_sec > 0)
        agg_fold(state, snap, tick->dt_sec);
    return 0;
}

static void node_fini(void *state)
{
    (void)state; /* (the process's aggregates outlive the sampler) */
}

const struct collector_ops coll_node = {
    .name = "node",
    .init = node_init,
    .collect = node_collect,
    .fini = node_fini,
};
