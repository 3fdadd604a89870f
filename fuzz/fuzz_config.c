/* The configuration loader on arbitrary YAML: errors are reported, never a crash,
 * a leak or unbounded work. Beyond not crashing, it checks what config.h
 * promises: a failed load says why, one "fuzz.yaml:..." line per problem; a
 * successful one leaves every value in its documented range, loads again on
 * top of itself (a reload of an unchanged file), and copies exactly. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

#define STR_OK(s) ((s) != NULL && strlen(s) <= CONFIG_MAX_STRING)

static void check_errors(const struct strbuf *errs)
{
    static const char prefix[] = "fuzz.yaml:";
    const char *p = errs->buf;

    if (errs->overflow)
        return;
    CHECK(errs->len > 0 && p && p[errs->len - 1] == '\n');
    while (*p) {
        const char *nl = strchr(p, '\n');

        CHECK(nl && strncmp(p, prefix, sizeof(prefix) - 1) == 0);
        p = nl + 1;
    }
}

static void check_values(const struct config *c)
{
    unsigned nproc = (c->agent.process.pid > 0) + (c->agent.process.pidfile != NULL) +
                     (c->agent.process.name != NULL);

    CHECK(c->monitoring.sampling_interval_ms >= 50 &&
          c->monitoring.sampling_interval_ms <= 3600000);
    CHECK(c->monitoring.retention_period_days >= 1 && c->monitoring.retention_period_days <= 36500);
    CHECK(c->monitoring.ai_optimization.prediction_interval_ms >= 1000 &&
          c->monitoring.ai_optimization.prediction_interval_ms <= 86400000);
    CHECK(c->monitoring.ai_optimization.confidence_threshold >= 0 &&
          c->monitoring.ai_optimization.confidence_threshold <= 1);
    CHECK((unsigned)c->monitoring.logging.level <= LOG_TRACE);
    CHECK(c->alerts.min_severity >= 1 && c->alerts.min_severity <= 5);
    /* alerts: what the channels rely on (no header or address can split a line) */
    CHECK(c->alerts.log_max_bytes >= 4096 && c->alerts.log_keep >= 1 && c->alerts.log_keep <= 100);
    CHECK(c->alerts.timeout_ms >= 100 && c->alerts.retry_max_sec >= 1 &&
          c->alerts.storm_threshold <= 1000 && c->alerts.give_up_after_sec >= 60);
    CHECK(c->alerts.webhook_headers.n <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->alerts.webhook_headers.n; i++)
        CHECK(STR_OK(c->alerts.webhook_headers.v[i]) &&
              strchr(c->alerts.webhook_headers.v[i], ':') &&
              !strpbrk(c->alerts.webhook_headers.v[i], "\r\n"));
    {
        const char *const urls[] = {c->alerts.webhook_url, c->alerts.alertmanager_url,
                                    c->alerts.smtp_url, c->alerts.email, c->alerts.smtp_from};
        for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
            /* (the recipients' list may have blanks after its commas) */
            CHECK(!urls[i] ||
                  (STR_OK(urls[i]) && !strpbrk(urls[i], i == 3 ? "\r\n\t" : " \r\n\t")));
    }
    CHECK(c->detection.warmup_ticks >= 10 && c->detection.resolve_ticks >= 1 &&
          c->detection.n_rules <= CONFIG_MAX_LIST && c->detection.disabled.n <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->detection.n_rules; i++) {
        const struct config_detect_rule *r = &c->detection.rules[i];
        /* a loaded rule is complete, its levels on the right sides, at most 8 actions */
        CHECK(STR_OK(r->name) && STR_OK(r->series) && STR_OK(r->condition));
        CHECK(r->severity >= 1 && r->severity <= 5 && r->actions.n <= 8);
        CHECK(!isnan(r->trigger) && r->for_sec >= 0);
        CHECK(isnan(r->clear) ||
              (r->condition[0] == '>' ? r->clear <= r->trigger : r->clear >= r->trigger));
    }
    CHECK(c->agent.process.pid >= 0 && c->agent.process.pid <= 4194304 && nproc <= 1);
    CHECK(c->agent.history_size >= 1 && c->agent.history_size <= 100000);
    CHECK(STR_OK(c->monitoring.ai_optimization.model_path) &&
          STR_OK(c->monitoring.logging.output_dir) && STR_OK(c->models_path) &&
          STR_OK(c->visualization.prometheus_endpoint) && STR_OK(c->visualization.grafana.url) &&
          STR_OK(c->visualization.grafana.api_key) &&
          STR_OK(c->visualization.grafana.dashboard_id) && STR_OK(c->agent.listen_address));
    CHECK(STR_OK(c->agent.procfs_root) && *c->agent.procfs_root);
    CHECK(STR_OK(c->agent.sysfs_root) && *c->agent.sysfs_root);
    CHECK(STR_OK(c->agent.disk_path) && *c->agent.disk_path);
    CHECK(!c->agent.node_id || (*c->agent.node_id && strlen(c->agent.node_id) <= 128));
    CHECK(c->agent.p2p_ports.n <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->agent.p2p_ports.n; i++)
        CHECK(c->agent.p2p_ports.v[i] >= 1);
    CHECK(c->agent.net_exclude.n <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->agent.net_exclude.n; i++)
        CHECK(STR_OK(c->agent.net_exclude.v[i]));
    /* statsd: what the server and the aggregates rely on */
    CHECK(c->statsd.max_series >= 1 && c->statsd.max_series <= 10000000);
    CHECK(c->statsd.rcvbuf_bytes >= 65536 && c->statsd.rcvbuf_bytes <= 1073741824);
    CHECK(c->statsd.n_histogram_buckets >= 1 && c->statsd.n_histogram_buckets <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->statsd.n_histogram_buckets; i++)
        CHECK(isfinite(c->statsd.histogram_buckets[i]) && c->statsd.histogram_buckets[i] > 0 &&
              (i == 0 || c->statsd.histogram_buckets[i] > c->statsd.histogram_buckets[i - 1]));
    CHECK(c->statsd.n_mapping <= CONFIG_MAX_LIST);
    for (size_t i = 0; i < c->statsd.n_mapping; i++)
        CHECK(STR_OK(c->statsd.mapping[i].match) && *c->statsd.mapping[i].match &&
              strlen(c->statsd.mapping[i].match) <= CONFIG_STATSD_MATCH_MAX &&
              config_statsd_sink_ok(c->statsd.mapping[i].field));
    CHECK(!c->statsd.unix_socket ||
          (*c->statsd.unix_socket && strlen(c->statsd.unix_socket) < 108));
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && a != b && strcmp(a, b) == 0);
}

/* config_copy(): equal values, no shared string */
static void check_copy(const struct config *a, const struct config *b)
{
    CHECK(same_str(a->monitoring.ai_optimization.model_path,
                   b->monitoring.ai_optimization.model_path));
    CHECK(same_str(a->monitoring.logging.output_dir, b->monitoring.logging.output_dir));
    CHECK(same_str(a->models_path, b->models_path));
    CHECK(same_str(a->visualization.prometheus_endpoint, b->visualization.prometheus_endpoint));
    CHECK(same_str(a->visualization.grafana.url, b->visualization.grafana.url));
    CHECK(same_str(a->visualization.grafana.api_key, b->visualization.grafana.api_key));
    CHECK(same_str(a->visualization.grafana.dashboard_id, b->visualization.grafana.dashboard_id));
    CHECK(same_str(a->alerts.email, b->alerts.email));
    CHECK(same_str(a->alerts.webhook_url, b->alerts.webhook_url));
    CHECK(same_str(a->agent.node_id, b->agent.node_id));
    CHECK(same_str(a->agent.data_dir, b->agent.data_dir));
    CHECK(same_str(a->agent.listen_address, b->agent.listen_address));
    CHECK(same_str(a->agent.procfs_root, b->agent.procfs_root));
    CHECK(same_str(a->agent.sysfs_root, b->agent.sysfs_root));
    CHECK(same_str(a->agent.process.pidfile, b->agent.process.pidfile));
    CHECK(same_str(a->agent.process.name, b->agent.process.name));
    CHECK(same_str(a->agent.disk_path, b->agent.disk_path));
    CHECK(same_str(a->statsd.listen, b->statsd.listen));
    CHECK(same_str(a->statsd.unix_socket, b->statsd.unix_socket));
    CHECK(a->statsd.n_mapping == b->statsd.n_mapping);
    for (size_t i = 0; i < a->statsd.n_mapping; i++)
        CHECK(same_str(a->statsd.mapping[i].match, b->statsd.mapping[i].match) &&
              same_str(a->statsd.mapping[i].field, b->statsd.mapping[i].field));
    CHECK(a->statsd.n_histogram_buckets == b->statsd.n_histogram_buckets &&
          !memcmp(a->statsd.histogram_buckets, b->statsd.histogram_buckets,
                  a->statsd.n_histogram_buckets * sizeof(double)));
    CHECK(a->agent.net_exclude.n == b->agent.net_exclude.n);
    for (size_t i = 0; i < a->agent.net_exclude.n; i++)
        CHECK(same_str(a->agent.net_exclude.v[i], b->agent.net_exclude.v[i]));
    CHECK(a->agent.p2p_ports.n == b->agent.p2p_ports.n &&
          !memcmp(a->agent.p2p_ports.v, b->agent.p2p_ports.v,
                  a->agent.p2p_ports.n * sizeof(a->agent.p2p_ports.v[0])));
    CHECK(a->monitoring.sampling_interval_ms == b->monitoring.sampling_interval_ms &&
          a->agent.process.pid == b->agent.process.pid &&
          a->agent.history_size == b->agent.history_size &&
          a->visualization.grafana_present == b->visualization.grafana_present);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg, copy;
    struct strbuf errs;
    char *buf = malloc(size ? size : 1);
    int r;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    config_defaults(&cfg);
    strbuf_init(&errs, 1 << 16);
    r = config_load_buffer(&cfg, "fuzz.yaml", buf, size, &errs);
    if (r < 0) {
        check_errors(&errs);
    } else {
        CHECK(r == 0 && errs.len == 0);
        check_values(&cfg);
        /* a reload of the same file over the loaded config succeeds too */
        CHECK(config_load_buffer(&cfg, "fuzz.yaml", buf, size, &errs) == 0 && errs.len == 0);
        check_values(&cfg);
        if (config_copy(&copy, &cfg) == 0) {
            check_copy(&cfg, &copy);
            config_done(&copy);
        }
    }
    config_done(&cfg);
    strbuf_done(&errs);
    free(buf);
    return 0;
}
