/* The robust trend over a bounded window; see trend.h for what it promises. */
#include "detect/trend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAD_NORMAL   1.4826 /* median absolute deviation -> standard deviation of a normal law */
#define SAMPLE       128    /* values sampled to bracket a median */
#define SAMPLE_SLACK 16     /* sample ranks either side of the median's: 2.8 sd */
#define SAMPLE_MIN   1024   /* values from which a median is bracketed first */

struct point {
    double t, v; /* mean time and value of the samples averaged */
    uint32_t n;  /* samples averaged */
};

/* What trend_get() computes on demand: written through a pointer from a
 * const instance, as a cache, never as part of the series' state. */
struct work {
    uint64_t gen;         /* points_added when fit was computed; UINT64_MAX: never */
    struct trend_fit fit; /* as of the newest point */
    double t_newest;      /* time of the newest point */
    double *x, *y, *a, *pairs, *buf;
    struct point *tmp;
};

struct trend {
    struct trend_opts o;
    uint32_t head, count; /* ring: the oldest point at head */
    uint32_t step;
    uint32_t acc_n;      /* samples in the point being averaged */
    double acc_t0;       /* its first sample's time */
    double acc_t, acc_v; /* sums of time - acc_t0 and of value */
    double last_t;       /* newest sample's time, -INFINITY before the first */
    uint64_t points_added;
    struct work *w;
    struct point ring[];
};

static size_t npairs(uint32_t points)
{
    return (size_t)points * (points - 1) / 2;
}

void trend_default_opts(struct trend_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->points = 64;
    o->step = 1;
    o->max_step = 1u << 20;
    o->min_points = 8;
    o->horizon_sec = 21600;
    o->min_span_sec = 0;
    o->z_flat = 2.58;
}

static bool valid_opts(const struct trend_opts *o)
{
    return o->points >= 4 && o->points <= TREND_MAX_POINTS && o->step >= 1 &&
           o->step <= o->max_step && o->min_points >= 3 && o->min_points <= o->points &&
           isfinite(o->horizon_sec) && o->horizon_sec >= 0 && isfinite(o->min_span_sec) &&
           o->min_span_sec >= 0 && isfinite(o->z_flat) && o->z_flat >= 0;
}

/* The block: struct trend, its ring, struct work, then the scratch arrays. */
size_t trend_size(const struct trend_opts *o)
{
    if (!valid_opts(o))
        return 0;
    return sizeof(struct trend) + o->points * sizeof(struct point) + sizeof(struct work) +
           (4 * (size_t)o->points + 2 * npairs(o->points)) * sizeof(double) +
           o->points * sizeof(struct point);
}

struct trend *trend_new(const struct trend_opts *o)
{
    size_t size = trend_size(o);
    struct trend *t;
    char *p;

    if (size == 0)
        return NULL;
    t = calloc(1, size);
    if (!t)
        return NULL;
    t->o = *o;
    p = (char *)(t->ring + o->points);
    t->w = (struct work *)p;
    p += sizeof(struct work);
    t->w->x = (double *)p;
    t->w->y = t->w->x + o->points;
    t->w->a = t->w->y + o->points;
    t->w->pairs = t->w->a + 2 * (size_t)o->points;
    t->w->buf = t->w->pairs + npairs(o->points);
    t->w->tmp = (struct point *)(t->w->buf + npairs(o->points));
    trend_reset(t);
    return t;
}

void trend_free(struct trend *t)
{
    free(t);
}

void trend_reset(struct trend *t)
{
    t->head = 0;
    t->count = 0;
    t->step = t->o.step;
    t->acc_n = 0;
    t->acc_t = 0;
    t->acc_v = 0;
    t->last_t = -INFINITY;
    t->points_added = 0;
    t->w->gen = UINT64_MAX;
}

uint32_t trend_step(const struct trend *t)
{
    return t->step;
}

size_t trend_count(const struct trend *t)
{
    return t->count;
}

static const struct point *at(const struct trend *t, uint32_t k)
{
    return &t->ring[(t->head + k) % t->o.points];
}

/* Merges adjacent points pairwise (an odd newest one stays alone), oldest first. */
static void compact(struct trend *t)
{
    struct point *tmp = t->w->tmp;
    uint32_t n = t->count, k;

    for (k = 0; k < n; k++)
        tmp[k] = *at(t, k);
    for (k = 0; k + 1 < n; k += 2) {
        const struct point *p = &tmp[k], *q = &tmp[k + 1];
        double wp = p->n, wq = q->n;

        t->ring[k / 2].t = (p->t * wp + q->t * wq) / (wp + wq);
        t->ring[k / 2].v = (p->v * wp + q->v * wq) / (wp + wq);
        t->ring[k / 2].n = p->n + q->n;
    }
    if (n % 2)
        t->ring[n / 2] = tmp[n - 1];
    t->head = 0;
    t->count = (n + 1) / 2;
    for (k = 1; k < t->count; k++)
        if (!(t->ring[k].t > t->ring[k - 1].t))
            t->ring[k].t = nextafter(t->ring[k - 1].t, INFINITY);
}

/* Appends p, making room first. Point times stay strictly increasing (the
 * means of later samples are later, but for rounding): the fit divides by
 * their differences without checking. */
static void push(struct trend *t, struct point p)
{
    if (t->count > 0 && !(p.t > at(t, t->count - 1)->t))
        p.t = nextafter(at(t, t->count - 1)->t, INFINITY);
    if (t->count == t->o.points) {
        double span = at(t, t->count - 1)->t - at(t, 0)->t;

        if (span < t->o.horizon_sec && t->step <= t->o.max_step / 2) {
            compact(t);
            t->step *= 2;
        } else {
            t->head = (t->head + 1) % t->o.points;
            t->count--;
        }
    }
    t->ring[(t->head + t->count) % t->o.points] = p;
    t->count++;
    t->points_added++;
}

void trend_add(struct trend *t, double t_sec, double v)
{
    if (!isfinite(t_sec) || !isfinite(v) || !(t_sec > t->last_t))
        return;
    t->last_t = t_sec;
    /* times summed relative to the point's first sample: no precision lost
     * to large values of t_sec */
    if (t->acc_n == 0) {
        t->acc_t0 = t_sec;
        t->acc_t = 0;
        t->acc_v = 0;
    }
    t->acc_t += t_sec - t->acc_t0;
    t->acc_v += v;
    t->acc_n++;
    if (t->acc_n >= t->step) {
        struct point p;

        p.n = t->acc_n;
        p.t = t->acc_t0 + t->acc_t / p.n;
        p.v = t->acc_v / p.n;
        push(t, p);
        t->acc_n = 0;
    }
}

static void swap_at(double *a, size_t i, size_t j)
{
    double x = a[i];

    a[i] = a[j];
    a[j] = x;
}

static void sift(double *a, size_t root, size_t n)
{
    for (;;) {
        size_t c = 2 * root + 1;

        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (!(a[c] > a[root]))
            return;
        swap_at(a, root, c);
        root = c;
    }
}

static void heapsort(double *a, size_t n)
{
    size_t i;

    for (i = n / 2; i-- > 0;)
        sift(a, i, n);
    for (i = n; i-- > 1;) {
        swap_at(a, 0, i);
        sift(a, 0, i);
    }
}

static void insertion_sort(double *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;

        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static double median3(double a, double b, double c)
{
    if (a > b) {
        double x = a;

        a = b;
        b = x;
    }
    return c < a ? a : c > b ? b : c;
}

/* Puts the k-th smallest of a[0 .. n-1] (k < n, no NaN) at a[k], the smaller
 * ones before it, the larger after; returns it. Quickselect with a
 * median-of-three pivot and a three-way partition in two passes without
 * branches (a mispredicted branch per value would cost more than the rest),
 * insertion sort under 16 values, and a heapsort after 2 log2(n) + 8 rounds:
 * O(n) usually, O(n log n) at worst. */
static double select_k(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n, i;
    unsigned rounds = 8;

    for (size_t m = n; m > 1; m /= 2)
        rounds += 2;
    while (hi - lo > 16) {
        size_t lt = lo, le;
        double pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);

        if (rounds-- == 0) {
            heapsort(a + lo, hi - lo);
            return a[k];
        }
        /* a[lo .. lt - 1] < pivot <= a[lt .. i - 1] */
        for (i = lo; i < hi; i++) {
            double v = a[i];

            a[i] = a[lt];
            a[lt] = v;
            lt += v < pivot;
        }
        if (k < lt) {
            hi = lt;
            continue;
        }
        /* a[lt .. le - 1] == pivot < a[le .. i - 1]; the pivot is among them */
        le = lt;
        for (i = lt; i < hi; i++) {
            double v = a[i];

            a[i] = a[le];
            a[le] = v;
            le += !(pivot < v);
        }
        if (k < le)
            return a[k];
        lo = le;
    }
    insertion_sort(a + lo, hi - lo);
    return a[k];
}

/* Narrows the selection of ranks k0 <= k1 of a[0 .. n-1] (n >= SAMPLE_MIN):
 * picks two pivots from an evenly spaced sample of SAMPLE values, around
 * where those ranks should fall, and copies the values between them into buf
 * (in one pass without branches). True, with *ret_n values in buf and
 * *ret_below values of a under them, when ranks k0 and k1 are among buf's;
 * false (a few times in a thousand) when the sample misled. a is unchanged. */
static bool bracket(const double *a, size_t n, size_t k0, size_t k1, double *buf, size_t *ret_n,
                    size_t *ret_below)
{
    double smp[SAMPLE], lo, hi;
    size_t stride = n / SAMPLE, below = 0, m = 0, r0, r1, i;

    for (i = 0; i < SAMPLE; i++)
        smp[i] = a[i * stride + (i * 7) % stride];
    r0 = k0 * SAMPLE / n;
    r1 = k1 * SAMPLE / n;
    r0 = r0 > SAMPLE_SLACK ? r0 - SAMPLE_SLACK : 0;
    r1 = r1 + SAMPLE_SLACK < SAMPLE ? r1 + SAMPLE_SLACK : SAMPLE - 1;
    lo = select_k(smp, SAMPLE, r0);
    hi = select_k(smp + r0, SAMPLE - r0, r1 - r0);
    for (i = 0; i < n; i++) {
        double v = a[i];

        below += v < lo;
        buf[m] = v;
        m += (v >= lo) & (v <= hi);
    }
    if (below > k0 || below + m <= k1)
        return false;
    *ret_n = m;
    *ret_below = below;
    return true;
}

/* The median of a[0 .. n-1], n >= 1 (the mean of the middle two when n is
 * even); reorders a, and uses buf (n values) when n >= SAMPLE_MIN. */
static double median(double *a, size_t n, double *buf)
{
    size_t k = n / 2, vn = n, off = 0;
    double *v = a, hi, lo;

    if (n >= SAMPLE_MIN && bracket(a, n, n % 2 ? k : k - 1, k, buf, &vn, &off))
        v = buf;
    hi = select_k(v, vn, k - off);
    if (n % 2)
        return hi;
    lo = v[0];
    for (size_t i = 1; i < k - off; i++)
        if (v[i] > lo)
            lo = v[i];
    return (lo + hi) / 2;
}

static double clamp01(double x)
{
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Fits the ring's points into w->fit, as of the newest point. */
static void fit_points(const struct trend *t, struct work *w)
{
    struct trend_fit *fit = &w->fit;
    size_t n = t->count, m = 0, i, j;
    double *x = w->x, *y = w->y, *a = w->a, slope, level, mad_r, med_y, mad_y, s = 0, var, tau;

    memset(fit, 0, sizeof(*fit));
    w->t_newest = at(t, (uint32_t)n - 1)->t;
    for (i = 0; i < n; i++) {
        x[i] = at(t, (uint32_t)i)->t - w->t_newest;
        y[i] = at(t, (uint32_t)i)->v;
    }
    /* all pairs, without branches: x strictly increases */
    for (i = 0; i + 1 < n; i++) {
        double xi = x[i], yi = y[i], *p = w->pairs + m;
        size_t cnt = n - 1 - i;

        for (j = 0; j < cnt; j++) {
            double dy = y[i + 1 + j] - yi;

            s += (dy > 0) - (dy < 0);
            p[j] = dy / (x[i + 1 + j] - xi);
        }
        m += cnt;
    }
    slope = median(w->pairs, m, w->buf);
    for (i = 0; i < n; i++)
        a[i] = y[i] - slope * x[i];
    level = median(a, n, w->buf);
    for (i = 0; i < n; i++)
        a[i] = fabs(y[i] - level - slope * x[i]);
    mad_r = MAD_NORMAL * median(a, n, w->buf);
    memcpy(a, y, n * sizeof(*a));
    med_y = median(a, n, w->buf);
    for (i = 0; i < n; i++)
        a[i] = fabs(y[i] - med_y);
    mad_y = MAD_NORMAL * median(a, n, w->buf);

    fit->valid = true;
    fit->n = n;
    fit->slope_per_sec = slope;
    fit->level = level;
    fit->resid_scale = mad_r;
    fit->r2 = mad_y > 0 ? clamp01(1 - (mad_r / mad_y) * (mad_r / mad_y)) : 0;
    tau = s / (double)(n * (n - 1) / 2);
    fit->tau = tau;
    var = (double)n * (double)(n - 1) * (double)(2 * n + 5) / 18;
    fit->z = (s - (s > 0) + (s < 0)) / sqrt(var);
    fit->flat = fabs(fit->z) < t->o.z_flat || slope == 0;
    fit->quality = tau * slope > 0 ? sqrt(fit->r2 * fabs(tau)) : 0;
}

bool trend_get(const struct trend *t, struct trend_fit *fit)
{
    struct work *w = t->w;
    double span;

    memset(fit, 0, sizeof(*fit));
    if (t->count < t->o.min_points)
        return false;
    span = t->last_t - at(t, 0)->t;
    if (span < t->o.min_span_sec)
        return false;
    if (w->gen != t->points_added) {
        fit_points(t, w);
        w->gen = t->points_added;
    }
    if (!w->fit.valid)
        return false;
    *fit = w->fit;
    fit->span_sec = span;
    fit->level += fit->slope_per_sec * (t->last_t - w->t_newest);
    return true;
}

double trend_eta_sec(const struct trend_fit *fit, double limit)
{
    double d, eta;

    if (!fit->valid || !isfinite(limit))
        return INFINITY;
    d = limit - fit->level;
    if (d == 0)
        return 0;
    if (fit->flat || fit->slope_per_sec == 0)
        return INFINITY;
    eta = d / fit->slope_per_sec;
    return eta > 0 ? eta : INFINITY;
}
