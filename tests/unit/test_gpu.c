/*
 * The GPU collector (src/collect/gpu.c) against the NVML stand-in
 * (tests/stand-ins/nvml_stand_in.c, loaded through ARTHAMON_NVML_LIBRARY): the
 * scripted figures must come out exactly, in the snapshot, its JSON and the
 * Prometheus exposition, and every scripted failure must give null figures
 * with one log line, never a crash, a made-up figure or a line per tick. The
 * aggregation rules are checked on their own (collect/nvml_agg.h).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "collect/collector.h"
#include "collect/nvml_agg.h"
#include "core/log.h"
#include "core/snapshot.h"
#include "serve/prom.h"

/* ---- captured log lines ---- */

#define MAX_LOG 128
static char log_msgs[MAX_LOG][512];
static enum log_level log_levels[MAX_LOG];
static unsigned nlog;

static void on_log(void *ud, enum log_level level, const char *module, const char *msg)
{
    (void)ud;
    if (strcmp(module, "gpu") != 0)
        return;
    if (nlog < MAX_LOG) {
        snprintf(log_msgs[nlog], sizeof(log_msgs[0]), "%s", msg);
        log_levels[nlog] = level;
    }
    nlog++;
}

/* How many lines logged since the last reset contain needle at this level. */
static unsigned logged(enum log_level level, const char *needle)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nlog && i < MAX_LOG; i++)
        if (log_levels[i] == level && strstr(log_msgs[i], needle))
            n++;
    return n;
}

static unsigned count_level(enum log_level level)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nlog && i < MAX_LOG; i++)
        n += log_levels[i] == level;
    return n;
}

static void dump_log(void)
{
    for (unsigned i = 0; i < nlog && i < MAX_LOG; i++)
        print_error("  [%s] %s\n", log_level_name(log_levels[i]), log_msgs[i]);
}

#define expect_log(level, needle, n)                                                \
    do {                                                                            \
        if (logged(level, needle) != (n)) {                                         \
            print_error("expected %u %s lines with '%s', got %u:\n", (unsigned)(n), \
                        log_level_name(level), needle, logged(level, needle));      \
            dump_log();                                                             \
            fail();                                                                 \
        }                                                                           \
    } while (0)
#define expect_no_warnings() expect_log_count(LOG_WARN, 0)
#define expect_log_count(level, n)                                                               \
    do {                                                                                         \
        if (count_level(level) != (n)) {                                                         \
            print_error("expected %u %s lines, got %u:\n", (unsigned)(n), log_level_name(level), \
                        count_level(level));                                                     \
            dump_log();                                                                          \
            fail();                                                                              \
        }                                                                                        \
    } while (0)

/* ---- the harness ---- */

static char script_path[64];

/* The NVML library the collector loads: a stand-in built next to the tests
 * ("libnvml-stand-in.so"), or any other path as it is. */
static void use_library(const char *file)
{
    char path[4096];
    const char *build = getenv("ARTHAMON_BUILD");

    if (strncmp(file, "libnvml-stand-in", 16) == 0)
        snprintf(path, sizeof(path), "%s/tests/%s", build ? build : ".", file);
    else
        snprintf(path, sizeof(path), "%s", file);
    assert_int_equal(setenv("ARTHAMON_NVML_LIBRARY", path, 1), 0);
}

static void write_script(const char *text)
{
    FILE *f = fopen(script_path, "we");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

struct run {
    void *state;
    uint64_t mono;
    struct snapshot *snap;
    int rc;
};

static void start(struct run *r, const char *script)
{
    struct coll_env env = {.cfg = NULL, .procfs_root = "/proc", .sysfs_root = "/sys"};

    memset(r, 0, sizeof(*r));
    if (script)
        write_script(script);
    nlog = 0;
    assert_int_equal(coll_gpu.init(&env, &r->state), 0);
    assert_non_null(r->state);
    r->mono = 1000000000ull;
}

/* One tick at r->mono + dt seconds; the snapshot is kept in r->snap. */
static struct snapshot *tick(struct run *r, double dt)
{
    struct coll_tick t;

    snapshot_unref(r->snap);
    r->snap = snapshot_new();
    assert_non_null(r->snap);
    r->snap->node_id = "gpu-host";
    /* what the node fold would report: the collector must leave it alone */
    r->snap->gpu.quantum_sim_usage = 12.5;
    r->mono += (uint64_t)(dt * 1e9);
    t.mono_ns = r->mono;
    t.dt_sec = dt;
    r->rc = coll_gpu.collect(r->state, r->snap, &t);
    snapshot_round(r->snap);
    assert_true(r->snap->gpu.quantum_sim_usage == 12.5);
    return r->snap;
}

static void finish(struct run *r)
{
    coll_gpu.fini(r->state);
    snapshot_unref(r->snap);
    r->state = NULL;
    r->snap = NULL;
}

static int setup(void **state)
{
    int fd;

    (void)state;
    snprintf(script_path, sizeof(script_path), "/tmp/am-nvml-XXXXXX");
    fd = mkstemp(script_path);
    if (fd < 0)
        return -1;
    close(fd);
    setenv("ARTHAMON_NVML_STAND_IN", script_path, 1);
    use_library("libnvml-stand-in.so");
    log_set_stdout(false);
    log_set_level(LOG_DEBUG);
    log_set_hook(on_log, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_set_hook(NULL, NULL);
    unlink(script_path);
    return 0;
}

static char *json_of(const struct snapshot *s, struct strbuf *sb)
{
    strbuf_init(sb, 0);
    assert_int_equal(snapshot_to_json(s, sb), 0);
    return sb->buf;
}

#define assert_contains(hay, needle)                         \
    do {                                                     \
        if (!strstr(hay, needle)) {                          \
            print_error("missing %s\nin %s\n", needle, hay); \
            fail();                                          \
        }                                                    \
    } while (0)

static void assert_gpu_null(const struct snapshot *s)
{
    struct strbuf sb;

    assert_false(s->gpu_present);
    assert_int_equal(s->n_gpus, 0);
    assert_contains(json_of(s, &sb), "\"gpu\":null,\"gpus\":[]");
    strbuf_done(&sb);
}

#define H100_0                                        \
    "device\n"                                        \
    "name NVIDIA H100 80GB HBM3\n"                    \
    "uuid GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001\n" \
    "utilization 37\n"                                \
    "memory 1024 81559 512\n"                         \
    "temperature 41\n"                                \
    "power 71234\n"                                   \
    "clocks 1980 2619\n"
#define H100_1                                        \
    "device\n"                                        \
    "name NVIDIA H100 80GB HBM3\n"                    \
    "uuid GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002\n" \
    "utilization 80\n"                                \
    "memory 40960 81559 512\n"                        \
    "temperature 58\n"                                \
    "power 301500\n"                                  \
    "clocks 1755 2619\n"

/* ---- the aggregation rules ---- */

static struct gpu_device_metrics absent_device(uint32_t index)
{
    struct gpu_device_metrics d;

    memset(&d, 0, sizeof(d));
    d.index = index;
    d.usage_percent = d.memory_used_mb = d.memory_total_mb = d.temperature = ABSENT;
    d.power_watts = d.clock_sm_mhz = d.clock_memory_mhz = ABSENT;
    d.tensor_core_util = d.core_util = ABSENT;
    return d;
}

static void aggregate_rules(void **state)
{
    struct gpu_device_metrics d[3] = {absent_device(0), absent_device(1), absent_device(2)};
    struct gpu_metrics agg = {.quantum_sim_usage = 7};

    (void)state;
    /* no device: every figure null */
    nvml_aggregate(d, 0, &agg);
    assert_absent(agg.usage_percent);
    assert_absent(agg.memory_used_mb);
    assert_absent(agg.temperature);
    assert_absent(agg.power_watts);
    assert_true(agg.quantum_sim_usage == 7);

    d[0].usage_percent = d[0].core_util = 10;
    d[1].usage_percent = d[1].core_util = 40;
    /* d[2] gives no utilisation: the mean is over the two that do */
    d[0].temperature = 50;
    d[1].temperature = 71;
    d[2].temperature = 64;
    d[0].memory_used_mb = 100;
    d[1].memory_used_mb = 200;
    d[2].memory_used_mb = 300;
    d[0].memory_total_mb = d[1].memory_total_mb = 1000;
    /* d[2] has no total: a sum of two would read as the total of three */
    d[0].power_watts = 70.5;
    d[1].power_watts = 300;
    d[2].power_watts = 0;
    d[1].tensor_core_util = 33;
    nvml_aggregate(d, 3, &agg);
    assert_true(agg.usage_percent == 25);
    assert_true(agg.core_util == 25);
    assert_true(agg.tensor_core_util == 33);
    assert_true(agg.temperature == 71);
    assert_true(agg.memory_used_mb == 600);
    assert_absent(agg.memory_total_mb);
    assert_true(agg.power_watts == 370.5);
    assert_true(agg.quantum_sim_usage == 7);
}

/* ---- the collector ---- */

/* Two scripted H100s: every figure exactly as scripted, in the snapshot, the
 * JSON and /metrics; the aggregate follows the documented rules. */
static void scripted_figures(void **state)
{
    struct run r;
    struct snapshot *s;
    struct strbuf sb;
    char *j;

    (void)state;
    start(&r, "driver 550.54.15\n" H100_0 H100_1);
    expect_no_warnings();
    expect_log(LOG_INFO, "(driver 550.54.15): 2 GPUs", 1);
    expect_log(LOG_INFO, "GPU 1: NVIDIA H100 80GB HBM3 GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002",
               1);
    expect_log(LOG_INFO, "tensor_core_util is null", 1);
    s = tick(&r, 0);
    assert_int_equal(r.rc, 0);
    assert_true(s->gpu_present);
    assert_int_equal(s->n_gpus, 2);
    assert_int_equal(s->gpus[0].index, 0);
    assert_string_equal(s->gpus[0].name, "NVIDIA H100 80GB HBM3");
    assert_string_equal(s->gpus[0].uuid, "GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001");
    assert_true(s->gpus[0].usage_percent == 37);
    assert_true(s->gpus[0].core_util == 37);
    assert_absent(s->gpus[0].tensor_core_util);
    assert_true(s->gpus[0].memory_used_mb == 1024); /* v2: the reserved 512 MiB not counted */
    assert_true(s->gpus[0].memory_total_mb == 81559);
    assert_true(s->gpus[0].temperature == 41);
    assert_true(s->gpus[0].power_watts == 71.234);
    assert_true(s->gpus[0].clock_sm_mhz == 1980);
    assert_true(s->gpus[0].clock_memory_mhz == 2619);
    assert_int_equal(s->gpus[1].index, 1);
    assert_true(s->gpus[1].usage_percent == 80);
    /* aggregate: mean, sums, max, sum */
    assert_true(s->gpu.usage_percent == 58.5);
    assert_true(s->gpu.core_util == 58.5);
    assert_true(s->gpu.memory_used_mb == 41984);
    assert_true(s->gpu.memory_total_mb == 163118);
    assert_true(s->gpu.temperature == 58);
    assert_true(s->gpu.power_watts == 372.734);
    assert_absent(s->gpu.tensor_core_util);

    j = json_of(s, &sb);
    assert_contains(j, "\"gpu\":{\"usage_percent\":58.5,\"memory_used_mb\":41984,"
                       "\"memory_total_mb\":163118,\"temperature\":58,\"tensor_core_util\":null,"
                       "\"core_util\":58.5,\"quantum_sim_usage\":12.5,\"power_watts\":372.734},"
                       "\"gpus\":[{\"index\":0,\"name\":\"NVIDIA H100 80GB HBM3\","
                       "\"uuid\":\"GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001\","
                       "\"usage_percent\":37,\"memory_used_mb\":1024,\"memory_total_mb\":81559,"
                       "\"temperature\":41,\"power_watts\":71.234,\"clock_sm_mhz\":1980,"
                       "\"clock_memory_mhz\":2619,\"tensor_core_util\":null,\"core_util\":37},"
                       "{\"index\":1,");
    strbuf_done(&sb);

    strbuf_init(&sb, 0);
    assert_int_equal(prom_render(&sb, PROM_TEXT, s, NULL), 0);
    j = sb.buf;
    assert_contains(j, "\narthamon_gpu_usage_ratio{node_id=\"gpu-host\"} 0.585\n");
    assert_contains(j, "\narthamon_gpu_memory_used_bytes{node_id=\"gpu-host\"} 44023414784\n");
    assert_contains(j, "\narthamon_gpu_power_watts{node_id=\"gpu-host\"} 372.734\n");
    assert_contains(j, "\narthamon_gpu_temperature_celsius{node_id=\"gpu-host\"} 58\n");
    assert_contains(j, "\narthamon_gpu_device_usage_ratio{node_id=\"gpu-host\",gpu=\"0\","
                       "name=\"NVIDIA H100 80GB HBM3\","
                       "uuid=\"GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001\"} 0.37\n");
    assert_contains(j, "\narthamon_gpu_device_memory_used_bytes{node_id=\"gpu-host\",gpu=\"1\","
                       "name=\"NVIDIA H100 80GB HBM3\","
                       "uuid=\"GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002\"} 42949672960\n");
    assert_contains(j, "\narthamon_gpu_device_sm_clock_hertz{node_id=\"gpu-host\",gpu=\"0\","
                       "name=\"NVIDIA H100 80GB HBM3\","
                       "uuid=\"GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001\"} 1980000000\n");
    assert_contains(j, "\narthamon_gpu_device_power_watts{node_id=\"gpu-host\",gpu=\"1\","
                       "name=\"NVIDIA H100 80GB HBM3\","
                       "uuid=\"GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002\"} 301.5\n");
    assert_null(strstr(j, "tensor_core_utilization_ratio{"));
    strbuf_done(&sb);

    /* steady: the same figures every tick, nothing more logged */
    nlog = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(tick(&r, 1)->n_gpus, 2);
    assert_int_equal(nlog, 0);
    finish(&r);
}

/* Drivers without the v2 memory call: used includes the driver's reservation,
 * as the v1 call counts it; said once. */
static void memory_v1(void **state)
{
    struct run r;
    struct snapshot *s;

    (void)state;
    start(&r, "no_memory_v2 13\n" H100_0);
    s = tick(&r, 0);
    assert_true(s->gpus[0].memory_used_mb == 1536);
    assert_true(s->gpus[0].memory_total_mb == 81559);
    expect_log(LOG_INFO, "nvmlDeviceGetMemoryInfo_v2: Function Not Found", 1);
    tick(&r, 1);
    expect_log(LOG_INFO, "nvmlDeviceGetMemoryInfo_v2", 1);
    finish(&r);

    /* a library without the v2 symbol (nor a driver version) */
    use_library("libnvml-stand-in-v1.so");
    start(&r, H100_0);
    s = tick(&r, 0);
    assert_true(s->gpus[0].memory_used_mb == 1536);
    expect_log(LOG_INFO, "(driver unknown): 1 GPU", 1);
    expect_log(LOG_INFO, "has no nvmlDeviceGetMemoryInfo_v2", 1);
    expect_no_warnings();
    finish(&r);
    use_library("libnvml-stand-in.so");

    /* a v2 refusal other than "not there" is a failed query, not a fallback */
    start(&r, "no_memory_v2 999\n" H100_0);
    s = tick(&r, 0);
    assert_absent(s->gpus[0].memory_used_mb);
    assert_absent(s->gpu.memory_used_mb);
    expect_log(LOG_WARN, "GPU 0: nvmlDeviceGetMemoryInfo: Unknown Error", 1);
    finish(&r);
}

/* No NVML at all: an info line, gpu null, the agent runs on; a library that is
 * not NVML: a warning. */
static void no_library(void **state)
{
    struct run r;

    (void)state;
    use_library("/nonexistent/libnvidia-ml.so.1");
    start(&r, NULL);
    expect_log(LOG_INFO, "no GPU measured: cannot load /nonexistent/libnvidia-ml.so.1", 1);
    expect_no_warnings();
    for (int i = 0; i < 3; i++) {
        assert_gpu_null(tick(&r, i ? 1 : 0));
        assert_int_equal(r.rc, 0);
    }
    /* tried again every 300 s, quietly */
    tick(&r, 301);
    tick(&r, 301);
    assert_gpu_null(r.snap);
    assert_int_equal(nlog, 1);
    finish(&r);

    use_library("libm.so.6");
    start(&r, NULL);
    expect_log(LOG_WARN, "libm.so.6 has no nvmlInit_v2", 1);
    assert_gpu_null(tick(&r, 0));
    finish(&r);
    use_library("libnvml-stand-in.so");

    /* the environment variable empty: the default library, absent here */
    setenv("ARTHAMON_NVML_LIBRARY", "", 1);
    start(&r, NULL);
    if (logged(LOG_INFO, "cannot load libnvidia-ml.so.1") == 0) {
        /* (a host with the NVIDIA driver: the real library answered) */
        print_message("note: libnvidia-ml.so.1 is installed here\n");
    }
    finish(&r);
    use_library("libnvml-stand-in.so");
}

/* NVML failing to start: why is logged once; it is tried again every 300 s and
 * picked up when it works. */
static void init_failure_and_retry(void **state)
{
    struct run r;
    struct snapshot *s;

    (void)state;
    /* the driver's kernel module not loaded: the ordinary state of a host without a GPU */
    start(&r, "init_error 9\n" H100_0);
    expect_log(LOG_INFO, "no GPU measured: nvmlInit_v2: Driver Not Loaded", 1);
    expect_no_warnings();
    assert_gpu_null(tick(&r, 0));
    finish(&r);

    start(&r, "init_error 4\n" H100_0);
    expect_log(LOG_WARN, "nvmlInit_v2: Insufficient Permissions", 1);
    assert_gpu_null(tick(&r, 0));
    assert_int_equal(r.rc, 0);
    assert_gpu_null(tick(&r, 200)); /* the retry is armed at the first tick */
    assert_gpu_null(tick(&r, 101)); /* tried, fails again: not logged again */
    assert_gpu_null(tick(&r, 299));
    assert_int_equal(nlog, 1);
    write_script(H100_0);
    s = tick(&r, 1); /* 300 s after the last try */
    assert_int_equal(r.rc, 0);
    assert_true(s->gpu_present);
    assert_int_equal(s->n_gpus, 1);
    expect_log(LOG_INFO, "NVML works again", 1);
    finish(&r);
}

static void no_gpu_and_count_errors(void **state)
{
    struct run r;

    (void)state;
    start(&r, "# a driver and no GPU\n");
    expect_log(LOG_INFO, "NVML sees no GPU", 1);
    expect_no_warnings();
    assert_gpu_null(tick(&r, 0));
    finish(&r);

    start(&r, "count_error 999\n" H100_0);
    expect_log(LOG_WARN, "nvmlDeviceGetCount_v2: Unknown Error", 1);
    assert_gpu_null(tick(&r, 0));
    finish(&r);
}

/* A GPU NVML cannot open is left out; one without a name or UUID has them null. */
static void handles_names_and_uuids(void **state)
{
    struct run r;
    struct snapshot *s;
    struct strbuf sb;

    (void)state;
    start(&r, H100_0 "error handle 999\n" H100_1 "error name 3\nerror uuid 999\n");
    expect_log(LOG_WARN, "GPU 0: nvmlDeviceGetHandleByIndex_v2: Unknown Error; it is left out", 1);
    expect_log(LOG_INFO, "GPU 1: (no name) (no UUID)", 1);
    s = tick(&r, 0);
    assert_int_equal(s->n_gpus, 1);
    assert_int_equal(s->gpus[0].index, 1);
    assert_null(s->gpus[0].name);
    assert_null(s->gpus[0].uuid);
    assert_true(s->gpu.usage_percent == 80);
    assert_contains(json_of(s, &sb), "\"gpus\":[{\"index\":1,\"name\":null,\"uuid\":null,");
    strbuf_done(&sb);
    finish(&r);

    start(&r, H100_0 "error handle 999\n");
    expect_log(LOG_WARN, "none of the 1 GPUs NVML lists could be opened", 1);
    assert_gpu_null(tick(&r, 0));
    finish(&r);
}

/* One query failing: its figures null while it fails (logged once), back after. */
static void query_errors(void **state)
{
    struct run r;
    struct snapshot *s;

    (void)state;
    start(&r, H100_0 "error temperature 999 2 3\nerror power 3\n" H100_1);
    s = tick(&r, 0);
    assert_true(s->gpus[0].temperature == 41);
    assert_absent(s->gpus[0].power_watts);
    /* a sum over some GPUs would read as the total: null */
    assert_absent(s->gpu.power_watts);
    expect_log(LOG_WARN, "GPU 0: nvmlDeviceGetPowerUsage: Not Supported; its power_watts is null",
               1);
    nlog = 0;
    s = tick(&r, 1);
    assert_absent(s->gpus[0].temperature);
    assert_true(s->gpu.temperature == 58); /* the other GPU's */
    expect_log(LOG_WARN, "GPU 0: nvmlDeviceGetTemperature: Unknown Error; its temperature is null",
               1);
    s = tick(&r, 1);
    assert_absent(s->gpus[0].temperature);
    s = tick(&r, 1);
    assert_true(s->gpus[0].temperature == 41);
    expect_log(LOG_INFO, "GPU 0: nvmlDeviceGetTemperature answers again", 1);
    assert_int_equal(nlog, 2);
    finish(&r);

    /* every query failing: the GPU is left out while so */
    start(&r,
          H100_0 "error utilization 999 1 2\nerror memory 999 1 2\nerror temperature 999 1 2\n"
                 "error power 999 1 2\nerror clock_sm 999 1 2\nerror clock_mem 999 1 2\n" H100_1);
    s = tick(&r, 0);
    assert_int_equal(r.rc, 0);
    assert_int_equal(s->n_gpus, 1);
    assert_int_equal(s->gpus[0].index, 1);
    assert_true(s->gpu.usage_percent == 80);
    expect_log(LOG_WARN, "GPU 0 answers no query", 1);
    expect_log_count(LOG_WARN, 7);
    tick(&r, 1);
    expect_log_count(LOG_WARN, 7);
    s = tick(&r, 1);
    assert_int_equal(s->n_gpus, 2);
    expect_log(LOG_INFO, "GPU 0 answers again", 1);
    finish(&r);

    /* the only GPU answering nothing: gpu null, the tick counted as failed */
    start(&r, H100_0 "error utilization 999\nerror memory 999\nerror temperature 999\n"
                     "error power 999\nerror clock_sm 999\nerror clock_mem 999\n");
    assert_gpu_null(tick(&r, 0));
    assert_int_equal(r.rc, -EIO);
    finish(&r);
}

/* A GPU falling off the bus is dropped; the last one dropped closes NVML, which
 * is tried again like at start. */
static void lost_gpus(void **state)
{
    struct run r;
    struct snapshot *s;

    (void)state;
    start(&r, H100_0 "lost 3\n" H100_1 "lost 5\n");
    for (int i = 0; i < 2; i++)
        assert_int_equal(tick(&r, i ? 1 : 0)->n_gpus, 2);
    nlog = 0;
    s = tick(&r, 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(s->n_gpus, 1);
    assert_int_equal(s->gpus[0].index, 1);
    assert_true(s->gpu.usage_percent == 80);
    assert_true(s->gpu.memory_total_mb == 81559);
    expect_log(LOG_WARN, "GPU 0 (GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001) is lost", 1);
    s = tick(&r, 1);
    assert_int_equal(s->n_gpus, 1);
    assert_int_equal(nlog, 1);
    s = tick(&r, 1);
    assert_gpu_null(s);
    assert_int_equal(r.rc, -ENODEV);
    expect_log(LOG_WARN, "GPU 1 (GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a002) is lost", 1);
    expect_log(LOG_WARN, "every GPU is lost: gpu is null", 1);
    nlog = 0;
    for (int i = 0; i < 3; i++) {
        assert_gpu_null(tick(&r, 1));
        assert_int_equal(r.rc, 0);
    }
    assert_int_equal(nlog, 0);
    /* 300 s on: NVML is opened again and lists both (the stand-in counts afresh) */
    s = tick(&r, 300);
    assert_int_equal(s->n_gpus, 2);
    expect_log(LOG_INFO, "NVML works again", 1);
    finish(&r);
}

static void many_gpus(void **state)
{
    struct run r;
    struct snapshot *s;

    (void)state;
    start(&r, H100_0 "clone 69\n");
    expect_log(LOG_WARN, "70 GPUs: only the first 64 are measured", 1);
    s = tick(&r, 0);
    assert_int_equal(s->n_gpus, SNAPSHOT_GPU_MAX);
    assert_int_equal(s->gpus[63].index, 63);
    assert_string_equal(s->gpus[63].uuid, "GPU-5d1c3f5e-0a6b-4c4e-9d59-6c8a01f0a001-c63");
    assert_true(s->gpu.memory_total_mb == 64.0 * 81559);
    finish(&r);
    coll_gpu.fini(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aggregate_rules),
        cmocka_unit_test(scripted_figures),
        cmocka_unit_test(memory_v1),
        cmocka_unit_test(no_library),
        cmocka_unit_test(init_failure_and_retry),
        cmocka_unit_test(no_gpu_and_count_errors),
        cmocka_unit_test(handles_names_and_uuids),
        cmocka_unit_test(query_errors),
        cmocka_unit_test(lost_gpus),
        cmocka_unit_test(many_gpus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
