/*
 * The snapshot model: one struct per structure of the seed, with the seed's
 * field names and units, plus the raw counters a Prometheus exporter needs
 * (documented as extensions in docs/metrics.md).
 *
 * Every numeric field is a double; NaN means "absent" (the seed's Option::None,
 * or a figure this host cannot give) and is written as JSON null and skipped
 * by the flattening. Variable-length parts (per-core usage, maps, the model
 * and GPU lists) live in the snapshot's arena and die with it.
 *
 * A snapshot is built by the sampler thread, then published and never written
 * again: any thread may read a published snapshot it holds a reference to.
 * snapshot_ref()/snapshot_unref() are atomic; the last unref frees it.
 */
#ifndef AM_CORE_SNAPSHOT_H
#define AM_CORE_SNAPSHOT_H

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define ABSENT    NAN
#define IS_SET(x) (!isnan(x))

struct kv_num {
    const char *key; /* arena-owned */
    double value;
};

struct kv_map {
    struct kv_num *v;
    size_t n;
};

struct cpu_metrics {
    double usage_percent;
    double *core_usage; /* indexed by CPU number; NaN for an offline or unmeasured core */
    uint32_t n_cores;
    double temperature; /* Celsius */
    double frequency_mhz;
    double process_usage; /* percent of one core, like top and pidstat */
    /* extensions */
    double online_cores;
    double seconds_total[8]; /* user nice system idle iowait irq softirq steal, all cores */
    double process_seconds_total;
};

struct gc_metrics {
    double collections_total;
    double collections_per_sec;
    double avg_pause_ms;
    double max_pause_ms;
};

struct memory_metrics {
    double physical_used_mb;
    double physical_total_mb;
    double virtual_used_mb;
    double swap_used_mb;
    bool gc_present;
    struct gc_metrics gc_metrics;
    const char **leak_indicators; /* arena-owned sentences */
    size_t n_leak_indicators;
    /* extensions */
    double available_mb;
    double swap_total_mb;
    double process_rss_mb;
    double process_virtual_mb;
};

struct disk_metrics {
    double read_ops_per_sec;
    double write_ops_per_sec;
    double read_mbps;
    double write_mbps;
    double usage_percent;
    double available_gb;
    /* extensions */
    double reads_total;
    double writes_total;
    double read_bytes_total;
    double written_bytes_total;
    double total_gb;
    double devices; /* real block devices summed */
};

struct network_metrics {
    double ingress_kbps;
    double egress_kbps;
    double packet_loss_percent;
    double latency_ms;
    double p2p_connections;
    double open_sockets;
    /* extensions */
    double received_bytes_total;
    double sent_bytes_total;
    double tcp_segments_sent_total;
    double tcp_segments_retransmitted_total;
};

/* The aggregate over the devices in gpus (rules in docs/metrics.md and
 * collect/nvml_agg.h), except quantum_sim_usage, which the node reports. */
struct gpu_metrics {
    double usage_percent;
    double memory_used_mb;
    double memory_total_mb;
    double temperature;
    double tensor_core_util;
    double core_util;
    double quantum_sim_usage;
    /* extension */
    double power_watts;
};

#define SNAPSHOT_GPU_MAX 64 /* device indexes 0..63: the most a snapshot lists */

/* One GPU (extension: the snapshot's "gpus" list). */
struct gpu_device_metrics {
    uint32_t index;   /* the driver's enumeration index, as nvidia-smi shows it */
    const char *name; /* NULL: unknown */
    const char *uuid; /* NULL: unknown */
    double usage_percent;
    double memory_used_mb;
    double memory_total_mb;
    double temperature; /* Celsius */
    double power_watts;
    double clock_sm_mhz;
    double clock_memory_mhz;
    double tensor_core_util;
    double core_util;
};

struct consensus_metrics {
    const char *algorithm; /* NULL: not reported */
    double time_to_finality_sec;
    double messages_per_sec;
    double participation_percent;
    double quantum_resistant_overhead;
};

struct contract_metrics {
    double contracts_per_sec;
    double avg_execution_ms;
    double avg_gas_used;
    struct kv_map function_calls;
    double wasm_load_ms;
};

struct node_metrics {
    double transactions_per_sec;
    double avg_tx_validation_ms;
    double blocks_per_min;
    double avg_block_size_kb;
    double mempool_size;
    struct consensus_metrics consensus_metrics;
    struct contract_metrics contract_metrics;
};

struct model_inference_metrics {
    const char *model_name;
    const char *model_type;
    double avg_inference_ms;
    double p95_inference_ms;
    double p99_inference_ms;
    double throughput_per_sec;
    double accelerator_util_percent;
    struct kv_map layer_latencies;
    const char *quantization_info; /* NULL: none */
    bool quantum_accelerated;
};

struct quantum_simulation_metrics {
    double qubits;
    double circuit_depth;
    double gate_ops_per_sec;
    double wall_time_ms;
};

struct quantum_metrics {
    double qrng_throughput;
    double pq_crypto_overhead;
    double merkle_ops_per_sec;
    double security_level_bits;
    bool simulation_present;
    struct quantum_simulation_metrics simulation_metrics;
    /* extension: QUANTUM_REPORTED_* bits, the figures the node reported rather
     * than measured here (JSON "reported_by_node") */
    unsigned reported;
};

#define QUANTUM_REPORTED_QRNG     (1u << 0) /* qrng_throughput */
#define QUANTUM_REPORTED_PQ       (1u << 1) /* pq_crypto_overhead */
#define QUANTUM_REPORTED_MERKLE   (1u << 2) /* merkle_ops_per_sec */
#define QUANTUM_REPORTED_SECURITY (1u << 3) /* security_level_bits */
#define QUANTUM_REPORTED_SIM      (1u << 4) /* simulation_metrics */

struct arena_chunk;

/* What the detection engine says about one of its layers (live only: the
 * history does not keep it). */
struct detector_status {
    const char *name; /* static: "rules", "series", "multivariate", "trend" */
    bool warming_up;
    uint32_t ticks_left; /* of the warm-up */
};
#define SNAPSHOT_DETECTORS 6

struct snapshot {
    _Atomic int refs;
    const char *node_id;
    uint64_t timestamp;    /* epoch seconds, as the seed */
    uint64_t timestamp_ms; /* epoch milliseconds (extension) */
    double interval_sec;   /* the window the rates cover */
    struct cpu_metrics cpu;
    bool gpu_present;
    struct gpu_metrics gpu;
    struct gpu_device_metrics *gpus; /* extension: ascending unique index */
    size_t n_gpus;
    struct memory_metrics memory;
    struct network_metrics network;
    struct disk_metrics disk;
    struct model_inference_metrics *model_inference;
    size_t n_model_inference;
    struct node_metrics node;
    bool quantum_present;
    struct quantum_metrics quantum;
    struct kv_map neural_predictions;
    struct detector_status detectors[SNAPSHOT_DETECTORS]; /* extension: "detectors" */
    size_t n_detectors;                                   /* 0: no detection ran */
    struct arena_chunk *arena;
};

/* A new snapshot with every figure absent and one reference; NULL on out of memory. */
struct snapshot *snapshot_new(void);
struct snapshot *snapshot_ref(struct snapshot *s);
/* Drops a reference; frees at zero. Accepts NULL. */
void snapshot_unref(struct snapshot *s);

/* Arena allocation, zeroed; lives as long as the snapshot. NULL on out of memory. */
void *snapshot_alloc(struct snapshot *s, size_t size);
char *snapshot_strdup(struct snapshot *s, const char *str);
/* Adds key=value to a map (key copied into the arena). -ENOMEM. */
int snapshot_map_add(struct snapshot *s, struct kv_map *m, size_t cap_hint, const char *key,
                     double value);

/*
 * The entry of s->gpus with this index, inserted in index order with no name,
 * no UUID and every figure absent if there is none yet (s->gpus may move: a
 * pointer into it is valid until the next call). The snapshot owns it, and
 * whatever the caller points name and uuid at must live as long as the
 * snapshot (snapshot_strdup()). NULL for an index >= SNAPSHOT_GPU_MAX or on out
 * of memory.
 */
struct gpu_device_metrics *snapshot_gpu_device(struct snapshot *s, uint32_t index);

/* The seed's JSON, with nulls for absent figures. */
int snapshot_to_json(const struct snapshot *s, struct strbuf *out);

/* ---- flattening into numeric series ---- */

enum series_kind {
    SERIES_GAUGE,
    SERIES_COUNTER,
};

struct series_desc {
    const char *name; /* dotted JSON path: "cpu.usage_percent" */
    const char *unit; /* "percent", "MB", "ops/s", ... */
    enum series_kind kind;
    int decimals; /* precision the collectors round to */
    const char *help;
};

struct series_label {
    const char *key;
    const char *value;
};

typedef void (*series_visit_fn)(void *ctx, const struct series_desc *desc,
                                const struct series_label *labels, size_t n_labels, double value);

/* Calls fn once per present numeric figure of s, in a stable order. A label
 * value stays valid and unchanged until snapshot_flatten() returns (two labels
 * at the same address are the same string). */
void snapshot_flatten(const struct snapshot *s, series_visit_fn fn, void *ctx);

/* The table behind snapshot_flatten(): every series a snapshot can hold. */
extern const struct series_desc series_table[];
extern const size_t series_table_len;

/*
 * A series' key, as the history database names it: "name" or
 * "name{k=v,k=v}", with '\\', ',', '=' and '}' in label values escaped by a
 * backslash. 0, or -E2BIG if it does not fit in len.
 */
int snapshot_series_key(char *buf, size_t len, const struct series_desc *desc,
                        const struct series_label *labels, size_t n_labels);

/* Sets the figure a key names (the inverse of the flattening): 0, -ENOENT for
 * a key that names no figure, -EINVAL for a malformed one, -ENOMEM. A gpus key
 * needs all three labels (gpu=INDEX,name=NAME,uuid=UUID; INDEX below
 * SNAPSHOT_GPU_MAX): it finds or makes the entry of INDEX (snapshot_gpu_device())
 * and sets its name and UUID from the key, "" as NULL. */
int snapshot_set_series(struct snapshot *s, const char *key, double value);

/* ---- flattening the non-numeric fields ---- */

#define SNAPSHOT_TEXT_MAX 4096 /* bytes of one text value, leak list encoding included */
#define SNAPSHOT_LEAK_MAX 64   /* memory.leak_indicators items */

typedef void (*text_visit_fn)(void *ctx, const char *key, const char *value, size_t len);

/*
 * Calls fn once per present non-numeric field of s, in a stable order (the
 * JSON's), with a key in snapshot_series_key() syntax and the value as `len`
 * bytes (not NUL-terminated as far as the receiver may rely on):
 *
 *   node_id                                  the string; absent when NULL
 *   gpu                                      "true": gpu_present although no gpu
 *                                            figure is set (see below)
 *   gpus{gpu=INDEX,name=NAME,uuid=UUID}      "true": a gpus entry with no figure
 *                                            (its series bring back the others)
 *   memory.gc_metrics                        "true": gc_present, no gc figure set
 *   memory.leak_indicators                   every item followed by a NUL byte;
 *                                            absent when n_leak_indicators == 0
 *   model_inference.quantization_info{model=NAME,type=TYPE}
 *                                            the string; absent when NULL
 *   model_inference.quantum_accelerated{model=NAME,type=TYPE}
 *                                            "true" or "false"; every model entry
 *   node.consensus_metrics.algorithm         the string; absent when NULL
 *   quantum                                  "true": quantum_present, no quantum
 *                                            figure, simulation_present false
 *   quantum.simulation_metrics               "true": quantum_present and
 *                                            simulation_present, no simulation figure
 *   quantum.reported_by_node                 the names of the QUANTUM_REPORTED_*
 *                                            bits set, in bit order, comma-separated
 *                                            ("qrng_throughput,simulation_metrics");
 *                                            only with quantum_present and a bit set
 *
 * The gpus labels are those of snapshot_flatten(): a NULL name or UUID is
 * written "", and "" is set back as NULL. A gpus entry is named by its index:
 * setting a key of an index that has an entry sets its name and UUID from the
 * key. Setting quantum.reported_by_node to a non-empty list sets quantum_present
 * too (names in any order; empty: no bit).
 *
 * The model labels, their order and escaping are those of snapshot_flatten().
 * A model entry exists iff it has a name: entries with model_name NULL give no
 * texts (snapshot_flatten() still labels their figures model=""), a NULL
 * model_type is written as "" like snapshot_flatten() does, and so is every
 * rebuilt one. quantum_accelerated is written for every named entry, so an
 * entry with no figure at all comes back too; setting the texts before the
 * series rebuilds the model list in its original order.
 *
 * The *_present flags normally follow from the figures: snapshot_set_series()
 * sets them with any figure of their group, so they get a text only when set
 * with no figure to imply them. The other fields outside both flattenings are
 * numbers: timestamp and timestamp_ms (the history's row time) and interval_sec
 * (the history derives it from the gap between rows).
 *
 * Never writes what snapshot_set_text() refuses: strings are cut to
 * SNAPSHOT_TEXT_MAX bytes (at a UTF-8 boundary), the leak list to the first
 * SNAPSHOT_LEAK_MAX items that fit, and a model whose name or type is too long
 * for a key (255 bytes) gives no texts, as its figures cannot be set back either.
 */
void snapshot_flatten_texts(const struct snapshot *s, text_visit_fn fn, void *ctx);

/*
 * Sets the field a snapshot_flatten_texts() key names from its value bytes,
 * copying them into the arena (creating the model entry a model key names as
 * snapshot_set_series() does; a key set twice keeps the last value). 0;
 * -ENOENT for a key that names no text field; -EINVAL for a malformed key (or a
 * text field's name with other labels than it takes) or a malformed value: over
 * SNAPSHOT_TEXT_MAX bytes, a NUL inside a string, a boolean other than exactly
 * "true" or "false", a leak list not ending with NUL or of more than
 * SNAPSHOT_LEAK_MAX items (an empty value is the empty list); -ENOMEM. On
 * -ENOENT and -EINVAL the snapshot is unchanged. value may be NULL when len is 0.
 */
int snapshot_set_text(struct snapshot *s, const char *key, const char *value, size_t len);

/* Rounds every figure of s to the precision its series_desc documents (the
 * sampler calls it once per tick, before publishing). */
void snapshot_round(struct snapshot *s);

/* Rounds v to `decimals` decimal places (NaN stays NaN). */
double round_to(double v, int decimals);

#endif
