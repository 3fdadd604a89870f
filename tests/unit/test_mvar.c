/* The multivariate detector (src/detect/mvar.h): a joint anomaly whose every
 * value lies in its own usual range scored high and its features named, a
 * load change that follows the usual relations scored low, silence while
 * warming up, absent features (throughout, late, intermittent, a whole tick),
 * recovery after a permanent shift, determinism, rejected options, and the CPU
 * time per tick at 40 and 300 features (printed). */
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
#include "detect/mvar.h"

#define ALARM  0.5  /* the score that counts as an alarm here */
#define PERIOD 400  /* ticks of one load cycle */
#define LEARN  2000 /* ticks after the warm-up before anything is injected */
#define NOISE  10   /* independent features */
#define DIM    (3 + NOISE)

enum { CPU, TPS, MEMPOOL };

/* the load: a cycle between 0 and 1 plus a little noise shared by all it drives */
static double load_at(size_t t)
{
    return 0.5 + 0.5 * sin(6.283185307179586 * (double)t / PERIOD) + 0.03 * gauss();
}

/* a normal snapshot at load l: CPU and transactions follow the load, the
 * mempool and the other features are independent noise */
static void snapshot(double *x, double l)
{
    x[CPU] = 20 + 50 * l + 0.5 * gauss();
    x[TPS] = 100 + 400 * l + 4 * gauss();
    x[MEMPOOL] = 50 + 5 * gauss();
    for (int k = 0; k < NOISE; k++)
        x[3 + k] = 10.0 * (k + 1) + (k + 1) * gauss();
}

static struct mvar *fresh(uint32_t dim, uint64_t seed)
{
    struct mvar_opts o;
    struct mvar *m;

    mvar_default_opts(&o, dim);
    m = mvar_new(&o, seed);
    assert_non_null(m);
    return m;
}

static void check_score(double s)
{
    assert_false(isnan(s));
    assert_true(s >= 0 && s <= 1);
}

/* Feeds normal snapshots for ticks t0 .. t1 - 1; returns how many of those
 * after the warm-up scored ALARM or more. */
static size_t run_normal(struct mvar *m, size_t t0, size_t t1, size_t *after_warmup)
{
    double x[DIM];
    size_t alarms = 0;

    for (size_t t = t0; t < t1; t++) {
        bool warm = mvar_warming(m);
        double s;

        snapshot(x, load_at(t));
        s = mvar_update(m, x);
        check_score(s);
        if (!warm) {
            alarms += s >= ALARM;
            (*after_warmup)++;
        }
    }
    return alarms;
}

/* the feature with the largest contribution to the last tick */
static uint32_t top(const struct mvar *m, uint32_t dim)
{
    uint32_t best = 0;

    for (uint32_t i = 1; i < dim; i++)
        if (mvar_contribution(m, i) > mvar_contribution(m, best))
            best = i;
    return best;
}

/* ticks of a lasting joint anomaly, of which the first HELD must mostly score high */
#define INCIDENT 300
#define HELD     100

static void test_joint_anomaly(void **state)
{
    struct mvar *m = fresh(DIM, 1);
    size_t n = 0, alarms, start = 600 + LEARN, hit = 0, held = 0, last = 0;
    uint32_t named = DIM;
    double x[DIM], sum = 0;

    (void)state;
    alarms = run_normal(m, 0, start, &n);
    printf("joint: %zu of %zu normal ticks at >= %.1f\n", alarms, n, ALARM);
    assert_true(n == LEARN);
    assert_true((double)alarms < 0.005 * (double)n);

    /* transactions at their low-load level, CPU at its high-load level, the
     * mempool growing for 30 ticks: each value within its own range, the mix
     * never seen; then it lasts */
    for (size_t k = 0; k < INCIDENT; k++) {
        double s;

        snapshot(x, load_at(start + k));
        x[TPS] = 100 + 400 * 0.05 + 4 * gauss();
        x[CPU] = 20 + 50 * 0.95 + 0.5 * gauss();
        x[MEMPOOL] = 50 + 0.5 * (double)(k < 30 ? k : 30) + 5 * gauss();
        s = mvar_update(m, x);
        check_score(s);
        if (s >= ALARM) {
            held += k < HELD;
            last = k;
        }
        if (s >= ALARM && hit == 0) {
            hit = k + 1;
            named = top(m, DIM);
            for (uint32_t i = 0; i < DIM; i++) {
                assert_true(mvar_contribution(m, i) >= 0 && mvar_contribution(m, i) <= 1);
                sum += mvar_contribution(m, i);
            }
            assert_true(fabs(sum - 1) < 1e-9);
            assert_true(mvar_contribution(m, DIM) == 0);
        }
    }
    printf("joint: first alarm after %zu ticks naming feature %u, %zu of the first %d ticks "
           "alarmed, the last at tick %zu\n",
           hit, named, held, HELD, last);
    assert_true(hit > 0 && hit <= 30);
    assert_true(named == CPU || named == TPS || named == MEMPOOL);
    /* not learned away within a few ticks */
    assert_true(held >= HELD * 8 / 10);
    mvar_free(m);
}

static void test_usual_relation_quiet(void **state)
{
    struct mvar *m = fresh(DIM, 2);
    size_t n = 0, start = 600 + LEARN;
    double x[DIM], peak = 0;

    (void)state;
    run_normal(m, 0, start, &n);
    /* the load climbs from its low level to its high one within 20 ticks and
     * stays there: CPU and transactions follow as they always have */
    for (size_t k = 0; k < 500; k++) {
        double l = (k < 20 ? (double)k / 20 : 1) + 0.03 * gauss(), s;

        snapshot(x, l);
        s = mvar_update(m, x);
        check_score(s);
        peak = s > peak ? s : peak;
    }
    printf("usual: highest score %.3f while the load rose and stayed high\n", peak);
    assert_true(peak < ALARM);
    mvar_free(m);
}

static void test_warmup_silent(void **state)
{
    struct mvar_opts o;
    struct mvar *m;
    double x[DIM];

    (void)state;
    mvar_default_opts(&o, DIM);
    o.warmup = 250;
    m = mvar_new(&o, 3);
    assert_non_null(m);
    for (size_t t = 0; t < o.warmup; t++) {
        assert_true(mvar_warming(m));
        /* wild values: none of them scored */
        for (uint32_t i = 0; i < DIM; i++)
            x[i] = gauss() * (double)(t % 7) * 1e3;
        assert_true(mvar_update(m, x) == 0);
    }
    assert_false(mvar_warming(m));
    mvar_free(m);
    mvar_free(NULL);
}

static void test_absent_features(void **state)
{
    enum { WIDE = DIM + 7, LATE = DIM + 3, LATE_NOISE, GAPPY, CONST };
    struct mvar *m = fresh(WIDE, 4);
    double x[WIDE], s, sum;
    size_t alarms = 0, n = 0;

    (void)state;
    for (uint32_t i = 0; i < WIDE; i++)
        x[i] = NAN;
    /* a first tick with nothing in it */
    assert_true(mvar_update(m, x) == 0);
    assert_true(mvar_warming(m));
    for (size_t t = 0; t < 600 + 3000; t++) {
        double l = load_at(t);

        snapshot(x, l);
        /* DIM .. DIM + 2 never reported; LATE follows the load from tick 1500,
         * LATE_NOISE is noise from then; GAPPY and CPU miss 2% of the ticks */
        x[LATE] = t >= 1500 ? 5 + 30 * l + 0.3 * gauss() : NAN;
        x[LATE_NOISE] = t >= 1500 ? 7 + gauss() : NAN;
        x[GAPPY] = urand() < 0.02 ? NAN : 3 + gauss();
        x[CONST] = t % 50 == 0 ? INFINITY : 42;
        if (urand() < 0.02)
            x[CPU] = NAN;
        if (t == 2000) {
            for (uint32_t i = 0; i < WIDE; i++)
                x[i] = NAN;
        }
        s = mvar_update(m, x);
        check_score(s);
        if (t == 2000)
            assert_true(s == 0);
        sum = 0;
        for (uint32_t i = 0; i < WIDE; i++) {
            double c = mvar_contribution(m, i);

            assert_false(isnan(c));
            if (!isfinite(x[i]))
                assert_true(c == 0);
            sum += c;
        }
        assert_true(sum == 0 || fabs(sum - 1) < 1e-9);
        if (!mvar_warming(m)) {
            alarms += s >= ALARM;
            n++;
        }
    }
    printf("absent: %zu of %zu ticks at >= %.1f\n", alarms, n, ALARM);
    assert_true((double)alarms < 0.005 * (double)n);
    mvar_free(m);
}

/* ticks after which the score of a permanent shift stays below 0.1 for 300 ticks */
#define DRIFT_LIMIT 600

static void test_drift(void **state)
{
    struct mvar *m = fresh(DIM, 5);
    size_t n = 0, start = 600 + LEARN, quiet = 0, settled = 0;
    double x[DIM], peak = 0;

    (void)state;
    run_normal(m, 0, start, &n);
    /* every feature moves up by half its level, for good */
    for (size_t k = 0; k < 4000 && quiet < 300; k++) {
        double s;

        snapshot(x, load_at(start + k));
        for (uint32_t i = 0; i < DIM; i++)
            x[i] *= 1.5;
        s = mvar_update(m, x);
        check_score(s);
        peak = s > peak ? s : peak;
        if (s < 0.1) {
            if (quiet++ == 0)
                settled = k;
        } else {
            quiet = 0;
        }
    }
    printf("drift: peak %.3f, quiet from tick %zu after the shift\n", peak, settled);
    assert_true(peak >= ALARM);
    assert_true(quiet >= 300 && settled <= DRIFT_LIMIT);
    mvar_free(m);
}

static void test_deterministic(void **state)
{
    struct mvar *a = fresh(DIM, 6), *b = fresh(DIM, 6);
    double x[DIM];

    (void)state;
    for (size_t t = 0; t < 1500; t++) {
        snapshot(x, load_at(t));
        if (t == 1200)
            x[TPS] = 0;
        assert_true(mvar_update(a, x) == mvar_update(b, x));
        for (uint32_t i = 0; i < DIM; i++)
            assert_true(mvar_contribution(a, i) == mvar_contribution(b, i));
    }
    mvar_free(a);
    mvar_free(b);
}

static void test_bad_options(void **state)
{
    struct mvar_opts o;
    struct mvar *m;

    (void)state;
    mvar_default_opts(&o, 0);
    assert_null(mvar_new(&o, 1));
    assert_true(mvar_size(&o) == 0);
    mvar_default_opts(&o, MVAR_MAX_DIM + 1);
    assert_null(mvar_new(&o, 1));
    mvar_default_opts(&o, 10);
    o.hidden = 0;
    assert_null(mvar_new(&o, 1));
    o.hidden = MVAR_MAX_HIDDEN + 1;
    assert_null(mvar_new(&o, 1));
    mvar_default_opts(&o, 10);
    o.rate_floor = 2 * o.rate;
    assert_null(mvar_new(&o, 1));
    mvar_default_opts(&o, 10);
    o.std_window = NAN;
    assert_null(mvar_new(&o, 1));
    mvar_default_opts(&o, 10);
    o.z_half = o.z_quiet;
    assert_null(mvar_new(&o, 1));
    mvar_default_opts(&o, 10);
    o.damp_floor = 0;
    assert_null(mvar_new(&o, 1));

    mvar_default_opts(&o, MVAR_MAX_DIM);
    assert_true(mvar_size(&o) > (size_t)MVAR_MAX_DIM * o.hidden * 2 * sizeof(double));
    m = mvar_new(&o, 1);
    assert_non_null(m);
    mvar_free(m);
}

/* CPU time of mvar_update() alone over dim features driven by 4 hidden
 * factors: the snapshots are made beforehand, ROWS of them, fed in turn */
#define ROWS 1000

static double cpu_per_tick(uint32_t dim, size_t ticks)
{
    struct mvar *m = fresh(dim, 7);
    double *x = calloc((size_t)ROWS * dim, sizeof(double)), sink = 0;
    struct timespec a, b;

    assert_non_null(x);
    for (size_t r = 0; r < ROWS; r++) {
        double f[4];

        for (int j = 0; j < 4; j++)
            f[j] = sin((double)r / (50.0 + 37 * j));
        for (uint32_t i = 0; i < dim; i++) {
            double *v = &x[r * dim + i];

            /* the gains are a function of i only: the same relations every row */
            *v = 100 + 0.1 * gauss();
            for (int j = 0; j < 4; j++)
                *v += sin(1.7 * (i + 1) * (j + 1)) * 10 * f[j];
        }
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    for (size_t t = 0; t < ticks; t++)
        sink += mvar_update(m, x + t % ROWS * dim);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    check_score(sink / (double)ticks);
    free(x);
    mvar_free(m);
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 /
           (double)ticks;
}

static void test_cpu(void **state)
{
    (void)state;
    printf("cpu: %.2f us per tick at 40 features, %.2f us at 300 (hidden 8)\n",
           cpu_per_tick(40, 20000), cpu_per_tick(300, 20000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joint_anomaly), cmocka_unit_test(test_usual_relation_quiet),
        cmocka_unit_test(test_warmup_silent), cmocka_unit_test(test_absent_features),
        cmocka_unit_test(test_drift),         cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_options),   cmocka_unit_test(test_cpu),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
