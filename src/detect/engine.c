/* The detection engine; see engine.h for what it promises. */
#define LOG_MODULE "detect"
#include "detect/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/pqsec.h"
#include "core/log.h"
#include "detect/forecast.h"
#include "detect/mvar.h"
#include "detect/series.h"
#include "detect/trend.h"

#define NONE         UINT32_MAX
#define MAX_BUILTIN  32   /* built-in rules at most (the state arrays' size) */
#define MAX_OPEN     64   /* open anomalies at once; more wait until some resolve */
#define PUT_EVERY    60   /* ticks between refreshes of a lasting anomaly in the log */
#define TABLE_BITS   10   /* context table of an online per-series detector */
#define BASE_TICKS   100  /* ticks a baseline (TPS, finality) averages over */
#define LEARNED_SEV  2    /* a learned layer alone */
#define AGREED_SEV   3    /* two layers on the same component */
#define AGREED_TICKS 3    /* ticks both learned layers must agree for it */
#define GATE_WINDOW  1000 /* samples the mean and deviation average over */

enum op { OP_GT, OP_GE, OP_LT, OP_LE };

static bool cmp(enum op op, double v, double level)
{
    switch (op) {
    case OP_GT:
        return v > level;
    case OP_GE:
        return v >= level;
    case OP_LT:
        return v < level;
    default:
        return v <= level;
    }
}

static const char *op_name(enum op op)
{
    static const char *const n[] = {">", ">=", "<", "<="};
    return n[op];
}

/* ---- series seen in the snapshots ---- */

struct slot {
    char *key; /* "cpu.core_usage{core=0}" */
    const struct series_desc *desc;
    const char *component;
    double value, prev; /* this tick's and the one before (NaN: absent) */
    uint64_t seen_tick; /* the tick value belongs to */
    struct detect_series *det;
    double score;
    double mean, dev; /* exponential mean and mean absolute deviation (the magnitude gate) */
    uint32_t n;
    int32_t feat; /* multivariate feature, -1: none */
};

/* One place of the flattening order, remembered so that a steady snapshot
 * finds its slots without building keys. */
struct pos {
    const struct series_desc *desc;
    uint64_t label_hash;
    uint32_t slot;
};

/* ---- rules ---- */

struct detect_engine;

struct builtin {
    const char *name, *component, *detector;
    uint8_t severity;
    enum op op;
    double trigger, clear;
    double for_sec;     /* at least this long ... */
    uint32_t for_ticks; /* ... and this many ticks */
    double (*value)(struct detect_engine *e, const struct snapshot *s);
    const char *what; /* the description, with %s for the value */
    const char *unit;
    const char *related[6];
    bool quantum;
};

struct rule_state {
    uint32_t pending; /* consecutive ticks over the trigger */
    bool firing;
};

struct user_rule {
    struct config_detect_rule r; /* strings owned (copied) */
    enum op op;
    double clear;
    uint32_t slot;
    struct rule_state st;
};

/* ---- open anomalies ---- */

struct open {
    struct anomaly a;
    char type[65], component[33], detector[16], description[256];
    char keys[ANOMALY_MAX_RELATED][96];
    char actions[ANOMALY_MAX_ACTIONS][192];
    uint8_t base_severity;
    uint32_t normal;   /* ticks since it was last raised */
    uint32_t agreed;   /* consecutive ticks the other learned layer raised it too */
    uint64_t put_tick; /* when it last went to the log */
    bool raised;       /* this tick */
};

/* What a layer raises in one tick. */
struct raise {
    const char *type, *component, *detector;
    uint8_t severity;
    double score;
    bool quantum;
    char description[256];
    struct kv_num related[ANOMALY_MAX_RELATED];
    size_t n_related;
    const char *const *actions;
    size_t n_actions;
};

/* ---- trends ---- */

#define FAST_POINTS 32
#define FAST_MIN    16 /* samples before a window says anything */

/* Two windows on one series: the latest FAST_POINTS samples (a fast leak, a
 * mempool filling within minutes) and hours (trend.h's default horizon). */
struct twin {
    struct trend *fast, *slow;
    double min_abs;             /* growth that matters, in the series' unit */
    double recent[FAST_POINTS]; /* the latest samples, for a cheap first look */
    uint32_t head, n;
};

static int twin_init(struct twin *t, double min_abs)
{
    struct trend_opts o;

    t->min_abs = min_abs;
    trend_default_opts(&o);
    o.min_points = FAST_MIN;
    t->slow = trend_new(&o);
    o.points = FAST_POINTS;
    o.step = 1;
    o.max_step = 1;
    o.horizon_sec = 0;
    o.min_points = FAST_MIN;
    t->fast = trend_new(&o);
    return t->slow && t->fast ? 0 : -ENOMEM;
}

static void twin_free(struct twin *t)
{
    trend_free(t->fast);
    trend_free(t->slow);
}

static void twin_add(struct twin *t, double t_sec, double v)
{
    trend_add(t->fast, t_sec, v);
    trend_add(t->slow, t_sec, v);
    if (isfinite(v)) {
        t->recent[t->head] = v;
        t->head = (t->head + 1) % FAST_POINTS;
        if (t->n < FAST_POINTS)
            t->n++;
    }
}

static void twin_reset(struct twin *t)
{
    trend_reset(t->fast);
    trend_reset(t->slow);
    t->n = t->head = 0;
}

/* Whether the fast window can show growth that matters, in O(window) adds: the
 * mean of its newer half exceeds that of its older half by half of min_abs
 * and by a quarter of the window's range (a climb's halves differ by about
 * half its range; noise's by a tenth of it). A fit costs a hundred times
 * more, and a steady or merely noisy series never gets one. */
static bool fast_may_grow(const struct twin *t)
{
    double lo = INFINITY, hi = -INFINITY, older = 0, newer = 0, d;
    uint32_t half = t->n / 2;

    if (t->n < FAST_MIN)
        return false;
    for (uint32_t k = 0; k < t->n; k++) {
        double v = t->recent[(t->head + FAST_POINTS - t->n + k) % FAST_POINTS];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (k < half)
            older += v;
        else if (k >= t->n - half)
            newer += v;
    }
    d = (newer - older) / half;
    return d >= 0.5 * t->min_abs && d >= 0.25 * (hi - lo);
}

/*
 * Growth that matters: a rising, non-flat fit over which the series grew by at
 * least min_abs and by min_rel of where it started. Returns the better
 * window's quality (0: no such growth) and its fit in *ret.
 */
static double twin_growth(struct twin *t, double min_rel, struct trend_fit *ret)
{
    struct trend *w[2] = {t->slow, t->fast};
    double best = 0, min_abs = t->min_abs;

    for (int i = 0; i < 2; i++) {
        struct trend_fit f;
        double grown;
        if (i == 1 && !fast_may_grow(t))
            continue;
        if (!trend_get(w[i], &f) || f.flat || !(f.slope_per_sec > 0))
            continue;
        grown = f.slope_per_sec * f.span_sec;
        if (!(grown >= min_abs) || !(grown >= min_rel * (f.level - grown)))
            continue;
        if (f.quality > best) {
            best = f.quality;
            *ret = f;
        }
    }
    return best;
}

/* The fit an ETA is taken from: the long window once it has one, else the short. */
static bool twin_fit(struct twin *t, struct trend_fit *ret)
{
    return (trend_get(t->slow, ret) && ret->span_sec >= FAST_POINTS * 2.0) ||
           trend_get(t->fast, ret);
}

/* ---- predictions ---- */

enum { PRED_CPU, PRED_MEM, PRED_DISK, PRED_ANOM, PRED_COUNT };

struct prediction {
    double value, confidence;
    bool valid;
};

static const char *const pred_names[PRED_COUNT] = {
    "cpu_usage_percent_in_5min",
    "memory_exhaustion_hours",
    "disk_full_hours",
    "anomaly_probability",
};

struct detect_engine {
    struct config_view {
        bool learned; /* monitoring.ai_optimization.enabled */
        uint64_t interval_ms, prediction_ms;
        double confidence;
        uint32_t warmup, resolve;
        double threshold; /* multivariate */
        double gate_z;
        uint32_t max_series, min_security_bits;
        bool builtin;
        bool disabled[MAX_BUILTIN]; /* by builtin index */
        /* the best quantum level among the configured signature algorithms; NaN:
         * none configured, or quantum or security-level monitoring off */
        double sig_quantum_bits;
        char sig_names[128]; /* those algorithms, for the description */
        /* the QRNG baseline: ticks it needs, ticks it averages over, and the
         * for-duration of a collapse (a probe interval and a tick: two
         * measurements in a row) */
        uint32_t qrng_min_ticks, qrng_base_ticks;
        double qrng_for_sec;
    } cfg;
    struct anomaly_log *log;
    uint64_t tick; /* ticks run, the current one included */
    uint64_t now_ms;

    struct slot *slots;
    size_t nslots, slots_cap;
    uint32_t *map; /* open addressing: slot index + 1, 0 empty */
    size_t map_cap;
    struct pos *pos;
    size_t npos, pos_cap, visit;
    uint32_t learned_series;

    struct rule_state bstate[MAX_BUILTIN];
    struct user_rule *urules;
    size_t n_urules;

    struct mvar *mv;
    uint32_t mv_dim, mv_used;
    double *mv_x;

    struct twin rss, disk, mempool, memused;
    double rss_last;
    struct forecast *cpu_fc;
    const struct predictor_ops *predictor;
    void *cpu_pred;
    struct prediction pred[PRED_COUNT];
    uint64_t pred_due_ms;
    double max_score_window; /* highest learned score since the last prediction */

    /* baselines */
    double tps_base, fin_base, qrng_base;
    uint32_t tps_n, fin_n, qrng_n;
    uint64_t last_block_ms, blocks_seen;
    double block_gap_sec; /* usual time between blocks */

    struct open open[MAX_OPEN];
    size_t n_open;
    uint64_t id_seq;
    bool warned_open_full;
};

/* ---- the curated actions, per anomaly type ---- */

struct actions {
    const char *type;
    const char *const list[5];
};

static const struct actions action_table[] = {
    {"cpu_saturation",
     {"Find the busiest processes (top -o %CPU) and check whether the node is one of them",
      "Look for runaway threads or a stuck validation loop in the node's logs",
      "Reschedule heavy background jobs (compaction, indexing, backups)",
      "Add cores or move the node to a larger machine if the load is sustained"}},
    {"memory_pressure",
     {"Check the node's RSS trend for a leak (memory.leak_indicators)",
      "Lower the node's cache sizes (state cache, mempool limits)",
      "Stop memory-heavy processes running beside the node",
      "Add memory before the OOM killer picks the node"}},
    {"swapping",
     {"Find what is swapped out (VmSwap in /proc/PID/status)",
      "Reduce the node's memory footprint or add RAM",
      "Lower vm.swappiness if the node's working set is being evicted"}},
    {"memory_leak",
     {"Take heap profiles of the process while it grows (jemalloc or tcmalloc profiling, "
      "valgrind massif)",
      "Check the node's recent upgrades and configuration changes",
      "Plan a restart before the projected exhaustion time and report the leak upstream"}},
    {"disk_nearly_full",
     {"Prune old chain data or enable pruning in the node",
      "Rotate and compress logs; remove old snapshots and backups",
      "Grow the volume or move the data directory to a larger disk"}},
    {"disk_full_eta",
     {"Find what is growing (du -x -d 2 on the data directory)",
      "Prune old chain data, logs, snapshots and backups",
      "Grow the volume before the projected time"}},
    {"high_temperature",
     {"Check the cooling: fans, airflow, dust, room temperature",
      "Check for thermal throttling (cpu.frequency_mhz dropping)",
      "Reduce the load until the temperature is back to normal"}},
    {"packet_loss",
     {"Check the interface's error and drop counters (ip -s link)",
      "Check the path to the peers (mtr) and the provider's status",
      "Check firewall and rate-limit rules that may drop traffic"}},
    {"no_p2p_peers",
     {"Check that the P2P port is open and reachable from outside",
      "Check the node's peer list or bootnodes and its logs for handshake errors",
      "Check the clock (NTP): peers drop nodes with a skewed clock"}},
    {"block_production_stalled",
     {"Check the node's logs for consensus or sync errors", "Check the peer count and the network",
      "Check that the producer keys are loaded and the node is in sync"}},
    {"mempool_growth",
     {"Check that blocks are produced and include transactions",
      "Check transaction validation time and the node's CPU",
      "Review mempool limits and eviction; look for spam"}},
    {"tps_collapse",
     {"Check block production and consensus health",
      "Check validation time and CPU or disk saturation",
      "Check the peer count: transactions may not be arriving"}},
    {"finality_regression",
     {"Check consensus participation and validator connectivity",
      "Check latency and packet loss to the other validators",
      "Check the node's clock synchronisation"}},
    {"low_participation",
     {"Find which validators are offline (explorer or RPC)",
      "Check for a network partition: latency, packet loss, peer count",
      "Coordinate with the other operators: below 2/3 the chain cannot finalise safely"}},
    {"gpu_memory_exhaustion",
     {"Find the processes holding GPU memory (nvidia-smi)",
      "Lower batch sizes or model precision (quantisation)",
      "Free the inference runtime's cached memory or move a model to another GPU"}},
    {"quantum_security_low",
     {"Switch to the post-quantum algorithms the node supports (ML-DSA signatures, ML-KEM "
      "key exchange)",
      "Plan a rotation to quantum-resistant keys",
      "Review the configured algorithms against the security table in docs/metrics.md"}},
    {"classical_only_signatures",
     {"Plan the migration of validator and account keys to ML-DSA (FIPS 204) or SLH-DSA "
      "(FIPS 205) signatures, or to a hybrid such as Ed25519+ML-DSA-65",
      "Inventory long-lived keys whose public keys are already exposed (on chain, in "
      "certificates): a quantum adversary forges those first",
      "Check whether the node supports a post-quantum signature scheme it has not enabled",
      "If classical signatures are accepted for now, turn this rule off with "
      "detection.disabled_rules"}},
    {"qrng_throughput_collapse",
     {"Check the entropy source: its driver and device (dmesg, /sys/class/misc/hw_random), or "
      "the process that feeds the QRNG FIFO",
      "Check the QRNG device's link (USB, PCIe, network appliance) and its health counters",
      "Make sure key generation and nonces fall back to the kernel's getrandom() while the "
      "QRNG is degraded, and that nothing blocks waiting for it",
      "Compare with the node's own QRNG figure (quantum.reported_by_node)"}},
    {"unusual_behaviour",
     {"Compare the related metrics with recent deployments, restarts and load changes",
      "Open the dashboard at the detection time to see what moved together",
      "If this is the new normal it is learned within hours; otherwise look into the component"}},
    {"joint_anomaly",
     {"Look at the related metrics together: each may be in its usual range, their "
      "combination is new",
      "Look for a stuck stage, e.g. transactions arriving (mempool growing) but not processed "
      "(TPS falling)",
      "Compare with recent configuration changes and upgrades"}},
};

static void actions_for(const char *type, struct raise *r)
{
    for (size_t i = 0; i < sizeof(action_table) / sizeof(action_table[0]); i++) {
        if (!strcmp(action_table[i].type, type)) {
            size_t n = 0;
            while (n < 5 && action_table[i].list[n])
                n++;
            r->actions = action_table[i].list;
            r->n_actions = n;
            return;
        }
    }
    r->actions = NULL;
    r->n_actions = 0;
}

/* ---- slots ---- */

static uint64_t hash_bytes(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static uint64_t label_hash(const struct series_label *l, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    /* the values only: a series' label keys follow from its description, compared apart */
    for (size_t i = 0; i < n; i++) {
        h = hash_bytes(h, l[i].value);
        h = (h ^ 0xfe) * 0x100000001b3ull;
    }
    return h;
}

static uint32_t find_slot(const struct detect_engine *e, const char *key)
{
    size_t mask = e->map_cap - 1, i;

    if (!e->map_cap)
        return NONE;
    i = hash_bytes(0xcbf29ce484222325ull, key) & mask;
    for (; e->map[i]; i = (i + 1) & mask)
        if (!strcmp(e->slots[e->map[i] - 1].key, key))
            return e->map[i] - 1;
    return NONE;
}

static int map_grow(struct detect_engine *e)
{
    size_t cap = e->map_cap ? e->map_cap * 2 : 256;
    uint32_t *m = calloc(cap, sizeof(*m));

    if (!m)
        return -ENOMEM;
    for (size_t s = 0; s < e->nslots; s++) {
        size_t i = hash_bytes(0xcbf29ce484222325ull, e->slots[s].key) & (cap - 1);
        while (m[i])
            i = (i + 1) & (cap - 1);
        m[i] = (uint32_t)s + 1;
    }
    free(e->map);
    e->map = m;
    e->map_cap = cap;
    return 0;
}

/* The component a series belongs to, from its name. */
static const char *component_of(const char *name)
{
    static const struct {
        const char *prefix, *component;
    } map[] = {
        {"node.consensus_metrics.", "consensus"},
        {"node.contract_metrics.", "contracts"},
        {"node.", "node"},
        {"model_inference.", "inference"},
        {"cpu.", "cpu"},
        {"memory.", "memory"},
        {"disk.", "disk"},
        {"network.", "network"},
        {"gpu.", "gpu"},
        {"quantum.", "quantum"},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncmp(name, map[i].prefix, strlen(map[i].prefix)))
            return map[i].component;
    return "node";
}

/* Series the learned layers gain nothing from: sizes and counts of devices (they
 * change when the machine does, which the rules and the operator see), our own
 * outputs, and each core's usage: which core runs a thread is the scheduler's
 * choice from one tick to the next, so one core's load is noise that no model
 * predicts, and the total (cpu.usage_percent) carries what matters. The rules and
 * the history keep every core. */
static bool learnable(const struct series_desc *d)
{
    static const char *const skip[] = {
        "cpu.online_cores",     "memory.physical_total_mb",
        "memory.swap_total_mb", "disk.total_gb",
        "disk.devices",         "gpu.memory_total_mb",
        "neural_predictions",   "quantum.security_level_bits",
        "cpu.core_usage",
    };

    if (d->kind != SERIES_GAUGE)
        return false;
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (!strcmp(d->name, skip[i]))
            return false;
    return true;
}

static uint32_t add_slot(struct detect_engine *e, const struct series_desc *d,
                         const struct series_label *l, size_t nl)
{
    char key[512];
    uint32_t idx;
    struct slot *s;

    if (snapshot_series_key(key, sizeof(key), d, l, nl) < 0)
        return NONE;
    idx = find_slot(e, key);
    if (idx != NONE)
        return idx;
    if (e->nslots >= 65536)
        return NONE;
    if ((e->nslots + 1) * 2 > e->map_cap && map_grow(e) < 0)
        return NONE;
    if (e->nslots == e->slots_cap) {
        size_t cap = e->slots_cap ? e->slots_cap * 2 : 128;
        struct slot *ns = realloc(e->slots, cap * sizeof(*ns));
        if (!ns)
            return NONE;
        e->slots = ns;
        e->slots_cap = cap;
    }
    s = &e->slots[e->nslots];
    memset(s, 0, sizeof(*s));
    s->key = strdup(key);
    if (!s->key)
        return NONE;
    s->desc = d;
    s->component = component_of(d->name);
    s->value = s->prev = NAN;
    s->feat = -1;
    if (learnable(d) && e->learned_series < e->cfg.max_series) {
        struct detect_series_opts o;
        detect_series_default_opts(&o);
        o.warmup = e->cfg.warmup;
        o.table_bits = TABLE_BITS;
        o.grids = 1; /* half the work; what noise it lets through, the gate stops */
        o.hold = 0;  /* the lifecycle makes one anomaly of an incident; a hold would blind the
                      * series after an alarm the gate kept quiet */
        s->det = detect_series_new_opts(&o);
        if (s->det)
            e->learned_series++;
    }
    if (learnable(d) && e->mv_used < e->cfg.max_series)
        s->feat = (int32_t)e->mv_used++;
    idx = (uint32_t)e->nslots++;
    {
        size_t mask = e->map_cap - 1, i = hash_bytes(0xcbf29ce484222325ull, key) & mask;
        while (e->map[i])
            i = (i + 1) & mask;
        e->map[i] = idx + 1;
    }
    return idx;
}

static void visit(void *ctx, const struct series_desc *d, const struct series_label *l, size_t nl,
                  double v)
{
    struct detect_engine *e = ctx;
    uint64_t lh = label_hash(l, nl);
    size_t i = e->visit++;
    uint32_t si;
    struct slot *s;

    if (i < e->npos && e->pos[i].desc == d && e->pos[i].label_hash == lh) {
        si = e->pos[i].slot;
    } else {
        si = add_slot(e, d, l, nl);
        if (si == NONE)
            return;
        if (i >= e->pos_cap) {
            size_t cap = e->pos_cap ? e->pos_cap * 2 : 256;
            struct pos *np = realloc(e->pos, cap * sizeof(*np));
            if (!np)
                return;
            e->pos = np;
            e->pos_cap = cap;
        }
        if (i >= e->npos) {
            for (size_t j = e->npos; j < i; j++)
                e->pos[j] = (struct pos){NULL, 0, NONE};
            e->npos = i + 1;
        }
        e->pos[i] = (struct pos){d, lh, si};
    }
    s = &e->slots[si];
    if (s->seen_tick == e->tick)
        return; /* the same key twice in one snapshot: keep the first */
    s->prev = s->seen_tick + 1 == e->tick ? s->value : NAN;
    s->value = v;
    s->seen_tick = e->tick;
}

/* A series' value this tick, NaN when absent. */
static double val(const struct detect_engine *e, uint32_t si)
{
    return si != NONE && e->slots[si].seen_tick == e->tick ? e->slots[si].value : NAN;
}

static double val_of(const struct detect_engine *e, const char *key)
{
    return val(e, find_slot(e, key));
}

/* ---- built-in rules: their values ---- */

static double v_cpu(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->cpu.usage_percent;
}

static double v_mem_avail(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    if (!(s->memory.physical_total_mb > 0))
        return NAN;
    return s->memory.available_mb / s->memory.physical_total_mb * 100;
}

static double v_swap_rate(struct detect_engine *e, const struct snapshot *s)
{
    uint32_t si = find_slot(e, "memory.swap_used_mb");

    if (si == NONE || !(s->interval_sec > 0))
        return NAN;
    return (e->slots[si].value - e->slots[si].prev) / s->interval_sec;
}

static double v_disk(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->disk.usage_percent;
}

static double v_disk_eta(struct detect_engine *e, const struct snapshot *s)
{
    struct trend_fit f;
    double eta;

    if (isnan(s->disk.usage_percent) || twin_growth(&e->disk, 0, &f) < 0.6)
        return NAN;
    eta = trend_eta_sec(&f, 100);
    return isfinite(eta) ? eta / 3600 : NAN;
}

static double v_cpu_temp(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->cpu.temperature;
}

static double v_gpu_temp(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->gpu_present ? s->gpu.temperature : NAN;
}

static double v_loss(struct detect_engine *e, const struct snapshot *s)
{
    uint32_t si = find_slot(e, "network.tcp_segments_sent_total");

    /* a handful of segments gives no rate worth a word: one lost in three is not 33 % loss */
    if (si == NONE || !(e->slots[si].value - e->slots[si].prev >= 50))
        return NAN;
    return s->network.packet_loss_percent;
}

static double v_peers(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->network.p2p_connections;
}

/* How long since the last block, as a multiple of what is usual (at least two minutes). */
static double v_block_stall(struct detect_engine *e, const struct snapshot *s)
{
    double bpm = s->node.blocks_per_min, expected;

    if (isnan(bpm))
        return NAN;
    if (bpm > 0) {
        if (e->last_block_ms && e->now_ms > e->last_block_ms) {
            double gap = (double)(e->now_ms - e->last_block_ms) / 1000;
            e->block_gap_sec = e->blocks_seen > 1 ? e->block_gap_sec * 0.9 + gap * 0.1 : gap;
        }
        e->last_block_ms = e->now_ms;
        e->blocks_seen++;
        return 0;
    }
    if (!e->blocks_seen)
        return NAN; /* never produced one: nothing stalled */
    expected = 5 * e->block_gap_sec;
    if (expected < 120)
        expected = 120;
    return (double)(e->now_ms - e->last_block_ms) / 1000 / expected;
}

/* The mempool's growth: the fit quality of a rising trend that has at least
 * doubled the pool over its span, else 0. */
static double v_mempool(struct detect_engine *e, const struct snapshot *s)
{
    struct trend_fit f;

    if (isnan(s->node.mempool_size))
        return NAN;
    return twin_growth(&e->mempool, 0.5, &f);
}

/* Transactions per second over their baseline (the baseline holds still while TPS is low). */
static double v_tps(struct detect_engine *e, const struct snapshot *s)
{
    double tps = s->node.transactions_per_sec, r;

    if (isnan(tps))
        return NAN;
    r = e->tps_n >= 30 && e->tps_base >= 1 ? tps / e->tps_base : NAN;
    if (!(r < 0.5)) {
        e->tps_n++;
        e->tps_base += (tps - e->tps_base) / (e->tps_n < BASE_TICKS ? e->tps_n : BASE_TICKS);
    }
    return r;
}

static double v_finality(struct detect_engine *e, const struct snapshot *s)
{
    double f = s->node.consensus_metrics.time_to_finality_sec, r;

    if (isnan(f))
        return NAN;
    r = e->fin_n >= 30 && e->fin_base > 0 ? f / e->fin_base : NAN;
    if (!(r > 1.5)) {
        e->fin_n++;
        e->fin_base += (f - e->fin_base) / (e->fin_n < BASE_TICKS ? e->fin_n : BASE_TICKS);
    }
    return r;
}

static double v_participation(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    return s->node.consensus_metrics.participation_percent;
}

static double v_gpu_mem(struct detect_engine *e, const struct snapshot *s)
{
    (void)e;
    if (!s->gpu_present || !(s->gpu.memory_total_mb > 0))
        return NAN;
    return s->gpu.memory_used_mb / s->gpu.memory_total_mb * 100;
}

static double v_security(struct detect_engine *e, const struct snapshot *s)
{
    if (!s->quantum_present || isnan(s->quantum.security_level_bits))
        return NAN;
    return s->quantum.security_level_bits - e->cfg.min_security_bits;
}

/* The best quantum level among the signature algorithms in use: 0 when each
 * is broken by a quantum computer. */
static double v_classical_sig(struct detect_engine *e, const struct snapshot *s)
{
    return s->quantum_present ? e->cfg.sig_quantum_bits : NAN;
}

/* The QRNG throughput over its baseline (which holds still while the
 * throughput is under half of it). The figure changes once per probe round,
 * and repeats in between: the baseline averages over time, like the others. */
static double v_qrng(struct detect_engine *e, const struct snapshot *s)
{
    double q = s->quantum_present ? s->quantum.qrng_throughput : NAN, r, n;

    if (isnan(q))
        return NAN;
    r = e->qrng_n >= e->cfg.qrng_min_ticks && e->qrng_base > 0 ? q / e->qrng_base : NAN;
    if (!(r < 0.5)) {
        e->qrng_n++;
        n = e->qrng_n < e->cfg.qrng_base_ticks ? e->qrng_n : e->cfg.qrng_base_ticks;
        e->qrng_base += (q - e->qrng_base) / n;
    }
    return r;
}

/* The leak signal: the fit quality of a rising RSS that grew by a meaningful amount. */
static double v_leak(struct detect_engine *e, const struct snapshot *s)
{
    struct trend_fit f;

    if (isnan(s->memory.process_rss_mb))
        return NAN;
    return twin_growth(&e->rss, 0.05, &f);
}

/* clang-format off */
static const struct builtin builtins[] = {
    {"cpu_saturation", "cpu", "rule", 2, OP_GE, 90, 80, 0, 2, v_cpu,
     "CPU usage at %s, above 90 %% for %s", "%",
     {"cpu.usage_percent", "cpu.process_usage", "cpu.frequency_mhz", "cpu.temperature"}, false},
    {"memory_pressure", "memory", "rule", 4, OP_LE, 10, 15, 0, 2, v_mem_avail,
     "only %s of physical memory available for %s", "%",
     {"memory.available_mb", "memory.physical_used_mb", "memory.swap_used_mb",
      "memory.process_rss_mb"}, false},
    {"swapping", "memory", "rule", 3, OP_GE, 1, 0.1, 0, 2, v_swap_rate,
     "swap use growing by %s for %s", " MB/s",
     {"memory.swap_used_mb", "memory.available_mb", "memory.process_rss_mb"}, false},
    {"disk_nearly_full", "disk", "rule", 4, OP_GE, 90, 85, 0, 2, v_disk,
     "file system %s full for %s", "%",
     {"disk.usage_percent", "disk.available_gb", "disk.write_mbps"}, false},
    {"disk_full_eta", "disk", "trend", 3, OP_LE, 24, 48, 0, 2, v_disk_eta,
     "at the current rate the file system is full in %s h (for %s)", "",
     {"disk.usage_percent", "disk.available_gb", "disk.write_mbps"}, false},
    {"high_temperature", "cpu", "rule", 4, OP_GE, 85, 80, 0, 2, v_cpu_temp,
     "CPU at %s for %s", " C", {"cpu.temperature", "cpu.usage_percent", "cpu.frequency_mhz"},
     false},
    {"high_temperature", "gpu", "rule", 4, OP_GE, 85, 80, 0, 2, v_gpu_temp,
     "GPU at %s for %s", " C", {"gpu.temperature", "gpu.usage_percent"}, false},
    {"packet_loss", "network", "rule", 3, OP_GE, 5, 2, 0, 2, v_loss,
     "%s of TCP segments retransmitted for %s", "%",
     {"network.packet_loss_percent", "network.latency_ms", "network.p2p_connections",
      "network.egress_kbps"}, false},
    {"no_p2p_peers", "network", "rule", 4, OP_LE, 0, 0, 30, 2, v_peers,
     "%s P2P connections for %s", "",
     {"network.p2p_connections", "network.open_sockets", "network.ingress_kbps"}, false},
    {"block_production_stalled", "node", "rule", 4, OP_GE, 1, 0.5, 0, 1, v_block_stall,
     "no block for %s times the usual gap (for %s)", "",
     {"node.blocks_per_min", "node.transactions_per_sec", "node.mempool_size",
      "network.p2p_connections"}, false},
    {"mempool_growth", "node", "trend", 3, OP_GE, 0.8, 0.5, 0, 2, v_mempool,
     "mempool growing steadily (trend quality %s, for %s)", "",
     {"node.mempool_size", "node.transactions_per_sec", "node.blocks_per_min"}, false},
    {"tps_collapse", "node", "rule", 3, OP_LE, 0.25, 0.5, 0, 2, v_tps,
     "transactions per second at %s of their usual level for %s", "x",
     {"node.transactions_per_sec", "node.mempool_size", "node.avg_tx_validation_ms",
      "cpu.usage_percent"}, false},
    {"finality_regression", "consensus", "rule", 3, OP_GE, 2, 1.5, 0, 3, v_finality,
     "time to finality at %s its usual level for %s", "x",
     {"node.consensus_metrics.time_to_finality_sec",
      "node.consensus_metrics.participation_percent", "network.latency_ms"}, false},
    {"low_participation", "consensus", "rule", 5, OP_LT, 66.67, 70, 0, 2, v_participation,
     "consensus participation at %s, under the 2/3 safety threshold, for %s", "%",
     {"node.consensus_metrics.participation_percent",
      "node.consensus_metrics.time_to_finality_sec", "network.p2p_connections"}, false},
    {"gpu_memory_exhaustion", "gpu", "rule", 4, OP_GE, 95, 90, 0, 2, v_gpu_mem,
     "GPU memory %s used for %s", "%", {"gpu.memory_used_mb", "gpu.memory_total_mb"}, false},
    {"quantum_security_low", "quantum", "rule", 4, OP_LT, 0, 0, 0, 1, v_security,
     "security level %s bits from the configured minimum (for %s)", "",
     {"quantum.security_level_bits", "quantum.pq_crypto_overhead"}, true},
    {"classical_only_signatures", "quantum", "rule", 2, OP_LE, 0, 0, 0, 1, v_classical_sig,
     "every configured signature algorithm is broken by a quantum computer (the best resists "
     "%s, for %s)", " quantum bits", {"quantum.security_level_bits"}, true},
    /* its for-duration is a probe interval and a tick (qrng_for_sec): two measurements */
    {"qrng_throughput_collapse", "quantum", "rule", 3, OP_LE, 0.25, 0.5, 0, 2, v_qrng,
     "QRNG throughput at %s its usual level for %s", "x", {"quantum.qrng_throughput"}, true},
    {"memory_leak", "memory", "trend", 3, OP_GE, 0.8, 0.5, 0, 2, v_leak,
     "the monitored process's memory keeps growing (trend quality %s, for %s)", "",
     {"memory.process_rss_mb", "memory.available_mb", "memory.physical_used_mb"}, false},
};
/* clang-format on */
#define NBUILTIN (sizeof(builtins) / sizeof(builtins[0]))
_Static_assert(NBUILTIN <= MAX_BUILTIN, "more built-in rules than rule states");

bool detect_builtin_rule(const char *name)
{
    for (size_t i = 0; i < NBUILTIN; i++)
        if (!strcmp(builtins[i].name, name))
            return true;
    return false;
}

/* ---- anomalies: open, update, resolve ---- */

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* Points a's strings at o's buffers. */
static void open_bind(struct open *o)
{
    o->a.anomaly_type = o->type;
    o->a.component = o->component;
    o->a.detector = o->detector;
    o->a.description = o->description;
    for (size_t i = 0; i < o->a.n_related; i++)
        o->a.related_metrics[i].key = o->keys[i];
    for (size_t i = 0; i < o->a.n_actions; i++)
        o->a.suggested_actions[i] = o->actions[i];
}

static void open_put(struct detect_engine *e, struct open *o)
{
    uint64_t seq;

    open_bind(o);
    if (anomaly_log_put(e->log, &o->a, &seq) == 0)
        o->put_tick = e->tick;
}

static struct open *open_find(struct detect_engine *e, const char *type, const char *component)
{
    for (size_t i = 0; i < e->n_open; i++)
        if (!strcmp(e->open[i].type, type) && !strcmp(e->open[i].component, component))
            return &e->open[i];
    return NULL;
}

static void raise_anomaly(struct detect_engine *e, const struct raise *r)
{
    struct open *o = open_find(e, r->type, r->component);
    double score = isnan(r->score) ? NAN : r->score;

    if (o) {
        /* raised again after quiet ticks: news for whoever follows the anomaly */
        bool changed = !o->raised && o->normal > 0;
        if (!o->raised) {
            o->raised = true;
            o->normal = 0;
        }
        o->a.updated_at_ms = e->now_ms;
        if (r->severity > o->base_severity) {
            o->base_severity = r->severity;
            changed = true;
        }
        if (r->severity > o->a.severity) {
            o->a.severity = r->severity;
            changed = true;
        }
        if (isfinite(score) && !(o->a.score >= score)) {
            changed = changed || !(o->a.score >= score - 0.1);
            o->a.score = score;
        }
        if (changed || e->tick - o->put_tick >= PUT_EVERY)
            open_put(e, o);
        return;
    }
    if (e->n_open == MAX_OPEN) {
        if (!e->warned_open_full)
            log_warn("%d anomalies open at once; new ones are not recorded until some resolve",
                     MAX_OPEN);
        e->warned_open_full = true;
        return;
    }
    o = &e->open[e->n_open++];
    memset(o, 0, sizeof(*o));
    copy_str(o->type, sizeof(o->type), r->type);
    copy_str(o->component, sizeof(o->component), r->component);
    copy_str(o->detector, sizeof(o->detector), r->detector);
    copy_str(o->description, sizeof(o->description), r->description);
    for (size_t i = 0; i < r->n_related && i < ANOMALY_MAX_RELATED; i++) {
        copy_str(o->keys[i], sizeof(o->keys[i]), r->related[i].key);
        o->a.related_metrics[i].value = r->related[i].value;
        o->a.n_related++;
    }
    for (size_t i = 0; i < r->n_actions && i < ANOMALY_MAX_ACTIONS; i++) {
        copy_str(o->actions[i], sizeof(o->actions[i]), r->actions[i]);
        o->a.n_actions++;
    }
    snprintf(o->a.id, sizeof(o->a.id), "%" PRIx64 "-%" PRIu64, e->now_ms, ++e->id_seq);
    o->a.detected_at_ms = e->now_ms;
    o->a.detected_at = e->now_ms / 1000;
    o->a.updated_at_ms = e->now_ms;
    o->a.severity = r->severity;
    o->base_severity = r->severity;
    o->a.score = score;
    o->a.quantum_relevant = r->quantum;
    o->raised = true;
    log_info("anomaly %s: %s (%s, severity %u): %s", o->a.id, o->type, o->component,
             (unsigned)o->a.severity, o->description);
    open_put(e, o);
}

static bool learned_detector(const char *d)
{
    return !strcmp(d, "series") || !strcmp(d, "multivariate");
}

/* After every layer has spoken: agreement raises learned severities, silence resolves. */
static void settle(struct detect_engine *e)
{
    for (size_t i = 0; i < e->n_open; i++) {
        struct open *o = &e->open[i];
        uint8_t sev = o->base_severity;
        bool learned_too = false;

        /* a learned anomaly still open (raised within resolve_ticks) when a rule or a
         * trend on its component fires agrees with it: rules wait their for-duration,
         * the learned layers speak at the onset */
        if (!learned_detector(o->detector))
            continue;
        for (size_t j = 0; j < e->n_open; j++) {
            struct open *p = &e->open[j];
            if (j == i || !p->raised || !strcmp(p->detector, o->detector) ||
                strcmp(p->component, o->component))
                continue;
            if (!learned_detector(p->detector)) {
                /* as grave as the rule says, up to AGREED_SEV: a busy burst stays news */
                uint8_t r = p->a.severity < AGREED_SEV ? p->a.severity : AGREED_SEV;
                sev = r > sev ? r : sev;
            } else if (o->raised)
                learned_too = true;
        }
        /* the two learned layers see the same values, so a jump in one series moves
         * both: they agree for it only when they keep agreeing */
        o->agreed = learned_too ? o->agreed + 1 : 0;
        if (o->agreed >= AGREED_TICKS && sev < AGREED_SEV)
            sev = AGREED_SEV;
        if (sev > o->a.severity) {
            o->a.severity = sev;
            open_put(e, o);
        }
    }
    for (size_t i = 0; i < e->n_open;) {
        struct open *o = &e->open[i];
        if (o->raised) {
            o->raised = false;
            i++;
            continue;
        }
        if (++o->normal < e->cfg.resolve) {
            i++;
            continue;
        }
        o->a.resolved_at_ms = e->now_ms;
        log_info("anomaly %s resolved: %s (%s)", o->a.id, o->type, o->component);
        open_put(e, o);
        e->open[i] = e->open[--e->n_open];
        if (i < e->n_open)
            open_bind(&e->open[i]);
    }
}

/* Adopts an open anomaly kept in the log from before a restart. */
static void adopt(void *ctx, const struct anomaly *a)
{
    struct detect_engine *e = ctx;
    struct open *o;

    if (!anomaly_open(a) || e->n_open == MAX_OPEN || open_find(e, a->anomaly_type, a->component))
        return;
    o = &e->open[e->n_open++];
    memset(o, 0, sizeof(*o));
    o->a = *a;
    copy_str(o->type, sizeof(o->type), a->anomaly_type);
    copy_str(o->component, sizeof(o->component), a->component);
    copy_str(o->detector, sizeof(o->detector), a->detector);
    copy_str(o->description, sizeof(o->description), a->description);
    o->a.n_related = a->n_related < ANOMALY_MAX_RELATED ? a->n_related : ANOMALY_MAX_RELATED;
    o->a.n_actions = a->n_actions < ANOMALY_MAX_ACTIONS ? a->n_actions : ANOMALY_MAX_ACTIONS;
    for (size_t i = 0; i < o->a.n_related; i++)
        copy_str(o->keys[i], sizeof(o->keys[i]), a->related_metrics[i].key);
    for (size_t i = 0; i < o->a.n_actions; i++)
        copy_str(o->actions[i], sizeof(o->actions[i]), a->suggested_actions[i]);
    o->base_severity = a->severity;
    open_bind(o);
}

/* ---- rules ---- */

static void fmt_duration(char *buf, size_t size, double sec)
{
    if (sec < 10)
        snprintf(buf, size, "%.3g s", sec);
    else if (sec < 120)
        snprintf(buf, size, "%.0f s", sec);
    else if (sec < 7200)
        snprintf(buf, size, "%.0f min", sec / 60);
    else
        snprintf(buf, size, "%.1f h", sec / 3600);
}

static uint32_t ticks_for(const struct detect_engine *e, double for_sec, uint32_t min_ticks)
{
    double t = ceil(for_sec * 1000 / (double)e->cfg.interval_ms);
    uint32_t n = t > 1e6 ? 1000000 : (uint32_t)t;

    if (n < min_ticks)
        n = min_ticks;
    return n ? n : 1;
}

/* Steps a rule's state with this tick's value; true while it fires. */
static bool rule_step(struct rule_state *st, enum op op, double v, double trigger, double clear,
                      uint32_t for_ticks)
{
    if (isnan(v)) {
        st->pending = 0;
        st->firing = false;
        return false;
    }
    if (st->firing) {
        if (!cmp(op, v, clear))
            st->firing = false, st->pending = 0;
        return st->firing;
    }
    if (cmp(op, v, trigger)) {
        if (++st->pending >= for_ticks)
            st->firing = true;
    } else {
        st->pending = 0;
    }
    return st->firing;
}

static void add_related(struct detect_engine *e, struct raise *r, const char *key)
{
    double v;

    if (!key || r->n_related >= ANOMALY_MAX_RELATED)
        return;
    for (size_t i = 0; i < r->n_related; i++)
        if (!strcmp(r->related[i].key, key))
            return;
    v = val_of(e, key);
    if (isnan(v))
        return;
    r->related[r->n_related].key = key;
    r->related[r->n_related++].value = v;
}

static void run_builtins(struct detect_engine *e, const struct snapshot *s)
{
    for (size_t i = 0; i < NBUILTIN; i++) {
        const struct builtin *b = &builtins[i];
        double v = b->value(e, s); /* every value runs: some keep baselines */
        uint32_t need;
        struct raise r;
        char vs[48], ds[32];

        if (!e->cfg.builtin || e->cfg.disabled[i])
            continue;
        if (!strcmp(b->name, "quantum_security_low") && !e->cfg.min_security_bits)
            continue;
        need = ticks_for(
            e, !strcmp(b->name, "qrng_throughput_collapse") ? e->cfg.qrng_for_sec : b->for_sec,
            b->for_ticks);
        if (!rule_step(&e->bstate[i], b->op, v, b->trigger, b->clear, need))
            continue;
        memset(&r, 0, sizeof(r));
        r.type = b->name;
        r.component = b->component;
        r.detector = b->detector;
        r.severity = b->severity;
        r.quantum = b->quantum;
        /* how far past the trigger, as a score: 0.5 at the trigger, towards 1 beyond */
        r.score = NAN;
        snprintf(vs, sizeof(vs), "%.4g%s", v, b->unit);
        fmt_duration(ds, sizeof(ds), (double)need * (double)e->cfg.interval_ms / 1000);
        /* the formats are this file's own literals (the table above), each with two %s */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(r.description, sizeof(r.description), b->what, vs, ds);
#pragma GCC diagnostic pop
        /* escalations that make the severity say how bad it is */
        if (!strcmp(b->name, "disk_nearly_full") && v >= 97)
            r.severity = 5;
        else if (!strcmp(b->name, "disk_full_eta") && v <= 1)
            r.severity = 4;
        else if (!strcmp(b->name, "cpu_saturation")) {
            /* a busy burst is news, a saturated minute is a problem, five pinned ones worse */
            double held_ms = (double)e->bstate[i].pending * (double)e->cfg.interval_ms;
            if (v >= 98 && held_ms >= 300000)
                r.severity = 4;
            else if (held_ms >= 60000)
                r.severity = 3;
        }
        if (!strcmp(b->name, "classical_only_signatures") && e->cfg.sig_names[0]) {
            size_t used = strlen(r.description);
            snprintf(r.description + used, sizeof(r.description) - used, "; in use: %s",
                     e->cfg.sig_names);
        }
        for (size_t k = 0; k < 6 && b->related[k]; k++)
            add_related(e, &r, b->related[k]);
        actions_for(b->name, &r);
        raise_anomaly(e, &r);
        if (e->bstate[i].pending < UINT32_MAX)
            e->bstate[i].pending++;
    }
}

static void run_user_rules(struct detect_engine *e)
{
    for (size_t i = 0; i < e->n_urules; i++) {
        struct user_rule *u = &e->urules[i];
        double v;
        struct raise r;
        char ds[32];

        if (u->slot == NONE)
            u->slot = find_slot(e, u->r.series);
        v = val(e, u->slot);
        if (!rule_step(&u->st, u->op, v, u->r.trigger, u->clear, ticks_for(e, u->r.for_sec, 1)))
            continue;
        memset(&r, 0, sizeof(r));
        r.type = u->r.name;
        r.component = u->r.component;
        r.detector = "rule";
        r.severity = (uint8_t)u->r.severity;
        r.quantum = u->r.quantum_relevant;
        r.score = NAN;
        fmt_duration(ds, sizeof(ds), u->r.for_sec);
        if (u->r.description)
            snprintf(r.description, sizeof(r.description), "%s", u->r.description);
        else
            snprintf(r.description, sizeof(r.description), "%s at %.6g (rule: %s %s %.6g for %s)",
                     u->r.series, v, u->r.series, op_name(u->op), u->r.trigger, ds);
        add_related(e, &r, u->r.series);
        r.actions = (const char *const *)u->r.actions.v;
        r.n_actions = u->r.actions.n;
        raise_anomaly(e, &r);
    }
}

/* ---- learned layers ---- */

static int by_score_desc(const void *a, const void *b)
{
    const struct kv_num *x = a, *y = b;
    return x->value < y->value ? 1 : x->value > y->value ? -1 : 0;
}

/*
 * The magnitude gate of the online per-series layer: 1 when the value lies at
 * least gate_z (detection.series_gate_z) usual deviations from the series' exponential mean (a
 * scale floor of 1 % of the mean keeps a near-constant series from flagging its smallest wobble),
 * else 0; then the mean and deviation learn the value. The context detector alone scores any novel
 * pattern, which in a noisy series is most of them (NAB rewards that; an operator paged for noise
 * does not): online, a series is flagged when its pattern is new and its value far off.
 */
static double gate(struct slot *s, double gate_z)
{
    double x = s->value, d = x - s->mean, scale, g;
    double a = 1.0 / (s->n < GATE_WINDOW ? s->n + 1 : GATE_WINDOW);

    if (s->n == 0) {
        s->mean = x;
        s->dev = 0;
        s->n = 1;
        return 0;
    }
    scale = 1.25 * s->dev;
    if (scale < 0.01 * fabs(s->mean))
        scale = 0.01 * fabs(s->mean);
    /* a percentage is at least a point: a process idling at 0 % that shows 1 % (one
     * scheduler tick of CPU in a second) is not far off, however steady it was */
    if (scale < 1 && !strcmp(s->desc->unit, "percent"))
        scale = 1;
    if (scale < 1e-9)
        scale = 1e-9;
    g = fabs(d) >= gate_z * scale ? 1 : 0;
    s->mean += a * d;
    s->dev += a * (fabs(d) - s->dev);
    s->n++;
    return g;
}

static void run_series(struct detect_engine *e, double *max_score)
{
    /* per component: the flagged series, best first */
    static const char *const comps[] = {"cpu",  "memory",    "disk",      "network",   "gpu",
                                        "node", "consensus", "contracts", "inference", "quantum"};
    struct kv_num flagged[sizeof(comps) / sizeof(comps[0])][ANOMALY_MAX_RELATED];
    size_t nflag[sizeof(comps) / sizeof(comps[0])] = {0};
    double best[sizeof(comps) / sizeof(comps[0])] = {0};
    uint32_t bests[sizeof(comps) / sizeof(comps[0])];

    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        size_t c;

        if (!s->det || s->seen_tick != e->tick)
            continue;
        s->score = detect_series_update(s->det, s->value) * gate(s, e->cfg.gate_z);
        if (s->score > *max_score)
            *max_score = s->score;
        if (!(s->score >= DETECT_ALARM))
            continue;
        for (c = 0; c < sizeof(comps) / sizeof(comps[0]); c++)
            if (!strcmp(comps[c], s->component))
                break;
        if (c == sizeof(comps) / sizeof(comps[0]))
            continue;
        if (nflag[c] < ANOMALY_MAX_RELATED) {
            flagged[c][nflag[c]].key = s->key;
            flagged[c][nflag[c]++].value = s->score;
        }
        if (s->score > best[c]) {
            best[c] = s->score;
            bests[c] = (uint32_t)i;
        }
    }
    for (size_t c = 0; c < sizeof(comps) / sizeof(comps[0]); c++) {
        struct raise r;
        const struct slot *top;

        if (!nflag[c])
            continue;
        top = &e->slots[bests[c]];
        qsort(flagged[c], nflag[c], sizeof(flagged[c][0]), by_score_desc);
        memset(&r, 0, sizeof(r));
        r.type = "unusual_behaviour";
        r.component = comps[c];
        r.detector = "series";
        r.severity = LEARNED_SEV;
        r.score = best[c];
        snprintf(r.description, sizeof(r.description),
                 "%s at %.6g is unusual for this node (score %.2f)%s", top->key, top->value,
                 best[c], nflag[c] > 1 ? ", with other series of the component" : "");
        for (size_t k = 0; k < nflag[c] && k < 5; k++)
            add_related(e, &r, flagged[c][k].key);
        actions_for(r.type, &r);
        raise_anomaly(e, &r);
    }
}

static void run_mvar(struct detect_engine *e, double *max_score)
{
    struct kv_num top[5];
    size_t ntop = 0;
    double score;
    struct raise r;

    if (e->mv_used > e->mv_dim) {
        /* more series than places: a larger detector, which learns from scratch (series
         * appear in the first ticks, and when the node starts reporting) */
        struct mvar_opts mo;
        uint32_t dim = e->mv_used + e->mv_used / 8 + 16;
        double *x;

        if (dim > e->cfg.max_series)
            dim = e->cfg.max_series;
        mvar_default_opts(&mo, dim);
        mo.warmup = e->cfg.warmup;
        x = realloc(e->mv_x, dim * sizeof(double));
        if (x)
            e->mv_x = x;
        mvar_free(e->mv);
        e->mv = x ? mvar_new(&mo, 0x5eed) : NULL;
        e->mv_dim = e->mv ? dim : 0;
        if (!e->mv)
            log_error("multivariate detector: out of memory; it is off");
        else if (e->tick > 1)
            log_info("multivariate detector: now %u places for %u series; learning anew", dim,
                     e->mv_used);
    }
    if (!e->mv)
        return;
    for (uint32_t i = 0; i < e->mv_dim; i++)
        e->mv_x[i] = NAN;
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].feat >= 0 && e->slots[i].seen_tick == e->tick)
            e->mv_x[e->slots[i].feat] = e->slots[i].value;
    score = mvar_update(e->mv, e->mv_x);
    if (score > *max_score)
        *max_score = score;
    if (!(score >= e->cfg.threshold))
        return;
    /* the features that broke the usual relations most */
    for (size_t i = 0; i < e->nslots; i++) {
        const struct slot *s = &e->slots[i];
        double c;
        if (s->feat < 0 || s->seen_tick != e->tick)
            continue;
        c = mvar_contribution(e->mv, (uint32_t)s->feat);
        if (ntop < 5 || c > top[ntop - 1].value) {
            size_t k = ntop < 5 ? ntop++ : ntop - 1;
            top[k].key = s->key;
            top[k].value = c;
            qsort(top, ntop, sizeof(top[0]), by_score_desc);
        }
    }
    if (!ntop)
        return;
    memset(&r, 0, sizeof(r));
    r.type = "joint_anomaly";
    r.component = e->slots[find_slot(e, top[0].key)].component;
    r.detector = "multivariate";
    r.severity = LEARNED_SEV;
    r.score = score;
    {
        int n = snprintf(r.description, sizeof(r.description),
                         "unusual combination of values (score %.2f), mostly", score);
        for (size_t k = 0; k < ntop && k < 3 && n > 0 && (size_t)n < sizeof(r.description); k++)
            n += snprintf(r.description + n, sizeof(r.description) - (size_t)n, "%s %s (%.0f %%)",
                          k ? "," : "", top[k].key, top[k].value * 100);
    }
    for (size_t k = 0; k < ntop; k++)
        add_related(e, &r, top[k].key);
    actions_for(r.type, &r);
    raise_anomaly(e, &r);
}

/* ---- trends, leak indicators, predictions ---- */

static void feed_trends(struct detect_engine *e, const struct snapshot *s)
{
    double t = (double)e->now_ms / 1000;
    double rss = s->memory.process_rss_mb;

    /* a much smaller RSS is another process (or a restart): start over */
    if (isfinite(rss) && isfinite(e->rss_last) && rss < 0.5 * e->rss_last)
        twin_reset(&e->rss);
    if (isfinite(rss))
        e->rss_last = rss;
    twin_add(&e->rss, t, rss);
    twin_add(&e->disk, t, s->disk.usage_percent);
    twin_add(&e->mempool, t, s->node.mempool_size);
    twin_add(&e->memused, t, s->memory.physical_used_mb);
    if (e->predictor && e->cpu_pred)
        e->predictor->add(e->cpu_pred, t, t, s->cpu.usage_percent);
}

static void leak_indicators(struct detect_engine *e, struct snapshot *s)
{
    struct trend_fit f;
    char buf[3][200], ds[32];
    size_t n = 0;
    const char **list;
    double avail = s->memory.available_mb;

    if (isnan(s->memory.process_rss_mb) || twin_growth(&e->rss, 0.05, &f) < 0.6)
        return;
    fmt_duration(ds, sizeof(ds), f.span_sec);
    snprintf(buf[n++], sizeof(buf[0]),
             "Resident memory of the monitored process has been rising by %.2f MB/min over the "
             "last %s (trend quality %.2f)",
             f.slope_per_sec * 60, ds, f.quality);
    snprintf(buf[n++], sizeof(buf[0]), "It is now %.1f MB and has not come back down",
             s->memory.process_rss_mb);
    if (isfinite(avail) && avail > 0) {
        double eta = avail / f.slope_per_sec;
        fmt_duration(ds, sizeof(ds), eta);
        snprintf(buf[n++], sizeof(buf[0]),
                 "At this rate the %.0f MB of memory still available are used up in %s", avail, ds);
    }
    list = snapshot_alloc(s, n * sizeof(*list));
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        if (!(list[i] = snapshot_strdup(s, buf[i])))
            return;
    s->memory.leak_indicators = list;
    s->memory.n_leak_indicators = n;
}

/* Confidence of a trend ETA: its fit quality, less when the ETA reaches far past the span seen. */
static double eta_confidence(const struct trend_fit *f, double eta_sec)
{
    double reach = f->span_sec > 0 ? eta_sec / f->span_sec : INFINITY;
    double c = f->quality;

    if (reach > 4)
        c *= 4 / reach;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

static void predict(struct detect_engine *e, const struct snapshot *s)
{
    struct trend_fit f;
    double v, c;

    memset(e->pred, 0, sizeof(e->pred));
    if (e->predictor && e->cpu_pred && e->predictor->get(e->cpu_pred, &v, &c))
        e->pred[PRED_CPU] = (struct prediction){v, c, true};
    if (twin_fit(&e->memused, &f) && !f.flat && f.slope_per_sec > 0 &&
        s->memory.physical_total_mb > 0) {
        double eta = trend_eta_sec(&f, s->memory.physical_total_mb);
        if (isfinite(eta))
            e->pred[PRED_MEM] = (struct prediction){eta / 3600, eta_confidence(&f, eta), true};
    }
    if (twin_fit(&e->disk, &f) && !f.flat && f.slope_per_sec > 0) {
        double eta = trend_eta_sec(&f, 100);
        if (isfinite(eta))
            e->pred[PRED_DISK] = (struct prediction){eta / 3600, eta_confidence(&f, eta), true};
    }
    if (e->tick > e->cfg.warmup) {
        /* how warmed up the learned layers are is how far their score can be trusted */
        e->pred[PRED_ANOM] = (struct prediction){e->max_score_window, 1, true};
    }
    e->max_score_window = 0;
}

static void publish_predictions(struct detect_engine *e, struct snapshot *s)
{
    char key[96];

    for (int i = 0; i < PRED_COUNT; i++) {
        const struct prediction *p = &e->pred[i];
        if (!p->valid || !isfinite(p->value) || !(p->confidence >= e->cfg.confidence))
            continue;
        snapshot_map_add(s, &s->neural_predictions, 8, pred_names[i], p->value);
        snprintf(key, sizeof(key), "%s_confidence", pred_names[i]);
        snapshot_map_add(s, &s->neural_predictions, 8, key, p->confidence);
    }
}

static void status(struct detect_engine *e, struct snapshot *s)
{
    uint32_t left = e->tick >= e->cfg.warmup ? 0 : (uint32_t)(e->cfg.warmup - e->tick);
    double v, c;
    bool pred_warm = !(e->predictor && e->cpu_pred && e->predictor->get(e->cpu_pred, &v, &c));

    s->n_detectors = 0;
    s->detectors[s->n_detectors++] = (struct detector_status){"rules", false, 0};
    if (!e->cfg.learned)
        return;
    s->detectors[s->n_detectors++] = (struct detector_status){"series", left > 0, left};
    s->detectors[s->n_detectors++] =
        (struct detector_status){"multivariate", e->mv && mvar_warming(e->mv), left};
    s->detectors[s->n_detectors++] = (struct detector_status){"predictions", pred_warm, 0};
}

/* ---- the engine ---- */

/* The quantum rules' view of the configuration. */
static void configure_quantum(struct config_view *v, const struct config *cfg)
{
    const struct config_strlist *sig = &cfg->monitoring.quantum_monitoring.signature_algorithm;
    double probe_sec = cfg->monitoring.quantum_monitoring.probe_interval_sec;
    double tick_sec = (double)v->interval_ms / 1000;
    size_t used = 0;

    v->sig_quantum_bits = NAN;
    v->sig_names[0] = '\0';
    if (cfg->monitoring.quantum_monitoring.enabled &&
        cfg->monitoring.quantum_monitoring.security_level_monitoring && sig->n) {
        struct pqsec_use use = {.names = {(const char *const *)sig->v}, .n = {sig->n}};
        struct pqsec_summary sum;
        if (pqsec_summarize(&use, &sum, NULL) == 0)
            v->sig_quantum_bits = sum.signature_quantum_max;
        for (size_t i = 0; i < sig->n && used < sizeof(v->sig_names); i++) {
            int n = snprintf(v->sig_names + used, sizeof(v->sig_names) - used, "%s%s",
                             i ? ", " : "", sig->v[i]);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (probe_sec < tick_sec)
        probe_sec = tick_sec;
    v->qrng_for_sec = probe_sec + tick_sec;
    v->qrng_min_ticks = (uint32_t)ceil(3 * probe_sec / tick_sec);
    if (v->qrng_min_ticks < 30)
        v->qrng_min_ticks = 30;
    v->qrng_base_ticks = (uint32_t)ceil(10 * probe_sec / tick_sec);
    if (v->qrng_base_ticks < BASE_TICKS)
        v->qrng_base_ticks = BASE_TICKS;
}

static void free_urules(struct detect_engine *e)
{
    for (size_t i = 0; i < e->n_urules; i++) {
        struct config_detect_rule *r = &e->urules[i].r;
        free(r->name);
        free(r->series);
        free(r->condition);
        free(r->component);
        free(r->description);
        for (size_t k = 0; k < r->actions.n; k++)
            free(r->actions.v[k]);
        free(r->actions.v);
    }
    free(e->urules);
    e->urules = NULL;
    e->n_urules = 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

void detect_engine_configure(struct detect_engine *e, const struct config *cfg)
{
    struct config_view *v = &e->cfg;
    bool fail = false;

    v->learned = cfg->monitoring.ai_optimization.enabled;
    v->interval_ms =
        cfg->monitoring.sampling_interval_ms ? cfg->monitoring.sampling_interval_ms : 1000;
    v->prediction_ms = cfg->monitoring.ai_optimization.prediction_interval_ms;
    v->confidence = cfg->monitoring.ai_optimization.confidence_threshold;
    v->warmup = cfg->detection.warmup_ticks;
    v->resolve = cfg->detection.resolve_ticks ? cfg->detection.resolve_ticks : 1;
    v->threshold = cfg->detection.multivariate_threshold;
    v->gate_z = cfg->detection.series_gate_z;
    v->max_series = cfg->detection.max_series;
    v->min_security_bits = cfg->detection.min_security_bits;
    v->builtin = cfg->detection.builtin_rules;
    memset(v->disabled, 0, sizeof(v->disabled));
    configure_quantum(v, cfg);
    for (size_t i = 0; i < cfg->detection.disabled.n; i++) {
        /* (the configuration's check refuses unknown names) */
        for (size_t b = 0; b < NBUILTIN; b++)
            if (!strcmp(builtins[b].name, cfg->detection.disabled.v[i]))
                v->disabled[b] = true;
    }

    free_urules(e);
    if (cfg->detection.n_rules) {
        e->urules = calloc(cfg->detection.n_rules, sizeof(*e->urules));
        if (!e->urules) {
            log_error("no memory for the detection rules; running without them");
            return;
        }
    }
    for (size_t i = 0; i < cfg->detection.n_rules; i++) {
        const struct config_detect_rule *c = &cfg->detection.rules[i];
        struct user_rule *u = &e->urules[e->n_urules++];
        struct config_detect_rule *r = &u->r;

        *r = *c;
        r->name = dup_or_null(c->name, &fail);
        r->series = dup_or_null(c->series, &fail);
        r->condition = dup_or_null(c->condition, &fail);
        r->description = dup_or_null(c->description, &fail);
        r->component = dup_or_null(c->component ? c->component : NULL, &fail);
        r->actions.v = NULL;
        r->actions.n = 0;
        if (c->actions.n) {
            r->actions.v = calloc(c->actions.n, sizeof(char *));
            if (!r->actions.v)
                fail = true;
            for (size_t k = 0; r->actions.v && k < c->actions.n && k < ANOMALY_MAX_ACTIONS; k++) {
                r->actions.v[k] = dup_or_null(c->actions.v[k], &fail);
                r->actions.n++;
            }
        }
        if (!r->component && r->series) {
            char comp[33];
            size_t n = strcspn(r->series, ".{");
            snprintf(comp, sizeof(comp), "%.*s", (int)(n < 32 ? n : 32), r->series);
            r->component = dup_or_null(comp, &fail);
        }
        u->op = !r->condition                 ? OP_GT
                : !strcmp(r->condition, ">=") ? OP_GE
                : !strcmp(r->condition, "<")  ? OP_LT
                : !strcmp(r->condition, "<=") ? OP_LE
                                              : OP_GT;
        u->clear = isnan(c->clear) ? c->trigger : c->clear;
        u->slot = NONE;
    }
    if (fail) {
        log_error("no memory for the detection rules; running without them");
        free_urules(e);
    }
}

struct detect_engine *detect_engine_new(const struct config *cfg, struct anomaly_log *log)
{
    struct detect_engine *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->log = log;
    e->rss_last = NAN;
    detect_engine_configure(e, cfg);
    /* growth that matters: 5 MB of RSS, half a percent of a disk, 100 transactions */
    if (twin_init(&e->rss, 5) < 0 || twin_init(&e->disk, 0.5) < 0 ||
        twin_init(&e->mempool, 100) < 0 || twin_init(&e->memused, 50) < 0)
        goto fail;
    if (e->cfg.learned) {
        struct forecast_opts fo;

        /* the multivariate detector is made at the first tick, for the series seen */
        forecast_default_opts(&fo, 300);
        fo.min = 0;
        fo.max = 100;
        e->predictor = &forecast_rls_ops;
        e->cpu_pred = e->predictor->create(&fo);
        if (!e->cpu_pred)
            goto fail;
    }
    if (log)
        anomaly_log_foreach(log, 1, MAX_OPEN * 4, adopt, e);
    return e;
fail:
    detect_engine_free(e);
    return NULL;
}

void detect_engine_free(struct detect_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nslots; i++) {
        free(e->slots[i].key);
        detect_series_free(e->slots[i].det);
    }
    free(e->slots);
    free(e->map);
    free(e->pos);
    free_urules(e);
    mvar_free(e->mv);
    free(e->mv_x);
    twin_free(&e->rss);
    twin_free(&e->disk);
    twin_free(&e->mempool);
    twin_free(&e->memused);
    if (e->predictor && e->cpu_pred)
        e->predictor->destroy(e->cpu_pred);
    free(e);
}

void detect_engine_tick(struct detect_engine *e, struct snapshot *snap)
{
    double max_score = 0;

    e->tick++;
    e->now_ms = snap->timestamp_ms;
    e->visit = 0;
    snapshot_flatten(snap, visit, e);

    feed_trends(e, snap);
    run_builtins(e, snap);
    run_user_rules(e);
    if (e->cfg.learned) {
        run_series(e, &max_score);
        run_mvar(e, &max_score);
        if (max_score > e->max_score_window)
            e->max_score_window = max_score;
        if (e->now_ms >= e->pred_due_ms) {
            predict(e, snap);
            e->pred_due_ms = e->now_ms + e->cfg.prediction_ms;
        }
        publish_predictions(e, snap);
    }
    leak_indicators(e, snap);
    settle(e);
    status(e, snap);
}
