/*
 * leaker: a memory leak for the fault tests. Prints "ready" on stdout and waits
 * for SIGUSR1; from then on, every STEP_MS milliseconds, it maps STEP_MIB MiB
 * of private anonymous memory and writes to every page of it, so that its
 * resident set grows steadily, until MAX_MIB MiB are held. Then it holds them
 * until it is killed. It prints "leaking" when the growth starts and "full"
 * when it stops.
 * Usage: leaker STEP_MIB STEP_MS MAX_MIB. Exit 2 on a bad argument, 1 when the
 * memory cannot be had.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_nanosleep under -std=c11; CMake defines it for the whole tree */
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/parse.h"

#define MAX_TOTAL_MIB 16384u
#define MAX_STEP_MS   60000u

/* A whole number in [1, max]. */
static int parse_in(const char *s, uint64_t max, uint64_t *ret)
{
    uint64_t v;

    if (parse_u64(s, &v) < 0 || v == 0 || v > max)
        return -1;
    *ret = v;
    return 0;
}

/* t + ms, normalised. */
static struct timespec add_ms(struct timespec t, uint64_t ms)
{
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int main(int argc, char **argv)
{
    uint64_t step_mib = 0, step_ms = 0, max_mib = 0, held = 0;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct timespec next;
    sigset_t usr1;
    int sig;

    if (argc != 4 || parse_in(argv[1], MAX_TOTAL_MIB, &step_mib) < 0 ||
        parse_in(argv[2], MAX_STEP_MS, &step_ms) < 0 ||
        parse_in(argv[3], MAX_TOTAL_MIB, &max_mib) < 0 || step_mib > max_mib) {
        fprintf(stderr, "usage: leaker STEP_MIB STEP_MS MAX_MIB  (STEP_MIB <= MAX_MIB <= %u)\n",
                MAX_TOTAL_MIB);
        return 2;
    }
    /* blocked before "ready": a SIGUSR1 sent right after it is kept, not fatal */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &usr1, NULL) < 0) {
        fprintf(stderr, "leaker: sigprocmask: %s\n", strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    do {
        sig = 0;
    } while (sigwait(&usr1, &sig) != 0 || sig != SIGUSR1);
    printf("leaking\n");
    fflush(stdout);

    clock_gettime(CLOCK_MONOTONIC, &next);
    while (held < max_mib) {
        uint64_t mib = step_mib < max_mib - held ? step_mib : max_mib - held;
        size_t len = (size_t)mib << 20;
        unsigned char *p =
            mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
            fprintf(stderr, "leaker: mmap %llu MiB: %s\n", (unsigned long long)mib,
                    strerror(errno));
            return 1;
        }
        /* non-zero bytes, one per page: every page becomes a real anonymous page */
        for (size_t off = 0; off < len; off += page)
            p[off] = (unsigned char)(1 + (off / page) % 251);
        held += mib;
        /* absolute deadlines: the rate stays steady however long the writes took */
        next = add_ms(next, step_ms);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
    printf("full\n");
    fflush(stdout);
    for (;;)
        pause();
}
