/* arthamon report: the report (docs/report.md) from the history database, read
 * directly and read-only (also while the daemon writes to it). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/parse.h"
#include "serve/report.h"
#include "store/store.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: arthamon report [-c FILE] [--from WHEN] [--to WHEN] [--format md|html]\n"
            "                       [--output FILE]\n"
            "  WHEN: now, -90s, -15m, -2h, -30d or epoch seconds (default -1h .. now)\n");
    return 2;
}

/* Writes the whole of buf to path (created or truncated, mode 0644). 0 or -errno. */
static int write_file(const char *path, const char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;

    if (fd < 0)
        return -errno;
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *path = NULL, *from_s = "-1h", *to_s = "now", *fmt_s = "md", *output = NULL;
    struct store_options o = {
        .raw_days = 36500, .minute_days = 36500, .hour_days = 36500, .read_only = true};
    struct report_source src = {0};
    struct store *st = NULL;
    struct report r;
    struct config cfg;
    struct strbuf errs, out;
    struct timespec now;
    int64_t from, to, now_ms;
    char db[4096];
    int fmt, rc;

    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (cli_config_opt(argc, argv, &i, &path))
            continue;
        if (!strcmp(argv[i], "--from"))
            slot = &from_s;
        else if (!strcmp(argv[i], "--to"))
            slot = &to_s;
        else if (!strcmp(argv[i], "--format"))
            slot = &fmt_s;
        else if (!strcmp(argv[i], "--output") || !strcmp(argv[i], "-o"))
            slot = &output;
        if (!slot || i + 1 >= argc)
            return usage();
        *slot = argv[++i];
    }
    clock_gettime(CLOCK_REALTIME, &now);
    now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    fmt = report_format_parse(fmt_s);
    if (cli_parse_when(from_s, now_ms, &from) < 0 || cli_parse_when(to_s, now_ms, &to) < 0 ||
        fmt < 0 || from > to)
        return usage();
    if (cli_load_config(path, &cfg, NULL) < 0)
        return 2;
    strbuf_init(&errs, 4096);
    config_resolve(&cfg, false, &errs);
    snprintf(db, sizeof(db), "%s/%s", cfg.agent.data_dir, STORE_FILE);
    strbuf_reset(&errs);
    if (access(db, F_OK) != 0) {
        fprintf(stderr,
                "arthamon: %s: no history database (is storage enabled, and has the "
                "daemon run with this configuration?)\n",
                db);
        strbuf_done(&errs);
        config_done(&cfg);
        return 1;
    }
    if (store_open(&st, db, &o, &errs) < 0) {
        fprintf(stderr, "arthamon: %s", errs.buf ? errs.buf : "cannot open the history\n");
        strbuf_done(&errs);
        config_done(&cfg);
        return 1;
    }
    strbuf_done(&errs);
    src.store = st;
    src.db_path = db;
    src.node_id = cfg.agent.node_id;
    report_init(&r, cfg.agent.node_id, from, to, now_ms);
    strbuf_init(&out, STRBUF_DEFAULT_MAX);
    rc = report_build(&r, &src);
    if (rc == 0)
        rc = fmt == REPORT_HTML ? report_render_html(&r, &out) : report_render_markdown(&r, &out);
    report_done(&r);
    store_close(st);
    config_done(&cfg);
    if (rc < 0) {
        fprintf(stderr, "arthamon: the report could not be made: %s\n",
                rc == -ENOSPC ? "too large" : strerror(-rc));
        strbuf_done(&out);
        return 1;
    }
    if (output) {
        rc = write_file(output, out.buf ? out.buf : "", out.len);
        if (rc < 0)
            fprintf(stderr, "arthamon: %s: %s\n", output, strerror(-rc));
    } else if (fwrite(out.buf ? out.buf : "", 1, out.len, stdout) != out.len ||
               fflush(stdout) != 0) {
        fprintf(stderr, "arthamon: cannot write the report: %s\n", strerror(errno));
        rc = -EIO;
    }
    strbuf_done(&out);
    return rc < 0 ? 1 : 0;
}
