/*
 * The arthamon command: one file per subcommand, listed in main.c's table.
 * Each command gets argv starting at its own name and returns the exit status.
 */
#ifndef AM_CLI_CLI_H
#define AM_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct cli_command {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_run(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_anomalies(int argc, char **argv);
int cmd_hash_password(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_alerts(int argc, char **argv);

#define DEFAULT_CONFIG_PATH "/etc/arthamon/arthamon.yaml"

/*
 * Loads the configuration for a command: `path`, or DEFAULT_CONFIG_PATH when it
 * exists, or the built-in defaults. Problems are printed to stderr as
 * FILE:LINE:COL lines. Returns 0, or -errno (cfg released).
 * *ret_path (may be NULL) receives the file actually used, or NULL for defaults.
 */
int cli_load_config(const char *path, struct config *cfg, const char **ret_path);

/* A moment on the command line (query, report): "now", "-90s", "-15m", "-2h",
 * "-30d", or epoch seconds; into *ms (epoch milliseconds). 0 or -EINVAL. */
int cli_parse_when(const char *s, int64_t now_ms, int64_t *ms);

/* Parses "-c FILE" / "--config FILE" / "--config=FILE" at argv[*i]; true if consumed. */
bool cli_config_opt(int argc, char **argv, int *i, const char **ret_path);

#endif
