/* The CSV rows of `arthamon detect` (src/detect/csv.h) and the detector behind
 * them on arbitrary input: the input is split at '\n', its first line given to
 * detect_csv_header() and the others to detect_csv_row(), whose accepted
 * values feed one detector per column. Beyond not crashing or reading outside
 * the input, it checks what csv.h and series.h promise: a rejection leaves the
 * outputs untouched and says why; accepted timestamps never decrease and
 * values are finite; every score is in [0, 1] and 0 while warming up. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/csv.h"
#include "detect/series.h"

/* a broken promise is a crash, under libFuzzer and under the replay test */
#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct detect_series *det[4];
    double vals[DETECT_CSV_MAX_COLUMNS], ts, prev = 0;
    const char *p = (const char *)data, *end = p + size;
    struct detect_csv csv;
    bool header = false, have_prev = false;

    detect_csv_init(&csv);
    for (size_t i = 0; i < sizeof(det) / sizeof(det[0]); i++) {
        /* made once, reset for every input: the same state as fresh ones */
        if (!det[i])
            det[i] = detect_series_new();
        CHECK(det[i] != NULL);
        detect_series_reset(det[i]);
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int r;

        if (!header) {
            r = detect_csv_header(&csv, p, len);
            if (r < 0) {
                CHECK(r == -EINVAL && csv.err[0] != '\0' && csv.columns == 0);
                return 0;
            }
            CHECK(r == 0 && csv.columns >= 1 && csv.columns <= DETECT_CSV_MAX_COLUMNS);
            header = true;
        } else {
            ts = -1;
            memset(vals, 0xa5, sizeof(vals));
            csv.err[0] = '\0';
            r = detect_csv_row(&csv, p, len, &ts, vals);
            if (r < 0) {
                CHECK(r == -EINVAL && csv.err[0] != '\0' && ts == -1);
            } else {
                CHECK(r == 0 && isfinite(ts) && ts >= 0);
                CHECK(!have_prev || ts >= prev);
                prev = ts;
                have_prev = true;
                for (size_t c = 0; c < csv.columns; c++) {
                    CHECK(isfinite(vals[c]));
                    if (c < sizeof(det) / sizeof(det[0])) {
                        bool warming = detect_series_warming(det[c]);
                        double s = detect_series_update(det[c], vals[c]);

                        CHECK(s >= 0 && s <= 1);
                        CHECK(!warming || s == 0);
                    }
                }
            }
        }
        p += len + (nl != NULL);
    }
    return 0;
}
