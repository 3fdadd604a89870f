/*
 * The report (the seed's generate_report(), completed): a model built from a
 * data source, and two renderers of it, Markdown and HTML.
 *
 * The source is the live monitor (the daemon: current snapshot, anomaly log,
 * alert dispatcher) and/or the history database (arthamon report: opened
 * read-only, also while the daemon writes). The model holds copies of
 * everything it shows, so rendering needs no lock and no source.
 *
 * Sections, the same in both renderings: title (node id, range, generation
 * time); Current System State (every metric group of the latest snapshot, and
 * the node's custom series when the source is the running agent);
 * History Summary (min, mean, p95, max and trend of every gauge over the
 * range); Top Anomalies; Alert Delivery; Predictions. docs/report.md says how
 * each figure is computed. Every string that comes from data (label values,
 * node id, anomaly texts, channel names) is escaped by the renderers: HTML
 * entities in HTML, backslash escapes or code spans in Markdown.
 *
 * Not thread-safe: one report is built and rendered by one thread.
 */
#ifndef AM_SERVE_REPORT_H
#define AM_SERVE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "core/anomaly.h"
#include "core/monitor.h"
#include "core/snapshot.h"

#define REPORT_MAX_ANOMALIES 20  /* shown in Top Anomalies */
#define REPORT_MAX_POINTS    500 /* per series and range: the step is chosen to give at most this */
#define REPORT_MAX_STATS     4096 /* series summarised */
#define REPORT_MAX_CHANNELS  16
#define REPORT_MAX_CUSTOM    200 /* custom series listed (the rest: GET /api/v1/custom) */

enum report_format { REPORT_MARKDOWN, REPORT_HTML };

/* "md"/"markdown" -> REPORT_MARKDOWN, "html" -> REPORT_HTML; -1 otherwise. */
int report_format_parse(const char *s);

/* One row of a Current System State table; strings owned by the report, unescaped. */
struct report_row {
    char *section; /* a sub-heading inside the group (a model: "name (type)"); NULL: none */
    char *figure;  /* "cpu.core_usage{core=0}" */
    char *value;   /* formatted */
    const char *unit;
};

/* One metric group of the current state. */
struct report_group {
    const char *title; /* static: "CPU", "Memory", ... */
    const char *empty; /* static: what to say when it has no row ("not measured"); starts 'n' */
    const char *section_label; /* static: what a row's section is ("Model"); NULL: none */
    struct report_row *rows;
    size_t n_rows, cap_rows;
};

#define REPORT_GROUPS 11

/* The summary of one series over the range. */
struct report_stat {
    char *key; /* as the history names it: "cpu.usage_percent", "cpu.core_usage{core=0}" */
    const struct series_desc *desc;
    size_t n;                   /* points (step averages) */
    double min, mean, p95, max; /* NaN when n == 0 */
    double slope_per_hour;      /* least-squares slope of the points; NaN with fewer than 2 */
    double *t, *v;              /* the points (epoch seconds, value), kept for the charts */
    bool chart;                 /* one of the charted series */
};

struct report_channel {
    char name[64];
    uint64_t sent, failed, pending;
};

struct report {
    char *node_id;
    int64_t from_ms, to_ms, generated_ms;
    struct snapshot *current; /* one reference; NULL: no snapshot */
    struct report_group groups[REPORT_GROUPS];
    const char *history_source; /* static: "the history database", "memory"; NULL: none */
    int64_t step_ms;
    struct report_stat *stats;
    size_t n_stats, cap_stats;
    struct anomaly *anomalies; /* deep copies, severity then recency; strings owned */
    size_t n_anomalies, cap_anomalies;
    size_t anomalies_total; /* in the range, before the cut to REPORT_MAX_ANOMALIES */
    bool alerts_known;      /* an alert delivery summary could be made */
    const char *alerts_source;
    struct report_channel channels[REPORT_MAX_CHANNELS];
    size_t n_channels;
};

/* Where a report's data comes from; every member may be NULL. */
struct store;
struct alert_dispatch;
struct agg;

struct report_source {
    struct monitor *mon;           /* live: current snapshot, anomaly log, in-memory history */
    struct store *store;           /* the history database */
    struct alert_dispatch *alerts; /* live delivery counters (when there is no database) */
    const char *db_path;           /* the database file, for the alert outbox tables */
    const char *node_id;           /* the configured one */
    struct agg *agg;               /* live: the node's custom series (the daemon's aggregates) */
};

/* An empty report for [from_ms, to_ms] (node_id copied; may be NULL). */
void report_init(struct report *r, const char *node_id, int64_t from_ms, int64_t to_ms,
                 int64_t generated_ms);
/* Releases everything the report holds (accepts a zeroed or half-built one). */
void report_done(struct report *r);

/*
 * Fills r (report_init()ed) from src over its range: the current state (the
 * monitor's newest snapshot, else the newest in the database up to to_ms), the
 * history summary, the anomalies, the alert delivery and the predictions.
 * 0, or -ENOMEM; a part the source cannot give is left empty and the renderers
 * say so.
 */
int report_build(struct report *r, const struct report_source *src);

/* The pieces report_build() uses, for callers that script a model (tests). */
int report_set_current(struct report *r, struct snapshot *snap);   /* takes a reference */
int report_add_anomaly(struct report *r, const struct anomaly *a); /* copied */
void report_sort_anomalies(struct report *r); /* severity, then recency; cuts to the top */
/* A series with its n points (copied; epoch seconds, step averages); the summary is
 * computed from them. lo/hi: the extremes over the range when known (the steps'
 * minimum and maximum), NaN to take them from the points. */
int report_add_stat(struct report *r, const char *key, const struct series_desc *desc,
                    const double *t, const double *v, size_t n, double lo, double hi);

/* Appends the report to out; 0, or -ENOSPC if out overflowed. */
int report_render_markdown(const struct report *r, struct strbuf *out);
int report_render_html(const struct report *r, struct strbuf *out);

/* The daemon's report over the last hour from the monitor alone, as Markdown. */
int report_markdown(struct monitor *m, struct strbuf *out);

#endif
