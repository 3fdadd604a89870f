/* The block codec on arbitrary bytes, both ways.
 *
 * The first byte chooses: bit 0 set, the rest is a block whose checksums are
 * recomputed first (so that mutations reach the parser behind them): version
 * 1's trailer, or version 2's header CRC and chunk CRCs where its header and
 * directory place them; bit 1 set, the rest also drives an encode -> decode
 * round trip, which must give back every value bit for bit, in the format of
 * bits 2-7: bit 2 set, version 1; else version 2 with chunks of 2^(bits 3-7
 * - 1) bytes, blk_encode()'s when bits 3-7 are 0.
 *
 * As a block, whatever the bytes: no crash, no read outside them, and the
 * readers agree: a block that blk_info() refuses, blk_decode_all() refuses
 * too, and so do the others for version 1 (one checksum over all; version 2's
 * single-series reads check the header and their own chunk only); a series
 * that is not there is reported absent, and a series read alone equals the
 * same series in blk_decode_all(), whose version 2 order is by increasing id. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

#define KEEP        4         /* columns compared between the two ways of decoding */
#define MAX_DECODED (1 << 18) /* cells decoded by blk_decode_all per input */

static bool same(double a, double b)
{
    return isnan(a) ? isnan(b) : memcmp(&a, &b, sizeof(a)) == 0;
}

struct seen {
    size_t n_rows, n;
    bool sorted; /* version 2: ids strictly increase */
    uint32_t ids[KEEP], last;
    double *vals[KEEP];
};

static int seen_cb(void *ctx, uint32_t id, const double *v, size_t n_rows)
{
    struct seen *s = ctx;

    CHECK(n_rows == s->n_rows);
    CHECK(!s->sorted || s->n == 0 || id > s->last);
    s->last = id;
    if (s->n < KEEP) {
        s->ids[s->n] = id;
        memcpy(s->vals[s->n], v, n_rows * sizeof(*v));
    }
    s->n++;
    return 0;
}

static void decode(const uint8_t *blk, size_t len)
{
    struct blk_info info;
    struct seen s = {0};
    int64_t *ts;
    double *v;
    int r;

    r = blk_info(blk, len, &info);
    if (r < 0) {
        static int64_t t[BLK_MAX_ROWS];
        static double one[BLK_MAX_ROWS];
        CHECK(r == -EBADMSG);
        CHECK(blk_decode_all(blk, len, seen_cb, &s) == -EBADMSG);
        if (len < 4 || blk[3] != 2) {
            /* n_rows unknown: the others must fail before writing anything */
            CHECK(blk_decode_ts(blk, len, t) == -EBADMSG);
            CHECK(blk_decode_series(blk, len, 0, one) == -EBADMSG);
            return;
        }
        /* version 2: damage in a chunk leaves the header and the other
         * chunks readable (the arrays take the most rows a header gives) */
        r = blk_decode_ts(blk, len, t);
        CHECK(r == 0 || r == -EBADMSG);
        for (uint32_t id = 0; id < KEEP; id++) {
            r = blk_decode_series(blk, len, id, one);
            CHECK(r == 0 || r == 1 || r == -EBADMSG);
        }
        return;
    }
    CHECK(info.n_rows >= 1 && info.n_rows <= BLK_MAX_ROWS && info.n_cols <= BLK_MAX_COLS);
    CHECK(info.first_ts <= info.last_ts);
    ts = malloc(info.n_rows * sizeof(*ts));
    v = malloc(info.n_rows * sizeof(*v));
    s.n_rows = info.n_rows;
    s.sorted = blk[3] == 2;
    for (int i = 0; i < KEEP; i++)
        s.vals[i] = malloc(info.n_rows * sizeof(double));
    if (!ts || !v || !s.vals[KEEP - 1])
        abort();

    r = blk_decode_ts(blk, len, ts);
    CHECK(r == 0 || r == -EBADMSG);
    if (r == 0) {
        CHECK(ts[0] == info.first_ts && ts[info.n_rows - 1] == info.last_ts);
        for (size_t i = 1; i < info.n_rows; i++)
            CHECK(ts[i] > ts[i - 1]);
    }
    if (info.n_rows * info.n_cols <= MAX_DECODED) {
        r = blk_decode_all(blk, len, seen_cb, &s);
        CHECK(r == 0 || r == -EBADMSG);
        if (r == 0)
            CHECK(s.n == info.n_cols);
        for (size_t c = 0; c < s.n && c < KEEP; c++) {
            bool first = true;
            for (size_t e = 0; e < c; e++)
                first = first && s.ids[e] != s.ids[c];
            /* delivered by the walk: the framing is sound and this column
             * (or an earlier one of the same id) decodes */
            CHECK(blk_decode_series(blk, len, s.ids[c], v) == 1);
            if (first)
                for (size_t i = 0; i < info.n_rows; i++)
                    CHECK(same(v[i], s.vals[c][i]));
        }
    } else {
        for (uint32_t id = 0; id < KEEP; id++) {
            r = blk_decode_series(blk, len, id, v);
            CHECK(r == 0 || r == 1 || r == -EBADMSG);
        }
    }
    /* the one-pass reader agrees with the single reads, and never writes past cap */
    if (s.n > 0 && info.n_rows * info.n_cols <= MAX_DECODED) {
        uint32_t id0 = s.ids[0];
        double *mv[1] = {v};
        long m = blk_decode_multi(blk, len, info.n_rows, ts, &id0, 1, mv);
        CHECK(m == (long)info.n_rows || m == -EBADMSG);
        if (m > 0)
            for (size_t i = 0; i < info.n_rows; i++)
                CHECK(same(v[i], s.vals[0][i]));
        if (info.n_rows > 1)
            CHECK(blk_decode_multi(blk, len, info.n_rows - 1, ts, &id0, 1, mv) == -EBADMSG);
    }
    /* an id no encoder would pair with these others: absent, all NaN */
    r = blk_decode_series(blk, len, 0xfffffff0u, v);
    CHECK(r == 0 || r == 1 || r == -EBADMSG);
    if (r == 0)
        for (size_t i = 0; i < info.n_rows; i++)
            CHECK(isnan(v[i]));
    for (int i = 0; i < KEEP; i++)
        free(s.vals[i]);
    free(ts);
    free(v);
}

/* ---- the round trip ---- */

/* Reads the input cyclically, so that a short input can fill a long block. */
struct cur {
    const uint8_t *p;
    size_t n, at;
};

static uint64_t take(struct cur *c, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)(c->n ? c->p[c->at++ % c->n] : 0) << (8 * i);
    }
    return v;
}

static double from_bits(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

static double scaled(int64_t k, unsigned d)
{
    return d ? (double)k / p10[d] : (double)k;
}

static void roundtrip(const uint8_t *data, size_t size, unsigned fmt)
{
    static const double special[] = {0.0,    -0.0,     INFINITY, -INFINITY,  1.7976931348623157e308,
                                     5e-324, 2.2e-308, 0x1p53,   0x1p53 + 2, 0x1p62,
                                     0x1p63, -0x1p63,  0.1,      1e15,       4096};
    enum { COLS = 6 };
    struct cur c = {data, size, 0};
    size_t n_rows = 1 + (size_t)(take(&c, 2) % 700), n_cols = take(&c, 1) % (COLS + 1);
    const size_t stride = n_rows;
    struct blk_column cols[COLS];
    unsigned dec[COLS];
    int64_t k[COLS] = {0};
    int64_t *ts = malloc(n_rows * sizeof(*ts)), *dts = malloc(n_rows * sizeof(*ts));
    double *vals = malloc(stride * COLS * sizeof(double)), *v = malloc(n_rows * sizeof(double));
    struct bytebuf out = {0};
    struct blk_info info;

    if (!ts || !dts || !vals || !v)
        abort();
    ts[0] = (int64_t)take(&c, 8);
    for (size_t i = 0; i < n_cols; i++) {
        dec[i] = (unsigned)(take(&c, 1) % 10);
        cols[i] = (struct blk_column){
            .series_id = (uint32_t)(i * 0x9e3779b9u), .decimals = -1, .values = vals + i * stride};
    }
    for (size_t r = 0; r < n_rows; r++) {
        if (r > 0) {
            /* strictly increasing; a row that would overflow ends the block */
            uint64_t op = take(&c, 1), step = op & 0x80 ? take(&c, 4) : op % 8;
            if (ts[r - 1] > INT64_MAX - 1 - (int64_t)step) {
                n_rows = r;
                break;
            }
            ts[r] = ts[r - 1] + 1 + (int64_t)step;
        }
        for (size_t i = 0; i < n_cols; i++) {
            double *cell = vals + i * stride + r, prev = r ? cell[-1] : 0;
            uint64_t op = take(&c, 1);
            switch (op & 7) {
            case 0:
                *cell = NAN;
                break;
            case 1:
                *cell = isnan(prev) ? 1 : prev;
                break;
            case 2: /* a small step of the column's scaled integer */
                k[i] = (int64_t)((uint64_t)k[i] + (uint64_t)((int64_t)(op >> 3) - 16));
                *cell = scaled(k[i], dec[i]);
                break;
            case 3:
                *cell = from_bits(take(&c, 8)); /* any bits: NaNs are absent */
                break;
            case 4:
                *cell = special[(op >> 3) % (sizeof(special) / sizeof(special[0]))];
                break;
            case 5:
                k[i] = (int16_t)take(&c, 2);
                *cell = scaled(k[i], dec[i]);
                break;
            case 6:
                *cell = op & 8 ? -0.0 : scaled(k[i], dec[i]);
                break;
            default:
                k[i] = (int64_t)take(&c, 8) >> (op >> 3);
                *cell = scaled(k[i], dec[i]);
                break;
            }
        }
    }
    if (fmt == 0)
        CHECK(blk_encode(ts, n_rows, cols, n_cols, &out) == 0);
    else if (fmt & 1)
        CHECK(blk_encode_as(ts, n_rows, cols, n_cols, 1, 0, &out) == 0);
    else
        CHECK(blk_encode_as(ts, n_rows, cols, n_cols, 2, (fmt >> 1) - 1, &out) == 0);
    CHECK(out.buf[3] == (fmt & 1 ? 1 : 2));
    CHECK(blk_info(out.buf, out.len, &info) == 0);
    CHECK(info.n_rows == n_rows && info.n_cols == n_cols);
    CHECK(blk_decode_ts(out.buf, out.len, dts) == 0);
    CHECK(memcmp(ts, dts, n_rows * sizeof(*ts)) == 0);
    for (size_t i = 0; i < n_cols; i++) {
        CHECK(blk_decode_series(out.buf, out.len, cols[i].series_id, v) == 1);
        for (size_t r = 0; r < n_rows; r++)
            CHECK(same(v[r], cols[i].values[r]));
    }
    CHECK(blk_decode_series(out.buf, out.len, 12345, v) == 0);
    bytebuf_done(&out);
    free(ts);
    free(dts);
    free(vals);
    free(v);
}

/* ---- checksums recomputed ---- */

static bool varint(const uint8_t *b, size_t n, size_t *at, uint64_t *v)
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

static void put_crc(uint8_t *b, size_t from, size_t to)
{
    uint32_t crc = blk_crc32c(b + from, to - from);

    for (int i = 0; i < 4; i++)
        b[to + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

/* Version 2's CRCs where its header and directory place them (codec.c's
 * layout, written again here), as far as the bytes go. */
static void fix_v2(uint8_t *b, size_t n)
{
    uint64_t v[5], gap, clen, chunk;
    size_t at = 5, dir, pos, from, acc = 0;

    if (n < 5 || b[4] > 63)
        return;
    chunk = (uint64_t)1 << b[4];
    for (int i = 0; i < 5; i++) /* n_rows n_cols first_ts span ts_len */
        if (!varint(b, n, &at, &v[i]))
            return;
    if (v[4] > n - at)
        return;
    at += (size_t)v[4];
    dir = at;
    for (uint64_t i = 0; i < v[1]; i++)
        if (!varint(b, n, &at, &gap) || !varint(b, n, &at, &clen))
            return;
    if (n - at < 4)
        return;
    put_crc(b, 0, at);
    pos = from = at + 4;
    at = dir;
    for (uint64_t i = 0; i < v[1]; i++) {
        varint(b, n, &at, &gap); /* read above */
        varint(b, n, &at, &clen);
        if (clen > n)
            return;
        if (acc && acc + 1 + clen > chunk) {
            if (pos > n - 4)
                return;
            put_crc(b, from, pos);
            pos = from = pos + 4;
            acc = 0;
        }
        pos += 1 + (size_t)clen;
        acc += 1 + (size_t)clen;
        if (pos > n)
            return;
    }
    if (v[1] && n - pos >= 4)
        put_crc(b, from, pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *blk;
    size_t len;

    if (size < 1)
        return 0;
    len = size - 1;
    /* an exact-size copy: a read past the block is a read past the allocation */
    blk = malloc(len ? len : 1);
    if (!blk)
        return 0;
    memcpy(blk, data + 1, len);
    if ((data[0] & 1) && len >= 4) {
        if (blk[3] == 2)
            fix_v2(blk, len);
        else
            put_crc(blk, 0, len - 4);
    }
    decode(blk, len);
    if (data[0] & 2)
        roundtrip(data + 1, len, data[0] >> 2);
    free(blk);
    return 0;
}
