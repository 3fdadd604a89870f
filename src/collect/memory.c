/*
 * Memory: /proc/meminfo. Used is MemTotal - MemAvailable (what procps 4's free
 * calls "used"); virtual is Committed_AS, the memory the kernel has promised to
 * processes; swap used is SwapTotal - SwapFree. MB are MiB, as free -m.
 */
#define LOG_MODULE "memory"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "common/procfile.h"
#include "procparse.h"

struct memory_state {
    struct procfile *meminfo;
    struct log_once fail, no_avail;
};

static void memory_fini(void *state)
{
    struct memory_state *st = state;

    if (!st)
        return;
    procfile_free(st->meminfo);
    free(st);
}

static int memory_init(const struct coll_env *env, void **ret_state)
{
    struct memory_state *st = calloc(1, sizeof(*st));
    int r;

    if (!st)
        return -ENOMEM;
    r = procfile_open(env->procfs_root, "meminfo", &st->meminfo);
    if (r < 0) {
        free(st);
        return r;
    }
    *ret_state = st;
    return 0;
}

#define HAS(mi, f) (((mi).present >> (f)) & 1u)
#define MB(kb)     ((double)(kb) / 1024.0)

static int memory_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct memory_state *st = state;
    struct meminfo mi;
    long n;

    (void)tick;
    n = procfile_read(st->meminfo);
    if (n <= 0 || pp_meminfo(st->meminfo->buf, st->meminfo->len, &mi) < 0 ||
        !HAS(mi, MI_MEMTOTAL)) {
        log_once_warn(&st->fail, "%s unreadable or malformed (%s); memory figures are null",
                      st->meminfo->path, n < 0 ? strerror((int)-n) : "bad content");
        return n < 0 ? (int)n : -EINVAL;
    }
    log_once_clear(&st->fail, "%s readable again", st->meminfo->path);

    snap->memory.physical_total_mb = MB(mi.kb[MI_MEMTOTAL]);
    if (HAS(mi, MI_MEMAVAILABLE) && mi.kb[MI_MEMAVAILABLE] <= mi.kb[MI_MEMTOTAL]) {
        snap->memory.available_mb = MB(mi.kb[MI_MEMAVAILABLE]);
        snap->memory.physical_used_mb = MB(mi.kb[MI_MEMTOTAL] - mi.kb[MI_MEMAVAILABLE]);
        log_once_clear(&st->no_avail, "MemAvailable present again");
    } else {
        /* kernels before 3.14 have no MemAvailable; do not guess one */
        log_once_warn(&st->no_avail, "%s has no usable MemAvailable; physical_used_mb is null",
                      st->meminfo->path);
    }
    if (HAS(mi, MI_COMMITTED_AS))
        snap->memory.virtual_used_mb = MB(mi.kb[MI_COMMITTED_AS]);
    if (HAS(mi, MI_SWAPTOTAL) && HAS(mi, MI_SWAPFREE) &&
        mi.kb[MI_SWAPFREE] <= mi.kb[MI_SWAPTOTAL]) {
        snap->memory.swap_total_mb = MB(mi.kb[MI_SWAPTOTAL]);
        snap->memory.swap_used_mb = MB(mi.kb[MI_SWAPTOTAL] - mi.kb[MI_SWAPFREE]);
    }
    return 0;
}

const struct collector_ops coll_memory = {
    .name = "memory",
    .init = memory_init,
    .collect = memory_collect,
    .fini = memory_fini,
};
