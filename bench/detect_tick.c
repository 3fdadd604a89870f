/*
 * bench/detect_tick: CPU time per tick of the whole detection engine (rules,
 * per-series detectors, the multivariate detector, trends, predictions) on
 * snapshots of about SERIES numeric series, after the learned layers' warm-up.
 *
 *   bench_detect_tick [-s SERIES] [-n TICKS] [-w WARMUP]
 *        (defaults: 300 series, 20000 measured ticks, 300 warm-up ticks)
 *
 * The snapshots are those of a node host: the host figures, per-core usage,
 * and node, consensus and contract figures and per-function calls, filled up
 * to SERIES with model-inference entries (5 figures each), every value a
 * noisy daily-ish wave, so that the detectors see what they would on a real
 * host and take the paths they take there. Building the snapshots is not
 * counted: they are made ahead in blocks, and only detect_engine_tick() is
 * timed. CPU time is getrusage(RUSAGE_SELF) user+system; the figure is the
 * cheapest of 5 blocks of TICKS/5 ticks, each block's own figure printed too.
 */
#define LOG_MODULE "bench"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/parse.h"
#include "core/log.h"
#include "detect/engine.h"

#define TARGET_US 50.0
#define BLOCKS    5

static double cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static uint64_t rng = 88172645463325252ull;

static double noise(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 53) - 0.5;
}

struct shape {
    unsigned cores, models;
};

/* Series a snapshot of this shape flattens to (counted, not guessed). */
static void count_cb(void *ctx, const struct series_desc *d, const struct series_label *l,
                     size_t nl, double v)
{
    (void)d;
    (void)l;
    (void)nl;
    (void)v;
    (*(size_t *)ctx)++;
}

static struct snapshot *make(const struct shape *sh, uint64_t i)
{
    struct snapshot *s = snapshot_new();
    double day = sin((double)i * 2 * M_PI / 86400), w = 1 + 0.3 * day;
    static const char *const fns[] = {"transfer", "approve", "swap", "mint"};
    char name[32];

    if (!s)
        return NULL;
    s->timestamp_ms = 1790000000000ull + i * 1000;
    s->timestamp = s->timestamp_ms / 1000;
    s->interval_sec = 1;
    s->cpu.usage_percent = 30 * w + 5 * noise();
    s->cpu.temperature = 55 + 3 * day + noise();
    s->cpu.frequency_mhz = 2400 + 100 * noise();
    s->cpu.process_usage = 60 * w + 10 * noise();
    s->cpu.online_cores = sh->cores;
    s->cpu.n_cores = sh->cores;
    s->cpu.core_usage = snapshot_alloc(s, sh->cores * sizeof(double));
    for (unsigned c = 0; s->cpu.core_usage && c < sh->cores; c++)
        s->cpu.core_usage[c] = 30 * w + 15 * noise();
    for (int k = 0; k < 8; k++)
        s->cpu.seconds_total[k] = (double)i * (k + 1);
    s->memory.physical_used_mb = 9000 + 500 * day + 20 * noise();
    s->memory.physical_total_mb = 32000;
    s->memory.available_mb = 23000 - 500 * day + 20 * noise();
    s->memory.virtual_used_mb = 14000 + 30 * noise();
    s->memory.swap_used_mb = 10;
    s->memory.swap_total_mb = 4096;
    s->memory.process_rss_mb = 4000 + 100 * day + 5 * noise();
    s->memory.process_virtual_mb = 9000 + 5 * noise();
    s->disk.read_ops_per_sec = 200 * w + 50 * noise();
    s->disk.write_ops_per_sec = 400 * w + 80 * noise();
    s->disk.read_mbps = 20 * w + 5 * noise();
    s->disk.write_mbps = 40 * w + 8 * noise();
    s->disk.usage_percent = 60 + (double)i * 1e-6;
    s->disk.available_gb = 400 - (double)i * 1e-5;
    s->disk.total_gb = 1000;
    s->network.ingress_kbps = 3000 * w + 300 * noise();
    s->network.egress_kbps = 2500 * w + 300 * noise();
    s->network.packet_loss_percent = 0.1 + 0.05 * noise();
    s->network.latency_ms = 40 + 5 * noise();
    s->network.p2p_connections = 50 + (double)(int)(4 * noise());
    s->network.open_sockets = 800 + (double)(int)(40 * noise());
    s->network.tcp_segments_sent_total = (double)i * 5000;
    s->network.tcp_segments_retransmitted_total = (double)i * 5;
    s->node.transactions_per_sec = 800 * w + 80 * noise();
    s->node.avg_tx_validation_ms = 2 + 0.3 * noise();
    s->node.blocks_per_min = 5 + noise();
    s->node.avg_block_size_kb = 900 * w + 50 * noise();
    s->node.mempool_size = 3000 * w + 300 * noise();
    s->node.consensus_metrics.time_to_finality_sec = 6 + noise();
    s->node.consensus_metrics.messages_per_sec = 300 * w + 30 * noise();
    s->node.consensus_metrics.participation_percent = 95 + 2 * noise();
    s->node.contract_metrics.contracts_per_sec = 100 * w + 10 * noise();
    s->node.contract_metrics.avg_execution_ms = 4 + noise();
    s->node.contract_metrics.avg_gas_used = 50000 + 5000 * noise();
    for (size_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++)
        snapshot_map_add(s, &s->node.contract_metrics.function_calls, 4, fns[f],
                         (double)i * (double)(f + 1));
    s->model_inference = snapshot_alloc(s, sh->models * sizeof(*s->model_inference));
    s->n_model_inference = s->model_inference ? sh->models : 0;
    for (unsigned m = 0; m < s->n_model_inference; m++) {
        struct model_inference_metrics *mi = &s->model_inference[m];
        snprintf(name, sizeof(name), "model%u", m);
        mi->model_name = snapshot_strdup(s, name);
        mi->model_type = "onnx";
        mi->avg_inference_ms = 5 + m % 7 + noise();
        mi->p95_inference_ms = 9 + m % 7 + noise();
        mi->p99_inference_ms = 12 + m % 7 + noise();
        mi->throughput_per_sec = 50 * w + 5 * noise();
        mi->accelerator_util_percent = 40 * w + 5 * noise();
    }
    return s;
}

int main(int argc, char **argv)
{
    unsigned series = 300, ticks = 20000, warmup = 300;
    struct shape sh = {64, 0};
    struct config cfg;
    struct anomaly_log *log;
    struct detect_engine *e;
    struct snapshot **batch;
    size_t n = 0;
    uint64_t t = 0;
    double best = INFINITY;
    int opt_i;

    for (opt_i = 1; opt_i + 1 < argc; opt_i += 2) {
        uint64_t v64;
        unsigned v;
        if (parse_u64(argv[opt_i + 1], &v64) < 0 || v64 > 100000000)
            break;
        v = (unsigned)v64;
        if (!strcmp(argv[opt_i], "-s"))
            series = v;
        else if (!strcmp(argv[opt_i], "-n"))
            ticks = v;
        else if (!strcmp(argv[opt_i], "-w"))
            warmup = v;
        else
            break;
    }
    if (opt_i < argc || series < 60 || ticks < BLOCKS || warmup < 10) {
        fprintf(stderr, "usage: bench_detect_tick [-s SERIES >= 60] [-n TICKS] [-w WARMUP]\n");
        return 2;
    }
    log_set_level(LOG_ERROR);
    /* the cores take what the fixed figures leave, models (5 series each) the rest */
    {
        struct snapshot *probe;
        sh.cores = 0;
        probe = make(&sh, 0);
        snapshot_flatten(probe, count_cb, &n);
        snapshot_unref(probe);
        sh.cores = series > n + 64 ? 64 : 1;
        sh.models = (unsigned)((series - n - sh.cores) / 5);
        sh.cores = (unsigned)(series - n - sh.models * 5);
        probe = make(&sh, 0);
        n = 0;
        snapshot_flatten(probe, count_cb, &n);
        snapshot_unref(probe);
    }

    config_defaults(&cfg);
    cfg.monitoring.sampling_interval_ms = 1000;
    cfg.detection.warmup_ticks = warmup;
    log = anomaly_log_new(1000);
    e = log ? detect_engine_new(&cfg, log) : NULL;
    batch = calloc(ticks / BLOCKS, sizeof(*batch));
    if (!e || !batch) {
        fprintf(stderr, "bench_detect_tick: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < warmup + 10; i++) {
        struct snapshot *s = make(&sh, t++);
        detect_engine_tick(e, s);
        snapshot_unref(s);
    }
    printf("detect_tick: %zu series per snapshot (%u cores, %u models), %u warm-up ticks, "
           "%u measured\n",
           n, sh.cores, sh.models, warmup, ticks);
    for (int b = 0; b < BLOCKS; b++) {
        unsigned k = ticks / BLOCKS;
        double c0, c1;
        for (unsigned i = 0; i < k; i++)
            batch[i] = make(&sh, t++);
        c0 = cpu_us();
        for (unsigned i = 0; i < k; i++)
            detect_engine_tick(e, batch[i]);
        c1 = cpu_us();
        for (unsigned i = 0; i < k; i++)
            snapshot_unref(batch[i]);
        printf("  block %d: %.2f us per tick\n", b + 1, (c1 - c0) / k);
        if ((c1 - c0) / k < best)
            best = (c1 - c0) / k;
    }
    printf("detect_tick: %.2f us CPU per tick at %zu series (cheapest block; target <= %.0f "
           "us): %s\n",
           best, n, TARGET_US, best <= TARGET_US ? "met" : "NOT met");
    printf("detect_tick: %zu anomalies raised on the synthetic wave\n", anomaly_log_count(log));
    free(batch);
    detect_engine_free(e);
    anomaly_log_free(log);
    config_done(&cfg);
    return 0;
}
