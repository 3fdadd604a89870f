/*
 * Interned strings: equal strings share one address, distinct ones never do,
 * the range check knows exactly the addresses handed out, and what is too
 * long is refused; from two threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/intern.h"

static void same_string_same_address(void **state)
{
    char a[32], b[32];
    const char *p, *q, *r;

    (void)state;
    snprintf(a, sizeof(a), "transfer");
    snprintf(b, sizeof(b), "transfer");
    p = intern(a);
    q = intern(b);
    r = intern("approve");
    assert_non_null(p);
    assert_ptr_equal(p, q);
    assert_ptr_not_equal(p, r);
    assert_string_equal(p, "transfer");
    assert_true(interned(p));
    assert_true(interned(r));
    assert_false(interned(a));
    assert_false(interned("transfer"));
    assert_non_null(intern(""));
    assert_true(interned(intern("")));
}

static void too_long_is_refused(void **state)
{
    char big[INTERN_MAX_LEN + 2];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_null(intern(big));
    big[INTERN_MAX_LEN] = '\0';
    assert_non_null(intern(big));
}

static void *intern_many(void *arg)
{
    const char **out = arg;
    char name[32];

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "fn_%d", i);
        out[i] = intern(name);
    }
    return NULL;
}

static void two_threads_agree(void **state)
{
    static const char *x[5000], *y[5000];
    pthread_t a, b;

    (void)state;
    assert_int_equal(pthread_create(&a, NULL, intern_many, x), 0);
    assert_int_equal(pthread_create(&b, NULL, intern_many, y), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fn_%d", i);
        assert_non_null(x[i]);
        assert_ptr_equal(x[i], y[i]);
        assert_string_equal(x[i], name);
        assert_true(interned(x[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_string_same_address),
        cmocka_unit_test(too_long_is_refused),
        cmocka_unit_test(two_threads_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
