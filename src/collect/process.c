/*
 * The monitored node process: CPU (percent of one core, as top and pidstat),
 * resident and virtual size, all from /proc/PID/stat. The process is found by
 * agent.process.pid, .pidfile or .name; with none configured, arthamon watches
 * itself. When the process exits the file reports ESRCH and the process is
 * looked up again (at most every RESOLVE_EVERY_NS), so a restarted node is
 * picked up without restarting the agent.
 */
#define LOG_MODULE "process"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "common/parse.h"
#include "common/procfile.h"
#include "procparse.h"

#define RESOLVE_EVERY_NS (5ull * 1000000000ull)
#define USER_HZ          100.0

enum target { T_SELF, T_PID, T_PIDFILE, T_NAME };

struct process_state {
    char *procfs_root;
    enum target target;
    int64_t pid_cfg;
    char *pidfile;
    char *name;
    long page_size;

    struct procfile *stat;
    int64_t pid; /* 0: none found */
    uint64_t prev_ticks;
    bool have_prev;
    uint64_t next_resolve_ns;

    struct log_once not_found, bad_stat, went_back;
};

static int read_pidfile(const char *path, int64_t *ret_pid)
{
    char buf[64];
    long n = read_file_once(path[0] == '/' ? "/" : ".", path, buf, sizeof(buf));

    if (n <= 0)
        return n < 0 ? (int)n : -EINVAL;
    return pp_single_i64(buf, (size_t)n, ret_pid) == 0 && *ret_pid > 0 ? 0 : -EINVAL;
}

static bool name_matches(const struct process_state *st, const char *pidstr)
{
    char rel[300], buf[4096];
    long n;
    const char *base;

    snprintf(rel, sizeof(rel), "%s/comm", pidstr);
    n = read_file_once(st->procfs_root, rel, buf, sizeof(buf));
    if (n <= 0)
        return false;
    if (buf[n - 1] == '\n')
        buf[--n] = '\0';
    /* comm holds at most 15 bytes of the name */
    if (strncmp(buf, st->name, 15) != 0 || (strlen(st->name) <= 15 && strcmp(buf, st->name)))
        return false;
    if (strlen(st->name) <= 15)
        return true;
    snprintf(rel, sizeof(rel), "%s/cmdline", pidstr);
    n = read_file_once(st->procfs_root, rel, buf, sizeof(buf));
    if (n <= 0)
        return false;
    base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    return strcmp(base, st->name) == 0;
}

/* The oldest process whose name matches: the node, not its children. */
static int64_t find_by_name(struct process_state *st)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    int64_t best = 0;
    uint64_t best_start = UINT64_MAX;

    if (path_join(path, sizeof(path), st->procfs_root, "") < 0 || !(d = opendir(path)))
        return 0;
    while ((e = readdir(d))) {
        char rel[300], buf[1024];
        struct pid_stat ps;
        int64_t pid;
        ssize_t n;

        if (!isdigit((unsigned char)e->d_name[0]) || parse_i64(e->d_name, &pid) < 0)
            continue;
        if (!name_matches(st, e->d_name))
            continue;
        snprintf(rel, sizeof(rel), "%s/stat", e->d_name);
        n = read_file_once(st->procfs_root, rel, buf, sizeof(buf));
        if (n <= 0 || pp_pid_stat(buf, (size_t)n, &ps) < 0)
            continue;
        if (ps.starttime < best_start || (ps.starttime == best_start && pid < best)) {
            best = pid;
            best_start = ps.starttime;
        }
    }
    closedir(d);
    return best;
}

static void resolve(struct process_state *st, uint64_t now_ns)
{
    int64_t pid = 0;
    char rel[64];

    if (st->next_resolve_ns && now_ns < st->next_resolve_ns)
        return;
    st->next_resolve_ns = now_ns + RESOLVE_EVERY_NS;
    switch (st->target) {
    case T_SELF:
        if (procfile_open(st->procfs_root, "self/stat", &st->stat) == 0)
            st->pid = getpid();
        return;
    case T_PID:
        pid = st->pid_cfg;
        break;
    case T_PIDFILE:
        if (read_pidfile(st->pidfile, &pid) < 0)
            pid = 0;
        break;
    case T_NAME:
        pid = find_by_name(st);
        break;
    }
    if (pid <= 0)
        return;
    snprintf(rel, sizeof(rel), "%lld/stat", (long long)pid);
    if (procfile_open(st->procfs_root, rel, &st->stat) == 0) {
        st->pid = pid;
        log_info("monitoring process %lld", (long long)pid);
    }
}

static void process_fini(void *state)
{
    struct process_state *st = state;

    if (!st)
        return;
    procfile_free(st->stat);
    free(st->procfs_root);
    free(st->pidfile);
    free(st->name);
    free(st);
}

static int process_init(const struct coll_env *env, void **ret_state)
{
    const struct config *cfg = env->cfg;
    struct process_state *st = calloc(1, sizeof(*st));

    if (!st)
        return -ENOMEM;
    st->procfs_root = strdup(env->procfs_root);
    if (!st->procfs_root)
        goto oom;
    st->page_size = sysconf(_SC_PAGESIZE);
    if (st->page_size <= 0)
        st->page_size = 4096;
    if (cfg->agent.process.pid > 0) {
        st->target = T_PID;
        st->pid_cfg = cfg->agent.process.pid;
    } else if (cfg->agent.process.pidfile) {
        st->target = T_PIDFILE;
        if (!(st->pidfile = strdup(cfg->agent.process.pidfile)))
            goto oom;
    } else if (cfg->agent.process.name) {
        st->target = T_NAME;
        if (!(st->name = strdup(cfg->agent.process.name)))
            goto oom;
    } else {
        st->target = T_SELF;
    }
    *ret_state = st;
    return 0;
oom:
    process_fini(st);
    return -ENOMEM;
}

static const char *target_desc(const struct process_state *st, char *buf, size_t len)
{
    switch (st->target) {
    case T_PID:
        snprintf(buf, len, "pid %lld", (long long)st->pid_cfg);
        break;
    case T_PIDFILE:
        snprintf(buf, len, "pidfile %s", st->pidfile);
        break;
    case T_NAME:
        snprintf(buf, len, "name '%s'", st->name);
        break;
    default:
        snprintf(buf, len, "arthamon itself");
        break;
    }
    return buf;
}

static int process_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct process_state *st = state;
    struct pid_stat ps;
    char desc[4200];
    long n;

    if (!st->stat)
        resolve(st, tick->mono_ns);
    if (!st->stat) {
        log_once_warn(&st->not_found,
                      "monitored process (%s) not found; process figures are "
                      "null until it appears",
                      target_desc(st, desc, sizeof(desc)));
        return 0;
    }
    n = procfile_read(st->stat);
    if (n <= 0) {
        /* gone (ESRCH): look for its successor now, measure from the next tick */
        log_info("process %lld is gone (%s)", (long long)st->pid,
                 n < 0 ? strerror((int)-n) : "empty stat");
        procfile_free(st->stat);
        st->stat = NULL;
        st->pid = 0;
        st->have_prev = false;
        st->next_resolve_ns = 0;
        resolve(st, tick->mono_ns);
        return 0;
    }
    if (pp_pid_stat(st->stat->buf, st->stat->len, &ps) < 0) {
        log_once_warn(&st->bad_stat, "%s malformed; process figures are null", st->stat->path);
        st->have_prev = false;
        return -EINVAL;
    }
    log_once_clear(&st->bad_stat, "%s well-formed again", st->stat->path);
    log_once_clear(&st->not_found, "monitored process found: pid %lld", (long long)st->pid);

    snap->cpu.process_seconds_total = (double)(ps.utime + ps.stime) / USER_HZ;
    snap->memory.process_rss_mb = (double)ps.rss * (double)st->page_size / 1048576.0;
    snap->memory.process_virtual_mb = (double)ps.vsize / 1048576.0;
    if (st->have_prev && tick->dt_sec > 0) {
        if (ps.utime + ps.stime >= st->prev_ticks) {
            snap->cpu.process_usage =
                100.0 * (double)(ps.utime + ps.stime - st->prev_ticks) / USER_HZ / tick->dt_sec;
            log_once_clear(&st->went_back, "process CPU time consistent again");
        } else {
            log_once_warn(&st->went_back,
                          "CPU time of process %lld went backwards; "
                          "process_usage is null for this tick",
                          (long long)st->pid);
        }
    }
    st->prev_ticks = ps.utime + ps.stime;
    st->have_prev = true;
    return 0;
}

const struct collector_ops coll_process = {
    .name = "process",
    .init = process_init,
    .collect = process_collect,
    .fini = process_fini,
};
