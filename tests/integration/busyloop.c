/*
 * busyloop: a CPU load for the accuracy tests. Spins on the CPU it runs on
 * (pin it with taskset) until SECONDS of wall-clock time have passed or it is
 * killed. Usage: busyloop [SECONDS] (default 60, at most 3600). Exit 0 when the
 * time is up, 2 on a bad argument.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime under -std=c11; CMake defines it for the whole tree */
#endif
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/parse.h"

/* Whole seconds, at most an hour. */
static int parse_seconds(const char *s, uint64_t *ret)
{
    return parse_u64(s, ret) < 0 || *ret > 3600 ? -1 : 0;
}

static double now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t seconds = 60;
    volatile uint64_t spin = 0;
    double end;

    if (argc > 2 || (argc == 2 && parse_seconds(argv[1], &seconds) < 0)) {
        fprintf(stderr, "usage: busyloop [SECONDS]  (0..3600, default 60)\n");
        return 2;
    }
    end = now_sec() + (double)seconds;
    while (now_sec() < end) {
        /* a few million iterations between clock reads: the loop stays on the CPU */
        for (uint32_t i = 0; i < 1000000; i++)
            spin = spin + 1;
    }
    return 0;
}
