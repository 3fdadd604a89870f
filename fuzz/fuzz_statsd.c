/* The StatsD receiver's parser on arbitrary datagrams: the input is one
 * datagram, split with statsd_next_line() and every line given to
 * statsd_parse_line(). Beyond not crashing or reading outside the input, it
 * checks what statsd_parse.h promises: lines are non-empty, inside the input,
 * free of '\n', and advance; a rejection names a known reason and leaves the
 * output untouched; an accepted metric has a valid name within the limits, a
 * rate in (0, 1], finite values that statsd_value_next() walks exactly
 * n_values times and that parse_double() reads to the same bits, a delta only
 * on a gauge whose every value is signed, a name and tags of printable ASCII
 * (spaces inside a name, not around it), and at most STATSD_MAX_TAGS tags of
 * at most STATSD_TAG_MAX bytes, each a slice of the line. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "ingest/statsd_parse.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

/* [p, p + n) lies inside [lo, lo + len) */
static int inside(const char *p, size_t n, const char *lo, size_t len)
{
    return p >= lo && p <= lo + len && n <= (size_t)(lo + len - p);
}

static int graph(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* printable ASCII, space included (names and tags) */
static int text(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

static void check_number(const char *p, size_t n, double v, const struct statsd_line *l)
{
    char buf[STATSD_NUMBER_MAX + 1];
    double want;

    CHECK(n >= 1 && n <= STATSD_NUMBER_MAX);
    CHECK(isfinite(v));
    memcpy(buf, p, n);
    buf[n] = '\0';
    CHECK(parse_double(buf, &want) == 0);
    CHECK(memcmp(&want, &v, sizeof(v)) == 0);
    if (l->type == STATSD_GAUGE)
        CHECK(l->delta == (p[0] == '+' || p[0] == '-'));
    else
        CHECK(!l->delta);
}

static void check_metric(const struct statsd_line *l, const char *line, size_t len)
{
    const char *end = line + len;
    size_t pos = 0, n = 0;
    double v;

    CHECK(l->type >= STATSD_COUNTER && l->type <= STATSD_SET);
    CHECK(l->name == line);
    CHECK(l->name_len >= 1 && l->name_len <= STATSD_NAME_MAX && l->name_len < len);
    CHECK(line[l->name_len] == ':');
    for (size_t i = 0; i < l->name_len; i++)
        CHECK(text((unsigned char)line[i]) && !strchr(":|@#", line[i]));
    CHECK(line[0] != ' ' && line[l->name_len - 1] != ' ');
    CHECK(l->values == line + l->name_len + 1);
    CHECK(l->values_len >= 1 && inside(l->values, l->values_len, line, len));
    CHECK(l->values + l->values_len < end && l->values[l->values_len] == '|');
    CHECK(!memchr(l->values, '|', l->values_len));
    CHECK(l->n_values >= 1);
    CHECK(l->rate > 0 && l->rate <= 1);
    CHECK(l->n_tags <= STATSD_MAX_TAGS);
    for (size_t i = 0; i < l->n_tags; i++) {
        const struct statsd_tag *t = &l->tags[i];

        CHECK(t->key_len >= 1 && inside(t->key, t->key_len, line, len));
        CHECK(inside(t->val, t->val_len, line, len));
        CHECK(t->key > l->values + l->values_len);
        CHECK(!memchr(t->key, ':', t->key_len));
        if (t->val_len > 0) {
            CHECK(t->val == t->key + t->key_len + 1 && t->val[-1] == ':');
            CHECK(t->key_len + 1 + t->val_len <= STATSD_TAG_MAX);
        } else {
            CHECK(t->val == t->key + t->key_len || t->val == t->key + t->key_len + 1);
            CHECK(t->key_len + 1 <= STATSD_TAG_MAX + (t->val == t->key + t->key_len));
        }
        for (const char *p = t->key; p < t->val + t->val_len; p++)
            CHECK(text((unsigned char)*p) && *p != ',' && *p != '|');
    }
    if (l->container) {
        CHECK(inside(l->container, l->container_len, line, len));
        CHECK(l->container[-1] == ':' && l->container[-2] == 'c' && l->container[-3] == '|');
    }

    if (l->type == STATSD_SET) {
        CHECK(l->n_values == 1 && l->value == 0 && !l->delta);
        for (size_t i = 0; i < l->values_len; i++)
            CHECK(graph((unsigned char)l->values[i]));
        CHECK(statsd_value_next(l, &pos, &v) == -ENOENT);
        CHECK(statsd_value_at(l, 0, &v) == -ENOENT);
        return;
    }
    for (;;) {
        size_t start = pos;
        int r = statsd_value_next(l, &pos, &v);

        if (r == -ENOENT)
            break;
        CHECK(r == 0 && pos > start && pos <= l->values_len);
        {
            const char *p = l->values + start;
            const char *e = memchr(p, ':', l->values_len - start);
            size_t tok = e ? (size_t)(e - p) : l->values_len - start;

            check_number(p, tok, v, l);
        }
        if (n == 0)
            CHECK(memcmp(&v, &l->value, sizeof(v)) == 0);
        n++;
        CHECK(n <= l->n_values);
    }
    CHECK(n == l->n_values && pos == l->values_len);
    CHECK(statsd_value_at(l, n - 1, &v) == 0 && isfinite(v));
    CHECK(statsd_value_at(l, n, &v) == -ENOENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const char *line;
    size_t pos = 0, len;
    struct statsd_line l, before;

    memset(&l, 0xa5, sizeof(l));
    while (1) {
        size_t prev = pos;
        int r;

        if (!statsd_next_line(buf, size, &pos, &line, &len)) {
            CHECK(pos == size);
            break;
        }
        CHECK(pos > prev && pos <= size);
        CHECK(len >= 1 && inside(line, len, buf, size) && line >= buf + prev);
        CHECK(!memchr(line, '\n', len));
        CHECK(line + len == buf + pos || line[len] == '\n' || line[len] == '\r');

        memcpy(&before, &l, sizeof(l));
        r = statsd_parse_line(line, len, &l);
        if (r < 0) {
            CHECK(r > -STATSD_E_COUNT);
            CHECK(strcmp(statsd_reason(r), "unknown") != 0);
            CHECK(memcmp(&before, &l, sizeof(l)) == 0);
            continue;
        }
        CHECK(r == 0);
        switch (l.kind) {
        case STATSD_KIND_EVENT:
            CHECK(len >= 3 && memcmp(line, "_e{", 3) == 0 && l.type == STATSD_NONE);
            break;
        case STATSD_KIND_SERVICE_CHECK:
            CHECK(len >= 4 && memcmp(line, "_sc|", 4) == 0 && l.type == STATSD_NONE);
            break;
        case STATSD_KIND_METRIC:
            check_metric(&l, line, len);
            break;
        default:
            CHECK(0);
        }
    }
    return 0;
}
