#include "snapshot.h"

#include "common/intern.h"
#include "common/parse.h"

#include <errno.h>
#include <pthread.h>
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

/* A host's snapshot puts about 200 bytes in its arena (the node id, the predictions),
 * and the history ring keeps agent.history_size snapshots: the first chunk is small,
 * and each further one twice its predecessor, up to ARENA_CHUNK_MAX, so that a
 * snapshot with many models or predictions takes few chunks. */
#define ARENA_CHUNK_FIRST 256
#define ARENA_CHUNK_MAX   4096

void *snapshot_alloc(struct snapshot *s, size_t size)
{
    struct arena_chunk *c = s->arena;
    size_t align = sizeof(max_align_t);
    size_t need = (size + align - 1) / align * align;
    void *p;

    if (!c || c->cap - c->used < need) {
        size_t cap = !c                             ? ARENA_CHUNK_FIRST
                     : c->cap < ARENA_CHUNK_MAX / 2 ? c->cap * 2
                                                    : ARENA_CHUNK_MAX;

        if (cap < need)
            cap = need;
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

/* A name that recurs tick after tick (a map key, a model's name or type):
 * interned when the pool has room (see common/intern.h), else the snapshot's
 * own copy. */
static const char *snapshot_name(struct snapshot *s, const char *str)
{
    const char *p = intern(str);

    return p ? p : snapshot_strdup(s, str);
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
    m->v[m->n].key = snapshot_name(s, key);
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
        GPU_FIELDS(DESC) GPUS_FIELDS(DESC) NODE_FIELDS(DESC) CONSENSUS_FIELDS(DESC)
            CONTRACT_FIELDS(DESC) QUANTUM_FIELDS(DESC) QSIM_FIELDS(DESC) MODEL_FIELDS(DESC)
                LABELLED_FIELDS(DESC)};
const size_t series_table_len = sizeof(series_table) / sizeof(series_table[0]);

#define ENUM(id, path, member, unit, kind, dec, help) S_##id,
enum series_id {
    CPU_FIELDS(ENUM) MEMORY_FIELDS(ENUM) GC_FIELDS(ENUM) DISK_FIELDS(ENUM) NETWORK_FIELDS(ENUM)
        GPU_FIELDS(ENUM) GPUS_FIELDS(ENUM) NODE_FIELDS(ENUM) CONSENSUS_FIELDS(ENUM)
            CONTRACT_FIELDS(ENUM) QUANTUM_FIELDS(ENUM) QSIM_FIELDS(ENUM) MODEL_FIELDS(ENUM)
                LABELLED_FIELDS(ENUM) S_COUNT
};

static const char *const cpu_modes[8] = {"user",   "nice", "system",  "idle",
                                         "iowait", "irq",  "softirq", "steal"};

/* The names of the QUANTUM_REPORTED_* bits, in bit order. */
static const char *const reported_names[] = {"qrng_throughput", "pq_crypto_overhead",
                                             "merkle_ops_per_sec", "security_level_bits",
                                             "simulation_metrics"};
#define REPORTED_COUNT (sizeof(reported_names) / sizeof(reported_names[0]))
#define REPORTED_MASK  ((1u << REPORTED_COUNT) - 1)

/* ---- flattening ---- */

#define VISIT(id, path, member, unit, kind, dec, help) \
    if (IS_SET(s->member))                             \
        fn(ctx, &series_table[S_##id], NULL, 0, s->member);
#define VISIT_MODEL(id, path, member, unit, kind, dec, help) \
    if (IS_SET(mi->member))                                  \
        fn(ctx, &series_table[S_##id], ml, 2, mi->member);
#define VISIT_GPUS(id, path, member, unit, kind, dec, help) \
    if (IS_SET(g->member))                                  \
        fn(ctx, &series_table[S_##id], gl, 3, g->member);

/* The labels of the CPU series, made once and interned: "0", "1", ... (cores)
 * and the modes. A core's label is then a string that stays put, which
 * readers comparing tick to tick can match by address; printing it every
 * tick cost more than the rest of the flattening. */
#define CORE_NAMES 1024
static char core_buf[CORE_NAMES][6];
static const char *core_names[CORE_NAMES];
static const char *mode_names[8];
static pthread_once_t core_names_once = PTHREAD_ONCE_INIT;

static void core_names_init(void)
{
    for (unsigned i = 0; i < CORE_NAMES; i++) {
        snprintf(core_buf[i], sizeof(core_buf[i]), "%u", i);
        core_names[i] = intern(core_buf[i]);
        if (!core_names[i])
            core_names[i] = core_buf[i];
    }
    for (unsigned i = 0; i < 8; i++) {
        mode_names[i] = intern(cpu_modes[i]);
        if (!mode_names[i])
            mode_names[i] = cpu_modes[i];
    }
}

void snapshot_flatten(const struct snapshot *s, series_visit_fn fn, void *ctx)
{
    char(*more)[12] = NULL; /* the names of cores past CORE_NAMES (never, in practice) */

    pthread_once(&core_names_once, core_names_init);
    if (s->cpu.n_cores > CORE_NAMES) {
        more = malloc((s->cpu.n_cores - CORE_NAMES) * sizeof(*more));
        for (uint32_t i = CORE_NAMES; more && i < s->cpu.n_cores; i++)
            snprintf(more[i - CORE_NAMES], sizeof(more[0]), "%u", i);
    }
    CPU_FIELDS(VISIT)
    for (uint32_t i = 0; i < s->cpu.n_cores; i++) {
        struct series_label l = {"core", NULL};
        if (!IS_SET(s->cpu.core_usage[i]) || (i >= CORE_NAMES && !more))
            continue;
        l.value = i < CORE_NAMES ? core_names[i] : more[i - CORE_NAMES];
        fn(ctx, &series_table[S_CPU_CORE], &l, 1, s->cpu.core_usage[i]);
    }
    free(more);
    for (size_t i = 0; i < 8; i++) {
        struct series_label l = {"mode", mode_names[i]};
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
    for (size_t i = 0; i < s->n_gpus; i++) {
        const struct gpu_device_metrics *g = &s->gpus[i];
        struct series_label gl[3] = {
            {"gpu", NULL}, {"name", g->name ? g->name : ""}, {"uuid", g->uuid ? g->uuid : ""}};
        if (g->index >= SNAPSHOT_GPU_MAX)
            continue; /* (not a list snapshot_gpu_device() built: no key names it) */
        gl[0].value = core_names[g->index];
        GPUS_FIELDS(VISIT_GPUS)
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

/* ---- keys: the flattening's series as one string, and back ---- */

int snapshot_series_key(char *buf, size_t len, const struct series_desc *desc,
                        const struct series_label *labels, size_t n_labels)
{
    size_t o = 0;

#define PUT(c)                \
    do {                      \
        if (o + 1 >= len)     \
            return -E2BIG;    \
        buf[o++] = (char)(c); \
    } while (0)
    for (const char *p = desc->name; *p; p++)
        PUT(*p);
    for (size_t i = 0; i < n_labels; i++) {
        PUT(i ? ',' : '{');
        for (const char *p = labels[i].key; *p; p++)
            PUT(*p);
        PUT('=');
        for (const char *p = labels[i].value ? labels[i].value : ""; *p; p++) {
            if (*p == '\\' || *p == ',' || *p == '=' || *p == '}')
                PUT('\\');
            PUT(*p);
        }
    }
    if (n_labels)
        PUT('}');
#undef PUT
    buf[o] = '\0';
    return 0;
}

#define MAX_KEY_LABELS 3
#define LABEL_MAX      256

struct parsed_key {
    char name[128];
    size_t n;
    char k[MAX_KEY_LABELS][32];
    char v[MAX_KEY_LABELS][LABEL_MAX];
};

static int parse_key(const char *key, struct parsed_key *pk)
{
    const char *p = key;
    size_t o = 0;

    memset(pk, 0, sizeof(*pk));
    while (*p && *p != '{') {
        if (o + 1 >= sizeof(pk->name))
            return -EINVAL;
        pk->name[o++] = *p++;
    }
    if (!*p)
        return 0;
    p++;
    while (*p != '}') {
        size_t ko = 0, vo = 0;
        if (pk->n == MAX_KEY_LABELS || !*p)
            return -EINVAL;
        while (*p && *p != '=') {
            if (ko + 1 >= sizeof(pk->k[0]))
                return -EINVAL;
            pk->k[pk->n][ko++] = *p++;
        }
        if (*p++ != '=')
            return -EINVAL;
        while (*p && *p != ',' && *p != '}') {
            if (*p == '\\' && p[1])
                p++;
            if (vo + 1 >= sizeof(pk->v[0]))
                return -EINVAL;
            pk->v[pk->n][vo++] = *p++;
        }
        pk->n++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return -EINVAL;
    }
    return p[1] == '\0' ? 0 : -EINVAL;
}

static const char *label_of(const struct parsed_key *pk, const char *k)
{
    for (size_t i = 0; i < pk->n; i++)
        if (strcmp(pk->k[i], k) == 0)
            return pk->v[i];
    return NULL;
}

#define SETTER(id, path, member, unit, kind, dec, help) {path, offsetof(struct snapshot, member)},
#define SETTER_MODEL(id, path, member, unit, kind, dec, help) \
    {path, offsetof(struct model_inference_metrics, member)},
#define SETTER_GPUS(id, path, member, unit, kind, dec, help) \
    {path, offsetof(struct gpu_device_metrics, member)},

struct setter {
    const char *name;
    size_t offset;
};

static const struct setter scalar_setters[] = {
    CPU_FIELDS(SETTER) MEMORY_FIELDS(SETTER) DISK_FIELDS(SETTER) NETWORK_FIELDS(SETTER)
        NODE_FIELDS(SETTER) CONSENSUS_FIELDS(SETTER) CONTRACT_FIELDS(SETTER)};
static const struct setter gc_setters[] = {GC_FIELDS(SETTER)};
static const struct setter gpu_setters[] = {GPU_FIELDS(SETTER)};
static const struct setter quantum_setters[] = {QUANTUM_FIELDS(SETTER)};
static const struct setter qsim_setters[] = {QSIM_FIELDS(SETTER)};
static const struct setter model_setters[] = {MODEL_FIELDS(SETTER_MODEL)};
static const struct setter gpus_setters[] = {GPUS_FIELDS(SETTER_GPUS)};

static const struct setter *find_setter(const struct setter *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

#define FIND(t, name) find_setter(t, sizeof(t) / sizeof(t[0]), name)

static struct model_inference_metrics *model_entry(struct snapshot *s, const char *name,
                                                   const char *type)
{
    struct model_inference_metrics *mi;

    for (size_t i = 0; i < s->n_model_inference; i++) {
        mi = &s->model_inference[i];
        if (strcmp(mi->model_name ? mi->model_name : "", name) == 0 &&
            strcmp(mi->model_type ? mi->model_type : "", type) == 0)
            return mi;
    }
    mi = snapshot_alloc(s, (s->n_model_inference + 1) * sizeof(*mi));
    if (!mi)
        return NULL;
    if (s->n_model_inference)
        memcpy(mi, s->model_inference, s->n_model_inference * sizeof(*mi));
    s->model_inference = mi;
    mi = &s->model_inference[s->n_model_inference++];
#define MODEL_ABSENT(id, path, member, unit, kind, dec, help) mi->member = ABSENT;
    MODEL_FIELDS(MODEL_ABSENT)
#undef MODEL_ABSENT
    mi->model_name = snapshot_name(s, name);
    mi->model_type = snapshot_name(s, type);
    return mi->model_name && mi->model_type ? mi : NULL;
}

struct gpu_device_metrics *snapshot_gpu_device(struct snapshot *s, uint32_t index)
{
    struct gpu_device_metrics *v, *g;
    size_t at = 0;

    if (index >= SNAPSHOT_GPU_MAX)
        return NULL;
    while (at < s->n_gpus && s->gpus[at].index < index)
        at++;
    if (at < s->n_gpus && s->gpus[at].index == index)
        return &s->gpus[at];
    v = snapshot_alloc(s, (s->n_gpus + 1) * sizeof(*v));
    if (!v)
        return NULL;
    if (at)
        memcpy(v, s->gpus, at * sizeof(*v));
    if (at < s->n_gpus)
        memcpy(v + at + 1, s->gpus + at, (s->n_gpus - at) * sizeof(*v));
    s->gpus = v;
    s->n_gpus++;
    g = &v[at];
    memset(g, 0, sizeof(*g));
    g->index = index;
#define GPUS_ABSENT(id, path, member, unit, kind, dec, help) g->member = ABSENT;
    GPUS_FIELDS(GPUS_ABSENT)
#undef GPUS_ABSENT
    return g;
}

/* A string field of a list entry from a key's label: "" is NULL (snapshot_flatten()
 * writes NULL as ""); a value equal to the current one is kept. -ENOMEM. */
static int set_label_string(struct snapshot *s, const char **field, const char *label)
{
    const char *p;

    if (!*label) {
        *field = NULL;
        return 0;
    }
    if (*field && strcmp(*field, label) == 0)
        return 0;
    if (!(p = snapshot_name(s, label)))
        return -ENOMEM;
    *field = p;
    return 0;
}

/* The entry a gpus key names (gpu=INDEX,name=NAME,uuid=UUID; every label needed),
 * created if new, its name and UUID set from the key. -EINVAL, -ENOMEM. */
static int gpus_entry(struct snapshot *s, const struct parsed_key *pk,
                      struct gpu_device_metrics **ret_g)
{
    const char *idx = label_of(pk, "gpu"), *name = label_of(pk, "name"),
               *uuid = label_of(pk, "uuid");
    struct gpu_device_metrics *g;
    uint64_t index;

    if (pk->n != 3 || !idx || !name || !uuid || parse_u64(idx, &index) < 0 ||
        index >= SNAPSHOT_GPU_MAX)
        return -EINVAL;
    if (!(g = snapshot_gpu_device(s, (uint32_t)index)) || set_label_string(s, &g->name, name) < 0 ||
        set_label_string(s, &g->uuid, uuid) < 0)
        return -ENOMEM;
    *ret_g = g;
    return 0;
}

int snapshot_set_series(struct snapshot *s, const char *key, double v)
{
    struct parsed_key pk;
    const struct setter *st;
    const char *l;

    if (parse_key(key, &pk) < 0)
        return -EINVAL;
    if (pk.n == 0) {
        if ((st = FIND(scalar_setters, pk.name))) {
            *(double *)((char *)s + st->offset) = v;
        } else if ((st = FIND(gc_setters, pk.name))) {
            s->memory.gc_present = true;
            *(double *)((char *)s + st->offset) = v;
        } else if ((st = FIND(gpu_setters, pk.name))) {
            s->gpu_present = true;
            *(double *)((char *)s + st->offset) = v;
        } else if ((st = FIND(quantum_setters, pk.name))) {
            s->quantum_present = true;
            *(double *)((char *)s + st->offset) = v;
        } else if ((st = FIND(qsim_setters, pk.name))) {
            s->quantum_present = s->quantum.simulation_present = true;
            *(double *)((char *)s + st->offset) = v;
        } else {
            return -ENOENT;
        }
        return 0;
    }
    if (strcmp(pk.name, "cpu.core_usage") == 0 && (l = label_of(&pk, "core"))) {
        uint64_t core;
        if (parse_u64(l, &core) < 0 || core >= 4096)
            return -EINVAL;
        if (core >= s->cpu.n_cores) {
            double *nc = snapshot_alloc(s, (core + 1) * sizeof(*nc));
            if (!nc)
                return -ENOMEM;
            for (uint64_t i = 0; i <= core; i++)
                nc[i] = i < s->cpu.n_cores ? s->cpu.core_usage[i] : ABSENT;
            s->cpu.core_usage = nc;
            s->cpu.n_cores = (uint32_t)core + 1;
        }
        s->cpu.core_usage[core] = v;
        return 0;
    }
    if ((st = FIND(gpus_setters, pk.name))) {
        struct gpu_device_metrics *g;
        int r = gpus_entry(s, &pk, &g);

        if (r < 0)
            return r;
        *(double *)((char *)g + st->offset) = v;
        return 0;
    }
    if (strcmp(pk.name, "cpu.seconds_total") == 0 && (l = label_of(&pk, "mode"))) {
        for (size_t i = 0; i < 8; i++)
            if (strcmp(cpu_modes[i], l) == 0) {
                s->cpu.seconds_total[i] = v;
                return 0;
            }
        return -ENOENT;
    }
    if (strcmp(pk.name, "node.contract_metrics.function_calls") == 0 &&
        (l = label_of(&pk, "function")))
        return snapshot_map_add(s, &s->node.contract_metrics.function_calls, 16, l, v);
    if (strcmp(pk.name, "neural_predictions") == 0 && (l = label_of(&pk, "name")))
        return snapshot_map_add(s, &s->neural_predictions, 8, l, v);
    if (strncmp(pk.name, "model_inference.", 16) == 0 && label_of(&pk, "model") &&
        label_of(&pk, "type")) {
        struct model_inference_metrics *mi =
            model_entry(s, label_of(&pk, "model"), label_of(&pk, "type"));
        if (!mi)
            return -ENOMEM;
        if (strcmp(pk.name, "model_inference.layer_latencies") == 0 && (l = label_of(&pk, "layer")))
            return snapshot_map_add(s, &mi->layer_latencies, 8, l, v);
        if ((st = FIND(model_setters, pk.name))) {
            *(double *)((char *)mi + st->offset) = v;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- the non-numeric fields ---- */

/*
 * The *_present flags: snapshot_set_series() sets gc_present, gpu_present,
 * quantum_present and (with quantum_present) simulation_present with any
 * figure of their group, and snapshot_flatten() writes a group's figures only
 * while its flag is set, so a flag set with at least one figure comes back from
 * the series alone. A flag set with every figure of its group absent (JSON {}
 * of nulls rather than null) gets a text of its own below.
 */

enum text_kind {
    TEXT_STRING, /* one string, no NUL inside */
    TEXT_BOOL,   /* "true" or "false" */
    TEXT_LIST,   /* strings, each followed by a NUL */
    TEXT_FLAGS,  /* names of bits, comma-separated */
};

/* Only .name is used: the key is built by snapshot_series_key() like a series'. */
enum text_id {
    T_NODE_ID,
    T_GPU,
    T_GPUS,
    T_GC,
    T_LEAKS,
    T_MI_QUANT,
    T_MI_QACC,
    T_ALGO,
    T_QUANTUM,
    T_QSIM,
    T_QREPORTED,
};

static const struct series_desc text_table[] = {
    [T_NODE_ID] = {.name = "node_id"},
    [T_GPU] = {.name = "gpu"},
    [T_GPUS] = {.name = "gpus"},
    [T_GC] = {.name = "memory.gc_metrics"},
    [T_LEAKS] = {.name = "memory.leak_indicators"},
    [T_MI_QUANT] = {.name = "model_inference.quantization_info"},
    [T_MI_QACC] = {.name = "model_inference.quantum_accelerated"},
    [T_ALGO] = {.name = "node.consensus_metrics.algorithm"},
    [T_QUANTUM] = {.name = "quantum"},
    [T_QSIM] = {.name = "quantum.simulation_metrics"},
    [T_QREPORTED] = {.name = "quantum.reported_by_node"},
};
#define TEXT_COUNT (sizeof(text_table) / sizeof(text_table[0]))

static enum text_kind text_kind(enum text_id id)
{
    switch (id) {
    case T_NODE_ID:
    case T_MI_QUANT:
    case T_ALGO:
        return TEXT_STRING;
    case T_LEAKS:
        return TEXT_LIST;
    case T_QREPORTED:
        return TEXT_FLAGS;
    default:
        return TEXT_BOOL;
    }
}

static bool text_is_model(enum text_id id)
{
    return id == T_MI_QUANT || id == T_MI_QACC;
}

/* room for any key parse_key() accepts, escaped */
#define TEXT_KEY_MAX \
    (sizeof(((struct parsed_key *)0)->name) + MAX_KEY_LABELS * (2 + 32 + 2 * LABEL_MAX) + 2)

struct text_emit {
    text_visit_fn fn;
    void *ctx;
};

static void emit_text(const struct text_emit *e, enum text_id id, const struct series_label *l,
                      size_t n, const char *value, size_t len)
{
    char key[TEXT_KEY_MAX];

    if (snapshot_series_key(key, sizeof(key), &text_table[id], l, n) == 0)
        e->fn(e->ctx, key, value, len);
}

static void emit_bool(const struct text_emit *e, enum text_id id, const struct series_label *l,
                      size_t n, bool v)
{
    emit_text(e, id, l, n, v ? "true" : "false", v ? 4 : 5);
}

/* strlen, cut to at most max bytes without splitting a UTF-8 sequence */
static size_t text_len(const char *str, size_t max)
{
    size_t n = strnlen(str, max + 1);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)str[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static void emit_string(const struct text_emit *e, enum text_id id, const struct series_label *l,
                        size_t n, const char *str)
{
    if (str)
        emit_text(e, id, l, n, str, text_len(str, SNAPSHOT_TEXT_MAX));
}

#define ANY_SET(id, path, member, unit, kind, dec, help)      || IS_SET(s->member)
#define ANY_SET_GPUS(id, path, member, unit, kind, dec, help) || IS_SET(g->member)

/* The GPUs with no figure at all: their series cannot bring them back. */
static void emit_gpus(const struct text_emit *e, const struct snapshot *s)
{
    pthread_once(&core_names_once, core_names_init);
    for (size_t i = 0; i < s->n_gpus; i++) {
        const struct gpu_device_metrics *g = &s->gpus[i];
        const struct series_label gl[3] = {{"gpu", core_names[g->index % CORE_NAMES]},
                                           {"name", g->name ? g->name : ""},
                                           {"uuid", g->uuid ? g->uuid : ""}};

        /* a key parse_key() refuses would be written but could not be set back */
        if (g->index >= SNAPSHOT_GPU_MAX || strnlen(gl[1].value, LABEL_MAX) >= LABEL_MAX ||
            strnlen(gl[2].value, LABEL_MAX) >= LABEL_MAX || (false GPUS_FIELDS(ANY_SET_GPUS)))
            continue;
        emit_bool(e, T_GPUS, gl, 3, true);
    }
}

static void emit_reported(const struct text_emit *e, unsigned bits)
{
    char buf[128];
    size_t o = 0;

    for (size_t i = 0; i < REPORTED_COUNT; i++) {
        size_t n = strlen(reported_names[i]);

        if (!(bits & (1u << i)))
            continue;
        if (o)
            buf[o++] = ',';
        memcpy(buf + o, reported_names[i], n); /* (every name fits: 96 bytes in all) */
        o += n;
    }
    if (o)
        emit_text(e, T_QREPORTED, NULL, 0, buf, o);
}

/* The bits value names ("name,name", in any order; empty: none); -EINVAL for a
 * name that is not one. */
static int parse_reported(const char *value, size_t len, unsigned *ret_bits)
{
    unsigned bits = 0;
    size_t o = 0;

    while (o < len) {
        const char *item = value + o;
        const char *comma = memchr(item, ',', len - o);
        size_t n = comma ? (size_t)(comma - item) : len - o, i;

        for (i = 0; i < REPORTED_COUNT; i++)
            if (strlen(reported_names[i]) == n && memcmp(reported_names[i], item, n) == 0)
                break;
        if (i == REPORTED_COUNT)
            return -EINVAL;
        bits |= 1u << i;
        o += n + 1;
        if (comma && o == len)
            return -EINVAL; /* a trailing comma */
    }
    *ret_bits = bits;
    return 0;
}

void snapshot_flatten_texts(const struct snapshot *s, text_visit_fn fn, void *ctx)
{
    const struct text_emit e = {fn, ctx};

    emit_string(&e, T_NODE_ID, NULL, 0, s->node_id);
    if (s->gpu_present && !(false GPU_FIELDS(ANY_SET)))
        emit_bool(&e, T_GPU, NULL, 0, true);
    emit_gpus(&e, s);
    if (s->memory.gc_present && !(false GC_FIELDS(ANY_SET)))
        emit_bool(&e, T_GC, NULL, 0, true);
    if (s->memory.n_leak_indicators) {
        char buf[SNAPSHOT_TEXT_MAX];
        size_t o = 0;

        for (size_t i = 0; i < s->memory.n_leak_indicators && i < SNAPSHOT_LEAK_MAX; i++) {
            const char *item = s->memory.leak_indicators[i] ? s->memory.leak_indicators[i] : "";
            size_t n = strnlen(item, sizeof(buf));

            if (n >= sizeof(buf) - o)
                break;
            memcpy(buf + o, item, n);
            o += n;
            buf[o++] = '\0';
        }
        if (o)
            emit_text(&e, T_LEAKS, NULL, 0, buf, o);
    }
    for (size_t m = 0; m < s->n_model_inference; m++) {
        const struct model_inference_metrics *mi = &s->model_inference[m];
        const struct series_label ml[2] = {{"model", mi->model_name},
                                           {"type", mi->model_type ? mi->model_type : ""}};

        /* a key parse_key() refuses would be written but could not be set back */
        if (!mi->model_name || strnlen(ml[0].value, LABEL_MAX) >= LABEL_MAX ||
            strnlen(ml[1].value, LABEL_MAX) >= LABEL_MAX)
            continue;
        emit_string(&e, T_MI_QUANT, ml, 2, mi->quantization_info);
        emit_bool(&e, T_MI_QACC, ml, 2, mi->quantum_accelerated);
    }
    emit_string(&e, T_ALGO, NULL, 0, s->node.consensus_metrics.algorithm);
    if (s->quantum_present) {
        if (!s->quantum.simulation_present && !(false QUANTUM_FIELDS(ANY_SET)))
            emit_bool(&e, T_QUANTUM, NULL, 0, true);
        if (s->quantum.simulation_present && !(false QSIM_FIELDS(ANY_SET)))
            emit_bool(&e, T_QSIM, NULL, 0, true);
        emit_reported(&e, s->quantum.reported & REPORTED_MASK);
    }
}

/* The value bytes as a NUL-terminated copy in the arena; NULL on out of memory. */
static char *text_copy(struct snapshot *s, const char *value, size_t len)
{
    char *d = snapshot_alloc(s, len + 1); /* zeroed */

    if (d && len)
        memcpy(d, value, len);
    return d;
}

static int set_leaks(struct snapshot *s, const char *value, size_t len)
{
    size_t n = 0;
    const char **items;
    char *copy;

    for (size_t i = 0; i < len; i++)
        if (value[i] == '\0' && ++n > SNAPSHOT_LEAK_MAX)
            return -EINVAL;
    if (len && value[len - 1] != '\0')
        return -EINVAL;
    if (n == 0) {
        s->memory.leak_indicators = NULL;
        s->memory.n_leak_indicators = 0;
        return 0;
    }
    items = snapshot_alloc(s, n * sizeof(*items));
    copy = text_copy(s, value, len);
    if (!items || !copy)
        return -ENOMEM;
    for (size_t i = 0, o = 0; i < n; i++) {
        items[i] = copy + o;
        o += strlen(copy + o) + 1;
    }
    s->memory.leak_indicators = items;
    s->memory.n_leak_indicators = n;
    return 0;
}

int snapshot_set_text(struct snapshot *s, const char *key, const char *value, size_t len)
{
    struct parsed_key pk;
    enum text_id id;
    size_t i = 0;
    bool b = false;
    char *str = NULL;
    unsigned bits = 0;
    uint64_t index = 0;

    if (!key || parse_key(key, &pk) < 0)
        return -EINVAL;
    while (i < TEXT_COUNT && strcmp(text_table[i].name, pk.name) != 0)
        i++;
    if (i == TEXT_COUNT)
        return -ENOENT;
    id = (enum text_id)i;
    if (id == T_GPUS) {
        const char *l = label_of(&pk, "gpu");
        if (pk.n != 3 || !l || !label_of(&pk, "name") || !label_of(&pk, "uuid") ||
            parse_u64(l, &index) < 0 || index >= SNAPSHOT_GPU_MAX)
            return -EINVAL;
    } else if (text_is_model(id) ? pk.n != 2 || !label_of(&pk, "model") || !label_of(&pk, "type")
                                 : pk.n != 0) {
        return -EINVAL;
    }

    /* check the whole value before changing anything */
    if (len > SNAPSHOT_TEXT_MAX || (!value && len))
        return -EINVAL;
    switch (text_kind(id)) {
    case TEXT_BOOL:
        if (len == 4 && memcmp(value, "true", 4) == 0)
            b = true;
        else if (!(len == 5 && memcmp(value, "false", 5) == 0))
            return -EINVAL;
        break;
    case TEXT_STRING:
        if (len && memchr(value, '\0', len))
            return -EINVAL;
        if (!(str = text_copy(s, value, len)))
            return -ENOMEM;
        break;
    case TEXT_LIST:
        return set_leaks(s, value, len);
    case TEXT_FLAGS:
        if (parse_reported(value, len, &bits) < 0)
            return -EINVAL;
        break;
    }

    switch (id) {
    case T_NODE_ID:
        s->node_id = str;
        break;
    case T_GPU:
        s->gpu_present = b;
        break;
    case T_GPUS: {
        /* "true" names an entry; "false", none: an entry stays once made */
        struct gpu_device_metrics *g;
        if (b) {
            int r = gpus_entry(s, &pk, &g);
            if (r < 0)
                return r;
        }
        break;
    }
    case T_GC:
        s->memory.gc_present = b;
        break;
    case T_ALGO:
        s->node.consensus_metrics.algorithm = str;
        break;
    case T_QUANTUM:
        s->quantum_present = b;
        break;
    case T_QSIM:
        /* as snapshot_set_series() does for a simulation figure */
        s->quantum.simulation_present = b;
        if (b)
            s->quantum_present = true;
        break;
    case T_QREPORTED:
        /* written only inside a present quantum object */
        s->quantum.reported = bits;
        if (bits)
            s->quantum_present = true;
        break;
    case T_MI_QUANT:
    case T_MI_QACC: {
        struct model_inference_metrics *mi =
            model_entry(s, label_of(&pk, "model"), label_of(&pk, "type"));
        if (!mi)
            return -ENOMEM;
        if (id == T_MI_QUANT)
            mi->quantization_info = str;
        else
            mi->quantum_accelerated = b;
        break;
    }
    case T_LEAKS:
        break; /* set above */
    }
    return 0;
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
    else if (!w->first) /* an array's second element on */
        strbuf_putc(w->sb, ',');
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
#define JGPUS(id, path, member, unit, kind, dec, help) \
    jnum(&w, strrchr(path, '.') + 1, g->member, dec);

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
    jopen(&w, "gpus", '[');
    for (size_t i = 0; i < s->n_gpus; i++) {
        const struct gpu_device_metrics *g = &s->gpus[i];
        jopen(&w, NULL, '{');
        jnum(&w, "index", g->index, 0);
        jstr(&w, "name", g->name);
        jstr(&w, "uuid", g->uuid);
        GPUS_FIELDS(JGPUS)
        jclose(&w, '}');
    }
    jclose(&w, ']');

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
        jopen(&w, "reported_by_node", '[');
        for (size_t i = 0, n = 0; i < REPORTED_COUNT; i++)
            if (s->quantum.reported & (1u << i)) {
                if (n++)
                    strbuf_putc(out, ',');
                strbuf_json_str(out, reported_names[i]);
            }
        jclose(&w, ']');
        jclose(&w, '}');
    } else {
        jkey(&w, "quantum");
        strbuf_puts(out, "null");
    }

    jmap(&w, "neural_predictions", &s->neural_predictions, 4);
    if (s->n_detectors) {
        jopen(&w, "detectors", '[');
        for (size_t i = 0; i < s->n_detectors && i < SNAPSHOT_DETECTORS; i++) {
            const struct detector_status *d = &s->detectors[i];
            strbuf_printf(out, "%s{\"name\":", i ? "," : "");
            strbuf_json_str(out, d->name);
            strbuf_printf(out, ",\"warming_up\":%s,\"ticks_left\":%u}",
                          d->warming_up ? "true" : "false", d->ticks_left);
        }
        jclose(&w, ']');
    }
    jclose(&w, '}');
    return out->overflow ? -ENOBUFS : 0;
}

#define ROUND(id, path, member, unit, kind, dec, help)       s->member = round_to(s->member, dec);
#define ROUND_MODEL(id, path, member, unit, kind, dec, help) mi->member = round_to(mi->member, dec);
#define ROUND_GPUS(id, path, member, unit, kind, dec, help)  g->member = round_to(g->member, dec);

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
    for (size_t i = 0; i < s->n_gpus; i++) {
        struct gpu_device_metrics *g = &s->gpus[i];
        GPUS_FIELDS(ROUND_GPUS)
    }
}
