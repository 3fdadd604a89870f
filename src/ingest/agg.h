/*
 * Node metrics recorded in the process: the aggregates that the embedding C
 * API (any thread) and the StatsD server (its own thread) feed, and that the
 * sampler folds into each snapshot and /metrics exports.
 *
 * A series is a name and a set of labels (DogStatsD tags, or the labels of a
 * C API call), in canonical order (sorted by key, then value). Each series
 * has one kind, fixed by its first use (a later use with another kind is
 * counted as a type clash and dropped), and one sink: the snapshot field its
 * values feed (see the mapping, agg_sink_of()) or AGG_SINK_CUSTOM, a series
 * of its own exported like Prometheus's statsd_exporter does.
 *
 * Concurrency: agg_record() and the agg_sink_*() recorders may be called
 * from any number of threads at once, beside agg_fold() and agg_foreach()
 * on another: lookups are lock-free (an open-addressing table of pointers
 * published with release stores; a series is never removed), values are
 * atomic cells (or a sharded sketch), and the only lock is taken when a
 * series is created. Nothing is allocated after a series' first use.
 *
 * Memory is bounded: at most max_series series (further names are dropped
 * and counted), each at most AGG_KEY_MAX bytes of key.
 */
#ifndef AM_INGEST_AGG_H
#define AM_INGEST_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

struct am_sketch;

#define AGG_MAX_LABELS         16
#define AGG_KEY_MAX            1024 /* name and labels of a series, in bytes */
#define AGG_MAX_BUCKETS        64
#define AGG_DEFAULT_MAX_SERIES 10000
#define AGG_MAX_MODELS         64   /* model/type pairs with an inference latency sketch */
#define AGG_MAX_LABELLED       1024 /* contract functions, model layers */

enum agg_kind {
    AGG_COUNTER,   /* a cumulative sum */
    AGG_GAUGE,     /* the last value set (or the sum of deltas) */
    AGG_HISTOGRAM, /* observations: timers (ms), histograms, distributions */
    AGG_SET,       /* distinct members seen (HyperLogLog, 256 registers) */
    AGG_KIND_COUNT
};

/* Where a series' values go: the snapshot's node and quantum fields (the
 * seed's names) or a custom series. The names are those of docs/ingest.md and the statsd
 * mapping's `field`. */
enum agg_sink {
    AGG_SINK_CUSTOM = 0,
    AGG_SINK_DROP,
    AGG_SINK_TX,            /* node.transactions_per_sec */
    AGG_SINK_TX_VALIDATION, /* node.avg_tx_validation_ms (its count: transactions) */
    AGG_SINK_BLOCKS,        /* node.blocks_per_min */
    AGG_SINK_BLOCK_SIZE,    /* node.avg_block_size_kb (bytes in; its count: blocks) */
    AGG_SINK_MEMPOOL,       /* node.mempool_size */
    AGG_SINK_FINALITY,      /* node.consensus_metrics.time_to_finality_sec (ms in) */
    AGG_SINK_CONS_MESSAGES, /* node.consensus_metrics.messages_per_sec */
    AGG_SINK_PARTICIPATION, /* node.consensus_metrics.participation_percent */
    AGG_SINK_QR_OVERHEAD,   /* node.consensus_metrics.quantum_resistant_overhead */
    AGG_SINK_CONTRACTS,     /* node.contract_metrics.contracts_per_sec */
    AGG_SINK_CONTRACT_EXEC, /* node.contract_metrics.avg_execution_ms (+ calls per function) */
    AGG_SINK_GAS,           /* node.contract_metrics.avg_gas_used */
    AGG_SINK_WASM_LOAD,     /* node.contract_metrics.wasm_load_ms */
    AGG_SINK_INFERENCE,     /* model_inference.avg_inference_ms (per model) */
    AGG_SINK_LAYER,         /* model_inference.layer_latencies (per model and layer) */
    AGG_SINK_ACCEL,         /* model_inference.accelerator_util_percent (per model) */
    AGG_SINK_GC_PAUSE,      /* memory.gc_metrics.avg_pause_ms */
    /* the quantum figures the node reports: each one set marks the snapshot's
     * QUANTUM_REPORTED_* bit, and the quantum collector leaves it be */
    AGG_SINK_QRNG,          /* quantum.qrng_throughput (bits/s) */
    AGG_SINK_PQ_OVERHEAD,   /* quantum.pq_crypto_overhead (percent) */
    AGG_SINK_MERKLE,        /* quantum.merkle_ops_per_sec (gauge: ops/s; counter: operations) */
    AGG_SINK_SECURITY,      /* quantum.security_level_bits */
    AGG_SINK_SIM_QUBITS,    /* quantum.simulation_metrics.qubits */
    AGG_SINK_SIM_DEPTH,     /* quantum.simulation_metrics.circuit_depth */
    AGG_SINK_SIM_GATE_OPS,  /* quantum.simulation_metrics.gate_ops_per_sec (as merkle) */
    AGG_SINK_SIM_WALL_TIME, /* quantum.simulation_metrics.wall_time_ms (gauge, ms) */
    AGG_SINK_GPU_QSIM,      /* gpu.quantum_sim_usage (percent; with a GPU only) */
    AGG_SINK_COUNT
};

struct agg_label {
    const char *key, *value;
    size_t key_len, value_len;
};

/* What a series is, as agg_foreach() shows it. */
struct agg_series_info {
    const char *name;
    size_t name_len;
    size_t n_labels;
    struct agg_label labels[AGG_MAX_LABELS];
    enum agg_kind kind;
    enum agg_sink sink;
    bool timer; /* a histogram fed in milliseconds (StatsD "ms") */
    /* counter and gauge: the value; histogram: the sum of the observations */
    double value;
    uint64_t count;          /* histogram: observations */
    const uint64_t *buckets; /* histogram: cumulative counts per bound, then +Inf */
    const double *bounds;    /* histogram: the upper bounds (seconds for timers) */
    size_t n_bounds;
    double distinct; /* set: distinct members seen (about: HyperLogLog) */
    /* histogram made by the C API: its quantile sketch (cumulative) instead of
     * buckets; value and count are then left to am_sketch_snapshot() */
    const struct am_sketch *sketch;
};

/* Self-metrics. */
struct agg_stats {
    uint64_t series;         /* existing */
    uint64_t series_dropped; /* values of new series refused at the limit */
    uint64_t type_clashes;   /* values for a series of another kind */
};

struct agg;

/* The process's aggregates (created on first use, with the defaults). */
struct agg *agg_global(void);

/*
 * Sets the limits (before the first series is best: bounds apply to histograms
 * created afterwards). bounds: n strictly increasing upper bounds (seconds),
 * NULL for the default (statsd_exporter's). max_series 0: the default.
 */
int agg_configure(struct agg *a, size_t max_series, const double *bounds, size_t n_bounds);

/* The sink a StatsD name maps to: the configured rules first (exact or '*'
 * per dotted component), then the built-in names (docs/ingest.md). */
enum agg_sink agg_sink_of(const struct agg *a, const char *name, size_t len);
/* Adds a mapping rule: match ('*' = one whole component) -> sink field name
 * (as in the config, "node.mempool_size" or "drop"). -EINVAL, -ENOSPC. */
int agg_add_rule(struct agg *a, const char *match, const char *field);
/* The sink of a field name, or -1. */
int agg_sink_parse(const char *field);
const char *agg_sink_name(enum agg_sink s);

/*
 * Records n values (several for a packed StatsD line) of the series name +
 * labels, of the given kind, each weighted 1/rate where kind counts (rate in
 * (0, 1]). set_member: the member for AGG_SET (values ignored). timer: the
 * values are milliseconds. Returns 0, or -ENOSPC (series limit), -EINVAL (bad
 * name or labels, key too long), -EEXIST (the series has another kind),
 * -ERANGE (a negative counter value: counters only go up):
 * each counted in the stats.
 */
int agg_record(struct agg *a, const char *name, size_t name_len, const struct agg_label *labels,
               size_t n_labels, enum agg_kind kind, bool timer, bool delta, const double *values,
               size_t n, double rate, const char *set_member, size_t member_len);

/*
 * The series name + labels of the given kind, made on first use (the C API's
 * handles): NULL with *err -ENOSPC (limit), -EINVAL, -EEXIST (another kind),
 * -ENOMEM. sketch: a new custom histogram keeps a sharded quantile sketch
 * (cheap from many threads; exported as a summary) instead of buckets.
 */
struct agg_series;
struct agg_series *agg_get(struct agg *a, const char *name, size_t name_len,
                           const struct agg_label *labels, size_t n_labels, enum agg_kind kind,
                           bool timer, bool sketch, int *err);
/* agg_record() on a series agg_get() gave: 0, or -ERANGE (a negative counter value). */
int agg_series_record(struct agg *a, struct agg_series *s, bool delta, const double *values,
                      size_t n, double rate, const char *set_member, size_t member_len);
/* Counts n values refused at the series limit (for a caller of agg_get()). */
void agg_count_dropped(struct agg *a, uint64_t n);
/* The series limit in force. */
size_t agg_max_series(const struct agg *a);
/* The hash agg uses for keys (64 bits, fast on short strings). */
uint64_t agg_hash(const char *p, size_t n);
/* A counter's increase, a gauge's delta, a histogram's observation. */
void agg_series_add(struct agg *a, struct agg_series *s, double v);
/* A gauge's value. */
void agg_series_set(struct agg *a, struct agg_series *s, double v);

/*
 * Fills the node fields of snap from everything recorded since the last call
 * (rates over dt_sec; averages and quantiles of the interval's observations;
 * gauges as last set). Call from one thread at a time (the sampler's).
 *
 * The quantum figures the node reported set quantum_present, their
 * QUANTUM_REPORTED_* bits in quantum.reported and, for the simulation figures,
 * simulation_present; gpu.quantum_sim_usage is set only when snap->gpu_present
 * (the GPU collector runs first). Whether quantum monitoring is on is the
 * quantum collector's to apply (it runs after).
 */
void agg_fold(struct agg *a, struct snapshot *snap, double dt_sec);

/* Calls fn for every custom series (creation order). Safe beside recording. */
void agg_foreach(struct agg *a, void (*fn)(void *ctx, const struct agg_series_info *s), void *ctx);

/*
 * The latency fields' sketches as Prometheus summaries: per family (and per
 * model and type for inference), the quantiles 0.5, 0.95 and 0.99 over the
 * last 10 minutes (5 age buckets of 2, as Prometheus's client libraries keep
 * a summary) and the cumulative sum and count, in base units (seconds,
 * bytes); only those folded at least once. The inference summaries come
 * last, all of one family. 0, or -ENOMEM (nothing called).
 */
struct agg_summary {
    const char *family, *help;
    const char *model, *type; /* inference: the labels (NUL-ended), else NULL */
    size_t model_len, type_len;
    double quantiles[3], q[3]; /* q[i]: NaN when the window is empty */
    double sum;
    uint64_t count;
};
int agg_foreach_summary(struct agg *a, void (*fn)(void *ctx, const struct agg_summary *s),
                        void *ctx);

void agg_get_stats(struct agg *a, struct agg_stats *ret);

/* Frees a private aggregate made by agg_new() (tests); never agg_global(). */
struct agg *agg_new(void);
void agg_free(struct agg *a);

#endif
