/*
 * bench/store: what the history store (src/store) costs, measured in-process.
 *
 *   bench_store record -o REC [-d SECONDS] [-i MS] [-c FILE]
 *   bench_store export -r REC -o OUT.om
 *   bench_store run -r REC -w DIR [--mix OM] [--mix-jitter OM] [--prom SET=BLOCK,CHUNKS,SAMPLES]...
 *                   [--only 1234]  (the sections to run; all by default)
 *
 * record: ticks the real sampler (the built-in defaults, or FILE) every MS
 *   milliseconds (default 100) for SECONDS (default 150) and writes every
 *   snapshot's series to REC as text ("T <epoch ms>", then "<key>\t<value>"
 *   lines). bench/store.sh runs it while stress-ng cycles a varied load. A
 *   snapshot stamped no later than the one before (CLOCK_REALTIME stalled or
 *   stepped back) is restamped from CLOCK_MONOTONIC, and counted.
 * export: the recorded snapshots as OpenMetrics with timestamps, for promtool:
 *   one family per series name ("cpu.core_usage" -> arthamon_cpu_core_usage),
 *   the flattening's labels, the values exactly as stored (no unit scaling).
 * run: every figure, each with its target:
 *   1. bytes per sample.
 *      (a) the recording, through the store: every snapshot through
 *          store_append() into a fresh database, then store_maintain() a day
 *          later so that every hour is compacted; the tier-0 blocks'
 *          sum(length(data)) over the samples, the whole file after a
 *          checkpoint, the tiers 1 and 2 apart. The blocks are read back and
 *          compared with the recording value by value.
 *      (b) the tsdb-mix sets (--mix, --mix-jitter), through the codec: the
 *          store has no way to append arbitrary named series, so the samples
 *          are grouped into rows by their 5 s slot and encoded with
 *          blk_encode() one clock hour (720 rows) per block, each block with
 *          the series present in it and decimals -1, as store.c's compaction
 *          encodes. A row has one timestamp (the slot's first sample's):
 *          with jitter, the other samples' own timestamps are not kept.
 *      Beside them, Prometheus's figures on the same samples (--prom, from
 *      tsdb_stats.py on `promtool tsdb create-blocks-from openmetrics`) and
 *      the ratios (target: arthamon <= half of Prometheus's whole block).
 *   2. CPU time per append: the thread's CPU clock (user + system) around
 *      every store_append() and store_maintain() call (the clock's own cost
 *      measured and taken off; getrusage() gives the split into user and
 *      system), over 24 h of snapshots 1 s apart with store_maintain() every
 *      60 of them, as the daemon at 1 s: every hour compacted and one day's
 *      hour tier built, each as often as in the daemon. Each snapshot is a
 *      fresh copy made (untimed) just before its append, as the sampler hands
 *      over one it has just built. 3 runs of the same 24 h; for each hour,
 *      the cheapest run's cost (CPU time on a shared machine only grows with
 *      what else runs, and that comes in bursts). The host's own
 *      snapshots (the recording, cycled) and, where the host has fewer than
 *      300 series, snapshots filled up to 300 with
 *      node.contract_metrics.function_calls counters and one model's figures
 *      and layer latencies (target <= 20 us). Beside them: the bytes and
 *      write calls per snapshot (/proc/self/io), and the floor of one SQLite
 *      transaction per tick (a bare WAL database, same settings, prepared
 *      BEGIN/INSERT/COMMIT of a row of the same size).
 *   3. decode speed: wall time of blk_decode_series() (every series of every
 *      block, one call each) and blk_decode_all() over all blocks of 1 (target
 *      >= 100 M present samples/s); beside them the speed of blk_crc32c()
 *      over whole blocks (a single-series decode checks the header's CRC and
 *      its own chunk's, not the whole block's).
 *   4. a 30-day query: a database of 20 synthetic series every 5 s for 30
 *      days (518,400 snapshots through store_append(), store_maintain() once
 *      per hour of data and at the end; the newest half hour stays in ticks,
 *      as in a running daemon), then store_query() of one series over the 30
 *      days at 1,000 steps, avg: median and p99 of 20 runs (target <= 20 ms);
 *      and the cost of a store_maintain() call with nothing to compact there.
 */
#define LOG_MODULE "bench"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_config.h"
#include "common/parse.h"
#include "core/log.h"
#include "core/sampler.h"
#include "store/codec.h"
#include "store/store.h"
#include "common/detrand.h"

#define HOUR_MS   3600000LL
#define MINUTE_MS 60000LL
#define DAY_MS    86400000LL

#define TARGET_BPS_HOST    1.0         /* bytes per sample, (a) */
#define TARGET_PROM_RATIO  0.5         /* arthamon / Prometheus, both sets */
#define TARGET_APPEND_US   20.0        /* CPU per append of ~300 series */
#define COST_TICKS         (24 * 3600) /* a day at 1 s: each periodic task as often as in the daemon */
#define TARGET_DECODE_MS_S 100.0       /* million samples per second */
#define TARGET_QUERY_MS    20.0

static const char default_yaml[] = "agent:\n"
                                   "  console_summary: false\n"
                                   "monitoring:\n"
                                   "  logging: {level: error}\n";

static const char *verdict(bool ok)
{
    return ok ? "met" : "NOT met";
}

/* ---- small helpers ---- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q) {
        fputs("bench_store: out of memory\n", stderr);
        exit(1);
    }
    return q;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) {
        fputs("bench_store: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);

    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static double thread_cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* The thread's CPU clock (exact; getrusage() here may count in scheduler ticks), in us. */
static double thread_clock_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double erand(double mean)
{
    return -mean * log(1.0 - urand());
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- a string -> index map (open addressing) ---- */

struct strmap {
    char **keys;
    uint32_t *vals;
    size_t cap, n;
};

static uint64_t hash_mem(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static bool strmap_get(const struct strmap *m, const char *s, size_t n, uint32_t *val)
{
    if (!m->cap)
        return false;
    for (size_t i = hash_mem(s, n) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strncmp(m->keys[i], s, n) == 0 && m->keys[i][n] == '\0') {
            *val = m->vals[i];
            return true;
        }
    return false;
}

static void strmap_put(struct strmap *m, const char *s, size_t n, uint32_t val)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        char **nk = xcalloc(ncap, sizeof(*nk));
        uint32_t *nv = xcalloc(ncap, sizeof(*nv));
        for (size_t j = 0; j < m->cap; j++) {
            if (!m->keys[j])
                continue;
            for (i = hash_mem(m->keys[j], strlen(m->keys[j])) & (ncap - 1); nk[i];
                 i = (i + 1) & (ncap - 1))
                ;
            nk[i] = m->keys[j];
            nv[i] = m->vals[j];
        }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = ncap;
    }
    for (i = hash_mem(s, n) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
        ;
    m->keys[i] = xstrndup(s, n);
    m->vals[i] = val;
    m->n++;
}

static void strmap_done(struct strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static int load_config(struct config *cfg, const char *path)
{
    return bench_load_config(cfg, path, default_yaml);
}

/* ---- record ---- */

struct rec_out {
    FILE *f;
    size_t n;
};

static void rec_visit(void *ctx, const struct series_desc *d, const struct series_label *labels,
                      size_t n, double v)
{
    struct rec_out *o = ctx;
    char key[512];

    if (snapshot_series_key(key, sizeof(key), d, labels, n) < 0 || strpbrk(key, "\t\n") ||
        !isfinite(v))
        return;
    fprintf(o->f, "%s\t%.17g\n", key, v);
    o->n++;
}

static int cmd_record(int argc, char **argv)
{
    const char *out = NULL, *cfg_path = NULL;
    uint64_t seconds = 150, interval_ms = 100, n, min_series = UINT64_MAX, max_series = 0;
    uint64_t samples = 0, late = 0, restamped = 0, prev_ts = 0;
    double prev_mono_ms = 0;
    struct config cfg;
    struct sampler s;
    struct timespec next;
    struct rec_out o;
    double t0;

    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            cfg_path = argv[++i];
        else if (!strcmp(argv[i], "-d") && i + 1 < argc && parse_u64(argv[i + 1], &seconds) == 0 &&
                 seconds > 0)
            i++;
        else if (!strcmp(argv[i], "-i") && i + 1 < argc &&
                 parse_u64(argv[i + 1], &interval_ms) == 0 && interval_ms > 0)
            i++;
        else
            out = NULL, i = argc;
    }
    if (!out) {
        fprintf(stderr, "usage: bench_store record -o REC [-d SECONDS] [-i MS] [-c FILE]\n");
        return 2;
    }
    if (load_config(&cfg, cfg_path) < 0)
        return 1;
    log_set_level(LOG_ERROR);
    o.f = fopen(out, "w");
    if (!o.f) {
        fprintf(stderr, "bench_store: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (sampler_init(&s, &cfg) < 0)
        return 1;
    snapshot_unref(sampler_tick(&s)); /* the first tick has no rates */
    n = seconds * 1000 / interval_ms;
    clock_gettime(CLOCK_MONOTONIC, &next);
    t0 = wall_s();
    for (uint64_t i = 0; i < n; i++) {
        struct snapshot *snap;
        struct timespec now;
        double tick_ms;

        next.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
        next.tv_sec += (time_t)(interval_ms / 1000) + next.tv_nsec / 1000000000L;
        next.tv_nsec %= 1000000000L;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec)) {
            late++;
            next = now;
        } else {
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        }
        tick_ms = wall_s() * 1e3;
        snap = sampler_tick(&s);
        if (!snap) {
            fputs("bench_store: out of memory\n", stderr);
            return 1;
        }
        /* a realtime clock that stalls or steps back would make equal or
         * decreasing timestamps (the store keeps one snapshot per timestamp):
         * such a snapshot gets the previous one's plus the monotonic time
         * between them */
        if (i > 0 && snap->timestamp_ms <= prev_ts) {
            uint64_t d = (uint64_t)(tick_ms - prev_mono_ms);
            snap->timestamp_ms = prev_ts + (d ? d : 1);
            restamped++;
        }
        prev_ts = snap->timestamp_ms;
        prev_mono_ms = tick_ms;
        fprintf(o.f, "T %" PRIu64 "\n", snap->timestamp_ms);
        o.n = 0;
        snapshot_flatten(snap, rec_visit, &o);
        samples += o.n;
        min_series = o.n < min_series ? o.n : min_series;
        max_series = o.n > max_series ? o.n : max_series;
        snapshot_unref(snap);
    }
    if (fclose(o.f) != 0) {
        fprintf(stderr, "bench_store: %s: %s\n", out, strerror(errno));
        return 1;
    }
    if (restamped)
        printf("bench/store: NOTE: %" PRIu64 " snapshots had a timestamp not after the one "
               "before (CLOCK_REALTIME stalled or stepped back); they were restamped from "
               "CLOCK_MONOTONIC\n",
               restamped);
    printf("bench/store: recorded %" PRIu64 " snapshots in %.1f s (every %" PRIu64 " ms; %" PRIu64
           " ticks came late), %" PRIu64 "..%" PRIu64 " series each, %" PRIu64 " samples\n",
           n, wall_s() - t0, interval_ms, late, min_series, max_series, samples);
    sampler_done(&s);
    config_done(&cfg);
    return 0;
}

/* ---- the recording, loaded back as snapshots ---- */

struct rec {
    struct snapshot **v;
    size_t n, cap;
    uint64_t samples;
    size_t min_series, max_series;
    unsigned set_errors;
    int64_t shift_ms; /* added to the recorded timestamps */
};

static void count_visit(void *ctx, const struct series_desc *d, const struct series_label *l,
                        size_t n, double v)
{
    (*(size_t *)ctx)++;
}

/*
 * Loads REC; the timestamps are shifted so that the first snapshot is at the
 * start of its clock hour (the recording then fills one hour block).
 */
static int rec_load(const char *path, struct rec *r)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    struct snapshot *cur = NULL;

    memset(r, 0, sizeof(*r));
    if (!f) {
        fprintf(stderr, "bench_store: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        char *tab;
        double v;

        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (line[0] == 'T' && line[1] == ' ') {
            uint64_t ts;
            if (parse_u64(line + 2, &ts) < 0)
                goto bad;
            cur = snapshot_new();
            if (!cur || !(cur->node_id = snapshot_strdup(cur, "bench"))) {
                fputs("bench_store: out of memory\n", stderr);
                exit(1);
            }
            cur->timestamp_ms = ts;
            if (r->n == r->cap) {
                r->cap = r->cap ? r->cap * 2 : 1024;
                r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
            }
            r->v[r->n++] = cur;
            continue;
        }
        tab = strchr(line, '\t');
        if (!cur || !tab)
            goto bad;
        *tab = '\0';
        if (parse_double(tab + 1, &v) < 0)
            goto bad;
        if (snapshot_set_series(cur, line, v) < 0)
            r->set_errors++;
    }
    free(line);
    fclose(f);
    if (r->n == 0) {
        fprintf(stderr, "bench_store: %s: no snapshots\n", path);
        return -1;
    }
    r->shift_ms = -(int64_t)(r->v[0]->timestamp_ms % (uint64_t)HOUR_MS);
    r->min_series = SIZE_MAX;
    for (size_t i = 0; i < r->n; i++) {
        struct snapshot *s = r->v[i];
        size_t k = 0;
        s->timestamp_ms = (uint64_t)((int64_t)s->timestamp_ms + r->shift_ms);
        s->timestamp = s->timestamp_ms / 1000;
        if (i > 0)
            s->interval_sec = (double)(s->timestamp_ms - r->v[i - 1]->timestamp_ms) / 1000.0;
        snapshot_flatten(s, count_visit, &k);
        r->samples += k;
        r->min_series = k < r->min_series ? k : r->min_series;
        r->max_series = k > r->max_series ? k : r->max_series;
    }
    return 0;
bad:
    fprintf(stderr, "bench_store: %s: malformed line \"%.80s\"\n", path, line);
    free(line);
    fclose(f);
    return -1;
}

static void rec_done(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        snapshot_unref(r->v[i]);
    free(r->v);
}

/* ---- the recording as a series x snapshot table (for export and checks) ---- */

struct series_info {
    char *key;
    char *family; /* Prometheus name */
    char *labels; /* "{k=\"v\",...}" or "" */
};

struct table {
    struct strmap map;
    struct series_info *v;
    size_t n, cap;
    size_t nsnap;
    double *vals; /* vals[series * nsnap + snapshot], NaN: absent */
    size_t cur;   /* snapshot being visited */
};

static void om_escape(char **p, size_t *left, const char *s)
{
    for (; *s && *left > 3; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *(*p)++ = '\\';
            *(*p)++ = *s == '\n' ? 'n' : *s;
            *left -= 2;
        } else {
            *(*p)++ = *s;
            (*left)--;
        }
    }
}

static void table_visit(void *ctx, const struct series_desc *d, const struct series_label *labels,
                        size_t n, double v)
{
    struct table *t = ctx;
    char key[512];
    uint32_t idx;

    if (snapshot_series_key(key, sizeof(key), d, labels, n) < 0)
        return;
    if (!strmap_get(&t->map, key, strlen(key), &idx)) {
        char fam[160] = "arthamon_", lab[1024], *p = lab;
        size_t o = strlen(fam), left = sizeof(lab) - 2;
        for (const char *c = d->name; *c && o + 1 < sizeof(fam); c++)
            fam[o++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                               (*c >= '0' && *c <= '9') || *c == '_'
                           ? *c
                           : '_';
        fam[o] = '\0';
        if (n) {
            *p++ = '{';
            for (size_t i = 0; i < n && left > 40; i++) {
                size_t kl = strlen(labels[i].key);
                if (i)
                    *p++ = ',', left--;
                memcpy(p, labels[i].key, kl < 32 ? kl : 32);
                p += kl < 32 ? kl : 32;
                *p++ = '=';
                *p++ = '"';
                left -= (kl < 32 ? kl : 32) + 2;
                om_escape(&p, &left, labels[i].value ? labels[i].value : "");
                *p++ = '"';
                left--;
            }
            *p++ = '}';
        }
        *p = '\0';
        idx = (uint32_t)t->n;
        strmap_put(&t->map, key, strlen(key), idx);
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 128;
            t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
        }
        t->v[t->n].key = xstrndup(key, strlen(key));
        t->v[t->n].family = xstrndup(fam, strlen(fam));
        t->v[t->n].labels = xstrndup(lab, strlen(lab));
        t->vals = xrealloc(t->vals, (t->n + 1) * t->nsnap * sizeof(double));
        for (size_t i = 0; i < t->nsnap; i++)
            t->vals[t->n * t->nsnap + i] = NAN;
        t->n++;
    }
    t->vals[(size_t)idx * t->nsnap + t->cur] = v;
}

static void table_build(struct table *t, const struct rec *r)
{
    memset(t, 0, sizeof(*t));
    t->nsnap = r->n;
    for (size_t i = 0; i < r->n; i++) {
        t->cur = i;
        snapshot_flatten(r->v[i], table_visit, t);
    }
}

static void table_done(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].family);
        free(t->v[i].labels);
    }
    free(t->v);
    free(t->vals);
    strmap_done(&t->map);
}

/* ---- export ---- */

static const struct table *sort_table;

static int cmp_series(const void *a, const void *b)
{
    const struct series_info *x = &sort_table->v[*(const uint32_t *)a];
    const struct series_info *y = &sort_table->v[*(const uint32_t *)b];
    int c = strcmp(x->family, y->family);

    return c ? c : strcmp(x->key, y->key);
}

/* The shortest text that parses back to v exactly. */
static void fmt_value(char *buf, size_t len, double v)
{
    if (isinf(v)) {
        snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        double back;
        snprintf(buf, len, "%.*g", prec, v);
        if (parse_double(buf, &back) == 0 && back == v)
            return;
    }
}

static int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    struct rec r;
    struct table t;
    uint32_t *order;
    uint64_t samples = 0;
    FILE *f;

    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc)
            in = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else
            in = NULL, i = argc;
    }
    if (!in || !out) {
        fprintf(stderr, "usage: bench_store export -r REC -o OUT.om\n");
        return 2;
    }
    if (rec_load(in, &r) < 0)
        return 1;
    table_build(&t, &r);
    order = xcalloc(t.n, sizeof(*order));
    for (size_t i = 0; i < t.n; i++)
        order[i] = (uint32_t)i;
    sort_table = &t;
    qsort(order, t.n, sizeof(*order), cmp_series);
    f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "bench_store: %s: %s\n", out, strerror(errno));
        return 1;
    }
    for (size_t k = 0; k < t.n; k++) {
        const struct series_info *si = &t.v[order[k]];
        if (k == 0 || strcmp(si->family, t.v[order[k - 1]].family) != 0)
            fprintf(f, "# TYPE %s unknown\n", si->family);
        for (size_t i = 0; i < t.nsnap; i++) {
            double v = t.vals[(size_t)order[k] * t.nsnap + i];
            uint64_t ts = r.v[i]->timestamp_ms;
            char val[64];
            if (isnan(v))
                continue;
            fmt_value(val, sizeof(val), v);
            fprintf(f, "%s%s %s %" PRIu64 ".%03u\n", si->family, si->labels, val, ts / 1000,
                    (unsigned)(ts % 1000));
            samples++;
        }
    }
    fputs("# EOF\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench_store: %s: %s\n", out, strerror(errno));
        return 1;
    }
    printf("bench/store: %zu snapshots, %zu series, %" PRIu64 " samples -> %s\n", r.n, t.n, samples,
           out);
    free(order);
    table_done(&t);
    rec_done(&r);
    return 0;
}

/* ---- blocks held in memory (for the decode figures) ---- */

struct blk {
    uint8_t *data;
    size_t len, rows, present, nids;
    uint32_t *ids;
};

struct blkset {
    const char *name;
    struct blk *v;
    size_t n, cap;
    uint64_t bytes, rows, present;
};

static int collect_ids(void *ctx, uint32_t id, const double *values, size_t n_rows)
{
    struct blk *b = ctx;

    b->ids = xrealloc(b->ids, (b->nids + 1) * sizeof(*b->ids));
    b->ids[b->nids++] = id;
    for (size_t r = 0; r < n_rows; r++)
        b->present += !isnan(values[r]);
    return 0;
}

static int blkset_add(struct blkset *s, const uint8_t *data, size_t len)
{
    struct blk *b;
    struct blk_info info;

    if (blk_info(data, len, &info) < 0) {
        fprintf(stderr, "bench_store: %s: a block fails blk_info\n", s->name);
        return -1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    b = &s->v[s->n];
    memset(b, 0, sizeof(*b));
    b->data = xrealloc(NULL, len);
    memcpy(b->data, data, len);
    b->len = len;
    b->rows = info.n_rows;
    if (blk_decode_all(b->data, len, collect_ids, b) < 0) {
        fprintf(stderr, "bench_store: %s: a block fails blk_decode_all\n", s->name);
        free(b->data);
        free(b->ids);
        return -1;
    }
    s->n++;
    s->bytes += len;
    s->rows += b->rows;
    s->present += b->present;
    return 0;
}

static void blkset_done(struct blkset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].data);
        free(s->v[i].ids);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- (a) the recording through the store ---- */

struct prom_fig {
    bool have;
    double block_bps, chunk_bps, samples;
};

struct results {
    double bps[3]; /* a, b, bj: arthamon bytes/sample */
    uint64_t samples[3];
    bool have[3];
};

static const struct store_options bench_opts = {
    .raw_days = 30, .minute_days = 90, .hour_days = 730};

/* A database and the files beside it (WAL, shared memory, tick journal). */
static void unlink_db(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-ticks"};
    char p[4200];

    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static int open_fresh(struct store **st, const char *path)
{
    struct strbuf errs;
    int r;

    unlink_db(path);
    strbuf_init(&errs, 4096);
    r = store_open(st, path, &bench_opts, &errs);
    if (r < 0)
        fprintf(stderr, "bench_store: %s", errs.buf ? errs.buf : "cannot open the store\n");
    strbuf_done(&errs);
    return r;
}

struct tier_fig {
    uint64_t blocks, bytes, rows;
};

/* The blocks of each tier, the file's pages; tier 0's blocks into set. */
static int read_db(const char *path, struct tier_fig tf[3], struct blkset *set, uint64_t *pages,
                   uint64_t *free_pages, uint64_t *page_size)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int rc = 0;

    memset(tf, 0, 3 * sizeof(*tf));
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_store: %s: %s\n", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT tier, count(*), sum(length(data)), sum(rows) FROM blocks "
                           "GROUP BY tier",
                           -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            int tier = sqlite3_column_int(s, 0);
            if (tier < 0 || tier > 2)
                continue;
            tf[tier].blocks = (uint64_t)sqlite3_column_int64(s, 1);
            tf[tier].bytes = (uint64_t)sqlite3_column_int64(s, 2);
            tf[tier].rows = (uint64_t)sqlite3_column_int64(s, 3);
        }
        sqlite3_finalize(s);
    }
    if (set && sqlite3_prepare_v2(db, "SELECT data FROM blocks WHERE tier = 0 ORDER BY start_ts",
                                  -1, &s, NULL) == SQLITE_OK) {
        while (rc == 0 && sqlite3_step(s) == SQLITE_ROW)
            rc = blkset_add(set, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        sqlite3_finalize(s);
    }
    *pages = *free_pages = *page_size = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT * FROM pragma_page_count, pragma_freelist_count, "
                           "pragma_page_size",
                           -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            *pages = (uint64_t)sqlite3_column_int64(s, 0);
            *free_pages = (uint64_t)sqlite3_column_int64(s, 1);
            *page_size = (uint64_t)sqlite3_column_int64(s, 2);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return rc;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Every value of the tier-0 blocks against the recording, bit for bit. */
struct check_ctx {
    const struct table *t;
    const struct rec *r;
    char **id_key; /* series id -> key */
    size_t n_ids;
    int64_t *ts;
    uint64_t matched, mismatched, unknown;
};

static size_t find_snap(const struct rec *r, int64_t ts)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((int64_t)r->v[mid]->timestamp_ms < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && (int64_t)r->v[lo]->timestamp_ms == ts ? lo : SIZE_MAX;
}

static int check_col(void *ctx, uint32_t id, const double *values, size_t n_rows)
{
    struct check_ctx *c = ctx;
    const char *key = id < c->n_ids ? c->id_key[id] : NULL;
    uint32_t idx;

    if (!key || !strmap_get(&c->t->map, key, strlen(key), &idx)) {
        c->unknown++;
        return 0;
    }
    for (size_t row = 0; row < n_rows; row++) {
        size_t snap = find_snap(c->r, c->ts[row]);
        double want = snap == SIZE_MAX ? NAN : c->t->vals[(size_t)idx * c->t->nsnap + snap];
        if (isnan(values[row]) && isnan(want))
            continue;
        if (memcmp(&values[row], &want, sizeof(want)) == 0)
            c->matched++;
        else
            c->mismatched++;
    }
    return 0;
}

static void check_blocks(const char *db_path, const struct blkset *set, const struct rec *r,
                         uint64_t *matched, uint64_t *mismatched)
{
    struct table t;
    struct check_ctx c = {.r = r};
    sqlite3 *db;
    sqlite3_stmt *s;

    table_build(&t, r);
    c.t = &t;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT id, key FROM series", -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(s, 0);
            if (id < 0 || id > 1000000)
                continue;
            if ((size_t)id >= c.n_ids) {
                c.id_key = xrealloc(c.id_key, ((size_t)id + 1) * sizeof(*c.id_key));
                memset(c.id_key + c.n_ids, 0, ((size_t)id + 1 - c.n_ids) * sizeof(*c.id_key));
                c.n_ids = (size_t)id + 1;
            }
            c.id_key[id] = xstrndup((const char *)sqlite3_column_text(s, 1),
                                    (size_t)sqlite3_column_bytes(s, 1));
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    for (size_t b = 0; b < set->n; b++) {
        c.ts = xrealloc(NULL, set->v[b].rows * sizeof(*c.ts));
        if (blk_decode_ts(set->v[b].data, set->v[b].len, c.ts) == 0)
            blk_decode_all(set->v[b].data, set->v[b].len, check_col, &c);
        free(c.ts);
    }
    *matched = c.matched;
    *mismatched = c.mismatched + c.unknown;
    for (size_t i = 0; i < c.n_ids; i++)
        free(c.id_key[i]);
    free(c.id_key);
    table_done(&t);
}

static int host_bytes(const char *dir, struct rec *r, struct blkset *set, struct results *res)
{
    char path[4096];
    struct store *st;
    struct tier_fig tf[3];
    uint64_t pages, free_pages, page_size, fsize, matched, mismatched;
    int64_t last = (int64_t)r->v[r->n - 1]->timestamp_ms;
    int64_t now = last - last % DAY_MS + DAY_MS + HOUR_MS;
    double t0;

    snprintf(path, sizeof(path), "%s/host.db", dir);
    if (open_fresh(&st, path) < 0)
        return -1;
    t0 = wall_s();
    for (size_t i = 0; i < r->n; i++)
        if (store_append(st, r->v[i]) < 0) {
            fprintf(stderr, "bench_store: store_append failed\n");
            return -1;
        }
    /* a day and an hour after the last snapshot: every hour compacted, the day's hour tier built */
    if (store_maintain(st, now) < 0 || store_checkpoint(st) < 0) {
        fprintf(stderr, "bench_store: store_maintain/store_checkpoint failed\n");
        return -1;
    }
    store_close(st);
    printf("  (a) this host, through the store: %zu snapshots through store_append() (%.2f s), "
           "store_maintain() a day later, checkpoint\n",
           r->n, wall_s() - t0);
    if (read_db(path, tf, set, &pages, &free_pages, &page_size) < 0)
        return -1;
    fsize = file_size(path);
    if (set->present != r->samples)
        printf("      NOTE: the tier-0 blocks hold %" PRIu64 " samples, the recording %" PRIu64
               "\n",
               set->present, r->samples);
    res->samples[0] = set->present;
    res->bps[0] = set->present ? (double)tf[0].bytes / (double)set->present : 0;
    res->have[0] = set->present > 0;
    printf("      tier 0 (raw) blocks: %" PRIu64 " block(s), %" PRIu64 " rows, %" PRIu64
           " bytes of data for %" PRIu64 " samples: %.3f bytes/sample (target <= %.1f: %s)\n",
           tf[0].blocks, tf[0].rows, tf[0].bytes, set->present, res->bps[0], TARGET_BPS_HOST,
           verdict(res->bps[0] <= TARGET_BPS_HOST));
    printf("      whole database file after the checkpoint: %" PRIu64 " bytes: %.2f bytes/sample; "
           "%" PRIu64 " of its %" PRIu64 " pages are free (reused by the next blocks): the %" PRIu64
           " pages in use are %.2f bytes/sample (the tables, their indexes and the tiers: at one "
           "hour of data, mostly fixed costs)\n",
           fsize, set->present ? (double)fsize / (double)set->present : 0.0, free_pages, pages,
           pages - free_pages,
           set->present ? (double)((pages - free_pages) * page_size) / (double)set->present : 0.0);
    printf("      extra tiers: tier 1 (per minute) %" PRIu64 " block(s), %" PRIu64
           " bytes (%.3f per raw sample); tier 2 (per hour) %" PRIu64 " block(s), %" PRIu64
           " bytes (%.3f per raw sample)\n",
           tf[1].blocks, tf[1].bytes,
           set->present ? (double)tf[1].bytes / (double)set->present : 0.0, tf[2].blocks,
           tf[2].bytes, set->present ? (double)tf[2].bytes / (double)set->present : 0.0);
    check_blocks(path, set, r, &matched, &mismatched);
    printf("      read back: %" PRIu64 " values equal to the recording bit for bit, %" PRIu64
           " differ or are missing%s\n",
           matched,
           mismatched + (r->samples > matched + mismatched ? r->samples - matched - mismatched : 0),
           mismatched == 0 && matched == r->samples ? " (lossless)" : " (NOT lossless)");
    return 0;
}

/* ---- (b) the tsdb-mix sets through the codec ---- */

struct mix {
    size_t nseries, nrows, cols_cap, rows_cap;
    double **cols; /* cols[series][row] */
    int64_t *ts;   /* per row: its first sample's timestamp; INT64_MIN: none */
    uint64_t samples, dups, bad;
};

static int parse_ts_ms(const char *p, size_t n, int64_t *ret)
{
    int64_t sec = 0, ms = 0;
    size_t i = 0;
    int frac = 0;

    if (n == 0)
        return -EINVAL;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        sec = sec * 10 + (p[i] - '0');
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            if (frac < 3)
                ms = ms * 10 + (p[i] - '0'), frac++;
    if (i != n)
        return -EINVAL;
    while (frac < 3)
        ms *= 10, frac++;
    *ret = sec * 1000 + ms;
    return 0;
}

static int mix_load(const char *path, int64_t interval_ms, struct mix *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    const char *buf, *p, *end, *last_name = NULL;
    size_t last_len = 0;
    uint32_t last_idx = 0;
    struct strmap names = {0};
    int64_t t0 = INT64_MIN;

    memset(m, 0, sizeof(*m));
    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "bench_store: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    buf = sb.st_size ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (buf == MAP_FAILED || !buf) {
        fprintf(stderr, "bench_store: %s: cannot map it\n", path);
        return -1;
    }
    madvise((void *)buf, (size_t)sb.st_size, MADV_SEQUENTIAL);
    for (p = buf, end = buf + sb.st_size; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *q = p, *tok;
        size_t toklen;
        char vbuf[64];
        double v;
        int64_t ts, slot;
        uint32_t idx;
        int inq = 0, inb = 0;

        if (!eol)
            eol = end;
        if (p == eol || *p == '#') {
            p = eol + 1;
            continue;
        }
        /* the series: up to the first blank outside the braces and quotes */
        while (q < eol && (inb || *q != ' ')) {
            if (inq && *q == '\\')
                q++;
            else if (inb && *q == '"')
                inq = !inq;
            else if (!inq && *q == '{')
                inb = 1;
            else if (!inq && *q == '}')
                inb = 0;
            q++;
        }
        if (last_name && (size_t)(q - p) == last_len && memcmp(p, last_name, last_len) == 0) {
            idx = last_idx;
        } else if (!strmap_get(&names, p, (size_t)(q - p), &idx)) {
            idx = (uint32_t)m->nseries++;
            strmap_put(&names, p, (size_t)(q - p), idx);
            if (m->nseries > m->cols_cap) {
                m->cols_cap = m->cols_cap ? m->cols_cap * 2 : 256;
                m->cols = xrealloc(m->cols, m->cols_cap * sizeof(*m->cols));
            }
            m->cols[idx] = xrealloc(NULL, (m->rows_cap ? m->rows_cap : 1) * sizeof(double));
            for (size_t r = 0; r < m->rows_cap; r++)
                m->cols[idx][r] = NAN;
        }
        last_name = p;
        last_len = (size_t)(q - p);
        last_idx = idx;
        if (scan_word(&q, eol, &tok, &toklen) < 0 || toklen >= sizeof(vbuf)) {
            m->bad++;
            p = eol + 1;
            continue;
        }
        memcpy(vbuf, tok, toklen);
        vbuf[toklen] = '\0';
        if (parse_double(vbuf, &v) < 0 || scan_word(&q, eol, &tok, &toklen) < 0 ||
            parse_ts_ms(tok, toklen, &ts) < 0) {
            m->bad++;
            p = eol + 1;
            continue;
        }
        if (t0 == INT64_MIN)
            t0 = ts;
        slot = ts - t0 + interval_ms / 2;
        if (slot < 0) {
            m->bad++;
            p = eol + 1;
            continue;
        }
        slot /= interval_ms;
        if ((size_t)slot >= m->rows_cap) {
            size_t ncap = m->rows_cap ? m->rows_cap : 4096;
            while (ncap <= (size_t)slot)
                ncap *= 2;
            for (size_t s = 0; s < m->nseries; s++) {
                m->cols[s] = xrealloc(m->cols[s], ncap * sizeof(double));
                for (size_t r = m->rows_cap; r < ncap; r++)
                    m->cols[s][r] = NAN;
            }
            m->ts = xrealloc(m->ts, ncap * sizeof(*m->ts));
            for (size_t r = m->rows_cap; r < ncap; r++)
                m->ts[r] = INT64_MIN;
            m->rows_cap = ncap;
        }
        if ((size_t)slot >= m->nrows)
            m->nrows = (size_t)slot + 1;
        if (m->ts[slot] == INT64_MIN)
            m->ts[slot] = ts;
        if (!isnan(m->cols[idx][slot]))
            m->dups++;
        else
            m->samples++;
        m->cols[idx][slot] = v;
        p = eol + 1;
    }
    munmap((void *)buf, (size_t)sb.st_size);
    strmap_done(&names);
    /* rows without any sample are not rows; timestamps must increase */
    {
        size_t w = 0;
        for (size_t r = 0; r < m->nrows; r++) {
            if (m->ts[r] == INT64_MIN)
                continue;
            if (w > 0 && m->ts[r] <= m->ts[w - 1]) {
                fprintf(stderr, "bench_store: %s: row timestamps do not increase\n", path);
                return -1;
            }
            m->ts[w] = m->ts[r];
            for (size_t s = 0; s < m->nseries; s++)
                m->cols[s][w] = m->cols[s][r];
            w++;
        }
        m->nrows = w;
    }
    return m->nseries && m->nrows ? 0 : -1;
}

static void mix_done(struct mix *m)
{
    for (size_t s = 0; s < m->nseries; s++)
        free(m->cols[s]);
    free(m->cols);
    free(m->ts);
}

/* Encodes m one clock hour per block, as store.c's compaction does. */
static int mix_encode(const struct mix *m, struct blkset *set, double *cpu_s)
{
    struct blk_column *bc = xcalloc(m->nseries, sizeof(*bc));
    struct bytebuf out = {0};
    double enc = 0;

    for (size_t r = 0; r < m->nrows;) {
        int64_t hour = m->ts[r] - m->ts[r] % HOUR_MS;
        size_t e = r, nc = 0;
        double t;
        while (e < m->nrows && m->ts[e] < hour + HOUR_MS && e - r < BLK_MAX_ROWS)
            e++;
        for (size_t s = 0; s < m->nseries; s++) {
            bool any = false;
            for (size_t k = r; k < e && !any; k++)
                any = !isnan(m->cols[s][k]);
            if (!any)
                continue;
            bc[nc].series_id = (uint32_t)s + 1;
            bc[nc].decimals = -1;
            bc[nc].values = &m->cols[s][r];
            nc++;
        }
        out.len = 0;
        t = thread_clock_us();
        if (blk_encode(&m->ts[r], e - r, bc, nc, &out) < 0) {
            fprintf(stderr, "bench_store: %s: blk_encode failed\n", set->name);
            free(bc);
            bytebuf_done(&out);
            return -1;
        }
        enc += thread_clock_us() - t;
        if (blkset_add(set, out.buf, out.len) < 0) {
            free(bc);
            bytebuf_done(&out);
            return -1;
        }
        r = e;
    }
    free(bc);
    bytebuf_done(&out);
    *cpu_s = enc / 1e6;
    return 0;
}

static int mix_bytes(const char *path, const char *label, struct blkset *set, double *bps,
                     uint64_t *samples)
{
    struct mix m;
    double t0 = wall_s(), enc_s;

    if (mix_load(path, 5000, &m) < 0) {
        fprintf(stderr, "bench_store: %s: cannot read it as OpenMetrics\n", path);
        mix_done(&m);
        return -1;
    }
    printf("      %s (%s): %zu series x %zu rows, %" PRIu64 " samples (read in %.1f s%s)\n", label,
           path, m.nseries, m.nrows, m.samples, wall_s() - t0,
           m.dups || m.bad ? "; some lines were duplicates or malformed" : "");
    if (mix_encode(&m, set, &enc_s) < 0) {
        mix_done(&m);
        return -1;
    }
    if (set->present != m.samples)
        printf("      NOTE: the blocks hold %" PRIu64 " samples, the file %" PRIu64 "\n",
               set->present, m.samples);
    *bps = (double)set->bytes / (double)m.samples;
    *samples = m.samples;
    printf("        %zu blocks, %" PRIu64 " bytes: %.3f bytes/sample (blk_encode: %.1f M "
           "samples/s of CPU)\n",
           set->n, set->bytes, *bps, enc_s > 0 ? (double)m.samples / enc_s / 1e6 : 0.0);
    mix_done(&m);
    return 0;
}

/* ---- Prometheus beside it ---- */

static int parse_prom(const char *arg, struct prom_fig figs[3])
{
    static const char *const names[3] = {"a", "b", "bj"};
    char buf[256], *eq, *f[3];
    double v[3];
    int k;

    if (strlen(arg) >= sizeof(buf))
        return -1;
    memcpy(buf, arg, strlen(arg) + 1);
    eq = strchr(buf, '=');
    if (!eq)
        return -1;
    *eq = '\0';
    f[0] = eq + 1;
    f[1] = strchr(f[0], ',');
    f[2] = f[1] ? strchr(f[1] + 1, ',') : NULL;
    if (!f[1] || !f[2])
        return -1;
    *f[1]++ = '\0';
    *f[2]++ = '\0';
    for (int i = 0; i < 3; i++)
        if (parse_double(f[i], &v[i]) < 0)
            return -1;
    for (k = 0; k < 3 && strcmp(buf, names[k]) != 0; k++)
        ;
    if (k == 3)
        return -1;
    figs[k].have = true;
    figs[k].block_bps = v[0];
    figs[k].chunk_bps = v[1];
    figs[k].samples = v[2];
    return 0;
}

static void print_prom(const struct results *res, const struct prom_fig figs[3])
{
    static const char *const labels[3] = {"(a) this host", "(b) tsdb-mix",
                                          "(b) tsdb-mix, 50 ms jitter"};

    printf("  Prometheus TSDB on the same samples (promtool tsdb create-blocks-from openmetrics, "
           "tsdb_stats.py; its whole blocks: chunks + index + meta):\n");
    printf("      %-28s %10s %21s %15s %12s %8s  %s\n", "data set", "samples", "arthamon B/sample",
           "prom B/sample", "prom chunks", "ratio", "target arthamon/prom <= 0.5");
    for (int k = 0; k < 3; k++) {
        double ratio;
        if (!res->have[k])
            continue;
        if (!figs[k].have) {
            printf("      %-28s %10" PRIu64 " %8.3f (%-10s) %15s: no Prometheus figure, no ratio\n",
                   labels[k], res->samples[k], res->bps[k], k ? "codec" : "store", "-");
            continue;
        }
        ratio = res->bps[k] / figs[k].block_bps;
        printf("      %-28s %10" PRIu64
               " %8.3f (%-10s) %15.3f %12.3f %8.3f  %s (vs chunks alone: %.3f)\n",
               labels[k], res->samples[k], res->bps[k], k ? "codec" : "store", figs[k].block_bps,
               figs[k].chunk_bps, ratio, verdict(ratio <= TARGET_PROM_RATIO),
               res->bps[k] / figs[k].chunk_bps);
        if ((uint64_t)figs[k].samples != res->samples[k])
            printf("        NOTE: Prometheus counted %.0f samples, arthamon %" PRIu64 "\n",
                   figs[k].samples, res->samples[k]);
    }
    printf("      (arthamon's figure: (a) sum(length(data)) of the tier-0 blocks of the store; (b) "
           "the blk_encode blocks)\n");
}

/* ---- 2. CPU time per append ---- */

static void rusage_us(double *user, double *sys)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    *user = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
    *sys = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* Bytes this process passed to write()/pwrite(), and how many such calls. */
static void proc_io(uint64_t *wchar, uint64_t *syscw)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];

    *wchar = *syscw = 0;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "wchar: ", 7))
            parse_u64(line + 7, wchar);
        else if (!strncmp(line, "syscw: ", 7))
            parse_u64(line + 7, syscw);
    }
    fclose(f);
}

#define COST_HOURS (COST_TICKS / 3600)
struct cost {
    double append_us, maintain_us;                       /* per snapshot */
    double hour_app[COST_HOURS], hour_maint[COST_HOURS]; /* per hour of ticks, in all */
    double user_us, sys_us;                              /* per snapshot, both together */
    double wbytes, wcalls;                               /* per snapshot */
    size_t n, series;
    size_t row_bytes; /* a snapshot's row in ticks, about */
};

struct key_ctx;
static void copy_visit(void *ctx, const struct series_desc *d, const struct series_label *l,
                       size_t n, double v);

/* A fresh copy of s: what the sampler hands to the store is a snapshot it has
 * just built, its memory in the cache; a pool of thousands made beforehand is
 * not. */
static struct snapshot *fresh_copy(const struct snapshot *s);

/* The cost of reading the thread's CPU clock (two reads per timed call). */
static double clock_cost_us(void)
{
    double t0 = thread_clock_us(), t1 = t0;

    for (int i = 0; i < 100000; i++)
        t1 = thread_clock_us();
    return (t1 - t0) / 100000;
}

/*
 * Appends n snapshots from pool (cycled; each a fresh copy, made untimed), 1 s
 * apart from t0, store_maintain() every 60 of them, into a fresh database.
 * Each call is timed by the thread's CPU clock (user and system), the clock's
 * own cost taken off; the split into user and system is getrusage()'s over
 * the calls. The bytes and write calls are /proc/self/io's.
 */
static int append_cost(const char *path, struct snapshot **pool, size_t npool, size_t n, int64_t t0,
                       struct cost *c)
{
    struct store *st;
    uint64_t w0, w1, s0, s1;
    double c_app = 0, c_maint = 0, m0, cc = clock_cost_us(), u_all = 0, y_all = 0, d;
    size_t series = 0;
    int r = 0;

    for (size_t i = 0; i < npool; i++)
        snapshot_flatten(pool[i], count_visit, &series);
    if (open_fresh(&st, path) < 0)
        return -1;
    proc_io(&w0, &s0);
    memset(c->hour_app, 0, sizeof(c->hour_app));
    memset(c->hour_maint, 0, sizeof(c->hour_maint));
    for (size_t i = 0; i < n && r == 0; i++) {
        struct snapshot *s = fresh_copy(pool[i % npool]);
        int64_t ts = t0 + (int64_t)i * 1000;
        double u0, y0, u1, y1;
        s->timestamp_ms = (uint64_t)ts;
        s->timestamp = (uint64_t)ts / 1000;
        rusage_us(&u0, &y0);
        m0 = thread_clock_us();
        r = store_append(st, s);
        d = thread_clock_us() - m0 - cc;
        c_app += d;
        c->hour_app[i / 3600 % COST_HOURS] += d;
        if (r == 0 && (i + 1) % 60 == 0) {
            m0 = thread_clock_us();
            r = store_maintain(st, ts);
            d = thread_clock_us() - m0 - cc;
            c_maint += d;
            c->hour_maint[i / 3600 % COST_HOURS] += d;
        }
        rusage_us(&u1, &y1);
        u_all += u1 - u0;
        y_all += y1 - y0;
        snapshot_unref(s);
    }
    proc_io(&w1, &s1);
    store_close(st);
    unlink_db(path);
    if (r < 0) {
        fprintf(stderr, "bench_store: store_append/store_maintain failed: %s\n", strerror(-r));
        return -1;
    }
    c->n = n;
    c->series = (series + npool / 2) / npool;
    c->append_us = c_app / (double)n;
    c->maintain_us = c_maint / (double)n;
    /* getrusage() splits in scheduler ticks: its shares, applied to the exact total */
    c->user_us = u_all + y_all > 0 ? (c->append_us + c->maintain_us) * u_all / (u_all + y_all) : 0;
    c->sys_us = c->append_us + c->maintain_us - c->user_us;
    c->wbytes = (double)(w1 - w0) / (double)n;
    c->wcalls = (double)(s1 - s0) / (double)n;
    /* a row is (varint id, 8-byte double) per series; ids here are below 16384 */
    c->row_bytes = c->series * (8 + (c->series < 128 ? 1 : 2));
    return 0;
}

/*
 * append_cost() COST_RUNS times over the same 24 h (the same work, tick for
 * tick), and for each hour of ticks the least disturbed run's cost: CPU time
 * on a shared machine only ever grows with what else runs (caches, TLB,
 * steal, page scanning), and the disturbances come in bursts of seconds, so
 * they rarely hit the same hour of every run. The sum of those hours, per
 * snapshot, is the figure; every run's own total is printed.
 */
#define COST_RUNS 3
static int append_costs(const char *path, struct snapshot **pool, size_t npool, struct cost *c)
{
    static struct cost one;
    double best[COST_HOURS], app = 0, maint = 0;

    printf("      runs:");
    for (int k = 0; k < COST_RUNS; k++) {
        if (append_cost(path, pool, npool, COST_TICKS, 1704067200000LL - 12 * HOUR_MS, &one) < 0)
            return -1;
        printf(" %.2f", one.append_us + one.maintain_us);
        for (size_t h = 0; h < COST_HOURS; h++) {
            double t = one.hour_app[h] + one.hour_maint[h];
            if (k == 0 || t < best[h]) {
                best[h] = t;
                c->hour_app[h] = one.hour_app[h];
                c->hour_maint[h] = one.hour_maint[h];
            }
        }
        if (k == 0 || one.append_us + one.maintain_us < c->append_us + c->maintain_us) {
            double ha[COST_HOURS], hm[COST_HOURS];
            memcpy(ha, c->hour_app, sizeof(ha));
            memcpy(hm, c->hour_maint, sizeof(hm));
            *c = one; /* the rest of the figures: the cheapest run's */
            memcpy(c->hour_app, ha, sizeof(ha));
            memcpy(c->hour_maint, hm, sizeof(hm));
        }
    }
    for (size_t h = 0; h < COST_HOURS; h++) {
        app += c->hour_app[h];
        maint += c->hour_maint[h];
    }
    {
        double tot = c->user_us + c->sys_us, frac = tot > 0 ? c->user_us / tot : 1;
        c->append_us = app / (double)COST_TICKS;
        c->maintain_us = maint / (double)COST_TICKS;
        c->user_us = (c->append_us + c->maintain_us) * frac;
        c->sys_us = c->append_us + c->maintain_us - c->user_us;
    }
    printf(" us per snapshot; each hour from its cheapest run:\n");
    return 0;
}

/*
 * The floor under one transaction per tick: a bare SQLite database in the
 * store's settings (WAL, synchronous=NORMAL), one prepared BEGIN, INSERT of a
 * row blob of row_bytes and COMMIT per snapshot; getrusage() per snapshot.
 */
static double sqlite_floor_us(const char *path, size_t row_bytes, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *b = NULL, *ins = NULL, *cm = NULL;
    uint8_t *row = xcalloc(row_bytes, 1);
    double u0, y0, u1, y1, us = -1;

    for (size_t i = 0; i < row_bytes; i++)
        row[i] = (uint8_t)(urand() * 256);
    unlink_db(path);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE ticks "
                     "(ts INTEGER PRIMARY KEY, row BLOB NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "BEGIN", -1, &b, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO ticks (ts, row) VALUES (?, ?)", -1, &ins, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &cm, NULL) != SQLITE_OK)
        goto out;
    rusage_us(&u0, &y0);
    for (size_t i = 0; i < n; i++) {
        sqlite3_step(b);
        sqlite3_reset(b);
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i * 1000);
        sqlite3_bind_blob(ins, 2, row, (int)row_bytes, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto out;
        sqlite3_reset(ins);
        if (sqlite3_step(cm) != SQLITE_DONE)
            goto out;
        sqlite3_reset(cm);
    }
    rusage_us(&u1, &y1);
    us = (u1 - u0 + y1 - y0) / (double)n;
out:
    sqlite3_finalize(b);
    sqlite3_finalize(ins);
    sqlite3_finalize(cm);
    sqlite3_close(db);
    unlink_db(path);
    free(row);
    return us;
}

static void print_cost(const char *what, const struct cost *c, double floor_us)
{
    double tot = c->append_us + c->maintain_us;

    printf("      %s: %zu series: store_append %.2f us + store_maintain %.2f us = %.2f us per "
           "snapshot (target <= %.0f us: %s)\n",
           what, c->series, c->append_us, c->maintain_us, tot, TARGET_APPEND_US,
           verdict(tot <= TARGET_APPEND_US));
    printf("        user %.2f us, system %.2f us; written: %.0f bytes in %.1f write calls per "
           "snapshot; a bare SQLite transaction inserting a %zu-byte row costs %.2f us\n",
           c->user_us, c->sys_us, c->wbytes, c->wcalls, c->row_bytes, floor_us);
}

struct key_ctx {
    struct snapshot *dst;
    int err;
};

static void copy_visit(void *ctx, const struct series_desc *d, const struct series_label *l,
                       size_t n, double v)
{
    struct key_ctx *k = ctx;
    char key[512];

    if (snapshot_series_key(key, sizeof(key), d, l, n) == 0 &&
        snapshot_set_series(k->dst, key, v) < 0)
        k->err = 1;
}

static struct snapshot *fresh_copy(const struct snapshot *s)
{
    struct snapshot *d = snapshot_new();
    struct key_ctx k = {d, 0};

    if (!d || !(d->node_id = snapshot_strdup(d, s->node_id ? s->node_id : ""))) {
        fputs("bench_store: out of memory\n", stderr);
        exit(1);
    }
    d->interval_sec = s->interval_sec;
    snapshot_flatten(s, copy_visit, &k);
    if (k.err) {
        fputs("bench_store: a snapshot could not be copied\n", stderr);
        exit(1);
    }
    return d;
}

/* npool snapshots of `target` series: the host's (cycled) plus function calls
 * and one model's figures, with values that move as such figures do. */
static struct snapshot **synth_pool(const struct rec *r, size_t npool, size_t target)
{
    struct snapshot **pool = xcalloc(npool, sizeof(*pool));
    size_t extra = target - r->max_series, nf = extra / 2, nl = extra - nf - 5;
    double *calls = xcalloc(nf, sizeof(double)), *rate = xcalloc(nf, sizeof(double));
    double *mean = xcalloc(nl, sizeof(double)), *lat = xcalloc(nl, sizeof(double));
    char key[256];

    for (size_t f = 0; f < nf; f++) {
        calls[f] = floor(urand() * 1e6);
        rate[f] = urand() < 0.3 ? 0.02 : erand(20.0);
    }
    for (size_t l = 0; l < nl; l++)
        lat[l] = mean[l] = 0.05 + erand(2.0);
    for (size_t i = 0; i < npool; i++) {
        struct snapshot *s = snapshot_new();
        struct key_ctx k = {s, 0};
        double sum = 0;
        if (!s || !(s->node_id = snapshot_strdup(s, "bench"))) {
            fputs("bench_store: out of memory\n", stderr);
            exit(1);
        }
        s->timestamp_ms = r->v[i % r->n]->timestamp_ms;
        snapshot_flatten(r->v[i % r->n], copy_visit, &k);
        for (size_t f = 0; f < nf; f++) {
            calls[f] += floor(erand(rate[f]) + 0.5);
            snprintf(key, sizeof(key), "node.contract_metrics.function_calls{function=fn_%03zu}",
                     f);
            snapshot_set_series(s, key, calls[f]);
        }
        for (size_t l = 0; l < nl; l++) {
            lat[l] = fabs(lat[l] + (mean[l] - lat[l]) * 0.1 + gauss() * mean[l] * 0.05);
            sum += lat[l];
            snprintf(key, sizeof(key),
                     "model_inference.layer_latencies{model=bench-model,type=transformer,"
                     "layer=layer_%03zu}",
                     l);
            snapshot_set_series(s, key, round_to(lat[l], 3));
        }
#define MODEL_KEY(name) "model_inference." name "{model=bench-model,type=transformer}"
        snapshot_set_series(s, MODEL_KEY("avg_inference_ms"), round_to(sum, 3));
        snapshot_set_series(s, MODEL_KEY("p95_inference_ms"),
                            round_to(sum * (1.3 + 0.05 * gauss()), 3));
        snapshot_set_series(s, MODEL_KEY("p99_inference_ms"),
                            round_to(sum * (1.7 + 0.1 * gauss()), 3));
        snapshot_set_series(s, MODEL_KEY("throughput_per_sec"), round_to(8000.0 / sum, 3));
        snapshot_set_series(s, MODEL_KEY("accelerator_util_percent"),
                            round_to(clamp(60 + 10 * gauss(), 0, 100), 2));
#undef MODEL_KEY
        pool[i] = s;
    }
    free(calls);
    free(rate);
    free(mean);
    free(lat);
    return pool;
}

/* ---- 3. decode speed ---- */

static int count_cb(void *ctx, uint32_t id, const double *values, size_t n_rows)
{
    (*(size_t *)ctx) += n_rows;
    return 0;
}

struct pass {
    const struct blkset *s;
    double *vals;
    size_t sink;
    uint32_t crc;
};

static void pass_series(struct pass *p)
{
    for (size_t b = 0; b < p->s->n; b++)
        for (size_t c = 0; c < p->s->v[b].nids; c++)
            if (blk_decode_series(p->s->v[b].data, p->s->v[b].len, p->s->v[b].ids[c], p->vals) != 1)
                fprintf(stderr, "bench_store: blk_decode_series failed\n");
}

static void pass_all(struct pass *p)
{
    for (size_t b = 0; b < p->s->n; b++)
        blk_decode_all(p->s->v[b].data, p->s->v[b].len, count_cb, &p->sink);
}

static void pass_crc(struct pass *p)
{
    for (size_t b = 0; b < p->s->n; b++)
        p->crc ^= blk_crc32c(p->s->v[b].data, p->s->v[b].len);
}

/* Seconds per call of fn, repeated for at least min_s. */
static double timed(void (*fn)(struct pass *), struct pass *p, double min_s)
{
    unsigned reps = 0;
    double t0 = wall_s();

    do {
        fn(p);
        reps++;
    } while (wall_s() - t0 < min_s);
    return (wall_s() - t0) / reps;
}

static void decode_speed(struct blkset *sets[], size_t nsets, double *series_ms, double *all_ms)
{
    size_t max_rows = 0;
    double *vals;
    uint64_t present = 0;
    double t_series = 0, t_all = 0;

    for (size_t k = 0; k < nsets; k++)
        for (size_t b = 0; b < sets[k]->n; b++)
            max_rows = sets[k]->v[b].rows > max_rows ? sets[k]->v[b].rows : max_rows;
    vals = xcalloc(max_rows, sizeof(double));
    printf("  3. decode speed (wall time, repeated for >= 0.3 s each; samples: present values; "
           "blk_decode_series: one call per series per block)\n");
    for (size_t k = 0; k < nsets; k++) {
        struct blkset *s = sets[k];
        struct pass p = {.s = s, .vals = vals};
        double ts_, ta, tc;
        if (!s->n)
            continue;
        ts_ = timed(pass_series, &p, 0.3);
        ta = timed(pass_all, &p, 0.3);
        tc = timed(pass_crc, &p, 0.1);
        printf("      %-28s %4zu blocks, %8.1f KiB, %9" PRIu64
               " samples: blk_decode_series %7.1f M/s, blk_decode_all %7.1f M/s; blk_crc32c %.2f "
               "GB/s\n",
               s->name, s->n, (double)s->bytes / 1024, s->present, (double)s->present / ts_ / 1e6,
               (double)s->present / ta / 1e6, (double)s->bytes / tc / 1e9);
        present += s->present;
        t_series += ts_;
        t_all += ta;
    }
    *series_ms = t_series > 0 ? (double)present / t_series / 1e6 : 0;
    *all_ms = t_all > 0 ? (double)present / t_all / 1e6 : 0;
    printf("      all blocks (%" PRIu64 " samples): blk_decode_series %.1f M samples/s "
           "(target >= %.0f M: %s), blk_decode_all %.1f M samples/s (target >= %.0f M: %s)\n",
           present, *series_ms, TARGET_DECODE_MS_S, verdict(*series_ms >= TARGET_DECODE_MS_S),
           *all_ms, TARGET_DECODE_MS_S, verdict(*all_ms >= TARGET_DECODE_MS_S));
    free(vals);
}

/* ---- 4. the 30-day query ---- */

/* 20 series that move as a host's do, on one reused snapshot. */
struct synth20 {
    struct snapshot *s;
    double cpu, used, sockets, rd_ops, wr_ops, rx, tx;
};

static void synth20_init(struct synth20 *g)
{
    memset(g, 0, sizeof(*g));
    g->s = snapshot_new();
    if (!g->s || !(g->s->cpu.core_usage = snapshot_alloc(g->s, 4 * sizeof(double)))) {
        fputs("bench_store: out of memory\n", stderr);
        exit(1);
    }
    g->s->node_id = "bench";
    g->s->cpu.n_cores = 4;
    g->s->cpu.seconds_total[0] = 123456.78;
    g->s->cpu.seconds_total[2] = 23456.78;
    g->s->cpu.seconds_total[3] = 987654.32;
    g->s->cpu.seconds_total[4] = 345.67;
    g->s->cpu.seconds_total[1] = ABSENT;
    g->s->disk.reads_total = 12345678;
    g->s->disk.writes_total = 23456789;
    g->s->network.received_bytes_total = 123456789012.0;
    g->s->network.sent_bytes_total = 98765432101.0;
    g->cpu = 20;
    g->used = 6000;
    g->sockets = 300;
}

static void synth20_next(struct synth20 *g, int64_t ts, double dt)
{
    struct snapshot *s = g->s;
    double day = sin(2 * M_PI * (double)(ts % DAY_MS) / (double)DAY_MS);
    double target = 25 + 15 * day, busy = 0;
    double ticks[4]; /* user system idle iowait, in 1/100 s over all 4 cores */

    s->timestamp_ms = (uint64_t)ts;
    s->timestamp = (uint64_t)ts / 1000;
    s->interval_sec = dt;
    g->cpu = clamp(g->cpu + (target - g->cpu) * 0.1 + gauss() * 3, 0.5, 99.5);
    s->cpu.usage_percent = round_to(g->cpu, 2);
    for (uint32_t c = 0; c < 4; c++) {
        double u = round_to(clamp(g->cpu + gauss() * 8, 0, 100), 2);
        s->cpu.core_usage[c] = u;
        busy += u;
    }
    ticks[0] = floor(busy * dt * 0.7 + 0.5);
    ticks[1] = floor(busy * dt * 0.3 + 0.5);
    ticks[3] = floor(erand(2) * dt);
    ticks[2] = floor(400 * dt) - ticks[0] - ticks[1] - ticks[3];
    if (ticks[2] < 0)
        ticks[2] = 0;
    s->cpu.seconds_total[0] = round_to(s->cpu.seconds_total[0] + ticks[0] / 100, 2);
    s->cpu.seconds_total[2] = round_to(s->cpu.seconds_total[2] + ticks[1] / 100, 2);
    s->cpu.seconds_total[3] = round_to(s->cpu.seconds_total[3] + ticks[2] / 100, 2);
    s->cpu.seconds_total[4] = round_to(s->cpu.seconds_total[4] + ticks[3] / 100, 2);
    g->used = clamp(g->used + gauss() * 6 + (6000 + 1500 * day - g->used) * 0.01, 1000, 15000);
    s->memory.physical_used_mb = round_to(g->used, 0);
    s->memory.available_mb = 16000 - s->memory.physical_used_mb;
    g->rd_ops = urand() < 0.1 ? erand(200) : erand(5);
    g->wr_ops = erand(30 + 20 * day);
    s->disk.read_ops_per_sec = round_to(floor(g->rd_ops * dt) / dt, 2);
    s->disk.write_ops_per_sec = round_to(floor(g->wr_ops * dt) / dt, 2);
    s->disk.reads_total += floor(g->rd_ops * dt);
    s->disk.writes_total += floor(g->wr_ops * dt);
    g->rx = floor(erand(200e3 + 100e3 * day) * dt);
    g->tx = floor(erand(150e3) * dt);
    s->network.received_bytes_total += g->rx;
    s->network.sent_bytes_total += g->tx;
    s->network.ingress_kbps = round_to(g->rx / dt / 1024, 2);
    s->network.egress_kbps = round_to(g->tx / dt / 1024, 2);
    g->sockets = clamp(g->sockets + floor(gauss() * 2 + 0.5), 50, 5000);
    s->network.open_sockets = g->sockets;
}

struct qctx {
    long points;
};

static void count_point(void *ctx, const struct store_point *p)
{
    ((struct qctx *)ctx)->points++;
}

static int query_bench(const char *dir, double *median_ms, double *p99_ms)
{
    char path[4096];
    struct store *st;
    struct synth20 g;
    const int64_t step = 5000, days = 30;
    /* now: half past noon; the history starts 30 days before */
    const int64_t now = 1704067200000LL + days * DAY_MS + 12 * HOUR_MS + 30 * MINUTE_MS;
    const int64_t from = now - days * DAY_MS, qstep = days * DAY_MS / 1000;
    struct tier_fig tf[3];
    uint64_t pages, free_pages, page_size, n = 0, samples = 0;
    double t0 = wall_s(), c0 = thread_cpu_us(), runs[20];
    size_t series = 0;
    int tier = -1;
    long points = 0;
    double idle_cpu, idle_wall;

    snprintf(path, sizeof(path), "%s/month.db", dir);
    if (open_fresh(&st, path) < 0)
        return -1;
    synth20_init(&g);
    for (int64_t ts = from; ts <= now; ts += step, n++) {
        if (ts % HOUR_MS == 0 && ts > from && store_maintain(st, ts) < 0) {
            fprintf(stderr, "bench_store: store_maintain failed\n");
            return -1;
        }
        synth20_next(&g, ts, (double)step / 1000);
        if (n == 0) {
            series = 0;
            snapshot_flatten(g.s, count_visit, &series);
        }
        if (store_append(st, g.s) < 0) {
            fprintf(stderr, "bench_store: store_append failed\n");
            return -1;
        }
        samples += series;
    }
    if (store_maintain(st, now) < 0 || store_checkpoint(st) < 0) {
        fprintf(stderr, "bench_store: store_maintain failed\n");
        return -1;
    }
    printf("  4. a 30-day query\n");
    printf("      database: %zu synthetic series every 5 s for 30 days (%" PRIu64
           " snapshots, %" PRIu64
           " samples) through store_append(), store_maintain() once per hour of data: "
           "built in %.1f s (%.1f s of CPU)\n",
           series, n, samples, wall_s() - t0, (thread_cpu_us() - c0) / 1e6);
    for (int i = 0; i < 20; i++) {
        struct qctx q = {0};
        double t = wall_s();
        long r = store_query(st, "cpu.usage_percent", now - days * DAY_MS, now, qstep, AGG_AVG,
                             &tier, count_point, &q);
        runs[i] = (wall_s() - t) * 1e3;
        if (r < 0) {
            fprintf(stderr, "bench_store: store_query: %s\n", strerror((int)-r));
            store_close(st);
            return -1;
        }
        points = r;
    }
    {
        double c1 = thread_clock_us(), t1 = wall_s();
        for (int i = 0; i < 10; i++)
            store_maintain(st, now);
        idle_cpu = (thread_clock_us() - c1) / 10 / 1e3;
        idle_wall = (wall_s() - t1) / 10 * 1e3;
    }
    store_close(st);
    qsort(runs, 20, sizeof(runs[0]), cmp_double);
    *median_ms = (runs[9] + runs[10]) / 2;
    *p99_ms = runs[19];
    if (read_db(path, tf, NULL, &pages, &free_pages, &page_size) == 0)
        printf("      on disk: tier 0 %" PRIu64 " blocks, %" PRIu64
               " bytes (%.3f bytes/sample); tier 1 %" PRIu64 " blocks, %" PRIu64
               " bytes; tier 2 %" PRIu64 " blocks, %" PRIu64 " bytes; whole file %" PRIu64
               " bytes: %.3f bytes/sample (%" PRIu64 " of %" PRIu64 " pages free)\n",
               tf[0].blocks, tf[0].bytes, (double)tf[0].bytes / (double)samples, tf[1].blocks,
               tf[1].bytes, tf[2].blocks, tf[2].bytes, file_size(path),
               (double)file_size(path) / (double)samples, free_pages, pages);
    printf("      store_query(\"cpu.usage_percent\", now - 30 d, now, step %" PRId64
           " ms, avg): %ld points, from tier %d; median %.2f ms, p99 %.2f ms (20 runs; p99 is "
           "the slowest) (target <= %.0f ms: %s)\n",
           qstep, points, tier, *median_ms, *p99_ms, TARGET_QUERY_MS,
           verdict(*p99_ms <= TARGET_QUERY_MS));
    printf("      store_maintain() with nothing to compact on this database (the daemon calls it "
           "every 60 s): %.2f ms of CPU, %.2f ms wall per call\n",
           idle_cpu, idle_wall);
    unlink_db(path);
    snapshot_unref(g.s);
    return 0;
}

/* ---- run ---- */

static int cmd_run(int argc, char **argv)
{
    const char *rec_path = NULL, *dir = NULL, *mix[2] = {NULL, NULL};
    struct prom_fig figs[3];
    struct results res;
    struct rec r;
    struct blkset host = {.name = "(a) this host"}, bm = {.name = "(b) tsdb-mix"},
                  bj = {.name = "(b) tsdb-mix, 50 ms jitter"};
    struct blkset *sets[3] = {&host, &bm, &bj};
    struct cost ch, cs = {0};
    char path[4096];
    double dec_series, dec_all, qmed, qp99;
    const char *only = "1234";
    int rc = 0;

    memset(figs, 0, sizeof(figs));
    memset(&res, 0, sizeof(res));
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc)
            rec_path = argv[++i];
        else if (!strcmp(argv[i], "-w") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--mix") && i + 1 < argc)
            mix[0] = argv[++i];
        else if (!strcmp(argv[i], "--mix-jitter") && i + 1 < argc)
            mix[1] = argv[++i];
        else if (!strcmp(argv[i], "--prom") && i + 1 < argc && parse_prom(argv[i + 1], figs) == 0)
            i++;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else
            rec_path = NULL, i = argc;
    }
    if (!rec_path || !dir) {
        fprintf(stderr, "usage: bench_store run -r REC -w DIR [--mix OM] [--mix-jitter OM] "
                        "[--prom a|b|bj=BLOCK,CHUNKS,SAMPLES]... [--only 1234]\n");
        return 2;
    }
    log_set_level(LOG_ERROR);
    if (rec_load(rec_path, &r) < 0)
        return 1;
    printf("bench/store: the history store, SQLite %s\n", sqlite3_libversion());
    printf("  (a) this host: %zu snapshots recorded by the sampler, %.1f s, %zu..%zu series "
           "each, %" PRIu64 " samples%s\n",
           r.n, (double)(r.v[r.n - 1]->timestamp_ms - r.v[0]->timestamp_ms) / 1000, r.min_series,
           r.max_series, r.samples,
           r.set_errors ? " (some recorded keys were not understood)" : "");
    /* section 3 decodes the blocks section 1 builds */
    if (strchr(only, '1') || strchr(only, '3')) {
        printf("\n  1. bytes per sample\n");
        if (host_bytes(dir, &r, &host, &res) < 0)
            return 1;
    }
    if (mix[0] || mix[1])
        printf("  (b) tsdb-mix, through the codec: rows by 5 s slot, blk_encode() per clock hour "
               "(720 rows), decimals -1, as store.c's compaction; one timestamp per row (the "
               "slot's first sample's)\n");
    for (int k = 0; k < 2; k++) {
        if (!mix[k] || !(strchr(only, '1') || strchr(only, '3')))
            continue;
        if (mix_bytes(mix[k], k ? "with 50 ms jitter" : "regular", sets[k + 1], &res.bps[k + 1],
                      &res.samples[k + 1]) < 0)
            return 1;
        res.have[k + 1] = true;
    }
    if (strchr(only, '1'))
        print_prom(&res, figs);
    if (!strchr(only, '2'))
        goto decode;

    printf("\n  2. CPU time per snapshot appended (getrusage RUSAGE_THREAD user+sys over 24 h of "
           "snapshots 1 s apart, store_maintain() every 60 as the daemon does at 1 s; its share "
           "from the thread's CPU clock)\n");
    snprintf(path, sizeof(path), "%s/cost.db", dir);
    if (append_costs(path, r.v, r.n, &ch) < 0)
        return 1;
    print_cost("host snapshots (the recording, cycled)", &ch,
               sqlite_floor_us(path, ch.row_bytes, 3600));
    if (r.max_series < 300) {
        size_t npool = 1800;
        struct snapshot **pool = synth_pool(&r, npool, 300);
        char what[200];
        if (append_costs(path, pool, npool, &cs) < 0)
            return 1;
        snprintf(what, sizeof(what),
                 "filled to 300 series (the host's, %zu function_calls counters, one model's "
                 "figures and layer latencies; %zu snapshots cycled)",
                 (300 - r.max_series) / 2, npool);
        print_cost(what, &cs, sqlite_floor_us(path, cs.row_bytes, 3600));
        for (size_t i = 0; i < npool; i++)
            snapshot_unref(pool[i]);
        free(pool);
    }
    printf(
        "      (the 24 h from noon to noon: every hour compacted, and one day's hour tier built, "
        "as often as the daemon does them)\n");
decode:
    if (strchr(only, '3')) {
        printf("\n");
        decode_speed(sets, 3, &dec_series, &dec_all);
    }
    printf("\n");
    if (strchr(only, '4') && query_bench(dir, &qmed, &qp99) < 0)
        rc = 1;
    for (int k = 0; k < 3; k++)
        blkset_done(sets[k]);
    rec_done(&r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "record"))
        return cmd_record(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "export"))
        return cmd_export(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc, argv);
    fprintf(stderr, "usage: bench_store record|export|run ... (see bench/store.c)\n");
    return 2;
}
