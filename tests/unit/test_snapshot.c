/* The snapshot model: the seed's JSON shape, absent figures, flattening, rounding. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/snapshot.h"
#include "testutil.h"

static char *to_json(const struct snapshot *s, struct strbuf *sb)
{
    strbuf_init(sb, 0);
    assert_int_equal(snapshot_to_json(s, sb), 0);
    return sb->buf;
}

/* Every field of every seed structure appears, under the seed's name. */
static void json_has_every_seed_field(void **state)
{
    static const char *const fields[] = {"\"node_id\":",
                                         "\"timestamp\":",
                                         "\"cpu\":{",
                                         "\"usage_percent\":",
                                         "\"core_usage\":[",
                                         "\"temperature\":",
                                         "\"frequency_mhz\":",
                                         "\"process_usage\":",
                                         "\"gpu\":null",
                                         "\"gpus\":[]",
                                         "\"memory\":{",
                                         "\"physical_used_mb\":",
                                         "\"physical_total_mb\":",
                                         "\"virtual_used_mb\":",
                                         "\"swap_used_mb\":",
                                         "\"gc_metrics\":null",
                                         "\"leak_indicators\":[]",
                                         "\"network\":{",
                                         "\"ingress_kbps\":",
                                         "\"egress_kbps\":",
                                         "\"packet_loss_percent\":",
                                         "\"latency_ms\":",
                                         "\"p2p_connections\":",
                                         "\"open_sockets\":",
                                         "\"disk\":{",
                                         "\"read_ops_per_sec\":",
                                         "\"write_ops_per_sec\":",
                                         "\"read_mbps\":",
                                         "\"write_mbps\":",
                                         "\"available_gb\":",
                                         "\"model_inference\":[]",
                                         "\"node\":{",
                                         "\"transactions_per_sec\":",
                                         "\"avg_tx_validation_ms\":",
                                         "\"blocks_per_min\":",
                                         "\"avg_block_size_kb\":",
                                         "\"mempool_size\":",
                                         "\"consensus_metrics\":{",
                                         "\"algorithm\":null",
                                         "\"time_to_finality_sec\":",
                                         "\"messages_per_sec\":",
                                         "\"participation_percent\":",
                                         "\"quantum_resistant_overhead\":",
                                         "\"contract_metrics\":{",
                                         "\"contracts_per_sec\":",
                                         "\"avg_execution_ms\":",
                                         "\"avg_gas_used\":",
                                         "\"function_calls\":{}",
                                         "\"wasm_load_ms\":",
                                         "\"quantum\":null",
                                         "\"neural_predictions\":{}"};
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char *j;

    (void)state;
    s->node_id = "n1";
    s->timestamp = 1700000000;
    j = to_json(s, &sb);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (!strstr(j, fields[i])) {
            print_error("missing %s in %s\n", fields[i], j);
            fail();
        }
    }
    /* absent figures are null, never a made-up zero */
    assert_non_null(strstr(j, "\"usage_percent\":null"));
    assert_non_null(strstr(j, "\"transactions_per_sec\":null"));
    strbuf_done(&sb);
    snapshot_unref(s);
}

static void json_with_optional_parts(void **state)
{
    struct snapshot *s = snapshot_new();
    struct model_inference_metrics *mi;
    struct strbuf sb;
    char *j;

    (void)state;
    s->node_id = "n\"1";
    s->cpu.usage_percent = 12.5;
    s->cpu.n_cores = 3;
    s->cpu.core_usage = snapshot_alloc(s, 3 * sizeof(double));
    s->cpu.core_usage[0] = 1;
    s->cpu.core_usage[1] = ABSENT; /* offline core */
    s->cpu.core_usage[2] = 99.25;
    s->gpu_present = true;
    s->gpu.usage_percent = 40;
    s->quantum_present = true;
    s->quantum.security_level_bits = 128;
    s->memory.gc_present = true;
    s->memory.gc_metrics.avg_pause_ms = 1.5;
    s->memory.n_leak_indicators = 1;
    s->memory.leak_indicators = snapshot_alloc(s, sizeof(char *));
    s->memory.leak_indicators[0] = snapshot_strdup(s, "RSS grows 3 MB/h");
    s->node.consensus_metrics.algorithm = "HotStuff";
    assert_int_equal(
        snapshot_map_add(s, &s->node.contract_metrics.function_calls, 1, "transfer", 42), 0);
    assert_int_equal(snapshot_map_add(s, &s->node.contract_metrics.function_calls, 1, "mint", 3),
                     0); /* grows past the hint */
    s->n_model_inference = 2;
    s->model_inference = mi = snapshot_alloc(s, 2 * sizeof(*mi));
    mi->model_name = "fraud";
    mi->model_type = "onnx";
    mi->avg_inference_ms = 4.25;
    mi->p95_inference_ms = mi->p99_inference_ms = mi->throughput_per_sec = ABSENT;
    mi->accelerator_util_percent = ABSENT;
    snapshot_map_add(s, &mi->layer_latencies, 2, "dense1", 0.5);
    mi[1] = mi[0]; /* a second model: the array's elements are comma-separated */
    mi[1].model_name = "risk";
    mi[1].layer_latencies = (struct kv_map){0};
    snapshot_map_add(s, &s->neural_predictions, 1, "cpu_in_5m", 33.3333);

    j = to_json(s, &sb);
    assert_non_null(strstr(j, "\"node_id\":\"n\\\"1\""));
    assert_non_null(strstr(j, "\"core_usage\":[1,null,99.25]"));
    assert_non_null(strstr(j, "\"gpu\":{\"usage_percent\":40,"));
    assert_non_null(strstr(j, "\"gc_metrics\":{"));
    assert_non_null(strstr(j, "\"leak_indicators\":[\"RSS grows 3 MB/h\"]"));
    assert_non_null(strstr(j, "\"algorithm\":\"HotStuff\""));
    assert_non_null(strstr(j, "\"function_calls\":{\"transfer\":42,\"mint\":3}"));
    assert_non_null(strstr(j, "\"model_name\":\"fraud\""));
    assert_non_null(strstr(j, "\"layer_latencies\":{\"dense1\":0.5}"));
    assert_non_null(strstr(j, "},{\"model_name\":\"risk\""));
    assert_non_null(strstr(j, "\"quantization_info\":null"));
    assert_non_null(strstr(j, "\"quantum_accelerated\":false"));
    assert_non_null(strstr(j, "\"security_level_bits\":128"));
    assert_non_null(strstr(j, "\"simulation_metrics\":null"));
    assert_non_null(strstr(j, "\"neural_predictions\":{\"cpu_in_5m\":33.3333}"));
    strbuf_done(&sb);
    snapshot_unref(s);
}

struct seen {
    unsigned n;
    char names[64][96];
    double values[64];
};

static void collect(void *ctx, const struct series_desc *d, const struct series_label *l, size_t n,
                    double v)
{
    struct seen *s = ctx;
    int off;

    assert_true(s->n < 64);
    off = snprintf(s->names[s->n], sizeof(s->names[0]), "%s", d->name);
    for (size_t i = 0; i < n; i++)
        off += snprintf(s->names[s->n] + off, sizeof(s->names[0]) - (size_t)off, "%s%s=%s",
                        i ? "," : "{", l[i].key, l[i].value);
    if (n)
        snprintf(s->names[s->n] + off, sizeof(s->names[0]) - (size_t)off, "}");
    s->values[s->n++] = v;
}

static int find(const struct seen *s, const char *name)
{
    for (unsigned i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return (int)i;
    return -1;
}

static void flatten_present_figures_only(void **state)
{
    struct snapshot *s = snapshot_new();
    struct seen seen = {0};
    struct model_inference_metrics *mi;

    (void)state;
    s->cpu.usage_percent = 50;
    s->cpu.n_cores = 2;
    s->cpu.core_usage = snapshot_alloc(s, 2 * sizeof(double));
    s->cpu.core_usage[0] = ABSENT;
    s->cpu.core_usage[1] = 100;
    s->network.p2p_connections = 0; /* zero is a value, not absence */
    s->gpu.usage_percent = 10;      /* ignored: gpu not present */
    s->n_model_inference = 1;
    s->model_inference = mi = snapshot_alloc(s, sizeof(*mi));
    mi->model_name = "m";
    mi->model_type = "t";
    mi->avg_inference_ms = 2;
    mi->p95_inference_ms = mi->p99_inference_ms = mi->throughput_per_sec = ABSENT;
    mi->accelerator_util_percent = ABSENT;
    snapshot_map_add(s, &mi->layer_latencies, 1, "l1", 0.25);
    snapshot_flatten(s, collect, &seen);
    assert_int_equal(seen.n, 5);
    assert_true(find(&seen, "cpu.usage_percent") >= 0);
    assert_true(find(&seen, "cpu.core_usage{core=1}") >= 0);
    assert_true(find(&seen, "cpu.core_usage{core=0}") < 0);
    assert_true(find(&seen, "network.p2p_connections") >= 0);
    assert_true(find(&seen, "gpu.usage_percent") < 0);
    assert_true(find(&seen, "model_inference.avg_inference_ms{model=m,type=t}") >= 0);
    assert_true(find(&seen, "model_inference.layer_latencies{model=m,type=t,layer=l1}") >= 0);
    snapshot_unref(s);
}

static void rounding_follows_the_table(void **state)
{
    struct snapshot *s = snapshot_new();

    (void)state;
    s->cpu.usage_percent = 12.345678;
    s->memory.physical_used_mb = 1234.6;
    s->disk.write_mbps = 1.23456;
    s->cpu.n_cores = 1;
    s->cpu.core_usage = snapshot_alloc(s, sizeof(double));
    s->cpu.core_usage[0] = 99.999;
    snapshot_round(s);
    assert_true(s->cpu.usage_percent == 12.35);
    assert_true(s->memory.physical_used_mb == 1235);
    assert_true(s->disk.write_mbps == 1.235);
    assert_true(s->cpu.core_usage[0] == 100);
    assert_true(isnan(s->cpu.temperature));
    assert_true(isnan(round_to(NAN, 2)));
    /* every table entry documents a unit and a help text */
    for (size_t i = 0; i < series_table_len; i++) {
        assert_non_null(series_table[i].unit);
        assert_true(strlen(series_table[i].help) > 5);
        assert_true(series_table[i].decimals >= 0 && series_table[i].decimals <= 9);
    }
    snapshot_unref(s);
}

/* The GPU list: kept in index order, one entry per index, in the JSON after
 * the aggregate, flattened with its labels, rounded by the table, and set back
 * from its keys. */
static void gpu_list(void **state)
{
    struct snapshot *s = snapshot_new();
    struct gpu_device_metrics *g;
    struct seen seen = {0};
    struct strbuf sb;
    char *j;

    (void)state;
    j = to_json(s, &sb);
    assert_non_null(strstr(j, "\"gpu\":null,\"gpus\":[],\"memory\":{"));
    strbuf_done(&sb);

    assert_null(snapshot_gpu_device(s, SNAPSHOT_GPU_MAX));
    g = snapshot_gpu_device(s, 3);
    g->name = "NVIDIA H100 80GB HBM3";
    g->uuid = "GPU-3";
    g->usage_percent = 37.04;
    g->power_watts = 71.23449;
    g->clock_sm_mhz = 1980.4;
    g = snapshot_gpu_device(s, 1); /* before 3 */
    g->memory_used_mb = 1023.6;
    assert_ptr_equal(snapshot_gpu_device(s, 3), &s->gpus[1]);
    assert_int_equal(s->n_gpus, 2);
    assert_int_equal(s->gpus[0].index, 1);
    assert_int_equal(s->gpus[1].index, 3);
    assert_string_equal(s->gpus[1].name, "NVIDIA H100 80GB HBM3");
    assert_true(isnan(s->gpus[1].temperature));
    s->gpu_present = true;
    s->gpu.power_watts = 71.23449;
    snapshot_round(s);
    assert_true(s->gpus[1].usage_percent == 37);
    assert_true(s->gpus[1].power_watts == 71.234);
    assert_true(s->gpus[1].clock_sm_mhz == 1980);
    assert_true(s->gpus[0].memory_used_mb == 1024);
    assert_true(s->gpu.power_watts == 71.234);

    j = to_json(s, &sb);
    assert_non_null(strstr(j,
                           "\"quantum_sim_usage\":null,\"power_watts\":71.234},\"gpus\":["
                           "{\"index\":1,\"name\":null,\"uuid\":null,\"usage_percent\":null,"
                           "\"memory_used_mb\":1024,\"memory_total_mb\":null,\"temperature\":null,"
                           "\"power_watts\":null,\"clock_sm_mhz\":null,\"clock_memory_mhz\":null,"
                           "\"tensor_core_util\":null,\"core_util\":null},"
                           "{\"index\":3,\"name\":\"NVIDIA H100 80GB HBM3\",\"uuid\":\"GPU-3\","
                           "\"usage_percent\":37,"));
    strbuf_done(&sb);

    snapshot_flatten(s, collect, &seen);
    assert_int_equal(seen.n, 5);
    assert_true(find(&seen, "gpu.power_watts") >= 0);
    assert_true(find(&seen, "gpus.memory_used_mb{gpu=1,name=,uuid=}") >= 0);
    assert_true(find(&seen, "gpus.usage_percent{gpu=3,name=NVIDIA H100 80GB HBM3,uuid=GPU-3}") >=
                0);
    assert_true(find(&seen, "gpus.clock_sm_mhz{gpu=3,name=NVIDIA H100 80GB HBM3,uuid=GPU-3}") >= 0);

    /* keys: every label needed, the index bounded */
    assert_int_equal(snapshot_set_series(s,
                                         "gpus.temperature{gpu=3,name=NVIDIA H100 80GB HBM3,"
                                         "uuid=GPU-3}",
                                         61),
                     0);
    assert_true(s->gpus[1].temperature == 61);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=0,name=A\\,B,uuid=}", 40), 0);
    assert_int_equal(s->n_gpus, 3);
    assert_string_equal(s->gpus[0].name, "A,B");
    assert_null(s->gpus[0].uuid);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=0,name=,uuid=U}", 41), 0);
    assert_null(s->gpus[0].name);
    assert_string_equal(s->gpus[0].uuid, "U");
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=64,name=,uuid=}", 1), -EINVAL);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=x,name=,uuid=}", 1), -EINVAL);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=1,name=}", 1), -EINVAL);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature{gpu=1,name=,type=}", 1), -EINVAL);
    assert_int_equal(snapshot_set_series(s, "gpus.temperature", 1), -ENOENT);
    assert_int_equal(snapshot_set_series(s, "gpus.nope{gpu=1,name=,uuid=}", 1), -ENOENT);
    assert_int_equal(s->n_gpus, 3);
    snapshot_unref(s);
}

/* Which quantum figures the node reported: names in bit order, in the quantum object. */
static void quantum_reported(void **state)
{
    struct snapshot *s = snapshot_new();
    struct strbuf sb;

    (void)state;
    s->quantum.reported = QUANTUM_REPORTED_SIM | QUANTUM_REPORTED_QRNG;
    assert_non_null(strstr(to_json(s, &sb), "\"quantum\":null"));
    strbuf_done(&sb);
    s->quantum_present = true;
    assert_non_null(strstr(to_json(s, &sb), "\"simulation_metrics\":null,\"reported_by_node\":["
                                            "\"qrng_throughput\",\"simulation_metrics\"]}"));
    strbuf_done(&sb);
    s->quantum.reported = QUANTUM_REPORTED_QRNG | QUANTUM_REPORTED_PQ | QUANTUM_REPORTED_MERKLE |
                          QUANTUM_REPORTED_SECURITY | QUANTUM_REPORTED_SIM;
    assert_non_null(strstr(to_json(s, &sb), "\"reported_by_node\":[\"qrng_throughput\","
                                            "\"pq_crypto_overhead\",\"merkle_ops_per_sec\","
                                            "\"security_level_bits\",\"simulation_metrics\"]"));
    strbuf_done(&sb);
    s->quantum.reported = 0;
    assert_non_null(strstr(to_json(s, &sb), "\"reported_by_node\":[]}"));
    strbuf_done(&sb);
    snapshot_unref(s);
}

static void references(void **state)
{
    struct snapshot *s = snapshot_new();
    void *big;

    (void)state;
    assert_ptr_equal(snapshot_ref(s), s);
    snapshot_unref(s);
    big = snapshot_alloc(s, 100000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 100000);
    snapshot_unref(s); /* last reference: freed (ASan/valgrind would see a leak otherwise) */
    snapshot_unref(NULL);
}

/* docs/metrics.md lists every figure the table can produce, by its full name. */
static void every_series_is_documented(void **state)
{
    static char buf[1 << 17];
    char want[160];

    (void)state;
    assert_true(read_source_file("docs/metrics.md", buf, sizeof(buf)) > 0);
    for (size_t i = 0; i < series_table_len; i++) {
        snprintf(want, sizeof(want), "`%s`", series_table[i].name);
        if (!strstr(buf, want)) {
            print_error("docs/metrics.md does not document %s\n", want);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_has_every_seed_field),
        cmocka_unit_test(json_with_optional_parts),
        cmocka_unit_test(flatten_present_figures_only),
        cmocka_unit_test(rounding_follows_the_table),
        cmocka_unit_test(gpu_list),
        cmocka_unit_test(quantum_reported),
        cmocka_unit_test(references),
        cmocka_unit_test(every_series_is_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
