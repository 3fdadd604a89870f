#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    struct config cfg;
    struct strbuf errs;

    for (int i = 1; i < argc; i++) {
        if (!cli_config_opt(argc, argv, &i, &path)) {
            if (argv[i][0] == '-' || path) {
                fprintf(stderr, "usage: arthamon check-config FILE\n");
                return 2;
            }
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "usage: arthamon check-config FILE\n");
        return 2;
    }
    if (cli_load_config(path, &cfg, NULL) < 0)
        return 1;
    /* the checks across keys (TLS files in pairs, usable tokens); no directory is made */
    strbuf_init(&errs, 1 << 16);
    if (config_resolve(&cfg, false, &errs) < 0) {
        fprintf(stderr, "%s: %s", path, errs.buf ? errs.buf : "invalid\n");
        strbuf_done(&errs);
        config_done(&cfg);
        return 1;
    }
    strbuf_done(&errs);
    printf("%s: OK\n", path);
    config_done(&cfg);
    return 0;
}
