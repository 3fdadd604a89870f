/*
 * P2P connections through NETLINK_SOCK_DIAG: established TCP sockets whose local
 * or remote port is one of the configured P2P ports, with the kernel's smoothed
 * RTT of each (tcp_info.tcpi_rtt). The port filter runs in the kernel as
 * inet_diag bytecode, so a host with many unrelated connections costs little.
 *
 * sockdiag_build_request() and sockdiag_parse() are pure (the fuzz target and
 * unit tests drive them); sockdiag_query() does the I/O. A struct sockdiag is
 * used by one thread at a time.
 */
#ifndef AM_COLLECT_SOCKDIAG_H
#define AM_COLLECT_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKDIAG_MAX_PORTS 64

struct p2p_acc {
    uint64_t connections;
    uint64_t rtt_n;    /* connections that reported an RTT */
    double rtt_sum_us; /* sum of tcpi_rtt */
};

/* Builds one dump request for `family` (AF_INET or AF_INET6) into buf; returns its
 * length, or -ENOBUFS / -EINVAL. */
int sockdiag_build_request(int family, const uint16_t *ports, size_t nports, uint32_t seq,
                           void *buf, size_t buflen);

/* Adds the sockets of one received datagram to acc (ports re-checked here).
 * Returns 1 when the dump is complete (NLMSG_DONE), 0 if more follows, or a
 * negative errno (an NLMSG_ERROR from the kernel, or a malformed message). */
int sockdiag_parse(const void *buf, size_t len, const uint16_t *ports, size_t nports,
                   struct p2p_acc *acc);

struct sockdiag;

/* Opens the netlink socket; -errno (e.g. -EPROTONOSUPPORT, -EACCES under seccomp). */
int sockdiag_open(struct sockdiag **ret);
/* Dumps IPv4 and IPv6 and accumulates into *ret (zeroed first). */
int sockdiag_query(struct sockdiag *sd, const uint16_t *ports, size_t nports, struct p2p_acc *ret);
void sockdiag_free(struct sockdiag *sd);

#endif
