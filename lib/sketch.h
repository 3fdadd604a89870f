/*
 * A mergeable quantile sketch with a relative-error guarantee (DDSketch,
 * Masson, Rim and Lee, VLDB 2019), for latencies recorded from any thread of
 * a node process and read once per tick by the sampler.
 *
 * Error guarantee. Values are counted in buckets of geometric width: the
 * magnitudes [2^-30, 2^40) (about 9.3e-10 to 1.1e12 of the caller's unit) are
 * cut into AM_SKETCH_SUBBUCKETS buckets per power of two, each bucket [l, u)
 * with u / l <= AM_SKETCH_GAMMA = (1 + a) / (1 - a), a = AM_SKETCH_REL_ERR.
 * A bucket is estimated by its harmonic midpoint 2lu / (l + u), which is
 * within (u - l) / (u + l) <= a of every value in [l, u) (relative error).
 * am_sketch_quantile(view, q) returns the estimate of the bucket holding the
 * observation of rank floor(q * (n - 1)) in ascending order (0-based, the
 * "lower" quantile, as sorting the observations and indexing would), pulled
 * into [min, max] where that stays within the bucket (ranks 0 and n - 1
 * return min and max themselves), so it is within a of that observation:
 * for every q, |estimate - exact| <= a * |exact|. This holds for
 * observations whose magnitude is in range (or zero); those outside it are
 * counted into the outermost bucket of their sign (and in clamped_low /
 * clamped_high), and their estimate is that bucket's. Negative values are
 * kept in a mirrored set of buckets, zero (and -0.0) in a count of its own;
 * NaN and infinities are refused and counted as dropped.
 *
 * Concurrency contract. am_sketch_add() may be called from any number of
 * threads at once, and at the same time as am_sketch_snapshot() and
 * am_sketch_drain() from any thread: it is lock-free, allocation-free and
 * makes no system call (relaxed atomic increments in per-thread shards: each
 * thread picks one of AM_SKETCH_SHARDS shards on its first call, in turn, so
 * that up to that many threads do not write the same cache lines; more share
 * shards, still correctly). Two drains at once are safe:
 * each observation lands in one of them. am_sketch_free() must not race with
 * anything. A struct am_sketch_view is a plain value owned by the caller: the
 * functions that take one are pure and thread-safe on distinct views (or on
 * one view that nobody writes).
 *
 * Drains. am_sketch_drain() swaps every bucket count of every shard with 0
 * (atomic exchange), so each observation's bucket increment lands in exactly
 * one drain's view: the counts of consecutive drains add up to exactly what
 * was recorded, and a view's count is the sum of its buckets. The sum, min,
 * max and the clamped and dropped counts are swapped the same way, but apart
 * from the buckets: an observation recorded while a drain runs may have its
 * bucket count in one interval and its share of those in the next (their
 * totals over all intervals are still exact; the quantiles use min and max
 * only where they lie in the bucket found, so such a straggler can move an
 * estimate only within that bucket, outermost buckets aside).
 *
 * Memory. A sketch reserves AM_SKETCH_SHARDS * ~72 KiB of zeroed memory; only
 * the pages of buckets actually used become resident. A view is ~72 KiB
 * (AM_SKETCH_BUCKETS * 16 bytes): allocate it once and reuse it (not on a
 * small thread stack).
 */
#ifndef AM_LIB_SKETCH_H
#define AM_LIB_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define AM_SKETCH_SUBBUCKETS 64    /* buckets per power of two */
#define AM_SKETCH_EXP_MIN    (-30) /* smallest magnitude counted as is: 2^-30 */
#define AM_SKETCH_EXP_MAX    39    /* magnitudes below 2^(39+1) counted as is */
#define AM_SKETCH_BUCKETS    ((AM_SKETCH_EXP_MAX - AM_SKETCH_EXP_MIN + 1) * AM_SKETCH_SUBBUCKETS)
#define AM_SKETCH_REL_ERR    0.0056 /* a: the relative error bound (0.56 %) */
#define AM_SKETCH_GAMMA      ((1.0 + AM_SKETCH_REL_ERR) / (1.0 - AM_SKETCH_REL_ERR))
#define AM_SKETCH_SHARDS     4 /* recording shards per sketch */

/* A sketch: opaque; am_sketch_new() / am_sketch_free(). */
struct am_sketch;

/*
 * A merged, non-atomic copy of a sketch's figures. pos[i] counts the
 * positive values of bucket i (bounds: am_sketch_bucket_bounds(i)), neg[i]
 * the negative values whose magnitude falls in bucket i. count = zero + the
 * sum of pos and neg; clamped_low/clamped_high are included in the edge
 * buckets (magnitudes below 2^-30 in bucket 0, at or above 2^40 in the last),
 * dropped is not in count. min and max are +inf and -inf when nothing was
 * recorded. Read it through the accessors below where one exists.
 */
struct am_sketch_view {
    uint64_t count;
    uint64_t zero;
    uint64_t dropped;      /* NaN and infinities refused */
    uint64_t clamped_low;  /* nonzero magnitudes below 2^-30 */
    uint64_t clamped_high; /* magnitudes at or above 2^40 */
    double sum;
    double min;
    double max;
    uint64_t pos[AM_SKETCH_BUCKETS];
    uint64_t neg[AM_SKETCH_BUCKETS];
};

/* One bucket as am_sketch_foreach_bucket() reports it: the values counted
 * lie in [lower, upper) for a positive bucket, (lower, upper] for a negative
 * one, and are exactly 0 for the zero bucket (lower = upper = 0). The
 * outermost buckets also hold the clamped values (see the view). */
struct am_sketch_bucket {
    double lower;
    double upper;
    uint64_t count;
};

/* Called per non-empty bucket; a nonzero return stops the walk and is
 * returned by am_sketch_foreach_bucket(). */
typedef int (*am_sketch_bucket_fn)(void *userdata, const struct am_sketch_bucket *bucket);

/* A new, empty sketch, owned by the caller (am_sketch_free()); NULL only on
 * out-of-memory. Thread-safe. */
struct am_sketch *am_sketch_new(void);

/* Frees sk (NULL accepted). No other call on sk may run or follow. */
void am_sketch_free(struct am_sketch *sk);

/* Records v: the hot path. Thread-safe, lock-free, no allocation, no system
 * call. NaN and infinities are counted as dropped and otherwise ignored. */
void am_sketch_add(struct am_sketch *sk, double v);

/* Writes into *ret_view the sum of every shard, leaving sk unchanged. Each
 * counter is read atomically, the set of them not at once: observations
 * recorded meanwhile may be partly included. Thread-safe with am_sketch_add(). */
void am_sketch_snapshot(const struct am_sketch *sk, struct am_sketch_view *ret_view);

/* Like am_sketch_snapshot(), and resets sk: what was recorded since the
 * previous drain, every observation's count in exactly one drain (see the
 * top of this file). Thread-safe with am_sketch_add(). */
void am_sketch_drain(struct am_sketch *sk, struct am_sketch_view *ret_view);

/* Makes view empty (to merge views into). */
void am_sketch_view_clear(struct am_sketch_view *view);

/* Adds src into dst, as if everything recorded into either had been recorded
 * into one sketch (the sums may differ by floating-point rounding). Returns
 * 0 (every view has the same layout). dst == src doubles dst. */
int am_sketch_merge(struct am_sketch_view *dst, const struct am_sketch_view *src);

/* The estimate of the q-quantile (0 <= q <= 1) within AM_SKETCH_REL_ERR of
 * the observation of rank floor(q * (count - 1)); NaN for an empty view or a
 * q outside [0, 1]. */
double am_sketch_quantile(const struct am_sketch_view *view, double q);

/* Observations counted (not dropped). */
uint64_t am_sketch_view_count(const struct am_sketch_view *view);
/* Their sum (0 when empty). */
double am_sketch_view_sum(const struct am_sketch_view *view);
/* Smallest and largest observation; NaN when the view is empty. */
double am_sketch_view_min(const struct am_sketch_view *view);
double am_sketch_view_max(const struct am_sketch_view *view);
/* NaN and infinities refused. */
uint64_t am_sketch_view_dropped(const struct am_sketch_view *view);

/* Calls fn for each non-empty bucket in ascending order of value: negative
 * buckets (most negative first), zero, positive buckets. Returns 0, or the
 * first nonzero value fn returned. */
int am_sketch_foreach_bucket(const struct am_sketch_view *view, am_sketch_bucket_fn fn,
                             void *userdata);

/* The mapping itself, pure and thread-safe: the index (0..AM_SKETCH_BUCKETS-1)
 * of the bucket that counts |v| (clamped at the edges; 0 for 0, NaN, inf:
 * those are never counted in buckets); and the bounds [*ret_lower,
 * *ret_upper) of bucket index: 0, or -ERANGE (nothing written) when index is
 * not below AM_SKETCH_BUCKETS. */
size_t am_sketch_bucket_index(double v);
int am_sketch_bucket_bounds(size_t index, double *ret_lower, double *ret_upper);

#endif
