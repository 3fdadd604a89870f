/*
 * Network: throughput from /proc/net/dev (interfaces matching agent.net_exclude
 * left out; loopback by default), open sockets from /proc/net/sockstat, packet
 * loss as TCP segments retransmitted over all segments sent in the interval
 * (/proc/net/snmp RetransSegs / (OutSegs + RetransSegs)), and the P2P connections: count
 * and mean smoothed RTT through sock_diag, or only the count from /proc/net/tcp*
 * where netlink is not allowed.
 */
#define LOG_MODULE "network"
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "common/nametab.h"
#include "common/procfile.h"
#include "procparse.h"
#include "p2p.h"

#define MAX_IFACES 1024

struct iface {
    char name[NAMETAB_NAME];
    bool excluded;
    bool seen;
    bool present;
    uint64_t rx, tx;
};

struct network_state {
    struct procfile *dev, *snmp, *sockstat;
    struct p2p_tracker *p2p;
    struct config_strlist exclude;
    uint16_t ports[CONFIG_MAX_LIST];
    size_t nports;

    struct nametab ifs;
    uint64_t d_rx, d_tx, t_rx, t_tx;
    bool reset_seen;

    struct tcp_snmp snmp_prev;
    bool have_snmp;
    bool first;
    uint64_t churn; /* changes whenever TCP connections open or close */
    bool churn_known;

    struct log_once dev_fail, snmp_fail, snmp_back, sock_fail, reset, no_ports, diag_fail, fallback,
        too_many;
};

static bool is_excluded(const struct network_state *st, const char *name)
{
    for (size_t i = 0; i < st->exclude.n; i++)
        if (fnmatch(st->exclude.v[i], name, 0) == 0)
            return true;
    return false;
}

static struct iface *lookup(struct network_state *st, const char *name)
{
    bool added;
    struct iface *f = nametab_get(&st->ifs, name, &added);

    if (f && added)
        f->excluded = is_excluded(st, name);
    return f;
}

static void on_iface(void *ctx, const struct netdev *d)
{
    struct network_state *st = ctx;
    struct iface *f = lookup(st, d->name);
    bool r1, r2;

    if (!f || f->present)
        return;
    f->present = true;
    if (!f->excluded) {
        st->t_rx += d->rx_bytes;
        st->t_tx += d->tx_bytes;
        if (f->seen) {
            st->d_rx += counter_delta(f->rx, d->rx_bytes, &r1);
            st->d_tx += counter_delta(f->tx, d->tx_bytes, &r2);
            if (r1 || r2)
                st->reset_seen = true;
        }
    }
    f->rx = d->rx_bytes;
    f->tx = d->tx_bytes;
    f->seen = true;
}

static void network_fini(void *state)
{
    struct network_state *st = state;

    if (!st)
        return;
    procfile_free(st->dev);
    procfile_free(st->snmp);
    procfile_free(st->sockstat);
    p2p_free(st->p2p);
    for (size_t i = 0; i < st->exclude.n; i++)
        free(st->exclude.v[i]);
    free(st->exclude.v);
    nametab_done(&st->ifs);
    free(st);
}

static int network_init(const struct coll_env *env, void **ret_state)
{
    struct network_state *st = calloc(1, sizeof(*st));
    const struct config *cfg = env->cfg;
    int r;

    if (!st)
        return -ENOMEM;
    if (cfg->agent.net_exclude.n) {
        st->exclude.v = calloc(cfg->agent.net_exclude.n, sizeof(char *));
        if (!st->exclude.v)
            goto oom;
        for (size_t i = 0; i < cfg->agent.net_exclude.n; i++) {
            st->exclude.v[i] = strdup(cfg->agent.net_exclude.v[i]);
            if (!st->exclude.v[i])
                goto oom;
            st->exclude.n++;
        }
    }
    st->nports = cfg->agent.p2p_ports.n;
    memcpy(st->ports, cfg->agent.p2p_ports.v, st->nports * sizeof(uint16_t));

    r = procfile_open(env->procfs_root, "net/dev", &st->dev);
    if (r < 0) {
        network_fini(st);
        return r;
    }
    /* the others are optional: each missing one leaves its figure absent */
    if (procfile_open(env->procfs_root, "net/snmp", &st->snmp) < 0)
        st->snmp = NULL;
    if (procfile_open(env->procfs_root, "net/sockstat", &st->sockstat) < 0)
        st->sockstat = NULL;
    if (st->nports) {
        st->p2p = p2p_new(st->ports, st->nports, env->procfs_root);
        if (!st->p2p)
            goto oom;
        if (p2p_fallback(st->p2p))
            log_warn("sock_diag netlink unavailable; counting P2P connections from "
                     "/proc/net/tcp*, without latency");
    }
    nametab_init(&st->ifs, sizeof(struct iface), MAX_IFACES);
    st->first = true;
    *ret_state = st;
    return 0;
oom:
    network_fini(st);
    return -ENOMEM;
}

static void collect_p2p(struct network_state *st, struct snapshot *snap, uint64_t now_ns)
{
    struct p2p_result res;
    int r;

    if (!st->nports) {
        log_once_warn(&st->no_ports, "agent.p2p_ports is empty: p2p_connections and latency_ms "
                                     "are null");
        return;
    }
    r = p2p_sample(st->p2p, now_ns, st->churn, st->churn_known, &res);
    if (r < 0) {
        log_once_warn(&st->diag_fail, "P2P connections unavailable (%s); P2P figures are null",
                      strerror(-r));
        return;
    }
    log_once_clear(&st->diag_fail, "P2P connections readable again");
    snap->network.p2p_connections = (double)res.connections;
    if (res.rtt_known)
        snap->network.latency_ms = res.rtt_mean_us / 1000.0;
    else if (p2p_fallback(st->p2p))
        log_once_warn(&st->fallback, "P2P latency needs sock_diag; latency_ms is null");
}

static void collect_snmp(struct network_state *st, struct snapshot *snap)
{
    struct tcp_snmp cur;

    if (!st->snmp || procfile_read(st->snmp) <= 0 ||
        pp_net_snmp_tcp(st->snmp->buf, st->snmp->len, &cur) < 0) {
        log_once_warn(&st->snmp_fail, "TCP counters unavailable (/proc/net/snmp missing or "
                                      "malformed); packet_loss_percent is null");
        st->have_snmp = false;
        st->churn_known = false;
        return;
    }
    /* any connection opened or closed moves one of these */
    st->churn = cur.active_opens + cur.passive_opens + (cur.curr_estab << 40);
    st->churn_known = cur.active_opens || cur.passive_opens || cur.curr_estab;
    log_once_clear(&st->snmp_fail, "TCP counters readable again");
    snap->network.tcp_segments_sent_total = (double)cur.out_segs;
    snap->network.tcp_segments_retransmitted_total = (double)cur.retrans_segs;
    if (st->have_snmp) {
        bool r1, r2;
        uint64_t dout = counter_delta(st->snmp_prev.out_segs, cur.out_segs, &r1);
        uint64_t dret = counter_delta(st->snmp_prev.retrans_segs, cur.retrans_segs, &r2);
        if (r1 || r2) {
            /* the two counters are not from the same epoch: no ratio to give */
            log_once_warn(&st->snmp_back, "TCP segment counters went backwards; "
                                          "packet_loss_percent is null for this tick");
        } else if (dout + dret > 0) {
            /* OutSegs counts new segments only (tcp_output.c adds to it when a segment
             * goes past snd_nxt), so everything sent is OutSegs + RetransSegs; nothing
             * sent, no loss figure to give */
            log_once_clear(&st->snmp_back, "TCP segment counters consistent again");
            snap->network.packet_loss_percent = 100.0 * (double)dret / (double)(dout + dret);
        }
    }
    st->snmp_prev = cur;
    st->have_snmp = true;
}

static int network_collect(void *state, struct snapshot *snap, const struct coll_tick *tick)
{
    struct network_state *st = state;
    uint64_t used;
    long n;
    int bad, ret = 0;

    n = procfile_read(st->dev);
    if (n < 0) {
        log_once_warn(&st->dev_fail, "%s unreadable (%s); throughput is null", st->dev->path,
                      strerror((int)-n));
        ret = (int)n;
    } else {
        st->d_rx = st->d_tx = st->t_rx = st->t_tx = 0;
        st->reset_seen = false;
        nametab_rewind(&st->ifs);
        for (size_t i = 0; i < st->ifs.n; i++)
            ((struct iface *)nametab_at(&st->ifs, i))->present = false;
        bad = pp_net_dev(st->dev->buf, st->dev->len, on_iface, st);
        for (size_t i = 0; i < st->ifs.n; i++) {
            struct iface *f = nametab_at(&st->ifs, i);
            if (!f->present)
                f->seen = false;
        }
        if (bad > 0)
            log_once_warn(&st->dev_fail, "%s: %d malformed lines skipped", st->dev->path, bad);
        else
            log_once_clear(&st->dev_fail, "%s well-formed again", st->dev->path);
        if (st->ifs.full)
            log_once_warn(&st->too_many, "more than %d interfaces; the rest are not counted",
                          MAX_IFACES);
        if (st->reset_seen)
            log_once_warn(&st->reset, "an interface counter went backwards (interface "
                                      "re-created?); counting it from zero");
        snap->network.received_bytes_total = (double)st->t_rx;
        snap->network.sent_bytes_total = (double)st->t_tx;
        if (!st->first && tick->dt_sec > 0) {
            snap->network.ingress_kbps = (double)st->d_rx / 1024.0 / tick->dt_sec;
            snap->network.egress_kbps = (double)st->d_tx / 1024.0 / tick->dt_sec;
        }
    }

    collect_snmp(st, snap);

    if (st->sockstat && procfile_read(st->sockstat) > 0 &&
        pp_sockstat_used(st->sockstat->buf, st->sockstat->len, &used) == 0) {
        snap->network.open_sockets = (double)used;
        log_once_clear(&st->sock_fail, "sockstat readable again");
    } else {
        log_once_warn(&st->sock_fail, "/proc/net/sockstat missing or malformed; open_sockets "
                                      "is null");
    }

    collect_p2p(st, snap, tick->mono_ns);
    st->first = false;
    return ret;
}

const struct collector_ops coll_network = {
    .name = "network",
    .init = network_init,
    .collect = network_collect,
    .fini = network_fini,
};
