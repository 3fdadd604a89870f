/*
 * Prometheus exposition (text 0.0.4 and OpenMetrics 1.0.0).
 *
 * One pass of snapshot_flatten() collects the samples into a scratch array,
 * linked per family, because the flattening may visit a family's samples
 * interleaved with others (two models, each with all of its figures) while both
 * formats want a family's samples together under one HELP and TYPE. The writing
 * pass then walks the families in the order they were first seen. Label values
 * are copied into a scratch pool: the flattening may hand out a buffer it
 * reuses for the next sample.
 */
#include "prom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/parse.h"
#include "lib/sketch.h"

/* ---- names ---- */

#define KIB 1024.0
#define MIB 1048576.0
#define GIB 1073741824.0

const struct prom_map prom_map_table[] = {
    /* CPU_FIELDS */
    {"cpu.usage_percent", "arthamon_cpu_usage_ratio", 0.01, "ratio", NULL},
    {"cpu.temperature", "arthamon_cpu_temperature_celsius", 1, "celsius", NULL},
    {"cpu.frequency_mhz", "arthamon_cpu_frequency_hertz", 1e6, "hertz", NULL},
    {"cpu.process_usage", "arthamon_cpu_process_usage_ratio", 0.01, "ratio",
     "CPU used by the monitored process, in cores (1: one core fully busy)"},
    {"cpu.online_cores", "arthamon_cpu_online_cores", 1, "", NULL},
    {"cpu.process_seconds_total", "arthamon_cpu_process_seconds_total", 1, "seconds", NULL},
    /* MEMORY_FIELDS */
    {"memory.physical_used_mb", "arthamon_memory_physical_used_bytes", MIB, "bytes", NULL},
    {"memory.physical_total_mb", "arthamon_memory_physical_total_bytes", MIB, "bytes", NULL},
    {"memory.virtual_used_mb", "arthamon_memory_virtual_used_bytes", MIB, "bytes", NULL},
    {"memory.swap_used_mb", "arthamon_memory_swap_used_bytes", MIB, "bytes", NULL},
    {"memory.available_mb", "arthamon_memory_available_bytes", MIB, "bytes", NULL},
    {"memory.swap_total_mb", "arthamon_memory_swap_total_bytes", MIB, "bytes", NULL},
    {"memory.process_rss_mb", "arthamon_memory_process_rss_bytes", MIB, "bytes", NULL},
    {"memory.process_virtual_mb", "arthamon_memory_process_virtual_bytes", MIB, "bytes", NULL},
    /* GC_FIELDS */
    {"memory.gc_metrics.collections_total", "arthamon_memory_gc_collections_total", 1, "", NULL},
    {"memory.gc_metrics.collections_per_sec", "arthamon_memory_gc_collections_per_second", 1, "",
     NULL},
    {"memory.gc_metrics.avg_pause_ms", "arthamon_memory_gc_avg_pause_seconds", 0.001, "seconds",
     NULL},
    {"memory.gc_metrics.max_pause_ms", "arthamon_memory_gc_max_pause_seconds", 0.001, "seconds",
     NULL},
    /* DISK_FIELDS */
    {"disk.read_ops_per_sec", "arthamon_disk_read_ops_per_second", 1, "", NULL},
    {"disk.write_ops_per_sec", "arthamon_disk_write_ops_per_second", 1, "", NULL},
    {"disk.read_mbps", "arthamon_disk_read_bytes_per_second", MIB, "bytes_per_second",
     "Bytes read per second, all real block devices"},
    {"disk.write_mbps", "arthamon_disk_write_bytes_per_second", MIB, "bytes_per_second",
     "Bytes written per second, all real block devices"},
    {"disk.usage_percent", "arthamon_disk_usage_ratio", 0.01, "ratio", NULL},
    {"disk.available_gb", "arthamon_disk_available_bytes", GIB, "bytes",
     "Space available to unprivileged users on the watched file system"},
    {"disk.total_gb", "arthamon_disk_total_bytes", GIB, "bytes", "Size of the watched file system"},
    {"disk.reads_total", "arthamon_disk_reads_total", 1, "", NULL},
    {"disk.writes_total", "arthamon_disk_writes_total", 1, "", NULL},
    {"disk.read_bytes_total", "arthamon_disk_read_bytes_total", 1, "bytes", NULL},
    {"disk.written_bytes_total", "arthamon_disk_written_bytes_total", 1, "bytes", NULL},
    {"disk.devices", "arthamon_disk_devices", 1, "", NULL},
    /* NETWORK_FIELDS */
    {"network.ingress_kbps", "arthamon_network_ingress_bytes_per_second", KIB, "bytes_per_second",
     "Bytes received per second, loopback excluded"},
    {"network.egress_kbps", "arthamon_network_egress_bytes_per_second", KIB, "bytes_per_second",
     "Bytes sent per second, loopback excluded"},
    {"network.packet_loss_percent", "arthamon_network_packet_loss_ratio", 0.01, "ratio", NULL},
    {"network.latency_ms", "arthamon_network_latency_seconds", 0.001, "seconds", NULL},
    {"network.p2p_connections", "arthamon_network_p2p_connections", 1, "", NULL},
    {"network.open_sockets", "arthamon_network_open_sockets", 1, "", NULL},
    {"network.received_bytes_total", "arthamon_network_received_bytes_total", 1, "bytes", NULL},
    {"network.sent_bytes_total", "arthamon_network_sent_bytes_total", 1, "bytes", NULL},
    {"network.tcp_segments_sent_total", "arthamon_network_tcp_segments_sent_total", 1, "", NULL},
    {"network.tcp_segments_retransmitted_total",
     "arthamon_network_tcp_segments_retransmitted_total", 1, "", NULL},
    /* GPU_FIELDS */
    {"gpu.usage_percent", "arthamon_gpu_usage_ratio", 0.01, "ratio", NULL},
    {"gpu.memory_used_mb", "arthamon_gpu_memory_used_bytes", MIB, "bytes", NULL},
    {"gpu.memory_total_mb", "arthamon_gpu_memory_total_bytes", MIB, "bytes", NULL},
    {"gpu.temperature", "arthamon_gpu_temperature_celsius", 1, "celsius", NULL},
    {"gpu.tensor_core_util", "arthamon_gpu_tensor_core_utilization_ratio", 0.01, "ratio", NULL},
    {"gpu.core_util", "arthamon_gpu_core_utilization_ratio", 0.01, "ratio", NULL},
    {"gpu.quantum_sim_usage", "arthamon_gpu_quantum_sim_usage_ratio", 0.01, "ratio", NULL},
    {"gpu.power_watts", "arthamon_gpu_power_watts", 1, "watts", "Power drawn by all GPUs"},
    /* GPUS_FIELDS: one sample per GPU, labelled gpu, name and uuid */
    {"gpus.usage_percent", "arthamon_gpu_device_usage_ratio", 0.01, "ratio", NULL},
    {"gpus.memory_used_mb", "arthamon_gpu_device_memory_used_bytes", MIB, "bytes", NULL},
    {"gpus.memory_total_mb", "arthamon_gpu_device_memory_total_bytes", MIB, "bytes", NULL},
    {"gpus.temperature", "arthamon_gpu_device_temperature_celsius", 1, "celsius", NULL},
    {"gpus.power_watts", "arthamon_gpu_device_power_watts", 1, "watts", NULL},
    {"gpus.clock_sm_mhz", "arthamon_gpu_device_sm_clock_hertz", 1e6, "hertz", NULL},
    {"gpus.clock_memory_mhz", "arthamon_gpu_device_memory_clock_hertz", 1e6, "hertz", NULL},
    {"gpus.tensor_core_util", "arthamon_gpu_device_tensor_core_utilization_ratio", 0.01, "ratio",
     NULL},
    {"gpus.core_util", "arthamon_gpu_device_core_utilization_ratio", 0.01, "ratio", NULL},
    /* NODE_FIELDS */
    {"node.transactions_per_sec", "arthamon_node_transactions_per_second", 1, "", NULL},
    {"node.avg_tx_validation_ms", "arthamon_node_avg_tx_validation_seconds", 0.001, "seconds",
     NULL},
    {"node.blocks_per_min", "arthamon_node_blocks_per_second", 1.0 / 60, "",
     "Blocks produced per second (the per-minute figure / 60)"},
    {"node.avg_block_size_kb", "arthamon_node_avg_block_size_bytes", KIB, "bytes", NULL},
    {"node.mempool_size", "arthamon_node_mempool_transactions", 1, "", NULL},
    /* CONSENSUS_FIELDS */
    {"node.consensus_metrics.time_to_finality_sec",
     "arthamon_node_consensus_time_to_finality_seconds", 1, "seconds", NULL},
    {"node.consensus_metrics.messages_per_sec", "arthamon_node_consensus_messages_per_second", 1,
     "", NULL},
    {"node.consensus_metrics.participation_percent", "arthamon_node_consensus_participation_ratio",
     0.01, "ratio", NULL},
    {"node.consensus_metrics.quantum_resistant_overhead",
     "arthamon_node_consensus_quantum_resistant_overhead_ratio", 0.01, "ratio", NULL},
    /* CONTRACT_FIELDS */
    {"node.contract_metrics.contracts_per_sec", "arthamon_node_contract_executions_per_second", 1,
     "", NULL},
    {"node.contract_metrics.avg_execution_ms", "arthamon_node_contract_avg_execution_seconds",
     0.001, "seconds", NULL},
    {"node.contract_metrics.avg_gas_used", "arthamon_node_contract_avg_gas_used", 1, "", NULL},
    {"node.contract_metrics.wasm_load_ms", "arthamon_node_contract_wasm_load_seconds", 0.001,
     "seconds", NULL},
    /* QUANTUM_FIELDS */
    {"quantum.qrng_throughput", "arthamon_quantum_qrng_throughput_bytes_per_second", 0.125,
     "bytes_per_second", "Random bytes per second from the entropy source"},
    {"quantum.pq_crypto_overhead", "arthamon_quantum_pq_crypto_overhead_ratio", 0.01, "ratio",
     NULL},
    {"quantum.merkle_ops_per_sec", "arthamon_quantum_merkle_ops_per_second", 1, "", NULL},
    {"quantum.security_level_bits", "arthamon_quantum_security_level", 1, "",
     "Estimated security level against a quantum adversary, in bits"},
    /* QSIM_FIELDS */
    {"quantum.simulation_metrics.qubits", "arthamon_quantum_simulation_qubits", 1, "", NULL},
    {"quantum.simulation_metrics.circuit_depth", "arthamon_quantum_simulation_circuit_depth", 1, "",
     NULL},
    {"quantum.simulation_metrics.gate_ops_per_sec",
     "arthamon_quantum_simulation_gate_ops_per_second", 1, "", NULL},
    {"quantum.simulation_metrics.wall_time_ms", "arthamon_quantum_simulation_wall_time_seconds",
     0.001, "seconds", NULL},
    /* MODEL_FIELDS */
    {"model_inference.avg_inference_ms", "arthamon_model_inference_avg_seconds", 0.001, "seconds",
     NULL},
    {"model_inference.p95_inference_ms", "arthamon_model_inference_p95_seconds", 0.001, "seconds",
     NULL},
    {"model_inference.p99_inference_ms", "arthamon_model_inference_p99_seconds", 0.001, "seconds",
     NULL},
    {"model_inference.throughput_per_sec", "arthamon_model_inferences_per_second", 1, "", NULL},
    {"model_inference.accelerator_util_percent", "arthamon_model_accelerator_utilization_ratio",
     0.01, "ratio", NULL},
    /* LABELLED_FIELDS */
    {"cpu.core_usage", "arthamon_cpu_core_usage_ratio", 0.01, "ratio", NULL},
    {"cpu.seconds_total", "arthamon_cpu_seconds_total", 1, "seconds", NULL},
    {"node.contract_metrics.function_calls", "arthamon_node_contract_function_calls_total", 1, "",
     NULL},
    {"model_inference.layer_latencies", "arthamon_model_layer_latency_seconds", 0.001, "seconds",
     NULL},
    {"neural_predictions", "arthamon_neural_prediction", 1, "", NULL},
};
const size_t prom_map_table_len = sizeof(prom_map_table) / sizeof(prom_map_table[0]);

const struct prom_map *prom_map_find(const char *series)
{
    for (size_t i = 0; i < prom_map_table_len; i++)
        if (strcmp(prom_map_table[i].series, series) == 0)
            return &prom_map_table[i];
    return NULL;
}

/* ---- content negotiation ---- */

static const char ct_text[] = "text/plain; version=0.0.4; charset=utf-8";
static const char ct_om[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const char *prom_content_type(enum prom_format fmt)
{
    return fmt == PROM_OPENMETRICS ? ct_om : ct_text;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool span_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* A q-value in thousandths ("0", "0.5", "1.000"), or -1 when malformed. */
static int parse_q(const char *s, size_t n)
{
    int q = 0, scale = 1000;
    size_t i = 1;

    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * 1000;
    if (n > 1) {
        if (s[1] != '.' || n > 5)
            return -1;
        for (i = 2; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            scale /= 10;
            q += (s[i] - '0') * scale;
        }
    }
    return q > 1000 ? -1 : q;
}

/* One media range of an Accept header, s..end (no top-level comma inside). */
struct range {
    const char *type, *version;
    size_t type_len, version_len;
    int q; /* thousandths; -1: malformed */
};

static void parse_range(const char *s, const char *end, struct range *r)
{
    const char *p = s;

    r->type = NULL;
    r->version = "";
    r->type_len = r->version_len = 0;
    r->q = 1000;
    while (p < end && is_ows(*p))
        p++;
    r->type = p;
    while (p < end && *p != ';' && !is_ows(*p))
        p++;
    r->type_len = (size_t)(p - r->type);
    while (p < end) {
        const char *name, *val;
        size_t name_len, val_len;

        while (p < end && (is_ows(*p) || *p == ';'))
            p++;
        name = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        name_len = (size_t)(p - name);
        while (p < end && is_ows(*p))
            p++;
        if (p >= end || *p != '=') {
            continue; /* a parameter without a value: ignored */
        }
        p++;
        while (p < end && is_ows(*p))
            p++;
        if (p < end && *p == '"') {
            val = ++p;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                p++;
            }
            val_len = (size_t)(p - val);
            if (p < end)
                p++;
        } else {
            val = p;
            while (p < end && *p != ';' && !is_ows(*p))
                p++;
            val_len = (size_t)(p - val);
        }
        if (span_is(name, name_len, "q")) {
            r->q = parse_q(val, val_len);
        } else if (span_is(name, name_len, "version")) {
            r->version = val;
            r->version_len = val_len;
        }
    }
}

/* End of the media range starting at s: the next comma outside a quoted string. */
static const char *range_end(const char *s)
{
    bool quoted = false;

    for (; *s; s++) {
        if (quoted && *s == '\\' && s[1])
            s++;
        else if (*s == '"')
            quoted = !quoted;
        else if (*s == ',' && !quoted)
            break;
    }
    return s;
}

enum prom_format prom_negotiate(const char *accept)
{
    enum prom_format best = PROM_TEXT;
    int best_rank = -1;
    const char *p = accept;

    if (!accept)
        return PROM_TEXT;
    while (*p) {
        const char *end = range_end(p);
        struct range r;
        enum prom_format fmt;
        bool exact;
        int rank;

        parse_range(p, end, &r);
        p = *end ? end + 1 : end;
        if (r.q <= 0)
            continue; /* malformed, or explicitly not acceptable */
        if (span_is(r.type, r.type_len, "application/openmetrics-text") &&
            (r.version_len == 0 || span_is(r.version, r.version_len, "1.0.0") ||
             span_is(r.version, r.version_len, "0.0.1"))) {
            fmt = PROM_OPENMETRICS;
            exact = true;
        } else if (span_is(r.type, r.type_len, "text/plain") &&
                   (r.version_len == 0 || span_is(r.version, r.version_len, "0.0.4"))) {
            fmt = PROM_TEXT;
            exact = true;
        } else if (span_is(r.type, r.type_len, "*/*") || span_is(r.type, r.type_len, "text/*")) {
            fmt = PROM_TEXT;
            exact = false;
        } else {
            continue;
        }
        rank = r.q * 2 + exact;
        if (rank > best_rank) {
            best_rank = rank;
            best = fmt;
        }
    }
    return best;
}

/* ---- writing ---- */

/*
 * The writer gathers small pieces in a local buffer and hands them to the
 * strbuf in large appends: a sample line is a dozen pieces, and the strbuf's
 * checks on each would cost more than the copying.
 */
struct writer {
    struct strbuf *sb;
    enum prom_format fmt;
    const char *node_id;
    size_t len;
    char buf[4096];
};

static void wflush(struct writer *w)
{
    if (w->len)
        strbuf_append(w->sb, w->buf, w->len);
    w->len = 0;
}

static void wput(struct writer *w, const char *s, size_t n)
{
    if (n > sizeof(w->buf) - w->len) {
        wflush(w);
        if (n > sizeof(w->buf)) {
            strbuf_append(w->sb, s, n);
            return;
        }
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

#define WPUT_LIT(w, lit) wput((w), (lit), sizeof(lit) - 1)

static void wputs(struct writer *w, const char *s)
{
    wput(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (2..4 bytes), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned cp;
    size_t n;

    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* ASCII characters that may need a backslash. */
static const unsigned char special[128] = {['\\'] = 1, ['\n'] = 1, ['"'] = 1};

static void wescape(struct writer *w, const char *s, enum prom_escape how)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;

    if (!s)
        return;
    for (;;) {
        const char *rep;
        size_t rep_len = 2;

        while (*p && *p < 0x80 && !special[*p])
            p++;
        if (!*p)
            break;
        if (*p >= 0x80) {
            size_t n = utf8_len(p);

            if (n) {
                p += n;
                continue;
            }
            rep = "\xef\xbf\xbd";
            rep_len = 3;
        } else if (*p == '\\') {
            rep = "\\\\";
        } else if (*p == '\n') {
            rep = "\\n";
        } else if (how != PROM_ESC_HELP_TEXT) {
            rep = "\\\"";
        } else {
            p++; /* a quote in text-format HELP stays as it is */
            continue;
        }
        wput(w, (const char *)run, (size_t)(p - run));
        wput(w, rep, rep_len);
        run = ++p;
    }
    wput(w, (const char *)run, (size_t)(p - run));
}

int prom_escape(struct strbuf *out, const char *s, enum prom_escape how)
{
    struct writer w;

    w.sb = out;
    w.len = 0;
    wescape(&w, s, how);
    wflush(&w);
    return out->overflow ? -ENOSPC : 0;
}

static const double pow10_tab[10] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Decimal digits of v at the end of a 24-byte buffer; returns the first. */
static char *u64_digits(char buf[24], uint64_t v)
{
    char *p = buf + 24;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/*
 * v as m / 10^dec with the fewest decimals (0..9) and |m| < 2^53, when that
 * decimal is exactly v's text: m and 10^dec are exact doubles and the division
 * is correctly rounded, so m / 10^dec == v means the decimal reads back as v.
 */
static bool as_decimal(double v, int64_t *ret_m, int *ret_dec)
{
    for (int dec = 0; dec <= 9; dec++) {
        double s = v * pow10_tab[dec];
        double m;

        if (!(fabs(s) < 9007199254740992.0))
            return false;
        m = round(s);
        if (m / pow10_tab[dec] == v) {
            *ret_m = (int64_t)m;
            *ret_dec = dec;
            return true;
        }
    }
    return false;
}

/* m / 10^dec in fixed point; buf: at least 40 bytes. Returns the length. */
static size_t put_fixed(char *buf, int64_t m, int dec)
{
    char dig[24];
    const char *d = u64_digits(dig, m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m);
    size_t len = (size_t)(dig + 24 - d);
    size_t frac = (size_t)dec;
    char *o = buf;

    if (m < 0)
        *o++ = '-';
    if (len > frac) {
        memcpy(o, d, len - frac);
        o += len - frac;
        d += len - frac;
        len = frac;
    } else {
        *o++ = '0';
    }
    if (frac) {
        *o++ = '.';
        for (size_t z = len; z < frac; z++)
            *o++ = '0';
        memcpy(o, d, len);
        o += len;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

/*
 * Writes v into buf (at least 40 bytes) so that it reads back as exactly v:
 * "+Inf", "-Inf", "NaN"; integers as integers; the shortest fixed-point form
 * with up to 9 decimals that is exact; otherwise the shortest of %.15g, %.16g
 * and %.17g that round-trips. Returns the length.
 */
static size_t fmt_num(char *buf, double v)
{
    int64_t m;
    int dec;

    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(buf, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (fabs(v) < 9.2e18 && v == trunc(v)) {
        char dig[24];
        const char *d = u64_digits(dig, (uint64_t)fabs(v));
        size_t n = (size_t)(dig + 24 - d);
        size_t neg = v < 0;

        buf[0] = '-';
        memcpy(buf + neg, d, n);
        buf[n + neg] = '\0';
        return n + neg;
    }
    if (as_decimal(v, &m, &dec))
        return put_fixed(buf, m, dec);
    for (int prec = 15; prec <= 17; prec++) {
        double back;
        int k = snprintf(buf, 40, "%.*g", prec, v);

        if (k < 0)
            break;
        if (prec == 17 || (parse_double(buf, &back) == 0 && back == v))
            return (size_t)k;
    }
    memcpy(buf, "NaN", 4);
    return 3;
}

/*
 * A histogram bound as the Prometheus client libraries write it (Go's
 * strconv.FormatFloat(v, 'g', -1, 64)): the shortest digits that read back as
 * v, in exponent form below 1e-4 and from 1e6 on ("5e-05", "0.25", "1e+06").
 * OpenMetrics wants that canonical form with ".0" on an integer ("1.0").
 * buf: at least 40 bytes. Returns the length.
 */
static size_t fmt_le(char *buf, double v, bool om)
{
    char dig[24];
    const char *d;
    int64_t m;
    int dec, exp, k = 0;
    size_t len, n;
    char *o = buf;

    if (isinf(v) || isnan(v))
        return fmt_num(buf, v);
    if (!as_decimal(v, &m, &dec)) {
        /* no short decimal: let printf find the digits */
        for (int prec = 0; prec <= 16; prec++) {
            double back;

            k = snprintf(buf, 40, "%.*e", prec, v);
            if (k < 0 || prec == 16 || (parse_double(buf, &back) == 0 && back == v))
                break;
        }
        return k < 0 ? 0 : (size_t)k;
    }
    d = u64_digits(dig, m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m);
    len = (size_t)(dig + 24 - d);
    exp = (int)len - 1 - dec;
    if (exp >= -4 && exp < 6) {
        n = put_fixed(buf, m, dec);
        if (om && dec == 0) {
            memcpy(buf + n, ".0", 3);
            n += 2;
        }
        return n;
    }
    while (len > 1 && d[len - 1] == '0')
        len--;
    if (m < 0)
        *o++ = '-';
    *o++ = d[0];
    if (len > 1) {
        *o++ = '.';
        memcpy(o, d + 1, len - 1);
        o += len - 1;
    }
    k = snprintf(o, 16, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return (size_t)(o - buf) + (k > 0 ? (size_t)k : 0);
}

static const char *type_name(enum series_kind kind)
{
    return kind == SERIES_COUNTER ? "counter" : "gauge";
}

/*
 * HELP, TYPE and (OpenMetrics) UNIT of a family. name is the sample name; an
 * OpenMetrics counter family is declared without its _total. type: "gauge",
 * "counter", "histogram".
 */
static void put_header(struct writer *w, const char *name, const char *type, const char *help,
                       const char *unit)
{
    size_t len = strlen(name);
    bool om = w->fmt == PROM_OPENMETRICS;

    if (om && strcmp(type, "counter") == 0 && len > 6 && strcmp(name + len - 6, "_total") == 0)
        len -= 6;
    WPUT_LIT(w, "# HELP ");
    wput(w, name, len);
    WPUT_LIT(w, " ");
    wescape(w, help, om ? PROM_ESC_HELP_OM : PROM_ESC_HELP_TEXT);
    WPUT_LIT(w, "\n# TYPE ");
    wput(w, name, len);
    WPUT_LIT(w, " ");
    wputs(w, type);
    WPUT_LIT(w, "\n");
    if (om && unit && *unit) {
        size_t ulen = strlen(unit);

        /* OpenMetrics: the family name must end in _<unit>, or no UNIT at all */
        if (len > ulen + 1 && name[len - ulen - 1] == '_' &&
            memcmp(name + len - ulen, unit, ulen) == 0) {
            WPUT_LIT(w, "# UNIT ");
            wput(w, name, len);
            WPUT_LIT(w, " ");
            wput(w, unit, ulen);
            WPUT_LIT(w, "\n");
        }
    }
}

/* One sample: name+suffix{node_id="…",labels…} value */
static void put_sample(struct writer *w, const char *name, const char *suffix,
                       const struct series_label *labels, size_t n_labels, double v)
{
    char num[48];
    size_t n;

    wputs(w, name);
    if (suffix)
        wputs(w, suffix);
    WPUT_LIT(w, "{node_id=\"");
    wescape(w, w->node_id, PROM_ESC_LABEL);
    for (size_t i = 0; i < n_labels; i++) {
        WPUT_LIT(w, "\",");
        wputs(w, labels[i].key);
        WPUT_LIT(w, "=\"");
        wescape(w, labels[i].value, PROM_ESC_LABEL);
    }
    num[0] = '"';
    num[1] = '}';
    num[2] = ' ';
    n = 3 + fmt_num(num + 3, v);
    num[n++] = '\n';
    wput(w, num, n);
}

/* A family of one unlabelled sample. */
static void put_single(struct writer *w, const char *name, const char *type, const char *help,
                       const char *unit, double v)
{
    put_header(w, name, type, help, unit);
    put_sample(w, name, NULL, NULL, 0, v);
}

static void put_histogram(struct writer *w, const struct monitor_stats *st)
{
    static const char name[] = "arthamon_tick_duration_seconds";
    struct series_label le = {"le", NULL};
    char bound[48];
    uint64_t cum = 0;

    put_header(w, name, "histogram", "Wall time of one sampler tick", "seconds");
    for (size_t i = 0; i <= MONITOR_TICK_BUCKETS; i++) {
        double b = i < MONITOR_TICK_BUCKETS ? monitor_tick_bucket_le[i] : INFINITY;

        cum += st->tick_buckets[i];
        fmt_le(bound, b, w->fmt == PROM_OPENMETRICS);
        le.value = bound;
        put_sample(w, name, "_bucket", &le, 1, (double)cum);
    }
    put_sample(w, name, "_sum", NULL, 0, st->tick_seconds_sum);
    put_sample(w, name, "_count", NULL, 0, (double)cum);
}

static void put_self(struct writer *w, const struct prom_self *self)
{
    const struct monitor_stats *st = &self->stats;
    struct series_label l = {"version", self->version ? self->version : ""};
    bool any = false;

    put_header(w, "arthamon_build_info", "gauge",
               "Version of the agent, with the node it watches; always 1", "");
    put_sample(w, "arthamon_build_info", NULL, &l, 1, 1);
    put_single(w, "arthamon_start_time_seconds", "gauge",
               "When the agent started, seconds since the epoch", "seconds",
               self->start_time_seconds);
    put_single(w, "arthamon_sampling_interval_seconds", "gauge", "Configured sampling interval",
               "seconds", self->sampling_interval_seconds);
    put_single(w, "arthamon_ticks_total", "counter", "Sampler ticks completed", "",
               (double)st->ticks);
    put_single(w, "arthamon_ticks_missed_total", "counter",
               "Sampling intervals skipped because the sampler fell behind", "",
               (double)st->ticks_missed);
    put_histogram(w, st);
    put_single(w, "arthamon_last_tick_duration_seconds", "gauge", "Wall time the last tick took",
               "seconds", (double)st->last_tick_ns / 1e9);
    if (st->last_tick_unix_ms)
        put_single(w, "arthamon_last_tick_timestamp_seconds", "gauge",
                   "When the last snapshot was published, seconds since the epoch", "seconds",
                   (double)st->last_tick_unix_ms / 1e3);
    for (unsigned i = 0; i < st->ncollectors && i < 32; i++) {
        struct series_label c = {"collector", st->collector_names[i]};

        if (!c.value)
            continue;
        if (!any)
            put_header(w, "arthamon_collector_errors_total", "counter",
                       "Failed collections, by collector", "");
        any = true;
        put_sample(w, "arthamon_collector_errors_total", NULL, &c, 1,
                   (double)st->collector_errors[i]);
    }
    put_single(w, "arthamon_scrapes_total", "counter", "Scrapes of the metrics served", "",
               (double)self->scrapes_total);
    put_single(w, "arthamon_http_requests_total", "counter", "HTTP requests received", "",
               (double)self->http_requests_total);
    put_single(w, "arthamon_http_rejected_total", "counter", "HTTP requests answered 4xx", "",
               (double)self->http_rejected_total);
    put_single(w, "arthamon_http_auth_failures_total", "counter",
               "HTTP requests refused for missing or wrong credentials", "",
               (double)self->http_auth_failures_total);
    put_single(w, "arthamon_http_deadline_closed_total", "counter",
               "Connections closed because a request's headers were not in within "
               "http.request_timeout_sec",
               "", (double)self->http_deadline_closed_total);
    if (self->has_store) {
        put_single(w, "arthamon_store_appends_total", "counter",
                   "Snapshots written to the history database", "",
                   (double)self->store_appends_total);
        put_single(w, "arthamon_store_append_errors_total", "counter",
                   "Snapshots the history database could not take (disk full, I/O errors)", "",
                   (double)self->store_append_errors_total);
        put_single(w, "arthamon_store_series", "gauge", "Series known to the history database", "",
                   (double)self->store_series);
    }
}

/* ---- what the node sent: the custom series of the StatsD server and the C API ---- */

/* One custom series, ready to write: its family name and label text in a pool. */
struct cseries {
    uint32_t fam, sig;   /* pool offsets: sanitized family name; label text ("", or ,k="v"...) */
    uint32_t idx;        /* creation order (ties) */
    uint8_t kind, timer; /* kind: enum agg_kind, or CKIND_SUMMARY */
    double value, distinct, q[3];
    uint64_t count;
    uint32_t buckets; /* offset into the bucket array (histograms) */
};

#define CKIND_SUMMARY AGG_KIND_COUNT /* a histogram with a sketch: quantiles */
static const double summary_q[3] = {0.5, 0.9, 0.99};

struct ccollect {
    struct am_sketch_view *view; /* (a summary's figures) */
    struct cseries *v;
    size_t n, cap;
    struct strbuf pool;
    uint64_t *b;
    size_t nb, cap_b;
    const double *bounds;
    size_t n_bounds;
    int err;
};

/* A metric or label name as Prometheus allows it: [a-zA-Z_:][a-zA-Z0-9_:]*
 * (no ':' in a label name); anything else becomes '_' (statsd_exporter's way). */
static void put_sanitized(struct strbuf *sb, const char *s, size_t n, bool label)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        strbuf_putc(sb, '_');
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || (c == ':' && !label);
        strbuf_putc(sb, ok ? c : '_');
    }
}

static void ccollect_one(void *ctx, const struct agg_series_info *i)
{
    struct ccollect *c = ctx;
    struct cseries *e;

    if (c->err)
        return;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        struct cseries *nv = realloc(c->v, ncap * sizeof(*nv));
        if (!nv) {
            c->err = -ENOMEM;
            return;
        }
        c->v = nv;
        c->cap = ncap;
    }
    e = &c->v[c->n];
    memset(e, 0, sizeof(*e));
    e->idx = (uint32_t)c->n;
    e->kind = (uint8_t)i->kind;
    e->timer = i->timer;
    e->value = i->value;
    e->distinct = i->distinct;
    e->count = i->count;
    if (i->kind == AGG_HISTOGRAM && i->sketch) {
        if (!c->view && !(c->view = malloc(sizeof(*c->view)))) {
            c->err = -ENOMEM;
            return;
        }
        am_sketch_snapshot(i->sketch, c->view);
        e->kind = CKIND_SUMMARY;
        e->count = am_sketch_view_count(c->view);
        e->value = am_sketch_view_sum(c->view);
        for (int k = 0; k < 3; k++)
            e->q[k] = e->count ? am_sketch_quantile(c->view, summary_q[k]) : NAN;
    }
    e->fam = (uint32_t)c->pool.len;
    put_sanitized(&c->pool, i->name, i->name_len, false);
    if (i->kind == AGG_COUNTER &&
        !(c->pool.len - e->fam > 6 && memcmp(c->pool.buf + c->pool.len - 6, "_total", 6) == 0))
        strbuf_puts(&c->pool, "_total");
    strbuf_putc(&c->pool, 0);
    e->sig = (uint32_t)c->pool.len;
    for (size_t k = 0; k < i->n_labels; k++) {
        size_t kstart = c->pool.len + 1, klen;
        bool dup = false;
        strbuf_putc(&c->pool, ',');
        put_sanitized(&c->pool, i->labels[k].key, i->labels[k].key_len, true);
        klen = c->pool.len - kstart;
        /* node_id and le are ours; a key seen already in this series is dropped */
        if ((klen == 7 && memcmp(c->pool.buf + kstart, "node_id", 7) == 0) ||
            (klen == 2 && memcmp(c->pool.buf + kstart, "le", 2) == 0) ||
            (klen >= 2 && memcmp(c->pool.buf + kstart, "__", 2) == 0))
            dup = true;
        for (const char *p = c->pool.buf + e->sig; !dup && p < c->pool.buf + kstart - 1;) {
            const char *q = p + 1, *eq = memchr(q, '=', (size_t)(c->pool.buf + kstart - q));
            if (!eq)
                break;
            if ((size_t)(eq - q) == klen && memcmp(q, c->pool.buf + kstart, klen) == 0)
                dup = true;
            /* the next label: past the closing quote of this value */
            p = eq + 2;
            while (p < c->pool.buf + kstart - 1 && !(*p == '"' && p[-1] != '\\'))
                p++;
            p++;
        }
        if (dup) {
            c->pool.len = kstart - 1;
            continue;
        }
        strbuf_puts(&c->pool, "=\"");
        prom_escape(&c->pool, i->labels[k].value, PROM_ESC_LABEL); /* (NUL-ended in the key) */
        strbuf_putc(&c->pool, '"');
    }
    strbuf_putc(&c->pool, 0);
    if (i->kind == AGG_HISTOGRAM && !i->sketch) {
        if (c->nb + i->n_bounds + 1 > c->cap_b) {
            size_t ncap = (c->nb + i->n_bounds + 1) * 2;
            uint64_t *nb = realloc(c->b, ncap * sizeof(*nb));
            if (!nb) {
                c->err = -ENOMEM;
                return;
            }
            c->b = nb;
            c->cap_b = ncap;
        }
        e->buckets = (uint32_t)c->nb;
        memcpy(c->b + c->nb, i->buckets, (i->n_bounds + 1) * sizeof(*c->b));
        c->nb += i->n_bounds + 1;
        c->bounds = i->bounds;
        c->n_bounds = i->n_bounds;
    }
    if (c->pool.overflow)
        c->err = -ENOMEM;
    else
        c->n++;
}

static int cmp_cseries(const void *a, const void *b, void *ctx)
{
    const struct cseries *x = a, *y = b;
    const char *pool = ctx;
    int r = strcmp(pool + x->fam, pool + y->fam);

    if (r == 0)
        r = strcmp(pool + x->sig, pool + y->sig);
    return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

static void put_csample(struct writer *w, const char *fam, const char *suffix, const char *sig,
                        const char *extra, double v)
{
    char num[48];

    wputs(w, fam);
    if (suffix)
        wputs(w, suffix);
    WPUT_LIT(w, "{node_id=\"");
    wescape(w, w->node_id, PROM_ESC_LABEL);
    WPUT_LIT(w, "\"");
    wputs(w, sig);
    if (extra)
        wputs(w, extra);
    WPUT_LIT(w, "} ");
    wput(w, num, fmt_num(num, v));
    WPUT_LIT(w, "\n");
}

static const char *const ckind_type[] = {"counter", "gauge", "histogram", "gauge", "summary"};
static const char *const ckind_help[] = {
    "Counter sent by the node (StatsD or the C API)",
    "Gauge sent by the node (StatsD or the C API)",
    "Observations sent by the node (StatsD timers in seconds, histograms, distributions)",
    "Distinct members of a set sent by the node since the agent started (HyperLogLog estimate)",
    "Observations recorded by the node through the C API (quantiles since the agent started)",
};

static int put_custom(struct writer *w, struct agg *a)
{
    struct ccollect c = {0};
    const char *last_fam = NULL, *last_sig = NULL;
    int fam_kind = -1;

    strbuf_init(&c.pool, STRBUF_DEFAULT_MAX);
    agg_foreach(a, ccollect_one, &c);
    if (c.err) {
        strbuf_done(&c.pool);
        free(c.v);
        free(c.b);
        free(c.view);
        return c.err;
    }
    /* families must be contiguous: sorted by name, then labels */
    if (c.n)
        qsort_r(c.v, c.n, sizeof(*c.v), cmp_cseries, c.pool.buf);
    for (size_t k = 0; k < c.n; k++) {
        const struct cseries *e = &c.v[k];
        const char *fam = c.pool.buf + e->fam, *sig = c.pool.buf + e->sig;
        if (strncmp(fam, "arthamon_", 9) == 0)
            continue; /* (our own names) */
        if (!last_fam || strcmp(fam, last_fam) != 0) {
            last_fam = fam;
            last_sig = NULL;
            fam_kind = e->kind;
            put_header(w, fam, ckind_type[e->kind], ckind_help[e->kind], "");
        } else if (e->kind != fam_kind || (last_sig && strcmp(sig, last_sig) == 0)) {
            continue; /* another kind under the same name, or the same labels once sanitized */
        }
        last_sig = sig;
        switch (e->kind) {
        case AGG_COUNTER:
        case AGG_GAUGE:
            put_csample(w, fam, NULL, sig, NULL, e->value);
            break;
        case AGG_SET:
            put_csample(w, fam, NULL, sig, NULL, e->distinct);
            break;
        case AGG_HISTOGRAM:
            for (size_t b = 0; b <= c.n_bounds; b++) {
                char le[64];
                size_t n;
                memcpy(le, ",le=\"", 5);
                n = 5 + fmt_le(le + 5, b < c.n_bounds ? c.bounds[b] : INFINITY,
                               w->fmt == PROM_OPENMETRICS);
                le[n++] = '"';
                le[n] = 0;
                put_csample(w, fam, "_bucket", sig, le, (double)c.b[e->buckets + b]);
            }
            put_csample(w, fam, "_sum", sig, NULL, e->value);
            put_csample(w, fam, "_count", sig, NULL, (double)e->count);
            break;
        case CKIND_SUMMARY:
            for (int q = 0; q < 3 && e->count; q++) {
                static const char *const qs[3] = {",quantile=\"0.5\"", ",quantile=\"0.9\"",
                                                  ",quantile=\"0.99\""};
                put_csample(w, fam, NULL, sig, qs[q], e->q[q]);
            }
            put_csample(w, fam, "_sum", sig, NULL, e->value);
            put_csample(w, fam, "_count", sig, NULL, (double)e->count);
            break;
        default:
            break;
        }
    }
    strbuf_done(&c.pool);
    free(c.v);
    free(c.b);
    free(c.view);
    return 0;
}

/* ---- the latency fields' sketches: summaries ---- */

struct sumw {
    struct writer *w;
    bool model_header; /* the inference family's HELP and TYPE are out */
};

static void put_qsample(struct writer *w, const char *fam, const char *suffix,
                        const struct agg_summary *s, const char *q, double v)
{
    char num[48];

    wputs(w, fam);
    if (suffix)
        wputs(w, suffix);
    WPUT_LIT(w, "{node_id=\"");
    wescape(w, w->node_id, PROM_ESC_LABEL);
    if (s->model) {
        WPUT_LIT(w, "\",model=\"");
        wescape(w, s->model, PROM_ESC_LABEL);
        WPUT_LIT(w, "\",type=\"");
        wescape(w, s->type ? s->type : "", PROM_ESC_LABEL);
    }
    if (q) {
        WPUT_LIT(w, "\",quantile=\"");
        wputs(w, q);
    }
    WPUT_LIT(w, "\"} ");
    wput(w, num, fmt_num(num, v));
    WPUT_LIT(w, "\n");
}

static void put_summary(void *ctx, const struct agg_summary *s)
{
    struct sumw *sw = ctx;
    static const char *const qs[3] = {"0.5", "0.95", "0.99"};

    if (!s->model || !sw->model_header)
        put_header(sw->w, s->family, "summary", s->help, "");
    if (s->model)
        sw->model_header = true;
    for (int i = 0; i < 3; i++)
        put_qsample(sw->w, s->family, NULL, s, qs[i], s->q[i]);
    put_qsample(sw->w, s->family, "_sum", s, NULL, s->sum);
    put_qsample(sw->w, s->family, "_count", s, NULL, (double)s->count);
}

static void put_ingest(struct writer *w, const struct prom_self *self)
{
    const struct statsd_server_stats *st = &self->statsd;
    struct agg_stats as;
    bool any = false;

    if (self->agg) {
        struct sumw sw = {w, false};
        agg_foreach_summary(self->agg, put_summary, &sw);
        agg_get_stats(self->agg, &as);
        put_single(w, "arthamon_node_series", "gauge",
                   "Series of node metrics held (StatsD and the C API)", "", (double)as.series);
        put_single(w, "arthamon_statsd_series_dropped_total", "counter",
                   "Values of new node metric names refused at the series limit "
                   "(statsd.max_series)",
                   "", (double)as.series_dropped);
        put_single(w, "arthamon_node_type_clashes_total", "counter",
                   "Values refused because their name was first used with another type", "",
                   (double)as.type_clashes);
    }
    if (!self->has_statsd)
        return;
    put_single(w, "arthamon_statsd_datagrams_total", "counter", "StatsD datagrams received", "",
               (double)st->datagrams);
    put_single(w, "arthamon_statsd_lines_total", "counter", "StatsD metric lines recorded", "",
               (double)st->lines);
    put_single(w, "arthamon_statsd_ignored_total", "counter",
               "DogStatsD events and service checks received (not recorded)", "",
               (double)st->ignored);
    put_single(w, "arthamon_statsd_refused_total", "counter",
               "Well-formed StatsD lines not recorded (series limit, type clash)", "",
               (double)st->refused);
    for (int r = 1; r < STATSD_E_COUNT; r++) {
        struct series_label l = {"reason", statsd_reason(r)};
        if (!any)
            put_header(w, "arthamon_statsd_malformed_total", "counter",
                       "Malformed StatsD lines dropped, by reason", "");
        any = true;
        put_sample(w, "arthamon_statsd_malformed_total", NULL, &l, 1, (double)st->reasons[r]);
    }
}

/* One family with a sample per alert channel. */
static void put_alert_family(struct writer *w, const struct prom_self *self, const char *name,
                             const char *type, const char *help, size_t field)
{
    put_header(w, name, type, help, "");
    for (size_t i = 0; i < self->n_alerts; i++) {
        const struct alert_channel_stats *c = &self->alerts[i];
        struct series_label l = {"channel", c->name};
        double v = field == 0   ? (double)c->sent
                   : field == 1 ? (double)c->failed
                   : field == 2 ? (double)c->pending
                   : field == 3 ? (double)c->attempts
                                : (double)c->errors;
        if (field == 2 && c->pending < 0)
            continue;
        put_sample(w, name, NULL, &l, 1, v);
    }
}

static void put_alerts(struct writer *w, const struct prom_self *self)
{
    if (!self->n_alerts)
        return;
    put_alert_family(w, self, "arthamon_alert_notifications_sent_total", "counter",
                     "Notifications delivered, by channel", 0);
    put_alert_family(w, self, "arthamon_alert_notifications_failed_total", "counter",
                     "Notifications given up (refused, or undelivered too long), by channel", 1);
    put_alert_family(w, self, "arthamon_alert_notifications_pending", "gauge",
                     "Notifications waiting in the outbox, by channel", 2);
    put_alert_family(w, self, "arthamon_alert_delivery_attempts_total", "counter",
                     "Delivery attempts, by channel", 3);
    put_alert_family(w, self, "arthamon_alert_delivery_errors_total", "counter",
                     "Delivery attempts that failed, by channel", 4);
}

/* ---- collecting the snapshot's samples, grouped by family ---- */

#define MAX_LABELS 4
#define NO_SAMPLE  UINT32_MAX

struct psample {
    double value;                 /* scaled */
    uint32_t next;                /* next sample of the family, or NO_SAMPLE */
    uint32_t n_labels;            /* pairs in lab */
    uint32_t lab[MAX_LABELS * 2]; /* pool offsets: key, value, key, value… */
};

enum fam_state { FAM_UNSEEN, FAM_LIVE, FAM_SKIP };

struct pfamily {
    enum fam_state state;
    const struct prom_map *map;
    double div; /* > 0: divide by this rather than multiply by the scale (exact for 1/10^k) */
    int dec;    /* decimals of the exposed figure, when round is set */
    bool round; /* round the scaled figure to dec decimals */
    uint32_t head, tail;
};

struct collect {
    struct pfamily *fam; /* one per series_table entry */
    uint32_t *order;     /* series_table indices, in the order first seen */
    size_t n_order;
    struct psample *s;
    size_t n, cap;
    char *pool;
    size_t pool_len, pool_cap;
    int err;
};

static const struct prom_map *map_for(size_t idx)
{
    if (idx < prom_map_table_len && strcmp(prom_map_table[idx].series, series_table[idx].name) == 0)
        return &prom_map_table[idx];
    return prom_map_find(series_table[idx].name);
}

/* How a family's figures are scaled. */
static void fam_init(struct pfamily *f, const struct series_desc *desc)
{
    double scale = f->map->scale;
    double k = log10(scale);

    f->div = 0;
    f->dec = 0;
    f->round = false;
    if (scale != 1 && fabs(k - round(k)) < 1e-9 && fabs(k) <= 9) {
        /* a power of ten: round away the binary noise of the scaling, so that
         * 12.34 percent is written 0.1234 and not 0.12340000000000001 */
        int e = (int)round(k);

        f->dec = desc->decimals - e > 0 ? desc->decimals - e : 0;
        f->round = f->dec <= 9;
        if (e < 0)
            f->div = pow10_tab[-e];
    }
    if (strcmp(f->map->unit, "bytes") == 0) {
        /* a size is a whole number of bytes, even when it comes from a figure
         * in MiB or GiB rounded to a few decimals (its precision stays theirs) */
        f->round = true;
        f->dec = 0;
    }
}

static double fam_scale(const struct pfamily *f, double v)
{
    double x = f->div > 0 ? v / f->div : v * f->map->scale;

    if (f->round)
        x = f->dec ? round_to(x, f->dec) : (fabs(x) < 1e15 ? round(x) : x);
    return x;
}

/* Copies s into the pool; returns its offset, or UINT32_MAX. */
static uint32_t pool_add(struct collect *c, const char *s)
{
    size_t n = strlen(s) + 1;
    uint32_t off;

    if (c->pool_len + n > c->pool_cap) {
        size_t cap = c->pool_cap ? c->pool_cap : 4096;
        char *p;

        while (cap < c->pool_len + n)
            cap *= 2;
        if (cap > UINT32_MAX) {
            c->err = -ENOSPC;
            return UINT32_MAX;
        }
        p = realloc(c->pool, cap);
        if (!p) {
            c->err = -ENOMEM;
            return UINT32_MAX;
        }
        c->pool = p;
        c->pool_cap = cap;
    }
    off = (uint32_t)c->pool_len;
    memcpy(c->pool + off, s, n);
    c->pool_len += n;
    return off;
}

static void collect_one(void *ctx, const struct series_desc *desc,
                        const struct series_label *labels, size_t n_labels, double value)
{
    struct collect *c = ctx;
    uintptr_t base = (uintptr_t)series_table, at = (uintptr_t)desc;
    struct pfamily *f;
    struct psample *ps;
    size_t idx;

    if (c->err || at < base || (at - base) % sizeof(*desc) != 0)
        return;
    idx = (at - base) / sizeof(*desc);
    if (idx >= series_table_len || n_labels > MAX_LABELS || isnan(value))
        return;
    for (size_t i = 0; i < n_labels; i++)
        if (!labels[i].key || !*labels[i].key)
            return; /* a label without a name cannot be written */
    f = &c->fam[idx];
    if (f->state == FAM_UNSEEN) {
        f->map = map_for(idx);
        f->state = f->map ? FAM_LIVE : FAM_SKIP;
        if (f->state == FAM_SKIP)
            return;
        fam_init(f, desc);
        f->head = f->tail = NO_SAMPLE;
        c->order[c->n_order++] = (uint32_t)idx;
    }
    if (f->state != FAM_LIVE)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct psample *s;

        if (c->n >= PROM_MAX_SAMPLES) {
            c->err = -ENOSPC;
            return;
        }
        s = realloc(c->s, cap * sizeof(*s));
        if (!s) {
            c->err = -ENOMEM;
            return;
        }
        c->s = s;
        c->cap = cap;
    }
    ps = &c->s[c->n];
    ps->value = fam_scale(f, value);
    ps->next = NO_SAMPLE;
    ps->n_labels = (uint32_t)n_labels;
    for (size_t i = 0; i < n_labels; i++) {
        ps->lab[2 * i] = pool_add(c, labels[i].key);
        ps->lab[2 * i + 1] = pool_add(c, labels[i].value ? labels[i].value : "");
    }
    if (c->err)
        return;
    if (f->tail == NO_SAMPLE)
        f->head = (uint32_t)c->n;
    else
        c->s[f->tail].next = (uint32_t)c->n;
    f->tail = (uint32_t)c->n;
    c->n++;
}

static int put_snapshot(struct writer *w, const struct snapshot *snap)
{
    struct collect c = {0};
    int r;

    c.fam = calloc(series_table_len, sizeof(*c.fam));
    c.order = calloc(series_table_len, sizeof(*c.order));
    if (!c.fam || !c.order) {
        r = -ENOMEM;
        goto out;
    }
    snapshot_flatten(snap, collect_one, &c);
    r = c.err;
    if (r < 0)
        goto out;
    for (size_t o = 0; o < c.n_order; o++) {
        const struct series_desc *desc = &series_table[c.order[o]];
        const struct pfamily *f = &c.fam[c.order[o]];
        const struct prom_map *m = f->map;

        put_header(w, m->name, type_name(desc->kind), m->help ? m->help : desc->help, m->unit);
        for (uint32_t i = f->head; i != NO_SAMPLE; i = c.s[i].next) {
            const struct psample *ps = &c.s[i];
            struct series_label l[MAX_LABELS];

            for (uint32_t j = 0; j < ps->n_labels; j++) {
                l[j].key = c.pool + ps->lab[2 * j];
                l[j].value = c.pool + ps->lab[2 * j + 1];
            }
            put_sample(w, m->name, NULL, l, ps->n_labels, ps->value);
        }
    }
out:
    free(c.fam);
    free(c.order);
    free(c.s);
    free(c.pool);
    return r;
}

int prom_render(struct strbuf *out, enum prom_format fmt, const struct snapshot *snap,
                const struct prom_self *self)
{
    struct writer w;
    int r = 0;

    w.sb = out;
    w.fmt = fmt;
    w.node_id = "";
    w.len = 0;
    if (snap && snap->node_id)
        w.node_id = snap->node_id;
    else if (self && self->node_id)
        w.node_id = self->node_id;
    if (self)
        put_self(&w, self);
    if (self)
        put_ingest(&w, self);
    if (self)
        put_alerts(&w, self);
    if (snap)
        r = put_snapshot(&w, snap);
    if (r == 0 && self && self->agg)
        r = put_custom(&w, self->agg);
    if (fmt == PROM_OPENMETRICS)
        WPUT_LIT(&w, "# EOF\n");
    wflush(&w);
    if (r < 0)
        return r;
    return out->overflow ? -ENOSPC : 0;
}
