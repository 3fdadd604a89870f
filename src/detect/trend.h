/*
 * A robust trend of one series over a bounded window: the slope of a slowly
 * growing quantity (the resident memory of the monitored process, the bytes
 * used on a disk, the transactions waiting in the mempool), how well a
 * straight line describes it, and when that line reaches a limit. Fixed
 * memory and O(1) amortised time per sample, whatever the horizon.
 *
 * Window. Samples are averaged `step` at a time into points (mean time, mean
 * value), and a ring keeps the latest `points` of them. When a point arrives
 * at a full ring whose points span less than horizon_sec, adjacent points are
 * merged pairwise (the ring is then half full) and step doubles, up to
 * max_step; otherwise the oldest point is dropped. So the window settles at
 * between horizon_sec and twice horizon_sec, whatever the sampling interval,
 * with at most `points` points. Step never shrinks (until trend_reset()): a
 * series sampled more slowly later spans more than wanted. horizon_sec 0
 * keeps step fixed: the window is the latest points * step samples.
 * Averaging also smooths whatever is faster than a point (a GC cycle of a
 * few seconds).
 *
 * Fit (once per new point, at most: computed on demand and cached).
 *  - Slope: Theil-Sen, the median of the slopes between all pairs of points,
 *    which ignores up to 29 % of wild points (spikes, a restart's dip).
 *    Level: the median of the values minus slope * time, at the newest point,
 *    carried on to the newest sample.
 *  - Fit quality in [0, 1]: the geometric mean of
 *      r2  = 1 - (resid_scale / spread)^2 (clamped to [0, 1]), where
 *            resid_scale is the scaled median absolute residual of the line
 *            and spread that of the values around their median: a robust
 *            R^2, the share of the series' spread that the line explains;
 *      tau = Kendall's tau of value against time (the Mann-Kendall trend
 *            statistic: pairs rising minus pairs falling, over all pairs),
 *            its magnitude when its sign agrees with the slope's, else 0:
 *            how consistently later points lie on the line's side.
 *    A steady climb with noise has both near 1. A sawtooth (memory that a
 *    garbage collector frees now and then) has r2 near 0, since its teeth
 *    are as wide as its spread, and tau near 0, since points a tooth or more
 *    apart are as often lower as higher; a flat noisy series likewise.
 *  - Flat: a fit whose Mann-Kendall z (S over its standard deviation, for
 *    independent points) is below z_flat in magnitude has no trend that
 *    noise would not give; its ETA is infinite.
 * The pairwise pass is O(points^2) (2016 pairs at 64 points) plus linear
 * selections; its worst case is bounded (introselect).
 *
 * Pure computation: no I/O, no allocation but in trend_new(), no global
 * state. An instance is not thread-safe, trend_get() included (it writes the
 * instance's cache and scratch space); distinct instances are independent.
 */
#ifndef AM_DETECT_TREND_H
#define AM_DETECT_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TREND_MAX_POINTS 128 /* points kept at most */

struct trend_opts {
    uint32_t points;     /* points kept, 4 .. TREND_MAX_POINTS (default 64) */
    uint32_t step;       /* samples averaged into a point at first, >= 1 (default 1) */
    uint32_t max_step;   /* samples per point at most, >= step (default 1 << 20) */
    uint32_t min_points; /* points needed for a fit, 3 .. points (default 8) */
    double horizon_sec;  /* span wanted; 0: step stays fixed (default 21600, 6 h) */
    double min_span_sec; /* span needed for a fit, >= 0 (default 0) */
    double z_flat;       /* Mann-Kendall |z| below which a fit is flat, >= 0 (default 2.58) */
};

struct trend_fit {
    bool valid;           /* false: too few points or too short a span; the rest is 0 */
    bool flat;            /* no significant trend (|z| < z_flat): the ETA is infinite */
    size_t n;             /* points fitted */
    double span_sec;      /* from the oldest point to the newest sample */
    double slope_per_sec; /* Theil-Sen slope, value units per second */
    double level;         /* fitted value at the newest sample's time */
    double quality;       /* 0 .. 1: sqrt(r2 * tau), see above */
    double resid_scale;   /* 1.4826 * median |residual|: the noise around the line */
    double r2;            /* robust share of the spread explained, 0 .. 1 */
    double tau;           /* Kendall's tau of value against time, -1 .. 1 */
    double z;             /* Mann-Kendall z */
};

struct trend;

/* Writes the defaults into *o. Never fails. */
void trend_default_opts(struct trend_opts *o);

/* Bytes an instance with options *o takes (one block); 0 if *o is invalid. */
size_t trend_size(const struct trend_opts *o);

/* A fresh, empty trend with the options *o (copied), owned by the caller
 * (trend_free()). NULL when out of memory or when *o is invalid: points
 * outside 4 .. TREND_MAX_POINTS, step 0 or above max_step, min_points
 * outside 3 .. points, horizon_sec, min_span_sec or z_flat negative or not
 * finite. */
struct trend *trend_new(const struct trend_opts *o);

/* Releases t; accepts NULL. */
void trend_free(struct trend *t);

/* Forgets every sample; step is back to the option's. */
void trend_reset(struct trend *t);

/* One sample at time t_sec (monotonic, seconds) with value v. A non-finite
 * t_sec or v, or a t_sec not after the previous sample's, is ignored.
 * O(1) amortised; never allocates. */
void trend_add(struct trend *t, double t_sec, double v);

/* Fits the points and writes the fit into *fit (always written). Returns
 * fit->valid: false while there are fewer than min_points points or they
 * span less than min_span_sec. The fit runs once per new point; later calls
 * reuse it and only carry the level on to the newest sample. */
bool trend_get(const struct trend *t, struct trend_fit *fit);

/* Seconds until the fitted line reaches `limit` from the newest sample: 0
 * when the level is already at the limit, +INFINITY when the line moves away
 * from it or is flat (fit->flat or a zero slope), when fit is not valid, or
 * when limit is not finite. A limit above the level is reached going up, one
 * below going down. */
double trend_eta_sec(const struct trend_fit *fit, double limit);

/* Samples now averaged into a point (a power of two times the option's step). */
uint32_t trend_step(const struct trend *t);

/* Points now in the ring (at most the option's points). */
size_t trend_count(const struct trend *t);

#endif
