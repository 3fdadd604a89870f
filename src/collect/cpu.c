/*
 * CPU: total and per-core usage from /proc/stat, frequency from cpufreq
 * (/proc/cpuinfo when the host has no cpufreq), temperature from hwmon or the
 * thermal zones. Usage is busy jiffies (user nice system irq softirq steal) over
 * all jiffies (busy + idle + iowait) in the interval, as sar and top compute it.
 */
#define LOG_MODULE "cpu"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "common/procfile.h"
#include "procparse.h"

#define MAX_TEMP_SENSORS 8
#define USER_HZ          100.0

/*
 * /proc/cpuinfo is the costliest file of a tick (the kernel formats every flag of
 * every CPU: ~30 us here) and, without cpufreq, its "cpu MHz" is usually the fixed
 * nominal frequency. After CPUINFO_STEADY identical readings it is re-read every
 * CPUINFO_SLOW_NS only; any change puts it back on every tick.
 */
#define CPUINFO_STEADY  10
#define CPUINFO_SLOW_NS (60ull * 1000000000ull)

struct cpu_state {
    struct procfile *stat;
    struct procfile *cpuinfo; /* frequency fallback */
    double cpuinfo_mhz;       /* the last reading, while it holds */
    unsigned cpuinfo_same;    /* consecutive identical readings */
    uint64_t cpuinfo_next_ns; /* when steady: the next reading */
    struct procfile **freq;   /* cpufreq scaling_cur_freq, one per CPU that has it */
    unsigned nfreq;
    struct procfile *temp[MAX_TEMP_SENSORS];
    unsigned ntemp;

    unsigned cap; /* capacity of the per-core arrays */
    struct cpu_times *cur, *prev;
    bool *online, *prev_online;
    unsigned n_seen; /* one past the highest CPU number ever seen */
    struct cpu_times total_prev;
    bool have_prev;

    struct log_once stat_fail, went_back, no_freq, no_temp, bad_temp;
};

static int grow(struct cpu_state *st, unsigned want)
{
    unsigned cap = st->cap ? st->cap : 64;
    struct cpu_times *c, *p;
    bool *o, *po;

    while (cap < want)
        cap *= 2;
    if (cap > PP_MAX_CPUS)
        cap = PP_MAX_CPUS;
    c = realloc(st->cur, cap * sizeof(*c));
    if (c)
        st->cur = c;
    p = realloc(st->prev, cap * sizeof(*p));
    if (p)
        st->prev = p;
    o = realloc(st->online, cap * sizeof(*o));
    if (o)
        st->online = o;
    po = realloc(st->prev_online, cap * sizeof(*po));
    if (po)
        st->prev_online = po;
    if (!c || !p || !o || !po)
        return -ENOMEM;
    for (unsigned i = st->cap; i < cap; i++)
        st->prev_online[i] = st->online[i] = false;
    st->cap = cap;
    return 0;
}

/* A one-line sysfs attribute such as hwmon's "name", without its newline. */
static bool read_small(const char *root, const char *rel, char *out, size_t outlen)
{
    long n = read_file_once(root, rel, out, outlen);

    if (n <= 0)
        return false;
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return true;
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return true;
    return false;
}

/* hwmon chips and thermal zones that measure the CPU package, best first */
static void find_temp_sensors(struct cpu_state *st, const char *sysfs)
{
    static const char *const hwmon_names[] = {"coretemp",    "k10temp",     "zenpower",
                                              "cpu_thermal", "soc_thermal", NULL};
    static const char *const zone_types[] = {"x86_pkg_temp", "cpu-thermal",  "cpu_thermal",
                                             "soc_thermal",  "cpu0-thermal", NULL};
    char dirpath[4096], rel[512], name[64];
    DIR *d;
    struct dirent *e;

    if (path_join(dirpath, sizeof(dirpath), sysfs, "class/hwmon") == 0 && (d = opendir(dirpath))) {
        while ((e = readdir(d)) && st->ntemp < MAX_TEMP_SENSORS) {
            if (strncmp(e->d_name, "hwmon", 5) != 0)
                continue;
            snprintf(rel, sizeof(rel), "class/hwmon/%s/name", e->d_name);
            if (!read_small(sysfs, rel, name, sizeof(name)) || !name_in(name, hwmon_names))
                continue;
            snprintf(rel, sizeof(rel), "class/hwmon/%s/temp1_input", e->d_name);
            if (procfile_open(sysfs, rel, &st->temp[st->ntemp]) == 0)
                st->ntemp++;
        }
        closedir(d);
    }
    if (st->ntemp)
        return;
    if (path_join(dirpath, sizeof(dirpath), sysfs, "class/thermal") == 0 &&
        (d = opendir(dirpath))) {
        while ((e = readdir(d)) && st->ntemp < MAX_TEMP_SENSORS) {
            if (strncmp(e->d_name, "thermal_zone", 12) != 0)
                continue;
            snprintf(rel, sizeof(rel), "class/thermal/%s/type", e->d_name);
            if (!read_small(sysfs, rel, name, sizeof(name)) || !name_in(name, zone_types))
                continue;
            snprintf(rel, sizeof(rel), "class/thermal/%s/temp", e->d_name);
            if (procfile_open(sysfs, rel, &st->temp[st->ntemp]) == 0)
                st->ntemp++;
        }
        closedir(d);
    }
}

static void cpu_fini(void *state)
{
    struct cpu_state *st = state;

    if (!st)
        return;
    procfile_free(st->stat);
    procfile_free(st->cpuinfo);
    for (unsigned i = 0; i < st->nfreq; i++)
        procfile_free(st->freq[i]);
    free(st->freq);
    for (unsigned i = 0; i < st->ntemp; i++)
        procfile_free(st->temp[i]);
    free(st->cur);
    free(st->prev);
    free(st->online);
    free(st->prev_online);
    free(st);
}

static int cpu_init(const struct coll_env *env, void **ret_state)
{
    struct cpu_state *st = calloc(1, sizeof(*st));
    struct cpu_times total;
    unsigned max_id = 0;
    int r;

    if (!st)
        return -ENOMEM;
    r = procfile_open(env->procfs_root, "stat", &st->stat);
    if (r < 0)
        goto fail;
    r = grow(st, 64);
    if (r < 0)
        goto fail;
    if (procfile_read(st->stat) > 0 &&
        pp_stat(st->stat->buf, st->stat->len, &total, st->cur, st->online, st->cap, &max_id) == 0 &&
        max_id > st->cap && grow(st, max_id) < 0) {
        r = -ENOMEM;
        goto fail;
    }
    /* cpufreq for every CPU that has it */
    if (max_id) {
        st->freq = calloc(max_id, sizeof(*st->freq));
        if (!st->freq) {
            r = -ENOMEM;
            goto fail;
        }
        for (unsigned i = 0; i < max_id; i++) {
            char rel[128];
            snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%u/cpufreq/scaling_cur_freq", i);
            if (procfile_open(env->sysfs_root, rel, &st->freq[st->nfreq]) == 0)
                st->nfreq++;
        }
    }
    if (!st->nfreq && procfile_open(env->procfs_root, "cpuinfo", &st->cpuinfo) < 0)
        st->cpuinfo = NULL;
    find_temp_sensors(st, env->sysfs_root);
    *ret_state = st;
    return 0;
fail:
    cpu_fini(st);
    return r;
}

static double usage_between(const struct cpu_times *prev, const struct cpu_times *cur,
                            bool *ret_went_back)
{
    uint64_t busy = 0, total = 0;

    *ret_went_back = false;
    for (unsigned f = 0; f <= CPU_STEAL; f++) {
        uint64_t d;
        if (cur->v[f] < prev->v[f]) {
            /* iowait may decrease (proc(5)); other fields only on a reset */
            if (f != CPU_IOWAIT)
                *ret_went_back = true;
            d = 0;
        } else {
            d = cur->v[f] - prev->v[f];
        }
        total += d;
        if (f != CPU_IDLE && f != CPU_IOWAIT)
            busy += d;
    }
    if (*ret_went_back || total == 0)
        return ABSENT;
    return 100.0 * (double)busy / (double)total;
}

/* Mean "cpu MHz" of /proc/cpuinfo, re-read as the comment on CPUINFO_STEADY says. */
static bool cpuinfo_mhz(struct cpu_state *st, uint64_t now_ns, double *ret_mhz)
{
    double sum;
    unsigned n;

    if (st->cpuinfo_same >= CPUINFO_STEADY && now_ns < st->cpuinfo_next_ns) {
        *ret_mhz = st->cpuinfo_mhz;
        return true;
    }
    if (procfile_read(st->cpuinfo) <= 0 ||
        pp_cpuinfo_mhz(st->cpuinfo->buf, st->cpuinfo->len, &sum, &n) < 0) {
        st->cpuinfo_same = 0;
        return false;
    }
    if (st->cpuinfo_same && sum / n == st->cpuinfo_mhz) {
        if (++st->cpuinfo_same >= CPUINFO_STEADY)
            st->cpuinfo_next_ns = now_ns + CPUINFO_SLOW_NS;
    } else {
        st->cpuinfo_same = 1;
    }
    st->cpuinfo_mhz = sum / n;
    *ret_mhz = st->cpuinfo_mhz;
    return true;
}

static void read_frequency(struct cpu_state *st, struct snapshot *snap, uint64_t now_ns)
{
    double sum = 0, mhz;
    unsigned n = 0;

    for (unsigned i = 0; i < st->nfreq; i++) {
        uint64_t khz;
        if (procfile_read(st->freq[i]) > 0 &&
            pp_single_u64(st->freq[i]->buf, st->freq[i]->len, &khz) == 0 && khz > 0) {
            sum += (double)khz / 1000.0;
            n++;
        }
    }
    if (!n && st->cpuinfo && cpuinfo_mhz(st, now_ns, &mhz)) {
        sum = mhz;
        n = 1;
    }
    if (n) {
        snap->cpu.frequency_mhz = sum / n;
        log_once_clear(&st->no_freq, "CPU frequency readable again");
    } else {
        log_once_warn(&st->no_freq,
                      "CPU frequency unavailable: no cpufreq in sysfs and no 'cpu MHz' in "
                      "cpuinfo; cpu.frequency_mhz is null");
    }
}

static void read_temperature(struct cpu_state *st, struct snapshot *snap)
{
    double best = ABSENT;

    if (!st->ntemp) {
        log_once_warn(&st->no_temp, "no CPU temperature sensor (hwmon coretemp/k10temp or a CPU "
                                    "thermal zone); cpu.temperature is null");
        return;
    }
    for (unsigned i = 0; i < st->ntemp; i++) {
        int64_t milli;
        double c;
        if (procfile_read(st->temp[i]) <= 0 ||
            pp_single_i64(st->temp[i]->buf, st->temp[i]->len, &milli) < 0)
            continue;
        c = (double)milli / 1000.0;
        if (c < -60 || c > 200)
            continue;
        if (!IS_SET(best) || c > best)
            best = c;
    }
    if (IS_SET(best)) {
        snap->cpu.temperature = best;
        log_once_clear(&st->bad_temp, "CPU temperature readable again");
    } else {
        log_once_warn(&st->bad_temp, "CPU temperature sensors gave no plausible value; "
                                     "cpu.temperature is null");
    }
}

static int cpu_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct cpu_state *st = state;
    struct cpu_times total, *tmp;
    unsigned max_id = 0;
    bool *tmpo, went_back, any_back = false;
    long n;

    n = procfile_read(st->stat);
    if (n <= 0 ||
        pp_stat(st->stat->buf, st->stat->len, &total, st->cur, st->online, st->cap, &max_id) < 0) {
        log_once_warn(&st->stat_fail, "%s unreadable or malformed (%s); CPU usage is null",
                      st->stat->path, n < 0 ? strerror((int)-n) : "bad content");
        st->have_prev = false;
        return n < 0 ? (int)n : -EINVAL;
    }
    log_once_clear(&st->stat_fail, "%s readable again", st->stat->path);
    if (max_id > st->cap) {
        unsigned old = st->cap;
        if (grow(st, max_id) < 0)
            return -ENOMEM;
        if (old != st->cap)
            pp_stat(st->stat->buf, st->stat->len, &total, st->cur, st->online, st->cap, &max_id);
    }
    if (max_id > st->n_seen)
        st->n_seen = max_id < st->cap ? max_id : st->cap;

    snap->cpu.n_cores = st->n_seen;
    snap->cpu.core_usage = snapshot_alloc(snap, st->n_seen * sizeof(double) + 1);
    if (!snap->cpu.core_usage)
        return -ENOMEM;
    snap->cpu.online_cores = 0;
    for (unsigned i = 0; i < st->n_seen; i++) {
        snap->cpu.core_usage[i] = ABSENT;
        if (!st->online[i])
            continue;
        snap->cpu.online_cores++;
        if (!st->have_prev || !st->prev_online[i])
            continue; /* just came online: baseline only */
        snap->cpu.core_usage[i] = usage_between(&st->prev[i], &st->cur[i], &went_back);
        any_back |= went_back;
    }
    if (st->have_prev) {
        snap->cpu.usage_percent = usage_between(&st->total_prev, &total, &went_back);
        any_back |= went_back;
    }
    if (any_back)
        log_once_warn(&st->went_back,
                      "CPU time counters went backwards in %s; the affected "
                      "figures are null for this tick",
                      st->stat->path);
    else if (st->have_prev)
        log_once_clear(&st->went_back, "CPU time counters consistent again");
    for (unsigned f = 0; f <= CPU_STEAL; f++)
        snap->cpu.seconds_total[f] = f < total.nfields ? (double)total.v[f] / USER_HZ : ABSENT;

    st->total_prev = total;
    tmp = st->prev;
    st->prev = st->cur;
    st->cur = tmp;
    tmpo = st->prev_online;
    st->prev_online = st->online;
    st->online = tmpo;
    st->have_prev = true;

    read_frequency(st, snap, tick->mono_ns);
    read_temperature(st, snap);
    return 0;
}

const struct collector_ops coll_cpu = {
    .name = "cpu",
    .init = cpu_init,
    .collect = cpu_collect,
    .fini = cpu_fini,
};
