#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

bool cli_config_opt(int argc, char **argv, int *i, const char **ret_path)
{
    const char *a = argv[*i];

    if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && *i + 1 < argc) {
        *ret_path = argv[++*i];
        return true;
    }
    if (!strncmp(a, "--config=", 9)) {
        *ret_path = a + 9;
        return true;
    }
    return false;
}

int cli_load_config(const char *path, struct config *cfg, const char **ret_path)
{
    struct strbuf errs;
    int r = 0;

    config_defaults(cfg);
    if (!path && access(DEFAULT_CONFIG_PATH, F_OK) == 0)
        path = DEFAULT_CONFIG_PATH;
    if (path) {
        strbuf_init(&errs, 1 << 20);
        r = config_load_file(cfg, path, &errs);
        if (r < 0) {
            fputs(errs.buf ? errs.buf : "configuration error\n", stderr);
            config_done(cfg);
        }
        strbuf_done(&errs);
    }
    if (ret_path)
        *ret_path = path;
    return r;
}
