/*
 * The quantum figures (monitoring.quantum_monitoring): each one measured here
 * or reported by the node, the node's value winning (the node collector folds
 * it first and marks its QUANTUM_REPORTED_* bit; this collector leaves those be).
 *
 *   qrng_throughput      the configured entropy source's read rate: getrandom()
 *                        timed here, or a device or FIFO measured by the probe
 *                        thread (qprobe.h), which may block where this thread
 *                        must not
 *   merkle_ops_per_sec   the built-in SHA3-256 Merkle probe, run here
 *   security_level_bits  the minimum over the configured algorithms (pqsec.h)
 *   pq_crypto_overhead,  reported by the node only
 *   simulation_metrics
 *
 * The probes run once per probe_interval_sec, the first at the first tick,
 * within a CPU budget of 0.01 % of a core over the interval (split between
 * them); between rounds every tick repeats the latest figures. With quantum
 * monitoring off the snapshot has no quantum object, no thread runs and
 * the Merkle tree is not built.
 */
#define LOG_MODULE "quantum"
#include "collector.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pqsec.h"
#include "qprobe.h"

/* Share of one core the probes may use on average, and its split. */
#define PROBE_BUDGET  1e-4
#define MERKLE_SHARE  0.4
#define DEVICE_SHARE  0.4
#define MIN_MERKLE_NS 200000ull /* a round at least this long, for a stable figure */
#define MIN_DEVICE_NS 300000ull

enum qrng_kind { QRNG_NONE, QRNG_GETRANDOM, QRNG_DEVICE };

struct quantum_state {
    bool enabled, simulation, security;
    double security_bits; /* from the configuration; NaN: none configured */

    uint64_t interval_ns, next_ns; /* the sampler-side probes' schedule */
    uint64_t merkle_budget_ns;

    enum qrng_kind qrng;
    unsigned char *rand_buf; /* getrandom */
    struct qprobe_dev *dev;  /* device or FIFO */
    char *source;            /* its path, for the log */
    uint64_t dev_rounds;
    double qrng_bits;
    struct log_once qrng_fail;

    struct qmerkle *merkle;
    double merkle_ops;
    struct log_once merkle_fail;
};

static void quantum_fini(void *state)
{
    struct quantum_state *st = state;

    if (!st)
        return;
    qprobe_dev_stop(st->dev);
    free(st->source);
    qmerkle_free(st->merkle);
    free(st->rand_buf);
    free(st);
}

/* The level of the configured algorithms, logged once per configuration. */
static double configured_level(const struct config *cfg)
{
    const struct config_strlist *l[PQSEC_KINDS] = {
        &cfg->monitoring.quantum_monitoring.signature_algorithm,
        &cfg->monitoring.quantum_monitoring.key_exchange_algorithm,
        &cfg->monitoring.quantum_monitoring.hash_algorithm,
    };
    struct pqsec_use use;
    struct pqsec_summary sum;
    const char *bad = NULL;
    int r;

    for (int k = 0; k < PQSEC_KINDS; k++) {
        use.names[k] = (const char *const *)l[k]->v;
        use.n[k] = l[k]->n;
    }
    r = pqsec_summarize(&use, &sum, &bad);
    if (r == -ENODATA) {
        log_info("security_level_bits stays null: no algorithm configured (set "
                 "monitoring.quantum_monitoring.signature_algorithm, key_exchange_algorithm and "
                 "hash_algorithm, or have the node report it)");
        return NAN;
    }
    if (r < 0) {
        /* (the configuration's check refuses unknown names) */
        log_warn("security_level_bits stays null: unknown algorithm '%s'", bad ? bad : "?");
        return NAN;
    }
    for (int k = 0; k < PQSEC_KINDS; k++)
        if (!sum.kind_used[k])
            log_info("security_level_bits counts no %s algorithm: none configured",
                     pqsec_kind_name((enum pqsec_kind)k));
    log_info("security level %u bits against a quantum adversary (%u classical), set by %s",
             (unsigned)sum.quantum_bits, (unsigned)sum.classical_bits,
             sum.weakest ? sum.weakest : "?");
    return sum.quantum_bits;
}

static int quantum_init(const struct coll_env *env, void **ret_state)
{
    const struct config *cfg = env->cfg;
    const char *src = cfg->monitoring.quantum_monitoring.qrng_source;
    struct quantum_state *st = calloc(1, sizeof(*st));
    double budget;
    int r;

    if (!st)
        return -ENOMEM;
    st->enabled = cfg->monitoring.quantum_monitoring.enabled;
    st->qrng_bits = st->merkle_ops = st->security_bits = NAN;
    if (!st->enabled) {
        /* nothing to run: no thread, no probe; collect() keeps quantum null */
        *ret_state = st;
        return 0;
    }
    st->simulation = cfg->monitoring.quantum_monitoring.simulation_metrics;
    st->security = cfg->monitoring.quantum_monitoring.security_level_monitoring;
    if (st->security)
        st->security_bits = configured_level(cfg);
    st->interval_ns =
        (uint64_t)cfg->monitoring.quantum_monitoring.probe_interval_sec * 1000000000ull;
    budget = (double)st->interval_ns * PROBE_BUDGET;
    st->merkle_budget_ns = (uint64_t)(budget * MERKLE_SHARE);
    if (st->merkle_budget_ns < MIN_MERKLE_NS)
        st->merkle_budget_ns = MIN_MERKLE_NS;

    if (cfg->monitoring.quantum_monitoring.merkle_probe) {
        const char *why = NULL;
        r = qmerkle_new(&st->merkle, &why);
        if (r == -ENOMEM)
            goto fail;
        if (r < 0)
            log_warn("merkle_ops_per_sec stays null unless the node reports it: %s "
                     "(monitoring.quantum_monitoring.merkle_probe: false turns the probe off)",
                     why ? why : strerror(-r));
    }

    if (!src || !strcmp(src, "getrandom")) {
        st->qrng = QRNG_GETRANDOM;
        st->rand_buf = malloc(QPROBE_GETRANDOM_BYTES);
        if (!st->rand_buf) {
            r = -ENOMEM;
            goto fail;
        }
    } else if (strcmp(src, "none") != 0) {
        struct qprobe_dev_args a = {
            .path = src,
            .interval_ms = cfg->monitoring.quantum_monitoring.probe_interval_sec * 1000,
            .window_ms = cfg->monitoring.quantum_monitoring.qrng_window_ms,
            .cpu_budget_ns = (uint64_t)(budget * DEVICE_SHARE),
        };
        if (a.cpu_budget_ns < MIN_DEVICE_NS)
            a.cpu_budget_ns = MIN_DEVICE_NS;
        st->qrng = QRNG_DEVICE;
        st->source = strdup(src);
        r = st->source ? qprobe_dev_start(&a, &st->dev) : -ENOMEM;
        if (r == -ENOMEM)
            goto fail;
        if (r < 0) {
            log_warn("qrng_throughput stays null unless the node reports it: cannot start the "
                     "probe thread: %s",
                     strerror(-r));
            st->qrng = QRNG_NONE;
        }
    }
    *ret_state = st;
    return 0;
fail:
    quantum_fini(st);
    return -ENOMEM;
}

/* Clears what the configuration turns off, node-reported figures included. */
static void apply_switches(const struct quantum_state *st, struct snapshot *snap)
{
    struct quantum_metrics *q = &snap->quantum;

    if (!st->simulation) {
        q->simulation_present = false;
        q->simulation_metrics = (struct quantum_simulation_metrics){
            .qubits = NAN, .circuit_depth = NAN, .gate_ops_per_sec = NAN, .wall_time_ms = NAN};
        q->reported &= ~QUANTUM_REPORTED_SIM;
        snap->gpu.quantum_sim_usage = NAN;
    }
    if (!st->security) {
        q->security_level_bits = NAN;
        q->reported &= ~QUANTUM_REPORTED_SECURITY;
    }
}

/* A round of the probes that run on this (the sampler's) thread, for the figures
 * the node does not report: they never block, and take their CPU share at most. */
static void run_sampler_probes(struct quantum_state *st, const struct snapshot *snap)
{
    struct qprobe_result res;
    int r;

    if (st->merkle && !(snap->quantum.reported & QUANTUM_REPORTED_MERKLE)) {
        r = qmerkle_run(st->merkle, st->merkle_budget_ns, &res);
        if (r == 0) {
            st->merkle_ops = res.rate;
            log_once_clear(&st->merkle_fail, "the Merkle probe works again");
        } else {
            st->merkle_ops = NAN;
            log_once_warn(&st->merkle_fail, "the Merkle probe failed: %s", strerror(-r));
        }
    }
    if (st->qrng == QRNG_GETRANDOM && !(snap->quantum.reported & QUANTUM_REPORTED_QRNG)) {
        r = qprobe_getrandom(st->rand_buf, QPROBE_GETRANDOM_BYTES, &res);
        if (r == 0) {
            st->qrng_bits = res.rate;
            log_once_clear(&st->qrng_fail, "getrandom() can be timed again");
        } else {
            st->qrng_bits = NAN;
            log_once_warn(&st->qrng_fail, "qrng_throughput is null: getrandom(): %s%s",
                          strerror(-r),
                          r == -EAGAIN ? " (the kernel's pool is not initialised yet)" : "");
        }
    }
}

/* The probe thread's latest window, when it ran a new one. */
static void take_device(struct quantum_state *st, const struct snapshot *snap)
{
    struct qprobe_dev_status ds;

    qprobe_dev_set_wanted(st->dev, !(snap->quantum.reported & QUANTUM_REPORTED_QRNG));
    qprobe_dev_status(st->dev, &ds);
    if (ds.rounds == st->dev_rounds)
        return;
    st->dev_rounds = ds.rounds;
    if (ds.error) {
        st->qrng_bits = NAN;
        log_once_warn(&st->qrng_fail, "qrng_throughput is null: %s: %s", st->source,
                      strerror(-ds.error));
        return;
    }
    log_once_clear(&st->qrng_fail, "%s can be read again", st->source);
    st->qrng_bits = ds.have_rate ? ds.bits_per_sec : NAN;
}

static int quantum_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct quantum_state *st = state;
    struct quantum_metrics *q = &snap->quantum;

    if (!st->enabled) {
        /* no quantum object at all, whatever the node reported */
        snap->quantum_present = false;
        snap->quantum = (struct quantum_metrics){
            .qrng_throughput = NAN,
            .pq_crypto_overhead = NAN,
            .merkle_ops_per_sec = NAN,
            .security_level_bits = NAN,
            .simulation_metrics = {.qubits = NAN,
                                   .circuit_depth = NAN,
                                   .gate_ops_per_sec = NAN,
                                   .wall_time_ms = NAN},
        };
        snap->gpu.quantum_sim_usage = NAN;
        return 0;
    }
    snap->quantum_present = true;
    apply_switches(st, snap);

    if (!st->next_ns || tick->mono_ns >= st->next_ns) {
        run_sampler_probes(st, snap);
        /* on a fixed phase; after a long stall, from now */
        st->next_ns = st->next_ns && tick->mono_ns - st->next_ns < st->interval_ns
                          ? st->next_ns + st->interval_ns
                          : tick->mono_ns + st->interval_ns;
    }
    if (st->qrng == QRNG_DEVICE)
        take_device(st, snap);

    if (!(q->reported & QUANTUM_REPORTED_QRNG))
        q->qrng_throughput = st->qrng_bits;
    if (!(q->reported & QUANTUM_REPORTED_MERKLE))
        q->merkle_ops_per_sec = st->merkle_ops;
    if (st->security && !(q->reported & QUANTUM_REPORTED_SECURITY))
        q->security_level_bits = st->security_bits;
    return 0;
}

const struct collector_ops coll_quantum = {
    .name = "quantum",
    .init = quantum_init,
    .collect = quantum_collect,
    .fini = quantum_fini,
};
