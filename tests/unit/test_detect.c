/* The per-series detector (src/detect/series.h) and the CSV rows of `arthamon
 * detect` (src/detect/csv.h): silence while warming up, a step and a spike
 * scored high after it, a constant and a periodic series scored 0, white noise
 * mostly quiet, a new extreme flagged, options and their limits, state that
 * is all in the fixed-size struct, causality (the scores of a prefix are the
 * prefix of the scores), and the CSV rules and their errors. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/detrand.h"
#include "common/parse.h"
#include "detect/csv.h"
#include "detect/series.h"

#define N 6000

/* a learnable series: a sine of period 48 with a little noise */
static double periodic(size_t i)
{
    return 50 + 10 * sin(6.283185307179586 * (double)i / 48) + 0.01 * gauss();
}

/* bytes of a detector with the offline defaults */
static size_t default_size(void)
{
    struct detect_series_opts o;

    detect_series_default_opts(&o);
    return detect_series_size(&o);
}

static struct detect_series *fresh(void)
{
    struct detect_series *d = detect_series_new();

    assert_non_null(d);
    return d;
}

static void test_warmup_silent(void **state)
{
    struct detect_series *d = fresh();

    (void)state;
    for (size_t i = 0; i < DETECT_WARMUP; i++) {
        assert_true(detect_series_warming(d));
        /* wild values: every one of them new, none of them scored */
        assert_true(detect_series_update(d, gauss() * (double)(i % 7) * 1e3) == 0);
    }
    assert_false(detect_series_warming(d));
    detect_series_free(d);
    detect_series_free(NULL);
}

/* feeds the periodic series up to onset, checks it raised no alarm in the
 * last 500 samples before, then returns the score of value v at onset */
static double after_learning(struct detect_series *d, size_t onset, double v)
{
    for (size_t i = 0; i < onset; i++) {
        double s = detect_series_update(d, periodic(i));

        assert_true(s >= 0 && s <= 1);
        if (i + 500 >= onset)
            assert_true(s < DETECT_ALARM);
    }
    return detect_series_update(d, v);
}

static void test_step(void **state)
{
    struct detect_series *d = fresh();
    double s = after_learning(d, 3000, 90);

    (void)state;
    assert_true(s >= DETECT_ALARM);
    detect_series_free(d);
}

static void test_spike(void **state)
{
    struct detect_series *d = fresh();

    (void)state;
    assert_true(after_learning(d, 3000, 5) >= DETECT_ALARM);
    detect_series_free(d);
}

static void test_constant_and_periodic_zero(void **state)
{
    struct detect_series *d = fresh();

    (void)state;
    for (size_t i = 0; i < N; i++)
        assert_true(detect_series_update(d, 42.5) == 0);
    detect_series_reset(d);
    for (size_t i = 0; i < N; i++) {
        double s = detect_series_update(d, periodic(i));

        if (i >= 2000)
            assert_true(s < DETECT_ALARM);
    }
    detect_series_free(d);
}

/* in white noise new long contexts come every few dozen samples: each is worth
 * little (its surprise is low), so alarms stay rare; weighing every new context
 * alike raises about 90 here */
static void test_noise_quiet(void **state)
{
    struct detect_series *d = fresh();
    unsigned alarms = 0;

    (void)state;
    for (size_t i = 0; i < 20000; i++) {
        double s = detect_series_update(d, gauss());

        assert_true(s >= 0 && s <= 1);
        if (i >= 2000 && s >= DETECT_ALARM)
            alarms++;
    }
    assert_true(alarms < 40);
    detect_series_free(d);
}

/* a value beyond the range seen so far is news even when the same kind of
 * excursion ("above the range") was met a moment ago: all its contexts count as
 * new (when only those not met lately do, this one scores under 0.6) */
static void test_new_extreme(void **state)
{
    struct detect_series *d = fresh();

    (void)state;
    assert_true(after_learning(d, 3000, 90) >= DETECT_ALARM);
    for (size_t i = 3001; i < 3001 + DETECT_HOLD; i++)
        detect_series_update(d, periodic(i));
    assert_true(detect_series_update(d, 150) >= 0.75);
    detect_series_free(d);
}

static void test_non_finite_ignored(void **state)
{
    struct detect_series *d = fresh(), *copy = fresh();

    (void)state;
    for (size_t i = 0; i < 1000; i++)
        detect_series_update(d, periodic(i));
    memcpy(copy, d, default_size());
    assert_true(detect_series_update(d, NAN) == 0);
    assert_true(detect_series_update(d, INFINITY) == 0);
    assert_memory_equal(copy, d, default_size());
    detect_series_free(d);
    detect_series_free(copy);
}

/* everything the detector knows is in its fixed-size struct: a byte copy
 * taken mid-stream goes on exactly like the original, over 10^6 samples */
static void test_bounded_state(void **state)
{
    struct detect_series *a = fresh(), *b = fresh();

    (void)state;
    assert_true(default_size() <= 64 * 1024);
    for (size_t i = 0; i < 5000; i++)
        detect_series_update(a, gauss());
    memcpy(b, a, default_size());
    for (size_t i = 0; i < 1000000; i++) {
        double x = i % 100000 == 0 ? 1e9 : gauss() + (double)i * 1e-4;
        double sa = detect_series_update(a, x), sb = detect_series_update(b, x);

        assert_true(sa >= 0 && sa <= 1);
        assert_true(sa == sb);
    }
    detect_series_free(a);
    detect_series_free(b);
}

/* options: range checks, sizes that follow the table, a warm-up of one's own,
 * and a small table that still learns the periodic series */
static void test_options(void **state)
{
    struct detect_series_opts o;
    struct detect_series *d;
    size_t s8, s13;

    (void)state;
    detect_series_default_opts(&o);
    assert_int_equal(o.warmup, DETECT_WARMUP);
    assert_int_equal(o.table_bits, DETECT_TABLE_BITS);
    o.table_bits = DETECT_TABLE_BITS_MIN - 1;
    assert_int_equal(detect_series_size(&o), 0);
    assert_null(detect_series_new_opts(&o));
    o.table_bits = DETECT_TABLE_BITS_MAX + 1;
    assert_null(detect_series_new_opts(&o));
    o.table_bits = 10;
    o.grids = 0;
    assert_null(detect_series_new_opts(&o));
    o.grids = DETECT_GRIDS + 1;
    assert_null(detect_series_new_opts(&o));
    o.grids = DETECT_GRIDS;
    o.table_bits = 8;
    s8 = detect_series_size(&o);
    o.table_bits = 13;
    s13 = detect_series_size(&o);
    assert_true(s8 > 0 && s13 - s8 == ((1u << 13) - (1u << 8)) * sizeof(uint32_t));

    o.warmup = 7;
    o.table_bits = 10;
    d = detect_series_new_opts(&o);
    assert_non_null(d);
    for (size_t i = 0; i < 7; i++) {
        assert_true(detect_series_warming(d));
        assert_true(detect_series_update(d, (double)i * 1e3) == 0);
    }
    assert_false(detect_series_warming(d));
    detect_series_reset(d);
    assert_true(detect_series_warming(d));
    for (size_t i = 0; i < 4000; i++) {
        double s = detect_series_update(d, periodic(i));

        if (i >= 2000)
            assert_true(s < DETECT_ALARM);
    }
    assert_true(detect_series_update(d, 90) >= DETECT_ALARM);
    detect_series_free(d);
}

static void test_causal(void **state)
{
    static double x[N], full[N];
    struct detect_series *d = fresh();

    (void)state;
    for (size_t i = 0; i < N; i++)
        x[i] = (i / 700 % 2 ? 5 : 0) + gauss() + (i == 4321 ? 40 : 0);
    for (size_t i = 0; i < N; i++)
        full[i] = detect_series_update(d, x[i]);
    for (size_t cut = 1; cut < N; cut = cut * 3 + 1) {
        detect_series_reset(d);
        for (size_t i = 0; i < cut; i++)
            assert_true(detect_series_update(d, x[i]) == full[i]);
    }
    detect_series_free(d);
}

/* ---- CSV ---- */

static int row(struct detect_csv *c, const char *line, double *ts, double *v)
{
    return detect_csv_row(c, line, strlen(line), ts, v);
}

static void test_csv_rows(void **state)
{
    struct detect_csv c;
    double ts = 0, v[DETECT_CSV_MAX_COLUMNS];

    (void)state;
    detect_csv_init(&c);
    assert_int_equal(detect_csv_header(&c, "timestamp,value\r", 16), 0);
    assert_int_equal(c.columns, 1);
    assert_int_equal(row(&c, "2014-04-01 00:00:00,20.5\r", &ts, v), 0);
    assert_true(ts == 1396310400.0 && v[0] == 20.5);
    assert_int_equal(row(&c, "2014-04-01T00:05:00.5 , -3e2 ", &ts, v), 0);
    assert_true(ts == 1396310700.5 && v[0] == -300);
    assert_int_equal(row(&c, "1396310700.5,1", &ts, v), 0); /* repeated: counted */
    assert_int_equal(c.repeated, 1);
    assert_int_equal(row(&c, "1396310800,2", &ts, v), 0);
    assert_true(ts == 1396310800.0 && v[0] == 2);
    assert_int_equal(row(&c, "2016-02-29 23:59:59,2", &ts, v), 0);

    detect_csv_init(&c);
    assert_int_equal(detect_csv_header(&c, "timestamp, cpu ,mem", 19), 0);
    assert_int_equal(c.columns, 2);
    assert_int_equal(row(&c, "10,1,2", &ts, v), 0);
    assert_true(ts == 10 && v[0] == 1 && v[1] == 2);
}

/* plain decimals take a path of their own: it must give the very double the
 * library parser gives, for short and long fractions, signs, and values near
 * the 2^53 limit of its exact digits */
static void test_csv_numbers(void **state)
{
    static const char *const fixed[] = {"0",
                                        "-0",
                                        "+7",
                                        "1.",
                                        ".5",
                                        "-.25",
                                        "0.1",
                                        "0.3",
                                        "123.456",
                                        "1e3",
                                        "9007199254740993",
                                        "9007199254740992.5",
                                        "0.0917952281677",
                                        "1.3980000000000001",
                                        "12345678901234567890",
                                        "0.00000000000000000000001"};
    struct detect_csv c;
    char line[96], num[64];
    double ts, v, want;

    (void)state;
    detect_csv_init(&c);
    assert_int_equal(detect_csv_header(&c, "timestamp,value", 15), 0);
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 20000; i++) {
        const char *n = num;

        if (i < sizeof(fixed) / sizeof(fixed[0])) {
            n = fixed[i];
        } else {
            /* random digits, 1..20 of them, the point anywhere or nowhere */
            uint64_t r = rnd();
            size_t len = 1 + r % 20, point = (r >> 8) % (len + 2), k = 0;

            if (r >> 16 & 1)
                num[k++] = '-';
            for (size_t j = 0; j < len; j++) {
                if (j == point)
                    num[k++] = '.';
                num[k++] = (char)('0' + rnd() % 10);
            }
            num[k] = '\0';
        }
        snprintf(line, sizeof(line), "%zu,%s", i, n);
        assert_int_equal(parse_double(n, &want), 0);
        assert_int_equal(row(&c, line, &ts, &v), 0);
        assert_memory_equal(&v, &want, sizeof(v));
    }
}

static void test_csv_errors(void **state)
{
    static const char *const headers[] = {"",           "value",      "timestamp",
                                          "timestamp,", "time,value", "timestamp,a,,b"};
    static const char *const rows[] = {"",
                                       "10",
                                       "10,",
                                       "10,1,2",
                                       "10,nan",
                                       "10,inf",
                                       "10,abc",
                                       "10,0x",
                                       "x,1",
                                       "-5,1",
                                       "1e9,1",
                                       "2014-02-30 00:00:00,1",
                                       "2014-1-01 00:00:00,1",
                                       "1969-12-31 23:59:59,1",
                                       "2014-01-01 24:00:00,1",
                                       "20,\"1\"",
                                       "5,1"};
    struct detect_csv c;
    double ts = -1, v[DETECT_CSV_MAX_COLUMNS] = {-1};
    char wide[8 + 6 * (DETECT_CSV_MAX_COLUMNS + 1)];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        detect_csv_init(&c);
        assert_int_equal(detect_csv_header(&c, headers[i], strlen(headers[i])), -EINVAL);
        assert_true(c.err[0] != '\0' && c.columns == 0);
    }
    n = (size_t)snprintf(wide, sizeof(wide), "timestamp");
    for (size_t i = 0; i <= DETECT_CSV_MAX_COLUMNS; i++)
        n += (size_t)snprintf(wide + n, sizeof(wide) - n, ",c%zu", i);
    detect_csv_init(&c);
    assert_int_equal(detect_csv_header(&c, wide, n), -EINVAL);

    detect_csv_init(&c);
    assert_int_equal(row(&c, "1,2", &ts, v), -EINVAL); /* no header yet */
    assert_int_equal(detect_csv_header(&c, "timestamp,value", 15), 0);
    assert_int_equal(row(&c, "10,1", &ts, v), 0);
    ts = -1;
    v[0] = -1;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        c.err[0] = '\0';
        assert_int_equal(row(&c, rows[i], &ts, v), -EINVAL);
        assert_true(c.err[0] != '\0');
        assert_true(ts == -1 && v[0] == -1); /* outputs untouched */
    }
    assert_non_null(strstr(c.err, "before the previous"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_silent),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_spike),
        cmocka_unit_test(test_constant_and_periodic_zero),
        cmocka_unit_test(test_noise_quiet),
        cmocka_unit_test(test_new_extreme),
        cmocka_unit_test(test_non_finite_ignored),
        cmocka_unit_test(test_bounded_state),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_causal),
        cmocka_unit_test(test_csv_rows),
        cmocka_unit_test(test_csv_numbers),
        cmocka_unit_test(test_csv_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
