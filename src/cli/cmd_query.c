/* arthamon query: one series from the history database, read directly (also
 * while the daemon writes to it: SQLite's WAL lets readers in). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/parse.h"
#include "store/store.h"

/* "60", "60s", "5m", "1h", "1d" (0: every sample); into *ms. */
static int parse_step(const char *s, int64_t *ms)
{
    char buf[32];
    size_t n = strlen(s);
    int64_t mul = 1000;
    double v;

    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 's':
        buf[n - 1] = '\0';
        break;
    case 'm':
        mul = 60000, buf[n - 1] = '\0';
        break;
    case 'h':
        mul = 3600000, buf[n - 1] = '\0';
        break;
    case 'd':
        mul = 86400000, buf[n - 1] = '\0';
        break;
    default:
        break;
    }
    if (parse_double(buf, &v) < 0 || v < 0 || v > 1e6)
        return -EINVAL;
    *ms = (int64_t)(v * (double)mul);
    return 0;
}

struct out {
    bool csv;
    size_t n;
};

static void print_point(void *ctx, const struct store_point *p)
{
    struct out *o = ctx;

    if (o->csv)
        printf("%.3f,%.17g\n", (double)p->ts_ms / 1000.0, p->value);
    else
        printf("%s[%.3f,%.17g]", o->n ? "," : "", (double)p->ts_ms / 1000.0, p->value);
    o->n++;
}

int cmd_query(int argc, char **argv)
{
    const char *path = NULL, *series = NULL, *from_s = "-1h", *to_s = "now", *step_s = "0";
    const char *agg_s = "avg", *fmt = "json";
    struct store_options o = {
        .raw_days = 36500, .minute_days = 36500, .hour_days = 36500, .read_only = true};
    struct out out = {false, 0};
    struct store *st;
    struct config cfg;
    struct strbuf errs;
    struct timespec now;
    int64_t from, to, step, now_ms;
    char db[4096];
    int agg, tier = 0, rc = 0;
    long n;

    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (cli_config_opt(argc, argv, &i, &path))
            continue;
        if (!strcmp(argv[i], "--from"))
            slot = &from_s;
        else if (!strcmp(argv[i], "--to"))
            slot = &to_s;
        else if (!strcmp(argv[i], "--step"))
            slot = &step_s;
        else if (!strcmp(argv[i], "--agg"))
            slot = &agg_s;
        else if (!strcmp(argv[i], "--format"))
            slot = &fmt;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
            continue;
        }
        if (!slot && argv[i][0] != '-' && !series) {
            series = argv[i];
            continue;
        }
        series = NULL;
        break;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    agg = store_agg_parse(agg_s);
    if (!series || cli_parse_when(from_s, now_ms, &from) < 0 ||
        cli_parse_when(to_s, now_ms, &to) < 0 || parse_step(step_s, &step) < 0 || agg < 0 ||
        (strcmp(fmt, "json") && strcmp(fmt, "csv")) || from > to) {
        fprintf(stderr,
                "usage: arthamon query SERIES [-c FILE] [--from WHEN] [--to WHEN] [--step STEP]\n"
                "                      [--agg avg|min|max|sum|count|last] [--format json|csv]\n"
                "  WHEN: now, -90s, -15m, -2h, -30d or epoch seconds (default -1h .. now)\n"
                "  STEP: 0 (every sample), 30s, 5m, 1h, 1d\n"
                "  SERIES: a name of docs/metrics.md, labels as cpu.core_usage{core=0}\n");
        return 2;
    }
    out.csv = strcmp(fmt, "csv") == 0;
    if (cli_load_config(path, &cfg, NULL) < 0)
        return 2;
    strbuf_init(&errs, 4096);
    config_resolve(&cfg, false, &errs);
    snprintf(db, sizeof(db), "%s/%s", cfg.agent.data_dir, STORE_FILE);
    config_done(&cfg);
    strbuf_reset(&errs);
    if (store_open(&st, db, &o, &errs) < 0) {
        fprintf(stderr, "arthamon: %s", errs.buf ? errs.buf : "cannot open the history\n");
        strbuf_done(&errs);
        return 1;
    }
    strbuf_done(&errs);
    if (out.csv)
        printf("timestamp,%s\n", series);
    else {
        struct strbuf name;
        strbuf_init(&name, 4096);
        strbuf_json_str(&name, series);
        printf("{\"series\":%s,\"agg\":\"%s\",\"points\":[", name.buf ? name.buf : "\"\"", agg_s);
        strbuf_done(&name);
    }
    n = store_query(st, series, from, to, step, (enum store_agg)agg, &tier, print_point, &out);
    if (!out.csv)
        printf("]}\n");
    if (n < 0) {
        fprintf(stderr, "arthamon: %s: %s\n", series,
                n == -ENOENT ? "no such series in the history" : strerror((int)-n));
        rc = 1;
    }
    store_close(st);
    return rc;
}
