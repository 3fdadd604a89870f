/*
 * A stand-in for NVML (libnvidia-ml.so.1), for the tests only. It exists
 * because the machines that build and test arthamon have no GPU and no NVIDIA
 * driver: the GPU collector (src/collect/gpu.c) loads this library instead
 * (ARTHAMON_NVML_LIBRARY) and gets scripted figures and scripted failures, so
 * that every path of the collector runs. bench/gpu_check.sh checks the
 * collector against a real GPU and nvidia-smi.
 *
 * It exports the NVML functions the collector uses, with NVML's signatures
 * (src/collect/nvml.h; checked below at compile time). Built twice: with
 * -DSTAND_IN_NO_V2 it also lacks nvmlDeviceGetMemoryInfo_v2 and
 * nvmlSystemGetDriverVersion, like an old driver.
 *
 * nvmlInit_v2 reads the script named by ARTHAMON_NVML_STAND_IN, one directive
 * per line ('#' starts a comment line); call counts start again at every
 * nvmlInit_v2:
 *
 *   init_error CODE        nvmlInit_v2 returns CODE (an nvmlReturn_t number)
 *   count_error CODE       nvmlDeviceGetCount_v2 returns CODE
 *   driver VERSION         nvmlSystemGetDriverVersion's answer
 *   no_memory_v2 CODE      nvmlDeviceGetMemoryInfo_v2 returns CODE (e.g. 13)
 *   device                 starts the next GPU (indexes in order from 0)
 *     name TEXT            the rest of the line
 *     uuid TEXT
 *     utilization PERCENT  utilization.gpu (utilization.memory is half of it)
 *     memory USED TOTAL [RESERVED]   MiB; v2 answers them, v1 answers
 *                          used = USED + RESERVED as the real v1 call does
 *     temperature CELSIUS
 *     power MILLIWATTS
 *     clocks SM_MHZ MEM_MHZ
 *     error FUNCTION CODE [FROM [TO]]  FUNCTION returns CODE on its calls
 *                          FROM..TO for this GPU (1-based; TO absent: for
 *                          good). FUNCTION: handle name uuid utilization
 *                          memory temperature power clock_sm clock_mem
 *     lost N               from the N-th utilisation call on, every call for
 *                          this GPU returns NVML_ERROR_GPU_IS_LOST
 *     clone N              N more GPUs like this one (UUID suffixed -cK)
 *
 * A figure that is not scripted answers NVML_ERROR_NOT_SUPPORTED.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/nvml.h"
#include "common/parse.h"

#define EXPORT     __attribute__((visibility("default")))
#define MAX_DEV    80
#define MAX_ERRORS 8

enum fn {
    F_HANDLE,
    F_NAME,
    F_UUID,
    F_UTIL,
    F_MEMORY,
    F_TEMP,
    F_POWER,
    F_CLOCK_SM,
    F_CLOCK_MEM,
    F_COUNT,
};

static const char *const fn_names[F_COUNT] = {
    "handle",      "name",  "uuid",     "utilization", "memory",
    "temperature", "power", "clock_sm", "clock_mem",
};

struct scripted_error {
    enum fn fn;
    int code;
    unsigned long long from, to; /* to 0: no end */
};

struct nvml_device {
    char name[NVML_NAME_BUFFER], uuid[NVML_UUID_BUFFER];
    bool has_name, has_uuid, has_util, has_memory, has_temp, has_power, has_clocks;
    unsigned long long util, mem_used, mem_total, mem_reserved, temp, power, clk_sm, clk_mem;
    unsigned long long lost_at; /* 0: never */
    struct scripted_error err[MAX_ERRORS];
    unsigned n_err;
    unsigned long long calls[F_COUNT];
    bool lost;
};

static struct {
    int init_error, count_error, memory_v2_error;
    char driver[NVML_DRIVER_BUFFER];
    struct nvml_device dev[MAX_DEV];
    unsigned n_dev;
    bool up;
} S;

/* ---- the script ---- */

static int number(const char *s, unsigned long long *ret)
{
    uint64_t v;
    int r = parse_u64(s, &v);

    if (r == 0)
        *ret = v;
    return r;
}

/* Splits line into at most max words (in place); returns how many. */
static unsigned words(char *line, char **w, unsigned max)
{
    unsigned n = 0;
    char *p = line;

    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int device_line(struct nvml_device *d, const char *key, char *rest)
{
    char *w[4] = {NULL};
    unsigned n;
    unsigned long long code = 0;

    if (!strcmp(key, "name")) {
        snprintf(d->name, sizeof(d->name), "%.95s", rest);
        d->has_name = true;
        return 0;
    }
    if (!strcmp(key, "uuid")) {
        snprintf(d->uuid, sizeof(d->uuid), "%.95s", rest);
        d->has_uuid = true;
        return 0;
    }
    n = words(rest, w, 4);
    if (!strcmp(key, "utilization") && n == 1) {
        d->has_util = true;
        return number(w[0], &d->util);
    }
    if (!strcmp(key, "memory") && (n == 2 || n == 3)) {
        d->has_memory = true;
        d->mem_reserved = 0;
        if (number(w[0], &d->mem_used) < 0 || number(w[1], &d->mem_total) < 0 ||
            (n == 3 && number(w[2], &d->mem_reserved) < 0))
            return -EINVAL;
        return 0;
    }
    if (!strcmp(key, "temperature") && n == 1) {
        d->has_temp = true;
        return number(w[0], &d->temp);
    }
    if (!strcmp(key, "power") && n == 1) {
        d->has_power = true;
        return number(w[0], &d->power);
    }
    if (!strcmp(key, "clocks") && n == 2) {
        d->has_clocks = true;
        return number(w[0], &d->clk_sm) < 0 || number(w[1], &d->clk_mem) < 0 ? -EINVAL : 0;
    }
    if (!strcmp(key, "lost") && n == 1)
        return number(w[0], &d->lost_at);
    if (!strcmp(key, "error") && n >= 2 && d->n_err < MAX_ERRORS) {
        struct scripted_error *e = &d->err[d->n_err];
        unsigned f;

        for (f = 0; f < F_COUNT && strcmp(fn_names[f], w[0]); f++)
            ;
        if (f == F_COUNT || number(w[1], &code) < 0)
            return -EINVAL;
        e->fn = (enum fn)f;
        e->code = (int)code;
        e->from = 1;
        e->to = 0;
        if ((n >= 3 && number(w[2], &e->from) < 0) || (n == 4 && number(w[3], &e->to) < 0))
            return -EINVAL;
        d->n_err++;
        return 0;
    }
    return -EINVAL;
}

/* N more GPUs like the last one, their UUIDs suffixed -c1, -c2, ... */
static int clone_last(unsigned long long n)
{
    unsigned base = S.n_dev - 1;

    for (unsigned long long k = 1; k <= n; k++) {
        char uuid[NVML_UUID_BUFFER];

        if (S.n_dev == MAX_DEV)
            return -E2BIG;
        snprintf(uuid, sizeof(uuid), "%.80s-c%llu", S.dev[base].uuid, k);
        S.dev[S.n_dev] = S.dev[base];
        memcpy(S.dev[S.n_dev].uuid, uuid, sizeof(uuid));
        S.n_dev++;
    }
    return 0;
}

static int load_script(void)
{
    const char *path = getenv("ARTHAMON_NVML_STAND_IN");
    char line[512];
    int r = 0;
    FILE *f;

    memset(&S, 0, sizeof(S));
    if (!path || !(f = fopen(path, "re")))
        return -ENOENT;
    while (r == 0 && fgets(line, sizeof(line), f)) {
        char *key, *rest, *p = line;
        unsigned long long v = 0;

        line[strcspn(line, "\r\n")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        key = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p) {
            *p++ = '\0';
            while (*p == ' ' || *p == '\t')
                p++;
        }
        rest = p; /* "" when the directive has no argument */
        if (!strcmp(key, "device")) {
            if (S.n_dev == MAX_DEV)
                r = -E2BIG;
            else
                S.n_dev++;
        } else if (!strcmp(key, "init_error")) {
            r = number(rest, &v);
            S.init_error = (int)v;
        } else if (!strcmp(key, "count_error")) {
            r = number(rest, &v);
            S.count_error = (int)v;
        } else if (!strcmp(key, "no_memory_v2")) {
            r = number(rest, &v);
            S.memory_v2_error = (int)v;
        } else if (!strcmp(key, "driver")) {
            snprintf(S.driver, sizeof(S.driver), "%.79s", rest);
        } else if (!strcmp(key, "clone") && S.n_dev) {
            r = number(rest, &v);
            if (r == 0)
                r = clone_last(v);
        } else if (S.n_dev) {
            r = device_line(&S.dev[S.n_dev - 1], key, rest);
        } else {
            r = -EINVAL;
        }
        if (r < 0)
            fprintf(stderr, "nvml stand-in: %s: bad line: %s\n", path, key);
    }
    fclose(f);
    return r;
}

/* ---- scripted answers ---- */

/* NVML_SUCCESS, or the scripted failure of this call of fn on d (counted). */
static int scripted(struct nvml_device *d, enum fn fn)
{
    unsigned long long call;

    if (!S.up)
        return NVML_ERROR_UNINITIALIZED;
    if (!d)
        return NVML_ERROR_INVALID_ARGUMENT;
    call = ++d->calls[fn];
    if (fn == F_UTIL && d->lost_at && call >= d->lost_at)
        d->lost = true;
    if (d->lost)
        return NVML_ERROR_GPU_IS_LOST;
    for (unsigned i = 0; i < d->n_err; i++) {
        const struct scripted_error *e = &d->err[i];
        if (e->fn == fn && call >= e->from && (!e->to || call <= e->to))
            return e->code;
    }
    return NVML_SUCCESS;
}

/* ---- the exported functions, with NVML's names ---- */

EXPORT int nvmlInit_v2(void);
EXPORT int nvmlShutdown(void);
EXPORT const char *nvmlErrorString(int rc);
EXPORT int nvmlDeviceGetCount_v2(unsigned int *ret_count);
EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned int index, struct nvml_device **ret_dev);
EXPORT int nvmlDeviceGetName(struct nvml_device *dev, char *buf, unsigned int len);
EXPORT int nvmlDeviceGetUUID(struct nvml_device *dev, char *buf, unsigned int len);
EXPORT int nvmlDeviceGetUtilizationRates(struct nvml_device *dev, struct nvml_utilization *ret);
EXPORT int nvmlDeviceGetMemoryInfo(struct nvml_device *dev, struct nvml_memory *ret);
EXPORT int nvmlDeviceGetTemperature(struct nvml_device *dev, unsigned int sensor,
                                    unsigned int *ret_celsius);
EXPORT int nvmlDeviceGetPowerUsage(struct nvml_device *dev, unsigned int *ret_milliwatts);
EXPORT int nvmlDeviceGetClockInfo(struct nvml_device *dev, unsigned int type,
                                  unsigned int *ret_mhz);
#ifndef STAND_IN_NO_V2
EXPORT int nvmlSystemGetDriverVersion(char *buf, unsigned int len);
EXPORT int nvmlDeviceGetMemoryInfo_v2(struct nvml_device *dev, struct nvml_memory_v2 *ret);
#endif

int nvmlInit_v2(void)
{
    if (load_script() < 0)
        return NVML_ERROR_UNKNOWN;
    if (S.init_error)
        return S.init_error;
    S.up = true;
    return NVML_SUCCESS;
}

int nvmlShutdown(void)
{
    if (!S.up)
        return NVML_ERROR_UNINITIALIZED;
    S.up = false;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(int rc)
{
    switch (rc) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
        return "Insufficient Permissions";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU is lost";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return "Argument Version Mismatch";
    default:
        return "Unknown Error";
    }
}

int nvmlDeviceGetCount_v2(unsigned int *ret_count)
{
    if (!S.up)
        return NVML_ERROR_UNINITIALIZED;
    if (S.count_error)
        return S.count_error;
    *ret_count = S.n_dev;
    return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, struct nvml_device **ret_dev)
{
    int rc = scripted(index < S.n_dev ? &S.dev[index] : NULL, F_HANDLE);

    if (rc == NVML_SUCCESS)
        *ret_dev = &S.dev[index];
    return rc;
}

static int text(struct nvml_device *dev, enum fn fn, char *buf, unsigned int len)
{
    int rc = scripted(dev, fn);
    const char *v;

    if (rc != NVML_SUCCESS)
        return rc;
    if (!(fn == F_NAME ? dev->has_name : dev->has_uuid))
        return NVML_ERROR_NOT_SUPPORTED;
    v = fn == F_NAME ? dev->name : dev->uuid;
    if (strlen(v) >= len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, v, strlen(v) + 1);
    return NVML_SUCCESS;
}

int nvmlDeviceGetName(struct nvml_device *dev, char *buf, unsigned int len)
{
    return text(dev, F_NAME, buf, len);
}

int nvmlDeviceGetUUID(struct nvml_device *dev, char *buf, unsigned int len)
{
    return text(dev, F_UUID, buf, len);
}

int nvmlDeviceGetUtilizationRates(struct nvml_device *dev, struct nvml_utilization *ret)
{
    int rc = scripted(dev, F_UTIL);

    if (rc == NVML_SUCCESS && !dev->has_util)
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) {
        ret->gpu = (unsigned int)dev->util;
        ret->memory = (unsigned int)dev->util / 2;
    }
    return rc;
}

#define MIB 1048576ull

int nvmlDeviceGetMemoryInfo(struct nvml_device *dev, struct nvml_memory *ret)
{
    int rc = scripted(dev, F_MEMORY);

    if (rc == NVML_SUCCESS && !dev->has_memory)
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) {
        ret->total = dev->mem_total * MIB;
        ret->free = (dev->mem_total - dev->mem_used - dev->mem_reserved) * MIB;
        ret->used = ret->total - ret->free;
    }
    return rc;
}

int nvmlDeviceGetTemperature(struct nvml_device *dev, unsigned int sensor,
                             unsigned int *ret_celsius)
{
    int rc = scripted(dev, F_TEMP);

    if (rc == NVML_SUCCESS && (!dev->has_temp || sensor != NVML_TEMPERATURE_GPU))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS)
        *ret_celsius = (unsigned int)dev->temp;
    return rc;
}

int nvmlDeviceGetPowerUsage(struct nvml_device *dev, unsigned int *ret_milliwatts)
{
    int rc = scripted(dev, F_POWER);

    if (rc == NVML_SUCCESS && !dev->has_power)
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS)
        *ret_milliwatts = (unsigned int)dev->power;
    return rc;
}

int nvmlDeviceGetClockInfo(struct nvml_device *dev, unsigned int type, unsigned int *ret_mhz)
{
    int rc = scripted(dev, type == NVML_CLOCK_SM ? F_CLOCK_SM : F_CLOCK_MEM);

    if (rc == NVML_SUCCESS &&
        (!dev->has_clocks || (type != NVML_CLOCK_SM && type != NVML_CLOCK_MEM)))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS)
        *ret_mhz = (unsigned int)(type == NVML_CLOCK_SM ? dev->clk_sm : dev->clk_mem);
    return rc;
}

#ifndef STAND_IN_NO_V2
int nvmlSystemGetDriverVersion(char *buf, unsigned int len)
{
    if (!S.up)
        return NVML_ERROR_UNINITIALIZED;
    if (!S.driver[0])
        return NVML_ERROR_NOT_SUPPORTED;
    if (strlen(S.driver) >= len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, S.driver, strlen(S.driver) + 1);
    return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo_v2(struct nvml_device *dev, struct nvml_memory_v2 *ret)
{
    int rc;

    if (S.memory_v2_error)
        return S.memory_v2_error;
    if (ret->version != NVML_MEMORY_V2_VERSION)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    rc = scripted(dev, F_MEMORY);
    if (rc == NVML_SUCCESS && !dev->has_memory)
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) {
        ret->total = dev->mem_total * MIB;
        ret->reserved = dev->mem_reserved * MIB;
        ret->used = dev->mem_used * MIB;
        ret->free = ret->total - ret->reserved - ret->used;
    }
    return rc;
}
#endif

/* The signatures above are NVML's as the collector declares them: a mismatch
 * is a compile error (-Werror). */
__attribute__((unused)) static const struct nvml_api signatures = {
    .init_v2 = nvmlInit_v2,
    .shutdown = nvmlShutdown,
    .error_string = nvmlErrorString,
#ifndef STAND_IN_NO_V2
    .system_get_driver_version = nvmlSystemGetDriverVersion,
    .device_get_memory_info_v2 = nvmlDeviceGetMemoryInfo_v2,
#endif
    .device_get_count_v2 = nvmlDeviceGetCount_v2,
    .device_get_handle_by_index_v2 = nvmlDeviceGetHandleByIndex_v2,
    .device_get_name = nvmlDeviceGetName,
    .device_get_uuid = nvmlDeviceGetUUID,
    .device_get_utilization_rates = nvmlDeviceGetUtilizationRates,
    .device_get_memory_info = nvmlDeviceGetMemoryInfo,
    .device_get_temperature = nvmlDeviceGetTemperature,
    .device_get_power_usage = nvmlDeviceGetPowerUsage,
    .device_get_clock_info = nvmlDeviceGetClockInfo,
};
