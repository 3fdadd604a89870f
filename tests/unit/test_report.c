/*
 * The report's model and renderers on a scripted model: every section in both
 * renderings, the summary figures, the order of the anomalies, and the
 * escaping of strings from data (a contract function and a channel named
 * <img src=x onerror=alert(1)>, an anomaly description with <b>, pipes).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "serve/report.h"

#define EVIL "<img src=x onerror=alert(1)>"

static const struct series_desc *desc_of(const char *name)
{
    for (size_t i = 0; i < series_table_len; i++)
        if (!strcmp(series_table[i].name, name))
            return &series_table[i];
    return NULL;
}

/* A report of 1 h with a snapshot, two series, three anomalies and a channel. */
static void scripted(struct report *r)
{
    struct snapshot *s = snapshot_new();
    struct anomaly a = {0};
    const double t[] = {1000, 2800, 4600}, v[] = {10, 20, 30};
    const double flat[] = {5, 5, 5};

    assert_non_null(s);
    report_init(r, "node|<one>", 1000 * 1000, 4600 * 1000, 4700 * 1000);
    s->timestamp = 4600;
    s->timestamp_ms = 4600 * 1000;
    assert_int_equal(snapshot_set_series(s, "cpu.usage_percent", 42.5), 0);
    assert_int_equal(snapshot_set_series(s, "node.mempool_size", 500), 0);
    assert_int_equal(snapshot_map_add(s, &s->node.contract_metrics.function_calls, 2, EVIL "|x", 7),
                     0);
    assert_int_equal(snapshot_map_add(s, &s->neural_predictions, 2, "tick`name", 0.25), 0);
    assert_int_equal(report_set_current(r, s), 0);
    snapshot_unref(s);

    assert_int_equal(
        report_add_stat(r, "cpu.usage_percent", desc_of("cpu.usage_percent"), t, v, 3, NAN, NAN),
        0);
    assert_int_equal(
        report_add_stat(r, "node.mempool_size", desc_of("node.mempool_size"), t, flat, 3, 4, 6), 0);

    a.anomaly_type = "pool_high";
    a.component = "node";
    a.description = "mempool <b>too</b> big | really";
    a.severity = 4;
    a.detected_at = 2000;
    a.detected_at_ms = 2000 * 1000;
    a.suggested_actions[0] = "drain it";
    a.n_actions = 1;
    a.related_metrics[0] = (struct kv_num){"node.mempool_size", 500};
    a.n_related = 1;
    snprintf(a.id, sizeof(a.id), "a1");
    assert_int_equal(report_add_anomaly(r, &a), 0);
    a.anomaly_type = "minor_old";
    a.severity = 2;
    snprintf(a.id, sizeof(a.id), "a2");
    assert_int_equal(report_add_anomaly(r, &a), 0);
    a.anomaly_type = "minor_new";
    a.detected_at_ms = 3000 * 1000;
    snprintf(a.id, sizeof(a.id), "a3");
    assert_int_equal(report_add_anomaly(r, &a), 0);
    report_sort_anomalies(r);

    r->alerts_known = true;
    r->alerts_source = "a test";
    snprintf(r->channels[0].name, sizeof(r->channels[0].name), "%s", EVIL "|ch");
    r->channels[0].sent = 3;
    r->channels[0].failed = 1;
    r->channels[0].pending = 2;
    r->n_channels = 1;
}

static void summary_figures(void **state)
{
    struct report r;
    const struct report_stat *st;

    (void)state;
    scripted(&r);
    assert_int_equal(r.n_stats, 2);
    st = &r.stats[0];
    assert_true(st->chart);
    assert_true(fabs(st->min - 10) < 1e-9 && fabs(st->max - 30) < 1e-9);
    assert_true(fabs(st->mean - 20) < 1e-9);
    assert_true(fabs(st->p95 - 30) < 1e-9);
    assert_true(fabs(st->slope_per_hour - 20) < 1e-9); /* 10 per half hour */
    st = &r.stats[1];
    assert_true(fabs(st->min - 4) < 1e-9 && fabs(st->max - 6) < 1e-9); /* the given extremes */
    assert_true(fabs(st->slope_per_hour) < 1e-9);
    /* severity first, then the newest */
    assert_int_equal(r.n_anomalies, 3);
    assert_string_equal(r.anomalies[0].anomaly_type, "pool_high");
    assert_string_equal(r.anomalies[1].anomaly_type, "minor_new");
    assert_string_equal(r.anomalies[2].anomaly_type, "minor_old");
    report_done(&r);
}

static void markdown(void **state)
{
    struct report r;
    struct strbuf out;
    const char *b;

    (void)state;
    scripted(&r);
    strbuf_init(&out, STRBUF_DEFAULT_MAX);
    assert_int_equal(report_render_markdown(&r, &out), 0);
    b = out.buf;
    assert_non_null(strstr(b, "# Performance Monitoring Report\n"));
    assert_non_null(strstr(b, "- Node ID: node\\|\\<one\\>\n"));
    assert_non_null(strstr(b, "- Range: 1970-01-01T00:16:40Z to 1970-01-01T01:16:40Z\n"));
    for (const char *h = "## Current System State\n\0## History Summary\n\0## Top Anomalies\n\0"
                         "## Alert Delivery\n\0## Predictions\n\0### CPU\n\0### Memory\n\0"
                         "### Disk\n\0### Network\n\0### GPU\n\0### Node\n\0### Consensus\n\0"
                         "### Contracts\n\0### Model inference\n\0### Quantum\n\0";
         *h; h += strlen(h) + 1)
        assert_non_null(strstr(b, h));
    assert_non_null(strstr(b, "### GPU\n\nNot measured.\n"));
    assert_non_null(strstr(b, "| `cpu.usage_percent` | 42.5 | percent |\n"));
    /* a name from data: in a code span, its pipe escaped for the table */
    assert_non_null(strstr(b, "| `node.contract_metrics.function_calls{function=" EVIL
                              "\\|x}` | 7 | count |\n"));
    /* a backtick inside: a longer delimiter */
    assert_non_null(strstr(b, "| ``tick`name`` | 0.25 |\n"));
    assert_non_null(strstr(b, "| `cpu.usage_percent` | 10 | 20 | 30 | 30 | percent | rising | 20 "
                              "| 3 |\n"));
    assert_non_null(strstr(b, "| `node.mempool_size` | 4 | 5 | 5 | 6 | transactions | flat |"));
    assert_non_null(strstr(b, "### pool_high (Severity: 4)\n"));
    assert_non_null(strstr(b, "- Description: mempool \\<b\\>too\\</b\\> big \\| really\n"));
    assert_non_null(strstr(b, "#### Suggested Actions\n\n- drain it\n"));
    assert_null(strstr(b, "<b>"));
    /* outside code spans, no raw '<' from the data */
    assert_non_null(strstr(b, "| \\<img src=x onerror=alert(1)\\>\\|ch | 3 | 1 | 2 |\n"));
    assert_true(strstr(b, "## History Summary") < strstr(b, "## Top Anomalies"));
    assert_true(strstr(b, "## Top Anomalies") < strstr(b, "## Alert Delivery"));
    strbuf_done(&out);
    report_done(&r);
}

static void html(void **state)
{
    struct report r;
    struct strbuf out;
    const char *b;

    (void)state;
    scripted(&r);
    strbuf_init(&out, STRBUF_DEFAULT_MAX);
    assert_int_equal(report_render_html(&r, &out), 0);
    b = out.buf;
    assert_non_null(strstr(b, "<!DOCTYPE html>\n<html lang=\"en\">"));
    assert_non_null(strstr(b, "@media print"));
    for (const char *h = "Current System State</h2>\0History Summary</h2>\0Top Anomalies</h2>\0"
                         "Alert Delivery</h2>\0Predictions</h2>\0<h3>GPU</h3>\n<p>Not measured."
                         "</p>\0<h3>Quantum</h3>\0";
         *h; h += strlen(h) + 1)
        assert_non_null(strstr(b, h));
    /* no tag from the data, only its text */
    assert_null(strstr(b, "<img"));
    assert_null(strstr(b, "<b>"));
    assert_null(strstr(b, "<one>"));
    assert_non_null(strstr(b, "function=&lt;img src=x onerror=alert(1)&gt;|x}"));
    assert_non_null(strstr(b, "mempool &lt;b&gt;too&lt;/b&gt; big | really"));
    assert_non_null(strstr(b, "<td>&lt;img src=x onerror=alert(1)&gt;|ch</td>"));
    assert_non_null(strstr(b, "node|&lt;one&gt;"));
    /* the charted series: an inline SVG line */
    assert_non_null(strstr(b, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(b, "<polyline"));
    assert_non_null(strstr(b, "</body>\n</html>\n"));
    strbuf_done(&out);
    report_done(&r);
}

/* Control bytes and invalid UTF-8 from data do not reach the output. */
static void bytes(void **state)
{
    struct report r;
    struct strbuf out;
    struct anomaly a = {0};

    (void)state;
    report_init(&r, "n\nid\xff", 0, 1000, 1000);
    a.anomaly_type = "t\r\n# injected";
    a.component = "c";
    a.description = "d\x01\xc3\xa9";
    a.severity = 1;
    assert_int_equal(report_add_anomaly(&r, &a), 0);
    report_sort_anomalies(&r);
    strbuf_init(&out, STRBUF_DEFAULT_MAX);
    assert_int_equal(report_render_markdown(&r, &out), 0);
    assert_non_null(strstr(out.buf, "- Node ID: n id\xef\xbf\xbd\n"));
    assert_non_null(strstr(out.buf, "### t  # injected (Severity: 1)"));
    assert_non_null(strstr(out.buf, "- Description: d \xc3\xa9\n"));
    assert_non_null(strstr(out.buf, "No snapshot yet."));
    strbuf_reset(&out);
    assert_int_equal(report_render_html(&r, &out), 0);
    assert_null(strchr(out.buf, '\x01'));
    strbuf_done(&out);
    report_done(&r);
    assert_int_equal(report_format_parse("md"), REPORT_MARKDOWN);
    assert_int_equal(report_format_parse("html"), REPORT_HTML);
    assert_int_equal(report_format_parse("pdf"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(summary_figures),
        cmocka_unit_test(markdown),
        cmocka_unit_test(html),
        cmocka_unit_test(bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
