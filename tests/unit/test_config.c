/* Configuration: the seed's defaults, the schema checks and their FILE:LINE:COL messages. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "testutil.h"

static struct strbuf errs;

/* Loads yaml over the defaults; returns the loader's result, errors in `errs`. */
static int load(struct config *cfg, const char *yaml)
{
    config_defaults(cfg);
    strbuf_reset(&errs);
    return config_load_buffer(cfg, "t.yaml", yaml, strlen(yaml), &errs);
}

static void expect_error(const char *yaml, const char *message)
{
    struct config cfg;

    if (load(&cfg, yaml) != -EINVAL || !errs.buf || !strstr(errs.buf, message)) {
        print_error("yaml:\n%s\nexpected an error containing: %s\ngot: %s\n", yaml, message,
                    errs.buf ? errs.buf : "(nothing)");
        fail();
    }
    config_done(&cfg);
}

static void seed_defaults(void **state)
{
    struct config c;

    (void)state;
    config_defaults(&c);
    assert_true(c.enabled);
    assert_true(c.monitoring.enabled);
    assert_int_equal(c.monitoring.sampling_interval_ms, 5000);
    assert_int_equal(c.monitoring.retention_period_days, 30);
    assert_true(c.monitoring.ai_optimization.enabled);
    assert_string_equal(c.monitoring.ai_optimization.model_path,
                        "models/performance_predictor.onnx");
    assert_int_equal(c.monitoring.ai_optimization.prediction_interval_ms, 60000);
    assert_true(fabs(c.monitoring.ai_optimization.confidence_threshold - 0.7) < 1e-9);
    assert_true(c.monitoring.quantum_monitoring.enabled);
    assert_true(c.monitoring.quantum_monitoring.simulation_metrics);
    assert_true(c.monitoring.quantum_monitoring.security_level_monitoring);
    assert_int_equal(c.monitoring.logging.level, LOG_INFO);
    assert_string_equal(c.monitoring.logging.output_dir, "/var/log/blockchain/performance");
    assert_true(c.monitoring.logging.stdout_enabled);
    assert_string_equal(c.models_path, "models");
    assert_true(c.visualization.dashboard_enabled);
    assert_int_equal(c.visualization.dashboard_port, 8090);
    assert_true(c.visualization.prometheus_enabled);
    assert_string_equal(c.visualization.prometheus_endpoint, "http://localhost:9090");
    assert_true(c.visualization.grafana_present);
    assert_string_equal(c.visualization.grafana.url, "http://localhost:3000");
    assert_string_equal(c.visualization.grafana.api_key, "");
    assert_string_equal(c.visualization.grafana.dashboard_id, "blockchain-performance");
    assert_true(c.visualization.quantum_visualization);
    assert_true(c.alerts.enabled);
    assert_null(c.alerts.email);
    assert_null(c.alerts.webhook_url);
    assert_int_equal(c.alerts.min_severity, 3);
    assert_true(c.alerts.quantum_alerts);
    assert_string_equal(c.agent.listen_address, "127.0.0.1");
    assert_string_equal(c.agent.procfs_root, "/proc");
    assert_string_equal(c.agent.sysfs_root, "/sys");
    assert_null(c.agent.node_id);
    assert_int_equal(c.agent.net_exclude.n, 1);
    assert_string_equal(c.agent.net_exclude.v[0], "lo");
    assert_int_equal(c.agent.p2p_ports.n, 0);
    config_done(&c);
}

/* deploy/arthamon.yaml documents the defaults: loading it must change nothing. */
static void deploy_file_is_the_defaults(void **state)
{
    struct config d, f;
    char path[4096];
    const char *src = getenv("ARTHAMON_SRC");

    (void)state;
    snprintf(path, sizeof(path), "%s/deploy/arthamon.yaml", src ? src : ".");
    config_defaults(&d);
    config_defaults(&f);
    strbuf_reset(&errs);
    assert_int_equal(config_load_file(&f, path, &errs), 0);
    assert_int_equal(f.monitoring.sampling_interval_ms, d.monitoring.sampling_interval_ms);
    assert_int_equal(f.monitoring.retention_period_days, d.monitoring.retention_period_days);
    assert_string_equal(f.monitoring.ai_optimization.model_path,
                        d.monitoring.ai_optimization.model_path);
    assert_true(f.monitoring.ai_optimization.confidence_threshold ==
                d.monitoring.ai_optimization.confidence_threshold);
    assert_string_equal(f.monitoring.logging.output_dir, d.monitoring.logging.output_dir);
    assert_int_equal(f.visualization.dashboard_port, d.visualization.dashboard_port);
    assert_string_equal(f.visualization.grafana.dashboard_id, d.visualization.grafana.dashboard_id);
    assert_string_equal(f.visualization.grafana.api_key, "");
    assert_null(f.alerts.email);
    assert_null(f.alerts.webhook_url);
    assert_int_equal(f.alerts.min_severity, d.alerts.min_severity);
    assert_null(f.agent.node_id);
    assert_null(f.agent.data_dir);
    assert_null(f.agent.process.name);
    assert_int_equal(f.agent.process.pid, 0);
    assert_int_equal(f.agent.p2p_ports.n, 0);
    assert_int_equal(f.agent.net_exclude.n, 1);
    assert_int_equal(f.agent.history_size, d.agent.history_size);
    assert_string_equal(f.agent.disk_path, d.agent.disk_path);
    config_done(&d);
    config_done(&f);
}

static void values_load(void **state)
{
    struct config c;

    (void)state;
    assert_int_equal(load(&c, "monitoring:\n"
                              "  sampling_interval_ms: 1000\n"
                              "  logging: {level: debug, stdout: no}\n"
                              "alerts:\n"
                              "  email: ops@example.com\n"
                              "  min_severity: 5\n"
                              "visualization:\n"
                              "  grafana: null\n"
                              "  dashboard_port: 0\n"
                              "agent:\n"
                              "  p2p_ports: [30303, 9000]\n"
                              "  net_exclude: [lo, 'veth*']\n"
                              "  process: {name: geth}\n"
                              "  node_id: validator-1\n"),
                     0);
    assert_int_equal(c.monitoring.sampling_interval_ms, 1000);
    assert_int_equal(c.monitoring.logging.level, LOG_DEBUG);
    assert_false(c.monitoring.logging.stdout_enabled);
    assert_string_equal(c.alerts.email, "ops@example.com");
    assert_int_equal(c.alerts.min_severity, 5);
    assert_false(c.visualization.grafana_present);
    assert_int_equal(c.visualization.dashboard_port, 0);
    assert_int_equal(c.agent.p2p_ports.n, 2);
    assert_int_equal(c.agent.p2p_ports.v[1], 9000);
    assert_int_equal(c.agent.net_exclude.n, 2);
    assert_string_equal(c.agent.net_exclude.v[1], "veth*");
    assert_string_equal(c.agent.process.name, "geth");
    assert_string_equal(c.agent.node_id, "validator-1");
    /* untouched keys keep their defaults */
    assert_int_equal(c.monitoring.retention_period_days, 30);

    /* a deep copy owns its strings */
    {
        struct config copy;
        assert_int_equal(config_copy(&copy, &c), 0);
        config_done(&c);
        assert_string_equal(copy.agent.process.name, "geth");
        assert_string_equal(copy.agent.net_exclude.v[0], "lo");
        config_done(&copy);
    }

    /* empty documents and empty sections mean defaults */
    assert_int_equal(load(&c, ""), 0);
    assert_int_equal(c.monitoring.sampling_interval_ms, 5000);
    config_done(&c);
    assert_int_equal(load(&c, "monitoring:\n"), 0);
    assert_int_equal(c.monitoring.sampling_interval_ms, 5000);
    config_done(&c);
}

static void errors_name_the_place(void **state)
{
    (void)state;
    expect_error("monitoring:\n  sampling_interval: 5\n",
                 "t.yaml:2:3: unknown key 'sampling_interval' in 'monitoring' (did you mean "
                 "'sampling_interval_ms'?)");
    expect_error("bogus: 1\n", "t.yaml:1:1: unknown key 'bogus' in the top level");
    expect_error("monitoring:\n  sampling_interval_ms: 49\n",
                 "t.yaml:2:25: 'monitoring.sampling_interval_ms' must be between 50 and 3600000, "
                 "got 49");
    expect_error("monitoring:\n  sampling_interval_ms: fast\n",
                 "t.yaml:2:25: 'monitoring.sampling_interval_ms' must be an integer");
    expect_error("monitoring:\n  sampling_interval_ms: 1.5\n", "must be an integer");
    expect_error("monitoring:\n  sampling_interval_ms: \"1000\"\n", "got a string '1000'");
    expect_error("monitoring:\n  sampling_interval_ms: [1]\n", "got a list");
    expect_error("enabled: 1\n", "t.yaml:1:10: 'enabled' must be true or false");
    expect_error("alerts: {min_severity: 6}\n", "'alerts.min_severity' must be between 1 and 5");
    expect_error("alerts: {min_severity: 0}\n", "between 1 and 5, got 0");
    expect_error("monitoring: {ai_optimization: {confidence_threshold: 1.5}}\n",
                 "'monitoring.ai_optimization.confidence_threshold' must be between 0 and 1");
    expect_error("visualization: {dashboard_port: 70000}\n", "between 0 and 65535");
    expect_error("monitoring: {logging: {level: loud}}\n",
                 "must be one of error, warn, info, debug, trace");
    expect_error("agent: {p2p_ports: 30303}\n", "'agent.p2p_ports' must be a list");
    expect_error("agent: {p2p_ports: [0]}\n", "between 1 and 65535");
    expect_error("agent: {net_exclude: [[a]]}\n", "entries must be strings");
    expect_error("agent: {node_id: [a]}\n", "'agent.node_id' must be a string");
    expect_error("agent: {procfs_root: ~}\n", "'agent.procfs_root' must be a string, got null");
    expect_error("monitoring: 5\n", "'monitoring' must be a mapping");
    expect_error("- a\n- b\n", "'the document' must be a mapping");
    expect_error("enabled: true\nenabled: false\n", "t.yaml:2:1: duplicate key 'enabled'");
    expect_error("agent: {process: {pid: 5, name: x}}\n", "set only one of pid, pidfile and name");
    expect_error("enabled: true\n---\nenabled: false\n", "only one YAML document");
    expect_error("monitoring: {a: [\n", "t.yaml:2:1:");
    expect_error("enabled: [unclosed\n", "t.yaml:");
    /* several problems: all of them, one line each */
    {
        struct config c;
        assert_int_equal(load(&c, "a: 1\nb: 2\nalerts: {min_severity: 9}\n"), -EINVAL);
        assert_non_null(strstr(errs.buf, "t.yaml:1:1:"));
        assert_non_null(strstr(errs.buf, "t.yaml:2:1:"));
        assert_non_null(strstr(errs.buf, "t.yaml:3:24:"));
        config_done(&c);
    }
}

/* Aliases are expanded by reference in libyaml's document model: a "billion
 * laughs" document must hit the node budget, not the machine. */
static void alias_bomb_is_bounded(void **state)
{
    struct strbuf y;
    struct config c;

    (void)state;
    strbuf_init(&y, 0);
    strbuf_puts(&y, "a0: &a0 {k: v}\n");
    for (int i = 1; i < 30; i++)
        strbuf_printf(&y, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1, i - 1);
    assert_int_equal(load(&c, y.buf), -EINVAL); /* unknown keys a0..: and it returns */
    config_done(&c);
    strbuf_done(&y);
}

static void oversized_inputs(void **state)
{
    struct config c;
    struct strbuf y;

    (void)state;
    strbuf_init(&y, 0);
    strbuf_puts(&y, "agent:\n  node_id: \"");
    for (int i = 0; i < 5000; i++)
        strbuf_putc(&y, 'x');
    strbuf_puts(&y, "\"\n");
    assert_int_equal(load(&c, y.buf), -EINVAL);
    assert_non_null(strstr(errs.buf, "longer than 4096 bytes"));
    config_done(&c);
    strbuf_reset(&y);
    strbuf_puts(&y, "agent:\n  p2p_ports: [");
    for (int i = 1; i <= 65; i++)
        strbuf_printf(&y, "%s%d", i > 1 ? "," : "", i);
    strbuf_puts(&y, "]\n");
    assert_int_equal(load(&c, y.buf), -EINVAL);
    assert_non_null(strstr(errs.buf, "more than 64 entries"));
    config_done(&c);
    strbuf_done(&y);
}

static void file_errors(void **state)
{
    struct config c;

    (void)state;
    config_defaults(&c);
    strbuf_reset(&errs);
    assert_int_equal(config_load_file(&c, "/nonexistent/arthamon.yaml", &errs), -ENOENT);
    assert_non_null(strstr(errs.buf, "/nonexistent/arthamon.yaml: cannot open"));
    strbuf_reset(&errs);
    assert_int_equal(config_load_file(&c, "/tmp", &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "not a regular file"));
    config_done(&c);
}

static unsigned warnings;
static char last_warning[512];

static void count_warnings(void *ud, enum log_level level, const char *module, const char *msg)
{
    (void)ud;
    (void)module;
    if (level == LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", msg);
    }
}

static void resolve_fills_host_values(void **state)
{
    struct config c;
    char dir[] = "/tmp/am-cfg-XXXXXX";
    char data[4200];
    char host[256] = "";

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(data, sizeof(data), "%s/data", dir);
    config_defaults(&c);
    c.agent.data_dir = strdup(data);
    free(c.monitoring.logging.output_dir);
    c.monitoring.logging.output_dir = strdup("/dev/null/not-a-dir");
    log_set_hook(count_warnings, NULL);
    log_set_stdout(false);
    warnings = 0;
    strbuf_reset(&errs);
    assert_int_equal(config_resolve(&c, true, &errs), 0);
    log_set_hook(NULL, NULL);
    gethostname(host, sizeof(host) - 1);
    assert_string_equal(c.agent.node_id, host);
    assert_int_equal(access(data, W_OK), 0);
    /* the log directory fell back to <data_dir>/log, with one warning saying so */
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "/dev/null/not-a-dir"));
    assert_true(strncmp(c.monitoring.logging.output_dir, data, strlen(data)) == 0);
    assert_int_equal(access(c.monitoring.logging.output_dir, W_OK), 0);
    config_done(&c);

    /* an unusable data_dir is an error, not a silent default */
    config_defaults(&c);
    c.agent.data_dir = strdup("/dev/null/data");
    strbuf_reset(&errs);
    assert_true(config_resolve(&c, true, &errs) < 0);
    assert_non_null(strstr(errs.buf, "/dev/null/data"));
    config_done(&c);
    {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* A problem is one line, whatever the file holds; messages that quote it escape it. */
static void messages_stay_on_one_line(void **state)
{
    struct config c;
    const char *nl;

    (void)state;
    assert_int_equal(load(&c, "alerts: {\"web\\nhook\\x1b[31m\": 1}\n"), -EINVAL);
    assert_non_null(strstr(errs.buf, "unknown key 'web\\nhook\\x1b[31m' in 'alerts'"));
    nl = strchr(errs.buf, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0'); /* exactly one line */
    config_done(&c);
}

static void nesting_and_size_are_bounded(void **state)
{
    struct config c;
    struct strbuf y;

    (void)state;
    /* libyaml is quadratic in flow nesting: refused before it is parsed further */
    strbuf_init(&y, 0);
    strbuf_puts(&y, "agent: {net_exclude: ");
    for (int i = 0; i < 200000; i++)
        strbuf_putc(&y, '[');
    assert_int_equal(load(&c, y.buf), -EINVAL);
    assert_non_null(strstr(errs.buf, "nested deeper than 32 levels"));
    config_done(&c);
    /* many keys: linear, and the messages stop at a bound */
    strbuf_reset(&y);
    strbuf_puts(&y, "{");
    for (int i = 0; i < 60000; i++) /* 660 KB, under the 1 MiB file limit */
        strbuf_printf(&y, "k%d: 1, ", i);
    strbuf_puts(&y, "}\n");
    assert_int_equal(load(&c, y.buf), -EINVAL);
    assert_non_null(strstr(errs.buf, "59950 more errors not shown"));
    config_done(&c);
    strbuf_done(&y);
}

struct doc_check {
    const char *text;
    unsigned missing;
};

static void key_documented(void *ctx, const char *path, bool is_section)
{
    struct doc_check *dc = ctx;
    char want[300];

    if (is_section && strcmp(path, "visualization.grafana") != 0)
        return;
    snprintf(want, sizeof(want), "`%s`", path);
    if (!strstr(dc->text, want)) {
        print_error("docs/config.md does not document %s\n", want);
        dc->missing++;
    }
}

/* docs/config.md documents every key the schema accepts. */
static void every_key_is_documented(void **state)
{
    static char buf[1 << 17];
    struct doc_check dc = {.text = buf};

    (void)state;
    assert_true(read_source_file("docs/config.md", buf, sizeof(buf)) > 0);
    config_foreach_key(key_documented, &dc);
    assert_int_equal(dc.missing, 0);
}

static int setup(void **state)
{
    (void)state;
    strbuf_init(&errs, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    strbuf_done(&errs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_defaults),
        cmocka_unit_test(deploy_file_is_the_defaults),
        cmocka_unit_test(values_load),
        cmocka_unit_test(errors_name_the_place),
        cmocka_unit_test(alias_bomb_is_bounded),
        cmocka_unit_test(oversized_inputs),
        cmocka_unit_test(file_errors),
        cmocka_unit_test(resolve_fills_host_values),
        cmocka_unit_test(messages_stay_on_one_line),
        cmocka_unit_test(nesting_and_size_are_bounded),
        cmocka_unit_test(every_key_is_documented),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
