#include "p2p.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/procfile.h"
#include "procparse.h"
#include "sockdiag.h"

struct conn {
    struct diag_sock s;
    bool alive; /* cleared by a lookup that finds it gone */
};

struct p2p_tracker {
    uint16_t ports[SOCKDIAG_MAX_PORTS];
    size_t nports;
    struct sockdiag *sd;
    int dump_family; /* SOCKDIAG_ALL_FAMILIES until the kernel refuses it */
    struct procfile *tcp4, *tcp6;

    struct conn *conns;
    size_t n, cap;
    size_t rr;           /* next connection to look up */
    bool overflow;       /* more connections than we track: count only from dumps */
    uint64_t dump_count; /* fallback and overflow mode: the last dump's count */

    bool have_set;
    uint64_t set_churn;
    uint64_t last_dump_ns;
    uint64_t spacing_ns;
};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct p2p_tracker *p2p_new(const uint16_t *ports, size_t nports, const char *procfs_root)
{
    struct p2p_tracker *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    if (nports > SOCKDIAG_MAX_PORTS)
        nports = SOCKDIAG_MAX_PORTS;
    memcpy(t->ports, ports, nports * sizeof(*ports));
    t->nports = nports;
    t->dump_family = SOCKDIAG_ALL_FAMILIES;
    if (sockdiag_open(&t->sd) < 0) {
        t->sd = NULL;
        if (procfile_open(procfs_root, "net/tcp", &t->tcp4) < 0)
            t->tcp4 = NULL;
        if (procfile_open(procfs_root, "net/tcp6", &t->tcp6) < 0)
            t->tcp6 = NULL;
    }
    return t;
}

void p2p_free(struct p2p_tracker *t)
{
    if (!t)
        return;
    sockdiag_free(t->sd);
    procfile_free(t->tcp4);
    procfile_free(t->tcp6);
    free(t->conns);
    free(t);
}

bool p2p_fallback(const struct p2p_tracker *t)
{
    return t->sd == NULL;
}

static bool on_ports(const struct p2p_tracker *t, const struct diag_sock *s)
{
    unsigned sport = ntohs(s->id.idiag_sport), dport = ntohs(s->id.idiag_dport);

    for (size_t i = 0; i < t->nports; i++)
        if (t->ports[i] == sport || t->ports[i] == dport)
            return true;
    return false;
}

static void dump_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    struct p2p_tracker *t = ctx;

    (void)seq;
    if (s->state != 1 || !on_ports(t, s))
        return;
    t->dump_count++;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct conn *c;
        if (cap > P2P_MAX_TRACKED || !(c = realloc(t->conns, cap * sizeof(*c)))) {
            t->overflow = true;
            return;
        }
        t->conns = c;
        t->cap = cap;
    }
    t->conns[t->n].s = *s;
    t->conns[t->n].alive = true;
    t->n++;
}

static void on_tcp_line(void *ctx, const struct tcp_conn *c)
{
    struct p2p_tracker *t = ctx;

    if (c->state != 1)
        return;
    for (size_t i = 0; i < t->nports; i++) {
        if (t->ports[i] == c->local_port || t->ports[i] == c->remote_port) {
            t->dump_count++;
            return;
        }
    }
}

static int full_dump(struct p2p_tracker *t)
{
    int r;

    t->n = 0;
    t->rr = 0;
    t->overflow = false;
    t->dump_count = 0;
    if (!t->sd) {
        if (!t->tcp4 || procfile_read(t->tcp4) < 0)
            return -ENOENT;
        pp_net_tcp(t->tcp4->buf, t->tcp4->len, on_tcp_line, t);
        if (t->tcp6 && procfile_read(t->tcp6) >= 0)
            pp_net_tcp(t->tcp6->buf, t->tcp6->len, on_tcp_line, t);
        return 0;
    }
    r = sockdiag_dump(t->sd, t->dump_family, t->ports, t->nports, dump_sock, t);
    if (r < 0 && t->dump_family == SOCKDIAG_ALL_FAMILIES) {
        /* a kernel without the legacy request: one walk per family from now on */
        t->dump_family = AF_INET;
        t->n = 0;
        t->dump_count = 0;
        t->overflow = false;
    }
    if (t->dump_family != SOCKDIAG_ALL_FAMILIES) {
        r = sockdiag_dump(t->sd, AF_INET, t->ports, t->nports, dump_sock, t);
        if (r == 0) {
            int r6 = sockdiag_dump(t->sd, AF_INET6, t->ports, t->nports, dump_sock, t);
            if (r6 < 0 && r6 != -ENOENT && r6 != -EAFNOSUPPORT)
                r = r6;
        }
    }
    return r;
}

struct lookup_ctx {
    struct p2p_tracker *t;
    size_t base;
    size_t count;
};

static void lookup_sock(void *ctx, uint32_t seq, const struct diag_sock *s)
{
    struct lookup_ctx *lc = ctx;
    struct conn *c;

    if (seq >= lc->count)
        return;
    c = &lc->t->conns[(lc->base + seq) % lc->t->n];
    if (s->state != 1) {
        c->alive = false;
        return;
    }
    c->s.rtt_us = s->rtt_us;
}

static void lookup_err(void *ctx, uint32_t seq, int err)
{
    struct lookup_ctx *lc = ctx;

    if (seq < lc->count && err == -ENOENT)
        lc->t->conns[(lc->base + seq) % lc->t->n].alive = false;
}

static int refresh(struct p2p_tracker *t)
{
    struct diag_sock batch[P2P_LOOKUPS_PER_TICK];
    struct lookup_ctx lc = {.t = t, .base = t->rr};
    size_t k = t->n < P2P_LOOKUPS_PER_TICK ? t->n : P2P_LOOKUPS_PER_TICK, w = 0;
    int r;

    if (!k)
        return 0;
    for (size_t i = 0; i < k; i++)
        batch[i] = t->conns[(t->rr + i) % t->n].s;
    lc.count = k;
    r = sockdiag_lookup(t->sd, batch, k, lookup_sock, lookup_err, &lc);
    if (r < 0)
        return r;
    t->rr = (t->rr + k) % t->n;
    /* drop the connections that are gone, keeping the round-robin position */
    for (size_t i = 0; i < t->n; i++) {
        if (t->conns[i].alive)
            t->conns[w++] = t->conns[i];
        else if (i < t->rr)
            t->rr--;
    }
    t->n = w;
    if (t->rr >= t->n)
        t->rr = 0;
    return 0;
}

int p2p_sample(struct p2p_tracker *t, uint64_t now_ns, uint64_t churn, bool churn_known,
               struct p2p_result *ret)
{
    bool changed = !churn_known || churn != t->set_churn;
    bool due = !t->have_set || now_ns - t->last_dump_ns >= P2P_MAX_AGE_NS ||
               (changed && now_ns - t->last_dump_ns >= t->spacing_ns);
    struct p2p_result res = {0};
    int r;

    if (due) {
        uint64_t c0 = thread_cpu_ns();
        r = full_dump(t);
        uint64_t cost = thread_cpu_ns() - c0;
        if (r < 0) {
            t->have_set = false;
            return r;
        }
        t->spacing_ns = (uint64_t)((double)cost / P2P_DUMP_BUDGET);
        if (t->spacing_ns > P2P_MAX_SPACING_NS)
            t->spacing_ns = P2P_MAX_SPACING_NS;
        t->last_dump_ns = now_ns;
        t->set_churn = churn;
        t->have_set = true;
        res.dumped = true;
    } else if (t->sd && !t->overflow) {
        r = refresh(t);
        if (r < 0)
            return r;
    }

    if (!t->sd || t->overflow) {
        res.connections = t->dump_count;
    } else {
        double sum = 0;
        uint64_t nrtt = 0;
        res.connections = t->n;
        for (size_t i = 0; i < t->n; i++) {
            if (t->conns[i].s.rtt_us) {
                sum += t->conns[i].s.rtt_us;
                nrtt++;
            }
        }
        if (nrtt) {
            res.rtt_known = true;
            res.rtt_mean_us = sum / (double)nrtt;
        }
    }
    *ret = res;
    return 0;
}
