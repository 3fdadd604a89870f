/* The log-file channel: each notification as one JSON line (the webhook's
 * document) in <logging.output_dir>/alerts.jsonl, written and synced before it
 * counts as delivered; past alerts.log_max_bytes the file is rotated
 * (alerts.jsonl.1 ... .<log_keep>, the oldest dropped). */
#define LOG_MODULE "alert"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/alert.h"
#include "core/log.h"

#define LOGFILE_NAME "alerts.jsonl"

struct logfile {
    char path[4096];
    uint64_t max_bytes;
    uint32_t keep;
    int fd;
    bool torn;          /* a write stopped mid-line: the next line starts on a new one */
    bool rotate_warned; /* a failed rotation was logged (once until one works) */
};

static bool logfile_configured(const struct config *cfg)
{
    return cfg->alerts.log_file && cfg->monitoring.logging.output_dir;
}

static int logfile_open(const struct config *cfg, void **state, struct strbuf *err)
{
    struct logfile *lf = calloc(1, sizeof(*lf));

    if (!lf)
        return -ENOMEM;
    if (snprintf(lf->path, sizeof(lf->path), "%s/%s", cfg->monitoring.logging.output_dir,
                 LOGFILE_NAME) >= (int)sizeof(lf->path)) {
        strbuf_puts(err, "logfile: logging.output_dir is too long");
        free(lf);
        return -ENAMETOOLONG;
    }
    lf->max_bytes = cfg->alerts.log_max_bytes;
    lf->keep = cfg->alerts.log_keep;
    lf->fd = -1;
    *state = lf;
    return 0;
}

static int reopen(struct logfile *lf, struct strbuf *err)
{
    if (lf->fd >= 0)
        return 0;
    /* read and write: its last byte is read below */
    lf->fd = open(lf->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (lf->fd < 0) {
        strbuf_printf(err, "logfile: cannot open %s: %s", lf->path, strerror(errno));
        return ALERT_RETRY;
    }
    /* a line cut short before a crash or a restart: the next one starts on a line of its own */
    {
        struct stat st;
        char last;

        if (!lf->torn && fstat(lf->fd, &st) == 0 && st.st_size > 0 &&
            pread(lf->fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
            lf->torn = true;
    }
    return 0;
}

/* alerts.jsonl -> .1 -> .2 ... -> .keep (the oldest goes) */
static void rotate(struct logfile *lf)
{
    char from[4200], to[4200];

    close(lf->fd);
    lf->fd = -1;
    for (uint32_t i = lf->keep; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof(from), "%s", lf->path);
        else
            snprintf(from, sizeof(from), "%s.%u", lf->path, i - 1);
        snprintf(to, sizeof(to), "%s.%u", lf->path, i);
        if (rename(from, to) < 0 && errno != ENOENT) {
            /* the file goes on growing past log_max_bytes rather than lose a line */
            if (!lf->rotate_warned)
                log_warn("logfile: cannot rotate %s to %s: %s; it grows past alerts.log_max_bytes "
                         "until it can",
                         from, to, strerror(errno));
            lf->rotate_warned = true;
            return;
        }
    }
    if (lf->rotate_warned)
        log_info("logfile: %s rotates again", lf->path);
    lf->rotate_warned = false;
}

static int logfile_send(void *state, const struct notification *n, struct strbuf *err)
{
    struct logfile *lf = state;
    struct strbuf line;
    struct stat st;
    size_t off = 0;
    int r;

    if ((r = reopen(lf, err)) < 0)
        return r;
    strbuf_init(&line, (size_t)1 << 22);
    if (lf->torn)
        strbuf_putc(&line, '\n');
    alert_render_json(n, &line);
    strbuf_putc(&line, '\n');
    if (line.overflow) {
        strbuf_puts(err, "logfile: the notification is too large");
        strbuf_done(&line);
        return ALERT_PERMANENT;
    }
    if (fstat(lf->fd, &st) == 0 && st.st_size > 0 &&
        (uint64_t)st.st_size + line.len > lf->max_bytes) {
        rotate(lf);
        if ((r = reopen(lf, err)) < 0) {
            strbuf_done(&line);
            return r;
        }
    }
    while (off < line.len) {
        ssize_t w = write(lf->fd, line.buf + off, line.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            strbuf_printf(err, "logfile: cannot write %s: %s", lf->path,
                          w < 0 ? strerror(errno) : "short write");
            lf->torn = lf->torn || off > 0;
            close(lf->fd);
            lf->fd = -1;
            strbuf_done(&line);
            return ALERT_RETRY;
        }
        off += (size_t)w;
    }
    lf->torn = false;
    strbuf_done(&line);
    if (fdatasync(lf->fd) < 0) {
        strbuf_printf(err, "logfile: cannot sync %s: %s", lf->path, strerror(errno));
        return ALERT_RETRY;
    }
    return 0;
}

static void logfile_close(void *state)
{
    struct logfile *lf = state;

    if (!lf)
        return;
    if (lf->fd >= 0)
        close(lf->fd);
    free(lf);
}

const struct alert_channel_ops alert_logfile = {
    .name = "logfile",
    .configured = logfile_configured,
    .open = logfile_open,
    .send = logfile_send,
    .close = logfile_close,
};
