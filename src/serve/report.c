#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_ANOMALIES 10

/* "2026-11-27T12:00:00Z" */
static void put_time(struct strbuf *out, uint64_t epoch)
{
    time_t t = (time_t)epoch;
    struct tm tm;
    char buf[32];

    if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
        strbuf_puts(out, buf);
    else
        strbuf_printf(out, "%" PRIu64, epoch);
}

/* A Markdown table cell: no pipes or newlines from node-supplied names. */
static void put_cell(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            strbuf_puts(out, "\\|");
        else if ((unsigned char)*s < 0x20)
            strbuf_putc(out, ' ');
        else
            strbuf_putc(out, *s);
    }
}

static void put_series(struct strbuf *out, const struct series_desc *d,
                       const struct series_label *labels, size_t n)
{
    strbuf_putc(out, '`');
    put_cell(out, d->name);
    if (n) {
        strbuf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            strbuf_printf(out, "%s%s=", i ? "," : "", labels[i].key);
            put_cell(out, labels[i].value ? labels[i].value : "");
        }
        strbuf_putc(out, '}');
    }
    strbuf_putc(out, '`');
}

static void put_num(struct strbuf *out, double v, int decimals)
{
    struct strbuf tmp;

    strbuf_init(&tmp, 64);
    strbuf_json_num(&tmp, v, decimals);
    strbuf_puts(out, tmp.buf ? tmp.buf : "-");
    strbuf_done(&tmp);
}

/* ---- current state: one table per component ---- */

struct current_ctx {
    struct strbuf *out;
    char section[32];
};

static void section_of(const char *name, char *sec, size_t len)
{
    size_t n = strcspn(name, ".");

    if (n >= len)
        n = len - 1;
    memcpy(sec, name, n);
    sec[n] = '\0';
}

static void current_one(void *ctx, const struct series_desc *d, const struct series_label *labels,
                        size_t n, double v)
{
    struct current_ctx *c = ctx;
    char sec[32];

    section_of(d->name, sec, sizeof(sec));
    if (strcmp(sec, c->section) != 0) {
        memcpy(c->section, sec, sizeof(sec));
        strbuf_printf(c->out, "\n### %s\n\n| figure | value | unit |\n|---|---:|---|\n", sec);
    }
    strbuf_puts(c->out, "| ");
    put_series(c->out, d, labels, n);
    strbuf_puts(c->out, " | ");
    put_num(c->out, v, d->decimals);
    strbuf_printf(c->out, " | %s |\n", d->unit);
}

/* ---- history: min / mean / max of every unlabelled figure ---- */

struct agg {
    double min, max, sum;
    uint64_t n;
};

struct hist_ctx {
    struct agg *agg; /* one per series_table entry */
};

static void hist_one(void *ctx, const struct series_desc *d, const struct series_label *labels,
                     size_t n, double v)
{
    struct hist_ctx *c = ctx;
    struct agg *a;

    (void)labels;
    if (n != 0 || d < series_table || d >= series_table + series_table_len)
        return;
    a = &c->agg[d - series_table];
    if (a->n == 0 || v < a->min)
        a->min = v;
    if (a->n == 0 || v > a->max)
        a->max = v;
    a->sum += v;
    a->n++;
}

static void history_summary(struct monitor *m, struct strbuf *out)
{
    size_t cap = 100000, n = 0;
    struct snapshot **list = malloc(cap * sizeof(*list));
    struct hist_ctx c = {calloc(series_table_len, sizeof(struct agg))};

    if (!list || !c.agg) {
        strbuf_puts(out, "\n## History\n\n(out of memory)\n");
        goto out;
    }
    n = monitor_history(m, cap, list);
    strbuf_puts(out, "\n## History\n\n");
    if (n == 0) {
        strbuf_puts(out, "No history yet.\n");
        goto out;
    }
    strbuf_printf(out, "%zu snapshots from ", n);
    put_time(out, list[0]->timestamp);
    strbuf_puts(out, " to ");
    put_time(out, list[n - 1]->timestamp);
    strbuf_puts(out, ".\n\n| figure | min | mean | max | unit | samples |\n"
                     "|---|---:|---:|---:|---|---:|\n");
    for (size_t i = 0; i < n; i++)
        snapshot_flatten(list[i], hist_one, &c);
    for (size_t i = 0; i < series_table_len; i++) {
        const struct series_desc *d = &series_table[i];
        const struct agg *a = &c.agg[i];

        /* counters only grow: their spread says nothing */
        if (a->n == 0 || d->kind == SERIES_COUNTER)
            continue;
        strbuf_puts(out, "| ");
        put_series(out, d, NULL, 0);
        strbuf_puts(out, " | ");
        put_num(out, a->min, d->decimals);
        strbuf_puts(out, " | ");
        put_num(out, a->sum / (double)a->n, d->decimals);
        strbuf_puts(out, " | ");
        put_num(out, a->max, d->decimals);
        strbuf_printf(out, " | %s | %" PRIu64 " |\n", d->unit, a->n);
    }
out:
    if (list)
        for (size_t i = 0; i < n; i++)
            snapshot_unref(list[i]);
    free(list);
    free(c.agg);
}

/* ---- anomalies, as the seed writes them ---- */

static void anomaly_md(void *ctx, const struct anomaly *a)
{
    struct strbuf *out = ctx;

    strbuf_printf(out, "### %s (Severity: %u)\n\n- Component: %s\n- Detected: ", a->anomaly_type,
                  a->severity, a->component);
    put_time(out, a->detected_at);
    strbuf_printf(out, "\n- Description: %s\n", a->description ? a->description : "");
    if (a->n_related) {
        strbuf_puts(out, "- Related metrics:");
        for (size_t i = 0; i < a->n_related; i++) {
            strbuf_printf(out, "%s %s = ", i ? "," : "", a->related_metrics[i].key);
            put_num(out, a->related_metrics[i].value, 3);
        }
        strbuf_putc(out, '\n');
    }
    strbuf_putc(out, '\n');
    if (a->n_actions) {
        strbuf_puts(out, "#### Suggested Actions\n\n");
        for (size_t i = 0; i < a->n_actions; i++)
            strbuf_printf(out, "- %s\n", a->suggested_actions[i]);
        strbuf_putc(out, '\n');
    }
}

int report_markdown(struct monitor *m, struct strbuf *out)
{
    struct snapshot *cur = monitor_current(m);
    struct anomaly_log *al = monitor_anomalies(m);

    strbuf_puts(out, "# Performance Monitoring Report\n\nGenerated: ");
    put_time(out, (uint64_t)time(NULL));
    strbuf_puts(out, "\n\n## Current System State\n\n");
    if (cur) {
        struct current_ctx c = {out, ""};
        strbuf_puts(out, "Node ID: ");
        put_cell(out, cur->node_id ? cur->node_id : "");
        strbuf_puts(out, "\nTimestamp: ");
        put_time(out, cur->timestamp);
        strbuf_printf(out, " (%" PRIu64 ")\n", cur->timestamp);
        snapshot_flatten(cur, current_one, &c);
        snapshot_unref(cur);
    } else {
        strbuf_puts(out, "No snapshot yet.\n");
    }
    history_summary(m, out);
    strbuf_puts(out, "\n## Recent Anomalies\n\n");
    if (anomaly_log_count(al) == 0)
        strbuf_puts(out, "None detected.\n");
    else
        anomaly_log_foreach(al, 1, REPORT_ANOMALIES, anomaly_md, out);
    return out->overflow ? -ENOSPC : 0;
}
