#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/parse.h"

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

int cli_parse_when(const char *s, int64_t now_ms, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    char num[32];
    size_t n = strlen(s);
    double v;

    if (strcmp(s, "now") == 0) {
        *ms = now_ms;
        return 0;
    }
    if (s[0] == '-' && n >= 3 && n < sizeof(num)) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (s[n - 1] != units[i].unit)
                continue;
            memcpy(num, s + 1, n - 2);
            num[n - 2] = '\0';
            if (parse_double(num, &v) < 0 || v < 0 || v > 1e6)
                return -EINVAL;
            *ms = now_ms - (int64_t)(v * (double)units[i].ms);
            return 0;
        }
        return -EINVAL;
    }
    if (parse_double(s, &v) < 0 || v < 0 || v > 1e11)
        return -EINVAL;
    *ms = (int64_t)(v * 1000);
    return 0;
}
