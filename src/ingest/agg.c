#define LOG_MODULE "ingest"
#include "ingest/agg.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lib/sketch.h"

/* ---- the mapping: sink names and built-in StatsD names ---- */

static const char *const sink_names[AGG_SINK_COUNT] = {
    [AGG_SINK_CUSTOM] = "custom",
    [AGG_SINK_DROP] = "drop",
    [AGG_SINK_TX] = "node.transactions_per_sec",
    [AGG_SINK_TX_VALIDATION] = "node.avg_tx_validation_ms",
    [AGG_SINK_BLOCKS] = "node.blocks_per_min",
    [AGG_SINK_BLOCK_SIZE] = "node.avg_block_size_kb",
    [AGG_SINK_MEMPOOL] = "node.mempool_size",
    [AGG_SINK_FINALITY] = "node.consensus_metrics.time_to_finality_sec",
    [AGG_SINK_CONS_MESSAGES] = "node.consensus_metrics.messages_per_sec",
    [AGG_SINK_PARTICIPATION] = "node.consensus_metrics.participation_percent",
    [AGG_SINK_QR_OVERHEAD] = "node.consensus_metrics.quantum_resistant_overhead",
    [AGG_SINK_CONTRACTS] = "node.contract_metrics.contracts_per_sec",
    [AGG_SINK_CONTRACT_EXEC] = "node.contract_metrics.avg_execution_ms",
    [AGG_SINK_GAS] = "node.contract_metrics.avg_gas_used",
    [AGG_SINK_WASM_LOAD] = "node.contract_metrics.wasm_load_ms",
    [AGG_SINK_INFERENCE] = "model_inference.avg_inference_ms",
    [AGG_SINK_LAYER] = "model_inference.layer_latencies",
    [AGG_SINK_ACCEL] = "model_inference.accelerator_util_percent",
    [AGG_SINK_GC_PAUSE] = "memory.gc_metrics.avg_pause_ms",
    [AGG_SINK_QRNG] = "quantum.qrng_throughput",
    [AGG_SINK_PQ_OVERHEAD] = "quantum.pq_crypto_overhead",
    [AGG_SINK_MERKLE] = "quantum.merkle_ops_per_sec",
    [AGG_SINK_SECURITY] = "quantum.security_level_bits",
    [AGG_SINK_SIM_QUBITS] = "quantum.simulation_metrics.qubits",
    [AGG_SINK_SIM_DEPTH] = "quantum.simulation_metrics.circuit_depth",
    [AGG_SINK_SIM_GATE_OPS] = "quantum.simulation_metrics.gate_ops_per_sec",
    [AGG_SINK_SIM_WALL_TIME] = "quantum.simulation_metrics.wall_time_ms",
    [AGG_SINK_GPU_QSIM] = "gpu.quantum_sim_usage",
};

#define K(x) (1u << (x))
/* The kinds a sink takes. */
static const unsigned sink_kinds[AGG_SINK_COUNT] = {
    [AGG_SINK_CUSTOM] = K(AGG_COUNTER) | K(AGG_GAUGE) | K(AGG_HISTOGRAM) | K(AGG_SET),
    [AGG_SINK_DROP] = K(AGG_COUNTER) | K(AGG_GAUGE) | K(AGG_HISTOGRAM) | K(AGG_SET),
    [AGG_SINK_TX] = K(AGG_COUNTER) | K(AGG_HISTOGRAM),
    [AGG_SINK_TX_VALIDATION] = K(AGG_HISTOGRAM),
    [AGG_SINK_BLOCKS] = K(AGG_COUNTER) | K(AGG_HISTOGRAM),
    [AGG_SINK_BLOCK_SIZE] = K(AGG_HISTOGRAM),
    [AGG_SINK_MEMPOOL] = K(AGG_GAUGE),
    [AGG_SINK_FINALITY] = K(AGG_HISTOGRAM),
    [AGG_SINK_CONS_MESSAGES] = K(AGG_COUNTER) | K(AGG_HISTOGRAM),
    [AGG_SINK_PARTICIPATION] = K(AGG_GAUGE),
    [AGG_SINK_QR_OVERHEAD] = K(AGG_GAUGE),
    [AGG_SINK_CONTRACTS] = K(AGG_COUNTER) | K(AGG_HISTOGRAM),
    [AGG_SINK_CONTRACT_EXEC] = K(AGG_HISTOGRAM),
    [AGG_SINK_GAS] = K(AGG_HISTOGRAM),
    [AGG_SINK_WASM_LOAD] = K(AGG_HISTOGRAM),
    [AGG_SINK_INFERENCE] = K(AGG_HISTOGRAM),
    [AGG_SINK_LAYER] = K(AGG_HISTOGRAM),
    [AGG_SINK_ACCEL] = K(AGG_GAUGE),
    [AGG_SINK_GC_PAUSE] = K(AGG_HISTOGRAM),
    [AGG_SINK_QRNG] = K(AGG_GAUGE),
    [AGG_SINK_PQ_OVERHEAD] = K(AGG_GAUGE),
    [AGG_SINK_MERKLE] = K(AGG_COUNTER) | K(AGG_GAUGE),
    [AGG_SINK_SECURITY] = K(AGG_GAUGE),
    [AGG_SINK_SIM_QUBITS] = K(AGG_GAUGE),
    [AGG_SINK_SIM_DEPTH] = K(AGG_GAUGE),
    [AGG_SINK_SIM_GATE_OPS] = K(AGG_COUNTER) | K(AGG_GAUGE),
    [AGG_SINK_SIM_WALL_TIME] = K(AGG_GAUGE),
    [AGG_SINK_GPU_QSIM] = K(AGG_GAUGE),
};

/* The most series a labelled sink takes (0: only max_series): each is an
 * entry of every snapshot, and a model carries a sketch and a summary. */
static const size_t sink_cap[AGG_SINK_COUNT] = {
    [AGG_SINK_INFERENCE] = AGG_MAX_MODELS,
    [AGG_SINK_ACCEL] = AGG_MAX_MODELS,
    [AGG_SINK_LAYER] = AGG_MAX_LABELLED,
    [AGG_SINK_CONTRACT_EXEC] = AGG_MAX_LABELLED,
};

/* The built-in StatsD names (docs/ingest.md). */
static const struct {
    const char *name;
    enum agg_sink sink;
} builtin[] = {
    {"node.tx", AGG_SINK_TX},
    {"node.tx.validation", AGG_SINK_TX_VALIDATION},
    {"node.block", AGG_SINK_BLOCKS},
    {"node.block.size", AGG_SINK_BLOCK_SIZE},
    {"node.mempool.size", AGG_SINK_MEMPOOL},
    {"consensus.finality", AGG_SINK_FINALITY},
    {"consensus.messages", AGG_SINK_CONS_MESSAGES},
    {"consensus.participation", AGG_SINK_PARTICIPATION},
    {"consensus.pq_overhead", AGG_SINK_QR_OVERHEAD},
    {"contract.calls", AGG_SINK_CONTRACTS},
    {"contract.exec", AGG_SINK_CONTRACT_EXEC},
    {"contract.gas", AGG_SINK_GAS},
    {"contract.wasm_load", AGG_SINK_WASM_LOAD},
    {"inference.latency", AGG_SINK_INFERENCE},
    {"inference.layer", AGG_SINK_LAYER},
    {"inference.accelerator_util", AGG_SINK_ACCEL},
    {"gc.pause", AGG_SINK_GC_PAUSE},
    {"quantum.qrng_throughput", AGG_SINK_QRNG},
    {"quantum.pq_overhead", AGG_SINK_PQ_OVERHEAD},
    {"quantum.merkle_ops", AGG_SINK_MERKLE},
    {"quantum.security_level", AGG_SINK_SECURITY},
    {"quantum.sim.qubits", AGG_SINK_SIM_QUBITS},
    {"quantum.sim.circuit_depth", AGG_SINK_SIM_DEPTH},
    {"quantum.sim.gate_ops", AGG_SINK_SIM_GATE_OPS},
    {"quantum.sim.wall_time", AGG_SINK_SIM_WALL_TIME},
    {"gpu.quantum_sim_usage", AGG_SINK_GPU_QSIM},
};

#define MAX_RULES 64

struct rule {
    char match[256];
    enum agg_sink sink;
};

/* ---- series ---- */

/* What only a mapped series needs (most are custom: kept apart, smaller). */
/*
 * A latency sketch's figures for /metrics, as Prometheus client libraries
 * keep a summary: quantiles over a sliding window of SUMMARY_WINDOW_SEC in
 * SUMMARY_AGES age buckets (each a sketch view the fold merges the drained
 * interval into; the oldest is cleared as the window moves), and cumulative
 * sum and count. The fold writes, any thread reads: under the lock.
 */
#define SUMMARY_AGES       5
#define SUMMARY_WINDOW_SEC 600.0

struct summary {
    pthread_mutex_t lock;
    struct am_sketch_view *age[SUMMARY_AGES]; /* NULL until the first fold */
    unsigned cur;
    double age_sec; /* how long the current bucket has been filling */
    double sum;
    uint64_t count;
    bool ready;
};

static void summary_free(struct summary *sm);

struct agg_ext {
    struct agg_series *next_mapped; /* the list of series with a sink (fold) */
    /* fold state (the folding thread only) */
    double prev_sum;
    uint64_t prev_count;
    struct summary summ; /* AGG_SINK_INFERENCE */
};

struct agg_series {
    uint64_t hash;
    const char *key; /* name, then per label '\0' key '\0' value */
    uint16_t key_len, name_len;
    uint8_t n_labels, kind, sink, timer;
    struct agg_ext *ext;  /* mapped series only */
    struct am_sketch *sk; /* AGG_SINK_INFERENCE: this model's; a C API histogram's */
    /* cells */
    _Atomic uint64_t v;     /* double bits: counter sum, gauge, histogram sum */
    _Atomic uint64_t count; /* observations (histogram, mapped series) */
    _Atomic uint64_t b[];   /* histogram: per bucket (n_bounds + 1); set: HLL registers */
};

#define HLL_P    8
#define HLL_REGS (1u << HLL_P)

struct sink_state {
    _Atomic(struct am_sketch *) sk; /* histogram sinks: created at first use */
    _Atomic uint64_t sum;           /* counter sinks: double bits, cumulative */
    _Atomic uint64_t gauge;
    _Atomic bool active, gauge_set;
    double prev; /* fold */
    struct summary summ;
};

struct agg {
    pthread_mutex_t lock; /* creating a series, the rules */
    _Atomic(struct agg_series *) *slots;
    size_t mask;
    size_t max_series;
    _Atomic size_t n; /* series in order[] */
    _Atomic(struct agg_series *) *order;
    _Atomic(struct agg_series *) mapped;
    double bounds[AGG_MAX_BUCKETS];
    size_t n_bounds;
    struct rule rules[MAX_RULES];
    _Atomic size_t n_rules;
    struct sink_state sink[AGG_SINK_COUNT];
    /* arena */
    char *chunk;
    size_t chunk_used, chunk_len;
    char **chunks;
    size_t n_chunks;
    /* stats */
    _Atomic uint64_t dropped, clashes;
    _Atomic bool warned_limit, warned_sink[AGG_SINK_COUNT];
    size_t per_sink[AGG_SINK_COUNT]; /* series per sink (under the lock) */
    struct am_sketch_view *view;     /* fold's scratch */
    double fold_dt;                  /* the interval being folded */
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static uint64_t dbits(double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

static void atomic_add_double(_Atomic uint64_t *cell, double d)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), nw;

    do
        nw = dbits(bitsd(old) + d);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, nw, memory_order_relaxed,
                                                  memory_order_relaxed));
}

static uint64_t load64(const char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

uint64_t agg_hash(const char *p, size_t n)
{
    uint64_t h = 0x243f6a8885a308d3ull ^ (n * 0x9e3779b97f4a7c15ull);

    for (; n >= 8; p += 8, n -= 8) {
        h = (h ^ load64(p)) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (n) {
        uint64_t t = 0;
        memcpy(&t, p, n);
        h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* ---- construction ---- */

static int table_make(struct agg *a, size_t max_series)
{
    size_t cap = 1024;

    while (cap < max_series * 2)
        cap *= 2;
    a->slots = calloc(cap, sizeof(*a->slots));
    a->order = calloc(max_series, sizeof(*a->order));
    if (!a->slots || !a->order) {
        free(a->slots);
        free(a->order);
        a->slots = NULL;
        a->order = NULL;
        return -ENOMEM;
    }
    a->mask = cap - 1;
    a->max_series = max_series;
    return 0;
}

struct agg *agg_new(void)
{
    struct agg *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    pthread_mutex_init(&a->lock, NULL);
    memcpy(a->bounds, default_bounds, sizeof(default_bounds));
    a->n_bounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
    for (size_t i = 0; i < AGG_SINK_COUNT; i++) {
        atomic_store(&a->sink[i].gauge, dbits(NAN));
        pthread_mutex_init(&a->sink[i].summ.lock, NULL);
    }
    if (table_make(a, AGG_DEFAULT_MAX_SERIES) < 0) {
        free(a);
        return NULL;
    }
    return a;
}

void agg_free(struct agg *a)
{
    size_t n;

    if (!a)
        return;
    n = atomic_load(&a->n);
    for (size_t i = 0; i < n; i++) {
        struct agg_series *s = atomic_load(&a->order[i]);
        if (s && s->sk)
            am_sketch_free(s->sk);
        if (s && s->ext)
            summary_free(&s->ext->summ);
    }
    for (size_t i = 0; i < AGG_SINK_COUNT; i++) {
        am_sketch_free(atomic_load(&a->sink[i].sk));
        summary_free(&a->sink[i].summ);
    }
    for (size_t i = 0; i < a->n_chunks; i++)
        free(a->chunks[i]);
    free(a->chunks);
    free(a->slots);
    free(a->order);
    free(a->view);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

static struct agg *global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_make(void)
{
    global = agg_new();
}

struct agg *agg_global(void)
{
    pthread_once(&global_once, global_make);
    return global;
}

int agg_configure(struct agg *a, size_t max_series, const double *bounds, size_t n_bounds)
{
    int r = 0;

    if (n_bounds > AGG_MAX_BUCKETS)
        return -EINVAL;
    for (size_t i = 0; i < n_bounds; i++)
        if (!(bounds[i] > 0) || !isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
            return -EINVAL;
    pthread_mutex_lock(&a->lock);
    if (bounds && n_bounds) {
        memcpy(a->bounds, bounds, n_bounds * sizeof(*bounds));
        a->n_bounds = n_bounds;
    }
    if (max_series == 0)
        max_series = AGG_DEFAULT_MAX_SERIES;
    if (max_series != a->max_series) {
        if (atomic_load(&a->n) > 0) {
            r = -EBUSY; /* (readers hold the table: it stays) */
        } else {
            _Atomic(struct agg_series *) *os = a->slots, *oo = a->order;
            size_t omask = a->mask, omax = a->max_series;
            r = table_make(a, max_series);
            if (r == 0) {
                free(os);
                free(oo);
            } else {
                a->slots = os;
                a->order = oo;
                a->mask = omask;
                a->max_series = omax;
            }
        }
    }
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* ---- the mapping ---- */

int agg_sink_parse(const char *field)
{
    for (int i = AGG_SINK_DROP; i < AGG_SINK_COUNT; i++)
        if (strcmp(field, sink_names[i]) == 0)
            return i;
    return -1;
}

const char *agg_sink_name(enum agg_sink s)
{
    return (unsigned)s < AGG_SINK_COUNT ? sink_names[s] : "?";
}

int agg_add_rule(struct agg *a, const char *match, const char *field)
{
    int sink = agg_sink_parse(field);
    size_t n;

    if (sink < 0 || !match[0] || strlen(match) >= sizeof(a->rules[0].match))
        return -EINVAL;
    pthread_mutex_lock(&a->lock);
    n = atomic_load(&a->n_rules);
    if (n == MAX_RULES) {
        pthread_mutex_unlock(&a->lock);
        return -ENOSPC;
    }
    snprintf(a->rules[n].match, sizeof(a->rules[n].match), "%s", match);
    a->rules[n].sink = (enum agg_sink)sink;
    atomic_store_explicit(&a->n_rules, n + 1, memory_order_release);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

/* match ('*' a whole dotted component) against name[0, len). */
static bool glob_ok(const char *m, const char *name, size_t len)
{
    const char *end = name + len;

    while (*m) {
        if (m[0] == '*' && (m[1] == '.' || m[1] == 0)) {
            const char *dot = memchr(name, '.', (size_t)(end - name));
            if (name == end || (dot ? dot == name : false))
                return false; /* an empty component */
            name = dot ? dot : end;
            m++;
            continue;
        }
        if (name == end || *m != *name)
            return false;
        m++;
        name++;
    }
    return name == end;
}

enum agg_sink agg_sink_of(const struct agg *a, const char *name, size_t len)
{
    size_t n = atomic_load_explicit(&a->n_rules, memory_order_acquire);

    for (size_t i = 0; i < n; i++)
        if (glob_ok(a->rules[i].match, name, len))
            return a->rules[i].sink;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strlen(builtin[i].name) == len && memcmp(builtin[i].name, name, len) == 0)
            return builtin[i].sink;
    return AGG_SINK_CUSTOM;
}

/* ---- series lookup and creation ---- */

static void *arena_alloc(struct agg *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (!a->chunk || a->chunk_used + size > a->chunk_len) {
        size_t len = size > (1u << 20) ? size : (1u << 20);
        char **nc = realloc(a->chunks, (a->n_chunks + 1) * sizeof(*nc));
        char *c;
        if (!nc)
            return NULL;
        a->chunks = nc;
        c = aligned_alloc(64, (len + 63) & ~(size_t)63);
        if (!c)
            return NULL;
        memset(c, 0, len);
        a->chunks[a->n_chunks++] = c;
        a->chunk = c;
        a->chunk_len = len;
        a->chunk_used = 0;
    }
    a->chunk_used += size;
    return a->chunk + a->chunk_used - size;
}

/* The canonical key of name + labels (sorted) into buf; its length, or -EINVAL. */
static int make_key(char *buf, const char *name, size_t name_len, const struct agg_label *labels,
                    size_t n)
{
    size_t order[AGG_MAX_LABELS], len = name_len;

    if (name_len == 0 || name_len > AGG_KEY_MAX || n > AGG_MAX_LABELS)
        return -EINVAL;
    memcpy(buf, name, name_len);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        /* insertion sort by key, then value (a few labels) */
        while (j > 0) {
            const struct agg_label *x = &labels[order[j - 1]], *y = &labels[i];
            size_t m = x->key_len < y->key_len ? x->key_len : y->key_len;
            int c = memcmp(x->key, y->key, m);
            if (c == 0)
                c = (x->key_len > y->key_len) - (x->key_len < y->key_len);
            if (c == 0) {
                m = x->value_len < y->value_len ? x->value_len : y->value_len;
                c = memcmp(x->value, y->value, m);
                if (c == 0)
                    c = (x->value_len > y->value_len) - (x->value_len < y->value_len);
            }
            if (c <= 0)
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t i = 0; i < n; i++) {
        const struct agg_label *l = &labels[order[i]];
        if (len + 2 + l->key_len + l->value_len > AGG_KEY_MAX || l->key_len == 0)
            return -EINVAL;
        buf[len++] = 0;
        memcpy(buf + len, l->key, l->key_len);
        len += l->key_len;
        buf[len++] = 0;
        memcpy(buf + len, l->value, l->value_len);
        len += l->value_len;
    }
    return (int)len;
}

static struct agg_series *lookup(struct agg *a, const char *key, size_t len, uint64_t h,
                                 size_t *slot)
{
    size_t i = h & a->mask;

    for (;;) {
        struct agg_series *s = atomic_load_explicit(&a->slots[i], memory_order_acquire);
        if (!s) {
            *slot = i;
            return NULL;
        }
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
        i = (i + 1) & a->mask;
    }
}

static struct agg_series *create(struct agg *a, const char *key, size_t len, uint64_t h,
                                 size_t n_labels, size_t name_len, enum agg_kind kind, bool timer,
                                 bool sketch, enum agg_sink sink, int *err)
{
    struct agg_series *s;
    size_t slot, cells = 0, n;

    pthread_mutex_lock(&a->lock);
    s = lookup(a, key, len, h, &slot); /* (made meanwhile?) */
    if (s) {
        pthread_mutex_unlock(&a->lock);
        return s;
    }
    n = atomic_load_explicit(&a->n, memory_order_relaxed);
    if (n >= a->max_series) {
        pthread_mutex_unlock(&a->lock);
        if (!atomic_exchange(&a->warned_limit, true))
            log_warn("the limit of %zu node metric series is reached: values of new names are "
                     "dropped (statsd.max_series; counted in arthamon_statsd_series_dropped_total)",
                     a->max_series);
        *err = -ENOSPC;
        return NULL;
    }
    if (sink_cap[sink] && a->per_sink[sink] >= sink_cap[sink]) {
        /* a model costs a sketch and a 10-minute summary (~0.7 MiB at most); every
         * function, layer or model is an entry of each snapshot from now on */
        pthread_mutex_unlock(&a->lock);
        if (!atomic_exchange(&a->warned_sink[sink], true))
            log_warn("more than %zu label sets feed %s: the values of new ones are dropped",
                     sink_cap[sink], sink_names[sink]);
        *err = -ENOSPC;
        return NULL;
    }
    if (sink == AGG_SINK_CUSTOM && kind == AGG_HISTOGRAM && !sketch)
        cells = a->n_bounds + 1;
    else if (kind == AGG_SET)
        cells = HLL_REGS / 8;
    s = arena_alloc(a, sizeof(*s) + cells * sizeof(s->b[0]) + len + 1);
    if (!s) {
        pthread_mutex_unlock(&a->lock);
        *err = -ENOMEM;
        return NULL;
    }
    s->hash = h;
    s->key = (char *)(s->b + cells);
    memcpy((char *)s->key, key, len);
    s->key_len = (uint16_t)len;
    s->name_len = (uint16_t)name_len;
    s->n_labels = (uint8_t)n_labels;
    s->kind = (uint8_t)kind;
    s->sink = (uint8_t)sink;
    s->timer = timer;
    if (sink == AGG_SINK_INFERENCE ||
        (sink == AGG_SINK_CUSTOM && kind == AGG_HISTOGRAM && sketch)) {
        s->sk = am_sketch_new();
        if (!s->sk) {
            pthread_mutex_unlock(&a->lock);
            *err = -ENOMEM;
            return NULL;
        }
    }
    if (sink != AGG_SINK_CUSTOM && sink != AGG_SINK_DROP) {
        struct sink_state *ss = &a->sink[sink];
        if (kind == AGG_HISTOGRAM && !atomic_load(&ss->sk) && sink != AGG_SINK_INFERENCE &&
            sink != AGG_SINK_LAYER) {
            struct am_sketch *sk = am_sketch_new();
            if (!sk) {
                pthread_mutex_unlock(&a->lock);
                *err = -ENOMEM;
                return NULL;
            }
            atomic_store_explicit(&ss->sk, sk, memory_order_release);
        }
        s->ext = arena_alloc(a, sizeof(*s->ext));
        if (!s->ext) {
            pthread_mutex_unlock(&a->lock);
            *err = -ENOMEM;
            return NULL;
        }
        pthread_mutex_init(&s->ext->summ.lock, NULL);
        s->ext->next_mapped = atomic_load(&a->mapped);
        atomic_store_explicit(&a->mapped, s, memory_order_release);
    }
    a->per_sink[sink]++;
    atomic_store_explicit(&a->order[n], s, memory_order_release);
    atomic_store_explicit(&a->n, n + 1, memory_order_release);
    atomic_store_explicit(&a->slots[slot], s, memory_order_release);
    pthread_mutex_unlock(&a->lock);
    return s;
}

/* ---- recording ---- */

static void hll_add(struct agg_series *s, const char *m, size_t len)
{
    uint64_t h = agg_hash(m, len);
    unsigned idx = (unsigned)(h >> (64 - HLL_P));
    uint64_t rest = h << HLL_P | ((uint64_t)1 << (HLL_P - 1)); /* (never 0) */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    _Atomic uint64_t *w = &s->b[idx / 8];
    unsigned sh = (idx % 8) * 8;
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed), nw;

    do {
        if (((old >> sh) & 0xff) >= rank)
            return;
        nw = (old & ~((uint64_t)0xff << sh)) | (uint64_t)rank << sh;
    } while (!atomic_compare_exchange_weak_explicit(w, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static double hll_estimate(uint64_t *regs)
{
    double sum = 0, m = HLL_REGS, e;
    unsigned zeros = 0;

    for (unsigned i = 0; i < HLL_REGS; i++) {
        unsigned r = (unsigned)((regs[i / 8] >> ((i % 8) * 8)) & 0xff);
        sum += ldexp(1.0, -(int)r);
        zeros += r == 0;
    }
    e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros)
        e = m * log(m / zeros); /* linear counting: exact-ish for small sets */
    return round(e);
}

static uint64_t weight_of(double rate)
{
    double w = rate > 0 && rate < 1 ? 1 / rate : 1;

    return w > 1e6 ? 1000000 : (uint64_t)llround(w);
}

static void sketch_add_n(struct am_sketch *sk, double v, uint64_t w)
{
    if (w > 1000)
        w = 1000; /* (a sample rate under 0.001: weighted to 1000) */
    for (uint64_t i = 0; i < w; i++)
        am_sketch_add(sk, v);
}

static void record_mapped(struct agg *a, struct agg_series *s, enum agg_kind kind, bool delta,
                          const double *values, size_t n, double rate)
{
    struct sink_state *ss = &a->sink[s->sink];
    uint64_t w = weight_of(rate);

    if (!atomic_load_explicit(&ss->active, memory_order_relaxed))
        atomic_store_explicit(&ss->active, true, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        switch (kind) {
        case AGG_COUNTER:
            atomic_add_double(&ss->sum, v / (rate > 0 && rate <= 1 ? rate : 1));
            break;
        case AGG_GAUGE: {
            _Atomic uint64_t *cell = s->sink == AGG_SINK_ACCEL ? &s->v : &ss->gauge;
            if (delta) {
                uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), nw;
                do {
                    double cur = bitsd(old);
                    nw = dbits((isnan(cur) ? 0 : cur) + v);
                } while (!atomic_compare_exchange_weak_explicit(
                    cell, &old, nw, memory_order_relaxed, memory_order_relaxed));
            } else {
                atomic_store_explicit(cell, dbits(v), memory_order_relaxed);
            }
            atomic_store_explicit(&ss->gauge_set, true, memory_order_relaxed);
            if (s->sink == AGG_SINK_ACCEL)
                atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
            break;
        }
        case AGG_HISTOGRAM: {
            struct am_sketch *sk = s->sink == AGG_SINK_INFERENCE
                                       ? s->sk
                                       : atomic_load_explicit(&ss->sk, memory_order_acquire);
            if (s->sink == AGG_SINK_LAYER) {
                atomic_add_double(&s->v, v * (double)w);
            } else if (s->sink == AGG_SINK_TX || s->sink == AGG_SINK_BLOCKS ||
                       s->sink == AGG_SINK_CONS_MESSAGES || s->sink == AGG_SINK_CONTRACTS) {
                atomic_add_double(&ss->sum, (double)w); /* (counted, the value unused) */
            } else if (sk) {
                sketch_add_n(sk, v, w);
            }
            atomic_fetch_add_explicit(&s->count, w, memory_order_relaxed);
            break;
        }
        default:
            break;
        }
    }
}

static void record_custom(struct agg *a, struct agg_series *s, bool delta, const double *values,
                          size_t n, double rate, const char *member, size_t member_len)
{
    switch ((enum agg_kind)s->kind) {
    case AGG_COUNTER:
        for (size_t i = 0; i < n; i++)
            atomic_add_double(&s->v, values[i] / (rate > 0 && rate <= 1 ? rate : 1));
        break;
    case AGG_GAUGE:
        for (size_t i = 0; i < n; i++) {
            if (delta)
                atomic_add_double(&s->v, values[i]);
            else
                atomic_store_explicit(&s->v, dbits(values[i]), memory_order_relaxed);
        }
        break;
    case AGG_HISTOGRAM: {
        uint64_t w = weight_of(rate);
        for (size_t i = 0; i < n; i++) {
            double v = s->timer ? values[i] / 1000 : values[i];
            size_t b = 0;
            if (s->sk) {
                sketch_add_n(s->sk, v, w); /* (sharded: no line shared between threads) */
                continue;
            }
            while (b < a->n_bounds && v > a->bounds[b])
                b++;
            atomic_fetch_add_explicit(&s->b[b], w, memory_order_relaxed);
            atomic_add_double(&s->v, v * (double)w);
            atomic_fetch_add_explicit(&s->count, w, memory_order_relaxed);
        }
        break;
    }
    case AGG_SET:
        hll_add(s, member, member_len);
        break;
    default:
        break;
    }
}

struct agg_series *agg_get(struct agg *a, const char *name, size_t name_len,
                           const struct agg_label *labels, size_t n_labels, enum agg_kind kind,
                           bool timer, bool sketch, int *err)
{
    char key[AGG_KEY_MAX + 2 * AGG_MAX_LABELS + 8];
    int len = make_key(key, name, name_len, labels, n_labels);
    uint64_t h;
    size_t slot;
    struct agg_series *s;

    *err = 0;
    if (len < 0) {
        *err = len;
        return NULL;
    }
    h = agg_hash(key, (size_t)len);
    s = lookup(a, key, (size_t)len, h, &slot);
    if (!s) {
        enum agg_sink sink = agg_sink_of(a, name, name_len);
        if (sink != AGG_SINK_CUSTOM && !(sink_kinds[sink] & K(kind)))
            sink = AGG_SINK_CUSTOM; /* a mapped name of a kind its field cannot take */
        s = create(a, key, (size_t)len, h, n_labels, name_len, kind, timer, sketch, sink, err);
        if (!s)
            return NULL;
    }
    if (s->kind != kind) {
        atomic_fetch_add_explicit(&a->clashes, 1, memory_order_relaxed);
        *err = -EEXIST;
        return NULL;
    }
    return s;
}

static void record(struct agg *a, struct agg_series *s, bool delta, const double *values, size_t n,
                   double rate, const char *set_member, size_t member_len)
{
    if (s->sink == AGG_SINK_CUSTOM)
        record_custom(a, s, delta, values, n, rate, set_member, member_len);
    else if (s->sink != AGG_SINK_DROP)
        record_mapped(a, s, (enum agg_kind)s->kind, delta, values, n, rate);
}

int agg_series_record(struct agg *a, struct agg_series *s, bool delta, const double *values,
                      size_t n, double rate, const char *set_member, size_t member_len)
{
    /* a counter only goes up (Prometheus's rule, and statsd_exporter's) */
    for (size_t i = 0; s->kind == AGG_COUNTER && i < n; i++)
        if (values[i] < 0)
            return -ERANGE;
    record(a, s, delta, values, n, rate, set_member, member_len);
    return 0;
}

int agg_record(struct agg *a, const char *name, size_t name_len, const struct agg_label *labels,
               size_t n_labels, enum agg_kind kind, bool timer, bool delta, const double *values,
               size_t n, double rate, const char *set_member, size_t member_len)
{
    int err;
    struct agg_series *s = agg_get(a, name, name_len, labels, n_labels, kind, timer, false, &err);

    if (!s) {
        if (err == -ENOSPC)
            atomic_fetch_add_explicit(&a->dropped, n ? n : 1, memory_order_relaxed);
        return err;
    }
    return agg_series_record(a, s, delta, values, n, rate, set_member, member_len);
}

size_t agg_max_series(const struct agg *a)
{
    return a->max_series;
}

void agg_count_dropped(struct agg *a, uint64_t n)
{
    atomic_fetch_add_explicit(&a->dropped, n, memory_order_relaxed);
}

void agg_series_add(struct agg *a, struct agg_series *s, double v)
{
    if (s->sk && s->sink == AGG_SINK_CUSTOM) {
        /* a C API histogram, the hot path: straight into its sharded sketch */
        am_sketch_add(s->sk, s->timer ? v / 1000 : v);
        return;
    }
    if (s->kind == AGG_COUNTER && v < 0)
        return; /* (a counter only goes up) */
    record(a, s, true, &v, 1, 1, NULL, 0);
}

void agg_series_set(struct agg *a, struct agg_series *s, double v)
{
    record(a, s, false, &v, 1, 1, NULL, 0);
}

/* ---- folding into the snapshot ---- */

/* The i-th label of s (its key: name, then '\0' key '\0' value per label). */
static void label_at(const struct agg_series *s, size_t i, struct agg_label *l)
{
    const char *p = s->key + s->name_len, *end = s->key + s->key_len;

    for (size_t k = 0;; k++) {
        const char *kv = p + 1, *v = kv + strlen(kv) + 1;
        size_t vl = strnlen(v, (size_t)(end - v));
        if (k == i) {
            *l = (struct agg_label){kv, v, (size_t)(v - 1 - kv), vl};
            return;
        }
        p = v + vl;
    }
}

static const char *label_of(const struct agg_series *s, const char *key, size_t *len)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i < s->n_labels; i++) {
        struct agg_label l;
        label_at(s, i, &l);
        if (l.key_len == kl && memcmp(l.key, key, kl) == 0) {
            *len = l.value_len;
            return l.value;
        }
    }
    *len = 0;
    return NULL;
}

/* A counter sink's increase since the last fold; NAN while never used. */
static double sink_delta(struct sink_state *ss)
{
    double cur;

    if (!atomic_load_explicit(&ss->active, memory_order_relaxed))
        return NAN;
    cur = bitsd(atomic_load_explicit(&ss->sum, memory_order_relaxed));
    cur -= ss->prev;
    ss->prev += cur;
    return cur;
}

struct drained {
    bool active;
    uint64_t count;
    double sum, max;
};

static const double summary_q[3] = {0.5, 0.95, 0.99};

/* The view just drained, into a summary. */
static void summary_update(struct summary *sm, const struct am_sketch_view *v, double dt)
{
    pthread_mutex_lock(&sm->lock);
    if (!sm->ready) {
        for (int i = 0; i < SUMMARY_AGES; i++) {
            sm->age[i] = malloc(sizeof(*sm->age[i]));
            if (!sm->age[i]) {
                for (int k = 0; k < i; k++) {
                    free(sm->age[k]);
                    sm->age[k] = NULL;
                }
                pthread_mutex_unlock(&sm->lock);
                return; /* (out of memory: no summary; the snapshot still has it all) */
            }
            am_sketch_view_clear(sm->age[i]);
        }
        sm->ready = true;
    }
    sm->age_sec += dt > 0 ? dt : 0;
    if (sm->age_sec >= SUMMARY_WINDOW_SEC / SUMMARY_AGES) {
        sm->cur = (sm->cur + 1) % SUMMARY_AGES;
        am_sketch_view_clear(sm->age[sm->cur]);
        sm->age_sec = 0;
    }
    if (am_sketch_view_count(v)) /* (an idle interval: nothing to merge) */
        am_sketch_merge(sm->age[sm->cur], v);
    sm->sum += am_sketch_view_sum(v);
    sm->count += am_sketch_view_count(v);
    pthread_mutex_unlock(&sm->lock);
}

static void summary_free(struct summary *sm)
{
    for (int i = 0; i < SUMMARY_AGES; i++)
        free(sm->age[i]);
    pthread_mutex_destroy(&sm->lock);
}

static void sink_drain(struct agg *a, enum agg_sink k, struct drained *d)
{
    struct sink_state *ss = &a->sink[k];
    struct am_sketch *sk = atomic_load_explicit(&ss->sk, memory_order_acquire);

    memset(d, 0, sizeof(*d));
    d->active = atomic_load_explicit(&ss->active, memory_order_relaxed) && sk;
    if (!d->active)
        return;
    am_sketch_drain(sk, a->view);
    summary_update(&ss->summ, a->view, a->fold_dt);
    d->count = am_sketch_view_count(a->view);
    d->sum = am_sketch_view_sum(a->view);
    d->max = am_sketch_view_max(a->view);
}

static double avg_of(const struct drained *d, double scale)
{
    return d->count ? d->sum / (double)d->count * scale : NAN;
}

static double gauge_of(struct sink_state *ss)
{
    if (!atomic_load_explicit(&ss->gauge_set, memory_order_relaxed))
        return NAN;
    return bitsd(atomic_load_explicit(&ss->gauge, memory_order_relaxed));
}

static double rate_of(double delta_a, double count_b, double dt, double per)
{
    if (isnan(delta_a) && isnan(count_b))
        return NAN;
    if (!(dt > 0))
        return NAN;
    return ((isnan(delta_a) ? 0 : delta_a) + (isnan(count_b) ? 0 : count_b)) / dt * per;
}

/* The snapshot's model entry for model/type, made when new. */
static struct model_inference_metrics *model_entry(struct snapshot *snap, const char *model,
                                                   size_t ml, const char *type, size_t tl,
                                                   size_t cap)
{
    struct model_inference_metrics *m;

    for (size_t i = 0; i < snap->n_model_inference; i++) {
        m = &snap->model_inference[i];
        if (strlen(m->model_name) == ml && memcmp(m->model_name, model, ml) == 0 &&
            (!type || (strlen(m->model_type) == tl && memcmp(m->model_type, type, tl) == 0)))
            return m;
    }
    if (!type || snap->n_model_inference == cap)
        return NULL;
    m = &snap->model_inference[snap->n_model_inference];
    {
        char *mn = snapshot_alloc(snap, ml + 1), *tn = snapshot_alloc(snap, tl + 1);
        if (!mn || !tn)
            return NULL;
        memcpy(mn, model, ml);
        memcpy(tn, type, tl);
        m->model_name = mn;
        m->model_type = tn;
    }
    m->avg_inference_ms = m->p95_inference_ms = m->p99_inference_ms = NAN;
    m->throughput_per_sec = m->accelerator_util_percent = NAN;
    m->layer_latencies = (struct kv_map){0};
    m->quantization_info = NULL;
    m->quantum_accelerated = false;
    snap->n_model_inference++;
    return m;
}

/* A sink that takes a gauge (the node's own figure) or a counter (a rate over
 * the interval): the gauge when one was set, else the counter's rate; NAN
 * while neither was used. The counter's delta is taken either way. */
static double gauge_or_rate(struct sink_state *ss, double dt)
{
    double delta = sink_delta(ss), g = gauge_of(ss);

    return !isnan(g) ? g : rate_of(delta, NAN, dt, 1);
}

/* The node's quantum figures, each marking its QUANTUM_REPORTED_* bit. */
static void fold_quantum(struct agg *a, struct snapshot *snap, double dt)
{
    struct quantum_metrics *q = &snap->quantum;
    struct quantum_simulation_metrics *sim = &q->simulation_metrics;
    double v, usage;
    bool any_sim = false;

#define REPORT(field, bit, value)         \
    do {                                  \
        if (!isnan(v = (value))) {        \
            (field) = v;                  \
            q->reported |= (bit);         \
            snap->quantum_present = true; \
        }                                 \
    } while (0)
    REPORT(q->qrng_throughput, QUANTUM_REPORTED_QRNG, gauge_of(&a->sink[AGG_SINK_QRNG]));
    REPORT(q->pq_crypto_overhead, QUANTUM_REPORTED_PQ, gauge_of(&a->sink[AGG_SINK_PQ_OVERHEAD]));
    REPORT(q->merkle_ops_per_sec, QUANTUM_REPORTED_MERKLE,
           gauge_or_rate(&a->sink[AGG_SINK_MERKLE], dt));
    REPORT(q->security_level_bits, QUANTUM_REPORTED_SECURITY,
           gauge_of(&a->sink[AGG_SINK_SECURITY]));
#define REPORT_SIM(field, value)   \
    do {                           \
        if (!isnan(v = (value))) { \
            (field) = v;           \
            any_sim = true;        \
        }                          \
    } while (0)
    REPORT_SIM(sim->qubits, gauge_of(&a->sink[AGG_SINK_SIM_QUBITS]));
    REPORT_SIM(sim->circuit_depth, gauge_of(&a->sink[AGG_SINK_SIM_DEPTH]));
    REPORT_SIM(sim->gate_ops_per_sec, gauge_or_rate(&a->sink[AGG_SINK_SIM_GATE_OPS], dt));
    REPORT_SIM(sim->wall_time_ms, gauge_of(&a->sink[AGG_SINK_SIM_WALL_TIME]));
#undef REPORT_SIM
#undef REPORT
    if (any_sim) {
        snap->quantum_present = q->simulation_present = true;
        q->reported |= QUANTUM_REPORTED_SIM;
    }
    usage = gauge_of(&a->sink[AGG_SINK_GPU_QSIM]);
    if (snap->gpu_present && !isnan(usage))
        snap->gpu.quantum_sim_usage = usage;
}

void agg_fold(struct agg *a, struct snapshot *snap, double dt)
{
    struct node_metrics *nm = &snap->node;
    struct drained d;
    double tx, blocks, msgs, contracts;
    size_t n_models = 0;

    if (!a->view && !(a->view = malloc(sizeof(*a->view))))
        return;
    a->fold_dt = dt;
    /* the counter sinks, and the histograms whose count is a rate */
    tx = sink_delta(&a->sink[AGG_SINK_TX]);
    blocks = sink_delta(&a->sink[AGG_SINK_BLOCKS]);
    msgs = sink_delta(&a->sink[AGG_SINK_CONS_MESSAGES]);
    contracts = sink_delta(&a->sink[AGG_SINK_CONTRACTS]);

    sink_drain(a, AGG_SINK_TX_VALIDATION, &d);
    nm->avg_tx_validation_ms = avg_of(&d, 1);
    nm->transactions_per_sec = rate_of(tx, d.active ? (double)d.count : NAN, dt, 1);
    sink_drain(a, AGG_SINK_BLOCK_SIZE, &d);
    nm->avg_block_size_kb = avg_of(&d, 1.0 / 1024);
    nm->blocks_per_min = rate_of(blocks, d.active ? (double)d.count : NAN, dt, 60);
    nm->mempool_size = gauge_of(&a->sink[AGG_SINK_MEMPOOL]);
    sink_drain(a, AGG_SINK_FINALITY, &d);
    nm->consensus_metrics.time_to_finality_sec = avg_of(&d, 1e-3);
    nm->consensus_metrics.messages_per_sec = rate_of(msgs, NAN, dt, 1);
    nm->consensus_metrics.participation_percent = gauge_of(&a->sink[AGG_SINK_PARTICIPATION]);
    nm->consensus_metrics.quantum_resistant_overhead = gauge_of(&a->sink[AGG_SINK_QR_OVERHEAD]);
    sink_drain(a, AGG_SINK_CONTRACT_EXEC, &d);
    nm->contract_metrics.avg_execution_ms = avg_of(&d, 1);
    nm->contract_metrics.contracts_per_sec =
        rate_of(contracts, d.active ? (double)d.count : NAN, dt, 1);
    sink_drain(a, AGG_SINK_GAS, &d);
    nm->contract_metrics.avg_gas_used = avg_of(&d, 1);
    sink_drain(a, AGG_SINK_WASM_LOAD, &d);
    nm->contract_metrics.wasm_load_ms = avg_of(&d, 1);
    sink_drain(a, AGG_SINK_GC_PAUSE, &d);
    if (d.active) {
        struct gc_metrics *g = &snap->memory.gc_metrics;
        struct sink_state *ss = &a->sink[AGG_SINK_GC_PAUSE];
        snap->memory.gc_present = true;
        ss->prev += (double)d.count;
        g->collections_total = ss->prev;
        g->collections_per_sec = dt > 0 ? (double)d.count / dt : NAN;
        g->avg_pause_ms = avg_of(&d, 1);
        g->max_pause_ms = d.count ? d.max : NAN;
    }
    fold_quantum(a, snap, dt);

    /* per function, per model, per layer: the mapped series themselves */
    for (struct agg_series *s = atomic_load_explicit(&a->mapped, memory_order_acquire); s;
         s = s->ext->next_mapped)
        n_models += s->sink == AGG_SINK_INFERENCE;
    if (n_models) {
        snap->model_inference = snapshot_alloc(snap, n_models * sizeof(*snap->model_inference));
        if (!snap->model_inference)
            n_models = 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (struct agg_series *s = atomic_load_explicit(&a->mapped, memory_order_acquire); s;
             s = s->ext->next_mapped) {
            size_t ml, tl, ll;
            const char *model = label_of(s, "model", &ml), *type, *layer;
            struct model_inference_metrics *m;
            uint64_t cnt = atomic_load_explicit(&s->count, memory_order_relaxed);
            if (pass == 0 && s->sink == AGG_SINK_CONTRACT_EXEC) {
                size_t fl;
                const char *fn = label_of(s, "function", &fl);
                char name[256];
                if (!fn || fl == 0 || fl >= sizeof(name))
                    continue;
                memcpy(name, fn, fl);
                name[fl] = 0;
                snapshot_map_add(snap, &nm->contract_metrics.function_calls, 16, name, (double)cnt);
            } else if (pass == 0 && s->sink == AGG_SINK_INFERENCE && n_models) {
                type = label_of(s, "type", &tl);
                m = model_entry(snap, model ? model : "", ml, type ? type : "", tl, n_models);
                if (!m)
                    continue;
                am_sketch_drain(s->sk, a->view);
                summary_update(&s->ext->summ, a->view, dt);
                if (am_sketch_view_count(a->view)) {
                    uint64_t c = am_sketch_view_count(a->view);
                    m->avg_inference_ms = am_sketch_view_sum(a->view) / (double)c;
                    m->p95_inference_ms = am_sketch_quantile(a->view, 0.95);
                    m->p99_inference_ms = am_sketch_quantile(a->view, 0.99);
                }
                m->throughput_per_sec = dt > 0 ? (double)am_sketch_view_count(a->view) / dt : NAN;
            } else if (pass == 1 && s->sink == AGG_SINK_LAYER && model) {
                double sum = bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
                char name[256];
                layer = label_of(s, "layer", &ll);
                m = model_entry(snap, model, ml, NULL, 0, n_models);
                if (!layer || ll == 0 || ll >= sizeof(name)) {
                    continue;
                }
                if (m && cnt > s->ext->prev_count) {
                    memcpy(name, layer, ll);
                    name[ll] = 0;
                    snapshot_map_add(snap, &m->layer_latencies, 8, name,
                                     (sum - s->ext->prev_sum) / (double)(cnt - s->ext->prev_count));
                }
                s->ext->prev_sum = sum;
                s->ext->prev_count = cnt;
            } else if (pass == 1 && s->sink == AGG_SINK_ACCEL && model && cnt) {
                m = model_entry(snap, model, ml, NULL, 0, n_models);
                if (m)
                    m->accelerator_util_percent =
                        bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
            }
        }
    }
}

void agg_foreach(struct agg *a, void (*fn)(void *ctx, const struct agg_series_info *s), void *ctx)
{
    size_t n = atomic_load_explicit(&a->n, memory_order_acquire);
    uint64_t b[AGG_MAX_BUCKETS + 1];

    for (size_t i = 0; i < n; i++) {
        struct agg_series *s = atomic_load_explicit(&a->order[i], memory_order_acquire);
        struct agg_series_info info;
        if (!s || s->sink != AGG_SINK_CUSTOM)
            continue;
        memset(&info, 0, sizeof(info));
        info.name = s->key;
        info.name_len = s->name_len;
        info.n_labels = s->n_labels;
        for (size_t k = 0; k < s->n_labels; k++)
            label_at(s, k, &info.labels[k]);
        info.kind = (enum agg_kind)s->kind;
        info.sink = AGG_SINK_CUSTOM;
        info.timer = s->timer;
        info.value = bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
        if (s->kind == AGG_HISTOGRAM && s->sk) {
            info.sketch = s->sk;
        } else if (s->kind == AGG_HISTOGRAM) {
            uint64_t run = 0;
            for (size_t k = 0; k <= a->n_bounds; k++) {
                run += atomic_load_explicit(&s->b[k], memory_order_relaxed);
                b[k] = run;
            }
            info.count = run; /* (consistent with the buckets, if not with the sum) */
            info.buckets = b;
            info.bounds = a->bounds;
            info.n_bounds = a->n_bounds;
        } else if (s->kind == AGG_SET) {
            uint64_t regs[HLL_REGS / 8];
            for (size_t k = 0; k < HLL_REGS / 8; k++)
                regs[k] = atomic_load_explicit(&s->b[k], memory_order_relaxed);
            info.distinct = hll_estimate(regs);
        }
        fn(ctx, &info);
    }
}

/* The mapped latency sinks on /metrics: family, help, scale to base units. */
static const struct {
    enum agg_sink sink;
    const char *family, *help;
    double scale;
} summaries[] = {
    {AGG_SINK_TX_VALIDATION, "arthamon_node_tx_validation_duration_seconds",
     "Transaction validation time", 1e-3},
    {AGG_SINK_BLOCK_SIZE, "arthamon_node_block_size_bytes", "Block size", 1},
    {AGG_SINK_FINALITY, "arthamon_consensus_finality_duration_seconds", "Time to finality", 1e-3},
    {AGG_SINK_CONTRACT_EXEC, "arthamon_contract_execution_duration_seconds",
     "Contract execution time", 1e-3},
    {AGG_SINK_GAS, "arthamon_contract_gas_used", "Gas used per contract execution", 1},
    {AGG_SINK_WASM_LOAD, "arthamon_contract_wasm_load_duration_seconds", "WASM module load time",
     1e-3},
    {AGG_SINK_GC_PAUSE, "arthamon_gc_pause_duration_seconds", "Garbage-collection pause", 1e-3},
};

/* The window's quantiles (merged into tmp), sum and count; false before the first fold. */
static bool summary_read(struct summary *sm, double scale, struct am_sketch_view *tmp,
                         struct agg_summary *o)
{
    pthread_mutex_lock(&sm->lock);
    if (!sm->ready) {
        pthread_mutex_unlock(&sm->lock);
        return false;
    }
    am_sketch_view_clear(tmp);
    for (int i = 0; i < SUMMARY_AGES; i++)
        am_sketch_merge(tmp, sm->age[i]);
    o->sum = sm->sum * scale;
    o->count = sm->count;
    pthread_mutex_unlock(&sm->lock);
    for (int i = 0; i < 3; i++) {
        o->quantiles[i] = summary_q[i];
        o->q[i] = am_sketch_view_count(tmp) ? am_sketch_quantile(tmp, summary_q[i]) * scale : NAN;
    }
    return true;
}

int agg_foreach_summary(struct agg *a, void (*fn)(void *ctx, const struct agg_summary *s),
                        void *ctx)
{
    struct am_sketch_view *tmp = malloc(sizeof(*tmp));
    struct agg_summary o;

    if (!tmp)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++) {
        memset(&o, 0, sizeof(o));
        o.family = summaries[i].family;
        o.help = summaries[i].help;
        if (summary_read(&a->sink[summaries[i].sink].summ, summaries[i].scale, tmp, &o))
            fn(ctx, &o);
    }
    for (struct agg_series *s = atomic_load_explicit(&a->mapped, memory_order_acquire); s;
         s = s->ext->next_mapped) {
        if (s->sink != AGG_SINK_INFERENCE)
            continue;
        memset(&o, 0, sizeof(o));
        o.family = "arthamon_model_inference_duration_seconds";
        o.help = "Model inference latency, per model";
        o.model = label_of(s, "model", &o.model_len);
        o.type = label_of(s, "type", &o.type_len);
        if (summary_read(&s->ext->summ, 1e-3, tmp, &o))
            fn(ctx, &o);
    }
    free(tmp);
    return 0;
}

void agg_get_stats(struct agg *a, struct agg_stats *ret)
{
    ret->series = atomic_load(&a->n);
    ret->series_dropped = atomic_load(&a->dropped);
    ret->type_clashes = atomic_load(&a->clashes);
}
