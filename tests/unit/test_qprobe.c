/*
 * The quantum probes: the Merkle tree against an independent computation of
 * its root, the Merkle probe's figure against a separate timing of the same
 * operations, getrandom, a window on a FIFO fed at a known rate (and one with
 * no writer, which must not spin), and the probe thread: its figure, its
 * prompt stop, its errors, and that it allocates nothing (no malloc arena of
 * its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/paced_writer.h"
#include <dirent.h>
#include <dlfcn.h>

#include "collect/collector.h"
#include "collect/qprobe.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static uint64_t now_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct qmerkle *merkle_or_skip(void)
{
    struct qmerkle *m = NULL;
    const char *why = NULL;
    int r = qmerkle_new(&m, &why);

    if (r == -ENOENT) {
        print_message("no Nettle here (%s): skipped\n", why ? why : "?");
        skip();
    }
    assert_int_equal(r, 0);
    return m;
}

/* The root as Python's hashlib computes it for the same leaves:
 *   leaves = [struct.pack('<Q', i) * 8 for i in range(1024)]
 *   level = [sha3_256(b'\0' + l) for l in leaves]; parents sha3_256(b'\1' + l + r) */
static void merkle_tree_and_proofs(void **state)
{
    static const char root_hex[] =
        "8468002ff59c9819a0ffc095feba7c692b9b6a36b6357270b6eb9d930d7e8c9d";
    struct qmerkle *m = merkle_or_skip();
    const unsigned char *root = qmerkle_root(m);
    unsigned char proof[QMERKLE_DEPTH][QMERKLE_HASH];
    char hex[2 * QMERKLE_HASH + 1];

    (void)state;
    for (int i = 0; i < QMERKLE_HASH; i++)
        snprintf(hex + 2 * i, 3, "%02x", root[i]);
    assert_string_equal(hex, root_hex);
    for (uint32_t i = 0; i < QMERKLE_LEAVES; i++)
        assert_int_equal(qmerkle_verify(m, i), 0);
    /* a wrong sibling, or a right proof for another leaf, does not verify */
    memset(proof, 0xab, sizeof(proof));
    assert_int_equal(qmerkle_verify_proof(m, 5, (const unsigned char(*)[QMERKLE_HASH])proof), -EIO);
    qmerkle_free(m);
    qmerkle_free(NULL);
}

/*
 * The probe's figure against a separate timing of the same operations, both in
 * this thread's CPU time. A shared machine's load moves both (a busy sibling
 * hyperthread slows each hash), so runs are taken in pairs, next to each other,
 * and the median of the pairs' ratios is compared.
 */
static void merkle_probe_matches_separate_timing(void **state)
{
    enum { RUNS = 31, OPS = 200 };
    struct qmerkle *m = merkle_or_skip();
    struct qprobe_result res;
    double probe[RUNS], separate[RUNS], ratio[RUNS], r;

    (void)state;
    assert_int_equal(qmerkle_run(m, 2000000, &res), 0); /* calibrates the count */
    for (int k = 0; k < RUNS; k++) {
        uint64_t t0, t1;
        /* which of the pair runs first alternates, so that neither always
         * finds the caches as the other left them */
        for (int half = 0; half < 2; half++) {
            if ((half == 0) == (k % 2 == 0)) {
                assert_int_equal(qmerkle_run(m, 2000000, &res), 0);
                assert_true(res.units >= 16);
                probe[k] = res.rate;
            } else {
                t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                for (uint32_t i = 0; i < OPS; i++)
                    if (qmerkle_verify(m, i) < 0)
                        fail();
                t1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
                separate[k] = OPS * 1e9 / (double)(t1 - t0);
            }
        }
        ratio[k] = probe[k] / separate[k];
    }
    r = median(ratio, RUNS);
    print_message("merkle: probe %.0f ops/s, separate timing %.0f ops/s (medians); median "
                  "ratio %.3f\n",
                  median(probe, RUNS), median(separate, RUNS), r);
    assert_true(fabs(r - 1) <= 0.10);
    /* the round keeps to its budget: about 2 ms, never far over */
    assert_true(res.cpu_ns < 6000000);
    qmerkle_free(m);
}

static void getrandom_rate(void **state)
{
    static unsigned char buf[QPROBE_GETRANDOM_BYTES];
    struct qprobe_result res;

    (void)state;
    assert_int_equal(qprobe_getrandom(buf, sizeof(buf), &res), 0);
    assert_int_equal(res.units, sizeof(buf));
    assert_true(res.cpu_ns > 0);
    assert_true(res.rate > 1e6); /* any kernel gives far more than a Mbit/s */
    print_message("getrandom: %.0f Mbit/s per CPU-second\n", res.rate / 1e6);
}

/* ---- a FIFO fed at a known rate ---- */

struct writer {
    struct paced_writer pw;
    pthread_t thread;
};

static void writer_start(struct writer *w)
{
    atomic_init(&w->pw.stop, false);
    assert_int_equal(pthread_create(&w->thread, NULL, paced_writer_main, &w->pw), 0);
}

static void writer_stop(struct writer *w)
{
    atomic_store(&w->pw.stop, true);
    pthread_join(w->thread, NULL);
}

static char tmpdir[] = "/tmp/test_qprobe.XXXXXX";

static void make_fifo(char *path, size_t len, const char *name)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
}

/* A window measures the rate a FIFO is fed at, the backlog left out. */
static void window_rate(size_t chunk, uint64_t period_ns, size_t prefill)
{
    struct writer w = {.pw = {.chunk = chunk, .period_ns = period_ns, .prefill = prefill}};
    static unsigned char buf[QPROBE_DEV_READ_BYTES];
    struct qwindow_args a = {.stop_fd = -1,
                             .buf = buf,
                             .buf_len = sizeof(buf),
                             .window_ns = 1000000000ull,
                             .max_bytes = QPROBE_DEV_MAX_BYTES};
    struct qwindow_result r;
    double expected = (double)chunk * 8 * 1e9 / (double)period_ns;

    make_fifo(w.pw.path, sizeof(w.pw.path), "rate");
    /* read-write, as the probe thread opens a FIFO: never "ended" between writers */
    a.fd = open(w.pw.path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(a.fd >= 0);
    writer_start(&w);
    usleep(300000); /* a backlog: the prefill and 300 ms of writes */
    assert_int_equal(qprobe_window(&a, &r), 0);
    writer_stop(&w);
    close(a.fd);
    print_message("fifo at %.0f bit/s: measured %.0f bit/s (%+.1f %%), %llu arrivals, backlog "
                  "%llu B, %.2f ms CPU\n",
                  expected, r.bits_per_sec, (r.bits_per_sec / expected - 1) * 100,
                  (unsigned long long)r.arrivals, (unsigned long long)r.backlog,
                  (double)r.cpu_ns / 1e6);
    assert_true(r.backlog >= prefill);
    assert_true(r.arrivals >= 10);
    assert_true(fabs(r.bits_per_sec / expected - 1) <= 0.10);
    assert_false(r.stopped);
    assert_true(r.elapsed_ns >= 990000000ull && r.elapsed_ns < 1500000000ull);
}

static void window_fifo_fast(void **state)
{
    (void)state;
    window_rate(200, 10000000ull, 20000); /* 20 kB/s in 200-byte writes, 20 kB queued */
}

static void window_fifo_slow(void **state)
{
    (void)state;
    window_rate(64, 50000000ull, 0); /* 1.28 kB/s in 64-byte writes */
}

/* A FIFO whose writer went away reads as ended at every poll: the window
 * waits instead of spinning, and a stop ends it at once. */
static void window_without_writer(void **state)
{
    static unsigned char buf[512];
    struct qwindow_args a = {
        .buf = buf, .buf_len = sizeof(buf), .window_ns = 500000000ull, .max_bytes = 65536};
    struct qwindow_result r;
    char path[256];
    int wfd;
    uint64_t one = 1, t0;

    (void)state;
    make_fifo(path, sizeof(path), "nowriter");
    a.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(a.fd >= 0);
    wfd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(wfd >= 0);
    assert_int_equal(write(wfd, "xy", 2), 2);
    close(wfd); /* hung up from now on */
    a.stop_fd = -1;
    assert_int_equal(qprobe_window(&a, &r), 0);
    assert_true(r.eof);
    assert_int_equal(r.backlog, 2);
    assert_int_equal(r.bytes, 0);
    assert_true(r.bits_per_sec == 0);
    print_message("no writer: %.2f ms CPU over a 500 ms window\n", (double)r.cpu_ns / 1e6);
    assert_true(r.cpu_ns < 50000000ull); /* 10 %: nothing like a spin */

    a.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    a.window_ns = 5000000000ull;
    assert_int_equal(write(a.stop_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
    t0 = now_ns(CLOCK_MONOTONIC);
    assert_int_equal(qprobe_window(&a, &r), 0);
    assert_true(r.stopped);
    assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 1000000000ull);
    close(a.stop_fd);
    close(a.fd);
}

/* ---- the probe thread ---- */

static struct qprobe_dev_status wait_round(struct qprobe_dev *d, uint64_t rounds, int max_ms)
{
    struct qprobe_dev_status st;

    for (int i = 0; i < max_ms / 10; i++) {
        qprobe_dev_status(d, &st);
        if (st.rounds >= rounds)
            return st;
        usleep(10000);
    }
    qprobe_dev_status(d, &st);
    fail_msg("no probe round %llu within %d ms (%llu done)", (unsigned long long)rounds, max_ms,
             (unsigned long long)st.rounds);
    return st;
}

/* Its figure, its CPU accounting, and a stop that does not wait for the interval. */
static void device_thread(void **state)
{
    struct writer w = {.pw = {.chunk = 160, .period_ns = 10000000ull}}; /* 16 kB/s */
    struct qprobe_dev_args a = {
        .path = w.pw.path, .interval_ms = 60000, .window_ms = 1000, .cpu_budget_ns = 3000000};
    struct qprobe_dev *d = NULL;
    struct qprobe_dev_status st;
    double expected = 160.0 * 8 * 100;
    uint64_t t0, thread_cpu;

    (void)state;
    make_fifo(w.pw.path, sizeof(w.pw.path), "device");
    assert_int_equal(qprobe_dev_start(&a, &d), 0);
    writer_start(&w); /* (its open waits for the thread's) */
    st = wait_round(d, 1, 5000);
    assert_int_equal(st.error, 0);
    assert_true(st.have_rate);
    print_message("probe thread: %.0f bit/s for %.0f expected (%+.1f %%), %.2f ms CPU\n",
                  st.bits_per_sec, expected, (st.bits_per_sec / expected - 1) * 100,
                  (double)st.cpu_ns / 1e6);
    assert_true(fabs(st.bits_per_sec / expected - 1) <= 0.10);
    thread_cpu = qprobe_dev_thread_cpu_ns(d);
    assert_true(st.cpu_ns > 0 && st.cpu_ns <= thread_cpu);
    assert_true(st.cpu_ns < 20000000ull);
    /* asleep for a minute: the stop wakes it */
    t0 = now_ns(CLOCK_MONOTONIC);
    qprobe_dev_stop(d);
    assert_true(now_ns(CLOCK_MONOTONIC) - t0 < 500000000ull);
    writer_stop(&w);
    qprobe_dev_stop(NULL);
}

/* A source that cannot be opened is an error of the round, retried each round. */
static void device_errors(void **state)
{
    struct qprobe_dev_args a = {
        .path = "/nonexistent/qrng", .interval_ms = 50, .window_ms = 20, .cpu_budget_ns = 0};
    struct qprobe_dev *d = NULL;
    struct qprobe_dev_status st;

    (void)state;
    assert_int_equal(qprobe_dev_start(&a, &d), 0);
    st = wait_round(d, 2, 3000);
    assert_int_equal(st.error, -ENOENT);
    assert_false(st.have_rate);
    /* skipped while not wanted */
    qprobe_dev_set_wanted(d, false);
    usleep(100000);
    qprobe_dev_status(d, &st);
    usleep(200000);
    {
        struct qprobe_dev_status again;
        qprobe_dev_status(d, &again);
        assert_int_equal(again.rounds, st.rounds);
    }
    qprobe_dev_stop(d);
}

/* glibc gives a thread that calls malloc an arena of its own (64 MiB of address
 * space, hundreds of KiB resident): the probe thread must never call it. */
static int count_arenas(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int n = 0;

    assert_non_null(f);
    malloc_info(0, f);
    fclose(f);
    for (const char *p = text; (p = strstr(p, "<heap nr=")); p++)
        n++;
    free(text);
    return n;
}

static void device_thread_allocates_nothing(void **state)
{
    struct writer w = {.pw = {.chunk = 100, .period_ns = 5000000ull}};
    struct qprobe_dev_args a = {.path = w.pw.path, .interval_ms = 100, .window_ms = 50};
    struct qprobe_dev *d = NULL;
    int before, after;

    (void)state;
#ifdef UNDER_ASAN
    skip(); /* (ASan's allocator has no glibc arenas to count) */
#endif
    make_fifo(w.pw.path, sizeof(w.pw.path), "arena");
    before = count_arenas();
    assert_int_equal(qprobe_dev_start(&a, &d), 0);
    writer_start(&w);
    wait_round(d, 4, 5000);
    after = count_arenas();
    qprobe_dev_stop(d);
    writer_stop(&w);
    print_message("malloc arenas: %d before, %d with the probe thread\n", before, after);
    assert_int_equal(after, before);
}

/* ---- the collector ---- */

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void *collector_new(const struct config *cfg)
{
    struct coll_env env = {.cfg = cfg, .procfs_root = "/proc", .sysfs_root = "/sys"};
    void *st = NULL;

    assert_int_equal(coll_quantum.init(&env, &st), 0);
    assert_non_null(st);
    return st;
}

static void collect(void *st, struct snapshot *s, uint64_t mono_ns)
{
    struct coll_tick tick = {.mono_ns = mono_ns, .dt_sec = 1};

    assert_int_equal(coll_quantum.collect(st, s, &tick), 0);
}

static void set_list(struct config_strlist *l, const char *name)
{
    l->v = calloc(1, sizeof(char *));
    assert_non_null(l->v);
    l->v[0] = strdup(name);
    l->n = 1;
}

/* Off: no quantum object (whatever the node reported), no thread. */
static void collector_off(void **state)
{
    struct config cfg;
    struct snapshot *s = snapshot_new();
    int threads = count_threads();
    void *st;

    (void)state;
    config_defaults(&cfg);
    cfg.monitoring.quantum_monitoring.enabled = false;
    st = collector_new(&cfg);
    assert_int_equal(count_threads(), threads);
    s->quantum_present = true; /* as the node's figures would have made it */
    s->quantum.qrng_throughput = 5;
    s->quantum.reported = QUANTUM_REPORTED_QRNG;
    s->gpu.quantum_sim_usage = 3;
    collect(st, s, 1000);
    assert_false(s->quantum_present);
    assert_true(isnan(s->quantum.qrng_throughput));
    assert_int_equal(s->quantum.reported, 0);
    assert_true(isnan(s->gpu.quantum_sim_usage));
    coll_quantum.fini(st);
    snapshot_unref(s);
    config_done(&cfg);
}

/* On: measured figures where the node reported none, the node's where it did;
 * the switches clear what they turn off; the probes run once per interval. */
static void collector_measures_and_defers(void **state)
{
    struct config cfg;
    struct snapshot *s = snapshot_new();
    double merkle, qrng;
    void *st;

    (void)state;
    config_defaults(&cfg);
    set_list(&cfg.monitoring.quantum_monitoring.signature_algorithm, "ML-DSA-65");
    set_list(&cfg.monitoring.quantum_monitoring.key_exchange_algorithm, "ML-KEM-1024");
    st = collector_new(&cfg);
    collect(st, s, 1000000000ull);
    assert_true(s->quantum_present);
    assert_true(s->quantum.security_level_bits == 192);
    assert_true(s->quantum.qrng_throughput > 1e6);
    assert_false(s->quantum.simulation_present);
    merkle = s->quantum.merkle_ops_per_sec; /* NaN without Nettle */
    qrng = s->quantum.qrng_throughput;
    snapshot_unref(s);

    /* the next tick repeats the round's figures; the node's win */
    s = snapshot_new();
    s->quantum_present = true;
    s->quantum.security_level_bits = 256;
    s->quantum.reported = QUANTUM_REPORTED_SECURITY;
    collect(st, s, 2000000000ull);
    assert_true(s->quantum.security_level_bits == 256);
    assert_true(s->quantum.qrng_throughput == qrng);
    assert_true(s->quantum.merkle_ops_per_sec == merkle ||
                (isnan(merkle) && isnan(s->quantum.merkle_ops_per_sec)));
    assert_int_equal(s->quantum.reported, QUANTUM_REPORTED_SECURITY);
    snapshot_unref(s);
    coll_quantum.fini(st);

    /* security level and simulation off: cleared, node's figures too */
    cfg.monitoring.quantum_monitoring.security_level_monitoring = false;
    cfg.monitoring.quantum_monitoring.simulation_metrics = false;
    cfg.monitoring.quantum_monitoring.merkle_probe = false;
    free(cfg.monitoring.quantum_monitoring.qrng_source);
    cfg.monitoring.quantum_monitoring.qrng_source = strdup("none");
    st = collector_new(&cfg);
    s = snapshot_new();
    s->quantum_present = s->quantum.simulation_present = true;
    s->quantum.security_level_bits = 256;
    s->quantum.simulation_metrics.qubits = 30;
    s->quantum.reported = QUANTUM_REPORTED_SECURITY | QUANTUM_REPORTED_SIM;
    collect(st, s, 1000);
    assert_true(s->quantum_present);
    assert_true(isnan(s->quantum.security_level_bits));
    assert_false(s->quantum.simulation_present);
    assert_true(isnan(s->quantum.simulation_metrics.qubits));
    assert_true(isnan(s->quantum.qrng_throughput));
    assert_true(isnan(s->quantum.merkle_ops_per_sec));
    assert_int_equal(s->quantum.reported, 0);
    snapshot_unref(s);
    coll_quantum.fini(st);
    config_done(&cfg);
}

/* A FIFO source: the probe thread measures, the collector takes its result. */
static void collector_reads_the_probe_thread(void **state)
{
    struct writer w = {.pw = {.chunk = 250, .period_ns = 20000000ull}}; /* 12.5 kB/s */
    struct config cfg;
    struct snapshot *s = NULL;
    int threads = count_threads();
    void *st;

    (void)state;
    make_fifo(w.pw.path, sizeof(w.pw.path), "collector");
    config_defaults(&cfg);
    cfg.monitoring.quantum_monitoring.merkle_probe = false;
    cfg.monitoring.quantum_monitoring.qrng_window_ms = 500;
    free(cfg.monitoring.quantum_monitoring.qrng_source);
    cfg.monitoring.quantum_monitoring.qrng_source = strdup(w.pw.path);
    st = collector_new(&cfg);
    assert_int_equal(count_threads(), threads + 1);
    writer_start(&w);
    for (int i = 0; i < 300; i++) {
        snapshot_unref(s);
        s = snapshot_new();
        collect(st, s, 1000 + (uint64_t)i);
        if (!isnan(s->quantum.qrng_throughput))
            break;
        usleep(10000);
    }
    print_message("collector, FIFO at 100000 bit/s: %.0f bit/s\n", s->quantum.qrng_throughput);
    assert_true(fabs(s->quantum.qrng_throughput / 100000 - 1) <= 0.10);
    snapshot_unref(s);
    coll_quantum.fini(st);
    writer_stop(&w);
    assert_int_equal(count_threads(), threads);
    config_done(&cfg);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    const char *names[] = {"rate", "nowriter", "device", "arena", "collector"};
    char path[300];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(collector_off), /* first: before any probe ran */
        cmocka_unit_test(merkle_tree_and_proofs),
        cmocka_unit_test(merkle_probe_matches_separate_timing),
        cmocka_unit_test(getrandom_rate),
        cmocka_unit_test(window_fifo_fast),
        cmocka_unit_test(window_fifo_slow),
        cmocka_unit_test(window_without_writer),
        cmocka_unit_test(device_thread),
        cmocka_unit_test(device_errors),
        cmocka_unit_test(device_thread_allocates_nothing),
        cmocka_unit_test(collector_measures_and_defers),
        cmocka_unit_test(collector_reads_the_probe_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
