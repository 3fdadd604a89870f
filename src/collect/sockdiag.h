/*
 * NETLINK_SOCK_DIAG for TCP: requests, replies and the raw socket.
 *
 * Two kinds of request:
 *  - a dump of the ESTABLISHED sockets whose local or remote port is one of a
 *    list, filtered in the kernel by inet_diag bytecode. A dump walks the whole
 *    TCP established hash table (its size grows with RAM: 262,144 buckets on a
 *    24 GiB host, ~1.6 ms per walk), whatever the filter, so it is the expensive
 *    call; the legacy TCPDIAG_GETSOCK request walks it once for IPv4 and IPv6
 *    together, the per-family request once per family.
 *  - an exact lookup of one known socket by its full id: a hash lookup, a few
 *    microseconds; many can be sent in one datagram.
 * Each reply carries tcp_info, from which the smoothed RTT is read.
 *
 * The build and parse functions are pure (unit tests and the fuzz target drive
 * them). A struct sockdiag is used by one thread at a time.
 */
#ifndef AM_COLLECT_SOCKDIAG_H
#define AM_COLLECT_SOCKDIAG_H

#include <linux/inet_diag.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKDIAG_MAX_PORTS 64

/* Dump over both families at once (legacy request, one table walk). */
#define SOCKDIAG_ALL_FAMILIES 0

/* One socket as a reply describes it. */
struct diag_sock {
    uint8_t family;             /* AF_INET or AF_INET6 */
    uint8_t state;              /* TCP_ESTABLISHED = 1, ... */
    struct inet_diag_sockid id; /* as the kernel gave it: ports and addresses in network order */
    uint32_t rtt_us;            /* tcpi_rtt; 0 when the reply had no tcp_info */
};

/* For each socket of a reply; seq is the sequence number of the request. */
typedef void (*sockdiag_sock_fn)(void *ctx, uint32_t seq, const struct diag_sock *s);
/* For each NLMSG_ERROR of a reply (err < 0; -ENOENT: an exact lookup found nothing). */
typedef void (*sockdiag_err_fn)(void *ctx, uint32_t seq, int err);

/*
 * Builds a dump request of the ESTABLISHED TCP sockets with one of `ports` as local
 * or remote port: family AF_INET or AF_INET6 (SOCK_DIAG_BY_FAMILY), or
 * SOCKDIAG_ALL_FAMILIES (TCPDIAG_GETSOCK). Returns the length or -EINVAL / -ENOBUFS.
 */
int sockdiag_build_dump(int family, const uint16_t *ports, size_t nports, uint32_t seq, void *buf,
                        size_t buflen);
/* Builds an exact-lookup request for the socket s; returns the length or -ENOBUFS. */
int sockdiag_build_lookup(const struct diag_sock *s, uint32_t seq, void *buf, size_t buflen);

/*
 * Walks the messages of one received datagram, calling fn for each socket and efn
 * (may be NULL) for each error. Returns 1 when it ends with NLMSG_DONE, 0 if more
 * may follow, -EBADMSG for a malformed message (the rest is not read).
 */
int sockdiag_parse_each(const void *buf, size_t len, sockdiag_sock_fn fn, sockdiag_err_fn efn,
                        void *ctx);

/* ---- I/O ---- */

struct sockdiag;

/* Opens the netlink socket; -errno (e.g. -EPROTONOSUPPORT, -EACCES under seccomp). */
int sockdiag_open(struct sockdiag **ret);
void sockdiag_free(struct sockdiag *sd);

/* Runs one dump (see sockdiag_build_dump) and calls fn for every socket in it.
 * Returns 0, or a negative errno (the kernel's error for the request included). */
int sockdiag_dump(struct sockdiag *sd, int family, const uint16_t *ports, size_t nports,
                  sockdiag_sock_fn fn, void *ctx);
/* Sends exact lookups for socks[0..n) in one datagram and reads all replies: fn for each
 * socket found (seq = its index), efn for each lookup that failed. 0 or -errno. */
int sockdiag_lookup(struct sockdiag *sd, const struct diag_sock *socks, size_t n,
                    sockdiag_sock_fn fn, sockdiag_err_fn efn, void *ctx);

#endif
