/*
 * bench/probes: what the quantum probes cost, as a share of one core at the probe
 * interval, against their budget of 0.01 % of a core (6 ms of CPU per round at 60 s).
 *
 *   bench_probes [-i INTERVAL_SEC] [-n ROUNDS] [-w WINDOW_MS] [-r FIFO_BITS_PER_SEC]
 *
 *   sampler side   the quantum collector itself (src/collect/quantum.c) with the default
 *                  configuration (Merkle probe and getrandom), its clock moved one
 *                  probe interval per call so that every call runs a round; CPU time of
 *                  this thread around each call (CLOCK_THREAD_CPUTIME_ID), ROUNDS rounds
 *                  (default 50)
 *   probe thread   the thread the collector starts for a device or FIFO source, on a FIFO
 *                  that a writer thread feeds at FIFO_BITS_PER_SEC (default 200000, in
 *                  250-byte writes) and on /dev/urandom (always readable: the byte cap
 *                  ends the window); the thread's whole CPU time from its own clock
 *                  (pthread_getcpuclockid: start-up and sleeps included) over its rounds
 *                  (windows of WINDOW_MS, default 1000, back to back), and its own
 *                  per-round account beside it
 *
 * Each line gives the CPU per round and the share of a core at INTERVAL_SEC (default
 * 60), and the last lines the totals of the two set-ups (getrandom: sampler side only;
 * a device: Merkle on the sampler side plus the probe thread) against the budget.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/qprobe.h"
#include "common/parse.h"
#include "core/config.h"
#include "core/log.h"
#include "tests/paced_writer.h"

#define BUDGET 1e-4 /* of a core */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double share(double cpu_ns_per_round, double interval_sec)
{
    return cpu_ns_per_round / (interval_sec * 1e9) * 100;
}

/* ---- the sampler side: the collector ---- */

static int sampler_side(unsigned interval, unsigned rounds, bool merkle, bool getrandom_src,
                        double *ret_ns)
{
    struct config cfg;
    struct coll_env env = {.cfg = &cfg, .procfs_root = "/proc", .sysfs_root = "/sys"};
    void *st = NULL;
    uint64_t total = 0;
    int r;

    config_defaults(&cfg);
    cfg.monitoring.quantum_monitoring.probe_interval_sec = interval;
    cfg.monitoring.quantum_monitoring.merkle_probe = merkle;
    free(cfg.monitoring.quantum_monitoring.qrng_source);
    cfg.monitoring.quantum_monitoring.qrng_source = strdup(getrandom_src ? "getrandom" : "none");
    r = coll_quantum.init(&env, &st);
    if (r < 0) {
        fprintf(stderr, "bench_probes: the quantum collector: %s\n", strerror(-r));
        config_done(&cfg);
        return -1;
    }
    for (unsigned i = 0; i <= rounds; i++) {
        struct snapshot *s = snapshot_new();
        struct coll_tick tick = {.mono_ns = 1 + (uint64_t)i * interval * 1000000000ull,
                                 .dt_sec = interval};
        uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t1;
        coll_quantum.collect(st, s, &tick);
        t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if (i > 0) /* (the first round calibrates the Merkle count) */
            total += t1 - t0;
        if (merkle && isnan(s->quantum.merkle_ops_per_sec)) {
            fprintf(stderr, "bench_probes: the Merkle probe gives no figure (libnettle.so.8?)\n");
            snapshot_unref(s);
            coll_quantum.fini(st);
            config_done(&cfg);
            return -1;
        }
        snapshot_unref(s);
    }
    coll_quantum.fini(st);
    config_done(&cfg);
    *ret_ns = (double)total / rounds;
    return 0;
}

/* ---- the probe thread ---- */

static int probe_thread(const char *path, unsigned window_ms, unsigned rounds, double interval,
                        struct paced_writer *w, double *ret_ns, double *ret_own_ns,
                        double *ret_bits)
{
    struct qprobe_dev_args a = {.path = path,
                                .interval_ms = window_ms + 50,
                                .window_ms = window_ms,
                                .cpu_budget_ns = (uint64_t)(interval * 1e9 * BUDGET * 0.4)};
    struct qprobe_dev *d = NULL;
    struct qprobe_dev_status st = {0};
    pthread_t wt;
    uint64_t cpu;
    int r;

    if (a.cpu_budget_ns < 300000)
        a.cpu_budget_ns = 300000; /* (as the collector sets it) */
    r = qprobe_dev_start(&a, &d);
    if (r < 0) {
        fprintf(stderr, "bench_probes: probe thread: %s\n", strerror(-r));
        return -1;
    }
    if (w && pthread_create(&wt, NULL, paced_writer_main, w) != 0) {
        qprobe_dev_stop(d);
        return -1;
    }
    for (int i = 0; i < 100 * (int)(rounds + 2) * (int)(window_ms + 50) / 1000 + 200; i++) {
        qprobe_dev_status(d, &st);
        if (st.rounds >= rounds)
            break;
        usleep(10000);
    }
    cpu = qprobe_dev_thread_cpu_ns(d);
    qprobe_dev_status(d, &st);
    qprobe_dev_stop(d);
    if (w) {
        atomic_store(&w->stop, true);
        pthread_join(wt, NULL);
    }
    if (st.rounds < rounds || st.error) {
        fprintf(stderr, "bench_probes: %s: %llu rounds, error %s\n", path,
                (unsigned long long)st.rounds, st.error ? strerror(-st.error) : "none");
        return -1;
    }
    *ret_ns = (double)cpu / (double)st.rounds;
    *ret_own_ns = (double)st.cpu_ns / (double)st.rounds;
    *ret_bits = st.bits_per_sec;
    return 0;
}

static int arg_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
    uint64_t v;

    if (parse_u64(s, &v) < 0 || v < lo || v > hi) {
        fprintf(stderr, "bench_probes: '%s' must be %u to %u\n", s, lo, hi);
        return -1;
    }
    *ret = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned interval = 60, rounds = 50, window_ms = 1000, fifo_bits = 200000;
    double merkle_rand, merkle_only, fifo_ns, fifo_own, fifo_got, dev_ns, dev_own, dev_got;
    double budget_ns;
    char dir[] = "/tmp/bench_probes.XXXXXX", fifo[64];
    struct paced_writer w = {.chunk = 250};
    int opt, status = 0;

    while ((opt = getopt(argc, argv, "i:n:w:r:")) != -1) {
        int r = 0;
        switch (opt) {
        case 'i':
            r = arg_uint(optarg, 10, 86400, &interval);
            break;
        case 'n':
            r = arg_uint(optarg, 1, 100000, &rounds);
            break;
        case 'w':
            r = arg_uint(optarg, 100, 5000, &window_ms);
            break;
        case 'r':
            r = arg_uint(optarg, 2000, 100000000, &fifo_bits);
            break;
        default:
            r = -1;
        }
        if (r < 0) {
            fprintf(stderr, "usage: bench_probes [-i INTERVAL_SEC] [-n ROUNDS] [-w WINDOW_MS] "
                            "[-r FIFO_BITS_PER_SEC]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    budget_ns = interval * 1e9 * BUDGET;
    printf("quantum probes at a %u s interval: budget 0.01 %% of a core = %.2f ms of CPU per "
           "round\n",
           interval, budget_ns / 1e6);

    if (sampler_side(interval, rounds, true, true, &merkle_rand) < 0 ||
        sampler_side(interval, rounds, true, false, &merkle_only) < 0)
        return 1;
    printf("  sampler thread, Merkle + getrandom (%u rounds): %7.3f ms per round = %.5f %% of a "
           "core\n",
           rounds, merkle_rand / 1e6, share(merkle_rand, interval));
    printf("  sampler thread, Merkle alone       (%u rounds): %7.3f ms per round = %.5f %% of a "
           "core\n",
           rounds, merkle_only / 1e6, share(merkle_only, interval));

    if (!mkdtemp(dir))
        return 1;
    snprintf(fifo, sizeof(fifo), "%s/qrng", dir);
    if (mkfifo(fifo, 0600) < 0)
        return 1;
    snprintf(w.path, sizeof(w.path), "%s", fifo);
    w.period_ns = (uint64_t)(250.0 * 8 * 1e9 / fifo_bits);
    atomic_init(&w.stop, false);
    if (probe_thread(fifo, window_ms, 5, interval, &w, &fifo_ns, &fifo_own, &fifo_got) < 0)
        status = 1;
    unlink(fifo);
    rmdir(dir);
    if (!status)
        printf("  probe thread, FIFO at %u bit/s in 250-byte writes (5 rounds, read %.0f "
               "bit/s): %7.3f ms per round (its own account %.3f) = %.5f %% of a core\n",
               fifo_bits, fifo_got, fifo_ns / 1e6, fifo_own / 1e6, share(fifo_ns, interval));
    if (probe_thread("/dev/urandom", window_ms, 5, interval, NULL, &dev_ns, &dev_own, &dev_got) < 0)
        status = 1;
    else
        printf("  probe thread, /dev/urandom, always readable (5 rounds, %.0f Mbit/s): %7.3f ms "
               "per round (its own account %.3f) = %.5f %% of a core\n",
               dev_got / 1e6, dev_ns / 1e6, dev_own / 1e6, share(dev_ns, interval));
    if (status)
        return status;

    printf("total, qrng_source getrandom: %.5f %% of a core (target <= 0.01 %%): %s\n",
           share(merkle_rand, interval), merkle_rand <= budget_ns ? "met" : "NOT met");
    {
        double worst = merkle_only + (fifo_ns > dev_ns ? fifo_ns : dev_ns);
        printf("total, qrng_source a device (the costlier above): %.5f %% of a core (target <= "
               "0.01 %%): %s\n",
               share(worst, interval), worst <= budget_ns ? "met" : "NOT met");
    }
    return 0;
}
