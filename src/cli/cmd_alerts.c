/* `arthamon alerts test [-c FILE] [--channel NAME]`: one test notification
 * through each configured channel (or the one named), with each result. */
#include <stdio.h>
#include <string.h>

#include "alert/dispatch.h"
#include "cli.h"
#include "core/log.h"

#define ALERTS_USAGE                                                                         \
    "usage: arthamon alerts test [-c FILE] [--channel console|logfile|webhook|alertmanager|" \
    "email]\n"

int cmd_alerts(int argc, char **argv)
{
    const char *path = NULL, *channel = NULL;
    struct config cfg;
    struct strbuf errs;
    int r;

    if (argc < 2 || strcmp(argv[1], "test") != 0) {
        fputs(ALERTS_USAGE, stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (cli_config_opt(argc, argv, &i, &path))
            continue;
        if (i + 1 < argc && !strcmp(argv[i], "--channel")) {
            channel = argv[++i];
            continue;
        }
        if (!strncmp(argv[i], "--channel=", 10)) {
            channel = argv[i] + 10;
            continue;
        }
        fputs(ALERTS_USAGE, stderr);
        return 2;
    }
    if (cli_load_config(path, &cfg, NULL) < 0)
        return 1;
    strbuf_init(&errs, 1 << 16);
    r = config_resolve(&cfg, false, &errs);
    if (r < 0) {
        fputs(errs.buf ? errs.buf : "arthamon: the configuration cannot be used\n", stderr);
        strbuf_done(&errs);
        config_done(&cfg);
        return 1;
    }
    strbuf_done(&errs);
    /* the messages of the channels (a libcurl that cannot load) go to stderr */
    log_set_console(stderr);
    r = alert_send_test(&cfg, channel, stdout);
    config_done(&cfg);
    if (r < 0) {
        fprintf(stderr, "arthamon: unknown channel '%s'\n" ALERTS_USAGE, channel);
        return 2;
    }
    return r == 0 ? 0 : 1;
}
