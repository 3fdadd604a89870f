/* The per-series context-novelty detector; see series.h for what it promises. */
#include "detect/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Where a context's key goes in the table: one multiply by 2^64 / golden ratio, whose
 * high half is folded into the low one, so that every bit of the key reaches the
 * bucket index (the low bits) and the tag (the top 16 bits). */
static uint64_t place(uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;

    return h ^ h >> 32;
}

/* Everything a detector knows, in one block of detect_series_size() bytes. */
struct detect_series {
    uint64_t n;                              /* finite samples seen */
    double lo, hi;                           /* range of the samples seen */
    double rate[DETECT_GRIDS][DETECT_ORDER]; /* usual share of new contexts, per length */
    int32_t sym[DETECT_GRIDS][DETECT_ORDER]; /* latest symbols, [g][0] the newest */
    uint32_t hold;                           /* samples still held at 0 */
    struct detect_series_opts opts;          /* as given to detect_series_new_opts() */
    uint32_t mask;                           /* table entries - 1 */
    /* the contexts met lately, in buckets of two entries; an entry is the context's
     * tag (odd, so that 0 is "empty") << 16 | the low 16 bits of the sample index
     * + 1 it was last met at */
    uint32_t seen[];
};

/* a context's symbols, 4 bits each (they run from -1 to DETECT_LEVELS + 1, stored + 2) */
#define CTX_BITS (4 * DETECT_ORDER)
_Static_assert(DETECT_LEVELS + 3 < 16, "a symbol + 2 must fit 4 bits");

/* ages are kept in 16 bits: a context older than DETECT_MEMORY must be told apart */
_Static_assert(DETECT_MEMORY < 0x10000, "DETECT_MEMORY must fit an entry's 16-bit age");

/* ln(1 / DETECT_RATE): the surprise of the rarest share of new contexts that an
 * average over DETECT_RATE samples tells apart from 0 */
#define MAX_SURPRISE 6.907755278982137 /* ln(1000) */
_Static_assert(DETECT_RATE == 1000, "MAX_SURPRISE is ln(DETECT_RATE)");

/*
 * ln(x) for a normal x > 0, to within 3e-8 over the rates it is given (0.001 to
 * 1), in a fraction of libm's time: x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
 * and ln(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172, by its series to
 * t^7 (the next term is below 3e-8). A daemon calls it for every new context of
 * every series, every tick.
 */
static double fast_ln(double x)
{
    uint64_t bits;
    int e;
    double m, t, t2;

    memcpy(&bits, &x, sizeof(bits));
    e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
    memcpy(&m, &bits, sizeof(m));
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    t = (m - 1) / (m + 1);
    t2 = t * t;
    return (double)e * 0.6931471805599453 +
           2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7))));
}

void detect_series_default_opts(struct detect_series_opts *o)
{
    o->warmup = DETECT_WARMUP;
    o->table_bits = DETECT_TABLE_BITS;
    o->hold = DETECT_HOLD;
    o->grids = DETECT_GRIDS;
}

size_t detect_series_size(const struct detect_series_opts *o)
{
    if (o->table_bits < DETECT_TABLE_BITS_MIN || o->table_bits > DETECT_TABLE_BITS_MAX ||
        o->grids < 1 || o->grids > DETECT_GRIDS)
        return 0;
    return sizeof(struct detect_series) + ((size_t)1 << o->table_bits) * sizeof(uint32_t);
}

void detect_series_reset(struct detect_series *d)
{
    struct detect_series_opts o = d->opts;

    memset(d, 0, detect_series_size(&o));
    d->opts = o;
    d->mask = ((uint32_t)1 << o.table_bits) - 1;
}

struct detect_series *detect_series_new_opts(const struct detect_series_opts *o)
{
    size_t size = detect_series_size(o);
    struct detect_series *d;

    if (size == 0)
        return NULL;
    d = malloc(size);
    if (!d)
        return NULL;
    d->opts = *o;
    detect_series_reset(d);
    return d;
}

struct detect_series *detect_series_new(void)
{
    struct detect_series_opts o;

    detect_series_default_opts(&o);
    return detect_series_new_opts(&o);
}

void detect_series_free(struct detect_series *d)
{
    free(d);
}

bool detect_series_warming(const struct detect_series *d)
{
    return d->n < d->opts.warmup;
}

/* The symbols of x on every slicing into sym[]: the slice of [lo, hi] it falls in
 * (0 .. DETECT_LEVELS - 1), or -1 / DETECT_LEVELS + 1 when x lies more than
 * DETECT_BEYOND of a slice below / above it. The range is the one before x, so that
 * a new extreme is a symbol of its own, while a value just past the edge (a noisy
 * series slowly widening its range) counts as the edge slice. An offset slicing
 * cuts a piece narrower than a slice off each end of the range; those pieces hold
 * only values next to a record, rare by construction, so they are merged into
 * their neighbours (1 .. DETECT_LEVELS - 1): every symbol spans a slice or more. */
static void symbols(const struct detect_series *d, double x, int32_t sym[DETECT_GRIDS])
{
    double span = d->hi - d->lo, w = span / DETECT_LEVELS, m = w * DETECT_BEYOND, t;
    unsigned grids = d->opts.grids;

    if (x < d->lo - m || x > d->hi + m || !(span > 0)) {
        int32_t s = x < d->lo - m ? -1 : x > d->hi + m ? DETECT_LEVELS + 1 : 0;

        for (unsigned g = 0; g < grids; g++)
            sym[g] = s;
        return;
    }
    x = x < d->lo ? d->lo : x > d->hi ? d->hi : x;
    t = (x - d->lo) / span * DETECT_LEVELS;
    for (unsigned g = 0; g < grids; g++) {
        int32_t s = (int32_t)(t + (double)g / grids);
        /* slicing 0 puts x == hi in its last slice; an offset one merges its end pieces */
        int32_t first = g > 0 ? 1 : 0;

        sym[g] = s < first ? first : s > DETECT_LEVELS - 1 ? DETECT_LEVELS - 1 : s;
    }
}

/* Looks up the context whose hash is h in d's table and marks it met now (the low
 * 16 bits of the sample index + 1). True when it was not met in the last
 * DETECT_MEMORY samples. A bucket holds two contexts; a new one takes the place of
 * the one met longer ago, so that a full table forgets the oldest. Different
 * contexts share an entry only when their buckets and 15-bit tags agree. */
static bool met_fresh(struct detect_series *d, uint64_t h, uint32_t now)
{
    uint32_t i = (uint32_t)h & d->mask, tag = (uint32_t)(h >> 48) | 1;
    uint32_t *a = &d->seen[i], *b = &d->seen[i ^ 1], *slot;
    bool fresh;

    if (*a >> 16 == tag || *b >> 16 == tag) {
        slot = *a >> 16 == tag ? a : b;
        fresh = (uint16_t)(now - *slot) > DETECT_MEMORY;
    } else {
        uint32_t age_a = *a ? (uint16_t)(now - *a) : 0x10000;
        uint32_t age_b = *b ? (uint16_t)(now - *b) : 0x10000;

        slot = age_a >= age_b ? a : b;
        fresh = true;
    }
    *slot = tag << 16 | (now & 0xffff);
    return fresh;
}

/* What a new context says when contexts of its length are new at the share r of
 * samples: its surprise ln(1 / r) over the largest one the average can tell,
 * ln(DETECT_RATE), so 1 for a context of a kind that is (almost) never new and
 * little for one of a kind that is new every few samples. */
static double news(double r)
{
    if (r <= 1.0 / DETECT_RATE)
        return 1;
    return -fast_ln(r) * (1 / MAX_SURPRISE);
}

double detect_series_update(struct detect_series *d, double x)
{
    int32_t sym[DETECT_GRIDS];
    uint32_t now, orders;
    double raw = 0;

    if (!isfinite(x))
        return 0;
    if (d->n == 0)
        d->lo = d->hi = x;
    symbols(d, x, sym);
    if (x < d->lo)
        d->lo = x;
    if (x > d->hi)
        d->hi = x;

    /* index + 1 of this sample, of which entries keep the low 16 bits */
    now = (uint32_t)(d->n + 1);
    orders = d->n + 1 < DETECT_ORDER ? (uint32_t)d->n + 1 : DETECT_ORDER;
    for (unsigned g = 0; g < d->opts.grids; g++) {
        int32_t *hist = d->sym[g];
        /* a value beyond the range seen so far has no context met before */
        bool beyond = sym[g] < 0 || sym[g] > DETECT_LEVELS;
        uint64_t ctx = 0, h[DETECT_ORDER];

        for (unsigned k = DETECT_ORDER - 1; k > 0; k--)
            hist[k] = hist[k - 1];
        hist[0] = sym[g];
        /* the contexts of length k + 1 on slicing g, exactly: their symbols (1 .. 9)
         * 4 bits each, newest lowest, then k and g above them. Their places are all
         * found before the first is looked up, so that the table's loads overlap. */
        for (uint32_t k = 0; k < orders; k++) {
            ctx |= (uint64_t)(uint32_t)(hist[k] + 2) << (4 * k);
            h[k] = place(ctx | (uint64_t)(g * DETECT_ORDER + k) << CTX_BITS);
            __builtin_prefetch(&d->seen[(uint32_t)h[k] & d->mask]);
        }
        for (uint32_t k = 0; k < orders; k++) {
            double *rate = &d->rate[g][k];

            if (met_fresh(d, h[k], now) || beyond) {
                raw += news(*rate);
                *rate += (1 - *rate) * (1.0 / DETECT_RATE);
            } else {
                *rate -= *rate * (1.0 / DETECT_RATE);
            }
        }
    }
    raw /= (double)(orders * d->opts.grids);
    d->n++;

    if (d->n <= d->opts.warmup)
        return 0;
    if (d->hold > 0) {
        d->hold--;
        return 0;
    }
    if (raw >= DETECT_ALARM)
        d->hold = d->opts.hold;
    return raw;
}
