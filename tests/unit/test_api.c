/*
 * The HTTP API apart from the transport: routing, parameter checks, the
 * answers of every endpoint over a real monitor, the anomaly log, the report
 * and the config with its secrets redacted.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/parse.h"
#include "core/anomaly.h"
#include "core/monitor.h"
#include "serve/handlers.h"
#include "serve/report.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static struct monitor *started(struct config *c)
{
    struct monitor *m;
    struct monitor_stats st;

    config_defaults(c);
    c->monitoring.sampling_interval_ms = 100;
    c->agent.node_id = strdup("api-node");
    c->agent.console_summary = false;
    c->agent.history_size = 50;
    /* the anomalies here are the test's own: a busy machine must not add its
     * cpu_saturation to them */
    c->detection.enabled = false;
    m = monitor_new(c);
    assert_non_null(m);
    assert_int_equal(monitor_start(m), 0);
    for (int i = 0; i < 500; i++) {
        monitor_get_stats(m, &st);
        if (st.ticks >= 4)
            break;
        sleep_ms(10);
    }
    assert_true(st.ticks >= 4);
    return m;
}

/* Routes and checks a target as the server does; the status it would answer
 * before any handler runs (0: handled further). */
static unsigned check(const char *target, struct api_params *p)
{
    static struct httpq q;
    const struct route *r;

    if (httpq_parse(&q, target, strlen(target)) < 0)
        return 400;
    r = route_find(q.path);
    if (!r)
        return 404;
    if (api_params_parse(r, &q, 1000, p) < 0)
        return 400;
    return 0;
}

static void routing_and_params(void **state)
{
    struct api_params p;

    (void)state;
    assert_int_equal(check("/api/v1/snapshot", &p), 0);
    assert_false(p.text);
    assert_int_equal(check("/api/v1/snapshot?format=text", &p), 0);
    assert_true(p.text);
    assert_int_equal(check("/api/v1/snapshot?format=xml", &p), 400);
    assert_int_equal(check("/api/v1/nothing", &p), 404);
    assert_int_equal(check("/api/v1/snapshot/", &p), 404);
    assert_int_equal(check("/api/v1/history", &p), 0);
    assert_int_equal(p.limit, 100);
    assert_false(p.has_from);
    assert_int_equal(check("/api/v1/history?limit=7&from=10&to=20.5", &p), 0);
    assert_int_equal(p.limit, 7);
    assert_true(p.has_from && p.has_to);
    assert_true(p.from == 10 && p.to == 20.5);
    assert_int_equal(check("/api/v1/history?limit=0", &p), 400);
    assert_int_equal(check("/api/v1/history?limit=-1", &p), 400);
    assert_int_equal(check("/api/v1/history?limit=1001", &p), 400);
    assert_int_equal(check("/api/v1/history?limit=99999999999999999999999", &p), 400);
    assert_int_equal(check("/api/v1/history?from=20&to=10", &p), 400);
    assert_int_equal(check("/api/v1/history?from=abc", &p), 400);
    assert_int_equal(check("/api/v1/history?bogus=1", &p), 400);
    assert_int_equal(check("/api/v1/history?limit=%zz", &p), 400);
    assert_int_equal(check("/api/v1/anomalies?min_severity=6", &p), 400);
    assert_int_equal(check("/api/v1/anomalies?min_severity=3&limit=5", &p), 0);
    assert_int_equal(p.min_severity, 3);
    assert_int_equal(p.limit, 5);
    assert_int_equal(check("/metrics?x=1", &p), 400);
    assert_int_equal(check("/healthz", &p), 0);
    assert_true(route_find("/healthz")->open);
    assert_false(route_find("/metrics")->open);
}

static void answer(struct monitor *m, const struct config *c, const char *target,
                   struct api_response *res)
{
    static struct httpq q;
    struct api_params p;
    struct api_context ctx = {.mon = m, .cfg = c, .version = "test", .start_time = 0};
    const struct route *r;

    assert_int_equal(httpq_parse(&q, target, strlen(target)), 0);
    r = route_find(q.path);
    assert_non_null(r);
    assert_int_equal(api_params_parse(r, &q, 1000, &p), 0);
    memset(res, 0, sizeof(*res));
    strbuf_init(&res->body, 64 << 20);
    api_handle(&ctx, r, &p, NULL, res);
    assert_false(res->body.overflow);
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void endpoints(void **state)
{
    struct config c;
    struct monitor *m = started(&c);
    struct api_response res;
    char target[128];
    struct snapshot *hist[50];
    size_t n;

    (void)state;
    answer(m, &c, "/api/v1/snapshot", &res);
    assert_int_equal(res.status, 200);
    assert_string_equal(res.content_type, "application/json");
    assert_non_null(strstr(res.body.buf, "\"node_id\":\"api-node\""));
    strbuf_done(&res.body);

    answer(m, &c, "/api/v1/snapshot?format=text", &res);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.content_type, "text/plain"));
    strbuf_done(&res.body);

    answer(m, &c, "/healthz", &res);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.body.buf, "\"status\":\"ok\""));
    strbuf_done(&res.body);

    /* history: newest `limit`, or pages from `from` */
    answer(m, &c, "/api/v1/history?limit=2", &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(count(res.body.buf, "\"node_id\""), 2);
    assert_non_null(strstr(res.body.buf, "\"next_from\":null"));
    strbuf_done(&res.body);

    monitor_stop(m);
    n = monitor_history(m, 50, hist);
    assert_true(n >= 4);
    snprintf(target, sizeof(target), "/api/v1/history?limit=2&from=%.3f",
             (double)hist[0]->timestamp_ms / 1000.0);
    answer(m, &c, target, &res);
    assert_int_equal(count(res.body.buf, "\"node_id\""), 2);
    /* the next page starts at the third snapshot */
    {
        const char *nf = strstr(res.body.buf, "\"next_from\":");
        char num[32];
        double v;
        assert_non_null(nf);
        nf += strlen("\"next_from\":");
        snprintf(num, sizeof(num), "%.*s", (int)strcspn(nf, "}"), nf);
        assert_int_equal(parse_double(num, &v), 0);
        assert_true(fabs(v - (double)hist[2]->timestamp_ms / 1000.0) < 1e-6);
    }
    strbuf_done(&res.body);
    snprintf(target, sizeof(target), "/api/v1/history?to=%.3f",
             (double)hist[1]->timestamp_ms / 1000.0);
    answer(m, &c, target, &res);
    assert_int_equal(count(res.body.buf, "\"node_id\""), 2);
    strbuf_done(&res.body);
    for (size_t i = 0; i < n; i++)
        snapshot_unref(hist[i]);

    answer(m, &c, "/api/v1/report", &res);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.content_type, "text/markdown"));
    assert_non_null(strstr(res.body.buf, "# Performance Monitoring Report"));
    assert_non_null(strstr(res.body.buf, "## Current System State"));
    assert_non_null(strstr(res.body.buf, "`cpu.usage_percent`"));
    assert_non_null(strstr(res.body.buf, "## History"));
    assert_non_null(strstr(res.body.buf, "None detected."));
    strbuf_done(&res.body);

    monitor_free(m);
    config_done(&c);
}

static void anomalies(void **state)
{
    struct config c;
    struct monitor *m = started(&c);
    struct anomaly a = {0};
    struct api_response res;

    (void)state;
    a.anomaly_type = "cpu_spike";
    a.component = "cpu";
    a.description = "CPU at 99 % for 30 s";
    a.severity = 4;
    a.related_metrics[0] = (struct kv_num){"cpu.usage_percent", 99.0};
    a.n_related = 1;
    a.suggested_actions[0] = "Find the process using the CPU";
    a.n_actions = 1;
    assert_int_equal(anomaly_log_add(monitor_anomalies(m), &a), 0);
    a.anomaly_type = "mempool_growth";
    a.component = "node";
    a.severity = 2;
    a.n_actions = 0;
    assert_int_equal(anomaly_log_add(monitor_anomalies(m), &a), 0);
    a.severity = 0;
    assert_int_equal(anomaly_log_add(monitor_anomalies(m), &a), -EINVAL);

    answer(m, &c, "/api/v1/anomalies", &res);
    assert_int_equal(count(res.body.buf, "\"anomaly_type\""), 2);
    /* newest first */
    assert_true(strstr(res.body.buf, "mempool_growth") < strstr(res.body.buf, "cpu_spike"));
    strbuf_done(&res.body);
    answer(m, &c, "/api/v1/anomalies?min_severity=3", &res);
    assert_int_equal(count(res.body.buf, "\"anomaly_type\""), 1);
    assert_non_null(strstr(res.body.buf, "\"related_metrics\":{\"cpu.usage_percent\":99}"));
    assert_non_null(strstr(res.body.buf, "\"suggested_actions\":[\"Find the process"));
    strbuf_done(&res.body);
    answer(m, &c, "/api/v1/anomalies?limit=1", &res);
    assert_int_equal(count(res.body.buf, "\"anomaly_type\""), 1);
    strbuf_done(&res.body);
    answer(m, &c, "/api/v1/report", &res);
    assert_non_null(strstr(res.body.buf, "### cpu_spike (Severity: 4)"));
    assert_non_null(strstr(res.body.buf, "#### Suggested Actions"));
    strbuf_done(&res.body);

    monitor_free(m);
    config_done(&c);
}

/* The anomaly log keeps the newest `cap`. */
static void anomaly_ring(void **state)
{
    struct anomaly_log *log = anomaly_log_new(3);
    struct anomaly a = {.anomaly_type = "t", .component = "c", .severity = 1};
    struct strbuf sb;

    (void)state;
    for (int i = 0; i < 5; i++) {
        char d[8];
        snprintf(d, sizeof(d), "n%d", i);
        a.description = d;
        assert_int_equal(anomaly_log_add(log, &a), 0);
    }
    assert_int_equal(anomaly_log_count(log), 3);
    strbuf_init(&sb, 1 << 16);
    anomaly_log_to_json(log, 1, 10, &sb);
    assert_null(strstr(sb.buf, "\"n1\""));
    assert_non_null(strstr(sb.buf, "\"n2\""));
    assert_non_null(strstr(sb.buf, "\"n4\""));
    assert_non_null(strstr(sb.buf, "\"count\":3"));
    strbuf_done(&sb);
    anomaly_log_free(log);
}

static void config_redacted(void **state)
{
    struct config c;
    struct monitor *m = started(&c);
    struct api_response res;

    (void)state;
    c.http.auth.bearer_token = strdup("s3cr3t-token-value");
    c.http.auth.basic_user = strdup("ops");
    c.http.auth.basic_password_hash = strdup("$6$abc$hashhashhash");
    free(c.visualization.grafana.api_key);
    c.visualization.grafana.api_key = strdup("glsa_grafana_key");
    c.alerts.webhook_url = strdup("https://hooks.example/T000/B000/XXXXhooksecret");
    c.alerts.alertmanager_url = strdup("https://am:amsecretpw@am.example:9093");
    c.alerts.smtp_url = strdup("smtps://mailer:smtpsecretpw@mail.example:465");
    answer(m, &c, "/api/v1/config", &res);
    assert_int_equal(res.status, 200);
    assert_null(strstr(res.body.buf, "s3cr3t"));
    assert_null(strstr(res.body.buf, "hashhash"));
    assert_null(strstr(res.body.buf, "glsa_"));
    assert_null(strstr(res.body.buf, "hooksecret"));
    assert_null(strstr(res.body.buf, "amsecretpw"));
    assert_null(strstr(res.body.buf, "smtpsecretpw"));
    assert_non_null(strstr(res.body.buf, "\"alertmanager_url\":\"<redacted>\""));
    assert_non_null(strstr(res.body.buf, "\"webhook_url\":\"<redacted>\""));
    assert_non_null(strstr(res.body.buf, "\"email\":null"));
    assert_non_null(strstr(res.body.buf, "\"bearer_token\":\"<redacted>\""));
    assert_non_null(strstr(res.body.buf, "\"api_key\":\"<redacted>\""));
    assert_non_null(strstr(res.body.buf, "\"basic_user\":\"ops\""));
    assert_non_null(strstr(res.body.buf, "\"sampling_interval_ms\":100"));
    assert_non_null(strstr(res.body.buf, "\"level\":\"info\""));
    strbuf_done(&res.body);
    monitor_free(m);
    config_done(&c);
}

/* /metrics follows prometheus_enabled; a stalled sampler's figures are not served. */
/* Tokens must be sendable as RFC 6750 bearer tokens. */
static void bearer_tokens(void **state)
{
    (void)state;
    assert_true(config_token_ok("abc"));
    assert_true(config_token_ok("A-z0.9_~+/=="));
    assert_false(config_token_ok(""));
    assert_false(config_token_ok("s3cr3t!tok"));
    assert_false(config_token_ok("with space"));
    assert_false(config_token_ok("=abc"));
    assert_false(config_token_ok("ab=c"));
}

static void metrics_switch(void **state)
{
    struct config c;
    struct monitor *m = started(&c);
    struct api_response res;

    (void)state;
    answer(m, &c, "/metrics", &res);
    assert_int_equal(res.status, 200);
    assert_non_null(strstr(res.body.buf, "arthamon_cpu_usage_ratio{"));
    strbuf_done(&res.body);
    c.visualization.prometheus_enabled = false;
    answer(m, &c, "/metrics", &res);
    assert_int_equal(res.status, 404);
    strbuf_done(&res.body);
    c.visualization.prometheus_enabled = true;
    monitor_stop(m);
    sleep_ms(1500); /* 3 intervals + 1 s */
    answer(m, &c, "/metrics", &res);
    assert_int_equal(res.status, 200);
    assert_null(strstr(res.body.buf, "arthamon_cpu_usage_ratio{"));
    assert_non_null(strstr(res.body.buf, "arthamon_ticks_total"));
    strbuf_done(&res.body);
    answer(m, &c, "/healthz", &res);
    assert_int_equal(res.status, 503);
    assert_non_null(strstr(res.body.buf, "\"status\":\"stalled\""));
    strbuf_done(&res.body);
    monitor_free(m);
    config_done(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routing_and_params), cmocka_unit_test(endpoints),
        cmocka_unit_test(anomalies),          cmocka_unit_test(anomaly_ring),
        cmocka_unit_test(config_redacted),    cmocka_unit_test(metrics_switch),
        cmocka_unit_test(bearer_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
