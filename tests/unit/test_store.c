/*
 * The history database: append, compaction into blocks and tiers, retention
 * with an injected clock (31 days of 5 s samples keep exactly 30 days raw,
 * the tiers intact, and the file stops growing), queries per tier, and the
 * refusal of files that are not ours, damaged or newer.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

#define DAY  86400000LL
#define STEP 5000LL

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/am-store-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
    return 0;
}

static int teardown(void **state)
{
    char p[160];

    (void)state;
    for (const char *sfx = ""; sfx; sfx = !*sfx ? "-wal" : !strcmp(sfx, "-wal") ? "-shm" : NULL) {
        snprintf(p, sizeof(p), "%s%s", path, sfx);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static struct store *open_ok(uint32_t raw, uint32_t minute, uint32_t hour)
{
    struct store_options o = {.raw_days = raw, .minute_days = minute, .hour_days = hour};
    struct store *st = NULL;
    struct strbuf errs;

    strbuf_init(&errs, 4096);
    if (store_open(&st, path, &o, &errs) < 0)
        fail_msg("store_open: %s", errs.buf ? errs.buf : "?");
    strbuf_done(&errs);
    return st;
}

/* A snapshot at ts with three series: a gauge, a counter, a labelled gauge. */
static void append_at(struct store *st, int64_t ts)
{
    struct snapshot *s = snapshot_new();
    double core[2];

    assert_non_null(s);
    s->timestamp_ms = (uint64_t)ts;
    s->timestamp = (uint64_t)(ts / 1000);
    s->cpu.usage_percent = (double)((ts / STEP) % 10000) / 100.0;
    s->network.received_bytes_total = (double)(ts / STEP) * 1500.0;
    core[0] = 1.5;
    core[1] = 2.5;
    s->cpu.core_usage = core;
    s->cpu.n_cores = 2;
    assert_int_equal(store_append(st, s), 0);
    s->cpu.core_usage = NULL;
    s->cpu.n_cores = 0;
    snapshot_unref(s);
}

struct collect {
    size_t n;
    int64_t first, last;
    double first_v, last_v, sum;
};

static void collect(void *ctx, const struct store_point *p)
{
    struct collect *c = ctx;

    if (c->n++ == 0) {
        c->first = p->ts_ms;
        c->first_v = p->value;
    }
    c->last = p->ts_ms;
    c->last_v = p->value;
    c->sum += p->value;
}

static long query(struct store *st, const char *series, int64_t from, int64_t to, int64_t step,
                  enum store_agg agg, int *tier, struct collect *c)
{
    memset(c, 0, sizeof(*c));
    return store_query(st, series, from, to, step, agg, tier, collect, c);
}

static off_t file_size(void)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void append_compact_query(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY; /* a day boundary */
    struct collect c;
    int tier;

    (void)state;
    for (int64_t t = t0; t < t0 + 2 * 3600000; t += STEP)
        append_at(st, t);
    /* nothing compacted yet: every sample from the ticks */
    assert_int_equal(query(st, "cpu.usage_percent", t0, t0 + 7200000, 0, AGG_AVG, &tier, &c), 1440);
    assert_int_equal(tier, 0);
    assert_int_equal(store_maintain(st, t0 + 2 * 3600000 + 1), 0);
    /* the same answers from the blocks */
    assert_int_equal(query(st, "cpu.usage_percent", t0, t0 + 7200000, 0, AGG_AVG, &tier, &c), 1440);
    assert_int_equal(c.first, t0);
    assert_true(c.first_v == (double)((t0 / STEP) % 10000) / 100.0);
    assert_int_equal(
        query(st, "network.received_bytes_total", t0, t0 + 7200000, 0, AGG_LAST, &tier, &c), 1440);
    assert_true(c.last_v == (double)(t0 / STEP + 1439) * 1500.0);
    assert_int_equal(query(st, "cpu.core_usage{core=1}", t0, t0 + 7200000, 0, AGG_AVG, &tier, &c),
                     1440);
    assert_true(c.first_v == 2.5);
    /* per minute: from the minute tier, 12 samples a minute */
    assert_int_equal(
        query(st, "cpu.usage_percent", t0, t0 + 7200000 - 1, 60000, AGG_COUNT, &tier, &c), 120);
    assert_int_equal(tier, 1);
    assert_true(c.first_v == 12);
    assert_int_equal(
        query(st, "cpu.usage_percent", t0, t0 + 7200000 - 1, 60000, AGG_MAX, &tier, &c), 120);
    assert_true(c.first_v == (double)((t0 / STEP) % 10000 + 11) / 100.0);
    assert_int_equal(query(st, "no.such", t0, t0 + 1, 0, AGG_AVG, NULL, &c), -ENOENT);
    store_close(st);

    /* reopened, it goes on where it left off */
    st = open_ok(30, 90, 730);
    append_at(st, t0 + 7200000);
    assert_int_equal(query(st, "cpu.usage_percent", t0, t0 + 7200000, 0, AGG_AVG, NULL, &c), 1441);
    store_close(st);
}

/* 31 days of 5 s samples: exactly 30 days raw; the tiers keep the first day;
 * a further week does not grow the file. The tiers are kept 31 days here, so
 * that in that week every part of the file is at its retention: with the
 * defaults (90 days, 2 years) the tiers would rightly keep growing. */
static void retention_with_injected_clock(void **state)
{
    struct store *st = open_ok(30, 31, 31);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, t = t0, now;
    struct collect c;
    off_t size31 = 0, size38;
    int tier;

    (void)state;
    for (int day = 0; day < 38; day++) {
        for (int64_t end = t + DAY; t < end; t += STEP) {
            append_at(st, t);
            if (t % 3600000 == 0)
                assert_int_equal(store_maintain(st, t), 0);
        }
        if (day == 30) {
            now = t - STEP;
            assert_int_equal(store_maintain(st, now), 0);
            /* raw: exactly the last 30 days */
            assert_true(query(st, "cpu.usage_percent", t0, now, 0, AGG_AVG, &tier, &c) > 0);
            assert_int_equal(tier, 1); /* older than raw retention: the minute tier answers */
            assert_int_equal(
                query(st, "cpu.usage_percent", now - 30 * DAY, now, 3600000, AGG_COUNT, &tier, &c),
                30 * 24 + 1);
            /* minute and hour tiers still hold day 0 */
            assert_int_equal(
                query(st, "cpu.usage_percent", t0, t0 + DAY - 1, 3600000, AGG_COUNT, &tier, &c),
                24);
            assert_int_equal(tier, 2);
            assert_true(c.first_v == 720);
            assert_int_equal(store_checkpoint(st), 0);
            size31 = file_size();
        }
    }
    now = t - STEP;
    assert_int_equal(store_maintain(st, now), 0);
    assert_int_equal(store_checkpoint(st), 0);
    size38 = file_size();
    print_message("db size after 31 days %lld bytes, after 38 days %lld bytes\n", (long long)size31,
                  (long long)size38);
    assert_true((double)size38 <= (double)size31 * 1.05);
    store_close(st);
}

/* The raw tier keeps exactly retention_period_days, to the sample. */
static void raw_cut_is_exact(void **state)
{
    struct store *st = open_ok(1, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, t, now;
    struct collect c;
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t oldest = 0;

    (void)state;
    for (t = t0; t < t0 + DAY + 7 * 3600000 + 1234 * STEP / 1000; t += STEP)
        append_at(st, t);
    now = t - STEP;
    assert_int_equal(store_maintain(st, now), 0);
    store_close(st);
    /* the oldest raw sample, read from the blocks' start times and the ticks */
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT min(start_ts) FROM blocks WHERE tier = 0", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    oldest = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_true(oldest >= now - DAY);
    assert_true(oldest < now - DAY + STEP);
    (void)c;
}

/* The clock steps back into an hour already compacted: its snapshots join the
 * hour's block instead of replacing it (one stamped exactly like a compacted
 * one gives way to it); two new snapshots of the same millisecond are both
 * kept, the second a millisecond on. */
static void clock_steps_back(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY;
    struct collect c;
    int tier;

    (void)state;
    for (int64_t t = t0; t < t0 + 3600000; t += STEP)
        append_at(st, t);
    assert_int_equal(store_maintain(st, t0 + 3600000 + 1), 0);
    append_at(st, t0 + 1234); /* inside the compacted hour */
    append_at(st, t0 + 2345);
    append_at(st, t0 + 10 * STEP);   /* a time already compacted: that one stays */
    append_at(st, t0 + 3600000 + 7); /* the next hour, twice at the same ms */
    append_at(st, t0 + 3600000 + 7);
    assert_int_equal(store_maintain(st, t0 + 2 * 3600000 + 1), 0);
    assert_int_equal(query(st, "cpu.usage_percent", t0, t0 + 3600000 - 1, 0, AGG_COUNT, &tier, &c),
                     720 + 2);
    assert_int_equal(
        query(st, "cpu.usage_percent", t0, t0 + 3600000 - 1, 60000, AGG_COUNT, &tier, &c), 60);
    assert_true(c.sum == 722);
    /* two samples a millisecond apart (step 0 over two hours averages 37 ms steps) */
    assert_true(
        query(st, "cpu.usage_percent", t0 + 3600000, t0 + 7200000, 0, AGG_COUNT, &tier, &c) >= 1);
    assert_true(c.sum == 2);
    store_close(st);
}

static void write_file(const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void refuses_what_is_not_ours(void **state)
{
    struct store_options o = {.raw_days = 30, .minute_days = 90, .hour_days = 730};
    struct store *st = NULL;
    struct strbuf errs;
    char junk[8192];
    sqlite3 *db;

    (void)state;
    strbuf_init(&errs, 4096);
    /* random bytes */
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7919 + 13);
    write_file(junk, sizeof(junk));
    assert_int_equal(store_open(&st, path, &o, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, path));
    assert_non_null(strstr(errs.buf, "move it away"));
    /* the file is left as it was */
    {
        FILE *f = fopen(path, "r");
        char back[16];
        assert_non_null(f);
        assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(back));
        fclose(f);
        assert_memory_equal(back, junk, sizeof(back));
    }
    unlink(path);
    /* another program's database */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE accounts (id INTEGER, owner TEXT)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    strbuf_reset(&errs);
    assert_int_equal(store_open(&st, path, &o, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "not an arthamon database"));
    unlink(path);
    /* ours, but from a newer version */
    st = open_ok(30, 90, 730);
    store_close(st);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    strbuf_reset(&errs);
    assert_int_equal(store_open(&st, path, &o, &errs), -EINVAL);
    assert_non_null(strstr(errs.buf, "newer"));
    unlink(path);
    strbuf_done(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_compact_query, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_cut_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(clock_steps_back, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_what_is_not_ours, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_with_injected_clock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
