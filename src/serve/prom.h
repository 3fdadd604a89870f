/*
 * Prometheus exposition: every series of a snapshot plus the agent's own
 * figures, in the text format 0.0.4 or OpenMetrics 1.0.0.
 *
 * Names follow the Prometheus conventions: an `arthamon_` prefix, base units
 * (seconds, bytes, ratios, hertz) named as a suffix, `_total` on counters. The
 * mapping from a snapshot series ("memory.physical_used_mb") to its exposed name
 * and scale is one explicit table (prom_map); docs/metrics.md lists it and a
 * unit test keeps the two in step. Every sample carries node_id; no sample has
 * a timestamp (the scraper stamps what it reads from us).
 *
 * Everything here is pure (no I/O, no global mutable state) and thread-safe:
 * any number of threads may render at once, each into its own strbuf.
 */
#ifndef AM_SERVE_PROM_H
#define AM_SERVE_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "alert/dispatch.h"
#include "common/strbuf.h"
#include "core/monitor.h"
#include "core/snapshot.h"
#include "ingest/agg.h"
#include "ingest/statsd_server.h"

enum prom_format {
    PROM_TEXT,        /* text/plain; version=0.0.4 */
    PROM_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/*
 * The format an Accept header asks for (NULL or no match: the text format).
 * OpenMetrics is chosen when application/openmetrics-text (version 1.0.0,
 * 0.0.1 or none) has a higher q-value than every range the text format matches:
 * text/plain (version 0.0.4 or none) and the wildcard ranges for all types and
 * for all text types. At equal q an explicit type beats a wildcard, then the
 * earlier entry wins. Never refuses: what nothing matches gets the text format.
 * Linear in the length of accept; thread-safe.
 */
enum prom_format prom_negotiate(const char *accept);
/* The exact Content-Type of a format, charset included (a static string). */
const char *prom_content_type(enum prom_format fmt);

/* How one snapshot series is exposed. */
struct prom_map {
    const char *series; /* series_desc name: "memory.physical_used_mb" */
    const char *name;   /* exposed name: "arthamon_memory_physical_used_bytes" */
    double scale;       /* exposed value = snapshot value * scale */
    const char *unit;   /* OpenMetrics UNIT ("bytes", "seconds", "ratio"...), "" for none */
    const char *help;   /* HELP when the series' own names a unit we convert; NULL: the series' */
};
/* In series_table order (the renderer relies on it to find an entry without a search). */
extern const struct prom_map prom_map_table[];
extern const size_t prom_map_table_len;
/* The entry for a series name, or NULL. */
const struct prom_map *prom_map_find(const char *series);

/* The agent's own figures. */
struct prom_self {
    const char *version;
    const char *node_id;        /* used when there is no snapshot */
    struct monitor_stats stats; /* ticks, tick durations, collector errors */
    double start_time_seconds;  /* epoch seconds the agent started */
    double sampling_interval_seconds;
    uint64_t scrapes_total; /* /metrics requests served, this one included */
    uint64_t http_requests_total;
    uint64_t http_rejected_total;        /* requests answered 4xx */
    uint64_t http_auth_failures_total;   /* requests without valid credentials (401) */
    uint64_t http_deadline_closed_total; /* connections closed for overdue headers */
    /* the history database, when there is one */
    bool has_store;
    uint64_t store_appends_total, store_append_errors_total, store_series;
    /* what the node sends: its custom series (NULL: none) and the StatsD server */
    struct agg *agg;
    bool has_statsd;
    struct statsd_server_stats statsd;
    /* alert delivery, per configured channel */
    struct alert_channel_stats alerts[ALERT_DISPATCH_MAX_CHANNELS];
    size_t n_alerts;
};

/* A snapshot with more samples than this is refused (-ENOSPC). */
#define PROM_MAX_SAMPLES (1u << 18)

/*
 * Appends the exposition to out. snap may be NULL (no tick yet, or a stalled
 * sampler whose snapshot is too old to serve): only the agent's own figures
 * are written then. self may be NULL (no own figures). Nothing is kept: the
 * caller keeps ownership of snap, self and out.
 * Returns 0, -ENOSPC if out overflowed (or snap holds more than
 * PROM_MAX_SAMPLES samples), -ENOMEM if the scratch space for grouping the
 * samples could not be allocated. On error out holds a truncated exposition:
 * do not serve it.
 */
int prom_render(struct strbuf *out, enum prom_format fmt, const struct snapshot *snap,
                const struct prom_self *self);

/* How prom_escape() escapes. */
enum prom_escape {
    PROM_ESC_LABEL,     /* a label value, either format: \\ \" \n */
    PROM_ESC_HELP_TEXT, /* HELP in the text format: \\ \n */
    PROM_ESC_HELP_OM,   /* HELP in OpenMetrics: \\ \" \n */
};

/* Appends s escaped; bytes that are not valid UTF-8 become U+FFFD. Returns
 * what strbuf_append() returned last (negative once out has overflowed). */
int prom_escape(struct strbuf *out, const char *s, enum prom_escape how);

#endif
