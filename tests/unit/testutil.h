/* Small helpers shared by the unit tests (header-only: each test is one program). */
#ifndef AM_TESTS_TESTUTIL_H
#define AM_TESTS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

/* Reads SRC/rel (SRC: $ARTHAMON_SRC, else the current directory) into buf,
 * NUL-terminated; returns its length, or -1 if it cannot be read. */
static inline long read_source_file(const char *rel, char *buf, size_t len)
{
    char path[4096];
    const char *src = getenv("ARTHAMON_SRC");
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* A figure the snapshot must leave absent (NaN); after <math.h> and <cmocka.h>. */
#define assert_absent(v)                                                \
    do {                                                                \
        if (!isnan(v)) {                                                \
            print_error("%s = %g, expected absent\n", #v, (double)(v)); \
            fail();                                                     \
        }                                                               \
    } while (0)

#endif
