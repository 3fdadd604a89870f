/* The online learned forecast; see forecast.h for what it promises. */
#include "detect/forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F        FORECAST_FEATURES
#define N_EWMA   3       /* exponential means of x among the features */
#define DAY_SEC  86400.0 /* period of the daily features */
#define GAP_DT   4.0     /* a label across a gap longer than this many usual intervals... */
#define DT_RATE  0.05    /* weight of a new interval in the usual one */
#define TWO_PI   6.283185307179586
#define SPREAD_0 1e-6 /* least unit, a share of 1 + |level| */

struct example {
    double t, x, s; /* time, value and unit when it was taken */
    double pred;    /* the forecast made then, clipped */
    double f[F];
};

struct forecast {
    struct forecast_opts o;
    double spacing; /* least seconds between pending examples */
    double tau[N_EWMA];
    uint64_t samples, ignored, labelled, dropped;

    /* the series */
    bool have; /* a sample has been seen */
    double t_prev, v_prev;
    double dt_cached; /* the interval the alphas are for */
    double alpha[N_EWMA], alpha_scale;
    double e[N_EWMA];    /* exponential means of x */
    double m_sum, d_sum; /* bias-corrected means: level and spread, over their weights */
    double m_w, d_w;
    double dt_usual; /* the usual interval, 0 before the second sample */

    /* the model */
    double w[F];
    double p[F][F];
    bool trained;
    double t_train; /* time of the last example trained on */

    /* recent errors, bias-corrected exponential means */
    double err_model, err_naive, err_w;

    double pred;  /* the latest forecast, clipped */
    double t_enq; /* time of the latest pending example */
    uint32_t head, count;
    struct example ring[];
};

void forecast_default_opts(struct forecast_opts *o, double horizon_sec)
{
    memset(o, 0, sizeof(*o));
    o->horizon_sec = horizon_sec;
    o->min = -INFINITY;
    o->max = INFINITY;
    o->warmup_examples = 100;
    o->pending = 128;
    o->memory_sec = 3 * DAY_SEC;
    if (isfinite(horizon_sec) && 20 * horizon_sec > o->memory_sec)
        o->memory_sec = 20 * horizon_sec;
    o->scale_sec = DAY_SEC;
    o->eval_examples = 200;
    o->clip = 8;
    o->prior = 100;
}

static bool positive(double x)
{
    return isfinite(x) && x > 0;
}

static bool valid_opts(const struct forecast_opts *o)
{
    return positive(o->horizon_sec) && positive(o->memory_sec) && positive(o->scale_sec) &&
           positive(o->eval_examples) && positive(o->clip) && positive(o->prior) &&
           !isnan(o->min) && !isnan(o->max) && o->min < o->max && o->warmup_examples > 0 &&
           o->pending >= 4 && o->pending <= FORECAST_MAX_PENDING;
}

size_t forecast_size(const struct forecast_opts *o)
{
    if (!valid_opts(o))
        return 0;
    return sizeof(struct forecast) + o->pending * sizeof(struct example);
}

static void reset_p(struct forecast *f)
{
    memset(f->p, 0, sizeof(f->p));
    for (int i = 0; i < F; i++)
        f->p[i][i] = f->o.prior;
}

struct forecast *forecast_new(const struct forecast_opts *o)
{
    size_t size = forecast_size(o);
    struct forecast *f;

    if (size == 0)
        return NULL;
    f = calloc(1, size);
    if (!f)
        return NULL;
    f->o = *o;
    f->spacing = o->horizon_sec / (o->pending / 2);
    f->tau[0] = o->horizon_sec / 4;
    f->tau[1] = o->horizon_sec;
    f->tau[2] = o->horizon_sec * 4;
    f->dt_cached = -1;
    f->pred = NAN;
    reset_p(f);
    return f;
}

void forecast_free(struct forecast *f)
{
    free(f);
}

static double clip(double x, double lim)
{
    return x < -lim ? -lim : x > lim ? lim : x;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The unit of features and targets: the spread, but never 0. */
static double unit(const struct forecast *f)
{
    double m = f->m_sum / f->m_w, d = f->d_w > 0 ? f->d_sum / f->d_w : 0;
    double floor = SPREAD_0 * (1 + fabs(m));

    return d > floor ? d : floor;
}

/* One step of exponentially weighted recursive least squares on example f_in
 * with target r, forgetting factor lambda. P stays symmetric: it is updated
 * with the outer product of P f with itself. */
static void rls_step(struct forecast *f, const double *x, double r, double lambda)
{
    double pf[F], den = lambda, err = r, trace = 0;
    int i, j;

    for (i = 0; i < F; i++) {
        double acc = 0;

        for (j = 0; j < F; j++)
            acc += f->p[i][j] * x[j];
        pf[i] = acc;
        den += x[i] * acc;
        err -= f->w[i] * x[i];
    }
    if (!isfinite(den) || !(den > 0)) {
        reset_p(f);
        return;
    }
    for (i = 0; i < F; i++) {
        f->w[i] += pf[i] / den * err;
        for (j = 0; j < F; j++)
            f->p[i][j] = (f->p[i][j] - pf[i] * pf[j] / den) / lambda;
        trace += f->p[i][i];
    }
    if (!isfinite(trace)) {
        memset(f->w, 0, sizeof(f->w));
        reset_p(f);
    }
}

static double p_trace(const struct forecast *f)
{
    double tr = 0;

    for (int i = 0; i < F; i++)
        tr += f->p[i][i];
    return tr;
}

/* Scores and learns example ex, whose value horizon later was y. */
static void train(struct forecast *f, const struct example *ex, double y)
{
    double beta = 1 / f->o.eval_examples, lambda = 1;

    f->err_model = (1 - beta) * f->err_model + beta * fabs(ex->pred - y);
    f->err_naive = (1 - beta) * f->err_naive + beta * fabs(ex->x - y);
    f->err_w = (1 - beta) * f->err_w + beta;
    /* forgetting by time, not by examples, so that the memory does not
     * depend on the sampling interval; paused while P is above its start
     * (a direction no recent example excites would otherwise grow without
     * bound) */
    if (f->trained && ex->t > f->t_train && p_trace(f) <= F * f->o.prior)
        lambda = exp(-(ex->t - f->t_train) / f->o.memory_sec);
    rls_step(f, ex->f, clip((y - ex->x) / ex->s, f->o.clip), lambda);
    f->trained = true;
    f->t_train = ex->t;
    f->labelled++;
}

/* Labels the pending examples whose time + horizon is in (t_prev, t], with
 * the value interpolated between the previous sample and (t, v). */
static void label(struct forecast *f, double t, double v)
{
    double gap = t - f->t_prev;
    bool across_gap = f->dt_usual > 0 && gap > f->o.horizon_sec && gap > GAP_DT * f->dt_usual;

    while (f->count > 0) {
        const struct example *ex = &f->ring[f->head];
        double at = ex->t + f->o.horizon_sec;

        if (at > t)
            break;
        if (across_gap || at < f->t_prev)
            f->dropped++;
        else
            train(f, ex, f->v_prev + (v - f->v_prev) * (at - f->t_prev) / gap);
        f->head = (f->head + 1) % f->o.pending;
        f->count--;
    }
}

/* Moves the level, spread and exponential means to sample (t, v). */
static void track(struct forecast *f, double t, double v)
{
    double m_old;
    int k;

    if (!f->have) {
        for (k = 0; k < N_EWMA; k++)
            f->e[k] = v;
        f->m_sum = v;
        f->m_w = 1;
        return;
    }
    if (t - f->t_prev != f->dt_cached) {
        f->dt_cached = t - f->t_prev;
        for (k = 0; k < N_EWMA; k++)
            f->alpha[k] = -expm1(-f->dt_cached / f->tau[k]);
        f->alpha_scale = -expm1(-f->dt_cached / f->o.scale_sec);
    }
    for (k = 0; k < N_EWMA; k++)
        f->e[k] += f->alpha[k] * (v - f->e[k]);
    m_old = f->m_sum / f->m_w;
    f->m_sum = (1 - f->alpha_scale) * f->m_sum + f->alpha_scale * v;
    f->m_w = (1 - f->alpha_scale) * f->m_w + f->alpha_scale;
    f->d_sum = (1 - f->alpha_scale) * f->d_sum + f->alpha_scale * fabs(v - m_old);
    f->d_w = (1 - f->alpha_scale) * f->d_w + f->alpha_scale;
    if (f->dt_usual > 0)
        f->dt_usual += DT_RATE * (f->dt_cached - f->dt_usual);
    else
        f->dt_usual = f->dt_cached;
}

static void features(const struct forecast *f, double wall, double v, double s, double *x)
{
    int k;

    x[0] = 1;
    for (k = 0; k < N_EWMA; k++)
        x[1 + k] = clip((v - f->e[k]) / s, f->o.clip);
    if (isfinite(wall)) {
        double ph = fmod(wall, DAY_SEC) * (TWO_PI / DAY_SEC), sn = sin(ph), cs = cos(ph);

        x[4] = sn;
        x[5] = cs;
        x[6] = 2 * sn * cs;
        x[7] = cs * cs - sn * sn;
    } else {
        x[4] = x[5] = x[6] = x[7] = 0;
    }
}

void forecast_add(struct forecast *f, double t_sec, double wall_sec, double v)
{
    double x[F], s, y = 0;
    int k;

    if (!isfinite(t_sec) || !isfinite(v) || (f->have && !(t_sec > f->t_prev))) {
        f->ignored++;
        return;
    }
    if (f->have)
        label(f, t_sec, v);
    f->samples++;
    track(f, t_sec, v);
    s = unit(f);
    features(f, wall_sec, v, s, x);
    for (k = 0; k < F; k++)
        y += f->w[k] * x[k];
    f->pred = clamp(v + s * y, f->o.min, f->o.max);

    if (!f->have || t_sec - f->t_enq >= f->spacing) {
        if (f->count == f->o.pending) {
            f->dropped++;
        } else {
            struct example *ex = &f->ring[(f->head + f->count) % f->o.pending];

            ex->t = t_sec;
            ex->x = v;
            ex->s = s;
            ex->pred = f->pred;
            memcpy(ex->f, x, sizeof(x));
            f->count++;
            f->t_enq = t_sec;
        }
    }
    f->have = true;
    f->t_prev = t_sec;
    f->v_prev = v;
}

static double confidence(const struct forecast *f)
{
    double mm, mn, c;

    if (f->labelled < f->o.warmup_examples || !(f->err_w > 0))
        return 0;
    mm = f->err_model / f->err_w;
    mn = f->err_naive / f->err_w;
    c = 1 - mm / unit(f);
    if (mm > mn)
        c *= mn / mm;
    return clamp(c, 0, 1);
}

bool forecast_get(const struct forecast *f, double *ret_value, double *ret_confidence)
{
    if (f->labelled < f->o.warmup_examples || !isfinite(f->pred))
        return false;
    *ret_value = f->pred;
    *ret_confidence = confidence(f);
    return true;
}

void forecast_get_stats(const struct forecast *f, struct forecast_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->samples = f->samples;
    ret->ignored = f->ignored;
    ret->labelled = f->labelled;
    ret->dropped = f->dropped;
    ret->pending = f->count;
    ret->mae_model = f->err_w > 0 ? f->err_model / f->err_w : NAN;
    ret->mae_naive = f->err_w > 0 ? f->err_naive / f->err_w : NAN;
    ret->spread = f->samples > 0 ? unit(f) : 0;
    ret->confidence = confidence(f);
}

static void *rls_create(const struct forecast_opts *o)
{
    return forecast_new(o);
}

static void rls_destroy(void *state)
{
    forecast_free(state);
}

static void rls_add(void *state, double t_sec, double wall_sec, double v)
{
    forecast_add(state, t_sec, wall_sec, v);
}

static bool rls_get(void *state, double *ret_value, double *ret_confidence)
{
    return forecast_get(state, ret_value, ret_confidence);
}

const struct predictor_ops forecast_rls_ops = {
    .name = "rls",
    .create = rls_create,
    .destroy = rls_destroy,
    .add = rls_add,
    .get = rls_get,
};
