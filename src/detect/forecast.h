/*
 * An online learned forecast of one series horizon_sec ahead ("CPU in 5
 * minutes"), trained on the node's own history as it arrives, with a
 * confidence; and the predictor interface through which the engine uses it,
 * so that another model (a user's ONNX file) can take its place.
 *
 * The built-in model ("rls") is a linear regression of the change over the
 * horizon on features of the recent past, fitted by recursive least squares
 * with exponential forgetting. At each sample (time t, value x):
 *
 * 1. Scale. m and d, exponential means of x and of |x - m| over scale_sec
 *    (bias-corrected, so right from the first sample): the series' level and
 *    usual spread. s = max(d, 1e-6 * (1 + |m|)) is the unit of the features
 *    and of the target.
 * 2. Features (FORECAST_FEATURES = 8), each clipped to +-clip:
 *      1 (bias);
 *      (x - e_k) / s for exponential means e_k of x with time constants
 *        horizon/4, horizon and 4 * horizon (k = 1..3): together the local
 *        level, slope and curvature, and how far x stands from them (noise
 *        to smooth away, a deviation that tends to revert);
 *      sin and cos of the time of day and of twice it (from wall_sec, UTC):
 *        the daily profile, whatever its phase.
 *    Exponential means use alpha = 1 - exp(-dt / tau), so irregular
 *    sampling is handled; alpha is recomputed only when dt changes.
 * 3. Predict. The forecast of x(t + horizon) is x + s * (w . f), clipped to
 *    [min, max]. With w = 0 (the prior) it is persistence: x itself.
 * 4. Remember the example (t, x, s, f, its clipped prediction) in a ring of
 *    pending examples, at most one per horizon / (pending / 2) seconds so
 *    that the ring covers the horizon whatever the sampling interval (at a
 *    50 ms interval and a 5 minute horizon with the default 128 entries, one
 *    example every 4.7 s); an example meeting a full ring is dropped and
 *    counted.
 * 5. Label and train. A pending example whose time + horizon has been
 *    reached gets the value at that time, interpolated linearly between the
 *    two samples around it. Its out-of-sample errors (of the prediction made
 *    then, and of persistence, x) feed exponential means over eval_examples
 *    examples; then one RLS step on target (label - x) / s, clipped to +-clip,
 *    with forgetting factor exp(-dt / memory_sec), dt the time since the last
 *    step: old examples weigh e^-1 after memory_sec. Forgetting pauses while
 *    the trace of P is above its initial value (no wind-up on a series that
 *    excites few features). A label spanning a gap in the samples longer
 *    than both the horizon and four times the usual interval is not used.
 *
 * Confidence, in [0, 1]: 0 before warmup_examples labelled examples, then
 *      (1 - mae_model / d) * min(1, mae_naive / mae_model), clamped,
 * where mae_model and mae_naive are the recent mean absolute errors of the
 * model and of persistence: how small the error is against the series'
 * usual spread, lowered when the model does worse than persistence. White
 * noise has mae_model about d (confidence near 0); a daily profile or a
 * drift that the model follows has an error well below d.
 *
 * Cost: O(FORECAST_FEATURES) per sample and O(FORECAST_FEATURES^2) per
 * labelled example; memory fixed at forecast_new().
 *
 * Pure computation: no I/O, no allocation but in forecast_new(), no global
 * state. An instance is not thread-safe; distinct instances are independent.
 */
#ifndef AM_DETECT_FORECAST_H
#define AM_DETECT_FORECAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORECAST_FEATURES    8     /* features of the built-in model */
#define FORECAST_MAX_PENDING 65536 /* pending examples at most */

struct forecast_opts {
    double horizon_sec;       /* how far ahead, > 0 */
    double min, max;          /* predictions clipped to [min, max] (default -inf, +inf) */
    uint32_t warmup_examples; /* labelled examples before the first prediction (default 100) */
    uint32_t pending;         /* pending examples kept, 4 .. FORECAST_MAX_PENDING (default 128) */
    double memory_sec;        /* forgetting time constant (default max(3 days, 20 horizons)) */
    double scale_sec;         /* time constant of the level and spread (default 1 day) */
    double eval_examples;     /* examples the recent errors average over (default 200) */
    double clip;              /* features and targets clipped to +-clip spreads (default 8) */
    double prior;             /* initial diagonal of P, > 0 (default 100) */
};

/* Counters and recent errors of an instance (for tests and diagnostics). */
struct forecast_stats {
    uint64_t samples;  /* samples used */
    uint64_t ignored;  /* samples ignored: non-finite, or time going backwards */
    uint64_t labelled; /* examples trained on */
    uint64_t dropped;  /* examples dropped: ring full, or label across a gap */
    uint32_t pending;  /* examples waiting for their label now */
    double mae_model;  /* recent mean absolute error of the model (NaN before any) */
    double mae_naive;  /* the same for persistence */
    double spread;     /* the series' usual spread, d */
    double confidence; /* as forecast_get() would give it, 0 while warming up */
};

struct forecast;

/* Writes the defaults for a horizon of horizon_sec seconds into *o. Never fails. */
void forecast_default_opts(struct forecast_opts *o, double horizon_sec);

/* Bytes an instance with options *o takes (one block); 0 if *o is invalid. */
size_t forecast_size(const struct forecast_opts *o);

/* A fresh forecaster (warming up) with the options *o (copied), owned by the
 * caller (forecast_free()). NULL when out of memory or when *o is invalid:
 * horizon_sec, memory_sec, scale_sec, eval_examples, clip or prior not
 * positive and finite, min or max NaN or min >= max, warmup_examples 0,
 * pending outside 4 .. FORECAST_MAX_PENDING. */
struct forecast *forecast_new(const struct forecast_opts *o);

/* Releases f; accepts NULL. */
void forecast_free(struct forecast *f);

/* One sample: t_sec monotonic seconds, wall_sec epoch seconds (for the time
 * of day; NaN: unknown, the daily features are 0), value v. A non-finite
 * t_sec or v, or a t_sec not after the previous sample's, is ignored. Never
 * allocates. */
void forecast_add(struct forecast *f, double t_sec, double wall_sec, double v);

/* The latest prediction of the value at (newest sample's time + horizon) and
 * its confidence in [0, 1], into *ret_value and *ret_confidence. Returns
 * false, writing nothing, while warming up (fewer than warmup_examples
 * labelled examples). */
bool forecast_get(const struct forecast *f, double *ret_value, double *ret_confidence);

/* Writes the counters and recent errors of f into *ret. Never fails. */
void forecast_get_stats(const struct forecast *f, struct forecast_stats *ret);

/*
 * A predictor the engine drives: one instance per forecast series, created
 * with the series' options and fed every sample. create() returns NULL on
 * failure (out of memory, options it cannot serve, a model file it cannot
 * load); the state it returns is owned by the engine, released with
 * destroy(), which accepts NULL. get() has forecast_get()'s contract. The
 * engine calls an instance from one thread at a time.
 */
struct predictor_ops {
    const char *name; /* "rls" */
    void *(*create)(const struct forecast_opts *o);
    void (*destroy)(void *state);
    void (*add)(void *state, double t_sec, double wall_sec, double v);
    bool (*get)(void *state, double *ret_value, double *ret_confidence);
};

extern const struct predictor_ops forecast_rls_ops; /* the built-in one */

#endif
