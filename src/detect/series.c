/* The per-series context-novelty detector; see series.h for what it promises. */
#include "detect/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a 64-bit finaliser: every input bit moves about half of the output bits */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ull;
    h ^= h >> 27;
    h *= 0x81dadef4bc2dd44dull;
    h ^= h >> 33;
    return h;
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
    uint32_t seen[]; /* context -> (sample index + 1) it was last seen at, 0: never */
};

void detect_series_default_opts(struct detect_series_opts *o)
{
    o->warmup = DETECT_WARMUP;
    o->table_bits = DETECT_TABLE_BITS;
}

size_t detect_series_size(const struct detect_series_opts *o)
{
    if (o->table_bits < DETECT_TABLE_BITS_MIN || o->table_bits > DETECT_TABLE_BITS_MAX)
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

/* The slice of [lo, hi] that x falls in on slicing g (0 .. DETECT_LEVELS), or -1 /
 * DETECT_LEVELS + 1 when x lies more than one slice below / above it. The range is
 * the one before x, so that a clearly new extreme is a symbol of its own, while a
 * value just past the edge (a noisy series slowly widening its range) counts as
 * the edge slice. */
static int32_t symbol(const struct detect_series *d, double x, unsigned g)
{
    double w = (d->hi - d->lo) / DETECT_LEVELS;
    int32_t s;

    if (x < d->lo - w)
        return -1;
    if (x > d->hi + w)
        return DETECT_LEVELS + 1;
    if (!(d->hi > d->lo))
        return 0;
    x = x < d->lo ? d->lo : x > d->hi ? d->hi : x;
    s = (int32_t)((x - d->lo) / (d->hi - d->lo) * DETECT_LEVELS + (double)g / DETECT_GRIDS);
    /* slicing 0 has DETECT_LEVELS slices, x == hi in the last; the offset ones one more */
    return g == 0 && s == DETECT_LEVELS ? DETECT_LEVELS - 1 : s;
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
    for (unsigned g = 0; g < DETECT_GRIDS; g++)
        sym[g] = symbol(d, x, g);
    if (x < d->lo)
        d->lo = x;
    if (x > d->hi)
        d->hi = x;

    /* index + 1 of this sample; 0 is kept for "never seen" */
    now = (uint32_t)(d->n + 1);
    if (now == 0)
        now = 1;
    orders = d->n + 1 < DETECT_ORDER ? (uint32_t)d->n + 1 : DETECT_ORDER;
    for (unsigned g = 0; g < DETECT_GRIDS; g++) {
        uint64_t h = 0x9e3779b97f4a7c15ull + g;

        memmove(d->sym[g] + 1, d->sym[g], sizeof(d->sym[g]) - sizeof(d->sym[g][0]));
        d->sym[g][0] = sym[g];
        for (uint32_t k = 0; k < orders; k++) {
            uint32_t *slot;
            double fresh;

            /* the context of length k + 1 on slicing g: its hash chains the shorter one's */
            h = mix(h ^ (uint64_t)(uint32_t)(d->sym[g][k] + 2));
            slot = &d->seen[mix(h + k) & d->mask];
            fresh = *slot == 0 || (uint32_t)(now - *slot) > DETECT_MEMORY;
            *slot = now;
            raw += fresh * (1 - d->rate[g][k]);
            d->rate[g][k] += (fresh - d->rate[g][k]) / DETECT_RATE;
        }
    }
    raw /= (double)(orders * DETECT_GRIDS);
    d->n++;

    if (d->n <= d->opts.warmup)
        return 0;
    if (d->hold > 0) {
        d->hold--;
        return 0;
    }
    if (raw >= DETECT_ALARM)
        d->hold = DETECT_HOLD;
    return raw;
}
