/* The tick journal's append window: written pages leave the process's resident
 * memory as they fill, and every record still reads back whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/strbuf.h"
#include "store/journal.h"

#define RECORDS 2000
#define PAYLOAD 500 /* about 1 MiB in all */

/* Rss (KiB) of the mapping that starts at addr, from /proc/self/smaps; -1 if absent */
static long rss_kib_of(const void *addr)
{
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    unsigned long start, end;
    bool in = false;
    long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
            in = start == (unsigned long)(uintptr_t)addr;
        else if (in && sscanf(line, "Rss: %ld kB", &kib) == 1)
            break;
    }
    fclose(f);
    return kib;
}

static void written_pages_leave_rss(void **state)
{
    char dir[] = "/tmp/am-journal-XXXXXX", path[96];
    uint8_t rec[JR_REC_HDR_LEN + PAYLOAD], back[PAYLOAD];
    struct journal j;
    struct strbuf errs;
    long kib;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/j-ticks", dir);
    strbuf_init(&errs, 1024);
    assert_int_equal(jr_open(&j, path, 42, 1, false, &errs), 0);
    for (int i = 0; i < RECORDS; i++) {
        memset(rec + JR_REC_HDR_LEN, 'a' + i % 26, PAYLOAD);
        assert_int_equal(jr_append(&j, 1700000000000LL + i * 1000LL, rec, PAYLOAD), 0);
    }
    if (j.no_win) {
        print_message("skip: %s cannot allocate ahead, so the journal writes instead of mapping\n",
                      dir);
    } else {
        /* 1 MiB written: what stays is the page being filled and the pages
         * prepared ahead (256 records' worth at most, about 128 KiB) */
        kib = rss_kib_of(j.win);
        print_message("journal window: %ld KiB resident after %d KiB written\n", kib,
                      RECORDS * (JR_REC_HDR_LEN + PAYLOAD) / 1024);
        assert_true(kib >= 0);
        assert_true(kib < 256);
    }
    assert_int_equal(j.n, RECORDS);
    for (size_t i = 0; i < j.n; i++) {
        assert_int_equal(jr_read(&j, &j.v[i], back), 0);
        assert_true(back[0] == 'a' + i % 26 && back[PAYLOAD - 1] == 'a' + i % 26);
    }
    jr_close(&j);
    unlink(path);
    rmdir(dir);
    strbuf_done(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(written_pages_leave_rss),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
