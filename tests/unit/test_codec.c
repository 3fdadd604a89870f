/* The block codec: lossless round trips of every encoding in both block
 * formats, the sizes it promises on typical series, version 1 blocks written
 * before version 2 existed, and corrupted or truncated blocks: what each
 * reader checks of a damaged version 2 block. */
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
#include "common/detrand.h"

/* ---- helpers ---- */

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
    int stop_at;      /* return an error at this column (-1: never) */
    unsigned version; /* 1: the caller's order; 2: by increasing id */
    uint32_t last;
};

static int walk_cb(void *ctx, uint32_t series_id, const double *values, size_t n_rows)
{
    struct walk *w = ctx;
    size_t c = 0;

    assert_true(w->seen < w->n_cols);
    while (c < w->n_cols && w->cols[c].series_id != series_id)
        c++;
    assert_true(c < w->n_cols);
    if (w->version == 1)
        assert_int_equal(c, w->seen);
    else
        assert_true(w->seen == 0 || series_id > w->last);
    w->last = series_id;
    assert_int_equal(n_rows, w->n_rows);
    for (size_t i = 0; i < n_rows; i++)
        assert_true(same_bits(values[i], w->cols[c].values[i]));
    if ((int)w->seen++ == w->stop_at)
        return -ECANCELED;
    return 0;
}

/* ---- version 2's layout, as codec.c's top comment documents it ---- */

#define MAX_SPANS 128

/* Where a version 2 block's checksums lie, found from the documented layout
 * alone (no code shared with the codec): span 0 is the header (header,
 * timestamps, directory), then one span per chunk of columns; each covers
 * [from, to) and its CRC-32C sits at to. Column i (in directory order, by
 * increasing id) has its kind byte at off[i], len[i] bytes of payload after
 * it, and lies in span[i]. */
struct layout {
    unsigned chunk_log2;
    size_t n_rows, n_cols, n_spans;
    size_t from[MAX_SPANS], to[MAX_SPANS];
    uint32_t id[MAX_SPANS];
    size_t off[MAX_SPANS], len[MAX_SPANS], span[MAX_SPANS];
    bool whole; /* the spans, columns and CRCs fill the block exactly */
};

static bool lay_varint(const uint8_t *b, size_t n, size_t *at, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned sh = 0; sh < 64 && *at < n; sh += 7) {
        uint8_t c = b[(*at)++];
        x |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* False when the block is not version 2 or its framing breaks before the
 * header's end; then, as far as the bytes allow (l->whole says whether they
 * all fit). */
static bool layout_of(const uint8_t *b, size_t n, struct layout *l)
{
    uint64_t v[5], gap, clen, id = 0;
    size_t at = 5, pos, acc = 0;

    memset(l, 0, sizeof(*l));
    if (n < 5 || memcmp(b, "amb\x02", 4) != 0 || b[4] > 63)
        return false;
    l->chunk_log2 = b[4];
    for (int i = 0; i < 5; i++) /* n_rows n_cols first_ts span ts_len */
        if (!lay_varint(b, n, &at, &v[i]))
            return false;
    if (v[1] > MAX_SPANS - 1 || v[4] > n - at)
        return false;
    l->n_rows = (size_t)v[0];
    l->n_cols = (size_t)v[1];
    at += (size_t)v[4];
    for (size_t i = 0; i < l->n_cols; i++) {
        if (!lay_varint(b, n, &at, &gap) || !lay_varint(b, n, &at, &clen) || clen > n)
            return false;
        id = i ? id + 1 + gap : gap;
        l->id[i] = (uint32_t)id;
        l->len[i] = (size_t)clen;
    }
    l->from[0] = 0;
    l->to[0] = at;
    l->n_spans = 1;
    /* the columns: a chunk takes the next column unless that would make it
     * more than 2^chunk_log2 bytes (kind bytes and payloads) */
    pos = at + 4;
    for (size_t i = 0; i < l->n_cols; i++) {
        if (acc && acc + 1 + l->len[i] > ((uint64_t)1 << l->chunk_log2)) {
            l->to[l->n_spans++] = pos;
            pos += 4;
            acc = 0;
        }
        if (acc == 0)
            l->from[l->n_spans] = pos;
        l->off[i] = pos;
        l->span[i] = l->n_spans;
        pos += 1 + l->len[i];
        acc += 1 + l->len[i];
    }
    if (l->n_cols) {
        l->to[l->n_spans++] = pos;
        pos += 4;
    }
    l->whole = pos == n;
    return true;
}

/* Rewrites every CRC of a version 2 block that lies inside it. */
static void layout_fix(uint8_t *b, size_t n, const struct layout *l)
{
    for (size_t s = 0; s < l->n_spans; s++) {
        uint32_t crc;
        if (l->to[s] > n || n - l->to[s] < 4 || l->from[s] > l->to[s])
            continue;
        crc = blk_crc32c(b + l->from[s], l->to[s] - l->from[s]);
        for (int k = 0; k < 4; k++)
            b[l->to[s] + (size_t)k] = (uint8_t)(crc >> (8 * k));
    }
}

/* The span (0: the header) that byte i of a laid-out block belongs to, CRC
 * included. */
static size_t span_of(const struct layout *l, size_t i)
{
    for (size_t s = 0; s < l->n_spans; s++)
        if (i >= l->from[s] && i < l->to[s] + 4)
            return s;
    fail_msg("byte %zu is under no CRC", i);
    return 0;
}

/* The formats every round trip is checked in: what blk_encode() writes,
 * version 2 with a CRC per column, version 1, and version 2 in chunks of 16
 * bytes (small columns fill some exactly: the rule's edge). */
static const struct fmt {
    unsigned version, chunk_log2;
} fmts[] = {{2, BLK_CHUNK_LOG2}, {2, 0}, {1, 0}, {2, 4}};

/* Checks every way of reading a block of cols back bit for bit. */
static void check_block(const struct bytebuf *out, unsigned version, const int64_t *ts,
                        size_t n_rows, const struct blk_column *cols, size_t n_cols)
{
    struct blk_info info;
    int64_t *dts = malloc(n_rows * sizeof(*dts));
    double *v = malloc(n_rows * sizeof(*v));
    struct walk w = {
        .cols = cols, .n_cols = n_cols, .n_rows = n_rows, .stop_at = -1, .version = version};
    size_t len = out->len;

    assert_non_null(dts);
    assert_non_null(v);
    assert_int_equal(out->buf[3], version);
    assert_int_equal(blk_info(out->buf, len, &info), 0);
    assert_int_equal(info.n_rows, n_rows);
    assert_int_equal(info.n_cols, n_cols);
    assert_true(info.first_ts == ts[0]);
    assert_true(info.last_ts == ts[n_rows - 1]);
    assert_int_equal(blk_decode_ts(out->buf, len, dts), 0);
    assert_memory_equal(dts, ts, n_rows * sizeof(*ts));
    for (size_t c = 0; c < n_cols; c++) {
        assert_int_equal(blk_decode_series(out->buf, len, cols[c].series_id, v), 1);
        for (size_t i = 0; i < n_rows; i++)
            if (!same_bits(v[i], cols[c].values[i]))
                fail_msg("v%u column %zu row %zu: %.17g decoded as %.17g", version, c, i,
                         cols[c].values[i], v[i]);
    }
    assert_int_equal(blk_decode_all(out->buf, len, walk_cb, &w), 0);
    assert_int_equal(w.seen, n_cols);
    /* version 2: the CRCs lie where the documented layout puts them */
    if (version == 2 && n_cols < MAX_SPANS) {
        struct layout l;
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        assert_true(layout_of(out->buf, len, &l));
        assert_true(l.whole);
        assert_int_equal(l.n_cols, n_cols);
        memcpy(copy, out->buf, len);
        for (size_t s = 0; s < l.n_spans; s++)
            memset(copy + l.to[s], 0, 4);
        layout_fix(copy, len, &l);
        assert_memory_equal(copy, out->buf, len);
        free(copy);
    }
    free(dts);
    free(v);
}

/* Encodes in every format, checks each block, and returns the size of
 * blk_encode()'s. */
static size_t roundtrip(const int64_t *ts, size_t n_rows, const struct blk_column *cols,
                        size_t n_cols)
{
    size_t len = 0;

    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        struct bytebuf out = {0};
        if (f == 0)
            assert_int_equal(blk_encode(ts, n_rows, cols, n_cols, &out), 0);
        else
            assert_int_equal(
                blk_encode_as(ts, n_rows, cols, n_cols, fmts[f].version, fmts[f].chunk_log2, &out),
                0);
        check_block(&out, fmts[f].version, ts, n_rows, cols, n_cols);
        if (f == 0)
            len = out.len;
        bytebuf_done(&out);
    }
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
    struct walk w = {.cols = cols, .n_cols = 3, .n_rows = N, .stop_at = 1, .version = 2};

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
    static double v[BLK_MAX_ROWS], m[3][BLK_MAX_ROWS];
    double *mv[3] = {m[0], m[1], m[2]};
    const uint32_t ids[3] = {3, 1, 2};
    size_t n = 0;
    long r[7];

    r[0] = blk_info(blk, len, &info);
    r[1] = blk_decode_ts(blk, len, ts);
    r[2] = blk_decode_series(blk, len, 1, v);
    r[3] = blk_decode_series(blk, len, 2, v);
    r[4] = blk_decode_series(blk, len, 3, v);
    r[5] = blk_decode_all(blk, len, count_cb, &n);
    r[6] = blk_decode_multi(blk, len, BLK_MAX_ROWS, ts, ids, 3, mv);
    for (int i = 0; i < 7; i++)
        assert_true(r[i] == -EBADMSG || r[i] >= 0);
    for (int i = 0; i < 7; i++)
        if (r[i] != -EBADMSG)
            return false;
    return true;
}

/* The column of id among cols. */
static const struct blk_column *col_of(const struct blk_column *cols, size_t n_cols, uint32_t id)
{
    for (size_t c = 0; c < n_cols; c++)
        if (cols[c].series_id == id)
            return &cols[c];
    fail_msg("no column %u", id);
    return NULL;
}

/*
 * A version 2 block `good` of cols and a copy `bad` damaged at byte i (and
 * nowhere else): damage under the header CRC makes every reader refuse the
 * block; damage in a chunk, every reader of a column of that chunk (so
 * blk_info() and blk_decode_all(), which check every chunk), while the
 * timestamps and the series of the other chunks still read back exactly.
 */
static void check_damage(const uint8_t *good, const uint8_t *bad, size_t len, size_t i,
                         const int64_t *ts, const struct blk_column *cols, size_t n_cols)
{
    static int64_t dts[BLK_MAX_ROWS];
    static double v[BLK_MAX_ROWS];
    struct layout l;
    struct blk_info info;
    size_t s, n = 0;

    assert_true(layout_of(good, len, &l) && l.whole);
    s = span_of(&l, i);
    if (s == 0) {
        assert_true(all_refuse(bad, len));
        for (size_t c = 0; c < l.n_cols; c++)
            assert_int_equal(blk_decode_series(bad, len, l.id[c], v), -EBADMSG);
        return;
    }
    assert_int_equal(blk_info(bad, len, &info), -EBADMSG);
    assert_int_equal(blk_decode_all(bad, len, count_cb, &n), -EBADMSG);
    assert_int_equal(n, 0);
    assert_int_equal(blk_decode_ts(bad, len, dts), 0);
    assert_memory_equal(dts, ts, l.n_rows * sizeof(*ts));
    for (size_t c = 0; c < l.n_cols; c++) {
        const struct blk_column *col = col_of(cols, n_cols, l.id[c]);
        int r = blk_decode_series(bad, len, l.id[c], v);
        if (l.span[c] == s) {
            if (r != -EBADMSG)
                fail_msg("byte %zu damaged, in the chunk of %u: read %d", i, l.id[c], r);
            continue;
        }
        if (r != 1)
            fail_msg("byte %zu damaged, outside the chunk of %u: read %d", i, l.id[c], r);
        for (size_t k = 0; k < l.n_rows; k++)
            assert_true(same_bits(v[k], col->values[k]));
    }
}

/* Four columns (ids 1 to 4) of 20 rows, as blk_encode_as() writes them. */
#define SMALL_ROWS 20
static int64_t small_ts[SMALL_ROWS];
static double small_v[4][SMALL_ROWS];
static const struct blk_column small_cols[] = {
    {1, 2, small_v[0]}, {2, -1, small_v[1]}, {3, -1, small_v[2]}, {4, -1, small_v[3]}};

static uint8_t *small_block(const struct fmt *f, size_t *ret_len)
{
    struct bytebuf out = {0};

    for (size_t i = 0; i < SMALL_ROWS; i++) {
        small_ts[i] = 1000 * (int64_t)i + (int64_t)(i % 3);
        small_v[0][i] = round_dec(urand() * 10, 2);
        small_v[1][i] = i % 4 ? urand() : NAN;
        small_v[2][i] = 7;
        small_v[3][i] = i % 5 ? (double)(i * i) : NAN;
    }
    assert_int_equal(
        blk_encode_as(small_ts, SMALL_ROWS, small_cols, 4, f->version, f->chunk_log2, &out), 0);
    *ret_len = out.len;
    return out.buf;
}

static void corrupted_blocks(void **state)
{
    const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff, 0x5a};

    (void)state;
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        size_t len;
        uint8_t *blk = small_block(&fmts[f], &len), *copy = malloc(len);
        assert_false(all_refuse(blk, len));
        /* every single-byte change: a checksum catches it (version 1: the
         * block's, for every reader; version 2: see check_damage()) */
        for (size_t i = 0; i < len; i++) {
            for (size_t m = 0; m < sizeof(masks); m++) {
                memcpy(copy, blk, len);
                copy[i] ^= masks[m];
                if (fmts[f].version == 1)
                    assert_true(all_refuse(copy, len));
                else
                    check_damage(blk, copy, len, i, small_ts, small_cols, 4);
            }
        }
        /* every truncation, and a byte too many: every reader (version 2:
         * the columns no longer fill the block to the byte) */
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
        free(copy);
        free(blk);
    }
    assert_true(all_refuse(NULL, 0));
}

/* Damage in one column of a version 2 block: the other columns still read,
 * in chunks of one column (chunk_log2 0) and in blk_encode()'s chunks, where
 * columns larger than a chunk stand alone and small neighbours share one. */
static void damaged_column(void **state)
{
    enum { N = 300, NC = 7 };
    int64_t *ts = regular_ts(N, 1704067200000, 5000);
    double *v = malloc((size_t)NC * N * sizeof(double));
    struct blk_column cols[NC];
    struct layout l;

    (void)state;
    assert_non_null(v);
    for (int c = 0; c < NC; c++) {
        double *col = v + (size_t)c * N;
        for (size_t i = 0; i < N; i++) /* XOR (~8 bytes a value) or a constant */
            col[i] = c % 3 == 0 ? urand() * 1000 : (c % 3 == 1 ? 1.5 * c : NAN);
        /* not in id order: the block sorts them */
        cols[c] = (struct blk_column){(uint32_t)(NC - c) * 10, -1, col};
    }
    for (int f = 0; f < 2; f++) {
        struct bytebuf out = {0};
        uint8_t *bad;
        assert_int_equal(blk_encode_as(ts, N, cols, NC, 2, fmts[f].chunk_log2, &out), 0);
        assert_true(layout_of(out.buf, out.len, &l) && l.whole);
        /* one chunk per column, or: 3 large alone, small ones sharing */
        assert_int_equal(l.n_spans, f == 0 ? 1 + 5 : 1 + NC);
        bad = malloc(out.len);
        assert_non_null(bad);
        for (size_t i = 0; i < out.len; i += (i < l.to[0] + 4 ? 1 : 7)) {
            memcpy(bad, out.buf, out.len);
            bad[i] ^= 0x40;
            check_damage(out.buf, bad, out.len, i, ts, cols, NC);
        }
        /* several series at once: refused when one of them is damaged, and
         * then nothing written; read when the damage is elsewhere */
        {
            int64_t t2[N];
            double m0[N], m1[N];
            double *mv[2] = {m0, m1};
            uint32_t hit[2] = {l.id[NC - 1], l.id[0]}, miss[2] = {l.id[1], l.id[NC - 1]};
            memcpy(bad, out.buf, out.len);
            bad[l.off[0] + 1 + l.len[0] / 2] ^= 1; /* the first column's payload */
            t2[0] = 42;
            assert_int_equal(blk_decode_multi(bad, out.len, N, t2, hit, 2, mv), -EBADMSG);
            assert_true(t2[0] == 42);
            if (l.span[1] != l.span[0]) {
                assert_int_equal(blk_decode_multi(bad, out.len, N, t2, miss, 2, mv), N);
                assert_memory_equal(t2, ts, sizeof(t2));
                for (size_t i = 0; i < N; i++)
                    assert_true(same_bits(m0[i], col_of(cols, NC, miss[0])->values[i]) &&
                                same_bits(m1[i], col_of(cols, NC, miss[1])->values[i]));
            }
        }
        free(bad);
        bytebuf_done(&out);
    }
    free(v);
    free(ts);
}

/* The chunk rule at its edge: columns that fill a chunk exactly share it,
 * and the next one starts another; a column larger than a chunk stands
 * alone. */
static void chunk_edges(void **state)
{
    enum { N = 10 };
    int64_t *ts = regular_ts(N, 0, 1000);
    double f64[N], one[N], none[N];
    /* kind byte and payload: 9 (a double), 2 (a small integer), 1 (absent) */
    struct blk_column cols[] = {{1, -1, f64}, {2, -1, one},  {3, -1, one},
                                {4, -1, one}, {5, -1, none}, {6, -1, f64}};
    struct layout l;

    (void)state;
    for (size_t i = 0; i < N; i++) {
        f64[i] = 3.25;
        one[i] = 1;
        none[i] = NAN;
    }
    for (unsigned log2 = 3; log2 <= 4; log2++) {
        struct bytebuf out = {0};
        assert_int_equal(blk_encode_as(ts, N, cols, 6, 2, log2, &out), 0);
        assert_true(layout_of(out.buf, out.len, &l) && l.whole);
        assert_int_equal(out.buf[l.off[0]] & 0xf, 0); /* CONST_F64, as the sizes assume */
        assert_int_equal(l.len[0], 8);
        assert_int_equal(l.len[1], 1);
        assert_int_equal(l.len[4], 0);
        if (log2 == 4) {
            /* 9 + 2 + 2 + 2 + 1 = 16: one chunk, then the last column */
            assert_int_equal(l.n_spans, 1 + 2);
            assert_int_equal(l.span[4], 1);
        } else {
            /* 9 > 8 alone, then 2 + 2 + 2 + 1 = 7 (9 more would pass 8) */
            assert_int_equal(l.n_spans, 1 + 3);
            assert_int_equal(l.span[0], 1);
            assert_int_equal(l.span[1], 2);
            assert_int_equal(l.span[4], 2);
        }
        check_block(&out, 2, ts, N, cols, 6);
        bytebuf_done(&out);
    }
    free(ts);
}

/* Ids past 2^32 - 1 in a directory (under sound checksums): refused. */
static void directory_ids(void **state)
{
    enum { N = 5 };
    int64_t *ts = regular_ts(N, 0, 1000);
    double v[N] = {1, 2, 3, 4, 5};
    struct blk_column cols[] = {{UINT32_MAX - 1, -1, v}, {UINT32_MAX, -1, v}};
    struct bytebuf out = {0};
    struct layout l;
    double got[N];
    size_t dir;

    (void)state;
    assert_int_equal(blk_encode(ts, N, cols, 2, &out), 0);
    assert_int_equal(blk_decode_series(out.buf, out.len, UINT32_MAX, got), 1);
    assert_true(layout_of(out.buf, out.len, &l));
    /* the first entry: gap 2^32 - 2 in five bytes, fe ff ff ff 0f, then its
     * length; the second: gap 0 */
    dir = l.to[0] - 2 - (5 + 1);
    assert_int_equal(out.buf[dir], 0xfe);
    assert_int_equal(out.buf[dir + 4], 0x0f);
    assert_int_equal(out.buf[dir + 6], 0);
    /* the second id would be 2^32 */
    out.buf[dir] = 0xff;
    layout_fix(out.buf, out.len, &l);
    assert_true(all_refuse(out.buf, out.len));
    assert_int_equal(blk_decode_series(out.buf, out.len, UINT32_MAX, got), -EBADMSG);
    /* the first would be 2^32 + 2^32 - 1 */
    out.buf[dir + 4] = 0x1f;
    layout_fix(out.buf, out.len, &l);
    assert_true(all_refuse(out.buf, out.len));
    bytebuf_done(&out);
    free(ts);
}

/* Changes under recomputed checksums: what the checksums do not catch, the
 * parser must (or decode something, without crashing). */
static void corrupted_with_valid_crc(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
        size_t len, refused = 0;
        uint8_t *blk = small_block(&fmts[f], &len);
        for (size_t i = 0; i + 4 < len; i++) {
            for (unsigned m = 1; m < 256; m++) {
                uint8_t *copy = malloc(len);
                memcpy(copy, blk, len);
                copy[i] ^= (uint8_t)m;
                if (fmts[f].version == 1) {
                    uint32_t crc = blk_crc32c(copy, len - 4);
                    for (int b = 0; b < 4; b++)
                        copy[len - 4 + b] = (uint8_t)(crc >> (8 * b));
                } else {
                    /* the CRCs where the damaged header says they are */
                    struct layout l;
                    if (layout_of(copy, len, &l))
                        layout_fix(copy, len, &l);
                }
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
}

/* ---- version 1 blocks ---- */

/* The data of the stored version 1 block below: ids not in order, each kind
 * of presence and encoding. */
#define FX_ROWS 40
static const uint32_t fx_ids[5] = {300, 7, 129, 0, 65536};

static void fx_fill(int64_t *ts, double v[5][FX_ROWS])
{
    for (int i = 0; i < FX_ROWS; i++) {
        ts[i] = 1704067200000 + 5000 * (int64_t)i + (i * 37 % 11) - 5;
        v[0][i] = i % 6 == 5 ? NAN : (double)(1000 + i * i * 3) / 100; /* scaled, bitmap */
        v[1][i] = i >= 10 && i < 30 ? NAN : (double)i / 3.0;           /* XOR, runs */
        v[2][i] = 4096e6;                                              /* a constant */
        v[3][i] = NAN;                                                 /* absent */
        v[4][i] = i % 2 ? -0.0 : (double)i / 4;                        /* -0.0 listed */
    }
}

/* What blk_encode() wrote for fx_fill()'s data before version 2 existed (the
 * encoder of commit 50b8ba1, decimals -1): blocks in databases look like
 * this, and must decode as they did. */
static const uint8_t fx_v1[339] = {
    0x61, 0x6d, 0x62, 0x01, 0x28, 0x05, 0xf6, 0xcf, 0x8f, 0xa5, 0x98, 0x63, 0xba, 0xf3, 0x0b, 0x38,
    0x00, 0x02, 0xd6, 0x01, 0x15, 0xda, 0xde, 0xf6, 0xb6, 0xb7, 0x96, 0x13, 0x00, 0x58, 0x00, 0x00,
    0x60, 0x01, 0x00, 0x80, 0x05, 0x00, 0x00, 0x16, 0x00, 0x00, 0x58, 0x00, 0x00, 0x60, 0x01, 0x00,
    0x80, 0x05, 0x00, 0x00, 0x16, 0x00, 0x00, 0x58, 0x00, 0x00, 0x60, 0x01, 0x00, 0x80, 0x05, 0x00,
    0x00, 0x16, 0x00, 0x00, 0x58, 0x00, 0x00, 0x00, 0xac, 0x02, 0x22, 0x2f, 0xdf, 0xf7, 0x7d, 0xdf,
    0xf7, 0x02, 0xd0, 0x0f, 0x00, 0x06, 0x81, 0x01, 0x02, 0x00, 0x00, 0x02, 0x04, 0x06, 0x13, 0x0c,
    0x0e, 0x10, 0x12, 0x2b, 0x18, 0x1a, 0x1c, 0x1e, 0x43, 0x24, 0x26, 0x28, 0x2a, 0x5b, 0x30, 0x32,
    0x34, 0x36, 0x73, 0x3c, 0x3e, 0x40, 0x42, 0x8b, 0x48, 0x4a, 0x4c, 0x07, 0x33, 0x93, 0x01, 0x03,
    0x0a, 0x14, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x7d, 0x55, 0x55, 0x55,
    0x55, 0x55, 0x55, 0xf5, 0xbf, 0x12, 0xfc, 0x42, 0x57, 0x55, 0x55, 0x55, 0x55, 0x55, 0xd5, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xc0, 0x5f, 0x55,
    0x55, 0x55, 0x55, 0x55, 0xd5, 0xff, 0xef, 0xc4, 0xab, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xde, 0xc4,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xcf, 0xcc, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0xbd, 0x32,
    0xec, 0xd0, 0xbb, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xfa, 0xf3, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xef, 0xc4, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0xb7, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x4a, 0xfe,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xcd, 0xcc, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0xdf, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0x2a, 0xe4, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x55, 0x55, 0x55, 0x55, 0x55,
    0x55, 0x0d, 0x81, 0x01, 0x01, 0x05, 0x80, 0x80, 0xa0, 0xc2, 0x1e, 0x00, 0x10, 0x00, 0x80, 0x80,
    0x04, 0x02, 0x2c, 0x11, 0x00, 0x00, 0x0a, 0x54, 0x02, 0x54, 0x55, 0x55, 0x55, 0x55, 0x20, 0x88,
    0x41, 0x8a, 0x39, 0x28, 0xa9, 0xc5, 0x9a, 0x7b, 0x30, 0x4a, 0x14, 0x01, 0x01, 0x01, 0x01, 0x01,
    0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x0c,
    0x6f, 0xc4, 0xbd,
};

static void v1_blocks(void **state)
{
    int64_t ts[FX_ROWS], dts[FX_ROWS];
    double v[5][FX_ROWS], got[FX_ROWS], m0[FX_ROWS], m1[FX_ROWS];
    double *mv[2] = {m0, m1};
    uint32_t two[2] = {65536, 7};
    struct blk_column cols[5];
    struct blk_info info;
    struct bytebuf out = {0};
    struct walk w = {.cols = cols, .n_cols = 5, .n_rows = FX_ROWS, .stop_at = -1, .version = 1};
    uint8_t copy[sizeof(fx_v1)];

    (void)state;
    fx_fill(ts, v);
    for (int c = 0; c < 5; c++)
        cols[c] = (struct blk_column){fx_ids[c], -1, v[c]};
    /* every reader on the stored bytes, bit for bit, in the block's order */
    assert_int_equal(blk_info(fx_v1, sizeof(fx_v1), &info), 0);
    assert_int_equal(info.n_rows, FX_ROWS);
    assert_int_equal(info.n_cols, 5);
    assert_true(info.first_ts == ts[0] && info.last_ts == ts[FX_ROWS - 1]);
    assert_int_equal(blk_decode_ts(fx_v1, sizeof(fx_v1), dts), 0);
    assert_memory_equal(dts, ts, sizeof(ts));
    for (int c = 0; c < 5; c++) {
        assert_int_equal(blk_decode_series(fx_v1, sizeof(fx_v1), fx_ids[c], got), 1);
        for (int i = 0; i < FX_ROWS; i++)
            assert_true(same_bits(got[i], v[c][i]));
    }
    assert_int_equal(blk_decode_series(fx_v1, sizeof(fx_v1), 8, got), 0);
    assert_int_equal(blk_decode_all(fx_v1, sizeof(fx_v1), walk_cb, &w), 0);
    assert_int_equal(w.seen, 5);
    assert_int_equal(blk_decode_multi(fx_v1, sizeof(fx_v1), FX_ROWS, dts, two, 2, mv), FX_ROWS);
    for (int i = 0; i < FX_ROWS; i++)
        assert_true(same_bits(m0[i], v[4][i]) && same_bits(m1[i], v[1][i]));
    /* the kept version 1 encoder writes those very bytes (the round trips
     * check version 1 with it) */
    assert_int_equal(blk_encode_as(ts, FX_ROWS, cols, 5, 1, 0, &out), 0);
    assert_int_equal(out.len, sizeof(fx_v1));
    assert_memory_equal(out.buf, fx_v1, sizeof(fx_v1));
    /* version 1's single CRC: any damage, any truncation, refused by every reader */
    for (size_t i = 0; i < sizeof(fx_v1); i++) {
        memcpy(copy, fx_v1, sizeof(fx_v1));
        copy[i] ^= (uint8_t)(1u << (i % 8));
        assert_true(all_refuse(copy, sizeof(copy)));
    }
    for (size_t n = 0; n < sizeof(fx_v1); n++) {
        uint8_t *t = malloc(n ? n : 1);
        memcpy(t, fx_v1, n);
        assert_true(all_refuse(t, n));
        free(t);
    }
    /* the same data in version 2 reads back the same */
    out.len = 0;
    assert_int_equal(blk_encode(ts, FX_ROWS, cols, 5, &out), 0);
    assert_int_equal(out.buf[3], 2);
    check_block(&out, 2, ts, FX_ROWS, cols, 5);
    bytebuf_done(&out);
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
        cmocka_unit_test(damaged_column),   cmocka_unit_test(chunk_edges),
        cmocka_unit_test(directory_ids),    cmocka_unit_test(v1_blocks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
