/*
 * The node's custom series (StatsD names and C API series that map to no
 * snapshot field) as the JSON API and the report show them: live values only,
 * from the process's aggregates (src/ingest/agg.h); the history database keeps
 * the snapshot's fields, not these.
 *
 * Names and label values are the node's text, unchanged (StatsD allows
 * "<img src=x>" as a name): every renderer escapes them for its output.
 */
#ifndef AM_SERVE_CUSTOM_H
#define AM_SERVE_CUSTOM_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "ingest/agg.h"

#define CUSTOM_DEFAULT_LIMIT 1000

/* One custom series, read from an agg_series_info. */
struct custom_value {
    const char *kind; /* static: "counter", "gauge", "histogram", "summary", "set" */
    double value;     /* counter, gauge: the value; set: distinct members; else the mean */
    double sum;       /* histogram, summary: the sum of the observations; else NaN */
    uint64_t count;   /* histogram, summary: observations; else 0 */
    const char *unit; /* static: "s" for timers (sent in ms, kept in seconds), else NULL */
};

/* What series i holds now. Reads its sketch for a summary (may take a few
 * microseconds); never fails. */
void custom_value_of(const struct agg_series_info *i, struct custom_value *ret);

/* "name{k=v,k=v}" (a bare tag: "k"), the node's text unescaped, appended to sb. */
void custom_figure(struct strbuf *sb, const struct agg_series_info *i);

/*
 * The JSON of GET /api/v1/custom: {"series": [{"name", "labels": {k: v},
 * "kind", "value", "count", "sum", "unit"}...], "total": N, "truncated": bool},
 * at most limit series in creation order. 0, or -ENOMEM.
 */
int custom_to_json(struct agg *a, size_t limit, struct strbuf *out);

#endif
