/*
 * tundelay: a userspace delay line between two TUN devices, for the network
 * quality integration test (this kernel has no netem).
 *
 *     tundelay [--delay-ms N] [--queue N] DEV_A DEV_B
 *
 * It attaches to DEV_A and DEV_B as IFF_TUN|IFF_NO_PI devices (creating them,
 * non-persistent, when they do not exist, so that they vanish when it exits;
 * attaching when `ip tuntap add mode tun` made them), and forwards every IP
 * packet read from one to the other N ms (default 20) after it read it. Each
 * direction is a FIFO of (due time, packet) served by one ppoll loop: no rate
 * limit and no reordering, so a packet waits the delay and nothing else however
 * many are queued. The devices can be moved to other network namespaces with
 * `ip link set DEV netns NS` once it has attached them: the open descriptors
 * keep working (checked on Linux 6.18), and what it writes to a device enters
 * the namespace the device is in.
 *
 * Each direction holds at most --queue packets (default 4096) and 16 MiB; a
 * packet that arrives when its queue is full is dropped and counted. SIGTERM,
 * SIGINT or SIGHUP end it cleanly (exit 0), SIGUSR1 prints the counters, which
 * are printed on exit too: forwarded, dropped (queue full), write errors,
 * deepest queue, and how late the packets went out compared with their due
 * time (mean, worst, how many over 1 ms), since the start and since the last
 * report ("recent:"), so a test can tell whether the delay line kept time over
 * its measurement window; run it under `chrt -f` when the machine is busy.
 * Exit status 1 on a runtime error (no TUN support, a device deleted under
 * it), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"

#define MAX_PACKET      65536               /* largest frame a TUN device hands over */
#define MAX_QUEUE_BYTES (16u * 1024 * 1024) /* per direction */
#define READ_BURST      64                  /* packets read per wake-up per device */
#define MAX_DELAY_MS    60000u
#define MAX_QUEUE_PKTS  (1u << 20)

struct pkt {
    uint64_t due_ns;
    size_t len;
    unsigned char *data;
};

/* How late packets went out compared with their due time. */
struct lateness {
    uint64_t n, sum_ns, max_ns, over_1ms;
};

/* One direction: packets read from `in`, written to `out` after the delay. */
struct dir {
    const char *from, *to;
    int in, out;
    struct pkt *ring;
    size_t cap, head, n, bytes;
    uint64_t dropped, write_errors;
    struct lateness total, recent; /* since the start, since the last report */
    size_t max_depth;
    int last_write_errno;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t stats_wanted;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_stats(int sig)
{
    (void)sig;
    stats_wanted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tundelay [--delay-ms N] [--queue N] DEV_A DEV_B\n"
            "  forwards IP packets between TUN devices DEV_A and DEV_B, each direction\n"
            "  delayed N ms (default 20, at most %u); at most --queue packets (default\n"
            "  4096, at most %u) wait per direction, more are dropped and counted.\n"
            "  SIGTERM/SIGINT/SIGHUP stop it, SIGUSR1 prints the counters.\n",
            MAX_DELAY_MS, MAX_QUEUE_PKTS);
}

/* A decimal number in [min, max], nothing else. */
static bool parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;

    if (!s || parse_u64(s, &v) < 0 || v < min || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static int tun_attach(const char *name)
{
    struct ifreq ifr;
    int fd, e;

    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        fprintf(stderr, "tundelay: cannot open /dev/net/tun: %s%s\n", strerror(e),
                e == ENOENT ? " (no TUN support: modprobe tun?)" : "");
        return -1;
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name)); /* length checked by the caller */
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        e = errno;
        fprintf(stderr, "tundelay: cannot attach TUN device %s: %s%s\n", name, strerror(e),
                e == EPERM    ? " (needs CAP_NET_ADMIN)"
                : e == EBUSY  ? " (already attached by another process)"
                : e == EINVAL ? " (the name is taken by a device that is not a TUN device, or by "
                                "one with packet info)"
                              : "");
        close(fd);
        return -1;
    }
    return fd;
}

static void lateness_add(struct lateness *l, uint64_t late_ns)
{
    l->n++;
    l->sum_ns += late_ns;
    if (late_ns > l->max_ns)
        l->max_ns = late_ns;
    if (late_ns > 1000000u)
        l->over_1ms++;
}

static double mean_us(const struct lateness *l)
{
    return l->n ? (double)l->sum_ns / (double)l->n / 1000.0 : 0.0;
}

/* One line per direction; the part after "recent:" covers the time since the last report. */
static void print_stats(struct dir *d)
{
    fprintf(stderr,
            "tundelay: %s -> %s: forwarded %llu, dropped (queue full) %llu, write errors %llu, "
            "deepest queue %zu, queued now %zu, late mean %.0f us max %.0f us over-1ms %llu; "
            "recent: forwarded %llu late mean %.0f us max %.0f us over-1ms %llu\n",
            d->from, d->to, (unsigned long long)d->total.n, (unsigned long long)d->dropped,
            (unsigned long long)d->write_errors, d->max_depth, d->n, mean_us(&d->total),
            (double)d->total.max_ns / 1000.0, (unsigned long long)d->total.over_1ms,
            (unsigned long long)d->recent.n, mean_us(&d->recent), (double)d->recent.max_ns / 1000.0,
            (unsigned long long)d->recent.over_1ms);
    memset(&d->recent, 0, sizeof(d->recent));
}

/*
 * Reads what is waiting on d->in (a bounded burst) and queues it due at
 * now + delay. Returns -1 when the device is gone or broken.
 */
static int pull(struct dir *d, uint64_t delay_ns, unsigned char *buf)
{
    for (int i = 0; i < READ_BURST; i++) {
        ssize_t r = read(d->in, buf, MAX_PACKET);
        struct pkt *p;

        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            fprintf(stderr, "tundelay: read from %s: %s%s\n", d->from, strerror(errno),
                    errno == EBADFD ? " (device deleted?)" : "");
            return -1;
        }
        if (r == 0)
            continue;
        if (d->n == d->cap || d->bytes + (size_t)r > MAX_QUEUE_BYTES) {
            d->dropped++;
            continue;
        }
        p = &d->ring[(d->head + d->n) % d->cap];
        p->data = malloc((size_t)r);
        if (!p->data) {
            d->dropped++;
            continue;
        }
        memcpy(p->data, buf, (size_t)r);
        p->len = (size_t)r;
        p->due_ns = now_ns() + delay_ns;
        d->n++;
        d->bytes += (size_t)r;
        if (d->n > d->max_depth)
            d->max_depth = d->n;
    }
    return 0;
}

/* Writes every packet whose time has come; returns -1 when the device is gone. */
static int push(struct dir *d, uint64_t now)
{
    while (d->n && d->ring[d->head].due_ns <= now) {
        struct pkt *p = &d->ring[d->head];
        ssize_t w = write(d->out, p->data, p->len);
        uint64_t late = now - p->due_ns;

        if (w < 0 && errno == EBADFD) {
            fprintf(stderr, "tundelay: write to %s: %s (device deleted?)\n", d->to,
                    strerror(errno));
            return -1;
        }
        if (w < 0 || (size_t)w != p->len) {
            /* a down device or a malformed packet: lose this one, keep going */
            int e = w < 0 ? errno : EIO;
            if (e != d->last_write_errno)
                fprintf(stderr, "tundelay: write to %s: %s (counting further ones)\n", d->to,
                        strerror(e));
            d->last_write_errno = e;
            d->write_errors++;
        } else {
            lateness_add(&d->total, late);
            lateness_add(&d->recent, late);
        }
        free(p->data);
        p->data = NULL;
        d->bytes -= p->len;
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
    return 0;
}

static void drain_free(struct dir *d)
{
    while (d->n) {
        free(d->ring[d->head].data);
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
    free(d->ring);
    d->ring = NULL;
}

int main(int argc, char **argv)
{
    unsigned delay_ms = 20, queue = 4096;
    const char *names[2];
    int nnames = 0, fds[2] = {-1, -1}, ret = 1;
    struct dir dirs[2];
    struct sigaction sa;
    sigset_t block, waitmask;
    unsigned char *buf = NULL;
    uint64_t delay_ns;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--delay-ms") || !strcmp(argv[i], "--queue")) {
            bool is_delay = argv[i][2] == 'd';
            if (i + 1 >= argc ||
                !parse_uint(argv[i + 1], is_delay ? 0 : 1, is_delay ? MAX_DELAY_MS : MAX_QUEUE_PKTS,
                            is_delay ? &delay_ms : &queue)) {
                fprintf(stderr, "tundelay: %s needs a whole number from %u to %u\n", argv[i],
                        is_delay ? 0u : 1u, is_delay ? MAX_DELAY_MS : MAX_QUEUE_PKTS);
                return 2;
            }
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "tundelay: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (nnames < 2) {
            size_t len = strlen(argv[i]);
            if (len == 0 || len >= IFNAMSIZ || strchr(argv[i], '/')) {
                fprintf(stderr, "tundelay: bad device name '%s' (1 to %d characters, no '/')\n",
                        argv[i], IFNAMSIZ - 1);
                return 2;
            }
            names[nnames++] = argv[i];
        } else {
            fprintf(stderr, "tundelay: too many arguments\n");
            usage(stderr);
            return 2;
        }
    }
    if (nnames != 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(names[0], names[1])) {
        fprintf(stderr, "tundelay: DEV_A and DEV_B must differ\n");
        return 2;
    }
    delay_ns = (uint64_t)delay_ms * 1000000u;

    /* the signals are only delivered inside ppoll, so no wake-up is lost */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &block, &waitmask) < 0) {
        perror("tundelay: sigprocmask");
        return 1;
    }
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);
    sigdelset(&waitmask, SIGUSR1);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_stats;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* ppoll wakes up on time to the microsecond rather than within the default 50 us slack */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    memset(dirs, 0, sizeof(dirs));
    for (int i = 0; i < 2; i++) {
        fds[i] = tun_attach(names[i]);
        if (fds[i] < 0)
            goto out;
    }
    for (int i = 0; i < 2; i++) {
        dirs[i].from = names[i];
        dirs[i].to = names[1 - i];
        dirs[i].in = fds[i];
        dirs[i].out = fds[1 - i];
        dirs[i].cap = queue;
        dirs[i].ring = calloc(queue, sizeof(struct pkt));
        if (!dirs[i].ring) {
            fprintf(stderr, "tundelay: out of memory for a %u-packet queue\n", queue);
            goto out;
        }
    }
    buf = malloc(MAX_PACKET);
    if (!buf) {
        fprintf(stderr, "tundelay: out of memory\n");
        goto out;
    }
    fprintf(stderr, "tundelay: %s <-> %s, %u ms each way, queue %u packets per direction\n",
            names[0], names[1], delay_ms, queue);

    while (!stop_signal) {
        struct pollfd pfd[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        struct timespec ts, *tsp = NULL;
        uint64_t now = now_ns(), next = UINT64_MAX;
        int r;

        for (int i = 0; i < 2; i++) {
            if (push(&dirs[i], now) < 0)
                goto out;
            if (dirs[i].n && dirs[i].ring[dirs[i].head].due_ns < next)
                next = dirs[i].ring[dirs[i].head].due_ns;
        }
        if (stats_wanted) {
            stats_wanted = 0;
            print_stats(&dirs[0]);
            print_stats(&dirs[1]);
        }
        if (next != UINT64_MAX) {
            uint64_t wait = next > now ? next - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000000u);
            ts.tv_nsec = (long)(wait % 1000000000u);
            tsp = &ts;
        }
        r = ppoll(pfd, 2, tsp, &waitmask);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("tundelay: ppoll");
            goto out;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents & POLLNVAL) {
                fprintf(stderr, "tundelay: %s: descriptor no longer valid\n", names[i]);
                goto out;
            }
            /* POLLERR (device deleted) surfaces as a read error with its reason */
            if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) &&
                pull(&dirs[i], delay_ns, buf) < 0)
                goto out;
        }
    }
    ret = 0;
out:
    if (dirs[0].ring && dirs[1].ring) {
        print_stats(&dirs[0]);
        print_stats(&dirs[1]);
    }
    if (ret == 0)
        fprintf(stderr, "tundelay: stopped by signal %d\n", (int)stop_signal);
    for (int i = 0; i < 2; i++) {
        drain_free(&dirs[i]);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    free(buf);
    return ret;
}
