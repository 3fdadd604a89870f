/*
 * bench/tick: CPU time per tick of all host collectors, beside the floor: the CPU
 * time of merely re-reading the same files in the same run (pread of every file
 * the collectors keep open, and the statvfs of the watched path), and their ratio.
 *
 *   bench_tick [-c FILE] [-n TICKS]     (default: 10000 ticks, P2P ports 30303 and 9000)
 *
 * CPU time is getrusage(RUSAGE_SELF) user+system. Ticks and floor alternate in
 * blocks, so that drift in the machine's load hits both alike; each floor block
 * replays exactly the reads of the tick block before it, file for file.
 *
 * The P2P figures come from sock_diag, which is not a file: a full dump walks the
 * kernel's whole TCP hash table, so the tracker (src/collect/p2p.c) dumps only when
 * the host's TCP counters moved and at most as often as keeps dumps within
 * P2P_DUMP_BUDGET of a core, and refreshes known connections by exact lookups in
 * between. Ticks here follow each other in microseconds, so the budget keeps
 * dumps out of the loop; their cost is measured apart and reported per second of
 * real sampling, which is what the daemon pays (bench/overhead measures it whole).
 */
#define LOG_MODULE "bench"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "collect/p2p.h"
#include "collect/sockdiag.h"
#include "common/procfile.h"
#include "bench_config.h"
#include "common/parse.h"
#include "core/sampler.h"

static const char default_yaml[] = "agent:\n"
                                   "  p2p_ports: [30303, 9000]\n"
                                   "  console_summary: false\n"
                                   "monitoring:\n"
                                   "  logging: {level: error}\n";

static double cpu_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* The floor re-reads what the tick read, file for file: each file the sampler keeps
 * open, as often per tick as the measured ticks read it (cpuinfo, once steady, is
 * read once a minute, not every tick). */
struct floor {
    int fds[256];
    char *paths[256];
    unsigned long reads[256]; /* the tick's reads during the last tick block */
    unsigned long total[256]; /* ... and during all of them */
    unsigned long base[256];
    unsigned nfds;
    char buf[65536];
};

static void collect_files(void *ctx, const struct procfile *pf)
{
    struct floor *fl = ctx;

    if (fl->nfds >= 256)
        return;
    fl->paths[fl->nfds] = strdup(pf->path);
    fl->fds[fl->nfds] = open(pf->path, O_RDONLY | O_CLOEXEC);
    fl->base[fl->nfds] = pf->reads;
    fl->reads[fl->nfds] = fl->total[fl->nfds] = 0;
    if (fl->fds[fl->nfds] >= 0)
        fl->nfds++;
    else
        free(fl->paths[fl->nfds]);
}

struct reads_ctx {
    struct floor *fl;
    unsigned i;
};

static void count_reads(void *ctx, const struct procfile *pf)
{
    struct reads_ctx *rc = ctx;

    if (rc->i < rc->fl->nfds) {
        rc->fl->reads[rc->i] = pf->reads - rc->fl->base[rc->i];
        rc->fl->total[rc->i] += rc->fl->reads[rc->i];
        rc->fl->base[rc->i] = pf->reads;
    }
    rc->i++;
}

/* One tick's worth of reads: file i is read in iteration `it` when the tick read it
 * that often (reads[i] of nticks), spread evenly. */
static void floor_once(struct floor *fl, const struct config *cfg, uint64_t it, uint64_t nticks)
{
    struct statvfs sv;

    for (unsigned i = 0; i < fl->nfds; i++) {
        off_t off = 0;
        ssize_t n;
        if ((it * fl->reads[i]) / nticks == ((it + 1) * fl->reads[i]) / nticks)
            continue;
        while ((n = pread(fl->fds[i], fl->buf, sizeof(fl->buf), off)) > 0)
            off += n;
    }
    statvfs(cfg->agent.disk_path, &sv);
}

static double thread_cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void count_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    (void)seq;
    (void)s;
    (*(unsigned *)ctx)++;
}

/* What the P2P figures cost a sampling daemon per second, measured here. */
static void p2p_costs(const struct config *cfg)
{
    struct sockdiag *sd;
    unsigned found = 0;
    double c0, one, all2;
    const int reps = 20;

    if (!cfg->agent.p2p_ports.n || sockdiag_open(&sd) < 0) {
        printf("  P2P: none configured or no sock_diag: nothing to measure\n");
        return;
    }
    c0 = thread_cpu_us();
    for (int i = 0; i < reps; i++)
        sockdiag_dump(sd, SOCKDIAG_ALL_FAMILIES, cfg->agent.p2p_ports.v, cfg->agent.p2p_ports.n,
                      count_sock, &found);
    one = (thread_cpu_us() - c0) / reps;
    c0 = thread_cpu_us();
    for (int i = 0; i < reps; i++) {
        sockdiag_dump(sd, AF_INET, cfg->agent.p2p_ports.v, cfg->agent.p2p_ports.n, count_sock,
                      &found);
        sockdiag_dump(sd, AF_INET6, cfg->agent.p2p_ports.v, cfg->agent.p2p_ports.n, count_sock,
                      &found);
    }
    all2 = (thread_cpu_us() - c0) / reps;
    printf("  P2P: a full sock_diag dump costs %.1f us of CPU (one walk for both families; "
           "%.1f us as two per-family walks)\n",
           one, all2);
    printf("       dumps are spaced >= %.1f s apart (cost / %.4f of a core, at most %.0f s): "
           "<= %.1f us per second of sampling\n",
           one / 1e6 / P2P_DUMP_BUDGET, P2P_DUMP_BUDGET, P2P_MAX_SPACING_NS / 1e9,
           one / (one / 1e6 / P2P_DUMP_BUDGET > P2P_MAX_SPACING_NS / 1e9
                      ? P2P_MAX_SPACING_NS / 1e9
                      : one / 1e6 / P2P_DUMP_BUDGET));
    sockdiag_free(sd);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t nticks = 10000;
    struct config cfg;
    struct sampler s;
    struct floor fl;
    double t_tick = 0, t_floor = 0, c0;
    const unsigned blocks = 10;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc && parse_u64(argv[i + 1], &nticks) == 0 &&
                 nticks >= blocks)
            i++;
        else {
            fprintf(stderr, "usage: bench_tick [-c FILE] [-n TICKS]\n");
            return 2;
        }
    }
    if (bench_load_config(&cfg, path, default_yaml) < 0)
        return 1;
    log_set_level(LOG_ERROR);

    if (sampler_init(&s, &cfg) < 0)
        return 1;
    /* warm-up: baselines, lazy opens, a P2P dump, cpuinfo's steady state */
    for (int i = 0; i < 100; i++)
        snapshot_unref(sampler_tick(&s));
    fl.nfds = 0;
    procfile_foreach(collect_files, &fl);
    nticks = nticks / blocks * blocks;

    for (unsigned b = 0; b < blocks; b++) {
        struct reads_ctx rc = {.fl = &fl};
        uint64_t per = nticks / blocks;

        c0 = cpu_us();
        for (uint64_t i = 0; i < per; i++)
            snapshot_unref(sampler_tick(&s));
        t_tick += cpu_us() - c0;
        procfile_foreach(count_reads, &rc);
        c0 = cpu_us();
        for (uint64_t i = 0; i < per; i++)
            floor_once(&fl, &cfg, i, per);
        t_floor += cpu_us() - c0;
    }

    printf("bench/tick: %llu ticks of the host collectors (", (unsigned long long)nticks);
    for (unsigned i = 0; i < s.nslots; i++)
        printf("%s%s%s", i ? " " : "", s.slots[i].ops->name, s.slots[i].state ? "" : "[off]");
    printf(")\n");
    printf("  files kept open: %u; reads per tick:", fl.nfds);
    for (unsigned i = 0; i < fl.nfds; i++)
        printf(" %s %.3g", fl.paths[i], (double)fl.total[i] / (double)nticks);
    printf("\n  statvfs(%s) per tick: 1\n", cfg.agent.disk_path);
    printf("  tick  CPU time: %8.2f us per tick\n", t_tick / (double)nticks);
    printf("  floor CPU time: %8.2f us per tick (same files read, nothing parsed)\n",
           t_floor / (double)nticks);
    printf("  ratio tick/floor: %.3f (target <= 1.25: %s)\n", t_tick / t_floor,
           t_tick / t_floor <= 1.25 ? "met" : "NOT met");
    p2p_costs(&cfg);
    for (unsigned i = 0; i < fl.nfds; i++) {
        close(fl.fds[i]);
        free(fl.paths[i]);
    }
    sampler_done(&s);
    config_done(&cfg);
    return 0;
}
