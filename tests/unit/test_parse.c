/* Checked number parsing and the bounded string buffer. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/parse.h"
#include "common/strbuf.h"

static void parse_whole_strings(void **state)
{
    uint64_t u = 7;
    int64_t i;
    double d;
    bool b;

    (void)state;
    assert_int_equal(parse_u64("0", &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(parse_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(parse_u64("18446744073709551616", &u), -ERANGE);
    assert_true(u == UINT64_MAX); /* untouched on failure */
    assert_int_equal(parse_u64("12x", &u), -EINVAL);
    assert_int_equal(parse_u64("", &u), -EINVAL);
    assert_int_equal(parse_u64(" 1", &u), -EINVAL); /* the whole string, nothing else */
    assert_int_equal(parse_u64("1 ", &u), -EINVAL);
    assert_int_equal(parse_u64("-1", &u), -EINVAL);
    assert_int_equal(parse_i64("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(parse_i64("9223372036854775808", &i), -ERANGE);
    assert_int_equal(parse_i64("-", &i), -EINVAL);
    assert_int_equal(parse_i64("+5", &i), 0);
    assert_int_equal(i, 5);
    assert_int_equal(parse_double("0.7", &d), 0);
    assert_true(fabs(d - 0.7) < 1e-12);
    assert_int_equal(parse_double("1e400", &d), -ERANGE);
    assert_int_equal(parse_double("nan", &d), -ERANGE);
    assert_int_equal(parse_double("1.5.", &d), -EINVAL);
    assert_int_equal(parse_double("", &d), -EINVAL);
    assert_int_equal(parse_bool("Yes", &b), 0);
    assert_true(b);
    assert_int_equal(parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(parse_bool("maybe", &b), -EINVAL);
}

static void scan_in_buffers(void **state)
{
    const char buf[] = "  123 456x 99999999999999999999 3.25 -7";
    const char *p = buf, *end = buf + strlen(buf);
    uint64_t u;
    int64_t i;
    double d;
    const char *tok;
    size_t len;

    (void)state;
    assert_int_equal(scan_u64(&p, end, &u), 0);
    assert_int_equal(u, 123);
    assert_int_equal(scan_u64(&p, end, &u), 0);
    assert_int_equal(u, 456);
    assert_int_equal(*p, 'x');
    assert_int_equal(scan_u64(&p, end, &u), -EINVAL); /* 'x' is not a digit */
    p++;
    assert_int_equal(scan_u64(&p, end, &u), -ERANGE);
    assert_int_equal(scan_word(&p, end, &tok, &len), 0); /* skip the overflowing run */
    assert_int_equal(scan_decimal(&p, end, &d), 0);
    assert_true(fabs(d - 3.25) < 1e-12);
    assert_int_equal(scan_i64(&p, end, &i), 0);
    assert_int_equal(i, -7);
    assert_ptr_equal(p, end);
    assert_int_equal(scan_u64(&p, end, &u), -EINVAL); /* nothing left; never reads past end */

    /* a buffer without a terminator: scanning stops at `end` */
    {
        char raw[3] = {'4', '2', '7'};
        const char *q = raw;
        assert_int_equal(scan_u64(&q, raw + 2, &u), 0);
        assert_int_equal(u, 42);
    }
}

static void strbuf_limits_and_json(void **state)
{
    struct strbuf sb;

    (void)state;
    strbuf_init(&sb, 8);
    assert_int_equal(strbuf_puts(&sb, "12345678"), 0);
    assert_int_equal(strbuf_putc(&sb, '9'), -ENOBUFS);
    assert_true(sb.overflow);
    assert_string_equal(sb.buf, "12345678");
    assert_int_equal(strbuf_puts(&sb, "x"), -ENOBUFS); /* stays refused */
    strbuf_reset(&sb);
    assert_false(sb.overflow);
    assert_int_equal(strbuf_printf(&sb, "%d-%s", 7, "ab"), 0);
    assert_string_equal(sb.buf, "7-ab");
    strbuf_done(&sb);

    strbuf_init(&sb, 0);
    strbuf_json_str(&sb, "a\"b\\c\n\x01\xc3\xa9\xff");
    assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\"");
    strbuf_reset(&sb);
    strbuf_json_num(&sb, 12.3400, 3);
    strbuf_putc(&sb, ' ');
    strbuf_json_num(&sb, NAN, 2);
    strbuf_putc(&sb, ' ');
    strbuf_json_num(&sb, -0.0001, 2);
    strbuf_putc(&sb, ' ');
    strbuf_json_num(&sb, 5, 0);
    strbuf_putc(&sb, ' ');
    strbuf_json_num(&sb, 1e300, 2);
    assert_string_equal(sb.buf, "12.34 null 0 5 1.0000000000000001e+300");
    strbuf_done(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_whole_strings),
        cmocka_unit_test(scan_in_buffers),
        cmocka_unit_test(strbuf_limits_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
