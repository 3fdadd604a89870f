/* The online forecast (src/detect/forecast.h): a daily profile with a drift
 * forecast better than persistence and with a high confidence, white noise
 * with a low one, nothing during the warm-up, predictions clipped to [min,
 * max], irregular sampling, bounded memory with a long horizon at a short
 * interval, non-finite samples ignored, the predictor table, invalid options
 * refused, and the cost of a sample. */
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
#include "detect/forecast.h"

#define DAY   86400.0
#define EPOCH 1.7e9 /* wall time of t = 0 */

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct forecast *fresh(const struct forecast_opts *o)
{
    struct forecast *f = forecast_new(o);

    assert_non_null(f);
    return f;
}

/* CPU percent: a daily profile (peak in the afternoon, a second harmonic),
 * a drift of 2 points a day and noise of sd 1 */
static double daily(double t)
{
    double ph = 6.283185307179586 * (t + EPOCH) / DAY;

    return 40 + 20 * sin(ph) + 5 * cos(2 * ph) + 2 * t / DAY + gauss();
}

struct score {
    double mae_model, mae_naive, conf_min, conf_mean;
    int n;
};

/* Feeds series(t) at t = i * dt (i < n) and scores, from sample `from` on,
 * each published prediction against the sample `ahead` samples later. */
static struct score run(struct forecast *f, double (*series)(double), double dt, int n, int ahead,
                        int from)
{
    double *v = malloc(sizeof(double) * (size_t)n), *pred = malloc(sizeof(double) * (size_t)n);
    struct score sc = {0, 0, 1, 0, 0};
    int i;

    assert_non_null(v);
    assert_non_null(pred);
    for (i = 0; i < n; i++) {
        double c;

        v[i] = series(dt * i);
        forecast_add(f, dt * i, EPOCH + dt * i, v[i]);
        pred[i] = NAN;
        if (forecast_get(f, &pred[i], &c) && i >= from) {
            sc.conf_min = c < sc.conf_min ? c : sc.conf_min;
            sc.conf_mean += c;
        }
    }
    for (i = from; i + ahead < n; i++) {
        assert_false(isnan(pred[i]));
        sc.mae_model += fabs(pred[i] - v[i + ahead]);
        sc.mae_naive += fabs(v[i] - v[i + ahead]);
        sc.n++;
    }
    sc.mae_model /= sc.n;
    sc.mae_naive /= sc.n;
    sc.conf_mean /= sc.n + ahead;
    free(v);
    free(pred);
    return sc;
}

/* every 60 s over 10 days, 5 minutes ahead, scored over the last 7 */
static void test_daily_profile(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct forecast_stats st;
    struct score sc;

    (void)state;
    forecast_default_opts(&o, 300);
    o.min = 0;
    o.max = 100;
    f = fresh(&o);
    sc = run(f, daily, 60, 14400, 5, 3 * 1440);
    forecast_get_stats(f, &st);
    printf("daily profile: MAE %.3f (persistence %.3f), confidence min %.3f mean %.3f; "
           "%llu labelled, %u pending\n",
           sc.mae_model, sc.mae_naive, sc.conf_min, sc.conf_mean, (unsigned long long)st.labelled,
           st.pending);
    assert_true(sc.mae_model < 0.9 * sc.mae_naive);
    assert_true(sc.conf_min >= 0.6);
    assert_true(st.labelled >= 14390 && st.dropped == 0);
    forecast_free(f);
}

static double noise(double t)
{
    (void)t;
    return 50 + 10 * gauss();
}

static void test_white_noise(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct score sc;
    double v, c;

    (void)state;
    forecast_default_opts(&o, 300);
    f = fresh(&o);
    sc = run(f, noise, 60, 14400, 5, 1440);
    assert_true(forecast_get(f, &v, &c));
    printf("white noise: MAE %.3f (persistence %.3f), confidence mean %.3f, last %.3f\n",
           sc.mae_model, sc.mae_naive, sc.conf_mean, c);
    assert_true(sc.conf_mean < 0.3);
    assert_true(c < 0.3);
    /* the model learns to forecast the mean: better than persistence */
    assert_true(sc.mae_model < sc.mae_naive);
    forecast_free(f);
}

static void test_warmup(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct forecast_stats st;
    double v = -1, c = -1;
    int i;

    (void)state;
    forecast_default_opts(&o, 300);
    f = fresh(&o);
    assert_false(forecast_get(f, &v, &c));
    /* labels start at the 6th sample: example k is labelled at sample k + 5 */
    for (i = 0; i < 5 + (int)o.warmup_examples - 1; i++) {
        forecast_add(f, 60.0 * i, EPOCH + 60.0 * i, daily(60.0 * i));
        assert_false(forecast_get(f, &v, &c));
        forecast_get_stats(f, &st);
        assert_true(st.confidence == 0);
    }
    assert_true(v == -1 && c == -1); /* nothing written */
    forecast_add(f, 60.0 * i, EPOCH + 60.0 * i, daily(60.0 * i));
    assert_true(forecast_get(f, &v, &c));
    assert_true(c >= 0 && c <= 1 && isfinite(v));
    forecast_get_stats(f, &st);
    assert_int_equal(st.labelled, o.warmup_examples);
    forecast_free(f);
}

/* a load climbing past 100 % and down below 0: forecasts stay in [0, 100] */
static double ramp(double t)
{
    return 50 + 80 * sin(6.283185307179586 * t / 7200);
}

static void test_clipping(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    double lo = INFINITY, hi = -INFINITY, v, c;

    (void)state;
    forecast_default_opts(&o, 300);
    o.min = 0;
    o.max = 100;
    f = fresh(&o);
    for (int i = 0; i < 20000; i++) {
        double t = 10.0 * i, x = ramp(t);

        forecast_add(f, t, EPOCH + t, x < 0 ? 0 : x > 100 ? 100 : x);
        if (forecast_get(f, &v, &c)) {
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    printf("clipping: forecasts in [%g, %g]\n", lo, hi);
    assert_true(lo == 0 && hi == 100);
    forecast_free(f);
}

/* intervals drawn between 20 and 100 s: labels interpolated at t + horizon */
static void test_irregular(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct forecast_stats st;
    double t = 0, err_model = 0, err_naive = 0, c = 0;
    int n = 0;
    enum { N = 14000 };
    static double ts[N], xs[N], ps[N];

    (void)state;
    forecast_default_opts(&o, 300);
    f = fresh(&o);
    for (int i = 0; i < N; i++) {
        t += 20 + 80 * urand();
        ts[i] = t;
        xs[i] = daily(t);
        forecast_add(f, t, EPOCH + t, xs[i]);
        if (!forecast_get(f, &ps[i], &c))
            ps[i] = NAN;
    }
    /* score against the true profile at t + 300 (noise aside) */
    for (int i = N / 3; i < N; i++) {
        double target = ts[i] + 300, ph = 6.283185307179586 * (target + EPOCH) / DAY;
        double truth = 40 + 20 * sin(ph) + 5 * cos(2 * ph) + 2 * target / DAY;

        err_model += fabs(ps[i] - truth);
        err_naive += fabs(xs[i] - truth);
        n++;
    }
    forecast_get_stats(f, &st);
    printf("irregular: error to the profile %.3f (persistence %.3f), confidence %.3f, "
           "%llu labelled of %llu samples, %llu dropped\n",
           err_model / n, err_naive / n, c, (unsigned long long)st.labelled,
           (unsigned long long)st.samples, (unsigned long long)st.dropped);
    assert_true(err_model < 0.8 * err_naive);
    assert_true(c >= 0.6);
    assert_true(st.labelled + st.pending + 8 >= st.samples && st.dropped == 0);
    forecast_free(f);
}

/* 6 h ahead at 50 ms (432,000 samples per horizon): the pending ring
 * subsamples and stays bounded */
static void test_long_horizon_bounded(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct forecast_stats st;
    size_t size;
    uint32_t most = 0;
    double v, c;

    (void)state;
    forecast_default_opts(&o, 6 * 3600.0);
    o.warmup_examples = 20;
    size = forecast_size(&o);
    f = fresh(&o);
    for (int i = 0; i < 8 * 72000; i++) { /* 8 h */
        double t = 0.05 * i;

        forecast_add(f, t, EPOCH + t, 10 + sin(t / 600) + 0.1 * gauss());
        if (i % 1000 == 0) {
            forecast_get_stats(f, &st);
            most = st.pending > most ? st.pending : most;
        }
    }
    forecast_get_stats(f, &st);
    printf("long horizon: %zu bytes, at most %u pending of %u, %llu labelled, %llu dropped\n", size,
           most, o.pending, (unsigned long long)st.labelled, (unsigned long long)st.dropped);
    assert_true(size < 64 * 1024);
    assert_true(most <= o.pending / 2 + 2);
    /* 2 h of labels, one per 6 h / 64 = 337.5 s */
    assert_true(st.labelled >= 21 && st.labelled <= 22 && st.dropped == 0);
    assert_true(forecast_get(f, &v, &c));
    forecast_free(f);
}

static void test_non_finite_and_gaps(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    struct forecast_stats st;

    (void)state;
    forecast_default_opts(&o, 300);
    f = fresh(&o);
    forecast_add(f, 0, EPOCH, 1);
    forecast_add(f, NAN, EPOCH, 1);
    forecast_add(f, 60, EPOCH + 60, NAN);
    forecast_add(f, 60, EPOCH + 60, INFINITY);
    forecast_add(f, 0, EPOCH, 2); /* not after the previous */
    forecast_add(f, 60, NAN, 2);  /* no wall clock: fine */
    forecast_get_stats(f, &st);
    assert_int_equal(st.samples, 2);
    assert_int_equal(st.ignored, 4);
    for (int i = 2; i < 100; i++)
        forecast_add(f, 60.0 * i, EPOCH + 60.0 * i, i);
    /* the node was down for a day: the labels across the gap are not used */
    forecast_get_stats(f, &st);
    forecast_add(f, 60.0 * 99 + DAY, EPOCH + 60.0 * 99 + DAY, 5);
    {
        struct forecast_stats after;

        forecast_get_stats(f, &after);
        assert_int_equal(after.labelled, st.labelled);
        assert_int_equal(after.dropped, st.dropped + st.pending);
    }
    forecast_free(f);
    forecast_free(NULL);
}

static void test_ops(void **state)
{
    struct forecast_opts o;
    void *s;
    double v, c;

    (void)state;
    assert_string_equal(forecast_rls_ops.name, "rls");
    forecast_default_opts(&o, 120);
    o.warmup_examples = 10;
    s = forecast_rls_ops.create(&o);
    assert_non_null(s);
    for (int i = 0; i < 100; i++)
        forecast_rls_ops.add(s, 10.0 * i, EPOCH + 10.0 * i, 3);
    assert_true(forecast_rls_ops.get(s, &v, &c));
    assert_true(fabs(v - 3) < 1e-9 && c > 0.99); /* a constant is certain */
    forecast_rls_ops.destroy(s);
    forecast_rls_ops.destroy(NULL);
}

static void test_invalid_opts(void **state)
{
    struct forecast_opts o;

    (void)state;
    forecast_default_opts(&o, 0);
    assert_null(forecast_new(&o));
    forecast_default_opts(&o, NAN);
    assert_null(forecast_new(&o));
    forecast_default_opts(&o, 60);
    o.min = 5;
    o.max = 5;
    assert_null(forecast_new(&o));
    forecast_default_opts(&o, 60);
    o.warmup_examples = 0;
    assert_null(forecast_new(&o));
    forecast_default_opts(&o, 60);
    o.pending = FORECAST_MAX_PENDING + 1;
    assert_null(forecast_new(&o));
    assert_int_equal(forecast_size(&o), 0);
}

static void test_cost(void **state)
{
    struct forecast_opts o;
    struct forecast *f;
    const int n = 2000000;
    double t0, per, v, c;

    (void)state;
    forecast_default_opts(&o, 300);
    f = fresh(&o);
    t0 = now_sec();
    for (int i = 0; i < n; i++)
        forecast_add(f, i, EPOCH + i, 50 + 10 * sin(i / 3000.0) + (double)(i % 7));
    per = (now_sec() - t0) / n;
    assert_true(forecast_get(f, &v, &c));
    printf("cost: %.3f us per forecast_add (1 s interval, 5 min horizon, %d features)\n", per * 1e6,
           FORECAST_FEATURES);
    forecast_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daily_profile),
        cmocka_unit_test(test_white_noise),
        cmocka_unit_test(test_warmup),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_irregular),
        cmocka_unit_test(test_long_horizon_bounded),
        cmocka_unit_test(test_non_finite_and_gaps),
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_invalid_opts),
        cmocka_unit_test(test_cost),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
