/* The console channel: one line per notification on stderr, coloured by
 * severity when stderr is a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "alert/alert.h"

static bool console_configured(const struct config *cfg)
{
    return cfg->alerts.console;
}

static int console_open(const struct config *cfg, void **state, struct strbuf *err)
{
    (void)cfg;
    (void)err;
    *state = NULL;
    return 0;
}

static int console_send(void *state, const struct notification *n, struct strbuf *err)
{
    static const char *const colours[] = {"",         "\033[36m", "\033[34m",
                                          "\033[33m", "\033[35m", "\033[1;31m"};
    bool tty = isatty(STDERR_FILENO);
    struct strbuf line;
    char t[32];

    (void)state;
    strbuf_init(&line, 1 << 16);
    alert_time_iso(n->created_ms, t);
    strbuf_printf(&line, "%s %s", t, tty ? colours[n->severity <= 5 ? n->severity : 5] : "");
    alert_render_subject(n, &line);
    strbuf_printf(&line, "%s: %s [%s]\n", tty ? "\033[0m" : "",
                  n->description ? n->description : "", n->key);
    if (line.overflow || fputs(line.buf, stderr) == EOF || fflush(stderr) == EOF) {
        strbuf_puts(err, "console: cannot write to stderr");
        strbuf_done(&line);
        return ALERT_RETRY;
    }
    strbuf_done(&line);
    return 0;
}

static void console_close(void *state)
{
    (void)state;
}

const struct alert_channel_ops alert_console = {
    .name = "console",
    .configured = console_configured,
    .open = console_open,
    .send = console_send,
    .close = console_close,
};
