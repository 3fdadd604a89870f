#define LOG_MODULE "snapshot"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/parse.h"
#include "core/sampler.h"
#include "serve/summary.h"

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cmd_snapshot(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    uint64_t interval = 0;
    struct config cfg;
    struct strbuf errs, out;
    struct sampler s;
    struct snapshot *snap;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (cli_config_opt(argc, argv, &i, &path))
            continue;
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
            if (parse_u64(argv[++i], &interval) < 0 || interval < 10 || interval > 3600000) {
                fprintf(stderr, "arthamon snapshot: --interval takes 10..3600000 ms\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: arthamon snapshot [-c FILE] [--json] [--interval MS]\n");
            return 2;
        }
    }
    if (cli_load_config(path, &cfg, NULL) < 0)
        return 1;
    strbuf_init(&errs, 1 << 16);
    config_resolve(&cfg, false, &errs);
    strbuf_done(&errs);
    log_set_console(stderr);
    log_set_level(cfg.monitoring.logging.level);
    if (!interval)
        interval = cfg.monitoring.sampling_interval_ms;

    if (sampler_init(&s, &cfg) < 0) {
        fprintf(stderr, "arthamon snapshot: out of memory\n");
        config_done(&cfg);
        return 1;
    }
    snapshot_unref(sampler_tick(&s)); /* baseline for the rates */
    sleep_ms(interval);
    snap = sampler_tick(&s);
    if (!snap) {
        fprintf(stderr, "arthamon snapshot: out of memory\n");
        rc = 1;
    } else if (json) {
        strbuf_init(&out, 0);
        if (snapshot_to_json(snap, &out) == 0) {
            fputs(out.buf, stdout);
            fputc('\n', stdout);
        } else {
            rc = 1;
        }
        strbuf_done(&out);
    } else {
        summary_print_full(stdout, snap);
    }
    snapshot_unref(snap);
    sampler_done(&s);
    config_done(&cfg);
    return rc;
}
