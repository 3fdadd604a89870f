/*
 * bench/detect_series: CPU time of one detector update alone (src/detect/series.h),
 * at table_bits 10 (what an embedding caller running hundreds of series might
 * choose) and 13 (the offline default).
 *
 *   bench_detect_series [-n SAMPLES]     (default 20,000,000)
 *
 * The samples are a daily sine (1440 samples a period) with Gaussian noise and a
 * spike now and then, made before the clock starts; 64 detectors take them in
 * turn, so that their tables do not all sit in the cache at once, as in a tick
 * over many series. CPU time is getrusage(RUSAGE_SELF) user+system.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/detrand.h"
#include "common/parse.h"
#include "detect/series.h"

#define DETECTORS 64
#define VALUES    (1 << 16)

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ns per update of DETECTORS detectors with 2^bits tables over n samples; -1 when
 * out of memory */
static double run(uint32_t bits, uint64_t n, const double *values, double *ret_sink)
{
    struct detect_series *det[DETECTORS] = {NULL};
    struct detect_series_opts o;
    double t0, sink = 0, ns = -1;

    detect_series_default_opts(&o);
    o.table_bits = bits;
    for (size_t i = 0; i < DETECTORS; i++) {
        det[i] = detect_series_new_opts(&o);
        if (!det[i])
            goto done;
    }
    t0 = cpu_seconds();
    for (uint64_t i = 0; i < n; i++)
        sink += detect_series_update(det[i % DETECTORS], values[(i / DETECTORS) % VALUES]);
    ns = (cpu_seconds() - t0) * 1e9 / (double)n;
    *ret_sink += sink;
done:
    for (size_t i = 0; i < DETECTORS; i++)
        detect_series_free(det[i]);
    return ns;
}

int main(int argc, char **argv)
{
    static double values[VALUES];
    static const uint32_t bits[] = {10, 13};
    struct detect_series_opts o;
    uint64_t n = 20000000;
    double sink = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc && parse_u64(argv[i + 1], &n) == 0 && n > 0) {
            i++;
        } else {
            fprintf(stderr, "usage: bench_detect_series [-n SAMPLES]\n");
            return 2;
        }
    }
    for (size_t i = 0; i < VALUES; i++)
        values[i] = 50 + 10 * sin(6.283185307179586 * (double)i / 1440) + gauss() +
                    (i % 4999 == 0 ? 40 : 0);
    for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
        double ns = run(bits[b], n, values, &sink);

        if (ns < 0) {
            fprintf(stderr, "bench_detect_series: out of memory\n");
            return 1;
        }
        detect_series_default_opts(&o);
        o.table_bits = bits[b];
        printf("detector update, table_bits %2u (%6zu bytes each): %6.1f ns, %5.2f M updates/s\n",
               bits[b], detect_series_size(&o), ns, 1e3 / ns);
    }
    /* keeps the scores alive, so that the updates cannot be optimised away */
    if (sink < 0)
        printf("%g\n", sink);
    return 0;
}
