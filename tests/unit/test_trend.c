/* The robust trend (src/detect/trend.h): a noisy climb with outliers fitted
 * within 5 % and its ETA within 10 %, a flat noisy series and sawtooth
 * series (garbage-collected memory) not taken for a leak while a sawtooth on
 * a climbing base is, the window bounded over a million samples and settled
 * between one and two horizons, non-finite samples ignored, the ETA's edge
 * cases, invalid options refused, and the cost of a fit and of a sample. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/detrand.h"
#include "detect/trend.h"

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static struct trend *fresh(const struct trend_opts *o)
{
    struct trend *t = trend_new(o);

    assert_non_null(t);
    return t;
}

/* Resident memory climbing 100 kB a minute from 1 GB, sampled each minute,
 * with noise of 200 kB and one sample in ten a 50 MB outlier; a fixed window
 * of 64 single samples, so that the outliers reach the fit. */
static void test_climb_with_outliers(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;
    double slope = 1e5 / 60, limit = 2e9, t_end = 0, v_end = 0, eta, eta_true;

    (void)state;
    trend_default_opts(&o);
    o.horizon_sec = 0;
    t = fresh(&o);
    for (int i = 0; i < 500; i++) {
        double ts = 60.0 * i, v = 1e9 + slope * ts + 2e5 * gauss();

        if (i % 10 == 3)
            v += 5e7;
        trend_add(t, ts, v);
        t_end = ts;
        v_end = 1e9 + slope * ts;
    }
    assert_true(trend_get(t, &fit));
    eta = trend_eta_sec(&fit, limit);
    eta_true = (limit - v_end) / slope;
    printf("climb: slope %.4g (true %.4g), quality %.3f (r2 %.3f, tau %.3f, z %.1f), "
           "eta %.0f s (true %.0f s)\n",
           fit.slope_per_sec, slope, fit.quality, fit.r2, fit.tau, fit.z, eta, eta_true);
    assert_int_equal(fit.n, 64);
    assert_true(fabs(fit.span_sec - 63 * 60) < 1e-6);
    assert_true(fabs(fit.slope_per_sec - slope) < 0.05 * slope);
    assert_true(fit.quality >= 0.8);
    assert_false(fit.flat);
    assert_true(fabs(fit.level - v_end) < 1e6);
    assert_true(fabs(eta - eta_true) < 0.1 * eta_true);
    (void)t_end;
    trend_free(t);
}

/* The same kind of climb over two days with the default window (step
 * doubling): the level and the ETA follow the newest sample. */
static void test_climb_default_window(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;
    double slope = 2.0, limit = 1e6, v_end = 0, eta_true;

    (void)state;
    trend_default_opts(&o);
    t = fresh(&o);
    for (int i = 0; i < 2 * 8640; i++) {
        double ts = 10.0 * i, v = 1e5 + slope * ts + 500 * gauss();

        if (i % 17 == 0)
            v -= 3e4; /* a dip now and then */
        trend_add(t, ts, v);
        v_end = 1e5 + slope * ts;
    }
    assert_true(trend_get(t, &fit));
    eta_true = (limit - v_end) / slope;
    printf("climb (default window): step %u, %zu points over %.0f s, slope %.4g, quality %.3f, "
           "eta %.0f s (true %.0f s)\n",
           trend_step(t), fit.n, fit.span_sec, fit.slope_per_sec, fit.quality,
           trend_eta_sec(&fit, limit), eta_true);
    assert_true(fit.span_sec >= o.horizon_sec && fit.span_sec <= 2 * o.horizon_sec + 10);
    assert_true(fabs(fit.slope_per_sec - slope) < 0.05 * slope);
    assert_true(fit.quality >= 0.8);
    assert_true(fabs(trend_eta_sec(&fit, limit) - eta_true) < 0.1 * eta_true);
    trend_free(t);
}

static void test_flat_noise(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;
    int flat = 0;

    (void)state;
    trend_default_opts(&o);
    o.horizon_sec = 0;
    t = fresh(&o);
    for (int run = 0; run < 20; run++) {
        trend_reset(t);
        for (int i = 0; i < 64; i++)
            trend_add(t, 5.0 * i, 50 + 10 * gauss());
        assert_true(trend_get(t, &fit));
        if (run == 0)
            printf("flat: slope %.4g, quality %.3f (r2 %.3f, tau %.3f, z %.2f)\n",
                   fit.slope_per_sec, fit.quality, fit.r2, fit.tau, fit.z);
        assert_true(fit.quality < 0.3);
        assert_true(fabs(fit.slope_per_sec * fit.span_sec) < 20); /* 2 noise sd */
        if (fit.flat) {
            assert_true(isinf(trend_eta_sec(&fit, 100)));
            assert_true(isinf(trend_eta_sec(&fit, 0)));
            flat++;
        }
    }
    /* noise looks significant at z 2.58 once in a hundred runs */
    printf("flat: %d of 20 runs flat\n", flat);
    assert_true(flat >= 18);
    /* a constant: no slope, no quality, flat */
    trend_reset(t);
    for (int i = 0; i < 64; i++)
        trend_add(t, i, 7);
    assert_true(trend_get(t, &fit));
    assert_true(fit.slope_per_sec == 0 && fit.quality == 0 && fit.flat);
    assert_true(trend_eta_sec(&fit, 7) == 0);
    assert_true(isinf(trend_eta_sec(&fit, 8)));
    trend_free(t);
}

/* memory rising from 100 to 200 MB over `period` seconds, then freed */
static double sawtooth(double ts, double period)
{
    return 1e8 + 1e8 * fmod(ts, period) / period;
}

static void test_sawtooth_not_a_leak(void **state)
{
    static const double periods[] = {45, 600, 1800, 3600, 7200};
    struct trend_opts o;
    struct trend_fit fit;

    (void)state;
    trend_default_opts(&o);
    for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
        struct trend *t = fresh(&o);
        double worst = 0;

        /* a day at 10 s; checked at every point of the last 12 h */
        for (int i = 0; i < 8640; i++) {
            double ts = 10.0 * i;

            trend_add(t, ts, sawtooth(ts, periods[p]) + 1e6 * gauss());
            if (i >= 4320 && trend_get(t, &fit) && fit.quality > worst)
                worst = fit.quality;
        }
        assert_true(trend_get(t, &fit));
        printf("sawtooth period %5.0f s: slope %.4g, quality %.3f (worst %.3f; r2 %.3f, tau %.3f)"
               "\n",
               periods[p], fit.slope_per_sec, fit.quality, worst, fit.r2, fit.tau);
        assert_true(worst < 0.3);
        trend_free(t);
    }
}

/* the same sawtooth on a base climbing 100 MB an hour: a leak under the GC */
static void test_sawtooth_on_climb(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;
    double slope = 2e7 / 3600; /* 20 MB an hour under teeth of 100 MB */

    (void)state;
    trend_default_opts(&o);
    t = fresh(&o);
    for (int i = 0; i < 4320; i++) {
        double ts = 10.0 * i;

        trend_add(t, ts, sawtooth(ts, 3600) + slope * ts + 1e6 * gauss());
    }
    assert_true(trend_get(t, &fit));
    printf("sawtooth on a climb: slope %.4g (base %.4g), quality %.3f (r2 %.3f, tau %.3f)\n",
           fit.slope_per_sec, slope, fit.quality, fit.r2, fit.tau);
    assert_true(fabs(fit.slope_per_sec - slope) < 0.1 * slope);
    assert_true(fit.quality >= 0.7);
    assert_false(fit.flat);
    trend_free(t);
}

static void test_bounded(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;
    size_t size;

    (void)state;
    trend_default_opts(&o);
    o.horizon_sec = 1e12; /* never reached: step doubles up to max_step */
    o.max_step = 1u << 12;
    size = trend_size(&o);
    assert_true(size > 0 && size < 64 * 1024);
    t = fresh(&o);
    for (uint32_t i = 0; i < 1000000; i++) {
        trend_add(t, i, 0.001 * i + gauss());
        assert_true(trend_count(t) <= o.points);
        if (i % 4096 == 0) {
            uint32_t s = trend_step(t);

            assert_true(s >= 1 && s <= o.max_step && (s & (s - 1)) == 0);
        }
    }
    assert_int_equal(trend_step(t), 1u << 12);
    assert_int_equal(trend_count(t), o.points);
    assert_true(trend_get(t, &fit));
    assert_true(fabs(fit.slope_per_sec - 0.001) < 0.00005);
    printf("bounded: %zu bytes, step %u after 1e6 samples, span %.0f\n", size, trend_step(t),
           fit.span_sec);
    trend_free(t);

    /* a horizon of an hour at 1 s: settles between one and two hours */
    trend_default_opts(&o);
    o.horizon_sec = 3600;
    t = fresh(&o);
    for (uint32_t i = 0; i < 200000; i++) {
        trend_add(t, i, gauss());
        if (i > 7200 && trend_get(t, &fit))
            assert_true(fit.span_sec >= 3600 && fit.span_sec <= 7200 + 64);
    }
    assert_int_equal(trend_step(t), 64);
    trend_free(t);
}

static void test_non_finite_ignored(void **state)
{
    struct trend_opts o;
    struct trend *a, *b;
    struct trend_fit fa, fb;

    (void)state;
    trend_default_opts(&o);
    o.horizon_sec = 600;
    a = fresh(&o);
    b = fresh(&o);
    assert_false(trend_get(a, &fa));
    assert_false(fa.valid);
    for (int i = 0; i < 3000; i++) {
        double v = 3 * i + 50 * gauss();

        trend_add(a, i, v);
        trend_add(b, i, v);
        trend_add(b, i + 0.5, NAN);
        trend_add(b, i + 0.5, INFINITY);
        trend_add(b, NAN, 1e9);
        trend_add(b, i - 10.0, 1e9); /* time going backwards */
    }
    assert_true(trend_get(a, &fa));
    assert_true(trend_get(b, &fb));
    assert_memory_equal(&fa, &fb, sizeof(fa));
    assert_int_equal(trend_step(a), trend_step(b));
    trend_free(a);
    trend_free(b);
    trend_free(NULL);
}

static void test_eta_edges(void **state)
{
    struct trend_fit fit;

    (void)state;
    memset(&fit, 0, sizeof(fit));
    assert_true(isinf(trend_eta_sec(&fit, 10))); /* not valid */
    fit.valid = true;
    fit.level = 50;
    fit.slope_per_sec = -0.5;
    assert_true(trend_eta_sec(&fit, 0) == 100); /* free space falling to 0 */
    assert_true(isinf(trend_eta_sec(&fit, 60)));
    assert_true(trend_eta_sec(&fit, 50) == 0);
    assert_true(isinf(trend_eta_sec(&fit, NAN)));
    fit.slope_per_sec = 2;
    assert_true(trend_eta_sec(&fit, 60) == 5);
    fit.flat = true;
    assert_true(isinf(trend_eta_sec(&fit, 60)));
}

static void test_min_points_and_span(void **state)
{
    struct trend_opts o;
    struct trend *t;
    struct trend_fit fit;

    (void)state;
    trend_default_opts(&o);
    o.horizon_sec = 0;
    o.min_span_sec = 100;
    t = fresh(&o);
    for (int i = 0; i < 7; i++)
        trend_add(t, 2 * i, 2 * i);
    assert_false(trend_get(t, &fit)); /* 7 points */
    for (int i = 7; i < 50; i++) {
        trend_add(t, 2 * i, 2 * i);
        assert_false(trend_get(t, &fit)); /* under 100 s */
    }
    trend_add(t, 100, 100);
    assert_true(trend_get(t, &fit));
    assert_true(fabs(fit.slope_per_sec - 1) < 1e-12 && fit.quality > 0.999);
    trend_free(t);
}

static void test_invalid_opts(void **state)
{
    struct trend_opts o;

    (void)state;
    trend_default_opts(&o);
    o.points = 3;
    assert_null(trend_new(&o));
    o.points = TREND_MAX_POINTS + 1;
    assert_null(trend_new(&o));
    trend_default_opts(&o);
    o.step = 0;
    assert_null(trend_new(&o));
    trend_default_opts(&o);
    o.min_points = o.points + 1;
    assert_null(trend_new(&o));
    trend_default_opts(&o);
    o.horizon_sec = NAN;
    assert_null(trend_new(&o));
    trend_default_opts(&o);
    o.z_flat = -1;
    assert_null(trend_new(&o));
    assert_int_equal(trend_size(&o), 0);
}

/* the cost of one fit (worst and mean, at 64 and at the most points) and of a
 * sample on average with a fit asked for at every sample */
static void test_cost(void **state)
{
    static const uint32_t sizes[] = {64, TREND_MAX_POINTS};
    struct trend_opts o;
    struct trend_fit fit;

    (void)state;
    for (size_t s = 0; s < 2; s++) {
        struct trend *t;
        static double cost[4000];
        double worst = 0, sum = 0;
        int fits = 0;

        trend_default_opts(&o);
        o.points = sizes[s];
        o.horizon_sec = 0;
        t = fresh(&o);
        for (int i = 0; i < 4000; i++) {
            double t0, dt;

            trend_add(t, i, (i % 5 == 0 ? 1e3 : 0) + 0.1 * i + gauss());
            t0 = now_sec();
            trend_get(t, &fit);
            dt = now_sec() - t0;
            if (i >= (int)o.points) {
                worst = dt > worst ? dt : worst;
                sum += dt;
                cost[fits++] = dt;
            }
        }
        qsort(cost, (size_t)fits, sizeof(cost[0]), by_value);
        printf("cost: fit at %u points: mean %.2f us, 99th percentile %.2f us, worst %.2f us "
               "(preemption included)\n",
               sizes[s], sum / fits * 1e6, cost[fits * 99 / 100] * 1e6, worst * 1e6);
        trend_free(t);
    }

    {
        struct trend *t;
        double t0, per;
        const int n = 1000000;

        trend_default_opts(&o);
        t = fresh(&o);
        t0 = now_sec();
        for (int i = 0; i < n; i++) {
            trend_add(t, i, 0.01 * i + gauss());
            trend_get(t, &fit);
        }
        per = (now_sec() - t0) / n;
        printf("cost: per sample with a fit asked every sample (6 h horizon at 1 s): %.3f us\n",
               per * 1e6);
        trend_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_climb_with_outliers),
        cmocka_unit_test(test_climb_default_window),
        cmocka_unit_test(test_flat_noise),
        cmocka_unit_test(test_sawtooth_not_a_leak),
        cmocka_unit_test(test_sawtooth_on_climb),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_non_finite_ignored),
        cmocka_unit_test(test_eta_edges),
        cmocka_unit_test(test_min_points_and_span),
        cmocka_unit_test(test_invalid_opts),
        cmocka_unit_test(test_cost),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
