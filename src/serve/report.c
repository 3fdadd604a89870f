#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/dispatch.h"
#include "core/snapshot_fields.h"
#include "custom.h"
#include "store/store.h"

#define MAX_ANOMALIES_READ 10000 /* from the database, newest first */

/* The series drawn in the HTML report, in this order. */
static const char *const charted[] = {
    "cpu.usage_percent",   "memory.physical_used_mb",
    "disk.usage_percent",  "network.ingress_kbps",
    "network.egress_kbps", "node.transactions_per_sec",
    "node.mempool_size",   "node.consensus_metrics.time_to_finality_sec",
};
#define N_CHARTED (sizeof(charted) / sizeof(charted[0]))

enum {
    G_CPU,
    G_MEMORY,
    G_DISK,
    G_NETWORK,
    G_GPU,
    G_NODE,
    G_CONSENSUS,
    G_CONTRACTS,
    G_MODELS,
    G_QUANTUM,
    G_CUSTOM,
};

static const struct {
    const char *title, *empty, *section_label;
} group_names[REPORT_GROUPS] = {
    {"CPU", "not measured", NULL},
    {"Memory", "not measured", NULL},
    {"Disk", "not measured", NULL},
    {"Network", "not measured", NULL},
    {"GPU", "not measured", "GPU"},
    {"Node", "not reported by the node", NULL},
    {"Consensus", "not reported", NULL},
    {"Contracts", "not reported", NULL},
    {"Model inference", "no model reported", "Model"},
    {"Quantum", "not reported", NULL},
    {"Node custom metrics",
     "not available here: custom series are held live by the running agent, not in the "
     "history (its report, GET /api/v1/report, lists them)",
     NULL},
};

int report_format_parse(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "md") || !strcmp(s, "markdown"))
        return REPORT_MARKDOWN;
    if (!strcmp(s, "html"))
        return REPORT_HTML;
    return -1;
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

void report_init(struct report *r, const char *node_id, int64_t from_ms, int64_t to_ms,
                 int64_t generated_ms)
{
    memset(r, 0, sizeof(*r));
    r->node_id = dup_str(node_id);
    r->from_ms = from_ms;
    r->to_ms = to_ms;
    r->generated_ms = generated_ms;
    for (size_t i = 0; i < REPORT_GROUPS; i++) {
        r->groups[i].title = group_names[i].title;
        r->groups[i].empty = group_names[i].empty;
        r->groups[i].section_label = group_names[i].section_label;
    }
}

static void anomaly_free_strings(struct anomaly *a)
{
    free((char *)a->anomaly_type);
    free((char *)a->component);
    free((char *)a->description);
    free((char *)a->detector);
    for (size_t i = 0; i < a->n_related; i++)
        free((char *)a->related_metrics[i].key);
    for (size_t i = 0; i < a->n_actions; i++)
        free((char *)a->suggested_actions[i]);
}

void report_done(struct report *r)
{
    if (!r)
        return;
    free(r->node_id);
    snapshot_unref(r->current);
    for (size_t g = 0; g < REPORT_GROUPS; g++) {
        for (size_t i = 0; i < r->groups[g].n_rows; i++) {
            free(r->groups[g].rows[i].section);
            free(r->groups[g].rows[i].figure);
            free(r->groups[g].rows[i].value);
        }
        free(r->groups[g].rows);
    }
    for (size_t i = 0; i < r->n_stats; i++) {
        free(r->stats[i].key);
        free(r->stats[i].t);
        free(r->stats[i].v);
    }
    free(r->stats);
    for (size_t i = 0; i < r->n_anomalies; i++)
        anomaly_free_strings(&r->anomalies[i]);
    free(r->anomalies);
    memset(r, 0, sizeof(*r));
}

/* ---- the current state ---- */

static int add_row(struct report_group *g, const char *section, const char *figure,
                   const char *value, const char *unit)
{
    struct report_row *row;

    if (g->n_rows == g->cap_rows) {
        size_t cap = g->cap_rows ? 2 * g->cap_rows : 16;
        struct report_row *nr = realloc(g->rows, cap * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        g->rows = nr;
        g->cap_rows = cap;
    }
    row = &g->rows[g->n_rows];
    row->section = dup_str(section);
    row->figure = dup_str(figure);
    row->value = dup_str(value);
    row->unit = unit;
    if ((section && !row->section) || !row->figure || !row->value) {
        free(row->section);
        free(row->figure);
        free(row->value);
        return -ENOMEM;
    }
    g->n_rows++;
    return 0;
}

static void fmt_num(char *buf, size_t len, double v, int decimals)
{
    struct strbuf tmp;

    strbuf_init(&tmp, 64);
    strbuf_json_num(&tmp, v, decimals);
    snprintf(buf, len, "%s", tmp.buf ? tmp.buf : "-");
    strbuf_done(&tmp);
}

static int add_num(struct report_group *g, const char *section, const char *figure, double v,
                   const char *unit, int decimals)
{
    char buf[64];

    if (!IS_SET(v))
        return 0;
    fmt_num(buf, sizeof(buf), v, decimals);
    return add_row(g, section, figure, buf, unit);
}

#define ROW(id, path, member, unit, kind, dec, help) \
    rc |= add_num(g, NULL, path, s->member, unit, dec);
#define MROW(id, path, member, unit, kind, dec, help) \
    rc |= add_num(g, sec, path, mi->member, unit, dec);
#define DROW(id, path, member, unit, kind, dec, help)                   \
    snprintf(fig, sizeof(fig), "%s{gpu=%" PRIu32 "}", path, gd->index); \
    rc |= add_num(g, sec, fig, gd->member, unit, dec);

static int current_groups(struct report *r, const struct snapshot *s)
{
    struct report_group *g;
    char fig[512], sec[512];
    int rc = 0;

    g = &r->groups[G_CPU];
    CPU_FIELDS(ROW)
    for (uint32_t i = 0; i < s->cpu.n_cores; i++) {
        snprintf(fig, sizeof(fig), "cpu.core_usage{core=%" PRIu32 "}", i);
        rc |= add_num(g, NULL, fig, s->cpu.core_usage[i], "percent", 2);
    }
    g = &r->groups[G_MEMORY];
    MEMORY_FIELDS(ROW)
    if (s->memory.gc_present) {
        GC_FIELDS(ROW)
    }
    for (size_t i = 0; i < s->memory.n_leak_indicators; i++)
        rc |= add_row(g, NULL, "memory.leak_indicators", s->memory.leak_indicators[i], "");
    if (s->memory.n_leak_indicators == 0 && g->n_rows)
        rc |= add_row(g, NULL, "memory.leak_indicators", "none", "");
    g = &r->groups[G_DISK];
    DISK_FIELDS(ROW)
    g = &r->groups[G_NETWORK];
    NETWORK_FIELDS(ROW)
    g = &r->groups[G_GPU];
    if (s->gpu_present) {
        GPU_FIELDS(ROW)
    }
    for (size_t d = 0; d < s->n_gpus; d++) {
        const struct gpu_device_metrics *gd = &s->gpus[d];
        snprintf(sec, sizeof(sec), "%" PRIu32 " %s (%s)", gd->index, gd->name ? gd->name : "",
                 gd->uuid ? gd->uuid : "no UUID");
        GPUS_FIELDS(DROW)
    }
    g = &r->groups[G_NODE];
    NODE_FIELDS(ROW)
    g = &r->groups[G_CONSENSUS];
    if (s->node.consensus_metrics.algorithm)
        rc |= add_row(g, NULL, "node.consensus_metrics.algorithm",
                      s->node.consensus_metrics.algorithm, "");
    CONSENSUS_FIELDS(ROW)
    g = &r->groups[G_CONTRACTS];
    CONTRACT_FIELDS(ROW)
    for (size_t i = 0; i < s->node.contract_metrics.function_calls.n; i++) {
        const struct kv_num *kv = &s->node.contract_metrics.function_calls.v[i];
        snprintf(fig, sizeof(fig), "node.contract_metrics.function_calls{function=%s}", kv->key);
        rc |= add_num(g, NULL, fig, kv->value, "count", 0);
    }
    g = &r->groups[G_MODELS];
    for (size_t m = 0; m < s->n_model_inference; m++) {
        const struct model_inference_metrics *mi = &s->model_inference[m];
        snprintf(sec, sizeof(sec), "%s (%s)", mi->model_name ? mi->model_name : "",
                 mi->model_type ? mi->model_type : "");
        MODEL_FIELDS(MROW)
        for (size_t i = 0; i < mi->layer_latencies.n; i++) {
            snprintf(fig, sizeof(fig), "model_inference.layer_latencies{layer=%s}",
                     mi->layer_latencies.v[i].key);
            rc |= add_num(g, sec, fig, mi->layer_latencies.v[i].value, "ms", 3);
        }
        if (mi->quantization_info)
            rc |= add_row(g, sec, "model_inference.quantization_info", mi->quantization_info, "");
        rc |= add_row(g, sec, "model_inference.quantum_accelerated",
                      mi->quantum_accelerated ? "true" : "false", "");
    }
    g = &r->groups[G_QUANTUM];
    if (s->quantum_present) {
        QUANTUM_FIELDS(ROW)
        if (s->quantum.simulation_present) {
            QSIM_FIELDS(ROW)
        }
    }
    return rc ? -ENOMEM : 0;
}

/* ---- the node's custom series (live only) ---- */

struct custom_rows {
    struct report_group *g;
    size_t total;
    struct strbuf fig;
    int rc;
};

static void custom_row(void *ctx, const struct agg_series_info *i)
{
    struct custom_rows *c = ctx;
    struct custom_value v;
    char val[96];

    if (c->total++ >= REPORT_MAX_CUSTOM || c->rc)
        return;
    custom_value_of(i, &v);
    strbuf_reset(&c->fig);
    custom_figure(&c->fig, i);
    fmt_num(val, sizeof(val), v.value, 6);
    if (v.count) {
        size_t n = strlen(val);
        snprintf(val + n, sizeof(val) - n, " (mean of %" PRIu64 ")", v.count);
    }
    if (c->fig.overflow || !c->fig.buf)
        c->rc = -ENOMEM;
    else
        c->rc = add_row(c->g, NULL, c->fig.buf, val, v.unit ? v.unit : v.kind);
}

static int custom_groups(struct report *r, struct agg *a)
{
    struct custom_rows c = {.g = &r->groups[G_CUSTOM]};
    char more[96];

    c.g->empty = "none sent by the node";
    strbuf_init(&c.fig, AGG_KEY_MAX * 4);
    agg_foreach(a, custom_row, &c);
    strbuf_done(&c.fig);
    if (c.rc == 0 && c.total > REPORT_MAX_CUSTOM) {
        snprintf(more, sizeof(more), "%zu more series: GET /api/v1/custom",
                 c.total - REPORT_MAX_CUSTOM);
        c.rc = add_row(c.g, NULL, "…", more, "");
    }
    return c.rc ? -ENOMEM : 0;
}

int report_set_current(struct report *r, struct snapshot *snap)
{
    snapshot_unref(r->current);
    r->current = snapshot_ref(snap);
    if (!r->node_id && snap->node_id)
        r->node_id = dup_str(snap->node_id);
    return current_groups(r, snap);
}

/* ---- history: one summary per series ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int report_add_stat(struct report *r, const char *key, const struct series_desc *desc,
                    const double *t, const double *v, size_t n, double lo, double hi)
{
    struct report_stat *st;
    double *sorted;

    if (r->n_stats >= REPORT_MAX_STATS)
        return 0;
    if (r->n_stats == r->cap_stats) {
        size_t cap = r->cap_stats ? 2 * r->cap_stats : 64;
        struct report_stat *ns = realloc(r->stats, cap * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        r->stats = ns;
        r->cap_stats = cap;
    }
    st = &r->stats[r->n_stats];
    memset(st, 0, sizeof(*st));
    st->key = strdup(key);
    st->desc = desc;
    st->t = malloc((n ? n : 1) * sizeof(double));
    st->v = malloc((n ? n : 1) * sizeof(double));
    sorted = malloc((n ? n : 1) * sizeof(double));
    if (!st->key || !st->t || !st->v || !sorted) {
        free(st->key);
        free(st->t);
        free(st->v);
        free(sorted);
        return -ENOMEM;
    }
    if (n) {
        memcpy(st->t, t, n * sizeof(double));
        memcpy(st->v, v, n * sizeof(double));
        memcpy(sorted, v, n * sizeof(double));
    }
    st->n = n;
    st->min = st->mean = st->p95 = st->max = st->slope_per_hour = NAN;
    if (n) {
        double sum = 0, tm = 0, vm, sxx = 0, sxy = 0;
        size_t rank;

        qsort(sorted, n, sizeof(double), cmp_double);
        for (size_t i = 0; i < n; i++)
            sum += v[i];
        st->mean = sum / (double)n;
        /* nearest rank: the smallest value with at least 95 % of the points at or under it */
        rank = (size_t)ceil(0.95 * (double)n);
        st->p95 = sorted[rank ? rank - 1 : 0];
        st->min = IS_SET(lo) ? lo : sorted[0];
        st->max = IS_SET(hi) ? hi : sorted[n - 1];
        if (n >= 2) {
            for (size_t i = 0; i < n; i++)
                tm += (t[i] - t[0]) / 3600.0;
            tm /= (double)n;
            vm = st->mean;
            for (size_t i = 0; i < n; i++) {
                double x = (t[i] - t[0]) / 3600.0 - tm;
                sxx += x * x;
                sxy += x * (v[i] - vm);
            }
            st->slope_per_hour = sxx > 0 ? sxy / sxx : NAN;
        }
    }
    free(sorted);
    for (size_t i = 0; i < N_CHARTED; i++)
        if (!strcmp(key, charted[i]))
            st->chart = true;
    r->n_stats++;
    return 0;
}

/* The gauges of the newest snapshot: the series to summarise. */
struct key_list {
    struct {
        char *key;
        const struct series_desc *desc;
    } * v;
    size_t n, cap;
    bool oom;
};

static void collect_key(void *ctx, const struct series_desc *d, const struct series_label *labels,
                        size_t n, double value)
{
    struct key_list *kl = ctx;
    char key[512];

    (void)value;
    /* counters only grow: their spread says nothing; predictions have their own section */
    if (d->kind == SERIES_COUNTER || !strcmp(d->name, "neural_predictions") ||
        kl->n >= REPORT_MAX_STATS)
        return;
    if (snapshot_series_key(key, sizeof(key), d, labels, n) < 0)
        return;
    if (kl->n == kl->cap) {
        size_t cap = kl->cap ? 2 * kl->cap : 128;
        void *nv = realloc(kl->v, cap * sizeof(*kl->v));
        if (!nv) {
            kl->oom = true;
            return;
        }
        kl->v = nv;
        kl->cap = cap;
    }
    kl->v[kl->n].key = strdup(key);
    kl->v[kl->n].desc = d;
    if (!kl->v[kl->n].key) {
        kl->oom = true;
        return;
    }
    kl->n++;
}

static void key_list_done(struct key_list *kl)
{
    for (size_t i = 0; i < kl->n; i++)
        free(kl->v[i].key);
    free(kl->v);
}

struct points {
    double *t, *v;
    size_t n, cap;
    double lo, hi;
    bool oom;
};

static void points_add(struct points *p, double t, double v)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        double *nt = realloc(p->t, cap * sizeof(double)), *nv;
        if (!nt) {
            p->oom = true;
            return;
        }
        p->t = nt;
        nv = realloc(p->v, cap * sizeof(double));
        if (!nv) {
            p->oom = true;
            return;
        }
        p->v = nv;
        p->cap = cap;
    }
    p->t[p->n] = t;
    p->v[p->n] = v;
    p->n++;
}

static void on_avg(void *ctx, const struct store_point *pt)
{
    if (isfinite(pt->value))
        points_add(ctx, (double)pt->ts_ms / 1000.0, pt->value);
}

static void on_min(void *ctx, const struct store_point *pt)
{
    struct points *p = ctx;

    if (isfinite(pt->value) && (!IS_SET(p->lo) || pt->value < p->lo))
        p->lo = pt->value;
}

static void on_max(void *ctx, const struct store_point *pt)
{
    struct points *p = ctx;

    if (isfinite(pt->value) && (!IS_SET(p->hi) || pt->value > p->hi))
        p->hi = pt->value;
}

static int64_t step_for(int64_t from_ms, int64_t to_ms)
{
    int64_t span = to_ms > from_ms ? to_ms - from_ms : 0;
    int64_t step = (span + REPORT_MAX_POINTS - 1) / REPORT_MAX_POINTS;

    /* whole seconds, at least one */
    step = (step + 999) / 1000 * 1000;
    return step < 1000 ? 1000 : step;
}

static int history_from_store(struct report *r, struct store *st, const struct key_list *kl)
{
    int rc = 0;

    for (size_t i = 0; i < kl->n && rc == 0; i++) {
        struct points p = {.lo = NAN, .hi = NAN};
        long n = store_query(st, kl->v[i].key, r->from_ms, r->to_ms, r->step_ms, AGG_AVG, NULL,
                             on_avg, &p);
        if (n > 0) {
            store_query(st, kl->v[i].key, r->from_ms, r->to_ms, r->step_ms, AGG_MIN, NULL, on_min,
                        &p);
            store_query(st, kl->v[i].key, r->from_ms, r->to_ms, r->step_ms, AGG_MAX, NULL, on_max,
                        &p);
        }
        if (p.oom)
            rc = -ENOMEM;
        else if (p.n)
            rc = report_add_stat(r, kl->v[i].key, kl->v[i].desc, p.t, p.v, p.n, p.lo, p.hi);
        free(p.t);
        free(p.v);
    }
    return rc;
}

/* The in-memory history, averaged into steps like the database does. */
struct bucketing {
    const struct key_list *kl;
    double (*sum)[REPORT_MAX_POINTS + 1];
    uint32_t (*cnt)[REPORT_MAX_POINTS + 1];
    double *lo, *hi;
    size_t bucket;
};

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void bucket_one(void *ctx, const struct series_desc *d, const struct series_label *labels,
                       size_t n, double value)
{
    struct bucketing *b = ctx;
    char key[512];
    const char *kp = key;
    const void *hit;
    size_t i;

    if (d->kind == SERIES_COUNTER || snapshot_series_key(key, sizeof(key), d, labels, n) < 0)
        return;
    hit = bsearch(&kp, b->kl->v, b->kl->n, sizeof(b->kl->v[0]), cmp_key);
    if (!hit)
        return;
    i = (size_t)((const char *)hit - (const char *)b->kl->v) / sizeof(b->kl->v[0]);
    b->sum[i][b->bucket] += value;
    b->cnt[i][b->bucket]++;
    if (!IS_SET(b->lo[i]) || value < b->lo[i])
        b->lo[i] = value;
    if (!IS_SET(b->hi[i]) || value > b->hi[i])
        b->hi[i] = value;
}

static int history_from_memory(struct report *r, struct monitor *m, struct key_list *kl)
{
    size_t cap = 100000, n;
    struct snapshot **list = malloc(cap * sizeof(*list));
    struct bucketing b = {kl, NULL, NULL, NULL, NULL, 0};
    size_t used = 0;
    int rc = -ENOMEM;

    /* sorted for the lookups; the summary then lists them in this order */
    qsort(kl->v, kl->n, sizeof(kl->v[0]), cmp_key);
    b.sum = calloc(kl->n ? kl->n : 1, sizeof(*b.sum));
    b.cnt = calloc(kl->n ? kl->n : 1, sizeof(*b.cnt));
    b.lo = malloc((kl->n ? kl->n : 1) * sizeof(double));
    b.hi = malloc((kl->n ? kl->n : 1) * sizeof(double));
    if (!list || !b.sum || !b.cnt || !b.lo || !b.hi)
        goto out;
    for (size_t i = 0; i < kl->n; i++)
        b.lo[i] = b.hi[i] = NAN;
    n = monitor_history(m, cap, list);
    for (size_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)list[i]->timestamp_ms;
        if (ts >= r->from_ms && ts <= r->to_ms) {
            b.bucket = (size_t)((ts - r->from_ms) / r->step_ms);
            if (b.bucket > REPORT_MAX_POINTS)
                b.bucket = REPORT_MAX_POINTS;
            snapshot_flatten(list[i], bucket_one, &b);
            used++;
        }
        snapshot_unref(list[i]);
    }
    rc = 0;
    for (size_t i = 0; used && i < kl->n && rc == 0; i++) {
        double t[REPORT_MAX_POINTS + 1], v[REPORT_MAX_POINTS + 1];
        size_t k = 0;
        for (size_t j = 0; j <= REPORT_MAX_POINTS; j++) {
            if (!b.cnt[i][j])
                continue;
            t[k] = (double)(r->from_ms + (int64_t)j * r->step_ms) / 1000.0;
            v[k++] = b.sum[i][j] / b.cnt[i][j];
        }
        if (k)
            rc = report_add_stat(r, kl->v[i].key, kl->v[i].desc, t, v, k, b.lo[i], b.hi[i]);
    }
out:
    free(list);
    free(b.sum);
    free(b.cnt);
    free(b.lo);
    free(b.hi);
    return rc;
}

/* ---- anomalies ---- */

int report_add_anomaly(struct report *r, const struct anomaly *a)
{
    struct anomaly *c;
    bool oom = false;

    for (size_t i = 0; a->id[0] && i < r->n_anomalies; i++)
        if (!strcmp(r->anomalies[i].id, a->id)) {
            /* the same anomaly from the log and from the database: keep the newer state */
            if (a->updated_at_ms <= r->anomalies[i].updated_at_ms)
                return 0;
            anomaly_free_strings(&r->anomalies[i]);
            c = &r->anomalies[i];
            goto copy;
        }
    if (r->n_anomalies == r->cap_anomalies) {
        size_t cap = r->cap_anomalies ? 2 * r->cap_anomalies : 32;
        struct anomaly *na = realloc(r->anomalies, cap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        r->anomalies = na;
        r->cap_anomalies = cap;
    }
    c = &r->anomalies[r->n_anomalies++];
copy:
    *c = *a;
    c->anomaly_type = dup_str(a->anomaly_type ? a->anomaly_type : "");
    c->component = dup_str(a->component ? a->component : "");
    c->description = dup_str(a->description ? a->description : "");
    c->detector = dup_str(a->detector ? a->detector : "");
    oom = !c->anomaly_type || !c->component || !c->description || !c->detector;
    for (size_t i = 0; i < c->n_related; i++) {
        c->related_metrics[i].key =
            dup_str(a->related_metrics[i].key ? a->related_metrics[i].key : "");
        oom |= !c->related_metrics[i].key;
    }
    for (size_t i = 0; i < c->n_actions; i++) {
        c->suggested_actions[i] = dup_str(a->suggested_actions[i] ? a->suggested_actions[i] : "");
        oom |= !c->suggested_actions[i];
    }
    return oom ? -ENOMEM : 0;
}

static int64_t detected_ms(const struct anomaly *a)
{
    return a->detected_at_ms ? (int64_t)a->detected_at_ms : (int64_t)a->detected_at * 1000;
}

static int cmp_anomaly(const void *x, const void *y)
{
    const struct anomaly *a = x, *b = y;

    if (a->severity != b->severity)
        return a->severity > b->severity ? -1 : 1;
    if (detected_ms(a) != detected_ms(b))
        return detected_ms(a) > detected_ms(b) ? -1 : 1;
    return strcmp(a->id, b->id);
}

void report_sort_anomalies(struct report *r)
{
    if (r->n_anomalies > 1)
        qsort(r->anomalies, r->n_anomalies, sizeof(*r->anomalies), cmp_anomaly);
    if (r->anomalies_total < r->n_anomalies)
        r->anomalies_total = r->n_anomalies;
    while (r->n_anomalies > REPORT_MAX_ANOMALIES)
        anomaly_free_strings(&r->anomalies[--r->n_anomalies]);
}

struct anomaly_in {
    struct report *r;
    int rc;
};

/* Open at some time in [from, to]: detected by its end, and not resolved before its start. */
static void anomaly_in_range(void *ctx, const struct anomaly *a)
{
    struct anomaly_in *c = ctx;

    if (detected_ms(a) > c->r->to_ms ||
        (a->resolved_at_ms && (int64_t)a->resolved_at_ms < c->r->from_ms))
        return;
    if (report_add_anomaly(c->r, a) < 0)
        c->rc = -ENOMEM;
}

/* ---- alert delivery, from the outbox tables ---- */

static struct report_channel *channel_of(struct report *r, const char *name)
{
    for (size_t i = 0; i < r->n_channels; i++)
        if (!strcmp(r->channels[i].name, name))
            return &r->channels[i];
    if (r->n_channels == REPORT_MAX_CHANNELS)
        return NULL;
    snprintf(r->channels[r->n_channels].name, sizeof(r->channels[0].name), "%s", name);
    return &r->channels[r->n_channels++];
}

/* The notifications created in the range, and those still pending, per channel and state. */
static void alerts_from_db(struct report *r, const char *path)
{
    static const char sql[] = "SELECT channel, state, count(*) FROM alert_outbox"
                              " WHERE (created_ms >= ?1 AND created_ms <= ?2) OR state = 'pending'"
                              " GROUP BY channel, state ORDER BY channel";
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        goto out; /* no outbox table: alerting never ran with this database */
    sqlite3_bind_int64(q, 1, r->from_ms);
    sqlite3_bind_int64(q, 2, r->to_ms);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *ch = (const char *)sqlite3_column_text(q, 0);
        const char *state = (const char *)sqlite3_column_text(q, 1);
        uint64_t n = (uint64_t)sqlite3_column_int64(q, 2);
        struct report_channel *c = channel_of(r, ch ? ch : "");
        if (!c || !state)
            continue;
        if (!strcmp(state, "sent"))
            c->sent += n;
        else if (!strcmp(state, "failed"))
            c->failed += n;
        else if (!strcmp(state, "pending"))
            c->pending += n;
    }
    r->alerts_known = true;
    r->alerts_source = "the alert outbox in the history database";
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void alerts_from_dispatch(struct report *r, struct alert_dispatch *d)
{
    struct alert_channel_stats st[ALERT_DISPATCH_MAX_CHANNELS];
    size_t n = alert_dispatch_stats(d, st);

    for (size_t i = 0; i < n; i++) {
        struct report_channel *c = channel_of(r, st[i].name ? st[i].name : "");
        if (!c)
            continue;
        c->sent = st[i].sent;
        c->failed = st[i].failed;
        c->pending = st[i].pending > 0 ? (uint64_t)st[i].pending : 0;
    }
    r->alerts_known = true;
    r->alerts_source = "the alert dispatcher (since the daemon started)";
}

/* ---- building ---- */

struct newest {
    struct snapshot *s;
};

static void keep_newest(void *ctx, const struct snapshot *snap)
{
    struct newest *n = ctx;

    snapshot_unref(n->s);
    n->s = snapshot_ref((struct snapshot *)snap);
}

/* The time of the oldest snapshot in the report's range (0: none). */
static int64_t oldest_in_range(const struct report *r, const struct report_source *src)
{
    int64_t first = 0;

    if (src->store) {
        struct newest nw = {NULL};
        store_history(src->store, r->from_ms, r->to_ms, 1, true, src->node_id, keep_newest, &nw,
                      NULL);
        if (nw.s)
            first = (int64_t)nw.s->timestamp_ms;
        snapshot_unref(nw.s);
    } else if (src->mon) {
        size_t cap = 100000, n;
        struct snapshot **list = malloc(cap * sizeof(*list));
        n = list ? monitor_history(src->mon, cap, list) : 0;
        for (size_t i = 0; i < n; i++) {
            int64_t ts = (int64_t)list[i]->timestamp_ms;
            if (ts >= r->from_ms && ts <= r->to_ms && (!first || ts < first))
                first = ts;
            snapshot_unref(list[i]);
        }
        free(list);
    }
    return first;
}

int report_build(struct report *r, const struct report_source *src)
{
    int64_t first;
    struct key_list kl = {0};
    struct snapshot *cur = NULL;
    struct anomaly_in ai = {r, 0};
    int rc = 0;

    /* less history than the range: the range is what there is */
    first = oldest_in_range(r, src);
    if (first > r->from_ms)
        r->from_ms = first;
    r->step_ms = step_for(r->from_ms, r->to_ms);
    if (src->mon)
        cur = monitor_current(src->mon);
    if (!cur && src->store) {
        struct newest nw = {NULL};
        store_history(src->store, 0, r->to_ms, 1, false, src->node_id, keep_newest, &nw, NULL);
        cur = nw.s;
    }
    if (cur) {
        rc = report_set_current(r, cur);
        if (rc == 0)
            snapshot_flatten(cur, collect_key, &kl);
        snapshot_unref(cur);
        if (kl.oom)
            rc = -ENOMEM;
    }
    if (rc == 0 && src->store) {
        r->history_source = "the history database";
        rc = history_from_store(r, src->store, &kl);
    } else if (rc == 0 && src->mon) {
        r->history_source = "the history kept in memory";
        rc = history_from_memory(r, src->mon, &kl);
    }
    key_list_done(&kl);
    if (rc == 0 && src->agg)
        rc = custom_groups(r, src->agg);
    if (rc < 0)
        return rc;
    if (src->mon)
        anomaly_log_foreach(monitor_anomalies(src->mon), 1, SIZE_MAX, anomaly_in_range, &ai);
    if (src->store && ai.rc == 0)
        store_anomalies(src->store, MAX_ANOMALIES_READ, anomaly_in_range, &ai);
    if (ai.rc < 0)
        return ai.rc;
    r->anomalies_total = r->n_anomalies;
    report_sort_anomalies(r);
    if (src->db_path)
        alerts_from_db(r, src->db_path);
    if (!r->alerts_known && src->alerts)
        alerts_from_dispatch(r, src->alerts);
    return 0;
}

int report_markdown(struct monitor *m, struct strbuf *out)
{
    struct report_source src = {.mon = m};
    struct timespec ts;
    struct report r;
    int64_t now;
    int rc;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    report_init(&r, NULL, now - 3600 * 1000, now, now);
    rc = report_build(&r, &src);
    if (rc == 0)
        rc = report_render_markdown(&r, out);
    report_done(&r);
    return rc;
}

/* ---- rendering helpers ---- */

static void put_time(struct strbuf *out, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];

    if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
        strbuf_puts(out, buf);
    else
        strbuf_printf(out, "%" PRId64, ms / 1000);
}

static void put_num(struct strbuf *out, double v, int decimals)
{
    if (!IS_SET(v) || !isfinite(v))
        strbuf_puts(out, "n/a");
    else
        strbuf_json_num(out, v, decimals);
}

/* Bytes of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Copies s with control characters as spaces and invalid UTF-8 as U+FFFD,
 * calling esc for every ASCII byte (it writes the byte or its escape). */
static void put_clean(struct strbuf *out, const char *s, void (*esc)(struct strbuf *, char))
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0) {
            strbuf_puts(out, "\xef\xbf\xbd");
            p++;
        } else if (n > 1) {
            strbuf_append(out, (const char *)p, n);
            p += n;
        } else {
            esc(out, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
            p++;
        }
    }
}

/* ---- Markdown ---- */

/* Free text (headings, list items, table cells): what could start markup or
 * HTML, or end a table cell, is backslash-escaped. */
static void md_esc(struct strbuf *out, char c)
{
    if (strchr("\\`*<>|&[]", c))
        strbuf_putc(out, '\\');
    strbuf_putc(out, c);
}

static void md_text(struct strbuf *out, const char *s)
{
    put_clean(out, s, md_esc);
}

/* A pipe ends a table cell even in a code span unless escaped (GFM). */
static void md_code_esc(struct strbuf *out, char c)
{
    if (c == '|')
        strbuf_putc(out, '\\');
    strbuf_putc(out, c);
}

/* A code span: nothing inside is markup or HTML. Delimited by one backtick
 * more than the longest run inside, padded when s starts or ends with one. */
static void md_code(struct strbuf *out, const char *s)
{
    size_t run = 0, longest = 0, len = strlen(s);
    bool pad = len && (s[0] == '`' || s[len - 1] == '`');

    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    for (size_t i = 0; i <= longest; i++)
        strbuf_putc(out, '`');
    if (pad)
        strbuf_putc(out, ' ');
    put_clean(out, s, md_code_esc);
    if (pad)
        strbuf_putc(out, ' ');
    for (size_t i = 0; i <= longest; i++)
        strbuf_putc(out, '`');
}

static const char *trend_word(const struct report_stat *st)
{
    double span_h, change;

    if (st->n < 2 || !IS_SET(st->slope_per_hour))
        return "n/a";
    span_h = (st->t[st->n - 1] - st->t[0]) / 3600.0;
    change = st->slope_per_hour * span_h;
    /* a change over the range under 5 % of the spread (or none at all) is flat */
    if (!(st->max > st->min) || fabs(change) < 0.05 * (st->max - st->min))
        return "flat";
    return change > 0 ? "rising" : "falling";
}

static int stat_decimals(const struct report_stat *st)
{
    int d = st->desc ? st->desc->decimals : 3;

    return d < 2 ? 2 : d;
}

static void md_header(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "# Performance Monitoring Report\n\n- Node ID: ");
    md_text(out, r->node_id ? r->node_id : "unknown");
    strbuf_puts(out, "\n- Range: ");
    put_time(out, r->from_ms);
    strbuf_puts(out, " to ");
    put_time(out, r->to_ms);
    strbuf_puts(out, "\n- Generated: ");
    put_time(out, r->generated_ms);
    strbuf_putc(out, '\n');
}

static void md_current(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "\n## Current System State\n\n");
    if (!r->current) {
        strbuf_puts(out, "No snapshot yet.\n");
        return;
    }
    strbuf_puts(out, "Snapshot: ");
    put_time(out, (int64_t)r->current->timestamp_ms);
    strbuf_printf(out, " (%" PRIu64 ")\n", r->current->timestamp);
    for (size_t g = 0; g < REPORT_GROUPS; g++) {
        const struct report_group *gr = &r->groups[g];
        const char *sec = NULL;
        strbuf_printf(out, "\n### %s\n\n", gr->title);
        if (gr->n_rows == 0) {
            strbuf_printf(out, "%s%s.\n", gr->empty[0] == 'n' ? "N" : "", gr->empty + 1);
            continue;
        }
        for (size_t i = 0; i < gr->n_rows; i++) {
            const struct report_row *row = &gr->rows[i];
            if (i == 0 || (row->section && (!sec || strcmp(sec, row->section)))) {
                if (row->section) {
                    strbuf_printf(out, "%s#### %s: ", i ? "\n" : "",
                                  gr->section_label ? gr->section_label : "Part");
                    md_text(out, row->section);
                    strbuf_puts(out, "\n\n");
                }
                strbuf_puts(out, "| figure | value | unit |\n|---|---:|---|\n");
                sec = row->section;
            }
            strbuf_puts(out, "| ");
            md_code(out, row->figure);
            strbuf_puts(out, " | ");
            md_text(out, row->value);
            strbuf_printf(out, " | %s |\n", row->unit);
        }
    }
}

static void md_history(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "\n## History Summary\n\n");
    if (r->n_stats == 0) {
        strbuf_printf(out, "No history in the range%s.\n",
                      r->history_source ? "" : " (no history source)");
        return;
    }
    strbuf_printf(out,
                  "%zu series from %s, in steps of %" PRId64
                  " s (step averages; min and max over every sample).\n\n",
                  r->n_stats, r->history_source, r->step_ms / 1000);
    strbuf_puts(out,
                "| series | min | mean | p95 | max | unit | trend | slope per hour | points |\n"
                "|---|---:|---:|---:|---:|---|---|---:|---:|\n");
    for (size_t i = 0; i < r->n_stats; i++) {
        const struct report_stat *st = &r->stats[i];
        int d = stat_decimals(st);
        strbuf_puts(out, "| ");
        md_code(out, st->key);
        strbuf_puts(out, " | ");
        put_num(out, st->min, d);
        strbuf_puts(out, " | ");
        put_num(out, st->mean, d);
        strbuf_puts(out, " | ");
        put_num(out, st->p95, d);
        strbuf_puts(out, " | ");
        put_num(out, st->max, d);
        strbuf_printf(out, " | %s | %s | ", st->desc ? st->desc->unit : "", trend_word(st));
        put_num(out, st->slope_per_hour, d);
        strbuf_printf(out, " | %zu |\n", st->n);
    }
}

static void md_anomalies(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "\n## Top Anomalies\n\n");
    if (r->n_anomalies == 0) {
        strbuf_puts(out, "None detected.\n");
        return;
    }
    strbuf_printf(out, "%zu of %zu in the range, by severity then recency.\n\n", r->n_anomalies,
                  r->anomalies_total);
    for (size_t i = 0; i < r->n_anomalies; i++) {
        const struct anomaly *a = &r->anomalies[i];
        strbuf_puts(out, "### ");
        md_text(out, a->anomaly_type);
        strbuf_printf(out, " (Severity: %u)\n\n- Component: ", a->severity);
        md_text(out, a->component);
        strbuf_puts(out, "\n- Detected: ");
        put_time(out, detected_ms(a));
        strbuf_printf(out, "\n- Status: %s", anomaly_open(a) ? "open" : "resolved");
        if (!anomaly_open(a)) {
            strbuf_puts(out, " at ");
            put_time(out, (int64_t)a->resolved_at_ms);
        }
        if (a->detector && *a->detector) {
            strbuf_puts(out, "\n- Detector: ");
            md_text(out, a->detector);
        }
        strbuf_puts(out, "\n- Description: ");
        md_text(out, a->description);
        strbuf_putc(out, '\n');
        if (a->n_related) {
            strbuf_puts(out, "- Related metrics:");
            for (size_t j = 0; j < a->n_related; j++) {
                strbuf_puts(out, j ? ", " : " ");
                md_code(out, a->related_metrics[j].key);
                strbuf_puts(out, " = ");
                put_num(out, a->related_metrics[j].value, 3);
            }
            strbuf_putc(out, '\n');
        }
        strbuf_putc(out, '\n');
        if (a->n_actions) {
            strbuf_puts(out, "#### Suggested Actions\n\n");
            for (size_t j = 0; j < a->n_actions; j++) {
                strbuf_puts(out, "- ");
                md_text(out, a->suggested_actions[j]);
                strbuf_putc(out, '\n');
            }
            strbuf_putc(out, '\n');
        }
    }
}

static void md_alerts(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "\n## Alert Delivery\n\n");
    if (!r->alerts_known) {
        strbuf_puts(out, "No alert delivery recorded (alerting off, or no outbox yet).\n");
        return;
    }
    strbuf_printf(out, "From %s.\n\n", r->alerts_source);
    if (r->n_channels == 0) {
        strbuf_puts(out, "No notification in the range.\n");
        return;
    }
    strbuf_puts(out, "| channel | sent | failed | pending |\n|---|---:|---:|---:|\n");
    for (size_t i = 0; i < r->n_channels; i++) {
        const struct report_channel *c = &r->channels[i];
        strbuf_puts(out, "| ");
        md_text(out, c->name);
        strbuf_printf(out, " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n", c->sent, c->failed,
                      c->pending);
    }
}

static void md_predictions(const struct report *r, struct strbuf *out)
{
    const struct kv_map *p = r->current ? &r->current->neural_predictions : NULL;

    strbuf_puts(out, "\n## Predictions\n\n");
    if (!p || p->n == 0) {
        strbuf_puts(out, "None yet (the learned models are warming up, or nothing to predict).\n");
        return;
    }
    strbuf_puts(out, "| prediction | value |\n|---|---:|\n");
    for (size_t i = 0; i < p->n; i++) {
        strbuf_puts(out, "| ");
        md_code(out, p->v[i].key);
        strbuf_puts(out, " | ");
        put_num(out, p->v[i].value, 4);
        strbuf_puts(out, " |\n");
    }
}

int report_render_markdown(const struct report *r, struct strbuf *out)
{
    md_header(r, out);
    md_current(r, out);
    md_history(r, out);
    md_anomalies(r, out);
    md_alerts(r, out);
    md_predictions(r, out);
    return out->overflow ? -ENOSPC : 0;
}

/* ---- HTML ---- */

static void h(struct strbuf *out, const char *s)
{
    put_clean(out, s, strbuf_html_putc);
}

static const char css[] =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;"
    "padding:0 1em}"
    "h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;margin-top:2em}h3{margin-top:1.4em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{font-family:ui-monospace,monospace;word-break:break-all}"
    ".meta{color:#555}.sev{font-weight:bold}.sev4,.sev5{color:#b00}.sev3{color:#c60}"
    ".charts{display:flex;flex-wrap:wrap;gap:1em}"
    ".chart{border:1px solid #ddd;padding:.4em}.chart svg{display:block}"
    ".anomaly{border-left:4px solid #c60;padding-left:1em;margin:1em 0}"
    "@media print{body{margin:0;max-width:none;font-size:10pt}"
    "h2{page-break-after:avoid}table,.chart,.anomaly{page-break-inside:avoid}"
    "a{color:inherit;text-decoration:none}}";

static void html_header(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>Performance Monitoring Report: ");
    h(out, r->node_id ? r->node_id : "unknown");
    strbuf_printf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
    strbuf_puts(out, "<h1>Performance Monitoring Report</h1>\n<ul class=\"meta\">\n<li>Node ID: ");
    h(out, r->node_id ? r->node_id : "unknown");
    strbuf_puts(out, "</li>\n<li>Range: ");
    put_time(out, r->from_ms);
    strbuf_puts(out, " to ");
    put_time(out, r->to_ms);
    strbuf_puts(out, "</li>\n<li>Generated: ");
    put_time(out, r->generated_ms);
    strbuf_puts(out, "</li>\n</ul>\n");
}

static void html_current(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "<h2 id=\"current\">Current System State</h2>\n");
    if (!r->current) {
        strbuf_puts(out, "<p>No snapshot yet.</p>\n");
        return;
    }
    strbuf_puts(out, "<p>Snapshot: ");
    put_time(out, (int64_t)r->current->timestamp_ms);
    strbuf_puts(out, "</p>\n");
    for (size_t g = 0; g < REPORT_GROUPS; g++) {
        const struct report_group *gr = &r->groups[g];
        const char *sec = NULL;
        bool open = false;
        strbuf_printf(out, "<h3>%s</h3>\n", gr->title);
        if (gr->n_rows == 0) {
            strbuf_printf(out, "<p>%s%s.</p>\n", gr->empty[0] == 'n' ? "N" : "", gr->empty + 1);
            continue;
        }
        for (size_t i = 0; i < gr->n_rows; i++) {
            const struct report_row *row = &gr->rows[i];
            if (i == 0 || (row->section && (!sec || strcmp(sec, row->section)))) {
                if (open)
                    strbuf_puts(out, "</tbody></table>\n");
                if (row->section) {
                    strbuf_printf(out, "<h4>%s: ", gr->section_label ? gr->section_label : "Part");
                    h(out, row->section);
                    strbuf_puts(out, "</h4>\n");
                }
                strbuf_puts(out, "<table><thead><tr><th>figure</th><th>value</th><th>unit</th>"
                                 "</tr></thead><tbody>\n");
                open = true;
                sec = row->section;
            }
            strbuf_puts(out, "<tr><td><code>");
            h(out, row->figure);
            strbuf_puts(out, "</code></td><td class=\"n\">");
            h(out, row->value);
            strbuf_puts(out, "</td><td>");
            h(out, row->unit);
            strbuf_puts(out, "</td></tr>\n");
        }
        strbuf_puts(out, "</tbody></table>\n");
    }
}

/* A line chart of a series' step averages, 600 x 150, with its range written on it. */
static void html_chart(const struct report *r, const struct report_stat *st, struct strbuf *out)
{
    const double w = 600, ht = 150, left = 60, right = 10, top = 20, bottom = 20;
    double t0 = (double)r->from_ms / 1000.0, t1 = (double)r->to_ms / 1000.0;
    double lo = st->min, hi = st->max;
    int d = stat_decimals(st);

    if (st->n == 0)
        return;
    if (!(hi > lo)) {
        lo -= 1;
        hi += 1;
    }
    if (!(t1 > t0))
        t1 = t0 + 1;
    strbuf_puts(out, "<div class=\"chart\"><div><code>");
    h(out, st->key);
    strbuf_printf(out, "</code> (%s)</div>\n", st->desc ? st->desc->unit : "");
    strbuf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                  w, ht, w, ht);
    h(out, st->key);
    strbuf_puts(out, "\">");
    strbuf_printf(out,
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" "
                  "stroke=\"#ccc\"/>",
                  left, top, w - left - right, ht - top - bottom);
    strbuf_printf(out, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">",
                  left - 4, top + 4);
    put_num(out, hi, d);
    strbuf_printf(out, "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">",
                  left - 4, ht - bottom);
    put_num(out, lo, d);
    strbuf_printf(out, "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">", left,
                  ht - bottom + 14);
    put_time(out, r->from_ms);
    strbuf_printf(out, "</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">",
                  w - right, ht - bottom + 14);
    put_time(out, r->to_ms);
    strbuf_puts(out, "</text>");
    strbuf_puts(out, st->n == 1 ? "<circle r=\"3\" fill=\"#1565c0\" "
                                : "<polyline fill=\"none\" "
                                  "stroke=\"#1565c0\" "
                                  "stroke-width=\"1.5\" ");
    if (st->n == 1) {
        strbuf_printf(out, "cx=\"%.1f\" cy=\"%.1f\"/>",
                      left + (st->t[0] - t0) / (t1 - t0) * (w - left - right),
                      ht - bottom - (st->v[0] - lo) / (hi - lo) * (ht - top - bottom));
    } else {
        strbuf_puts(out, "points=\"");
        for (size_t i = 0; i < st->n; i++) {
            double x = left + (st->t[i] - t0) / (t1 - t0) * (w - left - right);
            double y = ht - bottom - (st->v[i] - lo) / (hi - lo) * (ht - top - bottom);
            x = x < left ? left : x > w - right ? w - right : x;
            strbuf_printf(out, "%s%.1f,%.1f", i ? " " : "", x, y);
        }
        strbuf_puts(out, "\"/>");
    }
    strbuf_puts(out, "</svg></div>\n");
}

static void html_history(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "<h2 id=\"history\">History Summary</h2>\n");
    if (r->n_stats == 0) {
        strbuf_puts(out, "<p>No history in the range.</p>\n");
        return;
    }
    strbuf_printf(out,
                  "<p>%zu series from %s, in steps of %" PRId64
                  " s (step averages; min and max over every sample).</p>\n",
                  r->n_stats, r->history_source, r->step_ms / 1000);
    strbuf_puts(out, "<div class=\"charts\">\n");
    for (size_t c = 0; c < N_CHARTED; c++)
        for (size_t i = 0; i < r->n_stats; i++)
            if (r->stats[i].chart && !strcmp(r->stats[i].key, charted[c]))
                html_chart(r, &r->stats[i], out);
    strbuf_puts(out, "</div>\n<table><thead><tr><th>series</th><th>min</th><th>mean</th>"
                     "<th>p95</th><th>max</th><th>unit</th><th>trend</th>"
                     "<th>slope per hour</th><th>points</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_stats; i++) {
        const struct report_stat *st = &r->stats[i];
        int d = stat_decimals(st);
        strbuf_puts(out, "<tr><td><code>");
        h(out, st->key);
        strbuf_puts(out, "</code></td><td class=\"n\">");
        put_num(out, st->min, d);
        strbuf_puts(out, "</td><td class=\"n\">");
        put_num(out, st->mean, d);
        strbuf_puts(out, "</td><td class=\"n\">");
        put_num(out, st->p95, d);
        strbuf_puts(out, "</td><td class=\"n\">");
        put_num(out, st->max, d);
        strbuf_printf(out, "</td><td>%s</td><td>%s</td><td class=\"n\">",
                      st->desc ? st->desc->unit : "", trend_word(st));
        put_num(out, st->slope_per_hour, d);
        strbuf_printf(out, "</td><td class=\"n\">%zu</td></tr>\n", st->n);
    }
    strbuf_puts(out, "</tbody></table>\n");
}

static void html_anomalies(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "<h2 id=\"anomalies\">Top Anomalies</h2>\n");
    if (r->n_anomalies == 0) {
        strbuf_puts(out, "<p>None detected.</p>\n");
        return;
    }
    strbuf_printf(out, "<p>%zu of %zu in the range, by severity then recency.</p>\n",
                  r->n_anomalies, r->anomalies_total);
    for (size_t i = 0; i < r->n_anomalies; i++) {
        const struct anomaly *a = &r->anomalies[i];
        strbuf_puts(out, "<div class=\"anomaly\">\n<h3>");
        h(out, a->anomaly_type);
        strbuf_printf(out, " <span class=\"sev sev%u\">(Severity: %u)</span></h3>\n<ul>\n",
                      a->severity, a->severity);
        strbuf_puts(out, "<li>Component: ");
        h(out, a->component);
        strbuf_puts(out, "</li>\n<li>Detected: ");
        put_time(out, detected_ms(a));
        strbuf_printf(out, "</li>\n<li>Status: %s", anomaly_open(a) ? "open" : "resolved");
        if (!anomaly_open(a)) {
            strbuf_puts(out, " at ");
            put_time(out, (int64_t)a->resolved_at_ms);
        }
        if (a->detector && *a->detector) {
            strbuf_puts(out, "</li>\n<li>Detector: ");
            h(out, a->detector);
        }
        strbuf_puts(out, "</li>\n<li>Description: ");
        h(out, a->description);
        strbuf_puts(out, "</li>\n");
        if (a->n_related) {
            strbuf_puts(out, "<li>Related metrics:");
            for (size_t j = 0; j < a->n_related; j++) {
                strbuf_puts(out, j ? ", <code>" : " <code>");
                h(out, a->related_metrics[j].key);
                strbuf_puts(out, "</code> = ");
                put_num(out, a->related_metrics[j].value, 3);
            }
            strbuf_puts(out, "</li>\n");
        }
        strbuf_puts(out, "</ul>\n");
        if (a->n_actions) {
            strbuf_puts(out, "<h4>Suggested Actions</h4>\n<ul>\n");
            for (size_t j = 0; j < a->n_actions; j++) {
                strbuf_puts(out, "<li>");
                h(out, a->suggested_actions[j]);
                strbuf_puts(out, "</li>\n");
            }
            strbuf_puts(out, "</ul>\n");
        }
        strbuf_puts(out, "</div>\n");
    }
}

static void html_alerts(const struct report *r, struct strbuf *out)
{
    strbuf_puts(out, "<h2 id=\"alerts\">Alert Delivery</h2>\n");
    if (!r->alerts_known) {
        strbuf_puts(out, "<p>No alert delivery recorded (alerting off, or no outbox yet).</p>\n");
        return;
    }
    strbuf_printf(out, "<p>From %s.</p>\n", r->alerts_source);
    if (r->n_channels == 0) {
        strbuf_puts(out, "<p>No notification in the range.</p>\n");
        return;
    }
    strbuf_puts(out, "<table><thead><tr><th>channel</th><th>sent</th><th>failed</th>"
                     "<th>pending</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_channels; i++) {
        const struct report_channel *c = &r->channels[i];
        strbuf_puts(out, "<tr><td>");
        h(out, c->name);
        strbuf_printf(out,
                      "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                      "</td><td class=\"n\">%" PRIu64 "</td></tr>\n",
                      c->sent, c->failed, c->pending);
    }
    strbuf_puts(out, "</tbody></table>\n");
}

static void html_predictions(const struct report *r, struct strbuf *out)
{
    const struct kv_map *p = r->current ? &r->current->neural_predictions : NULL;

    strbuf_puts(out, "<h2 id=\"predictions\">Predictions</h2>\n");
    if (!p || p->n == 0) {
        strbuf_puts(out, "<p>None yet (the learned models are warming up, or nothing to "
                         "predict).</p>\n");
        return;
    }
    strbuf_puts(out, "<table><thead><tr><th>prediction</th><th>value</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < p->n; i++) {
        strbuf_puts(out, "<tr><td><code>");
        h(out, p->v[i].key);
        strbuf_puts(out, "</code></td><td class=\"n\">");
        put_num(out, p->v[i].value, 4);
        strbuf_puts(out, "</td></tr>\n");
    }
    strbuf_puts(out, "</tbody></table>\n");
}

int report_render_html(const struct report *r, struct strbuf *out)
{
    html_header(r, out);
    html_current(r, out);
    html_history(r, out);
    html_anomalies(r, out);
    html_alerts(r, out);
    html_predictions(r, out);
    strbuf_puts(out, "</body>\n</html>\n");
    return out->overflow ? -ENOSPC : 0;
}
