#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    struct config cfg;

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
    printf("%s: OK\n", path);
    config_done(&cfg);
    return 0;
}
