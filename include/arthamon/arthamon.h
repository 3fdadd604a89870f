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

#ifdef __cplusplus
}
#endif

#endif
