/*
 * GPUs: every NVIDIA GPU, through NVML (nvml.h), loaded with dlopen when the
 * collector starts: libnvidia-ml.so.1, or the file the environment variable
 * ARTHAMON_NVML_LIBRARY names. Nothing NVIDIA's is needed to build arthamon,
 * and a host without the driver runs unchanged with gpu null.
 *
 * Each tick reads, per GPU: utilisation (nvmlDeviceGetUtilizationRates), memory
 * (nvmlDeviceGetMemoryInfo_v2, or the v1 call where the driver has no v2),
 * temperature, power and the SM and memory clocks; the gpus list gets one entry
 * per GPU and the gpu object their aggregate (nvml_agg.h). tensor_core_util is
 * null: it is DCGM's profiling field, which is not read here (docs/metrics.md).
 *
 * Failures, each logged once:
 *  - NVML not loadable, no GPU, or NVML failing to start: gpu null, and NVML is
 *    tried again every GPU_RETRY_SEC (quietly) in case a driver comes up. The
 *    ordinary case of a host without an NVIDIA driver or GPU is logged at info
 *    level, anything else (a library without the functions, an init error) as a
 *    warning.
 *  - One query failing on one GPU: the figures it gives are null while it fails.
 *  - A GPU whose queries all fail this tick: left out of this tick's gpus.
 *  - A GPU that falls off the bus (NVML_ERROR_GPU_IS_LOST from any query): left
 *    out from then on; when no GPU is left, NVML is closed and tried again as
 *    at start (GPUs are enumerated only when NVML is opened).
 */
#define LOG_MODULE "gpu"
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "common/intern.h"
#include "core/log.h"
#include "core/snapshot_fields.h"
#include "nvml.h"
#include "nvml_agg.h"

#define GPU_RETRY_SEC   300
#define GPU_RETRY_NS    ((uint64_t)GPU_RETRY_SEC * 1000000000u)
#define GPU_LIBRARY_ENV "ARTHAMON_NVML_LIBRARY"

/* dlsym's object pointers are stored into function pointers (POSIX allows it) */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers are not void *");

/* The per-tick queries of one GPU, in the order they are made (utilisation first). */
enum query {
    Q_UTIL,
    Q_MEMORY,
    Q_TEMP,
    Q_POWER,
    Q_CLOCK_SM,
    Q_CLOCK_MEM,
    Q_COUNT,
};

static const char *const query_call[Q_COUNT] = {
    [Q_UTIL] = "nvmlDeviceGetUtilizationRates",  [Q_MEMORY] = "nvmlDeviceGetMemoryInfo",
    [Q_TEMP] = "nvmlDeviceGetTemperature",       [Q_POWER] = "nvmlDeviceGetPowerUsage",
    [Q_CLOCK_SM] = "nvmlDeviceGetClockInfo(SM)", [Q_CLOCK_MEM] = "nvmlDeviceGetClockInfo(MEM)",
};

static const char *const query_figures[Q_COUNT] = {
    [Q_UTIL] = "usage_percent and core_util are",
    [Q_MEMORY] = "memory_used_mb and memory_total_mb are",
    [Q_TEMP] = "temperature is",
    [Q_POWER] = "power_watts is",
    [Q_CLOCK_SM] = "clock_sm_mhz is",
    [Q_CLOCK_MEM] = "clock_memory_mhz is",
};

struct gpu_dev {
    struct nvml_device *handle;
    unsigned index;
    char name[NVML_NAME_BUFFER]; /* "": unknown */
    char uuid[NVML_UUID_BUFFER];
    const char *iname, *iuuid; /* interned copies, NULL when not interned */
    bool lost;
    struct log_once fail[Q_COUNT];
    struct log_once mute; /* no query answered */
};

struct gpu_state {
    char *library;  /* what dlopen is given */
    void *lib;      /* NULL: NVML closed */
    bool nvml_init; /* nvmlInit_v2 succeeded: nvmlShutdown is owed */
    struct nvml_api api;
    bool mem_v1; /* nvmlDeviceGetMemoryInfo_v2 absent or refused */
    struct gpu_dev *dev;
    unsigned n_dev, n_lost;
    uint64_t retry_at; /* CLOCK_MONOTONIC ns of the next try while closed; 0: not set */
    bool down_logged;  /* why NVML is closed has been logged */
    bool tensor_logged;
};

/* NVML's sentence for rc (static storage: NVML's own, or ours before NVML is loaded). */
static const char *nvml_error(const struct gpu_state *st, int rc)
{
    const char *s = st->api.error_string ? st->api.error_string(rc) : NULL;

    return s ? s : "unknown NVML error";
}

/* The negative errno closest to an NVML return code. */
static int nvml_errno(int rc)
{
    switch (rc) {
    case NVML_ERROR_DRIVER_NOT_LOADED:
    case NVML_ERROR_GPU_IS_LOST:
    case NVML_ERROR_NOT_FOUND:
        return -ENODEV;
    case NVML_ERROR_NO_PERMISSION:
        return -EACCES;
    case NVML_ERROR_NOT_SUPPORTED:
        return -EOPNOTSUPP;
    case NVML_ERROR_LIBRARY_NOT_FOUND:
        return -ENOENT;
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return -ENOSYS;
    case NVML_ERROR_TIMEOUT:
        return -ETIMEDOUT;
    default:
        return -EIO;
    }
}

struct symbol {
    const char *name;
    size_t offset; /* in struct nvml_api */
    bool optional;
};

#define SYM(name, member, opt)                       \
    {                                                \
        name, offsetof(struct nvml_api, member), opt \
    }

static const struct symbol symbols[] = {
    SYM("nvmlInit_v2", init_v2, false),
    SYM("nvmlShutdown", shutdown, false),
    SYM("nvmlErrorString", error_string, false),
    SYM("nvmlSystemGetDriverVersion", system_get_driver_version, true),
    SYM("nvmlDeviceGetCount_v2", device_get_count_v2, false),
    SYM("nvmlDeviceGetHandleByIndex_v2", device_get_handle_by_index_v2, false),
    SYM("nvmlDeviceGetName", device_get_name, false),
    SYM("nvmlDeviceGetUUID", device_get_uuid, false),
    SYM("nvmlDeviceGetUtilizationRates", device_get_utilization_rates, false),
    SYM("nvmlDeviceGetMemoryInfo", device_get_memory_info, false),
    SYM("nvmlDeviceGetMemoryInfo_v2", device_get_memory_info_v2, true),
    SYM("nvmlDeviceGetTemperature", device_get_temperature, false),
    SYM("nvmlDeviceGetPowerUsage", device_get_power_usage, false),
    SYM("nvmlDeviceGetClockInfo", device_get_clock_info, false),
};

/* Unloads NVML and forgets the GPUs (accepts a half-opened state). */
static void nvml_close(struct gpu_state *st)
{
    if (st->nvml_init)
        st->api.shutdown();
    if (st->lib)
        dlclose(st->lib);
    free(st->dev);
    st->lib = NULL;
    st->nvml_init = false;
    memset(&st->api, 0, sizeof(st->api));
    st->mem_v1 = false;
    st->dev = NULL;
    st->n_dev = st->n_lost = 0;
}

/* Fills st->api from the loaded library; -ENOSYS (why says which) when a
 * function that is not optional is missing. */
static int resolve(struct gpu_state *st, char *why, size_t len)
{
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        void *p = dlsym(st->lib, symbols[i].name);

        if (!p && !symbols[i].optional) {
            snprintf(why, len, "%s has no %s (an old driver, or not NVML)", st->library,
                     symbols[i].name);
            return -ENOSYS;
        }
        memcpy((char *)&st->api + symbols[i].offset, &p, sizeof(p));
    }
    return 0;
}

/* The name and UUID of one GPU ("" where NVML does not say), interned. */
static void describe(struct gpu_state *st, struct gpu_dev *d)
{
    if (st->api.device_get_name(d->handle, d->name, sizeof(d->name)) != NVML_SUCCESS)
        d->name[0] = '\0';
    if (st->api.device_get_uuid(d->handle, d->uuid, sizeof(d->uuid)) != NVML_SUCCESS)
        d->uuid[0] = '\0';
    d->name[sizeof(d->name) - 1] = d->uuid[sizeof(d->uuid) - 1] = '\0';
    d->iname = d->name[0] ? intern(d->name) : NULL;
    d->iuuid = d->uuid[0] ? intern(d->uuid) : NULL;
}

/*
 * Loads NVML, starts it and lists the GPUs. 0, or -errno with NVML closed again
 * and why (a sentence for the log) and *ret_quiet (true: the ordinary state of a
 * host without an NVIDIA driver or GPU, worth an info line, not a warning) set.
 */
static int nvml_open(struct gpu_state *st, char *why, size_t len, bool *ret_quiet)
{
    char driver[NVML_DRIVER_BUFFER] = "";
    unsigned count = 0;
    int rc, r;

    *ret_quiet = false;
    dlerror();
    st->lib = dlopen(st->library, RTLD_NOW | RTLD_LOCAL);
    if (!st->lib) {
        const char *e = dlerror();
        snprintf(why, len, "cannot load %s: %s", st->library, e ? e : "unknown error");
        *ret_quiet = true;
        return -ENOENT;
    }
    if ((r = resolve(st, why, len)) < 0)
        goto fail;
    rc = st->api.init_v2();
    if (rc != NVML_SUCCESS) {
        snprintf(why, len, "nvmlInit_v2: %s", nvml_error(st, rc));
        *ret_quiet = rc == NVML_ERROR_DRIVER_NOT_LOADED;
        r = nvml_errno(rc);
        goto fail;
    }
    st->nvml_init = true;
    rc = st->api.device_get_count_v2(&count);
    if (rc != NVML_SUCCESS || count == 0) {
        if (rc != NVML_SUCCESS)
            snprintf(why, len, "nvmlDeviceGetCount_v2: %s", nvml_error(st, rc));
        else
            snprintf(why, len, "NVML sees no GPU");
        *ret_quiet = rc == NVML_SUCCESS;
        r = rc != NVML_SUCCESS ? nvml_errno(rc) : -ENODEV;
        goto fail;
    }
    if (count > SNAPSHOT_GPU_MAX) {
        log_warn("%u GPUs: only the first %d are measured", count, SNAPSHOT_GPU_MAX);
        count = SNAPSHOT_GPU_MAX;
    }
    if (!(st->dev = calloc(count, sizeof(*st->dev)))) {
        snprintf(why, len, "out of memory");
        r = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < count; i++) {
        struct gpu_dev *d = &st->dev[st->n_dev];

        rc = st->api.device_get_handle_by_index_v2(i, &d->handle);
        if (rc != NVML_SUCCESS) {
            /* (not retried until NVML is opened again: the index may be gone for good) */
            log_warn("GPU %u: nvmlDeviceGetHandleByIndex_v2: %s; it is left out", i,
                     nvml_error(st, rc));
            continue;
        }
        d->index = i;
        describe(st, d);
        st->n_dev++;
    }
    if (st->n_dev == 0) {
        snprintf(why, len, "none of the %u GPUs NVML lists could be opened", count);
        r = -ENODEV;
        goto fail;
    }
    if (st->api.system_get_driver_version &&
        st->api.system_get_driver_version(driver, sizeof(driver)) != NVML_SUCCESS)
        driver[0] = '\0';
    driver[sizeof(driver) - 1] = '\0';
    log_info("NVML from %s (driver %s): %u GPU%s", st->library, driver[0] ? driver : "unknown",
             st->n_dev, st->n_dev == 1 ? "" : "s");
    for (unsigned i = 0; i < st->n_dev; i++)
        log_info("GPU %u: %s %s", st->dev[i].index,
                 st->dev[i].name[0] ? st->dev[i].name : "(no name)",
                 st->dev[i].uuid[0] ? st->dev[i].uuid : "(no UUID)");
    if (!st->tensor_logged) {
        st->tensor_logged = true;
        log_info("tensor_core_util is null: it needs DCGM's profiling field "
                 "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, which arthamon does not read");
    }
    return 0;

fail:
    nvml_close(st);
    return r;
}

/* Opens NVML, logging why not the first time it fails (and once when it works
 * again). 0 or -errno. */
static int try_open(struct gpu_state *st)
{
    char why[512];
    bool quiet;
    int r = nvml_open(st, why, sizeof(why), &quiet);

    if (r < 0) {
        if (!st->down_logged)
            log_at(quiet ? LOG_INFO : LOG_WARN,
                   "no GPU measured: %s; gpu is null (NVML is tried again every %d s)", why,
                   GPU_RETRY_SEC);
        st->down_logged = true;
        return r;
    }
    if (st->down_logged)
        log_info("NVML works again");
    st->down_logged = false;
    return 0;
}

/* Closes NVML and frees the state (accepts NULL). */
static void gpu_fini(void *state)
{
    struct gpu_state *st = state;

    if (!st)
        return;
    nvml_close(st);
    free(st->library);
    free(st);
}

/* Never fails but for memory: without NVML the collector stays, gives no
 * figure and tries again now and then. */
static int gpu_init(const struct coll_env *env, void **ret_state)
{
    const char *lib = getenv(GPU_LIBRARY_ENV);
    struct gpu_state *st = calloc(1, sizeof(*st));

    (void)env;
    if (!st)
        return -ENOMEM;
    st->library = strdup(lib && *lib ? lib : NVML_DEFAULT_LIBRARY);
    if (!st->library) {
        free(st);
        return -ENOMEM;
    }
    if (try_open(st) == -ENOMEM) {
        gpu_fini(st);
        return -ENOMEM;
    }
    *ret_state = st;
    return 0;
}

/* Memory of one GPU into *m: the v2 call (used without the driver's reservation)
 * while the driver takes it, else the v1 call, switched to for good with one log
 * line. NVML's return code. */
static int query_memory(struct gpu_state *st, struct gpu_dev *d, struct gpu_device_metrics *m)
{
    struct nvml_memory mem;
    int rc;

    if (!st->mem_v1 && st->api.device_get_memory_info_v2) {
        struct nvml_memory_v2 m2 = {.version = NVML_MEMORY_V2_VERSION};

        rc = st->api.device_get_memory_info_v2(d->handle, &m2);
        if (rc == NVML_SUCCESS) {
            m->memory_used_mb = (double)m2.used / 1048576.0;
            m->memory_total_mb = (double)m2.total / 1048576.0;
            return rc;
        }
        if (rc != NVML_ERROR_FUNCTION_NOT_FOUND && rc != NVML_ERROR_ARGUMENT_VERSION_MISMATCH &&
            rc != NVML_ERROR_NOT_SUPPORTED)
            return rc;
        st->mem_v1 = true;
        log_info("nvmlDeviceGetMemoryInfo_v2: %s; memory_used_mb includes the memory the "
                 "driver reserves",
                 nvml_error(st, rc));
    } else if (!st->mem_v1) {
        st->mem_v1 = true;
        log_info("%s has no nvmlDeviceGetMemoryInfo_v2; memory_used_mb includes the memory the "
                 "driver reserves",
                 st->library);
    }
    rc = st->api.device_get_memory_info(d->handle, &mem);
    if (rc == NVML_SUCCESS) {
        m->memory_used_mb = (double)mem.used / 1048576.0;
        m->memory_total_mb = (double)mem.total / 1048576.0;
    }
    return rc;
}

/* One query of one GPU into *m; NVML's return code. */
static int query(struct gpu_state *st, struct gpu_dev *d, enum query q,
                 struct gpu_device_metrics *m)
{
    struct nvml_utilization u;
    unsigned int v = 0;
    int rc;

    switch (q) {
    case Q_UTIL:
        rc = st->api.device_get_utilization_rates(d->handle, &u);
        if (rc == NVML_SUCCESS)
            m->usage_percent = m->core_util = u.gpu;
        return rc;
    case Q_MEMORY:
        return query_memory(st, d, m);
    case Q_TEMP:
        rc = st->api.device_get_temperature(d->handle, NVML_TEMPERATURE_GPU, &v);
        if (rc == NVML_SUCCESS)
            m->temperature = v;
        return rc;
    case Q_POWER:
        rc = st->api.device_get_power_usage(d->handle, &v);
        if (rc == NVML_SUCCESS)
            m->power_watts = v / 1000.0;
        return rc;
    case Q_CLOCK_SM:
    case Q_CLOCK_MEM:
        rc = st->api.device_get_clock_info(d->handle,
                                           q == Q_CLOCK_SM ? NVML_CLOCK_SM : NVML_CLOCK_MEM, &v);
        if (rc == NVML_SUCCESS)
            *(q == Q_CLOCK_SM ? &m->clock_sm_mhz : &m->clock_memory_mhz) = v;
        return rc;
    case Q_COUNT:
        break;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

/* Reads one GPU into *m (every figure absent first): how many queries answered,
 * or -1 when the GPU is lost (then d->lost is set and it is logged). */
static int read_device(struct gpu_state *st, struct gpu_dev *d, struct gpu_device_metrics *m)
{
    int answered = 0;

    memset(m, 0, sizeof(*m));
    m->index = d->index;
#define DEV_ABSENT(id, path, member, unit, kind, dec, help) m->member = ABSENT;
    GPUS_FIELDS(DEV_ABSENT)
#undef DEV_ABSENT
    for (int q = 0; q < Q_COUNT; q++) {
        int rc = query(st, d, (enum query)q, m);

        if (rc == NVML_ERROR_GPU_IS_LOST) {
            d->lost = true;
            st->n_lost++;
            log_warn("GPU %u (%s) is lost (%s: %s): it is left out of gpus and the gpu figures "
                     "from now on",
                     d->index, d->uuid[0] ? d->uuid : d->name, query_call[q], nvml_error(st, rc));
            return -1;
        }
        if (rc == NVML_SUCCESS) {
            answered++;
            log_once_clear(&d->fail[q], "GPU %u: %s answers again", d->index, query_call[q]);
        } else {
            log_once_warn(&d->fail[q], "GPU %u: %s: %s; its %s null", d->index, query_call[q],
                          nvml_error(st, rc), query_figures[q]);
        }
    }
    return answered;
}

/*
 * One tick: while NVML is closed, tries to open it every GPU_RETRY_SEC and
 * otherwise gives nothing (0); when open, reads every GPU not lost, adds those
 * that answered to snap->gpus and their aggregate to snap->gpu (gpu_present),
 * leaving gpu.quantum_sim_usage to the node. The names point into the intern
 * pool or the snapshot's arena. -ENODEV when the last GPU was lost this tick,
 * -EIO when no GPU answered, -ENOMEM.
 */
static int gpu_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct gpu_state *st = state;
    struct gpu_device_metrics m[SNAPSHOT_GPU_MAX];
    const struct gpu_dev *from[SNAPSHOT_GPU_MAX];
    size_t n = 0;

    if (!st->lib) {
        /* closed: tried again every GPU_RETRY_SEC, counted from the first tick after closing */
        if (!st->retry_at)
            st->retry_at = tick->mono_ns + GPU_RETRY_NS;
        if (tick->mono_ns < st->retry_at)
            return 0;
        st->retry_at = tick->mono_ns + GPU_RETRY_NS;
        if (try_open(st) < 0)
            return 0;
        st->retry_at = 0;
    }
    for (unsigned i = 0; i < st->n_dev; i++) {
        struct gpu_dev *d = &st->dev[i];
        int answered;

        if (d->lost)
            continue;
        answered = read_device(st, d, &m[n]);
        if (answered < 0)
            continue;
        if (answered == 0) {
            log_once_warn(&d->mute,
                          "GPU %u answers no query: it is left out of gpus and the gpu "
                          "figures while so",
                          d->index);
            continue;
        }
        log_once_clear(&d->mute, "GPU %u answers again", d->index);
        from[n++] = d;
    }
    if (st->n_lost == st->n_dev) {
        log_warn("every GPU is lost: gpu is null; NVML is tried again every %d s", GPU_RETRY_SEC);
        nvml_close(st);
        st->down_logged = true;
        st->retry_at = 0;
        return -ENODEV;
    }
    if (n == 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const struct gpu_dev *d = from[i];
        struct gpu_device_metrics *g = snapshot_gpu_device(snap, m[i].index);

        if (!g)
            return -ENOMEM;
        *g = m[i];
        if (d->name[0] && !(g->name = d->iname ? d->iname : snapshot_strdup(snap, d->name)))
            return -ENOMEM;
        if (d->uuid[0] && !(g->uuid = d->iuuid ? d->iuuid : snapshot_strdup(snap, d->uuid)))
            return -ENOMEM;
    }
    nvml_aggregate(m, n, &snap->gpu);
    snap->gpu_present = true;
    return 0;
}

const struct collector_ops coll_gpu = {
    .name = "gpu",
    .init = gpu_init,
    .collect = gpu_collect,
    .fini = gpu_fini,
};
