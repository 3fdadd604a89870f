/*
 * A node reporting its own metrics through the embedding API: worker threads
 * validate transactions, produce blocks, run contracts and a model, and record
 * each as it happens; the monitor folds them into every snapshot. Build:
 *   cc node_metrics.c -larthamon -lpthread -o node_metrics
 * Exits 0 when the snapshot shows what the workers recorded (the test suite
 * runs it).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <arthamon/arthamon.h>

static const char config[] = "monitoring:\n"
                             "  sampling_interval_ms: 250\n"
                             "  logging: {level: warn, stdout: true, output_dir: /tmp}\n"
                             "agent:\n"
                             "  data_dir: /tmp/arthamon-node-metrics-example\n"
                             "  console_summary: false\n"
                             "storage: {enabled: false}\n"
                             "statsd: {enabled: false}\n";

static volatile int stop;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A validator: checks transactions, puts them in blocks. */
static void *validator(void *arg)
{
    am_metric *rejected;
    unsigned seed = (unsigned)(size_t)arg;
    int n = 0;

    /* a metric of the node's own: got once, then cheap */
    am_counter("validator.rejected", (const char *[]){"reason", "bad_signature", NULL}, &rejected);
    while (!stop) {
        double t0 = now_ms(), t1;
        for (volatile int i = 0; i < 20000; i++) /* (the work) */
            ;
        t1 = now_ms();
        am_record_tx_validated(t1 - t0);
        if (rand_r(&seed) % 50 == 0)
            am_metric_add(rejected, 1);
        if (++n % 100 == 0) {
            am_record_block(1024.0 * (200 + rand_r(&seed) % 100), 100);
            am_record_mempool_size(5000 + rand_r(&seed) % 1000);
        }
        if (n % 500 == 0)
            am_record_consensus_round(800 + rand_r(&seed) % 400);
        am_record_consensus_messages(3);
        sleep_ms(1);
    }
    return NULL;
}

/* A contract runtime and a model server. */
static void *runtime(void *arg)
{
    static const char *const fns[] = {"transfer", "approve", "mint"};
    static const char *const layers[] = {"embed", "attention", "head"};
    unsigned seed = (unsigned)(size_t)arg;

    while (!stop) {
        double lat = 2 + (rand_r(&seed) % 100) / 25.0;
        double layer_ms[3] = {lat * 0.2, lat * 0.6, lat * 0.2};
        am_record_contract(fns[rand_r(&seed) % 3], 0.5 + (rand_r(&seed) % 100) / 50.0,
                           21000 + rand_r(&seed) % 5000);
        am_record_inference("fraud-detector", "onnx", lat, layers, layer_ms, 3);
        if (rand_r(&seed) % 200 == 0)
            am_record_gc_pause(5 + rand_r(&seed) % 10);
        sleep_ms(2);
    }
    return NULL;
}

int main(void)
{
    char err[512];
    am_monitor *m;
    am_snapshot *s;
    pthread_t t[3];
    double tps = NAN, val = NAN, mp = NAN, cps = NAN;
    int r;

    r = am_monitor_new_yaml(config, sizeof(config) - 1, err, sizeof(err), &m);
    if (r < 0) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    if (am_monitor_start(m) < 0)
        return 1;
    pthread_create(&t[0], NULL, validator, (void *)1);
    pthread_create(&t[1], NULL, validator, (void *)2);
    pthread_create(&t[2], NULL, runtime, (void *)3);
    sleep_ms(1500);
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    s = am_monitor_current_snapshot(m);
    if (!s) {
        fprintf(stderr, "no snapshot\n");
        return 1;
    }
    am_snapshot_get(s, "node.transactions_per_sec", &tps);
    am_snapshot_get(s, "node.avg_tx_validation_ms", &val);
    am_snapshot_get(s, "node.mempool_size", &mp);
    am_snapshot_get(s, "node.contract_metrics.contracts_per_sec", &cps);
    printf("transactions/s %.0f, validation %.3f ms, mempool %.0f, contracts/s %.0f\n", tps, val,
           mp, cps);
    am_snapshot_release(s);
    am_monitor_free(m);
    /* the last interval was busy: every figure is there and positive */
    return tps > 0 && val > 0 && mp > 0 && cps > 0 ? 0 : 1;
}
