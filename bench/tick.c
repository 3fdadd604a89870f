/*
 * bench/tick: CPU time per tick of all host collectors, beside the floor: the CPU
 * time of merely re-reading the same kernel sources in the same run (pread of
 * every file the collectors keep open, the same sock_diag dumps drained without
 * parsing, the same statvfs), and their ratio.
 *
 *   bench_tick [-c FILE] [-n TICKS]     (default: 10000 ticks, P2P ports 30303 and 9000)
 *
 * CPU time is getrusage(RUSAGE_SELF) user+system; tick and floor run in
 * alternating blocks so that drift in the machine's load hits both alike.
 */
#define LOG_MODULE "bench"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "collect/sockdiag.h"
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

struct floor {
    int fds[256];
    char *paths[256];
    unsigned nfds;
    int nl;
    char buf[65536];
};

/* The files the sampler holds open are exactly the files it re-reads each tick. */
static void floor_open(struct floor *fl, int max_fd_before)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    fl->nfds = 0;
    while (d && (e = readdir(d))) {
        char link[64], target[4096];
        int64_t fd;
        ssize_t n;

        if (parse_i64(e->d_name, &fd) < 0 || fd <= max_fd_before || fd == dirfd(d))
            continue;
        snprintf(link, sizeof(link), "/proc/self/fd/%lld", (long long)fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (target[0] != '/' || fl->nfds >= 256)
            continue;
        if (!strncmp(target, "/proc/", 6) && strstr(target, "/self/") == NULL) {
            /* /proc/PID/... of ourselves: keep the same file */
        }
        fl->paths[fl->nfds] = strdup(target);
        fl->fds[fl->nfds] = open(target, O_RDONLY | O_CLOEXEC);
        if (fl->fds[fl->nfds] >= 0)
            fl->nfds++;
        else
            free(fl->paths[fl->nfds]);
    }
    if (d)
        closedir(d);
    fl->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
}

static void floor_netlink(struct floor *fl, int family, const uint16_t *ports, size_t nports)
{
    char req[2048];
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int len = sockdiag_build_request(family, ports, nports, 1, req, sizeof(req));

    if (len < 0 || sendto(fl->nl, req, (size_t)len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return;
    for (;;) {
        ssize_t n = recv(fl->nl, fl->buf, sizeof(fl->buf), 0);
        const struct nlmsghdr *h = (const struct nlmsghdr *)fl->buf;
        bool done = false;
        if (n <= 0)
            return;
        /* find the end marker: walking the headers is all, nothing is decoded */
        for (size_t off = 0; off + sizeof(*h) <= (size_t)n;) {
            h = (const struct nlmsghdr *)(fl->buf + off);
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                done = true;
            if (h->nlmsg_len < sizeof(*h))
                break;
            off += NLMSG_ALIGN(h->nlmsg_len);
        }
        if (done)
            return;
    }
}

static void floor_once(struct floor *fl, const struct config *cfg)
{
    struct statvfs sv;

    for (unsigned i = 0; i < fl->nfds; i++) {
        off_t off = 0;
        ssize_t n;
        while ((n = pread(fl->fds[i], fl->buf, sizeof(fl->buf), off)) > 0)
            off += n;
    }
    if (fl->nl >= 0 && cfg->agent.p2p_ports.n) {
        floor_netlink(fl, AF_INET, cfg->agent.p2p_ports.v, cfg->agent.p2p_ports.n);
        floor_netlink(fl, AF_INET6, cfg->agent.p2p_ports.v, cfg->agent.p2p_ports.n);
    }
    statvfs(cfg->agent.disk_path, &sv);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t nticks = 10000;
    struct config cfg;
    struct strbuf errs;
    struct sampler s;
    struct floor fl;
    double t_tick = 0, t_floor = 0, c0;
    int max_fd_before, r;
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
    config_defaults(&cfg);
    strbuf_init(&errs, 1 << 16);
    r = path ? config_load_file(&cfg, path, &errs)
             : config_load_buffer(&cfg, "<bench>", default_yaml, sizeof(default_yaml) - 1, &errs);
    if (r < 0 || config_resolve(&cfg, false, &errs) < 0) {
        fputs(errs.buf ? errs.buf : "config error\n", stderr);
        return 1;
    }
    strbuf_done(&errs);
    log_set_level(LOG_ERROR);

    max_fd_before = dup(0);
    close(max_fd_before);
    if (sampler_init(&s, &cfg) < 0)
        return 1;
    snapshot_unref(sampler_tick(&s)); /* first tick: baselines, the lazy opens */
    floor_open(&fl, max_fd_before - 1);

    for (unsigned b = 0; b < blocks; b++) {
        c0 = cpu_us();
        for (uint64_t i = 0; i < nticks / blocks; i++)
            snapshot_unref(sampler_tick(&s));
        t_tick += cpu_us() - c0;
        c0 = cpu_us();
        for (uint64_t i = 0; i < nticks / blocks; i++)
            floor_once(&fl, &cfg);
        t_floor += cpu_us() - c0;
    }
    nticks = nticks / blocks * blocks;

    printf("bench/tick: %llu ticks of the host collectors (", (unsigned long long)nticks);
    for (unsigned i = 0; i < s.nslots; i++)
        printf("%s%s%s", i ? " " : "", s.slots[i].ops->name, s.slots[i].state ? "" : "[off]");
    printf(")\n");
    printf("  files re-read per tick: %u:", fl.nfds);
    for (unsigned i = 0; i < fl.nfds; i++)
        printf(" %s", fl.paths[i]);
    printf("\n  sock_diag dumps per tick: %s; statvfs(%s) per tick: 1\n",
           cfg.agent.p2p_ports.n ? "2 (IPv4, IPv6)" : "0 (no P2P ports)", cfg.agent.disk_path);
    printf("  tick  CPU time: %8.2f us per tick\n", t_tick / (double)nticks);
    printf("  floor CPU time: %8.2f us per tick (same sources read, nothing parsed)\n",
           t_floor / (double)nticks);
    printf("  ratio tick/floor: %.3f (target <= 1.25: %s)\n", t_tick / t_floor,
           t_tick / t_floor <= 1.25 ? "met" : "NOT met");
    for (unsigned i = 0; i < fl.nfds; i++) {
        close(fl.fds[i]);
        free(fl.paths[i]);
    }
    if (fl.nl >= 0)
        close(fl.nl);
    sampler_done(&s);
    config_done(&cfg);
    return 0;
}
