#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_u64(const char *s, uint64_t *ret_v)
{
    const char *p = s;
    const char *end;
    uint64_t v;
    int r;

    if (!s || !*s || *s == ' ' || *s == '\t')
        return -EINVAL;
    end = s + strlen(s);
    r = scan_u64(&p, end, &v);
    if (r < 0)
        return r;
    if (p != end)
        return -EINVAL;
    *ret_v = v;
    return 0;
}

int parse_i64(const char *s, int64_t *ret_v)
{
    const char *p = s;
    const char *end;
    int64_t v;
    int r;

    if (!s || !*s || *s == ' ' || *s == '\t')
        return -EINVAL;
    end = s + strlen(s);
    r = scan_i64(&p, end, &v);
    if (r < 0)
        return r;
    if (p != end)
        return -EINVAL;
    *ret_v = v;
    return 0;
}

int parse_double(const char *s, double *ret_v)
{
    char *e = NULL;
    double v;

    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n')
        return -EINVAL;
    errno = 0;
    v = strtod(s, &e);
    if (e == s || *e != '\0')
        return -EINVAL;
    if (errno == ERANGE || !isfinite(v))
        return -ERANGE;
    *ret_v = v;
    return 0;
}

int parse_bool(const char *s, bool *ret_v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *ret_v = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *ret_v = false;
            return 0;
        }
    }
    return -EINVAL;
}

int scan_u64(const char **p, const char *end, uint64_t *ret_v)
{
    const char *q = skip_blanks(*p, end);
    uint64_t v = 0;
    const char *start;

    start = q;
    while (q < end && *q >= '0' && *q <= '9') {
        unsigned d = (unsigned)(*q - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
        q++;
    }
    if (q == start)
        return -EINVAL;
    *p = q;
    *ret_v = v;
    return 0;
}

int scan_i64(const char **p, const char *end, int64_t *ret_v)
{
    const char *q = skip_blanks(*p, end);
    bool neg = false;
    uint64_t v;
    int r;

    if (q < end && (*q == '-' || *q == '+')) {
        neg = *q == '-';
        q++;
        if (q >= end || *q < '0' || *q > '9')
            return -EINVAL;
    }
    r = scan_u64(&q, end, &v);
    if (r < 0)
        return r;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *ret_v = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -ERANGE;
        *ret_v = (int64_t)v;
    }
    *p = q;
    return 0;
}

int scan_decimal(const char **p, const char *end, double *ret_v)
{
    const char *q = skip_blanks(*p, end);
    double v = 0, scale = 1;
    bool neg = false, any = false;

    if (q < end && *q == '-') {
        neg = true;
        q++;
    }
    while (q < end && *q >= '0' && *q <= '9') {
        v = v * 10 + (*q - '0');
        any = true;
        q++;
    }
    if (q < end && *q == '.') {
        q++;
        while (q < end && *q >= '0' && *q <= '9') {
            scale /= 10;
            v += (*q - '0') * scale;
            any = true;
            q++;
        }
    }
    if (!any)
        return -EINVAL;
    if (!isfinite(v))
        return -ERANGE;
    *p = q;
    *ret_v = neg ? -v : v;
    return 0;
}

int scan_word(const char **p, const char *end, const char **ret_tok, size_t *ret_len)
{
    const char *q = skip_blanks(*p, end);
    const char *start = q;

    while (q < end && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\0')
        q++;
    if (q == start)
        return -EINVAL;
    *ret_tok = start;
    *ret_len = (size_t)(q - start);
    *p = q;
    return 0;
}
