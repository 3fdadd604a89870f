/*
 * The embedding API's recorders (include/arthamon/arthamon.h): what a node
 * reports from its own threads, into the process's aggregates (agg.c) under
 * the StatsD names the built-in mapping gives the seed's fields, so that the
 * C API and StatsD feed the same figures.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "arthamon/arthamon.h"
#include "ingest/agg.h"

/* A series without labels, looked up once and kept. */
static struct agg_series *named(_Atomic(struct agg_series *) *cache, const char *name,
                                enum agg_kind kind, bool timer)
{
    struct agg_series *s = atomic_load_explicit(cache, memory_order_acquire);
    struct agg *a;
    int err;

    if (s)
        return s;
    a = agg_global();
    if (!a)
        return NULL;
    s = agg_get(a, name, strlen(name), NULL, 0, kind, timer, false, &err);
    if (s)
        atomic_store_explicit(cache, s, memory_order_release);
    return s;
}

static void add_named(_Atomic(struct agg_series *) *cache, const char *name, enum agg_kind kind,
                      bool timer, double v)
{
    struct agg_series *s;

    if (!isfinite(v))
        return;
    s = named(cache, name, kind, timer);
    if (s)
        agg_series_add(agg_global(), s, v);
}

static void set_named(_Atomic(struct agg_series *) *cache, const char *name, double v)
{
    struct agg_series *s;

    if (!isfinite(v))
        return;
    s = named(cache, name, AGG_GAUGE, false);
    if (s)
        agg_series_set(agg_global(), s, v);
}

/* A series with labels (key, value, ...), looked up on each call. */
static void add_labelled(const char *name, const char *const *kv, size_t n, enum agg_kind kind,
                         bool timer, bool set, double v)
{
    struct agg_label l[4];
    struct agg *a = agg_global();
    struct agg_series *s;
    size_t k = 0;
    int err;

    if (!a || !isfinite(v))
        return;
    for (size_t i = 0; i < n && k < 4; i++) {
        if (!kv[2 * i + 1])
            continue; /* (a NULL label value: the label is left out) */
        l[k++] =
            (struct agg_label){kv[2 * i], kv[2 * i + 1], strlen(kv[2 * i]), strlen(kv[2 * i + 1])};
    }
    s = agg_get(a, name, strlen(name), l, k, kind, timer, false, &err);
    if (!s)
        return;
    if (set)
        agg_series_set(a, s, v);
    else
        agg_series_add(a, s, v);
}

static _Atomic(struct agg_series *) c_txv, c_txs, c_bsize, c_btxs, c_mempool, c_final, c_msgs,
    c_part, c_qro, c_gas, c_wasm, c_gc, c_contract, c_qrng, c_pq, c_merkle, c_security, c_qubits,
    c_depth, c_gate_ops, c_wall, c_gpu_qsim;

void am_record_tx_validated(double validation_ms)
{
    add_named(&c_txv, "node.tx.validation", AGG_HISTOGRAM, true, validation_ms);
}

void am_record_txs(uint64_t count)
{
    add_named(&c_txs, "node.tx", AGG_COUNTER, false, (double)count);
}

void am_record_block(double size_bytes, uint64_t tx_count)
{
    struct agg_series *s;

    add_named(&c_bsize, "node.block.size", AGG_HISTOGRAM, false, size_bytes);
    /* transactions per block: no seed field; a summary of its own on /metrics */
    s = atomic_load_explicit(&c_btxs, memory_order_acquire);
    if (!s && agg_global()) {
        int err;
        s = agg_get(agg_global(), "node.block.txs", 14, NULL, 0, AGG_HISTOGRAM, false, true, &err);
        if (s)
            atomic_store_explicit(&c_btxs, s, memory_order_release);
    }
    if (s)
        agg_series_add(agg_global(), s, (double)tx_count);
}

void am_record_mempool_size(double transactions)
{
    set_named(&c_mempool, "node.mempool.size", transactions);
}

void am_record_consensus_round(double finality_ms)
{
    add_named(&c_final, "consensus.finality", AGG_HISTOGRAM, true, finality_ms);
}

void am_record_consensus_messages(uint64_t count)
{
    add_named(&c_msgs, "consensus.messages", AGG_COUNTER, false, (double)count);
}

void am_record_participation(double percent)
{
    set_named(&c_part, "consensus.participation", percent);
}

void am_record_quantum_resistant_overhead(double percent)
{
    set_named(&c_qro, "consensus.pq_overhead", percent);
}

void am_record_contract(const char *function, double exec_ms, double gas_used)
{
    if (function) {
        const char *kv[2] = {"function", function};
        add_labelled("contract.exec", kv, 1, AGG_HISTOGRAM, true, false, exec_ms);
    } else {
        add_named(&c_contract, "contract.exec", AGG_HISTOGRAM, true, exec_ms);
    }
    add_named(&c_gas, "contract.gas", AGG_HISTOGRAM, false, gas_used);
}

void am_record_wasm_load(double load_ms)
{
    add_named(&c_wasm, "contract.wasm_load", AGG_HISTOGRAM, true, load_ms);
}

void am_record_inference(const char *model, const char *type, double latency_ms,
                         const char *const *layer_names, const double *layer_ms, size_t n_layers)
{
    const char *kv[4] = {"model", model ? model : "", "type", type ? type : ""};

    add_labelled("inference.latency", kv, 2, AGG_HISTOGRAM, true, false, latency_ms);
    for (size_t i = 0; layer_names && layer_ms && i < n_layers; i++) {
        const char *lkv[4] = {"model", model ? model : "", "layer", layer_names[i]};
        add_labelled("inference.layer", lkv, 2, AGG_HISTOGRAM, true, false, layer_ms[i]);
    }
}

void am_record_accelerator_util(const char *model, double percent)
{
    const char *kv[2] = {"model", model ? model : ""};

    add_labelled("inference.accelerator_util", kv, 1, AGG_GAUGE, false, true, percent);
}

void am_record_gc_pause(double pause_ms)
{
    add_named(&c_gc, "gc.pause", AGG_HISTOGRAM, true, pause_ms);
}

void am_record_qrng_throughput(double bits_per_sec)
{
    set_named(&c_qrng, "quantum.qrng_throughput", bits_per_sec);
}

void am_record_pq_crypto_overhead(double percent)
{
    set_named(&c_pq, "quantum.pq_overhead", percent);
}

void am_record_merkle_ops(uint64_t count)
{
    add_named(&c_merkle, "quantum.merkle_ops", AGG_COUNTER, false, (double)count);
}

void am_record_security_level(double bits)
{
    set_named(&c_security, "quantum.security_level", bits);
}

void am_record_quantum_simulation(double qubits, double circuit_depth, double gate_ops,
                                  double wall_time_ms)
{
    set_named(&c_qubits, "quantum.sim.qubits", qubits);
    set_named(&c_depth, "quantum.sim.circuit_depth", circuit_depth);
    set_named(&c_wall, "quantum.sim.wall_time", wall_time_ms);
    /* the run's own speed (a gauge of the same name takes the place of a counter) */
    if (wall_time_ms > 0)
        set_named(&c_gate_ops, "quantum.sim.gate_ops", gate_ops / (wall_time_ms / 1000));
}

void am_record_gpu_quantum_sim_usage(double percent)
{
    set_named(&c_gpu_qsim, "gpu.quantum_sim_usage", percent);
}

/* ---- generic metrics ---- */

static int get_metric(const char *name, const char *const *labels, enum agg_kind kind,
                      struct agg_series **ret)
{
    struct agg_label l[AGG_MAX_LABELS];
    struct agg *a = agg_global();
    size_t n = 0;
    int err;

    if (!a)
        return -ENOMEM;
    if (!name)
        return -EINVAL;
    for (; labels && labels[2 * n]; n++) {
        if (n == AGG_MAX_LABELS || !labels[2 * n + 1])
            return -EINVAL;
        l[n] = (struct agg_label){labels[2 * n], labels[2 * n + 1], strlen(labels[2 * n]),
                                  strlen(labels[2 * n + 1])};
    }
    *ret = agg_get(a, name, strlen(name), l, n, kind, false, kind == AGG_HISTOGRAM, &err);
    return *ret ? 0 : err;
}

int am_counter(const char *name, const char *const *labels, am_metric **ret_metric)
{
    return get_metric(name, labels, AGG_COUNTER, (struct agg_series **)ret_metric);
}

int am_gauge(const char *name, const char *const *labels, am_metric **ret_metric)
{
    return get_metric(name, labels, AGG_GAUGE, (struct agg_series **)ret_metric);
}

int am_histogram(const char *name, const char *const *labels, am_metric **ret_metric)
{
    return get_metric(name, labels, AGG_HISTOGRAM, (struct agg_series **)ret_metric);
}

void am_metric_add(am_metric *m, double v)
{
    if (m && isfinite(v))
        agg_series_add(agg_global(), (struct agg_series *)m, v);
}

void am_metric_set(am_metric *m, double v)
{
    if (m && isfinite(v))
        agg_series_set(agg_global(), (struct agg_series *)m, v);
}

static int by_name(const char *name, const char *const *labels, enum agg_kind kind, bool set,
                   double v)
{
    struct agg_series *s;
    int r = get_metric(name, labels, kind, &s);

    if (r < 0)
        return r;
    if (!isfinite(v))
        return -EINVAL;
    if (set)
        agg_series_set(agg_global(), s, v);
    else
        agg_series_add(agg_global(), s, v);
    return 0;
}

int am_counter_add(const char *name, const char *const *labels, double v)
{
    return by_name(name, labels, AGG_COUNTER, false, v);
}

int am_gauge_set(const char *name, const char *const *labels, double v)
{
    return by_name(name, labels, AGG_GAUGE, true, v);
}

int am_histogram_observe(const char *name, const char *const *labels, double v)
{
    return by_name(name, labels, AGG_HISTOGRAM, false, v);
}
