/*
 * The host collectors against fixture trees (tests/fixtures/): real captures from a
 * Debian VM and hand-made edge cases (256 cores, cores going offline, counters that
 * wrap or go backwards, missing, truncated and garbage files). Every case must give
 * either the correct figure or an absent one with exactly one logged warning, and
 * never a crash or a negative rate.
 *
 * The harness copies a case's step t0 into a scratch root, starts the collectors
 * there (procfs_root = ROOT/proc, sysfs_root = ROOT/sys), then overwrites the files
 * in place for each later step — same inodes, as the kernel re-renders a file that
 * stays open — and collects with a fixed 1 s interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "core/sampler.h"

/* ---- captured warnings ---- */

#define MAX_WARN 64
static char warn_msgs[MAX_WARN][512];
static unsigned nwarn;

static void on_log(void *ud, enum log_level level, const char *module, const char *msg)
{
    (void)ud;
    if (level != LOG_WARN)
        return;
    if (nwarn < MAX_WARN)
        snprintf(warn_msgs[nwarn], sizeof(warn_msgs[0]), "%s: %s", module, msg);
    nwarn++;
}

/* The warnings logged since the last call must be exactly these (any order). */
static void expect_warnings(unsigned n, ...)
{
    va_list ap;
    bool used[MAX_WARN] = {false};

    if (nwarn != n) {
        print_error("expected %u warnings, got %u:\n", n, nwarn);
        for (unsigned i = 0; i < nwarn && i < MAX_WARN; i++)
            print_error("  %s\n", warn_msgs[i]);
        fail();
    }
    va_start(ap, n);
    for (unsigned i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        bool hit = false;
        for (unsigned j = 0; j < nwarn && !hit; j++) {
            if (!used[j] && strstr(warn_msgs[j], want)) {
                used[j] = hit = true;
            }
        }
        if (!hit) {
            print_error("no warning containing '%s'; got:\n", want);
            for (unsigned j = 0; j < nwarn; j++)
                print_error("  %s\n", warn_msgs[j]);
            va_end(ap);
            fail();
        }
    }
    va_end(ap);
    nwarn = 0;
}

/* ---- the harness ---- */

struct harness {
    char root[64];
    char fixture[4096];
    char procfs[128], sysfs[128];
    struct config cfg;
    struct sampler s;
    uint64_t mono;
    struct snapshot *snap;
};

static const char *copy_dst_root;
static size_t copy_src_len;

static int copy_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    char dst[8192], buf[65536], target[4096];
    ssize_t n;
    int in, out;

    (void)ftw;
    snprintf(dst, sizeof(dst), "%s%s", copy_dst_root, path + copy_src_len);
    if (type == FTW_D) {
        mkdir(dst, 0755);
        return 0;
    }
    if (type == FTW_SL) {
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
            return -1;
        target[n] = '\0';
        unlink(dst);
        return symlink(target, dst);
    }
    if (type != FTW_F || !S_ISREG(sb->st_mode))
        return 0;
    /* in place: truncate and rewrite the same inode */
    in = open(path, O_RDONLY | O_CLOEXEC);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0)
        return -1;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            return -1;
    close(in);
    close(out);
    return 0;
}

static void load_step(struct harness *h, const char *step)
{
    char src[8192];

    snprintf(src, sizeof(src), "%s/%s", h->fixture, step);
    copy_dst_root = h->root;
    copy_src_len = strlen(src);
    assert_int_equal(nftw(src, copy_one, 16, FTW_PHYS), 0);
}

static void collect_step(struct harness *h, double dt)
{
    struct coll_tick tick;

    snapshot_unref(h->snap);
    h->snap = snapshot_new();
    assert_non_null(h->snap);
    h->mono += 1000000000ull;
    tick.mono_ns = h->mono;
    tick.dt_sec = dt;
    for (unsigned i = 0; i < h->s.nslots; i++)
        if (h->s.slots[i].state)
            h->s.slots[i].ops->collect(h->s.slots[i].state, h->snap, &tick);
    snapshot_round(h->snap);
}

static struct harness *start(const char *fixture_case)
{
    struct harness *h = calloc(1, sizeof(*h));
    const char *fx = getenv("ARTHAMON_FIXTURES");

    assert_non_null(h);
    snprintf(h->fixture, sizeof(h->fixture), "%s/%s", fx ? fx : "tests/fixtures", fixture_case);
    snprintf(h->root, sizeof(h->root), "/tmp/am-fx-XXXXXX");
    assert_non_null(mkdtemp(h->root));
    load_step(h, "t0");
    snprintf(h->procfs, sizeof(h->procfs), "%s/proc", h->root);
    snprintf(h->sysfs, sizeof(h->sysfs), "%s/sys", h->root);
    config_defaults(&h->cfg);
    free(h->cfg.agent.procfs_root);
    free(h->cfg.agent.sysfs_root);
    free(h->cfg.agent.disk_path);
    h->cfg.agent.procfs_root = strdup(h->procfs);
    h->cfg.agent.sysfs_root = strdup(h->sysfs);
    h->cfg.agent.disk_path = strdup(h->root);
    h->cfg.agent.node_id = strdup("fixture");
    h->cfg.agent.p2p_ports.v[0] = 1; /* real sock_diag query; nothing listens on port 1 */
    h->cfg.agent.p2p_ports.n = 1;
    nwarn = 0;
    log_set_stdout(false);
    log_set_level(LOG_INFO);
    log_set_hook(on_log, NULL);
    assert_int_equal(sampler_init(&h->s, &h->cfg), 0);
    collect_step(h, 0);
    return h;
}

static struct snapshot *step(struct harness *h, const char *name)
{
    load_step(h, name);
    collect_step(h, 1.0);
    return h->snap;
}

static void finish(struct harness *h)
{
    char cmd[256];

    log_set_hook(NULL, NULL);
    snapshot_unref(h->snap);
    sampler_done(&h->s);
    config_done(&h->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->root);
    assert_int_equal(system(cmd), 0);
    free(h);
}

#define assert_near(v, want, tol)                                                    \
    do {                                                                             \
        double v_ = (v), w_ = (want);                                                \
        if (!(fabs(v_ - w_) <= (tol))) {                                             \
            print_error("%s = %g, expected %g (+-%g)\n", #v, v_, w_, (double)(tol)); \
            fail();                                                                  \
        }                                                                            \
    } while (0)

/* ---- cases ---- */

/* Captured on a 2-vCPU Debian 12 VM (capture.sh) while dd wrote 200 MB with
 * O_DIRECT and a shell spun: figures from the raw deltas (see make_edge_cases.py's
 * header for the method): cpu +79 user +64 nice +80 system +14 steal, 0 idle;
 * vda +4 reads/+232 sectors, +195 writes/+399360 sectors; no network traffic. */
static void real_vm(void **state)
{
    struct harness *h = start("real-vm");
    struct snapshot *s;

    (void)state;
    expect_warnings(1, "cpu: no CPU temperature sensor");
    s = step(h, "t1");
    assert_near(s->cpu.usage_percent, 100, 0.001);
    assert_int_equal(s->cpu.n_cores, 2);
    assert_near(s->cpu.core_usage[0], 100, 0.001);
    assert_near(s->cpu.core_usage[1], 100, 0.001);
    assert_near(s->cpu.frequency_mhz, 2445.4, 0.001);
    assert_absent(s->cpu.temperature);
    assert_near(s->cpu.seconds_total[0], 74.39, 0.001);
    assert_near(s->memory.physical_used_mb, 482, 0.001);
    assert_near(s->memory.physical_total_mb, 24105, 0.001);
    assert_near(s->memory.virtual_used_mb, 442, 0.001);
    assert_near(s->memory.swap_used_mb, 0, 0.001);
    assert_near(s->disk.devices, 1, 0); /* vda; loop0-7 and zram0 are virtual */
    assert_near(s->disk.read_ops_per_sec, 4, 0.001);
    assert_near(s->disk.read_mbps, 0.113, 0.0001);
    assert_near(s->disk.write_ops_per_sec, 195, 0.001);
    assert_near(s->disk.write_mbps, 195, 0.001);
    assert_near(s->disk.written_bytes_total, 1066942464, 0.5);
    assert_near(s->network.ingress_kbps, 0, 0);
    assert_near(s->network.egress_kbps, 0, 0);
    assert_absent(s->network.packet_loss_percent); /* no segment sent: no ratio */
    assert_near(s->network.open_sockets, 14, 0);
    assert_near(s->network.p2p_connections, 0, 0);
    assert_absent(s->network.latency_ms);
    assert_near(s->cpu.process_usage, 1, 0.001);
    assert_near(s->memory.process_rss_mb, 1.36, 0.001);
    assert_true(IS_SET(s->disk.usage_percent) && IS_SET(s->disk.available_gb));
    expect_warnings(0);
    finish(h);
}

static void cores_256(void **state)
{
    struct harness *h = start("cores-256");
    struct snapshot *s;
    double sum = 0;

    (void)state;
    expect_warnings(0);
    s = step(h, "t1");
    assert_int_equal(s->cpu.n_cores, 256);
    assert_near(s->cpu.online_cores, 256, 0);
    for (unsigned i = 0; i < 256; i++) {
        assert_near(s->cpu.core_usage[i], i % 101, 0.001);
        sum += i % 101;
    }
    assert_near(s->cpu.usage_percent, round_to(sum / 256, 2), 0.001);
    assert_near(s->cpu.frequency_mhz, 1127.5, 0.001); /* mean of 1000..1255 MHz */
    assert_near(s->cpu.temperature, 45.5, 0.001);     /* k10temp; the nvme sensor is ignored */
    /* 100 MiB written through dm-0 to nvme0n1p1 on nvme0n1: counted once; loop0 not at all */
    assert_near(s->disk.devices, 1, 0);
    assert_near(s->disk.write_ops_per_sec, 100, 0.001);
    assert_near(s->disk.write_mbps, 100, 0.001);
    assert_near(s->disk.read_ops_per_sec, 0, 0);
    assert_near(s->network.ingress_kbps, 100, 0.001); /* lo's 1 MiB excluded */
    assert_near(s->network.egress_kbps, 50, 0.001);
    assert_near(s->network.packet_loss_percent, 4.762, 0.001); /* 50 of 1000 + 50 sent */
    assert_near(s->network.open_sockets, 321, 0);
    assert_near(s->cpu.process_usage, 50, 0.001); /* 50 ticks of 10 ms in 1 s */
    assert_near(s->memory.physical_used_mb, 4096, 0);
    assert_near(s->memory.physical_total_mb, 16384, 0);
    assert_near(s->memory.virtual_used_mb, 8192, 0);
    assert_near(s->memory.swap_used_mb, 512, 0);
    assert_near(s->memory.process_rss_mb, 10, 0.001);
    assert_near(s->memory.process_virtual_mb, 100, 0.001);
    expect_warnings(0);
    finish(h);
}

static void core_offline(void **state)
{
    struct harness *h = start("core-offline");
    struct snapshot *s;

    (void)state;
    expect_warnings(1, "no CPU temperature sensor");
    s = step(h, "t1"); /* cpu2 and cpu3 offline */
    assert_int_equal(s->cpu.n_cores, 4);
    assert_near(s->cpu.online_cores, 2, 0);
    assert_near(s->cpu.core_usage[0], 25, 0.001);
    assert_near(s->cpu.core_usage[1], 25, 0.001);
    assert_absent(s->cpu.core_usage[2]);
    assert_absent(s->cpu.core_usage[3]);
    assert_near(s->cpu.usage_percent, 25, 0.001);
    s = step(h, "t2"); /* cpu2 back: a baseline first */
    assert_int_equal(s->cpu.n_cores, 4);
    assert_absent(s->cpu.core_usage[2]);
    assert_near(s->cpu.core_usage[1], 25, 0.001);
    s = step(h, "t3");
    assert_near(s->cpu.core_usage[2], 25, 0.001);
    assert_absent(s->cpu.core_usage[3]);
    expect_warnings(0); /* hotplug is normal, not a warning */
    finish(h);
}

static void counters_backwards(void **state)
{
    struct harness *h = start("counters-backwards");
    struct snapshot *s;

    (void)state;
    expect_warnings(1, "no CPU temperature sensor");
    s = step(h, "t1");
    assert_absent(s->cpu.usage_percent);               /* total went back */
    assert_absent(s->cpu.core_usage[0]);               /* cpu0 too */
    assert_near(s->cpu.core_usage[1], 50, 0.001);      /* an iowait dip is tolerated */
    assert_near(s->disk.write_ops_per_sec, 10, 0.001); /* re-created device: counted from 0 */
    assert_near(s->disk.write_mbps, 1, 0.001);
    assert_near(s->network.ingress_kbps, 0.78, 0.001); /* 32-bit wrap: 296 + 500 bytes */
    assert_near(s->network.egress_kbps, 0.1, 0.001);   /* 64-bit reset: 100 bytes from 0 */
    assert_absent(s->network.packet_loss_percent);
    assert_absent(s->cpu.process_usage);
    expect_warnings(5, "cpu: CPU time counters went backwards",
                    "disk: a disk counter went backwards",
                    "network: an interface counter went backwards",
                    "network: TCP segment counters went backwards", "process: CPU time of process");
    s = step(h, "t2");
    assert_near(s->cpu.usage_percent, 50, 0.001);
    assert_near(s->cpu.core_usage[0], 50, 0.001);
    assert_near(s->cpu.core_usage[1], 50, 0.001);
    assert_near(s->disk.write_ops_per_sec, 10, 0.001);
    assert_near(s->disk.write_mbps, 1, 0.001);
    assert_near(s->network.ingress_kbps, 1, 0.001);
    assert_near(s->network.egress_kbps, 1, 0.001);
    assert_near(s->network.packet_loss_percent, 9.091, 0.001); /* 10 of 100 + 10 */
    assert_near(s->cpu.process_usage, 25, 0.001);
    expect_warnings(0);
    finish(h);
}

static void missing_files(void **state)
{
    struct harness *h = start("missing-files");
    struct snapshot *s;

    (void)state;
    expect_warnings(7, "sampler: collector 'memory' disabled", "sampler: collector 'disk' disabled",
                    "cpu: CPU frequency unavailable", "cpu: no CPU temperature sensor",
                    "network: TCP counters unavailable", "network: /proc/net/sockstat missing",
                    "process: monitored process (arthamon itself) not found");
    s = step(h, "t1");
    assert_near(s->cpu.usage_percent, 50, 0.001);
    assert_near(s->cpu.core_usage[1], 50, 0.001);
    assert_absent(s->cpu.frequency_mhz);
    assert_absent(s->memory.physical_used_mb);
    assert_absent(s->disk.write_ops_per_sec);
    assert_absent(s->network.packet_loss_percent);
    assert_absent(s->network.open_sockets);
    assert_near(s->network.ingress_kbps, 0, 0);
    assert_absent(s->cpu.process_usage);
    expect_warnings(0); /* the same conditions are not reported twice */
    finish(h);
}

static void truncated(void **state)
{
    struct harness *h = start("truncated");
    struct snapshot *s;

    (void)state;
    expect_warnings(1, "no CPU temperature sensor");
    s = step(h, "t1");
    assert_near(s->cpu.usage_percent, 50, 0.001);
    assert_near(s->cpu.core_usage[0], 50, 0.001);
    assert_absent(s->cpu.core_usage[1]); /* its line was cut */
    assert_near(s->memory.physical_total_mb, 8192, 0);
    assert_absent(s->memory.physical_used_mb);
    assert_absent(s->memory.virtual_used_mb);
    assert_near(s->disk.write_ops_per_sec, 10, 0.001); /* sda; sdb's line was cut */
    assert_near(s->network.ingress_kbps, 1, 0.001);    /* eth0; eth1's line was cut */
    assert_absent(s->network.packet_loss_percent);
    assert_absent(s->cpu.process_usage);
    expect_warnings(5, "memory: ", "disk: ", "network: /", "network: TCP counters unavailable",
                    "process: ");
    s = step(h, "t2");
    assert_near(s->cpu.usage_percent, 50, 0.001);
    assert_absent(s->cpu.core_usage[1]); /* back: a baseline first */
    assert_near(s->memory.physical_used_mb, 2048, 0);
    assert_near(s->disk.write_ops_per_sec, 10, 0.001);
    assert_near(s->network.ingress_kbps, 1, 0.001);
    expect_warnings(0);
    finish(h);
}

static void check_sane(const struct snapshot *s)
{
    const double pct[] = {s->cpu.usage_percent, s->disk.usage_percent,
                          s->network.packet_loss_percent};
    const double nonneg[] = {
        s->disk.read_ops_per_sec,   s->disk.write_ops_per_sec, s->disk.read_mbps,
        s->disk.write_mbps,         s->network.ingress_kbps,   s->network.egress_kbps,
        s->memory.physical_used_mb, s->memory.swap_used_mb,    s->memory.virtual_used_mb,
        s->network.open_sockets,    s->cpu.frequency_mhz,      s->cpu.process_usage};

    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        if (IS_SET(pct[i]) && !(pct[i] >= 0 && pct[i] <= 100)) {
            print_error("percentage %zu out of range: %g\n", i, pct[i]);
            fail();
        }
    }
    for (size_t i = 0; i < sizeof(nonneg) / sizeof(nonneg[0]); i++)
        if (IS_SET(nonneg[i]))
            assert_true(nonneg[i] >= 0);
    for (uint32_t i = 0; i < s->cpu.n_cores; i++)
        if (IS_SET(s->cpu.core_usage[i]))
            assert_true(s->cpu.core_usage[i] >= 0 && s->cpu.core_usage[i] <= 100);
}

static void garbage(void **state)
{
    struct harness *h = start("garbage");
    unsigned after_garbage;

    (void)state;
    expect_warnings(1, "no CPU temperature sensor");
    check_sane(step(h, "t1"));
    after_garbage = nwarn;
    /* each broken source says so, once */
    assert_true(after_garbage >= 1 && after_garbage <= 8);
    check_sane(step(h, "t1"));
    assert_int_equal(nwarn, after_garbage);
    check_sane(step(h, "t2"));
    check_sane(step(h, "t2"));
    assert_int_equal(nwarn, after_garbage);
    nwarn = 0;
    finish(h);
}

static void thermal_zone(void **state)
{
    struct harness *h = start("thermal-zone");
    struct snapshot *s;

    (void)state;
    expect_warnings(0);
    s = step(h, "t1");
    assert_near(s->cpu.temperature, 61, 0.001);       /* x86_pkg_temp; acpitz ignored */
    assert_near(s->cpu.frequency_mhz, 1900.2, 0.001); /* mean of the four "cpu MHz" */
    expect_warnings(0);
    finish(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_vm),       cmocka_unit_test(cores_256),
        cmocka_unit_test(core_offline),  cmocka_unit_test(counters_backwards),
        cmocka_unit_test(missing_files), cmocka_unit_test(truncated),
        cmocka_unit_test(garbage),       cmocka_unit_test(thermal_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
