/*
 * The history database: append, compaction into blocks and tiers, retention
 * with an injected clock (31 days of 5 s samples keep exactly 30 days raw,
 * the tiers intact, and the file stops growing), queries per tier, the
 * refusal of files that are not ours, damaged or newer; the tick journal
 * beside it (a torn tail, a journal of another database, a crash between
 * compaction's commit and the journal's rewrite, an hour of more ticks than a
 * block holds); the text fields kept through the history.
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

#include "store/codec.h"
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
    for (const char *sfx = ""; sfx; sfx = !*sfx                    ? "-wal"
                                          : !strcmp(sfx, "-wal")   ? "-shm"
                                          : !strcmp(sfx, "-shm")   ? "-ticks"
                                          : !strcmp(sfx, "-ticks") ? "-ticks.tmp"
                                                                   : NULL) {
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

static void no_snapshot(void *ctx, const struct snapshot *snap)
{
    (void)ctx;
    (void)snap;
}
#define NULL_FN no_snapshot

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

/* The database and its tick journal. */
static off_t file_size(void)
{
    struct stat sb, sj;
    char jp[160];

    snprintf(jp, sizeof(jp), "%s-ticks", path);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(stat(jp, &sj), 0);
    return sb.st_size + sj.st_size;
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

/* The raw tier keeps exactly retention_period_days, to the sample: nothing
 * older is answered (raw queries, history, another process reading), and a
 * block all older than that is gone from the file. */
static void oldest_first_ts(void *ctx, const struct snapshot *snap)
{
    int64_t *t = ctx;

    if (!*t)
        *t = (int64_t)snap->timestamp_ms;
}

static void raw_cut_is_exact(void **state)
{
    struct store_options ro = {
        .raw_days = 1, .minute_days = 90, .hour_days = 730, .read_only = true};
    struct store *st = open_ok(1, 90, 730), *rd;
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, t, now, oldest = 0;
    struct collect c;
    struct strbuf errs;
    sqlite3 *db;
    sqlite3_stmt *s;
    int tier;

    (void)state;
    for (t = t0; t < t0 + DAY + 7 * 3600000 + 1234 * STEP / 1000; t += STEP)
        append_at(st, t);
    now = t - STEP;
    assert_int_equal(store_maintain(st, now), 0);
    /* raw samples: the first at most one step after now - 1 day */
    assert_true(query(st, "cpu.usage_percent", now - DAY, now, 0, AGG_COUNT, &tier, &c) > 0);
    assert_int_equal(tier, 0);
    assert_true(c.first >= now - DAY && c.first < now - DAY + STEP);
    /* just before the cut: not raw samples any more, the minute tier answers */
    assert_true(query(st, "cpu.usage_percent", now - DAY - 1800000, now - DAY - 1, 0, AGG_COUNT,
                      &tier, &c) > 0);
    assert_int_equal(tier, 1);
    assert_true(store_history(st, t0, now, 1, true, "n", oldest_first_ts, &oldest, NULL) == 1);
    assert_true(oldest >= now - DAY && oldest < now - DAY + STEP);
    strbuf_init(&errs, 4096);
    assert_int_equal(store_open(&rd, path, &ro, &errs), 0);
    oldest = 0;
    assert_true(store_history(rd, t0, now, 1, true, "n", oldest_first_ts, &oldest, NULL) == 1);
    assert_true(oldest >= now - DAY && oldest < now - DAY + STEP);
    store_close(rd);
    strbuf_done(&errs);
    store_close(st);
    /* no raw block wholly older than the cut is left in the file */
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT min(end_ts) FROM blocks WHERE tier = 0", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_true(sqlite3_column_int64(s, 0) >= now - DAY);
    sqlite3_finalize(s);
    sqlite3_close(db);
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

/* ---- the tick journal ---- */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;

    assert_non_null(a);
    assert_non_null(b);
    while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    fclose(b);
}

static long count_history(struct store *st, int64_t from, int64_t to)
{
    int64_t next = 0;
    long total = 0, n;

    do {
        n = store_history(st, from, to, 1000, true, "n", NULL_FN, NULL, &next);
        assert_true(n >= 0);
        total += n;
        from = next;
    } while (next);
    return total;
}

/* A crash after compaction committed but before the journal was rewritten:
 * the old journal, with the compacted hour still in it, is found at the next
 * start; its ticks are not counted twice, and the newer ones are all there. */
static void crash_between_commit_and_rewrite(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, t;
    char jp[160], saved[170];
    struct collect c;
    int tier;

    (void)state;
    for (t = t0; t < t0 + 3600000 + 100 * STEP; t += STEP)
        append_at(st, t);
    snprintf(jp, sizeof(jp), "%s-ticks", path);
    snprintf(saved, sizeof(saved), "%s.saved", jp);
    copy_file(jp, saved);
    assert_int_equal(store_maintain(st, t), 0);
    store_close(st);
    copy_file(saved, jp); /* the journal as it was before the rewrite */
    unlink(saved);
    st = open_ok(30, 90, 730);
    assert_int_equal(query(st, "cpu.usage_percent", t0, t0 + 3600000 - 1, 0, AGG_COUNT, &tier, &c),
                     720);
    assert_true(c.sum == 720);
    assert_int_equal(count_history(st, t0, t), 820);
    /* and once more compacted: still once each */
    assert_int_equal(store_maintain(st, t0 + 2 * 3600000 + 1), 0);
    assert_int_equal(count_history(st, t0, t), 820);
    store_close(st);
}

/* A write cut short (a crash mid-record, or garbage at the end) ends the
 * journal there: the whole ticks before it stay, new ones go after them. */
static void torn_tail_is_cut(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL, t = t0;
    char jp[160];
    FILE *f;

    (void)state;
    for (int i = 0; i < 10; i++, t += STEP)
        append_at(st, t);
    store_close(st);
    snprintf(jp, sizeof(jp), "%s-ticks", path);
    f = fopen(jp, "ab");
    assert_non_null(f);
    {
        /* a record header promising 48 bytes, and fewer */
        static const char torn[] =
            "\x30\x00\x00\x00\x01\x02\x03\x04garbage, as a torn write leaves";
        assert_int_equal(fwrite(torn, 1, sizeof(torn) - 1, f), sizeof(torn) - 1);
    }
    fclose(f);
    st = open_ok(30, 90, 730);
    assert_int_equal(count_history(st, t0, t0 + DAY), 10);
    append_at(st, t);
    store_close(st);
    st = open_ok(30, 90, 730);
    assert_int_equal(count_history(st, t0, t0 + DAY), 11);
    store_close(st);
}

/* A journal left beside another database is set aside, not replayed. */
static void foreign_journal_set_aside(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    char jp[160], other[160];
    int64_t t0 = 1700006400000LL;

    (void)state;
    for (int i = 0; i < 5; i++)
        append_at(st, t0 + i * STEP);
    store_close(st);
    snprintf(jp, sizeof(jp), "%s-ticks", path);
    snprintf(other, sizeof(other), "%s/other", dir);
    copy_file(jp, other);
    unlink(path);
    unlink(jp);
    st = open_ok(30, 90, 730); /* a new database... */
    store_close(st);
    copy_file(other, jp); /* ...beside the old one's journal */
    unlink(other);
    st = open_ok(30, 90, 730);
    assert_int_equal(count_history(st, t0, t0 + DAY), 0);
    append_at(st, t0 + 10 * STEP);
    assert_int_equal(count_history(st, t0, t0 + DAY), 1);
    store_close(st);
    /* the set-aside file is there, untouched (removed here) */
    {
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "ls %s/*.orphan-* >/dev/null 2>&1 && rm -f %s/*.orphan-*", dir,
                 dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* An interval under 55 ms fills an hour with more ticks than a block holds:
 * the hour is kept in more than one block, every tick of it. */
static void hour_larger_than_a_block(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, n = 3600000 / 50;
    struct collect c;
    int tier;

    (void)state;
    for (int64_t i = 0; i < n; i++)
        append_at(st, t0 + i * 50);
    assert_int_equal(store_maintain(st, t0 + 3600000 + 1), 0);
    assert_int_equal(
        query(st, "cpu.usage_percent", t0, t0 + 3600000 - 1, 60000, AGG_COUNT, &tier, &c), 60);
    assert_true(c.sum == (double)n);
    assert_int_equal(count_history(st, t0, t0 + 3600000), n);
    store_close(st);
}

/* A journal written in row format 1 (by an earlier version) is read as it is,
 * and replaced by format 2 once compaction has taken all of it. */
static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void format1_journal_is_read(void **state)
{
    struct store *st = open_ok(30, 90, 730);
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY, db_id = 0;
    char jp[160];
    sqlite3 *db;
    sqlite3_stmt *q;
    FILE *f;
    uint8_t h[24];
    struct collect c;
    int tier;

    (void)state;
    append_at(st, t0); /* registers the series: cpu.usage_percent is id 1 */
    assert_int_equal(store_maintain(st, t0 + 3600000 + 1), 0);
    store_close(st);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'journal_id'", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    db_id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'journal_gen'", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    memcpy(h, "ARMNJRN1", 8);
    put_le(h + 8, (uint64_t)db_id, 8);
    put_le(h + 16, (uint64_t)sqlite3_column_int64(q, 0) + 1, 8);
    sqlite3_finalize(q);
    sqlite3_close(db);
    snprintf(jp, sizeof(jp), "%s-ticks", path);
    f = fopen(jp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(h, 1, sizeof(h), f), sizeof(h));
    for (int i = 0; i < 10; i++) {
        /* one format-1 row: varint id 1, the double 40 + i */
        uint8_t rec[16 + 9];
        double v = 40.0 + i;
        put_le(rec, 9, 4);
        put_le(rec + 8, (uint64_t)(t0 + 3600000 + i * STEP), 8);
        rec[16] = 1;
        memcpy(rec + 17, &v, sizeof(v));
        put_le(rec + 4, blk_crc32c(rec + 8, 8 + 9), 4);
        assert_int_equal(fwrite(rec, 1, sizeof(rec), f), sizeof(rec));
    }
    fclose(f);
    st = open_ok(30, 90, 730);
    assert_int_equal(
        query(st, "cpu.usage_percent", t0 + 3600000, t0 + 7200000, 0, AGG_COUNT, &tier, &c), 10);
    assert_int_equal(
        query(st, "cpu.usage_percent", t0 + 3600000, t0 + 7200000, 3600000, AGG_SUM, &tier, &c), 1);
    assert_true(c.first_v == 40 * 10 + 45);
    append_at(st, t0 + 3600000 + 10 * STEP); /* appended in format 1 too: one file, one format */
    assert_int_equal(store_maintain(st, t0 + 2 * 3600000 + 1), 0);
    assert_int_equal(count_history(st, t0, t0 + 2 * 3600000), 12);
    store_close(st);
    /* all of it compacted: the journal starts again in format 2 */
    f = fopen(jp, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(h, "ARMNJRN2", 8);
}

/* ---- text fields ---- */

struct texts_seen {
    size_t n;
    char json[8][4096];
};

static void keep_json(void *ctx, const struct snapshot *snap)
{
    struct texts_seen *t = ctx;
    struct strbuf sb;

    strbuf_init(&sb, 1 << 20);
    assert_int_equal(snapshot_to_json(snap, &sb), 0);
    if (t->n < 8)
        snprintf(t->json[t->n], sizeof(t->json[0]), "%s", sb.buf);
    t->n++;
    strbuf_done(&sb);
}

static const char *const leaks[] = {"rss grew 12 MB/h for 6 h", "heap, not caches"};

/* With n_leaks, also a second GPU and figures reported by the node. */
static void append_texts(struct store *st, int64_t ts, const char *algo, size_t n_leaks)
{
    struct snapshot *s = snapshot_new();
    struct gpu_device_metrics *g;

    assert_non_null(s);
    s->timestamp_ms = (uint64_t)ts;
    s->timestamp = (uint64_t)(ts / 1000);
    s->node_id = snapshot_strdup(s, "n");
    s->cpu.usage_percent = 12.5;
    if (algo)
        s->node.consensus_metrics.algorithm = snapshot_strdup(s, algo);
    s->memory.leak_indicators = (const char **)leaks;
    s->memory.n_leak_indicators = n_leaks;
    assert_int_equal(
        snapshot_set_series(s, "model_inference.avg_inference_ms{model=m\\,1,type=llm}", 3.25), 0);
    s->model_inference[0].quantization_info = snapshot_strdup(s, "int8, per channel");
    s->model_inference[0].quantum_accelerated = true;
    s->gpu_present = true;
    s->gpu.usage_percent = 37;
    g = snapshot_gpu_device(s, 0);
    assert_non_null(g);
    g->name = "NVIDIA H100 80GB HBM3";
    g->uuid = "GPU-a";
    g->usage_percent = 37;
    g->power_watts = 71.234;
    g->clock_sm_mhz = 1980;
    if (n_leaks) {
        g = snapshot_gpu_device(s, 1);
        assert_non_null(g);
        g->name = "A100, \"SXM\"";
        g->uuid = "GPU-b";
        g->memory_used_mb = 40960;
    }
    s->quantum_present = true;
    s->quantum.security_level_bits = 128;
    s->quantum.reported = n_leaks ? QUANTUM_REPORTED_SECURITY | QUANTUM_REPORTED_QRNG : 0;
    assert_int_equal(store_append(st, s), 0);
    s->memory.leak_indicators = NULL;
    s->memory.n_leak_indicators = 0;
    snapshot_unref(s);
}

static void check_texts(struct store *st, int64_t t0)
{
    struct texts_seen t;

    for (int dir_old = 0; dir_old < 2; dir_old++) {
        memset(&t, 0, sizeof(t));
        assert_int_equal(store_history(st, t0, t0 + DAY, 100, dir_old, "n", keep_json, &t, NULL),
                         4);
        assert_non_null(strstr(t.json[0], "\"algorithm\":\"pos\""));
        assert_non_null(strstr(t.json[0], "\"leak_indicators\":[\"rss grew 12 MB/h for 6 h\","
                                          "\"heap, not caches\"]"));
        assert_non_null(strstr(t.json[0], "\"quantization_info\":\"int8, per channel\""));
        assert_non_null(strstr(t.json[0], "\"quantum_accelerated\":true"));
        assert_non_null(strstr(t.json[1], "\"algorithm\":\"pos\""));
        assert_non_null(strstr(t.json[2], "\"algorithm\":\"tendermint\""));
        assert_non_null(strstr(t.json[2], "\"leak_indicators\":[\"rss grew 12 MB/h for 6 h\"]"));
        assert_non_null(strstr(t.json[3], "\"algorithm\":null"));
        assert_non_null(strstr(t.json[3], "\"leak_indicators\":[]"));
        assert_non_null(strstr(t.json[3], "\"quantization_info\":\"int8, per channel\""));
        for (int i = 0; i < 4; i++)
            assert_non_null(strstr(
                t.json[i], "\"gpus\":[{\"index\":0,\"name\":\"NVIDIA H100 80GB HBM3\","
                           "\"uuid\":\"GPU-a\",\"usage_percent\":37,\"memory_used_mb\":null,"
                           "\"memory_total_mb\":null,\"temperature\":null,\"power_watts\":71.234,"
                           "\"clock_sm_mhz\":1980,\"clock_memory_mhz\":null,"
                           "\"tensor_core_util\":null,\"core_util\":null}"));
        assert_non_null(strstr(t.json[0], "},{\"index\":1,\"name\":\"A100, \\\"SXM\\\"\","
                                          "\"uuid\":\"GPU-b\",\"usage_percent\":null,"
                                          "\"memory_used_mb\":40960,"));
        assert_non_null(strstr(t.json[0], "\"reported_by_node\":[\"qrng_throughput\","
                                          "\"security_level_bits\"]"));
        assert_null(strstr(t.json[3], "\"index\":1"));
        assert_non_null(strstr(t.json[3], "\"reported_by_node\":[]"));
    }
}

/* The text fields a snapshot holds come back with it: as written, as they
 * change and disappear, from the journal, from the blocks, after a restart,
 * and to another process reading the database. */
static void texts_are_kept(void **state)
{
    struct store_options ro = {
        .raw_days = 30, .minute_days = 90, .hour_days = 730, .read_only = true};
    struct store *st = open_ok(30, 90, 730), *rd;
    int64_t t0 = 1700006400000LL - 1700006400000LL % DAY;
    struct strbuf errs;

    (void)state;
    append_texts(st, t0, "pos", 2);
    append_texts(st, t0 + STEP, "pos", 2);
    append_texts(st, t0 + 2 * STEP, "tendermint", 1);
    append_texts(st, t0 + 3 * STEP, NULL, 0);
    check_texts(st, t0);
    strbuf_init(&errs, 4096);
    assert_int_equal(store_open(&rd, path, &ro, &errs), 0);
    check_texts(rd, t0);
    store_close(rd);
    assert_int_equal(store_maintain(st, t0 + 3600000 + 1), 0); /* into blocks */
    check_texts(st, t0);
    store_close(st);
    st = open_ok(30, 90, 730);
    check_texts(st, t0);
    store_close(st);
    strbuf_done(&errs);
}

struct seen_anomalies {
    size_t n;
    char ids[4][40];
    size_t related, actions;
};

static void seen_anomaly(void *ctx, const struct anomaly *a)
{
    struct seen_anomalies *sa = ctx;

    if (sa->n < 4)
        snprintf(sa->ids[sa->n], sizeof(sa->ids[0]), "%s", a->id);
    sa->n++;
    sa->related += a->n_related;
    sa->actions += a->n_actions;
}

/* Anomalies saved, updated under their id, read back in order, and past the raw
 * retention the resolved ones go while open ones stay. */
static void anomalies_are_kept(void **state)
{
    const int64_t day = 86400000, t0 = 1700000000000;
    struct store *st = open_ok(1, 2, 3);
    struct anomaly a = {0};
    struct seen_anomalies sa = {0};

    (void)state;
    a.anomaly_type = "cpu_saturation";
    a.component = "cpu";
    a.detector = "rule";
    a.severity = 2;
    a.related_metrics[0].key = "cpu.usage_percent";
    a.related_metrics[0].value = 97.5;
    a.n_related = 1;
    a.suggested_actions[0] = "look at top";
    a.n_actions = 1;
    snprintf(a.id, sizeof(a.id), "old-resolved");
    a.detected_at_ms = (uint64_t)t0;
    a.resolved_at_ms = (uint64_t)t0 + 60000;
    assert_int_equal(store_put_anomaly(st, &a), 0);
    snprintf(a.id, sizeof(a.id), "old-open");
    a.resolved_at_ms = 0;
    assert_int_equal(store_put_anomaly(st, &a), 0);
    a.severity = 3; /* an update: the same record */
    assert_int_equal(store_put_anomaly(st, &a), 0);
    snprintf(a.id, sizeof(a.id), "new");
    a.detected_at_ms = (uint64_t)(t0 + 2 * day);
    assert_int_equal(store_put_anomaly(st, &a), 0);

    assert_int_equal(store_anomalies(st, 10, seen_anomaly, &sa), 3);
    assert_string_equal(sa.ids[0], "old-resolved"); /* oldest first */
    assert_string_equal(sa.ids[2], "new");
    assert_int_equal(sa.related, 3);
    assert_int_equal(sa.actions, 3);

    assert_int_equal(store_maintain(st, t0 + 2 * day + 1000), 0);
    memset(&sa, 0, sizeof(sa));
    assert_int_equal(store_anomalies(st, 10, seen_anomaly, &sa), 2);
    assert_string_equal(sa.ids[0], "old-open");
    assert_string_equal(sa.ids[1], "new");
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(append_compact_query, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_cut_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(clock_steps_back, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_what_is_not_ours, setup, teardown),
        cmocka_unit_test_setup_teardown(retention_with_injected_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_between_commit_and_rewrite, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(foreign_journal_set_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(hour_larger_than_a_block, setup, teardown),
        cmocka_unit_test_setup_teardown(format1_journal_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(texts_are_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(anomalies_are_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
