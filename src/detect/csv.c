/* The CSV rows of `arthamon detect`; see csv.h for the rules. */
#include "detect/csv.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

static int reject(struct detect_csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int reject(struct detect_csv *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

void detect_csv_init(struct detect_csv *c)
{
    memset(c, 0, sizeof(*c));
}

/* [*p, *e) without blanks on either side */
static void trim(const char **p, const char **e)
{
    while (*p < *e && (**p == ' ' || **p == '\t'))
        (*p)++;
    while (*e > *p && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* The next field of [*pos, end) into [*ret_f, *ret_f + *ret_n), trimmed;
 * *pos moves past its ','. false when the line has no field left. */
static bool next_field(const char **pos, const char *end, bool *more, const char **ret_f,
                       size_t *ret_n)
{
    const char *p = *pos, *e;

    if (!*more)
        return false;
    e = memchr(p, ',', (size_t)(end - p));
    if (e) {
        *pos = e + 1;
    } else {
        e = end;
        *pos = end;
        *more = false;
    }
    trim(&p, &e);
    *ret_f = p;
    *ret_n = (size_t)(e - p);
    return true;
}

/* The common case of a number field, without the C library: [+-]digits[.digits], at most 19
 * digits whose value fits in a double's 53-bit mantissa, at most 22 of them after the
 * point. Both the digits and 10^k are then exact doubles, so their quotient is the
 * correctly rounded value, the one parse_double() returns. false (nothing written) for
 * anything else, which takes the slow path. */
static bool fast_decimal(const char *s, size_t n, double *ret_v)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *e = s + n;
    uint64_t m = 0;
    size_t nd = 0, nf = 0;
    bool neg = false, point = false;
    double v;

    if (s < e && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    for (; s < e; s++) {
        if (*s >= '0' && *s <= '9') {
            m = m * 10 + (uint64_t)(*s - '0');
            nd++;
            nf += point;
        } else if (*s == '.' && !point) {
            point = true;
        } else {
            return false;
        }
    }
    if (nd == 0 || nd > 19 || m > ((uint64_t)1 << 53) || nf >= sizeof(pow10) / sizeof(pow10[0]))
        return false;
    v = (double)m / pow10[nf];
    *ret_v = neg ? -v : v;
    return true;
}

/* digits [s, s + n) as an unsigned number */
static bool digits(const char *s, size_t n, int *ret_v)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret_v = v;
    return true;
}

/* days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int detect_csv_timestamp(const char *s, size_t len, double *ret_ts)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char buf[DETECT_CSV_FIELD_MAX + 1];
    int y, mo, d, h, mi, sec;
    double frac = 0, v;

    if (len == 0 || len > DETECT_CSV_FIELD_MAX)
        return -EINVAL;
    if (len >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == ' ' || s[10] == 'T') && s[13] == ':' &&
        s[16] == ':') {
        if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
            !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
            return -EINVAL;
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
            h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
        if (len > 19) {
            int f;
            size_t nf = len - 20;

            if (s[19] != '.' || nf == 0 || nf > 9 || !digits(s + 20, nf, &f))
                return -EINVAL;
            frac = f / pow(10, (double)nf);
        }
        *ret_ts = (double)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) + frac;
        return 0;
    }
    /* epoch seconds: plain decimal digits, an optional fraction, no sign or exponent */
    if (s[0] != '+' && s[0] != '-' && fast_decimal(s, len, &v)) {
        if (v > 1e12)
            return -EINVAL;
        *ret_ts = v;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
            return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (parse_double(buf, &v) < 0 || v > 1e12)
        return -EINVAL;
    *ret_ts = v;
    return 0;
}

int detect_csv_header(struct detect_csv *c, const char *line, size_t len)
{
    const char *pos = line, *end = line + len, *f;
    bool more = true;
    size_t n, cols = 0;

    if (len > 0 && end[-1] == '\r')
        end--;
    if (memchr(line, '\0', (size_t)(end - line)))
        return reject(c, "header: a NUL byte");
    if (!next_field(&pos, end, &more, &f, &n) || n != 9 || memcmp(f, "timestamp", 9) != 0)
        return reject(c, "header: the first column must be 'timestamp'");
    while (next_field(&pos, end, &more, &f, &n)) {
        if (n == 0)
            return reject(c, "header: column %zu has no name", cols + 2);
        if (++cols > DETECT_CSV_MAX_COLUMNS)
            return reject(c, "header: more than %d value columns", DETECT_CSV_MAX_COLUMNS);
    }
    if (cols == 0)
        return reject(c, "header: no value column after 'timestamp'");
    c->columns = cols;
    c->have_prev = false;
    return 0;
}

int detect_csv_row(struct detect_csv *c, const char *line, size_t len, double *ret_ts,
                   double *ret_values)
{
    double vals[DETECT_CSV_MAX_COLUMNS];
    char buf[DETECT_CSV_FIELD_MAX + 1];
    const char *pos = line, *end = line + len, *f;
    bool more = true;
    size_t n, col = 0;
    double ts;
    int r;

    if (c->columns == 0)
        return reject(c, "no header read");
    if (len > 0 && end[-1] == '\r')
        end--;
    if (!next_field(&pos, end, &more, &f, &n) || n == 0)
        return reject(c, "no timestamp");
    if (detect_csv_timestamp(f, n, &ts) < 0)
        return reject(c, "'%.*s' is not a timestamp (epoch seconds or YYYY-MM-DD HH:MM:SS)",
                      (int)(n < 40 ? n : 40), f);
    if (c->have_prev && ts < c->prev_ts)
        return reject(c,
                      "timestamp '%.*s' is before the previous row's (rows must be in time order)",
                      (int)(n < 40 ? n : 40), f);
    while (next_field(&pos, end, &more, &f, &n)) {
        if (col == c->columns)
            return reject(c, "more than the header's %zu columns", c->columns + 1);
        if (n == 0)
            return reject(c, "column %zu is empty", col + 2);
        if (n > DETECT_CSV_FIELD_MAX)
            return reject(c, "column %zu is longer than %d bytes", col + 2, DETECT_CSV_FIELD_MAX);
        if (fast_decimal(f, n, &vals[col])) {
            col++;
            continue;
        }
        memcpy(buf, f, n);
        buf[n] = '\0';
        r = parse_double(buf, &vals[col]);
        if (r == -ERANGE)
            return reject(c, "column %zu: '%.*s' is not a finite number", col + 2, (int)n, f);
        if (r < 0)
            return reject(c, "column %zu: '%.*s' is not a number", col + 2, (int)(n < 40 ? n : 40),
                          f);
        col++;
    }
    if (col != c->columns)
        return reject(c, "%zu columns where the header has %zu", col + 1, c->columns + 1);
    if (c->have_prev && ts == c->prev_ts)
        c->repeated++;
    c->have_prev = true;
    c->prev_ts = ts;
    *ret_ts = ts;
    memcpy(ret_values, vals, col * sizeof(vals[0]));
    return 0;
}
