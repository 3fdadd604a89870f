/* The multivariate autoencoder detector; see mvar.h for what it promises. */
#include "detect/mvar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HUBER     3.0  /* residuals clipped to +-HUBER for learning (a Huber loss) */
#define LOG_FLOOR 0.01 /* added to the mean error before its log (E is about 1) */
#define SD_FLOOR  0.05 /* least deviation of the log error */
#define CAL_CLIP  3.0  /* calibration updates clipped at this many deviations */
#define WINSOR    9.0  /* squared residuals learned at most this many times the usual */
#define PRIOR     10.0 /* observations the prior usual residual (1) counts as */
#define MAD_SD    1.2533141373155003 /* standard deviation / mean absolute deviation (normal) */

enum { ABSENT, WARMING, USED }; /* a feature this tick */

struct mvar {
    struct mvar_opts o;
    size_t stride;   /* dim rounded up to 4: the length of every per-feature row */
    uint64_t ticks;  /* ticks with at least one present value */
    uint64_t ncal;   /* ticks the calibration has learned from */
    double cal_mean; /* exponential mean of log E */
    double cal_dev;  /* exponential deviation of log E (a standard deviation) */
    double err_sum;  /* sum of the last tick's contributions */
    /* per feature, stride each (0 past dim) */
    double *mean;     /* exponential mean */
    double *dev;      /* exponential mean absolute deviation */
    double *usual;    /* exponential mean of the squared residual */
    double *xs;       /* standardised value of the last tick (0: absent) */
    double *res;      /* residual of the last tick (0: not used) */
    double *err;      /* normalised squared residual of the last tick */
    double *bias_out; /* output bias */
    uint32_t *seen;   /* observations, saturating */
    uint8_t *use;     /* ABSENT, WARMING or USED this tick */
    /* per hidden unit */
    double *bias_in; /* hidden bias */
    double *act;     /* activation of the last tick */
    double *slope;   /* its derivative, 1 - act^2 */
    double *enc;     /* hidden x dim: row j is hidden unit j's input weights */
    double *dec;     /* hidden x dim: row j is hidden unit j's output weights */
};

/* splitmix64 on a caller's state: the weights depend on the seed only */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double uniform(uint64_t *s)
{
    return (double)(next(s) >> 11) / 4503599627370496.0 - 1;
}

void mvar_default_opts(struct mvar_opts *o, uint32_t dim)
{
    memset(o, 0, sizeof(*o));
    o->dim = dim;
    o->hidden = 8;
    o->warmup = 600;
    o->feature_warmup = 30;
    o->std_window = 1000;
    o->scale_floor = 0.01;
    o->clip = 8;
    o->rate = 0.1;
    o->rate_floor = 0.02;
    o->rate_decay = 300;
    o->resid_window = 300;
    o->resid_floor = 0.01;
    o->score_window = 1000;
    o->z_quiet = 2;
    o->z_half = 5;
    o->damp_floor = 0.1;
}

static bool positive(double v)
{
    return isfinite(v) && v > 0;
}

static bool valid(const struct mvar_opts *o)
{
    return o->dim >= 1 && o->dim <= MVAR_MAX_DIM && o->hidden >= 1 &&
           o->hidden <= MVAR_MAX_HIDDEN && positive(o->std_window) && positive(o->clip) &&
           positive(o->rate) && positive(o->rate_floor) && o->rate_floor <= o->rate &&
           positive(o->rate_decay) && positive(o->resid_window) && positive(o->score_window) &&
           isfinite(o->scale_floor) && o->scale_floor >= 0 && isfinite(o->resid_floor) &&
           o->resid_floor >= 0 && isfinite(o->z_quiet) && isfinite(o->z_half) &&
           o->z_half > o->z_quiet && positive(o->damp_floor) && o->damp_floor <= 1;
}

/* dim rounded up to 4 */
static size_t stride(const struct mvar_opts *o)
{
    return ((size_t)o->dim + 3) & ~(size_t)3;
}

/* doubles in the block after the struct: 7 per feature, 3 per hidden unit, 2 per weight */
static size_t doubles(const struct mvar_opts *o)
{
    return 7 * stride(o) + 3 * (size_t)o->hidden + 2 * stride(o) * o->hidden;
}

size_t mvar_size(const struct mvar_opts *o)
{
    if (!valid(o))
        return 0;
    return sizeof(struct mvar) + doubles(o) * sizeof(double) + o->dim * (sizeof(uint32_t) + 1);
}

struct mvar *mvar_new(const struct mvar_opts *o, uint64_t seed)
{
    size_t size = mvar_size(o), n, hid;
    struct mvar *m;
    double *p, wscale;
    uint64_t s = seed;

    if (size == 0)
        return NULL;
    m = calloc(1, size);
    if (!m)
        return NULL;
    m->o = *o;
    m->stride = n = stride(o);
    hid = o->hidden;
    p = (double *)(m + 1);
    m->mean = p, p += n;
    m->dev = p, p += n;
    m->usual = p, p += n;
    m->xs = p, p += n;
    m->res = p, p += n;
    m->err = p, p += n;
    m->bias_out = p, p += n;
    m->bias_in = p, p += hid;
    m->act = p, p += hid;
    m->slope = p, p += hid;
    m->enc = p, p += n * hid;
    m->dec = p, p += n * hid;
    m->seen = (uint32_t *)p;
    m->use = (uint8_t *)(m->seen + o->dim);

    /* Encoder: uniform with the variance 1 / dim, so that a standardised vector
     * gives pre-activations of about unit size. Decoder: small, so that the
     * first reconstructions are near the mean rather than noise. The padding
     * past dim stays 0. */
    wscale = sqrt(3.0 / (double)o->dim);
    for (size_t j = 0; j < hid; j++) {
        for (size_t i = 0; i < o->dim; i++) {
            m->enc[j * n + i] = wscale * uniform(&s);
            m->dec[j * n + i] = 0.1 / sqrt((double)hid) * uniform(&s);
        }
    }
    for (size_t i = 0; i < o->dim; i++)
        m->usual[i] = 1;
    m->cal_dev = 1;
    return m;
}

void mvar_free(struct mvar *m)
{
    free(m);
}

bool mvar_warming(const struct mvar *m)
{
    return m->ticks < m->o.warmup;
}

double mvar_contribution(const struct mvar *m, uint32_t i)
{
    if (i >= m->o.dim || !(m->err_sum > 0))
        return 0;
    return m->err[i] / m->err_sum;
}

/* the score of the log error l against the calibration */
static double score_of(const struct mvar *m, double l)
{
    double z = (l - m->cal_mean) / m->cal_dev, u = z - m->o.z_quiet, h;

    if (!(u > 0))
        return 0;
    h = m->o.z_half - m->o.z_quiet;
    return u * u / (u * u + h * h);
}

/* Standardises x into m->xs and marks each feature in m->use; returns the
 * number of features used this tick (present and past their warm-up), or -1
 * when no value is present. */
static long standardise(struct mvar *m, const double *x)
{
    const struct mvar_opts *o = &m->o;
    double *restrict xs = m->xs;
    uint8_t *restrict use = m->use;
    long used = 0;
    bool any = false;

    for (uint32_t i = 0; i < o->dim; i++) {
        double scale, v;

        xs[i] = 0;
        use[i] = ABSENT;
        if (!isfinite(x[i]))
            continue;
        any = true;
        use[i] = WARMING;
        if (m->seen[i] < o->feature_warmup)
            continue;
        use[i] = USED;
        used++;
        scale = MAD_SD * m->dev[i];
        if (scale < o->scale_floor * fabs(m->mean[i]))
            scale = o->scale_floor * fabs(m->mean[i]);
        v = x[i] - m->mean[i];
        /* a zero scale (a constant series at 0): any change is as far as it gets */
        v = scale > 0 ? v / scale : v > 0 ? o->clip : v < 0 ? -o->clip : 0;
        xs[i] = v > o->clip ? o->clip : v < -o->clip ? -o->clip : v;
    }
    return any ? used : -1;
}

/* sum of a[i] * b[i], i < n (a multiple of 4), in four independent chains */
static double dot(const double *restrict a, const double *restrict b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;

    for (size_t i = 0; i < n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    return (s0 + s1) + (s2 + s3);
}

/* y[i] += v[i] * (h - d * w[i] * x[i]), i < n (a multiple of 4): hidden unit
 * j's share of the reconstruction, less what it carries of feature i itself */
static void decode(double *restrict y, const double *restrict v, const double *restrict w,
                   const double *restrict x, double h, double d, size_t n)
{
    for (size_t i = 0; i < n; i += 4) {
        y[i] += v[i] * (h - d * w[i] * x[i]);
        y[i + 1] += v[i + 1] * (h - d * w[i + 1] * x[i + 1]);
        y[i + 2] += v[i + 2] * (h - d * w[i + 2] * x[i + 2]);
        y[i + 3] += v[i + 3] * (h - d * w[i + 3] * x[i + 3]);
    }
}

/* The forward pass: activations into m->act, their slopes into m->slope, the
 * normalised squared residuals into m->err and their sum into m->err_sum, the
 * residuals, clipped to +-HUBER for learning, into m->res; returns the mean
 * normalised squared residual over the used features.
 *
 * Each feature is reconstructed from the others only: its own path through
 * the hidden layer is taken out, to first order (exactly for a linear layer):
 * y_i = c_i + sum_j v_ji (h_j - h'_j w_ji x_i). Otherwise the hidden units
 * would learn to copy a few features whatever the others say, and an
 * independent feature would look predictable. */
static double reconstruct(struct mvar *m, long used)
{
    const struct mvar_opts *o = &m->o;
    size_t n = m->stride;
    double *restrict res = m->res, *restrict err = m->err;
    const double *restrict xs = m->xs, *restrict usual = m->usual;
    const uint8_t *restrict use = m->use;
    double sum = 0;

    for (uint32_t j = 0; j < o->hidden; j++) {
        double h = tanh(m->bias_in[j] + dot(m->enc + j * n, xs, n));

        m->act[j] = h;
        m->slope[j] = 1 - h * h;
    }
    memcpy(res, m->bias_out, n * sizeof(double));
    for (uint32_t j = 0; j < o->hidden; j++)
        decode(res, m->dec + j * n, m->enc + j * n, xs, m->act[j], m->slope[j], n);
    for (uint32_t i = 0; i < o->dim; i++) {
        double r = 0, e = 0;

        if (use[i] == USED) {
            r = res[i] - xs[i];
            e = r * r / (usual[i] > o->resid_floor ? usual[i] : o->resid_floor);
            /* Huber: a wild residual pulls no harder than HUBER */
            r = r > HUBER ? HUBER : r < -HUBER ? -HUBER : r;
        }
        res[i] = r;
        err[i] = e;
        sum += e;
    }
    for (size_t i = o->dim; i < n; i++)
        res[i] = 0;
    m->err_sum = sum;
    return used > 0 ? sum / (double)used : 0;
}

/* One step on hidden unit j's weights for feature k: v (output) by sv, w
 * (input) by sw, along the gradients of the leave-one-out loss, where b =
 * sum_i v_ji r_i and dsw = h'_j sw. */
#define STEP_UNIT(k)                                   \
    do {                                               \
        double vk = v[k];                              \
                                                       \
        v[k] = vk - sv * r[k] * (h - d * w[k] * x[k]); \
        w[k] -= dsw * x[k] * (b - r[k] * vk);          \
    } while (0)

/* STEP_UNIT for i < n (a multiple of 4), four at a time so that the compiler
 * can pair them into vector instructions */
static void step_unit(double *restrict v, double *restrict w, const double *restrict r,
                      const double *restrict x, double h, double d, double b, double sv, double sw,
                      size_t n)
{
    double dsw = d * sw;

    for (size_t i = 0; i < n; i += 4) {
        STEP_UNIT(i);
        STEP_UNIT(i + 1);
        STEP_UNIT(i + 2);
        STEP_UNIT(i + 3);
    }
}

/* One damped NLMS step on the model; g scales it (1: full speed). */
static void learn_model(struct mvar *m, double g)
{
    const struct mvar_opts *o = &m->o;
    size_t n = m->stride;
    double step = o->rate / (1 + (double)m->ticks / o->rate_decay), sw, sv;
    double back[MVAR_MAX_HIDDEN];

    if (step < o->rate_floor)
        step = o->rate_floor;
    step *= g;
    sw = step / (1 + dot(m->xs, m->xs, n));
    sv = 1;
    for (uint32_t j = 0; j < o->hidden; j++)
        sv += m->act[j] * m->act[j];
    sv = step / sv;
    /* back-propagate through the decoder before changing it */
    for (uint32_t j = 0; j < o->hidden; j++)
        back[j] = dot(m->dec + j * n, m->res, n);
    for (uint32_t j = 0; j < o->hidden; j++) {
        step_unit(m->dec + j * n, m->enc + j * n, m->res, m->xs, m->act[j], m->slope[j], back[j],
                  sv, sw, n);
        m->bias_in[j] -= sw * m->slope[j] * back[j];
    }
    for (size_t i = 0; i < n; i++)
        m->bias_out[i] -= sv * m->res[i];
}

/* The per-feature statistics: mean, deviation, usual residual; g as above. */
static void learn_features(struct mvar *m, const double *x, double g)
{
    const struct mvar_opts *o = &m->o;
    double ks = g / o->std_window, kr = g / o->resid_window;

    for (uint32_t i = 0; i < o->dim; i++) {
        double a, d;

        if (m->use[i] == ABSENT)
            continue;
        if (m->seen[i] < UINT32_MAX)
            m->seen[i]++;
        /* a running mean until the window is full, then exponential */
        a = m->seen[i] < o->std_window ? g / m->seen[i] : ks;
        d = x[i] - m->mean[i];
        m->mean[i] += a * d;
        if (m->seen[i] > 1)
            m->dev[i] += a * (fabs(d) - m->dev[i]);
        if (m->use[i] == USED) {
            /* the prior 1 counts as PRIOR observations */
            double k = (double)(m->seen[i] - o->feature_warmup) + PRIOR;

            double u = m->usual[i] > o->resid_floor ? m->usual[i] : o->resid_floor;
            double r2 = m->res[i] * m->res[i];

            /* winsorised at WINSOR times the usual: one wild residual does
             * not make the next ones look usual */
            r2 = r2 < WINSOR * u ? r2 : WINSOR * u;
            a = k < o->resid_window ? g / k : kr;
            m->usual[i] += a * (r2 - m->usual[i]);
        }
    }
}

/* The calibration of the log error l; g as above. */
static void learn_calibration(struct mvar *m, double l, double g)
{
    double a, d, lim;

    m->ncal++;
    a = 1.0 / (double)m->ncal;
    if (a < 1 / m->o.score_window)
        a = 1 / m->o.score_window;
    a *= g;
    d = l - m->cal_mean;
    if (m->ncal == 1) {
        m->cal_mean = l;
        m->cal_dev = SD_FLOOR;
        return;
    }
    lim = CAL_CLIP * m->cal_dev;
    if (m->ncal > 30)
        d = d > lim ? lim : d < -lim ? -lim : d;
    m->cal_mean += a * d;
    m->cal_dev += a * (MAD_SD * fabs(d) - m->cal_dev);
    if (m->cal_dev < SD_FLOOR)
        m->cal_dev = SD_FLOOR;
}

double mvar_update(struct mvar *m, const double *x)
{
    long used = standardise(m, x);
    double e, l, score = 0, g;

    if (used < 0) {
        memset(m->err, 0, m->o.dim * sizeof(double));
        m->err_sum = 0;
        return 0;
    }
    e = reconstruct(m, used);
    l = log(e + LOG_FLOOR);
    if (!mvar_warming(m) && used > 0)
        score = score_of(m, l);
    /* learning slows as the score rises and is at damp_floor from 0.5 on */
    g = 1 - (1 - m->o.damp_floor) * (score < 0.5 ? 2 * score : 1);
    if (used > 0) {
        learn_model(m, g);
        /* the first half of the warm-up trains a model still far off: not calibrated on */
        if (m->ticks >= m->o.warmup / 2)
            learn_calibration(m, l, g);
    }
    learn_features(m, x, g);
    m->ticks++;
    return score;
}
