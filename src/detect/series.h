/*
 * The per-series anomaly detector: online, unsupervised, causal, O(1) time and
 * a fixed amount of memory per sample.
 *
 * Each value is turned into a symbol: which of DETECT_LEVELS equal slices of
 * the range seen so far it falls in, or "below" / "above" when it lies more
 * than one slice outside that range. This is done on DETECT_GRIDS slicings
 * offset from each other by a fraction of a slice, so that a value wavering
 * across one slicing's edge is steady in the other. The
 * detector remembers which short symbol sequences ("contexts": the latest
 * symbol alone, the latest two, ... the latest DETECT_ORDER) it has seen, in a
 * fixed hashed table where a context not met for DETECT_MEMORY samples is
 * forgotten, so that it follows drift. A context of length k that is new
 * counts 1 - r_k, where r_k is how often contexts of that length have been new
 * lately (an exponential average over DETECT_RATE samples): in a noisy series
 * long contexts are often new and say little, in a regular one any new context
 * is news. The score is the mean of these over the DETECT_ORDER lengths and the
 * DETECT_GRIDS slicings. After
 * a score reaches DETECT_ALARM the output stays 0 for DETECT_HOLD samples (one
 * incident, one alarm), and during the first DETECT_WARMUP samples the
 * detector learns but says 0.
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

#define DETECT_WARMUP 300  /* samples learned silently before the first score */
#define DETECT_LEVELS 6    /* slices of the range seen so far */
#define DETECT_GRIDS  2    /* slicings, each offset by 1 / DETECT_GRIDS of a slice */
#define DETECT_ORDER  4    /* longest context, in samples */
#define DETECT_MEMORY 1200 /* samples after which an unseen context is new again */
#define DETECT_RATE   1000 /* samples over which the usual rate of new contexts is averaged */
#define DETECT_ALARM  0.4  /* score that counts as an alarm */
#define DETECT_HOLD   100  /* samples held at 0 after an alarm */

#define DETECT_TABLE_BITS     13 /* offline default: 2^13 hashed contexts remembered */
#define DETECT_TABLE_BITS_MIN 8
#define DETECT_TABLE_BITS_MAX 16

/* What may differ between detectors: an embedding caller running hundreds of
 * them wants smaller tables and its own warm-up. */
struct detect_series_opts {
    uint32_t warmup;     /* samples learned silently (offline default DETECT_WARMUP) */
    uint32_t table_bits; /* context table of 2^table_bits entries, DETECT_TABLE_BITS_MIN..MAX
                          * (offline default DETECT_TABLE_BITS) */
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
