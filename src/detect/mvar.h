/*
 * The multivariate anomaly detector: one instance watches the whole snapshot
 * vector of a tick (tens to a few hundred series) and scores combinations of
 * values that the node has not shown before, even when each value lies within
 * its own usual range (transactions per second falling while the CPU stays
 * busy and the mempool grows). Online, unsupervised, causal; O(dim * hidden)
 * time per tick and a fixed amount of memory.
 *
 * Each tick:
 *
 * 1. Standardise. Each feature has an exponential mean and mean absolute
 *    deviation over std_window ticks (a plain running mean while it has fewer
 *    observations). Its value becomes (x - mean) / scale, clipped to +-clip,
 *    where scale is 1.25 times the deviation (the standard deviation of a
 *    normal law) but at least scale_floor times |mean|, so that a constant
 *    series does not blow up on its first small change. An absent value (NaN
 *    or infinite) is the mean, 0, and a feature observed fewer than
 *    feature_warmup times is absent too while its mean and scale settle.
 * 2. Reconstruct. An autoencoder dim -> hidden (tanh) -> dim (linear) maps the
 *    standardised vector to a reconstruction in which each feature comes
 *    from the others only: its own path through the hidden layer is taken
 *    out (exactly for a linear layer, to first order through tanh), so the
 *    model cannot copy a feature through and an independent, noisy feature
 *    stays unpredictable instead of using up hidden units. The hidden layer
 *    carries the few directions in which features usually move together, so
 *    a vector that follows the usual joint relations (a load peak that moves
 *    CPU and transactions together) is reconstructed well, however large the
 *    change, and one that breaks them is not.
 * 3. Normalise the residuals. Feature i's squared residual is divided by its
 *    usual squared residual (an exponential mean over resid_window ticks,
 *    at least resid_floor, learned from squared residuals capped at 9 times
 *    itself so that an incident does not make itself usual): a feature no
 *    model can predict counts about 1, a feature the others predict well
 *    counts a lot when it departs from them. These are the contributions;
 *    their mean E is about 1 in normal times whatever dim is.
 * 4. Score. log E is compared with its own recent distribution (an
 *    exponential mean and deviation over score_window ticks, updates clipped
 *    at 3 deviations): z = (log E - mean) / deviation. Below z_quiet the score
 *    is 0; above, u = z - z_quiet gives u^2 / (u^2 + (z_half - z_quiet)^2),
 *    0.5 at z_half and towards 1 beyond.
 * 5. Learn. One step of normalised gradient descent (NLMS: each layer's step
 *    divided by 1 + the squared norm of its input, so that the step does not
 *    depend on dim) on the squared residuals of the used features, each
 *    residual clipped to +-3 (a Huber loss); the step decays from rate to
 *    rate_floor (halved after rate_decay ticks) and stays there so that the
 *    model follows drift. Every update of the tick (standardisation, model,
 *    usual residuals, calibration) is slowed as the score rises, to
 *    damp_floor of its speed from a score of 0.5 on: an incident keeps
 *    scoring (a changed relation held from then on scores for about 170
 *    ticks with the defaults, unit-tested), and a permanent change is learned
 *    in the end (a shift of every feature by half its level is quiet again
 *    after about 300 ticks).
 *
 * Why an autoencoder and not the alternatives: a full covariance (Mahalanobis
 * distance, exact PCA) costs O(dim^2) per tick, 90,000 products at 300
 * features; clustering or nearest neighbours need a memory of past vectors
 * and do not say which feature departs; per-pair correlations miss relations
 * spread over several features. A small autoencoder learns the few joint
 * directions in O(dim * hidden), handles missing features by masking, and
 * its residuals name the features that broke the relation. Its linear
 * special case is online PCA; the tanh layer adds bent relations
 * (saturation: CPU at 100% while the load keeps rising).
 *
 * Features are fixed slots: the caller gives each series an index below dim
 * and leaves unused slots NaN; a feature may appear late or vanish and come
 * back. The first warmup ticks (ticks with at least one present value) are
 * learned and scored 0; a tick with no present value changes nothing and
 * scores 0.
 *
 * Pure computation: no I/O, no allocation but in mvar_new(), no global state.
 * A run is deterministic for a given seed (which only draws the initial
 * weights): the scores of a prefix are the prefix of the scores. An instance
 * is not thread-safe; distinct instances are independent.
 */
#ifndef AM_DETECT_MVAR_H
#define AM_DETECT_MVAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MVAR_MAX_DIM    4096 /* features at most */
#define MVAR_MAX_HIDDEN 64   /* hidden units at most */

struct mvar_opts {
    uint32_t dim;            /* features, 1 .. MVAR_MAX_DIM */
    uint32_t hidden;         /* hidden units, 1 .. MVAR_MAX_HIDDEN (default 8) */
    uint32_t warmup;         /* ticks learned and scored 0 (default 600) */
    uint32_t feature_warmup; /* observations of a feature before it is used (default 30) */
    double std_window;       /* ticks of a feature's mean and deviation (default 1000) */
    double scale_floor;      /* least scale, a share of |mean| (default 0.01) */
    double clip;             /* standardised values clipped to +-clip (default 8) */
    double rate;             /* first step of the model (default 0.1) */
    double rate_floor;       /* step it decays to and keeps (default 0.02) */
    double rate_decay;       /* ticks over which the step first halves (default 300) */
    double resid_window;     /* ticks of a feature's usual squared residual (default 300) */
    double resid_floor;      /* least usual squared residual (default 0.01) */
    double score_window;     /* ticks of the log error's mean and deviation (default 1000) */
    double z_quiet;          /* z of the log error below which the score is 0 (default 2) */
    double z_half;           /* z of the log error at which the score is 0.5 (default 5) */
    double damp_floor;       /* share of the learning speed kept from score 0.5 on (default 0.1) */
};

struct mvar;

/* Writes the defaults for dim features into *o. Never fails. */
void mvar_default_opts(struct mvar_opts *o, uint32_t dim);

/* Bytes an instance with options *o takes (one block); 0 if *o is invalid. */
size_t mvar_size(const struct mvar_opts *o);

/* A fresh detector (warming up) with the options *o (copied) and the weights
 * drawn from seed, owned by the caller (mvar_free()). NULL when out of memory
 * or when *o is invalid: dim or hidden 0 or above its maximum, a window, rate
 * or clip not positive and finite, rate_floor above rate, damp_floor outside
 * (0, 1], z_half not above z_quiet, a negative floor. */
struct mvar *mvar_new(const struct mvar_opts *o, uint64_t seed);

/* Releases m; accepts NULL. */
void mvar_free(struct mvar *m);

/* Feeds one tick, x[0 .. dim - 1] (read only; NaN or infinite: absent), and
 * returns its anomaly score in [0, 1]: 0 while warming up and for a tick with
 * no present value. Never allocates. */
double mvar_update(struct mvar *m, const double *x);

/* True while the detector is still in its warm-up (its scores are all 0). */
bool mvar_warming(const struct mvar *m);

/* Feature i's share of the last tick's error (its normalised squared
 * residual): in [0, 1], summing to 1 over the features used that tick, 0 for
 * an absent or still warming feature, for i >= dim, and when the error was 0. */
double mvar_contribution(const struct mvar *m, uint32_t i);

#endif
