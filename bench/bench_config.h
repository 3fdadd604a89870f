/* The configuration a benchmark runs with: FILE when given (-c), else the
 * benchmark's own defaults; resolved as the daemon would, without creating
 * directories. Problems go to stderr. 0 or -1. */
#ifndef AM_BENCH_CONFIG_H
#define AM_BENCH_CONFIG_H

#include <stdio.h>
#include <string.h>

#include "core/config.h"

static inline int bench_load_config(struct config *cfg, const char *path, const char *dflt_yaml)
{
    struct strbuf errs;
    int r;

    config_defaults(cfg);
    strbuf_init(&errs, 1 << 16);
    r = path ? config_load_file(cfg, path, &errs)
             : config_load_buffer(cfg, "<bench>", dflt_yaml, strlen(dflt_yaml), &errs);
    if (r < 0 || config_resolve(cfg, false, &errs) < 0) {
        fputs(errs.buf ? errs.buf : "config error\n", stderr);
        strbuf_done(&errs);
        return -1;
    }
    strbuf_done(&errs);
    return 0;
}

#endif
