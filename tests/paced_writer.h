/*
 * A writer of known rate for the QRNG probe's checks (tests/unit/test_qprobe.c)
 * and its benchmark (bench/probes.c): a thread that writes chunk bytes to path
 * every period_ns on a fixed schedule, after prefill bytes at once; after a
 * stall it resumes from now instead of catching up, so its rate stays the one
 * set. Header-only: each program includes it once.
 *
 *   struct paced_writer w = {.chunk = 250, .period_ns = 10000000};
 *   snprintf(w.path, sizeof(w.path), ...);
 *   atomic_init(&w.stop, false);
 *   pthread_create(&t, NULL, paced_writer_main, &w);
 *   ...
 *   atomic_store(&w.stop, true);
 *   pthread_join(t, NULL);
 */
#ifndef AM_TESTS_PACED_WRITER_H
#define AM_TESTS_PACED_WRITER_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct paced_writer {
    char path[256];
    size_t chunk; /* at most 4096 */
    uint64_t period_ns;
    size_t prefill; /* written at once before the schedule starts */
    _Atomic bool stop;
};

static inline uint64_t paced_writer_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The thread's body (arg: the struct paced_writer, which outlives the thread). */
static inline void *paced_writer_main(void *arg)
{
    struct paced_writer *w = arg;
    char buf[4096];
    int fd = open(w->path, O_WRONLY | O_CLOEXEC);
    uint64_t next;

    if (fd < 0)
        return NULL;
    memset(buf, 'q', sizeof(buf));
    for (size_t left = w->prefill; left > 0;) {
        ssize_t n = write(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (n <= 0)
            break;
        left -= (size_t)n;
    }
    next = paced_writer_now();
    while (!atomic_load(&w->stop)) {
        struct timespec ts;
        uint64_t now;
        if (write(fd, buf, w->chunk < sizeof(buf) ? w->chunk : sizeof(buf)) < 0)
            break;
        next += w->period_ns;
        now = paced_writer_now();
        if (next < now)
            next = now + w->period_ns;
        ts.tv_sec = (time_t)(next / 1000000000ull);
        ts.tv_nsec = (long)(next % 1000000000ull);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
    close(fd);
    return NULL;
}

#endif
