/*
 * The quantile sketch of sketch.h.
 *
 * Mapping. A positive double is 2^e * (1 + f), f in [0, 1). Its bucket is
 * (e - AM_SKETCH_EXP_MIN) * K + sub_of_cell[top 12 bits of f] (K =
 * AM_SKETCH_SUBBUCKETS = 64): no log() per value, one table lookup. The
 * table is built once: the 4096 cells of [1, 2) (cell t = [1 + t/4096,
 * 1 + (t+1)/4096)) are grouped into K runs, run j starting at the cell edge
 * nearest to 2^(j/K). Every bucket is therefore an exact union of cells,
 * [1 + edge[j]/4096, 1 + edge[j+1]/4096) scaled by 2^e, and every double
 * whose top 12 mantissa bits are t lies in cell t: the index depends on the
 * exponent and those bits only, and the bucket bounds are exactly
 * representable doubles. Rounding moves each edge by at most half a cell
 * (2^-13), so u / l <= (2^(1/K) + 2^-13) / (1 - 2^-13) = 1.01114: the widest
 * bucket is j = 9, [4515, 4565) / 4096, u / l = 1.01107, a = (u - l) /
 * (u + l) = 0.00551 <= AM_SKETCH_REL_ERR. test_sketch checks u / l <=
 * AM_SKETCH_GAMMA for every bucket of the whole index range, and that every
 * cell of every exponent maps into the bucket whose bounds contain it.
 *
 * Recording. Each shard is a block of relaxed atomic counters, 64-byte
 * aligned: the figures (sum, min, max as double bits; zero, dropped, clamped
 * counts) on their own cache line, then the positive and the negative
 * buckets. A thread takes shard (n mod AM_SKETCH_SHARDS) on its first add,
 * n counting the threads that ever recorded (a thread-local number, the same
 * for every sketch), so up to AM_SKETCH_SHARDS threads record without
 * sharing a line; more share shards, still correct. An add in range costs
 * one atomic increment of its bucket, a compare-and-swap loop on the shard's
 * sum (an atomic double: uncontended, it succeeds first time) and two loads
 * for min and max (a CAS only when it extends them). The total count is not
 * kept: a view's count is the sum of its buckets and zero count.
 *
 * Reading. A snapshot loads every counter; a drain loads every counter and
 * exchanges the nonzero ones with 0 (a counter read as 0 is left alone: an
 * increment that lands after the load is taken by the next drain), so that
 * each increment is taken by exactly one drain.
 */
#include "sketch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CELL_BITS   12 /* top mantissa bits looked up */
#define CELLS       (1u << CELL_BITS)
#define MANT_BITS   52
#define EXP_BIAS    1023
#define BEXP_MIN    (EXP_BIAS + AM_SKETCH_EXP_MIN) /* biased exponents counted as is */
#define BEXP_SPAN   (AM_SKETCH_EXP_MAX - AM_SKETCH_EXP_MIN)
#define BEXP_NONFIN 0x7ffu
#define CACHE_LINE  64

_Static_assert(AM_SKETCH_SUBBUCKETS <= 256, "sub-bucket numbers are kept in uint8_t");
_Static_assert(AM_SKETCH_SUBBUCKETS * 16 <= CELLS, "too few cells per bucket for the bound");
_Static_assert(AM_SKETCH_EXP_MIN > -1022 && AM_SKETCH_EXP_MAX < 1023, "normal exponents only");
/* the shards are zeroed by calloc(): lock-free atomic integers have the
 * representation of the plain ones, so all-zero bits are a 0 counter */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

struct shard {
    _Alignas(CACHE_LINE) _Atomic uint64_t sum; /* bits of a double */
    _Atomic uint64_t min;                      /* bits of a double, +inf when none */
    _Atomic uint64_t max;                      /* bits of a double, -inf when none */
    _Atomic uint64_t zero;
    _Atomic uint64_t dropped;
    _Atomic uint64_t clamped_low;
    _Atomic uint64_t clamped_high;
    _Alignas(CACHE_LINE) _Atomic uint64_t pos[AM_SKETCH_BUCKETS];
    _Atomic uint64_t neg[AM_SKETCH_BUCKETS];
};

struct am_sketch {
    struct shard *shards; /* AM_SKETCH_SHARDS of them, inside mem */
    void *mem;
};

/* sub_of_cell[t]: the sub-bucket (0..K-1) of cell t; edge[j]: the first cell
 * of sub-bucket j (edge[K] = CELLS). Written once under tables_once, before
 * the first sketch exists; read-only afterwards. */
static uint8_t sub_of_cell[CELLS];
static uint16_t edge[AM_SKETCH_SUBBUCKETS + 1];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* 1 + the shard of this thread; 0 until its first add */
static _Thread_local unsigned thread_shard;
static atomic_uint threads_seen;

static void build_tables(void)
{
    for (unsigned j = 0; j <= AM_SKETCH_SUBBUCKETS; j++)
        edge[j] = (uint16_t)(lround(exp2((double)j / AM_SKETCH_SUBBUCKETS) * CELLS) - CELLS);
    for (unsigned j = 0; j < AM_SKETCH_SUBBUCKETS; j++)
        for (unsigned t = edge[j]; t < edge[j + 1]; t++)
            sub_of_cell[t] = (uint8_t)j;
}

static void tables_init(void)
{
    pthread_once(&tables_once, build_tables);
}

static inline uint64_t bits_of(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static inline double double_of(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

/* The bucket of a finite magnitude whose biased exponent is in range. */
static inline size_t index_in_range(uint64_t b, unsigned bexp)
{
    return (size_t)(bexp - BEXP_MIN) * AM_SKETCH_SUBBUCKETS +
           sub_of_cell[(b >> (MANT_BITS - CELL_BITS)) & (CELLS - 1)];
}

static inline unsigned my_shard(void)
{
    unsigned s = thread_shard;

    if (__builtin_expect(s == 0, 0)) {
        s = atomic_fetch_add_explicit(&threads_seen, 1, memory_order_relaxed) % AM_SKETCH_SHARDS +
            1;
        thread_shard = s;
    }
    return s - 1;
}

static inline void inc(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

struct am_sketch *am_sketch_new(void)
{
    struct am_sketch *sk;

    tables_init();
    sk = calloc(1, sizeof(*sk));
    if (!sk)
        return NULL;
    /* calloc: large blocks come zeroed from the kernel, resident only once
     * touched; aligned by hand so that no shard shares a line */
    sk->mem = calloc(1, sizeof(struct shard) * AM_SKETCH_SHARDS + CACHE_LINE);
    if (!sk->mem) {
        free(sk);
        return NULL;
    }
    sk->shards =
        (struct shard *)(((uintptr_t)sk->mem + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
    for (unsigned i = 0; i < AM_SKETCH_SHARDS; i++) {
        atomic_init(&sk->shards[i].min, bits_of(INFINITY));
        atomic_init(&sk->shards[i].max, bits_of(-INFINITY));
    }
    return sk;
}

void am_sketch_free(struct am_sketch *sk)
{
    if (!sk)
        return;
    free(sk->mem);
    free(sk);
}

/* The uncommon values: zero, NaN/inf, magnitudes outside the range. Returns
 * false when v is not to be recorded further (dropped). */
static bool add_rare(struct shard *sh, uint64_t b, unsigned bexp)
{
    _Atomic uint64_t *counts = (b >> 63) ? sh->neg : sh->pos;

    if (bexp == BEXP_NONFIN) {
        inc(&sh->dropped);
        return false;
    }
    if ((b << 1) == 0) { /* +0.0 and -0.0 */
        inc(&sh->zero);
    } else if (bexp < BEXP_MIN) {
        inc(&sh->clamped_low);
        inc(&counts[0]);
    } else {
        inc(&sh->clamped_high);
        inc(&counts[AM_SKETCH_BUCKETS - 1]);
    }
    return true;
}

void am_sketch_add(struct am_sketch *sk, double v)
{
    struct shard *sh = &sk->shards[my_shard()];
    uint64_t b = bits_of(v);
    unsigned bexp = (unsigned)(b >> MANT_BITS) & BEXP_NONFIN;
    uint64_t cur;

    /* one unsigned comparison: exponent in [EXP_MIN, EXP_MAX] */
    if (__builtin_expect(bexp - BEXP_MIN <= BEXP_SPAN, 1))
        inc(&((b >> 63) ? sh->neg : sh->pos)[index_in_range(b, bexp)]);
    else if (!add_rare(sh, b, bexp))
        return;

    cur = atomic_load_explicit(&sh->sum, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&sh->sum, &cur, bits_of(double_of(cur) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    cur = atomic_load_explicit(&sh->min, memory_order_relaxed);
    while (v < double_of(cur) && !atomic_compare_exchange_weak_explicit(
                                     &sh->min, &cur, b, memory_order_relaxed, memory_order_relaxed))
        ;
    cur = atomic_load_explicit(&sh->max, memory_order_relaxed);
    while (v > double_of(cur) && !atomic_compare_exchange_weak_explicit(
                                     &sh->max, &cur, b, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* A counter's value; with reset, taken out of it (0 or `empty` left). */
static uint64_t take(_Atomic uint64_t *c, bool reset, uint64_t empty)
{
    uint64_t n = atomic_load_explicit(c, memory_order_relaxed);

    if (reset && n != empty)
        n = atomic_exchange_explicit(c, empty, memory_order_relaxed);
    return n;
}

static void collect(struct am_sketch *sk, struct am_sketch_view *view, bool reset)
{
    const uint64_t pinf = bits_of(INFINITY), ninf = bits_of(-INFINITY);
    uint64_t count = 0;

    am_sketch_view_clear(view);
    for (unsigned s = 0; s < AM_SKETCH_SHARDS; s++) {
        struct shard *sh = &sk->shards[s];

        for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++) {
            view->pos[i] += take(&sh->pos[i], reset, 0);
            view->neg[i] += take(&sh->neg[i], reset, 0);
        }
        view->zero += take(&sh->zero, reset, 0);
        view->dropped += take(&sh->dropped, reset, 0);
        view->clamped_low += take(&sh->clamped_low, reset, 0);
        view->clamped_high += take(&sh->clamped_high, reset, 0);
        view->sum += double_of(take(&sh->sum, reset, 0)); /* 0 bits: 0.0 */
        view->min = fmin(view->min, double_of(take(&sh->min, reset, pinf)));
        view->max = fmax(view->max, double_of(take(&sh->max, reset, ninf)));
    }
    for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++)
        count += view->pos[i] + view->neg[i];
    view->count = count + view->zero;
}

void am_sketch_snapshot(const struct am_sketch *sk, struct am_sketch_view *ret_view)
{
    /* without reset, collect() only loads: the cast does not lead to a write */
    collect((struct am_sketch *)sk, ret_view, false);
}

void am_sketch_drain(struct am_sketch *sk, struct am_sketch_view *ret_view)
{
    collect(sk, ret_view, true);
}

void am_sketch_view_clear(struct am_sketch_view *view)
{
    memset(view, 0, sizeof(*view));
    view->min = INFINITY;
    view->max = -INFINITY;
}

int am_sketch_merge(struct am_sketch_view *dst, const struct am_sketch_view *src)
{
    for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++) {
        dst->pos[i] += src->pos[i];
        dst->neg[i] += src->neg[i];
    }
    dst->count += src->count;
    dst->zero += src->zero;
    dst->dropped += src->dropped;
    dst->clamped_low += src->clamped_low;
    dst->clamped_high += src->clamped_high;
    dst->sum += src->sum;
    dst->min = fmin(dst->min, src->min);
    dst->max = fmax(dst->max, src->max);
    return 0;
}

size_t am_sketch_bucket_index(double v)
{
    uint64_t b = bits_of(v);
    unsigned bexp = (unsigned)(b >> MANT_BITS) & BEXP_NONFIN;

    tables_init();
    if (bexp - BEXP_MIN <= BEXP_SPAN)
        return index_in_range(b, bexp);
    if (bexp == BEXP_NONFIN || bexp < BEXP_MIN)
        return 0;
    return AM_SKETCH_BUCKETS - 1;
}

int am_sketch_bucket_bounds(size_t index, double *ret_lower, double *ret_upper)
{
    int e;
    size_t j;

    if (index >= AM_SKETCH_BUCKETS)
        return -ERANGE;
    tables_init();
    e = (int)(index / AM_SKETCH_SUBBUCKETS) + AM_SKETCH_EXP_MIN;
    j = index % AM_SKETCH_SUBBUCKETS;
    *ret_lower = ldexp(1.0 + (double)edge[j] / CELLS, e);
    *ret_upper = ldexp(1.0 + (double)edge[j + 1] / CELLS, e);
    return 0;
}

/* The signed values bucket i of one sign may hold: [lo, hi] (the edge
 * buckets reach to 0 and to infinity: they hold the clamped values). */
static void value_range(size_t i, bool neg, double *lo, double *hi)
{
    double l, u;

    am_sketch_bucket_bounds(i, &l, &u);
    if (i == 0)
        l = 0;
    if (i == AM_SKETCH_BUCKETS - 1)
        u = INFINITY;
    *lo = neg ? -u : l;
    *hi = neg ? -l : u;
}

/* The estimate of bucket i for the observation of rank r (of n). */
static double estimate(const struct am_sketch_view *view, size_t i, bool neg, uint64_t r)
{
    double l, u, lo, hi, est;
    bool min_in, max_in;

    am_sketch_bucket_bounds(i, &l, &u);
    est = 2 * l * u / (l + u); /* harmonic midpoint: within a of all of [l, u] */
    if (neg)
        est = -est;
    /* min and max are exact observations when they lie in this bucket (a
     * drain racing with an add may have left them to another interval):
     * pulling the estimate toward them only brings it closer */
    value_range(i, neg, &lo, &hi);
    min_in = view->min >= lo && view->min <= hi;
    max_in = view->max >= lo && view->max <= hi;
    if (r == 0 && min_in)
        return view->min;
    if (r == view->count - 1 && max_in)
        return view->max;
    if (est > view->max && max_in)
        return view->max;
    if (est < view->min && min_in)
        return view->min;
    return est;
}

double am_sketch_quantile(const struct am_sketch_view *view, double q)
{
    uint64_t r, cum = 0;

    if (!(q >= 0 && q <= 1) || view->count == 0)
        return NAN;
    r = (uint64_t)(q * (double)(view->count - 1)); /* floor: q * (n - 1) >= 0 */
    /* the observation of rank r is in the first bucket where cum > r */
    for (size_t i = AM_SKETCH_BUCKETS; i-- > 0;) {
        cum += view->neg[i];
        if (cum > r)
            return estimate(view, i, true, r);
    }
    cum += view->zero;
    if (cum > r)
        return 0.0;
    for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++) {
        cum += view->pos[i];
        if (cum > r)
            return estimate(view, i, false, r);
    }
    return NAN; /* count larger than the buckets: not a view this file made */
}

uint64_t am_sketch_view_count(const struct am_sketch_view *view)
{
    return view->count;
}

double am_sketch_view_sum(const struct am_sketch_view *view)
{
    return view->sum;
}

double am_sketch_view_min(const struct am_sketch_view *view)
{
    return view->count && view->min <= view->max ? view->min : NAN;
}

double am_sketch_view_max(const struct am_sketch_view *view)
{
    return view->count && view->min <= view->max ? view->max : NAN;
}

uint64_t am_sketch_view_dropped(const struct am_sketch_view *view)
{
    return view->dropped;
}

int am_sketch_foreach_bucket(const struct am_sketch_view *view, am_sketch_bucket_fn fn,
                             void *userdata)
{
    struct am_sketch_bucket bk;
    double l, u;
    int ret;

    for (size_t i = AM_SKETCH_BUCKETS; i-- > 0;) {
        if (!view->neg[i])
            continue;
        am_sketch_bucket_bounds(i, &l, &u);
        bk = (struct am_sketch_bucket){.lower = -u, .upper = -l, .count = view->neg[i]};
        ret = fn(userdata, &bk);
        if (ret)
            return ret;
    }
    if (view->zero) {
        bk = (struct am_sketch_bucket){.lower = 0, .upper = 0, .count = view->zero};
        ret = fn(userdata, &bk);
        if (ret)
            return ret;
    }
    for (size_t i = 0; i < AM_SKETCH_BUCKETS; i++) {
        if (!view->pos[i])
            continue;
        am_sketch_bucket_bounds(i, &l, &u);
        bk = (struct am_sketch_bucket){.lower = l, .upper = u, .count = view->pos[i]};
        ret = fn(userdata, &bk);
        if (ret)
            return ret;
    }
    return 0;
}
