/* The snapshot's non-numeric fields: flattening them to (key, bytes) and back,
 * alone and together with the numeric series, so that a snapshot rebuilt the
 * way the history rebuilds one has the same JSON as the original. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/snapshot.h"

/* two models whose names need every escape the key syntax has */
#define M1_NAME   "fraud,v2=x}\\"
#define M1_TYPE   "onnx=int8,b}"
#define M2_NAME   "}{=,\\\\"
#define M2_TYPE   ""
#define M1_LABELS "{model=fraud\\,v2\\=x\\}\\\\,type=onnx\\=int8\\,b\\}}"
#define M2_LABELS "{model=\\}{\\=\\,\\\\\\\\,type=}"

static char *json_of(const struct snapshot *s)
{
    struct strbuf sb;
    char *j;

    strbuf_init(&sb, 0);
    assert_int_equal(snapshot_to_json(s, &sb), 0);
    j = strdup(sb.buf);
    assert_non_null(j);
    strbuf_done(&sb);
    return j;
}

static void assert_same_json(const struct snapshot *a, const struct snapshot *b)
{
    char *ja = json_of(a), *jb = json_of(b);

    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
}

/* ---- collecting the texts ---- */

struct text {
    char key[1024];
    char value[SNAPSHOT_TEXT_MAX];
    size_t len;
};

struct texts {
    size_t n;
    struct text v[16];
};

static void collect_text(void *ctx, const char *key, const char *value, size_t len)
{
    struct texts *t = ctx;

    assert_true(t->n < sizeof(t->v) / sizeof(t->v[0]));
    assert_true(strlen(key) < sizeof(t->v[0].key));
    assert_true(len <= SNAPSHOT_TEXT_MAX);
    memcpy(t->v[t->n].key, key, strlen(key) + 1);
    memcpy(t->v[t->n].value, value, len);
    t->v[t->n].len = len;
    t->n++;
}

static struct texts *texts_of(const struct snapshot *s)
{
    struct texts *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    snapshot_flatten_texts(s, collect_text, t);
    return t;
}

static void assert_text(const struct texts *t, size_t i, const char *key, const char *value,
                        size_t len)
{
    assert_true(i < t->n);
    assert_string_equal(t->v[i].key, key);
    assert_int_equal(t->v[i].len, len);
    assert_memory_equal(t->v[i].value, value, len);
}

/* ---- rebuilding the way the history does ---- */

static void set_text_cb(void *ctx, const char *key, const char *value, size_t len)
{
    int r = snapshot_set_text(ctx, key, value, len);

    if (r != 0) {
        print_error("snapshot_set_text(%s) = %d\n", key, r);
        fail();
    }
}

static void set_series_cb(void *ctx, const struct series_desc *d, const struct series_label *l,
                          size_t n, double v)
{
    char key[1024];
    int r;

    assert_int_equal(snapshot_series_key(key, sizeof(key), d, l, n), 0);
    r = snapshot_set_series(ctx, key, v);
    if (r != 0) {
        print_error("snapshot_set_series(%s) = %d\n", key, r);
        fail();
    }
}

/* texts first (they bring every model entry back in order), then the series;
 * the row time and interval are the history's own */
static struct snapshot *rebuild(const struct snapshot *s, bool series)
{
    struct snapshot *r = snapshot_new();

    assert_non_null(r);
    r->timestamp = s->timestamp;
    r->timestamp_ms = s->timestamp_ms;
    r->interval_sec = s->interval_sec;
    snapshot_flatten_texts(s, set_text_cb, r);
    if (series)
        snapshot_flatten(s, set_series_cb, r);
    return r;
}

/* ---- fixtures ---- */

static void add_leaks(struct snapshot *s, const char *const *items, size_t n)
{
    s->memory.leak_indicators = snapshot_alloc(s, n * sizeof(char *));
    assert_non_null(s->memory.leak_indicators);
    for (size_t i = 0; i < n; i++) {
        s->memory.leak_indicators[i] = snapshot_strdup(s, items[i]);
        assert_non_null(s->memory.leak_indicators[i]);
    }
    s->memory.n_leak_indicators = n;
}

static struct model_inference_metrics *add_models(struct snapshot *s, size_t n)
{
    struct model_inference_metrics *mi = snapshot_alloc(s, n * sizeof(*mi));

    assert_non_null(mi);
    for (size_t i = 0; i < n; i++) {
        mi[i].avg_inference_ms = mi[i].p95_inference_ms = mi[i].p99_inference_ms = ABSENT;
        mi[i].throughput_per_sec = mi[i].accelerator_util_percent = ABSENT;
    }
    s->model_inference = mi;
    s->n_model_inference = n;
    return mi;
}

/* three GPUs made out of order: one with a name that needs escapes, one with
 * neither name nor UUID, one with no figure at all */
#define GPU5_KEY "gpus{gpu=5,name=idle\\,\\=\\},uuid=GPU-5}"
static void add_gpus(struct snapshot *s)
{
    struct gpu_device_metrics *g = snapshot_gpu_device(s, 5);

    assert_non_null(g);
    g->name = "idle,=}";
    g->uuid = "GPU-5";
    g = snapshot_gpu_device(s, 1);
    g->name = "NVIDIA H100 80GB HBM3";
    g->uuid = "GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001";
    g->usage_percent = 37;
    g->power_watts = 71.234;
    g->clock_memory_mhz = 2619;
    g = snapshot_gpu_device(s, 0);
    g->memory_used_mb = 100;
    s->gpu.power_watts = 71.234;
}

/* every text field set, no numeric figure */
static struct snapshot *texts_only(void)
{
    static const char *const leaks[] = {"RSS grows 3 MB/h", "", "caf\xc3\xa9 \"quoted\"\n"};
    struct snapshot *s = snapshot_new();
    struct model_inference_metrics *mi;

    assert_non_null(s);
    s->node_id = "node-1";
    s->timestamp = 1700000000;
    s->timestamp_ms = 1700000000123;
    add_leaks(s, leaks, 3);
    s->node.consensus_metrics.algorithm = "HotStuff";
    mi = add_models(s, 2);
    mi[0].model_name = M1_NAME;
    mi[0].model_type = M1_TYPE;
    mi[0].quantization_info = "int8, per-channel";
    mi[0].quantum_accelerated = true;
    mi[1].model_name = M2_NAME;
    mi[1].model_type = M2_TYPE;
    return s;
}

/* every text field and figures in every group */
static struct snapshot *whole(void)
{
    struct snapshot *s = texts_only();
    struct model_inference_metrics *mi = s->model_inference;

    s->interval_sec = 1;
    s->cpu.usage_percent = 12.5;
    s->cpu.n_cores = 3;
    s->cpu.core_usage = snapshot_alloc(s, 3 * sizeof(double));
    assert_non_null(s->cpu.core_usage);
    s->cpu.core_usage[0] = 1;
    s->cpu.core_usage[1] = ABSENT;
    s->cpu.core_usage[2] = 99.25;
    s->cpu.seconds_total[3] = 1234.5;
    s->gpu_present = true;
    s->gpu.usage_percent = 40;
    s->memory.physical_used_mb = 2048;
    s->memory.gc_present = true;
    s->memory.gc_metrics.avg_pause_ms = 1.5;
    s->network.p2p_connections = 0;
    s->disk.usage_percent = 71.25;
    s->node.transactions_per_sec = 950.5;
    s->node.consensus_metrics.participation_percent = 99;
    assert_int_equal(
        snapshot_map_add(s, &s->node.contract_metrics.function_calls, 2, "transfer", 42), 0);
    mi[0].avg_inference_ms = 4.25;
    assert_int_equal(snapshot_map_add(s, &mi[0].layer_latencies, 2, "dense,1", 0.5), 0);
    mi[1].p99_inference_ms = 30;
    s->quantum_present = true;
    s->quantum.security_level_bits = 128;
    s->quantum.simulation_present = true;
    s->quantum.simulation_metrics.qubits = 24;
    s->quantum.reported = QUANTUM_REPORTED_QRNG | QUANTUM_REPORTED_SIM;
    assert_int_equal(snapshot_map_add(s, &s->neural_predictions, 1, "cpu_in_5m", 33.3333), 0);
    add_gpus(s);
    return s;
}

/* ---- tests ---- */

static void keys_and_values(void **state)
{
    struct snapshot *s = texts_only();
    struct texts *t = texts_of(s);

    (void)state;
    assert_int_equal(t->n, 6);
    assert_text(t, 0, "node_id", "node-1", 6);
    assert_text(t, 1, "memory.leak_indicators", "RSS grows 3 MB/h\0\0caf\xc3\xa9 \"quoted\"\n",
                17 + 1 + 16);
    assert_text(t, 2, "model_inference.quantization_info" M1_LABELS, "int8, per-channel", 17);
    assert_text(t, 3, "model_inference.quantum_accelerated" M1_LABELS, "true", 4);
    assert_text(t, 4, "model_inference.quantum_accelerated" M2_LABELS, "false", 5);
    assert_text(t, 5, "node.consensus_metrics.algorithm", "HotStuff", 8);
    /* the same order again */
    free(t);
    t = texts_of(s);
    assert_int_equal(t->n, 6);
    assert_string_equal(t->v[2].key, "model_inference.quantization_info" M1_LABELS);
    free(t);
    snapshot_unref(s);
}

struct suffixes {
    size_t n;
    char v[8][1024];
};

static void collect_model_suffix(void *ctx, const struct series_desc *d,
                                 const struct series_label *l, size_t n, double v)
{
    struct suffixes *sf = ctx;
    char key[1024];

    (void)v;
    if (strcmp(d->name, "model_inference.avg_inference_ms") &&
        strcmp(d->name, "model_inference.p99_inference_ms"))
        return;
    assert_int_equal(snapshot_series_key(key, sizeof(key), d, l, n), 0);
    assert_true(sf->n < 8);
    memcpy(sf->v[sf->n++], strchr(key, '{'), strlen(strchr(key, '{')) + 1);
}

/* the model texts carry the labels of the model's numeric series, escaped alike */
static void model_labels_match_the_series(void **state)
{
    struct snapshot *s = whole();
    struct texts *t = texts_of(s);
    struct suffixes sf = {0};

    (void)state;
    snapshot_flatten(s, collect_model_suffix, &sf);
    assert_int_equal(sf.n, 2);
    assert_string_equal(sf.v[0], M1_LABELS);
    assert_string_equal(sf.v[1], M2_LABELS);
    for (size_t i = 0; i < t->n; i++) {
        const char *brace = strchr(t->v[i].key, '{');
        if (brace && strncmp(t->v[i].key, "model_inference.", 16) == 0)
            assert_true(strcmp(brace, sf.v[0]) == 0 || strcmp(brace, sf.v[1]) == 0);
    }
    free(t);
    snapshot_unref(s);
}

static void texts_round_trip(void **state)
{
    struct snapshot *s = texts_only();
    struct snapshot *r = rebuild(s, false);

    (void)state;
    assert_same_json(s, r);
    assert_int_equal(r->n_model_inference, 2);
    assert_int_equal(r->memory.n_leak_indicators, 3);
    assert_string_equal(r->model_inference[0].model_name, M1_NAME);
    assert_string_equal(r->model_inference[1].model_name, M2_NAME);
    assert_null(r->model_inference[1].quantization_info);
    /* the rebuilt snapshot owns its strings */
    assert_ptr_not_equal(r->node_id, s->node_id);
    snapshot_unref(r);
    snapshot_unref(s);
}

static void whole_snapshot_round_trip(void **state)
{
    struct snapshot *s = whole();
    struct snapshot *r = rebuild(s, true);
    struct snapshot *r2;

    (void)state;
    assert_same_json(s, r);
    assert_int_equal(r->n_model_inference, 2);
    /* and again from the rebuilt one */
    r2 = rebuild(r, true);
    assert_same_json(s, r2);
    snapshot_unref(r2);
    snapshot_unref(r);
    snapshot_unref(s);
}

/* a model with no figure at all still comes back, in its place */
static void model_without_figures_round_trip(void **state)
{
    struct snapshot *s = whole();
    struct snapshot *r;

    (void)state;
    s->model_inference[0].avg_inference_ms = ABSENT;
    s->model_inference[0].layer_latencies.n = 0;
    r = rebuild(s, true);
    assert_same_json(s, r);
    snapshot_unref(r);
    snapshot_unref(s);
}

static void no_text_fields_no_calls(void **state)
{
    struct snapshot *s = snapshot_new();
    struct texts *t;

    (void)state;
    t = texts_of(s);
    assert_int_equal(t->n, 0);
    free(t);
    /* figures, with their groups present, imply the flags: still no texts */
    s->cpu.usage_percent = 3;
    s->gpu_present = true;
    s->gpu.temperature = 50;
    s->memory.gc_present = true;
    s->memory.gc_metrics.collections_total = 7;
    s->quantum_present = true;
    s->quantum.qrng_throughput = 1e6;
    s->quantum.simulation_present = true;
    s->quantum.simulation_metrics.circuit_depth = 12;
    s->quantum.simulation_metrics.qubits = ABSENT;
    t = texts_of(s);
    assert_int_equal(t->n, 0);
    free(t);
    /* an unnamed model entry is no entry */
    add_models(s, 1)->quantization_info = "fp16";
    t = texts_of(s);
    assert_int_equal(t->n, 0);
    free(t);
    snapshot_unref(s);
}

/* a group flagged present with every figure absent: only the text says so */
static void presence_without_figures(void **state)
{
    struct snapshot *s = snapshot_new();
    struct snapshot *r;
    struct texts *t;

    (void)state;
    s->gpu_present = true;
    s->memory.gc_present = true;
    s->quantum_present = true;
    s->quantum.simulation_present = true;
    t = texts_of(s);
    assert_int_equal(t->n, 3);
    assert_text(t, 0, "gpu", "true", 4);
    assert_text(t, 1, "memory.gc_metrics", "true", 4);
    assert_text(t, 2, "quantum.simulation_metrics", "true", 4);
    free(t);
    r = rebuild(s, true);
    assert_same_json(s, r);
    snapshot_unref(r);

    /* quantum without simulation, and without figures */
    s->quantum.simulation_present = false;
    t = texts_of(s);
    assert_int_equal(t->n, 3);
    assert_text(t, 2, "quantum", "true", 4);
    free(t);
    r = rebuild(s, true);
    assert_same_json(s, r);
    snapshot_unref(r);

    /* quantum figures imply quantum; the simulation still needs its text */
    s->quantum.simulation_present = true;
    s->quantum.pq_crypto_overhead = 4.5;
    t = texts_of(s);
    assert_int_equal(t->n, 3);
    assert_text(t, 2, "quantum.simulation_metrics", "true", 4);
    free(t);
    r = rebuild(s, true);
    assert_same_json(s, r);
    snapshot_unref(r);

    /* "false" clears a flag */
    assert_int_equal(snapshot_set_text(s, "gpu", "false", 5), 0);
    assert_false(s->gpu_present);
    assert_int_equal(snapshot_set_text(s, "quantum.simulation_metrics", "false", 5), 0);
    assert_false(s->quantum.simulation_present);
    assert_true(s->quantum_present);
    snapshot_unref(s);
}

/* GPUs and the quantum figures the node reported: texts where the series
 * cannot say, and both come back */
static void gpus_and_reported(void **state)
{
    struct snapshot *s = snapshot_new();
    struct snapshot *r;
    struct texts *t;

    (void)state;
    add_gpus(s);
    s->quantum_present = true;
    s->quantum.reported = QUANTUM_REPORTED_PQ | QUANTUM_REPORTED_SECURITY | (1u << 9);
    t = texts_of(s);
    assert_int_equal(t->n, 3);
    assert_text(t, 0, GPU5_KEY, "true", 4);
    assert_text(t, 1, "quantum", "true", 4);
    assert_text(t, 2, "quantum.reported_by_node", "pq_crypto_overhead,security_level_bits", 38);
    free(t);
    r = rebuild(s, true);
    assert_same_json(s, r);
    assert_int_equal(r->n_gpus, 3);
    assert_int_equal(r->gpus[2].index, 5);
    assert_string_equal(r->gpus[2].name, "idle,=}");
    assert_null(r->gpus[0].name);
    assert_int_equal(r->quantum.reported, QUANTUM_REPORTED_PQ | QUANTUM_REPORTED_SECURITY);
    snapshot_unref(r);

    /* from the texts alone: the entry without figures, and the reported list */
    r = rebuild(s, false);
    assert_int_equal(r->n_gpus, 1);
    assert_int_equal(r->gpus[0].index, 5);
    assert_true(r->quantum_present);
    snapshot_unref(r);

    /* the reported list is the quantum object's: set, it makes the object present */
    r = snapshot_new();
    assert_int_equal(
        snapshot_set_text(r, "quantum.reported_by_node", "simulation_metrics,qrng_throughput", 34),
        0);
    assert_true(r->quantum_present);
    assert_int_equal(r->quantum.reported, QUANTUM_REPORTED_QRNG | QUANTUM_REPORTED_SIM);
    assert_int_equal(snapshot_set_text(r, "quantum.reported_by_node", "", 0), 0);
    assert_int_equal(r->quantum.reported, 0);
    /* "false" names no entry */
    assert_int_equal(snapshot_set_text(r, "gpus{gpu=2,name=a,uuid=b}", "false", 5), 0);
    assert_int_equal(r->n_gpus, 0);
    snapshot_unref(r);
    snapshot_unref(s);
}

struct bad {
    const char *key;
    const char *value;
    size_t len;
    int err;
};

#define QACC "model_inference.quantum_accelerated"

static void bad_keys_and_values(void **state)
{
    static const struct bad bad[] = {
        /* names no text field */
        {"nope", "x", 1, -ENOENT},
        {"", "x", 1, -ENOENT},
        {"cpu.usage_percent", "1", 1, -ENOENT},
        {"model_inference.avg_inference_ms{model=a,type=b}", "1", 1, -ENOENT},
        {"model_inference.layer_latencies{model=a,type=b,layer=c}", "1", 1, -ENOENT},
        {"node_ID", "x", 1, -ENOENT},
        /* malformed keys */
        {"node_id{", "x", 1, -EINVAL},
        {"node_id{a=b}", "x", 1, -EINVAL},
        {"node_id{a=b}x", "x", 1, -EINVAL},
        {QACC, "true", 4, -EINVAL},
        {QACC "{model=a}", "true", 4, -EINVAL},
        {QACC "{type=a}", "true", 4, -EINVAL},
        {QACC "{model=a,model=b}", "true", 4, -EINVAL},
        {QACC "{model=a,type=b,layer=c}", "true", 4, -EINVAL},
        {QACC "{model=a,type=b", "true", 4, -EINVAL},
        {QACC "{model=a,type=b}}", "true", 4, -EINVAL},
        {QACC "{model=a,type=b,c=d,e=f}", "true", 4, -EINVAL},
        {"memory.leak_indicators{model=a,type=b}", "x", 2, -EINVAL},
        /* malformed values */
        {QACC "{model=a,type=b}", "TRUE", 4, -EINVAL},
        {QACC "{model=a,type=b}", "1", 1, -EINVAL},
        {QACC "{model=a,type=b}", "yes", 3, -EINVAL},
        {QACC "{model=a,type=b}", "true\0", 5, -EINVAL},
        {QACC "{model=a,type=b}", "tru", 3, -EINVAL},
        {QACC "{model=a,type=b}", "", 0, -EINVAL},
        {QACC "{model=a,type=b}", NULL, 0, -EINVAL},
        {"gpu", "on", 2, -EINVAL},
        {"quantum", "false ", 6, -EINVAL},
        {"node.consensus_metrics.algorithm", "Hot\0Stuff", 9, -EINVAL},
        {"node.consensus_metrics.algorithm", "HotStuff\0", 9, -EINVAL},
        {"node.consensus_metrics.algorithm", NULL, 3, -EINVAL},
        {"node_id", "\0", 1, -EINVAL},
        {"model_inference.quantization_info{model=a,type=b}", "a\0b", 3, -EINVAL},
        {"memory.leak_indicators", "no terminator", 13, -EINVAL},
        {"memory.leak_indicators", "one\0two", 7, -EINVAL},
        /* GPUs and the reported list */
        {"gpus", "true", 4, -EINVAL},
        {"gpus{gpu=1,name=a}", "true", 4, -EINVAL},
        {"gpus{gpu=1,name=a,type=b}", "true", 4, -EINVAL},
        {"gpus{gpu=64,name=a,uuid=b}", "true", 4, -EINVAL},
        {"gpus{gpu=-1,name=a,uuid=b}", "true", 4, -EINVAL},
        {"gpus{gpu=x,name=a,uuid=b}", "true", 4, -EINVAL},
        {"gpus{gpu=1,name=a,uuid=b}", "yes", 3, -EINVAL},
        {"gpus.usage_percent{gpu=1,name=a,uuid=b}", "true", 4, -ENOENT},
        {"quantum.reported_by_node{a=b}", "qrng_throughput", 15, -EINVAL},
        {"quantum.reported_by_node", "qrng", 4, -EINVAL},
        {"quantum.reported_by_node", "qrng_throughput,", 16, -EINVAL},
        {"quantum.reported_by_node", ",qrng_throughput", 16, -EINVAL},
        {"quantum.reported_by_node", ",", 1, -EINVAL},
        {"quantum.reported_by_node", "qrng_throughput\0", 16, -EINVAL},
        {"quantum.reported_by_node", "QRNG_THROUGHPUT", 15, -EINVAL},
    };
    struct snapshot *s = whole();
    char *before = json_of(s);

    (void)state;
    assert_int_equal(snapshot_set_text(s, NULL, "x", 1), -EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = snapshot_set_text(s, bad[i].key, bad[i].value, bad[i].len);
        char *after;

        if (r != bad[i].err) {
            print_error("snapshot_set_text(%s) = %d, want %d\n", bad[i].key, r, bad[i].err);
            fail();
        }
        /* nothing changed: no stray model entry either */
        after = json_of(s);
        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    /* and the snapshot takes good values afterwards */
    assert_int_equal(snapshot_set_text(s, "node.consensus_metrics.algorithm", "Tendermint", 10), 0);
    assert_string_equal(s->node.consensus_metrics.algorithm, "Tendermint");
    assert_int_equal(snapshot_set_text(s, QACC M2_LABELS, "true", 4), 0);
    assert_int_equal(s->n_model_inference, 2);
    assert_true(s->model_inference[1].quantum_accelerated);
    snapshot_unref(s);
}

static void bounds(void **state)
{
    struct snapshot *s = snapshot_new();
    char *big = malloc(SNAPSHOT_TEXT_MAX + 2);
    char list[(SNAPSHOT_LEAK_MAX + 1) * 2];

    (void)state;
    assert_non_null(big);
    memset(big, 'a', SNAPSHOT_TEXT_MAX + 1);
    big[SNAPSHOT_TEXT_MAX + 1] = '\0';
    assert_int_equal(snapshot_set_text(s, "node_id", big, SNAPSHOT_TEXT_MAX + 1), -EINVAL);
    assert_null(s->node_id);
    assert_int_equal(snapshot_set_text(s, "node_id", big, SNAPSHOT_TEXT_MAX), 0);
    assert_int_equal(strlen(s->node_id), SNAPSHOT_TEXT_MAX);

    for (size_t i = 0; i < SNAPSHOT_LEAK_MAX + 1; i++) {
        list[2 * i] = (char)('A' + i % 26);
        list[2 * i + 1] = '\0';
    }
    assert_int_equal(snapshot_set_text(s, "memory.leak_indicators", list, sizeof(list)), -EINVAL);
    assert_int_equal(s->memory.n_leak_indicators, 0);
    assert_int_equal(snapshot_set_text(s, "memory.leak_indicators", list, sizeof(list) - 2), 0);
    assert_int_equal(s->memory.n_leak_indicators, SNAPSHOT_LEAK_MAX);
    assert_string_equal(s->memory.leak_indicators[SNAPSHOT_LEAK_MAX - 1], "L");
    /* a list of empty sentences, then the empty list */
    assert_int_equal(snapshot_set_text(s, "memory.leak_indicators", "\0\0", 2), 0);
    assert_int_equal(s->memory.n_leak_indicators, 2);
    assert_string_equal(s->memory.leak_indicators[1], "");
    assert_int_equal(snapshot_set_text(s, "memory.leak_indicators", NULL, 0), 0);
    assert_int_equal(s->memory.n_leak_indicators, 0);
    /* the empty string is a value, not absence */
    assert_int_equal(snapshot_set_text(s, "node.consensus_metrics.algorithm", "", 0), 0);
    assert_string_equal(s->node.consensus_metrics.algorithm, "");
    free(big);
    snapshot_unref(s);
}

/* the flattening never writes what snapshot_set_text() refuses */
static void flatten_stays_in_bounds(void **state)
{
    struct snapshot *s = snapshot_new();
    struct snapshot *r;
    struct model_inference_metrics *mi;
    const char *items[SNAPSHOT_LEAK_MAX + 6];
    char *big = malloc(SNAPSHOT_TEXT_MAX + 100);
    char longname[300];
    struct texts *t;

    (void)state;
    assert_non_null(big);
    /* a 2-byte UTF-8 character across the cut */
    memset(big, 'x', SNAPSHOT_TEXT_MAX + 99);
    big[SNAPSHOT_TEXT_MAX - 1] = '\xc3';
    big[SNAPSHOT_TEXT_MAX] = '\xa9';
    big[SNAPSHOT_TEXT_MAX + 99] = '\0';
    s->node.consensus_metrics.algorithm = big;
    for (size_t i = 0; i < SNAPSHOT_LEAK_MAX + 6; i++)
        items[i] = "leak";
    add_leaks(s, items, SNAPSHOT_LEAK_MAX + 6);
    memset(longname, 'm', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    mi = add_models(s, 2);
    mi[0].model_name = longname;
    mi[0].model_type = "t";
    mi[0].quantization_info = "int4";
    mi[1].model_name = "ok";
    mi[1].model_type = NULL;

    t = texts_of(s);
    assert_int_equal(t->n, 3);
    assert_string_equal(t->v[0].key, "memory.leak_indicators");
    assert_int_equal(t->v[0].len, SNAPSHOT_LEAK_MAX * 5);
    assert_memory_equal(t->v[0].value, "leak\0leak\0", 10);
    assert_text(t, 1, QACC "{model=ok,type=}", "false", 5);
    assert_string_equal(t->v[2].key, "node.consensus_metrics.algorithm");
    assert_int_equal(t->v[2].len, SNAPSHOT_TEXT_MAX - 1);
    free(t);
    r = rebuild(s, false);
    assert_int_equal(r->memory.n_leak_indicators, SNAPSHOT_LEAK_MAX);
    assert_int_equal(strlen(r->node.consensus_metrics.algorithm), SNAPSHOT_TEXT_MAX - 1);
    assert_int_equal(r->n_model_inference, 1);
    assert_string_equal(r->model_inference[0].model_type, "");
    snapshot_unref(r);

    /* a leak list longer than a value holds keeps the items that fit */
    {
        static char sentence[1500];
        const char *three[3] = {sentence, sentence, sentence};

        memset(sentence, 's', sizeof(sentence) - 1);
        add_leaks(s, three, 3);
        t = texts_of(s);
        assert_string_equal(t->v[0].key, "memory.leak_indicators");
        assert_int_equal(t->v[0].len, 2 * sizeof(sentence));
        free(t);
    }
    free(big);
    snapshot_unref(s);
}

/* text and series keys of one model meet in one entry, whichever comes first */
static void one_entry_per_model(void **state)
{
    struct snapshot *s = snapshot_new();

    (void)state;
    assert_int_equal(snapshot_set_series(s, "model_inference.avg_inference_ms" M1_LABELS, 2), 0);
    assert_int_equal(snapshot_set_text(s, QACC M1_LABELS, "true", 4), 0);
    assert_int_equal(snapshot_set_text(s, "model_inference.quantization_info" M1_LABELS, "fp8", 3),
                     0);
    assert_int_equal(snapshot_set_text(s, QACC M2_LABELS, "false", 5), 0);
    assert_int_equal(snapshot_set_series(s, "model_inference.p95_inference_ms" M2_LABELS, 9), 0);
    assert_int_equal(s->n_model_inference, 2);
    assert_string_equal(s->model_inference[0].model_name, M1_NAME);
    assert_string_equal(s->model_inference[0].model_type, M1_TYPE);
    assert_true(s->model_inference[0].quantum_accelerated);
    assert_string_equal(s->model_inference[0].quantization_info, "fp8");
    assert_true(s->model_inference[0].avg_inference_ms == 2);
    assert_string_equal(s->model_inference[1].model_name, M2_NAME);
    assert_string_equal(s->model_inference[1].model_type, M2_TYPE);
    assert_true(s->model_inference[1].p95_inference_ms == 9);
    /* labels in the other order name the same entry */
    assert_int_equal(snapshot_set_text(s, QACC "{type=,model=\\}{\\=\\,\\\\\\\\}", "true", 4), 0);
    assert_int_equal(s->n_model_inference, 2);
    assert_true(s->model_inference[1].quantum_accelerated);
    /* the last value wins */
    assert_int_equal(snapshot_set_text(s, "model_inference.quantization_info" M1_LABELS, "int8", 4),
                     0);
    assert_string_equal(s->model_inference[0].quantization_info, "int8");
    snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_and_values),
        cmocka_unit_test(model_labels_match_the_series),
        cmocka_unit_test(texts_round_trip),
        cmocka_unit_test(whole_snapshot_round_trip),
        cmocka_unit_test(model_without_figures_round_trip),
        cmocka_unit_test(no_text_fields_no_calls),
        cmocka_unit_test(presence_without_figures),
        cmocka_unit_test(gpus_and_reported),
        cmocka_unit_test(bad_keys_and_values),
        cmocka_unit_test(bounds),
        cmocka_unit_test(flatten_stays_in_bounds),
        cmocka_unit_test(one_entry_per_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
