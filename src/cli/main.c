#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arthamon/arthamon.h"
#include "cli.h"

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("arthamon %s\n", am_version());
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cli_command commands[] = {
    {"run", "[-c FILE]", "run the monitor in the foreground (SIGHUP reloads, SIGTERM stops)",
     cmd_run},
    {"snapshot", "[-c FILE] [--json] [--interval MS]",
     "sample twice one interval apart and print one snapshot", cmd_snapshot},
    {"check-config", "FILE", "check a configuration file; FILE:LINE:COL for each problem",
     cmd_check_config},
    {"status", "[-c FILE] [--url URL] [--json]",
     "ask the running daemon how it is and print its latest snapshot", cmd_status},
    {"anomalies", "[-c FILE] [--limit N] [--min-severity S]",
     "list the running daemon's recent anomalies", cmd_anomalies},
    {"query", "SERIES [--from W] [--to W] [--step S] [--agg A]",
     "one series from the history database (also while the daemon runs)", cmd_query},
    {"report", "[-c FILE] [--from W] [--to W] [--format md|html] [--output FILE]",
     "the report (also while the daemon runs)", cmd_report},
    {"detect", "[--input FILE] [--output FILE]",
     "score a timestamp,value CSV with the anomaly detector (offline)", cmd_detect},
    {"alerts", "test [-c FILE] [--channel NAME]",
     "send a test notification through the configured alert channels", cmd_alerts},
    {"hash-password", "", "read a password, print a salted hash for http.auth", cmd_hash_password},
    {"version", "", "print the version", cmd_version},
    {"help", "", "this text", cmd_help},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: arthamon COMMAND [OPTIONS]\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        printf("  %-13s %-36s %s\n", commands[i].name, commands[i].args, commands[i].summary);
    printf("\nWithout -c, %s is used when it exists, else the built-in defaults.\n",
           DEFAULT_CONFIG_PATH);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name;

    if (argc < 2) {
        cmd_help(argc, argv);
        return 2;
    }
    name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "-V"))
        name = "version";
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        name = "help";
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "arthamon: unknown command '%s' (try 'arthamon help')\n", name);
    return 2;
}
