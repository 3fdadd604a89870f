/*
 * The detection engine on scripted snapshots: rules with their hysteresis and
 * for-durations, the anomaly lifecycle (one open anomaly per type and
 * component, updated, resolved), user rules, the learned layers' warm-up and
 * severities, trends (leak indicators, mempool growth, disk-full ETA),
 * predictions, and carrying open anomalies across a restart.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/engine.h"
#include "detect/series.h"

#define INTERVAL_MS 1000

struct world {
    struct config cfg;
    struct anomaly_log *log;
    struct detect_engine *e;
    uint64_t now_ms;
    uint64_t seed;
};

static double noise(struct world *w)
{
    /* a small deterministic generator: uniform in [-1, 1) */
    w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(w->seed >> 11) / (double)(1ull << 53) * 2 - 1;
}

static void world_init(struct world *w, uint32_t warmup)
{
    memset(w, 0, sizeof(*w));
    config_defaults(&w->cfg);
    w->cfg.monitoring.sampling_interval_ms = INTERVAL_MS;
    w->cfg.monitoring.ai_optimization.prediction_interval_ms = 10000;
    w->cfg.detection.warmup_ticks = warmup;
    w->cfg.detection.resolve_ticks = 3;
    w->now_ms = 1790000000000ull;
    w->seed = 42;
    w->log = anomaly_log_new(100);
    assert_non_null(w->log);
    w->e = detect_engine_new(&w->cfg, w->log);
    assert_non_null(w->e);
}

static void world_done(struct world *w)
{
    detect_engine_free(w->e);
    anomaly_log_free(w->log);
    config_done(&w->cfg);
}

/* A quiet host; the caller changes what the scenario needs. */
static struct snapshot *quiet(struct world *w)
{
    struct snapshot *s = snapshot_new();

    assert_non_null(s);
    w->now_ms += INTERVAL_MS;
    s->timestamp_ms = w->now_ms;
    s->timestamp = w->now_ms / 1000;
    s->interval_sec = INTERVAL_MS / 1000.0;
    s->cpu.usage_percent = 20 + 3 * noise(w);
    s->memory.physical_total_mb = 16000;
    s->memory.available_mb = 10000 + 50 * noise(w);
    s->memory.physical_used_mb = 6000 + 50 * noise(w);
    s->memory.swap_used_mb = 0;
    s->memory.process_rss_mb = 800 + 2 * noise(w);
    s->disk.usage_percent = 40 + 0.01 * noise(w);
    s->network.packet_loss_percent = 0;
    return s;
}

static void tick(struct world *w, struct snapshot *s)
{
    detect_engine_tick(w->e, s);
    snapshot_unref(s);
}

struct found {
    const char *type, *component;
    size_t n, open;
    struct anomaly last;
    char id[40];
};

static void find_cb(void *ctx, const struct anomaly *a)
{
    struct found *f = ctx;

    if (strcmp(a->anomaly_type, f->type) || (f->component && strcmp(a->component, f->component)))
        return;
    if (!f->n)
        snprintf(f->id, sizeof(f->id), "%s", a->id);
    f->n++;
    f->open += anomaly_open(a);
    f->last = *a;
}

static struct found find(struct world *w, const char *type, const char *component)
{
    struct found f = {.type = type, .component = component};

    anomaly_log_foreach(w->log, 1, 1000, find_cb, &f);
    return f;
}

/* CPU saturation: two ticks over 90 fire it, 85 keeps it (hysteresis), under 80
 * clears it, and resolve_ticks normal ticks resolve the one anomaly. */
static void rule_hysteresis_and_lifecycle(void **state)
{
    struct world w;
    struct snapshot *s;
    struct found f;
    char id[40];

    (void)state;
    world_init(&w, 1000);
    for (int i = 0; i < 10; i++)
        tick(&w, quiet(&w));
    s = quiet(&w);
    s->cpu.usage_percent = 95;
    tick(&w, s);
    assert_int_equal(find(&w, "cpu_saturation", "cpu").n, 0); /* one tick is not enough */
    s = quiet(&w);
    s->cpu.usage_percent = 96;
    tick(&w, s);
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.open, 1);
    assert_int_equal(f.last.severity, 2); /* a burst: news, not yet a problem */
    assert_string_equal(f.last.detector, "rule");
    assert_true(f.last.n_actions >= 3);
    assert_true(f.last.n_related >= 1);
    assert_string_equal(f.last.related_metrics[0].key, "cpu.usage_percent");
    assert_true(f.last.related_metrics[0].value == 96);
    snprintf(id, sizeof(id), "%s", f.id);
    /* between clear and trigger: still the same open anomaly */
    for (int i = 0; i < 6; i++) {
        s = quiet(&w);
        s->cpu.usage_percent = 85;
        tick(&w, s);
    }
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.open, 1);
    assert_string_equal(f.id, id);
    /* saturated for a minute: the same anomaly, now severity 3 */
    for (int i = 0; i < 60; i++) {
        s = quiet(&w);
        s->cpu.usage_percent = 95;
        tick(&w, s);
    }
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 1);
    assert_string_equal(f.id, id);
    assert_int_equal(f.last.severity, 3);
    /* cleared: resolved after 3 normal ticks, not before */
    for (int i = 0; i < 2; i++)
        tick(&w, quiet(&w));
    assert_int_equal(find(&w, "cpu_saturation", "cpu").open, 1);
    tick(&w, quiet(&w));
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.open, 0);
    assert_true(f.last.resolved_at_ms > f.last.detected_at_ms);
    /* a new episode is a new anomaly */
    for (int i = 0; i < 2; i++) {
        s = quiet(&w);
        s->cpu.usage_percent = 99;
        tick(&w, s);
    }
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 2);
    assert_int_equal(f.open, 1);
    world_done(&w);
}

/* A flapping value under the for-duration never fires. */
static void for_duration_filters_spikes(void **state)
{
    struct world w;

    (void)state;
    world_init(&w, 1000);
    for (int i = 0; i < 40; i++) {
        struct snapshot *s = quiet(&w);
        if (i % 2)
            s->cpu.usage_percent = 99;
        tick(&w, s);
    }
    assert_int_equal(find(&w, "cpu_saturation", NULL).n, 0);
    world_done(&w);
}

static void user_rule(void **state)
{
    struct world w;
    struct config_detect_rule *r;
    struct found f;

    (void)state;
    world_init(&w, 1000);
    w.cfg.detection.n_rules = 1;
    r = &w.cfg.detection.rules[0];
    memset(r, 0, sizeof(*r));
    r->name = strdup("rss_high");
    r->series = strdup("memory.process_rss_mb");
    r->condition = strdup(">");
    r->trigger = 1000;
    r->clear = 900;
    r->for_sec = 3;
    r->severity = 4;
    r->actions.v = calloc(1, sizeof(char *));
    r->actions.v[0] = strdup("restart it");
    r->actions.n = 1;
    detect_engine_configure(w.e, &w.cfg);
    for (int i = 0; i < 3; i++) {
        struct snapshot *s = quiet(&w);
        s->memory.process_rss_mb = 1200;
        tick(&w, s);
    }
    f = find(&w, "rss_high", "memory");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.last.severity, 4);
    assert_string_equal(f.last.suggested_actions[0], "restart it");
    assert_non_null(strstr(f.last.description, "memory.process_rss_mb"));
    /* 950 is above clear: stays */
    for (int i = 0; i < 5; i++) {
        struct snapshot *s = quiet(&w);
        s->memory.process_rss_mb = 950;
        tick(&w, s);
    }
    assert_int_equal(find(&w, "rss_high", "memory").open, 1);
    world_done(&w);
}

/* Learned layers: silent during the warm-up, severity 2 alone, 3 when a rule
 * agrees on the component. */
static void learned_warmup_and_agreement(void **state)
{
    struct world w;
    struct snapshot *s;
    struct found f;

    (void)state;
    world_init(&w, 200);
    for (int i = 0; i < 150; i++) {
        s = quiet(&w);
        if (i == 100)
            s->memory.swap_used_mb = 3000; /* a jump inside the warm-up: no word */
        tick(&w, s);
    }
    assert_int_equal(find(&w, "unusual_behaviour", NULL).n, 0);
    assert_int_equal(find(&w, "joint_anomaly", NULL).n, 0);
    s = quiet(&w);
    detect_engine_tick(w.e, s);
    assert_true(s->n_detectors >= 3);
    assert_string_equal(s->detectors[1].name, "series");
    assert_true(s->detectors[1].warming_up);
    assert_true(s->detectors[1].ticks_left > 0);
    snapshot_unref(s);
    for (int i = 0; i < 600; i++)
        tick(&w, quiet(&w));
    s = quiet(&w);
    detect_engine_tick(w.e, s);
    assert_false(s->detectors[1].warming_up);
    snapshot_unref(s);
    /* the CPU pinned at 100 %: the rule and the learned layers both speak */
    for (int i = 0; i < 5; i++) {
        s = quiet(&w);
        s->cpu.usage_percent = 100;
        tick(&w, s);
    }
    assert_int_equal(find(&w, "cpu_saturation", "cpu").n, 1);
    f = find(&w, "unusual_behaviour", "cpu");
    assert_int_equal(f.n, 1);
    assert_string_equal(f.last.detector, "series");
    assert_int_equal(f.last.severity, 2); /* the rule agrees, but a short burst is severity 2 */
    assert_true(f.last.score >= DETECT_ALARM);
    /* memory nearly gone: memory_pressure (severity 4) agrees, the learned anomaly is 3 */
    for (int i = 0; i < 4; i++) {
        s = quiet(&w);
        s->memory.available_mb = 600;
        s->memory.physical_used_mb = 15400;
        tick(&w, s);
    }
    assert_int_equal(find(&w, "memory_pressure", "memory").n, 1);
    f = find(&w, "unusual_behaviour", "memory");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.last.severity, 3);
    /* learned layers alone: 2 each, also when both flag one jump (they see the same
     * values); disk usage jumps but stays under the rules' levels */
    for (int i = 0; i < 3; i++) {
        s = quiet(&w);
        s->disk.usage_percent = 70;
        tick(&w, s);
    }
    {
        struct found u = find(&w, "unusual_behaviour", "disk");
        struct found j = find(&w, "joint_anomaly", "disk");
        print_message("disk jump: series %zu (severity %d), multivariate %zu (severity %d)\n", u.n,
                      u.n ? u.last.severity : 0, j.n, j.n ? j.last.severity : 0);
        assert_true(u.n + j.n >= 1);
        if (u.n)
            assert_int_equal(u.last.severity, 2);
        if (j.n)
            assert_int_equal(j.last.severity, 2);
    }
    world_done(&w);
}

/* A process whose RSS climbs: leak indicators and memory_leak. */
static void leak(void **state)
{
    struct world w;
    struct snapshot *s = NULL;
    struct found f;
    int i, fired = -1;

    (void)state;
    world_init(&w, 1000);
    for (i = 0; i < 30; i++)
        tick(&w, quiet(&w));
    for (i = 0; i < 120 && fired < 0; i++) {
        s = quiet(&w);
        s->memory.process_rss_mb = 800 + 4 * i + 3 * noise(&w);
        detect_engine_tick(w.e, s);
        if (find(&w, "memory_leak", "memory").n)
            fired = i;
        else
            snapshot_unref(s);
    }
    print_message("memory_leak after %d ticks of growth\n", fired);
    assert_true(fired >= 0 && fired <= 30);
    f = find(&w, "memory_leak", "memory");
    assert_string_equal(f.last.detector, "trend");
    assert_true(s->memory.n_leak_indicators >= 2);
    assert_non_null(strstr(s->memory.leak_indicators[0], "MB/min"));
    snapshot_unref(s);
    world_done(&w);
}

/* A GC-like sawtooth (a period shorter than the fast window's 16 samples) is not a leak. */
static void sawtooth_is_not_a_leak(void **state)
{
    struct world w;

    (void)state;
    world_init(&w, 1000);
    for (int i = 0; i < 600; i++) {
        struct snapshot *s = quiet(&w);
        s->memory.process_rss_mb = 800 + 10 * (i % 10);
        tick(&w, s);
    }
    assert_int_equal(find(&w, "memory_leak", NULL).n, 0);
    world_done(&w);
}

/* TPS collapses while the mempool grows: tps_collapse at once, mempool_growth soon. */
static void node_stall(void **state)
{
    struct world w;
    int i, tps_at = -1, pool_at = -1;

    (void)state;
    world_init(&w, 1000);
    for (i = 0; i < 60; i++) {
        struct snapshot *s = quiet(&w);
        s->node.transactions_per_sec = 200 + 20 * noise(&w);
        s->node.mempool_size = 500 + 50 * noise(&w);
        tick(&w, s);
    }
    for (i = 0; i < 60; i++) {
        struct snapshot *s = quiet(&w);
        s->node.transactions_per_sec = 10 + noise(&w);
        s->node.mempool_size = 500 + 40.0 * i;
        tick(&w, s);
        if (tps_at < 0 && find(&w, "tps_collapse", "node").n)
            tps_at = i;
        if (pool_at < 0 && find(&w, "mempool_growth", "node").n)
            pool_at = i;
    }
    print_message("tps_collapse after %d ticks, mempool_growth after %d\n", tps_at, pool_at);
    assert_true(tps_at >= 0 && tps_at <= 2);
    assert_true(pool_at >= 0 && pool_at <= 30);
    world_done(&w);
}

/* Disk filling at a steady rate: disk_full_eta before the disk is nearly full,
 * and a disk_full_hours prediction. */
static void disk_eta(void **state)
{
    struct world w;
    int i, eta_at = -1;
    double usage = 0;
    bool predicted = false;

    (void)state;
    world_init(&w, 1000);
    for (i = 0; i < 200 && usage < 90; i++) {
        struct snapshot *s = quiet(&w);
        usage = 20 + 0.5 * i;
        s->disk.usage_percent = usage;
        detect_engine_tick(w.e, s);
        for (size_t k = 0; k < s->neural_predictions.n; k++)
            if (!strcmp(s->neural_predictions.v[k].key, "disk_full_hours"))
                predicted = true;
        snapshot_unref(s);
        if (eta_at < 0 && find(&w, "disk_full_eta", "disk").n)
            eta_at = i;
    }
    print_message("disk_full_eta at %.1f %% used\n", 20 + 0.5 * eta_at);
    assert_true(eta_at >= 0 && 20 + 0.5 * eta_at < 90);
    assert_true(predicted);
    world_done(&w);
}

/* Participation under 2/3 is severity 5; security below the minimum is quantum-relevant. */
static void consensus_and_quantum(void **state)
{
    struct world w;
    struct found f;

    (void)state;
    world_init(&w, 1000);
    for (int i = 0; i < 3; i++) {
        struct snapshot *s = quiet(&w);
        s->node.consensus_metrics.participation_percent = 60;
        s->quantum_present = true;
        s->quantum.security_level_bits = 64;
        tick(&w, s);
    }
    f = find(&w, "low_participation", "consensus");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.last.severity, 5);
    f = find(&w, "quantum_security_low", "quantum");
    assert_int_equal(f.n, 1);
    assert_true(f.last.quantum_relevant);
    world_done(&w);
}

static void set_list(struct config_strlist *l, const char *a, const char *b)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = calloc(2, sizeof(char *));
    assert_non_null(l->v);
    l->v[0] = strdup(a);
    l->n = 1;
    if (b) {
        l->v[1] = strdup(b);
        l->n = 2;
    }
}

static struct snapshot *with_quantum(struct world *w, double qrng)
{
    struct snapshot *s = quiet(w);

    s->quantum_present = true;
    s->quantum.qrng_throughput = qrng;
    return s;
}

/* Signatures a quantum computer breaks, all of them: raised while so configured
 * (naming them), quantum-relevant; a post-quantum one among them clears it. */
static void classical_only_signatures(void **state)
{
    struct world w;
    struct found f;

    (void)state;
    world_init(&w, 1000);
    set_list(&w.cfg.monitoring.quantum_monitoring.signature_algorithm, "Ed25519", "secp256k1");
    detect_engine_configure(w.e, &w.cfg);
    tick(&w, quiet(&w)); /* no quantum object: nothing to say */
    assert_int_equal(find(&w, "classical_only_signatures", "quantum").n, 0);
    tick(&w, with_quantum(&w, NAN));
    f = find(&w, "classical_only_signatures", "quantum");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.open, 1);
    assert_int_equal(f.last.severity, 2);
    assert_true(f.last.quantum_relevant);
    assert_non_null(strstr(f.last.description, "in use: Ed25519, secp256k1"));
    assert_true(f.last.n_actions >= 3);

    /* a post-quantum scheme beside them: it clears, and resolves */
    set_list(&w.cfg.monitoring.quantum_monitoring.signature_algorithm, "Ed25519", "ML-DSA-65");
    detect_engine_configure(w.e, &w.cfg);
    for (int i = 0; i < 4; i++)
        tick(&w, with_quantum(&w, NAN));
    f = find(&w, "classical_only_signatures", "quantum");
    assert_int_equal(f.open, 0);

    /* nor with quantum monitoring off, or the rule disabled */
    set_list(&w.cfg.monitoring.quantum_monitoring.signature_algorithm, "Ed25519", NULL);
    w.cfg.monitoring.quantum_monitoring.enabled = false;
    detect_engine_configure(w.e, &w.cfg);
    tick(&w, with_quantum(&w, NAN));
    w.cfg.monitoring.quantum_monitoring.enabled = true;
    set_list(&w.cfg.detection.disabled, "classical_only_signatures", NULL);
    detect_engine_configure(w.e, &w.cfg);
    tick(&w, with_quantum(&w, NAN));
    f = find(&w, "classical_only_signatures", "quantum");
    assert_int_equal(f.n, 1); /* the one from before, resolved */
    assert_int_equal(f.open, 0);
    world_done(&w);
}

/*
 * A QRNG whose throughput collapses: the figure changes once per probe round
 * (10 s here, at 1 s ticks) and repeats in between. One low measurement is not
 * enough, two in a row are; the baseline does not learn the collapse; one good
 * measurement clears it.
 */
static void qrng_collapse(void **state)
{
    struct world w;
    struct found f;
    double v = 1e6;
    int fired_at = -1;

    (void)state;
    world_init(&w, 1000);
    w.cfg.monitoring.quantum_monitoring.probe_interval_sec = 10;
    detect_engine_configure(w.e, &w.cfg);
    for (int i = 0; i < 60; i++) {
        if (i % 10 == 0)
            v = 1e6 * (1 + 0.02 * noise(&w));
        tick(&w, with_quantum(&w, v));
    }
    /* one bad round, then normal again */
    for (int i = 0; i < 10; i++)
        tick(&w, with_quantum(&w, 1e5));
    for (int i = 0; i < 30; i++) {
        if (i % 10 == 0)
            v = 1e6 * (1 + 0.02 * noise(&w));
        tick(&w, with_quantum(&w, v));
    }
    assert_int_equal(find(&w, "qrng_throughput_collapse", "quantum").n, 0);
    /* the source dies: 0 round after round */
    for (int i = 0; i < 25; i++) {
        tick(&w, with_quantum(&w, 0));
        if (fired_at < 0 && find(&w, "qrng_throughput_collapse", "quantum").n)
            fired_at = i;
    }
    print_message("qrng_throughput_collapse after %d ticks of a dead source\n", fired_at + 1);
    assert_int_equal(fired_at, 10); /* a probe interval and a tick */
    f = find(&w, "qrng_throughput_collapse", "quantum");
    assert_true(f.last.quantum_relevant);
    assert_int_equal(f.last.severity, 3);
    assert_int_equal(f.open, 1);
    /* back: clears at once, resolves after resolve_ticks */
    for (int i = 0; i < 4; i++)
        tick(&w, with_quantum(&w, 1e6));
    f = find(&w, "qrng_throughput_collapse", "quantum");
    assert_int_equal(f.open, 0);
    /* a figure that goes away says nothing */
    for (int i = 0; i < 20; i++)
        tick(&w, with_quantum(&w, NAN));
    assert_int_equal(find(&w, "qrng_throughput_collapse", "quantum").open, 0);
    world_done(&w);
}

/* An anomaly open at shutdown is carried on under its id, or resolved. */
static void adoption(void **state)
{
    struct world w;
    struct anomaly a = {0};
    struct found f;

    (void)state;
    world_init(&w, 1000);
    detect_engine_free(w.e);
    snprintf(a.id, sizeof(a.id), "kept-1");
    a.anomaly_type = "cpu_saturation";
    a.component = "cpu";
    a.detector = "rule";
    a.severity = 3;
    a.detected_at_ms = w.now_ms - 60000;
    assert_int_equal(anomaly_log_add(w.log, &a), 0);
    w.e = detect_engine_new(&w.cfg, w.log);
    assert_non_null(w.e);
    for (int i = 0; i < 4; i++) {
        struct snapshot *s = quiet(&w);
        s->cpu.usage_percent = 97;
        tick(&w, s);
    }
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.n, 1);
    assert_string_equal(f.last.id, "kept-1");
    assert_int_equal(f.open, 1);
    for (int i = 0; i < 5; i++)
        tick(&w, quiet(&w));
    f = find(&w, "cpu_saturation", "cpu");
    assert_int_equal(f.open, 0);
    world_done(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_hysteresis_and_lifecycle),
        cmocka_unit_test(for_duration_filters_spikes),
        cmocka_unit_test(user_rule),
        cmocka_unit_test(learned_warmup_and_agreement),
        cmocka_unit_test(leak),
        cmocka_unit_test(sawtooth_is_not_a_leak),
        cmocka_unit_test(node_stall),
        cmocka_unit_test(disk_eta),
        cmocka_unit_test(consensus_and_quantum),
        cmocka_unit_test(classical_only_signatures),
        cmocka_unit_test(qrng_collapse),
        cmocka_unit_test(adoption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
