/*
 * P2P connection tracking at a bounded cost.
 *
 * Finding the node's connections needs a sock_diag dump, which walks the whole
 * TCP hash table: milliseconds on a large host, whatever the port filter. So the
 * tracker dumps only when the set may have changed — the host's TCP counters
 * (ActiveOpens + PassiveOpens, CurrEstab from /proc/net/snmp) moved since the
 * last dump — and no more often than keeps dumps under P2P_DUMP_BUDGET of one
 * core (measured: the thread CPU time of the last dump decides the spacing, at
 * most P2P_MAX_SPACING_NS). Between dumps it refreshes the connections it knows
 * by exact lookups (microseconds each, up to P2P_LOOKUPS_PER_TICK per tick in
 * round-robin), which also notice the ones that closed.
 *
 * Consequences, documented in docs/metrics.md: a connection opened while the
 * host churns through many others may be counted up to the spacing late; every
 * known connection's RTT is at most ceil(n / P2P_LOOKUPS_PER_TICK) ticks old.
 *
 * Where netlink is not allowed the count comes from /proc/net/tcp{,6} under the
 * same change-and-budget rule, without RTT. One thread at a time.
 */
#ifndef AM_COLLECT_P2P_H
#define AM_COLLECT_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P2P_MAX_TRACKED      4096
#define P2P_LOOKUPS_PER_TICK 32
#define P2P_DUMP_BUDGET      0.0001 /* of one core: 100 us of dumping per second */
#define P2P_MAX_SPACING_NS   (60ull * 1000000000ull)
#define P2P_MAX_AGE_NS       (600ull * 1000000000ull) /* a dump at least this often anyway */

struct p2p_tracker;

struct p2p_result {
    uint64_t connections;
    bool rtt_known;
    double rtt_mean_us;
    bool dumped; /* this sample did a full dump */
};

/* ports are copied. procfs_root is used only for the /proc/net/tcp fallback. NULL on
 * out of memory; a tracker without netlink works in the fallback mode. */
struct p2p_tracker *p2p_new(const uint16_t *ports, size_t nports, const char *procfs_root);
void p2p_free(struct p2p_tracker *t);
/* True when netlink is unavailable and the count comes from /proc/net/tcp (no RTT). */
bool p2p_fallback(const struct p2p_tracker *t);

/*
 * One sample. churn: a value that changes whenever TCP connections are opened or
 * closed on the host (pass churn_known = false when it is not available: the
 * tracker then dumps whenever the budget allows). Returns 0, or a negative errno
 * when no figure could be had this tick.
 */
int p2p_sample(struct p2p_tracker *t, uint64_t now_ns, uint64_t churn, bool churn_known,
               struct p2p_result *ret);

#endif
