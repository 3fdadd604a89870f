/*
 * The per-series anomaly detector: online, unsupervised, causal, O(1) time and
 * a fixed amount of memory per series (detect_series_size()).
 *
 * Each value is turned into a symbol: which of DETECT_LEVELS equal slices of
 * the range seen so far it falls in, or "below" / "above" when it lies more
 * than DETECT_BEYOND of a slice outside that range. This is done on DETECT_GRIDS slicings
 * offset from each other by a fraction of a slice, so that a value wavering
 * across one slicing's edge is steady in the other; the pieces narrower than a
 * slice that an offset slicing leaves at the ends of the range are merged into
 * their neighbours, so that no symbol stands for only the values next to a
 * record (rare by construction, they made every return there news). The detector remembers
 * which short symbol sequences ("contexts": the latest symbol alone, the latest
 * two, ... the latest DETECT_ORDER) it has met, in a fixed table where a
 * context not met for DETECT_MEMORY samples is forgotten, so that it follows
 * drift. A value beyond the range seen so far has no context met before: all
 * of its contexts are new.
 *
 * A new context is worth its surprise: when contexts of its length have been
 * new at the share r_k of samples lately (an exponential average over
 * DETECT_RATE samples), ln(1 / r_k) / ln(DETECT_RATE), at most 1. In white
 * noise long contexts are new every few dozen samples and say little; in a
 * regular series any new context is news. The score is the mean of these over
 * the DETECT_ORDER lengths and the DETECT_GRIDS slicings, in [0, 1]. After a
 * score reaches DETECT_ALARM the output stays 0 for DETECT_HOLD samples (one
 * incident, one alarm), and during the first warm-up samples (DETECT_WARMUP
 * offline) the detector learns but says 0.
 *
 * The score of sample i depends only on samples 0..i, and a run is
 * deterministic: the scores of a prefix are the prefix of the scores.
 *
 * Pure computation: no I/O, no allocation but in detect_series_new_opts(), no
 * global state. An instance is not thread-safe; distinct instances are
 * independent.
 */
#ifndef AM_DETECT_SERIES_H
#define AM_DETECT_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The parameters, the same for every series. Why each value (NAB dev figures in
 * docs/detection.md, each checked against its neighbours):
 *   WARMUP  the shortest probation NAB grants a file is 150 rows; 100..200 score alike.
 *   LEVELS  6 slices (+ below, above): coarse enough that noise repeats its
 *           contexts, fine enough that a daily shape has several; 5 and 7 lose 2-3.5.
 *   GRIDS   2 slicings offset by half a slice: the least that steadies an edge.
 *   ORDER   4 samples of context; 3 and 5 score within 0.2.
 *   MEMORY  1200 samples forgotten after: longer than a day at 5-minute samples,
 *           so that daily shapes stay known; 900 and 1500 within 1.1.
 *   RATE    1000 samples averaged: rates down to 1/1000 are told from 0, which
 *           sets the surprise scale; 500 and 2000 within 0.9.
 *   ALARM   0.3, about a quarter of the contexts new and surprising; 0.25, 0.35 within 0.8.
 *   HOLD    100 samples held after an alarm; 70 and 130 within 3.6.
 *   BEYOND  half a slice past the range seen so far is a new extreme: the offset
 *           between the two slicings, the finest step the detector resolves
 *           (1 slice: 69.1; 0.25 / 0.4 / 0.6 / 0.75: 71.3 / 71.1 / 70.7 / 70.6).
 */
#define DETECT_WARMUP 150  /* samples learned silently before the first score */
#define DETECT_LEVELS 6    /* slices of the range seen so far */
#define DETECT_GRIDS  2    /* slicings, each offset by 1 / DETECT_GRIDS of a slice */
#define DETECT_ORDER  4    /* longest context, in samples */
#define DETECT_MEMORY 1200 /* samples after which an unmet context is new again */
#define DETECT_RATE   1000 /* samples over which the usual share of new contexts is averaged */
#define DETECT_ALARM  0.3  /* score that counts as an alarm */
#define DETECT_HOLD   100  /* samples held at 0 after an alarm */
#define DETECT_BEYOND 0.5  /* share of a slice past the range that makes a value out of range */

/* The table of contexts met: 2^table_bits entries of 4 bytes in buckets of two.
 * A noisy series keeps up to DETECT_GRIDS * DETECT_ORDER * DETECT_MEMORY contexts
 * alive; a smaller table forgets the oldest early (NAB dev: 2^13 as good as 2^16,
 * 2^10 within 1 point). */
#define DETECT_TABLE_BITS     13 /* offline default */
#define DETECT_TABLE_BITS_MIN 8
#define DETECT_TABLE_BITS_MAX 16

/* What may differ between detectors: an embedding caller running hundreds of
 * them wants smaller tables and its own warm-up. */
struct detect_series_opts {
    uint32_t warmup;     /* samples learned silently (offline default DETECT_WARMUP) */
    uint32_t table_bits; /* context table of 2^table_bits entries, DETECT_TABLE_BITS_MIN..MAX
                          * (offline default DETECT_TABLE_BITS) */
    uint32_t hold;       /* samples held at 0 after an alarm (offline default DETECT_HOLD; the
                          * daemon's engine, which keeps one open anomaly per incident, uses 0) */
    uint32_t grids;      /* slicings, 1..DETECT_GRIDS (offline default DETECT_GRIDS; the
                          * daemon's engine uses 1: half the work per sample, 1.8 points
                          * less on NAB, more alarms on noise, which its magnitude gate drops) */
};

/* One detector; opaque, its size depends on its options (detect_series_size()). */
struct detect_series;

/* Writes the offline defaults (what `arthamon detect` uses) into *o. */
void detect_series_default_opts(struct detect_series_opts *o);

/* Bytes one detector with options o takes, all in one block (for memory
 * accounting); 0 when o is out of range. */
size_t detect_series_size(const struct detect_series_opts *o);

/* A fresh detector (warming up) with options o (copied), on the heap, owned by
 * the caller (detect_series_free()); NULL when out of memory or when o is out
 * of range. */
struct detect_series *detect_series_new_opts(const struct detect_series_opts *o);

/* detect_series_new_opts() with the offline defaults. */
struct detect_series *detect_series_new(void);

/* Releases d; accepts NULL. */
void detect_series_free(struct detect_series *d);

/* Makes d a fresh detector again (warming up), with the same options. */
void detect_series_reset(struct detect_series *d);

/* Feeds the next sample and returns its anomaly score in [0, 1]. A non-finite
 * x is ignored: the state is unchanged and the score is 0. */
double detect_series_update(struct detect_series *d, double x);

/* True while the detector is still in its warm-up (its scores are all 0). */
bool detect_series_warming(const struct detect_series *d);

#endif
