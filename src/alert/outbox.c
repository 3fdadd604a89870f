/* The durable outbox (outbox.h). */
#define LOG_MODULE "alert"
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "outbox.h"

struct outbox {
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS alert_state("
    " fingerprint TEXT PRIMARY KEY, alert_id TEXT NOT NULL, anomaly_id TEXT NOT NULL,"
    " phase INTEGER NOT NULL, severity INTEGER NOT NULL, quantum INTEGER NOT NULL,"
    " opened_ms INTEGER NOT NULL, notified_ms INTEGER NOT NULL, since_ms INTEGER NOT NULL,"
    " resolved_ms INTEGER NOT NULL, repeats INTEGER NOT NULL, summary INTEGER NOT NULL,"
    " anomaly_type TEXT, component TEXT, description TEXT, details TEXT, body TEXT);"
    "CREATE INDEX IF NOT EXISTS alert_state_phase ON alert_state(phase);"
    "CREATE TABLE IF NOT EXISTS alert_outbox("
    " id INTEGER PRIMARY KEY, channel TEXT NOT NULL, key TEXT NOT NULL, event TEXT NOT NULL,"
    " node_id TEXT, alert_id TEXT, anomaly_type TEXT, component TEXT, description TEXT,"
    " details TEXT, body TEXT, severity INTEGER, prev_severity INTEGER, quantum INTEGER,"
    " starts_ms INTEGER, ends_ms INTEGER, created_ms INTEGER, count INTEGER,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL DEFAULT 0, sent_ms INTEGER, last_error TEXT,"
    " UNIQUE(channel, key));"
    "CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox(channel, state, id);";

int outbox_open(struct outbox **ret, const char *path, struct strbuf *err)
{
    struct outbox *ob = calloc(1, sizeof(*ob));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    char *msg = NULL;

    if (!ob)
        return -ENOMEM;
    pthread_mutex_init(&ob->lock, NULL);
    if (sqlite3_open_v2(path ? path : ":memory:", &ob->db, flags, NULL) != SQLITE_OK) {
        strbuf_printf(err, "alerts: cannot open the outbox in %s: %s\n", path ? path : "memory",
                      ob->db ? sqlite3_errmsg(ob->db) : "out of memory");
        outbox_close(ob);
        return -EIO;
    }
    /* a few pages suffice: the outbox is small and rarely read; the defaults
     * (a 2 MB page cache, filled 20 pages at a time, and lookaside slots) would
     * add to every agent's RSS */
    sqlite3_db_config(ob->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
    sqlite3_exec(ob->db, "PRAGMA cache_size=8", NULL, NULL, NULL);
    sqlite3_busy_timeout(ob->db, 5000);
    /* WAL beside the store's writer; a commit is on disk before it returns, so
     * that a notification marked delivered stays so across a power loss */
    if ((path && sqlite3_exec(ob->db, "PRAGMA journal_mode=WAL", NULL, NULL, &msg) != SQLITE_OK) ||
        sqlite3_exec(ob->db, "PRAGMA synchronous=FULL", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(ob->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        strbuf_printf(err, "alerts: cannot prepare the outbox in %s: %s\n", path ? path : "memory",
                      msg ? msg : sqlite3_errmsg(ob->db));
        sqlite3_free(msg);
        outbox_close(ob);
        return -EIO;
    }
    *ret = ob;
    return 0;
}

void outbox_close(struct outbox *ob)
{
    if (!ob)
        return;
    sqlite3_close(ob->db);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
}

static int exec_locked(struct outbox *ob, const char *sql)
{
    char *msg = NULL;
    int r;

    pthread_mutex_lock(&ob->lock);
    r = sqlite3_exec(ob->db, sql, NULL, NULL, &msg);
    pthread_mutex_unlock(&ob->lock);
    if (r != SQLITE_OK) {
        log_warn("outbox: %s: %s", sql, msg ? msg : sqlite3_errstr(r));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

int outbox_begin(struct outbox *ob)
{
    return exec_locked(ob, "BEGIN IMMEDIATE");
}

int outbox_commit(struct outbox *ob)
{
    return exec_locked(ob, "COMMIT");
}

void outbox_rollback(struct outbox *ob)
{
    pthread_mutex_lock(&ob->lock);
    if (!sqlite3_get_autocommit(ob->db))
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&ob->lock);
}

/* Prepares sql; NULL (logged) on failure. Called with the lock held. */
static sqlite3_stmt *prep(struct outbox *ob, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("outbox: cannot prepare a statement: %s", sqlite3_errmsg(ob->db));
        return NULL;
    }
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no row and finalises it: 0 or -EIO (logged). */
static int run(struct outbox *ob, sqlite3_stmt *st)
{
    int r = sqlite3_step(st);

    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        log_warn("outbox: write failed: %s", sqlite3_errmsg(ob->db));
        return -EIO;
    }
    return 0;
}

int outbox_add(struct outbox *ob, const char *channel, const struct notification *n)
{
    sqlite3_stmt *st;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    st = prep(ob, "INSERT OR IGNORE INTO alert_outbox(channel, key, event, node_id, alert_id,"
                  " anomaly_type, component, description, details, body, severity, prev_severity,"
                  " quantum, starts_ms, ends_ms, created_ms, count, next_ms)"
                  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (st) {
        bind_text(st, 1, channel);
        bind_text(st, 2, n->key);
        bind_text(st, 3, alert_event_name(n->event));
        bind_text(st, 4, n->node_id);
        bind_text(st, 5, n->alert_id);
        bind_text(st, 6, n->anomaly_type);
        bind_text(st, 7, n->component);
        bind_text(st, 8, n->description);
        bind_text(st, 9, n->details);
        bind_text(st, 10, n->body);
        sqlite3_bind_int(st, 11, (int)n->severity);
        sqlite3_bind_int(st, 12, (int)n->prev_severity);
        sqlite3_bind_int(st, 13, n->quantum_relevant);
        sqlite3_bind_int64(st, 14, n->starts_ms);
        sqlite3_bind_int64(st, 15, n->ends_ms);
        sqlite3_bind_int64(st, 16, n->created_ms);
        sqlite3_bind_int(st, 17, (int)n->count);
        sqlite3_bind_int64(st, 18, n->created_ms);
        r = run(ob, st);
        if (r == 0)
            r = sqlite3_changes(ob->db) > 0;
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

void alert_state_done(struct alert_state *st)
{
    free(st->anomaly_type);
    free(st->component);
    free(st->description);
    free(st->details);
    free(st->body);
    st->anomaly_type = st->component = st->description = st->details = st->body = NULL;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

#define STATE_COLUMNS                                                                          \
    "fingerprint, alert_id, anomaly_id, phase, severity, quantum, opened_ms, notified_ms,"     \
    " since_ms, resolved_ms, repeats, summary, anomaly_type, component, description, details," \
    " body"

static void state_from_row(sqlite3_stmt *q, struct alert_state *st)
{
    memset(st, 0, sizeof(*st));
    col_copy(q, 0, st->fingerprint, sizeof(st->fingerprint));
    col_copy(q, 1, st->alert_id, sizeof(st->alert_id));
    col_copy(q, 2, st->anomaly_id, sizeof(st->anomaly_id));
    st->phase = (enum alert_phase)sqlite3_column_int(q, 3);
    st->severity = (unsigned)sqlite3_column_int(q, 4);
    st->quantum_relevant = sqlite3_column_int(q, 5) != 0;
    st->opened_ms = sqlite3_column_int64(q, 6);
    st->notified_ms = sqlite3_column_int64(q, 7);
    st->since_ms = sqlite3_column_int64(q, 8);
    st->resolved_ms = sqlite3_column_int64(q, 9);
    st->repeats = (uint32_t)sqlite3_column_int64(q, 10);
    st->summary = sqlite3_column_int(q, 11);
    st->anomaly_type = col_dup(q, 12);
    st->component = col_dup(q, 13);
    st->description = col_dup(q, 14);
    st->details = col_dup(q, 15);
    st->body = col_dup(q, 16);
}

int outbox_state_get(struct outbox *ob, const char *fingerprint, struct alert_state *st)
{
    sqlite3_stmt *q;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, "SELECT " STATE_COLUMNS " FROM alert_state WHERE fingerprint = ?");
    if (q) {
        bind_text(q, 1, fingerprint);
        r = sqlite3_step(q);
        if (r == SQLITE_ROW) {
            state_from_row(q, st);
            r = 1;
        } else {
            r = r == SQLITE_DONE ? 0 : -EIO;
        }
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

int outbox_state_put(struct outbox *ob, const struct alert_state *st)
{
    sqlite3_stmt *q;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, "INSERT OR REPLACE INTO alert_state(" STATE_COLUMNS
                 ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (q) {
        bind_text(q, 1, st->fingerprint);
        bind_text(q, 2, st->alert_id);
        bind_text(q, 3, st->anomaly_id);
        sqlite3_bind_int(q, 4, (int)st->phase);
        sqlite3_bind_int(q, 5, (int)st->severity);
        sqlite3_bind_int(q, 6, st->quantum_relevant);
        sqlite3_bind_int64(q, 7, st->opened_ms);
        sqlite3_bind_int64(q, 8, st->notified_ms);
        sqlite3_bind_int64(q, 9, st->since_ms);
        sqlite3_bind_int64(q, 10, st->resolved_ms);
        sqlite3_bind_int64(q, 11, st->repeats);
        sqlite3_bind_int(q, 12, st->summary);
        bind_text(q, 13, st->anomaly_type);
        bind_text(q, 14, st->component);
        bind_text(q, 15, st->description);
        bind_text(q, 16, st->details);
        bind_text(q, 17, st->body);
        r = run(ob, q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

/* Visits the rows of a SELECT STATE_COLUMNS query; the lock is released while
 * fn runs on a copy (fn may read the outbox, as outbox_latest()). */
static long visit_states(struct outbox *ob, const char *sql, int phase,
                         int (*fn)(void *ctx, struct alert_state *st), void *ctx)
{
    struct alert_state *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *q;
    bool stop = false;
    long r = 0;
    int s;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, sql);
    if (!q) {
        pthread_mutex_unlock(&ob->lock);
        return -EIO;
    }
    if (phase >= 0)
        sqlite3_bind_int(q, 1, phase);
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct alert_state *nr = realloc(rows, ncap * sizeof(*rows));
            if (!nr) {
                s = SQLITE_NOMEM;
                break;
            }
            rows = nr;
            cap = ncap;
        }
        state_from_row(q, &rows[n++]);
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&ob->lock);
    if (s != SQLITE_DONE)
        r = -EIO;
    for (size_t i = 0; i < n; i++) {
        if (r >= 0 && !stop) {
            r++;
            stop = fn(ctx, &rows[i]) != 0;
        }
        alert_state_done(&rows[i]);
    }
    free(rows);
    return r;
}

long outbox_states(struct outbox *ob, int phase, int (*fn)(void *ctx, struct alert_state *st),
                   void *ctx)
{
    if (phase >= 0)
        return visit_states(
            ob, "SELECT " STATE_COLUMNS " FROM alert_state WHERE phase = ? ORDER BY opened_ms",
            phase, fn, ctx);
    return visit_states(
        ob, "SELECT " STATE_COLUMNS " FROM alert_state WHERE phase != 2 ORDER BY opened_ms", -1, fn,
        ctx);
}

long outbox_summary_states(struct outbox *ob, int (*fn)(void *ctx, struct alert_state *st),
                           void *ctx)
{
    return visit_states(
        ob, "SELECT " STATE_COLUMNS " FROM alert_state WHERE summary IN (1, 2) ORDER BY opened_ms",
        -1, fn, ctx);
}

void outbox_item_done(struct outbox_item *it)
{
    for (size_t i = 0; i < sizeof(it->strings) / sizeof(it->strings[0]); i++)
        free(it->strings[i]);
    free(it->channel);
    memset(it, 0, sizeof(*it));
}

#define ITEM_COLUMNS                                                                           \
    "id, channel, key, event, node_id, alert_id, anomaly_type, component, description,"        \
    " details, body, severity, prev_severity, quantum, starts_ms, ends_ms, created_ms, count," \
    " attempts, next_ms"

static void item_from_row(sqlite3_stmt *q, struct outbox_item *it)
{
    const unsigned char *ev;

    memset(it, 0, sizeof(*it));
    it->row = sqlite3_column_int64(q, 0);
    it->channel = col_dup(q, 1);
    for (int i = 0; i < 9; i++)
        it->strings[i] = col_dup(q, i == 0 ? 2 : i + 3);
    it->n.key = it->strings[0];
    it->n.node_id = it->strings[1];
    it->n.alert_id = it->strings[2];
    it->n.anomaly_type = it->strings[3];
    it->n.component = it->strings[4];
    it->n.description = it->strings[5];
    it->n.details = it->strings[6];
    it->n.body = it->strings[7];
    ev = sqlite3_column_text(q, 3);
    it->n.event = (enum alert_event)alert_event_parse(ev ? (const char *)ev : "");
    if ((int)it->n.event < 0)
        it->n.event = ALERT_EV_FIRING;
    it->n.severity = (unsigned)sqlite3_column_int(q, 11);
    it->n.prev_severity = (unsigned)sqlite3_column_int(q, 12);
    it->n.quantum_relevant = sqlite3_column_int(q, 13) != 0;
    it->n.starts_ms = sqlite3_column_int64(q, 14);
    it->n.ends_ms = sqlite3_column_int64(q, 15);
    it->n.created_ms = sqlite3_column_int64(q, 16);
    it->n.count = (unsigned)sqlite3_column_int(q, 17);
    it->attempts = (uint32_t)sqlite3_column_int64(q, 18);
    it->next_ms = sqlite3_column_int64(q, 19);
}

static int one_item(struct outbox *ob, const char *sql, const char *a, const char *b,
                    struct outbox_item *it)
{
    sqlite3_stmt *q;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, sql);
    if (q) {
        bind_text(q, 1, a);
        if (b)
            bind_text(q, 2, b);
        r = sqlite3_step(q);
        if (r == SQLITE_ROW) {
            item_from_row(q, it);
            r = it->channel && it->n.key ? 1 : -ENOMEM;
            if (r < 0)
                outbox_item_done(it);
        } else {
            r = r == SQLITE_DONE ? 0 : -EIO;
        }
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

int outbox_next(struct outbox *ob, const char *channel, struct outbox_item *it)
{
    return one_item(ob,
                    "SELECT " ITEM_COLUMNS " FROM alert_outbox"
                    " WHERE channel = ? AND state = 'pending' ORDER BY id LIMIT 1",
                    channel, NULL, it);
}

int outbox_latest(struct outbox *ob, const char *channel, const char *alert_id,
                  struct outbox_item *it)
{
    return one_item(ob,
                    "SELECT " ITEM_COLUMNS " FROM alert_outbox"
                    " WHERE channel = ? AND alert_id = ? AND event IN"
                    " ('firing', 'repeat', 'escalated') ORDER BY id DESC LIMIT 1",
                    channel, alert_id, it);
}

static int set_outcome(struct outbox *ob, const char *sql, int64_t row, int64_t t,
                       const char *error)
{
    sqlite3_stmt *q;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, sql);
    if (q) {
        sqlite3_bind_int64(q, 1, t);
        bind_text(q, 2, error);
        sqlite3_bind_int64(q, 3, row);
        r = run(ob, q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

int outbox_sent(struct outbox *ob, int64_t row, int64_t now)
{
    return set_outcome(ob,
                       "UPDATE alert_outbox SET state = 'sent', sent_ms = ?1,"
                       " attempts = attempts + 1, last_error = ?2 WHERE id = ?3",
                       row, now, NULL);
}

int outbox_retry(struct outbox *ob, int64_t row, int64_t next_ms, const char *error)
{
    return set_outcome(ob,
                       "UPDATE alert_outbox SET next_ms = ?1, attempts = attempts + 1,"
                       " last_error = ?2 WHERE id = ?3",
                       row, next_ms, error);
}

int outbox_failed(struct outbox *ob, int64_t row, const char *error)
{
    return set_outcome(ob,
                       "UPDATE alert_outbox SET state = 'failed', next_ms = ?1,"
                       " attempts = attempts + 1, last_error = ?2 WHERE id = ?3",
                       row, 0, error);
}

long outbox_pending(struct outbox *ob, const char *channel)
{
    sqlite3_stmt *q;
    long r = -EIO;

    pthread_mutex_lock(&ob->lock);
    q = prep(ob, "SELECT count(*) FROM alert_outbox WHERE channel = ? AND state = 'pending'");
    if (q) {
        bind_text(q, 1, channel);
        if (sqlite3_step(q) == SQLITE_ROW)
            r = (long)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

int outbox_purge(struct outbox *ob, int64_t before_ms)
{
    sqlite3_stmt *q;
    int r = -EIO;

    pthread_mutex_lock(&ob->lock);
    /* an open alert keeps its rows: Alertmanager's re-posts are made from its latest
     * firing, however long ago that was (repeat_interval_sec 0 sends no other) */
    q = prep(ob, "DELETE FROM alert_outbox WHERE state != 'pending' AND created_ms < ?"
                 " AND (alert_id IS NULL OR alert_id NOT IN"
                 " (SELECT alert_id FROM alert_state WHERE phase != 2))");
    if (q) {
        sqlite3_bind_int64(q, 1, before_ms);
        r = run(ob, q);
    }
    q = r == 0 ? prep(ob, "DELETE FROM alert_state WHERE phase = 2 AND summary IN (0, 3)"
                          " AND resolved_ms < ?")
               : NULL;
    if (q) {
        sqlite3_bind_int64(q, 1, before_ms);
        r = run(ob, q);
    }
    pthread_mutex_unlock(&ob->lock);
    return r;
}

static void json_time(struct strbuf *out, const char *name, int64_t ms)
{
    char t[32];

    strbuf_printf(out, ",\"%s\":", name);
    if (ms > 0) {
        alert_time_iso(ms, t);
        strbuf_printf(out, "\"%s\"", t);
    } else {
        strbuf_puts(out, "null");
    }
}

static void json_col(struct strbuf *out, const char *name, sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    strbuf_printf(out, ",\"%s\":", name);
    if (t)
        strbuf_json_str(out, (const char *)t);
    else
        strbuf_puts(out, "null");
}

int outbox_to_json(struct outbox *ob, size_t limit, struct strbuf *out)
{
    static const char *const phases[] = {"firing", "resolving", "resolved"};
    sqlite3_stmt *q;
    int r = 0;

    pthread_mutex_lock(&ob->lock);
    strbuf_puts(out, "\"notifications\":[");
    q = prep(ob, "SELECT key, channel, event, alert_id, anomaly_type, component, severity, state,"
                 " attempts, created_ms, sent_ms, next_ms, last_error FROM alert_outbox"
                 " ORDER BY id DESC LIMIT ?");
    if (q) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
        for (int i = 0; sqlite3_step(q) == SQLITE_ROW; i++) {
            const unsigned char *state = sqlite3_column_text(q, 7);
            strbuf_puts(out, i ? ",{\"key\":" : "{\"key\":");
            strbuf_json_str(out, (const char *)sqlite3_column_text(q, 0));
            json_col(out, "channel", q, 1);
            json_col(out, "event", q, 2);
            json_col(out, "alert_id", q, 3);
            json_col(out, "anomaly_type", q, 4);
            json_col(out, "component", q, 5);
            strbuf_printf(out, ",\"severity\":%d", sqlite3_column_int(q, 6));
            json_col(out, "state", q, 7);
            strbuf_printf(out, ",\"attempts\":%lld", (long long)sqlite3_column_int64(q, 8));
            json_time(out, "created_at", sqlite3_column_int64(q, 9));
            json_time(out, "sent_at", sqlite3_column_int64(q, 10));
            json_time(out, "next_attempt_at",
                      state && !strcmp((const char *)state, "pending") ? sqlite3_column_int64(q, 11)
                                                                       : 0);
            json_col(out, "last_error", q, 12);
            strbuf_putc(out, '}');
        }
        sqlite3_finalize(q);
    } else {
        r = -EIO;
    }
    strbuf_puts(out, "],\"alerts\":[");
    q = prep(ob, "SELECT alert_id, anomaly_id, anomaly_type, component, severity, phase, quantum,"
                 " opened_ms, resolved_ms, repeats, summary FROM alert_state"
                 " ORDER BY opened_ms DESC LIMIT ?");
    if (q) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)limit);
        for (int i = 0; sqlite3_step(q) == SQLITE_ROW; i++) {
            int phase = sqlite3_column_int(q, 5);
            strbuf_puts(out, i ? ",{\"alert_id\":" : "{\"alert_id\":");
            strbuf_json_str(out, (const char *)sqlite3_column_text(q, 0));
            json_col(out, "anomaly_id", q, 1);
            json_col(out, "anomaly_type", q, 2);
            json_col(out, "component", q, 3);
            strbuf_printf(out, ",\"severity\":%d,\"state\":\"%s\",\"quantum_relevant\":%s",
                          sqlite3_column_int(q, 4), phases[phase >= 0 && phase <= 2 ? phase : 2],
                          sqlite3_column_int(q, 6) ? "true" : "false");
            json_time(out, "opened_at", sqlite3_column_int64(q, 7));
            json_time(out, "resolved_at", sqlite3_column_int64(q, 8));
            strbuf_printf(out, ",\"repeats\":%lld,\"in_summary\":%s}",
                          (long long)sqlite3_column_int64(q, 9),
                          sqlite3_column_int(q, 10) ? "true" : "false");
        }
        sqlite3_finalize(q);
    } else {
        r = -EIO;
    }
    strbuf_putc(out, ']');
    pthread_mutex_unlock(&ob->lock);
    return r;
}
