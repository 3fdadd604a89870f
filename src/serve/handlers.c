#include "handlers.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/dispatch.h"
#include "core/sampler.h"
#include "custom.h"
#include "prom.h"
#include "report.h"
#include "store/store.h"
#include "summary.h"

#define CT_JSON     "application/json"
#define CT_TEXT     "text/plain; charset=utf-8"
#define CT_MARKDOWN "text/markdown; charset=utf-8"
#define CT_HTML     "text/html; charset=utf-8"

#define DEFAULT_PAGE      100
#define DEFAULT_ANOMALIES 100
#define MAX_ANOMALIES     1000

static const char *const p_none[] = {NULL};
static const char *const p_text[] = {"format", NULL};
static const char *const p_history[] = {"limit", "from", "to", NULL};
static const char *const p_anomalies[] = {"limit", "min_severity", "format", NULL};
static const char *const p_query[] = {"series", "from", "to", "step", "agg", NULL};
static const char *const p_limit[] = {"limit", NULL};
static const char *const p_report[] = {"format", "from", "to", NULL};

static const struct route routes[] = {
    {"/healthz", ROUTE_HEALTHZ, true, p_none},
    {"/metrics", ROUTE_METRICS, false, p_none},
    {"/api/v1/snapshot", ROUTE_SNAPSHOT, false, p_text},
    {"/api/v1/history", ROUTE_HISTORY, false, p_history},
    {"/api/v1/anomalies", ROUTE_ANOMALIES, false, p_anomalies},
    {"/api/v1/report", ROUTE_REPORT, false, p_report},
    {"/api/v1/config", ROUTE_CONFIG, false, p_none},
    {"/api/v1/query", ROUTE_QUERY, false, p_query},
    {"/api/v1/alerts", ROUTE_ALERTS, false, p_limit},
    {"/api/v1/custom", ROUTE_CUSTOM, false, p_limit},
    {"/", ROUTE_INDEX, false, p_none},
};

const struct route *route_find(const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

/* from= and to= (epoch seconds, both optional, from not after to). */
static int parse_range(struct httpq *q, struct api_params *p)
{
    int a = httpq_get_double(q, "from", 0, 1e11, &p->from);
    int b = a < 0 ? -EINVAL : httpq_get_double(q, "to", 0, 1e11, &p->to);

    if (a < 0 || b < 0)
        return -EINVAL;
    p->has_from = a == 1;
    p->has_to = b == 1;
    if (p->has_from && p->has_to && p->from > p->to) {
        snprintf(q->error, sizeof(q->error), "from must not be later than to");
        return -EINVAL;
    }
    return 0;
}

int api_params_parse(const struct route *r, struct httpq *q, uint32_t max_page,
                     struct api_params *p)
{
    const char *fmt;
    uint64_t v;

    memset(p, 0, sizeof(*p));
    if (httpq_check_known(q, r->params) < 0)
        return -EINVAL;
    fmt = httpq_get(q, "format");
    if (fmt && r->id != ROUTE_REPORT) {
        if (strcmp(fmt, "text") == 0) {
            p->text = true;
        } else if (strcmp(fmt, "json") != 0) {
            snprintf(q->error, sizeof(q->error), "format: expected json or text");
            return -EINVAL;
        }
    }
    switch (r->id) {
    case ROUTE_HISTORY:
        p->limit = DEFAULT_PAGE < max_page ? DEFAULT_PAGE : max_page;
        if (httpq_get_u64(q, "limit", 1, max_page, &p->limit) < 0)
            return -EINVAL;
        if (parse_range(q, p) < 0)
            return -EINVAL;
        break;
    case ROUTE_ANOMALIES:
        p->limit = DEFAULT_ANOMALIES;
        if (httpq_get_u64(q, "limit", 1, MAX_ANOMALIES, &p->limit) < 0)
            return -EINVAL;
        v = 1;
        if (httpq_get_u64(q, "min_severity", 1, 5, &v) < 0)
            return -EINVAL;
        p->min_severity = (uint8_t)v;
        break;
    case ROUTE_REPORT:
        p->report_format = fmt ? report_format_parse(fmt) : REPORT_MARKDOWN;
        if (p->report_format < 0) {
            snprintf(q->error, sizeof(q->error), "format: expected md or html");
            return -EINVAL;
        }
        if (parse_range(q, p) < 0)
            return -EINVAL;
        break;
    case ROUTE_ALERTS:
        p->limit = DEFAULT_ANOMALIES;
        if (httpq_get_u64(q, "limit", 1, MAX_ANOMALIES, &p->limit) < 0)
            return -EINVAL;
        break;
    case ROUTE_CUSTOM:
        p->limit = CUSTOM_DEFAULT_LIMIT;
        if (httpq_get_u64(q, "limit", 1, AGG_DEFAULT_MAX_SERIES * 10, &p->limit) < 0)
            return -EINVAL;
        break;
    case ROUTE_QUERY: {
        const char *agg = httpq_get(q, "agg");
        p->series = httpq_get(q, "series");
        if (!p->series || !*p->series || strlen(p->series) > 512) {
            snprintf(q->error, sizeof(q->error), "series: required, e.g. cpu.usage_percent");
            return -EINVAL;
        }
        p->agg = agg ? store_agg_parse(agg) : AGG_AVG;
        if (p->agg < 0) {
            snprintf(q->error, sizeof(q->error), "agg: expected avg, min, max, sum, count or last");
            return -EINVAL;
        }
        if (httpq_get_double(q, "step", 0, 1e8, &p->step) < 0 || parse_range(q, p) < 0)
            return -EINVAL;
        break;
    }
    default:
        break;
    }
    return 0;
}

void api_error(struct api_response *res, unsigned status, const char *msg)
{
    res->status = status;
    res->content_type = CT_JSON;
    strbuf_reset(&res->body);
    strbuf_puts(&res->body, "{\"error\":");
    strbuf_json_str(&res->body, msg);
    strbuf_puts(&res->body, "}\n");
}

static double now_epoch(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How old a snapshot may be and still be served as current: three intervals
 * and a second of slack. Older means the sampler is stuck. */
static double max_age(const struct config *cfg)
{
    return 3.0 * (double)cfg->monitoring.sampling_interval_ms / 1000.0 + 1.0;
}

static bool sampling(const struct config *cfg)
{
    return cfg->enabled && cfg->monitoring.enabled;
}

/* ---- routes ---- */

static void do_healthz(const struct api_context *ctx, const struct api_params *p,
                       struct api_response *res)
{
    struct monitor_stats st;
    double age = -1;
    const char *status = "ok";

    monitor_get_stats(ctx->mon, &st);
    if (st.last_tick_mono_ns)
        age = (double)(mono_ns() - st.last_tick_mono_ns) / 1e9;
    if (!sampling(ctx->cfg))
        status = "disabled";
    else if (st.ticks == 0 && now_epoch() - ctx->start_time < max_age(ctx->cfg))
        status = "starting";
    else if (age < 0 || age > max_age(ctx->cfg))
        status = "stalled";
    res->status = strcmp(status, "stalled") == 0 ? 503 : 200;
    res->content_type = CT_JSON;
    strbuf_printf(&res->body, "{\"status\":\"%s\",\"version\":", status);
    strbuf_json_str(&res->body, ctx->version);
    strbuf_puts(&res->body, ",\"node_id\":");
    strbuf_json_str(&res->body, ctx->cfg->agent.node_id ? ctx->cfg->agent.node_id : "");
    strbuf_printf(&res->body,
                  ",\"uptime_sec\":%.0f,\"ticks\":%" PRIu64 ",\"ticks_missed\":%" PRIu64
                  ",\"last_tick_age_sec\":",
                  now_epoch() - ctx->start_time, st.ticks, st.ticks_missed);
    strbuf_json_num(&res->body, age >= 0 ? age : NAN, 3);
    strbuf_puts(&res->body, "}\n");
    (void)p;
}

static void do_metrics(const struct api_context *ctx, const char *accept, struct api_response *res)
{
    struct prom_self self = {0};
    enum prom_format fmt = prom_negotiate(accept);
    struct snapshot *snap;

    if (!ctx->cfg->visualization.prometheus_enabled) {
        api_error(res, 404, "/metrics is off (visualization.prometheus_enabled: false)");
        return;
    }
    self.version = ctx->version;
    self.node_id = ctx->cfg->agent.node_id ? ctx->cfg->agent.node_id : "";
    snap = monitor_current_stats(ctx->mon, &self.stats);
    self.start_time_seconds = ctx->start_time;
    self.sampling_interval_seconds = (double)ctx->cfg->monitoring.sampling_interval_ms / 1000.0;
    self.scrapes_total = ctx->scrapes;
    self.http_requests_total = ctx->requests;
    self.http_rejected_total = ctx->rejected;
    self.http_auth_failures_total = ctx->auth_failures;
    self.http_deadline_closed_total = ctx->deadline_closed;
    if (ctx->store) {
        struct store_stats ss;
        store_get_stats(ctx->store, &ss);
        self.has_store = true;
        self.store_appends_total = ss.appends;
        self.store_append_errors_total = ss.append_errors;
        self.store_series = ss.series;
    }
    self.agg = agg_global();
    if (ctx->statsd) {
        self.has_statsd = true;
        statsd_server_get_stats(ctx->statsd, &self.statsd);
    }
    self.n_alerts = alert_dispatch_stats(ctx->alerts, self.alerts);
    /* a stuck sampler's last figures are not re-served as if current */
    if (snap && (double)(mono_ns() - self.stats.last_tick_mono_ns) / 1e9 > max_age(ctx->cfg)) {
        snapshot_unref(snap);
        snap = NULL;
    }
    if (prom_render(&res->body, fmt, snap, &self) < 0) {
        snapshot_unref(snap);
        api_error(res, 500, "exposition too large");
        return;
    }
    snapshot_unref(snap);
    res->status = 200;
    res->content_type = prom_content_type(fmt);
}

/* Renders through stdio (the console summary) into the body. */
static int text_summary(const struct snapshot *s, struct strbuf *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return -ENOMEM;
    summary_print_full(f, s);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    strbuf_append(out, buf, len);
    free(buf);
    return 0;
}

static void do_snapshot(const struct api_context *ctx, const struct api_params *p,
                        struct api_response *res)
{
    struct snapshot *snap = monitor_current(ctx->mon);

    if (!snap) {
        api_error(res, 503,
                  sampling(ctx->cfg) ? "no snapshot yet: the first sample is pending"
                                     : "monitoring is disabled in the configuration");
        return;
    }
    res->status = 200;
    if (p->text) {
        res->content_type = CT_TEXT;
        if (text_summary(snap, &res->body) < 0)
            api_error(res, 500, "out of memory");
    } else {
        res->content_type = CT_JSON;
        snapshot_to_json(snap, &res->body);
        strbuf_putc(&res->body, '\n');
    }
    snapshot_unref(snap);
}

static double snap_time(const struct snapshot *s)
{
    return (double)s->timestamp_ms / 1000.0;
}

struct hist_out {
    struct strbuf *b;
    size_t n;
};

static void hist_one(void *ctx, const struct snapshot *s)
{
    struct hist_out *o = ctx;

    if (o->n++)
        strbuf_putc(o->b, ',');
    snapshot_to_json(s, o->b);
}

/* The history from the database: as below, over everything kept on disk. */
static void history_from_store(const struct api_context *ctx, const struct api_params *p,
                               struct api_response *res)
{
    struct hist_out o = {&res->body, 0};
    int64_t from = p->has_from ? (int64_t)(p->from * 1000) : 0;
    int64_t to = p->has_to ? (int64_t)(p->to * 1000) : INT64_MAX / 2, next = 0;
    long n;

    res->status = 200;
    res->content_type = CT_JSON;
    strbuf_puts(o.b, "{\"snapshots\":[");
    n = store_history(ctx->store, from, to, p->limit, p->has_from, ctx->cfg->agent.node_id,
                      hist_one, &o, &next);
    if (n < 0) {
        api_error(res, 500, "the history database could not be read");
        return;
    }
    strbuf_printf(o.b, "],\"count\":%zu,\"next_from\":", o.n);
    if (p->has_from && next)
        strbuf_json_num(o.b, (double)next / 1000.0, 3);
    else
        strbuf_puts(o.b, "null");
    strbuf_puts(o.b, "}\n");
}

/*
 * The in-memory history, oldest first. With `from`: the first `limit`
 * snapshots at or after it (and before `to`), and next_from pointing at the
 * following page. Without: the newest `limit` up to `to`.
 */
static void do_history(const struct api_context *ctx, const struct api_params *p,
                       struct api_response *res)
{
    size_t cap = ctx->cfg->agent.history_size, n, lo = 0, hi, first, last, i;
    struct snapshot **list;
    struct strbuf *b = &res->body;

    if (ctx->store) {
        history_from_store(ctx, p, res);
        return;
    }
    list = calloc(cap ? cap : 1, sizeof(*list));
    if (!list) {
        api_error(res, 500, "out of memory");
        return;
    }
    n = monitor_history(ctx->mon, cap, list);
    /* [lo, hi): the snapshots inside [from, to] */
    while (p->has_from && lo < n && snap_time(list[lo]) < p->from)
        lo++;
    hi = lo;
    while (hi < n && (!p->has_to || snap_time(list[hi]) <= p->to))
        hi++;
    if (p->has_from) {
        first = lo;
        last = hi - lo > p->limit ? lo + p->limit : hi;
    } else {
        last = hi;
        first = hi - lo > p->limit ? hi - p->limit : lo;
    }
    res->status = 200;
    res->content_type = CT_JSON;
    strbuf_puts(b, "{\"snapshots\":[");
    for (i = first; i < last; i++) {
        if (i > first)
            strbuf_putc(b, ',');
        snapshot_to_json(list[i], b);
    }
    strbuf_printf(b, "],\"count\":%zu,\"next_from\":", last - first);
    if (p->has_from && last < hi)
        strbuf_json_num(b, snap_time(list[last]), 3);
    else
        strbuf_puts(b, "null");
    strbuf_puts(b, "}\n");
    for (i = 0; i < n; i++)
        snapshot_unref(list[i]);
    free(list);
    if (b->overflow)
        api_error(res, 500, "history page too large: ask for a smaller limit");
}

static void anomaly_line(void *ctx, const struct anomaly *a)
{
    struct strbuf *b = ctx;
    time_t t = (time_t)a->detected_at;
    struct tm tm;
    char when[32] = "";

    if (gmtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    strbuf_printf(b, "%s  sev %u  %-10s %-24s %s\n", when, a->severity, a->component,
                  a->anomaly_type, a->description ? a->description : "");
}

static void do_anomalies(const struct api_context *ctx, const struct api_params *p,
                         struct api_response *res)
{
    struct anomaly_log *al = monitor_anomalies(ctx->mon);

    res->status = 200;
    if (p->text) {
        res->content_type = CT_TEXT;
        anomaly_log_foreach(al, p->min_severity, p->limit, anomaly_line, &res->body);
        if (res->body.len == 0)
            strbuf_puts(&res->body, "no anomalies\n");
        return;
    }
    res->content_type = CT_JSON;
    anomaly_log_to_json(al, p->min_severity, p->limit, &res->body);
    /* which detection layers are still warming up, as the newest snapshot says */
    if (res->body.len && res->body.buf[res->body.len - 1] == '}') {
        struct snapshot *snap = monitor_current(ctx->mon);
        res->body.len--;
        strbuf_puts(&res->body, ",\"detectors\":[");
        for (size_t i = 0; snap && i < snap->n_detectors && i < SNAPSHOT_DETECTORS; i++) {
            const struct detector_status *d = &snap->detectors[i];
            strbuf_puts(&res->body, i ? ",{\"name\":" : "{\"name\":");
            strbuf_json_str(&res->body, d->name);
            strbuf_printf(&res->body, ",\"warming_up\":%s,\"ticks_left\":%u}",
                          d->warming_up ? "true" : "false", d->ticks_left);
        }
        strbuf_puts(&res->body, "]}");
        snapshot_unref(snap);
    }
    strbuf_putc(&res->body, '\n');
}

/*
 * The report over [from, to] (default: the last hour): the current state from
 * the monitor, the history from the database when there is one (else from
 * memory), the anomalies of both, the alert delivery from the outbox tables.
 */
static void do_report(const struct api_context *ctx, const struct api_params *p,
                      struct api_response *res)
{
    struct report_source src = {.mon = ctx->mon,
                                .store = ctx->store,
                                .alerts = ctx->alerts,
                                .node_id = ctx->cfg->agent.node_id,
                                .agg = agg_global()};
    double now = now_epoch();
    double to = p->has_to ? p->to : now, from = p->has_from ? p->from : to - 3600;
    char db[4096];
    struct report r;
    int rc;

    if (from > to) {
        api_error(res, 400, "from must not be later than to");
        return;
    }
    if (ctx->store && ctx->cfg->agent.data_dir &&
        snprintf(db, sizeof(db), "%s/%s", ctx->cfg->agent.data_dir, STORE_FILE) < (int)sizeof(db))
        src.db_path = db;
    report_init(&r, ctx->cfg->agent.node_id, (int64_t)(from * 1000), (int64_t)(to * 1000),
                (int64_t)(now * 1000));
    rc = report_build(&r, &src);
    if (rc == 0)
        rc = p->report_format == REPORT_HTML ? report_render_html(&r, &res->body)
                                             : report_render_markdown(&r, &res->body);
    report_done(&r);
    if (rc < 0) {
        api_error(res, 500, rc == -ENOSPC ? "report too large" : "out of memory");
        return;
    }
    res->status = 200;
    res->content_type = p->report_format == REPORT_HTML ? CT_HTML : CT_MARKDOWN;
}

/* The server is restarted with every reload, so its copy is the effective config. */
static void do_config(const struct api_context *ctx, struct api_response *res)
{
    res->status = 200;
    res->content_type = CT_JSON;
    config_to_json(ctx->cfg, &res->body);
    strbuf_putc(&res->body, '\n');
}

struct query_ctx {
    struct strbuf *b;
    size_t n;
    int decimals;
};

static void query_point(void *ctx, const struct store_point *pt)
{
    struct query_ctx *c = ctx;

    strbuf_puts(c->b, c->n++ ? ",[" : "[");
    strbuf_json_num(c->b, (double)pt->ts_ms / 1000.0, 3);
    strbuf_putc(c->b, ',');
    strbuf_json_num(c->b, pt->value, c->decimals);
    strbuf_putc(c->b, ']');
}

/* One series from the history database, in steps, from the tier the step calls for. */
static void do_query(const struct api_context *ctx, const struct api_params *p,
                     struct api_response *res)
{
    static const char *const tiers[] = {"raw", "minute", "hour"};
    double now = now_epoch();
    double to = p->has_to ? p->to : now, from = p->has_from ? p->from : to - 3600;
    struct query_ctx qc = {&res->body, 0, 9};
    struct strbuf *b = &res->body;
    int tier = 0;
    long n;

    if (!ctx->store) {
        api_error(res, 404, "no history on disk (storage.enabled: false)");
        return;
    }
    if (from > to) {
        api_error(res, 400, "from must not be later than to");
        return;
    }
    res->status = 200;
    res->content_type = CT_JSON;
    strbuf_puts(b, "{\"series\":");
    strbuf_json_str(b, p->series);
    strbuf_printf(b, ",\"agg\":\"%s\",\"step\":", store_agg_name((enum store_agg)p->agg));
    strbuf_json_num(b, p->step, 3);
    strbuf_puts(b, ",\"from\":");
    strbuf_json_num(b, from, 3);
    strbuf_puts(b, ",\"to\":");
    strbuf_json_num(b, to, 3);
    strbuf_puts(b, ",\"points\":[");
    n = store_query(ctx->store, p->series, (int64_t)(from * 1000), (int64_t)(to * 1000),
                    (int64_t)(p->step * 1000), (enum store_agg)p->agg, &tier, query_point, &qc);
    if (n == -ENOENT) {
        api_error(res, 404, "no such series in the history; see docs/metrics.md for the names");
        return;
    }
    if (n == -E2BIG) {
        api_error(res, 400, "too many steps: use a larger step");
        return;
    }
    if (n < 0) {
        api_error(res, 500, "the history database could not be read");
        return;
    }
    strbuf_printf(b, "],\"count\":%ld,\"tier\":\"%s\"}\n", n, tiers[tier]);
}

static void do_alerts(const struct api_context *ctx, const struct api_params *p,
                      struct api_response *res)
{
    if (alert_dispatch_to_json(ctx->alerts, p->limit, &res->body) < 0) {
        api_error(res, 500, "the alert outbox could not be read");
        return;
    }
    strbuf_putc(&res->body, '\n');
    res->status = 200;
    res->content_type = CT_JSON;
}

/* The node's custom series, live (the history keeps only the snapshot's fields). */
static void do_custom(const struct api_params *p, struct api_response *res)
{
    if (custom_to_json(agg_global(), p->limit, &res->body) < 0) {
        api_error(res, 500, "out of memory");
        return;
    }
    strbuf_putc(&res->body, '\n');
    res->status = 200;
    res->content_type = CT_JSON;
}

static void do_index(struct api_response *res)
{
    res->status = 200;
    res->content_type = CT_JSON;
    strbuf_puts(&res->body, "{\"endpoints\":[");
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (i)
            strbuf_putc(&res->body, ',');
        strbuf_json_str(&res->body, routes[i].path);
    }
    strbuf_puts(&res->body, "]}\n");
}

void api_handle(const struct api_context *ctx, const struct route *r, const struct api_params *p,
                const char *accept, struct api_response *res)
{
    switch (r->id) {
    case ROUTE_HEALTHZ:
        do_healthz(ctx, p, res);
        break;
    case ROUTE_METRICS:
        do_metrics(ctx, accept, res);
        break;
    case ROUTE_SNAPSHOT:
        do_snapshot(ctx, p, res);
        break;
    case ROUTE_HISTORY:
        do_history(ctx, p, res);
        break;
    case ROUTE_ANOMALIES:
        do_anomalies(ctx, p, res);
        break;
    case ROUTE_REPORT:
        do_report(ctx, p, res);
        break;
    case ROUTE_CONFIG:
        do_config(ctx, res);
        break;
    case ROUTE_INDEX:
        do_index(res);
        break;
    case ROUTE_QUERY:
        do_query(ctx, p, res);
        break;
    case ROUTE_ALERTS:
        do_alerts(ctx, p, res);
        break;
    case ROUTE_CUSTOM:
        do_custom(p, res);
        break;
    }
}
