#define LOG_MODULE "config"
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "anomaly.h"
#include "collect/pqsec.h"
#include "common/parse.h"
#include "detect/engine.h"
#include "ingest/agg.h"
#include "snapshot.h"

enum key_type {
    T_BOOL,
    T_UINT,   /* unsigned; `width` bytes */
    T_INT,    /* int64_t */
    T_DOUBLE, /* double */
    T_STR,    /* char *, never NULL once loaded */
    T_STR_NULL,
    T_LOGLEVEL,
    T_PORTS,
    T_STRLIST,
    T_SECTION,
    T_SECTION_OPT, /* seed's Option<Section>: null clears `present` */
    T_BUCKETS,     /* double[CONFIG_MAX_LIST], count (size_t) at count_offset */
    T_RULES,       /* struct config_statsd_rule[CONFIG_MAX_LIST], count at count_offset;
                      `section` names the keys of one rule */
    T_DRULES,      /* struct config_detect_rule[CONFIG_MAX_LIST], count at count_offset;
                      `section` names the keys of one rule, offsets into the rule */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset;
    unsigned width;
    double min, max;
    const struct key *section;
    size_t present_offset;
    size_t count_offset; /* T_BUCKETS, T_RULES */
    bool secret;         /* never shown: config_to_json() writes "<redacted>" */
    bool one_or_list;    /* T_STRLIST: a single string is a list of one */
    /* T_STR, T_STR_NULL: NULL if the (non-NULL) value is acceptable, else what it must be */
    const char *(*check)(const char *v);
};

#define OFF(m) offsetof(struct config, m)
#define K_BOOL(n, m)                                \
    {                                               \
        .name = n, .type = T_BOOL, .offset = OFF(m) \
    }
#define K_UINT(n, m, lo, hi)                                                                   \
    {                                                                                          \
        .name = n, .type = T_UINT, .offset = OFF(m), .width = sizeof(((struct config *)0)->m), \
        .min = lo, .max = hi                                                                   \
    }
#define K_INT(n, m, lo, hi)                                              \
    {                                                                    \
        .name = n, .type = T_INT, .offset = OFF(m), .min = lo, .max = hi \
    }
#define K_DBL(n, m, lo, hi)                                                 \
    {                                                                       \
        .name = n, .type = T_DOUBLE, .offset = OFF(m), .min = lo, .max = hi \
    }
#define K_STR(n, m)                                \
    {                                              \
        .name = n, .type = T_STR, .offset = OFF(m) \
    }
#define K_STRN(n, m)                                    \
    {                                                   \
        .name = n, .type = T_STR_NULL, .offset = OFF(m) \
    }
#define K_SECRET(n, m)                                                  \
    {                                                                   \
        .name = n, .type = T_STR_NULL, .offset = OFF(m), .secret = true \
    }
#define K_TYPE(n, t, m)                        \
    {                                          \
        .name = n, .type = t, .offset = OFF(m) \
    }
#define K_SECT(n, keys)                               \
    {                                                 \
        .name = n, .type = T_SECTION, .section = keys \
    }
#define K_LIST(n, t, m, cnt)                                             \
    {                                                                    \
        .name = n, .type = t, .offset = OFF(m), .count_offset = OFF(cnt) \
    }
#define K_END        \
    {                \
        .name = NULL \
    }

static const struct key ai_keys[] = {
    K_BOOL("enabled", monitoring.ai_optimization.enabled),
    K_STR("model_path", monitoring.ai_optimization.model_path),
    K_UINT("prediction_interval_ms", monitoring.ai_optimization.prediction_interval_ms, 1000,
           86400000),
    K_DBL("confidence_threshold", monitoring.ai_optimization.confidence_threshold, 0, 1),
    K_END,
};

/*
 * NULL if v names an algorithm of this kind in the security table (or an
 * "A+B" hybrid of them), else what it must be, with a hint. The message lives
 * in a per-thread buffer until the next call on the thread.
 */
static const char *check_alg(enum pqsec_kind kind, const char *v)
{
    static const char *const examples[PQSEC_KINDS] = {
        "ML-DSA-65, SLH-DSA-SHA2-128s, Ed25519, secp256k1",
        "ML-KEM-768, X25519MLKEM768, X25519",
        "SHA3-256, SHA-256, Keccak-256, BLAKE3",
    };
    static _Thread_local char why[400];
    struct pqsec_level lv;
    const char *hint = pqsec_suggest(kind, v), *other = NULL;

    if (pqsec_eval(kind, v, &lv) == 0)
        return NULL;
    for (int k = 0; k < PQSEC_KINDS && !hint; k++)
        if (k != (int)kind && pqsec_eval((enum pqsec_kind)k, v, &lv) == 0)
            other = pqsec_kind_name((enum pqsec_kind)k);
    snprintf(why, sizeof(why),
             "must name a %s algorithm of the security table in docs/metrics.md (%s, ...) or "
             "an A+B hybrid of them; '%.64s'%s%s%s%s%s",
             pqsec_kind_name(kind), examples[kind], v, other ? " is a " : " is not one",
             other ? other : "", other ? " algorithm" : "", hint ? " (did you mean '" : "",
             hint ? hint : "");
    if (hint)
        snprintf(why + strlen(why), sizeof(why) - strlen(why), "'?)");
    return why;
}

static const char *check_signature(const char *v)
{
    return check_alg(PQSEC_SIGNATURE, v);
}

static const char *check_key_exchange(const char *v)
{
    return check_alg(PQSEC_KEY_EXCHANGE, v);
}

static const char *check_hash(const char *v)
{
    return check_alg(PQSEC_HASH, v);
}

static const char *check_qrng_source(const char *v)
{
    if (!strcmp(v, "getrandom") || !strcmp(v, "none"))
        return NULL;
    if (v[0] != '/')
        return "must be getrandom, none, or the absolute path of an entropy device or FIFO "
               "(/dev/hwrng)";
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return "must not contain control characters";
    return NULL;
}

#define K_ALGS(n, m, chk)                                                                 \
    {                                                                                     \
        .name = n, .type = T_STRLIST, .offset = OFF(m), .check = chk, .one_or_list = true \
    }

static const struct key quantum_keys[] = {
    K_BOOL("enabled", monitoring.quantum_monitoring.enabled),
    K_BOOL("simulation_metrics", monitoring.quantum_monitoring.simulation_metrics),
    K_BOOL("security_level_monitoring", monitoring.quantum_monitoring.security_level_monitoring),
    K_ALGS("signature_algorithm", monitoring.quantum_monitoring.signature_algorithm,
           check_signature),
    K_ALGS("key_exchange_algorithm", monitoring.quantum_monitoring.key_exchange_algorithm,
           check_key_exchange),
    K_ALGS("hash_algorithm", monitoring.quantum_monitoring.hash_algorithm, check_hash),
    {.name = "qrng_source",
     .type = T_STR,
     .offset = OFF(monitoring.quantum_monitoring.qrng_source),
     .check = check_qrng_source},
    K_UINT("probe_interval_sec", monitoring.quantum_monitoring.probe_interval_sec, 10, 86400),
    K_UINT("qrng_window_ms", monitoring.quantum_monitoring.qrng_window_ms, 100, 5000),
    K_BOOL("merkle_probe", monitoring.quantum_monitoring.merkle_probe),
    K_END,
};

static const struct key logging_keys[] = {
    K_TYPE("level", T_LOGLEVEL, monitoring.logging.level),
    K_STR("output_dir", monitoring.logging.output_dir),
    K_BOOL("stdout", monitoring.logging.stdout_enabled),
    K_END,
};

static const struct key monitoring_keys[] = {
    K_BOOL("enabled", monitoring.enabled),
    K_UINT("sampling_interval_ms", monitoring.sampling_interval_ms, 50, 3600000),
    K_UINT("retention_period_days", monitoring.retention_period_days, 1, 36500),
    K_SECT("ai_optimization", ai_keys),
    K_SECT("quantum_monitoring", quantum_keys),
    K_SECT("logging", logging_keys),
    K_END,
};

static const struct key grafana_keys[] = {
    K_STR("url", visualization.grafana.url),
    {.name = "api_key",
     .type = T_STR,
     .offset = OFF(visualization.grafana.api_key),
     .secret = true},
    K_STR("dashboard_id", visualization.grafana.dashboard_id),
    K_END,
};

static const struct key visualization_keys[] = {
    K_BOOL("dashboard_enabled", visualization.dashboard_enabled),
    K_UINT("dashboard_port", visualization.dashboard_port, 0, 65535),
    K_BOOL("prometheus_enabled", visualization.prometheus_enabled),
    K_STR("prometheus_endpoint", visualization.prometheus_endpoint),
    {.name = "grafana",
     .type = T_SECTION_OPT,
     .section = grafana_keys,
     .present_offset = OFF(visualization.grafana_present)},
    K_BOOL("quantum_visualization", visualization.quantum_visualization),
    K_END,
};

/* NULL if v is an absolute http:// or https:// URL with a host (and nothing
 * a request line or a header could be split with), else what it must be. */
static const char *check_url_scheme(const char *v, const char *const *schemes)
{
    const char *host = NULL, *end;

    for (const char *const *sc = schemes; *sc; sc++)
        if (strncmp(v, *sc, strlen(*sc)) == 0)
            host = v + strlen(*sc);
    if (!host)
        return NULL;
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return "must not contain spaces or control characters";
    end = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(end - host)))
        host = (const char *)memchr(host, '@', (size_t)(end - host)) + 1;
    if (host == end || *host == ':')
        return "must name a host";
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (!rb)
            return "has an unterminated [IPv6] address";
        host = rb + 1;
    } else {
        host += strcspn(host, ":/?#");
    }
    if (host < end && *host == ':') {
        char port[8];
        int64_t p;
        size_t n = (size_t)(end - host - 1);
        if (n == 0 || n >= sizeof(port))
            return "has an invalid port";
        memcpy(port, host + 1, n);
        port[n] = '\0';
        if (parse_i64(port, &p) < 0 || p < 1 || p > 65535)
            return "has an invalid port (1 to 65535)";
    } else if (host != end) {
        return "has something after the host that is not a port";
    }
    return "";
}

static const char *check_http_url(const char *v)
{
    static const char *const schemes[] = {"http://", "https://", NULL};
    const char *why = check_url_scheme(v, schemes);

    if (!why)
        return "must be an http:// or https:// URL";
    return *why ? why : NULL;
}

static const char *check_smtp_url(const char *v)
{
    static const char *const schemes[] = {"smtp://", "smtps://", NULL};
    const char *why = check_url_scheme(v, schemes);

    if (!why)
        return "must be an smtp:// (STARTTLS on a submission port) or smtps:// (TLS) URL";
    return *why ? why : NULL;
}

/* An e-mail address as SMTP takes it in MAIL FROM / RCPT TO: local@domain, no
 * display name, no spaces, quotes or angle brackets. */
static bool mailbox_ok(const char *v, size_t n)
{
    const char *at = memchr(v, '@', n);

    if (!at || at == v || at == v + n - 1 || n > 254 ||
        memchr(at + 1, '@', n - (size_t)(at - v) - 1))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
            return false;
    }
    return !strstr(at, "..") && at[1] != '.' && v[n - 1] != '.';
}

static const char *check_mailbox(const char *v)
{
    return mailbox_ok(v, strlen(v)) ? NULL : "must be an e-mail address (name@example.org)";
}

/* One address, or several separated by commas. */
static const char *check_mailboxes(const char *v)
{
    size_t count = 0;

    for (const char *p = v;; count++) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        if (!mailbox_ok(s, (size_t)(e - s)) || count >= 16)
            return "must be one e-mail address (ops@example.org) or up to 16 separated by commas";
        if (!p[n])
            return NULL;
        p += n + 1;
    }
}

/* "Name: value": an HTTP field name (RFC 9110 token) and a value without
 * control characters. */
static const char *check_header(const char *v)
{
    const char *colon = strchr(v, ':');

    if (!colon || colon == v)
        return "must be 'Name: value'";
    for (const char *c = v; c < colon; c++)
        if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
            return "must be 'Name: value' with a name of letters, digits and -";
    for (const char *c = colon + 1; *c; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return "must be 'Name: value' without control characters";
    return NULL;
}

static const struct key alerts_keys[] = {
    K_BOOL("enabled", alerts.enabled),
    {.name = "email", .type = T_STR_NULL, .offset = OFF(alerts.email), .check = check_mailboxes},
    /* often a credential in itself (a token in the path, user:password@) */
    {.name = "webhook_url",
     .type = T_STR_NULL,
     .offset = OFF(alerts.webhook_url),
     .secret = true,
     .check = check_http_url},
    K_UINT("min_severity", alerts.min_severity, 1, 5),
    K_BOOL("quantum_alerts", alerts.quantum_alerts),
    K_BOOL("console", alerts.console),
    K_BOOL("log_file", alerts.log_file),
    K_UINT("log_max_bytes", alerts.log_max_bytes, 4096, (double)(1ULL << 40)),
    K_UINT("log_keep", alerts.log_keep, 1, 100),
    {.name = "webhook_headers",
     .type = T_STRLIST,
     .offset = OFF(alerts.webhook_headers),
     .secret = true,
     .check = check_header},
    K_SECRET("webhook_secret", alerts.webhook_secret),
    K_STRN("webhook_secret_file", alerts.webhook_secret_file),
    {.name = "alertmanager_url",
     .type = T_STR_NULL,
     .offset = OFF(alerts.alertmanager_url),
     .secret = true, /* may carry user:password@ */
     .check = check_http_url},
    K_UINT("alertmanager_resend_sec", alerts.alertmanager_resend_sec, 5, 3600),
    {.name = "smtp_url",
     .type = T_STR_NULL,
     .offset = OFF(alerts.smtp_url),
     .secret = true, /* may carry user:password@ */
     .check = check_smtp_url},
    K_STRN("smtp_user", alerts.smtp_user),
    K_SECRET("smtp_password", alerts.smtp_password),
    K_STRN("smtp_password_file", alerts.smtp_password_file),
    {.name = "smtp_from",
     .type = T_STR_NULL,
     .offset = OFF(alerts.smtp_from),
     .check = check_mailbox},
    K_BOOL("smtp_starttls", alerts.smtp_starttls),
    K_STRN("smtp_ca_file", alerts.smtp_ca_file),
    K_UINT("timeout_ms", alerts.timeout_ms, 100, 600000),
    K_UINT("repeat_interval_sec", alerts.repeat_interval_sec, 0, 31536000),
    K_UINT("hold_down_sec", alerts.hold_down_sec, 0, 86400),
    K_UINT("storm_threshold", alerts.storm_threshold, 0, 1000),
    K_UINT("retry_max_sec", alerts.retry_max_sec, 1, 86400),
    K_UINT("give_up_after_sec", alerts.give_up_after_sec, 60, 31536000),
    K_END,
};

static const struct key process_keys[] = {
    K_INT("pid", agent.process.pid, 0, 4194304),
    K_STRN("pidfile", agent.process.pidfile),
    K_STRN("name", agent.process.name),
    K_END,
};

static const struct key agent_keys[] = {
    K_STRN("node_id", agent.node_id),
    K_STRN("data_dir", agent.data_dir),
    K_STR("listen_address", agent.listen_address),
    K_STR("procfs_root", agent.procfs_root),
    K_STR("sysfs_root", agent.sysfs_root),
    K_SECT("process", process_keys),
    K_TYPE("p2p_ports", T_PORTS, agent.p2p_ports),
    K_STR("disk_path", agent.disk_path),
    K_TYPE("net_exclude", T_STRLIST, agent.net_exclude),
    K_UINT("history_size", agent.history_size, 1, 100000),
    K_BOOL("console_summary", agent.console_summary),
    K_END,
};

static const struct key tls_keys[] = {
    K_STRN("cert_file", http.tls.cert_file),
    K_STRN("key_file", http.tls.key_file),
    K_END,
};

static const struct key auth_keys[] = {
    K_SECRET("bearer_token", http.auth.bearer_token),
    K_STRN("bearer_token_file", http.auth.bearer_token_file),
    K_STRN("basic_user", http.auth.basic_user),
    K_SECRET("basic_password_hash", http.auth.basic_password_hash),
    K_BOOL("metrics_open", http.auth.metrics_open),
    K_END,
};

static const struct key http_keys[] = {
    K_BOOL("enabled", http.enabled),
    K_SECT("tls", tls_keys),
    K_SECT("auth", auth_keys),
    K_UINT("max_connections", http.max_connections, 4, 65536),
    K_UINT("threads", http.threads, 1, 64),
    K_UINT("idle_timeout_sec", http.idle_timeout_sec, 1, 3600),
    K_UINT("request_timeout_sec", http.request_timeout_sec, 1, 3600),
    K_UINT("max_header_bytes", http.max_header_bytes, 1024, 1048576),
    K_UINT("max_history_page", http.max_history_page, 1, 100000),
    K_END,
};

static const struct key storage_keys[] = {
    K_BOOL("enabled", storage.enabled),
    K_UINT("minute_days", storage.minute_days, 1, 36500),
    K_UINT("hour_days", storage.hour_days, 1, 36500),
    K_UINT("maintenance_interval_sec", storage.maintenance_interval_sec, 1, 3600),
    K_END,
};

/* ---- statsd: ---- */

/* statsd_exporter's default buckets, in seconds */
static const double statsd_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};

/* The snapshot fields a statsd.mapping rule may feed (and drop): the
 * aggregates' own table (src/ingest/agg.c), as docs/config.md lists them. */
bool config_statsd_sink_ok(const char *name)
{
    return name && agg_sink_parse(name) >= 0;
}

/* A DNS name: labels of letters, digits and '-' (not at either end), 1 to 63
 * bytes each, 253 in all; a last label of digits only must be an IPv4 address. */
static bool dns_name_ok(const char *h, size_t len)
{
    size_t label = 0;
    bool digits = true;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? h[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-')
                return false;
            label = 0;
            if (i < len)
                digits = true;
            continue;
        }
        if (!isalnum((unsigned char)c) && c != '-')
            return false;
        if (c == '-' && label == 0)
            return false;
        if (!isdigit((unsigned char)c))
            digits = false;
        label++;
    }
    return !digits; /* "300.1.1.1", "8125": not a name, and not an address either */
}

int config_split_hostport(const char *s, char *host, size_t host_size, uint16_t *ret_port)
{
    const char *colon, *h, *p;
    char addr[INET6_ADDRSTRLEN + 1];
    size_t hlen, plen;
    unsigned port = 0;
    unsigned char bin[16];

    if (!s)
        return -EINVAL;
    colon = strrchr(s, ':');
    if (!colon)
        return -EINVAL;
    h = s;
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        h = s + 1;
        hlen -= 2;
        if (hlen == 0 || hlen >= sizeof(addr))
            return -EINVAL;
        memcpy(addr, h, hlen);
        addr[hlen] = '\0';
        if (inet_pton(AF_INET6, addr, bin) != 1)
            return -EINVAL;
    } else {
        /* an address is short; anything longer can only be a name */
        addr[0] = '\0';
        if (hlen < sizeof(addr)) {
            memcpy(addr, h, hlen);
            addr[hlen] = '\0';
        }
        if (inet_pton(AF_INET, addr, bin) != 1 && !dns_name_ok(h, hlen))
            return -EINVAL;
    }
    p = colon + 1;
    plen = strlen(p);
    if (plen == 0 || plen > 5)
        return -EINVAL;
    for (size_t i = 0; i < plen; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -EINVAL;
        port = port * 10 + (unsigned)(p[i] - '0');
    }
    if (port > 65535)
        return -EINVAL;
    if (host) {
        if (hlen >= host_size)
            return -ENAMETOOLONG;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    *ret_port = (uint16_t)port;
    return 0;
}

static const char *check_listen(const char *v)
{
    uint16_t port;

    if (!*v || config_split_hostport(v, NULL, 0, &port) == 0)
        return NULL;
    return "must be HOST:PORT (an IPv4 address, a host name or an [IPv6] address, and a port "
           "0 to 65535, 0 for any free one; 0.0.0.0:8125 for every interface) or \"\" for no UDP "
           "socket";
}

static const char *check_unix_socket(const char *v)
{
    if (!*v || strlen(v) >= 108) /* sizeof(((struct sockaddr_un *)0)->sun_path) on Linux */
        return "must be a path of 1 to 107 bytes, or null for none";
    return NULL;
}

/* NULL if m can be a statsd.mapping match, else what is wrong with it. */
static const char *check_match(const char *m)
{
    size_t len = strlen(m), start = 0;

    if (len == 0 || len > CONFIG_STATSD_MATCH_MAX)
        return "must be 1 to 200 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c <= 0x20 || c >= 0x7f || strchr(":|@#", c))
            return "must be printable ASCII without whitespace, ':', '|', '@' or '#'";
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && m[i] != '.')
            continue;
        if (i == start)
            return "must not have an empty component (a leading, trailing or doubled '.')";
        if (memchr(m + start, '*', i - start) && i - start != 1)
            return "may use '*' only as a whole component, as in \"app.*.tx_time\"";
        start = i + 1;
    }
    return NULL;
}

static const struct key rule_keys[] = {
    {.name = "match", .type = T_STR, .offset = offsetof(struct config_statsd_rule, match)},
    {.name = "field", .type = T_STR, .offset = offsetof(struct config_statsd_rule, field)},
    K_END,
};

static const struct key statsd_keys[] = {
    K_BOOL("enabled", statsd.enabled),
    {.name = "listen", .type = T_STR, .offset = OFF(statsd.listen), .check = check_listen},
    {.name = "unix_socket",
     .type = T_STR_NULL,
     .offset = OFF(statsd.unix_socket),
     .check = check_unix_socket},
    K_UINT("max_series", statsd.max_series, 1, 10000000),
    K_UINT("rcvbuf_bytes", statsd.rcvbuf_bytes, 65536, 1073741824),
    K_LIST("histogram_buckets", T_BUCKETS, statsd.histogram_buckets, statsd.n_histogram_buckets),
    {.name = "mapping",
     .type = T_RULES,
     .offset = OFF(statsd.mapping),
     .count_offset = OFF(statsd.n_mapping),
     .section = rule_keys},
    K_END,
};

/* ---- detection: ---- */

static const char *check_condition(const char *v)
{
    return !strcmp(v, ">") || !strcmp(v, ">=") || !strcmp(v, "<") || !strcmp(v, "<=")
               ? NULL
               : "must be one of >, >=, <, <=";
}

static const char *check_rule_name(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 64)
        return "must be 1 to 64 characters";
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
            return "may hold only a-z, 0-9 and _";
    return NULL;
}

/* A series key naming a figure of the snapshot: the name part must be in the table. */
static const char *check_series(const char *v)
{
    size_t n = strcspn(v, "{");

    if (v[n] && v[strlen(v) - 1] != '}')
        return "must be a series key, NAME or NAME{label=value,...}";
    for (size_t i = 0; i < series_table_len; i++)
        if (strlen(series_table[i].name) == n && !strncmp(series_table[i].name, v, n))
            return NULL;
    return "must name a series of the snapshot (see docs/metrics.md), e.g. cpu.usage_percent";
}

#define DR_OFF(m) offsetof(struct config_detect_rule, m)
static const struct key drule_keys[] = {
    {.name = "name", .type = T_STR_NULL, .offset = DR_OFF(name), .check = check_rule_name},
    {.name = "series", .type = T_STR_NULL, .offset = DR_OFF(series), .check = check_series},
    {.name = "condition",
     .type = T_STR_NULL,
     .offset = DR_OFF(condition),
     .check = check_condition},
    {.name = "trigger", .type = T_DOUBLE, .offset = DR_OFF(trigger), .min = -1e300, .max = 1e300},
    {.name = "clear", .type = T_DOUBLE, .offset = DR_OFF(clear), .min = -1e300, .max = 1e300},
    {.name = "for_sec", .type = T_DOUBLE, .offset = DR_OFF(for_sec), .min = 0, .max = 604800},
    {.name = "severity",
     .type = T_UINT,
     .offset = DR_OFF(severity),
     .width = sizeof(uint32_t),
     .min = 1,
     .max = 5},
    {.name = "component", .type = T_STR_NULL, .offset = DR_OFF(component)},
    {.name = "description", .type = T_STR_NULL, .offset = DR_OFF(description)},
    {.name = "actions", .type = T_STRLIST, .offset = DR_OFF(actions)},
    {.name = "quantum_relevant", .type = T_BOOL, .offset = DR_OFF(quantum_relevant)},
    K_END,
};

static const struct key detection_keys[] = {
    K_BOOL("enabled", detection.enabled),
    K_UINT("warmup_ticks", detection.warmup_ticks, 10, 10000000),
    K_UINT("resolve_ticks", detection.resolve_ticks, 1, 1000000),
    K_DBL("multivariate_threshold", detection.multivariate_threshold, 0.05, 1),
    K_DBL("series_gate_z", detection.series_gate_z, 0, 100),
    K_UINT("max_series", detection.max_series, 0, 4096),
    K_UINT("min_security_bits", detection.min_security_bits, 0, 1024),
    K_BOOL("builtin_rules", detection.builtin_rules),
    K_TYPE("disabled_rules", T_STRLIST, detection.disabled),
    {.name = "rules",
     .type = T_DRULES,
     .offset = OFF(detection.rules),
     .count_offset = OFF(detection.n_rules),
     .section = drule_keys},
    K_END,
};

static const struct key root_keys[] = {
    K_BOOL("enabled", enabled),
    K_SECT("monitoring", monitoring_keys),
    K_STR("models_path", models_path),
    K_SECT("visualization", visualization_keys),
    K_SECT("alerts", alerts_keys),
    K_SECT("agent", agent_keys),
    K_SECT("storage", storage_keys),
    K_SECT("http", http_keys),
    K_SECT("statsd", statsd_keys),       /* the StatsD server, src/ingest */
    K_SECT("detection", detection_keys), /* anomaly detection, src/detect */
    K_END,
};

/* ---- ownership walks driven by the schema ---- */

static void free_strings(struct config *cfg, const struct key *keys)
{
    for (const struct key *k = keys; k->name; k++) {
        char *base = (char *)cfg + k->offset;

        switch (k->type) {
        case T_STR:
        case T_STR_NULL:
            free(*(char **)base);
            *(char **)base = NULL;
            break;
        case T_STRLIST: {
            struct config_strlist *l = (struct config_strlist *)base;
            for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
            free(l->v);
            l->v = NULL;
            l->n = 0;
            break;
        }
        case T_RULES: {
            struct config_statsd_rule *r = (struct config_statsd_rule *)base;
            size_t *n = (size_t *)((char *)cfg + k->count_offset);
            for (size_t i = 0; i < *n && i < CONFIG_MAX_LIST; i++) {
                free(r[i].match);
                free(r[i].field);
                r[i].match = r[i].field = NULL;
            }
            *n = 0;
            break;
        }
        case T_DRULES: {
            struct config_detect_rule *r = (struct config_detect_rule *)base;
            size_t *n = (size_t *)((char *)cfg + k->count_offset);
            for (size_t i = 0; i < *n && i < CONFIG_MAX_LIST; i++)
                free_strings((struct config *)(void *)&r[i], k->section);
            *n = 0;
            break;
        }
        case T_SECTION:
        case T_SECTION_OPT:
            free_strings(cfg, k->section);
            break;
        default:
            break;
        }
    }
}

static void forget_strings(struct config *cfg, const struct key *keys);

/* Sets a rule's strings to NULL without freeing them (they are another rule's). */
static void forget_rule(struct config_detect_rule *r, const struct key *keys)
{
    forget_strings((struct config *)(void *)r, keys);
}

static int dup_strings(struct config *dst, const struct config *src, const struct key *keys)
{
    for (const struct key *k = keys; k->name; k++) {
        char *d = (char *)dst + k->offset;
        const char *s = (const char *)src + k->offset;

        switch (k->type) {
        case T_STR:
        case T_STR_NULL:
            *(char **)d = NULL;
            if (*(char *const *)s && !(*(char **)d = strdup(*(char *const *)s)))
                return -ENOMEM;
            break;
        case T_STRLIST: {
            const struct config_strlist *sl = (const struct config_strlist *)s;
            struct config_strlist *dl = (struct config_strlist *)d;
            dl->v = NULL;
            dl->n = 0;
            if (sl->n == 0)
                break;
            dl->v = calloc(sl->n, sizeof(char *));
            if (!dl->v)
                return -ENOMEM;
            for (size_t i = 0; i < sl->n; i++) {
                if (!(dl->v[i] = strdup(sl->v[i])))
                    return -ENOMEM;
                dl->n++;
            }
            break;
        }
        case T_RULES: {
            const struct config_statsd_rule *sr = (const struct config_statsd_rule *)s;
            struct config_statsd_rule *dr = (struct config_statsd_rule *)d;
            size_t sn = *(const size_t *)((const char *)src + k->count_offset);
            size_t *dn = (size_t *)((char *)dst + k->count_offset);
            /* *dn counts the rules made so far, so that config_done() frees just those */
            *dn = 0;
            for (size_t i = 0; i < sn && i < CONFIG_MAX_LIST; i++) {
                dr[i].match = strdup(sr[i].match);
                dr[i].field = strdup(sr[i].field);
                if (!dr[i].match || !dr[i].field) {
                    free(dr[i].match);
                    free(dr[i].field);
                    dr[i].match = dr[i].field = NULL;
                    return -ENOMEM;
                }
                (*dn)++;
            }
            break;
        }
        case T_DRULES: {
            const struct config_detect_rule *sr = (const struct config_detect_rule *)s;
            struct config_detect_rule *dr = (struct config_detect_rule *)d;
            size_t sn = *(const size_t *)((const char *)src + k->count_offset);
            size_t *dn = (size_t *)((char *)dst + k->count_offset);
            *dn = 0;
            for (size_t i = 0; i < sn && i < CONFIG_MAX_LIST; i++) {
                /* the copied rule's strings start out NULL, so a failure frees what was made */
                dr[i] = sr[i];
                forget_rule(&dr[i], k->section);
                (*dn)++;
                if (dup_strings((struct config *)(void *)&dr[i],
                                (const struct config *)(const void *)&sr[i], k->section) < 0)
                    return -ENOMEM;
            }
            break;
        }
        case T_SECTION:
        case T_SECTION_OPT: {
            int r = dup_strings(dst, src, k->section);
            if (r < 0)
                return r;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static void walk_keys(const struct key *keys, const char *prefix,
                      void (*fn)(void *ctx, const char *path, bool is_section), void *ctx)
{
    char path[256];

    for (const struct key *k = keys; k->name; k++) {
        bool section = k->type == T_SECTION || k->type == T_SECTION_OPT;
        if (snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name) >=
            (int)sizeof(path))
            continue; /* cannot happen: the schema's paths are short */
        fn(ctx, path, section);
        if (section || k->type == T_RULES ||
            k->type == T_DRULES) /* a list of mappings: the keys of one */
            walk_keys(k->section, path, fn, ctx);
    }
}

void config_foreach_key(void (*fn)(void *ctx, const char *path, bool is_section), void *ctx)
{
    walk_keys(root_keys, "", fn, ctx);
}

static uint64_t get_uint(const char *base, unsigned width)
{
    switch (width) {
    case 1:
        return *(const uint8_t *)base;
    case 2:
        return *(const uint16_t *)base;
    case 4:
        return *(const uint32_t *)base;
    default:
        return *(const uint64_t *)base;
    }
}

/* A finite number in JSON, in as few digits as read back to the same double
 * (a bucket bound of 1e-7 s is not 0). */
static void json_exact_num(struct strbuf *out, double v)
{
    char tmp[40];
    double back;

    snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (parse_double(tmp, &back) < 0 || back != v)
        snprintf(tmp, sizeof(tmp), "%.17g", v);
    strbuf_puts(out, tmp);
}

static void json_keys(const struct config *cfg, const struct key *keys, struct strbuf *out)
{
    strbuf_putc(out, '{');
    for (const struct key *k = keys; k->name; k++) {
        const char *base = (const char *)cfg + k->offset;

        if (k != keys)
            strbuf_putc(out, ',');
        strbuf_json_str(out, k->name);
        strbuf_putc(out, ':');
        switch (k->type) {
        case T_BOOL:
            strbuf_puts(out, *(const bool *)base ? "true" : "false");
            break;
        case T_UINT:
            strbuf_printf(out, "%llu", (unsigned long long)get_uint(base, k->width));
            break;
        case T_INT:
            strbuf_printf(out, "%lld", (long long)*(const int64_t *)base);
            break;
        case T_DOUBLE:
            strbuf_json_num(out, *(const double *)base, 6);
            break;
        case T_STR:
        case T_STR_NULL: {
            const char *v = *(char *const *)base;
            if (!v)
                strbuf_puts(out, "null");
            else if (k->secret && *v)
                strbuf_puts(out, "\"<redacted>\"");
            else
                strbuf_json_str(out, v);
            break;
        }
        case T_LOGLEVEL:
            strbuf_json_str(out, log_level_name(*(const enum log_level *)base));
            break;
        case T_PORTS: {
            const struct config_ports *p = (const struct config_ports *)base;
            strbuf_putc(out, '[');
            for (size_t i = 0; i < p->n; i++)
                strbuf_printf(out, "%s%u", i ? "," : "", p->v[i]);
            strbuf_putc(out, ']');
            break;
        }
        case T_STRLIST: {
            const struct config_strlist *l = (const struct config_strlist *)base;
            strbuf_putc(out, '[');
            for (size_t i = 0; i < l->n; i++) {
                if (i)
                    strbuf_putc(out, ',');
                if (k->secret)
                    strbuf_puts(out, "\"<redacted>\"");
                else
                    strbuf_json_str(out, l->v[i]);
            }
            strbuf_putc(out, ']');
            break;
        }
        case T_BUCKETS: {
            const double *b = (const double *)base;
            size_t n = *(const size_t *)((const char *)cfg + k->count_offset);
            strbuf_putc(out, '[');
            for (size_t i = 0; i < n && i < CONFIG_MAX_LIST; i++) {
                if (i)
                    strbuf_putc(out, ',');
                json_exact_num(out, b[i]);
            }
            strbuf_putc(out, ']');
            break;
        }
        case T_RULES: {
            const struct config_statsd_rule *r = (const struct config_statsd_rule *)base;
            size_t n = *(const size_t *)((const char *)cfg + k->count_offset);
            strbuf_putc(out, '[');
            for (size_t i = 0; i < n && i < CONFIG_MAX_LIST; i++) {
                strbuf_puts(out, i ? ",{\"match\":" : "{\"match\":");
                strbuf_json_str(out, r[i].match);
                strbuf_puts(out, ",\"field\":");
                strbuf_json_str(out, r[i].field);
                strbuf_putc(out, '}');
            }
            strbuf_putc(out, ']');
            break;
        }
        case T_DRULES: {
            const struct config_detect_rule *r = (const struct config_detect_rule *)base;
            size_t n = *(const size_t *)((const char *)cfg + k->count_offset);
            strbuf_putc(out, '[');
            for (size_t i = 0; i < n && i < CONFIG_MAX_LIST; i++) {
                if (i)
                    strbuf_putc(out, ',');
                json_keys((const struct config *)(const void *)&r[i], k->section, out);
            }
            strbuf_putc(out, ']');
            break;
        }
        case T_SECTION_OPT:
            if (*(const bool *)((const char *)cfg + k->present_offset))
                json_keys(cfg, k->section, out);
            else
                strbuf_puts(out, "null");
            break;
        case T_SECTION:
            json_keys(cfg, k->section, out);
            break;
        }
    }
    strbuf_putc(out, '}');
}

int config_to_json(const struct config *cfg, struct strbuf *out)
{
    json_keys(cfg, root_keys, out);
    return out->overflow ? -ENOSPC : 0;
}

void config_done(struct config *cfg)
{
    if (!cfg)
        return;
    free_strings(cfg, root_keys);
}

/* Sets every string and list of cfg to NULL (without freeing: they are not its own). */
static void forget_strings(struct config *cfg, const struct key *keys)
{
    for (const struct key *k = keys; k->name; k++) {
        char *base = (char *)cfg + k->offset;

        if (k->type == T_STR || k->type == T_STR_NULL) {
            *(char **)base = NULL;
        } else if (k->type == T_STRLIST) {
            ((struct config_strlist *)base)->v = NULL;
            ((struct config_strlist *)base)->n = 0;
        } else if (k->type == T_RULES) {
            memset(base, 0, CONFIG_MAX_LIST * sizeof(struct config_statsd_rule));
            *(size_t *)((char *)cfg + k->count_offset) = 0;
        } else if (k->type == T_DRULES) {
            memset(base, 0, CONFIG_MAX_LIST * sizeof(struct config_detect_rule));
            *(size_t *)((char *)cfg + k->count_offset) = 0;
        } else if (k->type == T_SECTION || k->type == T_SECTION_OPT) {
            forget_strings(cfg, k->section);
        }
    }
}

int config_copy(struct config *dst, const struct config *src)
{
    int r;

    memcpy(dst, src, sizeof(*dst));
    /* a copy that fails half-way must free only what it made, never src's */
    forget_strings(dst, root_keys);
    r = dup_strings(dst, src, root_keys);
    if (r < 0) {
        config_done(dst);
        return r;
    }
    return 0;
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->enabled = true;
    cfg->monitoring.enabled = true;
    cfg->monitoring.sampling_interval_ms = 5000;
    cfg->monitoring.retention_period_days = 30;
    cfg->monitoring.ai_optimization.enabled = true;
    set_str(&cfg->monitoring.ai_optimization.model_path, "models/performance_predictor.onnx");
    cfg->monitoring.ai_optimization.prediction_interval_ms = 60000;
    cfg->monitoring.ai_optimization.confidence_threshold = 0.7;
    cfg->monitoring.quantum_monitoring.enabled = true;
    cfg->monitoring.quantum_monitoring.simulation_metrics = true;
    cfg->monitoring.quantum_monitoring.security_level_monitoring = true;
    set_str(&cfg->monitoring.quantum_monitoring.qrng_source, "getrandom");
    cfg->monitoring.quantum_monitoring.probe_interval_sec = 60;
    cfg->monitoring.quantum_monitoring.qrng_window_ms = 1000;
    cfg->monitoring.quantum_monitoring.merkle_probe = true;
    cfg->monitoring.logging.level = LOG_INFO;
    set_str(&cfg->monitoring.logging.output_dir, "/var/log/blockchain/performance");
    cfg->monitoring.logging.stdout_enabled = true;
    set_str(&cfg->models_path, "models");
    cfg->visualization.dashboard_enabled = true;
    cfg->visualization.dashboard_port = 8090;
    cfg->visualization.prometheus_enabled = true;
    set_str(&cfg->visualization.prometheus_endpoint, "http://localhost:9090");
    cfg->visualization.grafana_present = true;
    set_str(&cfg->visualization.grafana.url, "http://localhost:3000");
    set_str(&cfg->visualization.grafana.api_key, "");
    set_str(&cfg->visualization.grafana.dashboard_id, "blockchain-performance");
    cfg->visualization.quantum_visualization = true;
    cfg->alerts.enabled = true;
    cfg->alerts.min_severity = 3;
    cfg->alerts.quantum_alerts = true;
    cfg->alerts.console = true;
    cfg->alerts.log_file = true;
    cfg->alerts.log_max_bytes = 10 << 20;
    cfg->alerts.log_keep = 5;
    cfg->alerts.alertmanager_resend_sec = 60;
    cfg->alerts.smtp_starttls = true;
    cfg->alerts.timeout_ms = 10000;
    cfg->alerts.repeat_interval_sec = 4 * 3600;
    cfg->alerts.hold_down_sec = 300;
    cfg->alerts.storm_threshold = 20;
    cfg->alerts.retry_max_sec = 120;
    cfg->alerts.give_up_after_sec = 86400;
    set_str(&cfg->agent.listen_address, "127.0.0.1");
    set_str(&cfg->agent.procfs_root, "/proc");
    set_str(&cfg->agent.sysfs_root, "/sys");
    set_str(&cfg->agent.disk_path, "/");
    cfg->agent.net_exclude.v = calloc(1, sizeof(char *));
    if (cfg->agent.net_exclude.v && (cfg->agent.net_exclude.v[0] = strdup("lo")))
        cfg->agent.net_exclude.n = 1;
    cfg->agent.history_size = 720;
    cfg->agent.console_summary = true;
    cfg->storage.enabled = true;
    cfg->storage.minute_days = 90;
    cfg->storage.hour_days = 730;
    cfg->storage.maintenance_interval_sec = 60;
    cfg->http.enabled = true;
    cfg->http.max_connections = 512;
    cfg->http.threads = 2;
    cfg->http.idle_timeout_sec = 30;
    cfg->http.request_timeout_sec = 10;
    cfg->http.max_header_bytes = 16384;
    cfg->http.max_history_page = 1000;
    cfg->statsd.enabled = true;
    set_str(&cfg->statsd.listen, "127.0.0.1:8125");
    cfg->statsd.max_series = 10000;
    cfg->statsd.rcvbuf_bytes = 33554432;
    memcpy(cfg->statsd.histogram_buckets, statsd_default_buckets, sizeof(statsd_default_buckets));
    cfg->statsd.n_histogram_buckets = sizeof(statsd_default_buckets) / sizeof(double);
    cfg->detection.enabled = true;
    cfg->detection.warmup_ticks = 300;
    cfg->detection.resolve_ticks = 5;
    cfg->detection.multivariate_threshold = 0.5;
    cfg->detection.series_gate_z = 3;
    cfg->detection.max_series = 512;
    cfg->detection.min_security_bits = 128;
    cfg->detection.builtin_rules = true;
}

/* ---- loading ---- */

struct loader {
    const char *name;
    yaml_document_t *doc;
    struct config *cfg;
    struct strbuf *errs;
    unsigned nerrs;
    unsigned visited;
};

#define MAX_ERRORS 50
#define MAX_NODES  100000
#define MAX_DEPTH  32

/*
 * One problem, one line: a message quotes the file's own text (keys, values),
 * which may hold newlines or terminal control characters; those are written as
 * \n, \t, \xNN (C1 controls as \u00NN). A message cut to fit ends in "...",
 * never in half a UTF-8 sequence.
 */
static void put_message(struct strbuf *sb, const char *msg, bool cut)
{
    size_t len = strlen(msg);

    if (cut) {
        while (len > 0 && ((unsigned char)msg[len - 1] & 0xc0) == 0x80)
            len--;
        if (len > 0 && (unsigned char)msg[len - 1] >= 0xc0)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];

        if (c == '\n')
            strbuf_puts(sb, "\\n");
        else if (c == '\t')
            strbuf_puts(sb, "\\t");
        else if (c < 0x20 || c == 0x7f)
            strbuf_printf(sb, "\\x%02x", c);
        else if (c == 0xc2 && i + 1 < len && (unsigned char)msg[i + 1] >= 0x80 &&
                 (unsigned char)msg[i + 1] <= 0x9f)
            strbuf_printf(sb, "\\u%04x", (unsigned char)msg[++i]);
        else
            strbuf_putc(sb, (char)c);
    }
    if (cut)
        strbuf_puts(sb, "...");
}

static void __attribute__((format(printf, 3, 4)))
report(struct loader *ld, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    ld->nerrs++;
    if (ld->nerrs > MAX_ERRORS)
        return;
    if (at)
        strbuf_printf(ld->errs, "%s:%zu:%zu: ", ld->name, at->start_mark.line + 1,
                      at->start_mark.column + 1);
    else
        strbuf_printf(ld->errs, "%s: ", ld->name);
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    put_message(ld->errs, n < 0 ? "cannot format the message" : msg, n >= (int)sizeof(msg));
    strbuf_putc(ld->errs, '\n');
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain value" : "a string";
    default:
        return "nothing";
    }
}

static bool is_null(const yaml_node_t *n)
{
    const char *v;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Edit distance, for "did you mean" hints; short strings only. */
static unsigned distance(const char *a, const char *b)
{
    unsigned d[64 + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 64 || lb > 64)
        return UINT_MAX;
    for (size_t j = 0; j <= lb; j++)
        d[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned prev = d[0];
        d[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cur = d[j];
            unsigned best = prev + (a[i - 1] != b[j - 1]);
            if (d[j] + 1 < best)
                best = d[j] + 1;
            if (d[j - 1] + 1 < best)
                best = d[j - 1] + 1;
            d[j] = best;
            prev = cur;
        }
    }
    return d[lb];
}

static const char *suggest(const struct key *keys, const char *name)
{
    const char *best = NULL;
    unsigned bd = 4;

    for (const struct key *k = keys; k->name; k++) {
        unsigned dd = distance(k->name, name);
        if (dd < bd || (strstr(k->name, name) && strlen(name) >= 4 && dd < 12)) {
            bd = dd < bd ? dd : bd;
            best = k->name;
        }
    }
    return best;
}

static bool parse_yaml_bool(const char *s, bool *ret)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(s, yes[i])) {
            *ret = true;
            return true;
        }
        if (!strcmp(s, no[i])) {
            *ret = false;
            return true;
        }
    }
    return false;
}

static void load_section(struct loader *ld, const yaml_node_t *map, const struct key *keys,
                         const char *path);

static void store_uint(char *slot, unsigned width, uint64_t v)
{
    switch (width) {
    case 1:
        *(uint8_t *)slot = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)slot = (uint16_t)v;
        break;
    case 4:
        *(uint32_t *)slot = (uint32_t)v;
        break;
    default:
        *(uint64_t *)slot = v;
        break;
    }
}

static char *checked_string(struct loader *ld, const yaml_node_t *n, const char *path)
{
    size_t len = n->data.scalar.length;
    const char *v = (const char *)n->data.scalar.value;
    char *s;

    if (len > CONFIG_MAX_STRING) {
        report(ld, n, "'%s' is longer than %d bytes", path, CONFIG_MAX_STRING);
        return NULL;
    }
    if (memchr(v, '\0', len)) {
        report(ld, n, "'%s' contains a NUL byte", path);
        return NULL;
    }
    s = strndup(v, len);
    if (!s)
        report(ld, n, "out of memory");
    return s;
}

/* What a scalar is, for messages: "a string 'x'", "a plain value 'x'", "a list". */
#define SHOWN(n)                                                                   \
    node_kind(n), (n)->type == YAML_SCALAR_NODE ? " '" : "",                       \
        (n)->type == YAML_SCALAR_NODE ? (const char *)(n)->data.scalar.value : "", \
        (n)->type == YAML_SCALAR_NODE ? "'" : ""

/*
 * A list of 1 to CONFIG_MAX_LIST histogram upper bounds in seconds: finite,
 * positive, strictly increasing. Replaces the list only when all of it is good.
 */
static void load_buckets(struct loader *ld, const yaml_node_t *n, const struct key *k,
                         const char *path)
{
    double nb[CONFIG_MAX_LIST];
    size_t cnt = 0;

    if (n->type != YAML_SEQUENCE_NODE ||
        n->data.sequence.items.top == n->data.sequence.items.start) {
        if (n->type == YAML_SEQUENCE_NODE || is_null(n))
            report(ld, n, "'%s' must be a list of 1 to %d upper bounds in seconds, got %s", path,
                   CONFIG_MAX_LIST, is_null(n) ? "null" : "an empty list");
        else
            report(ld, n, "'%s' must be a list of 1 to %d upper bounds in seconds, got %s%s%s%s",
                   path, CONFIG_MAX_LIST, SHOWN(n));
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
        double d;
        if (!e)
            continue;
        if (cnt >= CONFIG_MAX_LIST) {
            report(ld, e, "'%s' has more than %d entries", path, CONFIG_MAX_LIST);
            return;
        }
        if (!is_plain(e) || parse_double((const char *)e->data.scalar.value, &d) < 0 || !(d > 0)) {
            report(ld, e, "'%s' entries must be finite numbers of seconds above 0, got %s%s%s%s",
                   path, SHOWN(e));
            return;
        }
        if (cnt > 0 && !(d > nb[cnt - 1])) {
            report(ld, e, "'%s' must be strictly increasing: %s follows %g", path,
                   (const char *)e->data.scalar.value, nb[cnt - 1]);
            return;
        }
        nb[cnt++] = d;
    }
    memcpy((char *)ld->cfg + k->offset, nb, cnt * sizeof(double));
    *(size_t *)((char *)ld->cfg + k->count_offset) = cnt;
}

/* One statsd.mapping entry, {match: ..., field: ...}, into *ret (strings
 * owned by it on success; nothing allocated on failure). path: "statsd.mapping[i]". */
static bool load_rule(struct loader *ld, const yaml_node_t *map, const char *path,
                      struct config_statsd_rule *ret)
{
    const yaml_node_t *val[2] = {NULL, NULL}; /* rule_keys order: match, field */
    char *str[2] = {NULL, NULL};
    char sub[320]; /* path (under 300 bytes), '.', the key */
    bool ok = true;

    if (map->type != YAML_MAPPING_NODE) {
        report(ld, map, "'%s' must be a mapping {match: NAME, field: SINK}, got %s%s%s%s", path,
               SHOWN(map));
        return false;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);
        const char *name;
        size_t i;

        if (++ld->visited > MAX_NODES) {
            report(ld, kn, "document too large or too deeply aliased");
            return false;
        }
        if (!kn || !vn)
            continue;
        if (kn->type != YAML_SCALAR_NODE) {
            report(ld, kn, "keys must be plain names, got %s", node_kind(kn));
            ok = false;
            continue;
        }
        name = (const char *)kn->data.scalar.value;
        for (i = 0; i < 2 && strcmp(rule_keys[i].name, name); i++)
            ;
        if (i == 2) {
            const char *hint = suggest(rule_keys, name);
            report(ld, kn, "unknown key '%.64s%s' in '%s' (a rule has match and field%s%s%s)", name,
                   strlen(name) > 64 ? "..." : "", path, hint ? "; did you mean '" : "",
                   hint ? hint : "", hint ? "'?" : "");
            ok = false;
        } else if (val[i]) {
            report(ld, kn, "duplicate key '%s.%s'", path, name);
            ok = false;
        } else {
            val[i] = vn;
        }
    }
    if (!ok)
        return false;
    if (!val[0] || !val[1]) {
        report(ld, map, "'%s' needs both match and field (%s is missing)", path,
               val[0] ? "field" : "match");
        return false;
    }
    for (size_t i = 0; i < 2; i++) {
        const yaml_node_t *v = val[i];
        const char *why;

        snprintf(sub, sizeof(sub), "%s.%s", path, rule_keys[i].name);
        if (v->type != YAML_SCALAR_NODE || is_null(v)) {
            report(ld, v, "'%s' must be a string, got %s", sub,
                   v->type == YAML_SCALAR_NODE ? "null" : node_kind(v));
            ok = false;
            continue;
        }
        str[i] = checked_string(ld, v, sub);
        if (!str[i]) {
            ok = false;
            continue;
        }
        if (i == 0 && (why = check_match(str[i]))) {
            report(ld, v, "'%s' %s; got '%.80s%s'", sub, why, str[i],
                   strlen(str[i]) > 80 ? "..." : "");
            ok = false;
        } else if (i == 1 && !config_statsd_sink_ok(str[i])) {
            const char *hint = NULL;
            unsigned bd = 6;
            for (int j = AGG_SINK_DROP; j < AGG_SINK_COUNT; j++) {
                unsigned dd = distance(agg_sink_name((enum agg_sink)j), str[i]);
                if (dd < bd && dd * 2 <= strlen(str[i])) { /* a typo, not another word */
                    bd = dd;
                    hint = agg_sink_name((enum agg_sink)j);
                }
            }
            report(ld, v,
                   "'%s' must name a sink: a node.*, model_inference.*, memory.gc_metrics.*, "
                   "quantum.* or gpu.* field listed in docs/config.md, or drop; got "
                   "'%.80s%s'%s%s%s",
                   sub, str[i], strlen(str[i]) > 80 ? "..." : "", hint ? " (did you mean '" : "",
                   hint ? hint : "", hint ? "'?)" : "");
            ok = false;
        }
    }
    if (!ok) {
        free(str[0]);
        free(str[1]);
        return false;
    }
    ret->match = str[0];
    ret->field = str[1];
    return true;
}

/*
 * statsd.mapping: a list of up to CONFIG_MAX_LIST rules; null or [] for none.
 * Every entry is checked (all problems reported); the list is replaced only
 * when all of it is good. Two rules with the same match are an error: only
 * the first could ever apply.
 */
static void load_rules(struct loader *ld, const yaml_node_t *n, const struct key *k,
                       const char *path)
{
    struct config_statsd_rule nr[CONFIG_MAX_LIST];
    size_t cnt = 0, total;
    bool ok = true;

    if (is_null(n)) {
        free_strings(ld->cfg, (const struct key[]){*k, K_END});
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        report(ld, n, "'%s' must be a list of {match: NAME, field: SINK} rules, got %s", path,
               node_kind(n));
        return;
    }
    total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (total > CONFIG_MAX_LIST) {
        report(ld, n, "'%s' has more than %d entries", path, CONFIG_MAX_LIST);
        return;
    }
    for (size_t i = 0; i < total; i++) {
        const yaml_node_t *e = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        char sub[300];
        if (!e)
            continue;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!load_rule(ld, e, sub, &nr[cnt])) {
            ok = false;
            continue;
        }
        for (size_t j = 0; j < cnt; j++) {
            if (!strcmp(nr[j].match, nr[cnt].match)) {
                report(ld, e, "'%s.match' repeats the match '%.80s' of an earlier rule", sub,
                       nr[cnt].match);
                ok = false;
                break;
            }
        }
        cnt++;
    }
    if (!ok) {
        for (size_t i = 0; i < cnt; i++) {
            free(nr[i].match);
            free(nr[i].field);
        }
        return;
    }
    free_strings(ld->cfg, (const struct key[]){*k, K_END});
    memcpy((char *)ld->cfg + k->offset, nr, cnt * sizeof(nr[0]));
    *(size_t *)((char *)ld->cfg + k->count_offset) = cnt;
}

/*
 * detection.rules: a list of up to CONFIG_MAX_LIST rules, each a mapping of
 * drule_keys loaded by load_section() with the rule as its base. Every entry is
 * checked (all problems reported); the list is replaced only when all of it is
 * good.
 */
static void load_detect_rules(struct loader *ld, const yaml_node_t *n, const struct key *k,
                              const char *path)
{
    struct config_detect_rule *nr;
    struct config *saved = ld->cfg;
    size_t cnt = 0, total;
    unsigned errs0 = ld->nerrs;

    if (is_null(n)) {
        free_strings(ld->cfg, (const struct key[]){*k, K_END});
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        report(ld, n, "'%s' must be a list of rules, got %s", path, node_kind(n));
        return;
    }
    total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (total > CONFIG_MAX_LIST) {
        report(ld, n, "'%s' has more than %d entries", path, CONFIG_MAX_LIST);
        return;
    }
    nr = calloc(CONFIG_MAX_LIST, sizeof(*nr));
    if (!nr) {
        report(ld, n, "out of memory");
        return;
    }
    for (size_t i = 0; i < total; i++) {
        const yaml_node_t *e = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        struct config_detect_rule *r = &nr[cnt];
        char sub[300];

        if (!e)
            continue;
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        r->trigger = NAN;
        r->clear = NAN;
        r->severity = 3;
        cnt++; /* owned from here on: freed with the others on failure */
        ld->cfg = (struct config *)(void *)r;
        load_section(ld, e, k->section, sub);
        ld->cfg = saved;
        if (e->type != YAML_MAPPING_NODE)
            continue;
        if (!r->name || !r->series || !r->condition || isnan(r->trigger)) {
            report(ld, e, "'%s' needs name, series, condition and trigger", sub);
            continue;
        }
        if (!isnan(r->clear)) {
            bool above = r->condition[0] == '>';
            if (above ? r->clear > r->trigger : r->clear < r->trigger)
                report(ld, e,
                       "'%s.clear' (%g) must be on the normal side of trigger (%g): %s it for "
                       "a rule on %s",
                       sub, r->clear, r->trigger, above ? "at most" : "at least",
                       above ? "> or >=" : "< or <=");
        }
        if (r->actions.n > ANOMALY_MAX_ACTIONS)
            report(ld, e, "'%s.actions' has more than %d entries", sub, ANOMALY_MAX_ACTIONS);
        for (size_t j = 0; j + 1 < cnt; j++)
            if (nr[j].name && !strcmp(nr[j].name, r->name))
                report(ld, e, "'%s.name' repeats the name '%s' of an earlier rule", sub, r->name);
    }
    if (ld->nerrs != errs0) {
        for (size_t i = 0; i < cnt; i++)
            free_strings((struct config *)(void *)&nr[i], k->section);
        free(nr);
        return;
    }
    free_strings(ld->cfg, (const struct key[]){*k, K_END});
    memcpy((char *)ld->cfg + k->offset, nr, cnt * sizeof(nr[0]));
    *(size_t *)((char *)ld->cfg + k->count_offset) = cnt;
    free(nr);
}

static void load_value(struct loader *ld, const yaml_node_t *n, const struct key *k,
                       const char *path)
{
    char *slot = (char *)ld->cfg + k->offset;
    const char *v = n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : "";

    switch (k->type) {
    case T_BOOL: {
        bool b;
        if (!is_plain(n) || !parse_yaml_bool(v, &b)) {
            report(ld, n, "'%s' must be true or false, got %s%s%s%s", path, node_kind(n),
                   n->type == YAML_SCALAR_NODE ? " '" : "", n->type == YAML_SCALAR_NODE ? v : "",
                   n->type == YAML_SCALAR_NODE ? "'" : "");
            return;
        }
        *(bool *)slot = b;
        return;
    }
    case T_UINT:
    case T_INT: {
        int64_t iv;
        if (!is_plain(n) || parse_i64(v, &iv) < 0) {
            report(ld, n, "'%s' must be an integer between %.0f and %.0f, got %s%s%s%s", path,
                   k->min, k->max, node_kind(n), n->type == YAML_SCALAR_NODE ? " '" : "",
                   n->type == YAML_SCALAR_NODE ? v : "", n->type == YAML_SCALAR_NODE ? "'" : "");
            return;
        }
        if ((double)iv < k->min || (double)iv > k->max) {
            report(ld, n, "'%s' must be between %.0f and %.0f, got %s", path, k->min, k->max, v);
            return;
        }
        if (k->type == T_INT)
            *(int64_t *)slot = iv;
        else
            store_uint(slot, k->width, (uint64_t)iv);
        return;
    }
    case T_DOUBLE: {
        double d;
        if (!is_plain(n) || parse_double(v, &d) < 0) {
            report(ld, n, "'%s' must be a number between %g and %g, got %s%s%s%s", path, k->min,
                   k->max, node_kind(n), n->type == YAML_SCALAR_NODE ? " '" : "",
                   n->type == YAML_SCALAR_NODE ? v : "", n->type == YAML_SCALAR_NODE ? "'" : "");
            return;
        }
        if (d < k->min || d > k->max) {
            report(ld, n, "'%s' must be between %g and %g, got %s", path, k->min, k->max, v);
            return;
        }
        *(double *)slot = d;
        return;
    }
    case T_STR:
    case T_STR_NULL: {
        const char *why;
        char *s;
        if (k->type == T_STR_NULL && is_null(n)) {
            free(*(char **)slot);
            *(char **)slot = NULL;
            return;
        }
        if (n->type != YAML_SCALAR_NODE ||
            (k->type == T_STR && is_null(n) && is_plain(n) && n->data.scalar.length > 0)) {
            report(ld, n, "'%s' must be a string, got %s", path,
                   n->type == YAML_SCALAR_NODE ? "null" : node_kind(n));
            return;
        }
        s = checked_string(ld, n, path);
        if (!s)
            return;
        if (k->check && (why = k->check(s))) {
            if (k->secret) /* a credential is never echoed, not even a wrong one */
                report(ld, n, "'%s' %s", path, why);
            else
                report(ld, n, "'%s' %s; got '%.80s%s'", path, why, s, strlen(s) > 80 ? "..." : "");
            free(s);
            return;
        }
        free(*(char **)slot);
        *(char **)slot = s;
        return;
    }
    case T_LOGLEVEL: {
        enum log_level lv;
        if (n->type != YAML_SCALAR_NODE || log_level_from_string(v, &lv) < 0) {
            report(ld, n, "'%s' must be one of error, warn, info, debug, trace; got %s%s%s%s", path,
                   node_kind(n), n->type == YAML_SCALAR_NODE ? " '" : "",
                   n->type == YAML_SCALAR_NODE ? v : "", n->type == YAML_SCALAR_NODE ? "'" : "");
            return;
        }
        *(enum log_level *)slot = lv;
        return;
    }
    case T_PORTS: {
        struct config_ports *p = (struct config_ports *)slot;
        struct config_ports np = {.n = 0};
        if (is_null(n)) {
            p->n = 0;
            return;
        }
        if (n->type != YAML_SEQUENCE_NODE) {
            report(ld, n, "'%s' must be a list of port numbers, got %s", path, node_kind(n));
            return;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            const yaml_node_t *e = yaml_document_get_node(ld->doc, *it);
            int64_t port;
            if (!e)
                continue;
            if (np.n >= CONFIG_MAX_LIST) {
                report(ld, e, "'%s' has more than %d entries", path, CONFIG_MAX_LIST);
                return;
            }
            if (!is_plain(e) || parse_i64((const char *)e->data.scalar.value, &port) < 0 ||
                port < 1 || port > 65535) {
                report(ld, e, "'%s' entries must be port numbers between 1 and 65535, got %s%s%s%s",
                       path, node_kind(e), e->type == YAML_SCALAR_NODE ? " '" : "",
                       e->type == YAML_SCALAR_NODE ? (const char *)e->data.scalar.value : "",
                       e->type == YAML_SCALAR_NODE ? "'" : "");
                return;
            }
            np.v[np.n++] = (uint16_t)port;
        }
        *p = np;
        return;
    }
    case T_STRLIST: {
        struct config_strlist *l = (struct config_strlist *)slot;
        struct config_strlist nl = {0};
        const char *why;
        size_t cnt;
        bool one = k->one_or_list && n->type == YAML_SCALAR_NODE;
        if (is_null(n)) {
            free_strings(ld->cfg, (const struct key[]){*k, K_END});
            return;
        }
        if (n->type != YAML_SEQUENCE_NODE && !(one && n->type == YAML_SCALAR_NODE)) {
            report(ld, n, "'%s' must be %s, got %s", path,
                   k->one_or_list ? "a name or a list of names" : "a list of strings",
                   node_kind(n));
            return;
        }
        cnt = one ? 1 : (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (cnt > CONFIG_MAX_LIST) {
            report(ld, n, "'%s' has more than %d entries", path, CONFIG_MAX_LIST);
            return;
        }
        nl.v = calloc(cnt ? cnt : 1, sizeof(char *));
        if (!nl.v) {
            report(ld, n, "out of memory");
            return;
        }
        for (size_t i = 0; i < cnt; i++) {
            const yaml_node_t *e =
                one ? n : yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
            char *s;
            if (!e || e->type != YAML_SCALAR_NODE || is_null(e)) {
                report(ld, e ? e : n, "'%s' entries must be strings", path);
                goto fail_list;
            }
            s = checked_string(ld, e, path);
            if (!s)
                goto fail_list;
            if (k->check && (why = k->check(s))) {
                report(ld, e, "'%s' entries %s", path, why);
                free(s);
                goto fail_list;
            }
            nl.v[nl.n++] = s;
        }
        free_strings(ld->cfg, (const struct key[]){*k, K_END});
        *l = nl;
        return;
    fail_list:
        for (size_t i = 0; i < nl.n; i++)
            free(nl.v[i]);
        free(nl.v);
        return;
    }
    case T_BUCKETS:
        load_buckets(ld, n, k, path);
        return;
    case T_RULES:
        load_rules(ld, n, k, path);
        return;
    case T_DRULES:
        load_detect_rules(ld, n, k, path);
        return;
    case T_SECTION:
        if (is_null(n))
            return; /* an empty section keeps its defaults */
        load_section(ld, n, k->section, path);
        return;
    case T_SECTION_OPT:
        if (is_null(n)) {
            *(bool *)((char *)ld->cfg + k->present_offset) = false;
            return;
        }
        *(bool *)((char *)ld->cfg + k->present_offset) = true;
        load_section(ld, n, k->section, path);
        return;
    }
}

static void load_section(struct loader *ld, const yaml_node_t *map, const struct key *keys,
                         const char *path)
{
    const yaml_node_pair_t *seen_start;
    uint32_t seen = 0; /* bit i: keys[i] was given */

    if (map->type != YAML_MAPPING_NODE) {
        report(ld, map, "'%s' must be a mapping of keys, got %s", *path ? path : "the document",
               node_kind(map));
        return;
    }
    seen_start = map->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);
        const struct key *k;
        const char *name;
        char sub[256];
        bool dup = false;

        if (++ld->visited > MAX_NODES) {
            report(ld, kn, "document too large or too deeply aliased");
            return;
        }
        if (!kn || !vn)
            continue;
        if (kn->type != YAML_SCALAR_NODE) {
            report(ld, kn, "keys must be plain names, got %s", node_kind(kn));
            continue;
        }
        name = (const char *)kn->data.scalar.value;
        for (k = keys; k->name; k++)
            if (!strcmp(k->name, name))
                break;
        /*
         * Repeated? For a schema key its bit says so. Any other key is an error
         * either way, only its message tells "duplicate" from "unknown": look back
         * while messages are still shown, not for each of 100000 keys (quadratic).
         */
        if (k->name && k - keys < 32) {
            dup = seen & (UINT32_C(1) << (k - keys));
            seen |= UINT32_C(1) << (k - keys);
        } else if (k->name || ld->nerrs < MAX_ERRORS) {
            for (const yaml_node_pair_t *q = seen_start; q < p && !dup; q++) {
                const yaml_node_t *qk = yaml_document_get_node(ld->doc, q->key);
                if (qk && qk->type == YAML_SCALAR_NODE &&
                    !strcmp((const char *)qk->data.scalar.value, name))
                    dup = true;
            }
        }
        if (dup) {
            report(ld, kn, "duplicate key '%s%s%s'", path, *path ? "." : "", name);
            continue;
        }
        if (!k->name) {
            const char *hint = ld->nerrs < MAX_ERRORS ? suggest(keys, name) : NULL;
            char shown[80];
            snprintf(shown, sizeof(shown), "%.64s%s", name, strlen(name) > 64 ? "..." : "");
            if (hint)
                report(ld, kn, "unknown key '%s' in %s%s%s (did you mean '%s'?)", shown,
                       *path ? "'" : "", *path ? path : "the top level", *path ? "'" : "", hint);
            else
                report(ld, kn, "unknown key '%s' in %s%s%s", shown, *path ? "'" : "",
                       *path ? path : "the top level", *path ? "'" : "");
            continue;
        }
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k->name);
        load_value(ld, vn, k, sub);
    }
}

static void check_semantics(struct loader *ld, const yaml_node_t *root)
{
    const struct config *c = ld->cfg;
    int nproc = (c->agent.process.pid > 0) + (c->agent.process.pidfile != NULL) +
                (c->agent.process.name != NULL);

    if (nproc > 1)
        report(ld, root, "'agent.process': set only one of pid, pidfile and name");
    if (c->agent.process.name && !*c->agent.process.name)
        report(ld, root, "'agent.process.name' must not be empty");
    if (c->agent.procfs_root && !*c->agent.procfs_root)
        report(ld, root, "'agent.procfs_root' must not be empty");
    if (c->agent.sysfs_root && !*c->agent.sysfs_root)
        report(ld, root, "'agent.sysfs_root' must not be empty");
    if (c->agent.disk_path && !*c->agent.disk_path)
        report(ld, root, "'agent.disk_path' must not be empty");
    if (c->agent.node_id && (!*c->agent.node_id || strlen(c->agent.node_id) > 128))
        report(ld, root, "'agent.node_id' must be 1 to 128 characters");
    for (size_t i = 0; i < c->detection.disabled.n; i++)
        if (!detect_builtin_rule(c->detection.disabled.v[i]))
            report(ld, root,
                   "'detection.disabled_rules': '%.64s' is not a built-in rule (docs/detection.md "
                   "lists them)",
                   c->detection.disabled.v[i]);
    if (c->statsd.enabled && !*c->statsd.listen && !c->statsd.unix_socket)
        report(ld, root,
               "'statsd': enabled with no socket; set listen or unix_socket, or enabled: false");
}

/*
 * libyaml's scanner takes time quadratic in the nesting of flow collections (a
 * file of 1 MB of "[": minutes), and no valid configuration nests deeper than 4
 * levels. So a first pass over the events stops at MAX_DEPTH, before a document
 * is built; *ret_mark: where. A syntax error ends it quietly: the load reports it.
 */
static bool too_deep(const char *buf, size_t len, yaml_mark_t *ret_mark)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    unsigned depth = 0;
    bool deep = false, done = false;

    if (!yaml_parser_initialize(&parser))
        return false;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    while (!deep && !done && yaml_parser_parse(&parser, &ev)) {
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > MAX_DEPTH) {
                *ret_mark = ev.start_mark;
                deep = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return deep;
}

int config_load_buffer(struct config *cfg, const char *name, const char *buf, size_t len,
                       struct strbuf *errs)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct loader ld = {.name = name, .doc = &doc, .cfg = cfg, .errs = errs};
    yaml_node_t *root;
    yaml_mark_t deep_at;
    int r = 0;

    if (len > CONFIG_MAX_FILE_SIZE) {
        strbuf_printf(errs, "%s: larger than %zu bytes\n", name, CONFIG_MAX_FILE_SIZE);
        return -EFBIG;
    }
    if (too_deep(buf, len, &deep_at)) {
        strbuf_printf(errs, "%s:%zu:%zu: nested deeper than %d levels\n", name, deep_at.line + 1,
                      deep_at.column + 1, MAX_DEPTH);
        return -EINVAL;
    }
    if (!yaml_parser_initialize(&parser)) {
        strbuf_printf(errs, "%s: out of memory\n", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        strbuf_printf(errs, "%s:%zu:%zu: %s%s%s\n", name, parser.problem_mark.line + 1,
                      parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML",
                      parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return -EINVAL;
    }
    root = yaml_document_get_root_node(&doc);
    if (root && !(is_null(root)))
        load_section(&ld, root, root_keys, "");
    if (ld.nerrs == 0)
        check_semantics(&ld, root);
    yaml_document_delete(&doc);

    if (ld.nerrs == 0) {
        /* a second document in the same file is a mistake, not something to ignore */
        yaml_document_t doc2;
        if (!yaml_parser_load(&parser, &doc2)) {
            strbuf_printf(errs, "%s:%zu:%zu: %s\n", name, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1,
                          parser.problem ? parser.problem : "bad YAML");
            ld.nerrs++;
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
            if (r2) {
                strbuf_printf(errs, "%s:%zu:%zu: only one YAML document is allowed\n", name,
                              r2->start_mark.line + 1, r2->start_mark.column + 1);
                ld.nerrs++;
            }
            yaml_document_delete(&doc2);
        }
    }
    yaml_parser_delete(&parser);
    if (ld.nerrs > MAX_ERRORS)
        strbuf_printf(errs, "%s: %u more errors not shown\n", name, ld.nerrs - MAX_ERRORS);
    if (ld.nerrs)
        r = -EINVAL;
    return r;
}

int config_load_file(struct config *cfg, const char *path, struct strbuf *errs)
{
    struct stat st;
    char *buf;
    size_t len = 0;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        strbuf_printf(errs, "%s: cannot open: %s\n", path, strerror(-r));
        return r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        strbuf_printf(errs, "%s: not a regular file\n", path);
        close(fd);
        return -EINVAL;
    }
    if ((size_t)st.st_size > CONFIG_MAX_FILE_SIZE) {
        strbuf_printf(errs, "%s: larger than %zu bytes\n", path, CONFIG_MAX_FILE_SIZE);
        close(fd);
        return -EFBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    r = config_load_buffer(cfg, path, buf, len, errs);
    free(buf);
    return r;
}

/* ---- resolution on this host ---- */

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static bool dir_writable(const char *path)
{
    struct stat st;

    return mkdir_p(path, 0750) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
           access(path, W_OK | X_OK) == 0;
}

bool config_token_ok(const char *t)
{
    size_t i = 0, n = strlen(t);

    while (i < n && (isalnum((unsigned char)t[i]) || strchr("-._~+/", t[i])))
        i++;
    if (i == 0)
        return false;
    while (i < n && t[i] == '=')
        i++;
    return i == n && n <= 1024;
}

/* The alert channels' settings that only make sense together; one line per
 * problem into errs. */
static int check_alerts(const struct config *cfg, struct strbuf *errs)
{
    const char *files[][2] = {{"smtp_password_file", cfg->alerts.smtp_password_file},
                              {"webhook_secret_file", cfg->alerts.webhook_secret_file},
                              {"smtp_ca_file", cfg->alerts.smtp_ca_file}};
    size_t before = errs->len;

    if (cfg->alerts.email && (!cfg->alerts.smtp_url || !cfg->alerts.smtp_from))
        strbuf_puts(errs, "alerts.email: e-mail alerts also need alerts.smtp_url and "
                          "alerts.smtp_from\n");
    if (cfg->alerts.smtp_password && cfg->alerts.smtp_password_file)
        strbuf_puts(errs, "alerts: set smtp_password or smtp_password_file, not both\n");
    if (cfg->alerts.webhook_secret && cfg->alerts.webhook_secret_file)
        strbuf_puts(errs, "alerts: set webhook_secret or webhook_secret_file, not both\n");
    if (!cfg->alerts.smtp_user != !(cfg->alerts.smtp_password || cfg->alerts.smtp_password_file))
        strbuf_puts(errs, "alerts: set smtp_user together with smtp_password or "
                          "smtp_password_file, or none of them\n");
    if (cfg->alerts.smtp_user && cfg->alerts.smtp_url &&
        strncmp(cfg->alerts.smtp_url, "smtp://", 7) == 0 && !cfg->alerts.smtp_starttls)
        strbuf_puts(errs, "alerts: smtp_user over smtp:// without smtp_starttls would send the "
                          "password in clear; use smtps:// or smtp_starttls: true\n");
    if (cfg->alerts.webhook_secret && !*cfg->alerts.webhook_secret)
        strbuf_puts(errs, "alerts.webhook_secret: must not be empty\n");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (files[i][1] && access(files[i][1], R_OK) < 0)
            strbuf_printf(errs, "alerts.%s: cannot read '%s': %s\n", files[i][0], files[i][1],
                          strerror(errno));
    return errs->len > before ? -EINVAL : 0;
}

int config_resolve(struct config *cfg, bool make_dirs, struct strbuf *errs)
{
    char buf[4096];

    if (!cfg->agent.node_id) {
        char host[256] = "";
        if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
            snprintf(host, sizeof(host), "localhost");
        cfg->agent.node_id = strdup(host);
        if (!cfg->agent.node_id)
            return -ENOMEM;
    }
    if (!cfg->agent.data_dir) {
        const char *home = getenv("HOME");
        const char *xdg = getenv("XDG_STATE_HOME");
        if (geteuid() == 0 || (!home && !xdg))
            snprintf(buf, sizeof(buf), "/var/lib/arthamon");
        else if (xdg && *xdg == '/')
            snprintf(buf, sizeof(buf), "%s/arthamon", xdg);
        else
            snprintf(buf, sizeof(buf), "%s/.local/state/arthamon", home);
        cfg->agent.data_dir = strdup(buf);
        if (!cfg->agent.data_dir)
            return -ENOMEM;
    }
    if (!cfg->http.tls.cert_file != !cfg->http.tls.key_file) {
        strbuf_puts(errs, "http.tls: set both cert_file and key_file, or neither\n");
        return -EINVAL;
    }
    if (!cfg->http.auth.basic_user != !cfg->http.auth.basic_password_hash) {
        strbuf_puts(errs, "http.auth: set both basic_user and basic_password_hash, or neither\n");
        return -EINVAL;
    }
    if (cfg->http.auth.bearer_token && cfg->http.auth.bearer_token_file) {
        strbuf_puts(errs, "http.auth: set bearer_token or bearer_token_file, not both\n");
        return -EINVAL;
    }
    if (cfg->http.auth.bearer_token && !config_token_ok(cfg->http.auth.bearer_token)) {
        strbuf_puts(errs, "http.auth.bearer_token: use 1 to 1024 characters from A-Z a-z 0-9 "
                          "- . _ ~ + / (then optional '=' padding), as RFC 6750 tokens are\n");
        return -EINVAL;
    }
    if (check_alerts(cfg, errs) < 0)
        return -EINVAL;
    if (!make_dirs)
        return 0;
    if (!dir_writable(cfg->agent.data_dir)) {
        strbuf_printf(errs, "agent.data_dir '%s' cannot be created or written: %s\n",
                      cfg->agent.data_dir, strerror(errno));
        return -EACCES;
    }
    if (!dir_writable(cfg->monitoring.logging.output_dir)) {
        snprintf(buf, sizeof(buf), "%s/log", cfg->agent.data_dir);
        log_warn("logging.output_dir '%s' is not writable; writing logs to '%s' instead",
                 cfg->monitoring.logging.output_dir, buf);
        if (!dir_writable(buf)) {
            strbuf_printf(errs, "log directory '%s' cannot be created or written\n", buf);
            return -EACCES;
        }
        set_str(&cfg->monitoring.logging.output_dir, buf);
        if (!cfg->monitoring.logging.output_dir)
            return -ENOMEM;
    }
    return 0;
}

void config_apply_logging(const struct config *cfg)
{
    char path[4096];
    int r;

    log_set_level(cfg->monitoring.logging.level);
    log_set_stdout(cfg->monitoring.logging.stdout_enabled);
    if (snprintf(path, sizeof(path), "%s/arthamon.log", cfg->monitoring.logging.output_dir) >=
        (int)sizeof(path)) {
        log_warn("log file path too long; logging to stdout only");
        return;
    }
    r = log_set_file(path);
    if (r < 0)
        log_warn("cannot open log file %s: %s", path, strerror(-r));
}
