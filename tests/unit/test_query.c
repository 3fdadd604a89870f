/* Request-target parsing and the typed query getters (src/serve/query.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "serve/query.h"

static struct httpq q;

static int parse(const char *target)
{
    return httpq_parse(&q, target, strlen(target));
}

/* q->error is fit for a JSON string as it is: printable ASCII, no quote, no backslash */
static void assert_error_safe(void)
{
    assert_true(q.error[0] != '\0');
    for (const char *p = q.error; *p; p++) {
        assert_true(*p >= 0x20 && *p < 0x7f);
        assert_true(*p != '"' && *p != '\\');
    }
}

static void path_and_params(void **state)
{
    (void)state;
    assert_int_equal(parse("/api/v1/history?limit=10&from=1"), 0);
    assert_string_equal(q.path, "/api/v1/history");
    assert_int_equal(q.n_params, 2);
    assert_string_equal(q.params[0].key, "limit");
    assert_string_equal(q.params[0].value, "10");
    assert_string_equal(q.params[1].key, "from");
    assert_string_equal(q.params[1].value, "1");
    assert_string_equal(httpq_get(&q, "limit"), "10");
    assert_null(httpq_get(&q, "to"));
    assert_null(httpq_get(&q, "Limit")); /* names are case-sensitive */

    assert_int_equal(parse("/"), 0);
    assert_string_equal(q.path, "/");
    assert_int_equal(q.n_params, 0);
    assert_int_equal(parse("/metrics?"), 0); /* a lone '?' */
    assert_string_equal(q.path, "/metrics");
    assert_int_equal(q.n_params, 0);
    /* empty pairs carry nothing */
    assert_int_equal(parse("/x?&a=1&&b=2&"), 0);
    assert_int_equal(q.n_params, 2);
    assert_string_equal(httpq_get(&q, "b"), "2");
    /* the value runs to the '&': a second '=' is part of it */
    assert_int_equal(parse("/x?t=a=b"), 0);
    assert_string_equal(httpq_get(&q, "t"), "a=b");
    /* not NUL-terminated: only len bytes count */
    assert_int_equal(httpq_parse(&q, "/ab?c=1XYZ", 7), 0);
    assert_string_equal(q.path, "/ab");
    assert_string_equal(httpq_get(&q, "c"), "1");
}

static void empty_values(void **state)
{
    (void)state;
    assert_int_equal(parse("/x?a&b=&c=3"), 0);
    assert_int_equal(q.n_params, 3);
    assert_string_equal(httpq_get(&q, "a"), "");
    assert_string_equal(httpq_get(&q, "b"), "");
    assert_string_equal(httpq_get(&q, "c"), "3");
    assert_int_equal(parse("/x?=1"), -EINVAL);
    assert_error_safe();
    assert_int_equal(parse("/x?a=1&=2"), -EINVAL);
}

static void escapes(void **state)
{
    (void)state;
    assert_int_equal(parse("/a%20b/%7e%7E?k%3D=v%26w&n=%41%62+c%2B"), 0);
    assert_string_equal(q.path, "/a b/~~");
    assert_string_equal(httpq_get(&q, "k="), "v&w"); /* split before decoding */
    assert_string_equal(httpq_get(&q, "n"), "Ab c+");
    /* '+' is a space in the query only */
    assert_int_equal(parse("/a+b?x+y=1+2"), 0);
    assert_string_equal(q.path, "/a+b");
    assert_string_equal(httpq_get(&q, "x y"), "1 2");
    /* bytes beyond ASCII and control bytes arrive percent-encoded, and stay */
    assert_int_equal(parse("/x?u=%C3%A9%0A"), 0);
    assert_string_equal(httpq_get(&q, "u"), "\xc3\xa9\n");

    static const char *const bad[] = {
        "/x?a=%", "/x?a=%4",  "/x?a=%4g", "/x?a=%g4", "/x?a=%%41", "/%zz",     "/x?a=%00",
        "/%00",   "/x?%00=1", "/x?a=1%",  "/x?a=%+1", "/x?a=% 1",  "/x?a=%-1", "/%2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i]), -EINVAL);
        assert_error_safe();
        /* a failed parse leaves nothing to read */
        assert_string_equal(q.path, "");
        assert_int_equal(q.n_params, 0);
    }
    assert_int_equal(parse("/x?a=%00"), -EINVAL);
    assert_non_null(strstr(q.error, "NUL"));
    assert_int_equal(parse("/x?a=%4"), -EINVAL);
    assert_non_null(strstr(q.error, "percent"));
    /* an encoded '/' is refused in the path (a proxy would not see it), kept in the query */
    assert_int_equal(parse("/api%2Fv1/config"), -EINVAL);
    assert_non_null(strstr(q.error, "'/'"));
    assert_int_equal(parse("/api%2fv1"), -EINVAL);
    assert_int_equal(parse("/x?p=a%2Fb"), 0);
    assert_string_equal(httpq_get(&q, "p"), "a/b");
}

static void raw_bytes_and_path(void **state)
{
    (void)state;
    assert_int_equal(parse(""), -EINVAL);
    assert_non_null(strstr(q.error, "'/'"));
    assert_int_equal(parse("api/v1"), -EINVAL);
    assert_int_equal(parse("?a=1"), -EINVAL);
    assert_int_equal(parse("http://host/x"), -EINVAL); /* absolute form */
    assert_int_equal(parse("*"), -EINVAL);
    assert_int_equal(httpq_parse(&q, NULL, 0), -EINVAL);
    assert_int_equal(parse("/a b"), -EINVAL);
    assert_int_equal(parse("/a\tb"), -EINVAL);
    assert_int_equal(parse("/a\r\nb"), -EINVAL);
    assert_int_equal(parse("/x#frag"), -EINVAL);
    assert_int_equal(parse("/x?a=\x7f"), -EINVAL);
    assert_int_equal(parse("/\xc3\xa9"), -EINVAL);
    assert_int_equal(httpq_parse(&q, "/a\0b", 4), -EINVAL);
    assert_error_safe();
}

static void duplicates(void **state)
{
    (void)state;
    assert_int_equal(parse("/x?a=1&b=2&a=3"), -EINVAL);
    assert_string_equal(q.error, "parameter 'a' given twice");
    assert_int_equal(parse("/x?a&a"), -EINVAL);
    /* the same name after decoding */
    assert_int_equal(parse("/x?a+b=1&a%20b=2"), -EINVAL);
    assert_string_equal(q.error, "parameter 'a b' given twice");
    /* a quote or a control byte in the name is not echoed */
    assert_int_equal(parse("/x?%22%0A=1&%22%0A=2"), -EINVAL);
    assert_string_equal(q.error, "parameter '\?\?' given twice");
    assert_error_safe();
}

static void limits(void **state)
{
    static char big[HTTPQ_MAX_TARGET + 2];
    char many[512];
    size_t n = 0;

    (void)state;
    /* exactly HTTPQ_MAX_PARAMS parameters; one more is too many */
    n += (size_t)snprintf(many + n, sizeof(many) - n, "/x?");
    for (int i = 0; i < HTTPQ_MAX_PARAMS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%sp%d=%d", i ? "&" : "", i, i);
    assert_int_equal(parse(many), 0);
    assert_int_equal(q.n_params, HTTPQ_MAX_PARAMS);
    assert_string_equal(httpq_get(&q, "p15"), "15");
    snprintf(many + n, sizeof(many) - n, "&z");
    assert_int_equal(parse(many), -E2BIG);
    assert_error_safe();
    assert_int_equal(q.n_params, 0);

    /* a target of HTTPQ_MAX_TARGET bytes is taken, one byte more is not */
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    assert_int_equal(httpq_parse(&q, big, HTTPQ_MAX_TARGET), 0);
    assert_int_equal(strlen(q.path), HTTPQ_MAX_TARGET);
    assert_int_equal(httpq_parse(&q, big, HTTPQ_MAX_TARGET + 1), -E2BIG);
    assert_non_null(strstr(q.error, "4096"));

    /* the worst case for storage: a full target of 16 names without '=' */
    memset(big, 'b', HTTPQ_MAX_TARGET);
    big[0] = '/';
    big[1] = '?';
    for (int i = 0; i < HTTPQ_MAX_PARAMS - 1; i++) {
        big[2 + 2 * i] = (char)('c' + i);
        big[2 + 2 * i + 1] = '&';
    }
    assert_int_equal(httpq_parse(&q, big, HTTPQ_MAX_TARGET), 0);
    assert_int_equal(q.n_params, HTTPQ_MAX_PARAMS);
    assert_string_equal(q.params[15].value, "");
    assert_int_equal(strlen(q.params[15].key), HTTPQ_MAX_TARGET - 2 - 2 * 15);

    /* a long name is echoed, but cut short */
    memset(big, 'n', 128);
    memcpy(big, "/?", 2);
    memcpy(big + 62, "=1&", 3);
    memcpy(big + 125, "=2", 3);
    assert_int_equal(parse(big), -EINVAL);
    assert_true(strlen(q.error) < 32 + 40);
    assert_non_null(strstr(q.error, "...' given twice"));
}

static void get_u64(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(parse("/x?limit=10&zero=0&max=18446744073709551615&lead=007"), 0);
    v = 42;
    assert_int_equal(httpq_get_u64(&q, "absent", 1, 1000, &v), 0);
    assert_true(v == 42); /* left alone: the default */
    assert_int_equal(httpq_get_u64(&q, "limit", 1, 1000, &v), 1);
    assert_true(v == 10);
    assert_int_equal(httpq_get_u64(&q, "limit", 10, 10, &v), 1);
    assert_int_equal(httpq_get_u64(&q, "zero", 0, 5, &v), 1);
    assert_true(v == 0);
    assert_int_equal(httpq_get_u64(&q, "max", 0, UINT64_MAX, &v), 1);
    assert_true(v == UINT64_MAX);
    assert_int_equal(httpq_get_u64(&q, "lead", 0, 10, &v), 1);
    assert_true(v == 7);

    /* out of range, both ends */
    v = 42;
    assert_int_equal(httpq_get_u64(&q, "limit", 11, 1000, &v), -EINVAL);
    assert_string_equal(q.error, "limit: expected an integer from 11 to 1000");
    assert_int_equal(httpq_get_u64(&q, "limit", 1, 9, &v), -EINVAL);
    assert_int_equal(httpq_get_u64(&q, "zero", 1, 1000, &v), -EINVAL);
    assert_string_equal(q.error, "zero: expected an integer from 1 to 1000");
    assert_true(v == 42);

    static const char *const bad[] = {
        "/x?limit=-1",
        "/x?limit=%2B1",
        "/x?limit=+1", /* a space */
        "/x?limit=%201",
        "/x?limit=1%20",
        "/x?limit=",
        "/x?limit",
        "/x?limit=0x10",
        "/x?limit=1e3",
        "/x?limit=1.0",
        "/x?limit=99999999999999999999999",
        "/x?limit=18446744073709551616",
        "/x?limit=-99999999999999999999999",
        "/x?limit=abc",
        "/x?limit=10abc",
        "/x?limit=%EF%BC%91", /* a fullwidth digit */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i]), 0);
        v = 42;
        assert_int_equal(httpq_get_u64(&q, "limit", 0, UINT64_MAX, &v), -EINVAL);
        assert_true(v == 42);
        assert_string_equal(q.error, "limit: expected an integer from 0 to 18446744073709551615");
    }
}

static void get_double(void **state)
{
    double d;

    (void)state;
    assert_int_equal(parse("/x?r=0.25&n=-1.5&e=2e3&E=1.5E-2&dot=.5&tail=5.&z=-0"), 0);
    d = 9;
    assert_int_equal(httpq_get_double(&q, "absent", 0, 1, &d), 0);
    assert_true(d == 9);
    assert_int_equal(httpq_get_double(&q, "r", 0, 1, &d), 1);
    assert_true(d == 0.25);
    assert_int_equal(httpq_get_double(&q, "n", -2, 0, &d), 1);
    assert_true(d == -1.5);
    assert_int_equal(httpq_get_double(&q, "e", 0, 1e6, &d), 1);
    assert_true(d == 2000);
    assert_int_equal(httpq_get_double(&q, "E", 0, 1, &d), 1);
    assert_true(d == 0.015);
    assert_int_equal(httpq_get_double(&q, "dot", 0, 1, &d), 1);
    assert_true(d == 0.5);
    assert_int_equal(httpq_get_double(&q, "tail", 0, 10, &d), 1);
    assert_true(d == 5);
    assert_int_equal(httpq_get_double(&q, "z", 0, 1, &d), 1);
    assert_true(d == 0);

    d = 9;
    assert_int_equal(httpq_get_double(&q, "r", 0.5, 1, &d), -EINVAL);
    assert_string_equal(q.error, "r: expected a number from 0.5 to 1");
    assert_int_equal(httpq_get_double(&q, "n", 0, 1, &d), -EINVAL);
    assert_string_equal(q.error, "n: expected a number from 0 to 1");
    assert_true(d == 9);

    static const char *const bad[] = {
        "/x?r=1e999", "/x?r=-1e999", "/x?r=1e-999", "/x?r=0x10",  "/x?r=%201", "/x?r=1%20",
        "/x?r=",      "/x?r",        "/x?r=nan",    "/x?r=inf",   "/x?r=-inf", "/x?r=%2B1",
        "/x?r=+1",    "/x?r=1e",     "/x?r=1e%2B",  "/x?r=.",     "/x?r=-",    "/x?r=1.2.3",
        "/x?r=--1",   "/x?r=1,5",    "/x?r=1_000",  "/x?r=0x1p3", "/x?r=1.5f", "/x?r=infinity",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i]), 0);
        d = 9;
        assert_int_equal(httpq_get_double(&q, "r", -1e300, 1e300, &d), -EINVAL);
        assert_true(d == 9);
        assert_string_equal(q.error, "r: expected a number from -1e+300 to 1e+300");
    }
}

static void check_known(void **state)
{
    static const char *const allowed[] = {"limit", "from", "to", NULL};

    (void)state;
    assert_int_equal(parse("/x?limit=1&to=2"), 0);
    assert_int_equal(httpq_check_known(&q, allowed), 0);
    assert_int_equal(parse("/x"), 0);
    assert_int_equal(httpq_check_known(&q, allowed), 0);
    assert_int_equal(httpq_check_known(&q, NULL), 0);
    assert_int_equal(parse("/x?limit=1&foo=2"), 0);
    assert_int_equal(httpq_check_known(&q, allowed), -EINVAL);
    assert_string_equal(q.error, "unknown parameter 'foo'");
    assert_int_equal(parse("/x?a"), 0);
    assert_int_equal(httpq_check_known(&q, NULL), -EINVAL);
    assert_string_equal(q.error, "unknown parameter 'a'");
    assert_int_equal(parse("/x?%5C%22%3Cscript%3E=1"), 0);
    assert_int_equal(httpq_check_known(&q, allowed), -EINVAL);
    assert_string_equal(q.error, "unknown parameter '\?\?<script>'");
}

static void reuse(void **state)
{
    (void)state;
    /* a struct parses again and again: nothing of the last target stays */
    assert_int_equal(parse("/one?a=1&b=2"), 0);
    assert_int_equal(parse("/two?c=3"), 0);
    assert_string_equal(q.path, "/two");
    assert_int_equal(q.n_params, 1);
    assert_null(httpq_get(&q, "a"));
    assert_int_equal(parse("/three?d=%zz"), -EINVAL);
    assert_null(httpq_get(&q, "c"));
    assert_int_equal(parse("/four"), 0);
    assert_string_equal(q.error, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(path_and_params), cmocka_unit_test(empty_values),
        cmocka_unit_test(escapes),         cmocka_unit_test(raw_bytes_and_path),
        cmocka_unit_test(duplicates),      cmocka_unit_test(limits),
        cmocka_unit_test(get_u64),         cmocka_unit_test(get_double),
        cmocka_unit_test(check_known),     cmocka_unit_test(reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
