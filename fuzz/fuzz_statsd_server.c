/* The StatsD server's whole path on arbitrary datagrams: the parser, the
 * cache of lines seen (a line recorded the short way must count as it would
 * the long way), the aggregates with a small series limit, then a fold into a
 * snapshot and an export walk. The input is split at 0xff bytes into
 * datagrams, each given twice (the second time mostly the short way); the
 * series and stats stay bounded whatever arrives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot.h"
#include "ingest/agg.h"
#include "ingest/statsd_server.h"

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

static void walk(void *ctx, const struct agg_series_info *i)
{
    size_t *n = ctx;

    CHECK(i->name_len > 0 && i->n_labels <= AGG_MAX_LABELS);
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agg *a = agg_new();
    struct statsd_server *s;
    struct statsd_server_stats st;
    struct agg_stats as;
    struct snapshot *snap;
    size_t start = 0, n = 0;

    if (!a)
        return 0;
    agg_configure(a, 64, NULL, 0);
    s = statsd_server_detached(a);
    if (!s) {
        agg_free(a);
        return 0;
    }
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == 0xff) {
            for (int twice = 0; twice < 2; twice++)
                statsd_server_datagram(s, (const char *)data + start, i - start);
            start = i + 1;
        }
    }
    statsd_server_get_stats(s, &st);
    agg_get_stats(a, &as);
    CHECK(as.series <= 64);
    CHECK(st.lines % 2 == 0 && st.malformed % 2 == 0); /* the same the second time */
    snap = snapshot_new();
    if (snap) {
        agg_fold(a, snap, 1.0);
        snapshot_unref(snap);
    }
    agg_foreach(a, walk, &n);
    CHECK(n <= as.series);
    statsd_server_stop(s);
    agg_free(a);
    return 0;
}
