/*
 * Disk: I/O rates from /proc/diskstats over the real block devices, space from
 * statvfs() of the watched path (agent.disk_path).
 *
 * A device is real when /sys/block/<name> exists (whole disks only: partitions
 * are not there) and does not live under /sys/devices/virtual (loop, ram, zram,
 * device-mapper, md, nbd). Summing only those counts every byte that reached
 * hardware once: a write through LVM or dm-crypt shows up in the dm device and
 * again in the disk below it, and only the disk is summed.
 */
#define LOG_MODULE "disk"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "collector.h"
#include "common/nametab.h"
#include "common/procfile.h"
#include "procparse.h"

#define MAX_DEVICES 4096

struct dev {
    char name[NAMETAB_NAME];
    bool real;
    bool seen;    /* has a baseline */
    bool present; /* in this tick's diskstats */
    uint64_t reads, sectors_read, writes, sectors_written;
};

struct disk_state {
    struct procfile *diskstats;
    char *sysfs_root;
    char *disk_path;
    struct nametab devs;
    bool first;

    /* per-tick accumulation */
    uint64_t d_reads, d_sectors_read, d_writes, d_sectors_written;
    uint64_t t_reads, t_sectors_read, t_writes, t_sectors_written;
    unsigned nreal;
    bool reset_seen;

    struct log_once fail, statvfs_fail, reset, too_many, none_real;
};

static bool classify(const struct disk_state *st, const char *name)
{
    char rel[80], path[4096], target[4096];
    ssize_t n;

    snprintf(rel, sizeof(rel), "block/%s", name);
    for (char *c = rel + 6; *c; c++)
        if (*c == '/')
            *c = '!'; /* sysfs spells "cciss/c0d0" as "cciss!c0d0" */
    if (path_join(path, sizeof(path), st->sysfs_root, rel) < 0)
        return false;
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return false; /* a partition, or not a block device sysfs knows */
    target[n] = '\0';
    return strstr(target, "/virtual/") == NULL;
}

static struct dev *lookup(struct disk_state *st, const char *name)
{
    bool added;
    struct dev *d = nametab_get(&st->devs, name, &added);

    if (d && added)
        d->real = classify(st, name);
    return d;
}

static void on_line(void *ctx, const struct diskstat *ds)
{
    struct disk_state *st = ctx;
    struct dev *d = lookup(st, ds->name);
    bool r1, r2, r3, r4;

    if (!d || d->present)
        return; /* table full, or a duplicate line */
    d->present = true;
    if (d->real) {
        st->nreal++;
        st->t_reads += ds->reads;
        st->t_sectors_read += ds->sectors_read;
        st->t_writes += ds->writes;
        st->t_sectors_written += ds->sectors_written;
        if (d->seen) {
            st->d_reads += counter_delta(d->reads, ds->reads, &r1);
            st->d_sectors_read += counter_delta(d->sectors_read, ds->sectors_read, &r2);
            st->d_writes += counter_delta(d->writes, ds->writes, &r3);
            st->d_sectors_written += counter_delta(d->sectors_written, ds->sectors_written, &r4);
            if (r1 || r2 || r3 || r4)
                st->reset_seen = true;
        }
    }
    d->reads = ds->reads;
    d->sectors_read = ds->sectors_read;
    d->writes = ds->writes;
    d->sectors_written = ds->sectors_written;
    d->seen = true;
}

static void disk_fini(void *state)
{
    struct disk_state *st = state;

    if (!st)
        return;
    procfile_free(st->diskstats);
    free(st->sysfs_root);
    free(st->disk_path);
    nametab_done(&st->devs);
    free(st);
}

static int disk_init(const struct coll_env *env, void **ret_state)
{
    struct disk_state *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return -ENOMEM;
    st->sysfs_root = strdup(env->sysfs_root);
    st->disk_path = strdup(env->cfg->agent.disk_path);
    if (!st->sysfs_root || !st->disk_path) {
        disk_fini(st);
        return -ENOMEM;
    }
    r = procfile_open(env->procfs_root, "diskstats", &st->diskstats);
    if (r < 0) {
        disk_fini(st);
        return r;
    }
    nametab_init(&st->devs, sizeof(struct dev), MAX_DEVICES);
    st->first = true;
    *ret_state = st;
    return 0;
}

static void collect_space(struct disk_state *st, struct snapshot *snap)
{
    struct statvfs sv;
    double frsize, used;

    if (statvfs(st->disk_path, &sv) < 0) {
        log_once_warn(&st->statvfs_fail, "statvfs(%s): %s; disk usage figures are null",
                      st->disk_path, strerror(errno));
        return;
    }
    log_once_clear(&st->statvfs_fail, "statvfs(%s) works again", st->disk_path);
    frsize = sv.f_frsize ? (double)sv.f_frsize : (double)sv.f_bsize;
    used = (double)(sv.f_blocks - (sv.f_bfree <= sv.f_blocks ? sv.f_bfree : sv.f_blocks));
    if (used + (double)sv.f_bavail > 0)
        snap->disk.usage_percent = 100.0 * used / (used + (double)sv.f_bavail);
    snap->disk.available_gb = (double)sv.f_bavail * frsize / 1073741824.0;
    snap->disk.total_gb = (double)sv.f_blocks * frsize / 1073741824.0;
}

static int disk_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct disk_state *st = state;
    long n;
    int bad;

    collect_space(st, snap);

    n = procfile_read(st->diskstats);
    if (n < 0) {
        log_once_warn(&st->fail, "%s unreadable (%s); disk I/O figures are null",
                      st->diskstats->path, strerror((int)-n));
        return (int)n;
    }
    st->d_reads = st->d_sectors_read = st->d_writes = st->d_sectors_written = 0;
    st->t_reads = st->t_sectors_read = st->t_writes = st->t_sectors_written = 0;
    st->nreal = 0;
    st->reset_seen = false;
    nametab_rewind(&st->devs);
    for (size_t i = 0; i < st->devs.n; i++)
        ((struct dev *)nametab_at(&st->devs, i))->present = false;
    bad = pp_diskstats(st->diskstats->buf, st->diskstats->len, on_line, st);
    /* a device that vanished starts again from a baseline if it returns */
    for (size_t i = 0; i < st->devs.n; i++) {
        struct dev *d = nametab_at(&st->devs, i);
        if (!d->present)
            d->seen = false;
    }
    if (bad > 0)
        log_once_warn(&st->fail, "%s: %d malformed lines skipped", st->diskstats->path, bad);
    else
        log_once_clear(&st->fail, "%s well-formed again", st->diskstats->path);
    if (st->devs.full)
        log_once_warn(&st->too_many, "more than %d block devices; the rest are not counted",
                      MAX_DEVICES);
    if (st->reset_seen)
        log_once_warn(&st->reset, "a disk counter went backwards (device re-created?); counting "
                                  "it from zero");
    if (!st->nreal) {
        log_once_warn(&st->none_real,
                      "no real block device in %s (all virtual or partitions); "
                      "disk I/O figures are null",
                      st->diskstats->path);
        st->first = false;
        return 0;
    }
    log_once_clear(&st->none_real, "real block devices present again");

    snap->disk.devices = st->nreal;
    snap->disk.reads_total = (double)st->t_reads;
    snap->disk.writes_total = (double)st->t_writes;
    snap->disk.read_bytes_total = (double)st->t_sectors_read * 512.0;
    snap->disk.written_bytes_total = (double)st->t_sectors_written * 512.0;
    if (!st->first && tick->dt_sec > 0) {
        double dt = tick->dt_sec;
        snap->disk.read_ops_per_sec = (double)st->d_reads / dt;
        snap->disk.write_ops_per_sec = (double)st->d_writes / dt;
        snap->disk.read_mbps = (double)st->d_sectors_read * 512.0 / 1048576.0 / dt;
        snap->disk.write_mbps = (double)st->d_sectors_written * 512.0 / 1048576.0 / dt;
    }
    st->first = false;
    return 0;
}

const struct collector_ops coll_disk = {
    .name = "disk",
    .init = disk_init,
    .collect = disk_collect,
    .fini = disk_fini,
};
