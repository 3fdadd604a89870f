#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_fields.h"

/* ---- arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_CHUNK 2048

void *snapshot_alloc(struct snapshot *s, size_t size)
{
    struct arena_chunk *c = s->arena;
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    void *p;

    if (!c || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = s->arena;
        s->arena = c;
    }
    p = (char *)c->data + c->used;
    c->used += need;
    memset(p, 0, size);
    return p;
}

char *snapshot_strdup(struct snapshot *s, const char *str)
{
    size_t n = strlen(str) + 1;
    char *d = snapshot_alloc(s, n);

    if (d)
        memcpy(d, str, n);
    return d;
}

int snapshot_map_add(struct snapshot *s, struct kv_map *m, size_t cap_hint, const char *key,
                     double value)
{
    /* maps are filled once per snapshot: allocate cap_hint slots on first add */
    struct kv_num *v;

    if (!m->v || m->n >= cap_hint) {
        size_t cap = m->n >= cap_hint ? m->n * 2 + 4 : cap_hint;
        v = snapshot_alloc(s, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        if (m->n)
            memcpy(v, m->v, m->n * sizeof(*v));
        m->v = v;
    }
    m->v[m->n].key = snapshot_strdup(s, key);
    if (!m->v[m->n].key)
        return -ENOMEM;
    m->v[m->n].value = value;
    m->n++;
    return 0;
}

/* ---- lifecycle ---- */

#define SET_ABSENT(id, path, member, unit, kind, dec, help) s->member = ABSENT;

struct snapshot *snapshot_new(void)
{
    struct snapshot *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    s->interval_sec = ABSENT;
    CPU_FIELDS(SET_ABSENT)
    MEMORY_FIELDS(SET_ABSENT)
    GC_FIELDS(SET_ABSENT)
    DISK_FIELDS(SET_ABSENT)
    NETWORK_FIELDS(SET_ABSENT)
    GPU_FIELDS(SET_ABSENT)
    NODE_FIELDS(SET_ABSENT)
    CONSENSUS_FIELDS(SET_ABSENT)
    CONTRACT_FIELDS(SET_ABSENT)
    QUANTUM_FIELDS(SET_ABSENT)
    QSIM_FIELDS(SET_ABSENT)
    for (size_t i = 0; i < 8; i++)
        s->cpu.seconds_total[i] = ABSENT;
    return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void snapshot_unref(struct snapshot *s)
{
    struct arena_chunk *c, *n;

    if (!s)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (c = s->arena; c; c = n) {
        n = c->next;
        free(c);
    }
    free(s);
}

double round_to(double v, int decimals)
{
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

    if (!IS_SET(v) || decimals < 0 || decimals > 9)
        return v;
    if (fabs(v) >= 1e15)
        return v;
    return round(v * pow10[decimals]) / pow10[decimals];
}

/* ---- the series table ---- */

#define DESC(id, path, member, unit, kind, dec, help) {path, unit, kind, dec, help},

const struct series_desc series_table[] = {
    CPU_FIELDS(DESC) MEMORY_FIELDS(DESC) GC_FIELDS(DESC) DISK_FIELDS(DESC) NETWORK_FIELDS(DESC)
        GPU_FIELDS(DESC) NODE_FIELDS(DESC) CONSENSUS_FIELDS(DESC) CONTRACT_FIELDS(DESC)
            QUANTUM_FIELDS(DESC) QSIM_FIELDS(DESC) MODEL_FIELDS(DESC) LABELLED_FIELDS(DESC)};
const size_t series_table_len = sizeof(series_table) / sizeof(series_table[0]);

#define ENUM(id, path, member, unit, kind, dec, help) S_##id,
enum series_id {
    CPU_FIELDS(ENUM) MEMORY_FIELDS(ENUM) GC_FIELDS(ENUM) DISK_FIELDS(ENUM) NETWORK_FIELDS(ENUM)
        GPU_FIELDS(ENUM) NODE_FIELDS(ENUM) CONSENSUS_FIELDS(ENUM) CONTRACT_FIELDS(ENUM)
            QUANTUM_FIELDS(ENUM) QSIM_FIELDS(ENUM) MODEL_FIELDS(ENUM) LABELLED_FIELDS(ENUM) S_COUNT
};

static const char *const cpu_modes[8] = {"user",   "nice", "system",  "idle",
                                         "iowait", "irq",  "softirq", "steal"};

/* ---- flattening ---- */

#define VISIT(id, path, member, unit, kind, dec, help) \
    if (IS_SET(s->member))                             \
        fn(ctx, &series_table[S_##id], NULL, 0, s->member);
#define VISIT_MODEL(id, path, member, unit, kind, dec, help) \
    if (IS_SET(mi->member))                                  \
        fn(ctx, &series_table[S_##id], ml, 2, mi->member);

void snapshot_flatten(const struct snapshot *s, series_visit_fn fn, void *ctx)
{
    char core[16];

    CPU_FIELDS(VISIT)
    for (uint32_t i = 0; i < s->cpu.n_cores; i++) {
        struct series_label l = {"core", core};
        if (!IS_SET(s->cpu.core_usage[i]))
            continue;
        snprintf(core, sizeof(core), "%u", i);
        fn(ctx, &series_table[S_CPU_CORE], &l, 1, s->cpu.core_usage[i]);
    }
    for (size_t i = 0; i < 8; i++) {
        struct series_label l = {"mode", cpu_modes[i]};
        if (IS_SET(s->cpu.seconds_total[i]))
            fn(ctx, &series_table[S_CPU_SECONDS], &l, 1, s->cpu.seconds_total[i]);
    }
    MEMORY_FIELDS(VISIT)
    if (s->memory.gc_present) {
        GC_FIELDS(VISIT)
    }
    DISK_FIELDS(VISIT)
    NETWORK_FIELDS(VISIT)
    if (s->gpu_present) {
        GPU_FIELDS(VISIT)
    }
    NODE_FIELDS(VISIT)
    CONSENSUS_FIELDS(VISIT)
    CONTRACT_FIELDS(VISIT)
    for (size_t i = 0; i < s->node.contract_metrics.function_calls.n; i++) {
        const struct kv_num *kv = &s->node.contract_metrics.function_calls.v[i];
        struct series_label l = {"function", kv->key};
        fn(ctx, &series_table[S_CTR_CALLS], &l, 1, kv->value);
    }
    for (size_t m = 0; m < s->n_model_inference; m++) {
        const struct model_inference_metrics *mi = &s->model_inference[m];
        struct series_label ml[3] = {{"model", mi->model_name ? mi->model_name : ""},
                                     {"type", mi->model_type ? mi->model_type : ""},
                                     {"layer", NULL}};
        MODEL_FIELDS(VISIT_MODEL)
        for (size_t i = 0; i < mi->layer_latencies.n; i++) {
            ml[2].value = mi->layer_latencies.v[i].key;
            fn(ctx, &series_table[S_MI_LAYER], ml, 3, mi->layer_latencies.v[i].value);
        }
    }
    if (s->quantum_present) {
        QUANTUM_FIELDS(VISIT)
        if (s->quantum.simulation_present) {
            QSIM_FIELDS(VISIT)
        }
    }
    for (size_t i = 0; i < s->neural_predictions.n; i++) {
        struct series_label l = {"name", s->neural_predictions.v[i].key};
        fn(ctx, &series_table[S_NEURAL], &l, 1, s->neural_predictions.v[i].value);
    }
}

/* ---- JSON ---- */

struct jw {
    struct strbuf *sb;
    bool first;
};

static void jkey(struct jw *w, const char *key)
{
    if (!w->first)
        strbuf_putc(w->sb, ',');
    w->first = false;
    strbuf_json_str(w->sb, key);
    strbuf_putc(w->sb, ':');
}

static void jopen(struct jw *w, const char *key, char c)
{
    if (key)
        jkey(w, key);
    strbuf_putc(w->sb, c);
    w->first = true;
}

static void jclose(struct jw *w, char c)
{
    strbuf_putc(w->sb, c);
    w->first = false;
}

static void jnum(struct jw *w, const char *key, double v, int dec)
{
    jkey(w, key);
    strbuf_json_num(w->sb, v, dec);
}

static void jstr(struct jw *w, const char *key, const char *v)
{
    jkey(w, key);
    if (v)
        strbuf_json_str(w->sb, v);
    else
        strbuf_puts(w->sb, "null");
}

static void jmap(struct jw *w, const char *key, const struct kv_map *m, int dec)
{
    jopen(w, key, '{');
    for (size_t i = 0; i < m->n; i++)
        jnum(w, m->v[i].key, m->v[i].value, dec);
    jclose(w, '}');
}

/* Writes the figures of a table group; the key is the last path component. */
#define JFIELD(id, path, member, unit, kind, dec, help) \
    jnum(&w, strrchr(path, '.') + 1, s->member, dec);
#define JMODEL(id, path, member, unit, kind, dec, help) \
    jnum(&w, strrchr(path, '.') + 1, mi->member, dec);

int snapshot_to_json(const struct snapshot *s, struct strbuf *out)
{
    struct jw w = {.sb = out, .first = true};

    jopen(&w, NULL, '{');
    jstr(&w, "node_id", s->node_id);
    jnum(&w, "timestamp", (double)s->timestamp, 0);
    jnum(&w, "timestamp_ms", (double)s->timestamp_ms, 0);
    jnum(&w, "interval_sec", s->interval_sec, 3);

    jopen(&w, "cpu", '{');
    CPU_FIELDS(JFIELD)
    jopen(&w, "core_usage", '[');
    for (uint32_t i = 0; i < s->cpu.n_cores; i++) {
        if (i)
            strbuf_putc(out, ',');
        strbuf_json_num(out, s->cpu.core_usage[i], 2);
    }
    jclose(&w, ']');
    jopen(&w, "seconds_total", '{');
    for (size_t i = 0; i < 8; i++)
        jnum(&w, cpu_modes[i], s->cpu.seconds_total[i], 2);
    jclose(&w, '}');
    jclose(&w, '}');

    if (s->gpu_present) {
        jopen(&w, "gpu", '{');
        GPU_FIELDS(JFIELD)
        jclose(&w, '}');
    } else {
        jkey(&w, "gpu");
        strbuf_puts(out, "null");
    }

    jopen(&w, "memory", '{');
    MEMORY_FIELDS(JFIELD)
    if (s->memory.gc_present) {
        jopen(&w, "gc_metrics", '{');
        GC_FIELDS(JFIELD)
        jclose(&w, '}');
    } else {
        jkey(&w, "gc_metrics");
        strbuf_puts(out, "null");
    }
    jopen(&w, "leak_indicators", '[');
    for (size_t i = 0; i < s->memory.n_leak_indicators; i++) {
        if (i)
            strbuf_putc(out, ',');
        strbuf_json_str(out, s->memory.leak_indicators[i]);
    }
    jclose(&w, ']');
    jclose(&w, '}');

    jopen(&w, "network", '{');
    NETWORK_FIELDS(JFIELD)
    jclose(&w, '}');

    jopen(&w, "disk", '{');
    DISK_FIELDS(JFIELD)
    jclose(&w, '}');

    jopen(&w, "model_inference", '[');
    for (size_t m = 0; m < s->n_model_inference; m++) {
        const struct model_inference_metrics *mi = &s->model_inference[m];
        jopen(&w, NULL, '{');
        jstr(&w, "model_name", mi->model_name);
        jstr(&w, "model_type", mi->model_type);
        MODEL_FIELDS(JMODEL)
        jmap(&w, "layer_latencies", &mi->layer_latencies, 3);
        jstr(&w, "quantization_info", mi->quantization_info);
        jkey(&w, "quantum_accelerated");
        strbuf_puts(out, mi->quantum_accelerated ? "true" : "false");
        jclose(&w, '}');
    }
    jclose(&w, ']');

    jopen(&w, "node", '{');
    NODE_FIELDS(JFIELD)
    jopen(&w, "consensus_metrics", '{');
    jstr(&w, "algorithm", s->node.consensus_metrics.algorithm);
    CONSENSUS_FIELDS(JFIELD)
    jclose(&w, '}');
    jopen(&w, "contract_metrics", '{');
    CONTRACT_FIELDS(JFIELD)
    jmap(&w, "function_calls", &s->node.contract_metrics.function_calls, 0);
    jclose(&w, '}');
    jclose(&w, '}');

    if (s->quantum_present) {
        jopen(&w, "quantum", '{');
        QUANTUM_FIELDS(JFIELD)
        if (s->quantum.simulation_present) {
            jopen(&w, "simulation_metrics", '{');
            QSIM_FIELDS(JFIELD)
            jclose(&w, '}');
        } else {
            jkey(&w, "simulation_metrics");
            strbuf_puts(out, "null");
        }
        jclose(&w, '}');
    } else {
        jkey(&w, "quantum");
        strbuf_puts(out, "null");
    }

    jmap(&w, "neural_predictions", &s->neural_predictions, 4);
    jclose(&w, '}');
    return out->overflow ? -ENOBUFS : 0;
}

#define ROUND(id, path, member, unit, kind, dec, help)       s->member = round_to(s->member, dec);
#define ROUND_MODEL(id, path, member, unit, kind, dec, help) mi->member = round_to(mi->member, dec);

void snapshot_round(struct snapshot *s)
{
    CPU_FIELDS(ROUND)
    MEMORY_FIELDS(ROUND)
    GC_FIELDS(ROUND)
    DISK_FIELDS(ROUND)
    NETWORK_FIELDS(ROUND)
    GPU_FIELDS(ROUND)
    NODE_FIELDS(ROUND)
    CONSENSUS_FIELDS(ROUND)
    CONTRACT_FIELDS(ROUND)
    QUANTUM_FIELDS(ROUND)
    QSIM_FIELDS(ROUND)
    for (uint32_t i = 0; i < s->cpu.n_cores; i++)
        s->cpu.core_usage[i] = round_to(s->cpu.core_usage[i], series_table[S_CPU_CORE].decimals);
    for (size_t i = 0; i < 8; i++)
        s->cpu.seconds_total[i] =
            round_to(s->cpu.seconds_total[i], series_table[S_CPU_SECONDS].decimals);
    for (size_t m = 0; m < s->n_model_inference; m++) {
        struct model_inference_metrics *mi = &s->model_inference[m];
        MODEL_FIELDS(ROUND_MODEL)
    }
}
