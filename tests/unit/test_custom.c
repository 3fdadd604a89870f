/* The node's custom series as /api/v1/custom and the report show them: names
 * and tags kept as the node's text (escaped only as JSON), each kind's value,
 * the limit. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ingest/agg.h"
#include "serve/custom.h"

#define EVIL "<img src=x onerror=alert(1)>"

static void record(struct agg *a, const char *name, const struct agg_label *l, size_t n,
                   enum agg_kind kind, bool timer, double v, const char *member)
{
    assert_int_equal(agg_record(a, name, strlen(name), l, n, kind, timer, false, &v, 1, 1, member,
                                member ? strlen(member) : 0),
                     0);
}

static void test_json(void **st)
{
    struct agg *a = agg_new();
    struct strbuf out;
    struct agg_label tags[2] = {{EVIL, "", strlen(EVIL), 0}, {"env", "a \"b\"", 3, 5}};

    (void)st;
    assert_non_null(a);
    record(a, EVIL, tags, 2, AGG_GAUGE, false, 7, NULL);
    record(a, "rpc.latency", NULL, 0, AGG_HISTOGRAM, true, 30, NULL);
    record(a, "rpc.latency", NULL, 0, AGG_HISTOGRAM, true, 10, NULL);
    record(a, "hits", NULL, 0, AGG_COUNTER, false, 3, NULL);
    record(a, "users", NULL, 0, AGG_SET, false, 0, "alice");
    record(a, "node.mempool.size", NULL, 0, AGG_GAUGE, false, 5, NULL); /* mapped: not custom */
    strbuf_init(&out, 1 << 20);
    assert_int_equal(custom_to_json(a, 100, &out), 0);
    assert_non_null(strstr(out.buf, "{\"name\":\"" EVIL "\",\"labels\":{\"" EVIL
                                    "\":\"\",\"env\":\"a \\\"b\\\"\"},\"kind\":\"gauge\","
                                    "\"value\":7}"));
    assert_non_null(strstr(out.buf,
                           "{\"name\":\"rpc.latency\",\"labels\":{},\"kind\":\"histogram\","
                           "\"value\":0.02,\"count\":2,\"sum\":0.04,\"unit\":\"s\"}"));
    assert_non_null(
        strstr(out.buf, "\"name\":\"hits\",\"labels\":{},\"kind\":\"counter\",\"value\":3}"));
    assert_non_null(
        strstr(out.buf, "\"name\":\"users\",\"labels\":{},\"kind\":\"set\",\"value\":1}"));
    assert_null(strstr(out.buf, "mempool"));
    assert_non_null(strstr(out.buf, "],\"total\":4,\"truncated\":false}"));

    /* the limit: the first series in the order they were first seen */
    strbuf_reset(&out);
    assert_int_equal(custom_to_json(a, 1, &out), 0);
    assert_non_null(strstr(out.buf, "\"kind\":\"gauge\""));
    assert_null(strstr(out.buf, "rpc.latency"));
    assert_non_null(strstr(out.buf, "],\"total\":4,\"truncated\":true}"));
    strbuf_done(&out);
    agg_free(a);
}

static void fig_one(void *ctx, const struct agg_series_info *i)
{
    struct strbuf *sb = ctx;

    custom_figure(sb, i);
    strbuf_putc(sb, '\n');
}

static void test_figure(void **st)
{
    struct agg *a = agg_new();
    struct strbuf out;
    struct agg_label tags[2] = {{"k", "v", 1, 1}, {EVIL, "", strlen(EVIL), 0}};

    (void)st;
    record(a, EVIL, tags, 2, AGG_COUNTER, false, 1, NULL);
    record(a, "plain", NULL, 0, AGG_GAUGE, false, 1, NULL);
    strbuf_init(&out, 1 << 16);
    agg_foreach(a, fig_one, &out);
    /* labels in canonical order; a bare tag is its key alone */
    assert_string_equal(out.buf, EVIL "{" EVIL ",k=v}\nplain\n");
    strbuf_done(&out);
    agg_free(a);
}

static void test_empty(void **st)
{
    struct strbuf out;

    (void)st;
    strbuf_init(&out, 1024);
    assert_int_equal(custom_to_json(NULL, 10, &out), 0);
    assert_string_equal(out.buf, "{\"series\":[],\"total\":0,\"truncated\":false}");
    strbuf_done(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_figure),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
