/*
 * The block codec of codec.h. Byte layout (varint: LEB128, at most 10 bytes;
 * zz: a zigzag-mapped varint; fixed-width integers little-endian; crc32c:
 * CRC-32C, as blk_crc32c()):
 *
 *   block v2 := "amb" version(u8 2) u8 chunk_log2 (0..63)
 *              varint n_rows (1..65536) varint n_cols (0..65536)
 *              zz first_ts  varint (last_ts - first_ts)
 *              varint ts_len  ints[n_rows, k0 = first_ts] (ts_len bytes)
 *              entry * n_cols
 *              u32 crc32c of everything before (the header CRC)
 *              chunk ... (the columns, in the entries' order, grouped)
 *   entry   := varint gap  varint len: the series id (gap for the first entry,
 *              the previous id + 1 + gap after it: ids strictly increase) and
 *              its column's payload length
 *   column  := u8 kind  payload (len bytes)
 *              kind: bits 0-3 the value encoding, bits 4-5 the presence
 *   chunk   := column * k  u32 crc32c of those columns' bytes: a chunk takes
 *              the next column unless that would make it more than
 *              2^chunk_log2 bytes, so a chunk is a single column or at most
 *              2^chunk_log2 bytes of them; the columns with their CRCs fill
 *              the block to its last byte
 *   block v1 := "amb" version(u8 1) varint n_rows varint n_cols zz first_ts
 *              varint (last_ts - first_ts) varint ts_len ints[n_rows, first_ts]
 *              (varint series_id  u8 kind  varint len  payload) * n_cols,
 *              in the encoder's order
 *              u32 crc32c of everything before
 *
 * Version 2 is version 1 rearranged so that a reader of one series checks
 * and walks a few bytes a column, not the block: the directory gives where
 * each column lies (its offset is the sum of the lengths before it, with
 * the CRCs the chunk rule puts between them), the header CRC vouches for
 * the directory, and the series' chunk CRC for its column. A CRC per column
 * would cost 4 bytes a column (0.7 % of an hour block of 200 series); in
 * chunks of 2 KiB (BLK_CHUNK_LOG2), what a reader checks beside its column is
 * at most 2 KiB, and the CRCs cost one in 2 KiB. The chunk size is in the
 * header, so the encoder may change it without a new version. blk_encode()
 * writes version 2; the kept version 1 encoder (blk_encode_as()) is there for
 * the tests.
 *
 *   payload := presence, then the n present values (in row order)
 *     presence ALL    : nothing (n = n_rows)
 *              NONE   : nothing, and nothing else (encoding 0, len 0)
 *              BITMAP : ceil(n_rows / 8) bytes, bit i (LSB first) = row i present
 *              RUNS   : varint n_runs, n_runs * varint length: runs of present,
 *                       absent, present... rows (the first may be empty)
 *     values   CONST_F64 : the value's 8 bytes
 *              CONST_INT : zz k; every value is (double)k
 *              SCALED    : u8 (d | 0x10 when -0.0 occurs), zz k0, ints[n, k0];
 *                          value i = (double)k_i / 10^d, d = 0..9; then when
 *                          flagged, varint count and count varint gaps: the
 *                          positions (among the n) of -0.0, where k_i = 0
 *              XOR       : the Gorilla bit stream below, padded to a byte
 *   ints[n, k0] := u8 line  zz g (not 0), then unless line, ceil(n / 128)
 *              frames of q_i; k_i = k0 + q_i * g, with q_i = i when line
 *   frame   := varint (w << 4 | layout << 2 | transform)  zz ref  ...
 *              DENSE : cnt residuals - ref in w bits each (w <= 64), packed
 *                      LSB first in ceil(cnt * w / 8) bytes
 *              BITMAP: ceil(cnt / 8) bytes of "residual is not 0", then the
 *                      non-zero residuals - ref packed in w bits
 *              LIST  : varint m, m increasing positions in 7 bits each
 *                      (packed, byte-padded), then m non-zero residuals - ref
 *              transform: the residual r_i gives q_i = r_i (RAW), q_{i-1} + r_i
 *                      (DELTA), 2 q_{i-1} - q_{i-2} + r_i (DELTA2), where
 *                      q_{-1} = -1, q_{-2} = -2: the encoder picks g as the
 *                      gcd of k_i - k0 signed like the first change, so that a
 *                      regular clock or a steady counter has q_i = i.
 *   All integer arithmetic is modulo 2^64: any bits decode to some integers,
 *   and the decoder is the exact inverse of the encoder.
 *
 * XOR stream (bits LSB first): the first value's 64 bits; then per value, x =
 * its bits ^ the previous value's: "0" when x = 0; "1" "0" and the bits of
 * the previous window when x fits in it; "1" "1", 6 bits of leading zeros,
 * 6 bits of (length - 1), and the length meaningful bits.
 *
 * The encoder picks, per column, CONST when every present value is the same
 * double, else SCALED at the fewest decimals that reproduce every value (the
 * check is the decoder's own expression), else XOR; and per frame of 128
 * values the transform and layout that take the fewest bits.
 *
 * Pure functions, no I/O; the only global state is the CRC tables, built once
 * (pthread_once), and the CRC implementation, picked on first use (an atomic
 * pointer); every function may be called from any thread.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define BLK_V1   1 /* still read: databases hold such blocks */
#define BLK_V2   2 /* what blk_encode() writes */
#define FRAME    128
#define MAX_D    9
#define NEG_ZERO ((uint64_t)1 << 63) /* the bits of -0.0 */

/* SCALED's first byte: d, and whether a list of -0.0 positions follows */
#define SCALED_NEG_ZEROS 0x10

enum { ENC_CONST_F64 = 0, ENC_CONST_INT = 1, ENC_SCALED = 2, ENC_XOR = 3 };
enum { PRES_ALL = 0, PRES_NONE = 1, PRES_BITMAP = 2, PRES_RUNS = 3 };
enum { T_RAW = 0, T_DELTA = 1, T_DELTA2 = 2, T_COUNT = 3 };
enum { INTS_FRAMES = 0, INTS_LINE = 1 };
enum { L_DENSE = 0, L_BITMAP = 1, L_LIST = 2 }; /* frame layouts */
#define POS_BITS 7                              /* a position in a frame of 128 */

typedef double v2d __attribute__((vector_size(16))); /* SSE2 on x86-64 */

static const double p10[MAX_D + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* ---------------------------------------------------------------- helpers */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void store64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

static inline uint64_t zz_enc(uint64_t v)
{
    return (v << 1) ^ (uint64_t)((int64_t)v >> 63);
}

static inline uint64_t zz_dec(uint64_t v)
{
    return (v >> 1) ^ (0 - (v & 1));
}

/* bits needed for v (0 for 0) */
static inline unsigned bits_of(uint64_t v)
{
    return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

static inline unsigned varint_len(uint64_t v)
{
    return (bits_of(v) + 6) / 7 + (v == 0);
}

static inline uint64_t dbits(double v)
{
    uint64_t u;

    memcpy(&u, &v, 8);
    return u;
}

static inline double bitsd(uint64_t u)
{
    double v;

    memcpy(&v, &u, 8);
    return v;
}

static inline uint64_t mask_of(unsigned w)
{
    return w >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w) - 1;
}

/* ------------------------------------------------------------------ CRC */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
/*
 * SSE4.2's crc32 computes exactly this CRC (reflected Castagnoli), 8 bytes an
 * instruction, but each waits for the one before (3 cycles) while the CPU
 * could start one a cycle: three streams over consecutive pieces of n bytes
 * run side by side, then combine. The CRC is linear: the register after
 * A B is the register after A moved past |B| zero bytes, xor B's register
 * from 0; crc_long and crc_short move a register past CRC_LONG or CRC_SHORT
 * zero bytes in four lookups (the technique of Intel's crc32c-pcl, with
 * tables instead of a carry-less multiply).
 */
#define CRC_LONG  1024 /* large blocks */
#define CRC_SHORT 64   /* 192 bytes a round: gains from about 200 bytes */

static uint32_t crc_long[4][256], crc_short[4][256];

/* The table of the register moved past n zero bytes, by linearity from the
 * 32 single-bit registers. */
static void crc_zeros_init(uint32_t z[4][256], size_t n)
{
    uint32_t basis[32];

    for (unsigned b = 0; b < 32; b++) {
        uint32_t c = (uint32_t)1 << b;
        for (size_t i = 0; i < n; i++)
            c = (c >> 8) ^ crc_tab[0][c & 0xff];
        basis[b] = c;
    }
    for (unsigned t = 0; t < 4; t++)
        for (unsigned v = 0; v < 256; v++) {
            uint32_t c = 0;
            for (unsigned b = 0; b < 8; b++)
                if (v >> b & 1)
                    c ^= basis[8 * t + b];
            z[t][v] = c;
        }
}
#endif

static void crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0 - (c & 1)));
        crc_tab[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
#if defined(__x86_64__)
    crc_zeros_init(crc_long, CRC_LONG);
    crc_zeros_init(crc_short, CRC_SHORT);
#endif
}

/* Slice-by-8, portable: the fallback where the CPU lacks the crc32
 * instruction, and the reference the hardware path is tested against. */
uint32_t blk_crc32c_sw(const uint8_t *buf, size_t len)
{
    uint32_t c = 0xffffffffu;

    pthread_once(&crc_once, crc_init);
    while (len >= 8) {
        uint64_t w = load64(buf) ^ c;
        c = crc_tab[7][w & 0xff] ^ crc_tab[6][(w >> 8) & 0xff] ^ crc_tab[5][(w >> 16) & 0xff] ^
            crc_tab[4][(w >> 24) & 0xff] ^ crc_tab[3][(w >> 32) & 0xff] ^
            crc_tab[2][(w >> 40) & 0xff] ^ crc_tab[1][(w >> 48) & 0xff] ^ crc_tab[0][w >> 56];
        buf += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ crc_tab[0][(c ^ *buf++) & 0xff];
    return c ^ 0xffffffffu;
}

#if defined(__x86_64__)
static inline uint32_t crc_zeros(const uint32_t z[4][256], uint32_t c)
{
    return z[0][c & 0xff] ^ z[1][(c >> 8) & 0xff] ^ z[2][(c >> 16) & 0xff] ^ z[3][c >> 24];
}

/* c over p[0..3n), n a multiple of 8, z the tables for n. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc_3way(uint64_t c, const uint8_t *p, size_t n, const uint32_t z[4][256])
{
    uint64_t c1 = 0, c2 = 0;

    for (size_t i = 0; i < n; i += 8) {
        c = _mm_crc32_u64(c, load64(p + i));
        c1 = _mm_crc32_u64(c1, load64(p + n + i));
        c2 = _mm_crc32_u64(c2, load64(p + 2 * n + i));
    }
    c = crc_zeros(z, (uint32_t)c) ^ c1;
    return crc_zeros(z, (uint32_t)c) ^ c2;
}

/* Only this code is compiled for SSE4.2, and it runs only where the CPU has
 * it (crc_pick() checks once). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint8_t *buf, size_t len)
{
    uint64_t c = 0xffffffffu;
    uint32_t c32;

    for (; len >= 3 * CRC_LONG; buf += 3 * CRC_LONG, len -= 3 * CRC_LONG)
        c = crc_3way(c, buf, CRC_LONG, crc_long);
    for (; len >= 3 * CRC_SHORT; buf += 3 * CRC_SHORT, len -= 3 * CRC_SHORT)
        c = crc_3way(c, buf, CRC_SHORT, crc_short);
    for (; len >= 8; buf += 8, len -= 8)
        c = _mm_crc32_u64(c, load64(buf));
    c32 = (uint32_t)c;
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, buf, 4);
        c32 = _mm_crc32_u32(c32, w);
        buf += 4;
        len -= 4;
    }
    while (len--)
        c32 = _mm_crc32_u8(c32, *buf++);
    return c32 ^ 0xffffffffu;
}
#endif

typedef uint32_t (*crc_fn)(const uint8_t *buf, size_t len);

static uint32_t crc_pick(const uint8_t *buf, size_t len);

/* The implementation, chosen on the first call; threads racing on that call
 * all store the same pointer. */
static _Atomic(crc_fn) crc_impl = crc_pick;

static uint32_t crc_pick(const uint8_t *buf, size_t len)
{
    crc_fn f = blk_crc32c_sw;

    /* the hardware path reads the tables without pthread_once: the release
     * store publishes them with the pointer */
    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        f = crc32c_hw;
#endif
    atomic_store_explicit(&crc_impl, f, memory_order_release);
    return f(buf, len);
}

uint32_t blk_crc32c(const uint8_t *buf, size_t len)
{
    return atomic_load_explicit(&crc_impl, memory_order_acquire)(buf, len);
}

/* ------------------------------------------------------------- bytebuf */

void bytebuf_done(struct bytebuf *b)
{
    if (!b)
        return;
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

/* Room for `more` bytes after len. */
static int bb_reserve(struct bytebuf *b, size_t more)
{
    size_t cap;
    uint8_t *p;

    if (b->cap - b->len >= more)
        return 0;
    if (more > SIZE_MAX / 2 - b->len)
        return -ENOMEM;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < more)
        cap *= 2;
    p = realloc(b->buf, cap);
    if (!p)
        return -ENOMEM;
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* The put_* helpers write into reserved space. */
static inline void put_u8(struct bytebuf *b, uint8_t v)
{
    b->buf[b->len++] = v;
}

static inline void put_varint(struct bytebuf *b, uint64_t v)
{
    while (v >= 0x80) {
        b->buf[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->buf[b->len++] = (uint8_t)v;
}

static int append(struct bytebuf *b, const void *p, size_t n)
{
    if (bb_reserve(b, n) < 0)
        return -ENOMEM;
    if (n)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

/* Bit writer, LSB first, into reserved space. */
struct bitw {
    struct bytebuf *b;
    uint64_t acc;
    unsigned nb; /* bits in acc, < 64 */
};

static inline void bw_put(struct bitw *w, uint64_t v, unsigned n)
{
    if (n == 0)
        return;
    w->acc |= v << w->nb;
    if (w->nb + n >= 64) {
        unsigned used = 64 - w->nb;
        store64(w->b->buf + w->b->len, w->acc);
        w->b->len += 8;
        w->acc = used < 64 ? v >> used : 0;
        w->nb = w->nb + n - 64;
    } else {
        w->nb += n;
    }
}

static inline void bw_flush(struct bitw *w)
{
    while (w->nb > 0) {
        w->b->buf[w->b->len++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nb = w->nb > 8 ? w->nb - 8 : 0;
    }
    w->acc = 0;
}

/* ----------------------------------------------------------- int column */

/* What one frame costs with one transform, in its cheapest layout. */
struct fcost {
    uint64_t bits;
    unsigned w, layout;
    uint64_t ref;
};

static void frame_cost(const uint64_t *r, size_t cnt, struct fcost *c)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN, lo_nz = INT64_MAX, hi_nz = INT64_MIN;
    size_t nnz = 0;
    uint64_t dense, head, bitmap, list;
    unsigned w, w_nz;

    for (size_t j = 0; j < cnt; j++) {
        int64_t v = (int64_t)r[j];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (v != 0) {
            nnz++;
            lo_nz = v < lo_nz ? v : lo_nz;
            hi_nz = v > hi_nz ? v : hi_nz;
        }
    }
    w = bits_of((uint64_t)hi - (uint64_t)lo);
    dense = (uint64_t)w * cnt + 8 * varint_len(zz_enc((uint64_t)lo)) + 8 * varint_len(w << 4);
    *c = (struct fcost){.bits = dense, .w = w, .layout = L_DENSE, .ref = (uint64_t)lo};
    if (nnz == cnt || w == 0)
        return;
    w_nz = bits_of((uint64_t)hi_nz - (uint64_t)lo_nz);
    head =
        (uint64_t)w_nz * nnz + 8 * varint_len(zz_enc((uint64_t)lo_nz)) + 8 * varint_len(w_nz << 4);
    bitmap = head + (cnt + 7) / 8 * 8;
    list = head + 8 * varint_len(nnz) + (nnz * POS_BITS + 7) / 8 * 8;
    if (bitmap < c->bits)
        *c = (struct fcost){.bits = bitmap, .w = w_nz, .layout = L_BITMAP, .ref = (uint64_t)lo_nz};
    if (list < c->bits)
        *c = (struct fcost){.bits = list, .w = w_nz, .layout = L_LIST, .ref = (uint64_t)lo_nz};
}

/* Appends ints[n, k0] for k[0..n) (n >= 1): g, then the frames. */
static int enc_ints(const int64_t *k, size_t n, struct bytebuf *out)
{
    uint64_t g = 0, q1 = (uint64_t)-1, q2 = (uint64_t)-2;
    int sign = 0, shift;
    bool any_min = false;
    uint64_t rs[T_COUNT][FRAME];

    for (size_t i = 1; i < n; i++) {
        int64_t s = (int64_t)((uint64_t)k[i] - (uint64_t)k[0]);
        uint64_t a, b;
        if (s == INT64_MIN) {
            any_min = true;
            break;
        }
        if (s == 0)
            continue;
        if (!sign)
            sign = s < 0 ? -1 : 1;
        a = s < 0 ? (uint64_t)-s : (uint64_t)s;
        b = g;
        while (b) { /* Euclid: g = gcd(a, g) */
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        g = a;
        if (g == 1 && sign)
            break;
    }
    if (any_min || g == 0) {
        g = 1;
        sign = 1;
    }
    {
        int64_t gs = sign < 0 ? -(int64_t)g : (int64_t)g;
        bool line = true;
        /* a straight line (a regular clock, a counter at a constant rate):
         * q_i = i, nothing more to say */
        for (size_t i = 1; i < n && line; i++)
            line = (uint64_t)k[i] - (uint64_t)k[0] == (uint64_t)gs * i;
        if (bb_reserve(out, 11) < 0)
            return -ENOMEM;
        put_u8(out, line ? INTS_LINE : INTS_FRAMES);
        put_varint(out, zz_enc((uint64_t)gs));
        if (line)
            return 0;
        shift = (g & (g - 1)) == 0 ? __builtin_ctzll(g) : -1;
        g = (uint64_t)gs;
    }

    for (size_t s = 0; s < n; s += FRAME) {
        size_t cnt = n - s < FRAME ? n - s : FRAME;
        struct fcost best, c;
        int bt = 0;
        struct bitw bw;

        for (size_t j = 0; j < cnt; j++) {
            int64_t d = (int64_t)((uint64_t)k[s + j] - (uint64_t)k[0]);
            uint64_t q;
            if (shift >= 0) /* |g| a power of two: an exact multiple shifts exactly */
                q = (uint64_t)(d >> shift) * (sign < 0 ? (uint64_t)-1 : 1);
            else
                q = (uint64_t)(d / (int64_t)g);
            rs[T_RAW][j] = q;
            rs[T_DELTA][j] = q - q1;
            rs[T_DELTA2][j] = q - 2 * q1 + q2;
            q2 = q1;
            q1 = q;
        }
        frame_cost(rs[0], cnt, &best);
        for (int t = 1; t < T_COUNT; t++) {
            frame_cost(rs[t], cnt, &c);
            if (c.bits < best.bits) {
                best = c;
                bt = t;
            }
        }
        /* headers, positions or bitmap, and at most 64 bits a value */
        if (bb_reserve(out, 64 + FRAME * 8 + FRAME * 8) < 0)
            return -ENOMEM;
        put_varint(out, (uint64_t)best.w << 4 | (uint64_t)best.layout << 2 | (uint64_t)bt);
        put_varint(out, zz_enc(best.ref));
        bw = (struct bitw){.b = out};
        if (best.layout == L_LIST) {
            size_t nnz = 0;
            for (size_t j = 0; j < cnt; j++)
                nnz += rs[bt][j] != 0;
            put_varint(out, nnz);
            for (size_t j = 0; j < cnt; j++)
                if (rs[bt][j])
                    bw_put(&bw, j, POS_BITS);
            bw_flush(&bw);
            for (size_t j = 0; j < cnt; j++)
                if (rs[bt][j])
                    bw_put(&bw, rs[bt][j] - best.ref, best.w);
        } else if (best.layout == L_BITMAP) {
            uint8_t bm[FRAME / 8] = {0};
            for (size_t j = 0; j < cnt; j++)
                if (rs[bt][j])
                    bm[j / 8] |= (uint8_t)(1u << (j % 8));
            memcpy(out->buf + out->len, bm, (cnt + 7) / 8);
            out->len += (cnt + 7) / 8;
            for (size_t j = 0; j < cnt; j++)
                if (rs[bt][j])
                    bw_put(&bw, rs[bt][j] - best.ref, best.w);
        } else {
            for (size_t j = 0; j < cnt; j++)
                bw_put(&bw, rs[bt][j] - best.ref, best.w);
        }
        bw_flush(&bw);
    }
    return 0;
}

/* ------------------------------------------------------------- reading */

struct rd {
    const uint8_t *p, *end;
    const uint8_t *limit; /* end of the whole block: reads up to here are in bounds */
};

static inline int rd_varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned sh = 0; sh < 70; sh += 7) {
        uint8_t b;
        if (r->p >= r->end)
            return -EBADMSG;
        b = *r->p++;
        if (sh == 63 && b > 1)
            return -EBADMSG;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EBADMSG;
}

static inline int rd_zz(struct rd *r, uint64_t *v)
{
    uint64_t x;

    if (rd_varint(r, &x) < 0)
        return -EBADMSG;
    *v = zz_dec(x);
    return 0;
}

/* n bits at bit offset pos of p[0..nbytes), the caller having checked that
 * pos + n <= 8 * nbytes; n <= 64. */
static inline uint64_t getbits(const uint8_t *p, size_t nbytes, size_t pos, unsigned n)
{
    size_t b = pos >> 3;
    unsigned sh = pos & 7;
    uint64_t v;

    if (n == 0)
        return 0;
    if (b + 9 <= nbytes) {
        v = load64(p + b) >> sh;
        if (sh + n > 64)
            v |= (uint64_t)p[b + 8] << (64 - sh);
    } else {
        uint8_t tmp[9] = {0};
        memcpy(tmp, p + b, nbytes - b < 9 ? nbytes - b : 9);
        v = load64(tmp) >> sh;
        if (sh + n > 64)
            v |= (uint64_t)tmp[8] << (64 - sh);
    }
    return v & mask_of(n);
}

/* cnt values of w bits from p (avail: bytes readable from p, at least the
 * packed size) into out. */
static void unpack(const uint8_t *p, size_t avail, unsigned w, size_t cnt, uint64_t *out)
{
    size_t bytes = (cnt * w + 7) / 8;
    uint8_t pad[FRAME * 8 + 16];
    uint64_t m = mask_of(w);

    if (w == 0) {
        memset(out, 0, cnt * sizeof(*out));
        return;
    }
    if (avail < bytes + 9) {
        memcpy(pad, p, bytes);
        memset(pad + bytes, 0, 16);
        p = pad;
    }
    if (w <= 57) {
        for (size_t j = 0; j < cnt; j++) {
            size_t pos = j * w;
            out[j] = (load64(p + (pos >> 3)) >> (pos & 7)) & m;
        }
    } else {
        for (size_t j = 0; j < cnt; j++) {
            size_t pos = j * w;
            unsigned sh = pos & 7;
            uint64_t v = load64(p + (pos >> 3)) >> sh;
            if (sh + w > 64)
                v |= (uint64_t)p[(pos >> 3) + 8] << (64 - sh);
            out[j] = v & m;
        }
    }
}

/* Decoder state of ints[n, k0]. */
struct intdec {
    uint64_t k0, g, q1, q2;
    size_t left, at;
    bool line; /* k_i = k0 + i g, no frames */
};

static int intdec_init(struct intdec *d, struct rd *r, uint64_t k0, size_t n)
{
    if (r->p >= r->end || *r->p > INTS_LINE)
        return -EBADMSG;
    d->line = *r->p++ == INTS_LINE;
    if (rd_zz(r, &d->g) < 0 || d->g == 0)
        return -EBADMSG;
    d->at = 0;
    d->k0 = k0;
    d->q1 = (uint64_t)-1;
    d->q2 = (uint64_t)-2;
    d->left = n;
    return 0;
}

static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((x * 0x0101010101010101u) >> 56);
}

/* Set bits in p[0..n) (bytes). */
static size_t popcount_bytes(const uint8_t *p, size_t n)
{
    size_t c = 0, i = 0;
    uint8_t tail[8] = {0};

    for (; i + 8 <= n; i += 8)
        c += popcount64(load64(p + i));
    memcpy(tail, p + i, n - i);
    return c + popcount64(load64(tail));
}

/* n rows of one residual r, transformed by t (q1, q2: the last two q, moved
 * along) into k[0..n) = k0 + q * g. k0 + q * g is linear in q modulo 2^64, so
 * a run steps k by a constant (RAW: none; DELTA: r * g) or by a constant
 * change of step (DELTA2), exactly as the per-row expressions would. */
static inline void run_of(unsigned t, uint64_t r, uint64_t k0, uint64_t g, uint64_t *q1,
                          uint64_t *q2, uint64_t *k, size_t n)
{
    uint64_t a = *q1, b = *q2, v = k0 + a * g, step = r * g, dq = a - b, dv = dq * g;

    if (n == 0)
        return;
    switch (t) {
    case T_RAW:
        v = k0 + step;
        for (size_t i = 0; i < n; i++)
            k[i] = v;
        b = n >= 2 ? r : a;
        a = r;
        break;
    case T_DELTA:
        for (size_t i = 0; i < n; i++) {
            v += step;
            k[i] = v;
        }
        a += n * r;
        b = a - r;
        break;
    default:
        /* q_i - q_{i-1} = dq + i r */
        for (size_t i = 0; i < n; i++) {
            dv += step;
            v += dv;
            k[i] = v;
        }
        a += n * dq + r * (n * (n + 1) / 2);
        dq += n * r;
        b = a - dq;
        break;
    }
    *q1 = a;
    *q2 = b;
}

/* Decodes the next frame into k[0..cnt); returns cnt, or -EBADMSG. */
static int intdec_frame(struct intdec *d, struct rd *r, uint64_t *k)
{
    size_t cnt = d->left < FRAME ? d->left : FRAME, nv = cnt, bytes;
    uint64_t hdr, ref, q1 = d->q1, q2 = d->q2, k0 = d->k0, g = d->g;
    uint64_t packed[FRAME];
    uint8_t pos[FRAME];
    unsigned w, t, layout;

    if (d->line) {
        for (size_t i = 0; i < cnt; i++)
            k[i] = k0 + (d->at + i) * g;
        d->at += cnt;
        d->left -= cnt;
        return (int)cnt;
    }
    if (rd_varint(r, &hdr) < 0 || rd_zz(r, &ref) < 0)
        return -EBADMSG;
    t = hdr & 3;
    layout = (hdr >> 2) & 3;
    if (t >= T_COUNT || layout > L_LIST || (hdr >> 4) > 64)
        return -EBADMSG;
    w = (unsigned)(hdr >> 4);
    if (layout == L_BITMAP) {
        size_t bmb = (cnt + 7) / 8;
        if ((size_t)(r->end - r->p) < bmb)
            return -EBADMSG;
        if ((cnt % 8) && (r->p[bmb - 1] >> (cnt % 8)))
            return -EBADMSG;
        nv = 0;
        for (size_t i = 0; i < bmb; i += 8) {
            uint8_t word[8] = {0};
            uint64_t m;
            memcpy(word, r->p + i, bmb - i < 8 ? bmb - i : 8);
            for (m = load64(word); m; m &= m - 1)
                pos[nv++] = (uint8_t)(i * 8 + (unsigned)__builtin_ctzll(m));
        }
        r->p += bmb;
    } else if (layout == L_LIST) {
        uint64_t m;
        if (rd_varint(r, &m) < 0 || m == 0 || m > cnt ||
            (size_t)(r->end - r->p) < (m * POS_BITS + 7) / 8)
            return -EBADMSG;
        nv = (size_t)m;
        unpack(r->p, (size_t)(r->limit - r->p), POS_BITS, nv, packed);
        for (size_t i = 0; i < nv; i++) {
            if (packed[i] >= cnt || (i && packed[i] <= packed[i - 1]))
                return -EBADMSG;
            pos[i] = (uint8_t)packed[i];
        }
        r->p += (nv * POS_BITS + 7) / 8;
    }
    bytes = (nv * w + 7) / 8;
    if ((size_t)(r->end - r->p) < bytes)
        return -EBADMSG;
    if (layout == L_LIST || (layout == L_DENSE && w == 0)) {
        /* runs of one residual (0, or ref in a frame of width 0) between
         * the listed positions: written run by run, without zeroing k and
         * transforming it in a second pass */
        size_t at = 0;
        if (layout == L_LIST)
            unpack(r->p, (size_t)(r->limit - r->p), w, nv, packed);
        else
            nv = 0;
        r->p += bytes;
        for (size_t i = 0; i < nv; i++) {
            run_of(t, 0, k0, g, &q1, &q2, k + at, pos[i] - at);
            run_of(t, packed[i] + ref, k0, g, &q1, &q2, k + pos[i], 1);
            at = pos[i] + 1u;
        }
        run_of(t, layout == L_LIST ? 0 : ref, k0, g, &q1, &q2, k + at, cnt - at);
        d->q1 = q1;
        d->q2 = q2;
        d->left -= cnt;
        return (int)cnt;
    }
    if (layout != L_DENSE) {
        /* residuals: 0, and ref + the packed values at the listed positions */
        unpack(r->p, (size_t)(r->limit - r->p), w, nv, packed);
        memset(k, 0, cnt * sizeof(*k));
        for (size_t i = 0; i < nv; i++)
            k[pos[i]] = packed[i] + ref;
        ref = 0;
    } else {
        unpack(r->p, (size_t)(r->limit - r->p), w, nv, k);
    }
    r->p += bytes;
    /* undo the transform and the scaling in one pass */
    switch (t) {
    case T_RAW:
        q2 = cnt >= 2 ? k[cnt - 2] + ref : q1;
        q1 = k[cnt - 1] + ref;
        for (size_t i = 0; i < cnt; i++)
            k[i] = k0 + (k[i] + ref) * g;
        break;
    case T_DELTA:
        for (size_t i = 0; i < cnt; i++) {
            q2 = q1;
            q1 += k[i] + ref;
            k[i] = k0 + q1 * g;
        }
        break;
    default:
        for (size_t i = 0; i < cnt; i++) {
            uint64_t q = 2 * q1 - q2 + k[i] + ref;
            q2 = q1;
            q1 = q;
            k[i] = k0 + q * g;
        }
        break;
    }
    d->q1 = q1;
    d->q2 = q2;
    d->left -= cnt;
    return (int)cnt;
}

/* ---------------------------------------------------------- block header */

struct hdr {
    unsigned version;
    size_t n_rows, n_cols;
    int64_t first, last;
    const uint8_t *blk, *blk_end;
    const uint8_t *ts, *ts_end; /* the ints of the timestamps */
    /* version 1: the columns, up to the CRC; version 2: the first column,
     * known once scan_dir() has checked the directory, and blk_end */
    const uint8_t *cols, *cols_end;
    const uint8_t *dir; /* version 2: the directory (at ts_end) */
    uint64_t chunk;     /* version 2: the chunk size, 2^chunk_log2 */
};

struct col {
    uint32_t id;
    unsigned enc, pres;
    const uint8_t *p, *end;
};

static inline uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The fields both versions share, and for version 1 the CRC of the whole
 * block; version 2's CRCs are checked by scan_dir(), which must follow. */
static int parse_header(const uint8_t *blk, size_t len, struct hdr *h)
{
    struct rd r;
    uint64_t n_rows, n_cols, first, span, ts_len;

    if (!blk || len < 4 + 4 || blk[0] != 'a' || blk[1] != 'm' || blk[2] != 'b')
        return -EBADMSG;
    *h = (struct hdr){.version = blk[3], .blk = blk, .blk_end = blk + len};
    if (h->version == BLK_V1) {
        if (blk_crc32c(blk, len - 4) != load32(blk + len - 4))
            return -EBADMSG;
        r = (struct rd){.p = blk + 4, .end = blk + len - 4, .limit = blk + len};
    } else if (h->version == BLK_V2) {
        if (blk[4] > 63)
            return -EBADMSG;
        h->chunk = (uint64_t)1 << blk[4];
        r = (struct rd){.p = blk + 5, .end = blk + len, .limit = blk + len};
    } else {
        return -EBADMSG;
    }
    if (rd_varint(&r, &n_rows) < 0 || n_rows < 1 || n_rows > BLK_MAX_ROWS ||
        rd_varint(&r, &n_cols) < 0 || n_cols > BLK_MAX_COLS || rd_zz(&r, &first) < 0 ||
        rd_varint(&r, &span) < 0 || rd_varint(&r, &ts_len) < 0 || ts_len > (uint64_t)(r.end - r.p))
        return -EBADMSG;
    /* strictly increasing timestamps: the span is at least n_rows - 1 and
     * first + span does not wrap */
    if (span < n_rows - 1 || span > (uint64_t)INT64_MAX - first)
        return -EBADMSG;
    h->n_rows = (size_t)n_rows;
    h->n_cols = (size_t)n_cols;
    h->first = (int64_t)first;
    h->last = (int64_t)(first + span);
    h->ts = r.p;
    h->ts_end = r.p + ts_len;
    if (h->version == BLK_V1) {
        h->cols = h->ts_end;
        h->cols_end = blk + len - 4;
    } else {
        h->dir = h->ts_end;
        h->cols_end = h->blk_end;
    }
    return 0;
}

/* The kind byte of a column of len bytes of payload. */
static int set_kind(struct col *c, uint8_t kind, uint64_t len)
{
    if (kind >> 6 || (kind & 0xf) > ENC_XOR)
        return -EBADMSG;
    c->enc = kind & 0xf;
    c->pres = (kind >> 4) & 3;
    if (c->pres == PRES_NONE && (c->enc != 0 || len != 0))
        return -EBADMSG;
    return 0;
}

/* Version 1: reads one column header at *p (advancing past its payload). */
static int next_col(const uint8_t **p, const uint8_t *end, struct col *c)
{
    struct rd r = {.p = *p, .end = end};
    uint64_t id, clen;
    uint8_t kind;

    if (rd_varint(&r, &id) < 0 || id > UINT32_MAX || r.p >= r.end)
        return -EBADMSG;
    kind = *r.p++;
    if (rd_varint(&r, &clen) < 0 || clen > (uint64_t)(r.end - r.p) || set_kind(c, kind, clen) < 0)
        return -EBADMSG;
    c->id = (uint32_t)id;
    c->p = r.p;
    c->end = r.p + clen;
    *p = c->end;
    return 0;
}

/* Version 1: walks every column header: the block's framing is consistent. */
static int walk_cols(const struct hdr *h)
{
    const uint8_t *p = h->cols;
    struct col c;

    for (size_t i = 0; i < h->n_cols; i++)
        if (next_col(&p, h->cols_end, &c) < 0)
            return -EBADMSG;
    return p == h->cols_end ? 0 : -EBADMSG;
}

/*
 * Version 2's directory, walked from bytes that no CRC has vouched for yet
 * (the header CRC follows the directory): every step is bounded by the block.
 * The walk also lays out the columns, as the encoder did: offsets count from
 * the first column's kind byte, and a chunk's CRC sits after its last column.
 */
struct dir {
    struct rd r;
    size_t left;    /* entries not read */
    uint64_t next;  /* the least id the next entry may have */
    size_t pos;     /* bytes of columns and CRCs laid out so far */
    size_t room;    /* what they may take at most: the block's length */
    size_t acc, at; /* the current chunk: its bytes so far, its offset */
    uint64_t chunk; /* the most a chunk of several columns holds */
};

/* A directory entry: the column of series id, its kind byte at off, then len
 * bytes of payload, in the chunk that starts at chunk_off. */
struct dent {
    uint32_t id;
    size_t off, len, chunk_off;
};

static void dir_init(struct dir *d, const struct hdr *h)
{
    *d = (struct dir){.r = {.p = h->dir, .end = h->blk_end, .limit = h->blk_end},
                      .left = h->n_cols,
                      .room = (size_t)(h->blk_end - h->blk),
                      .chunk = h->chunk};
}

/*
 * The next entry. A single-series read walks every entry, so this is written
 * for speed (inlined, few unpredictable branches) on what a directory mostly
 * holds: a one-byte gap and a length of one byte (small columns) or two
 * (under 16 KiB), read without a loop or a branch on which; whether a chunk
 * ends here is data too, taken without a branch where the compiler can.
 */
__attribute__((always_inline)) static inline int dir_next(struct dir *d, struct dent *e)
{
    const uint8_t *p = d->r.p;
    uint64_t gap, len;
    size_t close;

    if (d->left == 0)
        return -EBADMSG;
    if (d->r.end - p >= 3 && p[0] < 0x80 && !(p[1] & p[2] & 0x80)) {
        unsigned two = p[1] >> 7;
        gap = p[0];
        len = (p[1] & 0x7fu) | ((uint64_t)p[2] << 7 & (0 - (uint64_t)two));
        d->r.p = p + 2 + two;
    } else if (rd_varint(&d->r, &gap) < 0 || rd_varint(&d->r, &len) < 0) {
        return -EBADMSG;
    }
    /* ids strictly increase by construction: the first is its gap, the
     * others the previous id + 1 + gap */
    if (gap > UINT32_MAX || gap + d->next > UINT32_MAX || len >= d->room - d->pos)
        return -EBADMSG;
    /* a column that would take its chunk past the limit starts the next
     * chunk, after the CRC of the one before */
    close = d->acc != 0 && d->acc + 1 + len > d->chunk;
    if (len + 4 * close >= d->room - d->pos)
        return -EBADMSG;
    d->pos += 4 * close;
    d->at = close ? d->pos : d->at;
    d->acc = close ? 0 : d->acc;
    *e = (struct dent){
        .id = (uint32_t)(d->next + gap), .off = d->pos, .len = (size_t)len, .chunk_off = d->at};
    d->next += gap + 1;
    d->pos += 1 + (size_t)len;
    d->acc += 1 + (size_t)len;
    d->left--;
    return 0;
}

/* Where the columns of ids[] lie (when have): their chunk runs from
 * e.chunk_off to its CRC at crc_off. */
struct loc {
    struct dent e;
    size_t crc_off;
    bool have;
};

/*
 * Version 2: walks the whole directory, checks the header CRC after it and
 * that the columns with their chunks' CRCs fill the rest of the block exactly
 * (then every dent lies inside the block); sets h->cols. On the way, finds
 * the columns of ids[0..n) (ascending; a merge walk, the directory being
 * sorted too) in loc[0..n). Reads the header, the timestamps and the
 * directory (a few bytes a column), not the columns.
 */
static int scan_dir(struct hdr *h, const uint32_t *ids, size_t n, struct loc *loc)
{
    struct dir d;
    struct dent e;
    /* loc[open..k) were found in the chunk at pend (SIZE_MAX: none), whose
     * CRC lies where the next chunk starts, less 4 */
    size_t k = 0, open = 0, pend = SIZE_MAX;

    dir_init(&d, h);
    for (size_t i = 0; i < n; i++)
        loc[i].have = false;
    for (size_t i = 0; i < h->n_cols; i++) {
        if (dir_next(&d, &e) < 0)
            return -EBADMSG;
        if (pend != SIZE_MAX && e.chunk_off != pend) {
            for (; open < k; open++)
                loc[open].crc_off = e.chunk_off - 4;
            pend = SIZE_MAX;
        }
        while (k < n && ids[k] < e.id)
            k++;
        for (; k < n && ids[k] == e.id; k++) {
            loc[k] = (struct loc){.e = e, .have = true};
            pend = e.chunk_off;
        }
    }
    if (d.pos) { /* the last chunk's CRC */
        if (d.room - d.pos < 4)
            return -EBADMSG;
        for (; open < k; open++)
            loc[open].crc_off = d.pos;
        d.pos += 4;
    }
    if (h->blk_end - d.r.p < 4 || blk_crc32c(h->blk, (size_t)(d.r.p - h->blk)) != load32(d.r.p))
        return -EBADMSG;
    h->cols = d.r.p + 4;
    return (size_t)(h->blk_end - h->cols) == d.pos ? 0 : -EBADMSG;
}

/* The CRC of the chunk [off, crc_off) of a scanned version 2 block. */
static bool chunk_ok(const struct hdr *h, size_t off, size_t crc_off)
{
    return blk_crc32c(h->cols + off, crc_off - off) == load32(h->cols + crc_off);
}

/* The column of e in a scanned version 2 block. */
static int dent_col(const struct hdr *h, const struct dent *e, struct col *c)
{
    c->id = e->id;
    c->p = h->cols + e->off + 1;
    c->end = c->p + e->len;
    return set_kind(c, h->cols[e->off], e->len);
}

/* Version 2, after scan_dir(): every chunk's CRC and every column's kind,
 * what version 1's single CRC and walk_cols() check. */
static int check_cols(const struct hdr *h)
{
    struct dir d;
    struct dent e;
    struct col c;
    size_t cur = 0;

    dir_init(&d, h);
    for (size_t i = 0; i < h->n_cols; i++) {
        if (dir_next(&d, &e) < 0)
            return -EBADMSG;
        if (e.chunk_off != cur) {
            if (!chunk_ok(h, cur, e.chunk_off - 4))
                return -EBADMSG;
            cur = e.chunk_off;
        }
        if (dent_col(h, &e, &c) < 0)
            return -EBADMSG;
    }
    return d.pos && !chunk_ok(h, cur, d.pos) ? -EBADMSG : 0;
}

/* The header and the framing of every column, checksums included: what
 * blk_info() and blk_decode_all() check before anything else. */
static int parse_all(const uint8_t *blk, size_t len, struct hdr *h)
{
    if (parse_header(blk, len, h) < 0)
        return -EBADMSG;
    if (h->version == BLK_V1)
        return walk_cols(h);
    return scan_dir(h, NULL, 0, NULL) < 0 ? -EBADMSG : check_cols(h);
}

int blk_info(const uint8_t *blk, size_t len, struct blk_info *info)
{
    struct hdr h;

    if (parse_all(blk, len, &h) < 0)
        return -EBADMSG;
    *info = (struct blk_info){
        .n_rows = h.n_rows, .n_cols = h.n_cols, .first_ts = h.first, .last_ts = h.last};
    return 0;
}

static int decode_ts(const struct hdr *h, int64_t *ts)
{
    struct rd r = {.p = h->ts, .end = h->ts_end, .limit = h->blk_end};
    struct intdec d;
    uint64_t k[FRAME];
    size_t at = 0;

    if (intdec_init(&d, &r, (uint64_t)h->first, h->n_rows) < 0)
        return -EBADMSG;
    while (d.left) {
        int cnt = intdec_frame(&d, &r, k);
        if (cnt < 0)
            return -EBADMSG;
        for (int i = 0; i < cnt; i++)
            ts[at + (size_t)i] = (int64_t)k[i];
        at += (size_t)cnt;
    }
    if (r.p != r.end || ts[0] != h->first || ts[h->n_rows - 1] != h->last)
        return -EBADMSG;
    for (size_t i = 1; i < h->n_rows; i++)
        if (ts[i] <= ts[i - 1])
            return -EBADMSG;
    return 0;
}

int blk_decode_ts(const uint8_t *blk, size_t len, int64_t *ts)
{
    struct hdr h;

    if (parse_header(blk, len, &h) < 0)
        return -EBADMSG;
    /* version 2: the header CRC covers the timestamps */
    if (h.version == BLK_V1 ? walk_cols(&h) < 0 : scan_dir(&h, NULL, 0, NULL) < 0)
        return -EBADMSG;
    return decode_ts(&h, ts);
}

/* ------------------------------------------------------- column decoding */

/* Decodes n values of encoding enc from r into out[0..n). */
static int decode_values(struct rd *r, unsigned enc, size_t n, double *out)
{
    uint64_t v;

    switch (enc) {
    case ENC_CONST_F64: {
        double x;
        if (r->end - r->p < 8)
            return -EBADMSG;
        x = bitsd(load64(r->p));
        r->p += 8;
        for (size_t i = 0; i < n; i++)
            out[i] = x;
        return 0;
    }
    case ENC_CONST_INT: {
        double x;
        if (rd_zz(r, &v) < 0)
            return -EBADMSG;
        x = (double)(int64_t)v;
        for (size_t i = 0; i < n; i++)
            out[i] = x;
        return 0;
    }
    case ENC_SCALED: {
        struct intdec d;
        uint64_t k[FRAME];
        unsigned dd, nz;
        size_t at = 0;

        if (r->p >= r->end)
            return -EBADMSG;
        dd = *r->p & 0xf;
        nz = *r->p++ & SCALED_NEG_ZEROS;
        if (dd > MAX_D || (r->p[-1] & ~(SCALED_NEG_ZEROS | 0xf)) || rd_zz(r, &v) < 0 ||
            intdec_init(&d, r, v, n) < 0)
            return -EBADMSG;
        while (d.left) {
            int cnt = intdec_frame(&d, r, k);
            double *o = out + at;
            if (cnt < 0)
                return -EBADMSG;
            if (dd == 0) {
                for (int i = 0; i < cnt; i++)
                    o[i] = (double)(int64_t)k[i];
            } else {
                /* the division dominates: two to a vector instruction, which
                 * costs what a scalar one does and rounds each lane alike */
                const v2d div = {p10[dd], p10[dd]};
                int i = 0;
                for (; i + 2 <= cnt; i += 2) {
                    v2d x = {(double)(int64_t)k[i], (double)(int64_t)k[i + 1]};
                    x /= div;
                    memcpy(o + i, &x, sizeof(x));
                }
                if (i < cnt)
                    o[i] = (double)(int64_t)k[i] / p10[dd];
            }
            at += (size_t)cnt;
        }
        if (nz) {
            /* positions of -0.0, each one of the zeros decoded above */
            uint64_t cnt, gap;
            size_t pos = 0;
            if (rd_varint(r, &cnt) < 0 || cnt == 0 || cnt > n)
                return -EBADMSG;
            for (uint64_t i = 0; i < cnt; i++, pos++) {
                if (rd_varint(r, &gap) < 0 || gap >= n - pos)
                    return -EBADMSG;
                pos += (size_t)gap;
                if (dbits(out[pos]) != 0)
                    return -EBADMSG;
                out[pos] = -0.0;
            }
        }
        return 0;
    }
    default: { /* ENC_XOR */
        const uint8_t *p = r->p;
        size_t nbytes = (size_t)(r->end - r->p), nbits = nbytes * 8, pos = 0;
        uint64_t prev;
        unsigned lead = 0, len = 0;
        bool window = false;

        if (n == 0)
            return 0;
        if (nbits < 64)
            return -EBADMSG;
        prev = getbits(p, nbytes, 0, 64);
        pos = 64;
        out[0] = bitsd(prev);
        for (size_t i = 1; i < n; i++) {
            uint64_t c;
            if (pos + 2 > nbits) {
                if (pos + 1 > nbits)
                    return -EBADMSG;
                c = getbits(p, nbytes, pos, 1);
                if (c)
                    return -EBADMSG;
                pos++;
            } else {
                c = getbits(p, nbytes, pos, 2);
                if (!(c & 1)) {
                    pos++;
                } else {
                    pos += 2;
                    if (c & 2) {
                        if (pos + 12 > nbits)
                            return -EBADMSG;
                        c = getbits(p, nbytes, pos, 12);
                        pos += 12;
                        lead = c & 63;
                        len = (unsigned)(c >> 6) + 1;
                        if (lead + len > 64)
                            return -EBADMSG;
                        window = true;
                    } else if (!window) {
                        return -EBADMSG;
                    }
                    if (pos + len > nbits)
                        return -EBADMSG;
                    prev ^= getbits(p, nbytes, pos, len) << (64 - lead - len);
                    pos += len;
                }
            }
            out[i] = bitsd(prev);
        }
        if ((pos + 7) / 8 != nbytes)
            return -EBADMSG;
        r->p = r->end;
        return 0;
    }
    }
}

/* Decodes column c into out[0..n_rows) (NaN where absent). */
static int decode_col(const struct col *c, size_t n_rows, const uint8_t *limit, double *out)
{
    struct rd r = {.p = c->p, .end = c->end, .limit = limit};
    const uint8_t *pres = NULL;
    size_t n = n_rows;
    uint64_t n_runs = 0;

    switch (c->pres) {
    case PRES_NONE:
        for (size_t i = 0; i < n_rows; i++)
            out[i] = NAN;
        return 0;
    case PRES_BITMAP: {
        size_t bmb = (n_rows + 7) / 8;
        if ((size_t)(r.end - r.p) < bmb)
            return -EBADMSG;
        pres = r.p;
        r.p += bmb;
        n = popcount_bytes(pres, bmb);
        if ((n_rows % 8) && (pres[bmb - 1] >> (n_rows % 8)))
            return -EBADMSG;
        break;
    }
    case PRES_RUNS: {
        size_t rows = 0;
        if (rd_varint(&r, &n_runs) < 0)
            return -EBADMSG;
        pres = r.p;
        n = 0;
        for (uint64_t i = 0; i < n_runs; i++) {
            uint64_t len;
            if (rd_varint(&r, &len) < 0 || len > n_rows - rows)
                return -EBADMSG;
            rows += (size_t)len;
            if (!(i & 1))
                n += (size_t)len;
        }
        if (rows != n_rows)
            return -EBADMSG;
        break;
    }
    default:
        break;
    }
    /* the present values go to the tail, then spread forward in place */
    if (decode_values(&r, c->enc, n, out + (n_rows - n)) < 0 || r.p != r.end)
        return -EBADMSG;
    if (c->pres == PRES_BITMAP) {
        size_t j = n_rows - n;
        for (size_t i = 0; i < n_rows; i++)
            out[i] = (pres[i / 8] >> (i % 8)) & 1 ? out[j++] : NAN;
    } else if (c->pres == PRES_RUNS) {
        struct rd rr = {.p = pres, .end = c->end};
        size_t i = 0, j = n_rows - n;
        for (uint64_t k = 0; k < n_runs; k++) {
            uint64_t len = 0;
            rd_varint(&rr, &len); /* checked above */
            for (uint64_t m = 0; m < len; m++, i++)
                out[i] = (k & 1) ? NAN : out[j++];
        }
    }
    return 0;
}

static void fill_nan(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = NAN;
}

static int decode_series_v1(const struct hdr *h, uint32_t series_id, double *values)
{
    const uint8_t *p = h->cols;
    struct col c, found;
    bool have = false;

    for (size_t i = 0; i < h->n_cols; i++) {
        if (next_col(&p, h->cols_end, &c) < 0)
            return -EBADMSG;
        if (!have && c.id == series_id) {
            found = c;
            have = true;
        }
    }
    if (p != h->cols_end)
        return -EBADMSG;
    if (!have) {
        fill_nan(values, h->n_rows);
        return 0;
    }
    if (decode_col(&found, h->n_rows, h->blk_end, values) < 0)
        return -EBADMSG;
    return 1;
}

int blk_decode_series(const uint8_t *blk, size_t len, uint32_t series_id, double *values)
{
    struct hdr h;
    struct loc l;
    struct col c;

    if (parse_header(blk, len, &h) < 0)
        return -EBADMSG;
    if (h.version == BLK_V1)
        return decode_series_v1(&h, series_id, values);
    /* the header's CRC and the series' chunk's: damage elsewhere is for the
     * readers of the other columns to find */
    if (scan_dir(&h, &series_id, 1, &l) < 0)
        return -EBADMSG;
    if (!l.have) {
        fill_nan(values, h.n_rows);
        return 0;
    }
    if (!chunk_ok(&h, l.e.chunk_off, l.crc_off) || dent_col(&h, &l.e, &c) < 0 ||
        decode_col(&c, h.n_rows, h.blk_end, values) < 0)
        return -EBADMSG;
    return 1;
}

static long decode_multi_v1(const struct hdr *h, int64_t *ts, const uint32_t *ids, size_t n,
                            double *const *values)
{
    const uint8_t *p;
    struct col c;
    bool done[16] = {false};

    if (walk_cols(h) < 0 || decode_ts(h, ts) < 0)
        return -EBADMSG;
    p = h->cols;
    for (size_t i = 0; i < h->n_cols; i++) {
        if (next_col(&p, h->cols_end, &c) < 0)
            return -EBADMSG;
        for (size_t j = 0; j < n; j++) {
            if (done[j] || c.id != ids[j])
                continue;
            if (decode_col(&c, h->n_rows, h->blk_end, values[j]) < 0)
                return -EBADMSG;
            done[j] = true;
        }
    }
    for (size_t j = 0; j < n; j++)
        if (!done[j])
            fill_nan(values[j], h->n_rows);
    return (long)h->n_rows;
}

long blk_decode_multi(const uint8_t *blk, size_t len, size_t cap, int64_t *ts, const uint32_t *ids,
                      size_t n, double *const *values)
{
    struct hdr h;
    uint32_t sorted[16] = {0};
    uint8_t idx[16] = {0}; /* sorted[k] = ids[idx[k]] */
    struct loc loc[16];

    if (n > 16 || parse_header(blk, len, &h) < 0 || h.n_rows > cap)
        return -EBADMSG;
    if (h.version == BLK_V1)
        return decode_multi_v1(&h, ts, ids, n, values);
    /* the ids in ascending order, for the merge walk over the directory */
    for (size_t j = 0; j < n; j++) {
        size_t k = j;
        for (; k > 0 && sorted[k - 1] > ids[j]; k--) {
            sorted[k] = sorted[k - 1];
            idx[k] = idx[k - 1];
        }
        sorted[k] = ids[j];
        idx[k] = (uint8_t)j;
    }
    if (scan_dir(&h, sorted, n, loc) < 0)
        return -EBADMSG;
    /* the chunks of the columns read, each once (the same chunk's columns
     * are next to each other in sorted order), before anything is written */
    for (size_t k = 0, done = SIZE_MAX; k < n; k++) {
        if (!loc[k].have || loc[k].crc_off == done)
            continue;
        if (!chunk_ok(&h, loc[k].e.chunk_off, loc[k].crc_off))
            return -EBADMSG;
        done = loc[k].crc_off;
    }
    if (decode_ts(&h, ts) < 0)
        return -EBADMSG;
    for (size_t k = 0; k < n; k++) {
        struct col c;
        if (!loc[k].have) {
            fill_nan(values[idx[k]], h.n_rows);
            continue;
        }
        if (dent_col(&h, &loc[k].e, &c) < 0 ||
            decode_col(&c, h.n_rows, h.blk_end, values[idx[k]]) < 0)
            return -EBADMSG;
    }
    return (long)h.n_rows;
}

int blk_decode_all(const uint8_t *blk, size_t len,
                   int (*fn)(void *ctx, uint32_t series_id, const double *values, size_t n_rows),
                   void *ctx)
{
    struct hdr h;
    struct dir d;
    const uint8_t *p;
    double *buf;
    int r = 0;

    /* every checksum first: a damaged block delivers nothing */
    if (parse_all(blk, len, &h) < 0)
        return -EBADMSG;
    buf = malloc(h.n_rows * sizeof(*buf));
    if (!buf)
        return -ENOMEM;
    p = h.cols;
    dir_init(&d, &h); /* version 2's walk */
    for (size_t i = 0; i < h.n_cols; i++) {
        struct col c;
        struct dent e;
        /* the framing was checked above: these steps succeed as they did there */
        if ((h.version == BLK_V1 ? next_col(&p, h.cols_end, &c)
                                 : (dir_next(&d, &e) < 0 ? -EBADMSG : dent_col(&h, &e, &c))) < 0 ||
            decode_col(&c, h.n_rows, h.blk_end, buf) < 0) {
            r = -EBADMSG;
            break;
        }
        r = fn(ctx, c.id, buf, h.n_rows);
        if (r < 0)
            break;
        r = 0;
    }
    free(buf);
    return r;
}

/* ------------------------------------------------------ column encoding */

struct scratch {
    double *pv;         /* present values */
    int64_t *k;         /* scaled integers */
    struct bytebuf pay; /* one column's payload */
};

/* Scaled integer of v at d decimals, when (double)k / 10^d gives v back
 * (-0.0 counts as 0: the encoder lists those apart). */
static inline bool scaled(double v, unsigned d, int64_t *ret_k)
{
    double x = v * p10[d], r;
    int64_t k;

    if (!(fabs(x) < 0x1p63)) /* k fits in an int64 */
        return false;
    k = (int64_t)x;
    r = x - (double)k;
    if (r >= 0.5)
        k++;
    else if (r <= -0.5)
        k--;
    /* what the decoder computes, bit for bit */
    if (k == 0 ? v != 0 : dbits(d == 0 ? (double)k : (double)k / p10[d]) != dbits(v))
        return false;
    *ret_k = k;
    return true;
}

/* The fewest decimals at which every value is a scaled integer (then
 * in k[]), or -1. */
static int find_decimals(const double *pv, size_t n, int64_t *k)
{
    unsigned d = 0;
    size_t redo = 0;

    for (size_t i = 0; i < n; i++) {
        while (!scaled(pv[i], d, &k[i])) {
            if (++d > MAX_D)
                return -1;
            redo = i;
        }
    }
    /* the values before the last raise of d, scaled again at d (exact there
     * too when their integer is exact in a double, but checked all the same) */
    for (size_t i = 0; i < redo; i++)
        if (!scaled(pv[i], d, &k[i]))
            return -1;
    return (int)d;
}

/* Gorilla XOR of pv[0..n) into b. */
static int enc_xor(const double *pv, size_t n, struct bytebuf *b)
{
    struct bitw bw = {.b = b};
    uint64_t prev = dbits(pv[0]);
    unsigned plead = 0, plen = 0;
    bool window = false;

    /* at most 2 + 12 + 64 bits per value, flushed in whole words */
    if (n > (SIZE_MAX - 16) / 10 || bb_reserve(b, n * 10 + 16) < 0)
        return -ENOMEM;
    bw_put(&bw, prev, 64);
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = dbits(pv[i]), x = cur ^ prev;
        unsigned lead, trail;
        prev = cur;
        if (!x) {
            bw_put(&bw, 0, 1);
            continue;
        }
        lead = (unsigned)__builtin_clzll(x);
        trail = (unsigned)__builtin_ctzll(x);
        /* reuse the window unless a fresh one is cheaper by more than its header */
        if (window && lead >= plead && trail >= 64 - plead - plen &&
            plen <= 64 - lead - trail + 12) {
            bw_put(&bw, 1, 2); /* "1" "0" */
            bw_put(&bw, x >> (64 - plead - plen), plen);
            continue;
        }
        plead = lead;
        plen = 64 - lead - trail;
        window = true;
        bw_put(&bw, 3, 2); /* "1" "1" */
        bw_put(&bw, (uint64_t)plead | (uint64_t)(plen - 1) << 6, 12);
        bw_put(&bw, x >> trail, plen);
    }
    bw_flush(&bw);
    return 0;
}

/* Encodes the present values pv[0..n) (n >= 1) as values; returns the
 * encoding, or -ENOMEM. */
static int enc_values(const double *pv, size_t n, int64_t *k, struct bytebuf *b)
{
    uint64_t first = dbits(pv[0]);
    size_t i, n_nz = 0, start = b->len;
    int dd;
    bool same = true;

    for (i = 1; i < n && same; i++)
        same = dbits(pv[i]) == first;
    if (same) {
        double v = pv[0];
        if (bb_reserve(b, 10) < 0)
            return -ENOMEM;
        if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
            put_varint(b, zz_enc((uint64_t)(int64_t)v));
            return ENC_CONST_INT;
        }
        store64(b->buf + b->len, first);
        b->len += 8;
        return ENC_CONST_F64;
    }

    /* the fewest decimals that represent every value exactly: more than
     * needed would scale large values past 2^53, where the scaled integers
     * are no longer exact multiples and compress worse */
    dd = find_decimals(pv, n, k);
    if (dd < 0)
        goto fallback;
    for (i = 0; i < n; i++)
        n_nz += dbits(pv[i]) == NEG_ZERO;
    if (bb_reserve(b, 11) < 0)
        return -ENOMEM;
    put_u8(b, (uint8_t)(dd | (n_nz ? SCALED_NEG_ZEROS : 0)));
    put_varint(b, zz_enc((uint64_t)k[0]));
    if (enc_ints(k, n, b) < 0)
        return -ENOMEM;
    if (n_nz) {
        size_t prev = 0;
        if (n_nz > (SIZE_MAX - 10) / 3 || bb_reserve(b, 10 + 3 * n_nz) < 0)
            return -ENOMEM;
        put_varint(b, n_nz);
        for (i = 0; i < n; i++) {
            if (dbits(pv[i]) == NEG_ZERO) {
                put_varint(b, i - prev);
                prev = i + 1;
            }
        }
    }
    /* wide integers can be worse than XOR of the doubles: then try that */
    if (b->len - start <= n * 7)
        return ENC_SCALED;
    {
        size_t scaled_len = b->len - start;
        struct bytebuf x = {0};
        if (enc_xor(pv, n, &x) < 0)
            return -ENOMEM;
        if (x.len < scaled_len) {
            b->len = start;
            memcpy(b->buf + start, x.buf, x.len); /* x is shorter: it fits */
            b->len += x.len;
            bytebuf_done(&x);
            return ENC_XOR;
        }
        bytebuf_done(&x);
        return ENC_SCALED;
    }
fallback:
    if (enc_xor(pv, n, b) < 0)
        return -ENOMEM;
    return ENC_XOR;
}

/* Encodes one column's payload into s->pay; returns its kind byte (the
 * encoding and the presence), or -ENOMEM. */
static int enc_payload(const struct blk_column *col, size_t n_rows, struct scratch *s)
{
    const double *v = col->values;
    size_t n = 0, runs = 0, runs_bytes = 0, run = 0;
    bool cur = true; /* runs start with a present one */
    unsigned pres;
    int enc = 0;

    for (size_t i = 0; i < n_rows; i++) {
        bool here = !isnan(v[i]);
        if (here)
            s->pv[n++] = v[i];
        if (here != cur) {
            runs++;
            runs_bytes += varint_len(run);
            run = 0;
            cur = here;
        }
        run++;
    }
    runs++;
    runs_bytes += varint_len(run) + varint_len(runs);

    s->pay.len = 0;
    if (n == 0) {
        pres = PRES_NONE;
    } else if (n == n_rows) {
        pres = PRES_ALL;
    } else if (runs_bytes < (n_rows + 7) / 8) {
        pres = PRES_RUNS;
        if (bb_reserve(&s->pay, runs_bytes) < 0)
            return -ENOMEM;
        put_varint(&s->pay, runs);
        cur = true;
        run = 0;
        for (size_t i = 0; i < n_rows; i++) {
            bool here = !isnan(v[i]);
            if (here != cur) {
                put_varint(&s->pay, run);
                run = 0;
                cur = here;
            }
            run++;
        }
        put_varint(&s->pay, run);
    } else {
        size_t bmb = (n_rows + 7) / 8;
        pres = PRES_BITMAP;
        if (bb_reserve(&s->pay, bmb) < 0)
            return -ENOMEM;
        memset(s->pay.buf, 0, bmb);
        for (size_t i = 0; i < n_rows; i++)
            if (!isnan(v[i]))
                s->pay.buf[i / 8] |= (uint8_t)(1u << (i % 8));
        s->pay.len = bmb;
    }
    if (n) {
        enc = enc_values(s->pv, n, s->k, &s->pay);
        if (enc < 0)
            return enc;
    }
    return (int)(enc | pres << 4);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Checks the arguments; *order gets the columns by increasing series id (id
 * << 32 | index, NULL when there are none), for the caller to free. */
static int check_args(const int64_t *ts_ms, size_t n_rows, const struct blk_column *cols,
                      size_t n_cols, uint64_t **order)
{
    uint64_t *o;

    *order = NULL;
    if (!ts_ms || n_rows < 1 || n_rows > BLK_MAX_ROWS || n_cols > BLK_MAX_COLS || (n_cols && !cols))
        return -EINVAL;
    for (size_t i = 1; i < n_rows; i++)
        if (ts_ms[i] <= ts_ms[i - 1])
            return -EINVAL;
    for (size_t i = 0; i < n_cols; i++)
        if (!cols[i].values || cols[i].decimals < -1 || cols[i].decimals > MAX_D)
            return -EINVAL;
    if (n_cols == 0)
        return 0;
    o = malloc(n_cols * sizeof(*o));
    if (!o)
        return -ENOMEM;
    for (size_t i = 0; i < n_cols; i++)
        o[i] = (uint64_t)cols[i].series_id << 32 | i;
    qsort(o, n_cols, sizeof(*o), cmp_u64);
    for (size_t i = 1; i < n_cols; i++) {
        if (o[i] >> 32 == o[i - 1] >> 32) {
            free(o);
            return -EINVAL;
        }
    }
    *order = o;
    return 0;
}

static void put_u32(struct bytebuf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->buf[b->len++] = (uint8_t)(v >> (8 * i));
}

/* The header fields both versions share, and the timestamps. */
static int put_header(struct bytebuf *b, unsigned version, unsigned chunk_log2,
                      const int64_t *ts_ms, size_t n_rows, size_t n_cols, const struct bytebuf *ts)
{
    if (bb_reserve(b, 5 + 3 * 10 + 10) < 0)
        return -ENOMEM;
    b->buf[b->len++] = 'a';
    b->buf[b->len++] = 'm';
    b->buf[b->len++] = 'b';
    b->buf[b->len++] = (uint8_t)version;
    if (version == BLK_V2)
        put_u8(b, (uint8_t)chunk_log2);
    put_varint(b, n_rows);
    put_varint(b, n_cols);
    put_varint(b, zz_enc((uint64_t)ts_ms[0]));
    put_varint(b, (uint64_t)ts_ms[n_rows - 1] - (uint64_t)ts_ms[0]);
    put_varint(b, ts->len);
    return append(b, ts->buf, ts->len);
}

/* Version 1: the columns in the caller's order, the CRC of the whole block. */
static int encode_v1(const struct blk_column *cols, size_t n_cols, size_t n_rows, struct scratch *s,
                     size_t start, struct bytebuf *out)
{
    for (size_t i = 0; i < n_cols; i++) {
        int kind = enc_payload(&cols[i], n_rows, s);
        if (kind < 0 || bb_reserve(out, 5 + 1 + 10) < 0)
            return -ENOMEM;
        put_varint(out, cols[i].series_id);
        put_u8(out, (uint8_t)kind);
        put_varint(out, s->pay.len);
        if (append(out, s->pay.buf, s->pay.len) < 0)
            return -ENOMEM;
    }
    if (bb_reserve(out, 4) < 0)
        return -ENOMEM;
    put_u32(out, blk_crc32c(out->buf + start, out->len - start));
    return 0;
}

/*
 * Version 2: the columns by increasing id, each chunk followed by its CRC,
 * are written first (a directory entry needs its column's length), while
 * the head (header, timestamps, directory) grows apart; then the columns
 * move up by the head's length and the head goes before them, with its CRC.
 * The move costs a memmove of the block, little beside encoding it, and
 * keeps the temporary memory at the head's size.
 */
static int encode_v2(const struct blk_column *cols, const uint64_t *order, size_t n_cols,
                     size_t n_rows, unsigned chunk_log2, struct scratch *s, struct bytebuf *head,
                     struct bytebuf *out)
{
    size_t start = out->len, at = start, acc = 0, body;
    uint64_t chunk = (uint64_t)1 << chunk_log2, prev = 0;

    for (size_t i = 0; i < n_cols; i++) {
        const struct blk_column *c = &cols[order[i] & 0xffffffffu];
        int kind = enc_payload(c, n_rows, s);
        if (kind < 0 || bb_reserve(out, 4 + 1) < 0 || bb_reserve(head, 20) < 0)
            return -ENOMEM;
        /* the rule the decoder follows (dir_next()) */
        if (acc && acc + 1 + (uint64_t)s->pay.len > chunk) {
            put_u32(out, blk_crc32c(out->buf + at, out->len - at));
            at = out->len;
            acc = 0;
        }
        put_u8(out, (uint8_t)kind);
        if (append(out, s->pay.buf, s->pay.len) < 0)
            return -ENOMEM;
        acc += 1 + s->pay.len;
        put_varint(head, i ? c->series_id - prev - 1 : c->series_id);
        put_varint(head, s->pay.len);
        prev = c->series_id;
    }
    if (n_cols) {
        if (bb_reserve(out, 4) < 0)
            return -ENOMEM;
        put_u32(out, blk_crc32c(out->buf + at, out->len - at));
    }
    if (bb_reserve(head, 4) < 0)
        return -ENOMEM;
    put_u32(head, blk_crc32c(head->buf, head->len));
    body = out->len - start;
    if (bb_reserve(out, head->len) < 0)
        return -ENOMEM;
    memmove(out->buf + start + head->len, out->buf + start, body);
    memcpy(out->buf + start, head->buf, head->len);
    out->len += head->len;
    return 0;
}

int blk_encode_as(const int64_t *ts_ms, size_t n_rows, const struct blk_column *cols, size_t n_cols,
                  unsigned version, unsigned chunk_log2, struct bytebuf *out)
{
    size_t start;
    struct scratch s = {0};
    struct bytebuf ts = {0}, head = {0};
    uint64_t *order = NULL;
    int r;

    if (!out || (version != BLK_V1 && version != BLK_V2) || chunk_log2 > 63)
        return -EINVAL;
    r = check_args(ts_ms, n_rows, cols, n_cols, &order);
    if (r < 0)
        return r;
    start = out->len;
    r = -ENOMEM;
    s.pv = malloc(n_rows * sizeof(*s.pv));
    s.k = malloc(n_rows * sizeof(*s.k));
    if (!s.pv || !s.k || enc_ints(ts_ms, n_rows, &ts) < 0)
        goto fail;
    if (version == BLK_V1) {
        if (put_header(out, version, 0, ts_ms, n_rows, n_cols, &ts) < 0 ||
            encode_v1(cols, n_cols, n_rows, &s, start, out) < 0)
            goto fail;
    } else {
        if (put_header(&head, version, chunk_log2, ts_ms, n_rows, n_cols, &ts) < 0 ||
            encode_v2(cols, order, n_cols, n_rows, chunk_log2, &s, &head, out) < 0)
            goto fail;
    }
    r = 0;
fail:
    if (r < 0)
        out->len = start;
    free(s.pv);
    free(s.k);
    free(order);
    bytebuf_done(&s.pay);
    bytebuf_done(&ts);
    bytebuf_done(&head);
    return r;
}

int blk_encode(const int64_t *ts_ms, size_t n_rows, const struct blk_column *cols, size_t n_cols,
               struct bytebuf *out)
{
    return blk_encode_as(ts_ms, n_rows, cols, n_cols, BLK_V2, BLK_CHUNK_LOG2, out);
}
