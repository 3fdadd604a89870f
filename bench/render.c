/*
 * bench/render: what one /metrics answer costs to render, measured in-process.
 *
 *   bench_render [-c FILE] [-n RENDERS]     (default: the built-in defaults, 10000 renders)
 *
 * A real monitor samples the host (its own sampler thread, as in the daemon) until
 * it has published a snapshot with rates (the second tick); that snapshot and the
 * monitor's own figures are then rendered RENDERS times with prom_render(), each
 * into a fresh buffer that is freed afterwards, as the daemon does per scrape. CPU
 * time is getrusage(RUSAGE_THREAD) user+system of the rendering thread alone, so
 * the sampler thread's ticks during the loop are not counted. Both formats are
 * measured: the text format 0.0.4 (what Prometheus gets by default) and OpenMetrics.
 *
 * Printed: per format, the exposition's size in bytes, its number of samples (lines
 * that are not comments) and metric families (TYPE lines), and the CPU time per
 * render in microseconds.
 */
#define LOG_MODULE "bench"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "arthamon/arthamon.h"
#include "bench_config.h"
#include "common/parse.h"
#include "core/log.h"
#include "core/monitor.h"
#include "serve/prom.h"

static const char default_yaml[] = "agent:\n"
                                   "  console_summary: false\n"
                                   "monitoring:\n"
                                   "  sampling_interval_ms: 1000\n"
                                   "  logging: {level: error}\n";

static double thread_cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

static void count_lines(const char *s, size_t len, unsigned *samples, unsigned *families)
{
    const char *end = s + len;

    *samples = *families = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n > 0 && s[0] != '#')
            (*samples)++;
        else if (n > 7 && !strncmp(s, "# TYPE ", 7))
            (*families)++;
        s += n + 1;
    }
}

static int measure(const char *label, enum prom_format fmt, const struct snapshot *snap,
                   const struct prom_self *self, uint64_t renders)
{
    struct strbuf out;
    unsigned samples, families;
    size_t bytes;
    double c0, t;

    strbuf_init(&out, STRBUF_DEFAULT_MAX);
    if (prom_render(&out, fmt, snap, self) < 0) {
        fprintf(stderr, "bench_render: prom_render failed\n");
        strbuf_done(&out);
        return -1;
    }
    bytes = out.len;
    count_lines(out.buf, out.len, &samples, &families);
    strbuf_done(&out);

    c0 = thread_cpu_us();
    for (uint64_t i = 0; i < renders; i++) {
        strbuf_init(&out, STRBUF_DEFAULT_MAX);
        if (prom_render(&out, fmt, snap, self) < 0 || out.len != bytes) {
            fprintf(stderr, "bench_render: render %llu differs\n", (unsigned long long)i);
            strbuf_done(&out);
            return -1;
        }
        strbuf_done(&out);
    }
    t = thread_cpu_us() - c0;
    printf("  %-11s %7zu bytes, %4u samples, %3u families: %8.2f us CPU per render\n", label, bytes,
           samples, families, t / (double)renders);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t renders = 10000;
    struct config cfg;
    struct monitor *m;
    struct monitor_stats st;
    struct prom_self self = {0};
    struct snapshot *snap = NULL;
    struct timespec ts = {0, 50000000};
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc && parse_u64(argv[i + 1], &renders) == 0 &&
                 renders > 0)
            i++;
        else {
            fprintf(stderr, "usage: bench_render [-c FILE] [-n RENDERS]\n");
            return 2;
        }
    }
    if (bench_load_config(&cfg, path, default_yaml) < 0)
        return 1;
    log_set_level(LOG_ERROR);

    m = monitor_new(&cfg);
    if (!m || monitor_start(m) < 0) {
        fprintf(stderr, "bench_render: cannot start the monitor\n");
        return 1;
    }
    /* the second tick: the first has no rates, so fewer samples than the daemon serves */
    for (int i = 0; i < 200; i++) {
        monitor_get_stats(m, &st);
        if (st.ticks >= 2)
            break;
        nanosleep(&ts, NULL);
    }
    monitor_stop(m);
    snap = monitor_current(m);
    if (!snap) {
        fprintf(stderr, "bench_render: no snapshot within 10 s\n");
        monitor_free(m);
        return 1;
    }
    self.version = am_version();
    self.node_id = cfg.agent.node_id ? cfg.agent.node_id : "";
    monitor_get_stats(m, &self.stats);
    self.start_time_seconds = (double)time(NULL);
    self.sampling_interval_seconds = (double)cfg.monitoring.sampling_interval_ms / 1000.0;
    self.scrapes_total = 1000;
    self.http_requests_total = 1234;
    self.http_rejected_total = 5;

    printf("bench/render: /metrics of a real snapshot (tick %llu), %llu renders per format\n",
           (unsigned long long)self.stats.ticks, (unsigned long long)renders);
    if (measure("text 0.0.4", PROM_TEXT, snap, &self, renders) < 0 ||
        measure("OpenMetrics", PROM_OPENMETRICS, snap, &self, renders) < 0)
        rc = 1;
    snapshot_unref(snap);
    monitor_free(m);
    config_done(&cfg);
    return rc;
}
