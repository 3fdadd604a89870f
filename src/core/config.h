/*
 * Configuration: the seed's PerformanceMonitoringConfig, key for key, plus the
 * `agent:` section for what a daemon needs beyond it.
 *
 * config_defaults() fills the seed's defaults; config_load_*() overlays a YAML
 * document on them, checking every key against a schema table: an unknown key,
 * a wrong type or an out-of-range value is reported as "FILE:LINE:COL: message"
 * (one line each, all of them) and the load fails. config_resolve() then turns
 * the parsed values into usable ones on this host (hostname as node_id, data and
 * log directories that exist and are writable) and logs each fallback it takes.
 *
 * A struct config owns all its strings; config_done() releases them and accepts
 * a zeroed or half-built config. Not thread-safe: the monitor swaps whole
 * configs on reload.
 */
#ifndef AM_CORE_CONFIG_H
#define AM_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "log.h"

#define CONFIG_MAX_FILE_SIZE ((size_t)1 << 20)
#define CONFIG_MAX_STRING    4096
#define CONFIG_MAX_LIST      64

struct config_strlist {
    char **v;
    size_t n;
};

struct config_ports {
    uint16_t v[CONFIG_MAX_LIST];
    size_t n;
};

/* A detection rule from the configuration (detection.rules[]): fires when the
 * series compares to `trigger` by `condition` for `for_sec`, clears when it no
 * longer compares to `clear` (hysteresis). */
struct config_detect_rule {
    char *name;                    /* anomaly_type of what it raises: [a-z0-9_], 1..64 */
    char *series;                  /* a series key as the history names it: "cpu.usage_percent" */
    char *condition;               /* ">", ">=", "<", "<=" */
    double trigger;                /* the level that raises it */
    double clear;                  /* the level past which it clears; NaN (default): trigger */
    double for_sec;                /* how long the condition must hold, seconds (0: one tick) */
    uint32_t severity;             /* 1..5, default 3 */
    char *component;               /* NULL: the series' first name part ("cpu") */
    char *description;             /* NULL: written from the rule */
    struct config_strlist actions; /* suggested actions, at most 8 */
    bool quantum_relevant;
};

struct config {
    bool enabled;
    struct {
        bool enabled;
        uint64_t sampling_interval_ms;
        uint32_t retention_period_days;
        struct {
            bool enabled;
            char *model_path;
            uint64_t prediction_interval_ms;
            double confidence_threshold;
        } ai_optimization;
        struct {
            bool enabled;
            bool simulation_metrics;
            bool security_level_monitoring;
            /* extensions: what the node uses (names of collect/pqsec.h's table; a
             * name or a list in the file), for security_level_bits */
            struct config_strlist signature_algorithm;
            struct config_strlist key_exchange_algorithm;
            struct config_strlist hash_algorithm;
            /* the probes (collect/qprobe.h) */
            char *qrng_source;           /* "getrandom" (default), "none", or an absolute path */
            uint32_t probe_interval_sec; /* between two rounds of the probes, default 60 */
            uint32_t qrng_window_ms;     /* a device source's window, default 1000 */
            bool merkle_probe;           /* the built-in Merkle probe, default true */
        } quantum_monitoring;
        struct {
            enum log_level level;
            char *output_dir;
            bool stdout_enabled; /* key "stdout" */
        } logging;
    } monitoring;
    char *models_path;
    struct {
        bool dashboard_enabled;
        uint16_t dashboard_port; /* 0: any free port */
        bool prometheus_enabled;
        char *prometheus_endpoint;
        bool grafana_present; /* the seed's Option<GrafanaConfig> */
        struct {
            char *url;
            char *api_key;
            char *dashboard_id;
        } grafana;
        bool quantum_visualization;
    } visualization;
    struct {
        bool enabled;
        char *email;       /* NULL: none; recipient(s) of e-mail alerts, comma-separated */
        char *webhook_url; /* NULL: none */
        uint8_t min_severity;
        bool quantum_alerts;
        /* extensions: the channels (src/alert/channels/) and the delivery policy */
        bool console;           /* lines on stderr, default true */
        bool log_file;          /* JSON Lines in <logging.output_dir>/alerts.jsonl, default true */
        uint64_t log_max_bytes; /* rotate past this size, default 10 MiB */
        uint32_t log_keep;      /* rotated files kept, default 5 */
        struct config_strlist webhook_headers; /* "Name: value" (secret) */
        char *webhook_secret;                  /* HMAC-SHA256 signing key (secret) */
        char *webhook_secret_file;
        char *alertmanager_url;           /* "http://host:9093": posts to /api/v2/alerts */
        uint32_t alertmanager_resend_sec; /* open alerts re-posted this often, default 60 */
        char *smtp_url;                   /* "smtp://host:587" or "smtps://host:465" */
        char *smtp_user;
        char *smtp_password; /* secret */
        char *smtp_password_file;
        char *smtp_from;
        bool smtp_starttls;  /* smtp://: require STARTTLS, default true */
        char *smtp_ca_file;  /* CA bundle for the SMTP server's certificate */
        uint32_t timeout_ms; /* per delivery attempt on the network channels, default 10000 */
        uint32_t
            repeat_interval_sec;    /* an open alert is re-sent this often, default 4 h; 0 never */
        uint32_t hold_down_sec;     /* a resolved alert firing again within it stays one */
        uint32_t storm_threshold;   /* alerts a minute before grouping, default 20; 0 never */
        uint32_t retry_max_sec;     /* back-off ceiling, default 120 */
        uint32_t give_up_after_sec; /* a notification undelivered this long fails, 1 day */
    } alerts;
    struct {
        char *node_id;  /* NULL: hostname */
        char *data_dir; /* NULL: /var/lib/arthamon as root, else ~/.local/state/arthamon */
        char *listen_address;
        char *procfs_root;
        char *sysfs_root;
        struct {
            int64_t pid; /* 0: none */
            char *pidfile;
            char *name;
        } process;
        struct config_ports p2p_ports;
        char *disk_path;
        struct config_strlist net_exclude;
        uint32_t history_size;
        bool console_summary;
    } agent;
    /* the history database (<data_dir>/arthamon.db) */
    struct {
        bool enabled;
        uint32_t minute_days; /* per-minute tier */
        uint32_t hour_days;   /* per-hour tier */
        uint32_t maintenance_interval_sec;
    } storage;
    /* the daemon's HTTP server: JSON API, /metrics, dashboard (on
     * visualization.dashboard_port, bound to agent.listen_address) */
    struct {
        bool enabled;
        struct {
            char *cert_file; /* both set: HTTPS only */
            char *key_file;
        } tls;
        struct {
            char *bearer_token; /* secret */
            char *bearer_token_file;
            char *basic_user;
            char *basic_password_hash; /* crypt(3) hash, see `arthamon hash-password` */
            bool metrics_open;         /* /metrics without credentials */
        } auth;
        uint32_t max_connections;
        uint32_t threads;
        uint32_t idle_timeout_sec;    /* a connection with no traffic is closed */
        uint32_t request_timeout_sec; /* headers must be complete within this */
        uint32_t max_header_bytes;
        uint32_t max_history_page;
    } http;
    /* the StatsD/DogStatsD server (src/ingest) */
    struct {
        bool enabled; /* default true */
        /* UDP "HOST:PORT", default "127.0.0.1:8125"; "" = no UDP socket; port 0 = any free
         * port (tests), as visualization.dashboard_port */
        char *listen;
        char *unix_socket;     /* path of a Unix datagram socket; NULL (default) = none */
        uint32_t max_series;   /* cardinality limit, default 10000, range 1..10000000 */
        uint32_t rcvbuf_bytes; /* SO_RCVBUF asked for, default 33554432, range 65536..1073741824 */
        double histogram_buckets[CONFIG_MAX_LIST]; /* upper bounds in SECONDS, strictly
                                                      increasing, finite, > 0 */
        size_t n_histogram_buckets; /* default: 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10
                                       (statsd_exporter's) */
        struct config_statsd_rule {
            char *match; /* a StatsD metric name; '*' matches one whole dot-separated component,
                            e.g. "app.*.tx_time" */
            char *field; /* one of the sink names (config_statsd_sink_ok()) */
        } mapping[CONFIG_MAX_LIST];
        size_t n_mapping; /* default 0: only the built-in mapping applies */
    } statsd;
    /* anomaly detection (src/detect): rules, learned detectors, predictions; the
     * learned layers and the predictions also need monitoring.ai_optimization.enabled */
    struct {
        bool enabled;                   /* default true */
        uint32_t warmup_ticks;          /* learned detectors stay silent this long, default 300 */
        uint32_t resolve_ticks;         /* normal ticks before an anomaly is resolved, default 5 */
        double multivariate_threshold;  /* joint score that raises an anomaly, default 0.5 */
        double series_gate_z;           /* deviations a flagged series value lies off, default 3 */
        uint32_t max_series;            /* series given a learned detector, default 512 */
        uint32_t min_security_bits;     /* quantum_security_low below this, default 128 */
        bool builtin_rules;             /* default true */
        struct config_strlist disabled; /* built-in rules turned off, by name */
        struct config_detect_rule rules[CONFIG_MAX_LIST];
        size_t n_rules;
    } detection;
};

/* Longest statsd.mapping match pattern, in bytes. */
#define CONFIG_STATSD_MATCH_MAX 200

void config_defaults(struct config *cfg);
void config_done(struct config *cfg);

/*
 * Overlays the YAML in buf (name is used in messages) on cfg, which must hold
 * defaults or a previous load. On failure returns -EINVAL and appends one line
 * per problem to errs; cfg may then be partly updated and should be discarded.
 */
int config_load_buffer(struct config *cfg, const char *name, const char *buf, size_t len,
                       struct strbuf *errs);
/* As config_load_buffer() for a file; -errno (with a line in errs) if it cannot be read. */
int config_load_file(struct config *cfg, const char *path, struct strbuf *errs);

/*
 * Fills what depends on the host: node_id (hostname) and data_dir (defaults),
 * and with make_dirs also creates data_dir and makes sure logging.output_dir is
 * writable (falling back to <data_dir>/log, logged). Returns 0, or -errno with a
 * line in errs if data_dir is unusable.
 */
int config_resolve(struct config *cfg, bool make_dirs, struct strbuf *errs);

/* Calls fn with the dotted path of every key the schema accepts ("monitoring.logging.level"),
 * leaves and sections alike, parents first. */
void config_foreach_key(void (*fn)(void *ctx, const char *path, bool is_section), void *ctx);

/* The config as JSON, keys as in the YAML; secrets (tokens, password hashes,
 * API keys) that are set are written as "<redacted>". */
int config_to_json(const struct config *cfg, struct strbuf *out);

/* True if t can be sent as a bearer token (RFC 6750 b64token, 1 to 1024 bytes). */
bool config_token_ok(const char *t);

/*
 * True if name is one of the sinks a statsd.mapping rule may name as its `field`:
 * a snapshot field ("node.mempool_size", "model_inference.avg_inference_ms", ...,
 * as listed in docs/config.md) or "drop". NULL: false. Pure, thread-safe.
 */
bool config_statsd_sink_ok(const char *name);

/*
 * Splits "HOST:PORT" as statsd.listen takes it: HOST is an IPv4 address, a DNS
 * name, or an IPv6 address in brackets ("[::1]:8125"); PORT is 0 to 65535 in
 * decimal (0: the caller binds any free port). On success copies HOST (without brackets) into host
 * (host_size bytes with the NUL) and writes *ret_port; on failure writes neither and returns
 * -EINVAL (not HOST:PORT) or -ENAMETOOLONG (HOST does not fit). host may be NULL
 * to validate only. Pure, thread-safe.
 */
int config_split_hostport(const char *s, char *host, size_t host_size, uint16_t *ret_port);

/* Deep copy; -ENOMEM (dst then holds nothing to free). */
int config_copy(struct config *dst, const struct config *src);

/* Applies monitoring.logging: level, stdout, and the file <output_dir>/arthamon.log
 * (a file that cannot be opened is logged and skipped). */
void config_apply_logging(const struct config *cfg);

#endif
