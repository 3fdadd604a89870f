/*
 * The alert policy and its durable outbox, on scripted anomalies and an
 * injected clock: one notification per channel and event, nothing twice on a
 * replay (a restart), flapping held down into one alert, repeats,
 * escalations, storms grouped into summaries, the severity and quantum
 * filters, a restart that finds an anomaly ended, and the outbox's delivery
 * bookkeeping. Also the renderings a receiver parses, and the log file's rotation.
 */
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

#include "alert/outbox.h"
#include "alert/policy.h"

#define MIN_MS 60000LL

struct world {
    struct config cfg;
    struct outbox *ob;
    struct alert_policy pol;
    int64_t now;
};

static const char *const channels[] = {"webhook", "logfile"};

static void world_init(struct world *w, const char *path, uint32_t hold_sec, uint32_t repeat_sec,
                       uint32_t storm)
{
    struct strbuf err;

    memset(w, 0, sizeof(*w));
    config_defaults(&w->cfg);
    free(w->cfg.agent.node_id);
    w->cfg.agent.node_id = strdup("n1");
    w->cfg.alerts.hold_down_sec = hold_sec;
    w->cfg.alerts.repeat_interval_sec = repeat_sec;
    w->cfg.alerts.storm_threshold = storm;
    strbuf_init(&err, 4096);
    assert_int_equal(outbox_open(&w->ob, path, &err), 0);
    strbuf_done(&err);
    assert_int_equal(alert_policy_init(&w->pol, &w->cfg, w->ob, channels, 2), 0);
    w->now = 1800000000000LL;
}

static void world_done(struct world *w)
{
    alert_policy_done(&w->pol);
    outbox_close(w->ob);
    config_done(&w->cfg);
}

static struct anomaly mk(const char *id, const char *type, unsigned sev, int64_t at_ms)
{
    struct anomaly a = {0};

    snprintf(a.id, sizeof(a.id), "%s", id);
    a.anomaly_type = type;
    a.component = "node";
    a.description = "mempool <b>grows</b>";
    a.severity = (uint8_t)sev;
    a.detected_at_ms = (uint64_t)at_ms;
    a.detected_at = (uint64_t)(at_ms / 1000);
    a.related_metrics[0].key = "node.mempool_size";
    a.related_metrics[0].value = 1234;
    a.n_related = 1;
    a.suggested_actions[0] = "raise the fee floor";
    a.n_actions = 1;
    a.score = 1;
    return a;
}

static void feed(struct world *w, const struct anomaly *a)
{
    assert_int_equal(alert_policy_anomaly(&w->pol, a, w->now), 0);
    assert_int_equal(alert_policy_commit(&w->pol), 0);
}

static void tick(struct world *w, int64_t advance_ms)
{
    w->now += advance_ms;
    assert_int_equal(alert_policy_tick(&w->pol, w->now), 0);
    assert_int_equal(alert_policy_commit(&w->pol), 0);
}

/* Takes every pending notification of channel in order, marking it sent;
 * writes "event:key" lines into out. Returns how many. */
static int drain(struct world *w, const char *channel, char *out, size_t cap)
{
    struct outbox_item it;
    int n = 0;

    if (out)
        out[0] = '\0';
    while (outbox_next(w->ob, channel, &it) == 1) {
        if (out)
            snprintf(out + strlen(out), cap - strlen(out), "%s:%s\n", alert_event_name(it.n.event),
                     it.n.key);
        assert_int_equal(outbox_sent(w->ob, it.row, w->now), 0);
        outbox_item_done(&it);
        n++;
    }
    return n;
}

static void fires_once_and_replays_add_nothing(void **state)
{
    struct world w;
    struct anomaly a = mk("a1", "pool_high", 3, 0);
    char got[1024];

    (void)state;
    world_init(&w, NULL, 0, 0, 0);
    a.detected_at_ms = (uint64_t)w.now;
    feed(&w, &a);
    feed(&w, &a); /* the engine's refresh of an open anomaly, or a replay */
    assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 1);
    assert_string_equal(got, "firing:n1:a1:firing\n");
    assert_int_equal(drain(&w, "logfile", NULL, 0), 1);
    feed(&w, &a);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    /* it ends: with no hold-down, resolved at the next tick, dated when it ended */
    a.resolved_at_ms = (uint64_t)w.now + 5000;
    feed(&w, &a);
    tick(&w, 6000);
    {
        struct outbox_item it;
        assert_int_equal(outbox_next(w.ob, "webhook", &it), 1);
        assert_int_equal(it.n.event, ALERT_EV_RESOLVED);
        assert_string_equal(it.n.key, "n1:a1:resolved");
        assert_int_equal(it.n.ends_ms, (int64_t)a.resolved_at_ms);
        assert_int_equal(it.n.starts_ms, (int64_t)a.detected_at_ms);
        outbox_item_done(&it);
    }
    assert_int_equal(drain(&w, "webhook", NULL, 0), 1);
    /* replaying the whole history changes nothing */
    feed(&w, &a);
    tick(&w, 1000);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    world_done(&w);
}

static void flapping_is_one_alert(void **state)
{
    struct world w;
    struct anomaly a, b;
    char got[1024];

    (void)state;
    world_init(&w, NULL, 300, 0, 0);
    a = mk("a1", "pool_high", 3, w.now);
    feed(&w, &a);
    /* ends, fires again (a new anomaly) 2 minutes later, and again: one alert */
    for (int i = 0; i < 3; i++) {
        a.resolved_at_ms = (uint64_t)w.now + 1000;
        feed(&w, &a);
        tick(&w, 2 * MIN_MS);
        b = mk(i == 0 ? "a2" : i == 1 ? "a3" : "a4", "pool_high", 3, w.now);
        feed(&w, &b);
        tick(&w, 1000);
        a = b;
    }
    assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 1);
    assert_string_equal(got, "firing:n1:a1:firing\n");
    /* it ends for good: resolved once the hold-down has passed, under the first id */
    a.resolved_at_ms = (uint64_t)w.now;
    feed(&w, &a);
    tick(&w, 299 * 1000);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    tick(&w, 2000);
    assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 1);
    assert_string_equal(got, "resolved:n1:a1:resolved\n");
    /* a later one is a new alert */
    b = mk("a9", "pool_high", 3, w.now);
    feed(&w, &b);
    assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 1);
    assert_string_equal(got, "firing:n1:a9:firing\n");
    world_done(&w);
}

static void repeats_and_escalations(void **state)
{
    struct world w;
    struct anomaly a;
    char got[1024];

    (void)state;
    world_init(&w, NULL, 0, 3600, 0);
    a = mk("a1", "cpu_saturation", 3, w.now);
    feed(&w, &a);
    tick(&w, 3599 * 1000);
    a.severity = 4; /* escalates: said at once, with the severity before */
    feed(&w, &a);
    feed(&w, &a);
    tick(&w, 2000); /* an hour since the firing: a repeat */
    tick(&w, 3600 * 1000);
    assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 4);
    assert_string_equal(got, "firing:n1:a1:firing\nescalated:n1:a1:escalated:4\n"
                             "repeat:n1:a1:repeat:1\nrepeat:n1:a1:repeat:2\n");
    a.severity = 3; /* falling back says nothing */
    feed(&w, &a);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    world_done(&w);
}

static void filters(void **state)
{
    struct world w;
    struct anomaly low, q;

    (void)state;
    world_init(&w, NULL, 0, 0, 0);
    low = mk("l1", "unusual_behaviour", 2, w.now);
    feed(&w, &low);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    low.severity = 3; /* grows past min_severity while open: fires then */
    feed(&w, &low);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 1);
    world_done(&w);

    world_init(&w, NULL, 0, 0, 0);
    w.pol.quantum_alerts = false;
    q = mk("q1", "quantum_security_low", 5, w.now);
    q.quantum_relevant = true;
    feed(&w, &q);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 0);
    w.pol.quantum_alerts = true;
    feed(&w, &q);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 1);
    world_done(&w);
}

static void storm_is_summarised(void **state)
{
    struct world w;
    struct outbox_item it;
    char type[32], id[32];

    (void)state;
    world_init(&w, NULL, 0, 0, 5);
    for (int i = 0; i < 30; i++) { /* 30 alerts in 30 s */
        snprintf(type, sizeof(type), "rule_%02d", i);
        snprintf(id, sizeof(id), "s%d", i);
        struct anomaly a = mk(id, type, 3, w.now);
        feed(&w, &a);
        tick(&w, 1000);
    }
    assert_int_equal(drain(&w, "webhook", NULL, 0), 5);
    tick(&w, 36 * 1000); /* a minute after the first one held back (at 5 s) */
    assert_int_equal(outbox_next(w.ob, "webhook", &it), 1);
    assert_int_equal(it.n.event, ALERT_EV_SUMMARY);
    assert_int_equal(it.n.count, 25);
    assert_non_null(strstr(it.n.body, "\"anomaly_type\":\"rule_29\""));
    assert_null(strstr(it.n.body, "\"anomaly_type\":\"rule_04\""));
    outbox_item_done(&it);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 1);
    /* their ends go into the next summary, not one notification each */
    for (int i = 0; i < 30; i++) {
        snprintf(type, sizeof(type), "rule_%02d", i);
        snprintf(id, sizeof(id), "s%d", i);
        struct anomaly a = mk(id, type, 3, w.now);
        a.resolved_at_ms = (uint64_t)w.now;
        feed(&w, &a);
    }
    tick(&w, 1000);
    tick(&w, MIN_MS);
    {
        char got[4096];
        assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 6);
        assert_int_equal(strstr(got, "summary:") - got > 0, 1);
    }
    world_done(&w);
}

/* a1 (pool_high, severity 3) and b1 (b_type, b_sev) open, their firings delivered */
static void open_two(struct world *w, struct anomaly *a, struct anomaly *b, const char *b_type,
                     unsigned b_sev)
{
    *a = mk("a1", "pool_high", 3, w->now);
    *b = mk("b1", b_type, b_sev, w->now);
    feed(w, a);
    feed(w, b);
    assert_int_equal(drain(w, "webhook", NULL, 0), 2);
}

static void restart_finds_it_ended(void **state)
{
    char path[] = "/tmp/am-alert-XXXXXX";
    char db[64], side[80];
    struct world w;
    struct anomaly a, b;
    const char *open_ids[] = {"b1"};
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    snprintf(db, sizeof(db), "%s.db", path);
    world_init(&w, db, 0, 0, 0);
    open_two(&w, &a, &b, "disk_nearly_full", 4);
    world_done(&w);

    /* the daemon comes back: a1 ended while it was down, b1 goes on */
    world_init(&w, db, 0, 0, 0);
    w.now += 10000;
    feed(&w, &b);
    assert_int_equal(alert_policy_reconcile(&w.pol, open_ids, 1, w.now), 0);
    assert_int_equal(alert_policy_commit(&w.pol), 0);
    tick(&w, 1000);
    {
        char got[1024];
        assert_int_equal(drain(&w, "webhook", got, sizeof(got)), 1);
        assert_string_equal(got, "resolved:n1:a1:resolved\n");
    }
    world_done(&w);
    unlink(db);
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
}

static void outbox_bookkeeping(void **state)
{
    struct world w;
    struct outbox_item it;
    struct anomaly a;
    struct strbuf js;

    (void)state;
    world_init(&w, NULL, 0, 0, 0);
    a = mk("a1", "pool_high", 3, w.now);
    feed(&w, &a);
    assert_int_equal(outbox_pending(w.ob, "webhook"), 1);
    assert_int_equal(outbox_next(w.ob, "webhook", &it), 1);
    assert_int_equal(outbox_retry(w.ob, it.row, w.now + 5000, "webhook: HTTP 503"), 0);
    outbox_item_done(&it);
    assert_int_equal(outbox_next(w.ob, "webhook", &it), 1);
    assert_int_equal(it.attempts, 1);
    assert_int_equal(it.next_ms, w.now + 5000);
    assert_int_equal(outbox_failed(w.ob, it.row, "refused"), 0);
    outbox_item_done(&it);
    assert_int_equal(outbox_pending(w.ob, "webhook"), 0);
    assert_int_equal(outbox_pending(w.ob, "logfile"), 1);
    /* the same notification added again is kept once */
    {
        struct notification n = {.key = "n1:a1:firing", .event = ALERT_EV_FIRING, .created_ms = 1};
        assert_int_equal(outbox_add(w.ob, "logfile", &n), 0);
        n.key = "n1:zz:firing";
        assert_int_equal(outbox_add(w.ob, "logfile", &n), 1);
    }
    strbuf_init(&js, 1 << 20);
    assert_int_equal(outbox_to_json(w.ob, 10, &js), 0);
    assert_non_null(strstr(js.buf, "\"state\":\"failed\""));
    assert_non_null(strstr(js.buf, "\"last_error\":\"refused\""));
    assert_non_null(strstr(js.buf, "\"alerts\":[{\"alert_id\":\"a1\""));
    strbuf_done(&js);
    /* purging keeps what is pending */
    assert_int_equal(outbox_purge(w.ob, w.now + 1), 0);
    assert_int_equal(outbox_pending(w.ob, "logfile"), 2);
    world_done(&w);
}

/* An open alert keeps its delivered firing through purges (Alertmanager's re-posts
 * are made from it); once resolved, its rows go with the rest. */
static void purge_keeps_open_alerts(void **state)
{
    struct world w;
    struct outbox_item it;
    struct anomaly a, b;

    (void)state;
    world_init(&w, NULL, 0, 0, 0);
    open_two(&w, &a, &b, "disk_full", 3);
    b.resolved_at_ms = (uint64_t)w.now + 1000;
    feed(&w, &b);
    tick(&w, 2000);
    assert_int_equal(drain(&w, "webhook", NULL, 0), 1);
    w.now += 8 * 24 * 3600 * 1000LL;
    assert_int_equal(outbox_purge(w.ob, w.now - 7 * 24 * 3600 * 1000LL), 0);
    assert_int_equal(outbox_latest(w.ob, "webhook", "a1", &it), 1);
    assert_string_equal(it.n.key, "n1:a1:firing");
    outbox_item_done(&it);
    assert_int_equal(outbox_latest(w.ob, "webhook", "b1", &it), 0);
    world_done(&w);
}

static void renderings(void **state)
{
    struct notification n = {
        .key = "n1:a1:firing",
        .event = ALERT_EV_FIRING,
        .node_id = "n1",
        .alert_id = "a1",
        .anomaly_type = "pool_high",
        .component = "node",
        .description = "mempool <b>grows</b> \"fast\"",
        .details = "related metrics:\n  node.mempool_size = 1234\n",
        .body = "{\"id\":\"a1\"}",
        .severity = 4,
        .starts_ms = 1800000000123LL,
        .created_ms = 1800000001000LL,
    };
    struct strbuf out;

    (void)state;
    strbuf_init(&out, 1 << 20);
    alert_render_json(&n, &out);
    assert_string_equal(
        out.buf, "{\"version\":1,\"idempotency_key\":\"n1:a1:firing\",\"event\":\"firing\","
                 "\"status\":\"firing\",\"node_id\":\"n1\",\"alert_id\":\"a1\","
                 "\"anomaly_type\":\"pool_high\",\"component\":\"node\",\"severity\":4,"
                 "\"severity_name\":\"high\",\"previous_severity\":null,\"quantum_relevant\":false,"
                 "\"description\":\"mempool <b>grows</b> \\\"fast\\\"\","
                 "\"starts_at\":\"2027-01-15T08:00:00.123Z\",\"ends_at\":null,"
                 "\"created_at\":\"2027-01-15T08:00:01.000Z\",\"anomaly\":{\"id\":\"a1\"}}");
    strbuf_reset(&out);
    alert_render_html(&n, &out);
    assert_non_null(strstr(out.buf, "mempool &lt;b&gt;grows&lt;/b&gt; &quot;fast&quot;"));
    assert_null(strstr(out.buf, "<b>"));
    assert_non_null(strstr(out.buf, "<li>  node.mempool_size = 1234</li>"));
    strbuf_reset(&out);
    alert_render_subject(&n, &out);
    assert_string_equal(out.buf, "[FIRING] high pool_high on node (n1)");
    strbuf_done(&out);
}

/* The log-file channel: one JSON line per notification, rotated past
 * log_max_bytes into .1 ... .log_keep, the oldest dropped. */
static void logfile_rotates(void **state)
{
    const struct alert_channel_ops *ops = alert_channel_find("logfile");
    char dir[] = "/tmp/am-alertlog-XXXXXX", path[128], line[8192];
    struct notification n = {
        .event = ALERT_EV_FIRING,
        .node_id = "n1",
        .anomaly_type = "pool_high",
        .component = "node",
        .description = "mempool grows",
        .details = "",
        .body = "null",
        .severity = 3,
        .starts_ms = 1800000000000LL,
        .created_ms = 1800000000000LL,
    };
    struct config cfg;
    struct strbuf err;
    void *lf = NULL;
    unsigned lines = 0;

    (void)state;
    assert_non_null(ops);
    assert_non_null(mkdtemp(dir));
    config_defaults(&cfg);
    free(cfg.monitoring.logging.output_dir);
    cfg.monitoring.logging.output_dir = strdup(dir);
    cfg.alerts.log_max_bytes = 4096;
    cfg.alerts.log_keep = 2;
    assert_true(ops->configured(&cfg));
    strbuf_init(&err, 1024);
    assert_int_equal(ops->open(&cfg, &lf, &err), 0);
    for (int i = 0; i < 40; i++) { /* about 600 bytes each: 24 KiB in all */
        char key[64], id[32];
        snprintf(id, sizeof(id), "a%d", i);
        snprintf(key, sizeof(key), "n1:a%d:firing", i);
        n.alert_id = id;
        n.key = key;
        assert_int_equal(ops->send(lf, &n, &err), 0);
    }
    ops->close(lf);
    for (int k = 0; k <= 3; k++) {
        FILE *f;
        struct stat st;
        if (k)
            snprintf(path, sizeof(path), "%s/alerts.jsonl.%d", dir, k);
        else
            snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
        if (k == 3) {
            assert_int_equal(stat(path, &st), -1); /* only log_keep rotated files */
            break;
        }
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size <= 4096);
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            assert_true(line[0] == '{' && strstr(line, "}\n") == line + strlen(line) - 2);
            lines++;
        }
        fclose(f);
        if (k == 0) /* the newest file ends with the last notification */
            assert_non_null(strstr(line, "\"idempotency_key\":\"n1:a39:firing\""));
        unlink(path);
    }
    assert_true(lines >= 12 && lines < 40);

    /* a line cut short (a crash mid-write) before a restart: the next starts on its own line */
    {
        FILE *f;

        snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"idempotency_key\":\"n1:cut", f);
        fclose(f);
        assert_int_equal(ops->open(&cfg, &lf, &err), 0);
        n.alert_id = "after";
        n.key = "n1:after:firing";
        assert_int_equal(ops->send(lf, &n, &err), 0);
        ops->close(lf);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof(line), f));
        assert_string_equal(line, "{\"idempotency_key\":\"n1:cut\n");
        assert_non_null(fgets(line, sizeof(line), f));
        assert_true(line[0] == '{' && strstr(line, "\"idempotency_key\":\"n1:after:firing\""));
        fclose(f);
        unlink(path);
    }
    rmdir(dir);
    strbuf_done(&err);
    config_done(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fires_once_and_replays_add_nothing),
        cmocka_unit_test(flapping_is_one_alert),
        cmocka_unit_test(repeats_and_escalations),
        cmocka_unit_test(filters),
        cmocka_unit_test(storm_is_summarised),
        cmocka_unit_test(restart_finds_it_ended),
        cmocka_unit_test(outbox_bookkeeping),
        cmocka_unit_test(purge_keeps_open_alerts),
        cmocka_unit_test(renderings),
        cmocka_unit_test(logfile_rotates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
