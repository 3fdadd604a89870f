/* The StatsD / DogStatsD line parser and datagram iterator (src/ingest/statsd_parse.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/parse.h"
#include "ingest/statsd_parse.h"

static struct statsd_line m;

static int parse(const char *line)
{
    return statsd_parse_line(line, strlen(line), &m);
}

/* names the line when it fails: several checks run in loops */
static void expect(const char *line, int want)
{
    int r = parse(line);

    if (r != want)
        fail_msg("\"%s\": got %d (%s), want %d (%s)", line, r, statsd_reason(r), want,
                 statsd_reason(want));
}

#define REJECT(line, reason) expect(line, -(reason))

static void assert_span(const char *p, size_t len, const char *want)
{
    assert_int_equal(len, strlen(want));
    assert_memory_equal(p, want, len);
}

static void assert_tag(size_t i, const char *key, const char *val)
{
    assert_true(i < m.n_tags);
    assert_span(m.tags[i].key, m.tags[i].key_len, key);
    assert_span(m.tags[i].val, m.tags[i].val_len, val);
}

/* a string of n copies of c (free()) */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void every_type(void **state)
{
    static const struct {
        const char *line;
        enum statsd_type type;
        double value;
    } cases[] = {
        {"hits:1|c", STATSD_COUNTER, 1},           {"temp:21.5|g", STATSD_GAUGE, 21.5},
        {"rt:320|ms", STATSD_TIMER, 320},          {"size:7|h", STATSD_HISTOGRAM, 7},
        {"lat:0.25|d", STATSD_DISTRIBUTION, 0.25},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].line), 0);
        assert_int_equal(m.kind, STATSD_KIND_METRIC);
        assert_int_equal(m.type, cases[i].type);
        assert_true(m.value == cases[i].value);
        assert_int_equal(m.n_values, 1);
        assert_false(m.delta);
        assert_true(m.rate == 1);
        assert_int_equal(m.n_tags, 0);
        assert_null(m.container);
        assert_int_equal(m.timestamp, 0);
    }
    assert_int_equal(parse("users:alice|s"), 0);
    assert_int_equal(m.type, STATSD_SET);
    assert_span(m.name, m.name_len, "users");
    assert_span(m.values, m.values_len, "alice");
    assert_int_equal(m.n_values, 1);
    assert_true(m.value == 0);
    /* a set member is opaque: digits, signs and colons are part of it */
    assert_int_equal(parse("ids:-12:ab:|s"), 0);
    assert_span(m.values, m.values_len, "-12:ab:");
    assert_false(m.delta);
    /* negative counters and timers are numbers like any other */
    assert_int_equal(parse("c:-5|c"), 0);
    assert_true(m.value == -5);
    assert_false(m.delta);
}

static void client_examples(void **state)
{
    (void)state;
    assert_int_equal(parse("node.tx.validation:3.2|ms"), 0);
    assert_span(m.name, m.name_len, "node.tx.validation");
    assert_int_equal(m.type, STATSD_TIMER);
    assert_true(m.value == 3.2);

    assert_int_equal(parse("contract.exec:12|ms|#function:transfer"), 0);
    assert_span(m.name, m.name_len, "contract.exec");
    assert_true(m.value == 12);
    assert_int_equal(m.n_tags, 1);
    assert_tag(0, "function", "transfer");

    assert_int_equal(parse("inference.latency:4.1|ms|#model:fraud,type:onnx"), 0);
    assert_true(m.value == 4.1);
    assert_int_equal(m.n_tags, 2);
    assert_tag(0, "model", "fraud");
    assert_tag(1, "type", "onnx");

    assert_int_equal(parse("mempool:1234|g"), 0);
    assert_int_equal(m.type, STATSD_GAUGE);
    assert_true(m.value == 1234);
    assert_false(m.delta);

    assert_int_equal(parse("tx:1|c|@0.1"), 0);
    assert_int_equal(m.type, STATSD_COUNTER);
    assert_true(m.rate == 0.1);
}

static void gauges(void **state)
{
    (void)state;
    assert_int_equal(parse("g:+3|g"), 0);
    assert_true(m.delta);
    assert_true(m.value == 3);
    assert_int_equal(parse("g:-3|g"), 0);
    assert_true(m.delta);
    assert_true(m.value == -3);
    assert_int_equal(parse("g:3|g"), 0);
    assert_false(m.delta);
    assert_true(m.value == 3);
    assert_int_equal(parse("g:-0|g"), 0); /* subtract nothing, not set to zero */
    assert_true(m.delta);
    /* packed gauges: all deltas or all absolute */
    assert_int_equal(parse("g:+1:-2:+3|g"), 0);
    assert_true(m.delta);
    assert_int_equal(m.n_values, 3);
    assert_int_equal(parse("g:1:2|g"), 0);
    assert_false(m.delta);
    REJECT("g:1:-2|g", STATSD_E_MIXED_GAUGE);
    REJECT("g:-1:2|g", STATSD_E_MIXED_GAUGE);
    /* the sign means nothing to other types */
    assert_int_equal(parse("h:1:-2|h"), 0);
    assert_false(m.delta);
}

static void rates(void **state)
{
    static const char *const bad[] = {
        "r:1|c|@0",    "r:1|c|@0.0",    "r:1|c|@1.5",  "r:1|c|@1.0000001", "r:1|c|@-0.5",
        "r:1|c|@",     "r:1|c|@abc",    "r:1|c|@0.5x", "r:1|c|@nan",       "r:1|c|@inf",
        "r:1|c|@ 0.5", "r:1|c|@1e-999", "r:1|c|@0x1",  "r:1|c|@0.5@1",     "r:1|c|@1e999",
    };

    (void)state;
    assert_int_equal(parse("r:1|c|@1"), 0);
    assert_true(m.rate == 1);
    assert_int_equal(parse("r:1|c|@.5"), 0);
    assert_true(m.rate == 0.5);
    assert_int_equal(parse("r:1|c|@1e-3"), 0);
    assert_true(m.rate == 0.001);
    assert_int_equal(parse("r:1|c|@1.0"), 0);
    assert_true(m.rate == 1);
    assert_int_equal(parse("r:1|c|@0.0000001"), 0);
    assert_true(m.rate == 1e-7);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REJECT(bad[i], STATSD_E_BAD_RATE);
    }
    REJECT("r:1|c|@0.5|@0.5", STATSD_E_DUP_SECTION);
    /* gauges, sets and timers carry a rate too; what it means is the caller's business */
    assert_int_equal(parse("g:1|g|@0.5"), 0);
    assert_true(m.rate == 0.5);
}

static void tags(void **state)
{
    (void)state;
    assert_int_equal(parse("t:1|c|#env,region:eu,k:v:w,url:http://x/y?a=b"), 0);
    assert_int_equal(m.n_tags, 4);
    assert_tag(0, "env", "");
    assert_tag(1, "region", "eu");
    assert_tag(2, "k", "v:w"); /* split at the first ':' */
    assert_tag(3, "url", "http://x/y?a=b");
    assert_true(m.tags[0].val == m.tags[0].key + m.tags[0].key_len);

    assert_int_equal(parse("t:1|c|#k:"), 0); /* empty value: "k:" */
    assert_tag(0, "k", "");
    assert_true(m.tags[0].val == m.tags[0].key + 2);

    /* rate and tags in either order */
    assert_int_equal(parse("t:1|c|@0.5|#a:b"), 0);
    assert_true(m.rate == 0.5);
    assert_tag(0, "a", "b");
    assert_int_equal(parse("t:1|c|#a:b|@0.5"), 0);
    assert_true(m.rate == 0.5);
    assert_tag(0, "a", "b");

    REJECT("t:1|c|#", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#a,,b", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#a,", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#,a", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#:v", STATSD_E_BAD_TAG);
    /* a space inside a tag is kept: the tag is text wherever it is shown */
    assert_int_equal(parse("t:1|c|#<img src=x onerror=alert(1)>,k:a b"), 0);
    assert_int_equal(m.n_tags, 2);
    assert_span(m.tags[0].key, m.tags[0].key_len, "<img src=x onerror=alert(1)>");
    assert_int_equal(m.tags[0].val_len, 0);
    assert_span(m.tags[1].val, m.tags[1].val_len, "a b");
    REJECT("t:1|c|#a\tb", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#a:\x01", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#city:z\xc3\xbcrich", STATSD_E_BAD_TAG);
    REJECT("t:1|c|#a|#b", STATSD_E_DUP_SECTION);
}

static void tag_limits(void **state)
{
    char line[4096];
    size_t n;
    char *tag = repeat('k', STATSD_TAG_MAX + 1);

    (void)state;
    /* exactly STATSD_MAX_TAGS, then one more */
    n = (size_t)snprintf(line, sizeof(line), "t:1|c|#");
    for (int i = 0; i < STATSD_MAX_TAGS; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%st%d:%d", i ? "," : "", i, i);
    assert_int_equal(parse(line), 0);
    assert_int_equal(m.n_tags, STATSD_MAX_TAGS);
    assert_tag(STATSD_MAX_TAGS - 1, "t31", "31");
    snprintf(line + n, sizeof(line) - n, ",x");
    REJECT(line, STATSD_E_TOO_MANY_TAGS);

    /* a tag of exactly STATSD_TAG_MAX bytes, bare and key:value, then one more */
    tag[STATSD_TAG_MAX] = '\0';
    snprintf(line, sizeof(line), "t:1|c|#%s", tag);
    assert_int_equal(parse(line), 0);
    assert_int_equal(m.tags[0].key_len, STATSD_TAG_MAX);
    tag[3] = ':';
    snprintf(line, sizeof(line), "t:1|c|#a,%s", tag);
    assert_int_equal(parse(line), 0);
    assert_int_equal(m.tags[1].key_len + 1 + m.tags[1].val_len, STATSD_TAG_MAX);
    tag[STATSD_TAG_MAX] = 'k';
    snprintf(line, sizeof(line), "t:1|c|#a,%s", tag);
    REJECT(line, STATSD_E_TAG_TOO_LONG);
    free(tag);
}

static void sections(void **state)
{
    (void)state;
    assert_int_equal(parse("s:1|c|c:abc123|T1700000000|#a|@0.5"), 0);
    assert_span(m.container, m.container_len, "abc123");
    assert_int_equal(m.timestamp, 1700000000);
    assert_true(m.rate == 0.5);
    assert_int_equal(m.n_tags, 1);
    assert_int_equal(parse("s:1|c|c:"), 0); /* an empty container id */
    assert_non_null(m.container);
    assert_int_equal(m.container_len, 0);

    /* extensions we don't know, starting with a letter, are skipped */
    assert_int_equal(parse("s:1|c|e:whatever|x|card=1|c|#a:b"), 0);
    assert_null(m.container);
    assert_tag(0, "a", "b");

    REJECT("s:1|c|", STATSD_E_BAD_SECTION);
    REJECT("s:1|c||#a", STATSD_E_BAD_SECTION);
    REJECT("s:1|c|1", STATSD_E_BAD_SECTION);
    REJECT("s:1|c|%x", STATSD_E_BAD_SECTION);
    REJECT("s:1|c| #a", STATSD_E_BAD_SECTION);
    REJECT("s:1|c|c:a b", STATSD_E_BAD_CONTAINER);
    REJECT("s:1|c|c:a|c:b", STATSD_E_DUP_SECTION);
    REJECT("s:1|c|T", STATSD_E_BAD_TIMESTAMP);
    REJECT("s:1|c|T12x", STATSD_E_BAD_TIMESTAMP);
    REJECT("s:1|c|T 12", STATSD_E_BAD_TIMESTAMP);
    REJECT("s:1|c|T-12", STATSD_E_BAD_TIMESTAMP);
    REJECT("s:1|c|T99999999999999999999", STATSD_E_BAD_TIMESTAMP);
    REJECT("s:1|c|T1|T2", STATSD_E_DUP_SECTION);
}

static void values(void **state)
{
    static const struct {
        const char *text;
        double v;
    } good[] = {
        {"0", 0},
        {"-0", -0.0},
        {"+7", 7},
        {"1e5", 1e5},
        {"1E-3", 1e-3},
        {".5", 0.5},
        {"5.", 5},
        {"0e999", 0},
        {"000000000000000000000000000042", 42},
        {"0.000000000000000000000000000001", 1e-30},
        {"12345678901234567890123", 12345678901234567890123.0},
        {"1.7976931348623157e308", 1.7976931348623157e308},
        {"9007199254740993", 9007199254740993.0}, /* past 2^53: the slow path */
        {"2.2250738585072014e-308", 2.2250738585072014e-308},
        {"0.1", 0.1},
        {"3.14159265358979323846", 3.14159265358979323846},
        {"9007199254740992", 9007199254740992.0}, /* 2^53: the last of the fast path */
        {"1e22", 1e22},
        {"1e23", 1e23},
        {"123.456e-10", 123.456e-10},
        {"-17.25e+3", -17.25e+3},
    };
    static const char *const bad[] = {
        "nan", "NaN", "inf",   "-inf",  "Infinity", "1e999", "-1e999", "1e-999", "0x10", "0X1p3",
        " 1",  "1 ",  "1,5",   "1.2.3", "e5",       ".",     "-",      "+",      "1e",   "1e+",
        "--1", "+-1", "1_000", "1e5.0", "١",        "1\t",   "0b1",    "1f",     "1d",   "1.5e",
    };
    char line[256];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        double want;

        snprintf(line, sizeof(line), "v:%s|d", good[i].text);
        expect(line, 0);
        assert_true(m.value == good[i].v);
        assert_true(signbit(m.value) == signbit(good[i].v));
        /* the same bits as the project's checked parser */
        assert_int_equal(parse_double(good[i].text, &want), 0);
        assert_memory_equal(&m.value, &want, sizeof(want));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(line, sizeof(line), "v:%s|g", bad[i]);
        REJECT(line, STATSD_E_BAD_VALUE);
    }
    REJECT("v:|c", STATSD_E_EMPTY_VALUE);
    REJECT("v:|ms", STATSD_E_EMPTY_VALUE);
    REJECT("u:|s", STATSD_E_EMPTY_VALUE);
    REJECT("u:a b|s", STATSD_E_BAD_VALUE);
    REJECT("u:\x7f|s", STATSD_E_BAD_VALUE);
}

/* The fast path gives the bits parse_double() gives, mantissas and exponents
 * around its edges included. */
static void numbers_like_parse_double(void **state)
{
    uint64_t x = 88172645463325252u; /* xorshift64 */
    char text[64], line[96];

    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t mant;
        int e, dot;
        double want;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        mant = (x >> 11) >> (x % 48);  /* 0 to 2^53 - 1, all sizes */
        e = (int)((x >> 3) % 61) - 30; /* around +-22 */
        dot = (int)((x >> 9) % 20);    /* where a '.' goes, if inside */
        snprintf(text, sizeof(text), "%llue%d", (unsigned long long)mant, e);
        if (dot > 0 && (size_t)dot < strcspn(text, "e")) {
            size_t n = strlen(text);

            memmove(text + dot + 1, text + dot, n - (size_t)dot + 1);
            text[dot] = '.';
        }
        if (x & 1)
            *strchr(text, 'e') = '\0'; /* no exponent */
        snprintf(line, sizeof(line), "v:%s|d", text);
        assert_int_equal(parse_double(text, &want), 0);
        expect(line, 0);
        if (memcmp(&m.value, &want, sizeof(want)) != 0)
            fail_msg("%s: %.17g, want %.17g", text, m.value, want);
    }
}

static void number_length(void **state)
{
    char line[256];
    char *digits = repeat('0', STATSD_NUMBER_MAX);

    (void)state;
    digits[STATSD_NUMBER_MAX - 1] = '7';
    snprintf(line, sizeof(line), "v:%s|c", digits);
    assert_int_equal(parse(line), 0);
    assert_true(m.value == 7);
    snprintf(line, sizeof(line), "v:0%s|c", digits);
    REJECT(line, STATSD_E_BAD_VALUE);
    free(digits);
}

static void multi_values(void **state)
{
    size_t pos = 0;
    double v;

    (void)state;
    assert_int_equal(parse("lat:1:2.5:-3e2|d|#a"), 0);
    assert_int_equal(m.n_values, 3);
    assert_true(m.value == 1);
    assert_span(m.values, m.values_len, "1:2.5:-3e2");
    assert_int_equal(statsd_value_next(&m, &pos, &v), 0);
    assert_true(v == 1);
    assert_int_equal(statsd_value_next(&m, &pos, &v), 0);
    assert_true(v == 2.5);
    assert_int_equal(statsd_value_next(&m, &pos, &v), 0);
    assert_true(v == -300);
    assert_int_equal(pos, m.values_len);
    assert_int_equal(statsd_value_next(&m, &pos, &v), -ENOENT);
    assert_int_equal(statsd_value_at(&m, 0, &v), 0);
    assert_true(v == 1);
    assert_int_equal(statsd_value_at(&m, 2, &v), 0);
    assert_true(v == -300);
    v = 42;
    assert_int_equal(statsd_value_at(&m, 3, &v), -ENOENT);
    assert_true(v == 42);

    assert_int_equal(parse("one:5|c"), 0);
    pos = 0;
    assert_int_equal(statsd_value_next(&m, &pos, &v), 0);
    assert_true(v == 5);
    assert_int_equal(statsd_value_next(&m, &pos, &v), -ENOENT);

    assert_int_equal(parse("u:a:b|s"), 0);
    pos = 0;
    assert_int_equal(statsd_value_next(&m, &pos, &v), -ENOENT);
    assert_int_equal(statsd_value_at(&m, 0, &v), -ENOENT);

    REJECT("lat:1:|d", STATSD_E_BAD_VALUE);
    REJECT("lat:1::2|d", STATSD_E_BAD_VALUE);
    REJECT("lat::1|d", STATSD_E_BAD_VALUE);
    REJECT("lat:1:x|d", STATSD_E_BAD_VALUE);
    REJECT("lat:1:nan|d", STATSD_E_BAD_VALUE);
}

static void names(void **state)
{
    char line[512];
    char *name = repeat('n', STATSD_NAME_MAX + 1);

    (void)state;
    assert_int_equal(parse("a.b-c_d/e{f}[g]!$%&*'\"~^`:1|c"), 0);
    assert_span(m.name, m.name_len, "a.b-c_d/e{f}[g]!$%&*'\"~^`");

    name[STATSD_NAME_MAX] = '\0';
    snprintf(line, sizeof(line), "%s:1|c", name);
    assert_int_equal(parse(line), 0);
    assert_int_equal(m.name_len, STATSD_NAME_MAX);
    name[STATSD_NAME_MAX] = 'n';
    snprintf(line, sizeof(line), "%s:1|c", name);
    REJECT(line, STATSD_E_NAME_TOO_LONG);
    free(name);

    REJECT(":1|c", STATSD_E_EMPTY_NAME);
    REJECT("|c", STATSD_E_EMPTY_NAME);
    assert_int_equal(parse("a b:1|c"), 0);
    assert_span(m.name, m.name_len, "a b");
    assert_int_equal(parse("<img src=x onerror=alert(1)>:1|g"), 0);
    assert_span(m.name, m.name_len, "<img src=x onerror=alert(1)>");
    REJECT(" a:1|c", STATSD_E_BAD_NAME);
    REJECT("a :1|c", STATSD_E_BAD_NAME);
    REJECT(" :1|c", STATSD_E_BAD_NAME);
    REJECT("a\t:1|c", STATSD_E_BAD_NAME);
    REJECT("a@b:1|c", STATSD_E_BAD_NAME);
    REJECT("a#b:1|c", STATSD_E_BAD_NAME);
    REJECT("a\x01:1|c", STATSD_E_BAD_NAME);
    REJECT("caf\xc3\xa9:1|c", STATSD_E_BAD_NAME);
    REJECT("a\x7f:1|c", STATSD_E_BAD_NAME);
    REJECT("a\r:1|c", STATSD_E_BAD_NAME);
    REJECT("foo", STATSD_E_NO_VALUE);
    REJECT("foo|c", STATSD_E_NO_VALUE);
    REJECT("foo|c|#k:v", STATSD_E_NO_VALUE);
    assert_int_equal(statsd_parse_line("a\0b:1|c", 7, &m), -STATSD_E_BAD_NAME);
}

static void types(void **state)
{
    (void)state;
    REJECT("a:1", STATSD_E_NO_TYPE);
    REJECT("a:1|", STATSD_E_NO_TYPE);
    REJECT("a:1||c", STATSD_E_NO_TYPE);
    REJECT("a:1|x", STATSD_E_UNKNOWN_TYPE);
    REJECT("a:1|C", STATSD_E_UNKNOWN_TYPE);
    REJECT("a:1|m", STATSD_E_UNKNOWN_TYPE);
    REJECT("a:1|msx", STATSD_E_UNKNOWN_TYPE);
    REJECT("a:1|cc", STATSD_E_UNKNOWN_TYPE);
    REJECT("a:1|@0.5", STATSD_E_UNKNOWN_TYPE); /* the type comes first */
    REJECT("a:1|c ", STATSD_E_UNKNOWN_TYPE);
    /* the type is checked before the value: a bad number under a bad type */
    REJECT("a:x|x", STATSD_E_UNKNOWN_TYPE);
}

static void events_and_service_checks(void **state)
{
    size_t pos = 0;
    double v;

    (void)state;
    assert_int_equal(parse("_e{5,4}:title|text|#env:prod"), 0);
    assert_int_equal(m.kind, STATSD_KIND_EVENT);
    assert_int_equal(m.type, STATSD_NONE);
    assert_null(m.name);
    assert_int_equal(m.n_values, 0);
    assert_int_equal(m.n_tags, 0);
    assert_int_equal(statsd_value_next(&m, &pos, &v), -EINVAL);
    assert_int_equal(statsd_value_at(&m, 0, &v), -ENOENT);
    assert_int_equal(parse("_sc|node.up|0|#env:prod|m:all good"), 0);
    assert_int_equal(m.kind, STATSD_KIND_SERVICE_CHECK);
    assert_int_equal(m.type, STATSD_NONE);
    /* only the exact prefixes */
    REJECT("_e:1|q", STATSD_E_UNKNOWN_TYPE);
    REJECT("_sc", STATSD_E_NO_VALUE);
    assert_int_equal(parse("_sc:1|c"), 0);
    assert_int_equal(m.kind, STATSD_KIND_METRIC);
}

static void datagrams(void **state)
{
    static const char dg[] = "\na:1|c\n\r\nb:2|g\r\nbad line\n\nc:3|ms|#k:v\r\n\n";
    const char *want[] = {"a:1|c", "b:2|g", "bad line", "c:3|ms|#k:v"};
    const int rc[] = {0, 0, -STATSD_E_NO_VALUE, 0};
    size_t pos = 0, len, n = 0;
    const char *line;

    (void)state;
    while (statsd_next_line(dg, sizeof(dg) - 1, &pos, &line, &len)) {
        assert_true(n < 4);
        assert_span(line, len, want[n]);
        assert_int_equal(statsd_parse_line(line, len, &m), rc[n]);
        n++;
    }
    assert_int_equal(n, 4);
    assert_int_equal(pos, sizeof(dg) - 1);
    assert_false(statsd_next_line(dg, sizeof(dg) - 1, &pos, &line, &len));
    /* the line after the bad one is whole */
    assert_tag(0, "k", "v");

    /* no final newline; a final lone '\r' */
    pos = 0;
    assert_true(statsd_next_line("x:1|c", 5, &pos, &line, &len));
    assert_span(line, len, "x:1|c");
    assert_false(statsd_next_line("x:1|c", 5, &pos, &line, &len));
    pos = 0;
    assert_true(statsd_next_line("x:1|c\r", 6, &pos, &line, &len));
    assert_span(line, len, "x:1|c");
    /* nothing but separators, and nothing at all */
    pos = 0;
    assert_false(statsd_next_line("\n\r\n\n\r", 5, &pos, &line, &len));
    assert_int_equal(pos, 5);
    pos = 0;
    assert_false(statsd_next_line("", 0, &pos, &line, &len));
    /* only one '\r' belongs to the line end */
    pos = 0;
    assert_true(statsd_next_line("x:1|c\r\r\n", 8, &pos, &line, &len));
    assert_span(line, len, "x:1|c\r");
    assert_int_equal(statsd_parse_line(line, len, &m), -STATSD_E_UNKNOWN_TYPE);
}

static void line_limit(void **state)
{
    /* a set member fills the line up to the limit exactly */
    size_t len = STATSD_LINE_MAX;
    char *line = repeat('x', len + 1);
    size_t pos = 0, got;
    const char *l;

    (void)state;
    memcpy(line, "s:", 2);
    memcpy(line + len - 2, "|s", 2);
    assert_int_equal(statsd_parse_line(line, len, &m), 0);
    assert_int_equal(m.values_len, len - 4);
    assert_true(statsd_next_line(line, len, &pos, &l, &got));
    assert_int_equal(got, len);

    memcpy(line + len - 2, "xx|s", 4);
    assert_int_equal(statsd_parse_line(line, len + 1, &m), -STATSD_E_LINE_TOO_LONG);
    /* even if it would be an event */
    memcpy(line, "_e{", 3);
    assert_int_equal(statsd_parse_line(line, len + 1, &m), -STATSD_E_LINE_TOO_LONG);
    free(line);
}

static void bounded_reads(void **state)
{
    static const char buf[] = "a:1|c|#k:v";

    (void)state;
    /* only [line, line + len) is read: the tags past len are not there */
    assert_int_equal(statsd_parse_line(buf, 5, &m), 0);
    assert_int_equal(m.n_tags, 0);
    assert_int_equal(statsd_parse_line(buf, 4, &m), -STATSD_E_NO_TYPE);
    assert_int_equal(statsd_parse_line(buf, 0, &m), -STATSD_E_EMPTY_NAME);
}

static void untouched_on_failure(void **state)
{
    struct statsd_line before;

    (void)state;
    assert_int_equal(parse("keep:2|g|#a:b|@0.5"), 0);
    memcpy(&before, &m, sizeof(m));
    REJECT("t:1|c|#x,y,z,", STATSD_E_BAD_TAG);
    REJECT("t:1|c|@0.5|@2", STATSD_E_DUP_SECTION);
    REJECT("nope", STATSD_E_NO_VALUE);
    assert_memory_equal(&before, &m, sizeof(m));
    /* a shorter success leaves no tags or sections of the longer one visible */
    assert_int_equal(parse("next:1|c"), 0);
    assert_int_equal(m.n_tags, 0);
    assert_true(m.rate == 1);
}

static void reasons(void **state)
{
    (void)state;
    assert_string_equal(statsd_reason(0), "ok");
    for (int r = 1; r < STATSD_E_COUNT; r++) {
        const char *s = statsd_reason(-r);

        assert_string_equal(s, statsd_reason(r));
        assert_string_not_equal(s, "unknown");
        assert_string_not_equal(s, "ok");
        for (const char *p = s; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
        for (int q = 1; q < r; q++)
            assert_string_not_equal(s, statsd_reason(q));
    }
    assert_string_equal(statsd_reason(-STATSD_E_BAD_RATE), "bad_rate");
    assert_string_equal(statsd_reason(STATSD_E_COUNT), "unknown");
    assert_string_equal(statsd_reason(-STATSD_E_COUNT), "unknown");
    assert_string_equal(statsd_reason(INT_MIN), "unknown");
    assert_string_equal(statsd_reason(INT_MAX), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type),
        cmocka_unit_test(client_examples),
        cmocka_unit_test(gauges),
        cmocka_unit_test(rates),
        cmocka_unit_test(tags),
        cmocka_unit_test(tag_limits),
        cmocka_unit_test(sections),
        cmocka_unit_test(values),
        cmocka_unit_test(numbers_like_parse_double),
        cmocka_unit_test(number_length),
        cmocka_unit_test(multi_values),
        cmocka_unit_test(names),
        cmocka_unit_test(types),
        cmocka_unit_test(events_and_service_checks),
        cmocka_unit_test(datagrams),
        cmocka_unit_test(line_limit),
        cmocka_unit_test(bounded_reads),
        cmocka_unit_test(untouched_on_failure),
        cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
