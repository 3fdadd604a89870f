#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int cur_level = LOG_INFO;
static bool to_stdout = true;
static FILE *console;
static FILE *log_file;
static log_hook_fn hook;
static void *hook_data;

int log_level_from_string(const char *s, enum log_level *ret_level)
{
    if (!s)
        return -EINVAL;
    for (int i = 0; i <= LOG_TRACE; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *ret_level = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *ret_level = LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    if ((int)level < 0 || level > LOG_TRACE)
        return "?";
    return level_names[level];
}

void log_set_level(enum log_level level)
{
    atomic_store(&cur_level, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&cur_level, memory_order_relaxed);
}

void log_set_console(FILE *stream)
{
    pthread_mutex_lock(&log_lock);
    console = stream;
    pthread_mutex_unlock(&log_lock);
}

void log_set_stdout(bool on)
{
    pthread_mutex_lock(&log_lock);
    to_stdout = on;
    pthread_mutex_unlock(&log_lock);
}

int log_set_file(const char *path)
{
    FILE *f = NULL;

    if (path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -errno;
        f = fdopen(fd, "a");
        if (!f) {
            int e = errno;
            close(fd);
            return -e;
        }
        setvbuf(f, NULL, _IOLBF, 0);
    }
    pthread_mutex_lock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = f;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

void log_set_hook(log_hook_fn fn, void *userdata)
{
    pthread_mutex_lock(&log_lock);
    hook = fn;
    hook_data = userdata;
    pthread_mutex_unlock(&log_lock);
}

void log_vmsg(enum log_level level, const char *module, const char *file, int line, const char *fmt,
              va_list ap)
{
    char msg[1024];
    char stamp[80];
    struct timespec ts;
    struct tm tm;
    const char *base = strrchr(file, '/');

    base = base ? base + 1 : file;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    pthread_mutex_lock(&log_lock);
    if (to_stdout) {
        FILE *out = console ? console : stdout;
        fprintf(out, "%s %-5s %s %s:%d: %s\n", stamp, log_level_name(level), module, base, line,
                msg);
        fflush(out);
    }
    if (log_file)
        fprintf(log_file, "%s %-5s %s %s:%d: %s\n", stamp, log_level_name(level), module, base,
                line, msg);
    if (hook)
        hook(hook_data, level, module, msg);
    pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *module, const char *file, int line, const char *fmt,
             ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, module, file, line, fmt, ap);
    va_end(ap);
}
