/*
 * memhog: a memory load for the accuracy tests. Maps MIB MiB of private
 * anonymous memory, writes to every page so that it is resident, optionally
 * pushes the first PAGEOUT_MIB MiB out to swap with madvise(MADV_PAGEOUT), then
 * prints "ready" on stdout and waits until it is killed.
 * Usage: memhog MIB [PAGEOUT_MIB]. Exit 2 on a bad argument, 1 when the memory
 * cannot be had.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_PAGEOUT; CMake defines it for the whole tree */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/parse.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MAX_MIB 65536u

static int parse_mib(const char *s, uint64_t *ret)
{
    return parse_u64(s, ret) < 0 || *ret > MAX_MIB ? -1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t mib = 0, pageout = 0;
    size_t len, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p;

    if (argc < 2 || argc > 3 || parse_mib(argv[1], &mib) < 0 || mib == 0 ||
        (argc == 3 && (parse_mib(argv[2], &pageout) < 0 || pageout > mib))) {
        fprintf(stderr, "usage: memhog MIB [PAGEOUT_MIB]  (1..%u, PAGEOUT_MIB <= MIB)\n", MAX_MIB);
        return 2;
    }
    len = (size_t)mib << 20;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "memhog: mmap %llu MiB: %s\n", (unsigned long long)mib, strerror(errno));
        return 1;
    }
    /* non-zero bytes, one per page: every page becomes a real anonymous page */
    for (size_t off = 0; off < len; off += page)
        p[off] = (unsigned char)(1 + (off / page) % 251);
    if (pageout && madvise(p, (size_t)pageout << 20, MADV_PAGEOUT) < 0) {
        fprintf(stderr, "memhog: madvise(MADV_PAGEOUT): %s\n", strerror(errno));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
