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
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "core/log.h"

#define APP_ID         0x41524d4e /* "ARMN" */
#define FORMAT_VERSION 1
#define HOUR_MS        3600000LL
#define MINUTE_MS      60000LL
#define DAY_MS         86400000LL
#define KEY_MAX        512
#define ROW_MAX_SERIES 65536

/* ---- the series registry: key -> id, with the previous tick's order as a hint ---- */

struct series_ent {
    char *key;
    uint32_t id;
};

struct registry {
    struct series_ent *slots; /* open addressing, power of two */
    size_t cap, n;
    char **by_id; /* id -> key (the slot's string) */
    size_t by_id_cap;
    uint32_t *order; /* ids in the order the last tick visited them */
    char **order_keys;
    size_t order_n, order_cap;
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
    free(r->order);
    free(r->order_keys);
    memset(r, 0, sizeof(*r));
}

/* ---- the store ---- */

/* The counters are read by /metrics without the store's lock, which
 * compaction may hold for a while: single words, stored and loaded atomically. */
#define STAT_SET(st, f, v) __atomic_store_n(&(st)->stats.f, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_ADD(st, f, v) __atomic_fetch_add(&(st)->stats.f, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_GET(st, f)    __atomic_load_n(&(st)->stats.f, __ATOMIC_RELAXED)

struct store {
    sqlite3 *db;
    char *path;
    struct store_options opt;
    pthread_mutex_t lock; /* one connection, used by one thread at a time */
    struct registry reg;
    uint32_t next_id;
    sqlite3_stmt *ins_tick, *ins_series;
    struct store_stats stats;
    /* the row being built by store_append() */
    uint8_t *row;
    size_t row_len, row_cap;
    int err; /* first error of the current append */
};

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
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);";

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
    if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK) {
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
    sqlite3_finalize(s);
    return r;
}

static int load_registry(struct store *st)
{
    sqlite3_stmt *s;
    int r = 0;

    if (sqlite3_prepare_v2(st->db, "SELECT id, key FROM series", -1, &s, NULL) != SQLITE_OK)
        return -EIO;
    while (r == 0 && sqlite3_step(s) == SQLITE_ROW) {
        uint32_t id = (uint32_t)sqlite3_column_int64(s, 0);
        r = reg_put(&st->reg, (const char *)sqlite3_column_text(s, 1), id);
        if (id >= st->next_id)
            st->next_id = id + 1;
    }
    sqlite3_finalize(s);
    STAT_SET(st, series, st->reg.n);
    return r;
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
    pthread_mutex_init(&st->lock, NULL);
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
        if (sqlite3_prepare_v2(st->db, "INSERT INTO ticks (ts, row) VALUES (?, ?)", -1,
                               &st->ins_tick, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(st->db, "INSERT INTO series (id, key) VALUES (?, ?)", -1,
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
    STAT_SET(st, ticks_rows, (uint64_t)query_int(st->db, "SELECT count(*) FROM ticks", 0));
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
    sqlite3_finalize(st->ins_tick);
    sqlite3_finalize(st->ins_series);
    if (st->db)
        sqlite3_close(st->db);
    reg_done(&st->reg);
    pthread_mutex_destroy(&st->lock);
    free(st->row);
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

static int put_varint(struct store *st, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;

    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    return row_put(st, b, n);
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

static uint32_t series_id(struct store *st, const char *key, size_t pos)
{
    struct registry *r = &st->reg;
    const struct series_ent *e;
    uint32_t id;

    if (pos < r->order_n && strcmp(r->order_keys[pos], key) == 0)
        return r->order[pos];
    e = reg_get(r, key);
    if (e) {
        id = e->id;
    } else {
        id = st->next_id;
        sqlite3_bind_int64(st->ins_series, 1, id);
        sqlite3_bind_text(st->ins_series, 2, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st->ins_series) != SQLITE_DONE) {
            st->err = sql_errno(sqlite3_errcode(st->db));
            sqlite3_reset(st->ins_series);
            return 0;
        }
        sqlite3_reset(st->ins_series);
        if (reg_put(r, key, id) < 0) {
            st->err = -ENOMEM;
            return 0;
        }
        st->next_id++;
        STAT_SET(st, series, r->n);
        e = reg_get(r, key);
    }
    /* remember the order for the next tick (the key pointer is the registry's) */
    if (pos >= r->order_cap) {
        size_t ncap = r->order_cap ? r->order_cap * 2 : 512;
        uint32_t *no = realloc(r->order, ncap * sizeof(*no));
        char **nk;
        if (!no)
            return id;
        r->order = no;
        nk = realloc(r->order_keys, ncap * sizeof(*nk));
        if (!nk)
            return id;
        r->order_keys = nk;
        r->order_cap = ncap;
    }
    r->order[pos] = id;
    r->order_keys[pos] = e->key;
    if (pos >= r->order_n)
        r->order_n = pos + 1;
    return id;
}

struct append_ctx {
    struct store *st;
    size_t pos;
};

static void append_one(void *ctx, const struct series_desc *d, const struct series_label *labels,
                       size_t n, double v)
{
    struct append_ctx *c = ctx;
    struct store *st = c->st;
    char key[KEY_MAX];
    uint32_t id;

    if (st->err || snapshot_series_key(key, sizeof(key), d, labels, n) < 0)
        return;
    id = series_id(st, key, c->pos++);
    if (!id)
        return;
    if (put_varint(st, id) < 0 || row_put(st, &v, sizeof(v)) < 0)
        st->err = -ENOMEM;
}

int store_append(struct store *st, const struct snapshot *snap)
{
    struct append_ctx c = {st, 0};
    int rc;

    pthread_mutex_lock(&st->lock);
    st->row_len = 0;
    st->err = exec(st, "BEGIN");
    if (st->err == 0)
        snapshot_flatten(snap, append_one, &c);
    if (st->err == 0) {
        /* two snapshots stamped the same millisecond (a stalled or stepped
         * clock): the later one is kept a millisecond on, not dropped */
        int64_t ts = (int64_t)snap->timestamp_ms;
        for (int tries = 0; tries < 1000; tries++, ts++) {
            sqlite3_bind_int64(st->ins_tick, 1, ts);
            sqlite3_bind_blob(st->ins_tick, 2, st->row, (int)st->row_len, SQLITE_STATIC);
            rc = sqlite3_step(st->ins_tick);
            sqlite3_reset(st->ins_tick);
            sqlite3_clear_bindings(st->ins_tick);
            if ((rc & 0xff) != SQLITE_CONSTRAINT)
                break;
        }
        if (rc != SQLITE_DONE)
            st->err = sql_errno(rc);
    }
    if (st->err == 0)
        st->err = exec(st, "COMMIT");
    if (st->err) {
        int err = st->err;
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        /* series added in the rolled-back transaction are gone from the
         * table: reload the registry so ids stay in step with it */
        reg_done(&st->reg);
        st->next_id = 1;
        load_registry(st);
        STAT_ADD(st, append_errors, 1);
        pthread_mutex_unlock(&st->lock);
        return err;
    }
    STAT_ADD(st, appends, 1);
    STAT_ADD(st, ticks_rows, 1);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

/* Decodes a row blob, calling fn(ctx, id, value) per pair. 0 or -EBADMSG. */
static int row_decode(const uint8_t *p, size_t len, void (*fn)(void *ctx, uint32_t id, double v),
                      void *ctx)
{
    const uint8_t *end = p + len;

    while (p < end) {
        uint64_t id;
        double v;
        if (get_varint(&p, end, &id) < 0 || id > UINT32_MAX || (size_t)(end - p) < sizeof(v))
            return -EBADMSG;
        memcpy(&v, p, sizeof(v));
        p += sizeof(v);
        fn(ctx, (uint32_t)id, v);
    }
    return 0;
}

/* ---- compaction: a finished hour of ticks into a raw block and a minute block ---- */

/* Columns being gathered: ids and a rows x cols matrix (NaN: absent). */
struct matrix {
    size_t rows, cols, cap_cols, max_rows;
    uint32_t *ids;
    double *v; /* column-major: v[c * max_rows + r] */
    int64_t *ts;
    size_t cur; /* row being filled */
    int err;
};

static void matrix_done(struct matrix *m)
{
    free(m->ids);
    free(m->v);
    free(m->ts);
    memset(m, 0, sizeof(*m));
}

static int matrix_init(struct matrix *m, size_t max_rows)
{
    memset(m, 0, sizeof(*m));
    m->max_rows = max_rows;
    m->ts = calloc(max_rows ? max_rows : 1, sizeof(*m->ts));
    return m->ts ? 0 : -ENOMEM;
}

static double *matrix_col(struct matrix *m, uint32_t id)
{
    /* ids arrive in nearly the same order every row: a linear probe from a guess would
     * do, but a column count of a few hundred keeps a plain scan cheap enough here */
    for (size_t c = 0; c < m->cols; c++)
        if (m->ids[c] == id)
            return &m->v[c * m->max_rows];
    if (m->cols == m->cap_cols) {
        size_t ncap = m->cap_cols ? m->cap_cols * 2 : 256;
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
    return &m->v[m->cols++ * m->max_rows];
}

static void matrix_set(void *ctx, uint32_t id, double v)
{
    struct matrix *m = ctx;
    double *col = matrix_col(m, id);

    if (!col) {
        m->err = -ENOMEM;
        return;
    }
    col[m->cur] = v;
}

static int encode_matrix(const struct matrix *m, struct bytebuf *out)
{
    struct blk_column *cols = calloc(m->cols ? m->cols : 1, sizeof(*cols));
    int r;

    if (!cols)
        return -ENOMEM;
    for (size_t c = 0; c < m->cols; c++) {
        cols[c].series_id = m->ids[c];
        cols[c].decimals = -1;
        cols[c].values = &m->v[c * m->max_rows];
    }
    r = blk_encode(m->ts, m->rows, cols, m->cols, out);
    free(cols);
    return r;
}

static int insert_block(struct store *st, int tier, int64_t start, int64_t end, size_t rows,
                        const struct bytebuf *b)
{
    sqlite3_stmt *s;
    int rc;

    rc = sqlite3_prepare_v2(st->db,
                            "INSERT OR REPLACE INTO blocks (tier, start_ts, end_ts, rows, data) "
                            "VALUES (?, ?, ?, ?, ?)",
                            -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int(s, 1, tier);
    sqlite3_bind_int64(s, 2, start);
    sqlite3_bind_int64(s, 3, end);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)rows);
    sqlite3_bind_blob(s, 5, b->buf, (int)b->len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
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
    if (matrix_init(out, buckets) < 0)
        return -ENOMEM;
    for (size_t b = 0; b < buckets; b++)
        out->ts[b] = start + (int64_t)b * width;
    for (size_t c = 0; c < m->cols; c++) {
        uint32_t id = agg_in ? m->ids[c] / 4 : m->ids[c];
        unsigned part = agg_in ? m->ids[c] % 4 : 4;
        double *col[4];
        const double *in = &m->v[c * m->max_rows];

        for (unsigned k = 0; k < 4; k++) {
            col[k] = matrix_col(out, id * 4 + k);
            if (!col[k])
                return -ENOMEM;
        }
        for (size_t r = 0; r < m->rows; r++) {
            int64_t b = (m->ts[r] - start) / width;
            double v = in[r];
            if (isnan(v) || b < 0 || (size_t)b >= buckets)
                continue;
            if (part == 0 || part == 4)
                col[0][b] = isnan(col[0][b]) || v < col[0][b] ? v : col[0][b];
            if (part == 1 || part == 4)
                col[1][b] = isnan(col[1][b]) || v > col[1][b] ? v : col[1][b];
            if (part == 2 || part == 4)
                col[2][b] = (isnan(col[2][b]) ? 0 : col[2][b]) + v;
            if (part == 3 || part == 4)
                col[3][b] = (isnan(col[3][b]) ? 0 : col[3][b]) + (part == 4 ? 1 : v);
        }
    }
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

/* Adds to m the rows of the raw block already stored for this hour (ticks that
 * arrive for an hour compacted before, after the clock stepped back). */
static int merge_existing(struct store *st, int64_t hour, struct matrix *m)
{
    sqlite3_stmt *s;
    struct matrix old, merged;
    int r = 0;

    if (sqlite3_prepare_v2(st->db, "SELECT data FROM blocks WHERE tier = 0 AND start_ts = ?", -1,
                           &s, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(s, 1, hour);
    if (sqlite3_step(s) == SQLITE_ROW &&
        block_matrix(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &old) == 0) {
        r = matrix_merge(&old, m, &merged);
        matrix_done(&old);
        if (r == 0) {
            matrix_done(m);
            *m = merged;
        } else {
            matrix_done(&merged);
        }
    }
    sqlite3_finalize(s);
    return r;
}

/* Compacts the ticks of [hour, hour + 1 h) into a raw block and a minute block. */
static int compact_hour(struct store *st, int64_t hour)
{
    sqlite3_stmt *s;
    struct matrix m, mm = {0};
    struct bytebuf b = {0};
    size_t n = 0;
    int r = 0, rc;

    rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM ticks WHERE ts >= ? AND ts < ?", -1, &s,
                            NULL);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, hour + HOUR_MS);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = (size_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (n == 0)
        return 0;
    if (n > BLK_MAX_ROWS)
        n = BLK_MAX_ROWS;
    if (matrix_init(&m, n) < 0)
        return -ENOMEM;
    rc = sqlite3_prepare_v2(
        st->db, "SELECT ts, row FROM ticks WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT ?", -1, &s,
        NULL);
    if (rc != SQLITE_OK) {
        matrix_done(&m);
        return sql_errno(rc);
    }
    sqlite3_bind_int64(s, 1, hour);
    sqlite3_bind_int64(s, 2, hour + HOUR_MS);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)n);
    while (m.err == 0 && sqlite3_step(s) == SQLITE_ROW) {
        m.cur = m.rows;
        m.ts[m.rows] = sqlite3_column_int64(s, 0);
        if (row_decode(sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), matrix_set,
                       &m) < 0) {
            log_warn("%s: a damaged tick row at %" PRId64 " is dropped from the history", st->path,
                     m.ts[m.rows]);
            for (size_t c = 0; c < m.cols; c++)
                m.v[c * m.max_rows + m.rows] = NAN;
            continue;
        }
        m.rows++;
    }
    sqlite3_finalize(s);
    r = m.err;
    if (r == 0 && m.rows > 0)
        r = merge_existing(st, hour, &m);
    if (r == 0 && m.rows > BLK_MAX_ROWS)
        m.rows = BLK_MAX_ROWS; /* (only after a pathological clock) */
    if (r == 0 && m.rows > 0)
        r = encode_matrix(&m, &b);
    if (r == 0 && m.rows > 0)
        r = insert_block(st, 0, hour, m.ts[m.rows - 1], m.rows, &b);
    if (r == 0 && m.rows > 0)
        r = rollup(&m, false, hour, MINUTE_MS, 60, &mm);
    if (r == 0 && mm.rows > 0) {
        b.len = 0;
        r = encode_matrix(&mm, &b);
        if (r == 0)
            r = insert_block(st, 1, hour, mm.ts[mm.rows - 1], mm.rows, &b);
    }
    if (r == 0) {
        rc = sqlite3_prepare_v2(st->db, "DELETE FROM ticks WHERE ts >= ? AND ts < ?", -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, hour);
            sqlite3_bind_int64(s, 2, hour + HOUR_MS);
            rc = sqlite3_step(s);
            sqlite3_finalize(s);
        }
        r = rc == SQLITE_DONE ? 0 : sql_errno(rc);
    }
    if (r == 0)
        STAT_ADD(st, blocks[0], 1), STAT_ADD(st, blocks[1], mm.rows > 0);
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
    rc = sqlite3_prepare_v2(st->db,
                            "SELECT data FROM blocks WHERE tier = 1 AND start_ts >= ? AND "
                            "start_ts < ? ORDER BY start_ts",
                            -1, &s, NULL);
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
    sqlite3_finalize(s);
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

/* Drops the rows of the raw block starting at `start` that are older than cutoff. */
static int trim_block(struct store *st, int64_t start, const uint8_t *data, size_t len,
                      int64_t cutoff)
{
    struct matrix m;
    struct bytebuf b = {0};
    size_t keep = 0, first;
    sqlite3_stmt *s;
    int r, rc;

    r = block_matrix(data, len, &m);
    if (r < 0)
        return r;
    while (keep < m.rows && m.ts[keep] < cutoff)
        keep++;
    first = keep;
    /* shift the kept rows to the front */
    for (size_t row = first; row < m.rows; row++) {
        m.ts[row - first] = m.ts[row];
        for (size_t c = 0; c < m.cols; c++)
            m.v[c * m.max_rows + row - first] = m.v[c * m.max_rows + row];
    }
    m.rows -= first;
    rc = sqlite3_prepare_v2(st->db, "DELETE FROM blocks WHERE tier = 0 AND start_ts = ?", -1, &s,
                            NULL);
    if (rc != SQLITE_OK) {
        matrix_done(&m);
        return sql_errno(rc);
    }
    sqlite3_bind_int64(s, 1, start);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    r = rc == SQLITE_DONE ? 0 : sql_errno(rc);
    if (r == 0 && m.rows > 0) {
        r = encode_matrix(&m, &b);
        if (r == 0)
            r = insert_block(st, 0, m.ts[0], m.ts[m.rows - 1], m.rows, &b);
    }
    matrix_done(&m);
    bytebuf_done(&b);
    return r;
}

static int retention(struct store *st, int64_t now_ms)
{
    int64_t cut[3] = {now_ms - (int64_t)st->opt.raw_days * DAY_MS,
                      now_ms - (int64_t)st->opt.minute_days * DAY_MS,
                      now_ms - (int64_t)st->opt.hour_days * DAY_MS};
    sqlite3_stmt *s;
    int rc, r = 0;

    for (int tier = 0; tier < 3; tier++) {
        rc = sqlite3_prepare_v2(st->db, "DELETE FROM blocks WHERE tier = ? AND end_ts < ?", -1, &s,
                                NULL);
        if (rc != SQLITE_OK)
            return sql_errno(rc);
        sqlite3_bind_int(s, 1, tier);
        sqlite3_bind_int64(s, 2, cut[tier]);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return sql_errno(rc);
    }
    rc = sqlite3_prepare_v2(st->db, "DELETE FROM ticks WHERE ts < ?", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, cut[0]);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return sql_errno(rc);
    /* raw data is kept exactly retention_period_days: the block straddling
     * the cut loses its older rows */
    rc = sqlite3_prepare_v2(st->db,
                            "SELECT start_ts, data FROM blocks WHERE tier = 0 AND start_ts < ? "
                            "AND end_ts >= ?",
                            -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sql_errno(rc);
    sqlite3_bind_int64(s, 1, cut[0]);
    sqlite3_bind_int64(s, 2, cut[0]);
    if (sqlite3_step(s) == SQLITE_ROW) {
        int64_t start = sqlite3_column_int64(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            sqlite3_finalize(s);
            return -ENOMEM;
        }
        memcpy(copy, sqlite3_column_blob(s, 1), len);
        sqlite3_finalize(s);
        r = trim_block(st, start, copy, len, cut[0]);
        free(copy);
    } else {
        sqlite3_finalize(s);
    }
    return r;
}

int store_maintain(struct store *st, int64_t now_ms)
{
    int64_t this_hour = now_ms - now_ms % HOUR_MS, today = now_ms - now_ms % DAY_MS;
    int r = 0;

    pthread_mutex_lock(&st->lock);
    /* every finished hour still in ticks, oldest first, one transaction each */
    for (;;) {
        int64_t oldest = query_int(st->db, "SELECT min(ts) FROM ticks", INT64_MAX);
        int64_t hour = oldest - oldest % HOUR_MS;
        if (oldest == INT64_MAX || hour >= this_hour)
            break;
        r = exec(st, "BEGIN");
        if (r == 0)
            r = compact_hour(st, hour);
        if (r == 0)
            r = exec(st, "COMMIT");
        if (r < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
        STAT_SET(st, ticks_rows, (uint64_t)query_int(st->db, "SELECT count(*) FROM ticks", 0));
    }
    /* every finished day with minute blocks and no hour block */
    for (;;) {
        int64_t day = query_int(st->db,
                                "SELECT min(b.start_ts - b.start_ts % 86400000) FROM blocks b "
                                "WHERE b.tier = 1 AND NOT EXISTS (SELECT 1 FROM blocks h WHERE "
                                "h.tier = 2 AND h.start_ts = b.start_ts - b.start_ts % 86400000)",
                                INT64_MAX);
        if (day == INT64_MAX || day >= today)
            break;
        r = exec(st, "BEGIN");
        if (r == 0)
            r = compact_day(st, day);
        if (r == 0)
            r = exec(st, "COMMIT");
        if (r < 0) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
    r = exec(st, "BEGIN");
    if (r == 0)
        r = retention(st, now_ms);
    if (r == 0)
        r = exec(st, "COMMIT");
    if (r < 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&st->lock);
    return r;
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

    if (sqlite3_prepare_v2(st->db, "SELECT min(start_ts) FROM blocks WHERE tier = ?", -1, &s,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int(s, 1, tier);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
            e = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    if (tier == 0) {
        int64_t t = query_int(st->db, "SELECT min(ts) FROM ticks", INT64_MAX);
        e = t < e ? t : e;
    }
    return e;
}

/* Feeds the buckets from tier `tier` over [from, to]; the number of samples seen,
 * and in *covered the end (exclusive) of the time its blocks cover. */
static long feed_tier(struct store *st, int tier, uint32_t id, int64_t from, int64_t to,
                      struct buckets *bk, int64_t *covered)
{
    sqlite3_stmt *s;
    long seen = 0;
    int rc;

    *covered = from;
    if (to < from)
        return 0;
    rc =
        sqlite3_prepare_v2(st->db,
                           "SELECT data, start_ts, rows FROM blocks WHERE tier = ? AND end_ts >= ? "
                           "AND start_ts <= ? ORDER BY start_ts",
                           -1, &s, NULL);
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
    sqlite3_finalize(s);
    if (tier == 0) {
        /* and the newest snapshots, not compacted yet */
        rc = sqlite3_prepare_v2(st->db, "SELECT ts, row FROM ticks WHERE ts >= ? AND ts <= ?", -1,
                                &s, NULL);
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
        sqlite3_finalize(s);
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
    e = reg_get(&st->reg, series);
    if (!e && st->opt.read_only) {
        /* another process may have added it since we opened */
        reg_done(&st->reg);
        load_registry(st);
        e = reg_get(&st->reg, series);
    }
    if (!e) {
        pthread_mutex_unlock(&st->lock);
        return -ENOENT;
    }
    id = e->id;
    if (buckets_init(&bk, from_ms, to_ms, step) < 0) {
        buckets_done(&bk);
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
    struct hist h = {.st = st, .limit = limit, .from = from_ms, .to = to_ms, .node_id = node_id};
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
    if (st->opt.read_only) {
        reg_done(&st->reg);
        load_registry(st);
    }
    if (oldest_first) {
        rc = sqlite3_prepare_v2(st->db,
                                "SELECT data, NULL, NULL FROM (SELECT start_ts, data FROM blocks "
                                "WHERE tier = 0 AND end_ts >= ?1 AND start_ts <= ?2 ORDER BY "
                                "start_ts) UNION ALL SELECT NULL, ts, row FROM (SELECT ts, row "
                                "FROM ticks WHERE ts >= ?1 AND ts <= ?2 ORDER BY ts)",
                                -1, &s, NULL);
    } else {
        rc = sqlite3_prepare_v2(st->db,
                                "SELECT NULL, ts, row FROM (SELECT ts, row FROM ticks WHERE ts >= "
                                "?1 AND ts <= ?2 ORDER BY ts DESC) UNION ALL SELECT data, NULL, "
                                "NULL FROM (SELECT start_ts, data FROM blocks WHERE tier = 0 AND "
                                "end_ts >= ?1 AND start_ts <= ?2 ORDER BY start_ts DESC)",
                                -1, &s, NULL);
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
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    qsort(h.v, h.n, sizeof(*h.v), cmp_snap);
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
