/* The quantile sketch (lib/sketch.h): its accuracy against exact quantiles of
 * 10 M samples per distribution, the bucket-width bound over the whole index
 * range, zero and negative values, clamping, dropped values, merging, and
 * drains racing with two recording threads.
 *
 * ARTHAMON_SKETCH_SAMPLES=N (1000 .. 100000000) sets the samples per
 * distribution (default 10000000; for slow sanitizer builds). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/parse.h"
#include "lib/sketch.h"
#include "common/detrand.h"

#define DEFAULT_SAMPLES 10000000u
#define MS              1e-3 /* samples are in seconds */

/* ---- helpers ---- */

static size_t n_samples(void)
{
    const char *s = getenv("ARTHAMON_SKETCH_SAMPLES");
    uint64_t n;

    if (!s || parse_u64(s, &n) < 0 || n < 1000 || n > 100000000)
        return DEFAULT_SAMPLES;
    return (size_t)n;
}

static struct am_sketch_view *view_new(void)
{
    struct am_sketch_view *v = malloc(sizeof(*v));

    assert_non_null(v);
    am_sketch_view_clear(v);
    return v;
}

/* Rearranges a[0..n) so that a[k] is the k-th smallest (0-based), every
 * element before it no larger and every one after no smaller; returns it.
 * Hoare partition around a median of three: linear on average, and equal
 * keys (the constant distribution) split evenly. */
static double select_kth(double *a, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

    while (hi > lo) {
        double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi], t;
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        ptrdiff_t i = lo, j = hi;

        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break; /* j < k < i: a[k] equals the pivot, in place */
    }
    return a[k];
}

static double rel_err(double est, double exact)
{
    if (exact == 0)
        return est == 0 ? 0 : INFINITY;
    return fabs(est - exact) / fabs(exact);
}

/* The bound plus floating-point slack (the estimate is computed in double). */
#define BOUND (AM_SKETCH_REL_ERR * (1 + 1e-12))

static const double check_qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

/* Records a[0..n) into a fresh sketch and checks count, sum, min, max and
 * every quantile of check_qs against the exact ones (a is reordered).
 * Returns the largest relative error seen; errs[] gets those of p50, p95 and
 * p99. */
static double check_accuracy(const char *name, double *a, size_t n, double errs[3])
{
    struct am_sketch *sk = am_sketch_new();
    struct am_sketch_view *v = view_new();
    double sum = 0, mn = INFINITY, mx = -INFINITY, worst = 0;
    size_t done = 0; /* a[0..done) holds the smallest `done` values, sorted by select */

    assert_non_null(sk);
    for (size_t i = 0; i < n; i++) {
        am_sketch_add(sk, a[i]);
        sum += a[i];
        mn = fmin(mn, a[i]);
        mx = fmax(mx, a[i]);
    }
    am_sketch_snapshot(sk, v);
    assert_int_equal(am_sketch_view_count(v), n);
    assert_int_equal(am_sketch_view_dropped(v), 0);
    assert_true(fabs(am_sketch_view_sum(v) - sum) <= 1e-9 * fabs(sum));
    assert_true(am_sketch_view_min(v) == mn);
    assert_true(am_sketch_view_max(v) == mx);

    printf("  %-10s n=%zu:", name, n);
    for (size_t i = 0; i < sizeof(check_qs) / sizeof(check_qs[0]); i++) {
        double q = check_qs[i];
        size_t k = (size_t)(q * (double)(n - 1)); /* the rank the sketch promises */
        double exact = select_kth(a + done, n - done, k - done);
        double est = am_sketch_quantile(v, q);
        double e = rel_err(est, exact);

        done = k;
        if (q == 0.5 || q == 0.95 || q == 0.99) {
            errs[q == 0.5 ? 0 : q == 0.95 ? 1 : 2] = e;
            printf(" p%g %.6g/%.6g (%.4f %%)", q * 100, est, exact, e * 100);
        }
        if (e > BOUND)
            printf("\n  q=%g: estimate %.17g exact %.17g error %g > %g\n", q, est, exact, e,
                   AM_SKETCH_REL_ERR);
        assert_true(e <= BOUND);
        if (q == 0 || q == 1)
            assert_true(est == exact); /* min and max are kept exactly */
        worst = fmax(worst, e);
    }
    printf("; worst of %zu quantiles %.4f %%\n", sizeof(check_qs) / sizeof(check_qs[0]),
           worst * 100);
    free(v);
    am_sketch_free(sk);
    return worst;
}

/* ---- accuracy, 10 M samples each ---- */

static void test_lognormal(void **state)
{
    size_t n = n_samples();
    double *a = malloc(n * sizeof(*a)), errs[3];

    assert_non_null(a);
    detrand_state = 1;
    for (size_t i = 0; i < n; i++)
        a[i] = exp(gauss()) * MS; /* mu 0, sigma 1, in ms */
    check_accuracy("lognormal", a, n, errs);
    for (int i = 0; i < 3; i++)
        assert_true(errs[i] <= 0.01);
    free(a);
}

static void test_bimodal(void **state)
{
    size_t n = n_samples();
    double *a = malloc(n * sizeof(*a)), errs[3];

    assert_non_null(a);
    detrand_state = 2;
    for (size_t i = 0; i < n; i++) /* 80 % around 0.5 ms, 20 % around 200 ms */
        a[i] = exp(0.4 * gauss()) * (urand() < 0.8 ? 0.5 * MS : 200 * MS);
    check_accuracy("bimodal", a, n, errs);
    for (int i = 0; i < 3; i++)
        assert_true(errs[i] <= 0.01);
    free(a);
}

static void test_constant(void **state)
{
    size_t n = n_samples();
    double *a = malloc(n * sizeof(*a)), errs[3];

    assert_non_null(a);
    for (size_t i = 0; i < n; i++)
        a[i] = 4.2 * MS;
    check_accuracy("constant", a, n, errs);
    for (int i = 0; i < 3; i++)
        assert_true(errs[i] == 0); /* one bucket, min = max: exact */
    free(a);
}

/* ---- the mapping ---- */

/* Every bucket [l, u) of the index range: u / l <= gamma, the harmonic
 * midpoint within the bound of both ends, contiguous, and both ends (u just
 * below) mapped back to it. */
static void test_bucket_width_bound(void **state)
{
    double l, u, prev_u = 0, worst = 1;

    for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++) {
        double est;

        assert_int_equal(am_sketch_bucket_bounds(i, &l, &u), 0);
        assert_true(l > 0 && u > l);
        assert_true(u / l <= AM_SKETCH_GAMMA);
        worst = fmax(worst, u / l);
        est = 2 * l * u / (l + u);
        assert_true(rel_err(est, l) <= BOUND && rel_err(est, u) <= BOUND);
        if (i > 0)
            assert_true(l == prev_u);
        assert_int_equal(am_sketch_bucket_index(l), i);
        assert_int_equal(am_sketch_bucket_index(nextafter(u, 0)), i);
        assert_int_equal(am_sketch_bucket_index(-l), i);
        prev_u = u;
    }
    assert_int_equal(am_sketch_bucket_bounds(AM_SKETCH_BUCKETS, &l, &u), -ERANGE);
    assert_int_equal(am_sketch_bucket_bounds(0, &l, &u), 0);
    assert_true(l == ldexp(1, AM_SKETCH_EXP_MIN));
    assert_int_equal(am_sketch_bucket_bounds(AM_SKETCH_BUCKETS - 1, &l, &u), 0);
    assert_true(u == ldexp(1, AM_SKETCH_EXP_MAX + 1));
    assert_true(u > 1e12 && ldexp(1, AM_SKETCH_EXP_MIN) < 1e-9);
    printf("  %d buckets, widest u/l = %.6f (gamma %.6f): error <= %.5f %% (bound %.2f %%)\n",
           AM_SKETCH_BUCKETS, worst, AM_SKETCH_GAMMA, (worst - 1) / (worst + 1) * 100,
           AM_SKETCH_REL_ERR * 100);
}

/* The index depends on the exponent and the top 12 mantissa bits only: for
 * every such cell of every exponent in range, its smallest and largest double
 * map to the same bucket, whose bounds contain both. With the bucket widths
 * above, that covers every double in range. */
static void test_every_cell_in_its_bucket(void **state)
{
    for (int e = AM_SKETCH_EXP_MIN; e <= AM_SKETCH_EXP_MAX; e++) {
        for (unsigned t = 0; t < 4096; t++) {
            double lo = ldexp(1 + t / 4096.0, e);
            double hi = nextafter(ldexp(1 + (t + 1) / 4096.0, e), 0);
            size_t i = am_sketch_bucket_index(lo);
            double l, u;

            assert_int_equal(am_sketch_bucket_index(hi), i);
            assert_int_equal(am_sketch_bucket_bounds(i, &l, &u), 0);
            assert_true(l <= lo && hi < u);
        }
    }
    /* and random magnitudes, log-uniform over the range */
    detrand_state = 3;
    for (int k = 0; k < 1000000; k++) {
        double x =
            ldexp(1 + urand(),
                  AM_SKETCH_EXP_MIN + (int)(rnd() % (AM_SKETCH_EXP_MAX - AM_SKETCH_EXP_MIN + 1)));
        double l, u;

        assert_int_equal(am_sketch_bucket_bounds(am_sketch_bucket_index(x), &l, &u), 0);
        assert_true(l <= x && x < u);
    }
    /* outside the range: the edge buckets */
    assert_int_equal(am_sketch_bucket_index(1e-12), 0);
    assert_int_equal(am_sketch_bucket_index(5e-324), 0);
    assert_int_equal(am_sketch_bucket_index(1e15), AM_SKETCH_BUCKETS - 1);
    assert_int_equal(am_sketch_bucket_index(-DBL_MAX), AM_SKETCH_BUCKETS - 1);
}

/* ---- zero, negative, clamped, dropped ---- */

static void test_zero_and_negative(void **state)
{
    struct am_sketch *sk = am_sketch_new();
    struct am_sketch_view *v = view_new();
    size_t n = 1000000;
    double *a = malloc(n * sizeof(*a)), sum = 0;
    size_t done = 0;

    assert_non_null(sk);
    assert_non_null(a);
    /* -3 ms, -1 ms, -0.0, 0, 2 ms */
    am_sketch_add(sk, 2 * MS);
    am_sketch_add(sk, -0.0);
    am_sketch_add(sk, -1 * MS);
    am_sketch_add(sk, 0.0);
    am_sketch_add(sk, -3 * MS);
    am_sketch_snapshot(sk, v);
    assert_int_equal(v->count, 5);
    assert_int_equal(v->zero, 2);
    assert_int_equal(v->neg[am_sketch_bucket_index(-1 * MS)], 1);
    assert_int_equal(v->pos[am_sketch_bucket_index(2 * MS)], 1);
    assert_true(am_sketch_quantile(v, 0) == -3 * MS);
    assert_true(rel_err(am_sketch_quantile(v, 0.25), -1 * MS) <= BOUND);
    assert_true(am_sketch_quantile(v, 0.5) == 0);
    assert_true(am_sketch_quantile(v, 0.75) == 0);
    assert_true(am_sketch_quantile(v, 1) == 2 * MS);
    assert_true(fabs(am_sketch_view_sum(v) - (-2 * MS)) < 1e-15);
    am_sketch_free(sk);

    /* a normal distribution around 0 (sd 1 ms): both signs, every quantile */
    sk = am_sketch_new();
    assert_non_null(sk);
    detrand_state = 4;
    for (size_t i = 0; i < n; i++) {
        a[i] = gauss() * MS;
        sum += a[i];
        am_sketch_add(sk, a[i]);
    }
    am_sketch_snapshot(sk, v);
    assert_int_equal(v->count, n);
    assert_true(fabs(v->sum - sum) < 1e-12);
    for (size_t i = 0; i < sizeof(check_qs) / sizeof(check_qs[0]); i++) {
        size_t k = (size_t)(check_qs[i] * (double)(n - 1));
        double exact = select_kth(a + done, n - done, k - done);

        done = k;
        assert_true(rel_err(am_sketch_quantile(v, check_qs[i]), exact) <= BOUND);
    }
    free(a);
    free(v);
    am_sketch_free(sk);
}

static void test_clamped_and_dropped(void **state)
{
    struct am_sketch *sk = am_sketch_new();
    struct am_sketch_view *v = view_new();

    assert_non_null(sk);
    am_sketch_add(sk, NAN);
    am_sketch_add(sk, INFINITY);
    am_sketch_add(sk, -INFINITY);
    am_sketch_add(sk, -NAN);
    am_sketch_add(sk, 1.0);
    am_sketch_snapshot(sk, v);
    assert_int_equal(am_sketch_view_count(v), 1);
    assert_int_equal(am_sketch_view_dropped(v), 4);
    assert_true(am_sketch_view_sum(v) == 1.0);
    assert_true(am_sketch_view_min(v) == 1.0 && am_sketch_view_max(v) == 1.0);
    assert_true(am_sketch_quantile(v, 0.5) == 1.0);

    am_sketch_drain(sk, v); /* the same, and now empty */
    assert_int_equal(am_sketch_view_dropped(v), 4);
    am_sketch_snapshot(sk, v);
    assert_int_equal(am_sketch_view_count(v), 0);
    assert_int_equal(am_sketch_view_dropped(v), 0);
    assert_true(isnan(am_sketch_quantile(v, 0.5)));
    assert_true(isnan(am_sketch_view_min(v)) && isnan(am_sketch_view_max(v)));
    assert_true(am_sketch_view_sum(v) == 0);

    am_sketch_add(sk, 1e-12);
    am_sketch_add(sk, -1e-12);
    am_sketch_add(sk, 5e-324);
    am_sketch_add(sk, 1e15);
    am_sketch_add(sk, -1e20);
    am_sketch_add(sk, 1e-3);
    am_sketch_snapshot(sk, v);
    assert_int_equal(v->count, 6);
    assert_int_equal(v->clamped_low, 3);
    assert_int_equal(v->clamped_high, 2);
    assert_int_equal(v->pos[0], 2);
    assert_int_equal(v->neg[0], 1);
    assert_int_equal(v->pos[AM_SKETCH_BUCKETS - 1], 1);
    assert_int_equal(v->neg[AM_SKETCH_BUCKETS - 1], 1);
    /* the extremes are kept exactly even out of range */
    assert_true(am_sketch_quantile(v, 0) == -1e20);
    assert_true(am_sketch_quantile(v, 1) == 1e15);
    assert_true(rel_err(am_sketch_quantile(v, 0.8), 1e-3) <= BOUND); /* rank 4 of 0..5 */

    /* q outside [0, 1] */
    assert_true(isnan(am_sketch_quantile(v, -0.1)));
    assert_true(isnan(am_sketch_quantile(v, 1.1)));
    assert_true(isnan(am_sketch_quantile(v, NAN)));
    free(v);
    am_sketch_free(sk);
    am_sketch_free(NULL);
}

/* ---- the bucket walk ---- */

struct walk {
    double last_upper;
    uint64_t total, zero_seen, calls;
    int stop_at;
};

static int walk_cb(void *userdata, const struct am_sketch_bucket *b)
{
    struct walk *w = userdata;

    assert_true(b->count > 0);
    assert_true(b->lower <= b->upper);
    assert_true(b->lower >= w->last_upper); /* ascending, not overlapping */
    if (b->lower == 0 && b->upper == 0)
        w->zero_seen++;
    w->last_upper = b->upper;
    w->total += b->count;
    if ((int)++w->calls == w->stop_at)
        return -ECANCELED;
    return 0;
}

static void test_foreach_bucket(void **state)
{
    struct am_sketch *sk = am_sketch_new();
    struct am_sketch_view *v = view_new();
    struct walk w = {.last_upper = -INFINITY, .stop_at = -1};

    assert_non_null(sk);
    detrand_state = 5;
    for (int i = 0; i < 100000; i++)
        am_sketch_add(sk, i % 10 == 0 ? 0 : gauss() * MS);
    am_sketch_snapshot(sk, v);
    assert_int_equal(am_sketch_foreach_bucket(v, walk_cb, &w), 0);
    assert_int_equal(w.total, v->count);
    assert_int_equal(w.zero_seen, 1);

    w = (struct walk){.last_upper = -INFINITY, .stop_at = 3};
    assert_int_equal(am_sketch_foreach_bucket(v, walk_cb, &w), -ECANCELED);
    assert_int_equal(w.calls, 3);
    free(v);
    am_sketch_free(sk);
}

/* ---- merge ---- */

static void assert_views_equal(const struct am_sketch_view *a, const struct am_sketch_view *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->zero, b->zero);
    assert_int_equal(a->dropped, b->dropped);
    assert_int_equal(a->clamped_low, b->clamped_low);
    assert_int_equal(a->clamped_high, b->clamped_high);
    assert_memory_equal(a->pos, b->pos, sizeof(a->pos));
    assert_memory_equal(a->neg, b->neg, sizeof(a->neg));
    assert_true(a->min == b->min && a->max == b->max);
    assert_true(fabs(a->sum - b->sum) <= 1e-9 * fmax(fabs(a->sum), 1e-300));
}

static void test_merge(void **state)
{
    struct am_sketch *one = am_sketch_new(), *two = am_sketch_new(), *all = am_sketch_new();
    struct am_sketch_view *a = view_new(), *b = view_new(), *m = view_new(), *c = view_new();

    assert_non_null(one);
    assert_non_null(two);
    assert_non_null(all);
    detrand_state = 6;
    for (int i = 0; i < 1000000; i++) {
        double x = exp(gauss()) * MS;

        am_sketch_add(one, x);
        am_sketch_add(all, x);
    }
    for (int i = 0; i < 1000000; i++) {
        double x = i % 7 == 0     ? 0
                   : i % 5 == 0   ? -exp(gauss()) * 200 * MS
                   : i % 999 == 0 ? NAN
                                  : exp(0.4 * gauss()) * 0.5 * MS;

        am_sketch_add(two, x);
        am_sketch_add(all, x);
    }
    am_sketch_add(two, 1e15); /* clamped */
    am_sketch_add(all, 1e15);
    am_sketch_snapshot(one, a);
    am_sketch_snapshot(two, b);
    am_sketch_snapshot(all, c);
    assert_int_equal(am_sketch_merge(m, a), 0);
    assert_int_equal(am_sketch_merge(m, b), 0);
    assert_views_equal(m, c);
    for (size_t i = 0; i < sizeof(check_qs) / sizeof(check_qs[0]); i++)
        assert_true(am_sketch_quantile(m, check_qs[i]) == am_sketch_quantile(c, check_qs[i]));

    /* merging into itself doubles every count */
    assert_int_equal(am_sketch_merge(a, a), 0);
    assert_int_equal(a->count, 2000000);
    free(a);
    free(b);
    free(m);
    free(c);
    am_sketch_free(one);
    am_sketch_free(two);
    am_sketch_free(all);
}

/* ---- drains racing with two recording threads ---- */

#define PATTERN       4096
#define MIN_PER_THR   200000
#define MIN_NONEMPTY  10
#define PROGRESS_STEP 4096

struct recorder {
    pthread_t tid;
    struct am_sketch *sk;
    const double *pattern;
    size_t start;
    _Atomic uint64_t progress; /* recorded so far, published every PROGRESS_STEP */
    atomic_bool *go, *stop;
    atomic_int *started;
    uint64_t recorded;
};

static void *record_main(void *arg)
{
    struct recorder *r = arg;
    uint64_t k = 0;

    atomic_fetch_add(r->started, 1);
    while (!atomic_load(r->go))
        ;
    while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
        for (int i = 0; i < PROGRESS_STEP; i++, k++)
            am_sketch_add(r->sk, r->pattern[(r->start + k) % PATTERN]);
        atomic_store_explicit(&r->progress, k, memory_order_relaxed);
    }
    r->recorded = k;
    return NULL;
}

static void test_drain_while_recording(void **state)
{
    struct am_sketch *sk = am_sketch_new(), *ref = am_sketch_new();
    struct am_sketch_view *v = view_new(), *total = view_new(), *want = view_new();
    static double pattern[PATTERN];
    struct recorder rec[2];
    atomic_bool go = false, stop = false;
    atomic_int started = 0;
    unsigned drains = 0, nonempty = 0;
    uint64_t recorded = 0, dropped = 0;

    assert_non_null(sk);
    assert_non_null(ref);
    detrand_state = 7;
    for (int i = 0; i < PATTERN; i++) {
        switch (i % 16) {
        case 0:
            pattern[i] = 0;
            break;
        case 1:
            pattern[i] = -exp(gauss()) * MS;
            break;
        case 2:
            pattern[i] = i % 32 == 2 ? NAN : 1e15; /* dropped, clamped */
            break;
        case 3:
            pattern[i] = i % 32 == 3 ? 1e-13 : exp(0.4 * gauss()) * 200 * MS;
            break;
        default:
            pattern[i] = exp(gauss()) * MS;
        }
    }
    for (int t = 0; t < 2; t++) {
        rec[t] = (struct recorder){.sk = sk,
                                   .pattern = pattern,
                                   .start = (size_t)t * 1000,
                                   .go = &go,
                                   .stop = &stop,
                                   .started = &started};
        atomic_init(&rec[t].progress, 0);
        assert_int_equal(pthread_create(&rec[t].tid, NULL, record_main, &rec[t]), 0);
    }
    while (atomic_load(&started) < 2)
        ;
    atomic_store(&go, true);
    /* drain while both record, a pause between drains as a sampler's tick
     * (so that on a machine of few cores the recorders get to run): until
     * MIN_NONEMPTY drains found something and each thread recorded
     * MIN_PER_THR values */
    while (nonempty < MIN_NONEMPTY ||
           atomic_load_explicit(&rec[0].progress, memory_order_relaxed) < MIN_PER_THR ||
           atomic_load_explicit(&rec[1].progress, memory_order_relaxed) < MIN_PER_THR) {
        struct timespec pause = {.tv_nsec = 200000};

        nanosleep(&pause, NULL);
        am_sketch_drain(sk, v);
        drains++;
        nonempty += v->count > 0;
        assert_int_equal(am_sketch_merge(total, v), 0);
    }
    atomic_store(&stop, true);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(rec[t].tid, NULL), 0);
    am_sketch_drain(sk, v);
    assert_int_equal(am_sketch_merge(total, v), 0);
    am_sketch_snapshot(sk, v); /* nothing left behind */
    assert_int_equal(v->count + v->dropped, 0);

    /* what the two threads recorded, replayed into one sketch by one thread */
    for (int t = 0; t < 2; t++) {
        for (uint64_t k = 0; k < rec[t].recorded; k++) {
            double x = pattern[(rec[t].start + k) % PATTERN];

            dropped += isnan(x);
            am_sketch_add(ref, x);
        }
        recorded += rec[t].recorded;
    }
    am_sketch_snapshot(ref, want);
    printf("  2 threads recorded %llu values (%llu dropped) during %u drains (%u non-empty)\n",
           (unsigned long long)recorded, (unsigned long long)dropped, drains, nonempty);
    assert_int_equal(total->count + total->dropped, recorded);
    assert_int_equal(total->dropped, dropped);
    assert_views_equal(total, want);
    free(v);
    free(total);
    free(want);
    am_sketch_free(sk);
    am_sketch_free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_width_bound),
        cmocka_unit_test(test_every_cell_in_its_bucket),
        cmocka_unit_test(test_zero_and_negative),
        cmocka_unit_test(test_clamped_and_dropped),
        cmocka_unit_test(test_foreach_bucket),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_drain_while_recording),
        cmocka_unit_test(test_lognormal),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_constant),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
