#define LOG_MODULE "store"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "common/intern.h"
#include "core/log.h"
#include "journal.h"

#define APP_ID 0x41524d4e /* "ARMN" */
/* 1: blocks and ticks; 2: the tick journal beside the database (which a
 * version-1 reader would not see) and the texts table */
#define FORMAT_VERSION 2
#define HOUR_MS        3600000LL
#define MINUTE_MS      60000LL
#define DAY_MS         86400000LL
#define KEY_MAX        512
#define ROW_ENTRY_MAX  (10 + 10) /* a row entry: a varint, then a double or a varint */
#define STMT_CACHE     48        /* prepared statements kept (more than the store has) */

/* ---- the series registry: key -> id ---- */

struct series_ent {
    char *key;
    uint32_t id;
};

struct registry {
    struct series_ent *slots; /* open addressing, power of two */
    size_t cap, n;
    char **by_id; /* id -> key (the slot's string) */
    size_t by_id_cap;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int reg_put(struct registry *r, const char *key, uint32_t id)
{
    size_t i;

    if ((r->n + 1) * 2 > r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 1024;
        struct series_ent *ns = calloc(ncap, sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        for (size_t j = 0; j < r->cap; j++) {
            if (!r->slots[j].key)
                continue;
            for (i = fnv1a(r->slots[j].key) & (ncap - 1); ns[i].key; i = (i + 1) & (ncap - 1))
                ;
            ns[i] = r->slots[j];
        }
        free(r->slots);
        r->slots = ns;
        r->cap = ncap;
    }
    for (i = fnv1a(key) & (r->cap - 1); r->slots[i].key; i = (i + 1) & (r->cap - 1))
        ;
    r->slots[i].key = strdup(key);
    if (!r->slots[i].key)
        return -ENOMEM;
    r->slots[i].id = id;
    r->n++;
    if (id >= r->by_id_cap) {
        size_t ncap = r->by_id_cap ? r->by_id_cap : 1024;
        char **nb;
        while (ncap <= id)
            ncap *= 2;
        nb = realloc(r->by_id, ncap * sizeof(*nb));
        if (!nb)
            return -ENOMEM;
        memset(nb + r->by_id_cap, 0, (ncap - r->by_id_cap) * sizeof(*nb));
        r->by_id = nb;
        r->by_id_cap = ncap;
    }
    r->by_id[id] = r->slots[i].key;
    return 0;
}

static const char *reg_key(const struct registry *r, uint32_t id)
{
    return id < r->by_id_cap ? r->by_id[id] : NULL;
}

static const struct series_ent *reg_get(const struct registry *r, const char *key)
{
    if (!r->cap)
        return NULL;
    for (size_t i = fnv1a(key) & (r->cap - 1); r->slots[i].key; i = (i + 1) & (r->cap - 1))
        if (strcmp(r->slots[i].key, key) == 0)
            return &r->slots[i];
    return NULL;
}

static void reg_done(struct registry *r)
{
    for (size_t i = 0; i < r->cap; i++)
        free(r->slots[i].key);
    free(r->slots);
    free(r->by_id);
    memset(r, 0, sizeof(*r));
}

/* ---- the store ---- */

/* The counters are read by /metrics without the store's lock, which
 * compaction may hold for a while: single words, stored and loaded atomically. */
#define STAT_SET(st, f, v) __atomic_store_n(&(st)->stats.f, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_ADD(st, f, v) __atomic_fetch_add(&(st)->stats.f, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_GET(st, f)    __atomic_load_n(&(st)->stats.f, __ATOMIC_RELAXED)

/* The series a position of the flattening held last tick: its description
 * (the label keys come with it) and its label values, interned (common/
 * intern.h: equal strings, equal addresses). */
#define KC_LABELS 3
struct key_cache {
    const struct series_desc *desc;
    uint32_t id;
    uint32_t n_labels;
    const char *val[KC_LABELS];
};

/* A text field's value as last written to the texts table (present: not NULL). */
struct text_field {
    char *key;
    uint8_t *val;
    size_t len;
    bool present;
    bool seen;     /* in the snapshot being appended */
    bool changed;  /* by it */
    uint8_t *nval; /* its new value, when changed and present */
    size_t nlen;
};

struct store;
static void texts_done(struct store *st);
static int texts_load(struct store *st);

/*
 * Locks, always taken in this order: alock (one append at a time: the row
 * buffer, the key cache, adding series), lock (the connection: queries,
 * compaction, adding series), jlock (the journal's file and index, held only
 * for a moment). The registry changes under alock and lock together, so an
 * append reads it under alock and everything else under lock.
 */
struct store {
    sqlite3 *db;
    char *path;
    struct store_options opt;
    pthread_mutex_t alock, lock, jlock;
    struct registry reg;
    uint32_t next_id;
    sqlite3_stmt *ins_series;
    struct store_stats stats;
    /* the tick journal (arthamon.db-ticks): the snapshots not compacted yet */
    struct journal jr;
    uint64_t db_id; /* 0: none yet (a read-only opener of an old database) */
    char *jpath;
    /* the row being built by store_append() */
    uint8_t *row;
    size_t row_len, row_cap;
    /* the last tick's series in flattening order (kc), and this tick's being
     * built (kc_next, swapped in when the append is done) */
    struct key_cache *kc, *kc_next;
    size_t kc_n, kc_cap, kc_next_n;
    bool kc_ok; /* kc_next holds every series of the tick */
    /* the text fields as of the newest append (snapshot_flatten_texts), and
     * the changes the append being built makes to them */
    struct text_field *texts;
    size_t n_texts, cap_texts;
    int64_t texts_ts; /* of the newest change written */
    struct {
        const char *sql; /* the literal's address */
        sqlite3_stmt *s;
    } stmts[STMT_CACHE];
    size_t n_stmts;
    int64_t raw_cut;   /* raw samples before it are past retention (INT64_MIN: none) */
    int64_t days_from; /* days before it have their hour block (INT64_MIN: unknown) */
    int err;           /* first error of the current append */
};

/* What compaction has taken from the journal (the meta table keeps it): the
 * records of generation gen before offset off with a time before `before`. */
struct consumed {
    uint64_t gen, off;
    int64_t before;
};

static bool is_consumed(void *ctx, const struct jr_rec *r)
{
    const struct consumed *c = ctx;

    return r->off < c->off && r->ts < c->before;
}

static bool is_not_consumed(void *ctx, const struct jr_rec *r)
{
    return !is_consumed(ctx, r);
}

static int sql_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    default:
        return -EIO;
    }
}

static int exec(struct store *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        log_debug("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return sql_errno(rc);
    }
    return 0;
}

/*
 * The statement of a SQL literal, prepared once and kept (preparing costs
 * more than running most of these; maintenance runs a dozen every minute).
 * The caller resets it (sqlite3_reset) when done instead of finalizing it.
 */
static int prep(struct store *st, const char *sql, sqlite3_stmt **ret)
{
    int rc;

    for (size_t i = 0; i < st->n_stmts; i++)
        if (st->stmts[i].sql == sql) {
            sqlite3_reset(st->stmts[i].s);
            sqlite3_clear_bindings(st->stmts[i].s);
            *ret = st->stmts[i].s;
            return SQLITE_OK;
        }
    rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, ret, NULL);
    if (rc == SQLITE_OK && st->n_stmts < STMT_CACHE) {
        st->stmts[st->n_stmts].sql = sql;
        st->stmts[st->n_stmts++].s = *ret;
    } else if (rc == SQLITE_OK) {
        /* (the cache is full: never, with this file's statements) */
        log_warn("store: statement cache full");
    }
    return rc;
}

/* BEGIN, COMMIT: one prepared step. 0 or -errno. */
static int tx(struct store *st, const char *sql)
{
    sqlite3_stmt *s;
    int rc = prep(st, sql, &s);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        sqlite3_reset(s);
    }
    return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : sql_errno(rc);
}

/* The first column of the first row of sql as an integer (or dflt). */
static int64_t query_int(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *s;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return dflt;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS ticks (ts INTEGER PRIMARY KEY, row BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS blocks (tier INTEGER NOT NULL, start_ts INTEGER NOT NULL,"
    " end_ts INTEGER NOT NULL, rows INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (tier, start_ts));"
    "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " ts INTEGER NOT NULL, key TEXT, body TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_kind_ts ON records (kind, ts);"
    "CREATE INDEX IF NOT EXISTS records_kind_key ON records (kind, key);"
    "CREATE INDEX IF NOT EXISTS blocks_end ON blocks (tier, end_ts);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS texts (key TEXT NOT NULL, ts INTEGER NOT NULL, value BLOB,"
    " PRIMARY KEY (key, ts)) WITHOUT ROWID;";

/* Refuses what is not ours, newer, or corrupt: one line naming the file and what to do. */
static int check_db(struct store *st, bool fresh, struct strbuf *errs)
{
    int64_t app = query_int(st->db, "PRAGMA application_id", -1);
    int64_t ver = query_int(st->db, "PRAGMA user_version", -1);
    int64_t tables = query_int(st->db, "SELECT count(*) FROM sqlite_master", -1);
    sqlite3_stmt *s;
    int r = 0;

    if (app == -1 || tables == -1) {
        strbuf_printf(errs,
                      "%s: not a readable SQLite database (%s); move it away, or set "
                      "agent.data_dir to another directory\n",
                      st->path, sqlite3_errmsg(st->db));
        return -EINVAL;
    }
    if (app != APP_ID && !(app == 0 && tables == 0 && fresh)) {
        if (app == 0 && tables == 0 && !st->opt.read_only)
            return 1; /* an empty database: ours to initialise */
        strbuf_printf(errs,
                      "%s: not an arthamon database (application_id 0x%08" PRIx64 ", %" PRId64
                      " tables); it belongs to another program: move it away, or "
                      "set agent.data_dir to another directory\n",
                      st->path, (uint64_t)app, tables);
        return -EINVAL;
    }
    if (app == 0)
        return 1;
    if (ver > FORMAT_VERSION) {
        strbuf_printf(errs,
                      "%s: written by a newer arthamon (format %" PRId64 ", this one reads %d); "
                      "run the newer version, or move the file away to start a new history\n",
                      st->path, ver, FORMAT_VERSION);
        return -EINVAL;
    }
    if (prep(st, "PRAGMA quick_check", &s) != SQLITE_OK) {
        strbuf_printf(errs, "%s: cannot be checked (%s); restore a backup or move it away\n",
                      st->path, sqlite3_errmsg(st->db));
        return -EINVAL;
    }
    if (sqlite3_step(s) != SQLITE_ROW || !sqlite3_column_text(s, 0) ||
        strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
        const char *why = (const char *)sqlite3_column_text(s, 0);
        strbuf_printf(errs,
                      "%s: is damaged (quick_check: %.200s); restore a backup, or move it away "
                      "to start a new history\n",
                      st->path, why ? why : sqlite3_errmsg(st->db));
        r = -EINVAL;
    }
    sqlite3_reset(s);
    return r;
}

static int load_registry(struct store *st)
{
    sqlite3_stmt *s;
    int r = 0;

    if (prep(st, "SELECT id, key FROM series", &s) != SQLITE_OK)
        return -EIO;
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        uint32_t id = (uint32_t)sqlite3_column_int64(s, 0);
        r = reg_put(&st->reg, (const char *)sqlite3_column_text(s, 1), id);
        if (id >= st->next_id)
            st->next_id = id + 1;
    }
    sqlite3_reset(s);
    STAT_SET(st, series, st->reg.n);
    return r;
}

/* ---- the journal beside the database ---- */

static int meta_set_int(struct store *st, const char *key, int64_t v)
{
    sqlite3_stmt *s;
    int rc = prep(st, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", &s);

    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, v);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

static int64_t meta_get_int(struct store *st, const char *key, int64_t dflt)
{
    sqlite3_stmt *s;
    int64_t v = dflt;

    if (prep(st, "SELECT value FROM meta WHERE key = ?", &s) != SQLITE_OK)
        return dflt;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
}

static void consumed_get(struct store *st, struct consumed *c)
{
    c->gen = (uint64_t)meta_get_int(st, "journal_gen", 0);
    c->off = (uint64_t)meta_get_int(st, "journal_off", 0);
    c->before = meta_get_int(st, "journal_before", INT64_MIN);
}

/*
 * The journal against what the database says it has consumed: the file of
 * that generation still holds consumed records (compaction committed, then
 * stopped before the rewrite): rewrite it without them, or failing that leave
 * them out of the index. An older generation is all consumed. Call with lock.
 */
static int journal_settle(struct store *st)
{
    struct consumed c;
    int r = 0;

    consumed_get(st, &c);
    if (st->jr.gen > c.gen)
        return 0;
    pthread_mutex_lock(&st->jlock);
    if (st->jr.gen < c.gen) {
        log_warn("%s: generation %" PRIu64 " is older than the database's %" PRIu64
                 " (a restored backup?): its %zu ticks are taken as compacted",
                 st->jpath, st->jr.gen, c.gen, st->jr.n);
        c.off = UINT64_MAX, c.before = INT64_MAX;
    }
    if (!st->opt.read_only)
        r = jr_rewrite(&st->jr, c.gen + 1, is_not_consumed, &c);
    if (st->opt.read_only || r < 0)
        jr_forget(&st->jr, is_consumed, &c);
    pthread_mutex_unlock(&st->jlock);
    return r;
}

static int journal_start(struct store *st, struct strbuf *errs)
{
    struct consumed c;
    size_t n = strlen(st->path) + sizeof("-ticks");
    int r;

    st->jpath = malloc(n);
    if (!st->jpath) {
        strbuf_puts(errs, "store: out of memory\n");
        return -ENOMEM;
    }
    snprintf(st->jpath, n, "%s-ticks", st->path);
    st->db_id = (uint64_t)meta_get_int(st, "journal_id", 0);
    if (!st->db_id && !st->opt.read_only) {
        /* the id that ties the journal to this database */
        uint64_t id = 0;
        while (!id)
            if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
                strbuf_printf(errs, "%s: getrandom: %s\n", st->path, strerror(errno));
                return -EIO;
            }
        id &= INT64_MAX; /* an SQLite integer */
        r = meta_set_int(st, "journal_id", (int64_t)id);
        if (r < 0) {
            strbuf_printf(errs, "%s: cannot write: %s\n", st->path, sqlite3_errmsg(st->db));
            return r;
        }
        st->db_id = id;
    }
    if (!st->db_id)
        return 0; /* read-only, and no journal was ever written for this database */
    consumed_get(st, &c);
    r = jr_open(&st->jr, st->jpath, st->db_id, c.gen + 1, st->opt.read_only, errs);
    if (r < 0)
        return r;
    r = journal_settle(st);
    if (r < 0)
        log_warn("%s: cannot drop the compacted ticks yet: %s", st->jpath, strerror(-r));
    return 0;
}

/* Read-only: the journal as it is now, beside the database as of the read
 * transaction the caller holds (retried when a compaction ran in between). */
static void journal_reload(struct store *st)
{
    struct strbuf errs;

    if (!st->opt.read_only)
        return;
    if (!st->db_id) {
        st->db_id = (uint64_t)meta_get_int(st, "journal_id", 0);
        if (!st->db_id)
            return;
    }
    strbuf_init(&errs, 4096);
    for (int tries = 0; tries < 3; tries++) {
        struct consumed c;
        jr_close(&st->jr);
        consumed_get(st, &c);
        if (jr_open(&st->jr, st->jpath, st->db_id, c.gen + 1, true, &errs) < 0)
            break;
        if (st->jr.gen <= c.gen + 1)
            break;
        /* the file is newer than this transaction's database: look again */
        sqlite3_exec(st->db, "COMMIT; BEGIN", NULL, NULL, NULL);
    }
    if (errs.len)
        log_debug("%.*s", (int)errs.len, errs.buf);
    strbuf_done(&errs);
    journal_settle(st);
}

int store_open(struct store **ret, const char *path, const struct store_options *opt,
               struct strbuf *errs)
{
    struct store *st = calloc(1, sizeof(*st));
    struct stat sb;
    bool fresh;
    int flags, r;

    *ret = NULL;
    if (!st || !(st->path = strdup(path))) {
        free(st);
        strbuf_puts(errs, "store: out of memory\n");
        return -ENOMEM;
    }
    st->opt = *opt;
    st->next_id = 1;
    st->jr.fd = -1;
    st->raw_cut = INT64_MIN;
    st->days_from = INT64_MIN;
    pthread_mutex_init(&st->alock, NULL);
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->jlock, NULL);
    fresh = stat(path, &sb) != 0 || sb.st_size == 0;
    if (fresh && opt->read_only) {
        strbuf_printf(errs, "%s: no history database here (is agent.data_dir right?)\n", path);
        r = -ENOENT;
        goto fail;
    }
    flags = opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        strbuf_printf(errs, "%s: cannot open: %s\n", path,
                      st->db ? sqlite3_errmsg(st->db) : "out of memory");
        r = -EIO;
        goto fail;
    }
    /* no lookaside slots (about 120 KiB of heap a connection, for a speed-up
     * that statements run once a tick do not need): the agent's RSS budget */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    r = check_db(st, fresh, errs);
    if (r < 0)
        goto fail;
    if (!opt->read_only) {
        /* WAL + synchronous=NORMAL: a commit is in the log before append
         * returns, so a killed process loses nothing; a power cut may lose the
         * last commits, never the file's integrity */
        if (exec(st, "PRAGMA journal_mode=WAL") < 0 || exec(st, "PRAGMA synchronous=NORMAL") < 0) {
            strbuf_printf(errs, "%s: cannot switch to WAL: %s\n", path, sqlite3_errmsg(st->db));
            r = -EIO;
            goto fail;
        }
        if (r == 1) {
            char sql[128];
            snprintf(sql, sizeof(sql), "PRAGMA application_id=%d; PRAGMA user_version=%d;", APP_ID,
                     FORMAT_VERSION);
            if (exec(st, "BEGIN") < 0 || exec(st, schema) < 0 || exec(st, sql) < 0 ||
                exec(st, "COMMIT") < 0) {
                strbuf_printf(errs, "%s: cannot create the tables: %s\n", path,
                              sqlite3_errmsg(st->db));
                r = -EIO;
                goto fail;
            }
        }
        if (sqlite3_prepare_v2(st->db, "INSERT INTO series (id, key) VALUES (?, ?)", -1,
                               &st->ins_series, NULL) != SQLITE_OK) {
            strbuf_printf(errs, "%s: %s\n", path, sqlite3_errmsg(st->db));
            r = -EIO;
            goto fail;
        }
    } else if (r == 1) {
        strbuf_printf(errs, "%s: an empty database, not arthamon's yet\n", path);
        r = -EINVAL;
        goto fail;
    }
    if (load_registry(st) < 0) {
        strbuf_printf(errs, "%s: cannot read the series: %s\n", path, sqlite3_errmsg(st->db));
        r = -EIO;
        goto fail;
    }
    r = journal_start(st, errs);
    if (r < 0)
        goto fail;
    st->raw_cut = meta_get_int(st, "raw_cut", INT64_MIN);
    if (!opt->read_only && texts_load(st) < 0) {
        strbuf_printf(errs, "%s: cannot read the text fields: %s\n", path, sqlite3_errmsg(st->db));
        r = -EIO;
        goto fail;
    }
    STAT_SET(st, ticks_rows,
             (uint64_t)query_int(st->db, "SELECT count(*) FROM ticks", 0) + st->jr.n);
    *ret = st;
    return 0;
fail:
    store_close(st);
    return r;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->ins_series);
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i].s);
    if (st->jr.fd >= 0 && !st->opt.read_only && jr_sync(&st->jr) < 0)
        log_warn("%s: %s", st->jpath, strerror(errno));
    jr_close(&st->jr);
    if (st->db)
        sqlite3_close(st->db);
    reg_done(&st->reg);
    pthread_mutex_destroy(&st->alock);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->jlock);
    texts_done(st);
    free(st->kc);
    free(st->kc_next);
    free(st->row);
    free(st->jpath);
    free(st->path);
    free(st);
}

/* ---- rows: one snapshot as (series id, value) pairs ---- */

static int row_put(struct store *st, const void *p, size_t n)
{
    if (st->row_len + n > st->row_cap) {
        size_t ncap = st->row_cap ? st->row_cap * 2 : 4096;
        uint8_t *nr;
        while (ncap < st->row_len + n)
            ncap *= 2;
        nr = realloc(st->row, ncap);
        if (!nr)
            return -ENOMEM;
        st->row = nr;
        st->row_cap = ncap;
    }
    memcpy(st->row + st->row_len, p, n);
    st->row_len += n;
    return 0;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -EBADMSG;
        x |= (uint64_t)(**p & 0x7f) << shift;
        if (!(*(*p)++ & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EBADMSG;
}

/* Within one append: the last label value found equal to an interned one, per
 * label index (the model and type of every layer of a model are one string). */
struct memo {
    const char *in[KC_LABELS], *interned[KC_LABELS];
};

static bool key_cache_is(const struct key_cache *kc, const struct series_desc *desc,
                         const struct series_label *labels, size_t n, struct memo *m)
{
    if (kc->desc != desc || kc->n_labels != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *v = labels[i].value ? labels[i].value : "", *p = kc->val[i];
        /* an interned label (map keys, model names, cores: the snapshot
         * interns what recurs) is matched by its address, without reading it */
        if (v == p)
            continue;
        if (interned(v))
            return false;
        if (v == m->in[i] && p == m->interned[i])
            continue;
        /* label values are a few bytes: a plain loop beats a call to strcmp() */
        while (*v && *v == *p)
            v++, p++;
        if (*v != *p)
            return false;
        m->in[i] = labels[i].value ? labels[i].value : "";
        m->interned[i] = kc->val[i];
    }
    return true;
}

static int key_cache_set(struct key_cache *kc, const struct series_desc *desc,
                         const struct series_label *labels, size_t n, uint32_t id)
{
    struct key_cache k = {desc, id, (uint32_t)n, {NULL}};

    if (n > KC_LABELS)
        return -E2BIG;
    for (size_t i = 0; i < n; i++)
        if (!(k.val[i] = intern(labels[i].value ? labels[i].value : "")))
            return -ENOMEM; /* (the pool is full: this position stays uncached) */
    *kc = k;
    return 0;
}

/* The id of a series, added to the registry (and the series table) when new. 0 on error. */
static uint32_t series_add(struct store *st, const char *key)
{
    const struct series_ent *e = reg_get(&st->reg, key);
    uint32_t id;

    if (e)
        return e->id;
    pthread_mutex_lock(&st->lock);
    id = st->next_id;
    sqlite3_bind_int64(st->ins_series, 1, id);
    sqlite3_bind_text(st->ins_series, 2, key, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st->ins_series) != SQLITE_DONE) {
        st->err = sql_errno(sqlite3_errcode(st->db));
        id = 0;
    } else if (reg_put(&st->reg, key, id) < 0) {
        /* in the table but not the registry: the next open reads it back */
        st->err = -ENOMEM;
        id = 0;
    } else {
        st->next_id++;
        STAT_SET(st, series, st->reg.n);
    }
    sqlite3_reset(st->ins_series);
    pthread_mutex_unlock(&st->lock);
    return id;
}

#define KC_WINDOW 8 /* how far from the expected place a series is looked for */

struct append_ctx {
    struct store *st;
    size_t pos;
    size_t cur;       /* where in the last tick's series this one is expected */
    uint64_t prev_id; /* of the row's previous entry (format 2) */
    bool copying;     /* kc_next is being built (else every series so far was at its place in kc) */
    struct memo memo;
};

/* Leaves kc as it is for the rest of this append and builds kc_next, from its
 * first pos entries (all at their places in kc so far). */
static void kc_start_copy(struct store *st, struct append_ctx *c, size_t pos)
{
    c->copying = true;
    if (pos <= st->kc_cap && pos)
        memcpy(st->kc_next, st->kc, pos * sizeof(*st->kc));
}

/* A varint at o (room for 10 bytes): its length. */
static size_t put_varint_at(uint8_t *o, uint64_t x)
{
    size_t n = 0;

    for (;; x >>= 7) {
        o[n++] = (uint8_t)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
        if (x < 0x80)
            return n;
    }
}

static void append_one(void *ctx, const struct series_desc *d, const struct series_label *labels,
                       size_t n, double v)
{
    struct append_ctx *c = ctx;
    struct store *st = c->st;
    struct key_cache *kc;
    size_t pos = c->pos++;
    size_t bn = 0;
    uint32_t id;

    if (st->err)
        return;
    /* the series of a tick are those of the last one, in the same order, but
     * for one appearing or going now and then: look where the last match
     * left off, then a few places either side; the key is only made (and
     * looked up) for a series not found there */
    kc = NULL;
    for (size_t k = 0; k < 2 * KC_WINDOW + 1 && !kc; k++) {
        /* c->cur, c->cur + 1, c->cur - 1, c->cur + 2, ... */
        size_t off = (k + 1) / 2;
        size_t at = k % 2 ? c->cur + off : c->cur - off;
        if (k % 2 == 0 && off > c->cur)
            continue;
        if (at < st->kc_n && key_cache_is(&st->kc[at], d, labels, n, &c->memo)) {
            kc = &st->kc[at];
            c->cur = at + 1;
        }
    }
    /* (st->kc may move below: where the match was, as an index) */
    if (pos >= st->kc_cap) {
        size_t ncap = st->kc_cap ? st->kc_cap * 2 : 512;
        struct key_cache *a = realloc(st->kc, ncap * sizeof(*a)), *b;
        if (a)
            st->kc = a;
        b = a ? realloc(st->kc_next, ncap * sizeof(*b)) : NULL;
        if (b) {
            st->kc_next = b;
            st->kc_cap = ncap;
        } else {
            st->kc_ok = false; /* no room to remember this tick: slower next time, not wrong */
        }
    }
    if (kc) {
        kc = &st->kc[c->cur - 1];
        id = kc->id;
        /* a tick like the last one (the rule) copies nothing */
        if (!c->copying && c->cur - 1 != pos)
            kc_start_copy(st, c, pos);
        if (c->copying && pos < st->kc_cap)
            st->kc_next[pos] = *kc;
    } else {
        char key[KEY_MAX];
        if (snapshot_series_key(key, sizeof(key), d, labels, n) < 0)
            return;
        id = series_add(st, key);
        if (!id)
            return;
        if (!c->copying)
            kc_start_copy(st, c, pos);
        if (pos < st->kc_cap && key_cache_set(&st->kc_next[pos], d, labels, n, id) < 0)
            st->kc_next[pos].desc = NULL; /* never matches: slower, not wrong */
    }
    st->kc_next_n = pos + 1;
    if (st->row_cap - st->row_len < ROW_ENTRY_MAX) {
        uint8_t *nr = realloc(st->row, st->row_cap * 2 + ROW_ENTRY_MAX);
        if (!nr) {
            st->err = -ENOMEM;
            return;
        }
        st->row = nr;
        st->row_cap = st->row_cap * 2 + ROW_ENTRY_MAX;
    }
    {
        /* written in place: this runs for every series of every tick */
        uint8_t *o = st->row + st->row_len;
        if (st->jr.format >= 2) {
            /* format 2: the id as a step from the previous one (1 byte when
             * consecutive), the value as an integer when it is one (counters) */
            int64_t k = (int64_t)v;
            bool is_int = fabs(v) < 0x1p53 && (double)k == v && !(v == 0 && signbit(v));
            uint64_t step = (uint64_t)id - c->prev_id - 1;
            uint64_t tag = ((step << 1) ^ (uint64_t)((int64_t)step >> 63)) << 1 | is_int;
            c->prev_id = id;
            bn = put_varint_at(o, tag);
            if (is_int) {
                bn += put_varint_at(o + bn, ((uint64_t)k << 1) ^ (uint64_t)(k >> 63));
                st->row_len += bn;
                return;
            }
        } else {
            bn = put_varint_at(o, id);
        }
        memcpy(o + bn, &v, sizeof(v));
        st->row_len += bn + sizeof(v);
    }
}

/* ---- text fields: a change log (key, time, value) in the texts table ---- */

static struct text_field *text_find(struct store *st, const char *key)
{
    for (size_t i = 0; i < st->n_texts; i++)
        if (strcmp(st->texts[i].key, key) == 0)
            return &st->texts[i];
    return NULL;
}

static struct text_field *text_add(struct store *st, const char *key)
{
    struct text_field *t;

    if (st->n_texts == st->cap_texts) {
        size_t ncap = st->cap_texts ? st->cap_texts * 2 : 16;
        t = realloc(st->texts, ncap * sizeof(*t));
        if (!t)
            return NULL;
        st->texts = t;
        st->cap_texts = ncap;
    }
    t = &st->texts[st->n_texts];
    memset(t, 0, sizeof(*t));
    if (!(t->key = strdup(key)))
        return NULL;
    st->n_texts++;
    return t;
}

static void texts_done(struct store *st)
{
    for (size_t i = 0; i < st->n_texts; i++) {
        free(st->texts[i].key);
        free(st->texts[i].val);
        free(st->texts[i].nval);
    }
    free(st->texts);
    st->texts = NULL;
    st->n_texts = st->cap_texts = 0;
}

/* The values in effect now (the newest row of each key). */
static int texts_load(struct store *st)
{
    sqlite3_stmt *s;
    int r = 0;

    st->texts_ts = query_int(st->db, "SELECT max(ts) FROM texts", INT64_MIN);
    if (prep(st,
             "SELECT t.key, t.value FROM texts t WHERE t.ts = (SELECT max(u.ts) "
             "FROM texts u WHERE u.key = t.key)",
             &s) != SQLITE_OK)
        return 0; /* (a read-only opener of a format-1 database: none) */
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct text_field *t = text_add(st, (const char *)sqlite3_column_text(s, 0));
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (!t) {
            r = -ENOMEM;
            break;
        }
        if (sqlite3_column_type(s, 1) == SQLITE_NULL)
            continue;
        t->val = malloc(len ? len : 1);
        if (!t->val) {
            r = -ENOMEM;
            break;
        }
        memcpy(t->val, sqlite3_column_blob(s, 1), len);
        t->len = len;
        t->present = true;
    }
    sqlite3_reset(s);
    return r;
}

static void text_visit(void *ctx, const char *key, const char *value, size_t len)
{
    struct store *st = ctx;
    struct text_field *t = text_find(st, key);

    if (st->err)
        return;
    if (!t && !(t = text_add(st, key))) {
        st->err = -ENOMEM;
        return;
    }
    t->seen = true;
    if (t->present && t->len == len && memcmp(t->val, value, len) == 0)
        return;
    t->changed = true;
    free(t->nval);
    t->nval = malloc(len ? len : 1);
    if (!t->nval) {
        st->err = -ENOMEM;
        return;
    }
    memcpy(t->nval, value, len);
    t->nlen = len;
}

/*
 * Writes the text fields of snap that differ from the last ones written (and
 * the end of those it no longer has) at ts, one transaction; then they are
 * the current ones. A snapshot stamped before the newest change (a clock that
 * stepped back) writes none: it reads as having the texts of its time.
 */
static int texts_append(struct store *st, const struct snapshot *snap, int64_t ts)
{
    sqlite3_stmt *s = NULL;
    size_t changes = 0;
    int r = 0, rc;

    for (size_t i = 0; i < st->n_texts; i++)
        st->texts[i].seen = st->texts[i].changed = false;
    snapshot_flatten_texts(snap, text_visit, st);
    if (st->err)
        return st->err;
    for (size_t i = 0; i < st->n_texts; i++) {
        struct text_field *t = &st->texts[i];
        if (!t->seen && t->present) {
            t->changed = true;
            free(t->nval);
            t->nval = NULL;
        }
        changes += t->changed;
    }
    if (!changes || ts <= st->texts_ts)
        return 0;
    pthread_mutex_lock(&st->lock);
    r = tx(st, "BEGIN");
    if (r == 0) {
        rc = prep(st, "INSERT OR REPLACE INTO texts (key, ts, value) VALUES (?, ?, ?)", &s);
        r = rc == SQLITE_OK ? 0 : sql_errno(rc);
    }
    for (size_t i = 0; r == 0 && i < st->n_texts; i++) {
        struct text_field *t = &st->texts[i];
        if (!t->changed)
            continue;
        sqlite3_bind_text(s, 1, t->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, ts);
        if (t->seen)
            sqlite3_bind_blob(s, 3, t->nval, (int)t->nlen, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 3);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            r = sql_errno(rc);
    }
    sqlite3_reset(s);
    if (r == 0)
        r = tx(st, "COMMIT");
    if (r < 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->lock);
    if (r < 0)
        return r;
    st->texts_ts = ts;
    for (size_t i = 0; i < st->n_texts; i++) {
        struct text_field *t = &st->texts[i];
        if (!t->changed)
            continue;
        free(t->val);
        t->val = t->seen ? t->nval : NULL;
        t->len = t->seen ? t->nlen : 0;
        t->present = t->seen;
        t->nval = NULL;
    }
    return 0;
}

/* A time for a snapshot stamped ts that no journal record has: two snapshots
 * stamped the same millisecond (a stalled or stepped clock) are both kept, the
 * later a millisecond on. */
static int64_t free_ts(struct store *st, int64_t ts)
{
    for (int tries = 0; tries < 1000 && jr_has(&st->jr, ts); tries++)
        ts++;
    return ts;
}

int store_append(struct store *st, const struct snapshot *snap)
{
    struct append_ctx c = {.st = st};
    int r;

    if (st->opt.read_only)
        return -EROFS;
    pthread_mutex_lock(&st->alock);
    st->row_len = 0;
    st->err = 0;
    {
        /* the record's header goes in front of the row: written as one piece */
        static const uint8_t room[JR_REC_HDR_LEN];
        if (row_put(st, room, sizeof(room)) < 0)
            st->err = -ENOMEM;
    }
    st->kc_ok = true;
    st->kc_next_n = 0;
    if (st->err == 0)
        snapshot_flatten(snap, append_one, &c);
    r = st->err;
    if (r == 0 && st->kc_ok && st->kc_next_n <= st->kc_cap) {
        /* this tick's series are the next one's guide */
        if (c.copying) {
            struct key_cache *t = st->kc;
            st->kc = st->kc_next;
            st->kc_next = t;
        }
        st->kc_n = st->kc_next_n;
    }
    if (r == 0 && st->row_len - JR_REC_HDR_LEN > JR_MAX_PAYLOAD)
        r = -E2BIG;
    if (r == 0) {
        int64_t ts;
        pthread_mutex_lock(&st->jlock);
        ts = free_ts(st, (int64_t)snap->timestamp_ms);
        pthread_mutex_unlock(&st->jlock);
        /* the texts first: a change written without its tick (the journal
         * write failing) only restates what the next tick says */
        r = texts_append(st, snap, ts);
        if (r == 0) {
            pthread_mutex_lock(&st->jlock);
            r = jr_append(&st->jr, ts, st->row, (uint32_t)(st->row_len - JR_REC_HDR_LEN));
            pthread_mutex_unlock(&st->jlock);
        }
    }
    pthread_mutex_unlock(&st->alock);
    if (r < 0) {
        STAT_ADD(st, append_errors, 1);
        return r;
    }
    STAT_ADD(st, appends, 1);
    STAT_ADD(st, ticks_rows, 1);
    return 0;
}

/*
 * Decodes a row, calling fn(ctx, id, value) per entry. 0 or -EBADMSG.
 * Format 1 (the ticks table, journals of format 1): varint id, 8-byte double.
 * Format 2: varint tag = zigzag(id - previous id - 1) << 1 | integer, then a
 * zigzag varint (an integer value) or an 8-byte double.
 */
static inline __attribute__((always_inline)) int
row_decode_fmt(const uint8_t *p, size_t len, int fmt, void (*fn)(void *ctx, uint32_t id, double v),
               void *ctx)
{
    const uint8_t *end = p + len;
    uint64_t prev = 0;

    while (p < end) {
        uint64_t id, x;
        double v;
        if (get_varint(&p, end, &x) < 0)
            return -EBADMSG;
        if (fmt >= 2) {
            uint64_t z = x >> 1;
            id = prev + 1 + ((z >> 1) ^ (uint64_t) - (int64_t)(z & 1));
            if (x & 1) {
                uint64_t k;
                if (get_varint(&p, end, &k) < 0)
                    return -EBADMSG;
                v = (double)(int64_t)((k >> 1) ^ (uint64_t) - (int64_t)(k & 1));
                goto got;
            }
        } else {
            id = x;
        }
        if ((size_t)(end - p) < sizeof(v))
            return -EBADMSG;
        memcpy(&v, p, sizeof(v));
        p += sizeof(v);
    got:
        if (id == 0 || id > UINT32_MAX)
            return -EBADMSG;
        prev = id;
        fn(ctx, (uint32_t)id, v);
    }
    return 0;
}

/* A row of the ticks table (format 1). */
static int row_decode(const uint8_t *p, size_t len, void (*fn)(void *ctx, uint32_t id, double v),
                      void *ctx)
{
    return row_decode_fmt(p, len, 1, fn, ctx);
}

/* ---- compaction: a finished hour of ticks into a raw block and a minute block ---- */

/* Columns being gathered: ids and a rows x cols matrix (NaN: absent). */
struct matrix {
    size_t rows, cols, cap_cols, max_rows;
    uint32_t *ids;
    size_t hint_cols; /* the columns to make room for at first (0: a few) */
    uint32_t *colmap; /* id -> column + 1 (0: none yet), for ids below colmap_cap */
    size_t colmap_cap;
    double *v; /* column-major: v[c * max_rows + r] */
    int64_t *ts;
    size_t cur; /* row being filled */
    int err;
};

static void matrix_done(struct matrix *m)
{
    free(m->colmap);
    free(m->ids);
    free(m->v);
    free(m->ts);
    memset(m, 0, sizeof(*m));
}

static int matrix_init(struct matrix *m, size_t max_rows)
{
    memset(m, 0, sizeof(*m));
    /* the row capacity is the columns' stride: an odd number of cache lines,
     * so that one row's cells (one per column) do not all fall in the same few
     * sets of the cache, as a stride of a power-of-two multiple would */
    max_rows = (max_rows + 7) / 8 * 8;
    if ((max_rows / 8) % 2 == 0)
        max_rows += 8;
    m->max_rows = max_rows;
    m->ts = calloc(max_rows ? max_rows : 1, sizeof(*m->ts));
    return m->ts ? 0 : -ENOMEM;
}

#define COLMAP_MAX (1u << 22) /* ids beyond it (never in practice) are looked up by a scan */

static double *matrix_col(struct matrix *m, uint32_t id)
{
    if (id < m->colmap_cap && m->colmap[id])
        return &m->v[(m->colmap[id] - 1) * m->max_rows];
    if (id >= m->colmap_cap && id < COLMAP_MAX) {
        size_t ncap = m->colmap_cap ? m->colmap_cap : 1024;
        uint32_t *nm;
        while (ncap <= id)
            ncap *= 2;
        nm = realloc(m->colmap, ncap * sizeof(*nm));
        if (!nm)
            return NULL;
        memset(nm + m->colmap_cap, 0, (ncap - m->colmap_cap) * sizeof(*nm));
        m->colmap = nm;
        m->colmap_cap = ncap;
    }
    if (id >= m->colmap_cap)
        for (size_t c = 0; c < m->cols; c++)
            if (m->ids[c] == id)
                return &m->v[c * m->max_rows];
    if (m->cols == m->cap_cols) {
        size_t ncap = m->cap_cols ? m->cap_cols * 2 : m->hint_cols ? m->hint_cols : 16;
        uint32_t *ni = realloc(m->ids, ncap * sizeof(*ni));
        double *nv;
        if (!ni)
            return NULL;
        m->ids = ni;
        nv = realloc(m->v, ncap * m->max_rows * sizeof(*nv));
        if (!nv)
            return NULL;
        m->v = nv;
        for (size_t i = m->cap_cols * m->max_rows; i < ncap * m->max_rows; i++)
            m->v[i] = NAN;
        m->cap_cols = ncap;
    }
    m->ids[m->cols] = id;
    if (id < m->colmap_cap)
        m->colmap[id] = (uint32_t)m->cols + 1;
    return &m->v[m->cols++ * m->max_rows];
}

static void matrix_set(void *ctx, uint32_t id, double v)
{
    struct matrix *m = ctx;
    double *col;

    if (id < m->colmap_cap && m->colmap[id]) {
        m->v[(m->colmap[id] - 1) * m->max_rows + m->cur] = v;
        return;
    }
    col = matrix_col(m, id);

    if (!col) {
        m->err = -ENOMEM;
        return;
    }
    col[m->cur] = v;
}

/* Rows [first, first + n) of m as one block. */
static int encode_rows(const struct matrix *m, size_t first, size_t n, struct bytebuf *out)
{
    struct blk_column *cols = calloc(m->cols ? m->cols : 1, sizeof(*cols));
    int r;

    if (!cols)
        return -ENOMEM;
    for (size_t c = 0; c < m->cols; c++) {
        cols[c].series_id = m->ids[c];
        cols[c].decimals = -1;
        cols[c].values = &m->v[c * m->max_rows + first];
    }
    r = blk_encode(m->ts + first, n, cols, m->cols, out);
    free(cols);
    return r;
}

static int encode_matrix(const struct matrix *m, struct bytebuf *out)
{
    return encode_rows(m, 0, m->rows, out);
}

static int insert_block(struct store *st, int tier, int64_t start, int64_t end, size_t rows,
                        const struct bytebuf *b)
{
    sqlite3_stmt *s;
    int rc;

    rc = prep(st,
              "INSERT OR REPLACE INTO blocks (tier, start_ts, end_ts, rows, data) "
              "VALUES (?, ?, ?, ?, ?)",
              &s);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int(s, 1, tier);
    sqlite3_bind_int64(s, 2, start);
    sqlite3_bind_int64(s, 3, end);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)rows);
    sqlite3_bind_blob(s, 5, b->buf, (int)b->len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

/*
 * Aggregates of matrix m (rows at m->ts) into buckets of `width` ms starting
 * at `start`: for each series id, columns id*4+0..3 = min, max, sum, count.
 * When m already holds aggregates (agg_in), they are combined instead.
 */
static int rollup(const struct matrix *m, bool agg_in, int64_t start, int64_t width, size_t buckets,
                  struct matrix *out)
{
    int32_t *bidx;

    if (matrix_init(out, buckets) < 0)
        return -ENOMEM;
    for (size_t b = 0; b < buckets; b++)
        out->ts[b] = start + (int64_t)b * width;
    /* each row's bucket, once for every column (-1: outside) */
    bidx = malloc((m->rows ? m->rows : 1) * sizeof(*bidx));
    if (!bidx)
        return -ENOMEM;
    for (size_t r = 0; r < m->rows; r++) {
        int64_t b = m->ts[r] >= start ? (m->ts[r] - start) / width : -1;
        bidx[r] = b >= 0 && (size_t)b < buckets ? (int32_t)b : -1;
    }
    for (size_t c = 0; c < m->cols; c++) {
        uint32_t id = agg_in ? m->ids[c] / 4 : m->ids[c];
        unsigned part = agg_in ? m->ids[c] % 4 : 4;
        double *col[4];
        const double *in = &m->v[c * m->max_rows];

        for (unsigned k = 0; k < 4; k++) {
            col[k] = matrix_col(out, id * 4 + k);
            if (!col[k]) {
                free(bidx);
                return -ENOMEM;
            }
        }
        if (part == 4) {
            /* raw samples, in time order: a bucket is a run of rows */
            for (size_t r = 0; r < m->rows;) {
                int32_t b = bidx[r];
                double mn = INFINITY, mx = -INFINITY, sum = 0, cnt = 0;
                if (b < 0) {
                    r++;
                    continue;
                }
                for (; r < m->rows && bidx[r] == b; r++) {
                    double v = in[r];
                    if (isnan(v))
                        continue;
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                    sum += v;
                    cnt++;
                }
                if (cnt == 0)
                    continue;
                if (isnan(col[3][b])) {
                    col[0][b] = mn, col[1][b] = mx, col[2][b] = sum, col[3][b] = cnt;
                } else { /* (rows out of order: a bucket seen before) */
                    col[0][b] = mn < col[0][b] ? mn : col[0][b];
                    col[1][b] = mx > col[1][b] ? mx : col[1][b];
                    col[2][b] += sum;
                    col[3][b] += cnt;
                }
            }
            continue;
        }
        for (size_t r = 0; r < m->rows; r++) {
            int32_t b = bidx[r];
            double v = in[r];
            if (isnan(v) || b < 0)
                continue;
            if (part == 0)
                col[0][b] = isnan(col[0][b]) || v < col[0][b] ? v : col[0][b];
            else if (part == 1)
                col[1][b] = isnan(col[1][b]) || v > col[1][b] ? v : col[1][b];
            else if (part == 2)
                col[2][b] = (isnan(col[2][b]) ? 0 : col[2][b]) + v;
            else
                col[3][b] = (isnan(col[3][b]) ? 0 : col[3][b]) + v;
        }
    }
    free(bidx);
    out->rows = buckets;
    /* drop empty buckets: a block's timestamps are only those with data */
    {
        size_t w = 0;
        for (size_t b = 0; b < buckets; b++) {
            bool any = false;
            for (size_t c = 0; c < out->cols && !any; c++)
                any = !isnan(out->v[c * out->max_rows + b]);
            if (!any)
                continue;
            out->ts[w] = out->ts[b];
            for (size_t c = 0; c < out->cols; c++)
                out->v[c * out->max_rows + w] = out->v[c * out->max_rows + b];
            w++;
        }
        for (size_t b = w; b < buckets; b++)
            for (size_t c = 0; c < out->cols; c++)
                out->v[c * out->max_rows + b] = NAN;
        out->rows = w;
    }
    return 0;
}

static int block_matrix(const uint8_t *data, size_t len, struct matrix *m);

/* a and b (each in time order) into out, in time order; on equal times a's row wins. */
static int matrix_merge(const struct matrix *a, const struct matrix *b, struct matrix *out)
{
    size_t i = 0, j = 0;

    if (matrix_init(out, a->rows + b->rows) < 0)
        return -ENOMEM;
    while (i < a->rows || j < b->rows) {
        const struct matrix *src;
        size_t row;
        if (j >= b->rows || (i < a->rows && a->ts[i] <= b->ts[j])) {
            src = a, row = i++;
            if (j < b->rows && b->ts[j] == a->ts[row])
                j++; /* the same time twice: the row already compacted stays */
        } else {
            src = b, row = j++;
        }
        out->ts[out->rows] = src->ts[row];
        for (size_t c = 0; c < src->cols; c++) {
            double *col = matrix_col(out, src->ids[c]);
            if (!col)
                return -ENOMEM;
            col[out->rows] = src->v[c * src->max_rows + row];
        }
        out->rows++;
    }
    return 0;
}

/* Adds to m the rows of the raw blocks already stored for this hour (ticks
 * that arrive for an hour compacted before, after the clock stepped back),
 * and deletes those blocks: the caller writes the merged hour anew. */
static int merge_existing(struct store *st, int64_t hour, struct matrix *m)
{
    sqlite3_stmt *s;
    int r = 0, rc;

    if (prep(st,
             "SELECT data FROM blocks WHERE tier = 0 AND start_ts >= ? AND "
             "start_ts < ? ORDER BY start_ts",
             &s) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, hour + HOUR_MS);
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct matrix old, merged;
        if (block_matrix(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &old) < 0) {
            log_warn("%s: a damaged block of hour %" PRId64 " is replaced by its late ticks",
                     st->path, hour);
            continue;
        }
        r = matrix_merge(&old, m, &merged);
        matrix_done(&old);
        if (r == 0) {
            matrix_done(m);
            *m = merged;
        } else {
            matrix_done(&merged);
        }
    }
    sqlite3_reset(s);
    if (r < 0)
        return r;
    rc = prep(st,
              "DELETE FROM blocks WHERE tier = 0 AND start_ts >= ? AND "
              "start_ts < ?",
              &s);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, hour + HOUR_MS);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

/* A tick to compact: its time and row. */
struct crow {
    int64_t ts;
    const uint8_t *p;
    size_t len;
    int fmt; /* of the row (row_decode_fmt) */
};

static int cmp_crow(const void *a, const void *b)
{
    const struct crow *x = a, *y = b;

    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/*
 * Compacts the ticks of [hour, hour + 1 h) (jrows from the journal, in time
 * order, and any rows of the ticks table an older version left) into raw
 * blocks (one, or more when the hour holds more than a block's rows) and a
 * minute block. Runs inside the caller's transaction.
 */
static int compact_hour(struct store *st, int64_t hour, const struct crow *jrows, size_t nj)
{
    sqlite3_stmt *s;
    struct matrix m, mm = {0};
    struct bytebuf b = {0};
    struct crow *rows = NULL;
    uint8_t *legacy = NULL;
    size_t n = 0, cap = nj, lused = 0, lcap = 0;
    int r = 0, rc;

    rc = prep(st, "SELECT ts, row FROM ticks WHERE ts >= ? AND ts < ?", &s);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, hour + HOUR_MS);
    rows = malloc((cap ? cap : 1) * sizeof(*rows));
    if (!rows)
        r = -ENOMEM;
    if (nj && rows)
        memcpy(rows, jrows, nj * sizeof(*rows));
    n = nj;
    /* the legacy rows: copied (their blobs live until the next step), offsets for now */
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        if (n == cap) {
            struct crow *nr = realloc(rows, (cap * 2 + 16) * sizeof(*rows));
            if (!nr) {
                r = -ENOMEM;
                break;
            }
            rows = nr;
            cap = cap * 2 + 16;
        }
        if (lused + len > lcap) {
            size_t ncap = (lused + len) * 2 + 4096;
            uint8_t *nl = realloc(legacy, ncap);
            if (!nl) {
                r = -ENOMEM;
                break;
            }
            legacy = nl;
            lcap = ncap;
        }
        memcpy(legacy + lused, sqlite3_column_blob(s, 1), len);
        rows[n++] = (struct crow){sqlite3_column_int64(s, 0), NULL, len, 1};
        rows[n - 1].p = (const uint8_t *)(uintptr_t)lused; /* made a pointer below */
        lused += len;
    }
    sqlite3_reset(s);
    if (r < 0 || n == 0) {
        free(rows);
        free(legacy);
        return r;
    }
    for (size_t i = nj; i < n; i++)
        rows[i].p = legacy + (uintptr_t)rows[i].p;
    if (n > nj)
        qsort(rows, n, sizeof(*rows), cmp_crow);
    if (matrix_init(&m, n) < 0) {
        free(rows);
        free(legacy);
        return -ENOMEM;
    }
    /* about as many columns as the first row has series (an entry: 2..18 bytes) */
    m.hint_cols = rows[0].len / (rows[0].fmt >= 2 ? 5 : 9) + 8;
    for (size_t i = 0; i < n && m.err == 0; i++) {
        if (m.rows && rows[i].ts == m.ts[m.rows - 1])
            continue; /* (a legacy row the journal holds too) */
        m.cur = m.rows;
        m.ts[m.rows] = rows[i].ts;
        if (row_decode_fmt(rows[i].p, rows[i].len, rows[i].fmt, matrix_set, &m) < 0) {
            log_warn("%s: a damaged tick row at %" PRId64 " is dropped from the history", st->path,
                     rows[i].ts);
            for (size_t c = 0; c < m.cols; c++)
                m.v[c * m.max_rows + m.rows] = NAN;
            continue;
        }
        m.rows++;
    }
    free(rows);
    free(legacy);
    r = m.err;
    if (r == 0 && m.rows > 0)
        r = merge_existing(st, hour, &m);
    /* more rows than a block holds (an interval under 55 ms): equal parts */
    if (r == 0 && m.rows > 0) {
        size_t parts = (m.rows + BLK_MAX_ROWS - 1) / BLK_MAX_ROWS, first = 0;
        for (size_t k = 0; k < parts && r == 0; k++) {
            size_t cnt = (m.rows - first) / (parts - k);
            b.len = 0;
            r = encode_rows(&m, first, cnt, &b);
            if (r == 0)
                r = insert_block(st, 0, k ? m.ts[first] : hour, m.ts[first + cnt - 1], cnt, &b);
            if (r == 0)
                STAT_ADD(st, blocks[0], 1);
            first += cnt;
        }
    }
    if (r == 0 && m.rows > 0)
        r = rollup(&m, false, hour, MINUTE_MS, 60, &mm);
    if (r == 0 && mm.rows > 0) {
        b.len = 0;
        r = encode_matrix(&mm, &b);
        if (r == 0)
            r = insert_block(st, 1, hour, mm.ts[mm.rows - 1], mm.rows, &b);
        if (r == 0)
            STAT_ADD(st, blocks[1], 1);
        if (r == 0 && hour < st->days_from)
            st->days_from = hour - hour % DAY_MS; /* a late hour: its day's block is due */
    }
    if (r == 0) {
        rc = prep(st, "DELETE FROM ticks WHERE ts >= ? AND ts < ?", &s);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, hour);
            sqlite3_bind_int64(s, 2, hour + HOUR_MS);
            rc = sqlite3_step(s);
            sqlite3_reset(s);
        }
        r = rc == SQLITE_DONE ? 0 : sql_errno(rc);
    }
    matrix_done(&m);
    matrix_done(&mm);
    bytebuf_done(&b);
    return r;
}

/* Decodes every column of a block into a fresh matrix. */
struct fill_ctx {
    struct matrix *m;
};

static int fill_col(void *ctx, uint32_t id, const double *values, size_t n)
{
    struct matrix *m = ctx;
    double *col = matrix_col(m, id);

    if (!col)
        return -ENOMEM;
    memcpy(col, values, n * sizeof(*values));
    return 0;
}

static int block_matrix(const uint8_t *data, size_t len, struct matrix *m)
{
    struct blk_info info;
    int r;

    if (blk_info(data, len, &info) < 0)
        return -EBADMSG;
    if (matrix_init(m, info.n_rows) < 0)
        return -ENOMEM;
    r = blk_decode_ts(data, len, m->ts);
    if (r == 0)
        r = blk_decode_all(data, len, fill_col, m);
    m->rows = info.n_rows;
    if (r < 0)
        matrix_done(m);
    return r;
}

/* Builds the hour block (tier 2) of the day starting at `day` from its minute blocks. */
static int compact_day(struct store *st, int64_t day)
{
    sqlite3_stmt *s;
    struct matrix all, hm = {0};
    struct bytebuf b = {0};
    int r = 0, rc;

    /* all minute rows of the day in one matrix (at most 1440 rows) */
    if (matrix_init(&all, 1440) < 0)
        return -ENOMEM;
    rc = prep(st,
              "SELECT data FROM blocks WHERE tier = 1 AND start_ts >= ? AND "
              "start_ts < ? ORDER BY start_ts",
              &s);
    if (rc != SQLITE_OK) {
        matrix_done(&all);
        return sql_errno(rc);
    }
    sqlite3_bind_int64(s, 1, day);
    sqlite3_bind_int64(s, 2, day + DAY_MS);
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        struct matrix m;
        if (block_matrix(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &m) < 0) {
            log_warn("%s: a damaged minute block of day %" PRId64 " is skipped", st->path, day);
            continue;
        }
        for (size_t row = 0; row < m.rows && all.rows < 1440 && r == 0; row++) {
            all.ts[all.rows] = m.ts[row];
            for (size_t c = 0; c < m.cols; c++) {
                double *col = matrix_col(&all, m.ids[c]);
                if (!col) {
                    r = -ENOMEM;
                    break;
                }
                col[all.rows] = m.v[c * m.max_rows + row];
            }
            all.rows++;
        }
        matrix_done(&m);
    }
    sqlite3_reset(s);
    if (r == 0 && all.rows > 0)
        r = rollup(&all, true, day, HOUR_MS, 24, &hm);
    if (r == 0 && hm.rows > 0) {
        r = encode_matrix(&hm, &b);
        if (r == 0)
            r = insert_block(st, 2, day, hm.ts[hm.rows - 1], hm.rows, &b);
        if (r == 0)
            STAT_ADD(st, blocks[2], 1);
    }
    matrix_done(&all);
    matrix_done(&hm);
    bytebuf_done(&b);
    return r;
}

/* Runs one DELETE whose ?1 is a cut time. 0 or -errno. */
static int delete_before(struct store *st, const char *sql, int64_t cut)
{
    sqlite3_stmt *s;
    int rc = prep(st, sql, &s);

    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, cut);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

static int retention(struct store *st, int64_t now_ms)
{
    int64_t cut[3] = {now_ms - (int64_t)st->opt.raw_days * DAY_MS,
                      now_ms - (int64_t)st->opt.minute_days * DAY_MS,
                      now_ms - (int64_t)st->opt.hour_days * DAY_MS};
    sqlite3_stmt *s;
    int rc, r = 0;

    for (int tier = 0; tier < 3; tier++) {
        rc = prep(st, "DELETE FROM blocks WHERE tier = ? AND end_ts < ?", &s);
        if (rc != SQLITE_OK)
            return sql_errno(rc);
        sqlite3_bind_int(s, 1, tier);
        sqlite3_bind_int64(s, 2, cut[tier]);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return sql_errno(rc);
    }
    /* anomalies resolved before the raw data's cut (open ones stay) */
    r = delete_before(st,
                      "DELETE FROM records WHERE kind = 'anomaly' AND ts < ?1 AND "
                      "json_extract(body, '$.status') = 'resolved'",
                      cut[0]);
    /* text changes older than the raw data, but for the one in effect at the cut */
    if (r == 0)
        r = delete_before(st,
                          "DELETE FROM texts WHERE ts < ?1 AND ts < (SELECT max(u.ts) FROM "
                          "texts u WHERE u.key = texts.key AND u.ts <= ?1)",
                          cut[0]);
    if (r == 0)
        r = delete_before(st, "DELETE FROM ticks WHERE ts < ?1", cut[0]);
    if (r < 0)
        return r;
    /* raw data is kept exactly retention_period_days, to the sample: readers
     * leave out what is older than the cut, and the block that straddles it
     * goes when all of it is older (rewriting it every minute without its
     * oldest rows would cost more than everything else the store does) */
    if (cut[0] > st->raw_cut) {
        r = meta_set_int(st, "raw_cut", cut[0]);
        if (r == 0)
            st->raw_cut = cut[0];
    }
    return r;
}

/*
 * Every finished hour of the journal (and of the ticks table an older version
 * filled) into blocks, in one transaction that also records what it consumed;
 * then the journal is rewritten without it. Call with lock.
 */
static int compact_ticks(struct store *st, int64_t before)
{
    struct jr_rec *recs = NULL;
    struct crow *rows = NULL;
    const uint8_t *map = NULL;
    size_t map_len = 0;
    bool own_map = false;
    int64_t *lhours = NULL;
    size_t *idx = NULL, nl = 0, lcap = 0, nr = 0;
    struct consumed c;
    sqlite3_stmt *s;
    long n;
    int r = 0;

    pthread_mutex_lock(&st->jlock);
    c.gen = st->jr.gen;
    c.off = st->jr.size;
    c.before = before;
    n = jr_range(&st->jr, INT64_MIN, before - 1, &idx);
    if (n > 0 && !(recs = malloc((size_t)n * sizeof(*recs))))
        n = -ENOMEM;
    for (long i = 0; i < n; i++)
        recs[i] = st->jr.v[idx[i]];
    pthread_mutex_unlock(&st->jlock);
    free(idx);
    if (n < 0)
        return (int)n;
    /* the hours the ticks table still holds */
    if (prep(st, "SELECT DISTINCT ts - ts % 3600000 FROM ticks WHERE ts < ? ORDER BY 1", &s) !=
        SQLITE_OK) {
        free(recs);
        return -EIO;
    }
    sqlite3_bind_int64(s, 1, before);
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        if (nl == lcap) {
            int64_t *nh = realloc(lhours, (lcap * 2 + 8) * sizeof(*nh));
            if (!nh) {
                r = -ENOMEM;
                break;
            }
            lhours = nh;
            lcap = lcap * 2 + 8;
        }
        lhours[nl++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    if (r == 0 && n == 0 && nl == 0)
        goto out;
    /* the journal's rows, in place (appends go on past them meanwhile) */
    if (r == 0 && n > 0) {
        if (st->jr.map) {
            map = st->jr.map, map_len = st->jr.map_len;
        } else {
            map = jr_map(&st->jr, c.off);
            map_len = map ? (size_t)c.off : 0;
            own_map = map != NULL;
        }
        rows = malloc((size_t)n * sizeof(*rows));
        if (!map || !rows)
            r = map ? -ENOMEM : -EIO;
    }
    for (long i = 0; r == 0 && i < n; i++) {
        const uint8_t *p = jr_view(map, map_len, &recs[i]);
        if (!p) {
            log_warn("%s: the tick at %" PRId64 " is damaged; it is left out", st->jpath,
                     recs[i].ts);
            continue;
        }
        rows[nr++] = (struct crow){recs[i].ts, p, recs[i].len, st->jr.format};
    }
    if (r == 0)
        r = tx(st, "BEGIN");
    for (size_t i = 0, k = 0; r == 0 && (i < nr || k < nl);) {
        int64_t hour;
        size_t j = i;
        if (i < nr)
            hour = rows[i].ts - (rows[i].ts % HOUR_MS + HOUR_MS) % HOUR_MS;
        else
            hour = lhours[k];
        if (k < nl && lhours[k] < hour)
            hour = lhours[k];
        while (j < nr && rows[j].ts < hour + HOUR_MS)
            j++;
        r = compact_hour(st, hour, rows + i, j - i);
        i = j;
        while (k < nl && lhours[k] <= hour)
            k++;
    }
    if (r == 0 && n > 0) {
        r = meta_set_int(st, "journal_gen", (int64_t)c.gen);
        if (r == 0)
            r = meta_set_int(st, "journal_off", (int64_t)c.off);
        if (r == 0)
            r = meta_set_int(st, "journal_before", c.before);
    }
    if (r == 0)
        r = tx(st, "COMMIT");
    if (r < 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (n > 0) {
        pthread_mutex_lock(&st->jlock);
        r = jr_rewrite(&st->jr, c.gen + 1, is_not_consumed, &c);
        if (r < 0) {
            /* kept in the file, out of the index; the next maintenance tries again */
            log_warn("%s: cannot drop the compacted ticks yet: %s", st->jpath, strerror(-r));
            jr_forget(&st->jr, is_consumed, &c);
            r = 0;
        }
        pthread_mutex_unlock(&st->jlock);
    }
    STAT_SET(st, ticks_rows,
             (uint64_t)query_int(st->db, "SELECT count(*) FROM ticks", 0) + st->jr.n);
out:
    if (own_map)
        munmap((void *)map, map_len);
    free(recs);
    free(rows);
    free(lhours);
    return r;
}

int store_maintain(struct store *st, int64_t now_ms)
{
    int64_t this_hour = now_ms - now_ms % HOUR_MS, today = now_ms - now_ms % DAY_MS;
    int r = 0;

    if (st->opt.read_only)
        return -EROFS;
    pthread_mutex_lock(&st->lock);
    /* (no fdatasync of the journal here: the kernel writes dirty pages back
     * within vm.dirty_expire_centisecs, 30 s by default, which bounds what a
     * power cut can take better than a sync a minute would, and keeps that
     * work off this thread) */
    if (journal_settle(st) < 0)
        log_debug("%s: still holds compacted ticks", st->jpath);
    r = compact_ticks(st, this_hour);
    if (r < 0)
        goto out;
    /* every finished day with minute blocks and no hour block */
    for (;;) {
        /* from the day the last call left off (or one a late hour went into):
         * a scan of every minute block each minute would cost milliseconds */
        sqlite3_stmt *q;
        int64_t day = INT64_MAX;
        if (prep(st,
                 "SELECT min(b.start_ts - b.start_ts % 86400000) FROM blocks b "
                 "WHERE b.tier = 1 AND b.start_ts >= ? AND NOT EXISTS (SELECT 1 "
                 "FROM blocks h WHERE h.tier = 2 AND h.start_ts = b.start_ts - "
                 "b.start_ts % 86400000)",
                 &q) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, st->days_from);
            if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
                day = sqlite3_column_int64(q, 0);
            sqlite3_reset(q);
        }
        if (day == INT64_MAX || day >= today) {
            st->days_from = today;
            break;
        }
        r = tx(st, "BEGIN");
        if (r == 0)
            r = compact_day(st, day);
        if (r == 0)
            r = tx(st, "COMMIT");
        if (r < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
    r = tx(st, "BEGIN");
    if (r == 0)
        r = retention(st, now_ms);
    if (r == 0)
        r = tx(st, "COMMIT");
    if (r < 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&st->lock);
    return r;
}

/*
 * Calls fn(ctx, ts, row, len) for each journal tick in [from, to], in time
 * order (newest first when desc), until fn returns non-zero. A record that
 * fails its check is skipped. 0 or -errno. Call with lock.
 */
static int journal_each(struct store *st, int64_t from, int64_t to, bool desc,
                        int (*fn)(void *ctx, int64_t ts, const uint8_t *row, size_t len), void *ctx)
{
    struct jr_rec *recs = NULL;
    uint8_t *buf = NULL;
    size_t *idx, cap = 0;
    long n;
    int r = 0;

    pthread_mutex_lock(&st->jlock);
    n = jr_range(&st->jr, from, to, &idx);
    if (n > 0 && !(recs = malloc((size_t)n * sizeof(*recs))))
        n = -ENOMEM;
    for (long i = 0; i < n; i++)
        recs[i] = st->jr.v[idx[i]];
    pthread_mutex_unlock(&st->jlock);
    free(idx);
    if (n < 0)
        return (int)n;
    for (long k = 0; k < n && r == 0; k++) {
        const struct jr_rec *rec = &recs[desc ? n - 1 - k : k];
        if (rec->len > cap) {
            uint8_t *nb = realloc(buf, rec->len);
            if (!nb) {
                r = -ENOMEM;
                break;
            }
            buf = nb;
            cap = rec->len;
        }
        if (jr_read(&st->jr, rec, buf) < 0)
            continue;
        if (fn(ctx, rec->ts, buf, rec->len))
            break;
    }
    free(buf);
    free(recs);
    return r;
}

/* A read-only opener reads the database in one read transaction, with the
 * journal as it was then (another process compacts and rewrites it). */
static void ro_begin(struct store *st)
{
    if (!st->opt.read_only)
        return;
    sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    reg_done(&st->reg);
    st->next_id = 1;
    load_registry(st);
    st->raw_cut = meta_get_int(st, "raw_cut", INT64_MIN);
    journal_reload(st);
}

static void ro_end(struct store *st)
{
    if (st->opt.read_only)
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
}

/* ---- queries ---- */

static const char *const agg_names[] = {"avg", "min", "max", "sum", "count", "last"};

int store_agg_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(agg_names) / sizeof(agg_names[0]); i++)
        if (strcmp(s, agg_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *store_agg_name(enum store_agg agg)
{
    return agg_names[agg];
}

/* Step buckets being filled. */
struct buckets {
    int64_t from, step;
    size_t n;
    double *min, *max, *sum, *cnt, *last;
    int64_t *last_ts;
};

static int buckets_init(struct buckets *b, int64_t from, int64_t to, int64_t step)
{
    memset(b, 0, sizeof(*b));
    b->from = from;
    b->step = step;
    b->n = (size_t)((to - from) / step + 1);
    if (b->n > STORE_MAX_POINTS * 10)
        return -E2BIG;
    b->min = malloc(b->n * sizeof(double));
    b->max = malloc(b->n * sizeof(double));
    b->sum = calloc(b->n, sizeof(double));
    b->cnt = calloc(b->n, sizeof(double));
    b->last = malloc(b->n * sizeof(double));
    b->last_ts = malloc(b->n * sizeof(int64_t));
    if (!b->min || !b->max || !b->sum || !b->cnt || !b->last || !b->last_ts)
        return -ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        b->min[i] = b->max[i] = b->last[i] = NAN, b->last_ts[i] = INT64_MIN;
    return 0;
}

static void buckets_done(struct buckets *b)
{
    free(b->min);
    free(b->max);
    free(b->sum);
    free(b->cnt);
    free(b->last);
    free(b->last_ts);
}

/* One raw sample, or one aggregate (mn, mx, sum, cnt) at ts. */
static void bucket_add(struct buckets *b, int64_t ts, double mn, double mx, double sum, double cnt)
{
    size_t i;

    if (ts < b->from || isnan(mn))
        return;
    i = (size_t)((ts - b->from) / b->step);
    if (i >= b->n)
        return;
    b->min[i] = isnan(b->min[i]) || mn < b->min[i] ? mn : b->min[i];
    b->max[i] = isnan(b->max[i]) || mx > b->max[i] ? mx : b->max[i];
    b->sum[i] += sum;
    b->cnt[i] += cnt;
    if (ts >= b->last_ts[i]) {
        b->last_ts[i] = ts;
        b->last[i] = cnt > 0 ? sum / cnt : mx;
    }
}

struct raw_ctx {
    uint32_t id;
    bool found;
    double v;
};

static void raw_pick(void *ctx, uint32_t id, double v)
{
    struct raw_ctx *c = ctx;

    if (id == c->id) {
        c->found = true;
        c->v = v;
    }
}

static const int64_t tier_span[3] = {HOUR_MS, HOUR_MS, DAY_MS}; /* what one block covers */

/* The oldest time tier `tier` holds (INT64_MAX: nothing). */
static int64_t tier_earliest(struct store *st, int tier)
{
    sqlite3_stmt *s;
    int64_t e = INT64_MAX;

    if (prep(st, "SELECT min(start_ts) FROM blocks WHERE tier = ?", &s) == SQLITE_OK) {
        sqlite3_bind_int(s, 1, tier);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
            e = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    if (tier == 0) {
        int64_t t = query_int(st->db, "SELECT min(ts) FROM ticks", INT64_MAX);
        e = t < e ? t : e;
        pthread_mutex_lock(&st->jlock);
        for (size_t i = 0; i < st->jr.n; i++) {
            if (st->jr.v[i].ts < e)
                e = st->jr.v[i].ts;
            if (st->jr.sorted)
                break;
        }
        pthread_mutex_unlock(&st->jlock);
        if (e != INT64_MAX && e < st->raw_cut)
            e = st->raw_cut;
    }
    return e;
}

struct feed_ctx {
    struct buckets *bk;
    uint32_t id;
    long seen;
    int fmt; /* of the journal's rows */
};

static int feed_row(void *ctx, int64_t ts, const uint8_t *row, size_t len)
{
    struct feed_ctx *f = ctx;
    struct raw_ctx c = {f->id, false, NAN};

    if (row_decode_fmt(row, len, f->fmt, raw_pick, &c) == 0 && c.found) {
        bucket_add(f->bk, ts, c.v, c.v, c.v, 1);
        f->seen++;
    }
    return 0;
}

/* Feeds the buckets from tier `tier` over [from, to]; the number of samples seen,
 * and in *covered the end (exclusive) of the time its blocks cover. */
static long feed_tier(struct store *st, int tier, uint32_t id, int64_t from, int64_t to,
                      struct buckets *bk, int64_t *covered)
{
    sqlite3_stmt *s;
    long seen = 0;
    int rc;

    if (tier == 0 && from < st->raw_cut)
        from = st->raw_cut; /* past retention, not deleted yet */
    *covered = from;
    if (to < from)
        return 0;
    rc = prep(st,
              "SELECT data, start_ts, rows FROM blocks WHERE tier = ? AND end_ts >= ? "
              "AND start_ts <= ? ORDER BY start_ts",
              &s);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int(s, 1, tier);
    sqlite3_bind_int64(s, 2, from);
    sqlite3_bind_int64(s, 3, to);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const uint8_t *data = sqlite3_column_blob(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0), n;
        int64_t *ts;
        double *v[4];
        bool ok = true;

        /* the row count recorded beside the block sizes the arrays; the decoder
         * refuses a block that holds more (a damaged table cannot overflow them) */
        n = (size_t)sqlite3_column_int64(s, 2);
        if (n == 0 || n > BLK_MAX_ROWS)
            continue;
        {
            int64_t start = sqlite3_column_int64(s, 1);
            int64_t end = start - start % tier_span[tier] + tier_span[tier];
            if (end > *covered)
                *covered = end;
        }
        ts = malloc(n * sizeof(*ts));
        for (int k = 0; k < 4; k++)
            v[k] = malloc(n * sizeof(double));
        if (!ts || !v[0] || !v[1] || !v[2] || !v[3])
            ok = false;
        if (ok && tier == 0) {
            ok = blk_decode_multi(data, len, n, ts, &id, 1, v) == (long)n;
            for (size_t r = 0; ok && r < n; r++)
                if (ts[r] >= from && ts[r] <= to && !isnan(v[0][r])) {
                    bucket_add(bk, ts[r], v[0][r], v[0][r], v[0][r], 1);
                    seen++;
                }
        } else if (ok) {
            uint32_t ids[4] = {id * 4, id * 4 + 1, id * 4 + 2, id * 4 + 3};
            ok = blk_decode_multi(data, len, n, ts, ids, 4, v) == (long)n;
            for (size_t r = 0; ok && r < n; r++)
                if (ts[r] >= from && ts[r] <= to && !isnan(v[0][r])) {
                    bucket_add(bk, ts[r], v[0][r], v[1][r], v[2][r], v[3][r]);
                    seen += (long)v[3][r];
                }
        }
        free(ts);
        for (int k = 0; k < 4; k++)
            free(v[k]);
    }
    sqlite3_reset(s);
    if (tier == 0) {
        /* and the newest snapshots, not compacted yet */
        rc = prep(st, "SELECT ts, row FROM ticks WHERE ts >= ? AND ts <= ?", &s);
        if (rc != SQLITE_OK)
            return sql_errno(rc);
        sqlite3_bind_int64(s, 1, from);
        sqlite3_bind_int64(s, 2, to);
        while (sqlite3_step(s) == SQLITE_ROW) {
            struct raw_ctx c = {id, false, NAN};
            if (row_decode(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), raw_pick,
                           &c) < 0 ||
                !c.found)
                continue;
            bucket_add(bk, sqlite3_column_int64(s, 0), c.v, c.v, c.v, 1);
            seen++;
        }
        sqlite3_reset(s);
        {
            struct feed_ctx f = {bk, id, 0, st->jr.format};
            rc = journal_each(st, from, to, false, feed_row, &f);
            if (rc < 0)
                return rc;
            seen += f.seen;
        }
    }
    return seen;
}

long store_query(struct store *st, const char *series, int64_t from_ms, int64_t to_ms,
                 int64_t step_ms, enum store_agg agg, int *ret_tier,
                 void (*fn)(void *ctx, const struct store_point *p), void *ctx)
{
    const struct series_ent *e;
    struct buckets bk;
    int64_t step = step_ms;
    long points = 0, seen = 0;
    uint32_t id;
    int tier, used = 0;

    if (to_ms < from_ms)
        return -EINVAL;
    /* step 0: every sample, as long as that is at most STORE_MAX_POINTS of
     * them; a longer range is averaged into that many steps */
    if (step <= 0)
        step = (to_ms - from_ms) / STORE_MAX_POINTS + 1;
    pthread_mutex_lock(&st->lock);
    ro_begin(st);
    e = reg_get(&st->reg, series);
    if (!e) {
        ro_end(st);
        pthread_mutex_unlock(&st->lock);
        return -ENOENT;
    }
    id = e->id;
    if (buckets_init(&bk, from_ms, to_ms, step) < 0) {
        buckets_done(&bk);
        ro_end(st);
        pthread_mutex_unlock(&st->lock);
        return -E2BIG;
    }
    /* the tier the step calls for answers what it holds; older times than it
     * keeps come from the coarser tiers, newer ones it has not built yet
     * (tiers are made when an hour or a day ends) from the finer ones */
    tier = step_ms >= HOUR_MS ? 2 : step_ms >= MINUTE_MS ? 1 : 0;
    {
        int64_t earliest = tier_earliest(st, tier), end = earliest - 1, cursor, cov;
        long k;

        for (int t = tier + 1; t <= 2 && from_ms <= end && seen >= 0; t++) {
            int64_t et = tier_earliest(st, t);
            k = feed_tier(st, t, id, from_ms > et ? from_ms : et, end < to_ms ? end : to_ms, &bk,
                          &cov);
            seen = k < 0 ? k : seen + k;
            if (k > 0 && t > used)
                used = t;
            if (et != INT64_MAX)
                end = et - 1;
        }
        cursor = from_ms > earliest ? from_ms : (earliest == INT64_MAX ? from_ms : earliest);
        for (int t = tier; t >= 0 && seen >= 0 && cursor <= to_ms; t--) {
            k = feed_tier(st, t, id, cursor, to_ms, &bk, &cov);
            seen = k < 0 ? k : seen + k;
            if (k > 0 && t > used)
                used = t;
            if (t > 0 && cov > cursor)
                cursor = cov;
        }
    }
    ro_end(st);
    pthread_mutex_unlock(&st->lock);
    if (seen < 0) {
        buckets_done(&bk);
        return seen;
    }
    for (size_t i = 0; i < bk.n; i++) {
        struct store_point p;
        if (bk.cnt[i] == 0)
            continue;
        p.ts_ms = step_ms > 0 ? bk.from + (int64_t)i * step : bk.last_ts[i];
        switch (agg) {
        case AGG_AVG:
            p.value = bk.sum[i] / bk.cnt[i];
            break;
        case AGG_MIN:
            p.value = bk.min[i];
            break;
        case AGG_MAX:
            p.value = bk.max[i];
            break;
        case AGG_SUM:
            p.value = bk.sum[i];
            break;
        case AGG_COUNT:
            p.value = bk.cnt[i];
            break;
        case AGG_LAST:
            p.value = bk.last[i];
            break;
        }
        fn(ctx, &p);
        points++;
    }
    buckets_done(&bk);
    if (ret_tier)
        *ret_tier = used;
    return points;
}

/* ---- history: snapshots rebuilt from blocks and ticks ---- */

struct hist {
    struct store *st;
    struct snapshot **v; /* collected, in the order found */
    size_t n, limit;
    int64_t from, to, next;
    const char *node_id;
    bool desc; /* newest first */
    int err;
    struct snapshot *cur; /* being filled from a tick row */
};

static struct snapshot *hist_new(struct hist *h, int64_t ts)
{
    struct snapshot *s = snapshot_new();

    if (!s) {
        h->err = -ENOMEM;
        return NULL;
    }
    s->timestamp_ms = (uint64_t)ts;
    s->timestamp = (uint64_t)(ts / 1000);
    s->node_id = snapshot_strdup(s, h->node_id ? h->node_id : "");
    return s;
}

static void hist_set(struct hist *h, struct snapshot *s, uint32_t id, double v)
{
    const char *key = reg_key(&h->st->reg, id);

    if (key && !isnan(v) && snapshot_set_series(s, key, v) == -ENOMEM)
        h->err = -ENOMEM;
}

static void hist_row_set(void *ctx, uint32_t id, double v)
{
    struct hist *h = ctx;

    hist_set(h, h->cur, id, v);
}

/* Wants ts? In ascending mode the first `limit` in range; else all in range
 * (the caller keeps the newest). */
static bool hist_wants(struct hist *h, int64_t ts)
{
    if (ts < h->from || ts > h->to)
        return false;
    if (h->n >= h->limit) {
        if (!h->next || ts < h->next)
            h->next = ts;
        return false;
    }
    return true;
}

static void hist_push(struct hist *h, struct snapshot *s)
{
    h->v[h->n++] = s;
}

static int hist_block(struct hist *h, const uint8_t *data, size_t len)
{
    struct matrix m;

    if (block_matrix(data, len, &m) < 0)
        return 0; /* a damaged block is skipped (logged by compaction's checks) */
    for (size_t r = 0; r < m.rows && !h->err; r++) {
        struct snapshot *s;
        if (!hist_wants(h, m.ts[r]))
            continue;
        if (!(s = hist_new(h, m.ts[r])))
            break;
        for (size_t c = 0; c < m.cols; c++)
            hist_set(h, s, m.ids[c], m.v[c * m.max_rows + r]);
        hist_push(h, s);
    }
    matrix_done(&m);
    return h->err;
}

/*
 * The text fields of snapshots v[0..n) (in time order) from the change log:
 * every change up to the newest of them, applied in time order. 0 or -errno.
 */
static int hist_texts(struct store *st, struct snapshot **v, size_t n)
{
    struct text_field *cur = NULL;
    size_t ncur = 0;
    sqlite3_stmt *s;
    int r = 0, rc;

    if (prep(st, "SELECT key, ts, value FROM texts WHERE ts <= ? ORDER BY ts", &s) != SQLITE_OK)
        return 0; /* (a format-1 database read by another process: no texts) */
    sqlite3_bind_int64(s, 1, (int64_t)v[n - 1]->timestamp_ms);
    rc = sqlite3_step(s);
    for (size_t i = 0; i < n && r == 0; i++) {
        /* the changes up to this snapshot's time */
        while (rc == SQLITE_ROW && sqlite3_column_int64(s, 1) <= (int64_t)v[i]->timestamp_ms) {
            const char *key = (const char *)sqlite3_column_text(s, 0);
            size_t len = (size_t)sqlite3_column_bytes(s, 2), j;
            for (j = 0; j < ncur && strcmp(cur[j].key, key) != 0; j++)
                ;
            if (j == ncur) {
                struct text_field *nc = realloc(cur, (ncur + 1) * sizeof(*nc));
                if (!nc || !(key = strdup(key))) {
                    if (nc)
                        cur = nc;
                    r = -ENOMEM;
                    break;
                }
                cur = nc;
                memset(&cur[ncur], 0, sizeof(cur[ncur]));
                cur[ncur++].key = (char *)key;
            }
            free(cur[j].val);
            cur[j].val = NULL;
            cur[j].present = sqlite3_column_type(s, 2) != SQLITE_NULL;
            if (cur[j].present) {
                cur[j].val = malloc(len ? len : 1);
                if (!cur[j].val) {
                    cur[j].present = false;
                    r = -ENOMEM;
                    break;
                }
                memcpy(cur[j].val, sqlite3_column_blob(s, 2), len);
                cur[j].len = len;
            }
            rc = sqlite3_step(s);
        }
        for (size_t j = 0; j < ncur && r == 0; j++)
            if (cur[j].present && snapshot_set_text(v[i], cur[j].key, (const char *)cur[j].val,
                                                    cur[j].len) == -ENOMEM)
                r = -ENOMEM;
    }
    sqlite3_reset(s);
    for (size_t j = 0; j < ncur; j++) {
        free(cur[j].key);
        free(cur[j].val);
    }
    free(cur);
    return r;
}

/* A journal tick, in the order of the walk (oldest or newest first). */
static int hist_journal_row(void *ctx, int64_t ts, const uint8_t *row, size_t len)
{
    struct hist *h = ctx;

    if (h->desc) {
        if (h->n >= h->limit)
            return 1;
    } else if (!hist_wants(h, ts)) {
        return h->n >= h->limit && h->next;
    }
    if (!(h->cur = hist_new(h, ts)))
        return 1;
    if (row_decode_fmt(row, len, h->st->jr.format, hist_row_set, h) < 0) {
        snapshot_unref(h->cur);
        return 0;
    }
    hist_push(h, h->cur);
    return h->err != 0;
}

static int cmp_snap(const void *a, const void *b)
{
    uint64_t x = (*(struct snapshot *const *)a)->timestamp_ms;
    uint64_t y = (*(struct snapshot *const *)b)->timestamp_ms;

    return x < y ? -1 : x > y;
}

long store_history(struct store *st, int64_t from_ms, int64_t to_ms, size_t limit,
                   bool oldest_first, const char *node_id,
                   void (*fn)(void *ctx, const struct snapshot *snap), void *ctx, int64_t *ret_next)
{
    struct hist h = {.st = st,
                     .limit = limit,
                     .from = from_ms,
                     .to = to_ms,
                     .node_id = node_id,
                     .desc = !oldest_first};
    sqlite3_stmt *s = NULL;
    int rc;

    if (ret_next)
        *ret_next = 0;
    if (limit == 0 || to_ms < from_ms)
        return 0;
    if (!oldest_first) {
        /* the newest `limit`: walk backwards, ticks first, then blocks */
        h.limit = limit;
    }
    h.v = calloc(limit, sizeof(*h.v));
    if (!h.v)
        return -ENOMEM;
    pthread_mutex_lock(&st->lock);
    ro_begin(st);
    if (from_ms < st->raw_cut)
        from_ms = h.from = st->raw_cut; /* past retention, not deleted yet */
    if (to_ms < from_ms)
        goto out;
    if (!oldest_first) {
        /* the journal holds the newest */
        h.err = journal_each(st, from_ms, to_ms, true, hist_journal_row, &h);
        if (h.err || h.n >= limit)
            goto out;
    }
    if (oldest_first) {
        rc = prep(st,
                  "SELECT data, NULL, NULL FROM (SELECT start_ts, data FROM blocks "
                  "WHERE tier = 0 AND end_ts >= ?1 AND start_ts <= ?2 ORDER BY "
                  "start_ts) UNION ALL SELECT NULL, ts, row FROM (SELECT ts, row "
                  "FROM ticks WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts)",
                  &s);
    } else {
        rc = prep(st,
                  "SELECT NULL, ts, row FROM (SELECT ts, row FROM ticks WHERE ts >= "
                  "?1 AND ts <= ?2 ORDER BY ts DESC) UNION ALL SELECT data, NULL, "
                  "NULL FROM (SELECT start_ts, data FROM blocks WHERE tier = 0 AND "
                  "end_ts >= ?1 AND start_ts <= ?2 ORDER BY start_ts DESC)",
                  &s);
    }
    if (rc != SQLITE_OK) {
        h.err = sql_errno(rc);
        goto out;
    }
    sqlite3_bind_int64(s, 1, from_ms);
    sqlite3_bind_int64(s, 2, to_ms);
    while (!h.err && sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL) {
            if (!oldest_first) {
                /* a block, newest first: keep its newest rows that still fit */
                struct hist one = h;
                size_t need = limit - h.n;
                if (need == 0)
                    break;
                one.v = calloc(BLK_MAX_ROWS, sizeof(*one.v));
                one.n = 0;
                one.limit = BLK_MAX_ROWS;
                if (!one.v) {
                    h.err = -ENOMEM;
                    break;
                }
                hist_block(&one, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
                h.err = one.err;
                qsort(one.v, one.n, sizeof(*one.v), cmp_snap);
                for (size_t i = 0; i < one.n; i++) {
                    if (i + need >= one.n)
                        h.v[h.n++] = one.v[i];
                    else
                        snapshot_unref(one.v[i]);
                }
                free(one.v);
            } else {
                hist_block(&h, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
            }
            continue;
        }
        {
            int64_t ts = sqlite3_column_int64(s, 1);
            if (!oldest_first && h.n >= limit)
                break;
            if (oldest_first && !hist_wants(&h, ts))
                continue;
            if (!(h.cur = hist_new(&h, ts)))
                break;
            if (row_decode(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
                           hist_row_set, &h) < 0) {
                snapshot_unref(h.cur);
                continue;
            }
            hist_push(&h, h.cur);
        }
        if (oldest_first && h.n >= limit && h.next)
            break;
    }
    if (oldest_first && !h.err && !(h.n >= limit && h.next))
        h.err = journal_each(st, from_ms, to_ms, false, hist_journal_row, &h);
out:
    sqlite3_reset(s);
    qsort(h.v, h.n, sizeof(*h.v), cmp_snap);
    if (!h.err && h.n)
        h.err = hist_texts(st, h.v, h.n);
    ro_end(st);
    pthread_mutex_unlock(&st->lock);
    /* the interval each snapshot's rates cover: the gap to the one before */
    for (size_t i = 1; i < h.n; i++)
        h.v[i]->interval_sec = (double)(h.v[i]->timestamp_ms - h.v[i - 1]->timestamp_ms) / 1000.0;
    for (size_t i = 0; i < h.n; i++) {
        if (!h.err)
            fn(ctx, h.v[i]);
        snapshot_unref(h.v[i]);
    }
    free(h.v);
    if (ret_next)
        *ret_next = h.next;
    return h.err ? h.err : (long)h.n;
}

int store_checkpoint(struct store *st)
{
    int r;

    pthread_mutex_lock(&st->lock);
    r = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_unlock(&st->lock);
    return r == SQLITE_OK ? 0 : sql_errno(r);
}

void store_get_stats(struct store *st, struct store_stats *ret)
{
    ret->appends = STAT_GET(st, appends);
    ret->append_errors = STAT_GET(st, append_errors);
    ret->ticks_rows = STAT_GET(st, ticks_rows);
    for (int t = 0; t < 3; t++)
        ret->blocks[t] = STAT_GET(st, blocks[t]);
    ret->series = STAT_GET(st, series);
}

/* ---- anomalies (records of kind "anomaly", the body anomaly_to_json()'s) ---- */

int store_put_anomaly(struct store *st, const struct anomaly *a)
{
    struct strbuf body;
    sqlite3_stmt *s;
    int rc, r = 0;

    if (st->opt.read_only)
        return -EROFS;
    strbuf_init(&body, 65536);
    anomaly_to_json(a, &body);
    if (body.overflow) {
        strbuf_done(&body);
        return -ENOMEM;
    }
    pthread_mutex_lock(&st->lock);
    rc = prep(st, "UPDATE records SET ts = ?2, body = ?3 WHERE kind = 'anomaly' AND key = ?1", &s);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)a->detected_at_ms);
        sqlite3_bind_text(s, 3, body.buf, (int)body.len, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
    }
    if (rc == SQLITE_DONE && sqlite3_changes(st->db) == 0) {
        rc = prep(st, "INSERT INTO records (kind, ts, key, body) VALUES ('anomaly', ?2, ?1, ?3)",
                  &s);
        if (rc == SQLITE_OK) {
            sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, (int64_t)a->detected_at_ms);
            sqlite3_bind_text(s, 3, body.buf, (int)body.len, SQLITE_STATIC);
            rc = sqlite3_step(s);
            sqlite3_reset(s);
        }
    }
    if (rc != SQLITE_DONE)
        r = sql_errno(rc);
    pthread_mutex_unlock(&st->lock);
    strbuf_done(&body);
    return r;
}

/* Copies t into pool at *used; "" when it does not fit. */
static const char *take_str(char *pool, size_t size, size_t *used, const char *t)
{
    size_t n = t ? strlen(t) + 1 : 1;
    char *d = pool + *used;

    if (*used + n > size)
        return "";
    memcpy(d, t ? t : "", n);
    *used += n;
    return d;
}

/* One stored anomaly back from its JSON (SQLite's JSON functions read it). */
static bool anomaly_row(struct store *st, sqlite3_stmt *q, struct anomaly *a, char *strs,
                        size_t strs_size)
{
    static const char sql_rel[] = "SELECT key, value FROM json_each(?, '$.related_metrics')";
    static const char sql_act[] = "SELECT value FROM json_each(?, '$.suggested_actions')";
    const unsigned char *body = sqlite3_column_text(q, 0);
    int body_len = sqlite3_column_bytes(q, 0);
    size_t used = 0;
    sqlite3_stmt *s;

#define TAKE(t) take_str(strs, strs_size, &used, (const char *)(t))
    memset(a, 0, sizeof(*a));
    if (!body || sqlite3_column_type(q, 1) == SQLITE_NULL)
        return false;
    snprintf(a->id, sizeof(a->id), "%s", (const char *)sqlite3_column_text(q, 1));
    a->anomaly_type = TAKE(sqlite3_column_text(q, 2));
    a->severity = (uint8_t)sqlite3_column_int(q, 3);
    a->component = TAKE(sqlite3_column_text(q, 4));
    a->description = TAKE(sqlite3_column_text(q, 5));
    a->quantum_relevant = sqlite3_column_int(q, 6) != 0;
    a->detected_at_ms = (uint64_t)sqlite3_column_int64(q, 7);
    a->detected_at = a->detected_at_ms / 1000;
    a->updated_at_ms = (uint64_t)sqlite3_column_int64(q, 8);
    a->resolved_at_ms = (uint64_t)sqlite3_column_int64(q, 9);
    a->detector = TAKE(sqlite3_column_text(q, 10));
    a->score = sqlite3_column_type(q, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 11);
    if (!*a->anomaly_type || !*a->component || a->severity < 1 || a->severity > 5)
        return false;
    if (prep(st, sql_rel, &s) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, (const char *)body, body_len, SQLITE_STATIC);
        while (a->n_related < ANOMALY_MAX_RELATED && sqlite3_step(s) == SQLITE_ROW) {
            a->related_metrics[a->n_related].key = TAKE(sqlite3_column_text(s, 0));
            a->related_metrics[a->n_related++].value =
                sqlite3_column_type(s, 1) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 1);
        }
        sqlite3_reset(s);
    }
    if (prep(st, sql_act, &s) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, (const char *)body, body_len, SQLITE_STATIC);
        while (a->n_actions < ANOMALY_MAX_ACTIONS && sqlite3_step(s) == SQLITE_ROW)
            a->suggested_actions[a->n_actions++] = TAKE(sqlite3_column_text(s, 0));
        sqlite3_reset(s);
    }
#undef TAKE
    return true;
}

long store_anomalies(struct store *st, size_t limit, void (*fn)(void *ctx, const struct anomaly *a),
                     void *ctx)
{
    static const char sql[] =
        "SELECT body, key, json_extract(body, '$.anomaly_type'), json_extract(body, "
        "'$.severity'), json_extract(body, '$.component'), json_extract(body, '$.description'), "
        "json_extract(body, '$.quantum_relevant'), ts, json_extract(body, '$.updated_at_ms'), "
        "json_extract(body, '$.resolved_at_ms'), json_extract(body, '$.detector'), "
        "json_extract(body, '$.score') FROM (SELECT * FROM records WHERE kind = 'anomaly' "
        "AND json_valid(body) ORDER BY ts DESC, id DESC LIMIT ?) ORDER BY ts, id";
    sqlite3_stmt *q;
    long n = 0;
    int rc;
    char *strs = malloc(16384);

    if (!strs)
        return -ENOMEM;
    pthread_mutex_lock(&st->lock);
    rc = prep(st, sql, &q);
    if (rc != SQLITE_OK) {
        pthread_mutex_unlock(&st->lock);
        free(strs);
        return sql_errno(rc);
    }
    sqlite3_bind_int64(q, 1, (int64_t)limit);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct anomaly a;
        if (anomaly_row(st, q, &a, strs, 16384)) {
            fn(ctx, &a);
            n++;
        }
    }
    sqlite3_reset(q);
    pthread_mutex_unlock(&st->lock);
    free(strs);
    return rc == SQLITE_DONE ? n : sql_errno(rc);
}
