/*
 * Daemon logging.
 *
 * One line per message: "2026-11-27T10:13:09.123Z warn  cpu cpu.c:88: message".
 * Sinks: stdout (logging.stdout), a file under logging.output_dir, and an
 * optional hook (tests count warnings through it, an embedding node can route
 * messages into its own logger). All functions are thread-safe.
 *
 * Each source file defines LOG_MODULE before including this header.
 *
 * struct log_once is collectd's "complain" idea reduced to what a tick loop
 * needs: log_once_warn() logs the first failure and stays quiet while the same
 * condition persists; log_once_clear() logs one "recovered" line when it ends.
 */
#ifndef AM_CORE_LOG_H
#define AM_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
    LOG_TRACE = 4,
};

typedef void (*log_hook_fn)(void *userdata, enum log_level level, const char *module,
                            const char *msg);

/* Parses "error", "warn"/"warning", "info", "debug", "trace". */
int log_level_from_string(const char *s, enum log_level *ret_level);
const char *log_level_name(enum log_level level);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_stdout(bool on);
/* Where "stdout" logging goes: stdout by default; commands whose stdout is data
 * (snapshot --json) send it to stderr. */
void log_set_console(FILE *stream);
/* Opens (append) the log file `path`; NULL closes it. -errno if it cannot be opened. */
int log_set_file(const char *path);
/* Replaces the hook; NULL removes it. The hook runs under the log lock: it must not log. */
void log_set_hook(log_hook_fn fn, void *userdata);

void log_msg(enum log_level level, const char *module, const char *file, int line, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));
void log_vmsg(enum log_level level, const char *module, const char *file, int line, const char *fmt,
              va_list ap) __attribute__((format(printf, 5, 0)));

#define log_at(lvl, ...)                                                 \
    do {                                                                 \
        if ((lvl) <= log_get_level())                                    \
            log_msg((lvl), LOG_MODULE, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

struct log_once {
    bool active;
};

#define log_once_warn(once, ...)           \
    do {                                   \
        if (!(once)->active) {             \
            (once)->active = true;         \
            log_at(LOG_WARN, __VA_ARGS__); \
        }                                  \
    } while (0)

#define log_once_clear(once, ...)          \
    do {                                   \
        if ((once)->active) {              \
            (once)->active = false;        \
            log_at(LOG_INFO, __VA_ARGS__); \
        }                                  \
    } while (0)

#endif
