/*
 * Prometheus exposition: content negotiation, the name table and its
 * documentation, escaping, grouping, absent figures, the agent's own figures,
 * number spelling, and the structure of both formats on full snapshots.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/parse.h"
#include "core/log.h"
#include "core/sampler.h"
#include "core/snapshot_fields.h"
#include "serve/prom.h"
#include "testutil.h"

/* ---- helpers ---- */

static char *render(struct strbuf *sb, enum prom_format fmt, const struct snapshot *snap,
                    const struct prom_self *self)
{
    strbuf_init(sb, 0);
    assert_int_equal(prom_render(sb, fmt, snap, self), 0);
    return sb->buf ? sb->buf : (char *)""; /* nothing appended, nothing allocated */
}

/* A small, fixed set of the agent's own figures. */
static void small_self(struct prom_self *self)
{
    memset(self, 0, sizeof(*self));
    self->version = "1.2.3";
    self->node_id = "self-node";
    self->start_time_seconds = 1700000000.25;
    self->sampling_interval_seconds = 0.5;
    self->stats.ticks = 7;
    self->stats.ticks_missed = 1;
    self->stats.last_tick_ns = 1500000; /* 1.5 ms */
    self->stats.tick_buckets[0] = 2;
    self->stats.tick_buckets[4] = 4;
    self->stats.tick_buckets[MONITOR_TICK_BUCKETS] = 1;
    self->stats.tick_seconds_sum = 0.5;
    self->stats.collector_names[0] = "cpu";
    self->stats.collector_errors[0] = 3;
    self->stats.ncollectors = 1;
    self->scrapes_total = 4;
    self->http_requests_total = 10;
    self->http_rejected_total = 2;
    self->http_auth_failures_total = 1;
    self->http_deadline_closed_total = 5;
}

/* The lines of text that start with prefix, counted. */
static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');

        if (strncmp(p, prefix, plen) == 0)
            n++;
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

#define assert_line(text, line)                                      \
    do {                                                             \
        if (!has_line((text), (line))) {                             \
            print_error("no line \"%s\" in:\n%s\n", (line), (text)); \
            fail();                                                  \
        }                                                            \
    } while (0)

static bool valid_name(const char *s)
{
    if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' || *s == ':'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == ':'))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const struct series_desc *desc_for(const char *series)
{
    for (size_t i = 0; i < series_table_len; i++)
        if (strcmp(series_table[i].name, series) == 0)
            return &series_table[i];
    return NULL;
}

/*
 * The structure both formats share, checked line by line: no blank line;
 * HELP and TYPE once per family, before its samples; a family never comes
 * back once another has started; each sample's name belongs to its family's
 * type; node_id is its first label; a value and no timestamp after the
 * labels; OpenMetrics ends with "# EOF", and UNIT names a suffix of the family.
 */
static void check_exposition(const char *text, bool om)
{
    enum { MAX_FAMS = 256 };
    static char seen[MAX_FAMS][128];
    size_t n_seen = 0;
    char fam[128] = "", type[32] = "";
    bool has_help = false, has_type = false, has_samples = false, eof = false;

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        char line[1024];
        size_t len;

        assert_non_null(nl); /* every line ends with a newline */
        len = (size_t)(nl - p);
        assert_true(len > 0 && len < sizeof(line));
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        assert_false(eof); /* nothing after # EOF */
        if (strcmp(line, "# EOF") == 0) {
            assert_true(om);
            eof = true;
            continue;
        }
        if (line[0] == '#') {
            char kw[8], name[128], rest[512];

            assert_int_equal(sscanf(line, "# %7s %127s %511[^\n]", kw, name, rest), 3);
            if (strcmp(name, fam) != 0) {
                if (fam[0])
                    assert_true(has_help && has_type && has_samples);
                for (size_t i = 0; i < n_seen; i++)
                    if (strcmp(seen[i], name) == 0) {
                        print_error("family %s comes back\n", name);
                        fail();
                    }
                assert_true(n_seen < MAX_FAMS);
                snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
                snprintf(fam, sizeof(fam), "%s", name);
                has_help = has_type = has_samples = false;
                type[0] = '\0';
            }
            assert_false(has_samples); /* metadata before the samples */
            assert_true(valid_name(name));
            if (strcmp(kw, "HELP") == 0) {
                assert_false(has_help);
                has_help = true;
            } else if (strcmp(kw, "TYPE") == 0) {
                assert_false(has_type);
                has_type = true;
                snprintf(type, sizeof(type), "%.31s", rest);
                assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0 ||
                            strcmp(type, "histogram") == 0);
                if (om && strcmp(type, "counter") == 0)
                    assert_false(ends_with(name, "_total"));
                if (!om && strcmp(type, "counter") == 0)
                    assert_true(ends_with(name, "_total"));
            } else if (strcmp(kw, "UNIT") == 0) {
                char suffix[140];

                assert_true(om);
                snprintf(suffix, sizeof(suffix), "_%.120s", rest);
                assert_true(ends_with(name, suffix));
            } else {
                fail_msg("unknown line %s", line);
            }
            continue;
        }
        /* a sample */
        {
            char *brace = strchr(line, '{'), *close, *value;
            const char *suffix;
            double v;

            assert_non_null(brace);
            *brace = '\0';
            assert_true(fam[0] && has_type);
            assert_int_equal(strncmp(line, fam, strlen(fam)), 0);
            suffix = line + strlen(fam);
            if (strcmp(type, "histogram") == 0)
                assert_true(strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
                            strcmp(suffix, "_count") == 0);
            else if (om && strcmp(type, "counter") == 0)
                assert_string_equal(suffix, "_total");
            else
                assert_string_equal(suffix, "");
            assert_int_equal(strncmp(brace + 1, "node_id=\"", 9), 0);
            close = strrchr(brace + 1, '}');
            assert_non_null(close);
            assert_int_equal(close[1], ' ');
            value = close + 2;
            assert_null(strchr(value, ' ')); /* no timestamp */
            if (strcmp(value, "+Inf") && strcmp(value, "-Inf") && strcmp(value, "NaN"))
                assert_int_equal(parse_double(value, &v), 0);
            has_samples = true;
        }
    }
    if (fam[0])
        assert_true(has_help && has_type && has_samples);
    assert_true(eof == om);
}

/* ---- negotiation ---- */

static void negotiation(void **state)
{
    static const struct {
        const char *accept;
        enum prom_format want;
    } cases[] = {
        {NULL, PROM_TEXT},
        {"", PROM_TEXT},
        {"*/*", PROM_TEXT},
        {"text/plain", PROM_TEXT},
        {"text/plain;version=0.0.4", PROM_TEXT},
        {"application/json", PROM_TEXT},
        {"application/openmetrics-text", PROM_OPENMETRICS},
        {"application/openmetrics-text; version=1.0.0", PROM_OPENMETRICS},
        {"application/openmetrics-text; version=0.0.1", PROM_OPENMETRICS},
        {"application/openmetrics-text; version=2.0.0", PROM_TEXT},
        /* Prometheus 2.42 */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         PROM_OPENMETRICS},
        /* older Prometheus */
        {"application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         PROM_OPENMETRICS},
        /* Prometheus with scrape_protocols preferring the text format */
        {"text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.9",
         PROM_TEXT},
        {"application/openmetrics-text;q=0.3,text/plain;q=0.5", PROM_TEXT},
        {"application/openmetrics-text;q=0", PROM_TEXT},
        {"application/openmetrics-text;q=0.000", PROM_TEXT},
        {"application/openmetrics-text;q=0.001", PROM_OPENMETRICS},
        {"application/openmetrics-text;q=abc", PROM_TEXT},
        {"application/openmetrics-text;q=1.5", PROM_TEXT},
        /* case-insensitive names, quoted values, blanks */
        {"Application/OpenMetrics-Text ; Version=\"1.0.0\" ; Q=0.9", PROM_OPENMETRICS},
        /* equal q: an explicit type beats a wildcard, then the first listed wins */
        {"*/*, application/openmetrics-text", PROM_OPENMETRICS},
        {"text/plain, application/openmetrics-text", PROM_TEXT},
        {"application/openmetrics-text, text/plain", PROM_OPENMETRICS},
        {"text/*;q=0.9, application/openmetrics-text;q=0.8", PROM_TEXT},
        /* a comma inside a quoted value does not split the range */
        {"application/openmetrics-text;x=\"a,b\";version=1.0.0", PROM_OPENMETRICS},
        {";;;,,,=,q=,;q", PROM_TEXT},
        {"application/openmetrics-text;version", PROM_OPENMETRICS},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (prom_negotiate(cases[i].accept) != cases[i].want) {
            print_error("Accept: %s\n", cases[i].accept ? cases[i].accept : "(none)");
            fail();
        }
    }
    assert_string_equal(prom_content_type(PROM_TEXT), "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(prom_content_type(PROM_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

/* ---- the name table ---- */

/* promtool's lint: abbreviated units, and units that have a base unit. */
static bool lint_token_ok(const char *tok, size_t n)
{
    static const char *const abbrev[] = {"s",  "ms", "us", "ns", "sec", "b", "kb",
                                         "mb", "gb", "tb", "pb", "m",   "h", "d"};
    static const char *const non_base[] = {"minutes", "hours",   "days",      "weeks",
                                           "bits",    "kelvins", "inches",    "miles",
                                           "pounds",  "percent", "fahrenheit"};
    static const char *const prefixes[] = {"pico", "nano", "micro", "milli", "centi",
                                           "kilo", "kibi", "mega",  "mebi",  "giga",
                                           "gibi", "tera", "tebi"};

    for (size_t i = 0; i < sizeof(abbrev) / sizeof(abbrev[0]); i++)
        if (strlen(abbrev[i]) == n && strncmp(tok, abbrev[i], n) == 0)
            return false;
    for (size_t i = 0; i < sizeof(non_base) / sizeof(non_base[0]); i++)
        if (strlen(non_base[i]) == n && strncmp(tok, non_base[i], n) == 0)
            return false;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);

        if (strncmp(tok, prefixes[i], pl) == 0 &&
            ((n - pl == 7 && strncmp(tok + pl, "seconds", 7) == 0) ||
             (n - pl == 5 && strncmp(tok + pl, "bytes", 5) == 0)))
            return false;
    }
    return true;
}

static void table_covers_every_series(void **state)
{
    (void)state;
    assert_int_equal(prom_map_table_len, series_table_len);
    for (size_t i = 0; i < series_table_len; i++) {
        const struct prom_map *m = prom_map_find(series_table[i].name);

        if (!m) {
            print_error("series %s has no prom_map entry\n", series_table[i].name);
            fail();
        }
        /* the renderer finds entries by position; a misplaced one costs a search */
        if (m != &prom_map_table[i]) {
            print_error("prom_map entry of %s is not at position %zu\n", series_table[i].name, i);
            fail();
        }
    }
    assert_null(prom_map_find("no.such_series"));
    for (size_t i = 0; i < prom_map_table_len; i++) {
        const struct prom_map *m = &prom_map_table[i];
        const struct series_desc *d = desc_for(m->series);
        char family[128];
        size_t len = strlen(m->name);

        assert_non_null(d);
        if (!valid_name(m->name) || strncmp(m->name, "arthamon_", 9) != 0) {
            print_error("bad name %s\n", m->name);
            fail();
        }
        if ((d->kind == SERIES_COUNTER) != ends_with(m->name, "_total")) {
            print_error("%s: counters end in _total, nothing else does\n", m->name);
            fail();
        }
        assert_true(isfinite(m->scale) && m->scale > 0);
        assert_non_null(m->unit);
        assert_true(m->help == NULL || m->help[0]);
        /* the OpenMetrics family (without _total) ends in _<unit> */
        snprintf(family, sizeof(family), "%.*s", (int)(len - (d->kind == SERIES_COUNTER ? 6 : 0)),
                 m->name);
        if (m->unit[0]) {
            char suffix[64];

            snprintf(suffix, sizeof(suffix), "_%s", m->unit);
            if (!ends_with(family, suffix)) {
                print_error("%s: UNIT %s is not its suffix\n", m->name, m->unit);
                fail();
            }
        }
        for (const char *t = m->name; *t;) {
            size_t n = strcspn(t, "_");

            if (!lint_token_ok(t, n)) {
                print_error("%s: promtool would object to \"%.*s\"\n", m->name, (int)n, t);
                fail();
            }
            t += n + (t[n] == '_');
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(prom_map_table[j].name, m->name);
    }
}

static const char *const self_names[] = {
    "arthamon_build_info",
    "arthamon_start_time_seconds",
    "arthamon_sampling_interval_seconds",
    "arthamon_ticks_total",
    "arthamon_ticks_missed_total",
    "arthamon_tick_duration_seconds",
    "arthamon_last_tick_duration_seconds",
    "arthamon_last_tick_timestamp_seconds",
    "arthamon_collector_errors_total",
    "arthamon_scrapes_total",
    "arthamon_http_requests_total",
    "arthamon_http_rejected_total",
    "arthamon_http_auth_failures_total",
    "arthamon_http_deadline_closed_total",
    "arthamon_store_appends_total",
    "arthamon_store_append_errors_total",
    "arthamon_store_series",
};

/* docs/metrics.md gives every exposed name. */
static void every_name_is_documented(void **state)
{
    static char buf[1 << 17];
    char want[160];

    (void)state;
    assert_true(read_source_file("docs/metrics.md", buf, sizeof(buf)) > 0);
    for (size_t i = 0; i < prom_map_table_len; i++) {
        snprintf(want, sizeof(want), "`%s`", prom_map_table[i].name);
        if (!strstr(buf, want)) {
            print_error("docs/metrics.md does not document %s\n", want);
            fail();
        }
    }
    for (size_t i = 0; i < sizeof(self_names) / sizeof(self_names[0]); i++) {
        snprintf(want, sizeof(want), "`%s`", self_names[i]);
        if (!strstr(buf, want)) {
            print_error("docs/metrics.md does not document %s\n", want);
            fail();
        }
    }
}

/* ---- escaping ---- */

static void escaping(void **state)
{
    struct strbuf sb;
    struct snapshot *s = snapshot_new();
    char *t;

    (void)state;
    strbuf_init(&sb, 0);
    assert_int_equal(prom_escape(&sb, "a\\b\"c\nd", PROM_ESC_LABEL), 0);
    assert_string_equal(sb.buf, "a\\\\b\\\"c\\nd");
    strbuf_reset(&sb);
    prom_escape(&sb, "a\\b\"c\nd", PROM_ESC_HELP_TEXT);
    assert_string_equal(sb.buf, "a\\\\b\"c\\nd");
    strbuf_reset(&sb);
    prom_escape(&sb, "a\\b\"c\nd", PROM_ESC_HELP_OM);
    assert_string_equal(sb.buf, "a\\\\b\\\"c\\nd");
    strbuf_reset(&sb);
    /* valid UTF-8 stays; a stray byte and a truncated sequence become U+FFFD */
    prom_escape(&sb, "caf\xc3\xa9 \xe2\x82\xac \xff x\xe2\x82", PROM_ESC_LABEL);
    assert_string_equal(sb.buf, "caf\xc3\xa9 \xe2\x82\xac \xef\xbf\xbd x\xef\xbf\xbd\xef\xbf\xbd");
    strbuf_reset(&sb);
    prom_escape(&sb, "", PROM_ESC_LABEL);
    prom_escape(&sb, NULL, PROM_ESC_LABEL);
    assert_int_equal(sb.len, 0);
    strbuf_done(&sb);

    /* label values in a rendering, node_id included */
    s->node_id = "n\"1\\";
    snapshot_map_add(s, &s->node.contract_metrics.function_calls, 2, "tr\"ans\nfer\\", 5);
    snapshot_map_add(s, &s->neural_predictions, 2, "\xff", 0.5);
    for (int fmt = PROM_TEXT; fmt <= PROM_OPENMETRICS; fmt++) {
        t = render(&sb, (enum prom_format)fmt, s, NULL);
        assert_line(t, "arthamon_node_contract_function_calls_total{node_id=\"n\\\"1\\\\\","
                       "function=\"tr\\\"ans\\nfer\\\\\"} 5");
        assert_line(t,
                    "arthamon_neural_prediction{node_id=\"n\\\"1\\\\\",name=\"\xef\xbf\xbd\"} 0.5");
        check_exposition(t, fmt == PROM_OPENMETRICS);
        strbuf_done(&sb);
    }
    snapshot_unref(s);
}

/* ---- grouping, absent figures ---- */

static void grouping_of_interleaved_families(void **state)
{
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    const char *names[2] = {"gpt", "bert"};
    char *t, *a, *b;

    (void)state;
    s->node_id = "n1";
    s->model_inference = snapshot_alloc(s, 2 * sizeof(*s->model_inference));
    s->n_model_inference = 2;
    for (int m = 0; m < 2; m++) {
        struct model_inference_metrics *mi = &s->model_inference[m];

        mi->model_name = names[m];
        mi->model_type = "transformer";
        mi->avg_inference_ms = 10 + m;
        mi->p95_inference_ms = 20 + m;
        mi->p99_inference_ms = ABSENT;
        mi->throughput_per_sec = ABSENT;
        mi->accelerator_util_percent = 50;
        snapshot_map_add(s, &mi->layer_latencies, 2, "attn", 1.5);
        snapshot_map_add(s, &mi->layer_latencies, 2, "ffn", 0.25);
    }
    for (int fmt = PROM_TEXT; fmt <= PROM_OPENMETRICS; fmt++) {
        t = render(&sb, (enum prom_format)fmt, s, NULL);
        check_exposition(t, fmt == PROM_OPENMETRICS);
        assert_int_equal(count_lines(t, "# TYPE arthamon_model_inference_avg_seconds "), 1);
        assert_int_equal(count_lines(t, "arthamon_model_inference_avg_seconds{"), 2);
        assert_int_equal(count_lines(t, "arthamon_model_layer_latency_seconds{"), 4);
        assert_int_equal(count_lines(t, "# HELP arthamon_model_inference_p99_seconds"), 0);
        /* within a family, the order the flattening gave */
        a = strstr(t, "arthamon_model_inference_avg_seconds{node_id=\"n1\",model=\"gpt\","
                      "type=\"transformer\"} 0.01\n");
        b = strstr(t, "arthamon_model_inference_avg_seconds{node_id=\"n1\",model=\"bert\","
                      "type=\"transformer\"} 0.011\n");
        assert_non_null(a);
        assert_non_null(b);
        assert_true(a < b);
        assert_line(t, "arthamon_model_layer_latency_seconds{node_id=\"n1\",model=\"bert\","
                       "type=\"transformer\",layer=\"ffn\"} 0.00025");
        assert_line(t, "arthamon_model_accelerator_utilization_ratio{node_id=\"n1\",model=\"gpt\","
                       "type=\"transformer\"} 0.5");
        /* families in the order first seen */
        assert_true(strstr(t, "# HELP arthamon_model_inference_avg_seconds") <
                    strstr(t, "# HELP arthamon_model_inference_p95_seconds"));
        assert_true(strstr(t, "# HELP arthamon_model_accelerator_utilization_ratio") <
                    strstr(t, "# HELP arthamon_model_layer_latency_seconds"));
        strbuf_done(&sb);
    }
    snapshot_unref(s);
}

/* Per-GPU families: one sample per GPU, labelled gpu, name and uuid, in base
 * units, apart from the aggregate's families (which have no gpu label). */
static void gpu_devices(void **state)
{
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char *t;

    (void)state;
    s->node_id = "n1";
    s->gpu_present = true;
    s->gpu.usage_percent = 45;
    s->gpu.power_watts = 371.5;
    for (uint32_t i = 2; i-- > 0;) { /* made out of order: the list is kept by index */
        struct gpu_device_metrics *g = snapshot_gpu_device(s, i);

        assert_non_null(g);
        g->name = i ? "NVIDIA \"A100\"" : "NVIDIA H100 80GB HBM3";
        g->uuid = i ? "GPU-b" : "GPU-a";
        g->usage_percent = i ? 80 : 10;
        g->memory_used_mb = 1024;
        g->clock_sm_mhz = 1980;
        g->power_watts = i ? 300 : 71.5;
    }
    assert_int_equal(s->gpus[0].index, 0);
    for (int fmt = PROM_TEXT; fmt <= PROM_OPENMETRICS; fmt++) {
        t = render(&sb, (enum prom_format)fmt, s, NULL);
        check_exposition(t, fmt == PROM_OPENMETRICS);
        assert_int_equal(count_lines(t, "# TYPE arthamon_gpu_device_usage_ratio "), 1);
        assert_int_equal(count_lines(t, "arthamon_gpu_device_usage_ratio{"), 2);
        assert_line(t, "arthamon_gpu_usage_ratio{node_id=\"n1\"} 0.45");
        assert_line(t, "arthamon_gpu_power_watts{node_id=\"n1\"} 371.5");
        assert_line(t, "arthamon_gpu_device_usage_ratio{node_id=\"n1\",gpu=\"0\","
                       "name=\"NVIDIA H100 80GB HBM3\",uuid=\"GPU-a\"} 0.1");
        assert_line(t, "arthamon_gpu_device_usage_ratio{node_id=\"n1\",gpu=\"1\","
                       "name=\"NVIDIA \\\"A100\\\"\",uuid=\"GPU-b\"} 0.8");
        assert_line(t, "arthamon_gpu_device_memory_used_bytes{node_id=\"n1\",gpu=\"1\","
                       "name=\"NVIDIA \\\"A100\\\"\",uuid=\"GPU-b\"} 1073741824");
        assert_line(t, "arthamon_gpu_device_sm_clock_hertz{node_id=\"n1\",gpu=\"0\","
                       "name=\"NVIDIA H100 80GB HBM3\",uuid=\"GPU-a\"} 1980000000");
        assert_line(t, "arthamon_gpu_device_power_watts{node_id=\"n1\",gpu=\"0\","
                       "name=\"NVIDIA H100 80GB HBM3\",uuid=\"GPU-a\"} 71.5");
        assert_int_equal(count_lines(t, "arthamon_gpu_device_temperature_celsius"), 0);
        if (fmt == PROM_OPENMETRICS) {
            assert_int_equal(count_lines(t, "# UNIT arthamon_gpu_device_power_watts watts"), 1);
            assert_int_equal(count_lines(t, "# UNIT arthamon_gpu_device_sm_clock_hertz hertz"), 1);
        }
        strbuf_done(&sb);
    }
    snapshot_unref(s);
}

static void absent_figures_are_not_written(void **state)
{
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char *t;

    (void)state;
    s->node_id = "n1";
    s->cpu.usage_percent = 12.34;
    s->cpu.n_cores = 3;
    s->cpu.core_usage = snapshot_alloc(s, 3 * sizeof(double));
    s->cpu.core_usage[0] = 50;
    s->cpu.core_usage[1] = ABSENT;
    s->cpu.core_usage[2] = 100;
    s->gpu.usage_percent = 40; /* gpu_present is false: not written */
    t = render(&sb, PROM_TEXT, s, NULL);
    assert_string_equal(t, "# HELP arthamon_cpu_usage_ratio Share of time all CPUs were busy "
                           "(not idle, not iowait)\n"
                           "# TYPE arthamon_cpu_usage_ratio gauge\n"
                           "arthamon_cpu_usage_ratio{node_id=\"n1\"} 0.1234\n"
                           "# HELP arthamon_cpu_core_usage_ratio Share of time one CPU was busy\n"
                           "# TYPE arthamon_cpu_core_usage_ratio gauge\n"
                           "arthamon_cpu_core_usage_ratio{node_id=\"n1\",core=\"0\"} 0.5\n"
                           "arthamon_cpu_core_usage_ratio{node_id=\"n1\",core=\"2\"} 1\n");
    strbuf_done(&sb);

    /* nothing present, nothing of our own: OpenMetrics is just the end marker */
    s->cpu.usage_percent = ABSENT;
    s->cpu.n_cores = 0;
    t = render(&sb, PROM_OPENMETRICS, s, NULL);
    assert_string_equal(t, "# EOF\n");
    strbuf_done(&sb);
    t = render(&sb, PROM_TEXT, s, NULL);
    assert_string_equal(t, "");
    strbuf_done(&sb);
    snapshot_unref(s);
}

/* ---- the agent's own figures ---- */

static const char self_text[] =
    "# HELP arthamon_build_info Version of the agent, with the node it watches; always 1\n"
    "# TYPE arthamon_build_info gauge\n"
    "arthamon_build_info{node_id=\"self-node\",version=\"1.2.3\"} 1\n"
    "# HELP arthamon_start_time_seconds When the agent started, seconds since the epoch\n"
    "# TYPE arthamon_start_time_seconds gauge\n"
    "arthamon_start_time_seconds{node_id=\"self-node\"} 1700000000.25\n"
    "# HELP arthamon_sampling_interval_seconds Configured sampling interval\n"
    "# TYPE arthamon_sampling_interval_seconds gauge\n"
    "arthamon_sampling_interval_seconds{node_id=\"self-node\"} 0.5\n"
    "# HELP arthamon_ticks_total Sampler ticks completed\n"
    "# TYPE arthamon_ticks_total counter\n"
    "arthamon_ticks_total{node_id=\"self-node\"} 7\n"
    "# HELP arthamon_ticks_missed_total Sampling intervals skipped because the sampler fell "
    "behind\n"
    "# TYPE arthamon_ticks_missed_total counter\n"
    "arthamon_ticks_missed_total{node_id=\"self-node\"} 1\n"
    "# HELP arthamon_tick_duration_seconds Wall time of one sampler tick\n"
    "# TYPE arthamon_tick_duration_seconds histogram\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"5e-05\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0001\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.00025\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0005\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.001\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0025\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.005\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.01\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.05\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.25\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"+Inf\"} 7\n"
    "arthamon_tick_duration_seconds_sum{node_id=\"self-node\"} 0.5\n"
    "arthamon_tick_duration_seconds_count{node_id=\"self-node\"} 7\n"
    "# HELP arthamon_last_tick_duration_seconds Wall time the last tick took\n"
    "# TYPE arthamon_last_tick_duration_seconds gauge\n"
    "arthamon_last_tick_duration_seconds{node_id=\"self-node\"} 0.0015\n"
    "# HELP arthamon_collector_errors_total Failed collections, by collector\n"
    "# TYPE arthamon_collector_errors_total counter\n"
    "arthamon_collector_errors_total{node_id=\"self-node\",collector=\"cpu\"} 3\n"
    "# HELP arthamon_scrapes_total Scrapes of the metrics served\n"
    "# TYPE arthamon_scrapes_total counter\n"
    "arthamon_scrapes_total{node_id=\"self-node\"} 4\n"
    "# HELP arthamon_http_requests_total HTTP requests received\n"
    "# TYPE arthamon_http_requests_total counter\n"
    "arthamon_http_requests_total{node_id=\"self-node\"} 10\n"
    "# HELP arthamon_http_rejected_total HTTP requests answered 4xx\n"
    "# TYPE arthamon_http_rejected_total counter\n"
    "arthamon_http_rejected_total{node_id=\"self-node\"} 2\n"
    "# HELP arthamon_http_auth_failures_total HTTP requests refused for missing or wrong "
    "credentials\n"
    "# TYPE arthamon_http_auth_failures_total counter\n"
    "arthamon_http_auth_failures_total{node_id=\"self-node\"} 1\n"
    "# HELP arthamon_http_deadline_closed_total Connections closed because a request's headers "
    "were not in within http.request_timeout_sec\n"
    "# TYPE arthamon_http_deadline_closed_total counter\n"
    "arthamon_http_deadline_closed_total{node_id=\"self-node\"} 5\n";

static const char self_om[] =
    "# HELP arthamon_build_info Version of the agent, with the node it watches; always 1\n"
    "# TYPE arthamon_build_info gauge\n"
    "arthamon_build_info{node_id=\"self-node\",version=\"1.2.3\"} 1\n"
    "# HELP arthamon_start_time_seconds When the agent started, seconds since the epoch\n"
    "# TYPE arthamon_start_time_seconds gauge\n"
    "# UNIT arthamon_start_time_seconds seconds\n"
    "arthamon_start_time_seconds{node_id=\"self-node\"} 1700000000.25\n"
    "# HELP arthamon_sampling_interval_seconds Configured sampling interval\n"
    "# TYPE arthamon_sampling_interval_seconds gauge\n"
    "# UNIT arthamon_sampling_interval_seconds seconds\n"
    "arthamon_sampling_interval_seconds{node_id=\"self-node\"} 0.5\n"
    "# HELP arthamon_ticks Sampler ticks completed\n"
    "# TYPE arthamon_ticks counter\n"
    "arthamon_ticks_total{node_id=\"self-node\"} 7\n"
    "# HELP arthamon_ticks_missed Sampling intervals skipped because the sampler fell behind\n"
    "# TYPE arthamon_ticks_missed counter\n"
    "arthamon_ticks_missed_total{node_id=\"self-node\"} 1\n"
    "# HELP arthamon_tick_duration_seconds Wall time of one sampler tick\n"
    "# TYPE arthamon_tick_duration_seconds histogram\n"
    "# UNIT arthamon_tick_duration_seconds seconds\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"5e-05\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0001\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.00025\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0005\"} 2\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.001\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.0025\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.005\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.01\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.05\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"0.25\"} 6\n"
    "arthamon_tick_duration_seconds_bucket{node_id=\"self-node\",le=\"+Inf\"} 7\n"
    "arthamon_tick_duration_seconds_sum{node_id=\"self-node\"} 0.5\n"
    "arthamon_tick_duration_seconds_count{node_id=\"self-node\"} 7\n"
    "# HELP arthamon_last_tick_duration_seconds Wall time the last tick took\n"
    "# TYPE arthamon_last_tick_duration_seconds gauge\n"
    "# UNIT arthamon_last_tick_duration_seconds seconds\n"
    "arthamon_last_tick_duration_seconds{node_id=\"self-node\"} 0.0015\n"
    "# HELP arthamon_collector_errors Failed collections, by collector\n"
    "# TYPE arthamon_collector_errors counter\n"
    "arthamon_collector_errors_total{node_id=\"self-node\",collector=\"cpu\"} 3\n"
    "# HELP arthamon_scrapes Scrapes of the metrics served\n"
    "# TYPE arthamon_scrapes counter\n"
    "arthamon_scrapes_total{node_id=\"self-node\"} 4\n"
    "# HELP arthamon_http_requests HTTP requests received\n"
    "# TYPE arthamon_http_requests counter\n"
    "arthamon_http_requests_total{node_id=\"self-node\"} 10\n"
    "# HELP arthamon_http_rejected HTTP requests answered 4xx\n"
    "# TYPE arthamon_http_rejected counter\n"
    "arthamon_http_rejected_total{node_id=\"self-node\"} 2\n"
    "# HELP arthamon_http_auth_failures HTTP requests refused for missing or wrong credentials\n"
    "# TYPE arthamon_http_auth_failures counter\n"
    "arthamon_http_auth_failures_total{node_id=\"self-node\"} 1\n"
    "# HELP arthamon_http_deadline_closed Connections closed because a request's headers were "
    "not in within http.request_timeout_sec\n"
    "# TYPE arthamon_http_deadline_closed counter\n"
    "arthamon_http_deadline_closed_total{node_id=\"self-node\"} 5\n"
    "# EOF\n";

static void self_metrics_without_snapshot(void **state)
{
    struct prom_self self;
    struct strbuf sb;
    char *t;

    (void)state;
    small_self(&self);
    t = render(&sb, PROM_TEXT, NULL, &self);
    assert_string_equal(t, self_text);
    check_exposition(t, false);
    strbuf_done(&sb);
    t = render(&sb, PROM_OPENMETRICS, NULL, &self);
    assert_string_equal(t, self_om);
    check_exposition(t, true);
    strbuf_done(&sb);

    /* the publish time once there is one; collectors without a name are left out;
     * no node id and no version at all still give valid labels */
    self.stats.last_tick_unix_ms = 1700000001234;
    self.stats.collector_names[1] = NULL;
    self.stats.ncollectors = 2;
    self.node_id = NULL;
    self.version = NULL;
    t = render(&sb, PROM_TEXT, NULL, &self);
    assert_line(t, "arthamon_last_tick_timestamp_seconds{node_id=\"\"} 1700000001.234");
    assert_line(t, "arthamon_build_info{node_id=\"\",version=\"\"} 1");
    assert_int_equal(count_lines(t, "arthamon_collector_errors_total{"), 1);
    check_exposition(t, false);
    strbuf_done(&sb);
}

/* The snapshot's node id wins over the agent's, on every sample. */
static void node_id_of_the_snapshot(void **state)
{
    struct prom_self self;
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char *t;

    (void)state;
    small_self(&self);
    s->node_id = "snap-node";
    s->memory.physical_used_mb = 1.5;
    t = render(&sb, PROM_TEXT, s, &self);
    assert_null(strstr(t, "self-node"));
    assert_line(t, "arthamon_build_info{node_id=\"snap-node\",version=\"1.2.3\"} 1");
    assert_line(t, "arthamon_memory_physical_used_bytes{node_id=\"snap-node\"} 1572864");
    strbuf_done(&sb);
    snapshot_unref(s);
}

static void histogram_is_cumulative(void **state)
{
    struct prom_self self;
    struct strbuf sb;
    char *t;

    (void)state;
    memset(&self, 0, sizeof(self));
    for (size_t i = 0; i <= MONITOR_TICK_BUCKETS; i++)
        self.stats.tick_buckets[i] = i + 1; /* 1, 2, 3, ... */
    self.stats.tick_seconds_sum = 1.0 / 3;
    t = render(&sb, PROM_OPENMETRICS, NULL, &self);
    check_exposition(t, true);
    assert_line(t, "arthamon_tick_duration_seconds_bucket{node_id=\"\",le=\"5e-05\"} 1");
    assert_line(t, "arthamon_tick_duration_seconds_bucket{node_id=\"\",le=\"0.0001\"} 3");
    assert_line(t, "arthamon_tick_duration_seconds_bucket{node_id=\"\",le=\"0.00025\"} 6");
    assert_line(t, "arthamon_tick_duration_seconds_bucket{node_id=\"\",le=\"0.25\"} 55");
    assert_line(t, "arthamon_tick_duration_seconds_bucket{node_id=\"\",le=\"+Inf\"} 66");
    assert_line(t, "arthamon_tick_duration_seconds_count{node_id=\"\"} 66");
    assert_line(t, "arthamon_tick_duration_seconds_sum{node_id=\"\"} 0.3333333333333333");
    assert_int_equal(count_lines(t, "arthamon_tick_duration_seconds_bucket{"),
                     MONITOR_TICK_BUCKETS + 1);
    strbuf_done(&sb);
}

/* ---- small snapshots, both formats ---- */

static void golden_small_snapshot(void **state)
{
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char *t;

    (void)state;
    s->node_id = "n1";
    s->cpu.seconds_total[0] = 100.5; /* user */
    s->cpu.seconds_total[3] = 2000;  /* idle */
    s->disk.read_mbps = 1.5;
    s->network.latency_ms = 0.25;
    t = render(&sb, PROM_TEXT, s, NULL);
    assert_string_equal(t, "# HELP arthamon_cpu_seconds_total CPU time by mode, all CPUs\n"
                           "# TYPE arthamon_cpu_seconds_total counter\n"
                           "arthamon_cpu_seconds_total{node_id=\"n1\",mode=\"user\"} 100.5\n"
                           "arthamon_cpu_seconds_total{node_id=\"n1\",mode=\"idle\"} 2000\n"
                           "# HELP arthamon_disk_read_bytes_per_second Bytes read per second, all "
                           "real block devices\n"
                           "# TYPE arthamon_disk_read_bytes_per_second gauge\n"
                           "arthamon_disk_read_bytes_per_second{node_id=\"n1\"} 1572864\n"
                           "# HELP arthamon_network_latency_seconds Mean smoothed RTT of the P2P "
                           "connections\n"
                           "# TYPE arthamon_network_latency_seconds gauge\n"
                           "arthamon_network_latency_seconds{node_id=\"n1\"} 0.00025\n");
    strbuf_done(&sb);
    t = render(&sb, PROM_OPENMETRICS, s, NULL);
    assert_string_equal(t, "# HELP arthamon_cpu_seconds CPU time by mode, all CPUs\n"
                           "# TYPE arthamon_cpu_seconds counter\n"
                           "# UNIT arthamon_cpu_seconds seconds\n"
                           "arthamon_cpu_seconds_total{node_id=\"n1\",mode=\"user\"} 100.5\n"
                           "arthamon_cpu_seconds_total{node_id=\"n1\",mode=\"idle\"} 2000\n"
                           "# HELP arthamon_disk_read_bytes_per_second Bytes read per second, all "
                           "real block devices\n"
                           "# TYPE arthamon_disk_read_bytes_per_second gauge\n"
                           "# UNIT arthamon_disk_read_bytes_per_second bytes_per_second\n"
                           "arthamon_disk_read_bytes_per_second{node_id=\"n1\"} 1572864\n"
                           "# HELP arthamon_network_latency_seconds Mean smoothed RTT of the P2P "
                           "connections\n"
                           "# TYPE arthamon_network_latency_seconds gauge\n"
                           "# UNIT arthamon_network_latency_seconds seconds\n"
                           "arthamon_network_latency_seconds{node_id=\"n1\"} 0.00025\n"
                           "# EOF\n");
    strbuf_done(&sb);
    snapshot_unref(s);
}

/* ---- numbers ---- */

/* The value of the sample line that starts with prefix. */
static const char *value_of(const char *text, const char *prefix, char *buf, size_t len)
{
    const char *p = strstr(text, prefix), *sp, *nl;

    assert_non_null(p);
    nl = strchr(p, '\n');
    sp = nl;
    while (sp > p && sp[-1] != ' ')
        sp--;
    snprintf(buf, len, "%.*s", (int)(nl - sp), sp);
    return buf;
}

static void numbers(void **state)
{
    static const double values[] = {0.1,           1.0 / 3, -2.5,      1e300,  1e-300,
                                    123456789.123, 0x1p60,  0.1 + 0.2, 1e21,   -1234567.,
                                    4.35,          1e-7,    0.00025,   2.5e15, 9007199254740993.0};
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char key[16], prefix[64], v[64];
    char *t;

    (void)state;
    s->node_id = "n";
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(key, sizeof(key), "v%zu", i);
        snapshot_map_add(s, &s->neural_predictions, 16, key, values[i]);
    }
    snapshot_map_add(s, &s->neural_predictions, 16, "pinf", INFINITY);
    snapshot_map_add(s, &s->neural_predictions, 16, "minf", -INFINITY);
    snapshot_map_add(s, &s->neural_predictions, 16, "zero", -0.0);
    /* scaled figures */
    s->cpu.usage_percent = 12.34;
    s->cpu.frequency_mhz = 2400.1;
    s->memory.physical_used_mb = 12.34; /* 2 decimals of MiB: exact in bytes */
    s->disk.available_gb = 1;
    s->network.ingress_kbps = 1.5;
    s->network.packet_loss_percent = 0.001;
    s->node.blocks_per_min = 6;
    s->node.avg_tx_validation_ms = 0.123;
    s->quantum_present = true;
    s->quantum.qrng_throughput = 1000;
    t = render(&sb, PROM_TEXT, s, NULL);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        double back;

        snprintf(prefix, sizeof(prefix), "arthamon_neural_prediction{node_id=\"n\",name=\"v%zu\"}",
                 i);
        value_of(t, prefix, v, sizeof(v));
        assert_int_equal(parse_double(v, &back), 0);
        if (back != values[i]) {
            print_error("%.17g written as %s\n", values[i], v);
            fail();
        }
    }
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"v0\"} 0.1");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"v2\"} -2.5");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"v6\"} 1152921504606846976");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"v10\"} 4.35");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"v11\"} 0.0000001");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"pinf\"} +Inf");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"minf\"} -Inf");
    assert_line(t, "arthamon_neural_prediction{node_id=\"n\",name=\"zero\"} 0");
    assert_line(t, "arthamon_cpu_usage_ratio{node_id=\"n\"} 0.1234");
    assert_line(t, "arthamon_cpu_frequency_hertz{node_id=\"n\"} 2400100000");
    /* sizes are whole bytes: 12.34 MiB is 12939427.84 bytes */
    assert_line(t, "arthamon_memory_physical_used_bytes{node_id=\"n\"} 12939428");
    assert_line(t, "arthamon_disk_available_bytes{node_id=\"n\"} 1073741824");
    assert_line(t, "arthamon_network_ingress_bytes_per_second{node_id=\"n\"} 1536");
    assert_line(t, "arthamon_network_packet_loss_ratio{node_id=\"n\"} 0.00001");
    assert_line(t, "arthamon_node_blocks_per_second{node_id=\"n\"} 0.1");
    assert_line(t, "arthamon_node_avg_tx_validation_seconds{node_id=\"n\"} 0.000123");
    assert_line(t, "arthamon_quantum_qrng_throughput_bytes_per_second{node_id=\"n\"} 125");
    check_exposition(t, false);
    strbuf_done(&sb);
    snapshot_unref(s);
}

/* ---- limits ---- */

static void overflow_and_limits(void **state)
{
    struct prom_self self;
    struct snapshot *s = snapshot_new();
    struct strbuf sb;
    char key[16];

    (void)state;
    small_self(&self);
    strbuf_init(&sb, 100);
    assert_int_equal(prom_render(&sb, PROM_TEXT, NULL, &self), -ENOSPC);
    strbuf_done(&sb);

    for (unsigned i = 0; i <= PROM_MAX_SAMPLES; i++) {
        snprintf(key, sizeof(key), "k%u", i);
        assert_int_equal(snapshot_map_add(s, &s->neural_predictions, PROM_MAX_SAMPLES + 1, key, 1),
                         0);
    }
    strbuf_init(&sb, 0);
    assert_int_equal(prom_render(&sb, PROM_TEXT, s, &self), -ENOSPC);
    strbuf_done(&sb);
    snapshot_unref(s);
}

/* ---- full snapshots ---- */

#define SET_FIGURE(id, path, member, unit, kind, dec, help) s->member = 1.25;
#define SET_MODEL(id, path, member, unit, kind, dec, help)  mi->member = 2.5;
#define SET_GPUS(id, path, member, unit, kind, dec, help)   g->member = 3.75;

/* Every figure a snapshot can hold, present. */
static struct snapshot *full_snapshot(void)
{
    struct snapshot *s = snapshot_new();
    struct model_inference_metrics *mi;
    struct gpu_device_metrics *g;

    s->node_id = "full";
    CPU_FIELDS(SET_FIGURE)
    MEMORY_FIELDS(SET_FIGURE)
    GC_FIELDS(SET_FIGURE)
    DISK_FIELDS(SET_FIGURE)
    NETWORK_FIELDS(SET_FIGURE)
    GPU_FIELDS(SET_FIGURE)
    NODE_FIELDS(SET_FIGURE)
    CONSENSUS_FIELDS(SET_FIGURE)
    CONTRACT_FIELDS(SET_FIGURE)
    QUANTUM_FIELDS(SET_FIGURE)
    QSIM_FIELDS(SET_FIGURE)
    s->gpu_present = s->memory.gc_present = s->quantum_present = true;
    s->quantum.simulation_present = true;
    s->cpu.n_cores = 2;
    s->cpu.core_usage = snapshot_alloc(s, 2 * sizeof(double));
    s->cpu.core_usage[0] = 10;
    s->cpu.core_usage[1] = 20;
    for (size_t i = 0; i < 8; i++)
        s->cpu.seconds_total[i] = (double)i * 100;
    snapshot_map_add(s, &s->node.contract_metrics.function_calls, 2, "transfer", 7);
    s->n_model_inference = 1;
    s->model_inference = mi = snapshot_alloc(s, sizeof(*mi));
    mi->model_name = "m";
    mi->model_type = "t";
    MODEL_FIELDS(SET_MODEL)
    snapshot_map_add(s, &mi->layer_latencies, 2, "l", 1);
    snapshot_map_add(s, &s->neural_predictions, 2, "p", 0.5);
    g = snapshot_gpu_device(s, 0);
    g->name = "NVIDIA H100 80GB HBM3";
    g->uuid = "GPU-0";
    GPUS_FIELDS(SET_GPUS)
    return s;
}

static void full_snapshot_has_every_name(void **state)
{
    struct snapshot *s = full_snapshot();
    struct prom_self self;
    struct strbuf sb;
    char want[128];
    char *t;

    (void)state;
    small_self(&self);
    for (int fmt = PROM_TEXT; fmt <= PROM_OPENMETRICS; fmt++) {
        t = render(&sb, (enum prom_format)fmt, s, &self);
        check_exposition(t, fmt == PROM_OPENMETRICS);
        for (size_t i = 0; i < prom_map_table_len; i++) {
            snprintf(want, sizeof(want), "%s{node_id=\"full\"", prom_map_table[i].name);
            if (count_lines(t, want) == 0) {
                print_error("no sample of %s\n", prom_map_table[i].name);
                fail();
            }
        }
        strbuf_done(&sb);
    }
    snapshot_unref(s);
}

/* A snapshot of this host, from the real collectors. */
static void host_snapshot(void **state)
{
    struct config cfg;
    struct sampler smp;
    struct snapshot *s;
    struct prom_self self;
    struct strbuf sb;
    char *t;

    (void)state;
    log_set_level(LOG_ERROR);
    config_defaults(&cfg);
    cfg.agent.node_id = strdup("host");
    assert_int_equal(sampler_init(&smp, &cfg), 0);
    snapshot_unref(sampler_tick(&smp));
    usleep(20000);
    s = sampler_tick(&smp);
    assert_non_null(s);
    snapshot_round(s);
    small_self(&self);
    for (int fmt = PROM_TEXT; fmt <= PROM_OPENMETRICS; fmt++) {
        t = render(&sb, (enum prom_format)fmt, s, &self);
        check_exposition(t, fmt == PROM_OPENMETRICS);
        assert_non_null(strstr(t, "arthamon_memory_physical_total_bytes{node_id=\"host\"} "));
        strbuf_done(&sb);
    }
    snapshot_unref(s);
    sampler_done(&smp);
    config_done(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negotiation),
        cmocka_unit_test(table_covers_every_series),
        cmocka_unit_test(every_name_is_documented),
        cmocka_unit_test(escaping),
        cmocka_unit_test(grouping_of_interleaved_families),
        cmocka_unit_test(gpu_devices),
        cmocka_unit_test(absent_figures_are_not_written),
        cmocka_unit_test(self_metrics_without_snapshot),
        cmocka_unit_test(node_id_of_the_snapshot),
        cmocka_unit_test(histogram_is_cumulative),
        cmocka_unit_test(golden_small_snapshot),
        cmocka_unit_test(numbers),
        cmocka_unit_test(overflow_and_limits),
        cmocka_unit_test(full_snapshot_has_every_name),
        cmocka_unit_test(host_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
