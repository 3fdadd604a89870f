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
    assert_int_equal(c.monitoring.quantum_monitoring.signature_algorithm.n, 0);
    assert_int_equal(c.monitoring.quantum_monitoring.key_exchange_algorithm.n, 0);
    assert_int_equal(c.monitoring.quantum_monitoring.hash_algorithm.n, 0);
    assert_string_equal(c.monitoring.quantum_monitoring.qrng_source, "getrandom");
    assert_int_equal(c.monitoring.quantum_monitoring.probe_interval_sec, 60);
    assert_int_equal(c.monitoring.quantum_monitoring.qrng_window_ms, 1000);
    assert_true(c.monitoring.quantum_monitoring.merkle_probe);
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
    assert_true(c.statsd.enabled);
    assert_string_equal(c.statsd.listen, "127.0.0.1:8125");
    assert_null(c.statsd.unix_socket);
    assert_int_equal(c.statsd.max_series, 10000);
    assert_int_equal(c.statsd.rcvbuf_bytes, 33554432);
    {
        static const double want[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
        assert_int_equal(c.statsd.n_histogram_buckets, sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < c.statsd.n_histogram_buckets; i++)
            assert_true(c.statsd.histogram_buckets[i] == want[i]);
    }
    assert_int_equal(c.statsd.n_mapping, 0);
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
    assert_true(f.statsd.enabled == d.statsd.enabled);
    assert_string_equal(f.statsd.listen, d.statsd.listen);
    assert_null(f.statsd.unix_socket);
    assert_int_equal(f.statsd.max_series, d.statsd.max_series);
    assert_int_equal(f.statsd.rcvbuf_bytes, d.statsd.rcvbuf_bytes);
    assert_int_equal(f.statsd.n_histogram_buckets, d.statsd.n_histogram_buckets);
    assert_memory_equal(f.statsd.histogram_buckets, d.statsd.histogram_buckets,
                        d.statsd.n_histogram_buckets * sizeof(double));
    assert_int_equal(f.statsd.n_mapping, 0);
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

static const char statsd_full[] = "statsd:\n"
                                  "  enabled: true\n"
                                  "  listen: \"[::1]:9125\"\n"
                                  "  unix_socket: /run/arthamon/statsd.sock\n"
                                  "  max_series: 20000\n"
                                  "  rcvbuf_bytes: 65536\n"
                                  "  histogram_buckets: [0.005, 0.01, 0.1, 1, 10]\n"
                                  "  mapping:\n"
                                  "    - match: \"myapp.tx.verify\"\n"
                                  "      field: node.avg_tx_validation_ms\n"
                                  "    - match: \"myapp.*.exec\"\n"
                                  "      field: node.contract_metrics.avg_execution_ms\n"
                                  "    - {match: '*', field: drop}\n";

static void statsd_section_loads(void **state)
{
    struct config c, copy;
    struct strbuf json;

    (void)state;
    assert_int_equal(load(&c, statsd_full), 0);
    assert_true(c.statsd.enabled);
    assert_string_equal(c.statsd.listen, "[::1]:9125");
    assert_string_equal(c.statsd.unix_socket, "/run/arthamon/statsd.sock");
    assert_int_equal(c.statsd.max_series, 20000);
    assert_int_equal(c.statsd.rcvbuf_bytes, 65536);
    assert_int_equal(c.statsd.n_histogram_buckets, 5);
    assert_true(c.statsd.histogram_buckets[0] == 0.005);
    assert_true(c.statsd.histogram_buckets[4] == 10);
    assert_int_equal(c.statsd.n_mapping, 3);
    assert_string_equal(c.statsd.mapping[0].match, "myapp.tx.verify");
    assert_string_equal(c.statsd.mapping[0].field, "node.avg_tx_validation_ms");
    assert_string_equal(c.statsd.mapping[1].match, "myapp.*.exec");
    assert_string_equal(c.statsd.mapping[1].field, "node.contract_metrics.avg_execution_ms");
    assert_string_equal(c.statsd.mapping[2].match, "*");
    assert_string_equal(c.statsd.mapping[2].field, "drop");

    /* a reload replaces the lists, never appends to them */
    strbuf_reset(&errs);
    assert_int_equal(config_load_buffer(&c, "t.yaml", statsd_full, strlen(statsd_full), &errs), 0);
    assert_int_equal(c.statsd.n_mapping, 3);
    assert_int_equal(c.statsd.n_histogram_buckets, 5);

    /* the JSON shows every key, the lists in full */
    strbuf_init(&json, 0);
    assert_int_equal(config_to_json(&c, &json), 0);
    assert_non_null(strstr(json.buf, "\"statsd\":{\"enabled\":true,\"listen\":\"[::1]:9125\","
                                     "\"unix_socket\":\"/run/arthamon/statsd.sock\","
                                     "\"max_series\":20000,\"rcvbuf_bytes\":65536,"
                                     "\"histogram_buckets\":[0.005,0.01,0.1,1,10],"
                                     "\"mapping\":[{\"match\":\"myapp.tx.verify\","
                                     "\"field\":\"node.avg_tx_validation_ms\"},"
                                     "{\"match\":\"myapp.*.exec\","
                                     "\"field\":\"node.contract_metrics.avg_execution_ms\"},"
                                     "{\"match\":\"*\",\"field\":\"drop\"}]}"));

    /* a deep copy: equal values, strings of its own that outlive the original */
    assert_int_equal(config_copy(&copy, &c), 0);
    assert_ptr_not_equal(copy.statsd.listen, c.statsd.listen);
    assert_ptr_not_equal(copy.statsd.unix_socket, c.statsd.unix_socket);
    assert_ptr_not_equal(copy.statsd.mapping[1].match, c.statsd.mapping[1].match);
    assert_ptr_not_equal(copy.statsd.mapping[1].field, c.statsd.mapping[1].field);
    config_done(&c);
    assert_string_equal(copy.statsd.listen, "[::1]:9125");
    assert_string_equal(copy.statsd.unix_socket, "/run/arthamon/statsd.sock");
    assert_int_equal(copy.statsd.n_mapping, 3);
    assert_string_equal(copy.statsd.mapping[1].match, "myapp.*.exec");
    assert_string_equal(copy.statsd.mapping[2].field, "drop");
    assert_int_equal(copy.statsd.n_histogram_buckets, 5);
    assert_true(copy.statsd.histogram_buckets[2] == 0.1);
    strbuf_reset(&json);
    assert_int_equal(config_to_json(&copy, &json), 0);
    assert_non_null(strstr(json.buf, "{\"match\":\"myapp.*.exec\","));
    config_done(&copy);

    /* defaults in JSON; a bound that needs many digits keeps them all */
    assert_int_equal(load(&c, "statsd: {histogram_buckets: [1e-7, 0.3, 1e20]}\n"), 0);
    strbuf_reset(&json);
    assert_int_equal(config_to_json(&c, &json), 0);
    assert_non_null(strstr(json.buf, "\"listen\":\"127.0.0.1:8125\",\"unix_socket\":null"));
    assert_non_null(strstr(json.buf, "\"histogram_buckets\":[1e-07,0.3,1e+20],\"mapping\":[]"));
    config_done(&c);
    strbuf_done(&json);

    /* null empties the mapping; "" listen is fine with a Unix socket; enabled: false needs none */
    assert_int_equal(load(&c, "statsd: {mapping: null}\n"), 0);
    assert_int_equal(c.statsd.n_mapping, 0);
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {mapping: []}\n"), 0);
    assert_int_equal(c.statsd.n_mapping, 0);
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {listen: '', unix_socket: /tmp/s.sock}\n"), 0);
    assert_string_equal(c.statsd.listen, "");
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {enabled: false, listen: ''}\n"), 0);
    assert_false(c.statsd.enabled);
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {listen: 'statsd-1.example.com:8125'}\n"), 0);
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {listen: '0.0.0.0:65535'}\n"), 0);
    config_done(&c);
    assert_int_equal(load(&c, "statsd: {listen: '127.0.0.1:0'}\n"), 0); /* any free port */
    config_done(&c);
    assert_int_equal(load(&c, "statsd:\n"), 0); /* an empty section keeps its defaults */
    assert_string_equal(c.statsd.listen, "127.0.0.1:8125");
    config_done(&c);
    {
        /* 64 rules: the limit, not over it */
        struct strbuf y;
        strbuf_init(&y, 0);
        strbuf_puts(&y, "statsd:\n  mapping:\n");
        for (int i = 0; i < CONFIG_MAX_LIST; i++)
            strbuf_printf(&y, "    - {match: app.m%d, field: node.mempool_size}\n", i);
        assert_int_equal(load(&c, y.buf), 0);
        assert_int_equal(c.statsd.n_mapping, CONFIG_MAX_LIST);
        assert_string_equal(c.statsd.mapping[63].match, "app.m63");
        config_done(&c);
        strbuf_done(&y);
    }
}

static void statsd_errors(void **state)
{
    struct strbuf y;
    struct config c;

    (void)state;
    /* listen */
    expect_error("statsd:\n  listen: 127.0.0.1\n",
                 "t.yaml:2:11: 'statsd.listen' must be HOST:PORT (an IPv4 address, a host name or "
                 "an [IPv6] address, and a port 0 to 65535, 0 for any free one; 0.0.0.0:8125 for "
                 "every interface) or \"\" for no UDP socket; got '127.0.0.1'");
    expect_error("statsd: {listen: '127.0.0.1:'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '127.0.0.1:123456'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '127.0.0.1:65536'}\n", "got '127.0.0.1:65536'");
    expect_error("statsd: {listen: '127.0.0.1:+80'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '127.0.0.1:80 '}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: ':8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '::1:8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '[::1]'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '[x]:8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '300.1.1.1:8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: 'a_b:8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: '-a.b:8125'}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: 8125}\n", "'statsd.listen' must be HOST:PORT");
    expect_error("statsd: {listen: null}\n", "'statsd.listen' must be a string, got null");
    /* unix_socket */
    expect_error("statsd: {unix_socket: ''}\n",
                 "'statsd.unix_socket' must be a path of 1 to 107 bytes, or null for none");
    strbuf_init(&y, 0);
    strbuf_puts(&y, "statsd: {unix_socket: /");
    for (int i = 0; i < 107; i++)
        strbuf_putc(&y, 's');
    strbuf_puts(&y, "}\n");
    expect_error(y.buf, "'statsd.unix_socket' must be a path of 1 to 107 bytes");
    /* no socket at all */
    expect_error("statsd: {listen: ''}\n", "'statsd': enabled with no socket");
    /* numbers */
    expect_error("statsd: {max_series: 0}\n",
                 "'statsd.max_series' must be between 1 and 10000000, got 0");
    expect_error("statsd: {max_series: 10000001}\n", "between 1 and 10000000");
    expect_error("statsd: {rcvbuf_bytes: 65535}\n",
                 "'statsd.rcvbuf_bytes' must be between 65536 and 1073741824, got 65535");
    expect_error("statsd: {rcvbuf_bytes: 1073741825}\n", "between 65536 and 1073741824");
    /* histogram buckets */
    expect_error("statsd:\n  histogram_buckets: [0.1, 0.5, 0.25]\n",
                 "t.yaml:2:33: 'statsd.histogram_buckets' must be strictly increasing: 0.25 "
                 "follows 0.5");
    expect_error("statsd: {histogram_buckets: [1, 1]}\n", "must be strictly increasing");
    expect_error("statsd: {histogram_buckets: [0, 1]}\n",
                 "'statsd.histogram_buckets' entries must be finite numbers of seconds above 0, "
                 "got a plain value '0'");
    expect_error("statsd: {histogram_buckets: [-1]}\n", "finite numbers of seconds above 0");
    expect_error("statsd: {histogram_buckets: [.inf]}\n", "finite numbers of seconds above 0");
    expect_error("statsd: {histogram_buckets: [nan]}\n", "finite numbers of seconds above 0");
    expect_error("statsd: {histogram_buckets: [1e999]}\n", "finite numbers of seconds above 0");
    expect_error("statsd: {histogram_buckets: ['1']}\n", "got a string '1'");
    expect_error("statsd: {histogram_buckets: [[1]]}\n", "got a list");
    expect_error("statsd: {histogram_buckets: []}\n",
                 "'statsd.histogram_buckets' must be a list of 1 to 64 upper bounds in seconds, "
                 "got an empty list");
    expect_error("statsd: {histogram_buckets: 1}\n", "got a plain value '1'");
    expect_error("statsd: {histogram_buckets: null}\n", "must be a list of 1 to 64");
    strbuf_reset(&y);
    strbuf_puts(&y, "statsd: {histogram_buckets: [");
    for (int i = 1; i <= 65; i++)
        strbuf_printf(&y, "%s%d", i > 1 ? "," : "", i);
    strbuf_puts(&y, "]}\n");
    expect_error(y.buf, "'statsd.histogram_buckets' has more than 64 entries");
    /* match */
    expect_error("statsd:\n  mapping:\n    - match: a..b\n      field: drop\n",
                 "t.yaml:3:14: 'statsd.mapping[0].match' must not have an empty component (a "
                 "leading, trailing or doubled '.'); got 'a..b'");
    expect_error("statsd: {mapping: [{match: .a, field: drop}]}\n", "empty component");
    expect_error("statsd: {mapping: [{match: a., field: drop}]}\n", "empty component");
    expect_error("statsd: {mapping: [{match: 'a.b*.c', field: drop}]}\n",
                 "'statsd.mapping[0].match' may use '*' only as a whole component");
    expect_error("statsd: {mapping: [{match: '**', field: drop}]}\n", "only as a whole component");
    expect_error("statsd: {mapping: [{match: 'a b', field: drop}]}\n",
                 "must be printable ASCII without whitespace, ':', '|', '@' or '#'");
    expect_error("statsd: {mapping: [{match: 'a:b', field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: 'a|b', field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: 'a@b', field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: 'a#b', field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: \"a\\tb\", field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: 'caf\xc3\xa9', field: drop}]}\n", "printable ASCII");
    expect_error("statsd: {mapping: [{match: '', field: drop}]}\n",
                 "'statsd.mapping[0].match' must be 1 to 200 bytes");
    expect_error("statsd: {mapping: [{match: ~, field: drop}]}\n",
                 "'statsd.mapping[0].match' must be a string, got null");
    strbuf_reset(&y);
    strbuf_puts(&y, "statsd: {mapping: [{field: drop, match: ");
    for (int i = 0; i < 201; i++)
        strbuf_putc(&y, 'm');
    strbuf_puts(&y, "}]}\n");
    expect_error(y.buf, "'statsd.mapping[0].match' must be 1 to 200 bytes");
    /* field */
    expect_error("statsd:\n  mapping:\n    - match: a\n      field: node.mempool\n",
                 "t.yaml:4:14: 'statsd.mapping[0].field' must name a sink: a node.*, "
                 "model_inference.*, memory.gc_metrics.*, quantum.* or gpu.* field listed in "
                 "docs/config.md, or drop; got 'node.mempool' (did you mean "
                 "'node.mempool_size'?)");
    expect_error("statsd: {mapping: [{match: a, field: cpu_usage}]}\n",
                 "listed in docs/config.md, or drop; got 'cpu_usage'\n");
    expect_error("statsd: {mapping: [{match: a, field: custom}]}\n", "must name a sink");
    expect_error("statsd: {mapping: [{match: a, field: [drop]}]}\n",
                 "'statsd.mapping[0].field' must be a string, got a list");
    /* the shape of rules */
    expect_error("statsd: {mapping: [{match: a}]}\n",
                 "t.yaml:1:20: 'statsd.mapping[0]' needs both match and field (field is missing)");
    expect_error("statsd: {mapping: [{field: drop}]}\n", "(match is missing)");
    expect_error("statsd: {mapping: [{match: a, field: drop, fields: x}]}\n",
                 "unknown key 'fields' in 'statsd.mapping[0]' (a rule has match and field; did "
                 "you mean 'field'?)");
    expect_error("statsd: {mapping: [{match: a, field: drop, match: b}]}\n",
                 "duplicate key 'statsd.mapping[0].match'");
    expect_error("statsd: {mapping: [a.b]}\n",
                 "'statsd.mapping[0]' must be a mapping {match: NAME, field: SINK}, got a plain "
                 "value 'a.b'");
    expect_error("statsd: {mapping: {match: a, field: drop}}\n",
                 "'statsd.mapping' must be a list of {match: NAME, field: SINK} rules, got a "
                 "mapping");
    expect_error(
        "statsd:\n  mapping:\n    - {match: a.*, field: drop}\n"
        "    - {match: a.*, field: node.mempool_size}\n",
        "t.yaml:4:7: 'statsd.mapping[1].match' repeats the match 'a.*' of an earlier rule");
    /* too many rules */
    strbuf_reset(&y);
    strbuf_puts(&y, "statsd:\n  mapping:\n");
    for (int i = 0; i <= CONFIG_MAX_LIST; i++)
        strbuf_printf(&y, "    - {match: app.m%d, field: node.mempool_size}\n", i);
    expect_error(y.buf, "t.yaml:3:5: 'statsd.mapping' has more than 64 entries");
    /* unknown keys, as everywhere */
    expect_error("statsd: {listne: '127.0.0.1:8125'}\n",
                 "t.yaml:1:10: unknown key 'listne' in 'statsd' (did you mean 'listen'?)");
    expect_error("statsd: {buckets: [1]}\n",
                 "unknown key 'buckets' in 'statsd' (did you mean 'histogram_buckets'?)");
    expect_error("statsd: 1\n", "'statsd' must be a mapping of keys");
    /* every bad rule is reported, and a failed load keeps no half-built list */
    assert_int_equal(load(&c, "statsd:\n  mapping:\n    - {match: a.b, field: drop}\n"
                              "    - {match: 'a b', field: drop}\n"
                              "    - {match: c, field: nope}\n"),
                     -EINVAL);
    assert_non_null(strstr(errs.buf, "t.yaml:4:15: 'statsd.mapping[1].match'"));
    assert_non_null(strstr(errs.buf, "t.yaml:5:25: 'statsd.mapping[2].field'"));
    assert_null(strstr(errs.buf, "did you mean")); /* 'nope' is no typo of 'drop' */
    assert_int_equal(c.statsd.n_mapping, 0);
    config_done(&c);
    strbuf_done(&y);
}

static void statsd_helpers(void **state)
{
    static const char *const sinks[] = {
        "node.transactions_per_sec",
        "node.avg_tx_validation_ms",
        "node.blocks_per_min",
        "node.avg_block_size_kb",
        "node.mempool_size",
        "node.consensus_metrics.time_to_finality_sec",
        "node.consensus_metrics.messages_per_sec",
        "node.consensus_metrics.participation_percent",
        "node.consensus_metrics.quantum_resistant_overhead",
        "node.contract_metrics.contracts_per_sec",
        "node.contract_metrics.avg_execution_ms",
        "node.contract_metrics.avg_gas_used",
        "node.contract_metrics.wasm_load_ms",
        "model_inference.avg_inference_ms",
        "model_inference.layer_latencies",
        "model_inference.accelerator_util_percent",
        "memory.gc_metrics.avg_pause_ms",
        "quantum.qrng_throughput",
        "quantum.pq_crypto_overhead",
        "quantum.merkle_ops_per_sec",
        "quantum.security_level_bits",
        "quantum.simulation_metrics.qubits",
        "quantum.simulation_metrics.circuit_depth",
        "quantum.simulation_metrics.gate_ops_per_sec",
        "quantum.simulation_metrics.wall_time_ms",
        "gpu.quantum_sim_usage",
        "drop",
    };
    static char doc[1 << 17];
    char host[64], want[128];
    uint16_t port = 0;

    (void)state;
    assert_true(read_source_file("docs/config.md", doc, sizeof(doc)) > 0);
    for (size_t i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++) {
        assert_true(config_statsd_sink_ok(sinks[i]));
        /* each has its line in the sink table of docs/config.md */
        snprintf(want, sizeof(want), "| `%s` |", sinks[i]);
        assert_non_null(strstr(doc, want));
    }
    assert_false(config_statsd_sink_ok("custom"));
    assert_false(config_statsd_sink_ok("node"));
    assert_false(config_statsd_sink_ok("DROP"));
    assert_false(config_statsd_sink_ok(""));
    assert_false(config_statsd_sink_ok(NULL));

    assert_int_equal(config_split_hostport("127.0.0.1:8125", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8125);
    assert_int_equal(config_split_hostport("[fe80::1]:1", host, sizeof(host), &port), 0);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 1);
    assert_int_equal(config_split_hostport("localhost:65535", NULL, 0, &port), 0);
    assert_int_equal(port, 65535);
    assert_int_equal(config_split_hostport("[::]:0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::");
    assert_int_equal(port, 0);
    /* on failure nothing is written */
    port = 7;
    snprintf(host, sizeof(host), "keep");
    assert_int_equal(config_split_hostport("localhost:65536", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(config_split_hostport("localhost", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(config_split_hostport("", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(config_split_hostport("localhost:8125", host, 9, &port), -ENAMETOOLONG);
    assert_int_equal(port, 7);
    assert_string_equal(host, "keep");
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

/* quantum_monitoring: the algorithms (a name or a list), the probes, and their errors */
static void quantum_section(void **state)
{
    struct config c, copy;
    struct strbuf j;

    (void)state;
    assert_int_equal(load(&c, "monitoring:\n"
                              "  quantum_monitoring:\n"
                              "    signature_algorithm: [Ed25519, ml-dsa-65, Ed25519+ML-DSA-44]\n"
                              "    key_exchange_algorithm: X25519MLKEM768\n"
                              "    hash_algorithm: [SHA3-256]\n"
                              "    qrng_source: /dev/hwrng\n"
                              "    probe_interval_sec: 10\n"
                              "    qrng_window_ms: 250\n"
                              "    merkle_probe: false\n"),
                     0);
    assert_int_equal(c.monitoring.quantum_monitoring.signature_algorithm.n, 3);
    assert_string_equal(c.monitoring.quantum_monitoring.signature_algorithm.v[1], "ml-dsa-65");
    assert_int_equal(c.monitoring.quantum_monitoring.key_exchange_algorithm.n, 1);
    assert_string_equal(c.monitoring.quantum_monitoring.key_exchange_algorithm.v[0],
                        "X25519MLKEM768");
    assert_string_equal(c.monitoring.quantum_monitoring.qrng_source, "/dev/hwrng");
    assert_int_equal(c.monitoring.quantum_monitoring.probe_interval_sec, 10);
    assert_int_equal(c.monitoring.quantum_monitoring.qrng_window_ms, 250);
    assert_false(c.monitoring.quantum_monitoring.merkle_probe);
    /* copied deep, and shown as lists */
    assert_int_equal(config_copy(&copy, &c), 0);
    assert_ptr_not_equal(copy.monitoring.quantum_monitoring.hash_algorithm.v[0],
                         c.monitoring.quantum_monitoring.hash_algorithm.v[0]);
    strbuf_init(&j, 0);
    assert_int_equal(config_to_json(&copy, &j), 0);
    assert_non_null(strstr(j.buf, "\"key_exchange_algorithm\":[\"X25519MLKEM768\"],"
                                  "\"hash_algorithm\":[\"SHA3-256\"],\"qrng_source\":"
                                  "\"/dev/hwrng\",\"probe_interval_sec\":10,"
                                  "\"qrng_window_ms\":250,\"merkle_probe\":false"));
    strbuf_done(&j);
    config_done(&copy);
    config_done(&c);
    /* null empties a list */
    assert_int_equal(load(&c, "monitoring: {quantum_monitoring: {hash_algorithm: null, "
                              "qrng_source: none}}\n"),
                     0);
    assert_int_equal(c.monitoring.quantum_monitoring.hash_algorithm.n, 0);
    assert_string_equal(c.monitoring.quantum_monitoring.qrng_source, "none");
    config_done(&c);

    expect_error("monitoring: {quantum_monitoring: {signature_algorithm: [Ed25519, Ed2559]}}\n",
                 "t.yaml:1:66: 'monitoring.quantum_monitoring.signature_algorithm' entries must "
                 "name a signature algorithm of the security table in docs/metrics.md");
    expect_error("monitoring: {quantum_monitoring: {signature_algorithm: Ed2559}}\n",
                 "'Ed2559' is not one (did you mean 'Ed25519'?)");
    expect_error("monitoring: {quantum_monitoring: {signature_algorithm: ML-KEM-768}}\n",
                 "'ML-KEM-768' is a key exchange algorithm");
    expect_error("monitoring: {quantum_monitoring: {hash_algorithm: SHA3-265}}\n",
                 "(did you mean 'SHA3-256'?)");
    expect_error("monitoring: {quantum_monitoring: {key_exchange_algorithm: {a: b}}}\n",
                 "'monitoring.quantum_monitoring.key_exchange_algorithm' must be a name or a list "
                 "of names, got a mapping");
    expect_error("monitoring: {quantum_monitoring: {key_exchange_algorithm: [[X25519]]}}\n",
                 "entries must be strings");
    expect_error("monitoring: {quantum_monitoring: {qrng_source: dev/hwrng}}\n",
                 "'monitoring.quantum_monitoring.qrng_source' must be getrandom, none, or the "
                 "absolute path of an entropy device or FIFO (/dev/hwrng); got 'dev/hwrng'");
    expect_error("monitoring: {quantum_monitoring: {qrng_source: \"/dev/x\\ty\"}}\n",
                 "must not contain control characters");
    expect_error("monitoring: {quantum_monitoring: {probe_interval_sec: 5}}\n",
                 "'monitoring.quantum_monitoring.probe_interval_sec' must be between 10 and 86400");
    expect_error("monitoring: {quantum_monitoring: {qrng_window_ms: 9000}}\n",
                 "'monitoring.quantum_monitoring.qrng_window_ms' must be between 100 and 5000");
    expect_error("monitoring: {quantum_monitoring: {merkle_probe: maybe}}\n",
                 "'monitoring.quantum_monitoring.merkle_probe' must be true or false");
    expect_error("monitoring: {quantum_monitoring: {qrng_sorce: none}}\n",
                 "unknown key 'qrng_sorce' in 'monitoring.quantum_monitoring' (did you mean "
                 "'qrng_source'?)");
    /* the statsd sinks of the node's quantum figures */
    assert_true(config_statsd_sink_ok("quantum.qrng_throughput"));
    assert_true(config_statsd_sink_ok("quantum.simulation_metrics.wall_time_ms"));
    assert_true(config_statsd_sink_ok("gpu.quantum_sim_usage"));
}

/* detection: defaults, a full rule, and every way a rule can be wrong */
static void detection_section(void **state)
{
    struct config c;
    struct strbuf j;

    (void)state;
    config_defaults(&c);
    assert_true(c.detection.enabled);
    assert_int_equal(c.detection.warmup_ticks, 300);
    assert_int_equal(c.detection.resolve_ticks, 5);
    assert_int_equal(c.detection.n_rules, 0);
    config_done(&c);

    assert_int_equal(load(&c, "detection:\n"
                              "  warmup_ticks: 40\n"
                              "  disabled_rules: [no_p2p_peers]\n"
                              "  rules:\n"
                              "    - name: slow_validation\n"
                              "      series: node.avg_tx_validation_ms\n"
                              "      condition: '>'\n"
                              "      trigger: 50\n"
                              "      clear: 40\n"
                              "      for_sec: 30\n"
                              "      severity: 4\n"
                              "      actions: [one, two]\n"
                              "    - name: core3_hot\n"
                              "      series: cpu.core_usage{core=3}\n"
                              "      condition: '>='\n"
                              "      trigger: 99\n"),
                     0);
    assert_int_equal(c.detection.warmup_ticks, 40);
    assert_int_equal(c.detection.disabled.n, 1);
    assert_int_equal(c.detection.n_rules, 2);
    assert_string_equal(c.detection.rules[0].name, "slow_validation");
    assert_true(c.detection.rules[0].clear == 40);
    assert_true(c.detection.rules[0].for_sec == 30);
    assert_int_equal(c.detection.rules[0].severity, 4);
    assert_int_equal(c.detection.rules[0].actions.n, 2);
    assert_true(isnan(c.detection.rules[1].clear));
    assert_int_equal(c.detection.rules[1].severity, 3);
    {
        /* a copy owns its rules' strings, and the JSON shows them */
        struct config d;
        assert_int_equal(config_copy(&d, &c), 0);
        config_done(&c);
        assert_string_equal(d.detection.rules[1].series, "cpu.core_usage{core=3}");
        strbuf_init(&j, 1 << 20);
        assert_int_equal(config_to_json(&d, &j), 0);
        assert_non_null(strstr(j.buf, "\"name\":\"slow_validation\""));
        assert_non_null(strstr(j.buf, "\"actions\":[\"one\",\"two\"]"));
        strbuf_done(&j);
        config_done(&d);
    }

    expect_error("detection: {rules: [{series: cpu.usage_percent, condition: '>', trigger: 1}]}\n",
                 "'detection.rules[0]' needs name, series, condition and trigger");
    expect_error("detection: {rules: [{name: Bad-Name, series: cpu.usage_percent, condition: '>', "
                 "trigger: 1}]}\n",
                 "'detection.rules[0].name' may hold only a-z, 0-9 and _");
    expect_error("detection: {rules: [{name: a, series: cpu.nope, condition: '>', trigger: 1}]}\n",
                 "'detection.rules[0].series' must name a series of the snapshot");
    expect_error("detection: {rules: [{name: a, series: cpu.usage_percent, condition: '=', "
                 "trigger: 1}]}\n",
                 "'detection.rules[0].condition' must be one of >, >=, <, <=");
    expect_error("detection: {rules: [{name: a, series: cpu.usage_percent, condition: '>', "
                 "trigger: 50, clear: 60}]}\n",
                 "'detection.rules[0].clear' (60) must be on the normal side of trigger (50)");
    expect_error("detection: {rules: [{name: a, series: cpu.usage_percent, condition: '>', "
                 "trigger: 1, severity: 6}]}\n",
                 "'detection.rules[0].severity' must be between 1 and 5");
    expect_error("detection: {rules: [{name: a, series: cpu.usage_percent, condition: '>', "
                 "trigger: 1, colour: red}]}\n",
                 "unknown key 'colour' in 'detection.rules[0]'");
    expect_error("detection: {rules: [{name: a, series: cpu.usage_percent, condition: '>', "
                 "trigger: 1}, {name: a, series: cpu.temperature, condition: '>', trigger: 1}]}\n",
                 "repeats the name 'a'");
    expect_error("detection: {rules: {name: a}}\n", "'detection.rules' must be a list of rules");
    expect_error("detection: {warmup_ticks: 1}\n", "'detection.warmup_ticks' must be between");
    expect_error("detection: {disabled_rules: [cpu_saturation, cpu_saturaton]}\n",
                 "'detection.disabled_rules': 'cpu_saturaton' is not a built-in rule");
}

/* The alert channels' keys: URLs, addresses and headers are checked where they
 * are read, a secret is never echoed, and what only works together is checked
 * by config_resolve(). */
static void alerts_section(void **state)
{
    struct config c;
    struct strbuf j;

    (void)state;
    config_defaults(&c);
    assert_true(c.alerts.console && c.alerts.log_file && c.alerts.smtp_starttls);
    assert_int_equal(c.alerts.hold_down_sec, 300);
    assert_int_equal(c.alerts.repeat_interval_sec, 14400);
    assert_int_equal(c.alerts.storm_threshold, 20);
    config_done(&c);

    assert_int_equal(load(&c, "alerts:\n"
                              "  webhook_url: 'https://user:tok@hooks.example.org:8443/x?y=1'\n"
                              "  webhook_headers: ['Authorization: Bearer abc', 'X-Env: prod']\n"
                              "  webhook_secret: s3cret\n"
                              "  alertmanager_url: 'http://[::1]:9093'\n"
                              "  email: 'ops@example.org, oncall@example.org'\n"
                              "  smtp_url: 'smtps://mail.example.org:465'\n"
                              "  smtp_from: arthamon@example.org\n"
                              "  smtp_user: arthamon\n"
                              "  smtp_password: hunter2hunter2\n"),
                     0);
    assert_int_equal(c.alerts.webhook_headers.n, 2);
    strbuf_init(&j, 1 << 20);
    assert_int_equal(config_to_json(&c, &j), 0);
    assert_null(strstr(j.buf, "hunter2"));
    assert_null(strstr(j.buf, "s3cret"));
    assert_null(strstr(j.buf, "Bearer abc"));
    assert_null(strstr(j.buf, "tok@"));
    strbuf_done(&j);
    strbuf_reset(&errs);
    assert_int_equal(config_resolve(&c, false, &errs), 0);
    config_done(&c);

    expect_error("alerts: {webhook_url: 'ftp://x/'}\n", "must be an http:// or https:// URL");
    expect_error("alerts: {webhook_url: 'http:///path'}\n", "must name a host");
    expect_error("alerts: {alertmanager_url: 'http://am:0'}\n", "invalid port");
    expect_error("alerts: {alertmanager_url: 'http://am:9093x'}\n", "invalid port");
    expect_error("alerts: {smtp_url: \"smtp://mail\\r\\nRCPT\"}\n", "smtp_url");
    expect_error("alerts: {email: 'ops@example.org; rm'}\n", "e-mail address");
    expect_error("alerts: {email: 'Ops <ops@example.org>'}\n", "e-mail address");
    expect_error("alerts: {smtp_from: '@example.org'}\n", "e-mail address");
    expect_error("alerts: {webhook_headers: [\"X-A: b\\r\\nX-Injected: 1\"]}\n", "webhook_headers");
    expect_error("alerts: {webhook_headers: ['Bad Name: v']}\n", "letters, digits");
    expect_error("alerts: {storm_threshold: 5000}\n", "between 0 and 1000");
    /* a wrong secret-bearing URL is refused without being echoed */
    expect_error("alerts: {webhook_url: 'http://tok-98765@'}\n", "webhook_url");
    assert_null(strstr(errs.buf, "tok-98765"));

    /* what only works together */
    assert_int_equal(load(&c, "alerts: {email: ops@example.org}\n"), 0);
    strbuf_reset(&errs);
    assert_int_equal(config_resolve(&c, false, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "also need alerts.smtp_url and alerts.smtp_from"));
    config_done(&c);
    assert_int_equal(load(&c, "alerts: {smtp_url: 'smtp://m:25', smtp_user: u, "
                              "smtp_password: p, smtp_starttls: false}\n"),
                     0);
    strbuf_reset(&errs);
    assert_int_equal(config_resolve(&c, false, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "password in clear"));
    assert_null(strstr(errs.buf, ": p,"));
    config_done(&c);
    assert_int_equal(load(&c, "alerts: {webhook_secret: a, webhook_secret_file: /etc/hostname, "
                              "smtp_ca_file: /nonexistent/ca.pem}\n"),
                     0);
    strbuf_reset(&errs);
    assert_int_equal(config_resolve(&c, false, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "not both"));
    assert_non_null(strstr(errs.buf, "cannot read '/nonexistent/ca.pem'"));
    config_done(&c);
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
        cmocka_unit_test(statsd_section_loads),
        cmocka_unit_test(statsd_errors),
        cmocka_unit_test(statsd_helpers),
        cmocka_unit_test(quantum_section),
        cmocka_unit_test(detection_section),
        cmocka_unit_test(alerts_section),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
