#include "statsd_parse.h"

#include <errno.h>
#include <float.h>
#include <stddef.h>
#include <string.h>

#include "common/parse.h"

/* printable ASCII, no space */
static inline bool graph(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* printable ASCII, space included (names and tags: "<img src=x>" is a name, escaped
 * wherever it is shown; Prometheus's exposition maps it to '_' as statsd_exporter does) */
static inline bool text(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

static inline bool digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* the first c in [p, end), or end */
static inline const char *find(const char *p, const char *end, char c)
{
    const char *q = memchr(p, c, (size_t)(end - p));

    return q ? q : end;
}

/* Powers of ten a double holds exactly. */
static const double exact_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * [p, end) must be one number, nothing else: [+-]digits[.digits][(e|E)[+-]digits]
 * with a digit on at least one side of the '.'. The grammar is checked here, so
 * "nan", "inf", hex, blanks and junk never reach the C library. Most numbers a
 * client sends (at most 19 digits, mantissa at most 2^53, a power of ten a
 * double holds exactly) are converted here with one correctly rounded multiply
 * or divide (Clinger's fast path), which gives the bits the C library would;
 * the rest go through parse_double() on a stack copy. Returns false for
 * anything that is not a finite number (overflow and underflow included).
 */
static bool number(const char *p, const char *end, double *ret_v)
{
    const char *s = p, *d;
    uint64_t m = 0; /* the digits, '.' left out; wraps past 19 (then unused) */
    int nd, frac = 0, e10 = 0;
    bool neg = false;
    double v;

    if ((size_t)(end - p) > STATSD_NUMBER_MAX)
        return false;
    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    for (d = p; p < end && digit((unsigned char)*p); p++)
        m = m * 10 + (uint64_t)(*p - '0');
    nd = (int)(p - d);
    if (p < end && *p == '.') {
        for (d = ++p; p < end && digit((unsigned char)*p); p++)
            m = m * 10 + (uint64_t)(*p - '0');
        frac = (int)(p - d);
        nd += frac;
    }
    if (nd == 0)
        return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        int e = 0;

        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !digit((unsigned char)*p))
            return false;
        for (; p < end && digit((unsigned char)*p); p++)
            if (e < 100000)
                e = e * 10 + (*p - '0');
        e10 += eneg ? -e : e;
    }
    if (p != end)
        return false;

    e10 -= frac;
    if (nd <= 19 && m == 0) {
        v = 0;
    } else if (nd <= 19 && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22 &&
               FLT_EVAL_METHOD == 0) {
        v = e10 >= 0 ? (double)m * exact_pow10[e10] : (double)m / exact_pow10[-e10];
    } else {
        char buf[STATSD_NUMBER_MAX + 1];

        memcpy(buf, s, (size_t)(end - s));
        buf[end - s] = '\0';
        return parse_double(buf, ret_v) == 0;
    }
    *ret_v = neg ? -v : v;
    return true;
}

bool statsd_number(const char *p, size_t len, double *ret_v)
{
    return number(p, p + len, ret_v);
}

static int parse_type(const char *p, const char *end, enum statsd_type *ret_t)
{
    switch (end - p) {
    case 0:
        return -STATSD_E_NO_TYPE;
    case 1:
        switch (*p) {
        case 'c':
            *ret_t = STATSD_COUNTER;
            return 0;
        case 'g':
            *ret_t = STATSD_GAUGE;
            return 0;
        case 'h':
            *ret_t = STATSD_HISTOGRAM;
            return 0;
        case 'd':
            *ret_t = STATSD_DISTRIBUTION;
            return 0;
        case 's':
            *ret_t = STATSD_SET;
            return 0;
        default:
            return -STATSD_E_UNKNOWN_TYPE;
        }
    case 2:
        if (p[0] == 'm' && p[1] == 's') {
            *ret_t = STATSD_TIMER;
            return 0;
        }
        return -STATSD_E_UNKNOWN_TYPE;
    default:
        return -STATSD_E_UNKNOWN_TYPE;
    }
}

/* The value field [p, end) of a line of type l->type, into l. */
static int parse_values(const char *p, const char *end, struct statsd_line *l)
{
    l->values = p;
    l->values_len = (size_t)(end - p);
    l->value = 0;
    l->delta = false;
    if (p == end)
        return -STATSD_E_EMPTY_VALUE;
    if (l->type == STATSD_SET) {
        for (const char *q = p; q < end; q++)
            if (!graph((unsigned char)*q))
                return -STATSD_E_BAD_VALUE;
        l->n_values = 1;
        return 0;
    }
    l->n_values = 0;
    for (;;) {
        const char *e = find(p, end, ':');
        bool sign = *p == '+' || *p == '-'; /* p < end: checked below */
        double v;

        if (!number(p, e, &v))
            return -STATSD_E_BAD_VALUE;
        if (l->n_values == 0) {
            l->value = v;
            l->delta = sign && l->type == STATSD_GAUGE;
        } else if (l->type == STATSD_GAUGE && sign != l->delta) {
            return -STATSD_E_MIXED_GAUGE;
        }
        l->n_values++;
        if (e == end)
            return 0;
        p = e + 1;
        if (p == end)
            return -STATSD_E_BAD_VALUE; /* a trailing ':' */
    }
}

/* "#tag,tag..." without its '#', into l->tags. */
static int parse_tags(const char *p, const char *end, struct statsd_line *l)
{
    for (;;) {
        const char *start = p, *colon = NULL;
        struct statsd_tag *t;

        for (; p < end && *p != ','; p++) {
            if (!text((unsigned char)*p))
                return -STATSD_E_BAD_TAG;
            if (*p == ':' && !colon)
                colon = p;
        }
        if (p == start || colon == start)
            return -STATSD_E_BAD_TAG; /* empty tag, or empty key */
        if ((size_t)(p - start) > STATSD_TAG_MAX)
            return -STATSD_E_TAG_TOO_LONG;
        if (l->n_tags == STATSD_MAX_TAGS)
            return -STATSD_E_TOO_MANY_TAGS;
        t = &l->tags[l->n_tags++];
        t->key = start;
        if (colon) {
            t->key_len = (size_t)(colon - start);
            t->val = colon + 1;
            t->val_len = (size_t)(p - colon - 1);
        } else {
            t->key_len = (size_t)(p - start);
            t->val = p;
            t->val_len = 0;
        }
        if (p == end)
            return 0;
        p++; /* the ',' */
    }
}

/* "T<seconds>" without its 'T'. */
static bool parse_timestamp(const char *p, const char *end, uint64_t *ret_ts)
{
    const char *q = p;
    uint64_t v;

    /* scan_u64() would skip blanks first: refuse them here */
    if (p == end || !digit((unsigned char)*p))
        return false;
    if (scan_u64(&q, end, &v) < 0 || q != end)
        return false;
    *ret_ts = v;
    return true;
}

/* The sections after the type, [p, end) with p at a '|', into l. */
static int parse_sections(const char *p, const char *end, struct statsd_line *l)
{
    bool have_rate = false, have_tags = false, have_ts = false;
    int r;

    while (p < end) {
        const char *s = p + 1, *e = find(s, end, '|');

        p = e;
        if (s == e)
            return -STATSD_E_BAD_SECTION;
        switch (*s) {
        case '@':
            if (have_rate)
                return -STATSD_E_DUP_SECTION;
            have_rate = true;
            if (!number(s + 1, e, &l->rate) || !(l->rate > 0 && l->rate <= 1))
                return -STATSD_E_BAD_RATE;
            break;
        case '#':
            if (have_tags)
                return -STATSD_E_DUP_SECTION;
            have_tags = true;
            r = parse_tags(s + 1, e, l);
            if (r < 0)
                return r;
            break;
        case 'c':
            if (e - s < 2 || s[1] != ':')
                break; /* another extension that starts with 'c' */
            if (l->container)
                return -STATSD_E_DUP_SECTION;
            l->container = s + 2;
            l->container_len = (size_t)(e - s - 2);
            for (const char *q = s + 2; q < e; q++)
                if (!graph((unsigned char)*q))
                    return -STATSD_E_BAD_CONTAINER;
            break;
        case 'T':
            if (have_ts)
                return -STATSD_E_DUP_SECTION;
            have_ts = true;
            if (!parse_timestamp(s + 1, e, &l->timestamp))
                return -STATSD_E_BAD_TIMESTAMP;
            break;
        default:
            if (!letter((unsigned char)*s))
                return -STATSD_E_BAD_SECTION;
            break; /* an extension we don't know: skipped */
        }
    }
    return 0;
}

static bool has_prefix(const char *p, size_t len, const char *lit, size_t n)
{
    return len >= n && memcmp(p, lit, n) == 0;
}

/* *ret = *l, copying only the tags in use (the array is most of the struct). */
static void commit(struct statsd_line *ret, const struct statsd_line *l)
{
    memcpy(ret, l, offsetof(struct statsd_line, tags));
    memcpy(ret->tags, l->tags, l->n_tags * sizeof(l->tags[0]));
}

int statsd_parse_line(const char *line, size_t len, struct statsd_line *ret)
{
    const char *p = line, *end = line + len, *bar, *tend;
    struct statsd_line l; /* tags past n_tags never read: left uninitialised */
    bool bad = false;
    int r;

    if (len > STATSD_LINE_MAX)
        return -STATSD_E_LINE_TOO_LONG;
    l.kind = STATSD_KIND_METRIC;
    l.type = STATSD_NONE;
    l.name = NULL;
    l.name_len = 0;
    l.values = NULL;
    l.values_len = 0;
    l.n_values = 0;
    l.value = 0;
    l.delta = false;
    l.rate = 1;
    l.container = NULL;
    l.container_len = 0;
    l.timestamp = 0;
    l.n_tags = 0;

    if (has_prefix(line, len, "_e{", 3) || has_prefix(line, len, "_sc|", 4)) {
        l.kind = line[1] == 'e' ? STATSD_KIND_EVENT : STATSD_KIND_SERVICE_CHECK;
        commit(ret, &l);
        return 0;
    }

    /* the name: up to the first ':', or a '|' that says the value is missing */
    for (; p < end && *p != ':'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '|')
            break;
        if (!text(c) || c == '@' || c == '#')
            bad = true;
    }
    if (p == line)
        return -STATSD_E_EMPTY_NAME;
    if (line[0] == ' ' || p[-1] == ' ')
        bad = true; /* (a space inside a name is kept, around it is a client's slip) */
    if ((size_t)(p - line) > STATSD_NAME_MAX)
        return -STATSD_E_NAME_TOO_LONG;
    if (bad)
        return -STATSD_E_BAD_NAME;
    if (p == end || *p != ':')
        return -STATSD_E_NO_VALUE;
    l.name = line;
    l.name_len = (size_t)(p - line);

    /* the type, which says how to read the value before it */
    p++;
    bar = find(p, end, '|');
    if (bar == end)
        return -STATSD_E_NO_TYPE;
    tend = find(bar + 1, end, '|');
    r = parse_type(bar + 1, tend, &l.type);
    if (r < 0)
        return r;
    r = parse_values(p, bar, &l);
    if (r < 0)
        return r;
    r = parse_sections(tend, end, &l);
    if (r < 0)
        return r;
    commit(ret, &l);
    return 0;
}

int statsd_value_next(const struct statsd_line *l, size_t *pos, double *ret_v)
{
    const char *p, *e, *end;

    if (l->kind != STATSD_KIND_METRIC || !l->values || l->values_len == 0)
        return -EINVAL;
    if (l->type == STATSD_SET || *pos >= l->values_len)
        return -ENOENT;
    p = l->values + *pos;
    end = l->values + l->values_len;
    e = find(p, end, ':');
    if (!number(p, e, ret_v))
        return -EINVAL;
    *pos = e == end ? l->values_len : (size_t)(e + 1 - l->values);
    return 0;
}

int statsd_value_at(const struct statsd_line *l, size_t i, double *ret_v)
{
    size_t pos = 0;
    double v;
    int r;

    if (i >= l->n_values || l->type == STATSD_SET)
        return -ENOENT;
    if (i == 0) {
        *ret_v = l->value;
        return 0;
    }
    do {
        r = statsd_value_next(l, &pos, &v);
        if (r < 0)
            return r;
    } while (i-- > 0);
    *ret_v = v;
    return 0;
}

bool statsd_next_line(const char *buf, size_t len, size_t *pos, const char **ret_line,
                      size_t *ret_len)
{
    const char *end = buf + len;

    while (*pos < len) {
        const char *p = buf + *pos, *nl = find(p, end, '\n'), *e = nl;

        *pos = nl == end ? len : (size_t)(nl + 1 - buf);
        if (e > p && e[-1] == '\r')
            e--;
        if (e > p) {
            *ret_line = p;
            *ret_len = (size_t)(e - p);
            return true;
        }
    }
    return false;
}

static const char *const reasons[STATSD_E_COUNT] = {
    [STATSD_OK] = "ok",
    [STATSD_E_LINE_TOO_LONG] = "line_too_long",
    [STATSD_E_EMPTY_NAME] = "empty_name",
    [STATSD_E_NAME_TOO_LONG] = "name_too_long",
    [STATSD_E_BAD_NAME] = "bad_name",
    [STATSD_E_NO_VALUE] = "no_value",
    [STATSD_E_NO_TYPE] = "no_type",
    [STATSD_E_UNKNOWN_TYPE] = "unknown_type",
    [STATSD_E_EMPTY_VALUE] = "empty_value",
    [STATSD_E_BAD_VALUE] = "bad_value",
    [STATSD_E_MIXED_GAUGE] = "mixed_gauge",
    [STATSD_E_BAD_RATE] = "bad_rate",
    [STATSD_E_BAD_TAG] = "bad_tag",
    [STATSD_E_TOO_MANY_TAGS] = "too_many_tags",
    [STATSD_E_TAG_TOO_LONG] = "tag_too_long",
    [STATSD_E_BAD_CONTAINER] = "bad_container",
    [STATSD_E_BAD_TIMESTAMP] = "bad_timestamp",
    [STATSD_E_BAD_SECTION] = "bad_section",
    [STATSD_E_DUP_SECTION] = "dup_section",
};

const char *statsd_reason(int reason)
{
    if (reason < 0)
        reason = reason < -STATSD_E_COUNT ? STATSD_E_COUNT : -reason; /* no -INT_MIN */
    if (reason >= STATSD_E_COUNT)
        return "unknown";
    return reasons[reason];
}
