/* The block codec: lossless round trips of every encoding, the sizes it
 * promises on typical series, and corrupted or truncated blocks. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/codec.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void) /* splitmix64: deterministic */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double urand(void) /* [0, 1) */
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
    double u = urand() + 1e-12, v = urand();

    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static double round_dec(double v, int d)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

    return round(v * p10[d]) / p10[d];
}

static bool same_bits(double a, double b)
{
    return isnan(a) ? isnan(b) : memcmp(&a, &b, sizeof(a)) == 0;
}

static int64_t *regular_ts(size_t n, int64_t start, int64_t step)
{
    int64_t *ts = malloc(n * sizeof(*ts));

    assert_non_null(ts);
    for (size_t i = 0; i < n; i++)
        ts[i] = start + (int64_t)i * step;
    return ts;
}

struct walk {
    const struct blk_column *cols;
    size_t n_cols, n_rows, seen;
    int stop_at; /* return an error at this column (-1: never) */
};

static int walk_cb(void *ctx, uint32_t series_id, const double *values, size_t n_rows)
{
    struct walk *w = ctx;

    assert_true(w->seen < w->n_cols);
    assert_int_equal(series_id, w->cols[w->seen].series_id);
    assert_int_equal(n_rows, w->n_rows);
    for (size_t i = 0; i < n_rows; i++)
        assert_true(same_bits(values[i], w->cols[w->seen].values[i]));
    if ((int)w->seen++ == w->stop_at)
        return -ECANCELED;
    return 0;
}

/* Encodes, checks every way of reading the block back bit for bit, and
 * returns the block's size. */
static size_t roundtrip(const int64_t *ts, size_t n_rows, const struct blk_column *cols,
                        size_t n_cols)
{
    struct bytebuf out = {0};
    struct blk_info info;
    int64_t *dts = malloc(n_rows * sizeof(*dts));
    double *v = malloc(n_rows * sizeof(*v));
    struct walk w = {.cols = cols, .n_cols = n_cols, .n_rows = n_rows, .stop_at = -1};
    size_t len;

    assert_non_null(dts);
    assert_non_null(v);
    assert_int_equal(blk_encode(ts, n_rows, cols, n_cols, &out), 0);
    len = out.len;
    assert_int_equal(blk_info(out.buf, len, &info), 0);
    assert_int_equal(info.n_rows, n_rows);
    assert_int_equal(info.n_cols, n_cols);
    assert_true(info.first_ts == ts[0]);
    assert_true(info.last_ts == ts[n_rows - 1]);
    assert_int_equal(blk_decode_ts(out.buf, len, dts), 0);
    assert_memory_equal(dts, ts, n_rows * sizeof(*ts));
    for (size_t c = 0; c < n_cols; c++) {
        assert_int_equal(blk_decode_series(out.buf, len, cols[c].series_id, v), 1);
        for (size_t i = 0; i < n_rows; i++)
            if (!same_bits(v[i], cols[c].values[i]))
                fail_msg("column %zu row %zu: %.17g decoded as %.17g", c, i, cols[c].values[i],
                         v[i]);
    }
    assert_int_equal(blk_decode_all(out.buf, len, walk_cb, &w), 0);
    assert_int_equal(w.seen, n_cols);
    bytebuf_done(&out);
    free(dts);
    free(v);
    return len;
}

/* Bytes one column costs in a block: the block with it minus the block without. */
static size_t column_cost(const int64_t *ts, size_t n_rows, const double *values, int decimals)
{
    struct blk_column col = {.series_id = 7, .decimals = decimals, .values = values};

    return roundtrip(ts, n_rows, &col, 1) - roundtrip(ts, n_rows, NULL, 0);
}

/* ---- round trips ---- */

static void counters(void **state)
{
    enum { N = 1000 };
    int64_t *ts = regular_ts(N, 1704067200000, 5000);
    double *c0 = malloc(N * sizeof(double)), *c2 = malloc(N * sizeof(double));
    double *big = malloc(N * sizeof(double));
    uint64_t t0 = 123456789, t2 = 5000000;

    (void)state;
    for (size_t i = 0; i < N; i++) {
        t0 += rnd() % 100000;    /* bytes */
        t2 += 400 + rnd() % 100; /* ticks: seconds with 2 decimals */
        c0[i] = (double)t0;
        c2[i] = round_dec((double)t2 / 100, 2);
        big[i] = (double)(((uint64_t)1 << 52) + i * 3); /* exact, large */
    }
    for (int hint = -1; hint <= 2; hint += 3) {
        struct blk_column cols[] = {{1, hint, c0}, {2, hint, c2}, {3, hint, big}};
        roundtrip(ts, N, cols, 3);
        /* a counter of bytes costs about its increments' bits, not XOR's */
        assert_true(column_cost(ts, N, c0, hint) < N * 3);
        assert_true(column_cost(ts, N, c2, hint) < N * 1);
        assert_true(column_cost(ts, N, big, hint) < 40); /* a straight line */
    }
    free(ts);
    free(c0);
    free(c2);
    free(big);
}

static void scaled_gauges(void **state)
{
    enum { N = 700 };
    int64_t *ts = regular_ts(N, 0, 1000);
    double *v = malloc(N * sizeof(double));

    (void)state;
    for (int d = 0; d <= 9; d++) {
        for (size_t i = 0; i < N; i++)
            v[i] = round_dec(50 + gauss() * 1000 / pow(10, d), d); /* ~1000 units of noise */
        /* with the right hint, an unknown one, and a wrong (too small) one */
        size_t known = column_cost(ts, N, v, d), unknown = column_cost(ts, N, v, -1);
        size_t wrong = column_cost(ts, N, v, d > 0 ? d - 1 : 0);
        /* ~12 bits a value; XOR of such doubles costs 5 bytes or more */
        assert_true(known < N * 2);
        assert_true(unknown < N * 2);
        assert_true(wrong < N * 2);
    }
    /* negative values, a gauge crossing zero */
    for (size_t i = 0; i < N; i++)
        v[i] = round_dec(sin((double)i / 50) * 20, 3);
    assert_true(column_cost(ts, N, v, 3) < N * 2);
    /* memory in bytes: multiples of 4096 cost their pages' bits */
    for (size_t i = 0; i < N; i++)
        v[i] = 4096.0 * (double)(1000000 + (int)(gauss() * 8));
    assert_true(column_cost(ts, N, v, 0) < N * 1);
    free(ts);
    free(v);
}

static void xor_fallback(void **state)
{
    enum { N = 500 };
    int64_t *ts = regular_ts(N, 0, 1000);
    double *r = malloc(N * sizeof(double)), *sp = malloc(N * sizeof(double));
    double *mix = malloc(N * sizeof(double));

    (void)state;
    for (size_t i = 0; i < N; i++) {
        r[i] = urand() * 1000;                    /* not decimal */
        sp[i] = i % 7 ? (double)i / 3 : INFINITY; /* thirds and infinities */
        mix[i] = (double)i;
    }
    mix[10] = -INFINITY;
    mix[11] = INFINITY;
    mix[12] = DBL_MAX;
    mix[13] = -DBL_MIN;
    mix[14] = 4.9e-324; /* denormal */
    mix[15] = 1e300;
    mix[16] = 9.3e18; /* past int64 */
    mix[17] = -9.3e18;
    mix[18] = 4.6e18; /* the scaled-integer limit */
    {
        struct blk_column cols[] = {{1, -1, r}, {2, -1, sp}, {3, 0, mix}, {4, 5, r}};
        roundtrip(ts, N, cols, 4);
    }
    /* the fallback stays near 8 bytes a value */
    assert_true(column_cost(ts, N, r, -1) < N * 9);
    /* integers over the whole int64 range: 63- and 64-bit frames */
    for (size_t i = 0; i < N; i++)
        mix[i] = (double)((int64_t)(rnd() >> 1) - ((int64_t)1 << 62)) * (i % 3 ? 1 : 1.5);
    {
        struct blk_column col = {1, 0, mix};
        roundtrip(ts, N, &col, 1);
    }
    /* large but exact integers stay scaled: 2^62 and around it */
    for (size_t i = 0; i < N; i++)
        mix[i] = ldexp(1, 62) - 1024.0 * (double)(i % 5);
    assert_true(column_cost(ts, N, mix, -1) < N);
    free(ts);
    free(r);
    free(sp);
    free(mix);
}

static void constants(void **state)
{
    enum { N = 1000 };
    int64_t *ts = regular_ts(N, 1704067200000, 5000);
    double *v = malloc(N * sizeof(double));
    const double consts[] = {0, -0.0, 1, 4096, 1704000000, 3.14159, -2.5e-7, INFINITY, 1e300};

    (void)state;
    for (size_t c = 0; c < sizeof(consts) / sizeof(consts[0]); c++) {
        for (size_t i = 0; i < N; i++)
            v[i] = consts[c];
        assert_true(column_cost(ts, N, v, -1) < 16);
    }
    free(ts);
    free(v);
}

static void negative_zero(void **state)
{
    enum { N = 600 };
    int64_t *ts = regular_ts(N, 0, 5000);
    double *v = malloc(N * sizeof(double));

    (void)state;
    /* what rounding a small negative figure gives: -0.0 among decimals */
    for (size_t i = 0; i < N; i++)
        v[i] = round_dec(gauss() * 0.01, 2);
    v[0] = -0.0;
    v[N - 1] = -0.0;
    {
        struct blk_column col = {1, 2, v};
        roundtrip(ts, N, &col, 1);
    }
    assert_true(column_cost(ts, N, v, 2) < N); /* stays scaled, not XOR */
    for (size_t i = 0; i < N; i++)
        v[i] = i % 2 ? -0.0 : 0.0;
    assert_true(column_cost(ts, N, v, -1) < N);
    free(ts);
    free(v);
}

/* Which rows of n a pattern of absence keeps. */
static bool present(int pattern, size_t i, size_t n)
{
    /* every other, runs of 100, 10% absent, the first absent, the last
     * absent, one present, none, present in one stretch, at random */
    const bool keep[] = {i % 2,     (i / 100) % 2, rnd() % 10 != 0, i > 0,
                         i < n - 1, i == 300,      false,           i >= 128 && i < 640};

    return pattern < (int)(sizeof(keep) / sizeof(keep[0])) ? keep[pattern] : rnd() % 2;
}

/* Row i of a column of one kind: constant, scaled decimals, XOR, a line. */
static double cell(int kind, size_t i)
{
    const double v[] = {42.5, round_dec(urand() * 100, 2), urand(), (double)(i * 100)};

    return v[kind % 4];
}

static void absent_cells(void **state)
{
    enum { N = 777, PATTERNS = 9, KINDS = 4 };
    int64_t *ts = regular_ts(N, 1000, 1000);
    double *v = malloc((size_t)PATTERNS * KINDS * N * sizeof(double));
    struct blk_column cols[PATTERNS * KINDS];

    (void)state;
    for (int p = 0; p < PATTERNS; p++) {
        for (int k = 0; k < KINDS; k++) {
            double *c = v + ((size_t)p * KINDS + (size_t)k) * N;
            for (size_t i = 0; i < N; i++) {
                c[i] = cell(k, i);
                if (!present(p, i, N))
                    c[i] = NAN;
            }
            cols[p * KINDS + k] = (struct blk_column){(uint32_t)(p * KINDS + k) * 1000 + 1, -1, c};
        }
    }
    roundtrip(ts, N, cols, PATTERNS * KINDS);
    /* an absent column costs its header only; a column present in one run
     * costs a few bytes of presence */
    assert_true(column_cost(ts, N, cols[6 * KINDS + 1].values, -1) < 8);
    assert_true(column_cost(ts, N, cols[7 * KINDS].values, -1) < 24);
    free(ts);
    free(v);
}

static void row_counts(void **state)
{
    int64_t ts1 = -5;
    double one = 1.25, nan = NAN;
    int64_t *ts = regular_ts(BLK_MAX_ROWS, 1704067200000, 1000);
    double *v = malloc(BLK_MAX_ROWS * sizeof(double)), *w = malloc(BLK_MAX_ROWS * sizeof(double));
    struct bytebuf out = {0};

    (void)state;
    {
        struct blk_column cols[] = {{1, -1, &one}, {2, -1, &nan}};
        roundtrip(&ts1, 1, cols, 2);
    }
    for (size_t i = 0; i < BLK_MAX_ROWS; i++) {
        v[i] = round_dec(urand() * 100, 1);
        w[i] = i % 3 ? (double)(i * i) : NAN;
    }
    {
        struct blk_column cols[] = {{1, 1, v}, {2, -1, w}};
        roundtrip(ts, BLK_MAX_ROWS, cols, 2);
        assert_int_equal(blk_encode(ts, BLK_MAX_ROWS + 1, cols, 2, &out), -EINVAL);
    }
    free(ts);
    free(v);
    free(w);
}

static void timestamps(void **state)
{
    enum { N = 1000 };
    int64_t *ts = regular_ts(N, 1704067200000, 5000);
    int64_t ext[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
    double v[N];

    (void)state;
    /* a regular clock costs nothing per row */
    assert_true(roundtrip(ts, N, NULL, 0) < 40);
    /* jitter of +-50 ms: about a byte a row */
    for (size_t i = 0; i < N; i++)
        ts[i] = 1704067200000 + (int64_t)i * 5000 + (int64_t)(rnd() % 101) - 50;
    assert_true(roundtrip(ts, N, NULL, 0) < N * 5 / 4);
    /* irregular: gaps from 1 ms to a day, with pauses */
    ts[0] = -86400000;
    for (size_t i = 1; i < N; i++)
        ts[i] = ts[i - 1] + 1 + (int64_t)(rnd() % (i % 50 ? 10000 : 86400000));
    for (size_t i = 0; i < N; i++)
        v[i] = (double)(i % 10);
    {
        struct blk_column col = {9, 0, v};
        roundtrip(ts, N, &col, 1);
    }
    /* the extremes of int64 */
    roundtrip(ext, sizeof(ext) / sizeof(ext[0]), NULL, 0);
    roundtrip(ext, 2, NULL, 0);
    roundtrip(ext + 5, 2, NULL, 0);
    ext[1] = INT64_MAX;
    roundtrip(ext, 2, NULL, 0);
    free(ts);
}

static void compression(void **state)
{
    enum { N = 1000 };
    int64_t *ts = regular_ts(N, 1704067200000, 5000);
    double *v = malloc(N * sizeof(double));

    (void)state;
    /* a counter growing by exactly 100 a row: < 0.1 byte a row */
    for (size_t i = 0; i < N; i++)
        v[i] = 1e9 + 100.0 * (double)i;
    assert_true(column_cost(ts, N, v, 0) < N / 10);
    /* with decimals: 0.25 a row */
    for (size_t i = 0; i < N; i++)
        v[i] = round_dec(12.5 + 0.25 * (double)i, 2);
    assert_true(column_cost(ts, N, v, -1) < N / 10);
    /* a counter that mostly stands still: sparse frames */
    for (size_t i = 0; i < N; i++)
        v[i] = (double)(i / 97);
    assert_true(column_cost(ts, N, v, 0) < N / 10);
    /* a rate with small steps */
    v[0] = 1e6;
    for (size_t i = 1; i < N; i++)
        v[i] = v[i - 1] + 500 + (double)(rnd() % 16);
    assert_true(column_cost(ts, N, v, 0) < N * 6 / 8);
    free(ts);
    free(v);
}

/* ---- the API ---- */

static void series_lookup(void **state)
{
    enum { N = 50 };
    int64_t *ts = regular_ts(N, 0, 10);
    double a[N], b[N], got[N];
    struct blk_column cols[] = {{10, -1, a}, {UINT32_MAX, -1, b}, {0, -1, a}};
    struct bytebuf out = {0};
    struct blk_info info;
    struct walk w = {.cols = cols, .n_cols = 3, .n_rows = N, .stop_at = 1};

    (void)state;
    for (size_t i = 0; i < N; i++) {
        a[i] = (double)i;
        b[i] = i % 2 ? NAN : -(double)i / 8;
    }
    assert_int_equal(blk_encode(ts, N, cols, 3, &out), 0);
    assert_int_equal(blk_decode_series(out.buf, out.len, UINT32_MAX, got), 1);
    assert_true(same_bits(got[2], -0.25) && isnan(got[3]));
    assert_int_equal(blk_decode_series(out.buf, out.len, 0, got), 1);
    assert_true(got[N - 1] == N - 1);
    got[0] = 1;
    assert_int_equal(blk_decode_series(out.buf, out.len, 11, got), 0);
    for (size_t i = 0; i < N; i++)
        assert_true(isnan(got[i]));
    /* several series and the timestamps in one pass, as the single reads give them */
    {
        int64_t ts2[N];
        double m0[N], m1[N], m2[N];
        double *mv[3] = {m0, m1, m2};
        uint32_t ids[3] = {UINT32_MAX, 11, 0};
        assert_int_equal(blk_decode_multi(out.buf, out.len, N, ts2, ids, 3, mv), N);
        assert_memory_equal(ts2, ts, sizeof(ts2));
        assert_true(same_bits(m0[2], -0.25) && isnan(m0[3]));
        for (size_t i = 0; i < N; i++)
            assert_true(isnan(m1[i]) && m2[i] == (double)i);
        /* arrays shorter than the block: refused, not overrun */
        assert_int_equal(blk_decode_multi(out.buf, out.len, N - 1, ts2, ids, 3, mv), -EBADMSG);
        out.buf[out.len / 2] ^= 1;
        assert_int_equal(blk_decode_multi(out.buf, out.len, N, ts2, ids, 3, mv), -EBADMSG);
        out.buf[out.len / 2] ^= 1;
    }
    assert_int_equal(blk_info(out.buf, out.len, &info), 0);
    assert_int_equal(info.n_rows, N);
    assert_int_equal(info.n_cols, 3);
    assert_true(info.first_ts == 0 && info.last_ts == 490);
    /* the callback's error stops the walk and comes back */
    assert_int_equal(blk_decode_all(out.buf, out.len, walk_cb, &w), -ECANCELED);
    assert_int_equal(w.seen, 2);
    /* blocks append: a second one after the first */
    {
        size_t first = out.len;
        cols[0].values = b;
        assert_int_equal(blk_encode(ts, N, cols, 1, &out), 0);
        assert_int_equal(blk_decode_series(out.buf + first, out.len - first, 10, got), 1);
        assert_true(isnan(got[1]) && got[4] == -0.5);
        assert_int_equal(blk_info(out.buf, first, &info), 0);
        assert_int_equal(info.n_cols, 3);
    }
    bytebuf_done(&out);
    bytebuf_done(&out); /* twice: harmless */
    bytebuf_done(NULL);
    free(ts);
}

static void bad_arguments(void **state)
{
    int64_t ts[] = {1, 2, 3}, dup[] = {1, 2, 2};
    double v[] = {1, 2, 3};
    struct blk_column ok = {1, -1, v}, twice[] = {{5, -1, v}, {6, -1, v}, {5, 0, v}};
    struct blk_column bad_dec = {1, 10, v}, no_values = {1, -1, NULL};
    struct bytebuf out = {0};

    (void)state;
    assert_int_equal(blk_encode(ts, 3, &ok, 1, &out), 0);
    size_t len = out.len;
    assert_int_equal(blk_encode(ts, 0, &ok, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(NULL, 3, &ok, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(dup, 3, &ok, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(ts, 3, twice, 3, &out), -EINVAL);
    assert_int_equal(blk_encode(ts, 3, &bad_dec, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(ts, 3, &no_values, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(ts, 3, NULL, 1, &out), -EINVAL);
    assert_int_equal(blk_encode(ts, 3, &ok, 1, NULL), -EINVAL);
    assert_int_equal(out.len, len); /* nothing appended on failure */
    assert_int_equal(blk_encode(ts, 3, twice, 2, &out), 0);
    bytebuf_done(&out);
}

static void crc32c_vectors(void **state)
{
    uint8_t zeros[32] = {0}, buf[1000];

    (void)state;
    assert_int_equal(blk_crc32c((const uint8_t *)"123456789", 9), 0xE3069283);
    assert_int_equal(blk_crc32c(zeros, 32), 0x8A9136AA); /* RFC 3720 B.4 */
    assert_int_equal(blk_crc32c(NULL, 0), 0);
    /* every split of a buffer between the word loop and the byte loop agrees */
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 8; off++) {
        uint8_t copy[sizeof(buf) + 8];
        memcpy(copy + off, buf, sizeof(buf));
        assert_int_equal(blk_crc32c(copy + off, sizeof(buf)), blk_crc32c(buf, sizeof(buf)));
    }
}

/* Bit by bit, from the definition: a reference that shares no code (and no
 * table) with the codec's two implementations. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0 - (c & 1)));
    }
    return ~c;
}

static void crc32c_hw_and_sw(void **state)
{
    /* lengths around the three-stream rounds of the hardware path (3 * 64
     * and 3 * 1024 bytes) and past them */
    static const size_t longer[] = {383,  384,  385,  575,  576,  3071,  3072,  3073,
                                    3263, 3264, 6144, 6337, 9999, 65536, 100003};
    enum { MAX = 100003 };
    uint8_t *buf = malloc(MAX + 8), *copy = malloc(MAX + 8);
    uint8_t v[32];

    (void)state;
    assert_non_null(buf);
    assert_non_null(copy);
    assert_int_equal(blk_crc32c_sw((const uint8_t *)"123456789", 9), 0xE3069283);
    assert_int_equal(blk_crc32c((const uint8_t *)"123456789", 9), 0xE3069283);
    /* RFC 3720 B.4 */
    memset(v, 0, sizeof(v));
    assert_int_equal(blk_crc32c_sw(v, 32), 0x8A9136AA);
    memset(v, 0xff, sizeof(v));
    assert_int_equal(blk_crc32c_sw(v, 32), 0x62A8AB43);
    assert_int_equal(blk_crc32c(v, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)i;
    assert_int_equal(blk_crc32c_sw(v, 32), 0x46DD794E);
    assert_int_equal(blk_crc32c(v, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        v[i] = (uint8_t)(31 - i);
    assert_int_equal(blk_crc32c_sw(v, 32), 0x113FDB5C);
    assert_int_equal(blk_crc32c(v, 32), 0x113FDB5C);

    /* every length to 300 at every misalignment: each split between the
     * three-stream rounds, the word loop and the byte loop */
    for (size_t len = 0; len <= 300; len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd();
        uint32_t want = crc32c_bitwise(buf, len);
        for (size_t off = 0; off < 8; off++) {
            memcpy(copy + off, buf, len);
            if (blk_crc32c(copy + off, len) != want || blk_crc32c_sw(copy + off, len) != want)
                fail_msg("length %zu offset %zu: hw %08x sw %08x want %08x", len, off,
                         blk_crc32c(copy + off, len), blk_crc32c_sw(copy + off, len), want);
        }
    }
    for (size_t i = 0; i < MAX; i++)
        buf[i] = (uint8_t)rnd();
    for (size_t k = 0; k < sizeof(longer) / sizeof(longer[0]); k++) {
        size_t len = longer[k];
        uint32_t want = crc32c_bitwise(buf, len);
        for (size_t off = 0; off < 8; off++) {
            memcpy(copy + off, buf, len);
            if (blk_crc32c(copy + off, len) != want || blk_crc32c_sw(copy + off, len) != want)
                fail_msg("length %zu offset %zu: hw %08x sw %08x want %08x", len, off,
                         blk_crc32c(copy + off, len), blk_crc32c_sw(copy + off, len), want);
        }
    }
    /* a single flipped bit anywhere changes it */
    for (size_t bit = 0; bit < 8 * 1000; bit += 7) {
        uint32_t before = blk_crc32c(buf, 1000);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(blk_crc32c(buf, 1000) != before);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(buf);
    free(copy);
}

/* Frames that are mostly one residual, with a few exceptions listed (or
 * none: a frame of width 0), in each transform: the decoder writes these
 * run by run. Exceptions at a frame's first and last rows, in short last
 * frames, with negative and large steps. */
static void sparse_frames(void **state)
{
    enum { N = 300, NC = 9 };
    int64_t *ts = regular_ts(N, 1704067200000, 1000);
    double *v[NC];
    struct blk_column cols[NC];
    static const size_t at[] = {0, 1, 2, 77, 126, 127, 128, 129, 200, 255, 256, 298, 299};

    (void)state;
    for (int c = 0; c < NC; c++) {
        v[c] = malloc(N * sizeof(double));
        assert_non_null(v[c]);
        cols[c] =
            (struct blk_column){.series_id = (uint32_t)(100 + c), .decimals = -1, .values = v[c]};
    }
    for (size_t i = 0; i < N; i++) {
        v[0][i] = 42;                        /* spikes over a constant: RAW */
        v[1][i] = 1000;                      /* steps: DELTA */
        v[2][i] = 5000.25 + 0.5 * (double)i; /* a ramp with kinks: DELTA2 */
        v[3][i] = -7.5;                      /* negative, 1 decimal */
        v[4][i] = (double)(i < 150 ? 3 * i : 450 + 11 * (i - 150)); /* slopes per frame */
        v[5][i] = 4096.0 * (double)(1000000 - (int64_t)i / 40);     /* steps of -1 page */
        v[6][i] = 9007199254740000.0 - 2.0 * (double)i;             /* near 2^53, falling */
        v[7][i] = round_dec(0.01 * (double)(i % 128 == 5 ? 900 : 100), 2);
        v[8][i] = (double)(int64_t)(i * i / 7); /* curving: no frame is sparse */
    }
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        size_t i = at[k];
        v[0][i] = k % 2 ? 40 : 45;
        for (size_t j = i; j < N; j++)
            v[1][j] += k % 3 ? 3 : -17;
        for (size_t j = i; j < N; j++)
            v[2][j] += 0.25 * (double)(j - i + 1) * (k % 2 ? 1 : -2);
        v[3][i] = k % 2 ? -7.4 : 12.5;
        v[6][i] += 64;
    }
    roundtrip(ts, N, cols, NC);
    /* with a few rows absent, and in a short block (one partial frame) */
    for (int c = 0; c < NC; c++)
        v[c][3] = v[c][250] = NAN;
    roundtrip(ts, N, cols, NC);
    roundtrip(ts, 61, cols, NC);
    {
        struct bytebuf out = {0};
        int64_t t2[N];
        double m[NC][N];
        double *mv[NC];
        uint32_t ids[NC];
        assert_int_equal(blk_encode(ts, N, cols, NC, &out), 0);
        for (int c = 0; c < NC; c++) {
            mv[c] = m[c];
            ids[c] = cols[c].series_id;
        }
        assert_int_equal(blk_decode_multi(out.buf, out.len, N, t2, ids, NC, mv), N);
        for (int c = 0; c < NC; c++)
            for (size_t i = 0; i < N; i++)
                assert_true(same_bits(m[c][i], v[c][i]));
        bytebuf_done(&out);
    }
    for (int c = 0; c < NC; c++)
        free(v[c]);
    free(ts);
}

/* ---- damage ---- */

static int count_cb(void *ctx, uint32_t id, const double *v, size_t n)
{
    (void)id;
    (void)v;
    *(size_t *)ctx += n;
    return 0;
}

/* Every reader on one (possibly broken) block: must not crash; returns
 * whether all of them refused it. */
static bool all_refuse(const uint8_t *blk, size_t len)
{
    struct blk_info info;
    static int64_t ts[BLK_MAX_ROWS];
    static double v[BLK_MAX_ROWS];
    size_t n = 0;
    int r[6];

    r[0] = blk_info(blk, len, &info);
    r[1] = blk_decode_ts(blk, len, ts);
    r[2] = blk_decode_series(blk, len, 1, v);
    r[3] = blk_decode_series(blk, len, 2, v);
    r[4] = blk_decode_series(blk, len, 3, v);
    r[5] = blk_decode_all(blk, len, count_cb, &n);
    for (int i = 0; i < 6; i++)
        assert_true(r[i] == -EBADMSG || r[i] >= 0);
    for (int i = 0; i < 6; i++)
        if (r[i] != -EBADMSG)
            return false;
    return true;
}

static uint8_t *small_block(size_t *ret_len)
{
    enum { N = 20 };
    static int64_t ts[N];
    static double a[N], b[N], c[N], d[N];
    struct blk_column cols[] = {{1, 2, a}, {2, -1, b}, {3, -1, c}, {4, -1, d}};
    struct bytebuf out = {0};

    for (size_t i = 0; i < N; i++) {
        ts[i] = 1000 * (int64_t)i + (int64_t)(i % 3);
        a[i] = round_dec(urand() * 10, 2);
        b[i] = i % 4 ? urand() : NAN;
        c[i] = 7;
        d[i] = i % 5 ? (double)(i * i) : NAN;
    }
    assert_int_equal(blk_encode(ts, N, cols, 4, &out), 0);
    *ret_len = out.len;
    return out.buf;
}

static void corrupted_blocks(void **state)
{
    size_t len;
    uint8_t *blk = small_block(&len), *copy = malloc(len);
    const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff, 0x5a};

    (void)state;
    assert_false(all_refuse(blk, len));
    /* every single-byte change: the checksum catches it */
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            memcpy(copy, blk, len);
            copy[i] ^= masks[m];
            assert_true(all_refuse(copy, len));
        }
    }
    /* every truncation, and a byte too many */
    for (size_t n = 0; n < len; n++) {
        uint8_t *t = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(t, blk, n);
        assert_true(all_refuse(t, n));
        free(t);
    }
    {
        uint8_t *t = malloc(len + 1);
        memcpy(t, blk, len);
        t[len] = 0;
        assert_true(all_refuse(t, len + 1));
        free(t);
    }
    assert_true(all_refuse(NULL, 0));
    free(copy);
    free(blk);
}

/* Changes under a recomputed checksum: what the checksum does not catch, the
 * parser must (or decode something, without crashing). */
static void corrupted_with_valid_crc(void **state)
{
    size_t len;
    uint8_t *blk = small_block(&len);
    size_t refused = 0;

    (void)state;
    for (size_t i = 0; i + 4 < len; i++) {
        for (unsigned m = 1; m < 256; m++) {
            uint8_t *copy = malloc(len);
            uint32_t crc;
            memcpy(copy, blk, len);
            copy[i] ^= (uint8_t)m;
            crc = blk_crc32c(copy, len - 4);
            for (int b = 0; b < 4; b++)
                copy[len - 4 + b] = (uint8_t)(crc >> (8 * b));
            if (all_refuse(copy, len))
                refused++;
            else
                assert_true(i >= 4); /* the magic and the version are checked */
            free(copy);
        }
    }
    assert_true(refused > 4 * 255);
    free(blk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters),         cmocka_unit_test(scaled_gauges),
        cmocka_unit_test(xor_fallback),     cmocka_unit_test(constants),
        cmocka_unit_test(negative_zero),    cmocka_unit_test(absent_cells),
        cmocka_unit_test(row_counts),       cmocka_unit_test(timestamps),
        cmocka_unit_test(compression),      cmocka_unit_test(series_lookup),
        cmocka_unit_test(bad_arguments),    cmocka_unit_test(crc32c_vectors),
        cmocka_unit_test(crc32c_hw_and_sw), cmocka_unit_test(sparse_frames),
        cmocka_unit_test(corrupted_blocks), cmocka_unit_test(corrupted_with_valid_crc),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
