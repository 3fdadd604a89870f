/*
 * arthamon — performance monitor for blockchain nodes: the embedding API.
 *
 * Link with -larthamon to run the monitor inside a node process: it samples
 * the host (CPU, memory, disk, network, the node process itself) every
 * monitoring.sampling_interval_ms on its own thread and keeps the recent
 * snapshots in memory.
 *
 * Conventions:
 *  - functions that can fail return 0 (or a count) on success and a negative
 *    errno on failure; am_strerror() describes it. Output parameters are named
 *    ret_* and are written only on success.
 *  - every function is thread-safe unless it says otherwise.
 *  - am_snapshot handles are reference-counted and immutable; release each one
 *    you receive with am_snapshot_release().
 *
 * This header is self-contained and versioned: AM_VERSION_* name the release it
 * came with and am_version() the library actually loaded.
 */
#ifndef ARTHAMON_H
#define ARTHAMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AM_VERSION_MAJOR 0
#define AM_VERSION_MINOR 1
#define AM_VERSION_PATCH 0

#if defined(__GNUC__)
#define AM_EXTERN __attribute__((visibility("default")))
#else
#define AM_EXTERN
#endif

typedef struct am_monitor am_monitor;
typedef struct am_snapshot am_snapshot;

/* The library's version as "MAJOR.MINOR.PATCH". */
AM_EXTERN const char *am_version(void);
/* A static description of a negative errno returned by this API. */
AM_EXTERN const char *am_strerror(int err);

/*
 * Creates a monitor from a YAML configuration file (NULL: the built-in defaults,
 * those of the seed's PerformanceMonitoringConfig) or from YAML text
 * (am_monitor_new_yaml). On a configuration error returns -EINVAL and, when
 * errbuf is given, writes "FILE:LINE:COL: message" lines into it (truncated to
 * errlen). The monitor is created stopped. The caller owns *ret_monitor and
 * frees it with am_monitor_free().
 */
AM_EXTERN int am_monitor_new(const char *config_path, char *errbuf, size_t errlen,
                             am_monitor **ret_monitor);
AM_EXTERN int am_monitor_new_yaml(const char *yaml, size_t len, char *errbuf, size_t errlen,
                                  am_monitor **ret_monitor);

/* Starts sampling on a background thread. -EALREADY if it is already running.
 * Returns 0 without starting when the configuration disables monitoring. */
AM_EXTERN int am_monitor_start(am_monitor *m);
/* Stops sampling and waits for the sampler thread; 0 also if it was not running. */
AM_EXTERN int am_monitor_stop(am_monitor *m);
/* 1 while the sampler thread runs, else 0. */
AM_EXTERN int am_monitor_is_running(am_monitor *m);
/* Stops the monitor if needed and releases it. Snapshots obtained from it stay
 * valid until released. Accepts NULL. */
AM_EXTERN void am_monitor_free(am_monitor *m);

/* The newest snapshot, or NULL before the first sample. Release it. */
AM_EXTERN am_snapshot *am_monitor_current_snapshot(am_monitor *m);

/*
 * The seed's get_anomalies(limit): the newest `limit` anomalies of at least
 * min_severity (1..5), newest first, as the JSON that /api/v1/anomalies serves
 * ({"anomalies":[...],"count":n}; each with the seed's fields plus status,
 * detector and score). *ret_json is NUL-terminated; free it with am_free().
 * 0, -EINVAL, -ENOMEM.
 */
AM_EXTERN int am_monitor_anomalies(am_monitor *m, size_t limit, int min_severity, char **ret_json);

/*
 * Up to `limit` most recent snapshots, oldest first. On success *ret_list is an
 * array of *ret_count handles that the caller releases with
 * am_snapshot_list_release(). -ENOMEM.
 */
AM_EXTERN int am_monitor_history(am_monitor *m, size_t limit, am_snapshot ***ret_list,
                                 size_t *ret_count);
AM_EXTERN void am_snapshot_list_release(am_snapshot **list, size_t count);

AM_EXTERN void am_snapshot_release(am_snapshot *s);
/* Seconds since the epoch when the snapshot was taken. */
AM_EXTERN uint64_t am_snapshot_timestamp(const am_snapshot *s);

/*
 * The snapshot as JSON with the seed's field names and units (absent figures are
 * null). *ret_json is NUL-terminated and owned by the caller: free it with
 * am_free().
 */
AM_EXTERN int am_snapshot_to_json(const am_snapshot *s, char **ret_json);

/*
 * One figure by its series name: "cpu.usage_percent", "memory.physical_used_mb",
 * "cpu.core_usage{core=\"1\"}" (labels in the order docs/metrics.md gives).
 * -ENOENT when the snapshot has no such figure (not measured, or unknown name).
 */
AM_EXTERN int am_snapshot_get(const am_snapshot *s, const char *series, double *ret_value);

/* Calls fn for each figure present in the snapshot, with its full series name
 * (as am_snapshot_get() accepts it). fn must not keep the name pointer. */
typedef void (*am_series_fn)(void *userdata, const char *series, double value);
AM_EXTERN void am_snapshot_foreach(const am_snapshot *s, am_series_fn fn, void *userdata);

/* Frees memory returned by this API. Accepts NULL. */
AM_EXTERN void am_free(void *p);

/*
 * Where the monitor's log lines go. By default they follow the configuration
 * (monitoring.logging: stdout and/or a file in output_dir). A handler receives
 * every line at or above the configured level instead of stdout; it runs on the
 * thread that logs and must not call back into this API. NULL restores stdout.
 * Levels: 0 error, 1 warn, 2 info, 3 debug, 4 trace.
 */
typedef void (*am_log_fn)(void *userdata, int level, const char *module, const char *message);
AM_EXTERN void am_set_log_handler(am_log_fn fn, void *userdata);

/* ---- the node's own metrics ----
 *
 * What the node does, recorded where it happens: each call is safe from any
 * thread, needs no monitor (a running one folds what was recorded into every
 * snapshot's node, consensus, contract, model, GC and quantum fields, as the daemon's
 * StatsD server does with the same names; docs/ingest.md), takes no lock and
 * allocates only on a name's first use. Times are milliseconds. Values that are
 * not finite are ignored. Names and labels given for the first time past the
 * series limit (statsd.max_series, 10,000 by default) are dropped and counted.
 */

/* A transaction validated, and how long validating it took. */
AM_EXTERN void am_record_tx_validated(double validation_ms);
/* count transactions processed (when they are not timed one by one). */
AM_EXTERN void am_record_txs(uint64_t count);
/* A block produced (or imported), its size in bytes and its transactions. */
AM_EXTERN void am_record_block(double size_bytes, uint64_t tx_count);
/* The mempool's size now, in transactions. */
AM_EXTERN void am_record_mempool_size(double transactions);
/* A consensus round finalised: the time from proposal to finality. */
AM_EXTERN void am_record_consensus_round(double finality_ms);
/* count consensus messages processed. */
AM_EXTERN void am_record_consensus_messages(uint64_t count);
/* The share of voting power (or validators) that took part, in percent. */
AM_EXTERN void am_record_participation(double percent);
/* The cost of quantum-resistant signatures over classical ones, in percent. */
AM_EXTERN void am_record_quantum_resistant_overhead(double percent);
/* A contract call: its function (NULL: none), execution time and gas used (NaN: unknown). */
AM_EXTERN void am_record_contract(const char *function, double exec_ms, double gas_used);
/* A WASM module loaded, and how long that took. */
AM_EXTERN void am_record_wasm_load(double load_ms);
/*
 * An inference of a model (its name and type, "onnx", "tensorrt"...): the
 * latency, and optionally the time of each of n_layers layers (layer_names[i]
 * took layer_ms[i]; both NULL when n_layers is 0).
 */
AM_EXTERN void am_record_inference(const char *model, const char *type, double latency_ms,
                                   const char *const *layer_names, const double *layer_ms,
                                   size_t n_layers);
/* A model's accelerator utilisation now, in percent. */
AM_EXTERN void am_record_accelerator_util(const char *model, double percent);
/* A garbage-collection pause. */
AM_EXTERN void am_record_gc_pause(double pause_ms);

/*
 * The node's quantum figures (docs/ingest.md). A figure the node reports
 * replaces what the monitor would measure itself, from the first report on,
 * and the snapshot says so ("reported_by_node"). Gauges keep the last value
 * set. They appear while monitoring.quantum_monitoring.enabled is true; the
 * security level also needs security_level_monitoring, and the simulation
 * figures and GPU usage simulation_metrics.
 */
/* The node's quantum random number generator's throughput now, in bits per second. */
AM_EXTERN void am_record_qrng_throughput(double bits_per_sec);
/* The cost of post-quantum signatures and key exchange over the node's classical
 * baseline (its own timings of both), in percent. */
AM_EXTERN void am_record_pq_crypto_overhead(double percent);
/* count quantum-resistant Merkle tree operations done (proof verifications,
 * as the node counts them): merkle_ops_per_sec is their rate per interval. */
AM_EXTERN void am_record_merkle_ops(uint64_t count);
/* The node's own estimate of its quantum security level, in bits. */
AM_EXTERN void am_record_security_level(double bits);
/*
 * A quantum circuit simulation run: its qubits, circuit depth, the gate
 * operations it applied and its wall time. The snapshot's simulation_metrics
 * are those of the latest run, gate_ops_per_sec being gate_ops over wall_time_ms.
 */
AM_EXTERN void am_record_quantum_simulation(double qubits, double circuit_depth, double gate_ops,
                                            double wall_time_ms);
/* The share of the GPU the node's quantum simulation uses now, in percent (shown
 * only when the GPU collector finds a GPU). */
AM_EXTERN void am_record_gpu_quantum_sim_usage(double percent);

/*
 * Metrics of the node's own, exported on /metrics as Prometheus's
 * statsd_exporter would export the same StatsD names: counters as name_total,
 * gauges, histograms as summaries (quantiles 0.5, 0.9, 0.99 from a
 * relative-error sketch), labels as given (names sanitised to [a-zA-Z0-9_]).
 *
 * A handle names one series: the name and labels, a NULL-terminated list of
 * key, value pairs ({"peer", "a1", "dir", "in", NULL}) or NULL. Get it once and
 * keep it: the calls on it are the cheap path (a few atomic increments, no
 * lookup). NULL on error: -ENOSPC past the series limit, -EEXIST if the name and
 * labels already name a series of another type, -EINVAL for a bad name or
 * labels, -ENOMEM. A handle lives as long as the process.
 */
typedef struct am_metric am_metric;
AM_EXTERN int am_counter(const char *name, const char *const *labels, am_metric **ret_metric);
AM_EXTERN int am_gauge(const char *name, const char *const *labels, am_metric **ret_metric);
AM_EXTERN int am_histogram(const char *name, const char *const *labels, am_metric **ret_metric);
/* Counter: adds v (>= 0). Gauge: adds v (may be negative). Histogram: observes v. */
AM_EXTERN void am_metric_add(am_metric *m, double v);
/* Gauge: sets v. (Counter, histogram: as am_metric_add.) */
AM_EXTERN void am_metric_set(am_metric *m, double v);
/* The same, by name and labels: a lookup per call (about 50 ns more). */
AM_EXTERN int am_counter_add(const char *name, const char *const *labels, double v);
AM_EXTERN int am_gauge_set(const char *name, const char *const *labels, double v);
AM_EXTERN int am_histogram_observe(const char *name, const char *const *labels, double v);

#ifdef __cplusplus
}
#endif

#endif
