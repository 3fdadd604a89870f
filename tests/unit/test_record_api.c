/* The embedding API's recorders: named node events into the snapshot's fields,
 * generic metrics by handle and by name, from several threads at once. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arthamon/arthamon.h"
#include "ingest/agg.h"
#include "lib/sketch.h"

static void test_events_fill_the_snapshot(void **st)
{
    struct snapshot *s = snapshot_new();
    const char *layers[2] = {"embed", "head"};
    const double layer_ms[2] = {0.5, 1.5};
    (void)st;

    agg_fold(agg_global(), s, 1); /* (start from an empty interval) */
    snapshot_unref(s);
    s = snapshot_new();
    am_record_tx_validated(1.0);
    am_record_tx_validated(3.0);
    am_record_txs(2);
    am_record_block(4096, 120);
    am_record_mempool_size(77);
    am_record_consensus_round(800);
    am_record_consensus_messages(10);
    am_record_participation(75);
    am_record_quantum_resistant_overhead(12.5);
    am_record_contract("transfer", 2.0, 21000);
    am_record_contract("transfer", 4.0, 23000);
    am_record_wasm_load(7);
    am_record_inference("fraud", "onnx", 5.0, layers, layer_ms, 2);
    am_record_accelerator_util("fraud", 64);
    am_record_gc_pause(3);
    am_record_tx_validated(NAN); /* ignored */
    agg_fold(agg_global(), s, 2);
    assert_true(fabs(s->node.transactions_per_sec - 2) < 1e-9); /* (2 timed + 2) / 2 s */
    assert_true(fabs(s->node.avg_tx_validation_ms - 2) < 0.02);
    assert_true(fabs(s->node.avg_block_size_kb - 4) < 0.03);
    assert_true(fabs(s->node.blocks_per_min - 30) < 1e-9);
    assert_true(s->node.mempool_size == 77);
    assert_true(fabs(s->node.consensus_metrics.time_to_finality_sec - 0.8) < 0.005);
    assert_true(fabs(s->node.consensus_metrics.messages_per_sec - 5) < 1e-9);
    assert_true(s->node.consensus_metrics.participation_percent == 75);
    assert_true(s->node.consensus_metrics.quantum_resistant_overhead == 12.5);
    assert_true(fabs(s->node.contract_metrics.contracts_per_sec - 1) < 1e-9);
    assert_true(fabs(s->node.contract_metrics.avg_execution_ms - 3) < 0.02);
    assert_true(fabs(s->node.contract_metrics.avg_gas_used - 22000) < 130);
    assert_int_equal(s->node.contract_metrics.function_calls.n, 1);
    assert_true(s->node.contract_metrics.function_calls.v[0].value == 2);
    assert_true(fabs(s->node.contract_metrics.wasm_load_ms - 7) < 0.05);
    assert_int_equal(s->n_model_inference, 1);
    assert_true(fabs(s->model_inference[0].avg_inference_ms - 5) < 0.03);
    assert_true(s->model_inference[0].accelerator_util_percent == 64);
    assert_int_equal(s->model_inference[0].layer_latencies.n, 2);
    assert_true(s->memory.gc_present);
    assert_true(fabs(s->memory.gc_metrics.avg_pause_ms - 3) < 0.02);
    snapshot_unref(s);
}

/* The node's quantum figures, by the C API: reported, and marked so. */
static void test_quantum_recorders(void **st)
{
    struct snapshot *s = snapshot_new();
    (void)st;

    s->gpu_present = true;
    am_record_qrng_throughput(2.5e6);
    am_record_pq_crypto_overhead(18);
    am_record_merkle_ops(900);
    am_record_security_level(128);
    am_record_quantum_simulation(24, 300, 1.2e6, 400);
    am_record_gpu_quantum_sim_usage(55);
    am_record_qrng_throughput(INFINITY); /* ignored */
    agg_fold(agg_global(), s, 3);
    assert_true(s->quantum_present);
    assert_int_equal(s->quantum.reported, QUANTUM_REPORTED_QRNG | QUANTUM_REPORTED_PQ |
                                              QUANTUM_REPORTED_MERKLE | QUANTUM_REPORTED_SECURITY |
                                              QUANTUM_REPORTED_SIM);
    assert_true(s->quantum.qrng_throughput == 2.5e6);
    assert_true(s->quantum.pq_crypto_overhead == 18);
    assert_true(fabs(s->quantum.merkle_ops_per_sec - 300) < 1e-9); /* 900 in 3 s */
    assert_true(s->quantum.security_level_bits == 128);
    assert_true(s->quantum.simulation_present);
    assert_true(s->quantum.simulation_metrics.qubits == 24);
    assert_true(s->quantum.simulation_metrics.circuit_depth == 300);
    assert_true(s->quantum.simulation_metrics.wall_time_ms == 400);
    assert_true(fabs(s->quantum.simulation_metrics.gate_ops_per_sec - 3e6) < 1e-6); /* per run */
    assert_true(s->gpu.quantum_sim_usage == 55);
    snapshot_unref(s);
}

#define THREADS 4
#define PER     200000

static am_metric *hist, *ctr;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER; i++) {
        am_metric_add(hist, (double)(i % 1000) + 1);
        am_metric_add(ctr, 1);
    }
    return NULL;
}

struct found {
    const struct am_sketch *sk;
    double counter, gauge;
    int seen;
};

static void find(void *ctx, const struct agg_series_info *i)
{
    struct found *f = ctx;

    if (i->name_len == 9 && memcmp(i->name, "test.hist", 9) == 0)
        f->sk = i->sketch;
    if (i->name_len == 8 && memcmp(i->name, "test.ctr", 8) == 0)
        f->counter = i->value, f->seen++;
    if (i->name_len == 10 && memcmp(i->name, "test.gauge", 10) == 0)
        f->gauge = i->value;
}

static void test_generic_from_threads(void **st)
{
    const char *labels[] = {"peer", "a1", "dir", "in", NULL};
    pthread_t t[THREADS];
    struct found f = {0};
    struct am_sketch_view *v = malloc(sizeof(*v));
    am_metric *g, *again;
    (void)st;

    assert_int_equal(am_histogram("test.hist", NULL, &hist), 0);
    assert_int_equal(am_counter("test.ctr", labels, &ctr), 0);
    assert_int_equal(
        am_counter("test.ctr", (const char *[]){"dir", "in", "peer", "a1", NULL}, &again), 0);
    assert_ptr_equal(again, ctr); /* the labels' order does not matter */
    assert_int_equal(am_gauge("test.ctr", labels, &g), -EEXIST);
    assert_int_equal(am_gauge("test.gauge", NULL, &g), 0);
    am_metric_set(g, 10);
    am_metric_add(g, -3);
    assert_int_equal(am_gauge_set("test.gauge", NULL, 5), 0);
    assert_int_equal(am_counter_add("test.ctr", (const char *[]){"x", NULL}, 1), -EINVAL);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    am_metric_add(ctr, -5); /* a counter only goes up */
    assert_int_equal(am_counter_add("test.ctr", labels, 1), 0);
    agg_foreach(agg_global(), find, &f);
    assert_non_null(f.sk);
    am_sketch_snapshot(f.sk, v);
    assert_int_equal(am_sketch_view_count(v), (uint64_t)THREADS * PER);
    assert_true(fabs(am_sketch_quantile(v, 0.5) - 500) < 500 * 0.01);
    assert_int_equal(f.seen, 1);
    assert_true(f.counter == (double)THREADS * PER + 1);
    assert_true(f.gauge == 5);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_fill_the_snapshot),
        cmocka_unit_test(test_quantum_recorders),
        cmocka_unit_test(test_generic_from_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
