/* The node metric aggregates: mapping, rates, averages, custom series, the limit. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/agg.h"
#include "ingest/statsd_parse.h"

/* Records every line of text as the StatsD server does (one line at a time). */
static void feed(struct agg *a, const char *text)
{
    size_t pos = 0, n;
    const char *l;
    struct statsd_line m;

    while (statsd_next_line(text, strlen(text), &pos, &l, &n)) {
        struct agg_label lab[AGG_MAX_LABELS];
        static const enum agg_kind kinds[] = {
            [STATSD_COUNTER] = AGG_COUNTER,        [STATSD_GAUGE] = AGG_GAUGE,
            [STATSD_TIMER] = AGG_HISTOGRAM,        [STATSD_HISTOGRAM] = AGG_HISTOGRAM,
            [STATSD_DISTRIBUTION] = AGG_HISTOGRAM, [STATSD_SET] = AGG_SET,
        };
        assert_int_equal(statsd_parse_line(l, n, &m), 0);
        for (size_t i = 0; i < m.n_tags; i++)
            lab[i] = (struct agg_label){m.tags[i].key, m.tags[i].val, m.tags[i].key_len,
                                        m.tags[i].val_len};
        agg_record(a, m.name, m.name_len, lab, m.n_tags, kinds[m.type], m.type == STATSD_TIMER,
                   m.delta, &m.value, 1, m.rate, m.type == STATSD_SET ? m.values : NULL,
                   m.values_len);
    }
}

static void test_node_fields(void **st)
{
    struct agg *a = agg_new();
    struct snapshot *s = snapshot_new();
    (void)st;

    feed(a, "node.tx.validation:2|ms\nnode.tx.validation:4|ms\nnode.tx:8|c\n"
            "node.mempool.size:100|g\nnode.mempool.size:+5|g\nnode.block.size:2048|h\n"
            "consensus.finality:1500|ms\nconsensus.messages:30|c\nconsensus.participation:91|g\n"
            "contract.exec:10|ms|#function:transfer\ncontract.exec:20|ms|#function:mint\n"
            "contract.exec:30|ms|#function:transfer\ncontract.gas:21000|h\n"
            "contract.wasm_load:5|ms\ninference.latency:4|ms|#model:fraud,type:onnx\n"
            "inference.layer:1.5|ms|#model:fraud,layer:conv1\ngc.pause:12|ms\ngc.pause:8|ms\n");
    agg_fold(a, s, 2.0);
    assert_true(fabs(s->node.avg_tx_validation_ms - 3) < 0.05);
    assert_true(fabs(s->node.transactions_per_sec - 5) < 1e-9); /* (2 timed + 8) / 2 s */
    assert_true(fabs(s->node.mempool_size - 105) < 1e-9);
    assert_true(fabs(s->node.avg_block_size_kb - 2) < 0.02);
    assert_true(fabs(s->node.blocks_per_min - 30) < 1e-9);
    assert_true(fabs(s->node.consensus_metrics.time_to_finality_sec - 1.5) < 0.01);
    assert_true(fabs(s->node.consensus_metrics.messages_per_sec - 15) < 1e-9);
    assert_true(fabs(s->node.consensus_metrics.participation_percent - 91) < 1e-9);
    assert_true(fabs(s->node.contract_metrics.contracts_per_sec - 1.5) < 1e-9);
    assert_true(fabs(s->node.contract_metrics.avg_execution_ms - 20) < 0.2);
    assert_int_equal(s->node.contract_metrics.function_calls.n, 2);
    assert_true(fabs(s->node.contract_metrics.avg_gas_used - 21000) < 120);
    assert_true(fabs(s->node.contract_metrics.wasm_load_ms - 5) < 0.03);
    assert_int_equal(s->n_model_inference, 1);
    assert_string_equal(s->model_inference[0].model_name, "fraud");
    assert_string_equal(s->model_inference[0].model_type, "onnx");
    assert_true(fabs(s->model_inference[0].avg_inference_ms - 4) < 0.03);
    assert_true(fabs(s->model_inference[0].throughput_per_sec - 0.5) < 1e-9);
    assert_int_equal(s->model_inference[0].layer_latencies.n, 1);
    assert_true(s->memory.gc_present);
    assert_true(fabs(s->memory.gc_metrics.collections_total - 2) < 1e-9);
    assert_true(fabs(s->memory.gc_metrics.max_pause_ms - 12) < 0.07);
    snapshot_unref(s);

    /* the next interval: rates fall to 0, averages are absent, gauges stay */
    s = snapshot_new();
    agg_fold(a, s, 1.0);
    assert_true(s->node.transactions_per_sec == 0);
    assert_true(isnan(s->node.avg_tx_validation_ms));
    assert_true(fabs(s->node.mempool_size - 105) < 1e-9);
    snapshot_unref(s);
    agg_free(a);
}

/* The node's quantum figures: each sets its field and its reported-by-node bit;
 * GPU usage only with a GPU; a counter gives a rate, a gauge the node's figure. */
static void test_quantum_fields(void **st)
{
    struct agg *a = agg_new();
    struct snapshot *s = snapshot_new();
    const unsigned all = QUANTUM_REPORTED_QRNG | QUANTUM_REPORTED_PQ | QUANTUM_REPORTED_MERKLE |
                         QUANTUM_REPORTED_SECURITY | QUANTUM_REPORTED_SIM;
    (void)st;

    /* nothing reported: nothing set */
    agg_fold(a, s, 1.0);
    assert_false(s->quantum_present);
    assert_int_equal(s->quantum.reported, 0);
    snapshot_unref(s);

    s = snapshot_new();
    feed(a, "quantum.qrng_throughput:1000000|g\nquantum.pq_overhead:12.5|g\n"
            "quantum.merkle_ops:300|c\nquantum.merkle_ops:200|c\nquantum.security_level:192|g\n"
            "quantum.sim.qubits:20|g\nquantum.sim.circuit_depth:100|g\n"
            "quantum.sim.gate_ops:4000|c\nquantum.sim.wall_time:350|g\n"
            "gpu.quantum_sim_usage:40|g\n");
    agg_fold(a, s, 2.0);
    assert_true(s->quantum_present);
    assert_int_equal(s->quantum.reported, all);
    assert_true(s->quantum.qrng_throughput == 1e6);
    assert_true(s->quantum.pq_crypto_overhead == 12.5);
    assert_true(fabs(s->quantum.merkle_ops_per_sec - 250) < 1e-9); /* 500 in 2 s */
    assert_true(s->quantum.security_level_bits == 192);
    assert_true(s->quantum.simulation_present);
    assert_true(s->quantum.simulation_metrics.qubits == 20);
    assert_true(s->quantum.simulation_metrics.circuit_depth == 100);
    assert_true(fabs(s->quantum.simulation_metrics.gate_ops_per_sec - 2000) < 1e-9);
    assert_true(s->quantum.simulation_metrics.wall_time_ms == 350);
    assert_true(isnan(s->gpu.quantum_sim_usage)); /* no GPU found */
    snapshot_unref(s);

    /* the next interval, with a GPU: gauges stay, counters' rates fall to 0 */
    s = snapshot_new();
    s->gpu_present = true;
    agg_fold(a, s, 1.0);
    assert_true(s->gpu.quantum_sim_usage == 40);
    assert_true(s->quantum.merkle_ops_per_sec == 0);
    assert_true(s->quantum.qrng_throughput == 1e6);
    assert_int_equal(s->quantum.reported, all);
    snapshot_unref(s);
    agg_free(a);

    /* a gauge of the node's own rate; a timer where a gauge is due stays custom */
    a = agg_new();
    s = snapshot_new();
    feed(a, "quantum.merkle_ops:123456|g\nquantum.sim.wall_time:5|ms\n");
    agg_fold(a, s, 1.0);
    assert_true(s->quantum.merkle_ops_per_sec == 123456);
    assert_int_equal(s->quantum.reported, QUANTUM_REPORTED_MERKLE);
    assert_false(s->quantum.simulation_present);
    assert_int_equal(agg_sink_of(a, "quantum.sim.wall_time", 21), AGG_SINK_SIM_WALL_TIME);
    assert_int_equal(agg_sink_parse("quantum.simulation_metrics.qubits"), AGG_SINK_SIM_QUBITS);
    assert_string_equal(agg_sink_name(AGG_SINK_GPU_QSIM), "gpu.quantum_sim_usage");
    snapshot_unref(s);
    agg_free(a);
}

struct seen {
    int counters, gauges, hists, sets;
    double counter, gauge, set;
    uint64_t count, le_005;
    char labels[128];
};

static void visit(void *ctx, const struct agg_series_info *i)
{
    struct seen *v = ctx;

    switch (i->kind) {
    case AGG_COUNTER:
        v->counters++;
        v->counter = i->value;
        snprintf(v->labels, sizeof(v->labels), "%.*s=%.*s,%.*s=%.*s", (int)i->labels[0].key_len,
                 i->labels[0].key, (int)i->labels[0].value_len, i->labels[0].value,
                 (int)i->labels[1].key_len, i->labels[1].key, (int)i->labels[1].value_len,
                 i->labels[1].value);
        break;
    case AGG_GAUGE:
        v->gauges++;
        v->gauge = i->value;
        break;
    case AGG_HISTOGRAM:
        v->hists++;
        v->count = i->count;
        v->le_005 = i->buckets[0];
        break;
    case AGG_SET:
        v->sets++;
        v->set = i->distinct;
        break;
    default:
        break;
    }
}

static void test_custom(void **st)
{
    struct agg *a = agg_new();
    struct snapshot *s = snapshot_new();
    struct seen v = {0};
    struct agg_stats stats;
    (void)st;

    /* tags in any order are one series; a sample rate scales counters */
    feed(a, "app.req:1|c|#b:2,a:1\napp.req:2|c|@0.5|#a:1,b:2\napp.temp:20|g\napp.temp:-3|g\n"
            "app.lat:3|ms\napp.lat:30|ms\napp.lat:3000|ms\napp.users:alice|s\napp.users:bob|s\n"
            "app.users:alice|s\napp.temp:1|c\n");
    agg_fold(a, s, 1.0);
    agg_foreach(a, visit, &v);
    assert_int_equal(v.counters, 1);
    assert_true(v.counter == 5);
    assert_string_equal(v.labels, "a=1,b=2");
    assert_int_equal(v.gauges, 1);
    assert_true(v.gauge == 17);
    assert_int_equal(v.hists, 1);
    assert_int_equal(v.count, 3);
    assert_int_equal(v.le_005, 1); /* 3 ms <= 5 ms */
    assert_int_equal(v.sets, 1);
    assert_true(v.set == 2);
    agg_get_stats(a, &stats);
    assert_int_equal(stats.type_clashes, 1); /* app.temp as a counter */
    snapshot_unref(s);
    agg_free(a);
}

static void test_limit_and_rules(void **st)
{
    struct agg *a = agg_new();
    struct agg_stats stats;
    char name[32];
    double one = 1;
    (void)st;

    assert_int_equal(agg_configure(a, 100, NULL, 0), 0);
    assert_int_equal(agg_add_rule(a, "myapp.*.verify", "node.avg_tx_validation_ms"), 0);
    assert_int_equal(agg_add_rule(a, "x", "nowhere"), -EINVAL);
    assert_int_equal(agg_sink_of(a, "myapp.eth.verify", 16), AGG_SINK_TX_VALIDATION);
    assert_int_equal(agg_sink_of(a, "myapp.verify", 12), AGG_SINK_CUSTOM);
    assert_int_equal(agg_sink_of(a, "myapp..verify", 13), AGG_SINK_CUSTOM);
    assert_int_equal(agg_sink_of(a, "node.tx.validation", 18), AGG_SINK_TX_VALIDATION);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(name, sizeof(name), "flood.%d", i);
        int r =
            agg_record(a, name, (size_t)n, NULL, 0, AGG_COUNTER, false, false, &one, 1, 1, NULL, 0);
        assert_int_equal(r, i < 100 ? 0 : -ENOSPC);
    }
    agg_get_stats(a, &stats);
    assert_int_equal(stats.series, 100);
    assert_int_equal(stats.series_dropped, 900);
    agg_free(a);
}

/* each model costs a sketch: a flood of model tags stops at AGG_MAX_MODELS */
static void test_models_bounded(void **st)
{
    struct agg *a = agg_new();
    struct snapshot *s = snapshot_new();
    struct agg_stats stats;
    double ms = 4;
    int ok = 0;
    (void)st;

    for (int i = 0; i < 100; i++) {
        char model[16];
        struct agg_label l = {"model", model, 5, (size_t)snprintf(model, sizeof(model), "m%d", i)};
        if (agg_record(a, "inference.latency", 17, &l, 1, AGG_HISTOGRAM, true, false, &ms, 1, 1,
                       NULL, 0) == 0)
            ok++;
    }
    assert_int_equal(ok, AGG_MAX_MODELS);
    agg_get_stats(a, &stats);
    assert_int_equal(stats.series_dropped, 100 - AGG_MAX_MODELS);
    agg_fold(a, s, 1);
    assert_int_equal(s->n_model_inference, AGG_MAX_MODELS);
    snapshot_unref(s);
    agg_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_fields),    cmocka_unit_test(test_quantum_fields),
        cmocka_unit_test(test_custom),         cmocka_unit_test(test_limit_and_rules),
        cmocka_unit_test(test_models_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
